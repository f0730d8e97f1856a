//! Desired state for one virtual service and the changes that make the
//! kernel match it exactly, without touching any other service.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::change::{Change, describe_dest};
use crate::types::{Dest, DestKey, Forward, Service, ServiceFlags};

/// A desired real server. It is a plain [`Dest`]; the alias names its role.
pub type DestSpec = Dest;

/// A virtual service with its real servers: what an agent wants, or what
/// [`crate::Ipvs::service_spec`] read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The service's identity and settings.
    pub service: Service,
    /// Its real servers.
    pub dests: Vec<DestSpec>,
}

/// Why a [`ServiceSpec`] cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Two real servers with the same address and port.
    #[error("real server {0} is listed more than once")]
    DuplicateDest(DestKey),
    /// The kernel refuses a lower threshold above a non-zero upper one.
    #[error("real server {key}: lower threshold {l} is above upper threshold {u}")]
    Thresholds {
        /// The real server.
        key: DestKey,
        /// Upper threshold.
        u: u32,
        /// Lower threshold.
        l: u32,
    },
    /// Scheduler names are limited to 15 bytes by the kernel.
    #[error("scheduler name {0:?} is empty or longer than 15 bytes")]
    Scheduler(String),
    /// Weights are a signed int in the kernel.
    #[error("real server {0}: weight above 2147483647")]
    Weight(DestKey),
    /// A port-0 service must be persistent (ipvsadm and the kernel agree).
    #[error("service with port 0 must be persistent")]
    ZeroPort,
    /// Only tunnelling real servers may be of another address family.
    #[error("real server {0} is of another address family; only tunnelling (-i) allows that")]
    Family(DestKey),
    /// A GUE tunnel needs a destination port.
    #[error("real server {0}: a GUE tunnel needs a tunnel port")]
    GuePort(DestKey),
}

impl ServiceSpec {
    /// A service with no real servers yet.
    pub fn new(service: Service) -> ServiceSpec {
        ServiceSpec { service, dests: Vec::new() }
    }

    /// Checks what the kernel would refuse, so an agent can report a
    /// configuration error instead of a failed start.
    pub fn validate(&self) -> Result<(), SpecError> {
        let s = &self.service;
        if s.scheduler.is_empty() || s.scheduler.len() > 15 {
            return Err(SpecError::Scheduler(s.scheduler.clone()));
        }
        if !s.key.is_fwmark() && s.key.port() == 0 && !s.is_persistent() {
            return Err(SpecError::ZeroPort);
        }
        let mut seen = HashSet::new();
        for d in &self.dests {
            let key = d.key();
            if !seen.insert(key) {
                return Err(SpecError::DuplicateDest(key));
            }
            if d.u_threshold != 0 && d.l_threshold > d.u_threshold {
                return Err(SpecError::Thresholds { key, u: d.u_threshold, l: d.l_threshold });
            }
            if d.weight > i32::MAX as u32 {
                return Err(SpecError::Weight(key));
            }
            if crate::types::Family::of(&d.addr) != s.key.family() && d.forward != Forward::Tunnel {
                return Err(SpecError::Family(key));
            }
            if d.forward == Forward::Tunnel
                && d.tunnel.kind == crate::types::TunnelType::Gue
                && d.tunnel.port == 0
            {
                return Err(SpecError::GuePort(key));
            }
        }
        Ok(())
    }

    /// The spec as the kernel will hold it: like ipvsadm, direct-routing
    /// and tunnelling reals of a port-based service take the service's port
    /// (those methods cannot change the port).
    pub fn normalized(&self) -> ServiceSpec {
        let mut out = self.clone();
        if !out.service.key.is_fwmark() {
            let port = out.service.key.port();
            for d in &mut out.dests {
                if matches!(d.forward, Forward::DirectRoute | Forward::Tunnel) {
                    d.port = port;
                }
            }
        }
        out
    }
}

