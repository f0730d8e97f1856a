//! Stop: nfsd threads to 0, then every NFS server process (mountd, statd, sm-notify and the
//! helpers that hold /var/lib/nfs: nfsdcld, fsidd, idmapd), rpcbind if start started it,
//! then the shared infodir's bind mount. Every wait is bounded by the deadline.

use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult, log};

use crate::daemons::{self, HELPERS, MOUNTD, RPCBIND, SM_NOTIFY, STATD};
use crate::monitor::nfsd_threads;
use crate::params::Config;

pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let grace = Duration::from_secs(5);
    if nfsd_threads(cfg).is_some_and(|n| n > 0) {
        match ocf_shim::process::find_binary("rpc.nfsd") {
            Some(bin) => {
                if let Err(e) = crate::start::run(&bin, &["0".to_string()], ctx) {
                    log::warn(e.to_string());
                }
            }
            None => log::warn("rpc.nfsd is not installed: writing 0 to the threads file"),
        }
        if nfsd_threads(cfg).is_some_and(|n| n > 0) {
            // rpc.nfsd 0 writes this file; write it ourselves if it could not.
            let _ = std::fs::write(cfg.nfsd_dir.join("threads"), b"0\n");
        }
        if !ctx.deadline.wait_for(Duration::from_millis(50), || nfsd_threads(cfg).is_none_or(|n| n == 0)) {
            return Err(OcfError::generic("nfsd threads did not stop before the timeout"));
        }
    }
    let mut left = vec![];
    for name in [SM_NOTIFY, MOUNTD, STATD].iter().chain(HELPERS) {
        if !daemons::stop_all(name, grace, &ctx.deadline) {
            left.push(*name);
        }
    }
    let started_rpcbind = std::fs::read_to_string(&cfg.state_file).is_ok_and(|s| s.contains("rpcbind"));
    if started_rpcbind && !daemons::stop_all(RPCBIND, grace, &ctx.deadline) {
        left.push(RPCBIND);
    }
    if !left.is_empty() {
        return Err(OcfError::generic(format!("still running after SIGKILL: {}", left.join(", "))));
    }
    if let Some(info) = cfg.infodir.as_deref().filter(|i| crate::monitor::same_dir(&cfg.libdir, i)) {
        let unmounted = ctx.deadline.wait_for(Duration::from_millis(100), || {
            let _ = nix::mount::umount(&cfg.libdir);
            !crate::monitor::same_dir(&cfg.libdir, info)
        });
        if !unmounted {
            let holders = daemons::holders(&cfg.libdir);
            let who: Vec<String> = holders.iter().map(|(p, c)| format!("{c}[{p}]")).collect();
            return Err(OcfError::generic(format!(
                "{} is still busy (held by {}); not unmounting lazily",
                cfg.libdir.display(),
                if who.is_empty() { "unknown".to_string() } else { who.join(" ") }
            )));
        }
    }
    ocf_shim::state::remove_if_exists(&cfg.state_file)
        .map_err(|e| OcfError::generic(format!("removing {}: {e}", cfg.state_file.display())))
}
