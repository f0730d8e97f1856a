//! Host tier: this build machine's kernel has no IPVS (CONFIG_IP_VS unset, no module to
//! load), which is exactly the node a probe must answer "not running" on. Checks the OCF
//! contract of ocf:rha:ipvs-service there: meta-data, probe/monitor/start/stop/validate-all
//! without IPVS, and that odd parameter values never panic and always give a defined code
//! with a reason. Needs root, libxml2-utils and resource-agents (the DTD); never skips except
//! on a kernel that has IPVS (then the VM tier covers everything).

mod common;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Instance, Outcome, agent_path, expect};
use rha_harness::netns::Netns;

/// True when the running kernel has IPVS loaded (then these tests have nothing to say).
fn kernel_has_ipvs() -> bool {
    Path::new("/proc/net/ip_vs").exists() || Path::new("/sys/module/ip_vs").exists()
}

macro_rules! needs_no_ipvs {
    () => {
        if kernel_has_ipvs() {
            eprintln!("skipped: this kernel has IPVS; the VM tier covers the agent against it");
            return;
        }
    };
}

fn require(path: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: run tests/install-deps (this test never skips)");
}

/// Every agent run of this file happens in a network namespace of its own: on a kernel where
/// ip_vs can be loaded (Debian's stock kernel), a start with a valid `virtual` would otherwise
/// program the machine's own IPVS table (issue #10).
fn test_ns() -> Netns {
    Netns::new("ipvshost").expect("creating a network namespace (run as root)")
}

fn instance(name: &str, dir: &Path, ns: &Netns) -> Instance {
    Instance::new(name, dir).netns(ns.name())
}

fn nat(dir: &Path, ns: &Netns) -> Instance {
    instance("web", dir, ns)
        .param("virtual", "198.51.100.10:80")
        .param("scheduler", "wrr")
        .param("reals", "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1")
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
fn probe_on_a_node_without_ipvs_is_not_running() {
    needs_no_ipvs!();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns);
    // Pacemaker's probe: interval 0, and ocf-tester's: no interval at all.
    expect(&i.probe(), 7, "probe");
    expect(&i.run("monitor"), 7, "monitor without an interval is a probe");
    expect(&i.run("status"), 7, "status");
    // Even at check level 10, and even for a configuration unusable here.
    expect(&i.run_with("monitor", &[("OCF_CHECK_LEVEL", "10")]), 7, "probe at level 10");
    let bad = nat(dir.path(), &ns).param("reals", "nowhere.invalid masq");
    expect(&bad.probe(), 7, "probe with a host name that does not resolve");
    let missing = instance("f", dir.path(), &ns).param("rules_file", "/nonexistent/ipvs.rules");
    expect(&missing.probe(), 7, "probe with a missing rules file");
    assert!(!dir.path().join("ipvs-service").join("web.state").exists(), "a probe records nothing");
}

#[test]
fn recurring_monitor_without_ipvs_is_not_running_with_a_reason() {
    needs_no_ipvs!();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let o = nat(dir.path(), &ns).monitor();
    expect(&o, 7, "recurring monitor");
    let why = o.why();
    assert!(why.contains("TCP 198.51.100.10:80") && why.contains("IPVS is not loaded"), "{o}");
}

#[test]
fn start_without_ipvs_is_not_installed_with_a_reason() {
    needs_no_ipvs!();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns);
    let o = i.start();
    expect(&o, 5, "start on a kernel without IPVS");
    let why = o.why();
    assert!(why.contains("IPVS is not available in this kernel"), "{o}");
    assert!(why.contains("modprobe"), "the reason says that loading ip_vs was tried: {o}");
    assert!(i.record().is_none(), "nothing recorded when nothing was done");
    expect(&i.stop(), 0, "stop after a failed start");
    expect(&i.stop(), 0, "stop again");
}

#[test]
fn stop_without_ipvs_succeeds_and_clears_the_record() {
    needs_no_ipvs!();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns);
    let state = dir.path().join("ipvs-service");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("web.state"), "service -t 198.51.100.10:80\nowns master eth0 5\n").unwrap();
    std::fs::write(state.join("web.state.tmp4242"), "half-written").unwrap();
    expect(&i.stop(), 0, "stop");
    assert!(!state.join("web.state").exists() && !state.join("web.state.tmp4242").exists());
    // And with a configuration unusable here (rules file gone): still 0.
    let gone = instance("web", dir.path(), &ns).param("rules_file", "/nonexistent/ipvs.rules");
    expect(&gone.stop(), 0, "stop with the rules file gone");
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
fn validate_all_level_10_says_the_kernel_lacks_ipvs() {
    needs_no_ipvs!();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let o = nat(dir.path(), &ns).run_with("validate-all", &[("OCF_CHECK_LEVEL", "10")]);
    expect(&o, 5, "validate-all at level 10 on a kernel without IPVS");
    assert!(o.why().contains("IPVS is not available in kernel"), "{o}");
}

