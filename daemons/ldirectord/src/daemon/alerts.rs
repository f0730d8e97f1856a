//! `emailalert`: which state changes make a mail, and the "Inaccessible real server" reminders
//! every `emailalertfreq` while a real stays down. Pure decisions; [`super::mail`] sends.
//!
//! Unlike upstream, never for a real that was never up: upstream mails "Added real server"
//! for every real at start-up and "Deleted" for every real that failed its first check
//! (years of complaints, its PRs #251/#756/#760). So a mail goes out when a real that was up
//! goes down, when such a real comes back, and as a reminder while it stays down.
//! `emailalertstatus` filters by the daemon's phase (starting, running, stopping, reloading),
//! as upstream's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rha_ipvs::{DestKey, ServiceKey};

use super::mail::Mail;
use super::real_state::{Change, Health};
use crate::model::{AlertStates, Real, Virtual};

/// A mail to send, with the relay to use (None: the local sendmail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub mail: Mail,
    pub smtp: Option<String>,
}

/// Reminders due: the reals that went down, and when the last mail about each went out.
#[derive(Debug, Default)]
pub struct Alerts {
    reminders: HashMap<(ServiceKey, DestKey), Instant>,
}

/// Whether `phase` (the status file's word) is one the virtual sends alerts in.
pub fn phase_allows(states: AlertStates, phase: &str) -> bool {
    match phase {
        "starting" => states.starting,
        "running" => states.running,
        "stopping" => states.stopping,
        "reloading" => states.reloading,
        _ => false,
    }
}

/// What the daemon says about itself in the mail (hostname, phase) and its sender.
pub struct Sender<'a> {
    pub hostname: &'a str,
    pub phase: &'a str,
    /// `emailalertfrom`, else root@<hostname>.
    pub from: Option<&'a str>,
}

impl Alerts {
    /// A real's effective state changed. `was_ever_up`: before this change.
    pub fn on_change(
        &mut self,
        v: &Virtual,
        real: &Real,
        change: &Change,
        was_ever_up: bool,
        who: &Sender,
        now: Instant,
    ) -> Option<Alert> {
        let key = (v.key(), real.dest.key());
        let subject = match (change.from, change.to) {
            (Health::Up, Health::Down) => {
                if v.emailalert_freq > Duration::ZERO {
                    self.reminders.insert(key, now);
                }
                if v.quiescent {
                    format!("Quiescent real server: {} (weight set to 0)", id(v, real))
                } else {
                    format!("Deleted real server: {}", id(v, real))
                }
            }
            (Health::Down, Health::Up) if was_ever_up => {
                self.reminders.remove(&key);
                format!("Restored real server: {} (weight set to {})", id(v, real), real.dest.weight)
            }
            _ => return None,
        };
        compose(v, subject, &change.reason, who)
    }

    /// Reminders for reals still down after `emailalertfreq`. `virtuals` lists each virtual
    /// with its reals and whether each is down now; entries for reals no longer listed are
    /// forgotten.
    pub fn due(
        &mut self,
        virtuals: &[(&Virtual, Vec<(&Real, bool)>)],
        who: &Sender,
        now: Instant,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        let mut still = HashMap::new();
        for (v, reals) in virtuals {
            for (real, down) in reals {
                let key = (v.key(), real.dest.key());
                let Some(last) = self.reminders.get(&key).copied() else { continue };
                if !*down || v.emailalert_freq.is_zero() {
                    continue;
                }
                let last = if now.saturating_duration_since(last) >= v.emailalert_freq {
                    if let Some(a) =
                        compose(v, format!("Inaccessible real server: {}", id(v, real)), "still down", who)
                    {
                        out.push(a);
                    }
                    now
                } else {
                    last
                };
                still.insert(key, last);
            }
        }
        self.reminders = still;
        out
    }
}

/// Upstream's id of a real in subjects: "203.0.113.2:80 (TCP 198.51.100.10:80)".
fn id(v: &Virtual, real: &Real) -> String {
    format!("{} ({})", real.dest.key(), v.key())
}

