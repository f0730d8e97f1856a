//! Host tier: what each parameter does to the kernel state, read back with `ip`: flags,
//! lifetimes, broadcast forms, detection with `proto`, loopback addresses, address labels,
//! IPv6 DAD failure, monitor refresh announcements, `network_namespace`, clone refusal.
//! Needs root.

mod common;

use std::time::{Duration, Instant};

use common::{Node, PROBE, RECURRING, mac_of, ours, preconditions};
use rha_harness::netns::Netns;

fn node(tag: &str) -> Node {
    preconditions();
    Node::new(tag)
}

/// The address as `ip` prints it (IPv6 in canonical form).
fn canonical(ip: &str) -> String {
    ip.parse::<std::net::IpAddr>().unwrap().to_string()
}

fn start_ok(n: &Node, p: &[(&str, &str)]) -> String {
    let o = n.run(ours(), "start", p, &[]);
    assert_eq!(o.code, 0, "start {p:?}: {o}");
    let ip = canonical(p[0].1);
    n.addr_line(&ip).unwrap_or_else(|| panic!("{ip} not configured:\n{}", n.addrs()))
}

fn stop_ok(n: &Node, p: &[(&str, &str)]) {
    let o = n.run(ours(), "stop", p, &[]);
    assert_eq!(o.code, 0, "stop {p:?}: {o}");
    let ip = canonical(p[0].1);
    assert_eq!(n.addr_line(&ip), None, "{ip} left:\n{}", n.addrs());
}

#[test]
fn ipv6_flags_lifetimes_and_address_label() {
    let n = node("pv6");
    let p = [
        ("ip", "2001:db8:0::20"),
        ("cidr_netmask", "64"),
        ("nodad", "true"),
        ("noprefixroute", "true"),
        ("preferred_lft", "0"),
        ("lvs_ipv6_addrlabel", "true"),
        ("lvs_ipv6_addrlabel_value", "77"),
    ];
    let line = start_ok(&n, &p);
    assert!(line.contains("2001:db8::20/64"), "{line}");
    assert!(line.contains("nodad") && line.contains("noprefixroute"), "{line}");
    assert!(line.contains("deprecated") && line.contains("preferred_lft 0sec"), "{line}");
    assert!(n.addrlabels().contains("prefix 2001:db8::20/128 label 77"), "{}", n.addrlabels());
    assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 0);
    stop_ok(&n, &p);
    assert!(!n.addrlabels().contains("2001:db8::20"), "{}", n.addrlabels());
    // The default is Debian 12's (false): no label unless asked for.
    let plain = [("ip", "2001:db8:0::20"), ("cidr_netmask", "64"), ("nodad", "true")];
    start_ok(&n, &plain);
    assert!(!n.addrlabels().contains("2001:db8::20"), "{}", n.addrlabels());
    stop_ok(&n, &plain);
}

#[test]
fn broadcast_forms_and_labels() {
    let n = node("pbrd");
    for (brd, want) in
        [("+", "brd 198.51.100.255"), ("-", "brd 198.51.100.0"), ("198.51.100.254", "brd 198.51.100.254")]
    {
        let p = [("ip", "198.51.100.21"), ("cidr_netmask", "24"), ("broadcast", brd)];
        let line = start_ok(&n, &p);
        assert!(line.contains(want), "broadcast={brd}: {line}");
        stop_ok(&n, &p);
    }
    // /32: no broadcast; the deprecated nic:label form sets the label.
    let p = [("ip", "198.51.100.22"), ("nic", "eth0:v22"), ("cidr_netmask", "32")];
    let line = start_ok(&n, &p);
    assert!(!line.contains("brd") && line.contains("eth0:v22") && line.contains("/32"), "{line}");
    assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 0);
    stop_ok(&n, &p);
    // The legacy netmask alias.
    let p = [("ip", "198.51.100.23"), ("netmask", "26")];
    assert!(start_ok(&n, &p).contains("198.51.100.23/26"));
    stop_ok(&n, &p);
}

#[test]
fn detection_with_proto_and_on_loopback() {
    let n = node("pdet");
    // A static route on eth1 for 203.0.113.0/24; eth0's kernel routes do not cover it.
    n.ns.add_veth("eth1", &n.peer, "eth1").unwrap();
    n.ns.link_up("eth1").unwrap();
    n.peer.link_up("eth1").unwrap();
    n.ns.ip(&["route", "add", "203.0.113.0/24", "dev", "eth1", "proto", "static"]).unwrap();
    let p = [("ip", "203.0.113.5"), ("proto", "static")];
    let line = start_ok(&n, &p);
    assert!(line.contains(" eth1 ") && line.contains("203.0.113.5/24"), "{line}");
    stop_ok(&n, &p);
    // proto kernel finds nothing for it: a clear node-local error.
    let o = n.run(ours(), "start", &[("ip", "203.0.113.5"), ("proto", "kernel")], &[]);
    assert_eq!(o.code, 5, "{o}");
    assert!(o.reason().unwrap().contains("no route"), "{o}");
    let o = n.run(ours(), "validate-all", &[("ip", "203.0.113.5"), ("proto", "kernel")], &[]);
    assert_eq!(o.code, 5, "{o}");
    // 127.0.0.0/8 comes from the local table.
    let p = [("ip", "127.0.0.2")];
    let line = start_ok(&n, &p);
    assert!(line.contains(" lo ") && line.contains("127.0.0.2/8"), "{line}");
    stop_ok(&n, &p);
}

