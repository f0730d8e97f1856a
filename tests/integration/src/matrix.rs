//! The fault matrix: reusable checks, each run against one agent instance and ending with its
//! [`Invariants`]. Each returns `Ok` (with a small report where useful) or a [`Failure`] that
//! names the agent, the case, the step and shows the agent's whole outcome.
//!
//! Every agent run inside a check also passes [`contract`]: a defined OCF code (0..=9, never
//! a signal), no panic, at most one `ocf-exit-reason:` line, and exactly one non-empty reason
//! whenever the code is an error (anything but 0, 7 and 8).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::agent::{AgentUnderTest, Outcome};
use crate::invariants::Invariants;
use crate::rng::Rng;

/// Why a check failed.
pub struct Failure {
    pub agent: String,
    pub case: String,
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} / {}] {}", self.agent, self.case, self.detail)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

pub type CheckResult<T = ()> = Result<T, Failure>;

/// A fingerprint of what is running for an instance (e.g. httpd's main pid): a second start
/// must not change it.
pub type Identity<'a> = &'a (dyn Fn(&AgentUnderTest) -> Result<String, String> + Sync);

/// An environment change: breaks something behind the agent's back, or restores it.
pub type Action<'a> = Box<dyn Fn() -> Result<(), String> + Sync + 'a>;

struct Case<'a> {
    agent: &'a str,
    case: String,
}

impl Case<'_> {
    fn new<'a>(a: &'a AgentUnderTest, case: impl Into<String>) -> Case<'a> {
        Case { agent: &a.name, case: case.into() }
    }

    fn fail(&self, detail: impl Into<String>) -> Failure {
        Failure { agent: self.agent.to_string(), case: self.case.clone(), detail: detail.into() }
    }

    /// The outcome keeps the contract and has one of `codes`.
    fn expect(&self, o: Outcome, codes: &[i32], step: &str) -> CheckResult<Outcome> {
        expect(&o, codes, step).map_err(|e| self.fail(e))?;
        Ok(o)
    }

    fn invariants(&self, inv: &Invariants, when: &str) -> CheckResult {
        inv.check().map_err(|e| self.fail(format!("{when}: {e}")))
    }

    fn env(&self, what: &str, r: Result<(), String>) -> CheckResult {
        r.map_err(|e| self.fail(format!("{what}: {e}")))
    }
}

/// The rules every outcome follows, whatever the action (see the module documentation).
pub fn contract(o: &Outcome) -> Result<(), String> {
    if o.overran {
        return Err("did not finish within the test harness's limit".into());
    }
    if !o.defined() {
        return Err(format!("undefined exit status {} (signal {:?})", o.code, o.signal));
    }
    if o.panicked() {
        return Err("the agent panicked".into());
    }
    let reasons = o.reasons();
    if reasons.len() > 1 {
        return Err(format!("{} ocf-exit-reason lines (one expected)", reasons.len()));
    }
    if !matches!(o.code, 0 | 7 | 8) && reasons.first().is_none_or(|r| r.trim().is_empty()) {
        return Err(format!("exit code {} without an ocf-exit-reason", o.code));
    }
    Ok(())
}

/// [`contract`] and one of `codes`, with a message naming the step.
pub fn expect(o: &Outcome, codes: &[i32], step: &str) -> Result<(), String> {
    contract(o).map_err(|e| format!("{step}: {e}\n{o}"))?;
    if !codes.contains(&o.code) {
        return Err(format!("{step}: expected exit code {codes:?}, got {}\n{o}", o.code));
    }
    Ok(())
}

