//! Cluster-IP clone mode against the real kernel (host tier): two nodes and a client on one
//! bridge, all in namespaces. The client sends to the cluster MAC (a static neighbour entry,
//! as a router would have, or learnt by ARP with `clusterip_mac_mangle`); every node sees every
//! packet and the nftables hash makes exactly one of them accept it. Pings from 32 source
//! addresses prove it: every one is answered, and the nodes' bucket counters add up to exactly
//! 32 accepted packets. Also: buckets moving, damage behind the agent's back, concurrent
//! instances, refused configurations, ocf-tester.

mod common;

use std::ffi::OsString;
use std::path::Path;

use common::{Outcome, RECURRING, preconditions, run_in};
use rha_harness::cmd::require_tools;
use rha_harness::netns::Netns;

const VIP: &str = "198.51.100.10";
const TABLE: &str = "IPaddr2_198_51_100_10";

/// What the tests of one address family use.
struct Fam {
    vip: &'static str,
    table: &'static str,
    /// nft's family keyword.
    nft: &'static str,
    /// The client's `n`th source address.
    source: fn(u32) -> String,
}

const V4: Fam = Fam { vip: VIP, table: TABLE, nft: "ip", source: |n| format!("198.51.100.{}", 100 + n) };
const V6: Fam = Fam {
    vip: "2001:db8::10",
    table: "IPaddr2_2001_db8__10",
    nft: "ip6",
    source: |n| format!("2001:db8::{:x}", 0x100 + n),
};
const MAC6: &str = "33:33:00:00:00:0a";
const MAC: &str = "03:00:00:00:00:0a";
const SOURCES: u32 = 32;

struct Node {
    ns: Netns,
    state: tempfile::TempDir,
}

struct Cluster {
    nodes: Vec<Node>,
    client: Netns,
    // Dropped last: the nodes' and client's links hang off its bridge.
    _switch: Netns,
}

/// The cluster, with the client's neighbour entry for the address set statically to the
/// cluster MAC (`static_neighbour`) or left to ARP.
fn cluster_with(tag: &str, static_neighbour: bool) -> Cluster {
    preconditions();
    require_tools(&[("nft", "nftables"), ("ping", "iputils-ping")]).unwrap();
    let switch = Netns::new(&format!("{tag}s")).unwrap();
    switch.add_bridge("br0").unwrap();
    let mut nodes = Vec::new();
    for i in 1..=2 {
        let ns = Netns::new(&format!("{tag}{i}")).unwrap();
        ns.connect_to("eth0", &switch, "br0", &format!("p{i}")).unwrap();
        ns.add_addr("eth0", &format!("198.51.100.{i}/24")).unwrap();
        ns.add_addr("eth0", &format!("2001:db8::{i}/64")).unwrap();
        ns.link_up("lo").unwrap();
        nodes.push(Node { ns, state: tempfile::tempdir().unwrap() });
    }
    let client = Netns::new(&format!("{tag}c")).unwrap();
    client.connect_to("eth0", &switch, "br0", "pc").unwrap();
    for s in 0..SOURCES {
        client.add_addr("eth0", &format!("{}/24", (V4.source)(s))).unwrap();
        client.add_addr("eth0", &format!("{}/64", (V6.source)(s))).unwrap();
    }
    if static_neighbour {
        client.ip(&["neigh", "replace", VIP, "lladdr", MAC, "dev", "eth0", "nud", "permanent"]).unwrap();
    }
    // IPv6 neighbours always need the static entry (cluster IP rewrites only ARP).
    client
        .ip(&["-6", "neigh", "replace", V6.vip, "lladdr", MAC6, "dev", "eth0", "nud", "permanent"])
        .unwrap();
    Cluster { nodes, client, _switch: switch }
}

fn cluster(tag: &str) -> Cluster {
    cluster_with(tag, true)
}

