//! monitor of a plain address (cluster-IP buckets: [`crate::cluster_ip::monitor`]); lib.rs
//! chooses. Both start from [`observe`].

use ocf_shim::{Context, OcfError, OcfResult, Status};

use crate::address_state::{State, problem, state};
use crate::announce;
use crate::params::Config;

/// What every monitor reports first: the address's state, or the failure a broken one means.
pub fn observe(cfg: &Config, ctx: &Context) -> OcfResult<State> {
    let mut nl = crate::open_netlink()?;
    let st = state(&mut nl, cfg, ctx)?;
    match problem(cfg, &st) {
        Some(e) => Err(e),
        None => Ok(st),
    }
}

/// The monitor action of a plain address, given what [`observe`] saw.
pub fn monitor(cfg: &Config, ctx: &Context, st: State) -> OcfResult<Status> {
    match st {
        State::Absent => Ok(Status::NotRunning),
        State::LinkDown { link, .. } if cfg.check_link_status => Err(OcfError::not_running(format!(
            "{} is configured on {}, but the interface is down ({})",
            cfg.ip,
            link.name,
            link.down_reason()
        ))),
        State::Running { link, .. } | State::LinkDown { link, .. } => {
            if cfg.arp_count_refresh > 0 {
                announce::refresh(cfg, ctx, &link);
            }
            Ok(Status::Running)
        }
        State::WrongLabel { .. } | State::DadFailed { .. } => unreachable!("reported by problem()"),
    }
}