/// Lifecycle: a probe and a monitor on a node never set up → 7, stop of something never
/// started → 0, start twice → 0 (the same thing running: `identity`), monitor/probe/status
/// → 0, stop twice → 0 with the invariants holding after each, monitor and probe after stop
/// → 7.
pub fn lifecycle(a: &AgentUnderTest, inv: &Invariants, identity: Option<Identity>) -> CheckResult {
    let c = Case::new(a, "lifecycle");
    c.invariants(inv, "before the first action")?;
    c.expect(a.probe(), &[7], "probe on a node never set up")?;
    c.expect(a.monitor(), &[7], "recurring monitor before any start")?;
    c.expect(a.status(), &[7], "status before any start")?;
    c.expect(a.stop(), &[0], "stop of a resource never started")?;
    c.invariants(inv, "after stopping a resource never started")?;
    c.expect(a.start(), &[0], "start")?;
    let id = identity.map(|f| f(a)).transpose().map_err(|e| c.fail(format!("identity after start: {e}")))?;
    c.expect(a.start(), &[0], "start again (already running)")?;
    if let (Some(f), Some(before)) = (identity, &id) {
        let now = f(a).map_err(|e| c.fail(format!("identity after the second start: {e}")))?;
        if &now != before {
            return Err(c.fail(format!("a second start changed what runs: {before} → {now}")));
        }
    }
    c.expect(a.monitor(), &[0], "monitor of the running resource")?;
    c.expect(a.probe(), &[0], "probe of the running resource")?;
    c.expect(a.status(), &[0], "status of the running resource")?;
    c.expect(a.stop(), &[0], "stop")?;
    c.invariants(inv, "after stop")?;
    c.expect(a.stop(), &[0], "stop again (already stopped)")?;
    c.invariants(inv, "after the second stop")?;
    c.expect(a.monitor(), &[7], "monitor after stop")?;
    c.expect(a.probe(), &[7], "probe after stop")?;
    Ok(())
}

/// Lifecycle on a node where start cannot work (software missing: `start_code` 5): probe,
/// monitor and status → 7, start twice → `start_code` with a reason, stop twice → 0, and
/// nothing left.
pub fn lifecycle_where_start_fails(a: &AgentUnderTest, inv: &Invariants, start_code: i32) -> CheckResult {
    let c = Case::new(a, format!("lifecycle (start gives {start_code} here)"));
    c.invariants(inv, "before the first action")?;
    c.expect(a.probe(), &[7], "probe on a node never set up")?;
    c.expect(a.monitor(), &[7], "recurring monitor")?;
    c.expect(a.status(), &[7], "status")?;
    c.expect(a.stop(), &[0], "stop of a resource never started")?;
    c.expect(a.start(), &[start_code], "start")?;
    c.invariants(inv, "after the failed start")?;
    c.expect(a.start(), &[start_code], "start again")?;
    c.expect(a.stop(), &[0], "stop after the failed start")?;
    c.expect(a.stop(), &[0], "stop again")?;
    c.invariants(inv, "after stop")?;
    c.expect(a.monitor(), &[7], "monitor after stop")?;
    c.expect(a.probe(), &[7], "probe after stop")?;
    Ok(())
}

/// How the cluster recovers after monitor reported a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// start alone must repair (what the OCF spec asks of start: "must succeed if the resource
    /// is already running", and bring it fully up).
    Start,
    /// Pacemaker's own recovery: stop (→ 0, nothing left) then start.
    StopStart,
}

/// Something broken behind the agent's back while it runs.
pub struct Breakage<'a> {
    pub what: &'a str,
    pub break_it: Action<'a>,
    /// What a recurring monitor must say then (7: cleanly stopped; 1: partly there/broken).
    pub monitor_code: i32,
    /// A phrase the monitor's exit reason must contain.
    pub reason_contains: Option<&'a str>,
    /// What a probe must say then (default: the same as monitor).
    pub probe_code: Option<i32>,
    /// Extra environment for that monitor (e.g. a short timeout for a hung server).
    pub monitor_env: Vec<(&'a str, &'a str)>,
    /// The environment's own repair before recovery (link back up), if any.
    pub restore: Option<Action<'a>>,
    pub recovery: Recovery,
}

impl<'a> Breakage<'a> {
    pub fn new(
        what: &'a str,
        break_it: impl Fn() -> Result<(), String> + Sync + 'a,
        monitor_code: i32,
        recovery: Recovery,
    ) -> Breakage<'a> {
        Breakage {
            what,
            break_it: Box::new(break_it),
            monitor_code,
            reason_contains: None,
            probe_code: None,
            monitor_env: Vec::new(),
            restore: None,
            recovery,
        }
    }

    pub fn reason(mut self, contains: &'a str) -> Self {
        self.reason_contains = Some(contains);
        self
    }

    pub fn probe(mut self, code: i32) -> Self {
        self.probe_code = Some(code);
        self
    }

    pub fn monitor_env(mut self, env: &[(&'a str, &'a str)]) -> Self {
        self.monitor_env = env.to_vec();
        self
    }

    pub fn restore(mut self, f: impl Fn() -> Result<(), String> + Sync + 'a) -> Self {
        self.restore = Some(Box::new(f));
        self
    }
}

