//! Host tier: ocf-tester passes for ocf:rha:IPaddr2 with an IPv4 /24, an IPv4 /32 with a
//! label, an IPv6 address and lvs_support, each in its own namespace, and leaves nothing
//! behind. Needs root, Debian's resource-agents (ocf-tester) and libxml2-utils.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Node, ours, preconditions};

fn ocf_tester(node: &Node, params: &[(&str, &str)]) {
    preconditions();
    for tool in ["/usr/sbin/ocf-tester", "/usr/bin/xmllint"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run tests/install-deps (this test never skips)"
        );
    }
    let mut c = Command::new("ip");
    c.args(["netns", "exec", node.ns.name(), "env"])
        .arg(format!("RHA_RUN_DIR={}", node.state.path().join("rha").display()))
        .args(["/usr/sbin/ocf-tester", "-n", "vip"]);
    for (k, v) in params {
        c.arg("-o").arg(format!("{k}={v}"));
    }
    let o = c.arg(ours()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.contains("passed all tests"), "ocf-tester failed:\n{out}\n{err}");
}

fn assert_clean(node: &Node, ip: &str) {
    assert_eq!(node.addr_line(ip), None, "{ip} left behind:\n{}", node.addrs());
    assert!(!node.addrlabels().contains(ip), "address label left behind:\n{}", node.addrlabels());
    assert_eq!(node.state_files(), Vec::<std::path::PathBuf>::new(), "state files left behind");
    assert_eq!(
        node.wait_no_processes(std::time::Duration::from_secs(2)),
        Vec::<u32>::new(),
        "processes left behind"
    );
}

#[test]
fn ipv4_slash24_with_detected_nic() {
    let node = Node::new("otv4");
    ocf_tester(&node, &[("ip", "198.51.100.10"), ("cidr_netmask", "24")]);
    assert_clean(&node, "198.51.100.10");
}

#[test]
fn ipv4_slash32_with_iflabel() {
    let node = Node::new("otlbl");
    ocf_tester(
        &node,
        &[("ip", "198.51.100.20"), ("nic", "eth0"), ("cidr_netmask", "32"), ("iflabel", "vip")],
    );
    assert_clean(&node, "198.51.100.20");
}

#[test]
fn ipv6() {
    let node = Node::new("otv6");
    ocf_tester(&node, &[("ip", "2001:db8::10"), ("cidr_netmask", "64")]);
    assert_clean(&node, "2001:db8::10");
}

#[test]
fn lvs_support_returns_the_address_to_loopback() {
    let node = Node::new("otlvs");
    // An LVS-DR director that is also a real server: the VIP waits on lo.
    node.ns.ip(&["addr", "add", "198.51.100.30/32", "dev", "lo"]).unwrap();
    ocf_tester(
        &node,
        &[("ip", "198.51.100.30"), ("nic", "eth0"), ("cidr_netmask", "24"), ("lvs_support", "true")],
    );
    let line = node.addr_line("198.51.100.30").expect("VIP back on lo");
    assert!(line.contains(" lo ") && line.contains("198.51.100.30/32"), "{line}");
    assert!(node.state_files().is_empty(), "{:?}", node.state_files());
}
