//! Lab tier: node death in a real 2-node Pacemaker/Corosync cluster with a group of
//! ocf:rha:IPaddr2 (a VIP) and ocf:rha:apache (Debian's apache2, stock configuration). The node
//! holding them dies (links down, every process SIGKILLed: a power cut); the group moves to the
//! survivor and the client reaches it there. Then the dead node returns (`revive_node`) — with
//! its network namespace as it was, so the VIP is still configured on its eth0, as on a node
//! that froze rather than rebooted — and once the cluster has settled nothing stale of it
//! remains: the VIP on exactly one node (the one Pacemaker says), one apache (one main
//! process, on that node), none on the returned node, and the client still served.
//!
//! Needs root, pacemaker, corosync, crmsh, apache2, curl.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS, agents_dir};
use rha_integration::sandbox::processes_in;
use rha_integration::{Bin, agent_binary};

const TIMEOUT: Duration = Duration::from_secs(150);
const VIP: &str = "198.51.100.200";

/// Nodes whose eth0 holds the VIP.
fn vip_holders(lab: &Lab) -> Vec<usize> {
    (0..lab.node_count())
        .filter(|&i| lab.is_alive(i))
        .filter(|&i| {
            lab.exec(i, "ip -o addr show dev eth0")
                .map(|o| o.stdout.contains(&format!(" {VIP}/")))
                .unwrap_or(false)
        })
        .collect()
}

/// apache2 processes in node `i`: (all, main ones — those whose parent is not apache2).
fn apache_in(lab: &Lab, i: usize) -> (usize, usize) {
    let procs: Vec<u32> = processes_in(lab.node_netns(i), &[])
        .into_iter()
        .filter(|(_, c)| c == "apache2")
        .map(|(p, _)| p)
        .collect();
    let parent_is_apache = |p: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid: u32 = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        procs.contains(&ppid)
    };
    let mains = procs.iter().filter(|p| !parent_is_apache(**p)).count();
    (procs.len(), mains)
}

/// The page the client gets from the VIP (each node's index.html names the node).
fn client_page(lab: &Lab) -> String {
    lab.client_exec(&format!("curl -s --max-time 5 http://{VIP}/")).map(|o| o.stdout).unwrap_or_default()
}

fn wait_served_by(lab: &Lab, node: usize) {
    let name = lab.node_name(node).to_string();
    wait_for(
        &format!("the client to be served by {name}"),
        Duration::from_secs(30),
        Duration::from_millis(500),
        || Ok(client_page(lab).contains(&name).then_some(())),
    )
    .unwrap();
}

/// No node holds the VIP but `holder`, one apache main process runs, on `holder`.
fn nothing_stale(lab: &Lab, holder: usize, when: &str) {
    let holders = vip_holders(lab);
    assert_eq!(holders, vec![holder], "{when}: the VIP is on nodes {holders:?}, Pacemaker says {holder}");
    for i in 0..lab.node_count() {
        let (all, mains) = apache_in(lab, i);
        if i == holder {
            assert_eq!(
                mains,
                1,
                "{when}: {} runs {mains} apache main processes ({all} in all)",
                lab.node_name(i)
            );
        } else {
            assert_eq!(all, 0, "{when}: {} still runs {all} apache2 processes", lab.node_name(i));
        }
    }
}

#[test]
fn node_death_moves_the_group_and_the_returning_node_keeps_nothing_stale() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[
        ("crm", "crmsh"),
        ("apache2", "apache2"),
        ("curl", "curl"),
        ("crm_resource", "pacemaker-cli-utils"),
    ])
    .unwrap();
    let binaries: Vec<(&str, PathBuf)> =
        [Bin::IpAddr2, Bin::Apache].into_iter().map(|b| (b.file_name(), agent_binary(b))).collect();
    let agents = agents_dir(&binaries.iter().map(|(n, p)| (*n, p.as_path())).collect::<Vec<_>>()).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "death".into();
    cfg.www = true;
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    let mut lab = Lab::start(cfg).unwrap();

    lab.exec_ok(
        0,
        &format!(
            "crm configure primitive vip ocf:rha:IPaddr2 params ip={VIP} nic=eth0 cidr_netmask=24 \
             op monitor interval=5s timeout=20s"
        ),
    )
    .unwrap();
    lab.exec_ok(
        0,
        "crm configure primitive web ocf:rha:apache params configfile=/etc/apache2/apache2.conf \
         op start timeout=40s op stop timeout=60s op monitor interval=5s timeout=20s",
    )
    .unwrap();
    lab.exec_ok(0, "crm configure group g vip web").unwrap();
    lab.wait_started("web", TIMEOUT).unwrap();
    // The primitives may have started apart before the group existed: let the cluster settle.
    lab.exec_ok(0, "crm_resource --wait --timeout=120s").unwrap();
    let on = lab.where_is("web").unwrap().expect("web runs");
    assert_eq!(lab.where_is("vip").unwrap(), Some(on), "the group is together");
    wait_served_by(&lab, on);
    nothing_stale(&lab, on, "before the node's death");

    let t = Instant::now();
    lab.kill_node(on).unwrap();
    let survivor = lab.wait_moved("web", on, TIMEOUT).unwrap();
    assert_eq!(lab.where_is("vip").unwrap(), Some(survivor));
    wait_served_by(&lab, survivor);
    eprintln!(
        "timing: the group moved from {} to {} and serves in {:.1}s",
        lab.node_name(on),
        lab.node_name(survivor),
        t.elapsed().as_secs_f64()
    );

    // The dead node returns with its network state as it was: the VIP is still on its eth0.
    let t = Instant::now();
    lab.revive_node(on).unwrap();
    lab.wait_online(TIMEOUT).unwrap();
    // Settled: no action pending or in flight anywhere.
    lab.exec_ok(survivor, "crm_resource --wait --timeout=120s").unwrap();
    eprintln!(
        "timing: {} back and the cluster settled in {:.1}s",
        lab.node_name(on),
        t.elapsed().as_secs_f64()
    );
    let holder = lab.where_is("web").unwrap().expect("web runs somewhere after the node returned");
    assert_eq!(lab.where_is("vip").unwrap(), Some(holder), "the group is together");
    nothing_stale(&lab, holder, "after the node returned and the cluster settled");
    wait_served_by(&lab, holder);
    let st = lab.status().unwrap();
    for r in ["vip", "web"] {
        let rs = st.resource(r).unwrap();
        assert!(
            rs.active && !rs.failed && rs.nodes.len() == 1,
            "{r}: {rs:?}\n{}",
            lab.crm_mon().unwrap_or_default()
        );
    }
    eprintln!("after the return:\n{}", lab.crm_mon().unwrap_or_default());
    lab.teardown().unwrap();
}
