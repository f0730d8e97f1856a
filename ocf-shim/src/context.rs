//! The invocation: which action, and what Pacemaker told us about it (`CRM_meta_*`).

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use crate::deadline::{DEFAULT_TIMEOUT, Deadline};
use crate::exit::{OcfError, OcfResult};
use crate::metadata::AgentInfo;
use crate::params::parse_bool;

/// The action named in `argv[1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Monitor,
    /// Deprecated synonym of monitor, still advertised by many agents.
    Status,
    ValidateAll,
    MetaData,
    Usage,
    Methods,
    /// Any other name (notify, promote, reload, migrate_to, ...): agent-specific.
    Other(String),
}

impl Action {
    pub fn parse(name: &str) -> Action {
        match name {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" => Action::Monitor,
            "status" => Action::Status,
            "validate-all" => Action::ValidateAll,
            "meta-data" => Action::MetaData,
            "usage" | "help" => Action::Usage,
            "methods" => Action::Methods,
            other => Action::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::Status => "status",
            Action::ValidateAll => "validate-all",
            Action::MetaData => "meta-data",
            Action::Usage => "usage",
            Action::Methods => "methods",
            Action::Other(n) => n,
        }
    }
}

/// Clone placement, from `OCF_RESKEY_CRM_meta_clone*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloneInfo {
    /// This instance's number (`CRM_meta_clone`), 0-based.
    pub instance: u32,
    pub clone_max: u32,
    pub clone_node_max: u32,
    pub globally_unique: bool,
}

/// Everything about one invocation except the instance parameters.
#[derive(Clone, Debug)]
pub struct Context {
    pub action: Action,
    pub agent: &'static str,
    /// `OCF_RESOURCE_INSTANCE` (Pacemaker: the resource id, `id:N` for clones); "default"
    /// when unset, as ocf-tester and `crm ra validate` do not always set it.
    pub instance: String,
    /// `CRM_meta_interval` in ms; missing means 0, i.e. a probe for monitor.
    pub interval_ms: u64,
    /// `CRM_meta_timeout` in ms, if given.
    pub timeout_ms: Option<u64>,
    /// The check level asked for (`OCF_CHECK_LEVEL`).
    pub requested_check_level: u32,
    /// The level to perform: the highest the agent implements that is not above the request.
    pub check_level: u32,
    pub clone: Option<CloneInfo>,
    /// The caller speaks OCF 1.1 or later (`OCF_RA_VERSION_MAJOR/MINOR`).
    pub ocf_1_1: bool,
    pub deadline: Deadline,
}

fn env_str(name: &str) -> Option<String> {
    std::env::var_os(name)
        .and_then(|v| v.to_str().map(str::trim).map(str::to_string))
        .filter(|v| !v.is_empty())
}

fn env_u64(name: &str) -> Option<u64> {
    env_str(name).and_then(|v| v.parse().ok())
}

/// The clone fields Pacemaker passes as numbers: one that is set but is not a number is a
/// configuration error (a clone whose size is unknown must not act as a primitive).
pub fn clone_fields_error() -> Option<OcfError> {
    ["clone", "clone_max", "clone_node_max"].into_iter().find_map(|f| {
        let name = format!("OCF_RESKEY_CRM_meta_{f}");
        let raw = std::env::var_os(&name)?;
        let ok = raw.to_str().map(str::trim).is_some_and(|v| v.is_empty() || v.parse::<u32>().is_ok());
        (!ok).then(|| OcfError::configured(format!("{name}={} is not a number", crate::params::quote(&raw))))
    })
}

