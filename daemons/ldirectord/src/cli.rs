//! Upstream ldirectord's command line:
//! `rha-ldirectord [-d|--debug] [--prometheus FILE] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status [--json]|configtest`
//!
//! `configtest` (ours, as apachectl's): parse the file as `start` would, print its warnings,
//! exit 0, or print the first error (`file:line: message`) and exit 2. The OCF agent's
//! validate-all runs it, so agent and daemon never disagree about the grammar.
//!
//! Exit codes as upstream (upstream-agents.md §7): running → start 0, stop 0, reload 0,
//! status 0; not running → stop/try-restart 0, status 1 with a stale pid file else 3,
//! reload 1; a config error 2. Unlike upstream: `start` returns 0 only once the daemon has
//! programmed IPVS and finished its first check round (or non-zero with the reason); `stop`
//! returns only when the daemon has cleaned IPVS and exited; `status` never deletes the pid
//! file (and does not need a valid config); it prints every virtual and real.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::daemon::status::{Status, now};
use crate::daemon::{Command, Daemon, OnReady, Options, Paths, log};
use crate::model::Config;

const USAGE: &str = "usage: rha-ldirectord [-d|--debug] [--prometheus FILE] [--] [configfile] \
start|stop|restart|try-restart|reload|force-reload|status [--json]|configtest";

/// How long `stop` waits for the daemon to clean up and exit.
const STOP_LIMIT: Duration = Duration::from_secs(60);

struct Args {
    debug: bool,
    json: bool,
    /// `--prometheus FILE`: the metrics file the daemon rewrites every second.
    prometheus: Option<PathBuf>,
    /// The configuration as named on the command line (None: upstream's default).
    config: Option<String>,
    cmd: String,
}

fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let (mut debug, mut json, mut pos) = (false, false, Vec::new());
    let mut prometheus = None;
    let mut rest = false;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            _ if rest => pos.push(a.clone()),
            "--" => rest = true,
            "-d" | "--debug" => debug = true,
            "--json" => json = true,
            "--prometheus" => {
                let f = it.next().ok_or("--prometheus needs a file")?;
                prometheus = Some(PathBuf::from(f));
            }
            s if s.starts_with("--prometheus=") => {
                prometheus = Some(PathBuf::from(&s["--prometheus=".len()..]))
            }
            "-h" | "--help" => return Ok(None),
            "-v" | "--version" => {
                println!("rha-ldirectord {}", env!("CARGO_PKG_VERSION"));
                return Err(String::new());
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => pos.push(a.clone()),
        }
    }
    let (config, cmd) = match pos.as_slice() {
        [cmd] => (None, cmd.clone()),
        [cfg, cmd] => (Some(cfg.clone()), cmd.clone()),
        [] => return Err("no command given".into()),
        _ => return Err("too many arguments".into()),
    };
    Ok(Some(Args { debug, json, prometheus, config, cmd }))
}

fn pid_file(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/ldirectord.{name}.pid"))
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Upstream's liveness test: "ldirectord" in /proc/<pid>/cmdline.
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("ldirectord"))
        .unwrap_or(false)
}

fn running(name: &str) -> Option<u32> {
    read_pid(&pid_file(name)).filter(|p| alive(*p))
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) -> Result<(), String> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig)
        .map_err(|e| format!("kill {pid}: {e}"))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) if e.is_empty() => return 0,
        Err(e) => {
            eprintln!("rha-ldirectord: {e}\n{USAGE}");
            return 2;
        }
    };
    let (path, name) = crate::config::lookup(args.config.as_deref());
    match args.cmd.as_str() {
        "start" => start(&path, &name, args.debug, args.prometheus.clone()),
        "stop" => stop(&name),
        "restart" => match stop(&name) {
            0 => start(&path, &name, args.debug, args.prometheus.clone()),
            rc => rc,
        },
        "try-restart" => {
            if running(&name).is_none() {
                return 0;
            }
            match stop(&name) {
                0 => start(&path, &name, args.debug, args.prometheus.clone()),
                rc => rc,
            }
        }
        "reload" | "force-reload" => reload(&path, &name),
        "status" => status(&name, args.json),
        "configtest" => configtest(&path),
        other => {
            eprintln!("rha-ldirectord: unknown command {other:?}\n{USAGE}");
            2
        }
    }
}

