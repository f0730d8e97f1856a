//! VM tier: the fault matrix for ocf:rha:ldirectord and its daemon rha-ldirectord (issue 12),
//! on real IPVS, each case in a sandbox (own network namespace, private /run):
//! - the lifecycle, with another virtual service in the same table that must survive it;
//! - the daemon SIGKILLed behind the agent's back: monitor 1 with a reason, Pacemaker's
//!   stop + start recovers, the table is exactly as before after stop;
//! - SIGKILL of the agent's process group at random points of start (the daemon survives
//!   such a kill: it has left the group), then stop leaves nothing;
//! - SIGKILL of the daemon while it applies a reload (a config edit from 50 to 600 reals): stop
//!   leaves nothing, the next start runs the new file;
//! - hostile configuration files: validate-all and start give 6 naming file:line (or the file)
//!   and program nothing; hostile parameter values (a sample) never panic.
//!
//! Reals use `checktype=on` where the case is about the daemon's life, not its checks: every
//! real is programmed at once and nothing depends on a server's timing under TCG.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rha_harness::cmd::{self, require_root, require_tools};
use rha_integration::invariants::{files_under, ipvs_baseline, no_leftover_namespaces, no_processes};
use rha_integration::matrix::{self, Breakage, Failure, HostileOptions, KillPlan, Recovery, Results};
use rha_integration::{AgentUnderTest, Bin, Invariants, Rng, Sandbox, agent_binary};

const VIP: &str = "198.51.100.30";

fn setup() {
    rha_harness::vm::assert_in_guest();
    require_root().unwrap();
    require_tools(&[
        ("ip", "iproute2"),
        ("ipvsadm", "ipvsadm"),
        ("modprobe", "kmod"),
        ("nsenter", "util-linux"),
    ])
    .unwrap();
    for m in ["ip_vs", "ip_vs_rr", "ip_vs_wrr"] {
        cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
    }
}

fn sandbox(tag: &str) -> Sandbox {
    setup();
    Sandbox::new(tag).unwrap()
}

/// An ldirectord.cf with `reals` masq reals under one virtual, every real up (`checktype=on`).
fn cf_text(reals: usize) -> String {
    let mut s = format!(
        "checktimeout=2\ncheckinterval=1\nquiescent=no\nautoreload=no\n\nvirtual={VIP}:80\n\
         \tchecktype=on\n\tscheduler=wrr\n\tprotocol=tcp\n"
    );
    for n in 0..reals {
        s += &format!("\treal=10.{}.{}.{}:80 masq 1\n", 40 + n / 62500, (n / 250) % 250, n % 250 + 1);
    }
    s
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn agent(sb: &Sandbox, cf: &Path) -> AgentUnderTest {
    sb.agent("ldirectord", &agent_binary(Bin::Ldirectord))
        .instance("web")
        .param("configfile", cf.as_os_str())
        .param("ldirectord", agent_binary(Bin::LdirectordDaemon).as_os_str())
}

/// The table as before (another service included), no process but the holder, no file of the
/// daemon or agent under /run (pid file, status, ownership), no leftover namespace.
fn invariants(sb: &Sandbox) -> Invariants {
    let run = sb.inside("/run");
    Invariants::new()
        .add("IPVS table as before", ipvs_baseline(sb.ns().name()))
        .add("no process left", no_processes(sb.ns().name(), vec![sb.holder_pid()]))
        .add("no ldirectord file under /run", move || {
            let left: Vec<String> =
                files_under(&run).into_iter().filter(|f| f.contains("ldirectord")).collect();
            if left.is_empty() { Ok(()) } else { Err(format!("left under /run: {left:?}")) }
        })
        .add("no leftover namespace", no_leftover_namespaces())
}

fn ipvsadm(sb: &Sandbox, args: &str) -> Result<(), String> {
    sb.sh_ok(&format!("ipvsadm {args}")).map(|_| ())
}

fn daemon_pid(sb: &Sandbox) -> Result<i32, String> {
    let p = sb.inside("/run/ldirectord.web.cf.pid");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    text.trim().parse().map_err(|e| format!("{}: {e}", p.display()))
}

fn kill9(pid: i32) -> Result<(), String> {
    // SAFETY: a signal to a pid the test read from the daemon's own pid file.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return Err(format!("kill -9 {pid}: {}", std::io::Error::last_os_error()));
    }
    let t = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn fail(case: &str, detail: String) -> Failure {
    Failure { agent: "ldirectord".into(), case: case.into(), detail }
}

#[test]
fn ldirectord_lifecycle_and_the_daemon_killed_behind_its_back() {
    let sb = sandbox("ldlife");
    ipvsadm(&sb, "-A -t 198.51.100.99:443 -s rr").unwrap();
    ipvsadm(&sb, "-a -t 198.51.100.99:443 -r 203.0.113.50:443 -m").unwrap();
    let inv = invariants(&sb);
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sb, &write(dir.path(), "web.cf", cf_text(3).as_bytes()));
    let r = Results::new();
    r.record("ldirectord lifecycle (beside another virtual service)", matrix::lifecycle(&a, &inv, None));
    let killed =
        Breakage::new("daemon SIGKILLed", || daemon_pid(&sb).and_then(kill9), 1, Recovery::StopStart)
            .reason("not running");
    r.record("ldirectord behind the back: daemon SIGKILLed", matrix::behind_the_back(&a, &inv, &killed));
    r.finish();
}

