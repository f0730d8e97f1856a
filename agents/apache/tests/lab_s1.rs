//! Lab tier, scenario S1 (shared/reference/scenarios.md): two-node web failover. A real
//! Pacemaker cluster (pc01, pc02) runs a group of ocf:rha:IPaddr2 (the VIP) and ocf:rha:apache
//! (stock Debian configuration, only configfile set); each node serves a page naming itself.
//! A client sees pc01's page; pc01 dies; the client sees pc02's page; pc01 comes back and the
//! group fails back to it (the location preference of Heartbeat's auto_failback, no
//! stickiness). Times are measured and printed, not asserted.
//!
//! Needs root, pacemaker, corosync, crmsh, curl; builds ocf:rha:IPaddr2 (agents/IPaddr2) with
//! the cargo that runs this test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS, agents_dir};

const TIMEOUT: Duration = Duration::from_secs(120);
const VIP: &str = "198.51.100.182";

/// The IPaddr2 agent binary: next to ours when the workspace was built (`cargo test
/// --workspace`), else built into a target directory of its own (the running cargo holds the
/// lock on ours).
fn ipaddr2_agent() -> PathBuf {
    let sibling = Path::new(env!("CARGO_BIN_EXE_apache")).with_file_name("IPaddr2");
    if sibling.exists() {
        return sibling;
    }
    let me = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
    let manifest = me.parent().unwrap().join("IPaddr2").join("Cargo.toml");
    assert!(manifest.exists(), "agents/IPaddr2 is missing: {}", manifest.display());
    let exe = std::env::current_exe().unwrap();
    let nested = exe.parent().unwrap().parent().unwrap().parent().unwrap().join("rha-nested");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "--quiet", "--bin", "IPaddr2", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&nested)
        .status()
        .expect("running cargo to build IPaddr2");
    assert!(st.success(), "building ocf:rha:IPaddr2 failed");
    nested.join("debug").join("IPaddr2")
}

/// httpd processes in node `i` (the nodes share the host's pid namespace: `pgrep` inside a
/// node would see every node's processes).
fn apache_in(lab: &Lab, i: usize) -> Vec<u32> {
    let out = Command::new("ip").args(["netns", "pids", lab.node_netns(i)]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/exe"))
                .is_ok_and(|e| e.file_name().is_some_and(|n| n == "apache2"))
        })
        .collect()
}

/// What the client sees at the VIP (empty when nothing answers).
fn page(lab: &Lab) -> String {
    lab.client_exec(&format!("curl -s --max-time 2 http://{VIP}/"))
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default()
}

fn wait_page(lab: &Lab, want: &str) -> Duration {
    let t = Instant::now();
    wait_for(&format!("the client to see {want}'s page"), TIMEOUT, Duration::from_millis(100), || {
        Ok((page(lab) == want).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", lab.crm_mon().unwrap_or_default()));
    t.elapsed()
}

#[test]
fn s1_vip_and_apache_fail_over_and_back() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("curl", "curl"), ("apache2", "apache2")]).unwrap();

    let ipaddr2 = ipaddr2_agent();
    let agents =
        agents_dir(&[("IPaddr2", ipaddr2.as_path()), ("apache", Path::new(env!("CARGO_BIN_EXE_apache")))])
            .unwrap();

    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "s1".into();
    cfg.node_names = Some(vec!["pc01".into(), "pc02".into()]);
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    cfg.www = true;
    let mut lab = Lab::start(cfg).unwrap();
    let (pc01, pc02) = (lab.node_index("pc01").unwrap(), lab.node_index("pc02").unwrap());

    // One transaction, so the group is placed with its location preference already known.
    let config = format!(
        "rsc_defaults resource-stickiness=0\n\
         primitive vip ocf:rha:IPaddr2 params ip={VIP} cidr_netmask=24 nic=eth0 op monitor interval=5s timeout=20s\n\
         primitive web ocf:rha:apache params configfile=/etc/apache2/apache2.conf \
         op start timeout=40s op stop timeout=60s op monitor interval=5s timeout=20s\n\
         group site vip web\n\
         location site-prefers-pc01 site 100: pc01\n\
         commit\n"
    );
    lab.exec_ok(pc01, &format!("crm configure <<'EOF'\n{config}EOF\n")).unwrap();
    let t = Instant::now();
    assert_eq!(lab.wait_started("web", TIMEOUT).unwrap(), pc01, "the group starts on pc01");
    wait_page(&lab, "pc01");
    eprintln!(
        "timing: group up and pc01's page served {:.1} s after configuration",
        t.elapsed().as_secs_f64()
    );
    // Only the active node runs apache; the agent's probe on the other said "not running".
    assert!(apache_in(&lab, pc02).is_empty(), "apache runs on pc02 too");

    // pc01 dies (links down, every process killed).
    let t = Instant::now();
    lab.kill_node(pc01).unwrap();
    assert_eq!(lab.wait_moved("web", pc01, TIMEOUT).unwrap(), pc02);
    wait_page(&lab, "pc02");
    eprintln!("timing: failover, pc01 killed -> client sees pc02's page: {:.1} s", t.elapsed().as_secs_f64());

    // pc01 returns: the group fails back.
    let t = Instant::now();
    lab.revive_node(pc01).unwrap();
    lab.wait_online(TIMEOUT).unwrap();
    wait_for("the group back on pc01", TIMEOUT, Duration::from_millis(250), || {
        Ok((lab.where_is("web")? == Some(pc01)).then_some(()))
    })
    .unwrap();
    wait_page(&lab, "pc01");
    eprintln!(
        "timing: failback, pc01 revived -> client sees pc01's page: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Apache stopped cleanly on pc02: nothing left there.
    wait_for("apache gone from pc02", Duration::from_secs(30), Duration::from_millis(200), || {
        Ok(apache_in(&lab, pc02).is_empty().then_some(()))
    })
    .unwrap();
    let mon = lab.crm_mon().unwrap();
    assert!(!mon.contains("Failed"), "failed actions:\n{mon}");
    lab.teardown().unwrap();
}
