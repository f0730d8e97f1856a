//! Host tier: the fault matrix against ocf:rha:IPaddr2, ocf:rha:apache (Debian's apache2),
//! ocf-shim's example agent and the host side of ocf:rha:ipvs-service (this kernel has no
//! IPVS). Every case runs in its own sandbox (network + mount namespace with a private /run),
//! and the invariants (no stray address, label, address label or route; no process; nothing
//! under /run/rha/<agent>/; no leftover namespace) are checked after every case.
//!
//! Needs root, iproute2, util-linux and apache2. Fails, never skips, when something is missing.
//! `RHA_TEST_SEED=N` repeats a run's random kill points and race timings.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use rha_harness::cmd::{require_root, require_tools};
use rha_integration::matrix::{
    self, Breakage, HostileOptions, KillPlan, Recovery, Results, hostile_values, returns_before_timeout,
};
use rha_integration::{AgentUnderTest, Bin, Invariants, Rng, Sandbox, agent_binary};

fn preconditions() {
    require_root().unwrap();
    require_tools(&[("ip", "iproute2"), ("nsenter", "util-linux"), ("unshare", "util-linux")]).unwrap();
}

/// The file a shell running a parameter value would create. Checked by the hostile-value cases.
fn canary() -> PathBuf {
    static C: OnceLock<PathBuf> = OnceLock::new();
    C.get_or_init(|| {
        let p = PathBuf::from(format!("/tmp/rha-canary-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    })
    .clone()
}

fn hostile_options(start_when_valid: bool) -> HostileOptions {
    HostileOptions { canary: canary(), start_when_valid }
}

fn sh(sb: &Sandbox, script: &str) -> Result<(), String> {
    sb.sh_ok(script).map(|_| ())
}

/// Splits `names` over `n` sandboxes made by `make` and runs the hostile values on each share
/// in parallel.
fn hostile_in_parallel(
    n: usize,
    names: &[String],
    start_when_valid: bool,
    make: impl Fn(usize) -> (Sandbox, AgentUnderTest, Invariants) + Sync,
) -> Results {
    let results = Results::new();
    let values = hostile_values(&canary());
    std::thread::scope(|s| {
        for t in 0..n {
            let (results, values, make) = (&results, &values, &make);
            s.spawn(move || {
                let (_sb, a, inv) = make(t);
                let mine: Vec<String> = names.iter().skip(t).step_by(n).cloned().collect();
                let r = matrix::hostile_parameter_values(
                    &a,
                    &inv,
                    &mine,
                    values,
                    &hostile_options(start_when_valid),
                );
                results.record(&format!("{} hostile values, share {t} {mine:?}", a.name), r);
            });
        }
    });
    assert!(!canary().exists(), "a parameter value was run by a shell");
    results
}

// ---------------------------------------------------------------------------------------------
// IPaddr2: a sandbox whose eth0 is a veth to a peer (carrier, a route for the subnet).

mod ipaddr2 {
    use super::*;

    pub fn sandbox(tag: &str) -> Sandbox {
        preconditions();
        Sandbox::builder(tag)
            .link(&["198.51.100.1/24", "2001:db8::1/64"], &["198.51.100.2/24", "2001:db8::2/64"])
            .build()
            .unwrap()
    }

    pub fn v4(sb: &Sandbox) -> AgentUnderTest {
        sb.agent("IPaddr2", &agent_binary(Bin::IpAddr2))
            .instance("vip")
            .param("ip", "198.51.100.10")
            .param("cidr_netmask", "24")
    }

    pub fn v6(sb: &Sandbox) -> AgentUnderTest {
        sb.agent("IPaddr2", &agent_binary(Bin::IpAddr2))
            .instance("vip6")
            .param("ip", "2001:db8::10")
            .param("cidr_netmask", "64")
            .param("nodad", "true")
    }

    pub fn invariants(sb: &Sandbox) -> Invariants {
        Invariants::standard(sb, "IPaddr2", &[])
    }

    /// The `ip -o addr` line of the agent's address (its identity: a second start must not
    /// change it).
    pub fn addr_line(sb: &Sandbox, ip: &str) -> Result<String, String> {
        let out = sb.ip(&["-o", "addr", "show"])?;
        out.lines()
            .find(|l| l.split_whitespace().nth(3).is_some_and(|a| a.split('/').next() == Some(ip)))
            .map(|l| l.split("valid_lft").next().unwrap_or(l).trim().to_string())
            .ok_or_else(|| format!("{ip} is not configured:\n{out}"))
    }
}

#[test]
fn ipaddr2_lifecycle() {
    let sb = ipaddr2::sandbox("ipalife");
    let inv = ipaddr2::invariants(&sb);
    let r = Results::new();
    let labelled = ipaddr2::v4(&sb).param("nic", "eth0").param("iflabel", "vip");
    let id4 = |_: &AgentUnderTest| ipaddr2::addr_line(&sb, "198.51.100.10");
    let id6 = |_: &AgentUnderTest| ipaddr2::addr_line(&sb, "2001:db8::10");
    r.record("IPaddr2 lifecycle IPv4", matrix::lifecycle(&ipaddr2::v4(&sb), &inv, Some(&id4)));
    r.record("IPaddr2 lifecycle IPv4 with label", matrix::lifecycle(&labelled, &inv, Some(&id4)));
    r.record("IPaddr2 lifecycle IPv6", matrix::lifecycle(&ipaddr2::v6(&sb), &inv, Some(&id6)));
    r.finish();
}

#[test]
fn ipaddr2_behind_the_back() {
    let sb = ipaddr2::sandbox("ipaback");
    let inv = ipaddr2::invariants(&sb);
    let r = Results::new();
    let a = ipaddr2::v4(&sb).param("nic", "eth0").param("iflabel", "vip");
    let peer = sb.peer().unwrap();
    let cases = [
        Breakage::new("address deleted", || sh(&sb, "ip addr del 198.51.100.10/24 dev eth0"), 7, Recovery::Start),
        Breakage::new(
            "label changed",
            || sh(&sb, "ip addr del 198.51.100.10/24 dev eth0 && ip addr add 198.51.100.10/24 dev eth0 label eth0:other"),
            1,
            Recovery::StopStart,
        )
        .reason("eth0:other"),
        Breakage::new("peer's link down (no carrier)", || peer.link_down("eth0").map_err(|e| e.to_string()), 7, Recovery::Start)
            .reason("down")
            .restore(|| peer.link_up("eth0").map_err(|e| e.to_string())),
        // Taking the interface down also flushes its IPv6 addresses (the kernel's doing):
        // restoring puts the node's own address back.
        Breakage::new("interface down", || sb.ns().link_down("eth0").map_err(|e| e.to_string()), 7, Recovery::StopStart)
            .reason("down")
            .restore(|| sh(&sb, "ip link set eth0 up && ip addr replace 2001:db8::1/64 dev eth0 nodad")),
    ];
    for b in &cases {
        r.record(&format!("IPaddr2 behind the back: {}", b.what), matrix::behind_the_back(&a, &inv, b));
    }
    let a6 = ipaddr2::v6(&sb);
    let gone6 = Breakage::new(
        "IPv6 address deleted",
        || sh(&sb, "ip addr del 2001:db8::10/64 dev eth0"),
        7,
        Recovery::Start,
    );
    r.record("IPaddr2 behind the back: IPv6 address deleted", matrix::behind_the_back(&a6, &inv, &gone6));
    r.finish();
}

#[test]
fn ipaddr2_sigkill_during_start() {
    let r = Results::new();
    let mut rng = Rng::from_env_or_clock("IPaddr2 SIGKILL");
    // IPv4 with everything that leaves state: the LVS loopback copy, a label, the background
    // announcer.
    let sb = ipaddr2::sandbox("ipakill");
    sb.ns().add_addr("lo", "198.51.100.30/32").unwrap();
    let inv = ipaddr2::invariants(&sb);
    let a = ipaddr2::v4(&sb)
        .param("ip", "198.51.100.30")
        .param("nic", "eth0")
        .param("iflabel", "vip")
        .param("lvs_support", "true")
        .param("arp_count", "20")
        .param("arp_interval", "50");
    let plan = KillPlan { runs: 30, budget: Duration::from_secs(60), min_runs: 10, span: None };
    r.record(
        "IPaddr2 SIGKILL during start (IPv4, LVS, label)",
        matrix::sigkill_during_start(&a, &inv, &plan, &mut rng),
    );
    // IPv6 with duplicate address detection to wait for, and an address label.
    let sb6 = ipaddr2::sandbox("ipakill6");
    let inv6 = ipaddr2::invariants(&sb6);
    let a6 = ipaddr2::v6(&sb6).param("nodad", "false").param("arp_bg", "true");
    let plan6 = KillPlan { runs: 12, budget: Duration::from_secs(60), min_runs: 6, span: None };
    r.record(
        "IPaddr2 SIGKILL during start (IPv6, DAD)",
        matrix::sigkill_during_start(&a6, &inv6, &plan6, &mut rng),
    );
    r.finish();
}

#[test]
fn ipaddr2_deadlines() {
    let sb = ipaddr2::sandbox("ipadead");
    let inv = ipaddr2::invariants(&sb);
    let r = Results::new();
    r.record("IPaddr2 deadlines IPv4 (1000 ms)", matrix::deadlines(&ipaddr2::v4(&sb), &inv, 1000));
    r.record("IPaddr2 deadlines IPv6 (1000 ms)", matrix::deadlines(&ipaddr2::v6(&sb), &inv, 1000));
    // Slow conditions: IPv6 DAD (about a second), ARP duplicate detection, long foreground
    // announcements. Each returns before its timeout; a failure has a reason and leaves nothing.
    let dad = ipaddr2::v6(&sb).param("nodad", "false").param("ip", "2001:db8::40");
    // After a failed start Pacemaker stops the resource: the stop must leave nothing.
    let stop_then_nothing = |a: &AgentUnderTest| {
        matrix::expect(&a.stop(), &[0], "stop").and_then(|_| inv.check()).map_err(fail("IPaddr2"))
    };
    r.record("IPaddr2 deadline: IPv6 DAD in 600 ms", returns_before_timeout(&dad, "start", &[], 600, &[1]));
    r.record("IPaddr2 stop after the DAD timeout, nothing left", stop_then_nothing(&dad));
    let arping = ipaddr2::v4(&sb).param("run_arping", "true");
    r.record(
        "IPaddr2 deadline: ARP probe in 500 ms",
        returns_before_timeout(&arping, "start", &[], 500, &[1]),
    );
    r.record("IPaddr2 stop after the ARP probe timeout, nothing left", stop_then_nothing(&arping));
    let fg = ipaddr2::v4(&sb).param("arp_bg", "false").param("arp_count", "100");
    r.record(
        "IPaddr2 deadline: 100 foreground ARPs in 1000 ms",
        returns_before_timeout(&fg, "start", &[], 1000, &[0]),
    );
    r.record("IPaddr2 stop after foreground ARPs, nothing left", stop_then_nothing(&fg));
    r.finish();
}

fn fail(agent: &'static str) -> impl Fn(String) -> matrix::Failure {
    move |detail| matrix::Failure { agent: agent.into(), case: "direct check".into(), detail }
}

#[test]
fn ipaddr2_monitor_races_stop() {
    let sb = ipaddr2::sandbox("iparace");
    let inv = ipaddr2::invariants(&sb);
    let mut rng = Rng::from_env_or_clock("IPaddr2 race");
    let r = Results::new();
    let a = ipaddr2::v4(&sb).param("iflabel", "vip").param("arp_count", "10");
    r.record("IPaddr2 monitor racing stop (IPv4)", matrix::monitor_races_stop(&a, &inv, 15, 2, &mut rng));
    r.record(
        "IPaddr2 monitor racing stop (IPv6)",
        matrix::monitor_races_stop(&ipaddr2::v6(&sb), &inv, 8, 2, &mut rng),
    );
    r.finish();
}

#[test]
fn ipaddr2_two_instances() {
    let sb = ipaddr2::sandbox("ipatwo");
    let inv = ipaddr2::invariants(&sb);
    let r = Results::new();
    let a = ipaddr2::v4(&sb).instance("vip1").param("iflabel", "one");
    let b = ipaddr2::v4(&sb).instance("vip2").param("ip", "198.51.100.11").param("iflabel", "two");
    let id = |x: &AgentUnderTest| {
        let ip =
            x.params.iter().find(|(k, _)| k == "ip").map(|(_, v)| v.to_string_lossy().into_owned()).unwrap();
        ipaddr2::addr_line(&sb, &ip)
    };
    r.record("IPaddr2 two instances (IPv4, labels)", matrix::two_instances(&a, &b, &inv, Some(&id)));
    let c = ipaddr2::v6(&sb).instance("v6a");
    let d = ipaddr2::v6(&sb).instance("v6b").param("ip", "2001:db8::11");
    r.record("IPaddr2 two instances (IPv6, address labels)", matrix::two_instances(&c, &d, &inv, Some(&id)));
    r.finish();
}

#[test]
fn ipaddr2_hostile_values() {
    preconditions();
    let names = ipaddr2::v4(&ipaddr2::sandbox("ipameta")).parameter_names().unwrap();
    hostile_in_parallel(3, &names, true, |t| {
        let sb = ipaddr2::sandbox(&format!("ipahost{t}"));
        let inv = ipaddr2::invariants(&sb);
        let a = ipaddr2::v4(&sb);
        (sb, a, inv)
    })
    .finish();
}

// IPaddr2 in cluster-IP mode: buckets of one globally-unique clone on this node, sharing an
// nftables table, a multicast group and the address.

mod cluster_ip {
    use super::*;

    pub const MAC: &str = "03:00:00:00:00:0b";
    pub const MAC6: &str = "33:33:00:00:00:0b";

    /// Instance `k` (bucket `k+1`) of a 2-instance clone with clone-node-max 2, with ARP
    /// rewriting (a second nftables table to leave nothing of).
    pub fn bucket(sb: &Sandbox, k: u32) -> AgentUnderTest {
        ipaddr2::v4(sb)
            .instance(&format!("cip:{k}"))
            .param("nic", "eth0")
            .param("mac", MAC)
            .param("clusterip_mac_mangle", "true")
            .env("OCF_RESKEY_CRM_meta_clone", k.to_string())
            .env("OCF_RESKEY_CRM_meta_clone_max", "2")
            .env("OCF_RESKEY_CRM_meta_clone_node_max", "2")
            .env("OCF_RESKEY_CRM_meta_globally_unique", "true")
    }

    /// The same for IPv6 (no ARP rewriting: IPv4 only).
    pub fn bucket6(sb: &Sandbox, k: u32) -> AgentUnderTest {
        bucket(sb, k)
            .instance(&format!("cip6:{k}"))
            .param("ip", "2001:db8::10")
            .param("cidr_netmask", "64")
            .param("mac", MAC6)
            .param("clusterip_mac_mangle", "false")
    }

    /// IPaddr2's invariants, and no nftables table or multicast group left.
    pub fn invariants(sb: &Sandbox) -> Invariants {
        let ns = sb.ns().name().to_string();
        let ns2 = ns.clone();
        ipaddr2::invariants(sb)
            .add("no nftables table", move || {
                let out = rha_harness::Cmd::new("ip")
                    .args(["netns", "exec", &ns, "nft", "list", "tables"])
                    .run_ok()
                    .map_err(|e| format!("{e:#}"))?;
                if out.stdout.contains("IPaddr2_") {
                    Err(format!("left: {}", out.stdout.trim()))
                } else {
                    Ok(())
                }
            })
            .add("no multicast MAC joined", move || {
                let out = rha_harness::Cmd::new("ip")
                    .args(["-n", &ns2, "maddr", "show", "dev", "eth0"])
                    .run_ok()
                    .map_err(|e| format!("{e:#}"))?;
                if out.stdout.contains(MAC) || out.stdout.contains(MAC6) {
                    Err(format!("left: {}", out.stdout.trim()))
                } else {
                    Ok(())
                }
            })
    }
}

#[test]
fn ipaddr2_cluster_ip() {
    require_tools(&[("nft", "nftables")]).unwrap();
    let r = Results::new();
    let mut rng = Rng::from_env_or_clock("IPaddr2 cluster IP");
    let sb = ipaddr2::sandbox("ipacip");
    let inv = cluster_ip::invariants(&sb);
    let (b1, b2) = (cluster_ip::bucket(&sb, 0), cluster_ip::bucket(&sb, 1));
    let id = |_: &AgentUnderTest| ipaddr2::addr_line(&sb, "198.51.100.10");
    r.record("IPaddr2 cluster IP lifecycle", matrix::lifecycle(&b1, &inv, Some(&id)));
    r.record("IPaddr2 cluster IP two buckets on one node", matrix::two_instances(&b1, &b2, &inv, Some(&id)));
    r.record(
        "IPaddr2 cluster IP monitor racing stop",
        matrix::monitor_races_stop(&b1, &inv, 10, 2, &mut rng),
    );
    let plan = KillPlan { runs: 20, budget: Duration::from_secs(60), min_runs: 8, span: None };
    r.record(
        "IPaddr2 cluster IP SIGKILL during start",
        matrix::sigkill_during_start(&b1, &inv, &plan, &mut rng),
    );
    r.record("IPaddr2 cluster IP deadlines (1000 ms)", matrix::deadlines(&b2, &inv, 1000));
    let (c1, c2) = (cluster_ip::bucket6(&sb, 0), cluster_ip::bucket6(&sb, 1));
    let id6 = |_: &AgentUnderTest| ipaddr2::addr_line(&sb, "2001:db8::10");
    r.record("IPaddr2 cluster IP lifecycle (IPv6)", matrix::lifecycle(&c1, &inv, Some(&id6)));
    r.record(
        "IPaddr2 cluster IP two buckets on one node (IPv6)",
        matrix::two_instances(&c1, &c2, &inv, Some(&id6)),
    );
    let plan6 = KillPlan { runs: 10, budget: Duration::from_secs(40), min_runs: 5, span: None };
    r.record(
        "IPaddr2 cluster IP SIGKILL during start (IPv6)",
        matrix::sigkill_during_start(&c1, &inv, &plan6, &mut rng),
    );
    r.finish();
}

// ---------------------------------------------------------------------------------------------
// apache: Debian's apache2 with its stock configuration, in a sandbox with a private /run and
// /var/log/apache2 (the agent's own tests isolate instances the same way).

mod apache {
    use super::*;

    pub const STOCK: &str = "/etc/apache2/apache2.conf";
    pub const MODULES: &str = "/usr/lib/apache2/modules";

    pub fn node(tag: &str) -> Sandbox {
        preconditions();
        require_tools(&[("apache2", "apache2")]).unwrap();
        Sandbox::builder(tag).private_dir("/var/log/apache2").build().unwrap()
    }

    pub fn stock(sb: &Sandbox) -> AgentUnderTest {
        sb.agent("apache", &agent_binary(Bin::Apache)).instance("web").param("configfile", STOCK)
    }

    /// `<instance>.stderr` (httpd's stderr, kept for diagnosis and truncated by the next start)
    /// is the one file the agent keeps under /run/rha/apache after a stop.
    pub fn invariants(sb: &Sandbox) -> Invariants {
        Invariants::standard(sb, "apache", &[".stderr"])
            .add("no httpd pid file", rha_integration::invariants::dir_empty(sb.inside("/run/apache2"), &[]))
    }

    /// The main pid of a running stock server (its identity).
    pub fn main_pid(sb: &Sandbox, pid_file: &str) -> Result<String, String> {
        let p = sb.inside(pid_file);
        std::fs::read_to_string(&p).map(|s| s.trim().to_string()).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// A second, self-contained configuration on 127.0.0.1:8080 with its own pid file.
    pub fn custom(sb: &Sandbox) -> AgentUnderTest {
        let d = sb.dir.path();
        for sub in ["conf", "run", "www", "log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("www/index.html"), "<html><body>custom</body></html>\n").unwrap();
        let conf = format!(
            "ServerRoot /etc/apache2\nServerName rha-custom\nDefaultRuntimeDir {d}/run\nPidFile {d}/run/custom.pid\n\
             LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
             LoadModule authz_core_module {m}/mod_authz_core.so\n\
             LoadModule authz_host_module {m}/mod_authz_host.so\n\
             LoadModule status_module {m}/mod_status.so\n\
             LoadModule dir_module {m}/mod_dir.so\n\
             User www-data\nGroup www-data\nListen 127.0.0.1:8080\n\
             ErrorLog {d}/log/error.log\nLogLevel warn\nDocumentRoot {d}/www\nDirectoryIndex index.html\n\
             <Directory {d}/www>\n  Require all granted\n</Directory>\n\
             <Location /server-status>\n  SetHandler server-status\n  Require local\n</Location>\n",
            d = d.display(),
            m = MODULES
        );
        let path = d.join("conf/httpd.conf");
        std::fs::write(&path, conf).unwrap();
        sb.agent("apache", &agent_binary(Bin::Apache)).instance("custom").param("configfile", path)
    }

    pub fn pids(sb: &Sandbox) -> Vec<u32> {
        sb.processes().into_iter().filter(|(_, c)| c == "apache2").map(|(p, _)| p).collect()
    }

    pub fn signal_all(sb: &Sandbox, sig: &str) -> Result<(), String> {
        let pids = pids(sb);
        if pids.is_empty() {
            return Err("no apache2 process to signal".into());
        }
        for p in pids {
            let _ = std::process::Command::new("kill").args([&format!("-{sig}"), &p.to_string()]).status();
        }
        Ok(())
    }
}

#[test]
fn apache_lifecycle() {
    let sb = apache::node("aplife");
    let inv = apache::invariants(&sb);
    let id = |_: &AgentUnderTest| apache::main_pid(&sb, "/run/apache2/apache2.pid");
    let r = Results::new();
    r.record(
        "apache lifecycle (stock configuration)",
        matrix::lifecycle(&apache::stock(&sb), &inv, Some(&id)),
    );
    r.finish();
}

#[test]
fn apache_behind_the_back() {
    let sb = apache::node("apback");
    let sb = &sb;
    let inv = apache::invariants(sb);
    let a = apache::stock(sb);
    let r = Results::new();
    let kill_main = || {
        let pid = apache::main_pid(sb, "/run/apache2/apache2.pid")?;
        sh(sb, &format!("kill -KILL {pid}"))
    };
    let cases = [
        Breakage::new("main httpd process killed (children remain)", kill_main, 1, Recovery::Start)
            .reason("processes remain"),
        Breakage::new(
            "every httpd process killed",
            || {
                apache::signal_all(sb, "KILL")?;
                let end = std::time::Instant::now() + Duration::from_secs(5);
                while !apache::pids(sb).is_empty() && std::time::Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(())
            },
            7,
            Recovery::Start,
        ),
        Breakage::new("httpd hung (SIGSTOP)", || apache::signal_all(sb, "STOP"), 1, Recovery::StopStart)
            .reason("timed out")
            .monitor_env(&[("OCF_RESKEY_CRM_meta_timeout", "3000")]),
    ];
    for b in &cases {
        r.record(&format!("apache behind the back: {}", b.what), matrix::behind_the_back(&a, &inv, b));
    }
    r.finish();
}

#[test]
fn apache_sigkill_during_start() {
    let sb = apache::node("apkill");
    let inv = apache::invariants(&sb);
    let mut rng = Rng::from_env_or_clock("apache SIGKILL");
    let plan = KillPlan { runs: 16, budget: Duration::from_secs(90), min_runs: 8, span: None };
    let r = Results::new();
    r.record(
        "apache SIGKILL during start",
        matrix::sigkill_during_start(&apache::stock(&sb), &inv, &plan, &mut rng),
    );
    r.finish();
}

#[test]
fn apache_deadlines() {
    let sb = apache::node("apdead");
    let sb = &sb;
    let inv = apache::invariants(sb);
    let a = apache::stock(sb);
    let r = Results::new();
    r.record("apache deadlines (3000 ms)", matrix::deadlines(&a, &inv, 3000));
    // A hung server: monitor and stop still return before their timeouts.
    let hung = (|| -> matrix::CheckResult<String> {
        matrix::expect(&a.start(), &[0], "start").map_err(fail("apache"))?;
        apache::signal_all(sb, "STOP").map_err(fail("apache"))?;
        let m =
            returns_before_timeout(&a, "monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")], 2000, &[1])?;
        let s = returns_before_timeout(&a, "stop", &[], 4000, &[0])?;
        inv.check().map_err(fail("apache"))?;
        Ok(format!("monitor {} in {:?}, stop {} in {:?}", m.code, m.duration, s.code, s.duration))
    })();
    r.record("apache deadline: hung httpd, monitor 2000 ms and stop 4000 ms", hung.map(|_| ()));
    r.finish();
}

#[test]
fn apache_monitor_races_stop() {
    let sb = apache::node("aprace");
    let inv = apache::invariants(&sb);
    let mut rng = Rng::from_env_or_clock("apache race");
    let r = Results::new();
    r.record(
        "apache monitor racing stop",
        matrix::monitor_races_stop(&apache::stock(&sb), &inv, 6, 2, &mut rng),
    );
    r.finish();
}

#[test]
fn apache_two_instances() {
    let sb = apache::node("aptwo");
    let sb = &sb;
    let inv = apache::invariants(sb);
    let custom = apache::custom(sb);
    let custom_pid = sb.dir.path().join("run/custom.pid");
    let id = |x: &AgentUnderTest| {
        if x.instance == "web" {
            apache::main_pid(sb, "/run/apache2/apache2.pid")
        } else {
            std::fs::read_to_string(&custom_pid).map(|s| s.trim().to_string()).map_err(|e| e.to_string())
        }
    };
    let r = Results::new();
    r.record(
        "apache two instances (stock and 127.0.0.1:8080)",
        matrix::two_instances(&apache::stock(sb), &custom, &inv, Some(&id)),
    );
    r.finish();
}

#[test]
fn apache_hostile_values() {
    let sb = apache::node("apmeta");
    let names = apache::stock(&sb).parameter_names().unwrap();
    drop(sb);
    hostile_in_parallel(2, &names, true, |t| {
        let sb = apache::node(&format!("aphost{t}"));
        let inv = apache::invariants(&sb);
        let a = apache::stock(&sb);
        (sb, a, inv)
    })
    .finish();
}

// ---------------------------------------------------------------------------------------------
// ocf-shim's example agent: the resource is a state file under the sandbox's /run/rha/example.

mod example {
    use super::*;

    pub fn sandbox(tag: &str) -> Sandbox {
        preconditions();
        Sandbox::new(tag).unwrap()
    }

    pub fn agent(sb: &Sandbox, instance: &str) -> AgentUnderTest {
        sb.agent("example", &agent_binary(Bin::Example)).instance(instance).param("fake", "value")
    }

    pub fn invariants(sb: &Sandbox) -> Invariants {
        Invariants::standard(sb, "example", &[])
    }
}

#[test]
fn example_matrix() {
    let sb = example::sandbox("exmatrix");
    let inv = example::invariants(&sb);
    let a = example::agent(&sb, "ex");
    let r = Results::new();
    let mut rng = Rng::from_env_or_clock("example");
    let state = sb.inside("/run/rha/example/ex.state");
    let id = |_: &AgentUnderTest| std::fs::read_to_string(&state).map_err(|e| e.to_string());
    r.record("example lifecycle", matrix::lifecycle(&a, &inv, Some(&id)));
    let gone = Breakage::new(
        "state file removed",
        || std::fs::remove_file(&state).map_err(|e| e.to_string()),
        7,
        Recovery::Start,
    );
    r.record("example behind the back: state file removed", matrix::behind_the_back(&a, &inv, &gone));
    let plan = KillPlan {
        runs: 20,
        budget: Duration::from_secs(30),
        min_runs: 10,
        span: Some(Duration::from_millis(4)),
    };
    r.record("example SIGKILL during start", matrix::sigkill_during_start(&a, &inv, &plan, &mut rng));
    r.record("example deadlines (500 ms)", matrix::deadlines(&a, &inv, 500));
    r.record("example monitor racing stop", matrix::monitor_races_stop(&a, &inv, 20, 2, &mut rng));
    r.record("example two instances", matrix::two_instances(&a, &example::agent(&sb, "ex2"), &inv, None));
    r.finish();
}

#[test]
fn example_hostile_values() {
    let names = example::agent(&example::sandbox("exmeta"), "ex").parameter_names().unwrap();
    hostile_in_parallel(1, &names, true, |_| {
        let sb = example::sandbox("exhost");
        let inv = example::invariants(&sb);
        let a = example::agent(&sb, "ex");
        (sb, a, inv)
    })
    .finish();
}

// ---------------------------------------------------------------------------------------------
// ipvs-service's hostile parameter values, in the sandbox's own network namespace (so they
// hold with or without IPVS in the kernel). A node without IPVS (probe 7, stop 0, start 5) is
// tested in vm_fault_matrix, where the VM takes ip_vs away; the VM tier has the rest.

mod ipvs {
    use super::*;

    pub fn sandbox(tag: &str) -> Sandbox {
        preconditions();
        Sandbox::new(tag).unwrap()
    }

    pub fn agent(sb: &Sandbox) -> AgentUnderTest {
        sb.agent("ipvs-service", &agent_binary(Bin::IpvsService))
            .instance("web")
            .param("virtual", "198.51.100.10:80")
            .param("scheduler", "wrr")
            .param("reals", "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 1")
    }

    /// The agent serialises its instances with ocf-shim's NodeLock in its state directory: its
    /// holder removes the file, but one killed while holding it leaves the file until the next
    /// start or stop takes and drops the lock.
    pub fn invariants(sb: &Sandbox) -> Invariants {
        Invariants::standard(sb, "ipvs-service", &["/.lock", ".lock"])
    }
}

#[test]
fn ipvs_service_hostile_values() {
    let names = ipvs::agent(&ipvs::sandbox("ipvsmeta")).parameter_names().unwrap();
    hostile_in_parallel(2, &names, true, |t| {
        let sb = ipvs::sandbox(&format!("ipvshost{t}"));
        let inv = ipvs::invariants(&sb);
        let a = ipvs::agent(&sb);
        (sb, a, inv)
    })
    .finish();
}

/// netmask and pe are read only for a persistent service (without persistent they are refused
/// before they are parsed): with persistent set, their hostile values reach their parsers.
#[test]
fn ipvs_service_hostile_persistence_values() {
    let names = vec!["netmask".to_string(), "pe".to_string()];
    hostile_in_parallel(1, &names, true, |_| {
        let sb = ipvs::sandbox("ipvspersist");
        let inv = ipvs::invariants(&sb);
        let a = ipvs::agent(&sb).param("persistent", "300");
        (sb, a, inv)
    })
    .finish();
}

/// The platform limit behind "huge" values: one environment string longer than 128 KiB cannot
/// reach any agent (execve refuses it with E2BIG), so 1 MiB values are tested as far as they
/// can go: the longest value exec passes (in every hostile-value case), and this refusal.
#[test]
fn one_mib_values_cannot_reach_an_agent() {
    preconditions();
    let sb = example::sandbox("exhuge");
    let a = example::agent(&sb, "ex").param("fake", "A".repeat(1 << 20));
    let o = a.start();
    assert_eq!(o.code, -1, "exec accepted a 1 MiB environment string: {o}");
    assert!(o.stderr.contains("Argument list too long"), "{o}");
}

/// ocf-shim's dispatcher turns a panic anywhere (parameter handling, an action, another
/// thread) into exit 1 with an exit reason: never Rust's 101, an abort or a signal.
#[test]
fn a_panic_anywhere_is_exit_1_with_a_reason() {
    preconditions();
    let sb = example::sandbox("expanic");
    let a = sb.agent("rha-panic-agent", Path::new(env!("CARGO_BIN_EXE_rha-panic-agent")));
    for (place, action, env) in [
        ("configure", "start", vec![]),
        ("configure", "validate-all", vec![]),
        ("start", "start", vec![]),
        ("thread", "monitor", vec![("OCF_RESKEY_CRM_meta_interval", "10000")]),
    ] {
        let o = a.clone().param("where", place).run(action, &env);
        let what = format!("panic in {place} during {action}");
        assert_eq!((o.code, o.signal), (1, None), "{what}: {o}");
        assert_eq!(o.reasons().len(), 1, "{what}: one exit reason: {o}");
        assert!(o.why().starts_with("internal error: "), "{what}: {o}");
    }
    let o = a.clone().param("where", "nowhere").run("start", &[]);
    assert_eq!(o.code, 0, "{o}");
}

/// A configuration that includes a directory holding two symlinks to itself: `apache2 -t`
/// fails at once ("Too many levels of symbolic links"); every action of the agent must still
/// return before its timeout, with a reason.
#[test]
fn apache_deadline_with_a_self_including_directory() {
    let sb = apache::node("aploop");
    let d = sb.dir.path().join("loop");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("x.conf"), "# nothing\n").unwrap();
    std::os::unix::fs::symlink(".", d.join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("b")).unwrap();
    let conf = sb.dir.path().join("main.conf");
    std::fs::write(&conf, format!("ServerRoot /etc/apache2\nInclude {}\n", d.display())).unwrap();
    let mut a = apache::stock(&sb).param("configfile", &conf);
    // Fail fast rather than wait for the harness's default limit.
    a.limit = Duration::from_secs(10);
    let r = Results::new();
    for (action, env) in
        [("monitor", vec![("OCF_RESKEY_CRM_meta_interval", "0")]), ("start", vec![]), ("stop", vec![])]
    {
        r.record(
            &format!("apache {action} with a self-including directory, 2000 ms"),
            returns_before_timeout(&a, action, &env, 2000, &[]),
        );
    }
    r.finish();
}
