//! The address model: what is configured for the address now ([`State`]), which instances of
//! it this resource owns, and what a broken state means. The one question monitor, status,
//! start, stop and cluster IP all ask first; below them all, it reads and changes nothing.
//!
//! Cost matters here (Pacemaker runs monitor every 10 s on every address): with `nic` and
//! `cidr_netmask` given this is two netlink round trips and no process; without them, one more
//! (the route dump).

use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::Netlink;
use rha_net::address::{self, Address};
use rha_net::link::{self, Link};

use crate::findif::{self, Scope};
use crate::net_err;
use crate::params::Config;

/// What is configured for the address.
#[derive(Clone, Debug)]
pub enum State {
    /// Up where it belongs.
    Running { addr: Address, link: Link },
    /// Not configured (where it belongs).
    Absent,
    /// Configured, but its interface is down (`DOWN`/`LOWERLAYERDOWN`).
    LinkDown { addr: Address, link: Link },
    /// Configured without the label it should have (upstream's `partial3`).
    WrongLabel { addr: Address, link: Link, expected: String },
    /// IPv6 duplicate address detection failed: another node has it.
    DadFailed { addr: Address, link: Link },
}

/// Instances of the address this resource owns: the configured IP (with the configured prefix,
/// if any) on an interface in `scope`, outside the excluded interfaces.
pub fn owned_addresses(nl: &mut Netlink, cfg: &Config, scope: &Scope) -> OcfResult<Vec<(Address, Link)>> {
    if *scope == Scope::Nowhere {
        return Ok(Vec::new());
    }
    let addrs = address::find(nl, cfg.ip).map_err(net_err)?;
    owned_among(nl, cfg, scope, addrs, None)
}

/// [`owned_addresses`] among addresses already listed (any addresses: those of other IPs are
/// skipped). The interface of an owned address is looked up, except `known`, which the caller
/// has just read.
pub fn owned_among(
    nl: &mut Netlink,
    cfg: &Config,
    scope: &Scope,
    addrs: impl IntoIterator<Item = Address>,
    known: Option<&Link>,
) -> OcfResult<Vec<(Address, Link)>> {
    let mut out = Vec::new();
    for a in addrs {
        if a.address != cfg.ip || !scope.allows(a.index) || cfg.netmask.is_some_and(|m| m != a.prefix_len) {
            continue;
        }
        let l = match known {
            Some(k) if k.index == a.index => k.clone(),
            _ => match link::by_index(nl, a.index).map_err(net_err)? {
                Some(l) => l,
                None => continue,
            },
        };
        if !findif::excluded(cfg, &l) {
            out.push((a, l));
        }
    }
    Ok(out)
}

/// The state of the address.
pub fn state(nl: &mut Netlink, cfg: &Config, ctx: &Context) -> OcfResult<State> {
    let scope = findif::scope(nl, cfg, ctx)?;
    let found = owned_addresses(nl, cfg, &scope)?;
    Ok(classify(cfg, found))
}

/// The state the owned instances found (by [`owned_addresses`] or [`owned_among`]) mean.
pub fn classify(cfg: &Config, mut found: Vec<(Address, Link)>) -> State {
    // Prefer a healthy instance if there are several (the same address on two interfaces).
    found.sort_by_key(|(a, _)| a.is_dad_failed());
    let Some((addr, link)) = found.into_iter().next() else {
        return State::Absent;
    };
    if addr.is_dad_failed() {
        return State::DadFailed { addr, link };
    }
    if let Some(expected) = cfg.full_label(&link.name)
        && addr.label.as_deref() != Some(expected.as_str())
    {
        return State::WrongLabel { addr, link, expected };
    }
    if link.is_down() {
        return State::LinkDown { addr, link };
    }
    State::Running { addr, link }
}

/// The failure a state other than running/absent means, for monitor and start.
pub fn problem(cfg: &Config, st: &State) -> Option<OcfError> {
    match st {
        State::WrongLabel { addr, link, expected } => Some(OcfError::generic(format!(
            "{} is on {} with label {}, expected {expected}",
            cfg.ip,
            link.name,
            addr.label.as_deref().unwrap_or("(none)")
        ))),
        State::DadFailed { link, .. } => Some(OcfError::generic(format!(
            "IPv6 address collision: duplicate address detection failed for {} on {} (another node has it)",
            cfg.ip, link.name
        ))),
        _ => None,
    }
}
