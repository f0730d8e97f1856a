//! VM tier: the Pacemaker lab runs inside the VM too, next to IPVS (scenario S4 needs both:
//! the host kernel has no IPVS). Runs INSIDE the VM started by `rha-vm run-tests`.

use std::time::{Duration, Instant};

use rha_harness::cmd::{self, require_root, require_tools};
use rha_harness::lab::{Lab, LabConfig, NetSpec, REQUIRED_TOOLS};
use rha_harness::vm::IN_VM_ENV;

/// TCG is several times slower than the host, and more so on a busy machine (the lab took
/// 30 s to come online in an idle VM, 90 s with the host's 2 cores shared): generous limits.
const LIMIT: Duration = Duration::from_secs(400);

#[test]
fn lab_with_ipvs_fails_over_in_the_vm() {
    assert_eq!(std::env::var(IN_VM_ENV).as_deref(), Ok("1"), "this test must run inside `rha-vm run-tests`");
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("ipvsadm", "ipvsadm"), ("modprobe", "kmod")]).unwrap();
    cmd::run_ok(&["modprobe", "ip_vs"]).unwrap();

    let t0 = Instant::now();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.extra_networks.push(NetSpec::second());
    cfg.online_timeout = LIMIT;
    let mut lab = Lab::start(cfg).unwrap();
    eprintln!("timing (vm): lab online in {:.1}s", t0.elapsed().as_secs_f64());

    // IPVS tables are per network namespace: a virtual service made in node1 is its own.
    lab.exec_ok(0, "ipvsadm -A -t 203.0.113.50:80 -s rr").unwrap();
    let own = lab.exec_ok(0, "ipvsadm -Ln").unwrap().stdout;
    assert!(own.contains("203.0.113.50:80"), "{own}");
    let other = lab.exec_ok(1, "ipvsadm -Ln").unwrap().stdout;
    assert!(!other.contains("203.0.113.50:80"), "{other}");

    lab.exec_ok(0, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=10s").unwrap();
    let on = lab.wait_started("d", LIMIT).unwrap();
    let t1 = Instant::now();
    lab.kill_node(on).unwrap();
    let to = lab.wait_moved("d", on, LIMIT).unwrap();
    eprintln!("timing (vm): failover in {:.1}s", t1.elapsed().as_secs_f64());
    assert_ne!(to, on);
    lab.teardown().unwrap();
}
