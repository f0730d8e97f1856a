//! Running an agent the way Pacemaker's executor does: a clean environment with the
//! `OCF_RESKEY_*` parameters, its own process group (a timeout SIGKILLs the whole group), and
//! stdout/stderr collected in files (a daemon the agent leaves behind must not hold us up).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rha_harness::cmd::{find_in_path, wait_timeout};

/// What the executor passes as PATH (ocf-shim never relies on it; helpers such as `ip` do).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Pacemaker's default operation timeout, in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// Where an agent runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The test's own namespaces (only for agents that touch nothing there).
    Host,
    /// A network namespace, entered with `ip netns exec` (which also gives a private mount
    /// namespace with the namespace's /sys).
    Netns(String),
    /// The network and mount namespaces of a process (a [`crate::Sandbox`]'s holder), entered
    /// with `nsenter -t PID -m -n`.
    Namespaces(u32),
}

/// What one agent invocation did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The agent's name and the action, for messages (`IPaddr2 monitor (probe)`).
    pub action: String,
    /// The exit code; `128 + N` when killed by signal N (as a shell reports it).
    pub code: i32,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The text of the (last) `ocf-exit-reason:` line, if any.
    pub exit_reason: Option<String>,
    pub duration: Duration,
    /// True when the harness killed it for exceeding its own limit.
    pub overran: bool,
}

impl Outcome {
    /// Every `ocf-exit-reason:` line's text.
    pub fn reasons(&self) -> Vec<&str> {
        self.stderr.lines().filter_map(|l| l.strip_prefix("ocf-exit-reason:")).collect()
    }

    /// The reason or "".
    pub fn why(&self) -> &str {
        self.exit_reason.as_deref().unwrap_or("")
    }

    /// Signs of a Rust panic (the shim maps them to exit 1 with "internal error").
    pub fn panicked(&self) -> bool {
        self.stderr.contains("panicked at") || self.stderr.contains("internal error")
    }

    /// A defined OCF code: 0..=9 and not a signal.
    pub fn defined(&self) -> bool {
        self.signal.is_none() && (0..=9).contains(&self.code)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.signal {
            Some(s) => write!(f, "{} killed by signal {s} after {:?}", self.action, self.duration)?,
            None => write!(f, "{} exited {} after {:?}", self.action, self.code, self.duration)?,
        }
        if self.overran {
            write!(f, " (killed by the test harness: it overran its limit)")?;
        }
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let t = text.trim_end();
            if !t.is_empty() {
                // Keep messages readable when an agent echoes a 128 KiB value.
                let shown: String = t.chars().take(4000).collect();
                let cut = if shown.len() < t.len() { "\n[... cut]" } else { "" };
                write!(f, "\n--- {name} ---\n{shown}{cut}")?;
            }
        }
        Ok(())
    }
}

/// An agent binary with its instance: parameters, environment and where it runs.
#[derive(Clone, Debug)]
pub struct AgentUnderTest {
    /// The agent's name (for messages and `OCF_RESOURCE_TYPE`).
    pub name: String,
    pub binary: PathBuf,
    pub place: Place,
    /// `OCF_RESOURCE_INSTANCE`.
    pub instance: String,
    /// Instance parameters, without the `OCF_RESKEY_` prefix. Values may be any bytes but NUL.
    pub params: Vec<(String, OsString)>,
    /// More environment (after the defaults, before the per-run extras).
    pub env: Vec<(OsString, OsString)>,
    /// The harness's own limit for one run; an agent still running then is SIGKILLed and the
    /// outcome says so (Pacemaker would have done the same at its timeout).
    pub limit: Duration,
}

impl AgentUnderTest {
    pub fn new(name: &str, binary: impl Into<PathBuf>, place: Place) -> AgentUnderTest {
        AgentUnderTest {
            name: name.to_string(),
            binary: binary.into(),
            place,
            instance: "rsc".to_string(),
            params: Vec::new(),
            env: Vec::new(),
            limit: Duration::from_secs(90),
        }
    }

    /// Sets the resource instance name.
    pub fn instance(mut self, name: &str) -> Self {
        self.instance = name.to_string();
        self
    }

