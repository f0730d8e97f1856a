//! validate-all, and the node checks monitor (level 10) and start share with it.
//!
//! Level 0 is the configuration's own consistency (all of it done in [`crate::params`]), plus
//! a WARNING when NAT is used while this node does not forward. Level 10 also asks the node:
//! does its kernel offer IPVS, the scheduler and the persistence engine (loaded, built in, or
//! a module under `/lib/modules/$(uname -r)`), does the sync interface exist, and is the VIP
//! local (a warning only: in a group, IPaddr2 adds it just before start).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ocf_shim::{Context, OcfError, OcfResult};
use rha_ipvs::{Family, ServiceSpec};

use crate::params::{self, Config};

/// What a node's kernel offers of a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// In use now (`/proc/modules`, or `/proc/net/ip_vs` for IPVS itself).
    Loaded,
    /// Compiled into the kernel (`modules.builtin`).
    Builtin,
    /// A module file of the running kernel (`modules.dep`); the kernel loads it on demand.
    Loadable,
    /// The running kernel's module lists do not have it.
    Missing,
    /// Nothing tells: no module lists for the running kernel.
    Unknown,
}

impl Offer {
    /// Offered, or not known not to be.
    pub fn usable(self) -> bool {
        !matches!(self, Offer::Missing)
    }
}

/// `uname -r`.
pub fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_string())
}

fn modules_dir() -> Option<PathBuf> {
    let rel = kernel_release()?;
    ["/lib/modules", "/usr/lib/modules"].iter().map(|d| Path::new(d).join(&rel)).find(|p| p.is_dir())
}

/// `kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz` → `ip_vs_rr` (module names use `_`).
fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split(".ko").next().unwrap_or(base);
    stem.replace('-', "_")
}

/// Whether the running kernel offers module `name` (e.g. `ip_vs_wrr`).
///
/// In use or built in shows in `/sys/module`; otherwise it must be listed for the running
/// kernel under `/lib/modules/$(uname -r)`. A kernel without that directory cannot load
/// anything, so what is not already there is missing.
pub fn module_offer(name: &str) -> Offer {
    let name = name.replace('-', "_");
    if Path::new("/sys/module").join(&name).exists() {
        return Offer::Loaded;
    }
    if let Ok(m) = std::fs::read_to_string("/proc/modules") {
        if m.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())) {
            return Offer::Loaded;
        }
    }
    let Some(dir) = modules_dir() else {
        return if kernel_release().is_some() { Offer::Missing } else { Offer::Unknown };
    };
    let listed = |file: &str, cut: fn(&str) -> &str| -> Option<bool> {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        Some(text.lines().any(|l| module_name(cut(l)) == name))
    };
    if listed("modules.builtin", |l| l.trim()) == Some(true) {
        return Offer::Builtin;
    }
    match listed("modules.dep", |l| l.split(':').next().unwrap_or("")) {
        Some(true) => Offer::Loadable,
        Some(false) => Offer::Missing,
        None => Offer::Unknown,
    }
}

/// Whether IPVS is active in this kernel now, as far as `/proc` tells (`None` without
/// `/proc/net`). Asking netlink instead would make the kernel load `ip_vs` on the spot (it
/// requests the module of an unknown generic netlink family), which a probe or a stop on a
/// node that is no director must not do.
pub fn ipvs_loaded() -> Option<bool> {
    Path::new("/proc/net").exists().then(|| Path::new("/proc/net/ip_vs").exists())
}

/// Whether this kernel offers IPVS at all.
pub fn ipvs_offer() -> Offer {
    if Path::new("/proc/net/ip_vs").exists() {
        return Offer::Loaded;
    }
    module_offer("ip_vs")
}

/// The forwarding sysctl NAT needs, for the service's family, and its value.
pub fn forwarding(family: Family) -> (&'static str, Option<bool>) {
    let (name, path) = match family {
        Family::Inet => ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
        Family::Inet6 => ("net.ipv6.conf.all.forwarding", "/proc/sys/net/ipv6/conf/all/forwarding"),
    };
    let value = std::fs::read_to_string(path).ok().map(|v| v.trim() != "0");
    (name, value)
}

