//! `ocf:rha:apache` — Apache httpd under Pacemaker, parameter compatible with
//! `ocf:heartbeat:apache`, with its own HTTP(S) health check.
//!
//! Where to start reading:
//! - [`params`]: the meta-data and the parameters as a [`params::Config`].
//! - [`instance`]: the parameters resolved on this node (binary, envfiles, configuration, pid
//!   file, URLs, the marker in httpd's environment).
//! - [`start`], [`stop`], [`monitor`]: the actions.
//! - [`config`]: reading httpd's configuration and the envfiles, without running anything.
//! - [`httpd`]: the binary, `httpd -t`, launching, httpd's messages as exit reasons.
//! - [`procs`]: which processes are this instance's (pid file, session, tree, marker).
//! - [`http_check`]: the loopback-bound HTTP(S) client; [`testconf`]: level-10 tests.

pub mod config;
pub mod http_check;
pub mod httpd;
pub mod instance;
pub mod monitor;
pub mod params;
pub mod procs;
pub mod start;
pub mod stop;
pub mod testconf;

use ocf_shim::{Agent, AgentInfo, Context, OcfError, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run::<Apache>()`.
pub struct Apache;

impl Agent for Apache {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &params::INFO
    }

    /// Never fails: parameter problems are kept in the config so that stop and probes still see
    /// a running httpd (see the params module).
    fn configure(params: &Params, ctx: &Context) -> OcfResult<Config> {
        Ok(Config::from_params(params, ctx))
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

    fn status(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
        monitor::status(cfg, ctx)
    }

    /// Level 0: the parameters only (pcs may validate on a node not meant to run the
    /// resource). Level 10: also this node — binary, configuration file, `httpd -t`, the
    /// test file.
    fn validate(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        cfg.check()?;
        let inst = instance::Instance::resolve(cfg, ctx);
        if ctx.requested_check_level < 10 {
            // Say what would fail here, without failing: this may not be a node for it.
            let local = [inst.httpd.as_ref().err(), inst.conf.as_ref().err()];
            for e in local.into_iter().flatten() {
                ocf_shim::log::warn(format!("on this node: {}", e.reason));
            }
            return Ok(());
        }
        let httpd = inst.httpd.clone()?;
        inst.conf.as_ref().map_err(OcfError::clone)?;
        testconf::from_config(cfg)?;
        httpd::configtest(&inst, &httpd, &ctx.deadline)
    }
}
