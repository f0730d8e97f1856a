//! `ocf:rha:nfs-export`: NFS exports of one or more directories to one client spec.
//!
//! Where to start reading:
//! - [`params`]: meta-data and the validated [`params::Config`] (exportfs's parameters).
//! - [`table`]: the parsers of etab and the kernel's export tables, and the option checks.
//! - [`start`] / [`stop`] / [`monitor`] / [`validate`]: the lifecycle.
//! - [`nfsd`]: /proc/fs/nfsd; [`rmtab`]: the per-directory rmtab backup.
//!
//! The NFS server itself (nfsd, mountd, statd) is not this agent's: it is a separate
//! resource, so that several exports (one per client spec) share one server and the server's
//! restart does not depend on any one export's parameters.

pub mod monitor;
pub mod nfsd;
pub mod params;
pub mod rmtab;
pub mod start;
pub mod stop;
pub mod table;
pub mod validate;

use ocf_shim::{Agent, AgentInfo, Context, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct NfsExport;

impl Agent for NfsExport {
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
