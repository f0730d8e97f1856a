//! VM tier: ocf:rha:ipvs-service on a node whose kernel has no IPVS — exactly the node a
//! probe must call "not running" (7) and a stop "nothing to do" (0), and where start must say
//! the kernel lacks IPVS (5). Debian's stock kernel can load ip_vs, so each test takes it away
//! first (rha_harness::modules::ModulesBlocked: unloaded, and modprobe refuses it) — true by
//! construction, never by skipping. Also: odd parameter values never panic and always give a
//! defined code with a reason.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use common::{Outcome, expect, instance, nat, test_ns};
use rha_harness::modules::ModulesBlocked;

/// IPVS unloaded and unloadable for the test's lifetime.
fn no_ipvs() -> ModulesBlocked {
    let gone = ModulesBlocked::new(&["ip_vs"], &["ip_vs"])
        .expect("taking IPVS away (this test runs in the VM tier)");
    assert!(!std::path::Path::new("/proc/net/ip_vs").exists(), "IPVS is still there");
    gone
}

#[test]
fn probe_on_a_node_without_ipvs_is_not_running() {
    let _gone = no_ipvs();
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
    let _gone = no_ipvs();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let o = nat(dir.path(), &ns).monitor();
    expect(&o, 7, "recurring monitor");
    let why = o.why();
    assert!(why.contains("TCP 198.51.100.10:80") && why.contains("IPVS is not loaded"), "{o}");
}

#[test]
fn start_without_ipvs_is_not_installed_with_a_reason() {
    let _gone = no_ipvs();
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
    let _gone = no_ipvs();
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

/// validate-all at level 10 asks whether this kernel offers IPVS at all (loaded, built in, or
/// a module of it): a module refused by local policy is still offered (start then says that
/// loading failed). So the kernel without IPVS is made for the agent alone: it runs in a
/// private mount namespace whose /lib/modules is empty, with ip_vs unloaded.
#[test]
fn validate_all_level_10_says_the_kernel_lacks_ipvs() {
    let _gone = no_ipvs();
    let dir = tempfile::tempdir().unwrap();
    let ns = test_ns();
    let i = nat(dir.path(), &ns);
    let o = without_module_files(i.command("validate-all", &[("OCF_CHECK_LEVEL", "10")]));
    expect(&o, 5, "validate-all at level 10 on a kernel without IPVS");
    assert!(o.why().contains("IPVS is not available in kernel"), "{o}");
    // With the module files there, the same kernel offers IPVS.
    let o = i.run_with("validate-all", &[("OCF_CHECK_LEVEL", "10")]);
    expect(&o, 0, "validate-all at level 10 where ip_vs is a module of the kernel");
}

/// Runs `agent` (a prepared command) where /lib/modules is an empty tmpfs: to it, a kernel
/// with no modules at all.
fn without_module_files(agent: std::process::Command) -> Outcome {
    let mut c = std::process::Command::new("/usr/bin/unshare");
    c.args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg("mount -t tmpfs none /lib/modules && exec \"$@\"")
        .arg("sh")
        .arg(agent.get_program())
        .args(agent.get_args())
        .env_clear()
        .stdin(std::process::Stdio::null());
    for (k, v) in agent.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let t = std::time::Instant::now();
    let o = c.output().expect("running unshare");
    Outcome::from_output("validate-all", &o, t.elapsed())
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
    let _gone = no_ipvs();
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
    // 120 rounds: under TCG each agent run costs ~0.5 s (250 took 4 minutes).
    for round in 0..120 {
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
