//! stop: end the background announcements, remove the address wherever this resource put it,
//! and undo the side effects (address label, loopback copy for LVS, route cache:
//! [`crate::address_ops::take_down`]).
//!
//! Stop must also clean up after a start that was killed at any point, so every step runs
//! whether or not the address is still there.

use ocf_shim::{Context, OcfResult};

use crate::params::Config;
use crate::{address_ops, announce, cluster_ip, findif};

/// What every stop does first, plain or cluster IP: end the background announcements.
pub fn prepare(ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    if let Err(e) = announce::stop_background(&announce::pidfile(ctx), &ctx.deadline) {
        ocf_shim::warn!("{}", e.reason);
    }
    Ok(())
}

/// The stop action of a plain address, after [`prepare`] (cluster-IP buckets:
/// [`crate::cluster_ip::stop`]; lib.rs chooses).
pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    // The address may also serve cluster-IP buckets on this node: a primitive wrapped into
    // a clone is stopped (as an orphan) while the clone starts. Under the buckets' lock,
    // either they come first and the address stays for them, or this stop does and their
    // start adds it again.
    // Neither may fail the stop of a plain address (a failed stop fences the node): without
    // nftables in this kernel there are no buckets.
    // Waiting for the lock may take half of what is left, no more: removing the address
    // must still fit in the timeout.
    let wait = ctx.deadline.cap(ctx.deadline.remaining() / 2);
    let _lock = cluster_ip::lock_within(cfg, &wait).inspect_err(|e| ocf_shim::warn!("{}", e.reason)).ok();
    let buckets = buckets_running_here(cfg);
    if !buckets.is_empty() {
        ocf_shim::info!("{} stays configured: cluster-IP buckets {buckets:?} on this node use it", cfg.ip);
        return findif::forget(ctx);
    }
    address_ops::take_down(cfg, ctx)
}

/// The cluster-IP buckets of this address that really run on this node: recorded by a bucket
/// instance here (its start wrote the record before changing anything) and programmed in the
/// node's table. A stale table alone (left by a crash, or by hand) keeps no address: a VIP
/// left behind would be a duplicate address once it starts elsewhere. Without any record for
/// the address, nftables is not even asked (opening nfnetlink would load nf_tables).
fn buckets_running_here(cfg: &Config) -> Vec<u32> {
    let recorded = match cluster_ip::recorded_buckets(cfg.ip) {
        cluster_ip::RecordedBuckets::Known(b) if b.is_empty() => return Vec::new(),
        r => r,
    };
    let programmed = cluster_ip::buckets_here(cfg.ip).unwrap_or_default();
    match recorded {
        cluster_ip::RecordedBuckets::Known(b) => programmed.into_iter().filter(|p| b.contains(p)).collect(),
        // A record from before records named their address: the table decides, as it did.
        cluster_ip::RecordedBuckets::Unknown => programmed,
    }
}
