//! What one agent invocation did, for the tests of every agent: its exit code, its output, the
//! `ocf-exit-reason:` it gave, and how long it took.

use std::fmt;
use std::process::Output;
use std::time::Duration;

/// One finished agent run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// What ran, for messages (`monitor`, `apache start`); may be empty.
    pub action: String,
    /// The exit code; -1 when a signal ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// From a finished [`std::process::Command::output`].
    pub fn from_output(action: &str, out: &Output, elapsed: Duration) -> Outcome {
        Outcome {
            action: action.to_string(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// The last `ocf-exit-reason:` text (the one Pacemaker records), if any.
    pub fn reason(&self) -> Option<&str> {
        self.stderr.lines().rev().find_map(|l| l.split_once("ocf-exit-reason:").map(|(_, r)| r.trim()))
    }

    /// The reason, or "" (for `contains` asserts).
    pub fn why(&self) -> &str {
        self.reason().unwrap_or("")
    }

    /// Asserts the exit code, printing the whole run when it differs.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}: {self}");
        self
    }

    /// Asserts the exit code and that the exit reason contains `contains`.
    #[track_caller]
    pub fn expect_reason(&self, code: i32, contains: &str) -> &Self {
        self.expect(code);
        assert!(self.why().contains(contains), "exit reason lacks {contains:?}: {self}");
        self
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.action.is_empty() {
            write!(f, "{} ", self.action)?;
        }
        write!(f, "exit {} after {:?}", self.code, self.elapsed)?;
        if !self.stdout.trim().is_empty() {
            write!(f, "\n--- stdout ---\n{}", self.stdout.trim_end())?;
        }
        if !self.stderr.trim().is_empty() {
            write!(f, "\n--- stderr ---\n{}", self.stderr.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_reason_counts() {
        let o = Outcome {
            code: 5,
            stderr: "ocf-exit-reason:first\nERROR: x\nocf-exit-reason: second \n".into(),
            ..Outcome::default()
        };
        assert_eq!(o.reason(), Some("second"));
        o.expect_reason(5, "sec");
        assert_eq!(Outcome::default().why(), "");
    }
}
