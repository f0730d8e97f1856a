//! `ocf:rha:nfs-server`: the kernel NFS server, started and verified directly.
//!
//! Why a separate agent and not a mode of nfs-export: one server serves many exports (S4
//! has one resource per directory and client spec); the server's lifetime is the
//! filesystem's, not any export's; and its parameters (state directory, scope, floating IP)
//! are per node, not per export. The group is Filesystem → nfs-server → nfs-export... → IP.
//!
//! - [`params`]: meta-data and [`params::Config`] (nfsserver's parameters that apply);
//! - [`daemons`]: the processes and mounts, through /proc;
//! - [`start`] / [`stop`] / [`monitor`] / [`validate`]: the lifecycle.

pub mod daemons;
pub mod monitor;
pub mod params;
pub mod start;
pub mod stop;
pub mod validate;

use ocf_shim::{Agent, AgentInfo, Context, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct NfsServer;

impl Agent for NfsServer {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &params::INFO
    }

    fn configure(params: &Params, ctx: &Context) -> OcfResult<Config> {
        Config::from_params(params, ctx)
    }

    fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        ctx.require_root()?;
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
