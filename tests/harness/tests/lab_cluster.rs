//! Lab tier: a real 2-node Pacemaker/Corosync cluster in namespaces.
//! Needs root, pacemaker, corosync, crmsh, pcs and resource-agents; fails without them.

use std::panic;
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools};
use rha_harness::lab::{Lab, LabConfig, NetSpec, OCF_RHA_MOUNT, REQUIRED_TOOLS};
use rha_harness::netns;

const RESOURCE_TIMEOUT: Duration = Duration::from_secs(90);

fn preconditions() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[
        ("crm", "crmsh"),
        ("pcs", "pcs"),
        ("crm_resource", "pacemaker-cli-utils"),
        ("ping", "iputils-ping"),
    ])
    .unwrap();
    assert!(
        std::path::Path::new("/usr/lib/ocf/resource.d/heartbeat/Dummy").exists(),
        "ocf:heartbeat:Dummy missing: install resource-agents"
    );
}

/// Names of the lab's namespaces, to check they are gone after teardown.
fn lab_namespaces(lab: &Lab) -> Vec<String> {
    let st = lab.state();
    let mut v: Vec<String> = st.nodes.iter().map(|n| n.netns.clone()).collect();
    v.push(st.switch);
    v.push(st.client);
    v
}

fn assert_gone(names: &[String]) {
    let left: Vec<String> = netns::list().unwrap().into_iter().filter(|n| names.contains(n)).collect();
    assert!(left.is_empty(), "namespaces left after teardown: {left:?}");
}