#[test]
fn ldirectord_sigkill_during_start() {
    let sb = sandbox("ldkill");
    let inv = invariants(&sb);
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sb, &write(dir.path(), "web.cf", cf_text(300).as_bytes()));
    let mut rng = Rng::from_env_or_clock("ldirectord SIGKILL");
    let plan = KillPlan { runs: 4, budget: Duration::from_secs(90), min_runs: 3, span: None };
    let r = Results::new();
    r.record(
        "ldirectord SIGKILL during a 300-real start",
        matrix::sigkill_during_start(&a, &inv, &plan, &mut rng),
    );
    r.finish();
}

#[test]
fn ldirectord_daemon_killed_during_a_reload() {
    let sb = sandbox("ldrel");
    let inv = invariants(&sb);
    let dir = tempfile::tempdir().unwrap();
    let cf = write(dir.path(), "web.cf", cf_text(50).as_bytes());
    let a = agent(&sb, &cf);
    let daemon = agent_binary(Bin::LdirectordDaemon);
    let mut rng = Rng::from_env_or_clock("ldirectord reload kill");
    let r = Results::new();
    let mut run = || -> Result<(), Failure> {
        let mut killed_at = Vec::new();
        for round in 0..2 {
            let step = |s: &str| format!("round {round}: {s}");
            std::fs::write(&cf, cf_text(50)).unwrap();
            let o = a.start();
            matrix::expect(&o, &[0], &step("start with 50 reals")).map_err(|d| fail("reload", d))?;
            std::fs::write(&cf, cf_text(600)).unwrap();
            let pid = daemon_pid(&sb).map_err(|d| fail("reload", step(&d)))?;
            let delay = Duration::from_micros(rng.below(1_500_000));
            sb.sh_ok(&format!("{} {} reload", daemon.display(), cf.display()))
                .map_err(|d| fail("reload", step(&format!("reload: {d}"))))?;
            std::thread::sleep(delay);
            kill9(pid).map_err(|d| fail("reload", step(&d)))?;
            killed_at.push(format!("{delay:?}"));
            let m = a.run("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")]);
            matrix::expect(&m, &[1], &step("monitor after the kill")).map_err(|d| fail("reload", d))?;
            matrix::expect(&a.stop(), &[0], &step("stop")).map_err(|d| fail("reload", d))?;
            inv.check().map_err(|d| fail("reload", step(&format!("after stop: {d}"))))?;
            // The next start runs the edited file: 600 reals.
            matrix::expect(&a.start(), &[0], &step("the next start")).map_err(|d| fail("reload", d))?;
            let table = sb.sh_ok("ipvsadm -S -n").map_err(|d| fail("reload", d))?.stdout;
            let reals = table.lines().filter(|l| l.starts_with(&format!("-a -t {VIP}:80 "))).count();
            if reals != 600 {
                return Err(fail("reload", step(&format!("{reals} reals after the next start, not 600"))));
            }
            matrix::expect(&a.stop(), &[0], &step("final stop")).map_err(|d| fail("reload", d))?;
            inv.check().map_err(|d| fail("reload", step(&format!("after the final stop: {d}"))))?;
        }
        eprintln!(
            "     the daemon killed {} after its reload began (seed {})",
            killed_at.join(", "),
            rng.seed()
        );
        Ok(())
    };
    r.record("ldirectord: the daemon SIGKILLed during a reload", run());
    r.finish();
}

