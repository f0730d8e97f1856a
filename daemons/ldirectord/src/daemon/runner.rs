//! The daemon's loop: check reports update real states, a changed virtual is recomputed and
//! synced at once; a one-second tick writes the heartbeat, honours maintenance files, ends
//! drains and (every `repair_every`) reads every owned virtual back and repairs it.
//!
//! Start programs every virtual with its reals down (absent, or weight 0 when quiescent):
//! never full weight unchecked. "First round done" is when every checked real has had one
//! result; the caller is told once (the CLI's `start` waits for it).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use rha_check::engine::default_max_concurrent;
use rha_check::{CheckKey, CheckType, Engine, Report, SubscriptionId};
use rha_ipvs::{Dest, Ipvs, ServiceSpec};
use tokio::sync::{mpsc, oneshot};

use super::alerts::{Alerts, Sender};
use super::desired::{desired_service, fallback_active};
use super::ipvs_sync::{Owned, delete_service, owned_by_other, sync_service};
use super::real_state::{Health, RealState, maintenance_file};
use super::status::{RealStatus, Status, VirtualStatus, now, unix};
use super::{Options, hooks, log, mail, metrics, monitorfile};
use crate::model::{Config, Real, Virtual};

/// Called once when the first check round is done (Ok) or start-up failed (Err).
pub type OnReady = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Requests to a running daemon from inside the process (tests; the CLI uses signals).
pub enum Command {
    /// Apply a new configuration as a difference; the reply says whether it was applied.
    Reload(Box<Config>, oneshot::Sender<Result<(), String>>),
    /// Re-read the config file (what SIGHUP does).
    ReloadFile,
    /// Clean up (cleanstop) and return from [`Daemon::run`].
    Stop,
}

pub(super) struct RealSlot {
    pub real: Real,
    pub state: RealState,
    /// The engine subscription (None for checktype=on/off: nothing to check).
    pub sub: Option<(CheckKey, SubscriptionId, Duration)>,
}

pub(super) struct VirtualSlot {
    pub v: Virtual,
    pub reals: Vec<RealSlot>,
    /// Reals a reload removed: weight 0 until the instant, then deleted.
    pub draining: Vec<(Dest, Instant)>,
    /// What was last programmed (None: nothing yet, or the kernel refused).
    pub last: Option<ServiceSpec>,
    /// False when another instance owns this virtual: never touched.
    pub managed: bool,
    pub error: Option<String>,
    pub dirty: bool,
    pub fallback_on: bool,
}

impl VirtualSlot {
    fn ups(&self) -> Vec<bool> {
        self.reals.iter().map(|r| r.state.is_up()).collect()
    }

    pub fn name(&self) -> String {
        self.v.key().to_string()
    }
}

pub struct Daemon {
    pub(super) opts: Options,
    pub(super) config: Config,
    pub(super) ipvs: Ipvs,
    pub(super) engine: Engine,
    reports: mpsc::Receiver<Report>,
    pub(super) virtuals: Vec<VirtualSlot>,
    /// Which (virtual, real) slots each check key's reports go to.
    pub(super) index: HashMap<CheckKey, Vec<(usize, usize)>>,
    pub(super) owned: Owned,
    first_round_done: bool,
    on_ready: Option<OnReady>,
    started: SystemTime,
    phase: &'static str,
    pub(super) reload_error: Option<String>,
    status_dirty: bool,
    last_repair: Instant,
    cfg_stamp: Option<(SystemTime, u64)>,
    alerts: Alerts,
    hostname: String,
    /// Files (monitorfile, metrics) whose last write failed: said once, not every check.
    failed_files: std::collections::HashSet<std::path::PathBuf>,
}

fn check_name(r: &Real) -> String {
    match r.check.checktype {
        CheckType::Negotiate => format!("negotiate {}", r.check.service.name()),
        CheckType::Combined(n) => format!("connect, negotiate {} every {n}", r.check.service.name()),
        CheckType::Connect => "connect".into(),
        CheckType::Ping => "ping".into(),
        CheckType::External => "external".into(),
        CheckType::On => "on".into(),
        CheckType::Off => "off".into(),
    }
}

