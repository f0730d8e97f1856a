//! `ocf:rha:ipvs-service`: one IPVS (Linux Virtual Server) virtual service and its real
//! servers, programmed over the kernel's generic netlink interface (no ipvsadm process).
//!
//! Where to start reading:
//! - [`params`]: the meta-data and the validated [`params::Config`] (the desired
//!   [`rha_ipvs::ServiceSpec`], from parameters or an ipvsadm-save `rules_file`).
//! - [`reals`]: the syntax of the `reals` parameter, one entry per `ipvsadm -a` line.
//! - [`start`] / [`stop`] / [`monitor`]: the lifecycle over `rha_ipvs::{plan,
//!   describe_differences}`.
//! - [`validate`]: validate-all and the node checks (kernel support, ip_forward, local VIP).
//! - [`sync_daemon`]: the connection-sync daemon, started and stopped only by its owner.
//! - [`ownership`]: what each instance owns, recorded under /run/rha/ipvs-service/.
//!
//! The OCF contract itself (dispatch, exit codes, probes, logging, deadlines) is ocf-shim's.

pub mod monitor;
pub mod names;
pub mod ownership;
pub mod params;
pub mod reals;
pub mod start;
pub mod stop;
pub mod sync_daemon;
pub mod validate;

use ocf_shim::{Agent, AgentInfo, Context, OcfError, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct IpvsService;

/// An IPVS failure as an OCF error: no IPVS is "not installed" (5), a refused permission 4,
/// anything else a runtime failure (1).
pub(crate) fn ipvs_error(e: rha_ipvs::Error) -> OcfError {
    if e.is_not_available() {
        return OcfError::installed(e.to_string());
    }
    match e.errno() {
        Some(libc::EPERM) | Some(libc::EACCES) => OcfError::perm(format!("{e} (IPVS needs CAP_NET_ADMIN)")),
        _ => OcfError::generic(e.to_string()),
    }
}

impl Agent for IpvsService {
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
