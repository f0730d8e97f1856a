//! The address operations start, stop and cluster IP share: add the address (and its IPv6
//! address label) where findif placed it, remove one instance, and take the address down
//! with its side effects wherever this resource put it.

use std::net::IpAddr;

use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::address::{self, Family, NewAddress};
use rha_net::{Netlink, addrlabel, route};

use crate::findif::{self, Placement};
use crate::params::Config;
use crate::{address_state, lvs, net_err};

/// The IPv6 address label (`lvs_ipv6_addrlabel`), if any; a failure is only logged.
pub fn add_addrlabel(nl: &mut Netlink, cfg: &Config) {
    if let (Some(label), IpAddr::V6(v6)) = (cfg.addrlabel, cfg.ip) {
        match addrlabel::add(nl, v6, 128, label) {
            Err(e) if !e.is_errno(&[libc::EEXIST]) => ocf_shim::warn!("{e}"),
            _ => {}
        }
    }
}

/// Adds the address where findif placed it (an address someone added meanwhile is fine).
pub fn add_address(nl: &mut Netlink, cfg: &Config, place: &Placement) -> OcfResult<()> {
    let mut new = NewAddress::new(place.link.index, cfg.ip, place.prefix_len);
    new.label = place.label.clone();
    new.broadcast = place.broadcast;
    // Cluster IP: every node holds the address, so duplicate address detection would fail
    // on all but the first.
    new.nodad = cfg.nodad || cfg.cluster_ip.is_some();
    new.noprefixroute = cfg.noprefixroute;
    if cfg.family == Family::V6 {
        new.preferred = cfg.preferred_lft;
    }
    let mut what = format!("adding {}/{} to {}", cfg.ip, place.prefix_len, place.link.name);
    if let Some(b) = place.broadcast {
        what.push_str(&format!(" brd {b}"));
    }
    if let Some(l) = &place.label {
        what.push_str(&format!(" label {l}"));
    }
    for (on, flag) in [(new.nodad && cfg.family == Family::V6, "nodad"), (new.noprefixroute, "noprefixroute")]
    {
        if on {
            what.push(' ');
            what.push_str(flag);
        }
    }
    if cfg.family == Family::V6 {
        what.push_str(&format!(" preferred_lft {}", cfg.preferred_lft));
    }
    ocf_shim::info!("{what}");
    match address::add(nl, &new) {
        Ok(()) => Ok(()),
        // Someone added it meanwhile: the check after adding decides.
        Err(e) if e.is_errno(&[libc::EEXIST]) => Ok(()),
        Err(e) => Err(OcfError::generic(format!("failed to add {}: {e}", cfg.ip))),
    }
}

pub fn remove(nl: &mut Netlink, index: u32, ip: IpAddr, prefix_len: u8) -> OcfResult<()> {
    match address::delete(nl, index, ip, prefix_len) {
        Err(e) if !address::is_absent(&e) => Err(net_err(e)),
        _ => Ok(()),
    }
}

/// Removes the address and its side effects, wherever this resource put it.
pub fn take_down(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let mut nl = crate::open_netlink()?;
    // Where it may be: the given interface, or the routes' interfaces and the one start
    // recorded (found even when the link is down and its routes are gone; upstream gives up
    // without a route and leaves the address there).
    let scope = findif::scope(&mut nl, cfg, ctx)?;
    let owned = address_state::owned_addresses(&mut nl, cfg, &scope)?;
    for (a, link) in &owned {
        ocf_shim::info!("removing {}/{} from {}", cfg.ip, a.prefix_len, link.name);
        match address::delete(&mut nl, link.index, cfg.ip, a.prefix_len) {
            Err(e) if !address::is_absent(&e) => {
                return Err(OcfError::generic(format!(
                    "unable to remove {} from {}: {e}",
                    cfg.ip, link.name
                )));
            }
            _ => {}
        }
    }
    if !address_state::owned_addresses(&mut nl, cfg, &scope)?.is_empty() {
        return Err(OcfError::generic(format!("{} is still configured after removing it", cfg.ip)));
    }
    if cfg.flush_routes
        && let Err(e) = route::flush_cache(cfg.family)
    {
        ocf_shim::warn!("flushing the route cache: {e}");
    }
    if let (Some(label), IpAddr::V6(v6)) = (cfg.addrlabel, cfg.ip) {
        match addrlabel::delete(&mut nl, v6, 128, label) {
            Err(e) if !addrlabel::is_absent(&e) => ocf_shim::warn!("{e}"),
            _ => {}
        }
    }
    if cfg.lvs_support {
        lvs::restore_to_loopback(&mut nl, cfg, ctx)?;
    }
    findif::forget(ctx)
}
