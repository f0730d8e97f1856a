//! The daemon as the agent sees it: its command line and its files.
//!
//! Everything goes through the binary the `ldirectord` parameter names, so this agent needs
//! neither the daemon's library nor its runtime:
//! - `configtest`: the configuration's first error, `file:line: message` (exit 2);
//! - `start`: returns once IPVS is programmed and the first check round is done;
//! - `stop`: returns once the daemon has cleaned IPVS (cleanstop) and exited;
//! - `status --json`: the instance name and whether it runs, and when it does the status file
//!   (pid, heartbeat rewritten every second, first round done, every virtual and real with the
//!   weight the daemon programmed).
//!
//! The files this agent reads or cleans after a killed daemon are named after the instance
//! name `status --json` reports, in the daemon's layout (rha_ldirectord::daemon::Paths and the
//! CLI's pid file; the unit tests check them against the daemon's library).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ocf_shim::process::{command, run_bounded};
use ocf_shim::{Deadline, OcfError, OcfResult};
use serde::Deserialize;

use crate::params::Config;

/// The daemon's run directory (status and ownership files).
pub const RUN_DIR: &str = "/run/rha-ldirectord";

/// A heartbeat older than this is a hung daemon. The daemon rewrites its status file from a
/// one-second tick of its event loop, which the checks never block (they run concurrently in
/// the check engine, each bounded by its own timeout), so the bound does not grow with
/// checkinterval or the checks' timeouts: ten missed beats.
pub const HUNG_AFTER: Duration = Duration::from_secs(10);

/// Longest a `status --json` may take: it reads two files, but starting the daemon's binary
/// took over 5 s on a loaded emulated (TCG) node.
const STATUS_LIMIT: Duration = Duration::from_secs(10);

/// What `status --json` prints: the short form when not running (`name`, `running`,
/// `stale_pid_file`), `name`/`running`/`pid` when running without a status file, else the
/// status file itself.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Report {
    pub name: String,
    pub running: Option<bool>,
    pub stale_pid_file: bool,
    pub pid: Option<u32>,
    pub config: Option<String>,
    pub heartbeat: Option<f64>,
    pub first_round_done: bool,
    pub phase: Option<String>,
    pub reload_error: Option<String>,
    pub virtuals: Vec<VirtualView>,
}

/// One virtual as the daemon reports it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct VirtualView {
    /// As ipvsadm shows it ("TCP 198.51.100.10:80"): `rha_ipvs::ServiceKey`'s Display.
    pub virtual_service: String,
    pub scheduler: String,
    /// "file:line" of the `virtual=` line.
    pub line: String,
    pub fallback: Option<String>,
    pub fallback_active: bool,
    pub error: Option<String>,
    pub reals: Vec<RealView>,
}

/// One real as the daemon reports it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RealView {
    /// "203.0.113.2:80": `rha_ipvs::DestKey`'s Display.
    pub real: String,
    pub state: String,
    /// The weight the daemon programmed; None: not in the kernel.
    pub weight: Option<u32>,
    pub draining: bool,
}

/// What the report says about the process.
#[derive(Clone, Debug, PartialEq)]
pub enum Process {
    /// No daemon for this instance (maybe a stale pid file).
    Stopped { stale_pid_file: bool },
    /// Running, with or without a status file of its own.
    Running { pid: u32, has_status: bool },
}

impl Report {
    pub fn process(&self) -> Process {
        match (self.running, self.pid) {
            // The status file itself has no `running`: a pid and a heartbeat mean it runs.
            (Some(false), _) => Process::Stopped { stale_pid_file: self.stale_pid_file },
            (_, Some(pid)) => Process::Running { pid, has_status: self.heartbeat.is_some() },
            (_, None) => Process::Stopped { stale_pid_file: self.stale_pid_file },
        }
    }

    /// Seconds since the last heartbeat.
    pub fn heartbeat_age(&self, now: f64) -> Option<f64> {
        self.heartbeat.map(|h| (now - h).max(0.0))
    }
}

/// Unix time now, in seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The pid file of instance `name` (the daemon's CLI: upstream's name).
pub fn pid_file(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/ldirectord.{name}.pid"))
}

/// The status file of instance `name`.
pub fn status_file(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{name}.status"))
}

/// The ownership file of instance `name`: the virtuals it created or adopted, one a line.
pub fn owned_file(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{name}.owned"))
}

