//! The httpd binary: finding it, the command line the agent runs it with, `httpd -t`, launching
//! the server, and turning its messages into an exit reason.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use ocf_shim::process::{find_binary, is_executable};
use ocf_shim::{Deadline, OcfError, OcfResult};

use crate::instance::{ALWAYS_DEFINED, Instance, TAG_VAR};

/// Where upstream looks for httpd, in its order (SUSE, Debian, RHEL, generic).
pub const CANDIDATES: &[&str] = &[
    "/sbin/httpd2",
    "/usr/sbin/httpd2",
    "/usr/sbin/apache2",
    "/sbin/httpd",
    "/usr/sbin/httpd",
    "/usr/sbin/apache",
];

/// The binary named by the `httpd` parameter (which must then exist), else the first candidate.
pub fn find(param: Option<&Path>) -> Result<PathBuf, OcfError> {
    match param {
        Some(p) => {
            let found = if p.is_absolute() {
                is_executable(p).then(|| p.to_path_buf())
            } else {
                p.to_str().and_then(find_binary)
            };
            found.ok_or_else(|| {
                OcfError::installed(format!("httpd {} does not exist or is not executable", p.display()))
            })
        }
        None => CANDIDATES
            .iter()
            .map(Path::new)
            .find(|p| is_executable(p))
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                OcfError::installed(format!("no httpd binary found (looked for {})", CANDIDATES.join(", ")))
            }),
    }
}

/// httpd's compiled-in ServerRoot, from the distribution its binary name betrays.
pub fn default_server_root(httpd: Option<&Path>, configfile: &Path) -> PathBuf {
    let name = httpd.and_then(|h| h.file_name()).and_then(|n| n.to_str()).unwrap_or("");
    let by_config = || {
        let s = configfile.to_string_lossy();
        if s.starts_with("/etc/apache2") {
            PathBuf::from("/etc/apache2")
        } else if s.starts_with("/etc/httpd/") {
            PathBuf::from("/etc/httpd")
        } else {
            configfile.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
        }
    };
    match name {
        "apache2" => PathBuf::from("/etc/apache2"),
        "httpd2" => PathBuf::from("/srv/www"),
        "httpd" => PathBuf::from("/etc/httpd"),
        _ => by_config(),
    }
}

/// httpd's arguments: `-DSTATUS -DFOREGROUND [options] -f CONFIG [-c "PidFile X"]`.
pub fn args(inst: &Instance) -> Vec<OsString> {
    let mut a: Vec<OsString> = ALWAYS_DEFINED.iter().map(|d| OsString::from(format!("-D{d}"))).collect();
    a.extend(inst.options.iter().map(OsString::from));
    a.push("-f".into());
    a.push(inst.configfile.clone().into_os_string());
    if inst.forced_pid_file
        && let Some(p) = &inst.pid_file
    {
        a.push("-c".into());
        a.push(format!("PidFile {}", p.display()).into());
    }
    a
}

/// A command running httpd with the instance's environment and marker.
fn command(inst: &Instance, httpd: &Path) -> Command {
    let mut c = Command::new(httpd);
    c.env_clear().envs(&inst.env).env(TAG_VAR, inst.tag_value()).args(args(inst)).stdin(Stdio::null());
    c
}

/// `httpd -t` with the real command line: a broken configuration fails here, fast, with
/// httpd's own words.
pub fn configtest(inst: &Instance, httpd: &Path, deadline: &Deadline) -> OcfResult<()> {
    let mut cmd = command(inst, httpd);
    cmd.arg("-t").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child =
        cmd.spawn().map_err(|e| OcfError::installed(format!("cannot run {}: {e}", httpd.display())))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, deadline);
    let text = format!("{}{}", join(err), join(out));
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(OcfError::installed(format!(
            "configuration test failed ({}): {}",
            describe_status(s),
            summarize(&text).unwrap_or_else(|| "no message".into())
        ))),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(OcfError::generic("configuration test (httpd -t) did not finish in time"))
        }
    }
}

