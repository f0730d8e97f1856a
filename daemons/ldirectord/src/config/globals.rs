//! Global directives, and the settings a virtual section may override (the same code reads
//! them in both places, so they cannot drift apart).

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{AlertStates, Globals, LogTarget};

use super::real::{FallbackLine, parse_fallback};
use super::values::{Res, count, maybe_quoted, non_empty, quoted, seconds, whole_seconds, yes_no};

/// A value and the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At<T> {
    pub v: T,
    pub line: usize,
}

/// Settings written globally and/or in a virtual section; a virtual's own wins.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    pub checktimeout: Option<Duration>,
    pub negotiatetimeout: Option<Duration>,
    pub checkinterval: Option<Duration>,
    pub checkcount: Option<u32>,
    pub failurecount: Option<u32>,
    pub quiescent: Option<bool>,
    pub cleanstop: Option<bool>,
    /// `fallback=` (globally: for IPv4 virtuals; in a section: that section's).
    pub fallback: Option<At<FallbackLine>>,
    /// `fallback6=` globally (in a section, its fallback is in `fallback`).
    pub fallback6: Option<At<FallbackLine>>,
    pub fallbackcommand: Option<String>,
    pub emailalert: Option<Vec<String>>,
    pub emailalertfreq: Option<Duration>,
    pub emailalertstatus: Option<AlertStates>,
    pub smtp: Option<String>,
    pub monitorfile: Option<PathBuf>,
}

