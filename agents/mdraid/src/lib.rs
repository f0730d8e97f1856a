//! `ocf:rha:mdraid`: Linux md (software RAID) arrays, assembled from an mdadm.conf with mdadm
//! and monitored from /proc/mdstat and /sys/block/mdX/md without running mdadm.
//!
//! Where to start reading:
//! - [`params`]: the meta-data and the validated [`params::Config`] (Raid1 aliases too).
//! - [`mdstat`], [`mdconf`], [`sysfs`]: pure parsers of /proc/mdstat, mdadm.conf and md sysfs.
//! - [`array`]: the conf, the device list and kernel names, shared by the operations.
//! - [`superblock`] (pure), [`legs`] and [`clustering`]: the members present on this node,
//!   read from their md superblocks, and whether the array may be cloned (md-cluster).
//! - [`start`] / [`stop`] / [`monitor`] / [`validate`]: the operations; [`holders`] finds who
//!   keeps an array busy; [`readcheck`] is monitor level 10's O_DIRECT read; [`tools`] runs mdadm and udevadm within the deadline.
//!
//! The OCF contract itself (dispatch, exit codes, probes, logging, deadlines) is ocf-shim's.

pub mod array;
pub mod clustering;
pub mod holders;
pub mod legs;
pub mod mdconf;
pub mod mdstat;
pub mod monitor;
pub mod params;
pub mod readcheck;
pub mod start;
pub mod stop;
pub mod superblock;
pub mod sysfs;
pub mod tools;
pub mod validate;

use ocf_shim::{Agent, AgentInfo, Context, OcfResult, Params, Status};

pub use params::Config;

/// The agent, for `ocf_shim::run`.
pub struct MdRaid;

impl Agent for MdRaid {
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