/// When NAT real servers are configured but this node does not forward: why that fails.
pub fn nat_forwarding_problem(spec: &ServiceSpec) -> Option<String> {
    if !params::uses_nat(spec) {
        return None;
    }
    match forwarding(spec.service.key.family()) {
        (name, Some(false)) => Some(format!(
            "NAT (masq) real servers are configured but {name} is 0 on this node: their replies \
             cannot be forwarded back to the clients (set {name}=1)"
        )),
        _ => None,
    }
}

/// Whether `addr` is local on this node: an address of an interface, or inside a `local`
/// route (`ip route add local ...`), i.e. what IPVS needs to see the packets.
pub fn is_local(addr: IpAddr) -> OcfResult<bool> {
    let mut nl = rha_net::Netlink::open().map_err(|e| OcfError::generic(e.to_string()))?;
    let family = rha_net::address::Family::of(&addr);
    let routes = rha_net::route::list(&mut nl, family).map_err(|e| OcfError::generic(e.to_string()))?;
    Ok(routes.iter().any(|r| {
        r.kind == rha_net::RouteKind::Local
            && rha_net::address::prefix_contains(r.destination, r.prefix_len, addr)
    }))
}

/// The VIP of an address-based service, when it is not local here: why that fails.
pub fn vip_problem(spec: &ServiceSpec) -> OcfResult<Option<String>> {
    let Some(vip) = params::vip(spec) else {
        return Ok(None);
    };
    Ok((!is_local(vip)?).then(|| {
        format!(
            "the virtual address {vip} is not local on this node: IPVS only sees packets addressed \
             to this node (add it with IPaddr2 before this resource)"
        )
    }))
}

/// Whether a network interface exists here.
pub fn interface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// What this node's kernel lacks for the configuration (level 10), as an OCF error.
pub fn kernel_support(spec: &ServiceSpec) -> OcfResult<()> {
    let rel = kernel_release().unwrap_or_else(|| "?".into());
    match ipvs_offer() {
        Offer::Missing => {
            return Err(OcfError::installed(format!(
                "IPVS is not available in kernel {rel}: ip_vs is neither loaded, built in nor a module \
                 of this kernel"
            )));
        }
        Offer::Unknown => {
            ocf_shim::info!("kernel {rel}: its module lists are unreadable; IPVS support not checked");
            return Ok(());
        }
        _ => {}
    }
    let sched = &spec.service.scheduler;
    if module_offer(&format!("ip_vs_{sched}")) == Offer::Missing {
        return Err(OcfError::installed(format!(
            "scheduler {sched} is not available in kernel {rel} (no ip_vs_{sched} module)"
        )));
    }
    if let Some(pe) = &spec.service.pe_name {
        if module_offer(&format!("ip_vs_pe_{pe}")) == Offer::Missing {
            return Err(OcfError::installed(format!(
                "persistence engine {pe} is not available in kernel {rel} (no ip_vs_pe_{pe} module)"
            )));
        }
    }
    Ok(())
}

/// validate-all.
pub fn validate(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let spec = cfg.spec()?;
    for w in &cfg.warnings {
        ocf_shim::warn!("{w}");
    }
    if let Some(p) = nat_forwarding_problem(spec) {
        ocf_shim::warn!("{p}");
    }
    if ctx.check_level < 10 {
        return Ok(());
    }
    kernel_support(spec)?;
    if let Some(s) = &cfg.sync {
        if !interface_exists(&s.interface) {
            // Node-local: 5 (another node may have it), as the shell agents' ERR_INSTALLED.
            return Err(OcfError::installed(format!(
                "sync_interface {} does not exist on this node",
                s.interface
            )));
        }
    }
    if let Some(p) = vip_problem(spec)? {
        ocf_shim::warn!("{p}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_paths() {
        assert_eq!(module_name("kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz"), "ip_vs_rr");
        assert_eq!(module_name("kernel/net/netfilter/ipvs/ip_vs_pe_sip.ko"), "ip_vs_pe_sip");
        assert_eq!(module_name("ip_vs.ko.zst"), "ip_vs");
    }

    #[test]
    fn offers_never_panic() {
        let _ = module_offer("ip_vs_wrr");
        let _ = ipvs_offer();
        assert_eq!(module_offer("no_such_module_at_all_x"), module_offer("no-such-module-at-all-x"));
    }
}
