//! One real server's health, from the check reports about it.
//!
//! - A real is `Unchecked` until its first result: it is never given weight before a check
//!   passed (upstream adds unchecked reals at full weight for a moment, upstream-agents.md §7).
//! - The first result decides at once (a real that was never up is not "failing").
//! - An up real goes down after `failurecount` consecutive failures; a success resets the
//!   count (upstream's "soft failure").
//! - A down real comes up after [`SUCCESS_COUNT`] consecutive successes. Upstream has no such
//!   setting and brings it up on the first success; so do we (the constant is 1), the count is
//!   kept so a higher value would only change the constant.
//! - `maintenancedir`: a file named after the real forces it down whatever its checks say;
//!   the checks go on, so removing the file brings it back as soon as its last result allows.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Consecutive successes that bring a down real up (upstream: the first success).
pub const SUCCESS_COUNT: u32 = 1;

/// What the checks say about a real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No result yet.
    Unchecked,
    Up,
    Down,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Unchecked => "unchecked",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The last check result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastResult {
    pub up: bool,
    pub reason: String,
    pub latency: Duration,
    pub at: SystemTime,
}

/// A change of a real's effective state (what IPVS should see), for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: Health,
    pub to: Health,
    /// Why: the check's reason, "maintenance file X", ...
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct RealState {
    health: Health,
    failures: u32,
    successes: u32,
    /// `Some(file)` while a maintenance file forces the real down.
    maintenance: Option<String>,
    last: Option<LastResult>,
    /// When the effective state last changed (or the state was created).
    changed: Instant,
    changed_wall: SystemTime,
    /// Whether the real has ever been up (alerts are never sent for a real that never was).
    ever_up: bool,
}

impl RealState {
    pub fn new(now: Instant) -> Self {
        RealState {
            health: Health::Unchecked,
            failures: 0,
            successes: 0,
            maintenance: None,
            last: None,
            changed: now,
            changed_wall: SystemTime::now(),
            ever_up: false,
        }
    }

    /// A real that needs no check (`checktype=on`): up from the start.
    pub fn always_up(now: Instant) -> Self {
        let mut s = RealState::new(now);
        s.health = Health::Up;
        s.ever_up = true;
        s.last = Some(LastResult {
            up: true,
            reason: "checktype=on".into(),
            latency: Duration::ZERO,
            at: SystemTime::now(),
        });
        s
    }

    /// What the checks say, ignoring maintenance.
    pub fn health(&self) -> Health {
        self.health
    }

    /// What IPVS should see: up only when the checks say up and no maintenance file exists.
    pub fn effective(&self) -> Health {
        if self.maintenance.is_some() { Health::Down } else { self.health }
    }

    pub fn is_up(&self) -> bool {
        self.effective() == Health::Up
    }

    /// Whether the real has had a result (checktype=on counts as one).
    pub fn has_result(&self) -> bool {
        self.last.is_some()
    }

    pub fn last(&self) -> Option<&LastResult> {
        self.last.as_ref()
    }

    pub fn maintenance(&self) -> Option<&str> {
        self.maintenance.as_deref()
    }

    pub fn ever_up(&self) -> bool {
        self.ever_up
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    pub fn since_change(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.changed)
    }

    pub fn changed_at(&self) -> SystemTime {
        self.changed_wall
    }

