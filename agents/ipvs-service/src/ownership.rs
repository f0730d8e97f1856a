//! What this instance owns on this node, recorded under `/run/rha/ipvs-service/`.
//!
//! One file per instance (`<instance>.state`), written before start touches the kernel, so
//! that a start killed half-way (Pacemaker's SIGKILL on a timeout) leaves a record stop can
//! follow:
//!
//! ```text
//! service -t 198.51.100.10:80      the virtual service start programs (ipvsadm's words)
//! wants master eth1 5              a sync daemon the configuration asks for
//! owns master eth1 5               a sync daemon this instance started (stop stops it)
//! name web1.cluster 203.0.113.2    a host name start resolved (monitor and stop reuse it)
//! ```
//!
//! Sync daemons are per node (per network namespace), not per service, so several instances
//! may want the same one: the instance that started it owns it, and when it stops while
//! another instance still wants that daemon, ownership passes to that instance instead of the
//! daemon being stopped. Start and stop of every instance run under one lock file
//! (`.lock`, ocf-shim's `NodeLock`), which the kernel releases when a killed agent dies.
//!
//! The directory is a tmpfs: empty after a reboot, like the kernel's IPVS table.

use std::path::{Path, PathBuf};

use ocf_shim::lock::NodeLock;
use ocf_shim::state::{StateDir, remove_if_exists, write_atomic};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_ipvs::save_format;
use rha_ipvs::{Change, DaemonState, Family, Protocol, ServiceKey};

/// File name suffix of an instance's record.
const SUFFIX: &str = ".state";

/// A sync daemon by what identifies it on a node: role, interface and sync ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonSpec {
    pub state: DaemonState,
    pub interface: String,
    pub syncid: u32,
}

impl std::fmt::Display for DaemonSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sync daemon (mcast={}, syncid={})", self.state.name(), self.interface, self.syncid)
    }
}

/// One instance's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The network namespace (inode of `/proc/self/ns/net`) the instance runs in: IPVS and
    /// its sync daemons are per namespace, so only records of the same one share daemons.
    pub netns: Option<u64>,
    /// The virtual service this instance programs.
    pub service: Option<ServiceKey>,
    /// Sync daemons its configuration asks for.
    pub wants: Vec<DaemonSpec>,
    /// Sync daemons it started and must stop.
    pub owns: Vec<DaemonSpec>,
    /// Host names start resolved, and to what ([`crate::names`]).
    pub names: std::collections::BTreeMap<String, std::net::Ipv4Addr>,
}

/// The service identity in ipvsadm's words: `-t 198.51.100.10:80`, `-f 5 -6`.
pub fn key_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark { mark, family: Family::Inet } => format!("-f {mark}"),
        ServiceKey::Fwmark { mark, family: Family::Inet6 } => format!("-f {mark} -6"),
        ServiceKey::Addr { protocol, addr, port } => {
            let flag = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            match addr {
                std::net::IpAddr::V4(a) => format!("{flag} {a}:{port}"),
                std::net::IpAddr::V6(a) => format!("{flag} [{a}]:{port}"),
            }
        }
    }
}

/// Reads [`key_text`] back (through the ipvsadm-save parser, numeric forms only).
pub fn parse_key(text: &str) -> Option<ServiceKey> {
    let cmds = save_format::parse(&format!("-D {text}")).ok()?;
    match cmds.as_slice() {
        [c] => match c.change {
            Change::DelService(k) => Some(k),
            _ => None,
        },
        _ => None,
    }
}

fn state_name(s: DaemonState) -> &'static str {
    s.name()
}

fn parse_state(s: &str) -> Option<DaemonState> {
    match s {
        "master" => Some(DaemonState::Master),
        "backup" => Some(DaemonState::Backup),
        _ => None,
    }
}

impl Record {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# ocf:rha:ipvs-service: what this instance owns on this node\n");
        if let Some(n) = self.netns {
            s.push_str(&format!("netns {n}\n"));
        }
        if let Some(k) = &self.service {
            s.push_str(&format!("service {}\n", key_text(k)));
        }
        for (word, list) in [("wants", &self.wants), ("owns", &self.owns)] {
            for d in list {
                s.push_str(&format!("{word} {} {} {}\n", state_name(d.state), d.interface, d.syncid));
            }
        }
        for (name, addr) in &self.names {
            s.push_str(&format!("name {name} {addr}\n"));
        }
        s
    }

    /// Parses a record; lines it does not understand are skipped (a newer agent's).
    pub fn from_text(text: &str) -> Record {
        let mut r = Record::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("netns ") {
                r.netns = n.trim().parse().ok();
                continue;
            }
            if let Some(k) = line.strip_prefix("service ") {
                r.service = parse_key(k.trim());
                continue;
            }
            let w: Vec<&str> = line.split_whitespace().collect();
            if let ["name", host, addr] = w.as_slice() {
                if let Ok(a) = addr.parse() {
                    r.names.insert(host.to_string(), a);
                }
                continue;
            }
            if let [word @ ("wants" | "owns"), state, ifn, id] = w.as_slice() {
                let (Some(state), Ok(syncid)) = (parse_state(state), id.parse::<u32>()) else {
                    continue;
                };
                let d = DaemonSpec { state, interface: ifn.to_string(), syncid };
                if *word == "wants" { r.wants.push(d) } else { r.owns.push(d) }
            }
        }
        r
    }
}

