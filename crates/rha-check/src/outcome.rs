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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_bounded_line() {
        assert_eq!(one_line("SMTP banner 554 no\rservice"), "SMTP banner 554 no service");
        assert_eq!(one_line("query failed: a\nb\t"), "query failed: a b");
        assert_eq!(one_line("  "), "down (no reason given)");
        let long = one_line(&"\u{e9}".repeat(1000));
        assert!(long.len() <= MAX_REASON && long.ends_with("..."), "{}", long.len());
        let out = Outcome::from_result(Err(Down::new("x\ny")), Duration::ZERO);
        assert_eq!((out.up, out.reason.as_str()), (false, "x y"));
    }
}

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

/// The longest reason an outcome carries (in bytes); a longer one is cut, with "...".
pub const MAX_REASON: usize = 512;

impl Outcome {
    /// The outcome of a result; a reason is made fit to log and show on one line (see
    /// [`one_line`]).
    pub fn from_result(result: CheckResult, latency: Duration) -> Self {
        match result {
            Ok(()) => Outcome { up: true, reason: "ok".into(), latency },
            Err(Down(reason)) => Outcome { up: false, reason: one_line(&reason), latency },
        }
    }
}

/// A reason as the daemon logs and shows it: control characters (line breaks a server put in
/// its text) become spaces, and it is cut to [`MAX_REASON`] bytes; never empty.
pub fn one_line(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(MAX_REASON));
    for c in reason.trim().chars() {
        if out.len() + c.len_utf8() > MAX_REASON - 3 {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    if out.trim().is_empty() { "down (no reason given)".into() } else { out }
}