/// Parses the file; errors (exit 2) and warnings go to standard error, file:line first.
fn load(path: &Path) -> Result<Config, i32> {
    let c = crate::config::parse_file(path).map_err(|e| {
        eprintln!("rha-ldirectord: {e}");
        2
    })?;
    for w in &c.warnings {
        eprintln!("rha-ldirectord: warning: {w}");
    }
    Ok(c)
}

fn configtest(path: &Path) -> i32 {
    let config = match load(path) {
        Ok(c) => c,
        Err(rc) => return rc,
    };
    println!(
        "{}: syntax OK ({} virtual services, {} real servers)",
        path.display(),
        config.virtuals.len(),
        config.virtuals.iter().map(|v| v.reals.len()).sum::<usize>()
    );
    0
}

fn start(path: &Path, name: &str, debug: bool, prometheus: Option<PathBuf>) -> i32 {
    if let Some(pid) = running(name) {
        println!("rha-ldirectord for {} is running with pid {pid}", path.display());
        return 0;
    }
    let config = match load(path) {
        Ok(c) => c,
        Err(rc) => return rc,
    };
    let mut opts = Options::new(Paths::new(name));
    opts.metrics_file = prometheus;
    if debug || config.globals.supervised {
        // Foreground, no pid file (as upstream).
        log::init(&config.globals.logfile, true, debug);
        return run_daemon(config, opts, None, None);
    }
    // The first round takes at most one interval plus the check's timeout.
    let limit = config
        .virtuals
        .iter()
        .map(|v| v.check_interval + v.check.check_timeout.max(v.check.negotiate_timeout))
        .max()
        .unwrap_or_default()
        + Duration::from_secs(30);
    match daemonise(config, opts, name, limit) {
        Ok(pid) => {
            println!("rha-ldirectord for {} started, pid {pid}, first check round done", path.display());
            0
        }
        Err(e) => {
            eprintln!("rha-ldirectord: start failed: {e}");
            1
        }
    }
}

/// Double fork + setsid, stdio to /dev/null; the grandchild writes the pid file and runs the
/// daemon. The parent waits (bounded) on a pipe for "ok" (first round done) or the error.
fn daemonise(config: Config, opts: Options, name: &str, limit: Duration) -> Result<u32, String> {
    use nix::unistd::{ForkResult, fork, setsid};
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: single-threaded here (no runtime yet); the children only exec our own code.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => {
            drop(wr);
            let _ = nix::sys::wait::waitpid(child, None);
            wait_ready(rd, limit, name)
        }
        ForkResult::Child => {
            drop(rd);
            let _ = setsid();
            // SAFETY: as above.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => std::process::exit(0),
                Ok(ForkResult::Child) => {}
                Err(_) => std::process::exit(1),
            }
            let _ = std::env::set_current_dir("/");
            if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
                for fd in 0..3 {
                    // SAFETY: duplicating a valid descriptor onto stdio.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
            log::init(&config.globals.logfile, false, false);
            let pidf = pid_file(name);
            if let Err(e) = std::fs::write(&pidf, format!("{}\n", std::process::id())) {
                let mut w = std::fs::File::from(wr);
                let _ = writeln!(w, "error: cannot write {}: {e}", pidf.display());
                std::process::exit(1);
            }
            let rc = run_daemon(config, opts, Some(wr), Some(&pidf));
            std::process::exit(rc)
        }
    }
}

fn wait_ready(rd: OwnedFd, limit: Duration, name: &str) -> Result<u32, String> {
    let mut f = std::fs::File::from(rd);
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("the first check round did not finish within {} s", limit.as_secs()));
        }
        let mut pfd = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&f), nix::poll::PollFlags::POLLIN)];
        let ms = left.as_millis().min(60_000) as u16;
        let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms));
        if pfd[0].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let n = f.read(&mut chunk).map_err(|e| format!("reading from the daemon: {e}"))?;
        if n == 0 {
            let text = String::from_utf8_lossy(&buf).trim().to_string();
            return Err(if text.is_empty() { "the daemon exited during start-up".into() } else { text });
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(line) = text.lines().next()
            && text.contains('\n')
        {
            return match line.strip_prefix("error: ") {
                Some(e) => Err(e.to_string()),
                None => read_pid(&pid_file(name)).ok_or_else(|| "no pid file".into()),
            };
        }
    }
}

