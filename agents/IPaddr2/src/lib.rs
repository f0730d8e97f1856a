//! `ocf:rha:IPaddr2`: a floating IPv4/IPv6 address, drop-in compatible with
//! `ocf:heartbeat:IPaddr2`, over rtnetlink and raw sockets (no `ip`, no `send_arp`).
//!
//! Where to start reading:
//! - [`params`]: the meta-data (every parameter, with upstream's names and defaults) and the
//!   validated [`params::Config`]. Syntax errors are `OCF_ERR_CONFIGURED` there.
//! - [`findif`]: which interface, prefix and broadcast the address gets (routing table).
//! - [`address_state`]: what is configured now ([`address_state::State`]); [`address_ops`]:
//!   adding and removing the address. Below every operation.
//! - [`start`] / [`stop`] / [`monitor`]: the lifecycle of a plain address, step by step;
//!   [`cluster_ip`]: the same for a cluster-IP clone's bucket. The `Agent` impl below chooses.
//! - [`announce`]: gratuitous ARP / unsolicited NA, in the foreground or a background process.
//! - [`lvs`]: `lvs_support`, the loopback copy of the address on an LVS-DR director;
//!   [`dr_realserver`]: `arp_suppress`, the VIP on a real server's loopback.
//!
//! The OCF contract itself (dispatch, exit codes, probes, logging, deadlines) is ocf-shim's.

pub mod address_ops;
pub mod address_state;
pub mod announce;
pub mod cluster_ip;
pub mod dr_realserver;
pub mod findif;
pub mod lvs;
pub mod monitor;
pub mod params;
pub mod snapshot;
pub mod start;
pub mod stop;

use ocf_shim::{Agent, AgentInfo, Context, OcfError, OcfResult, Params, Status};
use rha_net::Netlink;

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct IpAddr2;

/// A netlink failure is a runtime failure (`OCF_ERR_GENERIC`).
pub(crate) fn net_err(e: rha_net::Error) -> OcfError {
    OcfError::generic(e.to_string())
}

pub(crate) fn open_netlink() -> OcfResult<Netlink> {
    Netlink::open().map_err(net_err)
}

impl Agent for IpAddr2 {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &params::INFO
    }

    fn configure(params: &Params, ctx: &Context) -> OcfResult<Config> {
        let cfg = Config::from_params(params, ctx)?;
        if let Some(ns) = &cfg.network_namespace {
            // Everything after this (netlink, raw sockets) happens inside the namespace.
            rha_net::netns::enter(ns).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    OcfError::installed(format!("network namespace {ns} does not exist on this node"))
                }
                std::io::ErrorKind::PermissionDenied => {
                    OcfError::perm(format!("cannot enter network namespace {ns}: {e}"))
                }
                _ => OcfError::generic(format!("cannot enter network namespace {ns}: {e}")),
            })?;
        }
        Ok(cfg)
    }

    fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        let (mut nl, place, mut addrs) = start::prepare(cfg, ctx)?;
        match &cfg.cluster_ip {
            Some(spec) => cluster_ip::start(cfg, spec, ctx, &mut nl, &place),
            None => start::start(cfg, ctx, &mut nl, &place, &mut addrs),
        }
    }

    fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        stop::prepare(ctx)?;
        match &cfg.cluster_ip {
            Some(spec) => cluster_ip::stop(cfg, spec, ctx),
            None => stop::stop(cfg, ctx),
        }
    }

    fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
        let st = monitor::observe(cfg, ctx)?;
        match &cfg.cluster_ip {
            Some(spec) => cluster_ip::monitor(cfg, spec, ctx, st),
            None => monitor::monitor(cfg, ctx, st),
        }
    }

    /// validate-all checks this node too, as upstream does: the interface exists, and the
    /// interface and prefix can be found when they are not given.
    fn validate(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        for w in &cfg.warnings {
            ocf_shim::warn!("{w}");
        }
        if cfg.cluster_ip.is_some() {
            cluster_ip::nft_binary()?;
        }
        let mut nl = open_netlink()?;
        let place = findif::resolve(&mut nl, cfg, &mut snapshot::AddressDump::new(cfg.family))?;
        if place.link.link_type == rha_net::link::ARPHRD_LOOPBACK && !cfg.arp_suppress {
            if let Some(w) = dr_realserver::warning(cfg.ip) {
                ocf_shim::warn!("{w}");
            }
        }
        Ok(())
    }

    /// Like monitor, and prints `running` or `stopped` as upstream does.
    fn status(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
        let r = <Self as Agent>::monitor(cfg, ctx);
        println!("{}", if matches!(r, Ok(Status::Running)) { "running" } else { "stopped" });
        r
    }
}