/// Differences between a kernel service and a desired one, in words.
fn service_differences(cur: &Service, want: &Service) -> Vec<String> {
    let mut out = Vec::new();
    if cur.scheduler != want.scheduler {
        out.push(format!("scheduler {}, kernel has {}", want.scheduler, cur.scheduler));
    }
    match (want.is_persistent(), cur.is_persistent()) {
        (true, false) => out.push(format!("persistent {}, kernel has not persistent", want.timeout)),
        (false, true) => out.push(format!("not persistent, kernel has persistent {}", cur.timeout)),
        (true, true) => {
            if cur.timeout != want.timeout {
                out.push(format!("persistence timeout {}, kernel has {}", want.timeout, cur.timeout));
            }
            if cur.netmask != want.netmask {
                out.push(format!("persistence netmask {}, kernel has {}", want.netmask, cur.netmask));
            }
        }
        (false, false) => {}
    }
    let op = ServiceFlags::ONEPACKET;
    if want.flags.contains(op) != cur.flags.contains(op) {
        out.push(format!(
            "one-packet scheduling {}, kernel has {}",
            on_off(want.flags.contains(op)),
            on_off(cur.flags.contains(op))
        ));
    }
    let (ws, cs) = (want.flags.0 & ServiceFlags::SCHED_MASK, cur.flags.0 & ServiceFlags::SCHED_MASK);
    if ws != cs {
        out.push(format!(
            "scheduler flags {}, kernel has {}",
            sched_flags_text(&want.scheduler, ws),
            sched_flags_text(&cur.scheduler, cs)
        ));
    }
    if cur.pe_name != want.pe_name {
        out.push(format!(
            "persistence engine {}, kernel has {}",
            want.pe_name.as_deref().unwrap_or("none"),
            cur.pe_name.as_deref().unwrap_or("none")
        ));
    }
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn sched_flags_text(sched: &str, bits: u32) -> String {
    let s = crate::save_format::sched_flags_string(sched, bits);
    if s.is_empty() { "none".to_string() } else { s }
}

/// Differences between a kernel real server and a desired one, in words
/// (each prefixed with "real ADDR:PORT").
fn dest_differences(cur: &Dest, want: &Dest) -> Vec<String> {
    let mut out = dest_structural_differences(cur, want);
    out.extend(dest_weight_differences(cur, want));
    out
}

/// Weight and thresholds: what administrators and health checkers (ldirectord, keepalived)
/// change on a running service to drain or throttle a real.
fn dest_weight_differences(cur: &Dest, want: &Dest) -> Vec<String> {
    let k = want.key();
    let mut out = Vec::new();
    if cur.weight != want.weight {
        out.push(format!("real {k} weight {}, kernel has {}", want.weight, cur.weight));
    }
    if cur.u_threshold != want.u_threshold {
        out.push(format!("real {k} upper threshold {}, kernel has {}", want.u_threshold, cur.u_threshold));
    }
    if cur.l_threshold != want.l_threshold {
        out.push(format!("real {k} lower threshold {}, kernel has {}", want.l_threshold, cur.l_threshold));
    }
    out
}

/// Forwarding method and tunnel settings: how packets reach the real.
fn dest_structural_differences(cur: &Dest, want: &Dest) -> Vec<String> {
    let k = want.key();
    let mut out = Vec::new();
    if cur.forward != want.forward {
        out.push(format!("real {k} forwarding {}, kernel has {}", want.forward.name(), cur.forward.name()));
    }
    if want.forward == Forward::Tunnel && cur.forward == Forward::Tunnel {
        let (w, c) = (&want.tunnel, &cur.tunnel);
        if w.kind != c.kind {
            out.push(format!("real {k} tunnel type {}, kernel has {}", w.kind.name(), c.kind.name()));
        }
        if w.port != c.port {
            out.push(format!("real {k} tunnel port {}, kernel has {}", w.port, c.port));
        }
        if w.csum != c.csum {
            out.push(format!(
                "real {k} tunnel checksum {}, kernel has {}",
                &w.csum.option()[6..],
                &c.csum.option()[6..]
            ));
        }
    }
    out
}

/// How the kernel differs from the configuration, in two kinds, each in human words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Differences {
    /// The service is missing or has other settings (scheduler, persistence, flags, ...), a
    /// configured real is missing or forwards otherwise, or an unconfigured real is present.
    pub structural: Vec<String>,
    /// Only weights or thresholds of configured reals differ.
    pub weights: Vec<String>,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.structural.is_empty() && self.weights.is_empty()
    }
}