/// Behind the agent's back: start, break, monitor reports it (code and reason), a probe
/// agrees, recovery repairs (monitor → 0), stop leaves nothing.
pub fn behind_the_back(a: &AgentUnderTest, inv: &Invariants, b: &Breakage) -> CheckResult {
    let c = Case::new(a, format!("behind the back: {}", b.what));
    c.expect(a.start(), &[0], "start")?;
    c.expect(a.monitor(), &[0], "monitor before the breakage")?;
    c.env("breaking it", (b.break_it)())?;
    let mut env = vec![("OCF_RESKEY_CRM_meta_interval", "10000")];
    env.extend(b.monitor_env.iter().copied());
    let m = c.expect(a.run("monitor", &env), &[b.monitor_code], "monitor after the breakage")?;
    if let Some(words) = b.reason_contains
        && !m.why().contains(words)
    {
        return Err(c.fail(format!("the monitor's exit reason lacks {words:?}\n{m}")));
    }
    let mut penv = vec![("OCF_RESKEY_CRM_meta_interval", "0")];
    penv.extend(b.monitor_env.iter().copied());
    c.expect(a.run("monitor", &penv), &[b.probe_code.unwrap_or(b.monitor_code)], "probe after the breakage")?;
    if let Some(r) = &b.restore {
        c.env("restoring the environment", r())?;
    }
    if b.recovery == Recovery::StopStart {
        c.expect(a.stop(), &[0], "recovery: stop")?;
        c.invariants(inv, "after the recovery's stop")?;
    }
    c.expect(a.start(), &[0], "recovery: start")?;
    c.expect(a.monitor(), &[0], "monitor after recovery")?;
    c.expect(a.stop(), &[0], "stop")?;
    c.invariants(inv, "after stop")
}

/// How many SIGKILLs, over how long.
#[derive(Clone, Debug)]
pub struct KillPlan {
    pub runs: usize,
    /// Stop early (after at least `min_runs`) when this is spent.
    pub budget: Duration,
    pub min_runs: usize,
    /// Kill points are drawn from `0..span`; default: twice a measured full start.
    pub span: Option<Duration>,
}

impl Default for KillPlan {
    fn default() -> Self {
        KillPlan { runs: 30, budget: Duration::from_secs(60), min_runs: 10, span: None }
    }
}

#[derive(Clone, Debug, Default)]
pub struct KillReport {
    /// The action killed ("start", "stop").
    pub action: &'static str,
    pub runs: usize,
    /// Runs where the start had not finished when it was killed.
    pub killed_mid_way: usize,
    pub full_start: Duration,
}

impl fmt::Display for KillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} SIGKILLs during {} ({} before it finished; a full {} takes {:?})",
            self.runs, self.action, self.killed_mid_way, self.action, self.full_start
        )
    }
}

/// Runs `action` and SIGKILLs its process group after a random delay below `span` (as
/// Pacemaker's timeout would): the delay, whether the action had already finished, and what
/// the killed run left as its outcome.
fn kill_at_random_point(
    c: &Case<'_>,
    a: &AgentUnderTest,
    action: &str,
    span: Duration,
    rng: &mut Rng,
) -> CheckResult<(Duration, bool, Outcome)> {
    let delay = Duration::from_micros(rng.below(span.as_micros() as u64));
    let mut r = a.spawn(action, &[]).map_err(|e| c.fail(e))?;
    std::thread::sleep(delay.saturating_sub(r.started().elapsed()));
    let finished = r.finished();
    r.kill_group();
    Ok((delay, finished, r.wait()))
}

