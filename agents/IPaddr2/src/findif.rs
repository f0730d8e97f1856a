//! Where the address goes: interface, prefix length and broadcast (upstream's findif.sh),
//! from the routing table, over netlink.
//!
//! Two flavours:
//! - [`resolve`] (start, validate-all) must find exactly one answer and explains any failure:
//!   missing interface, no route, or several equally good routes on different interfaces.
//! - [`scope`] (monitor, stop) never fails on an ambiguous or missing route: it only narrows
//!   down where to look for an address that may already be there (upstream issue #1963, where
//!   an ambiguity check made monitor fail). Besides the routes' interfaces it includes the
//!   interface start recorded ([`record`]), so an address whose routes are gone (its link is
//!   down) or changed is still found and removed.
//!
//! Unlike findif.sh, the broadcast address does not need another address in the subnet: it is
//! computed from the prefix when there is none (upstream issue #656).

use std::net::{IpAddr, Ipv4Addr};

use std::path::PathBuf;

use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::Netlink;
use rha_net::address::{Family, broadcast_of, network_of, prefix_contains};
use rha_net::link::{self, Link};
use rha_net::route::{self, Route, RouteKind, RouteQuery, SCOPE_HOST, SCOPE_LINK, TABLE_LOCAL, TABLE_MAIN};

use crate::net_err;
use crate::params::{Broadcast, Config, check_label_length};
use crate::snapshot::AddressDump;

/// A fully determined placement.
#[derive(Clone, Debug)]
pub struct Placement {
    pub link: Link,
    pub prefix_len: u8,
    /// IPv4 broadcast to set, if any.
    pub broadcast: Option<Ipv4Addr>,
    /// `NIC:LABEL`, IPv4 only.
    pub label: Option<String>,
}

/// Where to look for the address when it may already be configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// On one of these interfaces.
    Links(Vec<u32>),
    /// Nowhere: the given interface does not exist, or no route or record names one.
    Nowhere,
}

impl Scope {
    pub fn allows(&self, index: u32) -> bool {
        match self {
            Scope::Links(l) => l.contains(&index),
            Scope::Nowhere => false,
        }
    }
}

/// The file in which start records the interface it used (when `nic` is not given).
fn record_file(ctx: &Context) -> PathBuf {
    StateDir::for_agent(crate::params::INFO.name).instance_file(ctx, ".nic")
}

/// Start: remember the interface the address goes on, before adding it.
pub fn record(ctx: &Context, cfg: &Config, link: &Link) -> OcfResult<()> {
    if cfg.nic.is_some() {
        return Ok(());
    }
    let file = record_file(ctx);
    StateDir::for_agent(crate::params::INFO.name)
        .write(&file, format!("{}\n", link.name).as_bytes())
        .map_err(|e| OcfError::generic(format!("cannot record the interface in {}: {e}", file.display())))
}

/// The interface start recorded, if any.
pub fn recorded(ctx: &Context) -> Option<String> {
    let s = std::fs::read_to_string(record_file(ctx)).ok()?;
    Some(s.trim().to_string()).filter(|n| !n.is_empty())
}

/// Stop: forget the recorded interface.
pub fn forget(ctx: &Context) -> OcfResult<()> {
    let file = record_file(ctx);
    remove_if_exists(&file).map_err(|e| OcfError::generic(format!("removing {}: {e}", file.display())))
}

/// Routes that may carry the address, as `ip route list match IP[/MASK] [proto P]
/// [scope link]` (IPv4), without default, gateway-less reject or other-table routes.
fn candidate_routes(nl: &mut Netlink, cfg: &Config, oif: Option<u32>) -> OcfResult<Vec<Route>> {
    let q = RouteQuery {
        address: cfg.ip,
        prefix_len: cfg.netmask,
        table: TABLE_MAIN,
        protocol: cfg.proto,
        scope: (cfg.family == Family::V4).then_some(SCOPE_LINK),
    };
    let all = route::list(nl, cfg.family).map_err(net_err)?;
    let usable = |r: &Route| {
        r.kind == RouteKind::Unicast
            && !r.is_default()
            && r.oif.is_some()
            && oif.is_none_or(|i| r.oif == Some(i))
    };
    let mut found: Vec<Route> = all.iter().filter(|r| q.matches(r) && usable(r)).cloned().collect();
    // Loopback addresses (127.0.0.0/8) have no main-table route: use the local table's.
    if found.is_empty()
        && let IpAddr::V4(v4) = cfg.ip
        && v4.is_loopback()
    {
        let lq = RouteQuery { table: TABLE_LOCAL, scope: Some(SCOPE_HOST), protocol: None, ..q };
        found = all
            .iter()
            .filter(|r| {
                lq.matches(r)
                    && r.kind == RouteKind::Local
                    && r.prefix_len < 32
                    && oif.is_none_or(|i| r.oif == Some(i))
            })
            .cloned()
            .collect();
    }
    Ok(found)
}