/// Parse a Pacemaker duration as given in `CRM_meta_*` (milliseconds, maybe with a suffix).
fn parse_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000)
    } else {
        (v, 1)
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

impl Context {
    /// Read the invocation from the process environment. `start` is when the agent began.
    pub fn from_env(action: Action, info: &'static AgentInfo, start: Instant) -> Context {
        let interval_ms = env_str("OCF_RESKEY_CRM_meta_interval").and_then(|v| parse_ms(&v)).unwrap_or(0);
        let timeout_ms = env_str("OCF_RESKEY_CRM_meta_timeout").and_then(|v| parse_ms(&v)).filter(|&t| t > 0);
        let requested_check_level = env_str("OCF_CHECK_LEVEL")
            .or_else(|| env_str("OCF_RESKEY_OCF_CHECK_LEVEL"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let clone = env_u64("OCF_RESKEY_CRM_meta_clone_max").map(|clone_max| CloneInfo {
            instance: env_u64("OCF_RESKEY_CRM_meta_clone").unwrap_or(0) as u32,
            clone_max: clone_max as u32,
            clone_node_max: env_u64("OCF_RESKEY_CRM_meta_clone_node_max").unwrap_or(1) as u32,
            globally_unique: env_str("OCF_RESKEY_CRM_meta_globally_unique")
                .and_then(|v| parse_bool(&v))
                .unwrap_or(false),
        });
        let major = env_u64("OCF_RA_VERSION_MAJOR").unwrap_or(1);
        let minor = env_u64("OCF_RA_VERSION_MINOR").unwrap_or(0);
        let timeout = timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_TIMEOUT);
        Context {
            action,
            agent: info.name,
            instance: env_str("OCF_RESOURCE_INSTANCE").unwrap_or_else(|| "default".to_string()),
            interval_ms,
            timeout_ms,
            requested_check_level,
            check_level: effective_level(&info.monitor_depths(), requested_check_level),
            clone,
            ocf_1_1: major > 1 || (major == 1 && minor >= 1),
            deadline: Deadline::for_timeout(start, timeout),
        }
    }

    /// A monitor (or status) at interval 0: Pacemaker's one-time probe of a node.
    pub fn is_probe(&self) -> bool {
        matches!(self.action, Action::Monitor | Action::Status) && self.interval_ms == 0
    }

    /// The operation timeout (given or Pacemaker's default).
    pub fn timeout(&self) -> Duration {
        self.timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Fail with `OCF_ERR_PERM` unless running as root (start/stop change the system).
    pub fn require_root(&self) -> OcfResult<()> {
        if nix::unistd::geteuid().is_root() {
            Ok(())
        } else {
            Err(OcfError::perm(format!("{} must run as root", self.action.name())))
        }
    }

    /// The instance name made safe for use in a file name.
    pub fn instance_file_name(&self) -> String {
        safe_file_name(OsStr::new(&self.instance))
    }
}

/// The highest implemented level not above `requested` (OCF: "perform the next lower level").
pub fn effective_level(implemented: &[u32], requested: u32) -> u32 {
    implemented.iter().copied().filter(|&l| l <= requested).max().unwrap_or(0)
}

/// Replace characters that cannot appear in a single path component.
pub fn safe_file_name(name: &OsStr) -> String {
    let s: String =
        name.to_string_lossy().chars().map(|c| if c == '/' || c.is_control() { '_' } else { c }).collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_level_falls_back_to_next_lower() {
        assert_eq!(effective_level(&[0, 10], 0), 0);
        assert_eq!(effective_level(&[0, 10], 5), 0);
        assert_eq!(effective_level(&[0, 10], 10), 10);
        assert_eq!(effective_level(&[0, 10], 20), 10);
        assert_eq!(effective_level(&[0], 20), 0);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_ms("20000"), Some(20000));
        assert_eq!(parse_ms("20s"), Some(20000));
        assert_eq!(parse_ms("250ms"), Some(250));
        assert_eq!(parse_ms("x"), None);
    }

    #[test]
    fn file_names() {
        assert_eq!(safe_file_name(OsStr::new("vip:0")), "vip:0");
        assert_eq!(safe_file_name(OsStr::new("a/b")), "a_b");
        assert_eq!(safe_file_name(OsStr::new("..")), "_..");
    }
}