fn file_stamp(p: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Daemon {
    /// Connects to IPVS, purges owned virtuals the config no longer names, programs every
    /// configured one with its reals down and subscribes their checks. Must run inside a
    /// tokio runtime. `on_ready` is called once: Ok when the first round is done.
    pub fn start(config: Config, opts: Options, on_ready: Option<OnReady>) -> Result<Daemon, String> {
        let ipvs = Ipvs::connect().map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(4096);
        let engine = Engine::new(tx, default_max_concurrent()).with_debug(std::sync::Arc::new(log::debug));
        let owned = Owned::load(&opts.paths.owned());
        let cfg_stamp = file_stamp(&config.path);
        let mut d = Daemon {
            opts,
            config: config.clone(),
            ipvs,
            engine,
            reports: rx,
            virtuals: Vec::new(),
            index: HashMap::new(),
            owned,
            first_round_done: false,
            on_ready,
            started: SystemTime::now(),
            phase: "starting",
            reload_error: None,
            status_dirty: true,
            last_repair: Instant::now(),
            cfg_stamp,
            alerts: Alerts::default(),
            hostname: mail::hostname(),
            failed_files: Default::default(),
        };
        log::info(&format!(
            "starting with {} ({} virtual services, {} real servers)",
            config.path.display(),
            config.virtuals.len(),
            config.virtuals.iter().map(|v| v.reals.len()).sum::<usize>()
        ));
        for w in &config.warnings {
            log::warn(&w.to_string());
        }
        d.purge_unconfigured()?;
        for v in config.virtuals {
            let slot = d.new_virtual(v);
            d.virtuals.push(slot);
        }
        d.rebuild_index();
        d.sync_dirty();
        d.check_first_round();
        d.write_status();
        Ok(d)
    }

    /// Deletes owned virtuals the current config does not name.
    pub(super) fn purge_unconfigured(&mut self) -> Result<(), String> {
        for key in self.owned.keys() {
            if self.config.virtuals.iter().any(|v| v.key() == key) {
                continue;
            }
            match delete_service(&mut self.ipvs, &key) {
                Ok(true) => log::info(&format!("virtual {key}: removed (no longer in the configuration)")),
                Ok(false) => {}
                Err(e) => return Err(format!("cannot remove virtual {key}: {e}")),
            }
            self.owned.remove(&key).map_err(|e| format!("{}: {e}", self.opts.paths.owned().display()))?;
        }
        Ok(())
    }

    /// A slot for a virtual that starts now: every real down (or checktype=on up), checks
    /// subscribed, ownership taken unless another instance has it.
    pub(super) fn new_virtual(&mut self, v: Virtual) -> VirtualSlot {
        let key = v.key();
        let mut managed = true;
        let mut error = None;
        if !self.owned.contains(&key) {
            if let Some(other) = owned_by_other(&self.opts.paths.run_dir, &self.opts.paths.owned(), &key) {
                let e = format!("owned by the ldirectord instance {other:?}: left alone");
                log::error(&format!("virtual {key} ({}:{}): {e}", v.line.file.display(), v.line.line));
                managed = false;
                error = Some(e);
            } else if let Err(e) = self.owned.insert(&key) {
                let e = format!("cannot record ownership in {}: {e}", self.opts.paths.owned().display());
                log::error(&format!("virtual {key}: {e}"));
                managed = false;
                error = Some(e);
            }
        }
        let now = Instant::now();
        let reals = v
            .reals
            .iter()
            .map(|r| {
                let mut s = RealSlot { real: r.clone(), state: RealState::new(now), sub: None };
                if managed {
                    self.subscribe(&mut s, &v);
                }
                s
            })
            .collect();
        VirtualSlot {
            v,
            reals,
            draining: Vec::new(),
            last: None,
            managed,
            error,
            dirty: managed,
            fallback_on: false,
        }
    }

    /// Subscribes a real's check at its virtual's interval (checktype=on is up unchecked,
    /// checktype=off never up: neither is checked).
    pub(super) fn subscribe(&self, s: &mut RealSlot, v: &Virtual) {
        match s.real.check.checktype {
            CheckType::On => {
                s.state = RealState::always_up(Instant::now());
            }
            CheckType::Off => {}
            _ => {
                let key = CheckKey::new(s.real.check.clone(), s.real.target);
                let id = self.engine.add(key.clone(), v.check_interval);
                s.sub = Some((key, id, v.check_interval));
            }
        }
    }

    pub(super) fn unsubscribe(&self, s: &mut RealSlot) {
        if let Some((_, id, _)) = s.sub.take() {
            self.engine.remove(id);
        }
    }

    pub(super) fn rebuild_index(&mut self) {
        self.index.clear();
        for (vi, v) in self.virtuals.iter().enumerate() {
            for (ri, r) in v.reals.iter().enumerate() {
                if let Some((key, _, _)) = &r.sub {
                    self.index.entry(key.clone()).or_default().push((vi, ri));
                }
            }
        }
    }

    /// Runs until SIGTERM/SIGINT (with `signals`) or [`Command::Stop`]; then cleans up.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Result<(), String> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut sigs = if self.opts.signals {
            let mk = |k| signal(k).map_err(|e| format!("cannot handle signals: {e}"));
            Some((mk(SignalKind::terminate())?, mk(SignalKind::interrupt())?, mk(SignalKind::hangup())?))
        } else {
            None
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.phase = "running";
        loop {
            enum Ev {
                Report(Option<Report>),
                Tick,
                Cmd(Option<Command>),
                Term(&'static str),
                Hup,
            }
            let ev = match sigs.as_mut() {
                Some((term, int, hup)) => tokio::select! {
                    r = self.reports.recv() => Ev::Report(r),
                    _ = tick.tick() => Ev::Tick,
                    c = commands.recv() => Ev::Cmd(c),
                    _ = term.recv() => Ev::Term("SIGTERM"),
                    _ = int.recv() => Ev::Term("SIGINT"),
                    _ = hup.recv() => Ev::Hup,
                },
                None => tokio::select! {
                    r = self.reports.recv() => Ev::Report(r),
                    _ = tick.tick() => Ev::Tick,
                    c = commands.recv() => Ev::Cmd(c),
                },
            };
            let ticked = matches!(ev, Ev::Tick);
            match ev {
                Ev::Report(Some(r)) => {
                    self.on_report(r);
                    // Take every report already queued before syncing: one sync per virtual.
                    while let Ok(r) = self.reports.try_recv() {
                        self.on_report(r);
                    }
                }
                Ev::Report(None) => return Err("the check engine stopped".into()),
                Ev::Tick => self.on_tick(),
                Ev::Cmd(Some(Command::Reload(cfg, reply))) => {
                    let r = self.reload(*cfg);
                    let _ = reply.send(r);
                }
                Ev::Cmd(Some(Command::ReloadFile)) | Ev::Hup => self.reload_file(),
                Ev::Cmd(Some(Command::Stop)) | Ev::Cmd(None) => {
                    log::info("stop requested");
                    break;
                }
                Ev::Term(sig) => {
                    log::info(&format!("{sig} received: stopping"));
                    break;
                }
            }
            self.sync_dirty();
            self.check_first_round();
            if self.status_dirty {
                let st = self.write_status();
                // The metrics file once a second, from the view the status file got.
                if ticked {
                    self.write_metrics(&st);
                }
            }
        }
        self.stop()
    }

    fn on_report(&mut self, (key, outcome, _when): Report) {
        let Some(slots) = self.index.get(&key).cloned() else {
            return; // a key unsubscribed by a reload: its last report is stale
        };
        let now = Instant::now();
        let mdir = self.config.globals.maintenancedir.clone();
        for (vi, ri) in slots {
            let vs = &mut self.virtuals[vi];
            let vname = vs.v.key().to_string();
            let failure_count = vs.v.failure_count;
            let rs = &mut vs.reals[ri];
            // Maintenance is honoured before every result counts.
            if let Some(dir) = &mdir {
                let m = maintenance_file(dir, rs.real.dest.addr, rs.real.dest.port);
                if let Some(c) = rs.state.set_maintenance(m, now) {
                    log_change(&vname, &rs.real, &c);
                    vs.dirty = true;
                }
            }
            let before_last = rs.state.has_result();
            let was_ever_up = rs.state.ever_up();
            if let Some(c) = rs.state.record(outcome.up, &outcome.reason, outcome.latency, failure_count, now)
            {
                log_change(&vname, &rs.real, &c);
                vs.dirty = true;
                let who = Sender {
                    hostname: &self.hostname,
                    phase: self.phase,
                    from: self.config.globals.emailalertfrom.as_deref(),
                };
                if let Some(a) = self.alerts.on_change(&vs.v, &rs.real, &c, was_ever_up, &who, now) {
                    mail::send(a.mail, a.smtp);
                }
            } else if !outcome.up && rs.state.health() == Health::Up {
                log::info(&format!(
                    "real {} of {vname} ({}): soft failure {}/{failure_count}: {}",
                    rs.real.dest.key(),
                    check_name(&rs.real),
                    rs.state.consecutive_failures(),
                    outcome.reason
                ));
            }
            if !before_last {
                self.status_dirty = true;
            }
            if let Some(path) = &vs.v.monitorfile {
                let line = monitorfile::line(
                    &monitorfile::local_time_now(),
                    std::process::id(),
                    &vs.v,
                    &rs.real,
                    outcome.up,
                    &outcome.reason,
                );
                let r = monitorfile::append(path, &line);
                note_write(&mut self.failed_files, path, "monitorfile", r);
            }
        }
        // A result that changes no state (most of them) is written with the next tick's
        // heartbeat, at most a second later: rewriting the whole file after every batch of
        // results cost more CPU than the checks themselves at 1,000 reals.
    }

    /// emailalertfreq reminders for reals still down.
    fn send_reminders(&mut self, now: Instant) {
        let list: Vec<_> = self
            .virtuals
            .iter()
            .filter(|vs| !vs.v.emailalert.is_empty())
            .map(|vs| (&vs.v, vs.reals.iter().map(|r| (&r.real, !r.state.is_up())).collect()))
            .collect();
        let who = Sender {
            hostname: &self.hostname,
            phase: self.phase,
            from: self.config.globals.emailalertfrom.as_deref(),
        };
        for a in self.alerts.due(&list, &who, now) {
            mail::send(a.mail, a.smtp);
        }
    }

    /// The Prometheus file from `st`, with the kernel's counters of every managed virtual.
    fn write_metrics(&mut self, st: &Status) {
        let Some(path) = self.opts.metrics_file.clone() else { return };
        let mut counters = metrics::Counters::new();
        for vs in self.virtuals.iter().filter(|vs| vs.managed) {
            if let Ok(dests) = self.ipvs.dests(&vs.v.key()) {
                for d in dests {
                    counters.insert((vs.name(), d.dest.key().to_string()), d);
                }
            }
        }
        let text = metrics::render(st, &counters);
        let r = super::ipvs_sync::write_atomic(&path, text.as_bytes());
        note_write(&mut self.failed_files, &path, "metrics file", r);
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        // Maintenance files also for reals without checks, and between slow checks.
        if let Some(dir) = self.config.globals.maintenancedir.clone() {
            for vs in &mut self.virtuals {
                let vname = vs.v.key().to_string();
                for rs in &mut vs.reals {
                    let m = maintenance_file(&dir, rs.real.dest.addr, rs.real.dest.port);
                    if let Some(c) = rs.state.set_maintenance(m, now) {
                        log_change(&vname, &rs.real, &c);
                        vs.dirty = true;
                    }
                }
            }
        }
        for vs in &mut self.virtuals {
            let before = vs.draining.len();
            vs.draining.retain(|(d, until)| {
                let keep = *until > now;
                if !keep {
                    log::info(&format!("real {} of {}: drained, deleting", d.key(), vs.v.key()));
                }
                keep
            });
            if vs.draining.len() != before {
                vs.dirty = true;
            }
            // A failed sync is retried every tick.
            if vs.managed && vs.last.is_none() {
                vs.dirty = true;
            }
        }
        if now.duration_since(self.last_repair) >= self.opts.repair_every {
            self.last_repair = now;
            for vs in &mut self.virtuals {
                vs.dirty |= vs.managed;
            }
        }
        // autoreload: the file's mtime or size changed.
        let stamp = file_stamp(&self.config.path);
        if stamp != self.cfg_stamp {
            self.cfg_stamp = stamp;
            if let Some(cb) = &self.config.globals.callback {
                hooks::run_callback(cb, &self.config.path);
            }
            if self.config.globals.autoreload {
                log::info(&format!("{} changed: reloading (autoreload)", self.config.path.display()));
                self.reload_file();
            }
        }
        self.send_reminders(now);
        // The heartbeat (and the metrics file): written at the end of this turn of the loop.
        self.status_dirty = true;
    }

    /// SIGHUP: re-read the file; on error keep the old config and say why.
    pub(super) fn reload_file(&mut self) {
        match crate::config::parse_file(&self.config.path) {
            Ok(cfg) => {
                if let Err(e) = self.reload(cfg) {
                    log::error(&format!("reload failed: {e}"));
                }
            }
            Err(e) => {
                log::error(&format!("reload refused, the running configuration is kept: {e}"));
                self.reload_error = Some(e.to_string());
                self.status_dirty = true;
            }
        }
    }

    /// Recomputes and syncs every changed virtual.
    pub(super) fn sync_dirty(&mut self) {
        for vs in &mut self.virtuals {
            if !vs.dirty || !vs.managed {
                continue;
            }
            vs.dirty = false;
            self.status_dirty = true;
            let ups = vs.ups();
            let draining: Vec<Dest> = vs.draining.iter().map(|(d, _)| d.clone()).collect();
            let want = desired_service(&vs.v, &ups, &draining);
            let name = vs.name();
            match sync_service(&mut self.ipvs, &want, vs.last.as_ref()) {
                Ok(done) => {
                    if !done.repaired.is_empty() {
                        log::warn(&format!(
                            "virtual {name}: changed behind our back ({}); repaired",
                            done.repaired.join("; ")
                        ));
                    }
                    for c in &done.changes {
                        log::info(&format!("virtual {name}: {c}"));
                    }
                    vs.last = Some(want);
                    vs.error = None;
                }
                Err(e) => {
                    log::error(&format!("virtual {name}: cannot program IPVS: {e}"));
                    vs.error = Some(e.to_string());
                    vs.last = None;
                }
            }
            let fb = fallback_active(&vs.v, &ups);
            if fb != vs.fallback_on {
                vs.fallback_on = fb;
                if let Some(f) = &vs.v.fallback {
                    log::info(&format!(
                        "virtual {name}: fallback {} {}",
                        f.key(),
                        if fb { "in use: no real server is up" } else { "removed: a real server is up" }
                    ));
                }
                if let Some(cmd) = &vs.v.fallback_command {
                    hooks::run_fallback_command(cmd, fb, &vs.v.key());
                }
            }
        }
    }

    fn check_first_round(&mut self) {
        if self.first_round_done {
            return;
        }
        let done = self
            .virtuals
            .iter()
            .filter(|v| v.managed)
            .all(|v| v.last.is_some() && v.reals.iter().all(|r| r.sub.is_none() || r.state.has_result()));
        if done {
            self.first_round_done = true;
            let up: usize =
                self.virtuals.iter().map(|v| v.reals.iter().filter(|r| r.state.is_up()).count()).sum();
            let all: usize = self.virtuals.iter().map(|v| v.reals.len()).sum();
            log::info(&format!("first check round done: {up} of {all} real servers up"));
            // On disk before anyone is told: `start` returns on this, and the OCF agent's
            // monitor reads the file next.
            self.write_status();
            if let Some(f) = self.on_ready.take() {
                f(Ok(()));
            }
        }
    }

    pub fn first_round_done(&self) -> bool {
        self.first_round_done
    }

    /// The status as written to the status file.
    pub fn status(&self) -> Status {
        let now_i = Instant::now();
        let virtuals = self
            .virtuals
            .iter()
            .map(|vs| {
                let programmed: HashMap<_, u32> = vs
                    .last
                    .as_ref()
                    .map(|s| s.dests.iter().map(|d| (d.key(), d.weight)).collect())
                    .unwrap_or_default();
                let mut reals: Vec<RealStatus> = vs
                    .reals
                    .iter()
                    .map(|r| {
                        let last = r.state.last();
                        RealStatus {
                            real: r.real.dest.key().to_string(),
                            state: r.state.effective(),
                            weight: programmed.get(&r.real.dest.key()).copied(),
                            configured_weight: r.real.dest.weight,
                            last_result: last.map(|l| if l.up { Health::Up } else { Health::Down }),
                            reason: last.map(|l| l.reason.clone()),
                            latency_ms: last.map(|l| l.latency.as_secs_f64() * 1000.0),
                            consecutive_failures: r.state.consecutive_failures(),
                            maintenance: r.state.maintenance().map(str::to_string),
                            draining: false,
                            changed: unix(r.state.changed_at()),
                            seconds_since_change: r.state.since_change(now_i).as_secs_f64(),
                        }
                    })
                    .collect();
                for (d, _) in &vs.draining {
                    reals.push(RealStatus {
                        real: d.key().to_string(),
                        state: Health::Down,
                        weight: programmed.get(&d.key()).copied(),
                        configured_weight: d.weight,
                        last_result: None,
                        reason: Some("removed from the configuration".into()),
                        latency_ms: None,
                        consecutive_failures: 0,
                        maintenance: None,
                        draining: true,
                        changed: now(),
                        seconds_since_change: 0.0,
                    });
                }
                VirtualStatus {
                    virtual_service: vs.name(),
                    scheduler: vs.v.service.scheduler.clone(),
                    line: format!("{}:{}", vs.v.line.file.display(), vs.v.line.line),
                    fallback: vs.v.fallback.as_ref().map(|f| f.key().to_string()),
                    fallback_active: vs.fallback_on,
                    error: vs.error.clone(),
                    reals,
                }
            })
            .collect();
        Status {
            name: self.opts.paths.name.clone(),
            config: self.config.path.display().to_string(),
            pid: std::process::id(),
            heartbeat: now(),
            started: unix(self.started),
            first_round_done: self.first_round_done,
            phase: self.phase.to_string(),
            reload_error: self.reload_error.clone(),
            virtuals,
        }
    }

    /// Writes the status file; returns what it wrote.
    fn write_status(&mut self) -> Status {
        self.status_dirty = false;
        let path = self.opts.paths.status();
        let st = self.status();
        if let Err(e) = st.write(&path) {
            log::error(&format!("cannot write {}: {e}", path.display()));
        }
        st
    }

    /// cleanstop: every owned virtual with cleanstop=yes is deleted with its reals (and
    /// forgotten); the others stay, still owned, for the next start to adopt.
    fn stop(mut self) -> Result<(), String> {
        self.phase = "stopping";
        self.write_status();
        let mut errors = Vec::new();
        for vs in &mut self.virtuals {
            for r in &mut vs.reals {
                if let Some((_, id, _)) = r.sub.take() {
                    self.engine.remove(id);
                }
            }
            if !vs.managed || !vs.v.cleanstop {
                continue;
            }
            let key = vs.v.key();
            match delete_service(&mut self.ipvs, &key) {
                Ok(_) => {
                    log::info(&format!("virtual {key}: removed (cleanstop)"));
                    if let Err(e) = self.owned.remove(&key) {
                        errors.push(format!("{}: {e}", self.opts.paths.owned().display()));
                    }
                }
                Err(e) => errors.push(format!("cannot remove virtual {key}: {e}")),
            }
        }
        let _ = std::fs::remove_file(self.opts.paths.status());
        if errors.is_empty() {
            log::info("stopped");
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

fn log_change(vname: &str, real: &Real, c: &super::real_state::Change) {
    log::info(&format!(
        "real {} of {vname} ({}): {} -> {}: {}",
        real.dest.key(),
        check_name(real),
        c.from.name(),
        c.to.name(),
        c.reason
    ));
}

/// Logs a failed write of `path` once (until a write works again); checking goes on.
fn note_write(
    failed: &mut std::collections::HashSet<std::path::PathBuf>,
    path: &std::path::Path,
    what: &str,
    r: std::io::Result<()>,
) {
    match r {
        Ok(()) => {
            if failed.remove(path) {
                log::info(&format!("{what} {}: writing works again", path.display()));
            }
        }
        Err(e) => {
            if failed.insert(path.to_path_buf()) {
                log::error(&format!("{what} {}: cannot write: {e}", path.display()));
            }
        }
    }
}
