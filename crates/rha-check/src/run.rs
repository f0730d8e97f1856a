//! One check, bounded by its timeout.
//!
//! [`run_check`] picks what to do from the checktype: connect, ping and external are bounded
//! by `checktimeout`; negotiate by `negotiatetimeout`. A check that runs out of time is down
//! with "timeout after N s" and the stage it was in ("waiting for the banner"), which a
//! service records with [`Probe::stage`] as it goes.
//!
//! `checktype=N` (connect, with a negotiate every N successful connects) needs a count kept
//! across intervals: that belongs to the scheduler, which calls [`run_connect`] or
//! [`run_negotiate`] itself. Here it runs a connect check.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::outcome::{CheckResult, Outcome};
use crate::spec::{CheckSpec, CheckType, Protocol, Target};
use crate::{Down, checktypes, services};

/// What a running check knows: its spec, its target, and the stage it has reached.
pub struct Probe<'a> {
    pub spec: &'a CheckSpec,
    pub target: &'a Target,
    stage: Mutex<&'static str>,
}

impl<'a> Probe<'a> {
    pub fn new(spec: &'a CheckSpec, target: &'a Target) -> Self {
        Probe { spec, target, stage: Mutex::new("connecting") }
    }

    /// Records what the check is doing now, for the timeout reason ("waiting for the banner").
    pub fn stage(&self, what: &'static str) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = what;
    }

    fn current_stage(&self) -> &'static str {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `check` within `limit`; a timeout names the stage reached.
async fn bounded<'a, F>(probe: &Probe<'a>, limit: Duration, check: F) -> CheckResult
where
    F: std::future::Future<Output = CheckResult>,
{
    match tokio::time::timeout(limit, check).await {
        Ok(result) => result,
        Err(_) => Err(Down(format!("timeout after {} {}", human(limit), probe.current_stage()))),
    }
}

/// "3 s", "1.5 s", "250 ms".
pub fn human(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Runs the check its checktype names, once.
pub async fn run_check(spec: &CheckSpec, target: &Target) -> Outcome {
    match spec.checktype {
        CheckType::On => Outcome { up: true, reason: "checktype=on".into(), latency: Duration::ZERO },
        CheckType::Off => Outcome { up: false, reason: "checktype=off".into(), latency: Duration::ZERO },
        CheckType::Connect | CheckType::Combined(_) => run_connect(spec, target).await,
        CheckType::Negotiate => run_negotiate(spec, target).await,
        CheckType::Ping => {
            timed(spec, target, spec.check_timeout, |p| Box::pin(checktypes::ping::check(p))).await
        }
        CheckType::External => {
            timed(spec, target, spec.check_timeout, |p| Box::pin(checktypes::external::check(p))).await
        }
    }
}

/// A connect check: TCP connect within checktimeout; on a UDP virtual, a ping (as ldirectord).
pub async fn run_connect(spec: &CheckSpec, target: &Target) -> Outcome {
    if spec.protocol == Protocol::Udp {
        return timed(spec, target, spec.check_timeout, |p| Box::pin(checktypes::ping::check(p))).await;
    }
    timed(spec, target, spec.check_timeout, |p| Box::pin(checktypes::connect::check(p))).await
}

/// A negotiate check: the service's protocol within negotiatetimeout.
pub async fn run_negotiate(spec: &CheckSpec, target: &Target) -> Outcome {
    timed(spec, target, spec.negotiate_timeout, |p| Box::pin(services::negotiate(p))).await
}

type BoxedCheck<'p> = std::pin::Pin<Box<dyn std::future::Future<Output = CheckResult> + Send + 'p>>;

async fn timed<F>(spec: &CheckSpec, target: &Target, limit: Duration, check: F) -> Outcome
where
    F: for<'p> FnOnce(&'p Probe<'p>) -> BoxedCheck<'p>,
{
    let probe = Probe::new(spec, target);
    let started = Instant::now();
    let result = bounded(&probe, limit, check(&probe)).await;
    Outcome::from_result(result, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Service;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(3)), "3 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn on_and_off_need_no_network() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let target = Target::new("192.0.2.1:80".parse().unwrap());
        let mut spec = CheckSpec::new(Service::Http);
        spec.checktype = CheckType::On;
        assert!(rt.block_on(run_check(&spec, &target)).up);
        spec.checktype = CheckType::Off;
        assert!(!rt.block_on(run_check(&spec, &target)).up);
    }

    #[test]
    fn connect_to_a_closed_loopback_port_is_refused_and_a_timeout_names_the_stage() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            // A port that was just free: bind, note it, close.
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let target = Target::new(format!("127.0.0.1:{port}").parse().unwrap());
            let mut spec = CheckSpec::new(Service::None);
            spec.checktype = CheckType::Connect;
            let out = run_check(&spec, &target).await;
            assert!(!out.up);
            assert_eq!(out.reason, "connect refused");

            // A listener that accepts; negotiate with service=none is up.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let target = Target::new(listener.local_addr().unwrap());
            let out = run_check(&spec, &target).await;
            assert!(out.up, "{out:?}");

            // The stage names what timed out.
            let probe = Probe::new(&spec, &target);
            probe.stage("waiting for the banner");
            let r = bounded(&probe, Duration::from_millis(20), std::future::pending()).await;
            assert_eq!(r.unwrap_err().0, "timeout after 20 ms waiting for the banner");
        });
    }
}
