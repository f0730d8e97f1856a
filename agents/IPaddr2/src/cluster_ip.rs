//! Cluster-IP (clone) mode: every node holds the address, clients send to a multicast MAC so
//! every node receives every packet, and an nftables hash over the source address lets each
//! node accept only the packets of its buckets. Clone instance `k` (0-based) is bucket `k+1`
//! of `clone-max`; with `clone-node-max` >= 2 a node can take over a failed node's bucket.
//!
//! The table, one per address (`ip IPaddr2_<address>`, or `ip6` with `ip6` matches), holds one
//! rule per bucket on this node and a final drop for the rest:
//!
//! ```text
//! iif "eth0" ip daddr VIP jhash ip saddr mod N seed S offset 1 == k meta pkttype set host counter accept comment "cip-node-k"
//! iif "eth0" ip daddr VIP counter drop comment "cip-drop"
//! ```
//!
//! With `clusterip_mac_mangle` (IPv4), a table `arp IPaddr2_<address>` sets the cluster MAC as
//! the sender of every ARP packet the node sends for the address, so neighbours learn it by ARP
//! (`comment "cip-arp"`); without it they need a static entry, as IPv6 neighbours always do.
//!
//! Changes go through `nft -f` (one kernel transaction each); monitor reads the tables over
//! nfnetlink. The instances of one address on one node share the table, the multicast group
//! and the address, so start and stop hold a node-wide lock (a plain stop of the address takes
//! it too); the last bucket to leave removes all three.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use md5::{Digest, Md5};
use ocf_shim::lock::NodeLock;
use ocf_shim::params::quote;
use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, OcfError, OcfResult, Status};
use rha_net::Netlink;
use rha_net::link::{self, format_mac};
use rha_net::multicast;
use rha_net::nftables::{self, NfFamily, Rule};

use crate::address_state::{self, State};
use crate::cluster_rules::{self, Expected};
use crate::findif::Placement;
#[cfg(test)]
use crate::params::parse_seed;
use crate::params::{ClusterIpSpec, Config, INFO, parse_mac};
use crate::{address_ops, net_err};

const CHAIN: &str = "prerouting";
const DROP_COMMENT: &str = "cip-drop";
const ARP_CHAIN: &str = "output";
const ARP_COMMENT: &str = "cip-arp";