#[test]
fn ambiguous_route_is_refused_at_start_but_monitor_works() {
    let n = node("pamb");
    n.ns.add_veth("eth1", &n.peer, "eth1").unwrap();
    n.ns.link_up("eth1").unwrap();
    n.peer.link_up("eth1").unwrap();
    n.ns.add_addr("eth1", "2001:db8::3/64").unwrap();
    let p = [("ip", "2001:db8::50"), ("nodad", "true")];
    for action in ["validate-all", "start"] {
        let o = n.run(ours(), action, &p, &[]);
        assert_eq!(o.code, 5, "{action}: {o}");
        let r = o.reason().unwrap();
        assert!(r.contains("eth0") && r.contains("eth1") && r.contains("set nic"), "{r}");
    }
    assert_eq!(n.run(ours(), "monitor", &p, PROBE).code, 7);
    let mut with_nic = p.to_vec();
    with_nic.push(("nic", "eth1"));
    start_ok(&n, &with_nic);
    assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 0, "monitor without nic finds it");
    stop_ok(&n, &p);
}

#[test]
fn an_address_this_resource_did_not_place_is_not_claimed() {
    // An LVS-DR real server keeps the VIP on lo (without lvs_support): the resource is not
    // running here, and stop must not take the real server's address away.
    let n = node("pclaim");
    n.ns.ip(&["addr", "add", "203.0.113.9/32", "dev", "lo"]).unwrap();
    let p = [("ip", "203.0.113.9")];
    assert_eq!(n.run(ours(), "monitor", &p, PROBE).code, 7);
    assert_eq!(n.run(ours(), "stop", &p, &[]).code, 0);
    assert!(n.addr_line("203.0.113.9").is_some_and(|l| l.contains(" lo ")), "{}", n.addrs());
}

#[test]
fn ipv6_duplicate_fails_start_and_removes_the_address() {
    let n = node("pdad");
    // The peer already has the address: our DAD fails.
    n.peer.add_addr("eth0", "2001:db8::60/64").unwrap();
    let p = [("ip", "2001:db8::60"), ("cidr_netmask", "64")];
    let o = n.run(ours(), "start", &p, &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.reason().unwrap().contains("collision"), "{o}");
    assert_eq!(n.addr_line("2001:db8::60"), None, "{}", n.addrs());
    assert!(!n.addrlabels().contains("2001:db8::60"));
    assert_eq!(n.run(ours(), "stop", &p, &[]).code, 0);
}

#[test]
fn status_prints_running_or_stopped() {
    let n = node("pstat");
    let p = [("ip", "198.51.100.24"), ("cidr_netmask", "24")];
    let o = n.run(ours(), "status", &p, &[]);
    assert_eq!((o.code, o.stdout.trim()), (7, "stopped"), "{o}");
    start_ok(&n, &p);
    let o = n.run(ours(), "status", &p, &[]);
    assert_eq!((o.code, o.stdout.trim()), (0, "running"), "{o}");
    stop_ok(&n, &p);
}

#[test]
fn monitor_refreshes_arp_caches_with_arp_count_refresh() {
    let n = node("prefr");
    let p = [("ip", "198.51.100.25"), ("cidr_netmask", "24"), ("arp_count_refresh", "1"), ("arp_count", "1")];
    start_ok(&n, &p);
    // The peer caches a wrong MAC for the VIP; a monitor's gratuitous ARP repairs it.
    n.peer
        .ip(&[
            "neigh",
            "replace",
            "198.51.100.25",
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "eth0",
            "nud",
            "stale",
        ])
        .unwrap();
    assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 0);
    let want = mac_of(&n.ns, "eth0");
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let out = n.peer.ip(&["neigh", "show", "198.51.100.25"]).unwrap().stdout;
        if out.contains(&want) {
            break;
        }
        assert!(Instant::now() < end, "peer still has {out}");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_ok(&n, &p);
}

