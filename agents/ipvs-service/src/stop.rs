//! stop: remove what this instance owns, and only that.
//!
//! - The configured virtual service and the one start recorded (they differ only when the
//!   parameters changed in between) are deleted with their real servers; every other service
//!   in the table is left alone.
//! - Sync daemons are stopped only if this instance started them (see
//!   [`crate::sync_daemon::release`]).
//! - The record goes last, after reading back that the services are gone.
//!
//! A kernel without IPVS (or with ip_vs not loaded) has nothing to stop: success, without
//! loading the module.

use ocf_shim::{Context, OcfError, OcfResult, Params};
use rha_ipvs::{Ipvs, ServiceKey};

use crate::params::Config;
use crate::{ipvs_error, ownership, sync_daemon, validate};

/// The stop action.
pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    stop_service(Some(cfg.key()), ctx)
}

/// Stop when the configuration cannot be loaded: by the service's identity alone (from
/// `virtual`, and from start's record), which is all stop needs.
pub fn stop_unconfigured(params: &Params, ctx: &Context, error: &OcfError) -> OcfResult<()> {
    ocf_shim::warn!("{}; stopping by the service's identity only", error.reason);
    stop_service(crate::params::stop_identity(params, ctx), ctx)
}

/// Delete `configured` and the service start recorded (they differ only when the parameters
/// changed in between), then the record.
fn stop_service(configured: Option<ServiceKey>, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    let _lock = ownership::lock(ctx)?;
    let rec = ownership::read(ctx)?.unwrap_or_default();
    let mut keys: Vec<ServiceKey> = Vec::new();
    for k in [configured, rec.service].into_iter().flatten() {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if validate::ipvs_loaded() == Some(false) {
        ocf_shim::info!("IPVS is not loaded: nothing to stop");
        return ownership::remove(ctx);
    }
    let mut ipvs = match Ipvs::connect() {
        Ok(i) => i,
        Err(e) if e.is_not_available() => {
            ocf_shim::info!("IPVS is not loaded: nothing to stop");
            return ownership::remove(ctx);
        }
        Err(e) => return Err(ipvs_error(e)),
    };
    if keys.is_empty() {
        ocf_shim::warn!("no virtual service is configured or recorded for this resource: nothing to delete");
    }
    for key in &keys {
        match ipvs.del_service(key) {
            Ok(()) => ocf_shim::info!("deleted virtual service {key}"),
            Err(e) if e.errno() == Some(libc::ESRCH) => {}
            Err(e) => return Err(ipvs_error(e).context(format!("deleting virtual service {key}"))),
        }
    }
    sync_daemon::release(&mut ipvs, &rec, ctx)?;
    for key in &keys {
        if ipvs.service(key).map_err(ipvs_error)?.is_some() {
            return Err(OcfError::generic(format!(
                "virtual service {key} is still in the kernel after deleting it"
            )));
        }
    }
    ownership::remove(ctx)
}
