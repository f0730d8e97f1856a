//! A VIP on the loopback interface: the real-server side of LVS direct routing (and TUN's
//! VIP-on-`tunl0` cousin). The real server must accept packets for the VIP but never answer
//! ARP for it — otherwise clients' traffic for the VIP reaches a real server directly instead
//! of the director (scenario S3's source forgot exactly this, S5's users saw failed
//! connections). Linux answers ARP for any local address on any interface unless
//! `arp_ignore >= 1` (reply only for addresses of the receiving interface) and
//! `arp_announce >= 2` (never announce the VIP as a source) on the interfaces facing the
//! clients; the effective value of each is the larger of `conf/all` and `conf/<interface>`.
//!
//! `arp_suppress=true` sets `conf/all` to those values at start (they are node-wide and stay
//! set after stop: another VIP of the node may rely on them). Without it, start and
//! validate-all warn, naming the interfaces that would answer and the sysctl that fixes it.

use std::net::IpAddr;
use std::path::Path;

use ocf_shim::{OcfError, OcfResult};

const CONF: &str = "/proc/sys/net/ipv4/conf";

fn read(iface: &str, key: &str) -> Option<u32> {
    std::fs::read_to_string(Path::new(CONF).join(iface).join(key)).ok()?.trim().parse().ok()
}

/// The interfaces (other than `lo`) that would answer ARP for a loopback VIP or announce it,
/// with their effective values.
pub fn answering_interfaces() -> Vec<(String, u32, u32)> {
    let (all_ignore, all_announce) =
        (read("all", "arp_ignore").unwrap_or(0), read("all", "arp_announce").unwrap_or(0));
    let Ok(dir) = std::fs::read_dir(CONF) else { return Vec::new() };
    let mut out: Vec<(String, u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "all" && n != "default" && n != "lo")
        .filter_map(|n| {
            let ignore = read(&n, "arp_ignore").unwrap_or(0).max(all_ignore);
            let announce = read(&n, "arp_announce").unwrap_or(0).max(all_announce);
            (ignore < 1 || announce < 2).then_some((n, ignore, announce))
        })
        .collect();
    out.sort();
    out
}

/// The warning for a loopback VIP that this node would answer ARP for, if it would.
pub fn warning(ip: IpAddr) -> Option<String> {
    if !ip.is_ipv4() {
        // IPv6 has no ARP, and Linux answers neighbour solicitations only for addresses of
        // the interface they arrive on: a VIP on lo is never advertised.
        return None;
    }
    let bad = answering_interfaces();
    (!bad.is_empty()).then(|| {
        let list: Vec<String> =
            bad.iter().map(|(n, i, a)| format!("{n} (arp_ignore={i}, arp_announce={a})")).collect();
        format!(
            "{ip} is on the loopback interface (an LVS real server's VIP) but this node would answer ARP for it on {}: \
             clients could reach this server instead of the director. Set arp_suppress=true, or \
             sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
            list.join(", ")
        )
    })
}

/// `arp_suppress=true` at start: raise conf/all so that no interface answers ARP for the VIP.
pub fn suppress() -> OcfResult<()> {
    for (key, want) in [("arp_ignore", 1), ("arp_announce", 2)] {
        let p = Path::new(CONF).join("all").join(key);
        if read("all", key).unwrap_or(0) < want {
            ocf_shim::info!("arp_suppress: setting net.ipv4.conf.all.{key}={want}");
            std::fs::write(&p, format!("{want}\n"))
                .map_err(|e| OcfError::generic(format!("arp_suppress: cannot write {}: {e}", p.display())))?;
        }
    }
    // An interface's own value above conf/all wins anyway; below it, conf/all does.
    Ok(())
}
