//! `ocf:rha:ldirectord`: runs `rha-ldirectord` (daemons/ldirectord) for one ldirectord.cf
//! under Pacemaker. Parameters as ocf:heartbeat:ldirectord's (`configfile`, `ldirectord`).
//!
//! Where to start reading:
//! - [`params`]: the meta-data and the validated [`params::Config`] (config look-up as the
//!   daemon does it, the daemon's binary);
//! - [`daemon`]: the daemon's command line (`configtest`, `start`, `stop`, `status --json`)
//!   and its files (pid, status, ownership), read without linking the daemon (no tokio here);
//! - [`ipvs`]: the kernel side: what the instance owns in IPVS, stale entries, cleaning them,
//!   and the level-10 comparison of the kernel with the daemon's view;
//! - [`start`] / [`stop`] / [`monitor`] / [`validate`]: the actions.
//!
//! The OCF contract itself (dispatch, exit codes, probes, logging, deadlines) is ocf-shim's.

pub mod daemon;
pub mod ipvs;
pub mod monitor;
pub mod params;
pub mod start;
pub mod stop;
pub mod validate;

use ocf_shim::{Agent, AgentInfo, Context, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct Ldirectord;

impl Agent for Ldirectord {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &params::INFO
    }

    fn configure(params: &Params, ctx: &Context) -> OcfResult<Config> {
        Config::from_params(params, ctx)
    }

    fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        start::start(cfg, ctx)
    }

    fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        stop::stop(cfg, ctx)
    }

    fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
        monitor::monitor(cfg, ctx)
    }

    fn validate(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        validate::validate(cfg, ctx)
    }
}
