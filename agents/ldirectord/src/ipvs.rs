//! The kernel side: the virtual services an instance owns, what a dead daemon left behind,
//! removing it, and the level-10 comparison of the kernel's table with the daemon's view.
//!
//! The daemon records every virtual it creates or adopts in its `.owned` file *before*
//! creating it, one per line ("tcp 198.51.100.10 80", "fwm 5 inet6"), so after a SIGKILL the
//! file names everything the instance may have left. Nothing else in the table is touched.
//! When IPVS is not loaded (/proc/net/ip_vs absent) nothing is asked: asking would load it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ocf_shim::{OcfError, OcfResult};
use rha_ipvs::{Family, Ipvs, Protocol, ServiceKey};

use crate::daemon::Report;

/// Whether the ip_vs module is loaded (in this network namespace's view).
pub fn loaded() -> bool {
    Path::new("/proc/net/ip_vs").exists()
}

/// An IPVS failure as an OCF error (no IPVS: 5; refused: 4; else 1).
pub fn error(e: rha_ipvs::Error) -> OcfError {
    if e.is_not_available() {
        return OcfError::installed(e.to_string());
    }
    match e.errno() {
        Some(libc::EPERM) | Some(libc::EACCES) => OcfError::perm(format!("{e} (IPVS needs CAP_NET_ADMIN)")),
        _ => OcfError::generic(e.to_string()),
    }
}

/// One line of the `.owned` file (the daemon's `ipvs_sync::key_text` form).
pub fn parse_key(s: &str) -> Option<ServiceKey> {
    let f: Vec<&str> = s.split_whitespace().collect();
    match f.as_slice() {
        ["fwm", mark, fam] => Some(ServiceKey::Fwmark {
            mark: mark.parse().ok()?,
            family: match *fam {
                "inet" => Family::Inet,
                "inet6" => Family::Inet6,
                _ => return None,
            },
        }),
        [p, addr, port] => Some(ServiceKey::Addr {
            protocol: match *p {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => return None,
            },
            addr: addr.parse::<IpAddr>().ok()?,
            port: port.parse().ok()?,
        }),
        _ => None,
    }
}

/// The virtuals listed in an `.owned` file (missing file: none; unreadable lines skipped).
pub fn owned(path: &Path) -> Vec<ServiceKey> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(parse_key).collect()
}

/// Connects when IPVS is loaded; `None` when it is not (nothing can be in the table).
pub fn connect_if_loaded() -> OcfResult<Option<Ipvs>> {
    if !loaded() {
        return Ok(None);
    }
    match Ipvs::connect() {
        Ok(i) => Ok(Some(i)),
        Err(e) if e.is_not_available() => Ok(None),
        Err(e) => Err(error(e)),
    }
}

/// The owned virtuals that are in the kernel's table.
pub fn present(keys: &[ServiceKey]) -> OcfResult<Vec<ServiceKey>> {
    let Some(mut ipvs) = connect_if_loaded()? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for k in keys {
        if ipvs.service(k).map_err(error)?.is_some() {
            found.push(*k);
        }
    }
    Ok(found)
}

/// Deletes every owned virtual still in the table (with its reals); returns those deleted.
pub fn remove(keys: &[ServiceKey]) -> OcfResult<Vec<ServiceKey>> {
    let Some(mut ipvs) = connect_if_loaded()? else {
        return Ok(Vec::new());
    };
    let mut deleted = Vec::new();
    for k in keys {
        match ipvs.del_service(k) {
            Ok(()) => deleted.push(*k),
            Err(e) if e.errno() == Some(libc::ESRCH) => {}
            Err(e) => return Err(error(e).context(format!("deleting virtual service {k}"))),
        }
    }
    for k in keys {
        if ipvs.service(k).map_err(error)?.is_some() {
            return Err(OcfError::generic(format!("virtual service {k} is still in IPVS after deleting it")));
        }
    }
    Ok(deleted)
}

/// What the kernel holds for one virtual: scheduler and real → weight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelService {
    pub scheduler: String,
    pub reals: BTreeMap<String, u32>,
}

/// Reads the kernel's view of the owned virtuals, by the daemon's name for them
/// (`ServiceKey`'s Display, as in the status file). Absent ones map to `None`.
pub fn kernel_view(keys: &[ServiceKey]) -> OcfResult<BTreeMap<String, Option<KernelService>>> {
    let mut out = BTreeMap::new();
    let mut ipvs = connect_if_loaded()?;
    for k in keys {
        let spec = match ipvs.as_mut() {
            Some(i) => i.service_spec(k).map_err(error)?,
            None => None,
        };
        out.insert(
            k.to_string(),
            spec.map(|s| KernelService {
                scheduler: s.service.scheduler.clone(),
                reals: s.dests.iter().map(|d| (d.key().to_string(), d.weight)).collect(),
            }),
        );
    }
    Ok(out)
}

