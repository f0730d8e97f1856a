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
//!
//! One file per job, each below this one (which holds the lifecycle): `derive` (the MAC, seed
//! and table name an address derives), `rules` (the nft scripts written), `rules_read` (what
//! the kernel's rules say), `table` (reading and changing the tables), `record` (what an
//! instance programmed).

mod derive;
mod record;
mod rules;
mod rules_read;
mod table;

use ocf_shim::lock::NodeLock;
use ocf_shim::state::StateDir;
use ocf_shim::{Context, OcfError, OcfResult, Status};
use rha_net::Netlink;
use rha_net::link::{self, format_mac};
use rha_net::multicast;
use rha_net::nftables::NfFamily;

use crate::address_state::{self, State};
use crate::findif::Placement;
use crate::params::{ClusterIpSpec, Config, INFO};
use crate::{address_ops, net_err};

pub use derive::{derived_mac, derived_seed, table_name};
pub use record::{RecordedBuckets, recorded_buckets};
pub use table::{buckets_here, nft_binary};

use derive::l3;
use record::{Record, forget_record, read_record, write_record};
use rules::{CHAIN, DROP_COMMENT, RuleWriter, bucket_comment, check_nic_name};
use rules_read::{Expected, buckets, has_comment, stale_buckets};
use table::{arp_mangled, nft_apply, read_table, require_nf_tables};

/// The node-wide lock of one address's cluster IP (also taken by a plain stop of the address).
pub fn lock(cfg: &Config, ctx: &Context) -> OcfResult<NodeLock> {
    lock_within(cfg, &ctx.deadline)
}

/// [`lock`], waiting no longer than `deadline`.
pub fn lock_within(cfg: &Config, deadline: &ocf_shim::Deadline) -> OcfResult<NodeLock> {
    let path = StateDir::for_agent(INFO.name).file(&format!("{}.cip.lock", table_name(cfg.ip)));
    NodeLock::acquire(&path, deadline)
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
            let d = rules_read::differences(r, &want);
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