#[test]
fn two_nodes_fail_over_and_tear_down() {
    preconditions();
    let t0 = Instant::now();
    let agents = tempfile::tempdir().unwrap();
    std::fs::write(agents.path().join("marker"), "rha agents\n").unwrap();
    // A known-good agent under our provider name.
    std::fs::copy("/usr/lib/ocf/resource.d/heartbeat/Dummy", agents.path().join("Dummy")).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.extra_networks.push(NetSpec::second());
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    cfg.www = true;
    cfg.private_dirs = vec!["/var/lib/heartbeat".into()];
    let mut lab = Lab::start(cfg).unwrap();
    eprintln!("timing: lab online in {:.1}s", t0.elapsed().as_secs_f64());
    let names = lab_namespaces(&lab);
    let workdir = lab.workdir().to_path_buf();

    let st = lab.status().unwrap();
    assert!(st.dc.is_some());
    for n in ["node1", "node2"] {
        assert!(st.node(n).unwrap().online, "{n} offline: {st:?}");
    }
    // Each node is its own host, reachable from the client on both networks.
    assert_eq!(lab.exec_ok(1, "hostname").unwrap().stdout.trim(), "node2");
    for net in 0..2 {
        for i in 0..2 {
            let ip = lab.node_ip(i, net).unwrap();
            lab.client_exec_ok(&format!("ping -c 1 -W 5 {ip}")).unwrap();
        }
    }

    // Per-node mounts: the agents directory, a www root naming the node, /etc/hosts.
    for i in 0..2 {
        let name = lab.node_name(i).to_string();
        let o = lab.exec_ok(i, &format!("cat {OCF_RHA_MOUNT}/marker /var/www/html/index.html")).unwrap();
        assert_eq!(o.stdout, format!("rha agents\n{name}\n"));
        assert_eq!(std::fs::read_to_string(lab.www_dir(i).join("index.html")).unwrap(), format!("{name}\n"));
    }
    // A private directory: a file made in node1 shows neither in node2 nor on the host.
    let probe = format!("/var/lib/heartbeat/rha-private-{}", std::process::id());
    lab.exec_ok(0, &format!("test -d /var/lib/heartbeat/lrm && touch {probe}")).unwrap();
    lab.exec_ok(1, &format!("test ! -e {probe}")).unwrap();
    assert!(!std::path::Path::new(&probe).exists(), "{probe} leaked to the host");
    let o = lab.exec_ok(0, "getent hosts node2").unwrap();
    assert!(o.stdout.starts_with("198.51.100.12"), "{o}");
    // The stock providers stay visible next to ours, and Pacemaker runs agents from ours.
    lab.exec_ok(1, "test -x /usr/lib/ocf/resource.d/heartbeat/Dummy").unwrap();
    lab.exec_ok(0, "crm configure primitive r ocf:rha:Dummy op monitor interval=10s").unwrap();
    lab.wait_started("r", RESOURCE_TIMEOUT).unwrap();

    // One resource through crmsh, one through pcs, kept together so one kill moves both.
    lab.exec_ok(0, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=5s").unwrap();
    lab.exec_ok(1, "pcs resource create p ocf:heartbeat:Dummy op monitor interval=5s").unwrap();
    lab.exec_ok(0, "pcs constraint colocation add p with d INFINITY").unwrap();
    let on = lab.wait_started("d", RESOURCE_TIMEOUT).unwrap();
    rha_harness::cmd::wait_for("p next to d", RESOURCE_TIMEOUT, Duration::from_millis(500), || {
        Ok((lab.where_is("p")? == Some(on)).then_some(()))
    })
    .unwrap();
    let agent = lab.status().unwrap().resource("p").unwrap().agent.clone();
    assert_eq!(agent, "ocf:heartbeat:Dummy");

    let t1 = Instant::now();
    lab.kill_node(on).unwrap();
    let survivor = lab.wait_moved("d", on, RESOURCE_TIMEOUT).unwrap();
    let p_on = lab.wait_moved("p", on, RESOURCE_TIMEOUT).unwrap();
    eprintln!(
        "timing: failover of d and p from {} to {} in {:.1}s",
        lab.node_name(on),
        lab.node_name(survivor),
        t1.elapsed().as_secs_f64()
    );
    assert_ne!(survivor, on);
    assert_eq!(p_on, survivor);
    assert!(lab.exec(on, "true").is_err(), "a killed node still runs commands");
    let st = lab.status().unwrap();
    assert!(!st.node(lab.node_name(on)).unwrap().online);

    // The dead node comes back and rejoins.
    let t2 = Instant::now();
    lab.revive_node(on).unwrap();
    lab.wait_online(Duration::from_secs(120)).unwrap();
    eprintln!("timing: revived node online in {:.1}s", t2.elapsed().as_secs_f64());
    assert!(lab.status().unwrap().node(lab.node_name(on)).unwrap().online);

    let t3 = Instant::now();
    lab.teardown().unwrap();
    eprintln!("timing: teardown {:.1}s", t3.elapsed().as_secs_f64());
    assert_gone(&names);
    assert!(!workdir.exists(), "lab dir {} left behind", workdir.display());
    let ours: Vec<String> = netns::list_ours()
        .unwrap()
        .into_iter()
        .filter(|n| netns::owner_of(n) == Some(std::process::id()))
        .collect();
    assert!(ours.is_empty(), "namespaces of this process left: {ours:?}");
}

#[test]
fn panicking_test_still_tears_down() {
    preconditions();
    let mut names = Vec::new();
    let r = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let lab = Lab::start(LabConfig::with_nodes(1)).unwrap();
        names = lab_namespaces(&lab);
        let pids = lab.exec_ok(0, "pgrep -x corosync").unwrap();
        assert!(!pids.stdout.trim().is_empty());
        panic!("deliberate panic with a running lab");
    }));
    assert!(r.is_err());
    assert_eq!(names.len(), 3);
    assert_gone(&names);
}

#[test]
fn failed_start_cleans_up() {
    preconditions();
    let mut cfg = LabConfig::with_nodes(2);
    // Marks this lab's namespaces: the other tests here run in parallel with the same pid.
    cfg.tag = "failstart".into();
    // Far too short to come online: Lab::start fails after creating everything.
    cfg.online_timeout = Duration::from_secs(1);
    let e = match Lab::start(cfg) {
        Ok(_) => panic!("the lab came online within 1 s?"),
        Err(e) => format!("{e:#}"),
    };
    assert!(e.contains("online"), "{e}");
    assert!(e.contains("lab diagnostics"), "error lacks diagnostics: {e}");
    let left: Vec<String> =
        netns::list_ours().unwrap().into_iter().filter(|n| n.contains("failstart")).collect();
    assert!(left.is_empty(), "failed start left {left:?}");
}