/// SIGKILL of the agent's process group at random points of start (Pacemaker's timeout), then:
/// stop → 0, nothing left, start → 0, monitor → 0, stop → 0, nothing left.
pub fn sigkill_during_start(
    a: &AgentUnderTest,
    inv: &Invariants,
    plan: &KillPlan,
    rng: &mut Rng,
) -> CheckResult<KillReport> {
    let c = Case::new(a, format!("SIGKILL during start (seed {})", rng.seed()));
    let t0 = Instant::now();
    let full = c.expect(a.start(), &[0], "reference start")?;
    c.expect(a.stop(), &[0], "reference stop")?;
    c.invariants(inv, "after the reference stop")?;
    let span = plan.span.unwrap_or(full.duration * 2).max(Duration::from_millis(3));
    let mut rep = KillReport { action: "start", full_start: full.duration, ..Default::default() };
    for i in 0..plan.runs {
        if i >= plan.min_runs && t0.elapsed() > plan.budget {
            break;
        }
        let (delay, finished, killed) = kill_at_random_point(&c, a, "start", span, rng)?;
        if !finished {
            rep.killed_mid_way += 1;
        }
        let step = |s: &str| format!("run {i}, start killed after {delay:?} ({}): {s}", killed.action);
        c.expect(a.stop(), &[0], &step("stop"))?;
        c.invariants(inv, &step("after stop"))?;
        c.expect(a.start(), &[0], &step("the next start"))?;
        c.expect(a.monitor(), &[0], &step("monitor"))?;
        c.expect(a.stop(), &[0], &step("final stop"))?;
        c.invariants(inv, &step("after the final stop"))?;
        rep.runs += 1;
    }
    if rep.runs < plan.min_runs {
        return Err(c.fail(format!("only {} runs fit in the budget", rep.runs)));
    }
    Ok(rep)
}

/// SIGKILL of the agent's process group at random points of stop (Pacemaker's stop timeout:
/// a cluster would fence the node, but a stop retried first must finish the job): start → 0,
/// stop killed, then stop → 0 and nothing left, start → 0, monitor → 0, stop → 0, nothing left.
/// `full_start` in the report is a full stop's duration here.
pub fn sigkill_during_stop(
    a: &AgentUnderTest,
    inv: &Invariants,
    plan: &KillPlan,
    rng: &mut Rng,
) -> CheckResult<KillReport> {
    let c = Case::new(a, format!("SIGKILL during stop (seed {})", rng.seed()));
    let t0 = Instant::now();
    c.expect(a.start(), &[0], "reference start")?;
    let full = c.expect(a.stop(), &[0], "reference stop")?;
    c.invariants(inv, "after the reference stop")?;
    let span = plan.span.unwrap_or(full.duration * 2).max(Duration::from_millis(3));
    let mut rep = KillReport { action: "stop", full_start: full.duration, ..Default::default() };
    for i in 0..plan.runs {
        if i >= plan.min_runs && t0.elapsed() > plan.budget {
            break;
        }
        c.expect(a.start(), &[0], &format!("run {i}: start"))?;
        let (delay, finished, killed) = kill_at_random_point(&c, a, "stop", span, rng)?;
        if !finished {
            rep.killed_mid_way += 1;
        }
        let step = |s: &str| format!("run {i}, stop killed after {delay:?} ({}): {s}", killed.action);
        c.expect(a.stop(), &[0], &step("the stop after the killed one"))?;
        c.invariants(inv, &step("after stop"))?;
        c.expect(a.monitor(), &[7], &step("monitor after stop"))?;
        c.expect(a.start(), &[0], &step("the next start"))?;
        c.expect(a.monitor(), &[0], &step("monitor"))?;
        c.expect(a.stop(), &[0], &step("final stop"))?;
        c.invariants(inv, &step("after the final stop"))?;
        rep.runs += 1;
    }
    if rep.runs < plan.min_runs {
        return Err(c.fail(format!("only {} runs fit in the budget", rep.runs)));
    }
    Ok(rep)
}