#[test]
fn ldirectord_hostile_configuration_files_and_parameters() {
    let sb = sandbox("ldhost");
    let inv = invariants(&sb);
    let dir = tempfile::tempdir().unwrap();
    let good = cf_text(2);
    let long = format!("{good}\treal=10.0.0.1:80 masq {}\n", "9".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, Option<usize>)> = vec![
        (
            "an unknown directive",
            format!("{good}\tfrobnicate=yes\n").into_bytes(),
            Some(good.lines().count() + 1),
        ),
        (
            "a real that is not an address",
            format!("{good}\treal=not..an..address:80 masq\n").into_bytes(),
            Some(good.lines().count() + 1),
        ),
        ("a real outside any virtual", format!("real=10.0.0.1:80 masq\n{good}").into_bytes(), Some(1)),
        (
            "a port out of range",
            good.replace(&format!("{VIP}:80"), &format!("{VIP}:99999")).into_bytes(),
            Some(6),
        ),
        ("a weight of a hundred thousand digits", long.into_bytes(), Some(good.lines().count() + 1)),
        ("binary garbage", (0u8..=255).cycle().take(4096).collect(), None),
        ("non-UTF-8 in a value", [good.as_bytes(), b"\tscheduler=\xff\xfe\n"].concat(), None),
    ];
    let r = Results::new();
    for (what, text, line) in &cases {
        let cf = write(dir.path(), "web.cf", text);
        let a = agent(&sb, &cf);
        let check = || -> Result<(), Failure> {
            for action in ["validate-all", "start"] {
                let o = a.run(action, &[]);
                matrix::contract(&o).map_err(|d| fail(what, format!("{action}: {d}\n{o}")))?;
                if o.code != 6 {
                    return Err(fail(what, format!("{action} gave {}, not 6\n{o}", o.code)));
                }
                let want = match line {
                    Some(n) => format!("{}:{n}", cf.display()),
                    None => cf.display().to_string(),
                };
                if !o.why().contains(&want) {
                    return Err(fail(what, format!("{action}'s reason does not name {want}\n{o}")));
                }
            }
            matrix::expect(&a.run("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]), &[7, 6], "probe")
                .map_err(|d| fail(what, d))?;
            matrix::expect(&a.stop(), &[0], "stop").map_err(|d| fail(what, d))?;
            inv.check().map_err(|d| fail(what, format!("after start and stop: {d}")))
        };
        r.record(&format!("ldirectord hostile config: {what}"), check());
    }
    // Hostile parameter values (a sample of the host tier's list), on both parameters.
    let cf = write(dir.path(), "web.cf", cf_text(2).as_bytes());
    let a = agent(&sb, &cf);
    let canary = PathBuf::from(format!("/tmp/rha-canary-ld-{}", std::process::id()));
    let keep = ["empty", "non-UTF-8", "$(...)", "newlines", "path traversal"];
    let values: Vec<_> =
        matrix::hostile_values(&canary).into_iter().filter(|v| keep.contains(&v.label.as_str())).collect();
    assert!(!values.is_empty(), "the sample matches no hostile value's label");
    let names: Vec<String> = ["configfile", "ldirectord"].map(String::from).to_vec();
    let opts = HostileOptions { canary, start_when_valid: false };
    r.record(
        "ldirectord hostile parameter values (sample)",
        matrix::hostile_parameter_values(&a, &inv, &names, &values, &opts),
    );
    r.finish();
}
