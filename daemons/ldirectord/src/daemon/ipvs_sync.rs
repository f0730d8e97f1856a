//! Keeping the kernel's IPVS table in step with the desired one, for the virtuals this
//! instance owns and no others.
//!
//! Ownership is a file, `<run dir>/<name>.owned`, one virtual per line, written *before* a
//! virtual is created (a crash between the two leaves an owned entry, never an orphan):
//! - at start and reload, owned virtuals the config no longer names are deleted;
//! - a configured virtual already in the kernel is adopted (as upstream does) unless another
//!   instance's `.owned` file lists it: then it is left alone and the daemon says why;
//! - nothing else in the table is ever read for changes or touched.
//!
//! Each sync reads the one service back, plans with [`rha_ipvs::plan`] (single netlink
//! operations, one per changed real) and, when the kernel is not what this daemon last
//! programmed, logs what was changed behind its back before repairing it.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rha_ipvs::{Change, Family, Ipvs, Protocol, ServiceKey, ServiceSpec, describe_differences, plan};

/// The set of virtuals an instance owns, persisted in its `.owned` file.
#[derive(Debug)]
pub struct Owned {
    path: PathBuf,
    keys: BTreeSet<KeyText>,
}

/// A [`ServiceKey`] in the file's text form ("tcp 198.51.100.10 80", "fwm 5 inet6"), which is
/// also its order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct KeyText(String);

pub fn key_text(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr { protocol, addr, port } => {
            let p = match protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            };
            format!("{p} {addr} {port}")
        }
        ServiceKey::Fwmark { mark, family } => {
            format!("fwm {mark} {}", if *family == Family::Inet6 { "inet6" } else { "inet" })
        }
    }
}

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

impl Owned {
    /// Loads `path` (a missing file owns nothing; unreadable lines are ignored with the rest
    /// kept, so a damaged file never makes the daemon delete what it does not own).
    pub fn load(path: &Path) -> Owned {
        let keys = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| parse_key(l).map(|k| KeyText(key_text(&k))))
            .collect();
        Owned { path: path.to_path_buf(), keys }
    }

    pub fn contains(&self, k: &ServiceKey) -> bool {
        self.keys.contains(&KeyText(key_text(k)))
    }

    pub fn keys(&self) -> Vec<ServiceKey> {
        self.keys.iter().filter_map(|k| parse_key(&k.0)).collect()
    }

    pub fn insert(&mut self, k: &ServiceKey) -> std::io::Result<()> {
        if self.keys.insert(KeyText(key_text(k))) {
            self.save()?;
        }
        Ok(())
    }

    pub fn remove(&mut self, k: &ServiceKey) -> std::io::Result<()> {
        if self.keys.remove(&KeyText(key_text(k))) {
            self.save()?;
        }
        Ok(())
    }

    fn save(&self) -> std::io::Result<()> {
        let mut text = String::new();
        for k in &self.keys {
            text.push_str(&k.0);
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes())
    }
}

/// Writes a file through a temporary beside it and a rename, so readers never see half of it.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
    }
    std::fs::rename(&tmp, path)
}

/// Another instance's `.owned` file in `run_dir` that lists `key` (its name), if any.
pub fn owned_by_other(run_dir: &Path, own: &Path, key: &ServiceKey) -> Option<String> {
    let entries = std::fs::read_dir(run_dir).ok()?;
    for e in entries.flatten() {
        let p = e.path();
        if p == own || p.extension().and_then(|x| x.to_str()) != Some("owned") {
            continue;
        }
        if Owned::load(&p).contains(key) {
            return p.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
    }
    None
}

/// What one sync did.
#[derive(Debug, Default)]
pub struct Synced {
    /// The changes applied.
    pub changes: Vec<Change>,
    /// How the kernel differed from what this daemon last programmed (changed behind its back).
    pub repaired: Vec<String>,
}

/// Makes the kernel hold `want` for its service. `last` is what this daemon last programmed
/// for it (`None` before the first sync): a kernel that differs from it was changed by someone
/// else, which is logged by the caller from [`Synced::repaired`].
pub fn sync_service(
    ipvs: &mut Ipvs,
    want: &ServiceSpec,
    last: Option<&ServiceSpec>,
) -> rha_ipvs::Result<Synced> {
    let current = ipvs.service_spec(&want.service.key)?;
    let repaired = match last {
        Some(l) => describe_differences(current.as_ref(), l),
        None => Vec::new(),
    };
    let changes = plan(current.as_ref(), want);
    if !changes.is_empty() {
        ipvs.apply(&changes)?;
    }
    Ok(Synced { changes, repaired })
}

/// Deletes a service; an absent one is not an error.
pub fn delete_service(ipvs: &mut Ipvs, key: &ServiceKey) -> rha_ipvs::Result<bool> {
    match ipvs.del_service(key) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_text() {
        for k in [
            ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80),
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            ServiceKey::Fwmark { mark: 7, family: Family::Inet6 },
            ServiceKey::Fwmark { mark: 1, family: Family::Inet },
        ] {
            assert_eq!(parse_key(&key_text(&k)), Some(k));
        }
        assert_eq!(parse_key("tcp 1.2.3.4"), None);
        assert_eq!(parse_key("xyz 1.2.3.4 80"), None);
    }

    #[test]
    fn the_owned_file_persists_and_other_instances_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.owned");
        let k1 = ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80);
        let k2 = ServiceKey::tcp("198.51.100.11".parse().unwrap(), 80);
        let mut o = Owned::load(&a);
        assert!(o.keys().is_empty());
        o.insert(&k1).unwrap();
        o.insert(&k2).unwrap();
        o.remove(&k2).unwrap();
        let o = Owned::load(&a);
        assert!(o.contains(&k1) && !o.contains(&k2));
        assert_eq!(o.keys(), vec![k1]);
        let b = dir.path().join("b.owned");
        assert_eq!(owned_by_other(dir.path(), &b, &k1).as_deref(), Some("a"));
        assert_eq!(owned_by_other(dir.path(), &a, &k1), None, "our own file is not another's");
        assert_eq!(owned_by_other(dir.path(), &b, &k2), None);
        // Junk lines are skipped, the rest kept.
        std::fs::write(&a, "garbage\ntcp 198.51.100.10 80\n").unwrap();
        assert!(Owned::load(&a).contains(&k1));
    }
}
