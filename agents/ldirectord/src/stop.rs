//! stop: the daemon gone and nothing of this instance left in IPVS; idempotent.
//!
//! 1. Running and alive (fresh heartbeat): `rha-ldirectord <config> stop`, which returns when
//!    the daemon has cleaned IPVS (cleanstop) and exited. It gets the operation's time less a
//!    reserve for step 2.
//! 2. Hung, or its `stop` did not finish: SIGKILL (the pid is the daemon's: `status` checked
//!    its command line), and wait until it is gone.
//! 3. Every virtual in the instance's ownership file still in IPVS is deleted: what a killed
//!    daemon left, and also what `cleanstop=no` keeps (a stopped resource keeps nothing on
//!    the node: the director taking over programs its own). Then the daemon's files.
//!
//! Other virtual services, and other instances' (their own ownership files), are never
//! touched. With the configuration file gone the daemon's `stop` and `status` still work
//! (they do not read it).

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf_shim::process::{pid_alive, signal, wait_gone};
use ocf_shim::{Context, OcfError, OcfResult};

use crate::daemon::{self, HUNG_AFTER, Process};
use crate::ipvs;
use crate::params::Config;

/// Time kept back from the daemon's own stop for killing it and cleaning IPVS ourselves.
const KILL_RESERVE: Duration = Duration::from_secs(3);

/// The stop action.
pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    if let Some(e) = &cfg.missing_config {
        ocf_shim::info!("{}: stopping by the instance name only", e.reason);
    }
    let report = daemon::status(cfg, &ctx.deadline)?;
    let name = report.name.clone();
    if let Process::Running { pid, has_status } = report.process() {
        let pid_i = pid as i32;
        if !daemon::is_ours(pid_i, &cfg.binary) {
            // Upstream's ldirectord for a configuration of the same name (same pid file): not
            // this resource's daemon, never stopped or killed by it.
            ocf_shim::warn!(
                "pid {pid} in {} is not {} (upstream's ldirectord?): left alone",
                daemon::pid_file(&name).display(),
                cfg.binary.display()
            );
            return Ok(());
        }
        let age = report.heartbeat_age(daemon::now());
        let hung = !has_status || age.is_none_or(|a| a > HUNG_AFTER.as_secs_f64());
        let mut gone = false;
        if hung {
            ocf_shim::warn!(
                "rha-ldirectord ({name}, pid {pid}) is hung ({}): killing it",
                age.map(|a| format!("last heartbeat {a:.0} s ago"))
                    .unwrap_or_else(|| "no status file".into())
            );
        } else {
            let d = ctx.deadline.cap(ctx.deadline.remaining().saturating_sub(KILL_RESERVE));
            match daemon::run(cfg, &[], "stop", &d)? {
                Some(o) if o.status.success() => gone = !pid_alive(pid_i),
                Some(o) => {
                    ocf_shim::warn!("rha-ldirectord stop failed ({}): killing it", daemon::error_text(&o))
                }
                None => ocf_shim::warn!(
                    "rha-ldirectord ({name}, pid {pid}) did not stop within {} s: killing it",
                    d.remaining().as_secs()
                ),
            }
        }
        if !gone && pid_alive(pid_i) {
            if !daemon::is_ldirectord(pid_i) {
                ocf_shim::info!("pid {pid} has exited meanwhile");
            } else {
                signal(pid_i, Signal::SIGKILL)
                    .map_err(|e| OcfError::generic(format!("cannot kill rha-ldirectord pid {pid}: {e}")))?;
                if !wait_gone(pid_i, &ctx.deadline) {
                    return Err(OcfError::generic(format!("rha-ldirectord pid {pid} survived SIGKILL")));
                }
                ocf_shim::info!("killed rha-ldirectord ({name}, pid {pid})");
            }
        }
    }
    let owned = daemon::owned_file(&name);
    let deleted = ipvs::remove(&ipvs::owned(&owned))?;
    if !deleted.is_empty() {
        let names: Vec<String> = deleted.iter().map(|k| k.to_string()).collect();
        ocf_shim::info!(
            "removed the virtual services rha-ldirectord ({name}) left in IPVS: {}",
            names.join(", ")
        );
    }
    let remove = |p: &std::path::Path| {
        ocf_shim::state::remove_if_exists(p)
            .map_err(|e| OcfError::generic(format!("cannot remove {}: {e}", p.display())))
    };
    remove(&owned)?;
    remove(&daemon::status_file(&name))?;
    // The pid file only if it names no live daemon (a killed one cannot remove it).
    let pidf = daemon::pid_file(&name);
    if let Ok(Some(pid)) = ocf_shim::process::read_pidfile(&pidf)
        && pid_alive(pid)
        && daemon::is_ldirectord(pid)
    {
        return Err(OcfError::generic(format!(
            "{} still names a running rha-ldirectord (pid {pid})",
            pidf.display()
        )));
    }
    remove(&pidf)
}
