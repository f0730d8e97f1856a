//! What a parsed ldirectord.cf says, with every default and global already applied to each
//! virtual: the parser ([`crate::config`]) produces a [`Config`], the daemon ([`crate::daemon`])
//! only reads it. Nothing here parses or talks to the kernel.
//!
//! IPVS settings are kept as `rha_ipvs` types and check settings as `rha_check` types, so
//! the daemon hands them to those crates unchanged.

use std::path::PathBuf;
use std::time::Duration;

use rha_check::{CheckSpec, Target};
use rha_ipvs::{Dest, Service, ServiceKey};

/// Where a directive was written, for log lines and errors ("ldirectord.cf:12").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourceLine {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
}

/// A whole configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from (as found by the upstream look-up).
    pub path: PathBuf,
    pub globals: Globals,
    /// In file order.
    pub virtuals: Vec<Virtual>,
    /// What the parser accepted but an administrator should hear about (deprecated or
    /// ignored directives), in file order; the daemon logs them.
    pub warnings: Vec<Warning>,
}

/// A warning about a directive that was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub line: SourceLine,
    pub message: String,
}

impl std::fmt::Display for Warning {
    /// "file:line: message", as errors are written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line.file.display(), self.line.line, self.message)
    }
}

/// Directives that only exist globally. Per-virtual overridable globals (checktimeout,
/// quiescent, fallback, emailalert, ...) are not here: the parser resolves them into each
/// [`Virtual`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Globals {
    /// `autoreload=yes`: re-read the file when its contents change.
    pub autoreload: bool,
    /// `callback="/path"`: run `<callback> <configpath>` when the file changes.
    pub callback: Option<String>,
    /// `logfile=`: a path (starts with '/') or a syslog facility name.
    pub logfile: LogTarget,
    /// `supervised=yes`: stay in the foreground, no pid file.
    pub supervised: bool,
    /// `fork=`: accepted; checks are concurrent anyway.
    pub fork: bool,
    /// `readdquiescent=yes`: a down real missing from the kernel is re-added with weight 0.
    pub readdquiescent: bool,
    /// `maintenancedir=`: a file named after a real forces it down.
    pub maintenancedir: Option<PathBuf>,
    /// `monitorfile=`: append a line per check result.
    pub monitorfile: Option<PathBuf>,
    /// `execute=`: other ldirectord configurations started, stopped and reloaded with this one.
    pub execute: Vec<String>,
    /// `emailalertfrom=`.
    pub emailalertfrom: Option<String>,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            autoreload: false,
            callback: None,
            logfile: LogTarget::File(PathBuf::from("/var/log/ldirectord.log")),
            supervised: false,
            fork: false,
            readdquiescent: false,
            maintenancedir: None,
            monitorfile: None,
            execute: Vec::new(),
            emailalertfrom: None,
        }
    }
}

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    /// A syslog facility ("daemon", "local0", ...).
    Syslog(String),
}

/// One `virtual=`/`virtual6=` block, every setting resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Virtual {
    /// The kernel's IPVS service: key (protocol/address/port or fwmark), scheduler,
    /// persistence, netmask, flags (schedflags, ops).
    pub service: Service,
    /// The real servers, in file order (`->` ranges expanded).
    pub reals: Vec<Real>,
    /// `fallback=`/`fallback6=`: added (weight 1) while every real is down. Its weight in
    /// [`Real::dest`] is what is programmed; it is never checked.
    pub fallback: Option<Dest>,
    /// `fallbackcommand=`: run as `<cmd> start|stop <vip:port> <proto>`.
    pub fallback_command: Option<String>,
    /// The virtual's check (checktype, service, request, receive, credentials, timeouts);
    /// each [`Real::check`] is this with the real's own request/receive applied.
    pub check: CheckSpec,
    /// `checkinterval` (honoured per virtual, always).
    pub check_interval: Duration,
    /// `checkcount` (ping attempts; deprecated upstream).
    pub check_count: u32,
    /// `failurecount`: consecutive failures before a real goes down.
    pub failure_count: u32,
    /// `quiescent=yes`: a down real keeps its entry with weight 0 instead of being deleted.
    pub quiescent: bool,
    /// `cleanstop=yes`: on exit, remove this virtual and its reals from IPVS.
    pub cleanstop: bool,
    /// `emailalert=` recipients (empty: no alerts).
    pub emailalert: Vec<String>,
    /// `emailalertfreq=`: repeat while down every this long (zero: once).
    pub emailalert_freq: Duration,
    /// `emailalertstatus=`: the daemon states in which alerts are sent.
    pub emailalert_status: AlertStates,
    /// `smtp=`: the mail relay (none: the local sendmail).
    pub smtp: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    /// `monitorfile=`: the section's, else the global one (ours: upstream has it per section
    /// only). The daemon appends a line per check result.
    pub monitorfile: Option<PathBuf>,
    /// Where the `virtual=` line is.
    pub line: SourceLine,
}

impl Virtual {
    pub fn key(&self) -> ServiceKey {
        self.service.key
    }
}

/// One real server of a virtual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Real {
    /// Address, port, forwarding method, configured weight, `l:`/`u:` thresholds: what is
    /// programmed while the real is up.
    pub dest: Dest,
    /// The check for this real (the virtual's, with this real's request/receive).
    pub check: CheckSpec,
    /// Where the check goes (checkport resolved) and the source address, if any.
    pub target: Target,
    /// Where the `real=` line is.
    pub line: SourceLine,
}

/// `emailalertstatus=`: in which daemon states alerts are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertStates {
    pub starting: bool,
    pub running: bool,
    pub stopping: bool,
    pub reloading: bool,
}

impl AlertStates {
    pub const ALL: AlertStates =
        AlertStates { starting: true, running: true, stopping: true, reloading: true };
    pub const NONE: AlertStates =
        AlertStates { starting: false, running: false, stopping: false, reloading: false };
}

impl Default for AlertStates {
    fn default() -> Self {
        AlertStates::ALL
    }
}
