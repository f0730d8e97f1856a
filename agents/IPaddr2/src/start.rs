//! start: find the interface, check it, add the address, wait for IPv6 DAD, announce.
//!
//! Every wait is bounded by the operation's deadline; a start killed at any point leaves
//! nothing stop cannot remove (the order of the steps below is what guarantees that).

use std::net::IpAddr;
use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::address::{self, Family};
use rha_net::arp::ArpSocket;
use rha_net::link::{self, Link, format_mac};
use rha_net::{Netlink, addrlabel};

use crate::address_state::{self, State};
use crate::findif::{self, Placement};
use crate::params::Config;
use crate::snapshot::AddressDump;
use crate::{address_ops, announce, dr_realserver, lvs, net_err};

/// How often DAD progress is polled.
const DAD_POLL: Duration = Duration::from_millis(20);
/// IPv4 duplicate detection: probes, their spacing, and how long to listen after the last.
const ARP_PROBES: u32 = 2;
const ARP_PROBE_INTERVAL: Duration = Duration::from_millis(300);
const ARP_PROBE_WAIT: Duration = Duration::from_millis(700);

/// What every start does first, plain or cluster IP: warnings, the interface (and its state).
///
/// The address dump it returns (taken for findif's broadcast, or on first use) is the state
/// before start changes anything; [`start`] reads the address's state from it.
pub fn prepare(cfg: &Config, ctx: &Context) -> OcfResult<(Netlink, Placement, AddressDump)> {
    ctx.require_root()?;
    for w in &cfg.warnings {
        ocf_shim::warn!("{w}");
    }
    if !cfg.ignored_send_arp_opts.is_empty() {
        ocf_shim::info!(
            "send_arp_opts: only -A/-U are used by the built-in sender; ignoring {}",
            cfg.ignored_send_arp_opts.join(" ")
        );
    }
    let mut nl = crate::open_netlink()?;
    let mut addrs = AddressDump::new(cfg.family);
    let place = findif::resolve(&mut nl, cfg, &mut addrs)?;
    if cfg.check_link_status && place.link.is_down() {
        return Err(OcfError::installed(format!(
            "interface {} is down ({}): not adding {} here (check_link_status=true)",
            place.link.name,
            place.link.down_reason(),
            cfg.ip
        )));
    }

    Ok((nl, place, addrs))
}

/// The start action of a plain address, after [`prepare`] (cluster-IP buckets:
/// [`crate::cluster_ip::start`]; lib.rs chooses).
///
/// The kernel is asked only what [`prepare`] did not already answer: before adding, the
/// address's state comes from prepare's interface and address dump; after adding, one fresh
/// address dump and one lookup of the interface (its state may have changed) decide.
pub fn start(
    cfg: &Config,
    ctx: &Context,
    nl: &mut Netlink,
    place: &Placement,
    addrs: &mut AddressDump,
) -> OcfResult<()> {
    // Where to look: what findif::scope would answer, without looking the interface or the
    // routes up again.
    let scope = findif::placed_scope(nl, cfg, ctx, place)?;
    let before = addrs.get(nl)?.to_vec();
    match address_state::classify(
        cfg,
        address_state::owned_among(nl, cfg, &scope, before, Some(&place.link))?,
    ) {
        State::Running { .. } => {
            ocf_shim::info!("{} is already up", cfg.ip);
            return Ok(());
        }
        State::LinkDown { .. } if !cfg.check_link_status => return Ok(()),
        State::DadFailed { addr, link } => {
            ocf_shim::warn!(
                "{} on {} failed duplicate address detection before: adding it again",
                cfg.ip,
                link.name
            );
            address_ops::remove(nl, link.index, cfg.ip, addr.prefix_len)?;
        }
        st @ State::WrongLabel { .. } => {
            return Err(address_state::problem(cfg, &st).expect("a problem state"));
        }
        State::Absent | State::LinkDown { .. } => {}
    }

    // Recorded before anything changes, so a stop after a killed start finds the address even
    // when no route leads to it any more.
    findif::record(ctx, cfg, &place.link)?;
    if cfg.lvs_support {
        lvs::take_from_loopback(nl, cfg, ctx)?;
    }
    if cfg.run_arping {
        detect_duplicate_ipv4(cfg, ctx, &place.link)?;
    }
    let loopback = place.link.link_type == link::ARPHRD_LOOPBACK;
    if cfg.arp_suppress && !loopback {
        return Err(OcfError::configured(format!(
            "arp_suppress is for a VIP on the loopback interface (an LVS real server); {} goes on {}",
            cfg.ip, place.link.name
        )));
    }
    if loopback && cfg.arp_suppress {
        dr_realserver::suppress()?;
    }
    address_ops::add_addrlabel(nl, cfg);
    address_ops::add_address(nl, cfg, place)?;
    if loopback
        && !cfg.arp_suppress
        && let Some(w) = dr_realserver::warning(cfg.ip)
    {
        ocf_shim::warn!("{w}");
    }
    if !place.link.is_admin_up() {
        ocf_shim::info!("bringing {} up", place.link.name);
        link::set_up(nl, place.link.index).map_err(net_err)?;
    }
    if cfg.family == Family::V6 && !cfg.nodad {
        wait_for_dad(nl, cfg, ctx, place)?;
    }

    let now = address::find(nl, cfg.ip).map_err(net_err)?;
    let link = match address_state::classify(cfg, address_state::owned_among(nl, cfg, &scope, now, None)?) {
        State::Running { link, .. } => link,
        State::LinkDown { link, .. } if !cfg.check_link_status => link,
        State::LinkDown { link, .. } => {
            return Err(OcfError::installed(format!(
                "interface {} went down ({}) while adding {}",
                link.name,
                link.down_reason(),
                cfg.ip
            )));
        }
        st => {
            return Err(address_state::problem(cfg, &st)
                .unwrap_or_else(|| OcfError::generic(format!("{} is not up after adding it", cfg.ip))));
        }
    };
    announce::on_start(cfg, ctx, &link);
    Ok(())
}