    /// Records a check result; returns the change of the effective state, if any.
    pub fn record(
        &mut self,
        up: bool,
        reason: &str,
        latency: Duration,
        failure_count: u32,
        now: Instant,
    ) -> Option<Change> {
        let before = self.effective();
        self.last = Some(LastResult { up, reason: reason.to_string(), latency, at: SystemTime::now() });
        if up {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.health != Health::Up && self.successes >= SUCCESS_COUNT {
                self.health = Health::Up;
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            match self.health {
                // Never up: the first failure says down (nothing to be lenient about).
                Health::Unchecked => self.health = Health::Down,
                Health::Up if self.failures >= failure_count.max(1) => self.health = Health::Down,
                _ => {}
            }
        }
        self.finish(before, reason, now)
    }

    /// Sets or clears the maintenance file that forces the real down; returns the change of
    /// the effective state, if any.
    pub fn set_maintenance(&mut self, file: Option<String>, now: Instant) -> Option<Change> {
        if self.maintenance == file {
            return None;
        }
        let before = self.effective();
        let reason = match &file {
            Some(f) => format!("maintenance file {f}"),
            None => "maintenance file removed".to_string(),
        };
        self.maintenance = file;
        self.finish(before, &reason, now)
    }

    fn finish(&mut self, before: Health, reason: &str, now: Instant) -> Option<Change> {
        let after = self.effective();
        if after == Health::Up {
            self.ever_up = true;
        }
        if after == before {
            return None;
        }
        self.changed = now;
        self.changed_wall = SystemTime::now();
        Some(Change { from: before, to: after, reason: reason.to_string() })
    }
}

/// The maintenance file that forces a real down, if one exists: `<ip>:<port>`, then `<ip>`
/// (upstream's names). Upstream also tries the real's reverse-DNS names; we do not: a DNS
/// look-up before every check could stall the daemon and the answer can change under it.
/// IPv6 addresses are written without brackets (`2001:db8::5:80`, `2001:db8::5`), as
/// upstream forms them.
pub fn maintenance_file(dir: &Path, addr: IpAddr, port: u16) -> Option<String> {
    [format!("{addr}:{port}"), addr.to_string()]
        .into_iter()
        .find(|name| dir.join(name).exists())
        .map(|name| dir.join(name).display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::ZERO;

    #[test]
    fn never_up_before_the_first_pass() {
        let t = Instant::now();
        let mut s = RealState::new(t);
        assert_eq!(s.effective(), Health::Unchecked);
        assert!(!s.is_up() && !s.has_result());
        let c = s.record(false, "connect refused", D, 3, t).unwrap();
        assert_eq!((c.from, c.to), (Health::Unchecked, Health::Down), "first result decides");
        assert!(!s.ever_up());
        let c = s.record(true, "ok", D, 3, t).unwrap();
        assert_eq!((c.from, c.to, c.reason.as_str()), (Health::Down, Health::Up, "ok"));
        assert!(s.ever_up());
    }

    #[test]
    fn failurecount_consecutive_failures_take_it_down_and_a_success_resets() {
        let t = Instant::now();
        let mut s = RealState::new(t);
        s.record(true, "ok", D, 3, t);
        assert!(s.record(false, "HTTP 503", D, 3, t).is_none());
        assert!(s.record(false, "HTTP 503", D, 3, t).is_none());
        assert!(s.record(true, "ok", D, 3, t).is_none(), "soft failures reset");
        assert_eq!(s.consecutive_failures(), 0);
        assert!(s.record(false, "x", D, 3, t).is_none());
        assert!(s.record(false, "x", D, 3, t).is_none());
        let c = s.record(false, "timeout", D, 3, t).unwrap();
        assert_eq!((c.to, c.reason.as_str()), (Health::Down, "timeout"));
        assert!(s.record(false, "x", D, 3, t).is_none());
        assert_eq!(s.last().unwrap().reason, "x");
    }

    #[test]
    fn failurecount_one_and_zero_go_down_at_once() {
        let t = Instant::now();
        for fc in [0, 1] {
            let mut s = RealState::new(t);
            s.record(true, "ok", D, fc, t);
            assert_eq!(s.record(false, "x", D, fc, t).unwrap().to, Health::Down);
        }
    }

    #[test]
    fn maintenance_forces_down_and_releases() {
        let t = Instant::now();
        let mut s = RealState::new(t);
        // Maintenance on an unchecked real: down (it is not coming in either way).
        assert_eq!(s.set_maintenance(Some("/m/x".into()), t).unwrap().to, Health::Down);
        assert!(s.record(true, "ok", D, 1, t).is_none(), "up by checks but in maintenance");
        assert_eq!((s.health(), s.effective()), (Health::Up, Health::Down));
        let c = s.set_maintenance(None, t).unwrap();
        assert_eq!((c.to, c.reason.as_str()), (Health::Up, "maintenance file removed"));
        let c = s.set_maintenance(Some("/m/x".into()), t).unwrap();
        assert_eq!((c.to, c.reason.as_str()), (Health::Down, "maintenance file /m/x"));
        assert!(s.set_maintenance(Some("/m/x".into()), t).is_none());
        // Checks fail meanwhile: removing the file leaves it down.
        s.record(false, "refused", D, 1, t);
        assert!(s.set_maintenance(None, t).is_none());
        assert_eq!(s.effective(), Health::Down);
    }

    #[test]
    fn always_up_is_up_with_a_result() {
        let s = RealState::always_up(Instant::now());
        assert!(s.is_up() && s.has_result() && s.ever_up());
    }

    #[test]
    fn since_change_counts_from_the_last_change() {
        let t = Instant::now();
        let mut s = RealState::new(t);
        s.record(true, "ok", D, 1, t + Duration::from_secs(5));
        s.record(true, "ok", D, 1, t + Duration::from_secs(9));
        assert_eq!(s.since_change(t + Duration::from_secs(12)), Duration::from_secs(7));
    }

    #[test]
    fn maintenance_files_are_named_as_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "203.0.113.2".parse().unwrap();
        assert_eq!(maintenance_file(dir.path(), ip, 80), None);
        std::fs::write(dir.path().join("203.0.113.2"), "").unwrap();
        assert!(maintenance_file(dir.path(), ip, 80).unwrap().ends_with("/203.0.113.2"));
        std::fs::write(dir.path().join("203.0.113.2:80"), "").unwrap();
        assert!(maintenance_file(dir.path(), ip, 80).unwrap().ends_with("/203.0.113.2:80"));
        assert_eq!(maintenance_file(dir.path(), "203.0.113.3".parse().unwrap(), 80), None);
        let v6: IpAddr = "2001:db8::5".parse().unwrap();
        std::fs::write(dir.path().join("2001:db8::5:443"), "").unwrap();
        assert!(maintenance_file(dir.path(), v6, 443).is_some());
    }
}