/// [`describe_differences`], sorted into structural differences and weight/threshold ones.
pub fn classify_differences(current: Option<&ServiceSpec>, desired: &ServiceSpec) -> Differences {
    let want = desired.normalized();
    let Some(cur) = current else {
        return Differences {
            structural: vec![format!("virtual service {} is not in the kernel", want.service.key)],
            weights: Vec::new(),
        };
    };
    if cur.service.key != want.service.key {
        return Differences {
            structural: vec![format!(
                "kernel has virtual service {}, not {}",
                cur.service.key, want.service.key
            )],
            weights: Vec::new(),
        };
    }
    let mut d =
        Differences { structural: service_differences(&cur.service, &want.service), weights: Vec::new() };
    let cur_by_key: HashMap<DestKey, &Dest> = cur.dests.iter().map(|d| (d.key(), d)).collect();
    let want_keys: HashSet<DestKey> = want.dests.iter().map(|d| d.key()).collect();
    for w in &want.dests {
        match cur_by_key.get(&w.key()) {
            None => {
                d.structural.push(format!("real {} ({}) is not in the kernel", w.key(), describe_dest(w)))
            }
            Some(c) => {
                d.structural.extend(dest_structural_differences(c, w));
                d.weights.extend(dest_weight_differences(c, w));
            }
        }
    }
    for c in &cur.dests {
        if !want_keys.contains(&c.key()) {
            d.structural.push(format!(
                "real {} ({}) is in the kernel but not configured",
                c.key(),
                describe_dest(c)
            ));
        }
    }
    d
}

/// Describes, in human words for a monitor message, how the kernel's state
/// (`current`, `None` if the service is absent) differs from `desired`.
/// Empty when they match.
pub fn describe_differences(current: Option<&ServiceSpec>, desired: &ServiceSpec) -> Vec<String> {
    // Real by real, in the configuration's order (what an administrator reads top-down);
    // [`classify_differences`] sorts the same words by kind.
    let want = desired.normalized();
    let Some(cur) = current else {
        return vec![format!("virtual service {} is not in the kernel", want.service.key)];
    };
    if cur.service.key != want.service.key {
        return vec![format!("kernel has virtual service {}, not {}", cur.service.key, want.service.key)];
    }
    let mut out = service_differences(&cur.service, &want.service);
    let cur_by_key: HashMap<DestKey, &Dest> = cur.dests.iter().map(|d| (d.key(), d)).collect();
    let want_keys: HashSet<DestKey> = want.dests.iter().map(|d| d.key()).collect();
    for d in &want.dests {
        match cur_by_key.get(&d.key()) {
            None => out.push(format!("real {} ({}) is not in the kernel", d.key(), describe_dest(d))),
            Some(c) => out.extend(dest_differences(c, d)),
        }
    }
    for d in &cur.dests {
        if !want_keys.contains(&d.key()) {
            out.push(format!("real {} ({}) is in the kernel but not configured", d.key(), describe_dest(d)));
        }
    }
    out
}

/// The changes that make the kernel hold exactly `desired` for its service,
/// given what the kernel holds now (`current`, `None` if absent). Other
/// services are never touched.
///
/// Order is chosen for availability: service settings first, then new
/// reals, then edited ones, and only then removals, so traffic always has
/// somewhere to go.
pub fn plan(current: Option<&ServiceSpec>, desired: &ServiceSpec) -> Vec<Change> {
    let want = desired.normalized();
    let key = want.service.key;
    let mut out = Vec::new();
    let cur = match current {
        Some(c) if c.service.key == key => c,
        other => {
            if let Some(c) = other {
                out.push(Change::DelService(c.service.key));
            }
            out.push(Change::AddService(want.service.clone()));
            out.extend(want.dests.iter().map(|d| Change::AddDest(key, d.clone())));
            return out;
        }
    };
    if !service_differences(&cur.service, &want.service).is_empty() {
        out.push(Change::EditService(want.service.clone()));
    }
    let cur_by_key: HashMap<DestKey, &Dest> = cur.dests.iter().map(|d| (d.key(), d)).collect();
    let want_keys: HashSet<DestKey> = want.dests.iter().map(|d| d.key()).collect();
    let mut edits = Vec::new();
    for d in &want.dests {
        match cur_by_key.get(&d.key()) {
            None => out.push(Change::AddDest(key, d.clone())),
            Some(c) if !dest_differences(c, d).is_empty() => edits.push(Change::EditDest(key, d.clone())),
            Some(_) => {}
        }
    }
    out.extend(edits);
    for d in &cur.dests {
        if !want_keys.contains(&d.key()) {
            out.push(Change::DelDest(key, d.key()));
        }
    }
    out
}

