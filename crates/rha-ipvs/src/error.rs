//! Errors of the netlink client.

use std::fmt;
use std::io;

/// Which kernel operation an error belongs to; used to word kernel errors
/// the way ipvsadm does ("No such service", "Destination already exists").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Resolving the generic netlink family.
    ResolveFamily,
    /// `IPVS_CMD_GET_INFO`.
    GetInfo,
    /// `IPVS_CMD_NEW_SERVICE`.
    AddService,
    /// `IPVS_CMD_SET_SERVICE`.
    EditService,
    /// `IPVS_CMD_DEL_SERVICE`.
    DelService,
    /// `IPVS_CMD_GET_SERVICE`.
    GetService,
    /// `IPVS_CMD_NEW_DEST`.
    AddDest,
    /// `IPVS_CMD_SET_DEST`.
    EditDest,
    /// `IPVS_CMD_DEL_DEST`.
    DelDest,
    /// `IPVS_CMD_GET_DEST`.
    GetDests,
    /// `IPVS_CMD_FLUSH`.
    Flush,
    /// `IPVS_CMD_ZERO`.
    Zero,
    /// `IPVS_CMD_GET_CONFIG`.
    GetTimeouts,
    /// `IPVS_CMD_SET_CONFIG`.
    SetTimeouts,
    /// `IPVS_CMD_NEW_DAEMON`.
    StartDaemon,
    /// `IPVS_CMD_DEL_DAEMON`.
    StopDaemon,
    /// `IPVS_CMD_GET_DAEMON`.
    GetDaemons,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ResolveFamily => "resolve IPVS netlink family",
            Op::GetInfo => "get IPVS info",
            Op::AddService => "add service",
            Op::EditService => "edit service",
            Op::DelService => "delete service",
            Op::GetService => "get service",
            Op::AddDest => "add real server",
            Op::EditDest => "edit real server",
            Op::DelDest => "delete real server",
            Op::GetDests => "list real servers",
            Op::Flush => "flush",
            Op::Zero => "zero counters",
            Op::GetTimeouts => "get timeouts",
            Op::SetTimeouts => "set timeouts",
            Op::StartDaemon => "start sync daemon",
            Op::StopDaemon => "stop sync daemon",
            Op::GetDaemons => "list sync daemons",
        }
    }

    /// ipvsadm's wording for errno values that mean something specific
    /// for this operation (libipvs `ipvs_strerror`).
    fn explain(self, errno: i32) -> Option<&'static str> {
        use libc::{EAFNOSUPPORT, EEXIST, EINVAL, ENOENT, EPERM, ERANGE, ESRCH};
        let specific = match (self, errno) {
            (Op::AddService, EEXIST) => "Service already exists",
            (Op::AddService | Op::EditService, ENOENT) => "Scheduler or persistence engine not found",
            (Op::EditService | Op::DelService | Op::GetService | Op::Zero, ESRCH) => "No such service",
            (Op::AddDest | Op::EditDest | Op::DelDest, ESRCH) => "Service not defined",
            (Op::AddDest, EEXIST) => "Destination already exists",
            (Op::EditDest | Op::DelDest, ENOENT) => "No such destination",
            (Op::AddDest | Op::EditDest, ERANGE) => "Lower threshold is above the upper threshold",
            (Op::StartDaemon, EEXIST) => "Daemon has already run",
            (Op::StopDaemon, ESRCH) => "No daemon is running",
            (_, EPERM) => "Permission denied (you must be root)",
            (_, EINVAL) => "Invalid operation (bad argument, address not unicast, ...)",
            (_, EAFNOSUPPORT) => "Operation not supported with specified address family",
            _ => return None,
        };
        Some(specific)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of an IPVS operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel has no generic netlink family "IPVS": the `ip_vs` module
    /// is not loaded or IPVS is not built into this kernel. An agent's probe
    /// maps this to "not running" (7).
    #[error(
        "IPVS is not available in this kernel: generic netlink family \"IPVS\" not found \
         (ip_vs module not loaded, or CONFIG_IP_VS not set)"
    )]
    NotAvailable,
    /// The kernel refused an operation.
    #[error("{op}: {}", describe_errno(*.op, *.errno))]
    Kernel {
        /// What was attempted.
        op: Op,
        /// Positive errno value.
        errno: i32,
    },
    /// A socket call failed.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel sent something this library cannot decode.
    #[error("malformed netlink reply: {0}")]
    Decode(String),
    /// One or more requests of a batch failed (the others were applied).
    #[error("{}", describe_batch(.0))]
    Batch(Vec<BatchFailure>),
}

/// One failed request of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// Index of the change in the batch.
    pub index: usize,
    /// The change, in words.
    pub change: String,
    /// What was attempted.
    pub op: Op,
    /// Positive errno value.
    pub errno: i32,
}

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}: {}", self.index, self.change, describe_errno(self.op, self.errno))
    }
}

fn describe_errno(op: Op, errno: i32) -> String {
    let base = io::Error::from_raw_os_error(errno);
    match op.explain(errno) {
        Some(s) => format!("{s} ({base})"),
        None => base.to_string(),
    }
}

fn describe_batch(f: &[BatchFailure]) -> String {
    let mut s = format!("{} change(s) of the batch failed", f.len());
    for x in f.iter().take(5) {
        s.push_str(&format!("; {x}"));
    }
    if f.len() > 5 {
        s.push_str("; ...");
    }
    s
}

impl Error {
    /// True when IPVS is absent from the kernel (see [`Error::NotAvailable`]).
    pub fn is_not_available(&self) -> bool {
        matches!(self, Error::NotAvailable)
    }

    /// The errno of a kernel refusal or socket error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            Error::Batch(f) => f.first().map(|x| x.errno),
            _ => None,
        }
    }
}

/// Result type of this crate's client.
pub type Result<T> = std::result::Result<T, Error>;