/// Runs `action` with `CRM_meta_timeout=timeout_ms`: it must return before the timeout, with one
/// of `codes` (any when empty), and with a reason when it fails (the contract).
pub fn returns_before_timeout(
    a: &AgentUnderTest,
    action: &str,
    extra: &[(&str, &str)],
    timeout_ms: u64,
    codes: &[i32],
) -> CheckResult<Outcome> {
    let c = Case::new(a, format!("deadline: {action} with a {timeout_ms} ms timeout"));
    let t = timeout_ms.to_string();
    let mut env = vec![("OCF_RESKEY_CRM_meta_timeout", t.as_str())];
    env.extend(extra.iter().copied());
    let o = a.run(action, &env);
    contract(&o).map_err(|e| c.fail(format!("{e}\n{o}")))?;
    if !codes.is_empty() && !codes.contains(&o.code) {
        return Err(c.fail(format!("expected {codes:?}, got {}\n{o}", o.code)));
    }
    if o.duration >= Duration::from_millis(timeout_ms) {
        return Err(c.fail(format!("took {:?}, not before the timeout\n{o}", o.duration)));
    }
    Ok(o)
}

/// Deadlines: every action of a lifecycle (validate-all, probe, start, monitor, status, stop)
/// with a small `CRM_meta_timeout` returns before it (with a reason when it fails); then a
/// normal stop leaves nothing.
pub fn deadlines(a: &AgentUnderTest, inv: &Invariants, timeout_ms: u64) -> CheckResult<Vec<Outcome>> {
    let c = Case::new(a, format!("deadlines ({timeout_ms} ms)"));
    let mut outs = Vec::new();
    for (action, extra) in [
        ("validate-all", vec![]),
        ("monitor", vec![("OCF_RESKEY_CRM_meta_interval", "0")]),
        ("start", vec![]),
        ("monitor", vec![("OCF_RESKEY_CRM_meta_interval", "10000")]),
        ("status", vec![("OCF_RESKEY_CRM_meta_interval", "10000")]),
        ("stop", vec![]),
    ] {
        let o = returns_before_timeout(a, action, &extra, timeout_ms, &[])?;
        if action == "stop" && o.code != 0 {
            // A failed stop means fencing: with a short timeout it must still succeed.
            return Err(c.fail(format!("stop failed\n{o}")));
        }
        outs.push(o);
    }
    c.expect(a.stop(), &[0], "stop with the normal timeout")?;
    c.invariants(inv, "after stop")?;
    Ok(outs)
}

/// Counts of monitor codes seen while racing.
#[derive(Clone, Debug, Default)]
pub struct RaceReport {
    pub rounds: usize,
    pub monitors: usize,
    pub running: usize,
    pub not_running: usize,
    pub failed: usize,
    /// The distinct exit reasons of the failed monitors.
    pub reasons: std::collections::BTreeSet<String>,
}

impl fmt::Display for RaceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rounds, {} monitors racing stop: {} running, {} not running, {} failed (with a reason)",
            self.rounds, self.monitors, self.running, self.not_running, self.failed
        )?;
        for r in self.reasons.iter().take(4) {
            write!(f, "\n       reason: {r}")?;
        }
        Ok(())
    }
}

/// Monitors run in a loop by `racers` threads while stop runs: every monitor keeps the
/// contract and says 0, 7 or 1 (with a reason); stop → 0; nothing left; monitor → 7.
pub fn monitor_races_stop(
    a: &AgentUnderTest,
    inv: &Invariants,
    rounds: usize,
    racers: usize,
    rng: &mut Rng,
) -> CheckResult<RaceReport> {
    let c = Case::new(a, "monitor racing stop");
    let mut rep = RaceReport::default();
    for round in 0..rounds {
        c.expect(a.start(), &[0], &format!("round {round}: start"))?;
        let done = AtomicBool::new(false);
        let seen: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
        let head_start = Duration::from_micros(rng.below(20_000));
        let stop = std::thread::scope(|s| {
            for _ in 0..racers {
                s.spawn(|| {
                    loop {
                        let last = done.load(Ordering::SeqCst);
                        let o = a.monitor();
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push(o);
                        if last {
                            break;
                        }
                    }
                });
            }
            std::thread::sleep(head_start);
            let o = a.stop();
            done.store(true, Ordering::SeqCst);
            o
        });
        c.expect(stop, &[0], &format!("round {round}: stop racing {racers} monitor loops"))?;
        for o in seen.into_inner().unwrap_or_else(|p| p.into_inner()) {
            c.expect(o.clone(), &[0, 1, 7], &format!("round {round}: a monitor racing stop"))?;
            rep.monitors += 1;
            match o.code {
                0 => rep.running += 1,
                7 => rep.not_running += 1,
                _ => {
                    rep.failed += 1;
                    // Pids and timings vary: keep the words.
                    let words: String = o.why().chars().filter(|c| !c.is_ascii_digit()).collect();
                    rep.reasons.insert(words);
                }
            }
        }
        c.invariants(inv, &format!("round {round}: after stop"))?;
        c.expect(a.monitor(), &[7], &format!("round {round}: monitor after stop"))?;
        rep.rounds += 1;
    }
    Ok(rep)
}