impl fmt::Display for ServiceSpec {
    /// One line per service and real server, in `ipvsadm -S -n` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::save_format::write_service(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Forward, ServiceKey};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn spec() -> ServiceSpec {
        let key = ServiceKey::tcp(ip("198.51.100.10"), 80);
        ServiceSpec {
            service: Service::new(key).with_scheduler("wrr"),
            dests: vec![
                Dest::new(ip("203.0.113.2"), 80).with_forward(Forward::Masq).with_weight(3),
                Dest::new(ip("203.0.113.3"), 80).with_forward(Forward::Masq).with_weight(1),
            ],
        }
    }

    #[test]
    fn absent_service_is_created_with_its_reals() {
        let want = spec();
        let p = plan(None, &want);
        assert_eq!(p.len(), 3);
        assert!(matches!(p[0], Change::AddService(_)));
        assert!(matches!(p[1], Change::AddDest(..)));
        assert_eq!(
            describe_differences(None, &want),
            vec!["virtual service TCP 198.51.100.10:80 is not in the kernel"]
        );
    }

    #[test]
    fn matching_state_needs_nothing() {
        let want = spec();
        assert!(plan(Some(&want), &want).is_empty());
        assert!(describe_differences(Some(&want), &want).is_empty());
    }

    #[test]
    fn weight_change_is_an_edit_and_is_described() {
        let want = spec();
        let mut cur = want.clone();
        cur.dests[0].weight = 1;
        let p = plan(Some(&cur), &want);
        assert_eq!(p, vec![Change::EditDest(want.service.key, want.dests[0].clone())]);
        assert_eq!(
            describe_differences(Some(&cur), &want),
            vec!["real 203.0.113.2:80 weight 3, kernel has 1"]
        );
    }

    #[test]
    fn weights_and_thresholds_are_told_apart_from_structure() {
        let want = spec();
        let mut cur = want.clone();
        cur.dests[0].weight = 0;
        cur.dests[1].u_threshold = 100;
        let d = classify_differences(Some(&cur), &want);
        assert!(d.structural.is_empty(), "{d:?}");
        assert_eq!(d.weights.len(), 2, "{d:?}");
        cur.dests[1].forward = Forward::DirectRoute;
        cur.service.scheduler = "rr".into();
        let d = classify_differences(Some(&cur), &want);
        assert_eq!(d.structural.len(), 2, "{d:?}");
        assert_eq!(d.weights.len(), 2, "{d:?}");
        assert_eq!(classify_differences(None, &want).structural.len(), 1);
        assert!(classify_differences(Some(&want), &want).is_empty());
    }

    #[test]
    fn extra_and_missing_reals_add_before_remove() {
        let want = spec();
        let mut cur = want.clone();
        cur.dests.remove(1);
        cur.dests.push(Dest::new(ip("203.0.113.9"), 80).with_forward(Forward::Masq));
        cur.service.scheduler = "rr".into();
        let p = plan(Some(&cur), &want);
        assert!(matches!(p[0], Change::EditService(_)));
        assert!(matches!(&p[1], Change::AddDest(_, d) if d.addr == ip("203.0.113.3")));
        assert!(matches!(&p[2], Change::DelDest(_, k) if k.addr == ip("203.0.113.9")));
        let words = describe_differences(Some(&cur), &want);
        assert_eq!(words[0], "scheduler wrr, kernel has rr");
        assert!(words[1].contains("203.0.113.3:80") && words[1].contains("not in the kernel"));
        assert!(words[2].contains("203.0.113.9:80") && words[2].contains("not configured"));
    }

    #[test]
    fn dr_reals_take_the_service_port() {
        let mut want = spec();
        want.dests[0].forward = Forward::DirectRoute;
        want.dests[0].port = 8080;
        let n = want.normalized();
        assert_eq!(n.dests[0].port, 80);
        assert_eq!(n.dests[1].port, 80);
    }

    #[test]
    fn validation_catches_what_the_kernel_refuses() {
        let mut s = spec();
        s.dests.push(s.dests[0].clone());
        assert!(matches!(s.validate(), Err(SpecError::DuplicateDest(_))));
        let mut s = spec();
        s.dests[0].u_threshold = 5;
        s.dests[0].l_threshold = 10;
        assert!(matches!(s.validate(), Err(SpecError::Thresholds { .. })));
        let mut s = spec();
        s.service.key = ServiceKey::tcp(ip("198.51.100.10"), 0);
        assert_eq!(s.validate(), Err(SpecError::ZeroPort));
        assert!(spec().validate().is_ok());
    }

    #[test]
    fn persistence_differences() {
        let want =
            ServiceSpec::new(Service::new(ServiceKey::tcp(ip("198.51.100.10"), 443)).with_persistence(300));
        let cur = ServiceSpec::new(Service::new(ServiceKey::tcp(ip("198.51.100.10"), 443)));
        assert_eq!(
            describe_differences(Some(&cur), &want),
            vec!["persistent 300, kernel has not persistent"]
        );
        assert_eq!(plan(Some(&cur), &want), vec![Change::EditService(want.service.clone())]);
    }
}
