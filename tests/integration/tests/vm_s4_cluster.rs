//! VM tier, scenario S4 as its crm-examples file writes it, under Pacemaker: two directors
//! (`master`, `standby`: the lab, inside the VM because the host kernel has no IPVS) run
//! `group1` = ocf:rha:IPaddr2 ×2 (the public VIP and the real servers' gateway VIP) +
//! ocf:rha:ldirectord with crm-examples/s4-ldirectord.cf, in front of three real web servers on
//! the internal network. What the source's own tests did, measured here:
//! - round robin: the client's requests through the VIP reach all three real servers;
//! - `kill -9` of ldirectord, again and again: each time the monitor fails, Pacemaker restarts
//!   it on the same director and the fail-count grows; at migration-threshold the whole group
//!   moves to the standby, which serves, and the old director's IPVS table is empty;
//! - after a cleanup the group returns to master (its location preference); then master is
//!   powered off (links down, every process killed) and the standby serves again. The time
//!   from the power-off to the first answer through the VIP is printed.
//!
//! Two things differ from the file, both in a copy the test loads: `ldirectord=` points at the
//! daemon this tree built (the package installs it at the default path), and
//! migration-threshold is 3 instead of 10 (ten rounds of the same kill → restart cycle would
//! only add minutes under TCG).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rha_harness::cmd::{self, require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, NetSpec, REQUIRED_TOOLS, agents_dir};
use rha_harness::netns::Netns;
use rha_integration::{Bin, agent_binary};

/// TCG on a shared host: generous limits (the lab alone takes 30 to 90 s to come online).
const LIMIT: Duration = Duration::from_secs(400);
const VIP: &str = "198.51.100.200";
const REALS: [u32; 3] = [110, 111, 112];
const THRESHOLD: u32 = 3;
const PID_FILE: &str = "/run/ldirectord.ldirectord.cf.pid";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crm-examples").canonicalize().unwrap()
}

fn setup() {
    rha_harness::vm::assert_in_guest();
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("curl", "curl"), ("ipvsadm", "ipvsadm"), ("python3", "python3")])
        .unwrap();
    for m in ["ip_vs", "ip_vs_rr"] {
        cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
    }
}

/// A web server in its own namespace whose page is its name.
struct Real {
    child: Child,
    _ns: Netns,
    _dir: tempfile::TempDir,
}