/// md5 of what ocf:heartbeat:IPaddr2 hashes: `echo $ip $NETMASK $BRDCAST` (an empty broadcast
/// disappears with its separator), so a mixed or migrated cluster derives the same values.
fn digest(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> [u8; 16] {
    let line = match broadcast {
        Some(b) => format!("{ip} {prefix} {b}\n"),
        None => format!("{ip} {prefix}\n"),
    };
    Md5::digest(line.as_bytes()).into()
}

/// The default cluster MAC: the digest's first six octets with the first made odd (multicast);
/// for IPv6, `33:33` (the IPv6 multicast prefix) and the digest's octets 3 to 6.
pub fn derived_mac(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> [u8; 6] {
    let d = digest(ip, prefix, broadcast);
    if ip.is_ipv6() {
        return [0x33, 0x33, d[2], d[3], d[4], d[5]];
    }
    let mut mac = [d[0], d[1], d[2], d[3], d[4], d[5]];
    // upstream turns an even second hex digit into 1: the same as setting the low bit when
    // that digit is even, and a digit that is odd already stays.
    if mac[0] & 1 == 0 {
        mac[0] = (mac[0] & 0xf0) | 1;
    }
    mac
}

/// The default hash seed: the digest's first four octets (its first eight hex digits).
pub fn derived_seed(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> u32 {
    let d = digest(ip, prefix, broadcast);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The nftables family of an address's table; its keyword is also the address match's
/// (`ip daddr`, `ip6 daddr`).
fn l3(ip: IpAddr) -> NfFamily {
    if ip.is_ipv6() { NfFamily::Ip6 } else { NfFamily::Ip }
}

/// The nftables table of an address: `IPaddr2_198_51_100_10`, `IPaddr2_2001_db8__10`.
pub fn table_name(ip: IpAddr) -> String {
    format!("IPaddr2_{}", ip.to_string().replace(['.', ':'], "_"))
}

fn bucket_comment(bucket: u32) -> String {
    format!("cip-node-{bucket}")
}

/// The buckets a table holds (from the rules' comments).
fn buckets(rules: &[Rule]) -> Vec<u32> {
    let mut b: Vec<u32> =
        rules.iter().filter_map(|r| r.comment.as_deref()?.strip_prefix("cip-node-")?.parse().ok()).collect();
    b.sort_unstable();
    b.dedup();
    b
}

/// Every bucket rule of the table that says something else than this instance would write,
/// with how it differs.
fn stale_buckets(rules: &[Rule], expected: impl Fn(u32) -> Expected) -> Vec<(u32, String)> {
    rules
        .iter()
        .filter_map(|r| Some((r, r.comment.as_deref()?.strip_prefix("cip-node-")?.parse::<u32>().ok()?)))
        .filter_map(|(r, b)| {
            let d = cluster_rules::differences(r, &expected(b));
            (!d.is_empty()).then(|| (b, d.join(", ")))
        })
        .collect()
}

fn has_comment(rules: &[Rule], comment: &str) -> bool {
    rules.iter().any(|r| r.chain == CHAIN && r.comment.as_deref() == Some(comment))
}

/// The address's table in `family` as the kernel holds it, `None` without one.
fn read_table(family: NfFamily, ip: IpAddr) -> OcfResult<Option<Vec<Rule>>> {
    match nftables::table_rules(family, &table_name(ip)) {
        // No nf_tables in this kernel (a container, module loading blocked): there can be no
        // table, so nothing runs here (probe 7) and there is nothing to stop (0). Start checks
        // for it first (5).
        Err(e) if nf_tables_missing(&e) => Ok(None),
        r => r.map_err(net_err),
    }
}

/// The answers of a kernel without nfnetlink (no protocol) or without nf_tables (the
/// subsystem rejects the message).
fn nf_tables_missing(e: &rha_net::Error) -> bool {
    e.is_errno(&[libc::EPROTONOSUPPORT, libc::EAFNOSUPPORT, libc::EINVAL, libc::EOPNOTSUPP])
}

/// Start's check: nf_tables must be there (5 on a node whose kernel lacks it).
fn require_nf_tables(ip: IpAddr) -> OcfResult<()> {
    match nftables::table_rules(l3(ip), &table_name(ip)) {
        Err(e) if nf_tables_missing(&e) => Err(OcfError::installed(format!(
            "cluster-IP clone mode needs nf_tables, which this node's kernel does not offer ({e})"
        ))),
        Err(e) => Err(net_err(e)),
        Ok(_) => Ok(()),
    }
}

/// Whether the ARP rewriting rule is there.
fn arp_mangled(ip: IpAddr) -> OcfResult<bool> {
    Ok(read_table(NfFamily::Arp, ip)?
        .is_some_and(|r| r.iter().any(|r| r.comment.as_deref() == Some(ARP_COMMENT))))
}

/// What this instance programmed, for stop and monitor: the interface and the cluster MAC,
/// and which address and bucket (so that a plain stop of the address can tell which buckets
/// really run on this node without reading nftables).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    nic: String,
    mac: [u8; 6],
    /// `None` in a record written before the address was recorded.
    ip: Option<IpAddr>,
    bucket: Option<u32>,
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

fn read_record(ctx: &Context) -> Option<Record> {
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

fn write_record(ctx: &Context, r: &Record) -> OcfResult<()> {
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

fn forget_record(ctx: &Context) -> OcfResult<()> {
    let file = record_file(ctx);
    remove_if_exists(&file).map_err(|e| OcfError::generic(format!("removing {}: {e}", file.display())))
}

/// The buckets programmed on this node for `ip` (none without a table).
pub fn buckets_here(ip: IpAddr) -> OcfResult<Vec<u32>> {
    Ok(read_table(l3(ip), ip)?.as_deref().map(buckets).unwrap_or_default())
}

/// The node-wide lock of one address's cluster IP (also taken by a plain stop of the address).
pub fn lock(cfg: &Config, ctx: &Context) -> OcfResult<NodeLock> {
    lock_within(cfg, &ctx.deadline)
}

/// [`lock`], waiting no longer than `deadline`.
pub fn lock_within(cfg: &Config, deadline: &ocf_shim::Deadline) -> OcfResult<NodeLock> {
    let path = StateDir::for_agent(INFO.name).file(&format!("{}.cip.lock", table_name(cfg.ip)));
    NodeLock::acquire(&path, deadline)
}

/// The `nft` program (package nftables): 5 when this node lacks it.
pub fn nft_binary() -> OcfResult<PathBuf> {
    ocf_shim::process::find_binary("nft").ok_or_else(|| {
        OcfError::installed("nft not found: cluster-IP clone mode needs the nftables package on every node")
    })
}

/// Applies an nft script as one transaction.
fn nft_apply(script: &str, ctx: &Context) -> OcfResult<()> {
    let nft = nft_binary()?;
    ocf_shim::debug!("nft -f - <<EOF\n{script}EOF");
    let mut cmd = ocf_shim::process::command(&nft);
    cmd.args(["-f", "-"]);
    match ocf_shim::process::run_bounded(cmd, script.as_bytes(), &ctx.deadline) {
        Err(e) => Err(OcfError::generic(format!("cannot run {}: {e}", nft.display()))),
        Ok(None) => Err(OcfError::generic("nft did not finish within the operation's timeout")),
        Ok(Some(o)) if o.status.success() => Ok(()),
        Ok(Some(o)) => Err(OcfError::generic(format!(
            "nft refused the cluster-IP rules: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
    }
}

/// Writes one instance's nft rules: the address, where it arrives, and the hash that picks
/// the buckets.
struct RuleWriter<'a> {
    ip: IpAddr,
    nic: &'a str,
    total: u32,
    seed: u32,
    mac: [u8; 6],
}

impl RuleWriter<'_> {
    fn bucket_rule(&self, bucket: u32) -> String {
        let f = l3(self.ip).keyword();
        format!(
            "iif \"{}\" {f} daddr {} jhash {f} saddr mod {} seed {:#010x} offset 1 == {bucket} \
             meta pkttype set host counter accept comment \"{}\"",
            self.nic,
            self.ip,
            self.total,
            self.seed,
            bucket_comment(bucket)
        )
    }

    /// The whole table, replacing whatever is there (`add` then `delete` makes the delete
    /// succeed when there was none), with these buckets.
    fn table_script(&self, buckets: &[u32]) -> String {
        let (t, f) = (table_name(self.ip), l3(self.ip).keyword());
        let mut s = format!(
            "add table {f} {t}\ndelete table {f} {t}\ntable {f} {t} {{\n  chain {CHAIN} {{\n    \
             type filter hook prerouting priority mangle; policy accept;\n"
        );
        for &b in buckets {
            s.push_str(&format!("    {}\n", self.bucket_rule(b)));
        }
        s.push_str(&format!(
            "    iif \"{}\" {f} daddr {} counter drop comment \"{DROP_COMMENT}\"\n  }}\n}}\n",
            self.nic, self.ip
        ));
        s
    }

    /// The ARP table, replacing whatever is there: every ARP packet this node sends for the
    /// address (replies, and requests it sends from the address) carries the cluster MAC as
    /// its sender, so no neighbour ever caches a node's own MAC for it.
    fn arp_script(&self) -> String {
        let t = table_name(self.ip);
        format!(
            "add table arp {t}\ndelete table arp {t}\ntable arp {t} {{\n  chain {ARP_CHAIN} {{\n    \
             type filter hook output priority 0; policy accept;\n    \
             arp saddr ip {} arp saddr ether set {} counter comment \"{ARP_COMMENT}\"\n  }}\n}}\n",
            self.ip,
            format_mac(&self.mac)
        )
    }
}

/// An interface name nft can take between double quotes.
fn check_nic_name(name: &str) -> OcfResult<()> {
    if name.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(OcfError::configured(format!(
            "interface {} cannot be named in an nftables rule",
            quote(OsStr::new(name))
        )));
    }
    Ok(())
}

/// Start: program this instance's bucket (and the table, if it is the node's first), join the
/// multicast MAC, add the address if no other bucket did.
pub fn start(
    cfg: &Config,
    spec: &ClusterIpSpec,
    ctx: &Context,
    nl: &mut Netlink,
    place: &Placement,
) -> OcfResult<()> {
    nft_binary()?;
    check_nic_name(&place.link.name)?;
    require_nf_tables(cfg.ip)?;
    let _lock = lock(cfg, ctx)?;
    let mac = spec.mac.unwrap_or_else(|| derived_mac(cfg.ip, place.prefix_len, place.broadcast));
    let writer = RuleWriter {
        ip: cfg.ip,
        nic: &place.link.name,
        total: spec.total,
        seed: spec.seed.unwrap_or_else(|| derived_seed(cfg.ip, place.prefix_len, place.broadcast)),
        mac,
    };

    let st = address_state::state(nl, cfg, ctx)?;
    if let Some(e) = address_state::problem(cfg, &st) {
        return Err(e);
    }
    // Recorded before anything changes: a stop after a killed start finds all of it.
    write_record(
        ctx,
        &Record { nic: place.link.name.clone(), mac, ip: Some(cfg.ip), bucket: Some(spec.bucket) },
    )?;
    let table = read_table(l3(cfg.ip), cfg.ip)?;
    let expected = |bucket| Expected { ip: cfg.ip, total: spec.total, seed: writer.seed, bucket };
    // Rules this instance would not write (another clone-max, seed or address): the whole
    // table is rewritten, keeping its buckets.
    let stale = table.as_deref().is_some_and(|rules| {
        let stale = stale_buckets(rules, expected);
        for (b, why) in &stale {
            ocf_shim::warn!(
                "bucket {b}'s rule in the cluster-IP table {} {why}: rewriting it",
                table_name(cfg.ip)
            );
        }
        !stale.is_empty()
    });
    let mut script = match &table {
        Some(rules)
            if !stale
                && has_comment(rules, DROP_COMMENT)
                && has_comment(rules, &bucket_comment(spec.bucket)) =>
        {
            String::new()
        }
        Some(rules) if !stale && has_comment(rules, DROP_COMMENT) => {
            format!(
                "insert rule {} {} {CHAIN} {}\n",
                l3(cfg.ip).keyword(),
                table_name(cfg.ip),
                writer.bucket_rule(spec.bucket)
            )
        }
        // No table, one without its drop rule (damaged), or rules written for another
        // clone-max or seed: write it whole, keeping the buckets other instances hold here.
        other => {
            let mut b = other.as_deref().map(buckets).unwrap_or_default();
            b.retain(|&k| k <= spec.total);
            b.push(spec.bucket);
            b.sort_unstable();
            b.dedup();
            writer.table_script(&b)
        }
    };
    if spec.mac_mangle && !arp_mangled(cfg.ip)? {
        script.push_str(&writer.arp_script());
    }
    if !script.is_empty() {
        ocf_shim::info!(
            "programming bucket {} of {} for {} on {}",
            spec.bucket,
            spec.total,
            cfg.ip,
            place.link.name
        );
        nft_apply(&script, ctx)?;
    }
    multicast::join(&place.link.name, mac).map_err(|e| {
        OcfError::generic(format!(
            "cannot join {} to the multicast MAC {}: {e}",
            place.link.name,
            format_mac(&mac)
        ))
    })?;
    if matches!(st, State::Absent) {
        address_ops::add_addrlabel(nl, cfg);
        address_ops::add_address(nl, cfg, place)?;
    }
    if !place.link.is_admin_up() {
        ocf_shim::info!("bringing {} up", place.link.name);
        link::set_up(nl, place.link.index).map_err(net_err)?;
    }
    let st = address_state::state(nl, cfg, ctx)?;
    match monitor(cfg, spec, ctx, st)? {
        Status::Running => {
            ocf_shim::info!(
                "{} serves bucket {} of {} on {}; neighbours reach it at the cluster MAC {} ({})",
                cfg.ip,
                spec.bucket,
                spec.total,
                place.link.name,
                format_mac(&mac),
                if spec.mac_mangle {
                    "answered by ARP"
                } else {
                    "a static entry: no ARP or gratuitous ARP gives it"
                }
            );
            Ok(())
        }
        Status::NotRunning => {
            Err(OcfError::generic(format!("bucket {} of {} is not up after start", spec.bucket, cfg.ip)))
        }
    }
}

/// Stop: remove this instance's bucket; the last bucket on the node takes the table, the
/// multicast group and the address with it.
pub fn stop(cfg: &Config, spec: &ClusterIpSpec, ctx: &Context) -> OcfResult<()> {
    // Half of what is left at most for the lock: the nft transaction, leaving the multicast
    // group and removing the address must still fit in stop's timeout.
    let _lock = lock_within(cfg, &ctx.deadline.cap(ctx.deadline.remaining() / 2))?;
    let table = read_table(l3(cfg.ip), cfg.ip)?;
    let mine = bucket_comment(spec.bucket);
    let others: Vec<u32> =
        table.as_deref().map(buckets).unwrap_or_default().into_iter().filter(|&b| b != spec.bucket).collect();
    if !others.is_empty() {
        if let Some(r) = table.iter().flatten().find(|r| r.comment.as_deref() == Some(mine.as_str())) {
            ocf_shim::info!(
                "removing bucket {} of {} (buckets {others:?} stay on this node)",
                spec.bucket,
                cfg.ip
            );
            nft_apply(
                &format!(
                    "delete rule {} {} {} handle {}\n",
                    l3(cfg.ip).keyword(),
                    table_name(cfg.ip),
                    r.chain,
                    r.handle
                ),
                ctx,
            )?;
        }
        return forget_record(ctx);
    }
    let mut script = String::new();
    for (family, present) in
        // Only an IPv4 address can have the ARP table (mac_mangle is refused for IPv6).
        [
            (l3(cfg.ip), table.is_some()),
            (NfFamily::Arp, cfg.ip.is_ipv4() && read_table(NfFamily::Arp, cfg.ip)?.is_some()),
        ]
    {
        if present {
            script.push_str(&format!("delete table {} {}\n", family.keyword(), table_name(cfg.ip)));
        }
    }
    if !script.is_empty() {
        ocf_shim::info!("removing the cluster-IP tables {} (last bucket on this node)", table_name(cfg.ip));
        nft_apply(&script, ctx)?;
    }
    if let Some(r) = read_record(ctx) {
        multicast::leave(&r.nic, r.mac).map_err(|e| {
            OcfError::generic(format!(
                "cannot leave the multicast MAC {} on {}: {e}",
                format_mac(&r.mac),
                r.nic
            ))
        })?;
    }
    address_ops::take_down(cfg, ctx)?;
    forget_record(ctx)
}

/// Monitor: running when this instance's bucket is programmed, the drop rule is there, the
/// address is up and the interface listens to the cluster MAC.
///
/// Unlike upstream (which returns 1 for every partial state), a missing bucket is "not
/// running" for an instance that was never started here, so probing bucket 2 on a node that
/// serves only bucket 1 is 7, not a failure; for an instance that was started, it is a failure.
pub fn monitor(cfg: &Config, spec: &ClusterIpSpec, ctx: &Context, st: State) -> OcfResult<Status> {
    let table = read_table(l3(cfg.ip), cfg.ip)?;
    let rules = table.as_deref().unwrap_or_default();
    let record = read_record(ctx);
    let (t, f) = (table_name(cfg.ip), l3(cfg.ip).keyword());
    if !has_comment(rules, &bucket_comment(spec.bucket)) {
        return match record {
            None => Ok(Status::NotRunning),
            Some(_) if table.is_none() => {
                Err(OcfError::generic(format!("the cluster-IP table {f} {t} of {} is gone", cfg.ip)))
            }
            Some(_) => Err(OcfError::generic(format!(
                "bucket {} is missing from the cluster-IP table {f} {t}",
                spec.bucket
            ))),
        };
    }
    if !has_comment(rules, DROP_COMMENT) {
        return Err(OcfError::generic(format!(
            "the drop rule of the cluster-IP table {f} {t} is missing: this node would accept every bucket"
        )));
    }
    let seed_for = |addr: &rha_net::address::Address| {
        spec.seed.unwrap_or_else(|| derived_seed(cfg.ip, addr.prefix_len, addr.broadcast))
    };
    if let State::Running { addr, .. } | State::LinkDown { addr, .. } = &st {
        let want = Expected { ip: cfg.ip, total: spec.total, seed: seed_for(addr), bucket: spec.bucket };
        let mine =
            rules.iter().filter(|r| r.comment.as_deref() == Some(bucket_comment(spec.bucket).as_str()));
        for r in mine {
            let d = cluster_rules::differences(r, &want);
            if !d.is_empty() {
                return Err(OcfError::generic(format!(
                    "bucket {}'s rule in the cluster-IP table {f} {t} {} (start rewrites it)",
                    spec.bucket,
                    d.join(", ")
                )));
            }
        }
    }
    let link = match st {
        State::Absent => {
            return Err(OcfError::generic(format!(
                "bucket {} of {} is programmed but the address is not configured",
                spec.bucket, cfg.ip
            )));
        }
        State::LinkDown { link, .. } if cfg.check_link_status => {
            return Err(OcfError::not_running(format!(
                "{} is configured on {}, but the interface is down ({})",
                cfg.ip,
                link.name,
                link.down_reason()
            )));
        }
        State::Running { link, .. } | State::LinkDown { link, .. } => link,
        st => return Err(address_state::problem(cfg, &st).expect("a problem state")),
    };
    if spec.mac_mangle && !arp_mangled(cfg.ip)? {
        return Err(OcfError::generic(format!(
            "the ARP rewriting of the cluster-IP table arp {t} is missing: neighbours would learn a node's own MAC"
        )));
    }
    if let Some(r) = record
        && !multicast::is_joined(&link.name, r.mac).unwrap_or(false)
    {
        return Err(OcfError::generic(format!(
            "{} does not listen to the cluster MAC {} any more",
            link.name,
            format_mac(&r.mac)
        )));
    }
    Ok(Status::Running)
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

    #[test]
    fn derivations_match_upstreams_shell() {
        // The values themselves are checked against md5sum below; here the rules around them.
        let ip = Ipv4Addr::new(198, 51, 100, 10);
        let mac = derived_mac(IpAddr::V4(ip), 24, Some(Ipv4Addr::new(198, 51, 100, 255)));
        assert_eq!(mac[0] & 1, 1, "multicast");
        assert_ne!(derived_mac(IpAddr::V4(ip), 24, None), mac, "the broadcast is part of the input");
        let v6: IpAddr = "2001:db8::10".parse().unwrap();
        assert_eq!(derived_mac(v6, 64, None)[..2], [0x33, 0x33], "the IPv6 multicast prefix");
        assert_eq!(table_name(v6), "IPaddr2_2001_db8__10");
        assert_eq!(table_name(IpAddr::V4(ip)), "IPaddr2_198_51_100_10");
    }

    #[test]
    fn derivations_agree_with_md5sum() {
        let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
        let brd = Some(Ipv4Addr::new(198, 51, 100, 255));
        let out = std::process::Command::new("sh")
            .args(["-c", "echo 198.51.100.10 24 198.51.100.255 | md5sum"])
            .output()
            .unwrap();
        let hex = String::from_utf8(out.stdout).unwrap();
        let seed = u32::from_str_radix(&hex[..8], 16).unwrap();
        assert_eq!(derived_seed(ip, 24, brd), seed);
        // upstream's sed: the first 12 hex digits, colons, an even 2nd digit becomes 1.
        let mut digits: Vec<char> = hex[..12].chars().collect();
        if "02468ace".contains(digits[1]) {
            digits[1] = '1';
        }
        let want: Vec<String> = digits.chunks(2).map(|c| c.iter().collect()).collect();
        assert_eq!(format_mac(&derived_mac(ip, 24, brd)), want.join(":"));
    }

    #[test]
    fn values() {
        assert_eq!(parse_mac("01:00:5e:7f:00:0a"), Some([1, 0, 0x5e, 0x7f, 0, 0x0a]));
        assert_eq!(parse_mac("01:00:5e:7f:00"), None);
        assert_eq!(parse_mac("01:00:5e:7f:00:0g"), None);
        assert_eq!(parse_seed("0x1234abcd"), Some(0x1234abcd));
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed("4294967296"), None);
        assert_eq!(parse_seed("x"), None);
    }

    #[test]
    fn scripts() {
        let h = RuleWriter {
            ip: "198.51.100.10".parse().unwrap(),
            nic: "eth0",
            total: 3,
            seed: 0xab,
            mac: [3, 0, 0, 0, 0, 0xa],
        };
        assert!(h.arp_script().contains(
            "arp saddr ip 198.51.100.10 arp saddr ether set 03:00:00:00:00:0a counter comment \"cip-arp\""
        ));
        let s = h.table_script(&[1, 3]);
        assert!(s.starts_with("add table ip IPaddr2_198_51_100_10\ndelete table ip IPaddr2_198_51_100_10\n"));
        assert!(s.contains(
            "iif \"eth0\" ip daddr 198.51.100.10 jhash ip saddr mod 3 seed 0x000000ab offset 1 == 3 \
             meta pkttype set host counter accept comment \"cip-node-3\""
        ));
        assert!(s.find("cip-node-1").unwrap() < s.find("cip-drop").unwrap(), "buckets before the drop");
        let rules = vec![
            Rule { chain: CHAIN.into(), handle: 2, comment: Some("cip-node-3".into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 3, comment: Some("cip-node-1".into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 4, comment: Some(DROP_COMMENT.into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 5, comment: Some("other".into()), exprs: vec![] },
        ];
        assert_eq!(buckets(&rules), vec![1, 3]);
        assert!(check_nic_name("eth0").is_ok());
        assert!(check_nic_name("a\"b").is_err());
    }
}