/// A small xorshift generator: reproducible "random" parameter values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

fn odd_value(r: &mut Rng) -> OsString {
    const POOL: &[&str] = &[
        "",
        " ",
        "0",
        "-1",
        "4294967296",
        "18446744073709551616",
        "198.51.100.10:80",
        "[2001:db8::10]:443",
        "2001:db8::10",
        "5",
        "5 -6",
        "tcp",
        "udp",
        "fwmark",
        "wrr",
        "mh",
        "sh-port,flag-3",
        "255.255.255.0",
        "64",
        "203.0.113.2:80 masq 3; 203.0.113.3 gate",
        "203.0.113.2:80 ipip tun-type=gue",
        "-r 203.0.113.2:80 -m -w 3 -x 1 -y 2",
        ";;;",
        "[",
        "]:",
        "x=",
        "masq masq",
        "master",
        "both",
        "eth0",
        "/etc/passwd",
        "/nonexistent",
        "relative",
        "yes",
        "\u{202e}évil\u{0}",
        "a\nb",
        "'\"`$(reboot)`",
    ];
    // Environment values cannot hold NUL bytes; everything else goes.
    match r.next() % 6 {
        0 => {
            let n = (r.next() % 40) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| (r.next() % 256) as u8).filter(|b| *b != 0).collect();
            OsString::from_vec(bytes)
        }
        1 => OsString::from(format!("{}{}", r.pick(POOL), r.pick(POOL)).replace('\u{0}', "")),
        2 => OsString::from("203.0.113.9:80 masq 1; ".repeat((r.next() % 300) as usize)),
        _ => OsString::from(r.pick(POOL).replace('\u{0}', "")),
    }
}

/// Property-style: hundreds of random parameter sets through every action. The agent never
/// panics, always exits with a code the action may give, and every failure outside a probe
/// carries an `ocf-exit-reason:`.
#[test]
fn odd_parameter_values_never_panic_and_always_give_a_reason() {
    needs_no_ipvs!();
    const PARAMS: &[&str] = &[
        "virtual",
        "protocol",
        "scheduler",
        "persistent",
        "netmask",
        "pe",
        "schedflags",
        "ops",
        "reals",
        "rules_file",
        "sync_daemon",
        "sync_interface",
        "syncid",
    ];
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..250 {
        let mut i = instance(&format!("odd{round}"), dir.path(), &ns);
        for _ in 0..(1 + r.next() % 6) {
            let p = *r.pick(PARAMS);
            i = i.param(p, odd_value(&mut r));
        }
        if r.next() % 2 == 0 {
            i = i.param("virtual", "198.51.100.10:80");
        }
        let (action, extra, allowed): (&str, Vec<(&str, &str)>, &[i32]) = match r.next() % 7 {
            0 => ("start", vec![], &[2, 5, 6]),
            1 => ("stop", vec![], &[0]),
            2 => ("monitor", vec![("OCF_RESKEY_CRM_meta_interval", "0")], &[7]),
            3 => ("monitor", vec![("OCF_RESKEY_CRM_meta_interval", "10000")], &[1, 7]),
            4 => ("validate-all", vec![], &[0, 2, 5, 6]),
            5 => ("validate-all", vec![("OCF_CHECK_LEVEL", "10")], &[0, 2, 5, 6]),
            _ => ("status", vec![("OCF_RESKEY_CRM_meta_interval", "10000")], &[1, 7]),
        };
        let o: Outcome = i.run_with(action, &extra);
        let ctx = format!("round {round}: {action} {extra:?} with {:?}", i.params);
        assert!(!o.stderr.contains("internal error") && !o.stderr.contains("panicked"), "{ctx}: {o}");
        assert!(allowed.contains(&o.code), "{ctx}: code {} not in {allowed:?}: {o}", o.code);
        let probe = extra.iter().any(|(k, v)| *k == "OCF_RESKEY_CRM_meta_interval" && *v == "0");
        if o.code != 0 && !probe {
            let reasons: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("ocf-exit-reason:")).collect();
            assert_eq!(reasons.len(), 1, "{ctx}: one exit reason expected: {o}");
            assert!(reasons[0].len() > "ocf-exit-reason:".len() + 5, "{ctx}: empty reason: {o}");
        }
        assert!(i.record().is_none(), "{ctx}: nothing may be recorded without IPVS");
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