/// Monitors `watched` in a loop while `f` runs; every monitor must give `code`.
fn watch_while<T: Send>(
    c: &Case,
    watched: &AgentUnderTest,
    code: i32,
    what: &str,
    f: impl FnOnce() -> T,
) -> CheckResult<T> {
    let done = AtomicBool::new(false);
    let seen: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            loop {
                let last = done.load(Ordering::SeqCst);
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(watched.monitor());
                if last {
                    break;
                }
            }
        });
        let r = f();
        done.store(true, Ordering::SeqCst);
        r
    });
    for o in seen.into_inner().unwrap_or_else(|p| p.into_inner()) {
        c.expect(o, &[code], &format!("{} monitored while {what}", watched.instance))?;
    }
    Ok(r)
}

/// Two instances of one agent on different resources on one node: started together, each
/// stopped while the other is monitored in a loop (always 0, and the same thing running by
/// `identity`), nothing left at the end.
pub fn two_instances(
    a: &AgentUnderTest,
    b: &AgentUnderTest,
    inv: &Invariants,
    identity: Option<Identity>,
) -> CheckResult {
    let c = Case::new(a, format!("two instances ({} and {})", a.instance, b.instance));
    c.invariants(inv, "before")?;
    let (sa, sb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.start());
        let tb = s.spawn(|| b.start());
        (ta.join().expect("start thread"), tb.join().expect("start thread"))
    });
    c.expect(sa, &[0], &format!("start {} (concurrently with {})", a.instance, b.instance))?;
    c.expect(sb, &[0], &format!("start {} (concurrently with {})", b.instance, a.instance))?;
    for (x, y) in [(a, b), (b, a)] {
        c.expect(x.monitor(), &[0], &format!("monitor {}", x.instance))?;
        let id = identity.map(|f| f(y)).transpose().map_err(|e| c.fail(e))?;
        let stop = watch_while(&c, y, 0, &format!("{} stops", x.instance), || x.stop())?;
        c.expect(stop, &[0], &format!("stop {}", x.instance))?;
        c.expect(x.monitor(), &[7], &format!("monitor {} after its stop", x.instance))?;
        c.expect(y.monitor(), &[0], &format!("monitor {} after {} stopped", y.instance, x.instance))?;
        if let (Some(f), Some(before)) = (identity, id) {
            let now = f(y).map_err(|e| c.fail(e))?;
            if now != before {
                return Err(
                    c.fail(format!("stopping {} changed {}: {before} → {now}", x.instance, y.instance))
                );
            }
        }
        c.expect(x.start(), &[0], &format!("start {} again", x.instance))?;
    }
    c.expect(a.stop(), &[0], "final stop a")?;
    c.expect(b.stop(), &[0], "final stop b")?;
    c.invariants(inv, "after both stopped")
}

/// A hostile parameter value.
#[derive(Clone, Debug)]
pub enum HostileValue {
    Bytes(OsString),
    /// The longest value `execve` passes for this parameter (`MAX_ARG_STRLEN`, 128 KiB, for the
    /// whole `OCF_RESKEY_name=value`), filled with this byte.
    LargestEnv(u8),
}

#[derive(Clone, Debug)]
pub struct Hostile {
    pub label: String,
    pub value: HostileValue,
}

/// Linux's limit on one environment string including its NUL (32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

impl Hostile {
    fn bytes(label: &str, v: impl Into<OsString>) -> Hostile {
        Hostile { label: label.to_string(), value: HostileValue::Bytes(v.into()) }
    }