/// Runs the daemon in this process until it stops; returns the exit code.
fn run_daemon(config: Config, opts: Options, ready: Option<OwnedFd>, pidf: Option<&Path>) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            log::error(&format!("cannot start the runtime: {e}"));
            return 1;
        }
    };
    let pipe = ready.map(std::fs::File::from);
    let pipe2 = pipe.as_ref().and_then(|f| f.try_clone().ok());
    let on_ready: Option<OnReady> = pipe.map(|mut f| {
        Box::new(move |r: Result<(), String>| {
            let _ = match r {
                Ok(()) => writeln!(f, "ok"),
                Err(e) => writeln!(f, "error: {e}"),
            };
        }) as OnReady
    });
    let rc = rt.block_on(async move {
        let d = match Daemon::start(config, opts, on_ready) {
            Ok(d) => d,
            Err(e) => {
                log::error(&format!("cannot start: {e}"));
                if let Some(mut f) = pipe2 {
                    let _ = writeln!(f, "error: {e}");
                }
                return 1;
            }
        };
        drop(pipe2);
        let (_tx, rx) = tokio::sync::mpsc::channel::<Command>(1);
        match d.run(rx).await {
            Ok(()) => 0,
            Err(e) => {
                log::error(&e);
                1
            }
        }
    });
    if let Some(p) = pidf {
        let _ = std::fs::remove_file(p);
    }
    rc
}

fn stop(name: &str) -> i32 {
    let Some(pid) = running(name) else {
        return 0;
    };
    if let Err(e) = signal(pid, nix::sys::signal::Signal::SIGTERM) {
        eprintln!("rha-ldirectord: {e}");
        return 1;
    }
    let deadline = Instant::now() + STOP_LIMIT;
    while alive(pid) {
        if Instant::now() > deadline {
            eprintln!("rha-ldirectord: pid {pid} did not exit within {} s of SIGTERM", STOP_LIMIT.as_secs());
            return 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    0
}

fn reload(path: &Path, name: &str) -> i32 {
    let Some(pid) = running(name) else {
        eprintln!("rha-ldirectord for {} is not running", path.display());
        return 1;
    };
    // Say what is wrong here; the daemon would keep its running config anyway.
    if let Err(rc) = load(path) {
        return rc;
    }
    match signal(pid, nix::sys::signal::Signal::SIGHUP) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rha-ldirectord: {e}");
            1
        }
    }
}

fn status(name: &str, json: bool) -> i32 {
    let pidf = pid_file(name);
    let Some(pid) = running(name) else {
        let stale = pidf.exists();
        if json {
            println!("{}", serde_json::json!({"name": name, "running": false, "stale_pid_file": stale}));
        } else if stale {
            println!("rha-ldirectord stale pid file {}", pidf.display());
        } else {
            println!("rha-ldirectord for {name} is stopped");
        }
        return if stale { 1 } else { 3 };
    };
    let st = Status::read(&Paths::new(name).status()).ok().filter(|s| s.pid == pid);
    match (st, json) {
        (Some(s), true) => println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default()),
        (Some(s), false) => {
            println!("rha-ldirectord for {name} is running with pid {pid}");
            print!("{}", s.render(now()));
        }
        (None, true) => println!("{}", serde_json::json!({"name": name, "running": true, "pid": pid})),
        (None, false) => {
            println!("rha-ldirectord for {name} is running with pid {pid} (no status written yet)")
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments_parse_as_upstream() {
        let x = a(&["start"]).unwrap().unwrap();
        assert_eq!((x.config.as_deref(), x.cmd.as_str(), x.debug), (None, "start", false));
        let x = a(&["-d", "web.cf", "status", "--json"]).unwrap().unwrap();
        assert_eq!(
            (x.config.as_deref(), x.cmd.as_str(), x.debug, x.json),
            (Some("web.cf"), "status", true, true)
        );
        let x = a(&["--", "/tmp/x.cf", "stop"]).unwrap().unwrap();
        assert_eq!(x.config.as_deref(), Some("/tmp/x.cf"));
        assert!(a(&[]).is_err());
        assert!(a(&["a", "b", "c"]).is_err());
        assert!(a(&["-x", "start"]).is_err());
        assert!(a(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn names_and_pid_files_follow_upstream() {
        assert_eq!(pid_file("ldirectord"), PathBuf::from("/run/ldirectord.ldirectord.pid"));
        // `rha-ldirectord /etc/ha.d/web.cf start` is instance web.cf, as upstream's $CFGNAME.
        assert_eq!(
            pid_file(&crate::config::lookup(Some("/etc/ha.d/web.cf")).1),
            PathBuf::from("/run/ldirectord.web.cf.pid")
        );
        assert!(!alive(u32::MAX));
    }
}
