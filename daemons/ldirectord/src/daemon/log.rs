//! Log lines: to the config's `logfile` (a file, or a syslog facility), or to stderr in the
//! foreground (`-d`, `supervised`). Every state change names the real, its virtual, the check
//! and the reason.

use std::ffi::CString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::model::LogTarget;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

enum Sink {
    Stderr,
    File(PathBuf),
    Syslog,
}

struct Logger {
    sink: Sink,
    debug: bool,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger { sink: Sink::Stderr, debug: false });

/// Where log lines go from now on. `foreground` (`-d`, supervised) logs to stderr as well as
/// upstream does to stdout; `debug` adds debug lines.
pub fn init(target: &LogTarget, foreground: bool, debug: bool) {
    let sink = if foreground {
        Sink::Stderr
    } else {
        match target {
            LogTarget::File(p) => Sink::File(p.clone()),
            LogTarget::Syslog(facility) => {
                // openlog keeps the pointer: the ident must live as long as the process.
                let ident: &'static CString = Box::leak(Box::new(CString::new("rha-ldirectord").unwrap()));
                // SAFETY: ident is a valid NUL-terminated string that is never freed.
                unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, facility_number(facility)) };
                Sink::Syslog
            }
        }
    };
    let mut l = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    l.sink = sink;
    l.debug = debug;
}

fn facility_number(name: &str) -> libc::c_int {
    match name {
        "kern" => libc::LOG_KERN,
        "user" => libc::LOG_USER,
        "mail" => libc::LOG_MAIL,
        "auth" => libc::LOG_AUTH,
        "syslog" => libc::LOG_SYSLOG,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => libc::LOG_DAEMON,
    }
}

pub fn log(level: Level, msg: &str) {
    let l = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    if level == Level::Debug && !l.debug {
        return;
    }
    let tag = match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warning",
        Level::Error => "error",
    };
    match &l.sink {
        Sink::Stderr => {
            let _ = writeln!(std::io::stderr(), "rha-ldirectord[{}]: {tag}: {msg}", std::process::id());
        }
        Sink::File(p) => {
            let line = format!("[{}] rha-ldirectord[{}]: {tag}: {msg}\n", timestamp(), std::process::id());
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        Sink::Syslog => {
            let prio = match level {
                Level::Debug => libc::LOG_DEBUG,
                Level::Info => libc::LOG_INFO,
                Level::Warn => libc::LOG_WARNING,
                Level::Error => libc::LOG_ERR,
            };
            if let Ok(c) = CString::new(msg.replace('\0', " ")) {
                // SAFETY: a constant format and a valid C string argument.
                unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
            }
        }
    }
}

/// Local time as "2026-12-03 20:14:05" (upstream's log lines carry the local time too).
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r writes into the struct we pass.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&now, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}
pub fn info(msg: &str) {
    log(Level::Info, msg)
}
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}
pub fn error(msg: &str) {
    log(Level::Error, msg)
}
