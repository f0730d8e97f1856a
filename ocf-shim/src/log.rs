//! Logging the way `ocf_log` does it, and the `ocf-exit-reason:` line.
//!
//! - Every message goes to stderr as `LEVEL: text`: pacemaker-execd logs an agent's stderr,
//!   and `crm ra validate` turns lines starting `ERROR: `/`WARNING: `/`INFO: `/`DEBUG: ` into
//!   its own log levels.
//! - `HA_LOGFILE` (and `HA_DEBUGLOG` for debug) get a timestamped copy.
//! - `HA_LOGFACILITY` (e.g. `daemon`, `local5`; `none` disables) sends a copy to syslog.
//! - Debug messages appear only with `HA_debug=1` (ocf-tester -d) or `OCF_TRACE_RA=1`.

use std::ffi::CString;
use std::fmt::Display;
use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
    fn syslog_priority(self) -> libc::c_int {
        match self {
            Level::Debug => libc::LOG_DEBUG,
            Level::Info => libc::LOG_INFO,
            Level::Warning => libc::LOG_WARNING,
            Level::Error => libc::LOG_ERR,
        }
    }
}

struct Logger {
    /// `IPaddr2(vip)` — the tag upstream agents put on every line.
    tag: String,
    debug: bool,
    logfile: Option<String>,
    debuglog: Option<String>,
    syslog: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn truthy(var: &str) -> bool {
    std::env::var(var).ok().and_then(|v| crate::params::parse_bool(&v)).unwrap_or(false)
}

fn facility(name: &str) -> Option<libc::c_int> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "daemon" => libc::LOG_DAEMON,
        "user" => libc::LOG_USER,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        "authpriv" => libc::LOG_AUTHPRIV,
        _ => return None,
    })
}

/// Set the agent and instance names used in log lines. Called once by the dispatcher; later
/// calls are ignored.
pub fn init(agent: &str, instance: &str) {
    LOGGER.get_or_init(|| {
        let tag = format!("{agent}({instance})");
        let syslog_facility = std::env::var("HA_LOGFACILITY")
            .or_else(|_| std::env::var("HA_logfacility"))
            .ok()
            .and_then(|f| facility(&f));
        if let Some(fac) = syslog_facility {
            // openlog keeps the pointer: leak the identity string for the process lifetime.
            let ident = CString::new(agent.replace('\0', "")).unwrap_or_default();
            // SAFETY: ident is leaked, so it outlives every later syslog() call.
            unsafe { libc::openlog(Box::leak(ident.into_boxed_c_str()).as_ptr(), libc::LOG_PID, fac) };
        }
        let nonempty = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        Logger {
            tag,
            debug: truthy("HA_debug") || truthy("HA_DEBUG") || truthy("OCF_TRACE_RA"),
            logfile: nonempty("HA_LOGFILE").or_else(|| nonempty("HA_logfile")),
            debuglog: nonempty("HA_DEBUGLOG").or_else(|| nonempty("HA_debugfile")),
            syslog: syslog_facility.is_some(),
        }
    });
}

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        tag: String::from("rha"),
        debug: false,
        logfile: None,
        debuglog: None,
        syslog: false,
    })
}

/// One line, with any newline in the message folded so each message stays one line.
fn one_line(msg: &str) -> String {
    msg.trim_end().replace(['\n', '\r'], "; ")
}

fn append(path: &str, line: &str) {
    // Logging must never fail an action: a log file we cannot write is ignored.
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

pub fn log(level: Level, msg: impl Display) {
    let l = logger();
    if level == Level::Debug && !l.debug {
        return;
    }
    let text = one_line(&msg.to_string());
    let _ = writeln!(std::io::stderr(), "{}: {text}", level.label());
    if l.logfile.is_some() || l.debuglog.is_some() {
        let stamp = timestamp();
        let line = format!("{stamp} {}[{}]: {}: {text}\n", l.tag, std::process::id(), level.label());
        match (level, &l.debuglog, &l.logfile) {
            (Level::Debug, Some(d), _) => append(d, &line),
            (_, _, Some(f)) => append(f, &line),
            (_, Some(d), None) => append(d, &line),
            _ => {}
        }
    }
    if l.syslog
        && let Ok(c) = CString::new(format!("{}: {}: {text}", l.tag, level.label()).replace('\0', ""))
    {
        // SAFETY: "%s" with one valid C string argument.
        unsafe { libc::syslog(level.syslog_priority(), c"%s".as_ptr(), c.as_ptr()) };
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes into our zeroed tm; strftime into our buffer with its length.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 32];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%b %d %H:%M:%S".as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

pub fn error(msg: impl Display) {
    log(Level::Error, msg)
}
pub fn warn(msg: impl Display) {
    log(Level::Warning, msg)
}
pub fn info(msg: impl Display) {
    log(Level::Info, msg)
}
pub fn debug(msg: impl Display) {
    log(Level::Debug, msg)
}

/// Longest exit reason printed. Pacemaker keeps only the first 128 characters; agents put the
/// explanation first and quote values short (`params::quote`), and this cap keeps a reason
/// that still carries a huge value from flooding the logs.
const MAX_REASON_CHARS: usize = 1024;

/// Print the exit reason Pacemaker shows in `crm_mon` (text after the last
/// `ocf-exit-reason:` on stderr, up to the end of that line).
pub fn exit_reason(reason: &str) {
    let prefix = std::env::var("OCF_EXIT_REASON_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "ocf-exit-reason:".to_string());
    let _ = writeln!(std::io::stderr(), "{prefix}{}", cap(&one_line(reason)));
}

fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_REASON_CHARS).collect();
    cut.push('…');
    cut
}

/// `format!`-style logging: `ocf_shim::error!("cannot add {ip}: {e}")`.
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::error(format!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::warn(format!($($t)*)) } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::info(format!($($t)*)) } }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log::debug(format!($($t)*)) } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\n"), "a; b");
    }

    #[test]
    fn long_reasons_are_capped() {
        assert_eq!(cap("short"), "short");
        let long = "x".repeat(5000);
        assert_eq!(cap(&long).chars().count(), MAX_REASON_CHARS + 1);
    }

    #[test]
    fn facilities() {
        assert_eq!(facility("daemon"), Some(libc::LOG_DAEMON));
        assert_eq!(facility("LOCAL5"), Some(libc::LOG_LOCAL5));
        assert_eq!(facility("none"), None);
    }

    #[test]
    fn timestamp_is_syslog_shaped() {
        assert_eq!(timestamp().len(), 15);
    }
}