/// The network namespace this process runs in (inode of `/proc/self/ns/net`).
pub fn current_netns() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

/// The agent's state directory.
pub fn dir() -> StateDir {
    StateDir::for_agent("ipvs-service")
}

/// This instance's record file.
pub fn path(ctx: &Context) -> PathBuf {
    dir().instance_file(ctx, SUFFIX)
}

/// This instance's record, if there is one.
pub fn read(ctx: &Context) -> OcfResult<Option<Record>> {
    read_path(&path(ctx))
}

fn read_path(p: &Path) -> OcfResult<Option<Record>> {
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(Record::from_text(&t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OcfError::generic(format!("reading {}: {e}", p.display()))),
    }
}

/// Writes this instance's record (atomically).
pub fn write(ctx: &Context, r: &Record) -> OcfResult<()> {
    let p = path(ctx);
    dir()
        .write(&p, r.to_text().as_bytes())
        .map_err(|e| OcfError::generic(format!("recording ownership in {}: {e}", p.display())))
}

/// Removes this instance's record, and temporary files a killed write may have left.
pub fn remove(ctx: &Context) -> OcfResult<()> {
    let p = path(ctx);
    remove_if_exists(&p).map_err(|e| OcfError::generic(format!("removing {}: {e}", p.display())))?;
    let prefix = format!("{}{SUFFIX}.tmp", ctx.instance_file_name());
    if let Ok(entries) = std::fs::read_dir(dir().path()) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Records of the other instances on this node, in this network namespace.
pub fn others(ctx: &Context) -> Vec<(PathBuf, Record)> {
    let mine = path(ctx);
    let here = current_netns();
    let Ok(entries) = std::fs::read_dir(dir().path()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p == mine || !e.file_name().to_string_lossy().ends_with(SUFFIX) {
            continue;
        }
        if let Ok(Some(r)) = read_path(&p) {
            if r.netns.is_none() || here.is_none() || r.netns == here {
                out.push((p, r));
            }
        }
    }
    out
}

/// Rewrites another instance's record (ownership hand-over).
pub fn write_other(p: &Path, r: &Record) -> OcfResult<()> {
    write_atomic(p, r.to_text().as_bytes())
        .map_err(|e| OcfError::generic(format!("writing {}: {e}", p.display())))
}

/// Takes the node-wide lock of start and stop (ocf-shim's [`NodeLock`]: released when the
/// holder dies, its file removed when done), waiting at most until the operation's deadline.
pub fn lock(ctx: &Context) -> OcfResult<NodeLock> {
    NodeLock::acquire(&dir().file(".lock"), &ctx.deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for k in [
            ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80),
            ServiceKey::udp("2001:db8::10".parse().unwrap(), 53),
            ServiceKey::Addr { protocol: Protocol::Sctp, addr: "198.51.100.1".parse().unwrap(), port: 0 },
            ServiceKey::Fwmark { mark: 5, family: Family::Inet },
            ServiceKey::Fwmark { mark: u32::MAX, family: Family::Inet6 },
        ] {
            assert_eq!(parse_key(&key_text(&k)), Some(k), "{}", key_text(&k));
        }
        assert_eq!(parse_key("-t nonsense"), None);
    }

    #[test]
    fn records_round_trip() {
        let r = Record {
            netns: Some(4026531840),
            service: Some(ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80)),
            wants: vec![
                DaemonSpec { state: DaemonState::Master, interface: "eth1".into(), syncid: 5 },
                DaemonSpec { state: DaemonState::Backup, interface: "eth1".into(), syncid: 5 },
            ],
            owns: vec![DaemonSpec { state: DaemonState::Backup, interface: "eth1".into(), syncid: 5 }],
            names: [("compute-0-0.local".to_string(), "203.0.113.2".parse().unwrap())].into(),
        };
        let text = r.to_text();
        assert!(text.contains("name compute-0-0.local 203.0.113.2\n"), "{text}");
        assert!(text.contains("service -t 198.51.100.10:80\n"), "{text}");
        assert!(text.contains("owns backup eth1 5\n") && text.contains("netns 4026531840\n"), "{text}");
        assert_eq!(Record::from_text(&text), r);
        assert_eq!(Record::from_text("garbage\nowns sideways x y\n"), Record::default());
    }
}
