//! Host tier, faults: the address changed behind the agent's back, a dead link, repeated
//! operations, the agent SIGKILLed at random points during start (Pacemaker's timeout), too
//! short operation timeouts, and hostile parameter values. Needs root.

mod common;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use common::{Node, Outcome, PROBE, RECURRING, Rng, non_utf8, ours, preconditions};

fn node(tag: &str) -> Node {
    preconditions();
    Node::new(tag)
}

fn ok(o: Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {o}");
}

#[test]
fn address_deleted_behind_the_agent_is_not_running_and_start_repairs() {
    let n = node("fdel");
    let p = [("ip", "198.51.100.10"), ("cidr_netmask", "24")];
    ok(n.run(ours(), "start", &p, &[]), "start");
    n.ns.ip(&["addr", "del", "198.51.100.10/24", "dev", "eth0"]).unwrap();
    let o = n.run(ours(), "monitor", &p, RECURRING);
    assert_eq!(o.code, 7, "{o}");
    ok(n.run(ours(), "start", &p, &[]), "start repairs");
    ok(n.run(ours(), "monitor", &p, RECURRING), "monitor after repair");
    ok(n.run(ours(), "stop", &p, &[]), "stop");
    assert_eq!(n.addr_line("198.51.100.10"), None);
}

#[test]
fn label_changed_behind_the_agent_is_an_error() {
    let n = node("flbl");
    let p = [("ip", "198.51.100.10"), ("nic", "eth0"), ("cidr_netmask", "24"), ("iflabel", "vip")];
    ok(n.run(ours(), "start", &p, &[]), "start");
    assert!(n.addr_line("198.51.100.10").unwrap().contains("eth0:vip"));
    n.ns.ip(&["addr", "del", "198.51.100.10/24", "dev", "eth0"]).unwrap();
    n.ns.ip(&["addr", "add", "198.51.100.10/24", "dev", "eth0", "label", "eth0:other"]).unwrap();
    let o = n.run(ours(), "monitor", &p, RECURRING);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.reason().unwrap().contains("eth0:other"), "{o}");
    // start does not silently take over an address someone relabelled; stop removes it.
    assert_eq!(n.run(ours(), "start", &p, &[]).code, 1);
    ok(n.run(ours(), "stop", &p, &[]), "stop");
    assert_eq!(n.addr_line("198.51.100.10"), None);
}

