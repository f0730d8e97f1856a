//! The status file: the daemon's view of every virtual and real, rewritten on every change and
//! at least once a second (the heartbeat), so `status`, the OCF agent and other tools read it
//! without talking to the daemon, and tell a hung daemon (old heartbeat) from a live one.
//!
//! JSON, `<run dir>/<name>.status`, replaced atomically.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::real_state::Health;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The instance name (the config file's base name).
    pub name: String,
    pub config: String,
    pub pid: u32,
    /// Unix time (seconds) of this write; the daemon writes at least once a second.
    pub heartbeat: f64,
    pub started: f64,
    /// Every checked real has had at least one result.
    pub first_round_done: bool,
    /// "starting", "running", "reloading", "stopping".
    pub phase: String,
    /// The last reload's failure, kept until a reload succeeds.
    pub reload_error: Option<String>,
    pub virtuals: Vec<VirtualStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualStatus {
    /// As ipvsadm shows it: "TCP 198.51.100.10:80".
    pub virtual_service: String,
    pub scheduler: String,
    /// Where the `virtual=` line is ("ldirectord.cf:12").
    pub line: String,
    pub fallback: Option<String>,
    pub fallback_active: bool,
    /// Why this daemon cannot manage the virtual (owned by another instance, kernel error).
    pub error: Option<String>,
    pub reals: Vec<RealStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealStatus {
    /// "203.0.113.2:80".
    pub real: String,
    /// The effective state (maintenance applied): unchecked, up or down.
    pub state: Health,
    /// The weight this daemon has programmed (None: not in the kernel).
    pub weight: Option<u32>,
    pub configured_weight: u32,
    /// The last check's result, its reason and how long it took.
    pub last_result: Option<Health>,
    pub reason: Option<String>,
    pub latency_ms: Option<f64>,
    pub consecutive_failures: u32,
    pub maintenance: Option<String>,
    /// A reload removed it: weight 0 until it is deleted.
    pub draining: bool,
    /// Unix time of the last state change, and the age when this file was written.
    pub changed: f64,
    pub seconds_since_change: f64,
}

pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

pub fn now() -> f64 {
    unix(SystemTime::now())
}

impl Status {
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        super::ipvs_sync::write_atomic(path, &json)
    }

    pub fn read(path: &Path) -> Result<Status, String> {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Seconds since the last heartbeat, at `now`.
    pub fn heartbeat_age(&self, now: f64) -> f64 {
        (now - self.heartbeat).max(0.0)
    }

    /// The human listing `status` prints: one line per virtual, one per real.
    pub fn render(&self, now: f64) -> String {
        let mut out = format!(
            "{} (config {}): pid {}, {}, first check round {}, heartbeat {:.0} s ago\n",
            self.name,
            self.config,
            self.pid,
            self.phase,
            if self.first_round_done { "done" } else { "not done yet" },
            self.heartbeat_age(now)
        );
        if let Some(e) = &self.reload_error {
            out.push_str(&format!("  last reload refused: {e}\n"));
        }
        for v in &self.virtuals {
            out.push_str(&format!("virtual {} scheduler {} ({})", v.virtual_service, v.scheduler, v.line));
            if let Some(fb) = &v.fallback {
                out.push_str(&format!(
                    ", fallback {fb} {}",
                    if v.fallback_active { "ACTIVE" } else { "inactive" }
                ));
            }
            out.push('\n');
            if let Some(e) = &v.error {
                out.push_str(&format!("  error: {e}\n"));
            }
            for r in &v.reals {
                let weight = match r.weight {
                    Some(w) => format!("weight {w}/{}", r.configured_weight),
                    None => format!("not in IPVS (weight {})", r.configured_weight),
                };
                let age = (now - r.changed).max(0.0);
                out.push_str(&format!("  real {} {} {weight}", r.real, r.state.name()));
                match (&r.last_result, &r.reason) {
                    (Some(l), Some(reason)) => out.push_str(&format!(", last check {}: {reason}", l.name())),
                    _ => out.push_str(", not checked yet"),
                }
                if let Some(m) = &r.maintenance {
                    out.push_str(&format!(", maintenance ({m})"));
                }
                if r.draining {
                    out.push_str(", draining (removed from the config)");
                }
                out.push_str(&format!(", {} for {}\n", r.state.name(), human_age(age)));
            }
        }
        out
    }
}

/// "12 s", "5 min 3 s", "2 h 10 min", "3 d 4 h".
pub fn human_age(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            name: "ldirectord".into(),
            config: "/etc/ha.d/ldirectord.cf".into(),
            pid: 42,
            heartbeat: 1000.0,
            started: 900.0,
            first_round_done: true,
            phase: "running".into(),
            reload_error: None,
            virtuals: vec![VirtualStatus {
                virtual_service: "TCP 198.51.100.10:80".into(),
                scheduler: "wrr".into(),
                line: "ldirectord.cf:3".into(),
                fallback: Some("127.0.0.1:80".into()),
                fallback_active: false,
                error: None,
                reals: vec![
                    RealStatus {
                        real: "203.0.113.2:80".into(),
                        state: Health::Up,
                        weight: Some(3),
                        configured_weight: 3,
                        last_result: Some(Health::Up),
                        reason: Some("ok".into()),
                        latency_ms: Some(1.5),
                        consecutive_failures: 0,
                        maintenance: None,
                        draining: false,
                        changed: 950.0,
                        seconds_since_change: 50.0,
                    },
                    RealStatus {
                        real: "203.0.113.3:80".into(),
                        state: Health::Down,
                        weight: None,
                        configured_weight: 1,
                        last_result: Some(Health::Down),
                        reason: Some("connect refused".into()),
                        latency_ms: Some(0.2),
                        consecutive_failures: 4,
                        maintenance: None,
                        draining: false,
                        changed: 700.0,
                        seconds_since_change: 300.0,
                    },
                    RealStatus {
                        real: "203.0.113.4:80".into(),
                        state: Health::Unchecked,
                        weight: None,
                        configured_weight: 1,
                        last_result: None,
                        reason: None,
                        latency_ms: None,
                        consecutive_failures: 0,
                        maintenance: Some("/m/203.0.113.4".into()),
                        draining: true,
                        changed: 1000.0,
                        seconds_since_change: 0.0,
                    },
                ],
            }],
        }
    }

    #[test]
    fn the_file_round_trips_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.status");
        let s = sample();
        s.write(&p).unwrap();
        assert_eq!(Status::read(&p).unwrap(), s);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["virtuals"][0]["reals"][1]["state"], "down");
        assert_eq!(v["first_round_done"], true);
        assert!(Status::read(&dir.path().join("none")).unwrap_err().contains("none"));
        std::fs::write(&p, "{").unwrap();
        assert!(Status::read(&p).is_err());
    }

    #[test]
    fn render_names_every_real_with_state_weight_result_and_age() {
        let text = sample().render(1010.0);
        assert!(text.contains("pid 42, running, first check round done, heartbeat 10 s ago"), "{text}");
        assert!(text.contains("virtual TCP 198.51.100.10:80 scheduler wrr"), "{text}");
        assert!(text.contains("fallback 127.0.0.1:80 inactive"), "{text}");
        assert!(
            text.contains("real 203.0.113.2:80 up weight 3/3, last check up: ok, up for 1 min 0 s"),
            "{text}"
        );
        assert!(
            text.contains(
                "real 203.0.113.3:80 down not in IPVS (weight 1), last check down: connect refused, down for 5 min 10 s"
            ),
            "{text}"
        );
        assert!(text.contains("203.0.113.4:80 unchecked"), "{text}");
        assert!(text.contains("not checked yet, maintenance (/m/203.0.113.4), draining"), "{text}");
    }

    #[test]
    fn ages_are_human() {
        assert_eq!(human_age(5.4), "5 s");
        assert_eq!(human_age(125.0), "2 min 5 s");
        assert_eq!(human_age(7260.0), "2 h 1 min");
        assert_eq!(human_age(90000.0), "1 d 1 h");
        assert_eq!(human_age(-3.0), "0 s");
    }
}
