//! Running external commands with a time limit and readable errors.
//!
//! Everything the harness does to the system goes through `ip`, `nsenter`, `crm`, ... so the
//! error text of a failed command (what ran, how it ended, what it printed) is the main
//! debugging aid when a lab test fails in CI. Every command has a time limit: a hung cluster
//! tool must fail the test, not hang the run.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Default limit for one command; cluster tools (crm, pcs) can take several seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Exit code, or `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Turns a non-zero exit into an error that shows the whole output.
    pub fn check(self) -> Result<CmdOutput> {
        if self.success() { Ok(self) } else { bail!("{self}") }
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown status".to_string(),
        };
        write!(f, "`{}` ended with {how}", self.cmdline)?;
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let t = text.trim_end();
            if !t.is_empty() {
                write!(f, "\n--- {name} ---\n{t}")?;
            }
        }
        Ok(())
    }
}

/// Builder for one command run.
#[derive(Debug, Clone)]
pub struct Cmd {
    argv: Vec<OsString>,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
    env: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub fn new<S: Into<OsString>>(program: S) -> Cmd {
        Cmd { argv: vec![program.into()], timeout: DEFAULT_TIMEOUT, stdin: None, env: Vec::new() }
    }

    /// `Cmd` from a full argv (`argv[0]` is the program).
    pub fn from_argv<S: AsRef<std::ffi::OsStr>>(argv: &[S]) -> Result<Cmd> {
        let (first, rest) = argv.split_first().context("empty command line")?;
        Ok(Cmd::new(first.as_ref()).args(rest))
    }

    pub fn arg<S: Into<OsString>>(mut self, a: S) -> Cmd {
        self.argv.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.argv.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    pub fn stdin<B: Into<Vec<u8>>>(mut self, input: B) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    pub fn env<K: Into<OsString>, V: Into<OsString>>(mut self, k: K, v: V) -> Cmd {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The command line as a shell-like string, for messages.
    pub fn cmdline(&self) -> String {
        self.argv.iter().map(|a| shell_quote(&a.to_string_lossy())).collect::<Vec<_>>().join(" ")
    }

    /// A plain [`Command`] for the same program, arguments and environment, for callers that
    /// want to inherit stdio (interactive use). Time limit and stdin are not applied.
    pub fn to_command(&self) -> Command {
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..]);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs the command and returns its output whatever the exit status.
    /// Errors only when it cannot be started or exceeds its time limit.
    pub fn run(&self) -> Result<CmdOutput> {
        let cmdline = self.cmdline();
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..])
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so a timeout can kill the whole tree (shells spawn children).
            .process_group(0);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let mut child = c.spawn().map_err(|e| spawn_error(&self.argv[0], &cmdline, e))?;
        if let Some(input) = &self.stdin {
            let mut w = child.stdin.take().expect("piped stdin");
            let input = input.clone();
            // A writer thread: a child that does not read its stdin must not block us.
            thread::spawn(move || {
                let _ = w.write_all(&input);
            });
        }
        let out = read_in_thread(child.stdout.take().expect("piped stdout"));
        let err = read_in_thread(child.stderr.take().expect("piped stderr"));
        let status = match wait_timeout(&mut child, self.timeout)? {
            Some(s) => s,
            None => {
                kill_group(&mut child);
                let grace = Instant::now() + PIPE_GRACE;
                let stdout = out.join(grace);
                let stderr = err.join(grace);
                bail!(
                    "`{cmdline}` did not finish within {:?} and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.timeout,
                    stdout.trim_end(),
                    stderr.trim_end()
                );
            }
        };
        let grace = Instant::now() + PIPE_GRACE;
        Ok(CmdOutput { cmdline, status, stdout: out.join(grace), stderr: err.join(grace) })
    }

    /// Runs the command and fails unless it exits 0.
    pub fn run_ok(&self) -> Result<CmdOutput> {
        self.run()?.check()
    }
}

/// Collects a pipe in a thread. A command may leave a background process holding the pipe open
/// (e.g. `sh -c 'daemon &'`), so after the command exits the collected text is taken after a
/// short grace period instead of waiting for end-of-file forever.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Collector {
    /// The text collected once the pipe is closed, or `deadline` passes.
    fn join(self, deadline: Instant) -> String {
        let _ = self.done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// How long to wait for a pipe's end-of-file after its command ended.
const PIPE_GRACE: Duration = Duration::from_secs(2);

fn read_in_thread<R: Read + Send + 'static>(mut r: R) -> Collector {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = mpsc::channel();
    let b = buf.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => b.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(());
    });
    Collector { buf, done }
}