/// Reads one shared directive; `Ok(false)` when `key` is not one.
pub fn apply_shared(s: &mut Shared, key: &str, v: &str, line: usize) -> Res<bool> {
    match key {
        "checktimeout" => s.checktimeout = Some(seconds(key, v)?),
        "negotiatetimeout" => s.negotiatetimeout = Some(seconds(key, v)?),
        "checkinterval" => s.checkinterval = Some(seconds(key, v)?),
        "checkcount" => s.checkcount = Some(count(key, v)?),
        "failurecount" => s.failurecount = Some(count(key, v)?),
        "quiescent" => s.quiescent = Some(yes_no(key, v)?),
        "cleanstop" => s.cleanstop = Some(yes_no(key, v)?),
        "fallback" => s.fallback = Some(At { v: parse_fallback(v)?, line }),
        "fallback6" => s.fallback6 = Some(At { v: parse_fallback(v)?, line }),
        "fallbackcommand" => s.fallbackcommand = Some(non_empty(key, v)?),
        "emailalert" => s.emailalert = Some(emailalert(v)?),
        "emailalertfreq" => s.emailalertfreq = Some(whole_seconds(key, v)?),
        "emailalertstatus" => s.emailalertstatus = Some(emailalertstatus(v)?),
        "smtp" => s.smtp = Some(smtp(v)?),
        "monitorfile" => s.monitorfile = Some(PathBuf::from(non_empty(key, v)?)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// `emailalert="a@b, c@d"`: the recipients.
fn emailalert(v: &str) -> Res<Vec<String>> {
    let s = maybe_quoted("emailalert", v)?;
    let list: Vec<String> = s.split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    if list.is_empty() {
        return Err("emailalert needs at least one address".into());
    }
    if let Some(bad) = list.iter().find(|a| a.chars().any(char::is_whitespace) || !a.contains('@')) {
        return Err(format!("emailalert: {bad:?} is not a mail address (separate addresses with commas)"));
    }
    Ok(list)
}

/// `emailalertstatus=all|none|starting,running,stopping,reloading` (upstream's rules:
/// `none` cannot be combined with another state).
pub fn emailalertstatus(v: &str) -> Res<AlertStates> {
    let words: Vec<&str> = v.split(',').map(str::trim).collect();
    let none = words.contains(&"none");
    let mut s = AlertStates::NONE;
    for w in &words {
        match *w {
            "none" => continue,
            "all" => s = AlertStates::ALL,
            "starting" => s.starting = true,
            "running" => s.running = true,
            "stopping" => s.stopping = true,
            "reloading" => s.reloading = true,
            _ => {
                return Err(format!(
                    "invalid email alert status {w:?} (all, none, or a list of starting, running, stopping, reloading)"
                ));
            }
        }
        if none {
            return Err(format!("invalid email alert status: {w:?} given with \"none\""));
        }
    }
    Ok(s)
}

/// `smtp=host`: a host name or address of the mail relay, as upstream `[0-9A-Za-z._+-]+`.
fn smtp(v: &str) -> Res<String> {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c)) {
        Ok(v.to_string())
    } else {
        Err(format!("invalid SMTP server address {v:?} (a host name or IPv4 address)"))
    }
}

/// Syslog facilities `logfile=` may name.
const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Everything the global part of the file says.
#[derive(Clone, Debug, Default)]
pub struct GlobalDraft {
    pub shared: Shared,
    pub globals: Globals,
}

/// What a global directive did, beyond setting a value.
pub enum GlobalOutcome {
    Done,
    Warn(String),
    /// Not a global directive.
    Unknown,
}

impl GlobalDraft {
    /// Reads one unindented directive (not `virtual=`).
    pub fn apply(&mut self, key: &str, value: Option<&str>, line: usize) -> Res<GlobalOutcome> {
        let Some(v) = value else {
            // A bare `supervised` means yes, with a warning (upstream's rule); nothing else may be bare.
            if key == "supervised" {
                self.globals.supervised = true;
                return Ok(GlobalOutcome::Warn(
                    "a bare 'supervised' means supervised=yes: write it so".into(),
                ));
            }
            return Ok(GlobalOutcome::Unknown);
        };
        if apply_shared(&mut self.shared, key, v, line)? {
            if key == "checkcount" {
                return Ok(GlobalOutcome::Warn(CHECKCOUNT_DEPRECATED.into()));
            }
            return Ok(GlobalOutcome::Done);
        }
        let g = &mut self.globals;
        match key {
            "autoreload" => g.autoreload = yes_no(key, v)?,
            "callback" => g.callback = Some(quoted(key, v)?).filter(|c| !c.is_empty()),
            "logfile" => {
                let l = quoted(key, v)?;
                g.logfile = if l.starts_with('/') {
                    LogTarget::File(PathBuf::from(l))
                } else if FACILITIES.contains(&l.as_str()) {
                    LogTarget::Syslog(l)
                } else {
                    return Err(format!(
                        "logfile must be a path starting with '/' or a syslog facility ({}), not {l:?}",
                        FACILITIES.join(", ")
                    ));
                }
            }
            "execute" => {
                let e = non_empty(key, v)?;
                if !g.execute.contains(&e) {
                    g.execute.push(e);
                }
            }
            "fork" => {
                g.fork = yes_no(key, v)?;
                if g.fork {
                    return Ok(GlobalOutcome::Warn(
                        "fork=yes is accepted and changes nothing: checks run concurrently anyway".into(),
                    ));
                }
            }
            "supervised" => g.supervised = yes_no(key, v)?,
            "readdquiescent" => g.readdquiescent = yes_no(key, v)?,
            "emailalertfrom" => g.emailalertfrom = Some(non_empty(key, v)?),
            "maintenancedir" => {
                let d = PathBuf::from(non_empty(key, v)?);
                let warn = !d.is_dir();
                g.maintenancedir = Some(d);
                if warn {
                    return Ok(GlobalOutcome::Warn("maintenance directory does not exist".into()));
                }
            }
            _ => return Ok(GlobalOutcome::Unknown),
        }
        Ok(GlobalOutcome::Done)
    }
}

pub const CHECKCOUNT_DEPRECATED: &str =
    "checkcount is deprecated (upstream will remove it): see failurecount";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emailalertstatus_as_upstream() {
        assert_eq!(emailalertstatus("all"), Ok(AlertStates::ALL));
        assert_eq!(emailalertstatus("none"), Ok(AlertStates::NONE));
        let s = emailalertstatus("starting, running").unwrap();
        assert!(s.starting && s.running && !s.stopping && !s.reloading);
        assert!(emailalertstatus("none,running").unwrap_err().contains("none"));
        assert!(emailalertstatus("sometimes").unwrap_err().contains("\"sometimes\""));
    }

    #[test]
    fn emailalert_lists_and_smtp() {
        assert_eq!(
            emailalert("\"a@x.example, b@y.example\""),
            Ok(vec!["a@x.example".into(), "b@y.example".into()])
        );
        assert!(emailalert("\"\"").is_err());
        assert!(emailalert("a@x b@y").is_err());
        assert_eq!(smtp("mail.example.org"), Ok("mail.example.org".into()));
        assert!(smtp("mail example").is_err());
    }
}