/// How the kernel differs from what the daemon says it programmed (level 10). Only the
/// virtuals the daemon manages (no `error`) are compared; the fallback must be there exactly
/// while the daemon says it is active (its weight is not in the status file).
pub fn differences(report: &Report, kernel: &BTreeMap<String, Option<KernelService>>) -> Vec<String> {
    let mut diffs = Vec::new();
    for v in report.virtuals.iter().filter(|v| v.error.is_none()) {
        let name = &v.virtual_service;
        let Some(Some(k)) = kernel.get(name) else {
            diffs.push(format!("virtual {name} ({}) is not in IPVS", v.line));
            continue;
        };
        if k.scheduler != v.scheduler {
            diffs.push(format!(
                "virtual {name}: scheduler {} in IPVS, {} configured",
                k.scheduler, v.scheduler
            ));
        }
        let mut want: BTreeMap<&str, Option<u32>> = BTreeMap::new();
        for r in &v.reals {
            if let Some(w) = r.weight {
                want.insert(&r.real, Some(w));
            }
        }
        if let (Some(fb), true) = (&v.fallback, v.fallback_active) {
            want.insert(fb, None);
        }
        for (real, w) in &want {
            match (k.reals.get(*real), w) {
                (None, _) => diffs.push(format!("virtual {name}: real {real} is missing from IPVS")),
                (Some(got), Some(w)) if got != w => diffs.push(format!(
                    "virtual {name}: real {real} has weight {got} in IPVS, the daemon set {w}"
                )),
                _ => {}
            }
        }
        for real in k.reals.keys() {
            if !want.contains_key(real.as_str()) {
                diffs.push(format!(
                    "virtual {name}: real {real} is in IPVS but the daemon did not program it"
                ));
            }
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{RealView, VirtualView};

    #[test]
    fn owned_lines_are_the_daemons() {
        for k in [
            ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80),
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            ServiceKey::Fwmark { mark: 7, family: Family::Inet6 },
        ] {
            let line = rha_ldirectord::daemon::ipvs_sync::key_text(&k);
            assert_eq!(parse_key(&line), Some(k), "{line}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.owned");
        assert!(owned(&p).is_empty());
        std::fs::write(&p, "junk\ntcp 198.51.100.10 80\nfwm 5 inet\n").unwrap();
        assert_eq!(owned(&p).len(), 2);
    }

    fn report() -> Report {
        Report {
            name: "web".into(),
            virtuals: vec![VirtualView {
                virtual_service: "TCP 198.51.100.10:80".into(),
                scheduler: "wrr".into(),
                line: "/etc/ha.d/web.cf:3".into(),
                fallback: Some("203.0.113.9:80".into()),
                fallback_active: false,
                error: None,
                reals: vec![
                    RealView {
                        real: "203.0.113.2:80".into(),
                        state: "up".into(),
                        weight: Some(3),
                        draining: false,
                    },
                    RealView {
                        real: "203.0.113.3:80".into(),
                        state: "down".into(),
                        weight: None,
                        draining: false,
                    },
                ],
            }],
            ..Report::default()
        }
    }

    fn kernel(reals: &[(&str, u32)]) -> BTreeMap<String, Option<KernelService>> {
        let mut m = BTreeMap::new();
        m.insert(
            "TCP 198.51.100.10:80".to_string(),
            Some(KernelService {
                scheduler: "wrr".into(),
                reals: reals.iter().map(|(r, w)| (r.to_string(), *w)).collect(),
            }),
        );
        m
    }

    #[test]
    fn the_kernel_is_compared_with_the_daemons_view() {
        let r = report();
        assert!(differences(&r, &kernel(&[("203.0.113.2:80", 3)])).is_empty());
        let d = differences(&r, &kernel(&[("203.0.113.2:80", 1)]));
        assert_eq!(
            d,
            vec!["virtual TCP 198.51.100.10:80: real 203.0.113.2:80 has weight 1 in IPVS, the daemon set 3"]
        );
        let d = differences(&r, &kernel(&[("203.0.113.2:80", 3), ("203.0.113.3:80", 1)]));
        assert!(d[0].contains("203.0.113.3:80 is in IPVS but the daemon did not program it"), "{d:?}");
        let d = differences(&r, &kernel(&[]));
        assert!(d[0].contains("missing"), "{d:?}");
        let mut none = BTreeMap::new();
        none.insert("TCP 198.51.100.10:80".to_string(), None);
        assert!(differences(&r, &none)[0].contains("not in IPVS"));
        // The fallback while active, whatever its weight.
        let mut r2 = report();
        r2.virtuals[0].fallback_active = true;
        r2.virtuals[0].reals[0].weight = None;
        assert!(differences(&r2, &kernel(&[("203.0.113.9:80", 1)])).is_empty());
        assert!(!differences(&r2, &kernel(&[])).is_empty());
        // A virtual the daemon cannot manage is not compared.
        r2.virtuals[0].error = Some("owned by another instance".into());
        assert!(differences(&r2, &kernel(&[])).is_empty());
    }
}
