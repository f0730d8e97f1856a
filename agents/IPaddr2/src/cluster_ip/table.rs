//! The address's tables in the kernel: read over nfnetlink, changed through `nft -f`.

use std::net::IpAddr;
use std::path::PathBuf;

use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::nftables::{self, NfFamily, Rule};

use super::derive::{l3, table_name};
use super::rules::ARP_COMMENT;
use super::rules_read::buckets;
use crate::net_err;

/// The address's table in `family` as the kernel holds it, `None` without one.
pub(super) fn read_table(family: NfFamily, ip: IpAddr) -> OcfResult<Option<Vec<Rule>>> {
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
pub(super) fn require_nf_tables(ip: IpAddr) -> OcfResult<()> {
    match nftables::table_rules(l3(ip), &table_name(ip)) {
        Err(e) if nf_tables_missing(&e) => Err(OcfError::installed(format!(
            "cluster-IP clone mode needs nf_tables, which this node's kernel does not offer ({e})"
        ))),
        Err(e) => Err(net_err(e)),
        Ok(_) => Ok(()),
    }
}

/// Whether the ARP rewriting rule is there.
pub(super) fn arp_mangled(ip: IpAddr) -> OcfResult<bool> {
    Ok(read_table(NfFamily::Arp, ip)?
        .is_some_and(|r| r.iter().any(|r| r.comment.as_deref() == Some(ARP_COMMENT))))
}

/// The buckets programmed on this node for `ip` (none without a table).
pub fn buckets_here(ip: IpAddr) -> OcfResult<Vec<u32>> {
    Ok(read_table(l3(ip), ip)?.as_deref().map(buckets).unwrap_or_default())
}

/// The `nft` program (package nftables): 5 when this node lacks it.
pub fn nft_binary() -> OcfResult<PathBuf> {
    ocf_shim::process::find_binary("nft").ok_or_else(|| {
        OcfError::installed("nft not found: cluster-IP clone mode needs the nftables package on every node")
    })
}

/// Applies an nft script as one transaction.
pub(super) fn nft_apply(script: &str, ctx: &Context) -> OcfResult<()> {
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