#[test]
fn link_down_is_not_running() {
    let n = node("flnk");
    let p = [("ip", "198.51.100.10"), ("nic", "eth0"), ("cidr_netmask", "24")];
    ok(n.run(ours(), "start", &p, &[]), "start");
    n.peer.link_down("eth0").unwrap(); // carrier lost
    let o = n.run(ours(), "monitor", &p, RECURRING);
    assert_eq!(o.code, 7, "{o}");
    let r = o.reason().unwrap();
    assert!(r.contains("down") && (r.contains("DOWN") || r.contains("no carrier")), "{o}");
    assert_eq!(n.run(ours(), "monitor", &p, PROBE).code, 7);
    // check_link_status=false: the address is there, that is all that counts.
    let unchecked =
        [("ip", "198.51.100.10"), ("nic", "eth0"), ("cidr_netmask", "24"), ("check_link_status", "false")];
    ok(n.run(ours(), "monitor", &unchecked, RECURRING), "monitor without link check");
    n.peer.link_up("eth0").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while n.run(ours(), "monitor", &p, RECURRING).code != 0 {
        assert!(Instant::now() < end, "monitor did not recover after link up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Administratively down too.
    n.ns.link_down("eth0").unwrap();
    assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 7);
    let o = n.run(ours(), "start", &p, &[]);
    assert_eq!(o.code, 5, "start on a down link: {o}");
    ok(n.run(ours(), "stop", &p, &[]), "stop");
    assert_eq!(n.addr_line("198.51.100.10"), None);
}

#[test]
fn lower_layer_down_is_not_running() {
    // A macvlan on eth0: when eth0 loses its carrier, the macvlan is LOWERLAYERDOWN.
    let n = node("fll");
    n.ns.ip(&["link", "add", "mv0", "link", "eth0", "type", "macvlan", "mode", "bridge"]).unwrap();
    n.ns.link_up("mv0").unwrap();
    let p = [("ip", "198.51.100.10"), ("nic", "mv0"), ("cidr_netmask", "24")];
    ok(n.run(ours(), "start", &p, &[]), "start");
    n.peer.link_down("eth0").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let o = n.run(ours(), "monitor", &p, RECURRING);
        if o.reason().is_some_and(|r| r.contains("LOWERLAYERDOWN")) {
            assert_eq!(o.code, 7, "{o}");
            break;
        }
        assert!(Instant::now() < end, "mv0 never reported LOWERLAYERDOWN: {o}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = n.run(ours(), "start", &[("ip", "198.51.100.11"), ("nic", "mv0"), ("cidr_netmask", "24")], &[]);
    assert_eq!(o.code, 5, "{o}");
    ok(n.run(ours(), "stop", &p, &[]), "stop");
    assert_eq!(n.addr_line("198.51.100.10"), None);
}

#[test]
fn start_twice_stop_twice() {
    let n = node("ftwice");
    for p in [
        vec![("ip", "198.51.100.10"), ("cidr_netmask", "24")],
        vec![("ip", "2001:db8::10"), ("cidr_netmask", "64"), ("nodad", "true")],
    ] {
        ok(n.run(ours(), "start", &p, &[]), "start");
        ok(n.run(ours(), "start", &p, &[]), "start again");
        ok(n.run(ours(), "monitor", &p, RECURRING), "monitor");
        ok(n.run(ours(), "stop", &p, &[]), "stop");
        ok(n.run(ours(), "stop", &p, &[]), "stop again");
        assert_eq!(n.run(ours(), "monitor", &p, RECURRING).code, 7);
    }
    assert!(n.wait_no_processes(Duration::from_secs(2)).is_empty());
}

/// Start in the background, SIGKILL it after `delay`, then stop must clean up everything.
fn kill_during_start(n: &Node, params: &[(&str, &str)], delay: Duration) -> Outcome {
    let mut vars: Vec<String> = vec![
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
        format!("RHA_RUN_DIR={}", n.state.path().join("rha").display()),
        "OCF_RESOURCE_INSTANCE=vip".into(),
        "OCF_RESKEY_CRM_meta_timeout=20000".into(),
    ];
    vars.extend(params.iter().map(|(k, v)| format!("OCF_RESKEY_{k}={v}")));
    // `ip netns exec` and `env` exec the agent: the pid we kill is the agent's.
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", n.ns.name(), "env", "-i"])
        .args(&vars)
        .args([ours(), "start"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
    n.run(ours(), "stop", params, &[])
}

fn assert_nothing_left(n: &Node, ip: &str, on_lo: bool, what: &str) {
    let line = n.addr_line(ip);
    if on_lo {
        let l = line.unwrap_or_else(|| panic!("{what}: {ip} not back on lo:\n{}", n.addrs()));
        assert!(l.contains(" lo "), "{what}: {l}");
        assert_eq!(n.addrs().matches(&format!(" {ip}/")).count(), 1, "{what}:\n{}", n.addrs());
    } else {
        assert_eq!(line, None, "{what}: {ip} left:\n{}", n.addrs());
    }
    assert!(!n.addrlabels().contains(ip), "{what}: address label left:\n{}", n.addrlabels());
    assert_eq!(n.state_files(), Vec::<std::path::PathBuf>::new(), "{what}: state files left");
    // A background sender that lost its agent before being recorded exits at once.
    assert_eq!(n.wait_no_processes(Duration::from_secs(2)), Vec::<u32>::new(), "{what}: processes left");
}

#[test]
fn sigkill_at_random_points_during_start_then_stop_leaves_nothing() {
    let mut rng = Rng::from_env_or_clock();
    let budget = Instant::now() + Duration::from_secs(90);

    // IPv4 with everything that leaves state: LVS loopback copy, label, background sender.
    let n = node("fkill4");
    n.ns.ip(&["addr", "add", "198.51.100.30/32", "dev", "lo"]).unwrap();
    let p4 = [
        ("ip", "198.51.100.30"),
        ("nic", "eth0"),
        ("cidr_netmask", "24"),
        ("iflabel", "vip"),
        ("lvs_support", "true"),
        ("arp_count", "20"),
        ("arp_interval", "50"),
    ];
    // A full start here takes a few ms (more in a debug build): kill anywhere in it.
    let full = n.run(ours(), "start", &p4, &[]);
    ok(full.clone(), "reference start");
    ok(n.run(ours(), "stop", &p4, &[]), "reference stop");
    let span = (full.elapsed.as_micros() as u64 * 2).max(2_000);
    let mut runs = 0;
    for i in 0..40 {
        if Instant::now() > budget {
            break;
        }
        let delay = Duration::from_micros(rng.below(span));
        let o = kill_during_start(&n, &p4, delay);
        assert_eq!(o.code, 0, "IPv4 run {i} (killed after {delay:?}): stop {o}");
        assert_nothing_left(&n, "198.51.100.30", true, &format!("IPv4 run {i}, killed after {delay:?}"));
        runs += 1;
    }

    // IPv6 with an address label and DAD to wait for.
    let n6 = node("fkill6");
    let p6 = [("ip", "2001:db8::30"), ("cidr_netmask", "64"), ("arp_bg", "true"), ("arp_count", "10")];
    let full = n6.run(ours(), "start", &p6, &[]);
    ok(full.clone(), "reference IPv6 start");
    ok(n6.run(ours(), "stop", &p6, &[]), "reference IPv6 stop");
    let span = (full.elapsed.as_micros() as u64 + 200_000).max(2_000);
    for i in 0..12 {
        if Instant::now() > budget {
            break;
        }
        let delay = Duration::from_micros(rng.below(span));
        let o = kill_during_start(&n6, &p6, delay);
        assert_eq!(o.code, 0, "IPv6 run {i} (killed after {delay:?}): stop {o}");
        assert_nothing_left(&n6, "2001:db8::30", false, &format!("IPv6 run {i}, killed after {delay:?}"));
        runs += 1;
    }
    assert!(runs >= 20, "only {runs} kill runs fit in the time budget");
}

#[test]
fn short_timeouts_return_before_them_with_a_reason() {
    let n = node("ftmo");
    // IPv6 DAD needs about a second or two; 600 ms leaves no room.
    let p6 = [("ip", "2001:db8::40"), ("cidr_netmask", "64")];
    let o = n.run(ours(), "start", &p6, &[("OCF_RESKEY_CRM_meta_timeout", "600")]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.elapsed < Duration::from_millis(600), "took {:?}", o.elapsed);
    assert!(o.reason().is_some_and(|r| r.contains("timeout")), "{o}");
    assert_eq!(n.addr_line("2001:db8::40"), None, "a failed start leaves no address");
    assert!(!n.addrlabels().contains("2001:db8::40"));

    // ARP duplicate detection needs about a second.
    let p4 = [("ip", "198.51.100.40"), ("cidr_netmask", "24"), ("run_arping", "true")];
    let o = n.run(ours(), "start", &p4, &[("OCF_RESKEY_CRM_meta_timeout", "500")]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.elapsed < Duration::from_millis(500), "took {:?}", o.elapsed);
    assert!(o.reason().is_some_and(|r| r.contains("timeout")), "{o}");
    assert_eq!(n.addr_line("198.51.100.40"), None);

    // Foreground announcements are cut short, but the address is up: success, with a warning.
    let pf = [("ip", "198.51.100.41"), ("cidr_netmask", "24"), ("arp_bg", "false"), ("arp_count", "100")];
    let o = n.run(ours(), "start", &pf, &[("OCF_RESKEY_CRM_meta_timeout", "1000")]);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.elapsed < Duration::from_millis(1000), "took {:?}", o.elapsed);
    assert!(o.stderr.contains("WARNING"), "{o}");
    ok(n.run(ours(), "stop", &pf, &[]), "stop");
}

/// Values that break naive agents: empty, blanks, huge, non-UTF-8, shell metacharacters,
/// control characters, path tricks, numbers out of range.
fn nasty_values() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "",
        " ",
        "0",
        "-1",
        "4294967296",
        "99999999999999999999999",
        "$(touch /tmp/rha-pwned)",
        "`id`; rm -rf /nonexistent",
        "a|b&c>d<e",
        "x\ny",
        "\t",
        "'\"\\",
        "%s%n%x",
        "..",
        "/etc/passwd",
        "eth0:",
        ":",
        "+",
        "-",
        "true",
        "lo",
        "255.255.255.255",
        "2001:db8::77",
        "é☃",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push("a".repeat(100_000).into());
    v.push(non_utf8(&[0xff, 0xfe, b'x']));
    v.push(non_utf8(b"198.51.100.10\xff"));
    v
}

fn check_defined(o: &Outcome, what: &str) {
    assert!((0..=7).contains(&o.code), "{what}: undefined exit code: {o}");
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("internal error"), "{what}: panic: {o}");
    if o.code != 0 && o.code != 7 {
        assert!(o.reason().is_some_and(|r| !r.trim().is_empty()), "{what}: no ocf-exit-reason: {o}");
    }
    assert!(o.stderr.lines().filter(|l| l.starts_with("ocf-exit-reason:")).count() <= 1, "{what}: {o}");
}

#[test]
fn hostile_parameter_values_never_panic_and_give_defined_codes() {
    preconditions();
    let names: Vec<&str> = rha_ipaddr2::params::INFO.parameters.iter().map(|p| p.name).collect();
    let values = nasty_values();
    let start = Instant::now();
    // Four namespaces in parallel, each taking every fourth parameter.
    std::thread::scope(|s| {
        for t in 0..4 {
            let (names, values) = (&names, &values);
            s.spawn(move || {
                let n = Node::new(&format!("fprop{t}"));
                for name in names.iter().skip(t).step_by(4) {
                    for v in values {
                        let mut params = vec![];
                        if *name != "ip" {
                            params.push(("ip".to_string(), OsString::from("198.51.100.10")));
                        }
                        params.push((name.to_string(), v.clone()));
                        let what =
                            format!("{name}={:?}", v.to_string_lossy().chars().take(40).collect::<String>());
                        let o = n.run_os(ours(), "validate-all", &params, &[]);
                        check_defined(&o, &format!("validate-all {what}"));
                        let o = n.run_os(ours(), "monitor", &params, PROBE);
                        check_defined(&o, &format!("probe {what}"));
                        assert!(o.code == 0 || o.code == 7, "probe {what}: {o}");
                        if n.run_os(ours(), "validate-all", &params, &[]).code == 0 {
                            let o = n.run_os(ours(), "start", &params, &[]);
                            check_defined(&o, &format!("start {what}"));
                            let o = n.run_os(ours(), "monitor", &params, RECURRING);
                            check_defined(&o, &format!("monitor {what}"));
                            let o = n.run_os(ours(), "stop", &params, &[]);
                            assert_eq!(o.code, 0, "stop {what}: {o}");
                        }
                        let o = n.run_os(ours(), "stop", &params, &[]);
                        assert_eq!(o.code, 0, "stop (never started) {what}: {o}");
                    }
                }
                assert!(n.wait_no_processes(Duration::from_secs(2)).is_empty());
            });
        }
    });
    assert!(!std::path::Path::new("/tmp/rha-pwned").exists(), "a parameter value was run by a shell");
    eprintln!("{} parameters x {} values in {:?}", names.len(), values.len(), start.elapsed());
}
