//! ldirectord.cf → [`crate::model::Config`], upstream's grammar and semantics; every error
//! names file:line and the token. ldirectord.cf(5) (daemons/ldirectord/man) lists item by
//! item where this dialect differs from upstream's.
//!
//! - [`lines`]: comments, indentation, `keyword = value`;
//! - [`values`]: yes/no, numbers, durations, quoting;
//! - [`names`]: host and service names, resolved at parse time (as upstream), bounded;
//! - [`real`]: `real=` and `fallback=` lines;
//! - [`globals`]: global directives and the settings a section may override;
//! - [`virtual_block`]: a `virtual=` section and the resolved [`crate::model::Virtual`];
//! - [`defaults`]: upstream's defaults (and the one where we follow its documentation);
//! - [`lookup`]: upstream's search for the file and the instance name.

pub mod defaults;
pub mod globals;
pub mod lines;
pub mod lookup;
pub mod names;
pub mod real;
pub mod values;
pub mod virtual_block;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::model::{Config, SourceLine, Warning};

pub use lookup::{lookup, lookup_in};
pub use names::{Resolver, StaticResolver, SystemResolver};

use globals::{GlobalDraft, GlobalOutcome};
use lines::Place;
use virtual_block::{BuildEnv, Outcome, VirtualDraft, parse_virtual_addr};

/// The most real servers one file may declare (ranges expanded): a bound on what a typo like
/// `10.0.0.1->10.0.255.255` on several lines can cost.
pub const MAX_REALS: usize = 100_000;

/// A configuration error: where it is and what is wrong ("/etc/ha.d/ldirectord.cf:12: ...").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole (unreadable, empty).
    pub line: usize,
    pub message: String,
}

/// How names are resolved and what the local host is called (ftp/sip default credentials).
pub struct Options<'a> {
    pub resolver: &'a dyn Resolver,
    pub hostname: String,
}

/// The host name upstream uses: `$HOSTNAME`, else the kernel's node name.
pub fn local_hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    parse_str(&text, path)
}

/// [`parse_file`] with explicit [`Options`].
pub fn parse_file_with(path: &Path, opt: &Options<'_>) -> Result<Config, ConfigError> {
    let text = read(path)?;
    parse_str_with(&text, path, opt)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count();
        ConfigError { file: path.to_path_buf(), line, message: "not UTF-8 text".into() }
    })
}

/// Parses configuration text; `path` is used in errors and as [`Config::path`]. Names are
/// resolved by the system (getaddrinfo, bounded; /etc/services).
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let resolver = SystemResolver::default();
    parse_str_with(text, path, &Options { resolver: &resolver, hostname: local_hostname() })
}