    /// The value for parameter `name`.
    pub fn for_param(&self, name: &str) -> OsString {
        match &self.value {
            HostileValue::Bytes(b) => b.clone(),
            HostileValue::LargestEnv(fill) => {
                let n = MAX_ARG_STRLEN - "OCF_RESKEY_".len() - name.len() - 2;
                OsString::from(String::from_utf8(vec![*fill; n]).unwrap_or_default())
            }
        }
    }
}

/// The hostile values: empty, blank, huge, non-UTF-8, shell metacharacters that would create
/// `canary` if a shell ever ran them, newlines and control characters, binary without NUL,
/// out-of-range numbers, path tricks.
pub fn hostile_values(canary: &Path) -> Vec<Hostile> {
    use std::os::unix::ffi::OsStringExt;
    let cn = canary.display();
    let mut binary: Vec<u8> = (1..=255u8).collect();
    binary.rotate_left(97);
    vec![
        Hostile::bytes("empty", ""),
        Hostile::bytes("blanks", " \t "),
        Hostile {
            label: "huge (128 KiB, the most exec passes)".into(),
            value: HostileValue::LargestEnv(b'A'),
        },
        Hostile { label: "huge digits".into(), value: HostileValue::LargestEnv(b'9') },
        Hostile::bytes("non-UTF-8", OsString::from_vec(vec![0xff, 0xfe, b'x', 0x80])),
        Hostile::bytes("valid then non-UTF-8", OsString::from_vec(b"198.51.100.10\xff".to_vec())),
        Hostile::bytes("$(...)", format!("$(touch {cn})")),
        Hostile::bytes("backticks", format!("`touch {cn}`")),
        Hostile::bytes("semicolon", format!("x; touch {cn}")),
        Hostile::bytes("pipe and &&", format!("x | touch {cn} && touch {cn}")),
        Hostile::bytes("quotes", format!("'\"; touch {cn}; echo \"'")),
        Hostile::bytes("newlines", format!("first\nsecond\ntouch {cn}\n")),
        Hostile::bytes("CR LF and tab", "a\r\nb\tc"),
        Hostile::bytes("binary without NUL", OsString::from_vec(binary)),
        Hostile::bytes("negative", "-1"),
        Hostile::bytes("huge number", "99999999999999999999999999"),
        Hostile::bytes("path traversal", "../../../../../../etc/passwd"),
        Hostile::bytes("format string", "%s%n%x%p"),
        Hostile::bytes("unicode", "é☃\u{202e}\u{feff}"),
        Hostile::bytes("address then an option-like non-ASCII word", "198.51.100.5 -é"),
    ]
}

/// What [`hostile_parameter_values`] did.
#[derive(Clone, Debug, Default)]
pub struct HostileReport {
    pub params: usize,
    pub values: usize,
    pub runs: usize,
    /// (parameter, value) pairs that validated and were started and stopped.
    pub started: usize,
    /// The longest exit reason seen, in bytes, and for which value.
    pub longest_reason: (usize, String),
}

impl fmt::Display for HostileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} parameters x {} values: {} agent runs, {} started and stopped; longest exit reason {} bytes ({})",
            self.params, self.values, self.runs, self.started, self.longest_reason.0, self.longest_reason.1
        )
    }
}

/// How [`hostile_parameter_values`] runs.
#[derive(Clone, Debug)]
pub struct HostileOptions {
    /// The file a shell running a value would create.
    pub canary: PathBuf,
    /// Start (then monitor, stop) when validate-all accepts the value.
    pub start_when_valid: bool,
}

