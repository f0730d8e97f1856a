//! The result of one check.

use std::fmt;
use std::time::Duration;

/// Why a check found a server down: a short reason such as "connect refused", "HTTP 503",
/// "receive /ok/ not in body" or "timeout after 3 s waiting for the banner".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down(pub String);

impl Down {
    pub fn new(reason: impl Into<String>) -> Self {
        Down(reason.into())
    }
}

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Down {}

impl From<std::io::Error> for Down {
    fn from(e: std::io::Error) -> Self {
        Down(crate::net::describe_io_error(&e))
    }
}

/// What a service check returns: `Ok(())` is up.
pub type CheckResult = Result<(), Down>;

/// One check's outcome, as the daemon records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub up: bool,
    /// "ok" (or what was matched) when up; why not when down.
    pub reason: String,
    /// Wall time the check took.
    pub latency: Duration,
}

impl Outcome {
    pub fn from_result(result: CheckResult, latency: Duration) -> Self {
        match result {
            Ok(()) => Outcome { up: true, reason: "ok".into(), latency },
            Err(Down(reason)) => Outcome { up: false, reason, latency },
        }
    }
}