/// The most specific routes, then the lowest metric; several remain only on a true tie.
fn best_routes(mut routes: Vec<Route>) -> Vec<Route> {
    let Some(len) = routes.iter().map(|r| r.prefix_len).max() else {
        return routes;
    };
    routes.retain(|r| r.prefix_len == len);
    let metric = routes.iter().map(|r| r.metric.unwrap_or(0)).min().unwrap_or(0);
    routes.retain(|r| r.metric.unwrap_or(0) == metric);
    routes
}

fn distinct_oifs(routes: &[Route]) -> Vec<u32> {
    let mut v: Vec<u32> = routes.iter().filter_map(|r| r.oif).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn ifname(nl: &mut Netlink, index: u32) -> String {
    link::by_index(nl, index).ok().flatten().map(|l| l.name).unwrap_or_else(|| format!("#{index}"))
}

/// Find interface, prefix and broadcast for start and validate-all.
///
/// Codes: a missing interface, no route or an ambiguous route give `OCF_ERR_INSTALLED`
/// (this node cannot host the address; Pacemaker tries another), a label too long for the
/// detected interface `OCF_ERR_CONFIGURED`.
pub fn resolve(nl: &mut Netlink, cfg: &Config, addrs: &mut AddressDump) -> OcfResult<Placement> {
    let given = match &cfg.nic {
        Some(n) => Some(
            link::by_name(nl, n)
                .map_err(net_err)?
                .ok_or_else(|| OcfError::installed(format!("interface {n} does not exist on this node")))?,
        ),
        None => None,
    };
    let (link, prefix_len) = match (given, cfg.netmask) {
        (Some(l), Some(p)) => (l, p),
        (given, _) => {
            let routes = best_routes(candidate_routes(nl, cfg, given.as_ref().map(|l| l.index))?);
            let oifs = distinct_oifs(&routes);
            if oifs.is_empty() {
                let what = match (&given, cfg.netmask) {
                    (Some(l), _) => format!(
                        "no route through {} contains {}: cannot tell its prefix length; set cidr_netmask",
                        l.name, cfg.ip
                    ),
                    (None, Some(m)) => {
                        format!("no route contains {}/{m}: cannot tell its interface; set nic", cfg.ip)
                    }
                    (None, None) => format!(
                        "no route contains {}: cannot tell its interface and prefix length; set nic and cidr_netmask",
                        cfg.ip
                    ),
                };
                return Err(OcfError::installed(what));
            }
            if oifs.len() > 1 {
                let described: Vec<String> =
                    routes.iter().map(|r| r.describe(|i| ifname(nl, i))).collect::<Vec<_>>();
                return Err(OcfError::installed(format!(
                    "{} matches several equally specific routes ({}): cannot decide which interface to use; set nic",
                    cfg.ip,
                    described.join(", ")
                )));
            }
            let route = &routes[0];
            let link = match given {
                Some(l) => l,
                None => link::by_index(nl, oifs[0]).map_err(net_err)?.ok_or_else(|| {
                    OcfError::generic(format!(
                        "interface #{} of route {} vanished",
                        oifs[0],
                        route.describe(|i| format!("#{i}"))
                    ))
                })?,
            };
            (link, cfg.netmask.unwrap_or(route.prefix_len))
        }
    };
    if let Some(l) = &cfg.label {
        check_label_length(&link.name, l)?;
    }
    let broadcast = broadcast_for(nl, cfg, &link, prefix_len, addrs)?;
    let label = cfg.full_label(&link.name);
    Ok(Placement { link, prefix_len, broadcast, label })
}

/// The broadcast address for `cfg.ip/prefix_len` on `link` (IPv4 only).
fn broadcast_for(
    nl: &mut Netlink,
    cfg: &Config,
    link: &Link,
    prefix_len: u8,
    addrs: &mut AddressDump,
) -> OcfResult<Option<Ipv4Addr>> {
    let IpAddr::V4(ip) = cfg.ip else { return Ok(None) };
    Ok(match cfg.broadcast {
        Broadcast::Address(b) => Some(b),
        _ if prefix_len >= 31 => None,
        Broadcast::HostBitsSet => broadcast_of(ip, prefix_len),
        Broadcast::HostBitsCleared => Some(network_of(ip, prefix_len)),
        Broadcast::Auto => {
            // An existing address in the same subnet on the interface keeps its broadcast
            // (what findif.sh does); without one, compute it.
            addrs
                .get(nl)?
                .iter()
                .filter(|a| {
                    a.index == link.index
                        && a.family() == Family::V4
                        && a.address != cfg.ip
                        && a.prefix_len == prefix_len
                        && prefix_contains(a.address, prefix_len, cfg.ip)
                })
                .find_map(|a| a.broadcast)
                .or_else(|| broadcast_of(ip, prefix_len))
        }
    })
}

/// Where an already configured address may be (monitor, stop): the given interface; or the
/// interfaces of the best routes (all of them, if ambiguous) and the one start recorded.
pub fn scope(nl: &mut Netlink, cfg: &Config, ctx: &Context) -> OcfResult<Scope> {
    if let Some(n) = &cfg.nic {
        return Ok(match link::by_name(nl, n).map_err(net_err)? {
            Some(l) => Scope::Links(vec![l.index]),
            None => Scope::Nowhere,
        });
    }
    let mut oifs = distinct_oifs(&best_routes(candidate_routes(nl, cfg, None)?));
    if let Some(name) = recorded(ctx)
        && let Some(l) = link::by_name(nl, &name).map_err(net_err)?
        && !oifs.contains(&l.index)
    {
        oifs.push(l.index);
    }
    Ok(if oifs.is_empty() { Scope::Nowhere } else { Scope::Links(oifs) })
}

/// [`scope`] for start, from the placement [`resolve`] just found (no second interface or
/// route lookup): the placed interface, and without `nic` also the one start recorded. The
/// same answer as [`scope`]: with `nic` it is that interface; without, resolve succeeded only
/// with a single best-route interface, which is the placed one.
pub fn placed_scope(nl: &mut Netlink, cfg: &Config, ctx: &Context, place: &Placement) -> OcfResult<Scope> {
    let mut oifs = vec![place.link.index];
    if cfg.nic.is_none()
        && let Some(name) = recorded(ctx)
        && name != place.link.name
        && let Some(l) = link::by_name(nl, &name).map_err(net_err)?
        && !oifs.contains(&l.index)
    {
        oifs.push(l.index);
    }
    Ok(Scope::Links(oifs))
}

/// Interfaces never considered for the address: IPsec pseudo-interfaces (as upstream), and
/// with `lvs_support` the loopback, where the address waits while stopped.
pub fn excluded(cfg: &Config, link: &Link) -> bool {
    let ipsec = link
        .name
        .strip_prefix("ipsec")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let lvs_lo = cfg.lvs_support
        && link.name.starts_with("lo")
        && !cfg.nic.as_deref().is_some_and(|n| n.starts_with("lo"));
    ipsec || lvs_lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use rha_net::route::RouteKind;

    fn r(len: u8, metric: Option<u32>, oif: u32) -> Route {
        Route {
            family: Family::V4,
            destination: "198.51.100.0".parse().unwrap(),
            prefix_len: len,
            table: TABLE_MAIN,
            protocol: 2,
            scope: SCOPE_LINK,
            kind: RouteKind::Unicast,
            oif: Some(oif),
            gateway: None,
            pref_src: None,
            metric,
            multipath: false,
        }
    }

    #[test]
    fn most_specific_then_lowest_metric() {
        let best = best_routes(vec![r(16, None, 1), r(24, Some(100), 2), r(24, Some(50), 3)]);
        assert_eq!(distinct_oifs(&best), vec![3]);
        let tie = best_routes(vec![r(24, Some(100), 2), r(24, Some(100), 3), r(16, None, 1)]);
        assert_eq!(distinct_oifs(&tie), vec![2, 3], "a real tie stays ambiguous");
        let same_if = best_routes(vec![r(24, None, 2), r(24, Some(0), 2)]);
        assert_eq!(distinct_oifs(&same_if), vec![2], "duplicates on one interface are no ambiguity");
        assert!(best_routes(vec![]).is_empty());
    }

    #[test]
    fn scopes() {
        assert!(!Scope::Nowhere.allows(9));
        assert!(Scope::Links(vec![2, 3]).allows(3) && !Scope::Links(vec![2]).allows(3));
    }
}