/// [`parse_str`] with explicit [`Options`].
pub fn parse_str_with(text: &str, path: &Path, opt: &Options<'_>) -> Result<Config, ConfigError> {
    let err = |line: usize, message: String| ConfigError { file: path.to_path_buf(), line, message };
    let directives = lines::directives(text).map_err(|e| err(e.line, e.message))?;

    let mut g = GlobalDraft::default();
    let mut drafts: Vec<VirtualDraft> = Vec::new();
    let mut warnings: Vec<(usize, String)> = Vec::new();
    let mut in_section = false;
    for d in &directives {
        let value = d.value.as_deref();
        let line = d.line;
        let e = |m: String| err(line, m);
        match d.place {
            Place::Top if d.key == "virtual" || d.key == "virtual6" => {
                let v = value.ok_or_else(|| e(format!("{} needs a value: {}=ADDRESS:PORT", d.key, d.key)))?;
                let v6 = d.key == "virtual6";
                let addr = parse_virtual_addr(v, v6).map_err(e)?;
                drafts.push(VirtualDraft::new(line, v6, addr));
                in_section = true;
            }
            Place::Top => {
                in_section = false;
                if let Some(m) = deprecated(&d.key) {
                    return Err(e(m));
                }
                match g.apply(&d.key, value, line).map_err(e)? {
                    GlobalOutcome::Done => {}
                    GlobalOutcome::Warn(w) => warnings.push((line, w)),
                    GlobalOutcome::Unknown => return Err(e(unknown(&d.key, value, true))),
                }
            }
            Place::Indented => {
                if !in_section {
                    return Err(e(format!(
                        "indented line {:?} outside a virtual section (global directives start at the beginning of the line)",
                        d.key
                    )));
                }
                if let Some(m) = deprecated(&d.key) {
                    return Err(e(m));
                }
                let draft = drafts.last_mut().expect("in a section");
                match draft.apply(&d.key, value, line).map_err(e)? {
                    Outcome::Done => {}
                    Outcome::Warn(w) => warnings.push((line, w)),
                    Outcome::Unknown => return Err(e(unknown(&d.key, value, false))),
                }
            }
        }
    }

    let mut virtuals = Vec::with_capacity(drafts.len());
    let mut seen: HashMap<rha_ipvs::ServiceKey, usize> = HashMap::new();
    let mut total_reals = 0usize;
    for draft in drafts {
        let vline = draft.line;
        let env = BuildEnv {
            file: path,
            resolver: opt.resolver,
            hostname: &opt.hostname,
            reals_before: total_reals,
        };
        let v = draft.build(&g, &env, &mut warnings).map_err(|(l, m)| err(l, m))?;
        if let Some(first) = seen.insert(v.key(), vline) {
            return Err(err(vline, format!("duplicate virtual server {} (first at line {first})", v.key())));
        }
        total_reals += v.reals.len();
        virtuals.push(v);
    }
    warnings.sort_by_key(|(l, _)| *l);
    Ok(Config {
        path: path.to_path_buf(),
        globals: g.globals,
        virtuals,
        warnings: warnings
            .into_iter()
            .map(|(line, message)| Warning { line: SourceLine { file: path.to_path_buf(), line }, message })
            .collect(),
    })
}

/// Upstream's deprecated directives are errors, as there, with what to write instead.
fn deprecated(key: &str) -> Option<String> {
    match key {
        "connecttimeout" => Some(
            "connecttimeout is deprecated (an error, as upstream): use negotiatetimeout for negotiate checks, checktimeout for connect checks".into(),
        ),
        "timeout" => Some(
            "timeout is deprecated (an error, as upstream): use checktimeout (connect, ping, external checks) and negotiatetimeout (negotiate checks)".into(),
        ),
        _ => None,
    }
}

/// Directives that exist only in a virtual section.
const SECTION_ONLY: &[&str] = &[
    "real",
    "real6",
    "checktype",
    "service",
    "checkcommand",
    "checkport",
    "request",
    "receive",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
    "scheduler",
    "persistent",
    "netmask",
    "schedflags",
    "protocol",
    "ops",
    "httpmethod",
    "virtualhost",
    "servicename",
    "comment",
];
/// Directives that exist only globally.
const GLOBAL_ONLY: &[&str] = &[
    "autoreload",
    "callback",
    "logfile",
    "execute",
    "fork",
    "supervised",
    "readdquiescent",
    "emailalertfrom",
    "maintenancedir",
];

/// The message for a keyword that is not known where it is.
fn unknown(key: &str, value: Option<&str>, global: bool) -> String {
    if value.is_none() {
        return format!("{key:?} needs a value: {key}=...");
    }
    if global && SECTION_ONLY.contains(&key) {
        return format!("{key} belongs in a virtual section: indent it under a virtual= line");
    }
    if !global && GLOBAL_ONLY.contains(&key) {
        return format!("{key} is a global directive: write it unindented, before the first virtual= line");
    }
    if !global && (key == "virtual" || key == "virtual6") {
        return format!("{key} starts a new section: write it unindented");
    }
    format!("unknown directive {key:?}")
}

#[cfg(test)]
mod tests;