    /// Sets (replaces) a parameter.
    pub fn param(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.into()));
        self
    }

    /// Removes a parameter.
    pub fn without(mut self, name: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self
    }

    /// Sets (replaces) an environment variable.
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs somewhere else.
    pub fn at(mut self, place: Place) -> Self {
        self.place = place;
        self
    }

    /// The command for `action`, with `extra` environment last.
    pub fn command(&self, action: &str, extra: &[(&OsStr, &OsStr)]) -> Command {
        let mut c = match &self.place {
            Place::Host => Command::new(&self.binary),
            Place::Netns(ns) => {
                let mut c = Command::new(find_in_path("ip").unwrap_or_else(|| "/usr/sbin/ip".into()));
                c.args(["netns", "exec", ns]).arg(&self.binary);
                c
            }
            Place::Namespaces(pid) => {
                let mut c =
                    Command::new(find_in_path("nsenter").unwrap_or_else(|| "/usr/bin/nsenter".into()));
                c.args(["-t", &pid.to_string(), "-m", "-n", "--"]).arg(&self.binary);
                c
            }
        };
        c.arg(action).env_clear();
        c.env("PATH", SYSTEM_PATH)
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", &self.instance)
            .env("OCF_RESOURCE_TYPE", &self.name)
            .env("OCF_RESOURCE_PROVIDER", "rha")
            .env("OCF_RESKEY_CRM_meta_timeout", DEFAULT_TIMEOUT_MS.to_string());
        for (k, v) in &self.params {
            c.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).process_group(0);
        c
    }

    /// Starts `action` without waiting (to kill it, or to race it against another).
    pub fn spawn(&self, action: &str, extra: &[(&str, &str)]) -> Result<Running, String> {
        let extra: Vec<(&OsStr, &OsStr)> =
            extra.iter().map(|(k, v)| (OsStr::new(*k), OsStr::new(*v))).collect();
        self.spawn_os(action, &extra)
    }

    /// [`AgentUnderTest::spawn`] with environment values that may not be UTF-8.
    pub fn spawn_os(&self, action: &str, extra: &[(&OsStr, &OsStr)]) -> Result<Running, String> {
        let out = tempfile::Builder::new().prefix("rha-run-").tempdir().map_err(|e| e.to_string())?;
        let (o, e) = (out.path().join("stdout"), out.path().join("stderr"));
        let mut c = self.command(action, extra);
        c.stdout(File::create(&o).map_err(|e| e.to_string())?);
        c.stderr(File::create(&e).map_err(|e| e.to_string())?);
        let label = label(&self.name, action, extra);
        let started = Instant::now();
        let child = c.spawn().map_err(|e| format!("{label}: cannot run {}: {e}", self.binary.display()))?;
        Ok(Running { child, started, label, out, limit: self.limit })
    }

    /// Runs `action` with `extra` environment and waits for it.
    pub fn run(&self, action: &str, extra: &[(&str, &str)]) -> Outcome {
        self.spawn(action, extra).map(Running::wait).unwrap_or_else(|e| spawn_failure(&self.name, action, e))
    }

    /// [`AgentUnderTest::run`] with environment values that may not be UTF-8.
    pub fn run_os(&self, action: &str, extra: &[(&OsStr, &OsStr)]) -> Outcome {
        self.spawn_os(action, extra)
            .map(Running::wait)
            .unwrap_or_else(|e| spawn_failure(&self.name, action, e))
    }

    pub fn start(&self) -> Outcome {
        self.run("start", &[])
    }

    pub fn stop(&self) -> Outcome {
        self.run("stop", &[])
    }

    /// A recurring monitor (interval 10 s).
    pub fn monitor(&self) -> Outcome {
        self.run("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
    }

    /// A probe: monitor at interval 0.
    pub fn probe(&self) -> Outcome {
        self.run("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }

    /// The deprecated status action (recurring).
    pub fn status(&self) -> Outcome {
        self.run("status", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
    }

    pub fn validate(&self) -> Outcome {
        self.run("validate-all", &[])
    }

    /// The parameter names the agent's meta-data declares.
    pub fn parameter_names(&self) -> Result<Vec<String>, String> {
        let o = self.at_host_with_no_env().run("meta-data", &[]);
        if o.code != 0 {
            return Err(format!("meta-data failed: {o}"));
        }
        crate::metadata::parameter_names(&o.stdout)
    }

    fn at_host_with_no_env(&self) -> AgentUnderTest {
        AgentUnderTest { params: Vec::new(), env: Vec::new(), ..self.clone() }
    }
}

fn label(name: &str, action: &str, extra: &[(&OsStr, &OsStr)]) -> String {
    let interval = extra.iter().rev().find(|(k, _)| *k == "OCF_RESKEY_CRM_meta_interval").map(|(_, v)| *v);
    match (action, interval) {
        ("monitor" | "status", Some(v)) if v.as_bytes() == b"0" => format!("{name} {action} (probe)"),
        ("monitor" | "status", Some(_)) => format!("{name} {action} (recurring)"),
        _ => format!("{name} {action}"),
    }
}

fn spawn_failure(name: &str, action: &str, e: String) -> Outcome {
    Outcome {
        action: format!("{name} {action}"),
        code: -1,
        signal: None,
        stdout: String::new(),
        stderr: format!("(the test harness could not run the agent: {e})"),
        exit_reason: None,
        duration: Duration::ZERO,
        overran: false,
    }
}

/// An agent run in progress.
pub struct Running {
    child: Child,
    started: Instant,
    label: String,
    out: tempfile::TempDir,
    limit: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Whether it has ended (without reaping it for good: [`Running::wait`] still works).
    pub fn finished(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILLs the agent's whole process group, as Pacemaker does on a timeout. Children that
    /// left the group (daemons in their own session) are not touched.
    pub fn kill_group(&mut self) {
        // SAFETY: plain syscall; the child is the leader of its own process group.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
    }

    /// Waits for the end (the harness's limit applies) and collects the outcome.
    pub fn wait(mut self) -> Outcome {
        let left = self.limit.saturating_sub(self.started.elapsed());
        let (status, overran) = match wait_timeout(&mut self.child, left) {
            Ok(Some(s)) => (Some(s), false),
            _ => {
                self.kill_group();
                (self.child.wait().ok(), true)
            }
        };
        let duration = self.started.elapsed();
        let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        let stdout = read(&self.out.path().join("stdout"));
        let stderr = read(&self.out.path().join("stderr"));
        let (code, signal) = match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => (c, None),
                (None, Some(sig)) => (128 + sig, Some(sig)),
                _ => (-1, None),
            },
            None => (-1, None),
        };
        let exit_reason =
            stderr.lines().rev().find_map(|l| l.strip_prefix("ocf-exit-reason:")).map(str::to_string);
        Outcome { action: self.label, code, signal, stdout, stderr, exit_reason, duration, overran }
    }
}
