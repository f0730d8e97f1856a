//! Processes: absolute binary lookup, pid files, liveness, detached daemons.
//!
//! Under pcs an agent may run with no `PATH` at all, so binaries are found in a fixed list of
//! system directories, never through the caller's `PATH`; children get a sane `PATH` too.

use std::io;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::deadline::Deadline;

/// Where system binaries live, in the order a root shell on Debian or RHEL searches them.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find `name` in the system directories (or use it as is when it is an absolute path).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    which::which_in(name, Some(SYSTEM_PATH), "/").ok()
}

/// A regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A `Command` for `program` whose environment has `PATH` set to the system path when the
/// caller gave none (pcs runs agents with an empty environment).
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    if std::env::var_os("PATH").is_none_or(|p| p.is_empty()) {
        c.env("PATH", SYSTEM_PATH);
    }
    c
}

/// Start a long-lived child in its own session, so Pacemaker's SIGKILL of the agent's
/// process group on a timeout does not take the service down with it.
pub fn spawn_detached(mut cmd: Command) -> io::Result<u32> {
    cmd.stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(io::Error::from));
    }
    let child = cmd.spawn()?;
    Ok(child.id())
}

/// Read a pid file: `Ok(None)` when missing, empty or not a positive number.
pub fn read_pidfile(path: &Path) -> io::Result<Option<i32>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.split_whitespace().next().and_then(|t| t.parse::<i32>().ok()).filter(|&p| p > 0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write a pid file atomically.
pub fn write_pidfile(path: &Path, pid: u32) -> io::Result<()> {
    crate::state::write_atomic(path, format!("{pid}\n").as_bytes())
}

/// Whether a process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

fn is_zombie(pid: i32) -> bool {
    // /proc/<pid>/stat: "pid (comm) S ..." — comm may contain spaces and parentheses.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The executable of a process (`/proc/<pid>/exe`), to tell our process from a reused pid.
pub fn proc_exe(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The command line of a process, split at NULs.
pub fn proc_cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// Send a signal; a process that is already gone is not an error.
pub fn signal(pid: i32, sig: Signal) -> io::Result<()> {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Wait until `pid` is gone or the deadline passes; true if gone.
pub fn wait_gone(pid: i32, deadline: &Deadline) -> bool {
    deadline.wait_for(Duration::from_millis(20), || !pid_alive(pid))
}

/// Run a short-lived tool to completion within `deadline`, with `input` on its standard input.
/// `Ok(None)` when it overran the deadline and was killed.
///
/// Input is written and both outputs are read while the tool runs (one poll loop, no
/// threads): a tool that prints more than a pipe holds (64 KiB: `status --json` of a
/// thousand reals, an error quoting a huge value) would otherwise block on its write until the
/// deadline, and a large input could block us forever. Each output keeps its first
/// [`OUTPUT_CAP`] bytes; the rest is read and dropped so the tool never blocks. Output still
/// unread when the tool has exited (a daemon it started holding the pipe open) is read until
/// the pipe is empty, never waited for.
pub fn run_bounded(mut cmd: Command, input: &[u8], deadline: &Deadline) -> io::Result<Option<Output>> {
    use std::os::fd::AsRawFd;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take();
    let as_file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
    let mut out_pipe = child.stdout.take().map(|p| as_file(p.into()));
    let mut err_pipe = child.stderr.take().map(|p| as_file(p.into()));
    for fd in [stdin.as_ref().map(|p| p.as_raw_fd()), out_pipe.as_ref().map(|p| p.as_raw_fd())]
        .into_iter()
        .chain([err_pipe.as_ref().map(|p| p.as_raw_fd())])
        .flatten()
    {
        set_nonblocking(fd)?;
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut written = 0;
    if input.is_empty() {
        stdin = None;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let status = loop {
        let exited = child.try_wait()?;
        let mut fds = Vec::with_capacity(3);
        if let Some(p) = &stdin {
            fds.push(libc::pollfd { fd: p.as_raw_fd(), events: libc::POLLOUT, revents: 0 });
        }
        for p in [out_pipe.as_ref().map(|p| p.as_raw_fd()), err_pipe.as_ref().map(|p| p.as_raw_fd())]
            .into_iter()
            .flatten()
        {
            fds.push(libc::pollfd { fd: p, events: libc::POLLIN, revents: 0 });
        }
        if exited.is_none() && deadline.expired() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        // Short waits: the child's exit is seen by try_wait, not by poll.
        let wait_ms = if exited.is_some() { 0 } else { 2 };
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if let Some(p) = stdin.as_mut() {
            match p.write(&input[written..]) {
                Ok(k) => written += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                }
                // A tool that exits without reading everything closes the pipe: its status tells.
                Err(_) => written = input.len(),
            }
            if written >= input.len() {
                stdin = None; // closing it: the tool sees end of input
            }
        }
        let mut progress = false;
        for (pipe, sink) in [(&mut out_pipe, &mut stdout), (&mut err_pipe, &mut stderr)] {
            if let Some(p) = pipe.as_mut() {
                match p.read(&mut buf) {
                    Ok(0) => *pipe = None,
                    Ok(k) => {
                        progress = true;
                        let keep = k.min(OUTPUT_CAP.saturating_sub(sink.len()));
                        sink.extend_from_slice(&buf[..keep]);
                    }
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(s) = exited {
            // Exited: keep reading while there is something to read, then stop (an open pipe
            // held by a grandchild is not waited for).
            if !progress || (out_pipe.is_none() && err_pipe.is_none()) {
                break s;
            }
        }
    };
    Ok(Some(Output { status, stdout, stderr }))
}

/// How much of each output stream [`run_bounded`] keeps.
pub const OUTPUT_CAP: usize = 16 * 1024 * 1024;

fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a pipe fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_binaries_without_path() {
        assert!(find_binary("sh").is_some());
        assert!(find_binary("/bin/sh").is_some());
        assert!(find_binary("/nonexistent/x").is_none());
        assert!(find_binary("surely-no-such-binary-rha").is_none());
    }

    #[test]
    fn bounded_runs() {
        let far = Deadline::after(Duration::from_secs(10));
        let mut sh = command("/bin/sh");
        sh.args(["-c", "cat; echo err >&2; exit 3"]);
        let out = run_bounded(sh, b"in", &far).unwrap().unwrap();
        assert_eq!(
            (out.status.code(), &out.stdout[..], &out.stderr[..]),
            (Some(3), &b"in"[..], &b"err\n"[..])
        );
        // More output than a pipe holds, on both streams, and more input than it holds.
        let mut big = command("/bin/sh");
        big.args(["-c", "head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2; wc -c"]);
        let input = vec![b'x'; 500_000];
        let t = std::time::Instant::now();
        let out = run_bounded(big, &input, &far).unwrap().expect("finished within the deadline");
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
        assert_eq!((out.stdout.len(), out.stderr.len()), (1_000_000 + "500000\n".len(), 300_000));
        assert!(out.stdout.ends_with(b"500000\n"));
        // A grandchild holding the pipe open is not waited for.
        let mut bg = command("/bin/sh");
        bg.args(["-c", "sleep 5 & echo started"]);
        let t = std::time::Instant::now();
        let out = run_bounded(bg, b"", &far).unwrap().unwrap();
        assert!(t.elapsed() < Duration::from_secs(3), "waited for the grandchild: {:?}", t.elapsed());
        assert_eq!(out.stdout, b"started\n");
        let near = Deadline::after(Duration::from_millis(100));
        let mut sleep = command("/bin/sleep");
        sleep.arg("5");
        assert!(run_bounded(sleep, b"", &near).unwrap().is_none());
    }

    #[test]
    fn pidfiles() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.pid");
        assert_eq!(read_pidfile(&p).unwrap(), None);
        write_pidfile(&p, 42).unwrap();
        assert_eq!(read_pidfile(&p).unwrap(), Some(42));
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(read_pidfile(&p).unwrap(), None);
    }

    #[test]
    fn liveness_and_detached_children() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        let mut cmd = command("sleep");
        cmd.arg("5");
        let pid = spawn_detached(cmd).unwrap() as i32;
        assert!(pid_alive(pid));
        // The child leads its own session: it is not in our process group.
        assert_eq!(nix::unistd::getsid(Some(Pid::from_raw(pid))).unwrap(), Pid::from_raw(pid));
        signal(pid, Signal::SIGKILL).unwrap();
        // Reap it (it is still our child) so it does not linger as a zombie.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        assert!(wait_gone(pid, &Deadline::after(Duration::from_secs(2))));
    }
}