/// Start httpd in its own session, in the foreground (so it stays the session leader and the
/// agent sees its exit status while starting). Its early messages go to `stderr_file`.
pub fn launch(inst: &Instance, httpd: &Path, stderr_file: &Path) -> std::io::Result<Child> {
    let mut cmd = command(inst, httpd);
    let errfile = std::fs::File::create(stderr_file)?;
    cmd.stdout(Stdio::null()).stderr(errfile);
    // SAFETY: setsid() is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    cmd.spawn()
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> Option<std::thread::JoinHandle<Vec<u8>>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.by_ref().take(1 << 20).read_to_end(&mut buf);
            buf
        })
    })
}

fn join(h: Option<std::thread::JoinHandle<Vec<u8>>>) -> String {
    h.and_then(|h| h.join().ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// Wait for a child until the deadline; `None` if it is still running.
pub fn wait_bounded(child: &mut Child, deadline: &Deadline) -> Option<ExitStatus> {
    let mut status = None;
    deadline.wait_for(Duration::from_millis(5), || match child.try_wait() {
        Ok(Some(s)) => {
            status = Some(s);
            true
        }
        Ok(None) => false,
        Err(_) => true,
    });
    status
}

pub fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".into(),
    }
}

/// Messages httpd prints on every start that say nothing about a failure.
fn is_noise(line: &str) -> bool {
    line.is_empty()
        || line == "Syntax OK"
        || line.contains("AH00558")
        || line.starts_with("Action '")
        || line.starts_with("The Apache error log may have more information")
}

/// httpd's own messages made into one exit-reason line: the meaningful lines, joined.
pub fn summarize(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !is_noise(l)).collect();
    if lines.is_empty() {
        return None;
    }
    let mut s = String::new();
    for (i, l) in lines.iter().take(4).enumerate() {
        if i > 0 {
            // "Syntax error on line 3 of x.conf:" continues on the next line.
            s.push_str(if s.ends_with(':') { " " } else { "; " });
        }
        s.push_str(l);
    }
    if s.chars().count() > 400 {
        s = s.chars().take(400).collect::<String>() + "…";
    }
    Some(s)
}

/// Error-level lines that appeared in the error log after `offset`, without their
/// `[time] [module:level] [pid]` prefixes.
pub fn error_log_since(path: &Path, offset: u64) -> Option<String> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::new();
    f.take(256 << 10).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let msgs: Vec<String> = text
        .lines()
        .filter(|l| [":emerg]", ":alert]", ":crit]", ":error]"].iter().any(|lvl| l.contains(lvl)))
        .map(strip_log_prefix)
        .collect();
    summarize(&msgs.join("\n"))
}

fn strip_log_prefix(line: &str) -> String {
    let mut rest = line.trim();
    while rest.starts_with('[') {
        match rest.find("] ") {
            Some(i) => rest = rest[i + 2..].trim_start(),
            None => break,
        }
    }
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let text = "AH00558: apache2: Could not reliably determine the server's fully qualified domain name\n\
                    (98)Address already in use: AH00072: make_sock: could not bind to address [::]:80\n\
                    no listening sockets available, shutting down\nAH00015: Unable to open logs\n";
        let s = summarize(text).unwrap();
        assert!(s.starts_with("(98)Address already in use"), "{s}");
        assert!(!s.contains("AH00558") && !s.contains('\n'));
        assert_eq!(summarize("Syntax OK\n\n"), None);
        assert_eq!(
            summarize("AH00526: Syntax error on line 2 of /x.conf:\nInvalid command 'X'").unwrap(),
            "AH00526: Syntax error on line 2 of /x.conf: Invalid command 'X'"
        );
        assert_eq!(
            strip_log_prefix("[Sun Nov 22 00:19:55.562157 2026] [core:error] [pid 1:tid 1] AH00001: boom"),
            "AH00001: boom"
        );
    }

    #[test]
    fn finding_httpd() {
        assert_eq!(
            find(Some(Path::new("/nonexistent/httpd"))).unwrap_err().code,
            ocf_shim::OcfCode::ErrInstalled
        );
        assert!(find(Some(Path::new("/bin/sh"))).is_ok());
        assert_eq!(
            default_server_root(Some(Path::new("/usr/sbin/apache2")), Path::new("/x/y.conf")),
            PathBuf::from("/etc/apache2")
        );
        assert_eq!(
            default_server_root(None, Path::new("/etc/httpd/conf/httpd.conf")),
            PathBuf::from("/etc/httpd")
        );
        assert_eq!(default_server_root(None, Path::new("/opt/web/httpd.conf")), PathBuf::from("/opt/web"));
    }
}