/// Runs `<binary> <options...> -- <config> <cmd>` within `deadline` (the `--` keeps a file
/// name starting with '-' a file name); `None` when it overran and was killed.
pub fn run(cfg: &Config, options: &[&str], cmd: &str, deadline: &Deadline) -> OcfResult<Option<Output>> {
    let mut c = command(&cfg.binary);
    c.args(options).arg("--").arg(&cfg.config).arg(cmd);
    // The daemon's own messages are the reasons we print: keep them in English.
    c.env("LC_ALL", "C");
    run_bounded(c, b"", deadline)
        .map_err(|e| OcfError::generic(format!("cannot run {}: {e}", cfg.binary.display())))
}

/// The daemon's error from its stderr: the last line that is not a warning, without the
/// program's prefix ("rha-ldirectord: /etc/ha.d/x.cf:3: unknown directive" → "/etc/...").
pub fn error_text(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("usage:") && !l.starts_with("rha-ldirectord: warning:"))
        .unwrap_or("");
    let line = line.strip_prefix("rha-ldirectord: ").unwrap_or(line);
    if line.is_empty() { format!("exit status {}", out.status) } else { line.to_string() }
}

/// Warnings the daemon printed (configtest).
pub fn warnings(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rha-ldirectord: warning: ").map(str::to_string))
        .collect()
}

/// `configtest`: Ok(warnings) or the first error as OCF_ERR_CONFIGURED naming file:line.
pub fn configtest(cfg: &Config, deadline: &Deadline) -> OcfResult<Vec<String>> {
    // Names in the file are resolved (bounded by the parser); leave a margin for the report.
    let d = deadline.cap(deadline.remaining().saturating_sub(Duration::from_millis(200)));
    let out = run(cfg, &[], "configtest", &d)?.ok_or_else(|| {
        OcfError::generic(format!(
            "{} configtest did not finish within the operation's timeout (names in {} that do not resolve?)",
            cfg.binary.display(),
            cfg.config.display()
        ))
    })?;
    match out.status.code() {
        Some(0) => Ok(warnings(&out)),
        Some(2) => Err(OcfError::configured(error_text(&out))),
        _ => Err(OcfError::generic(format!(
            "{} configtest failed: {} (is it rha-ldirectord?)",
            cfg.binary.display(),
            error_text(&out)
        ))),
    }
}

/// `status --json`, parsed.
pub fn status(cfg: &Config, deadline: &Deadline) -> OcfResult<Report> {
    let out = run(cfg, &["--json"], "status", &deadline.cap(STATUS_LIMIT))?.ok_or_else(|| {
        OcfError::generic(format!("{} status did not answer within {STATUS_LIMIT:?}", cfg.binary.display()))
    })?;
    // 0 running, 1 stale pid file, 3 stopped: each prints JSON.
    if !matches!(out.status.code(), Some(0 | 1 | 3)) {
        return Err(OcfError::generic(format!(
            "{} status --json failed: {}",
            cfg.binary.display(),
            error_text(&out)
        )));
    }
    parse_report(&out.stdout).map_err(|e| {
        OcfError::generic(format!("{} status --json printed no status: {e}", cfg.binary.display()))
    })
}

/// Parses `status --json` output; the instance name must be there.
pub fn parse_report(json: &[u8]) -> Result<Report, String> {
    let r: Report = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    if r.name.is_empty() || r.name.contains('/') {
        return Err(format!("instance name {:?} is not usable", r.name));
    }
    Ok(r)
}

/// Whether `pid`'s command line is rha-ldirectord's (the daemon's own test: "ldirectord" in
/// /proc/<pid>/cmdline).
pub fn is_ldirectord(pid: i32) -> bool {
    ocf_shim::process::proc_cmdline(pid).is_some_and(|c| c.iter().any(|a| a.contains("ldirectord")))
}

/// Whether `pid` runs this agent's daemon binary, not merely something called ldirectord
/// (upstream's Perl ldirectord uses the same pid file for the same configuration name, and is
/// never killed by this agent).
pub fn is_ours(pid: i32, binary: &Path) -> bool {
    let name = binary.file_name();
    let exe = ocf_shim::process::proc_exe(pid);
    // A replaced binary shows as "rha-ldirectord (deleted)".
    let exe_matches = exe.as_deref().and_then(Path::file_name).is_some_and(|f| {
        Some(f) == name || name.is_some_and(|n| f.to_string_lossy().starts_with(&*n.to_string_lossy()))
    });
    exe_matches
        || ocf_shim::process::proc_cmdline(pid)
            .and_then(|c| c.into_iter().next())
            .is_some_and(|a0| a0.contains("rha-ldirectord"))
}