/// `run_arping`: ARP-probe the address before taking it (RFC 5227).
fn detect_duplicate_ipv4(cfg: &Config, ctx: &Context, link: &Link) -> OcfResult<()> {
    let IpAddr::V4(ip) = cfg.ip else { return Ok(()) };
    let Some(mac) = link.ethernet_mac() else {
        ocf_shim::warn!("run_arping: {} is not an Ethernet link, skipping duplicate detection", link.name);
        return Ok(());
    };
    let sock = ArpSocket::open(link.index, mac).map_err(|e| {
        OcfError::generic(format!("run_arping: cannot open an ARP socket on {}: {e}", link.name))
    })?;
    let deadline = std::time::Instant::now() + ctx.deadline.remaining();
    match sock.detect_duplicate(ip, ARP_PROBES, ARP_PROBE_INTERVAL, ARP_PROBE_WAIT, Some(deadline)) {
        Ok(None) => Ok(()),
        Ok(Some(other)) => Err(OcfError::generic(format!(
            "IPv4 address collision: {ip} is already in use by {} on the network of {} [DAD]",
            format_mac(&other),
            link.name
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(OcfError::generic(format!(
            "run_arping: duplicate address detection for {ip} needs about {} ms, more than the start timeout leaves",
            (ARP_PROBE_INTERVAL * (ARP_PROBES - 1) + ARP_PROBE_WAIT).as_millis()
        ))),
        Err(e) => Err(OcfError::generic(format!("run_arping: probing {ip} on {} failed: {e}", link.name))),
    }
}

/// Wait for IPv6 duplicate address detection to finish, within the deadline. On failure the
/// address (and its address label) is removed again.
fn wait_for_dad(nl: &mut Netlink, cfg: &Config, ctx: &Context, place: &Placement) -> OcfResult<()> {
    let index = place.link.index;
    let undo = |nl: &mut Netlink| {
        let _ = address::delete(nl, index, cfg.ip, place.prefix_len);
        if let (Some(label), IpAddr::V6(v6)) = (cfg.addrlabel, cfg.ip) {
            let _ = addrlabel::delete(nl, v6, 128, label);
        }
    };
    loop {
        let addr = address::list(nl, Some(Family::V6), Some(index))
            .map_err(net_err)?
            .into_iter()
            .find(|a| a.address == cfg.ip);
        match addr {
            None => {
                return Err(OcfError::generic(format!(
                    "{} vanished from {} during DAD",
                    cfg.ip, place.link.name
                )));
            }
            Some(a) if a.is_dad_failed() => {
                undo(nl);
                return Err(OcfError::generic(format!(
                    "IPv6 address collision {} [DAD]: another node on {} has it; address removed",
                    cfg.ip, place.link.name
                )));
            }
            Some(a) if !a.is_tentative() => return Ok(()),
            Some(_) => {}
        }
        if !cfg.check_link_status
            && link::by_index(nl, index).map_err(net_err)?.is_some_and(|l| !l.has_carrier())
        {
            ocf_shim::warn!(
                "{} has no carrier: DAD for {} will only run when it has",
                place.link.name,
                cfg.ip
            );
            return Ok(());
        }
        if ctx.deadline.remaining() < DAD_POLL {
            undo(nl);
            return Err(OcfError::generic(format!(
                "IPv6 duplicate address detection for {} did not finish within the start timeout ({} ms); \
                 address removed (raise the timeout, or set nodad=true)",
                cfg.ip,
                ctx.timeout().as_millis()
            )));
        }
        std::thread::sleep(DAD_POLL);
    }
}