/// Polls `child` until it exits or `limit` passes (`Ok(None)`).
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(s) = child.try_wait().context("waiting for child")? {
            return Ok(Some(s));
        }
        if start.elapsed() >= limit {
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// SIGKILLs the child's process group (the child was started as a group leader) and reaps it.
pub fn kill_group(child: &mut Child) {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: plain syscall; a negative pid addresses the process group we created.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn spawn_error(program: &OsString, cmdline: &str, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "cannot run `{cmdline}`: program `{}` not found in PATH (is its package installed?)",
            program.to_string_lossy()
        )
    } else {
        anyhow::anyhow!("cannot run `{cmdline}`: {e}")
    }
}

/// Runs `argv` with the default time limit; returns the output whatever the status.
pub fn run<S: AsRef<std::ffi::OsStr>>(argv: &[S]) -> Result<CmdOutput> {
    Cmd::from_argv(argv)?.run()
}

/// Runs `argv` with the default time limit; fails unless it exits 0.
pub fn run_ok<S: AsRef<std::ffi::OsStr>>(argv: &[S]) -> Result<CmdOutput> {
    Cmd::from_argv(argv)?.run_ok()
}

/// Finds `program` in PATH.
/// A `/bin/sh -c` script's output (the VM tests' one-line setup commands).
pub fn sh_script(script: &str) -> std::process::Output {
    Command::new("/bin/sh").args(["-c", script]).output().expect("run /bin/sh")
}

/// [`sh_script`] that must succeed: its stdout, or a panic with the script and both outputs.
pub fn sh_script_ok(script: &str) -> String {
    let o = sh_script(script);
    assert!(
        o.status.success(),
        "{script}: {}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn find_in_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Fails with a message naming the Debian package when a tool the tests need is missing.
/// Tests must fail loudly rather than skip, so CI notices a missing dependency.
pub fn require_tools(tools: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<String> = tools
        .iter()
        .filter(|(t, _)| find_in_path(t).is_none())
        .map(|(t, pkg)| format!("`{t}` (package {pkg})"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        bail!(
            "required tools missing from PATH: {}; install them (apt-get install -y ...)",
            missing.join(", ")
        )
    }
}

/// Fails unless we run as root: namespaces, mounts and cluster daemons need it.
pub fn require_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        bail!("this test needs root (network namespaces, mounts, cluster daemons)")
    }
}

/// Quotes `s` for a POSIX shell when needed (for messages and generated scripts).
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

/// Polls `f` until it returns `Ok(Some(v))` or `limit` passes. The last error or `None` is
/// reported in the timeout message so a failing wait says what it last saw.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        let last = match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() >= limit {
            bail!("timed out after {limit:?} waiting for {what}; last check: {last}");
        }
        thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1/2"), "abc-1/2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn run_reports_status_and_output() {
        let o = run(&["sh", "-c", "echo out; echo err >&2; exit 3"]).unwrap();
        assert_eq!(o.code(), Some(3));
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("exit code 3") && e.contains("err"), "{e}");
    }

    #[test]
    fn timeout_kills() {
        let e = Cmd::new("sh")
            .args(["-c", "sleep 30"])
            .timeout(Duration::from_millis(200))
            .run()
            .unwrap_err()
            .to_string();
        assert!(e.contains("did not finish"), "{e}");
    }

    #[test]
    fn missing_program_is_named() {
        let e = run(&["rha-no-such-tool-xyz"]).unwrap_err().to_string();
        assert!(e.contains("not found in PATH"), "{e}");
    }

    #[test]
    fn background_child_holding_the_pipe_does_not_block() {
        let t = Instant::now();
        let o = run(&["sh", "-c", "echo started; sleep 5 &"]).unwrap();
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(o.stdout, "started\n");
    }

    #[test]
    fn stdin_is_fed() {
        let o = Cmd::new("cat").stdin("hello").run_ok().unwrap();
        assert_eq!(o.stdout, "hello");
    }
}
