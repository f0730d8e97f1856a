//! Lab tier: cluster IP through Pacemaker. A real 2-node cluster runs ocf:rha:IPaddr2 as a
//! globally-unique clone (clone-max=2, clone-node-max=2, clusterip_mac_mangle=true), configured
//! with crmsh as an administrator would. Each node takes one bucket; the client learns the
//! cluster MAC by ARP and, sending from 16 source addresses, gets every ping answered; when a node dies its bucket moves to
//! the survivor and every source is answered again.

use std::path::Path;
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS, agents_dir};

const TIMEOUT: Duration = Duration::from_secs(120);
const VIP: &str = "198.51.100.210";
const MAC: &str = "03:00:00:00:00:0c";
const SOURCES: u32 = 16;

/// Pings the address from every source at once; the sources that got no answer.
fn unanswered(lab: &Lab) -> Vec<String> {
    let script = (0..SOURCES)
        .map(|s| {
            let src = format!("198.51.100.{}", 150 + s);
            format!("(ping -n -q -c 1 -W 3 -I {src} {VIP} >/dev/null 2>&1 || echo {src}) &")
        })
        .collect::<Vec<_>>()
        .join("\n");
    lab.client_exec(&format!("{script}\nwait")).unwrap().stdout.lines().map(str::to_string).collect()
}

/// The buckets node `i` programs (the comments of its cluster-IP table).
fn buckets_on(lab: &Lab, i: usize) -> Vec<String> {
    let out = lab.exec(i, "nft list table ip IPaddr2_198_51_100_210").map(|o| o.stdout).unwrap_or_default();
    let mut b: Vec<String> =
        out.split("comment \"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect();
    b.retain(|c| c.starts_with("cip-node-"));
    b.sort();
    b
}

#[test]
fn cloned_cluster_ip_shares_clients_and_a_dead_nodes_bucket_moves() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("ping", "iputils-ping"), ("nft", "nftables")]).unwrap();

    let agents = agents_dir(&[("IPaddr2", Path::new(env!("CARGO_BIN_EXE_IPaddr2")))]).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "cip".into();
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    let mut lab = Lab::start(cfg).unwrap();

    // The client stands for the router, with many sources so both buckets get clients.
    for s in 0..SOURCES {
        lab.client_exec_ok(&format!("ip addr add 198.51.100.{}/24 dev eth0", 150 + s)).unwrap();
    }

    // One transaction: created as a primitive first, the address would start as a plain one
    // and its stop (as an orphan) would race the clone's start.
    lab.exec_ok(
        0,
        &format!(
            "crm configure load update - <<'EOF'\n\
             primitive cip ocf:rha:IPaddr2 params ip={VIP} cidr_netmask=24 nic=eth0 mac={MAC} \
             clusterip_mac_mangle=true op monitor interval=5s timeout=20s\n\
             clone cip-clone cip meta globally-unique=true clone-max=2 clone-node-max=2\n\
             EOF"
        ),
    )
    .unwrap();
    let a = lab.wait_started("cip:0", TIMEOUT).unwrap();
    let b = lab.wait_started("cip:1", TIMEOUT).unwrap();
    assert_ne!(a, b, "Pacemaker spreads the two buckets over the two nodes:\n{}", lab.crm_mon().unwrap());
    assert_eq!(buckets_on(&lab, a), ["cip-node-1"]);
    assert_eq!(buckets_on(&lab, b), ["cip-node-2"]);
    wait_for("every source answered", Duration::from_secs(20), Duration::from_millis(500), || {
        Ok(unanswered(&lab).is_empty().then_some(()))
    })
    .unwrap();
    let neigh = lab.client_exec_ok(&format!("ip neigh show {VIP}")).unwrap().stdout;
    assert!(neigh.contains(MAC), "the client learnt the cluster MAC by ARP: {neigh}");

    let t = Instant::now();
    lab.kill_node(b).unwrap();
    assert_eq!(lab.wait_moved("cip:1", b, TIMEOUT).unwrap(), a);
    eprintln!("timing: bucket 2 moved to {} in {:.1}s", lab.node_name(a), t.elapsed().as_secs_f64());
    assert_eq!(buckets_on(&lab, a), ["cip-node-1", "cip-node-2"]);
    let lost = unanswered(&lab);
    assert!(lost.is_empty(), "sources unanswered after the failover: {lost:?}\n{}", lab.crm_mon().unwrap());
    lab.teardown().unwrap();
}
