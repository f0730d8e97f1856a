//! OCF exit codes and the error type every agent action returns.

use std::fmt;

/// The exit codes of the OCF resource-agent API (1.1), with Pacemaker's 190/191.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OcfCode {
    Success = 0,
    ErrGeneric = 1,
    ErrArgs = 2,
    ErrUnimplemented = 3,
    ErrPerm = 4,
    ErrInstalled = 5,
    ErrConfigured = 6,
    NotRunning = 7,
    RunningPromoted = 8,
    FailedPromoted = 9,
    Degraded = 190,
    DegradedPromoted = 191,
}

impl OcfCode {
    /// The numeric process exit status.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The name the shell library uses (`OCF_ERR_CONFIGURED`, ...), for logs and tests.
    pub fn name(self) -> &'static str {
        match self {
            OcfCode::Success => "OCF_SUCCESS",
            OcfCode::ErrGeneric => "OCF_ERR_GENERIC",
            OcfCode::ErrArgs => "OCF_ERR_ARGS",
            OcfCode::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfCode::ErrPerm => "OCF_ERR_PERM",
            OcfCode::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfCode::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfCode::NotRunning => "OCF_NOT_RUNNING",
            OcfCode::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfCode::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfCode::Degraded => "OCF_DEGRADED",
            OcfCode::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }

    /// Codes that mean "this node is not set up for the resource" rather than "it failed".
    /// A probe must never return these for a resource that is simply absent (it would ban the
    /// node or stop the resource cluster-wide), so the dispatcher turns them into 7 on probes.
    pub fn is_setup_error(self) -> bool {
        matches!(self, OcfCode::ErrArgs | OcfCode::ErrInstalled | OcfCode::ErrConfigured)
    }
}

impl fmt::Display for OcfCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_i32(), self.name())
    }
}

/// A failed action: the exit code Pacemaker will act on and the reason shown to the
/// administrator in `crm_mon`/`pcs status` (printed as an `ocf-exit-reason:` line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct OcfError {
    pub code: OcfCode,
    pub reason: String,
}

/// Result of an agent action.
pub type OcfResult<T = ()> = Result<T, OcfError>;

impl OcfError {
    pub fn new(code: OcfCode, reason: impl Into<String>) -> Self {
        OcfError { code, reason: reason.into() }
    }
    /// 1: a runtime failure; Pacemaker recovers softly (restart or move).
    pub fn generic(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrGeneric, reason)
    }
    /// 2: a parameter that is wrong for this node (e.g. a file missing here).
    pub fn args(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrArgs, reason)
    }
    /// 3: the action is not implemented.
    pub fn unimplemented(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrUnimplemented, reason)
    }
    /// 4: insufficient privilege.
    pub fn perm(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrPerm, reason)
    }
    /// 5: required software or kernel support is missing on this node (bans the node).
    pub fn installed(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrInstalled, reason)
    }
    /// 6: the parameters are inherently invalid (stops the resource cluster-wide).
    pub fn configured(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrConfigured, reason)
    }
    /// 7: not running (monitor only; stop must never return it).
    pub fn not_running(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::NotRunning, reason)
    }

    /// Prefix the reason with context, keeping the code.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.reason = format!("{what}: {}", self.reason);
        self
    }
}

/// Attach an OCF code and a reason to any error, e.g. `io_result.ocf(OcfCode::ErrGeneric, "writing pid file")`.
pub trait OcfContext<T> {
    fn ocf(self, code: OcfCode, what: impl fmt::Display) -> OcfResult<T>;
}

impl<T, E: fmt::Display> OcfContext<T> for Result<T, E> {
    fn ocf(self, code: OcfCode, what: impl fmt::Display) -> OcfResult<T> {
        self.map_err(|e| OcfError::new(code, format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_numbers() {
        assert_eq!(OcfCode::NotRunning.as_i32(), 7);
        assert_eq!(OcfCode::Degraded.as_i32(), 190);
        assert_eq!(OcfCode::ErrConfigured.to_string(), "6 (OCF_ERR_CONFIGURED)");
    }

    #[test]
    fn context_prefixes_reason() {
        let e = OcfError::installed("no such file").context("httpd");
        assert_eq!(e.reason, "httpd: no such file");
        assert_eq!(e.code, OcfCode::ErrInstalled);
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        assert_eq!(r.ocf(OcfCode::ErrGeneric, "x").unwrap_err().reason, "x: boom");
    }
}
