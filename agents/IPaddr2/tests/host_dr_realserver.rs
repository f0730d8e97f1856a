//! Host tier: the real-server side of LVS direct routing — the VIP on `lo` /32 (scenarios S3
//! and S5). Proven both ways with a client on the same LAN asking ARP for the VIP: with the
//! kernel's defaults the real server answers (the failure S5's users saw: clients reach a
//! real server instead of the director) and our start warns, naming the interface and the
//! sysctl; with `arp_suppress=true` start sets arp_ignore/arp_announce and nobody answers,
//! while the VIP stays local (the real server still accepts the director's packets).

mod common;

use std::ffi::OsString;

use common::{preconditions, run_in};
use rha_harness::cmd::require_tools;
use rha_harness::netns::Netns;

const VIP: &str = "198.51.100.50";

fn params(extra: &[(&str, &str)]) -> Vec<(String, OsString)> {
    let mut p: Vec<(String, OsString)> = [("ip", VIP), ("cidr_netmask", "32"), ("nic", "lo")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    p.extend(extra.iter().map(|(k, v)| (k.to_string(), OsString::from(v))));
    p
}

/// Whether anybody on the LAN answers the client's ARP request for the VIP.
fn arp_answered(client: &Netns) -> bool {
    client
        .run(&["arping", "-c", "2", "-w", "3", "-I", "eth0", VIP])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn a_loopback_vip_is_answered_for_by_default_with_a_warning_and_not_with_arp_suppress() {
    preconditions();
    require_tools(&[("arping", "iputils-arping")]).unwrap();
    let switch = Netns::new("drsw").unwrap();
    switch.add_bridge("br0").unwrap();
    let real = Netns::new("drreal").unwrap();
    let client = Netns::new("drcli").unwrap();
    for (ns, addr, port) in [(&real, "198.51.100.2/24", "p1"), (&client, "198.51.100.100/24", "p2")] {
        ns.connect_to("eth0", &switch, "br0", port).unwrap();
        ns.add_addr("eth0", addr).unwrap();
        ns.link_up("lo").unwrap();
    }
    let state = tempfile::tempdir().unwrap();

    // The kernel's defaults: the real server answers ARP for its loopback VIP.
    let s = run_in(&real, state.path(), common::ours(), "start", &params(&[]), &[]);
    assert_eq!(s.code, 0, "start: {s}");
    assert!(
        s.stderr.contains("would answer ARP for it on eth0 (arp_ignore=0, arp_announce=0)")
            && s.stderr.contains("arp_suppress=true"),
        "start warns, naming the interface and the fix: {s}"
    );
    let v = run_in(&real, state.path(), common::ours(), "validate-all", &params(&[]), &[]);
    assert!(v.code == 0 && v.stderr.contains("would answer ARP"), "validate-all warns too: {v}");
    assert!(arp_answered(&client), "with the defaults the real server answers ARP for the VIP");
    assert_eq!(run_in(&real, state.path(), common::ours(), "stop", &params(&[]), &[]).code, 0);

    // arp_suppress=true: nobody answers, the VIP is still local, no warning.
    let p = params(&[("arp_suppress", "true")]);
    let s = run_in(&real, state.path(), common::ours(), "start", &p, &[]);
    assert_eq!(s.code, 0, "start with arp_suppress: {s}");
    assert!(!s.stderr.contains("would answer ARP"), "{s}");
    let sysctl = |k: &str| {
        real.sh_ok(&format!("cat /proc/sys/net/ipv4/conf/all/{k}")).unwrap().stdout.trim().to_string()
    };
    assert_eq!((sysctl("arp_ignore").as_str(), sysctl("arp_announce").as_str()), ("1", "2"));
    assert!(!arp_answered(&client), "with arp_suppress nobody answers ARP for the VIP");
    let m = run_in(
        &real,
        state.path(),
        common::ours(),
        "monitor",
        &p,
        &[("OCF_RESKEY_CRM_meta_interval", "10000")],
    );
    assert_eq!(m.code, 0, "monitor: {m}");
    assert_eq!(run_in(&real, state.path(), common::ours(), "stop", &p, &[]).code, 0);

    // arp_suppress on an address that is not on a loopback interface is a configuration error.
    let eth = [("ip", "198.51.100.60"), ("cidr_netmask", "24"), ("nic", "eth0"), ("arp_suppress", "true")]
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect::<Vec<_>>();
    let e = run_in(&real, state.path(), common::ours(), "start", &eth, &[]);
    assert_eq!(e.code, 6, "arp_suppress on eth0: {e}");
    assert!(e.why().contains("loopback"), "{e}");
    assert!(!real.sh_ok("ip -o addr").unwrap().stdout.contains("198.51.100.60"), "nothing added");
}