#[test]
fn flush_routes_on_stop() {
    let n = node("pflush");
    let p = [("ip", "198.51.100.26"), ("cidr_netmask", "24"), ("flush_routes", "true")];
    start_ok(&n, &p);
    stop_ok(&n, &p);
}

#[test]
fn network_namespace_is_entered_by_the_agent() {
    preconditions();
    // The agent runs in one namespace and manages the address in another (never the
    // machine's own namespace).
    let outer = Netns::new("pnsout").unwrap();
    let n = Node::new("pnsin");
    let p = [("ip", "198.51.100.27"), ("cidr_netmask", "24"), ("network_namespace", n.ns.name())];
    let run = |action: &str, env: &[(&str, &str)]| {
        let params: Vec<(String, std::ffi::OsString)> =
            p.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        common::run_in(&outer, n.state.path(), ours(), action, &params, env)
    };
    assert_eq!(run("monitor", PROBE).code, 7);
    let o = run("start", &[]);
    assert_eq!(o.code, 0, "{o}");
    assert!(n.addr_line("198.51.100.27").is_some(), "{}", n.addrs());
    assert_eq!(common::addr_line_in(&outer, "198.51.100.27"), None, "added in the wrong namespace");
    assert_eq!(run("monitor", RECURRING).code, 0);
    assert_eq!(run("stop", &[]).code, 0);
    assert_eq!(n.addr_line("198.51.100.27"), None);
    // A namespace missing on this node: probe 7, start 5, stop 0.
    let missing = [("ip", "198.51.100.27"), ("network_namespace", "rha-surely-missing")];
    assert_eq!(n.run(ours(), "monitor", &missing, PROBE).code, 7);
    assert_eq!(n.run(ours(), "start", &missing, &[]).code, 5);
    assert_eq!(n.run(ours(), "stop", &missing, &[]).code, 0);
}

#[test]
fn anonymous_multi_instance_clones_are_refused_with_a_reason() {
    // Cluster-IP mode (tests/host_cluster_ip.rs) needs a globally-unique clone: each instance
    // is one hash bucket.
    let n = node("pclone");
    let p = [("ip", "198.51.100.28"), ("cidr_netmask", "24")];
    let clone = [("OCF_RESKEY_CRM_meta_clone_max", "2"), ("OCF_RESKEY_CRM_meta_clone", "0")];
    for action in ["validate-all", "start"] {
        let o = n.run(ours(), action, &p, &clone);
        assert_eq!(o.code, 6, "{action}: {o}");
        assert!(o.why().contains("globally-unique=true"), "{o}");
    }
    let probe: Vec<(&str, &str)> = clone.iter().chain(PROBE).copied().collect();
    assert_eq!(n.run(ours(), "monitor", &p, &probe).code, 7);
    assert_eq!(n.run(ours(), "stop", &p, &clone).code, 0);
    assert_eq!(n.addr_line("198.51.100.28"), None);
    // A globally-unique clone with unique_clone_address: instance 2 manages .30.
    let unique = [
        ("OCF_RESKEY_CRM_meta_clone_max", "3"),
        ("OCF_RESKEY_CRM_meta_clone", "2"),
        ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
    ];
    let pu = [("ip", "198.51.100.28"), ("cidr_netmask", "24"), ("unique_clone_address", "true")];
    let o = n.run(ours(), "start", &pu, &unique);
    assert_eq!(o.code, 0, "{o}");
    assert!(n.addr_line("198.51.100.30").is_some(), "{}", n.addrs());
    assert_eq!(n.run(ours(), "stop", &pu, &unique).code, 0);
    assert_eq!(n.addr_line("198.51.100.30"), None);
}

#[test]
fn a_lifecycle_with_path_unset_and_nothing_but_ocf_variables() {
    // As pacemaker-execd or pcs may run it (issue #10): every tool the agent needs it finds by
    // absolute path, never through the caller's PATH.
    let n = node("pnopath");
    let no_path = [("PATH", "")];
    for p in [
        vec![("ip", "198.51.100.30"), ("cidr_netmask", "24")],
        vec![("ip", "2001:db8::30"), ("cidr_netmask", "64"), ("nodad", "true")],
    ] {
        let o = n.run(ours(), "start", &p, &no_path);
        assert_eq!(o.code, 0, "start {p:?}: {o}");
        let ip = canonical(p[0].1);
        assert!(n.addr_line(&ip).is_some(), "{ip} not configured:\n{}", n.addrs());
        assert_eq!(n.run(ours(), "monitor", &p, &[("PATH", ""), RECURRING[0]]).code, 0, "monitor {p:?}");
        let o = n.run(ours(), "stop", &p, &no_path);
        assert_eq!(o.code, 0, "stop {p:?}: {o}");
        assert_eq!(n.addr_line(&ip), None, "{ip} left:\n{}", n.addrs());
    }
}
