//! Config + real states → the IPVS table this daemon wants for each virtual. Pure functions.
//!
//! - An up real is present with its configured weight and thresholds.
//! - A down (or unchecked) real is absent, or present with weight 0 when the virtual is
//!   quiescent. With quiescent=yes a missing down real is always re-added with weight 0 (the
//!   table is kept exactly as wanted), so `readdquiescent` changes nothing here.
//! - The fallback is present (with its configured weight) only while no real is up;
//!   `checktype=off` has no reals, so its fallback is always present.
//! - A real being drained after a reload removed it stays with weight 0 until its bound.

use rha_check::CheckType;
use rha_ipvs::{Dest, ServiceSpec};

use crate::model::Virtual;

/// The desired service for `v`. `up[i]` says whether `v.reals[i]` is up (effective state,
/// maintenance applied); missing entries count as down. `draining` are reals a reload removed,
/// kept with weight 0 until they are deleted.
pub fn desired_service(v: &Virtual, up: &[bool], draining: &[Dest]) -> ServiceSpec {
    let mut spec = ServiceSpec::new(v.service.clone());
    let mut any_up = false;
    if v.check.checktype != CheckType::Off {
        for (i, real) in v.reals.iter().enumerate() {
            let is_up = v.check.checktype == CheckType::On || up.get(i).copied().unwrap_or(false);
            if is_up {
                any_up = true;
                push(&mut spec, real.dest.clone());
            } else if v.quiescent {
                push(&mut spec, real.dest.clone().with_weight(0));
            }
        }
    }
    for d in draining {
        push(&mut spec, d.clone().with_weight(0));
    }
    if !any_up && let Some(fb) = &v.fallback {
        // The fallback replaces a quiescent real of the same address (it serves now).
        spec.dests.retain(|d| d.key() != fb.key());
        spec.dests.push(fb.clone());
    }
    spec
}

/// Whether the virtual's fallback is in use (no real up).
pub fn fallback_active(v: &Virtual, up: &[bool]) -> bool {
    v.fallback.is_some()
        && (v.check.checktype == CheckType::Off
            || (v.check.checktype != CheckType::On
                && !v.reals.iter().enumerate().any(|(i, _)| up.get(i).copied().unwrap_or(false))))
}