/// Clone instance `instance` of a 2-instance globally-unique clone, on `node`.
fn run(node: &Node, instance: u32, action: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
    let mut params: Vec<(String, OsString)> =
        [("ip", VIP), ("cidr_netmask", "24"), ("nic", "eth0"), ("mac", MAC)]
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
    for (k, v) in extra {
        params.retain(|(n, _)| n != k);
        params.push((k.to_string(), OsString::from(v)));
    }
    let clone = instance.to_string();
    let instance_name = format!("cip:{instance}");
    let mut all_env: Vec<(&str, &str)> = vec![
        ("OCF_RESOURCE_INSTANCE", &instance_name),
        ("OCF_RESKEY_CRM_meta_clone", &clone),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ("OCF_RESKEY_CRM_meta_clone_node_max", "2"),
        ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
    ];
    all_env.extend_from_slice(env);
    run_in(&node.ns, node.state.path(), common::ours(), action, &params, &all_env)
}

/// The plain (not cloned) address VIP on `node`, as resource `instance`.
fn run_plain(node: &Node, instance: &str, action: &str, env: &[(&str, &str)]) -> Outcome {
    let params: Vec<(String, OsString)> = [("ip", VIP), ("cidr_netmask", "24"), ("nic", "eth0")]
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    let mut all = vec![("OCF_RESOURCE_INSTANCE", instance)];
    all.extend_from_slice(env);
    run_in(&node.ns, node.state.path(), common::ours(), action, &params, &all)
}

fn expect(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o}");
}

/// Packets each bucket rule and the drop rule of `node` counted: (bucket → packets, dropped).
fn counters(node: &Node, f: &Fam) -> (Vec<(u32, u64)>, u64) {
    let out = node.ns.run(&["nft", "list", "table", f.nft, f.table]).unwrap();
    let mut buckets = Vec::new();
    let mut dropped = 0;
    for line in out.stdout.lines() {
        let packets = line
            .split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if let Some(b) = line.split("comment \"cip-node-").nth(1) {
            buckets.push((b.trim_end_matches('"').parse().unwrap(), packets));
        } else if line.contains("cip-drop") {
            dropped = packets;
        }
    }
    (buckets, dropped)
}

/// What the nodes' rules counted while `f` ran: per node, (bucket → packets, dropped).
/// (Anonymous rule counters cannot be reset by Debian 12's nft, so this takes differences.)
fn counted_during(c: &Cluster, fam: &Fam, f: impl FnOnce()) -> Vec<(Vec<(u32, u64)>, u64)> {
    let before: Vec<_> = c.nodes.iter().map(|n| counters(n, fam)).collect();
    f();
    c.nodes
        .iter()
        .zip(before)
        .map(|(n, (b0, d0))| {
            let (b1, d1) = counters(n, fam);
            let delta = b1
                .iter()
                .map(|&(k, p)| (k, p - b0.iter().find(|&&(k0, _)| k0 == k).map_or(0, |&(_, p0)| p0)))
                .collect();
            (delta, d1 - d0)
        })
        .collect()
}

