//! Property: whatever the parameter values, the agent never panics and always ends with a
//! defined OCF code (0..=7); every failure other than "not running" carries an
//! `ocf-exit-reason:` line; nothing in a parameter is ever executed.
//!
//! Cases come from a fixed-seed generator over a corpus of odd values (empty, blanks, huge,
//! non-UTF-8, shell metacharacters, broken regexes and URLs, paths to odd files), so a failure
//! is reproducible from the printed case.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, Instant};

use rha_apache::params::{Config, INFO};
use support::{Agent, Sandbox, note};

const PWNED: &str = "/tmp/rha-apache-property-pwned";

fn corpus() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "",
        " ",
        "\t",
        "0",
        "-1",
        "99999999999999999999",
        "65536",
        "80",
        "yes",
        "no",
        "maybe",
        "/",
        ".",
        "..",
        "../../etc/passwd",
        "/dev/null",
        "/etc/apache2",
        "/etc/apache2/apache2.conf",
        "/etc/apache2/envvars",
        "/proc/self/status",
        "/nonexistent",
        "$(touch /tmp/rha-apache-property-pwned)",
        "`touch /tmp/rha-apache-property-pwned`",
        "; touch /tmp/rha-apache-property-pwned",
        "'",
        "\"",
        "\"unbalanced",
        "a'b\"c",
        "\\",
        "(",
        "[",
        "*",
        "?",
        ".*",
        "(?i)x{2,1}",
        "a{99999}{99999}",
        "\u{1F600}",
        "ünïcödé",
        "%00",
        "http://",
        "https://",
        "http://[::1",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:1/",
        "https://127.0.0.1:80/server-status",
        "ftp://x/",
        "/server-status",
        "-f /etc/passwd",
        "-k stop",
        "-DX -c 'PidFile /run/rha-odd.pid'",
        "-d /nonexistent",
        "line1\nline2",
        "test a\nurl /\nmatch x\nend",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(OsString::from("x".repeat(5000)));
    v.push(OsString::from_vec(vec![b'/', 0xff, 0xfe, b'x']));
    v.push(OsString::from_vec(vec![0xc3, 0x28]));
    v
}

const PARAMS: &[&str] = &[
    "configfile",
    "httpd",
    "port",
    "statusurl",
    "testregex",
    "client",
    "testurl",
    "testregex10",
    "testconffile",
    "testname",
    "options",
    "envfiles",
    "use_ipv6",
    "tls_verify",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn case(rng: &mut Rng, corpus: &[OsString]) -> Vec<(String, OsString)> {
    let mut pairs = Vec::new();
    for p in PARAMS {
        if rng.chance(35) {
            pairs.push((format!("OCF_RESKEY_{p}"), rng.pick(corpus).clone()));
        }
    }
    if rng.chance(30) {
        let v = rng.pick(&["0", "10", "20", "x", "-3", ""]);
        pairs.push(("OCF_CHECK_LEVEL".into(), OsString::from(v)));
    }
    if rng.chance(20) {
        let v = rng.pick(&["abc", "0", "-5", "1", "3000", "99999999999999999999999"]);
        pairs.push(("OCF_RESKEY_CRM_meta_timeout".into(), OsString::from(v)));
    }
    pairs
}

/// In-process, many cases: building the configuration and everything derived from it.
#[test]
fn odd_values_in_process() {
    let corpus = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let ctx = ocf_shim::Context::from_env(ocf_shim::Action::Monitor, &INFO, Instant::now());
    for _ in 0..3000 {
        let pairs = case(&mut rng, &corpus);
        let params = ocf_shim::Params::from_pairs(&INFO, pairs.clone());
        let cfg = Config::from_params(&params, &ctx);
        assert!(
            cfg.problems
                .iter()
                .all(|p| p.code == ocf_shim::OcfCode::ErrConfigured && !p.reason.contains('\n')),
            "{pairs:?}"
        );
        let inst = rha_apache::instance::Instance::resolve(&cfg, &ctx);
        let check = inst.status_check(&cfg);
        let _ = rha_apache::http_check::Url::parse(&check.url);
        let _ = rha_apache::testconf::from_config(&cfg);
    }
    assert!(!std::path::Path::new(PWNED).exists(), "a parameter was executed");
}

/// The real binary, every action, in a sandbox.
#[test]
fn odd_values_never_panic() {
    let _ = std::fs::remove_file(PWNED);
    let sb = Sandbox::new("approp");
    let corpus = corpus();
    let mut rng = Rng(0x0dd_ba11_c0ff_ee00);
    let actions =
        ["validate-all", "probe", "monitor", "status", "stop", "start", "meta-data", "notify", "bogus"];
    let mut runs = 0;
    let t = Instant::now();
    for n in 0..70 {
        let pairs = case(&mut rng, &corpus);
        for action in actions {
            let (act, interval) = match action {
                "probe" => ("monitor", "0"),
                a => (a, "10000"),
            };
            let mut c =
                sb.agent_command(Agent::Ours, act, &[], &[("OCF_RESKEY_CRM_meta_interval", interval)]);
            c.env("OCF_RESKEY_CRM_meta_timeout", "3000");
            for (k, v) in &pairs {
                c.env(k, v);
            }
            let out = c.output().unwrap();
            runs += 1;
            let code = out.status.code().unwrap_or(-1);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("case {n} {action} {pairs:?}: rc {code}\n{stderr}");
            assert!((0..=7).contains(&code), "undefined code: {what}");
            assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "panic: {what}");
            if code != 0 && code != 7 {
                assert!(stderr.contains("ocf-exit-reason:"), "no exit reason: {what}");
                let reasons = stderr.lines().filter(|l| l.contains("ocf-exit-reason:")).count();
                assert_eq!(reasons, 1, "one exit-reason line: {what}");
            }
            if action == "stop" {
                assert_ne!(code, 7, "stop never says not running: {what}");
            }
            if action == "start" && code == 0 {
                // It really started something with these values: the same values stop it.
                let mut s = sb.agent_command(Agent::Ours, "stop", &[], &[]);
                for (k, v) in &pairs {
                    s.env(k, v);
                }
                let so = s.output().unwrap();
                assert_eq!(
                    so.status.code(),
                    Some(0),
                    "stop after odd start: {what}\n{}",
                    String::from_utf8_lossy(&so.stderr)
                );
            }
        }
        // Anything left running with odd values is stopped with the stock ones.
        if !sb.apache_pids().is_empty() {
            sb.ours("stop", &[("configfile", support::STOCK_CONFIG)]).expect(0);
        }
        assert!(sb.wait_no_apache(Duration::from_secs(5)), "case {n} left apache running: {pairs:?}");
    }
    assert!(!std::path::Path::new(PWNED).exists(), "a parameter was executed");
    note(format!("{runs} agent runs in {:.1} s", t.elapsed().as_secs_f64()));
}