/// A `#!` script is not rha-ldirectord (upstream's ldirectord is a Perl script).
pub fn is_script(binary: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(binary).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"#!"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn our_processes_and_scripts() {
        let me = std::process::id() as i32;
        let exe = std::env::current_exe().unwrap();
        assert!(is_ours(me, &exe));
        assert!(!is_ours(me, Path::new("/usr/sbin/rha-ldirectord")));
        let dir = tempfile::tempdir().unwrap();
        let perl = dir.path().join("ldirectord");
        std::fs::write(&perl, "#!/usr/bin/perl\n").unwrap();
        assert!(is_script(&perl));
        assert!(!is_script(&exe));
    }

    #[test]
    fn file_layout_is_the_daemons() {
        let p = rha_ldirectord::daemon::Paths::new("web.cf");
        assert_eq!(Path::new(RUN_DIR), p.run_dir);
        assert_eq!(status_file("web.cf"), p.status());
        assert_eq!(owned_file("web.cf"), p.owned());
        assert_eq!(pid_file("ldirectord"), PathBuf::from("/run/ldirectord.ldirectord.pid"));
    }

    #[test]
    fn the_daemons_status_file_parses() {
        // The daemon's own type, serialised as it writes it.
        let s = rha_ldirectord::daemon::status::Status {
            name: "web".into(),
            config: "/etc/ha.d/web.cf".into(),
            pid: 42,
            heartbeat: 1000.0,
            started: 990.0,
            first_round_done: true,
            phase: "running".into(),
            reload_error: None,
            virtuals: vec![rha_ldirectord::daemon::status::VirtualStatus {
                virtual_service: "TCP 198.51.100.10:80".into(),
                scheduler: "wrr".into(),
                line: "/etc/ha.d/web.cf:3".into(),
                fallback: Some("203.0.113.9:80".into()),
                fallback_active: false,
                error: None,
                reals: vec![rha_ldirectord::daemon::status::RealStatus {
                    real: "203.0.113.2:80".into(),
                    state: rha_ldirectord::daemon::real_state::Health::Up,
                    weight: Some(3),
                    configured_weight: 3,
                    last_result: None,
                    reason: None,
                    latency_ms: None,
                    consecutive_failures: 0,
                    maintenance: None,
                    draining: false,
                    changed: 995.0,
                    seconds_since_change: 5.0,
                }],
            }],
        };
        let r = parse_report(serde_json::to_string_pretty(&s).unwrap().as_bytes()).unwrap();
        assert_eq!(r.process(), Process::Running { pid: 42, has_status: true });
        assert_eq!(r.heartbeat_age(1012.5), Some(12.5));
        assert!(r.first_round_done);
        assert_eq!(r.virtuals[0].reals[0].weight, Some(3));
        assert_eq!(r.virtuals[0].reals[0].state, "up");
        // The short forms of the CLI.
        let r = parse_report(br#"{"name":"web","running":false,"stale_pid_file":true}"#).unwrap();
        assert_eq!(r.process(), Process::Stopped { stale_pid_file: true });
        let r = parse_report(br#"{"name":"web","running":true,"pid":7}"#).unwrap();
        assert_eq!(r.process(), Process::Running { pid: 7, has_status: false });
        assert!(parse_report(br#"{"running":false}"#).is_err());
        assert!(parse_report(b"rha-ldirectord is stopped").is_err());
    }

    #[test]
    fn error_lines_lose_the_prefix_and_warnings() {
        let out = Output {
            status: std::process::ExitStatus::from_raw(2 << 8),
            stdout: Vec::new(),
            stderr: b"rha-ldirectord: warning: /x.cf:2: fork is accepted\nrha-ldirectord: /x.cf:7: unknown directive \"bogus\"\n"
                .to_vec(),
        };
        assert_eq!(error_text(&out), "/x.cf:7: unknown directive \"bogus\"");
        assert_eq!(warnings(&out), vec!["/x.cf:2: fork is accepted".to_string()]);
    }
}