fn compose(v: &Virtual, subject: String, reason: &str, who: &Sender) -> Option<Alert> {
    if v.emailalert.is_empty() || !phase_allows(v.emailalert_status, who.phase) {
        return None;
    }
    let subject = match &v.servicename {
        Some(n) => format!("[{n}] {subject}"),
        None => subject,
    };
    let mut body = format!(
        "ldirectord host: {}\nLog-Message: {subject}\nReason: {reason}\nDaemon-Status: {}\n",
        who.hostname, who.phase
    );
    if let Some(n) = &v.servicename {
        body.push_str(&format!("\nService name: {n}\n"));
    }
    if let Some(c) = &v.comment {
        body.push_str(&format!("Comment: {c}\n"));
    }
    let from = who.from.map(str::to_string).unwrap_or_else(|| format!("root@{}", who.hostname));
    Some(Alert { mail: Mail { from, to: v.emailalert.clone(), subject, body }, smtp: v.smtp.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::desired::tests::virtual_with;

    fn who(phase: &str) -> Sender<'_> {
        Sender { hostname: "director", phase, from: None }
    }

    fn change(from: Health, to: Health) -> Change {
        Change { from, to, reason: "connect refused".into() }
    }

    #[test]
    fn only_reals_that_were_up_make_mail() {
        let mut v = virtual_with(&[("203.0.113.2:80", 3)], false, None);
        v.emailalert = vec!["ops@example.org".into()];
        let r = v.reals[0].clone();
        let mut a = Alerts::default();
        let t = Instant::now();
        // Start-up: a real that fails its first check, or passes it, is not news.
        assert_eq!(
            a.on_change(&v, &r, &change(Health::Unchecked, Health::Down), false, &who("starting"), t),
            None
        );
        assert_eq!(
            a.on_change(&v, &r, &change(Health::Unchecked, Health::Up), false, &who("starting"), t),
            None
        );
        // Never up, then up for the first time: not a recovery either.
        assert_eq!(a.on_change(&v, &r, &change(Health::Down, Health::Up), false, &who("running"), t), None);
        let down = a.on_change(&v, &r, &change(Health::Up, Health::Down), true, &who("running"), t).unwrap();
        assert_eq!(down.mail.subject, "Deleted real server: 203.0.113.2:80 (TCP 198.51.100.10:80)");
        assert_eq!(down.mail.from, "root@director");
        assert!(down.mail.body.contains("Reason: connect refused"), "{}", down.mail.body);
        let up = a.on_change(&v, &r, &change(Health::Down, Health::Up), true, &who("running"), t).unwrap();
        assert_eq!(
            up.mail.subject,
            "Restored real server: 203.0.113.2:80 (TCP 198.51.100.10:80) (weight set to 3)"
        );
        // No recipients: nothing.
        v.emailalert.clear();
        assert_eq!(a.on_change(&v, &r, &change(Health::Up, Health::Down), true, &who("running"), t), None);
    }

    #[test]
    fn quiescent_servicename_and_phase_filter() {
        let mut v = virtual_with(&[("203.0.113.2:80", 1)], false, None);
        v.emailalert = vec!["ops@example.org".into()];
        v.quiescent = true;
        v.servicename = Some("web".into());
        v.smtp = Some("198.51.100.5".into());
        v.emailalert_status =
            AlertStates { starting: false, running: true, stopping: false, reloading: false };
        let r = v.reals[0].clone();
        let mut a = Alerts::default();
        let t = Instant::now();
        let m = a.on_change(&v, &r, &change(Health::Up, Health::Down), true, &who("running"), t).unwrap();
        assert_eq!(
            m.mail.subject,
            "[web] Quiescent real server: 203.0.113.2:80 (TCP 198.51.100.10:80) (weight set to 0)"
        );
        assert_eq!(m.smtp.as_deref(), Some("198.51.100.5"));
        assert!(m.mail.body.contains("Service name: web"));
        assert_eq!(a.on_change(&v, &r, &change(Health::Up, Health::Down), true, &who("stopping"), t), None);
        assert_eq!(a.on_change(&v, &r, &change(Health::Up, Health::Down), true, &who("reloading"), t), None);
    }

    #[test]
    fn reminders_every_emailalertfreq_while_down() {
        let mut v = virtual_with(&[("203.0.113.2:80", 1), ("203.0.113.3:80", 1)], false, None);
        v.emailalert = vec!["ops@example.org".into()];
        v.emailalert_freq = Duration::from_secs(60);
        let (r0, r1) = (v.reals[0].clone(), v.reals[1].clone());
        let mut a = Alerts::default();
        let t0 = Instant::now();
        a.on_change(&v, &r0, &change(Health::Up, Health::Down), true, &who("running"), t0).unwrap();
        let list = |d0: bool| vec![(&v, vec![(&r0, d0), (&r1, false)])];
        assert!(a.due(&list(true), &who("running"), t0 + Duration::from_secs(59)).is_empty());
        let due = a.due(&list(true), &who("running"), t0 + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].mail.subject, "Inaccessible real server: 203.0.113.2:80 (TCP 198.51.100.10:80)");
        assert!(a.due(&list(true), &who("running"), t0 + Duration::from_secs(61)).is_empty());
        assert_eq!(a.due(&list(true), &who("running"), t0 + Duration::from_secs(120)).len(), 1);
        // Back up: no more reminders.
        a.on_change(&v, &r0, &change(Health::Down, Health::Up), true, &who("running"), t0).unwrap();
        assert!(a.due(&list(false), &who("running"), t0 + Duration::from_secs(600)).is_empty());
        // emailalertfreq=0: the one mail only.
        v.emailalert_freq = Duration::ZERO;
        a.on_change(&v, &r0, &change(Health::Up, Health::Down), true, &who("running"), t0).unwrap();
        assert!(a.due(&[(&v, vec![(&r0, true)])], &who("running"), t0 + Duration::from_secs(600)).is_empty());
    }
}