/// For each of `params` and each value: validate-all, a probe, a recurring monitor, start
/// (then monitor and stop) when validate-all accepted it, and a stop: never a panic or a
/// signal, always a defined code with a reason when it is an error, a probe never 2/5/6, stop
/// always 0, nothing left after each value, and the canary never created.
pub fn hostile_parameter_values(
    a: &AgentUnderTest,
    inv: &Invariants,
    params: &[String],
    values: &[Hostile],
    opts: &HostileOptions,
) -> CheckResult<HostileReport> {
    let c = Case::new(a, "hostile parameter values");
    let mut rep = HostileReport { params: params.len(), values: values.len(), ..Default::default() };
    let probe: [(&OsStr, &OsStr); 1] = [(OsStr::new("OCF_RESKEY_CRM_meta_interval"), OsStr::new("0"))];
    let recurring: [(&OsStr, &OsStr); 1] =
        [(OsStr::new("OCF_RESKEY_CRM_meta_interval"), OsStr::new("10000"))];
    let mut failures: Vec<String> = Vec::new();
    for p in params {
        for v in values {
            let x = a.clone().param(p, v.for_param(p));
            let step = |s: &str| format!("{s} with {p}={}", v.label);
            let longest = std::cell::RefCell::new(std::mem::take(&mut rep.longest_reason));
            let runs = std::cell::Cell::new(0usize);
            let run = |action: &str, extra: &[(&OsStr, &OsStr)], codes: &[i32], what: &str| {
                runs.set(runs.get() + 1);
                let o = c.expect(x.run_os(action, extra), codes, &step(what))?;
                let n = o.why().len();
                if n > longest.borrow().0 {
                    *longest.borrow_mut() = (n, format!("{what} with {p}={}", v.label));
                }
                Ok::<Outcome, Failure>(o)
            };
            let any = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            // One value's failure does not hide the others': every pair runs, all are reported.
            let one = || -> CheckResult<bool> {
                let valid = run("validate-all", &[], &any, "validate-all")?;
                run("monitor", &probe, &[0, 1, 7], "probe")?;
                run("monitor", &recurring, &any, "recurring monitor")?;
                let mut started = false;
                if opts.start_when_valid && valid.code == 0 {
                    started = run("start", &[], &any, "start")?.code == 0;
                    run("monitor", &recurring, &any, "monitor after start")?;
                    run("stop", &[], &[0], "stop after start")?;
                }
                run("stop", &[], &[0], "stop")?;
                Ok(started)
            };
            let r = one();
            if r.is_err() {
                // Whatever the failed runs left, clean up before the next value.
                let _ = x.stop();
                let _ = a.stop();
            }
            match r {
                Ok(started) => rep.started += usize::from(started),
                Err(e) => failures.push(e.detail),
            }
            rep.runs += runs.get();
            rep.longest_reason = longest.into_inner();
            if let Err(e) = c.invariants(inv, &step("after the runs")) {
                failures.push(e.detail);
            }
            if opts.canary.exists() {
                failures.push(step(&format!("a shell ran the value: {} exists", opts.canary.display())));
                let _ = std::fs::remove_file(&opts.canary);
            }
        }
    }
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(6);
        return Err(c.fail(format!("{n} failure(s) ({rep}); the first ones:\n{}", failures.join("\n\n"))));
    }
    Ok(rep)
}

/// Shared result collection for tests that run several checks and report all failures.
#[derive(Clone, Default)]
pub struct Results(Arc<Mutex<Vec<String>>>);

impl Results {
    pub fn new() -> Results {
        Results::default()
    }

    /// Records a check's result, printing a line for it.
    pub fn record<T: Summary>(&self, what: &str, r: CheckResult<T>) {
        match r {
            Ok(rep) => {
                let s = rep.summary();
                eprintln!("ok   {what}{}", if s.is_empty() { String::new() } else { format!(": {s}") });
            }
            Err(e) => {
                eprintln!("FAIL {what}: {e}");
                self.0.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{what}: {e}"));
            }
        }
    }

    /// Panics listing every failure, if any.
    pub fn finish(&self) {
        let f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !f.is_empty() {
            panic!("{} check(s) failed:\n\n{}", f.len(), f.join("\n\n"));
        }
    }
}

/// A one-line summary of a check's report ("" for none).
pub trait Summary {
    fn summary(&self) -> String;
}

impl Summary for () {
    fn summary(&self) -> String {
        String::new()
    }
}

impl Summary for Outcome {
    fn summary(&self) -> String {
        format!("{} exited {} after {:?}", self.action, self.code, self.duration)
    }
}

impl Summary for Vec<Outcome> {
    fn summary(&self) -> String {
        self.iter()
            .map(|o| format!("{} {} in {:?}", o.action, o.code, o.duration))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! summary_by_display {
    ($($t:ty),*) => {$(
        impl Summary for $t {
            fn summary(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
summary_by_display!(KillReport, RaceReport, HostileReport);
