//! Host tier: the OCF contract of ocf:rha:ipvs-service that holds on any kernel, with or
//! without IPVS (this build machine's has none; Debian's stock kernel can load ip_vs, and the
//! VM tier runs this file there too): meta-data, usage, validate-all at level 0, stop and
//! probe with DNS down. Every agent run is in a network namespace of its own, so nothing
//! touches the machine's IPVS table. What a node WITHOUT IPVS must answer is tested in
//! vm_no_ipvs.rs, where the VM takes ip_vs away. Needs root, libxml2-utils and
//! resource-agents (the DTD).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Instance, agent_path, expect, instance, nat, test_ns};

fn require(path: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: run tests/install-deps (this test never skips)");
}

fn xmllint(args: &[&str], xml: &[u8], cwd: &str) -> std::process::Output {
    let mut child = Command::new("xmllint")
        .args(args)
        .arg("-")
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xmllint (libxml2-utils)");
    child.stdin.take().unwrap().write_all(xml).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn meta_data_is_valid_in_both_dialects() {
    require("/usr/share/resource-agents/ra-api-1.dtd");
    let dir = tempfile::tempdir().unwrap();
    let i = Instance::new("md", dir.path());
    let v10 = i.run("meta-data");
    expect(&v10, 0, "meta-data");
    let o = xmllint(&["--noout", "--valid"], v10.stdout.as_bytes(), "/usr/share/resource-agents");
    assert!(o.status.success(), "1.0 meta-data fails ra-api-1.dtd: {}", String::from_utf8_lossy(&o.stderr));
    for needle in [
        "<resource-agent name=\"ipvs-service\"",
        "<parameter name=\"reals\"",
        "<parameter name=\"rules_file\"",
        "<parameter name=\"sync_daemon\"",
        "ADDRESS[:PORT] [METHOD] [WEIGHT] [x=UPPER] [y=LOWER]",
        "depth=\"10\"",
    ] {
        assert!(v10.stdout.contains(needle), "meta-data lacks {needle}:\n{}", v10.stdout);
    }
    if Path::new("/usr/share/pcs/data/ocf-1.0.rng").exists() {
        let o =
            xmllint(&["--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.0.rng"], v10.stdout.as_bytes(), "/");
        assert!(
            o.status.success(),
            "1.0 meta-data fails pcs's schema: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let v11 = i.run_with("meta-data", &[("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "1")]);
    expect(&v11, 0, "meta-data 1.1");
    assert!(v11.stdout.contains("<version>1.1</version>"));
    assert!(v11.stdout.contains("unique-group=\"virtual-service\""), "{}", v11.stdout);
    assert!(v11.stdout.contains("<option value=\"both\"/>"), "{}", v11.stdout);
    if Path::new("/usr/share/pcs/data/ocf-1.1.rng").exists() {
        let o =
            xmllint(&["--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.1.rng"], v11.stdout.as_bytes(), "/");
        assert!(
            o.status.success(),
            "1.1 meta-data fails pcs's schema: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // As ocf-tester checks it: as nobody, with no environment.
    let o = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c"])
        .arg(format!("env -i {} meta-data", agent_path()))
        .output()
        .unwrap();
    assert!(o.status.success(), "meta-data as nobody: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn usage_methods_and_unknown_actions() {
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = instance("u", dir.path(), &ns);
    expect(&i.run("usage"), 0, "usage");
    let m = i.run("methods");
    for a in ["start", "stop", "monitor", "status", "validate-all", "meta-data"] {
        assert!(m.stdout.lines().any(|l| l == a), "methods lacks {a}: {m}");
    }
    expect(&i.run("notify"), 3, "notify is not advertised");
    expect(&i.run("promote"), 3, "promote is not advertised");
    expect(&i.run("reload"), 3, "reload is not advertised");
}

#[test]
fn validate_all_level_0_checks_the_configuration_only() {
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns);
    let o = i.run("validate-all");
    expect(&o, 0, "validate-all of a valid NAT service");
    // NAT on a node that does not forward: a warning, not a failure.
    let fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    if fwd.trim() == "0" {
        assert!(o.stderr.contains("WARNING:") && o.stderr.contains("ip_forward"), "{o}");
    }
    for (param, value, needle) in [
        ("scheduler", "fastest", "not an IPVS scheduler"),
        ("reals", "203.0.113.2:80 masq 65536", "out of range"),
        ("reals", "203.0.113.2:80 masq x=5 y=9", "above the upper threshold"),
        ("persistent", "99999999", "out of range"),
        ("virtual", "198.51.100.10:65536", "out of range"),
        ("virtual", "198.51.100.10", "port 0 must be persistent"),
    ] {
        let o = nat(dir.path(), &ns).param(param, value).run("validate-all");
        expect(&o, 6, &format!("{param}={value}"));
        assert!(o.why().contains(needle), "{param}={value}: {o}");
    }
}

#[test]
fn with_dns_down_stop_and_probe_finish_within_their_timeout() {
    // Issue #10 item 2: a name in `reals` made every action block in getaddrinfo (10 s with
    // this resolv.conf), stop included: a stop past its timeout gets the node fenced.
    // Holds on any kernel: nothing is started.
    let dns = rha_harness::dns_down::DnsDown::new("dnsdown").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns)
        .netns(dns.client.name())
        .param("reals", "web1.cluster.invalid:80 masq 3; 203.0.113.3:80 masq 1");
    let limit = [("OCF_RESKEY_CRM_meta_timeout", "4000")];
    let s = i.run_with("stop", &limit);
    expect(&s, 0, "stop with DNS down");
    assert!(s.elapsed < std::time::Duration::from_millis(3600), "stop overran its timeout: {s}");
    let p = i.run_with(
        "monitor",
        &[("OCF_RESKEY_CRM_meta_timeout", "4000"), ("OCF_RESKEY_CRM_meta_interval", "0")],
    );
    expect(&p, 7, "probe with DNS down");
    assert!(p.elapsed < std::time::Duration::from_millis(3600), "probe overran its timeout: {p}");
}