/// Pings the address once from every source at the same time; returns the sources that got
/// no answer.
fn ping_from_all(c: &Cluster, f: &Fam) -> Vec<String> {
    let script = (0..SOURCES)
        .map(|s| {
            let src = (f.source)(s);
            format!("(ping -n -q -c 1 -W 3 -I {src} {} >/dev/null 2>&1 || echo {src}) &", f.vip)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let out = c.client.sh(&format!("{script}\nwait")).unwrap();
    out.stdout.lines().map(str::to_string).collect()
}

/// Nothing of the cluster IP is left on `node`: table, address, multicast group, state files.
fn assert_clean(node: &Node, what: &str) {
    let tables = node.ns.run(&["nft", "list", "tables"]).unwrap().stdout;
    assert!(!tables.contains("IPaddr2_"), "{what}: table left: {tables}");
    let addrs = node.ns.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap().stdout;
    for f in [&V4, &V6] {
        assert!(!addrs.contains(&format!(" {}/", f.vip)), "{what}: address left: {addrs}");
    }
    let maddr = node.ns.ip(&["maddr", "show", "dev", "eth0"]).unwrap().stdout;
    assert!(!maddr.contains(MAC) && !maddr.contains(MAC6), "{what}: multicast MAC left: {maddr}");
    let files = state_files(node.state.path());
    assert!(files.is_empty(), "{what}: state files left: {files:?}");
}

fn state_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("rha/IPaddr2"))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

const PROBE: Pairs = common::PROBE;

/// Parameters or environment variables.
type Pairs<'a> = &'a [(&'a str, &'a str)];

#[test]
fn each_client_is_served_by_exactly_one_node_and_buckets_move() {
    let c = cluster("cip");
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    expect(&run(n1, 0, "monitor", &[], PROBE), 7, "probe of bucket 1 on a fresh node");
    expect(&run(n2, 1, "validate-all", &[], &[]), 0, "validate-all");
    expect(&run(n1, 0, "start", &[], &[]), 0, "start bucket 1 on node 1");
    expect(&run(n2, 1, "start", &[], &[]), 0, "start bucket 2 on node 2");
    expect(&run(n1, 0, "monitor", &[], RECURRING), 0, "monitor bucket 1");
    expect(&run(n2, 1, "monitor", &[], RECURRING), 0, "monitor bucket 2");
    expect(&run(n1, 1, "monitor", &[], PROBE), 7, "probe of bucket 2 where only bucket 1 runs");

    let mut lost = Vec::new();
    let seen = counted_during(&c, &V4, || lost = ping_from_all(&c, &V4));
    assert!(lost.is_empty(), "unanswered sources: {lost:?}");
    let ((b1, d1), (b2, d2)) = (&seen[0], &seen[1]);
    assert_eq!(b1.len(), 1, "node 1 buckets: {b1:?}");
    assert_eq!(b2.len(), 1, "node 2 buckets: {b2:?}");
    let (a1, a2) = (b1[0].1, b2[0].1);
    assert_eq!(a1 + a2, u64::from(SOURCES), "each echo request accepted exactly once ({a1} + {a2})");
    assert!(a1 > 0 && a2 > 0, "both nodes take a share: {a1} / {a2}");
    assert_eq!(d1 + d2, u64::from(SOURCES), "and dropped by the other node ({d1} + {d2})");

    // Node 2 fails over its bucket to node 1 (clone-node-max=2).
    expect(&run(n2, 1, "stop", &[], &[]), 0, "stop bucket 2 on node 2");
    assert_clean(n2, "node 2 after its last bucket stopped");
    expect(&run(n1, 1, "start", &[], &[]), 0, "start bucket 2 on node 1");
    expect(&run(n1, 1, "start", &[], &[]), 0, "start bucket 2 on node 1 again (idempotent)");
    let mut lost = Vec::new();
    let seen = counted_during(&c, &V4, || lost = ping_from_all(&c, &V4));
    assert!(lost.is_empty(), "unanswered sources with both buckets on node 1: {lost:?}");
    let b1 = &seen[0].0;
    assert_eq!(b1.iter().map(|b| b.1).sum::<u64>(), u64::from(SOURCES), "node 1 takes everything: {b1:?}");

    // One bucket leaves: the address stays for the other.
    expect(&run(n1, 0, "stop", &[], &[]), 0, "stop bucket 1 on node 1");
    expect(&run(n1, 0, "monitor", &[], RECURRING), 7, "bucket 1 after its stop");
    expect(&run(n1, 1, "monitor", &[], RECURRING), 0, "bucket 2 still runs");
    assert!(common::addr_line_in(&n1.ns, VIP).is_some(), "the address stays while bucket 2 runs");
    expect(&run(n1, 0, "stop", &[], &[]), 0, "stop bucket 1 again");
    expect(&run(n1, 1, "stop", &[], &[]), 0, "stop bucket 2 on node 1");
    assert_clean(n1, "node 1 after its last bucket stopped");
    expect(&run(n1, 1, "stop", &[], &[]), 0, "stop on a clean node");
}

#[test]
fn damage_behind_the_agents_back_is_reported_and_start_repairs_it() {
    let c = cluster("cipd");
    let n1 = &c.nodes[0];
    expect(&run(n1, 0, "start", &[], &[]), 0, "start");
    let damage: &[(&str, &str, &str)] = &[
        ("table deleted", "nft delete table ip IPaddr2_198_51_100_10", "is gone"),
        (
            "drop rule deleted",
            "nft -a list chain ip IPaddr2_198_51_100_10 prerouting | sed -n 's/.*cip-drop.*# handle //p' \
             | xargs -I{} nft delete rule ip IPaddr2_198_51_100_10 prerouting handle {}",
            "drop rule",
        ),
        (
            "bucket rule deleted",
            "nft -a list chain ip IPaddr2_198_51_100_10 prerouting | sed -n 's/.*cip-node-1.*# handle //p' \
             | xargs -I{} nft delete rule ip IPaddr2_198_51_100_10 prerouting handle {}",
            "bucket 1 is missing",
        ),
        ("multicast group left", "ip maddr del 03:00:00:00:00:0a dev eth0", "does not listen"),
        ("address deleted", "ip addr del 198.51.100.10/24 dev eth0", "address is not configured"),
    ];
    for (what, script, reason) in damage {
        n1.ns.sh_ok(script).unwrap();
        let m = run(n1, 0, "monitor", &[], RECURRING);
        expect(&m, 1, what);
        assert!(m.why().contains(reason), "{what}: reason lacks {reason:?}: {m}");
        expect(&run(n1, 0, "start", &[], &[]), 0, &format!("start after {what}"));
        expect(&run(n1, 0, "monitor", &[], RECURRING), 0, &format!("monitor after repairing {what}"));
    }
    expect(&run(n1, 0, "stop", &[], &[]), 0, "stop");
    assert_clean(n1, "after stop");
}

/// Pacemaker does not restart running instances when clone-max changes: buckets written for
/// `mod 2` would stay beside new ones hashing `mod 3` (some clients accepted twice, some never)
/// with every rule's comment in place. Monitor reads the rules' expressions and says so; start
/// rewrites the table for the new clone-max, keeping its buckets.
#[test]
fn a_changed_clone_max_is_reported_and_start_rewrites_every_bucket() {
    let c = cluster("cipm");
    let n1 = &c.nodes[0];
    let three = &[("OCF_RESKEY_CRM_meta_clone_max", "3"), ("OCF_RESKEY_CRM_meta_clone_node_max", "3")];
    expect(&run(n1, 0, "start", &[], &[]), 0, "start bucket 1 of 2");
    expect(&run(n1, 1, "start", &[], &[]), 0, "start bucket 2 of 2");
    let table = |ns: &Netns| ns.sh_ok(&format!("nft list table ip {TABLE}")).unwrap().stdout;
    assert_eq!(table(&n1.ns).matches("mod 2").count(), 2, "{}", table(&n1.ns));
    let m = run(n1, 0, "monitor", &[], &[RECURRING, three].concat());
    expect(&m, 1, "monitor of bucket 1 once clone-max is 3");
    assert!(m.why().contains("into 2 buckets, this clone has 3"), "{m}");
    expect(&run(n1, 0, "start", &[], three), 0, "start bucket 1 of 3");
    let t = table(&n1.ns);
    assert_eq!(
        (t.matches("mod 3").count(), t.matches("mod 2").count()),
        (2, 0),
        "both buckets rewritten: {t}"
    );
    expect(&run(n1, 0, "monitor", &[], &[RECURRING, three].concat()), 0, "bucket 1 of 3");
    expect(&run(n1, 1, "monitor", &[], &[RECURRING, three].concat()), 0, "bucket 2 of 3");
    expect(&run(n1, 0, "stop", &[], three), 0, "stop bucket 1");
    expect(&run(n1, 1, "stop", &[], three), 0, "stop bucket 2");
    assert_clean(n1, "after stop");
}

#[test]
fn two_instances_starting_and_stopping_at_once_share_one_table() {
    let c = cluster("cipr");
    let n1 = &c.nodes[0];
    for round in 0..3 {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(n1, 0, "start", &[], &[]));
            let b = s.spawn(|| run(n1, 1, "start", &[], &[]));
            (a.join().unwrap(), b.join().unwrap())
        });
        expect(&a, 0, &format!("round {round}: start bucket 1"));
        expect(&b, 0, &format!("round {round}: start bucket 2"));
        let (buckets, _) = counters(n1, &V4);
        assert_eq!(buckets.len(), 2, "round {round}: {buckets:?}");
        let rules = n1.ns.run(&["nft", "list", "table", "ip", TABLE]).unwrap().stdout;
        assert_eq!(rules.matches("cip-drop").count(), 1, "round {round}: one drop rule\n{rules}");
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(n1, 0, "stop", &[], &[]));
            let b = s.spawn(|| run(n1, 1, "stop", &[], &[]));
            (a.join().unwrap(), b.join().unwrap())
        });
        expect(&a, 0, &format!("round {round}: stop bucket 1"));
        expect(&b, 0, &format!("round {round}: stop bucket 2"));
        assert_clean(n1, &format!("round {round}: after both stopped"));
    }
}