/// Adds `d` unless a real of the same address and port is already there (two `real=` lines
/// for one server: the first wins, as the kernel would refuse the second).
fn push(spec: &mut ServiceSpec, d: Dest) {
    if !spec.dests.iter().any(|x| x.key() == d.key()) {
        spec.dests.push(d);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{AlertStates, Real, SourceLine};
    use rha_check::{CheckSpec, Service as CheckService, Target};
    use rha_ipvs::{Forward, Service, ServiceKey};
    use std::time::Duration;

    pub(crate) fn virtual_with(reals: &[(&str, u32)], quiescent: bool, fallback: Option<&str>) -> Virtual {
        let key = ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80);
        let mut check = CheckSpec::new(CheckService::Http);
        check.check_timeout = Duration::from_secs(2);
        check.negotiate_timeout = Duration::from_secs(2);
        Virtual {
            service: Service::new(key).with_scheduler("wrr"),
            reals: reals
                .iter()
                .map(|(a, w)| {
                    let addr: std::net::SocketAddr = a.parse().unwrap();
                    Real {
                        dest: Dest::new(addr.ip(), addr.port()).with_forward(Forward::Masq).with_weight(*w),
                        check: check.clone(),
                        target: Target::new(addr),
                        line: SourceLine::default(),
                    }
                })
                .collect(),
            fallback: fallback.map(|a| {
                let addr: std::net::SocketAddr = a.parse().unwrap();
                Dest::new(addr.ip(), addr.port()).with_forward(Forward::Masq)
            }),
            fallback_command: None,
            check,
            check_interval: Duration::from_secs(1),
            check_count: 1,
            failure_count: 1,
            quiescent,
            cleanstop: true,
            emailalert: Vec::new(),
            emailalert_freq: Duration::ZERO,
            emailalert_status: AlertStates::ALL,
            smtp: None,
            servicename: None,
            comment: None,
            monitorfile: None,
            line: SourceLine::default(),
        }
    }

    fn weights(s: &ServiceSpec) -> Vec<(String, u32)> {
        s.dests.iter().map(|d| (d.key().to_string(), d.weight)).collect()
    }

    fn w(v: &[(&str, u32)]) -> Vec<(String, u32)> {
        v.iter().map(|(a, w)| (a.to_string(), *w)).collect()
    }

    const R: &[(&str, u32)] = &[("203.0.113.2:80", 3), ("203.0.113.3:80", 1), ("203.0.113.4:80", 2)];

    #[test]
    fn up_reals_have_their_weight_down_ones_are_absent() {
        let v = virtual_with(R, false, None);
        let s = desired_service(&v, &[true, false, true], &[]);
        assert_eq!(s.service, v.service);
        assert_eq!(weights(&s), w(&[("203.0.113.2:80", 3), ("203.0.113.4:80", 2)]));
        assert!(desired_service(&v, &[], &[]).dests.is_empty(), "unchecked reals are down");
    }

    #[test]
    fn quiescent_down_reals_have_weight_zero() {
        let v = virtual_with(R, true, None);
        let s = desired_service(&v, &[false, true, false], &[]);
        assert_eq!(weights(&s), w(&[("203.0.113.2:80", 0), ("203.0.113.3:80", 1), ("203.0.113.4:80", 0)]));
        // Forwarding and thresholds are kept: only the weight changes (one edit per change).
        assert_eq!(s.dests[0].forward, Forward::Masq);
    }

    #[test]
    fn fallback_only_while_no_real_is_up() {
        let v = virtual_with(R, false, Some("127.0.0.1:80"));
        let s = desired_service(&v, &[false, false, false], &[]);
        assert_eq!(weights(&s), w(&[("127.0.0.1:80", 1)]));
        assert!(fallback_active(&v, &[false, false, false]));
        let s = desired_service(&v, &[false, true, false], &[]);
        assert_eq!(weights(&s), w(&[("203.0.113.3:80", 1)]));
        assert!(!fallback_active(&v, &[false, true, false]));
        // Quiescent: weight-0 reals do not count as up.
        let v = virtual_with(R, true, Some("127.0.0.1:80"));
        let s = desired_service(&v, &[], &[]);
        assert_eq!(
            weights(&s),
            w(&[("203.0.113.2:80", 0), ("203.0.113.3:80", 0), ("203.0.113.4:80", 0), ("127.0.0.1:80", 1)])
        );
    }

    #[test]
    fn fallback_on_a_real_address_replaces_its_quiescent_entry() {
        let v = virtual_with(R, true, Some("203.0.113.3:80"));
        let s = desired_service(&v, &[false, false, false], &[]);
        assert_eq!(weights(&s), w(&[("203.0.113.2:80", 0), ("203.0.113.4:80", 0), ("203.0.113.3:80", 1)]));
    }

    #[test]
    fn checktype_off_has_no_reals_and_on_has_all() {
        let mut v = virtual_with(R, true, Some("127.0.0.1:80"));
        v.check.checktype = CheckType::Off;
        assert_eq!(weights(&desired_service(&v, &[true, true, true], &[])), w(&[("127.0.0.1:80", 1)]));
        assert!(fallback_active(&v, &[true]));
        v.check.checktype = CheckType::On;
        assert_eq!(
            weights(&desired_service(&v, &[], &[])),
            w(&[("203.0.113.2:80", 3), ("203.0.113.3:80", 1), ("203.0.113.4:80", 2)])
        );
        assert!(!fallback_active(&v, &[]));
    }

    #[test]
    fn draining_reals_stay_at_weight_zero() {
        let v = virtual_with(R, false, None);
        let gone = Dest::new("203.0.113.9".parse().unwrap(), 80).with_forward(Forward::Masq).with_weight(5);
        let s = desired_service(&v, &[true, false, false], std::slice::from_ref(&gone));
        assert_eq!(weights(&s), w(&[("203.0.113.2:80", 3), ("203.0.113.9:80", 0)]));
    }

    #[test]
    fn duplicate_reals_keep_the_first() {
        let v = virtual_with(&[("203.0.113.2:80", 3), ("203.0.113.2:80", 7)], false, None);
        assert_eq!(weights(&desired_service(&v, &[true, true], &[])), w(&[("203.0.113.2:80", 3)]));
    }

    #[test]
    fn the_desired_spec_is_valid_for_the_kernel() {
        let v = virtual_with(R, true, Some("127.0.0.1:80"));
        for up in [[false; 3], [true; 3], [true, false, true]] {
            desired_service(&v, &up, &[]).validate().unwrap();
        }
    }
}