impl Real {
    fn start(switch: &Netns, n: u32) -> Real {
        let ns = Netns::new(&format!("s4r{n}")).unwrap();
        ns.connect_to("eth0", switch, "br1", &format!("s4p{n}")).unwrap();
        ns.add_addr("eth0", &format!("203.0.113.{n}/24")).unwrap();
        ns.ip(&["route", "add", "default", "via", "203.0.113.200"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), format!("real{n}")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "python3", "-m", "http.server", "80", "--bind", "0.0.0.0"])
            .arg("--directory")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Real { child, _ns: ns, _dir: dir }
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page the client gets through the VIP, if any.
fn get(lab: &Lab) -> Option<String> {
    let o = lab.client_exec(&format!("curl -s --max-time 2 http://{VIP}/")).ok()?;
    let body = o.stdout.trim().to_string();
    (o.success() && body.starts_with("real")).then_some(body)
}

fn fail_count(lab: &Lab, node: usize) -> u32 {
    let o = lab
        .exec(0, &format!("crm_failcount --query --resource ldirectord1 --node {}", lab.node_name(node)))
        .map(|o| o.stdout)
        .unwrap_or_default();
    o.split_whitespace().find_map(|w| w.strip_prefix("value=")).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn daemon_pid(lab: &Lab, node: usize) -> Option<u32> {
    lab.exec(node, &format!("cat {PID_FILE}"))
        .ok()
        .filter(|o| o.success())
        .and_then(|o| o.stdout.trim().parse().ok())
}

fn holds_service(lab: &Lab, node: usize) -> bool {
    lab.exec(node, "ipvsadm -Ln").map(|o| o.stdout.contains(&format!("{VIP}:80"))).unwrap_or(false)
}

fn wait(lab: &Lab, what: &str, mut f: impl FnMut() -> bool) {
    wait_for(what, LIMIT, Duration::from_millis(500), || Ok(f().then_some(())))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
}

#[test]
fn s4_director_pair_kill_minus_9_until_migration_threshold_and_power_off() {
    setup();
    let agents = [
        (Bin::IpAddr2.file_name(), agent_binary(Bin::IpAddr2)),
        ("ldirectord", agent_binary(Bin::Ldirectord)),
    ];
    let agents = agents_dir(&agents.iter().map(|(n, p)| (*n, p.as_path())).collect::<Vec<_>>()).unwrap();
    let daemon = agent_binary(Bin::LdirectordDaemon);

    let t0 = Instant::now();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "s4c".into();
    cfg.node_names = Some(vec!["master".into(), "standby".into()]);
    cfg.extra_networks.push(NetSpec::second());
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    cfg.private_dirs = vec![PathBuf::from("/etc/ha.d")];
    cfg.online_timeout = LIMIT;
    let mut lab = Lab::start(cfg).unwrap();
    println!("lab online in {:.1}s", t0.elapsed().as_secs_f64());
    for i in 0..2 {
        lab.exec_ok(i, "sysctl -qw net.ipv4.ip_forward=1").unwrap();
        lab.exec_ok(
            i,
            &format!("cp {} /etc/ha.d/ldirectord.cf", examples().join("s4-ldirectord.cf").display()),
        )
        .unwrap();
    }

    let switch = Netns::adopt(&lab.state().switch).unwrap();
    let reals: Vec<Real> = REALS.iter().map(|&n| Real::start(&switch, n)).collect();
    let _ = switch.into_name(); // the lab owns the switch

    // The example as written, but for the two changes the module doc names.
    let text = std::fs::read_to_string(examples().join("s4-lvs-director-pair.crm")).unwrap();
    let params = "params configfile=/etc/ha.d/ldirectord.cf";
    assert!(text.contains(params) && text.contains("migration-threshold=10"), "the example changed:\n{text}");
    let text = text
        .replace(params, &format!("{params} ldirectord={}", daemon.display()))
        .replace("migration-threshold=10", &format!("migration-threshold={THRESHOLD}"));
    let file = lab.workdir().join("s4.crm");
    std::fs::write(&file, text).unwrap();
    lab.exec_ok(0, &format!("crm configure load update {}", file.display())).unwrap();

    let master =
        lab.wait_started("ldirectord1", LIMIT).unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
    assert_eq!(lab.node_name(master), "master", "group1 prefers master");
    let standby = 1 - master;
    wait(&lab, "the virtual service on master", || holds_service(&lab, master));
    // Round robin (the source's test 1): every real server answers through the VIP.
    let mut seen = std::collections::BTreeSet::new();
    wait(&lab, "all three real servers through the VIP", || {
        if let Some(p) = get(&lab) {
            seen.insert(p);
        }
        seen.len() == REALS.len()
    });
    println!("group1 on master, all three reals served, {:.1}s after the start", t0.elapsed().as_secs_f64());

    // The source's test 4: kill -9 ldirectord until the group moves.
    for k in 1..=THRESHOLD {
        let pid = daemon_pid(&lab, master)
            .unwrap_or_else(|| panic!("no daemon pid on master\n{}", lab.diagnostics()));
        let t = Instant::now();
        lab.exec_ok(master, &format!("kill -9 {pid}")).unwrap();
        wait(&lab, &format!("fail-count {k} on master"), || fail_count(&lab, master) >= k);
        let failed = t.elapsed();
        if k < THRESHOLD {
            wait(&lab, &format!("ldirectord restarted on master after kill {k}"), || {
                lab.where_is("ldirectord1").ok().flatten() == Some(master)
                    && daemon_pid(&lab, master).is_some_and(|p| p != pid)
                    && holds_service(&lab, master)
            });
            assert_eq!(fail_count(&lab, master), k, "one failure per kill");
            println!(
                "kill {k}: monitor failed after {:.1}s, restarted on master after {:.1}s",
                failed.as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
        } else {
            let to = lab
                .wait_moved("ldirectord1", master, LIMIT)
                .unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
            assert_eq!(to, standby);
            for r in ["ip1", "ip2"] {
                assert_eq!(lab.where_is(r).unwrap(), Some(standby), "{r} moves with the group");
            }
            wait(&lab, "the virtual service on standby", || holds_service(&lab, standby));
            wait(&lab, "a page through the VIP from standby", || get(&lab).is_some());
            assert!(
                !holds_service(&lab, master),
                "master still holds the virtual service after the group left"
            );
            println!(
                "kill {k} = migration-threshold: group1 on standby and serving {:.1}s after the kill",
                t.elapsed().as_secs_f64()
            );
        }
    }

    // Back to master after a cleanup (its preference, no stickiness); then master powers off.
    lab.exec_ok(0, "crm resource cleanup ldirectord1").unwrap();
    wait(&lab, "group1 back on master after the cleanup", || {
        lab.where_is("ldirectord1").ok().flatten() == Some(master)
            && holds_service(&lab, master)
            && get(&lab).is_some()
    });
    let t = Instant::now();
    lab.kill_node(master).unwrap();
    wait(&lab, "a page through the VIP after master's power-off", || get(&lab).is_some());
    let served = t.elapsed();
    assert_eq!(lab.where_is("ldirectord1").unwrap(), Some(standby));
    println!("master powered off: the VIP served by standby after {:.1}s", served.as_secs_f64());
    let mon = lab.crm_mon().unwrap();
    assert!(!mon.contains("ldirectord1_stop") && !mon.contains("FAILED"), "{mon}");
    drop(reals);
    lab.teardown().unwrap();
}