#[test]
fn configurations_cluster_ip_cannot_serve_are_refused() {
    let c = cluster("cipv");
    let n1 = &c.nodes[0];
    let cases: &[(&str, Pairs, Pairs, &str)] = &[
        ("anonymous clone", &[], &[("OCF_RESKEY_CRM_meta_globally_unique", "false")], "globally-unique=true"),
        (
            "IPv6 with ARP rewriting",
            &[
                ("ip", "2001:db8::10"),
                ("cidr_netmask", "64"),
                ("mac", MAC6),
                ("clusterip_mac_mangle", "true"),
            ],
            &[],
            "IPv4 only",
        ),
        ("unicast mac", &[("mac", "02:00:00:00:00:0a")], &[], "not a multicast MAC"),
        ("bad mac", &[("mac", "03:00:00:00:0a")], &[], "not a MAC address"),
        ("bad seed", &[("clusterip_hash_seed", "0xfffffffff")], &[], "not a 32-bit number"),
        ("bad backend", &[("clusterip_firewall", "ipfw")], &[], "not auto, nft or iptables"),
        ("bad ARP mangling flag", &[("clusterip_mac_mangle", "maybe")], &[], "clusterip_mac_mangle"),
        ("LVS", &[("lvs_support", "true")], &[], "lvs_support"),
    ];
    for (what, params, env, reason) in cases {
        let s = run(n1, 0, "start", params, env);
        expect(&s, 6, what);
        assert!(s.why().contains(reason), "{what}: reason lacks {reason:?}: {s}");
        let mut probe_env = env.to_vec();
        probe_env.extend_from_slice(PROBE);
        expect(&run(n1, 0, "monitor", params, &probe_env), 7, &format!("{what}: probe"));
        expect(&run(n1, 0, "stop", params, env), 0, &format!("{what}: stop"));
        assert_clean(n1, what);
    }
    // iptables is accepted: the same rules, programmed with nftables.
    let s = run(n1, 0, "start", &[("clusterip_firewall", "iptables")], &[]);
    expect(&s, 0, "clusterip_firewall=iptables");
    assert!(s.stderr.contains("programs cluster IP with nftables"), "{s}");
    expect(&run(n1, 0, "stop", &[], &[]), 0, "stop");
    assert_clean(n1, "after iptables-flavoured start");
}

