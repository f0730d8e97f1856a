//! The record of what an instance programmed, in the agent's state directory.

use std::net::IpAddr;
use std::path::PathBuf;

use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::link::format_mac;

use crate::params::{INFO, parse_mac};

/// What this instance programmed, for stop and monitor: the interface and the cluster MAC,
/// and which address and bucket (so that a plain stop of the address can tell which buckets
/// really run on this node without reading nftables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) nic: String,
    pub(super) mac: [u8; 6],
    /// `None` in a record written before the address was recorded.
    pub(super) ip: Option<IpAddr>,
    pub(super) bucket: Option<u32>,
}

/// Suffix of the per-instance record files in the agent's state directory.
const RECORD_SUFFIX: &str = ".cip";

fn record_file(ctx: &Context) -> PathBuf {
    StateDir::for_agent(INFO.name).instance_file(ctx, RECORD_SUFFIX)
}

fn parse_record(text: &str) -> Option<Record> {
    let mut f = text.split_whitespace();
    let nic = f.next()?.to_string();
    let mac = parse_mac(f.next()?)?;
    let ip = f.next().and_then(|s| s.parse().ok());
    let bucket = f.next().and_then(|s| s.parse().ok());
    Some(Record { nic, mac, ip, bucket })
}

pub(super) fn read_record(ctx: &Context) -> Option<Record> {
    parse_record(&std::fs::read_to_string(record_file(ctx)).ok()?)
}

/// Which buckets of `ip` instances on this node have recorded (started, or started and killed
/// before their stop): `Known(empty)` when none, `Unknown` when an old record does not say
/// which address it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedBuckets {
    Known(Vec<u32>),
    Unknown,
}

pub fn recorded_buckets(ip: IpAddr) -> RecordedBuckets {
    let dir = StateDir::for_agent(INFO.name);
    let Ok(entries) = std::fs::read_dir(dir.path()) else { return RecordedBuckets::Known(Vec::new()) };
    let mut buckets = Vec::new();
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().ends_with(RECORD_SUFFIX) {
            continue;
        }
        let Some(r) = std::fs::read_to_string(e.path()).ok().as_deref().and_then(parse_record) else {
            continue;
        };
        match (r.ip, r.bucket) {
            (Some(rip), Some(b)) if rip == ip => buckets.push(b),
            (Some(_), Some(_)) => {}
            _ => return RecordedBuckets::Unknown,
        }
    }
    buckets.sort_unstable();
    buckets.dedup();
    RecordedBuckets::Known(buckets)
}

pub(super) fn write_record(ctx: &Context, r: &Record) -> OcfResult<()> {
    let file = record_file(ctx);
    StateDir::for_agent(INFO.name)
        .write(&file, format_record(r).as_bytes())
        .map_err(|e| OcfError::generic(format!("cannot record the cluster IP in {}: {e}", file.display())))
}

fn format_record(r: &Record) -> String {
    let mut line = format!("{} {}", r.nic, format_mac(&r.mac));
    if let (Some(ip), Some(b)) = (r.ip, r.bucket) {
        line.push_str(&format!(" {ip} {b}"));
    }
    line.push('\n');
    line
}

pub(super) fn forget_record(ctx: &Context) -> OcfResult<()> {
    let file = record_file(ctx);
    remove_if_exists(&file).map_err(|e| OcfError::generic(format!("removing {}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_name_their_address_and_bucket_and_old_ones_still_read() {
        let r = Record {
            nic: "eth0".into(),
            mac: [3, 0, 0, 0, 0, 10],
            ip: Some("198.51.100.10".parse().unwrap()),
            bucket: Some(2),
        };
        assert_eq!(parse_record(&format_record(&r)), Some(r));
        let old = parse_record("eth0 03:00:00:00:00:0a\n").unwrap();
        assert_eq!((old.ip, old.bucket), (None, None));
        assert_eq!(old.nic, "eth0");
    }
}