#[test]
fn with_mac_mangle_clients_learn_the_cluster_mac_by_arp() {
    let c = cluster_with("cipm", false);
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    let mangle = [("clusterip_mac_mangle", "true")];
    expect(&run(n1, 0, "start", &mangle, &[]), 0, "start bucket 1 on node 1");
    expect(&run(n2, 1, "start", &mangle, &[]), 0, "start bucket 2 on node 2");
    let lost = ping_from_all(&c, &V4);
    assert!(lost.is_empty(), "unanswered sources: {lost:?}");
    let neigh = c.client.ip(&["neigh", "show", VIP]).unwrap().stdout;
    assert!(neigh.contains(MAC), "the client learnt the cluster MAC by ARP: {neigh}");
    // The rewriting removed behind the agent's back: reported, and start puts it back.
    n1.ns.sh_ok("nft delete table arp IPaddr2_198_51_100_10").unwrap();
    let m = run(n1, 0, "monitor", &mangle, RECURRING);
    expect(&m, 1, "monitor without the ARP rewriting");
    assert!(m.why().contains("ARP rewriting"), "{m}");
    expect(&run(n1, 0, "start", &mangle, &[]), 0, "start repairs it");
    expect(&run(n1, 0, "monitor", &mangle, RECURRING), 0, "monitor after the repair");
    for (i, n) in [n1, n2].into_iter().enumerate() {
        expect(&run(n, i as u32, "stop", &mangle, &[]), 0, "stop");
        assert_clean(n, &format!("node {} after stop", i + 1));
    }
}

#[test]
fn ocf_tester_passes_for_a_cluster_ip_bucket() {
    let c = cluster("cipo");
    let n1 = &c.nodes[0];
    // ocf-tester passes every -o as OCF_RESKEY_<name>, the clone fields included.
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", n1.ns.name(), "env"])
        .arg(format!("RHA_RUN_DIR={}", n1.state.path().join("rha").display()))
        .args(["/usr/sbin/ocf-tester", "-n", "cip:1"]);
    for kv in [
        format!("ip={VIP}"),
        "cidr_netmask=24".into(),
        "nic=eth0".into(),
        format!("mac={MAC}"),
        "clusterip_mac_mangle=true".into(),
        "CRM_meta_clone=1".into(),
        "CRM_meta_clone_max=2".into(),
        "CRM_meta_clone_node_max=2".into(),
        "CRM_meta_globally_unique=true".into(),
    ] {
        cmd.arg("-o").arg(kv);
    }
    let o = cmd.arg(common::ours()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("passed all tests"),
        "ocf-tester failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_clean(n1, "after ocf-tester");
}

#[test]
fn a_primitive_wrapped_into_the_clone_leaves_the_address_to_its_buckets() {
    let c = cluster("cipw");
    let n1 = &c.nodes[0];
    let plain = |action: &str| run_plain(n1, "cip", action, &[]);
    // The address ran as a primitive; the clone's bucket starts before the orphan stops.
    expect(&plain("start"), 0, "the primitive");
    expect(&run(n1, 0, "start", &[], &[]), 0, "bucket 1 over the primitive's address");
    let s = plain("stop");
    expect(&s, 0, "the orphaned primitive's stop");
    assert!(s.stderr.contains("stays configured"), "{s}");
    expect(&run(n1, 0, "monitor", &[], RECURRING), 0, "bucket 1 keeps its address");
    expect(&run(n1, 0, "stop", &[], &[]), 0, "stop bucket 1");
    assert_clean(n1, "after both");
}

#[test]
fn a_stale_cluster_ip_table_keeps_no_plain_address() {
    // A table with a bucket rule that no instance on this node runs (left by a crash or by
    // hand): a plain stop must still remove the address, or the VIP is duplicated once it
    // starts elsewhere (issue #10 item 7).
    let c = cluster("cips");
    let n1 = &c.nodes[0];
    let plain = |action: &str| run_plain(n1, "vip", action, &[]);
    expect(&plain("start"), 0, "the primitive");
    n1.ns
        .sh_ok(&format!(
            "nft add table ip {TABLE} && \
             nft add chain ip {TABLE} prerouting '{{ type filter hook prerouting priority -150; policy accept; }}' && \
             nft add rule ip {TABLE} prerouting ip daddr {VIP} counter accept comment cip-node-1"
        ))
        .unwrap();
    let s = plain("stop");
    expect(&s, 0, "plain stop beside a stale table");
    assert!(!s.stderr.contains("stays configured"), "{s}");
    let addrs = n1.ns.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap().stdout;
    assert!(!addrs.contains(&format!(" {VIP}/")), "the VIP was left behind: {addrs}");
    n1.ns.run(&["nft", "delete", "table", "ip", TABLE]).unwrap();
}

#[test]
fn a_plain_stop_waits_for_a_held_cluster_ip_lock_only_within_its_timeout() {
    // Another process holds the address's cluster-IP lock (a bucket's start that hangs): the
    // plain stop waits for it at most half of its timeout and still removes the address in
    // time (issue #10 item 8).
    let c = cluster("cipl");
    let n1 = &c.nodes[0];
    let plain = |action: &str, env: &[(&str, &str)]| run_plain(n1, "vip", action, env);
    expect(&plain("start", &[]), 0, "the primitive");
    let dir = n1.state.path().join("rha/IPaddr2");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join(format!("{TABLE}.cip.lock"));
    let mut holder =
        std::process::Command::new("flock").arg("-x").arg(&lock).args(["sleep", "30"]).spawn().unwrap();
    // Until the holder has it.
    let t = std::time::Instant::now();
    while std::process::Command::new("flock")
        .args(["-n", "-x"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "flock did not take the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let s = plain("stop", &[("OCF_RESKEY_CRM_meta_timeout", "4000")]);
    let _ = holder.kill();
    let _ = holder.wait();
    let _ = std::fs::remove_file(&lock);
    expect(&s, 0, "plain stop with the lock held elsewhere");
    assert!(s.elapsed < std::time::Duration::from_millis(3600), "stop overran its timeout: {s}");
    let addrs = n1.ns.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap().stdout;
    assert!(!addrs.contains(&format!(" {VIP}/")), "the VIP was left behind: {addrs}");
}

#[test]
fn ipv6_cluster_ip_serves_each_client_from_exactly_one_node() {
    let c = cluster("cip6");
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    let v6 = [("ip", V6.vip), ("cidr_netmask", "64"), ("mac", MAC6)];
    expect(&run(n1, 0, "monitor", &v6, PROBE), 7, "probe");
    expect(&run(n1, 0, "start", &v6, &[]), 0, "start bucket 1 on node 1");
    expect(&run(n2, 1, "start", &v6, &[]), 0, "start bucket 2 on node 2 (no DAD between the nodes)");
    for (i, n) in [n1, n2].into_iter().enumerate() {
        expect(&run(n, i as u32, "monitor", &v6, RECURRING), 0, "monitor");
    }
    let mut lost = Vec::new();
    let seen = counted_during(&c, &V6, || lost = ping_from_all(&c, &V6));
    assert!(lost.is_empty(), "unanswered IPv6 sources: {lost:?}");
    // Besides each echo request, the client's Neighbour Advertisement answering the node's
    // solicitation (sent from the address) goes to the cluster MAC too: both nodes see every
    // packet, and each is accepted by exactly one and dropped by the other.
    let accepted: Vec<u64> = seen.iter().map(|(b, _)| b.iter().map(|x| x.1).sum()).collect();
    let dropped: u64 = seen.iter().map(|(_, d)| d).sum();
    assert_eq!(accepted.iter().sum::<u64>(), dropped, "each packet accepted once, dropped once: {seen:?}");
    assert!(dropped >= u64::from(SOURCES), "every echo request counted: {seen:?}");
    assert!(accepted.iter().all(|&a| a > 0), "both nodes take a share: {seen:?}");
    for (i, n) in [n1, n2].into_iter().enumerate() {
        expect(&run(n, i as u32, "stop", &v6, &[]), 0, "stop");
        assert_clean(n, &format!("node {} after stop", i + 1));
    }
}
