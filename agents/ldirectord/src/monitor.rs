//! monitor: the daemon's process and status file, and at level 10 the kernel's table.
//!
//! - Not running (no pid, or a pid file naming a dead process) and none of the instance's
//!   virtuals left in IPVS: 7.
//! - Not running but its virtuals still in IPVS (a daemon killed with SIGKILL skips its
//!   cleanup): 1, so that Pacemaker runs stop, which removes them. A probe says 1 too: a 7
//!   would leave the entries on this node for good.
//! - The pid file names a live process that is not rha-ldirectord (a reused pid): 1.
//! - Running but hung (heartbeat older than [`HUNG_AFTER`]), without a status file of its
//!   own, running another configuration, stopping, or unable to program a virtual: 1.
//! - Level 10: every virtual, real and weight the daemon says it programmed is in IPVS, and
//!   nothing else in its virtuals (a change behind its back that it has not yet repaired): 1.
//!
//! A `kill -9` of the daemon therefore fails the next monitor (1: its entries are left), which
//! counts toward migration-threshold like any monitor failure of a started resource.

use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult, Status};

use crate::daemon::{self, HUNG_AFTER, Process, Report};
use crate::ipvs;
use crate::params::Config;

/// Differences named in a monitor failure before "and N more".
const MAX_NAMED: usize = 6;

fn summarize(d: &[String]) -> String {
    let mut s = d.iter().take(MAX_NAMED).cloned().collect::<Vec<_>>().join("; ");
    if d.len() > MAX_NAMED {
        s.push_str(&format!("; and {} more", d.len() - MAX_NAMED));
    }
    s
}

/// The monitor action.
pub fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    let report = daemon::status(cfg, &ctx.deadline)?;
    check(cfg, &report)?;
    if ctx.check_level >= 10 {
        compare_with_kernel(cfg, ctx, report)?;
    }
    Ok(Status::Running)
}

/// Level 0 on a report: Ok when running and healthy, else the error monitor returns.
pub fn check(cfg: &Config, report: &Report) -> OcfResult<()> {
    let name = &report.name;
    match report.process() {
        Process::Stopped { stale_pid_file } => {
            let pidf = daemon::pid_file(name);
            if stale_pid_file
                && let Ok(Some(pid)) = ocf_shim::process::read_pidfile(&pidf)
                && ocf_shim::process::pid_alive(pid)
                && !daemon::is_ldirectord(pid)
            {
                let exe =
                    ocf_shim::process::proc_exe(pid).map(|p| p.display().to_string()).unwrap_or_default();
                return Err(OcfError::generic(format!(
                    "{} names pid {pid}, a live process that is not rha-ldirectord ({exe}): a stale pid file",
                    pidf.display()
                )));
            }
            let left = ipvs::present(&ipvs::owned(&daemon::owned_file(name)))?;
            if !left.is_empty() {
                let names: Vec<String> = left.iter().map(|k| k.to_string()).collect();
                return Err(OcfError::generic(format!(
                    "rha-ldirectord ({name}) is not running, but its virtual services are still in IPVS ({}); \
                     stop removes them",
                    summarize(&names)
                )));
            }
            Err(OcfError::not_running(format!(
                "rha-ldirectord for {} is not running{}",
                cfg.config.display(),
                if stale_pid_file { " (stale pid file)" } else { "" }
            )))
        }
        Process::Running { pid, .. } if !daemon::is_ours(pid as i32, &cfg.binary) => {
            Err(OcfError::generic(format!(
                "{} names pid {pid}, an ldirectord that is not {} (upstream's?)",
                daemon::pid_file(name).display(),
                cfg.binary.display()
            )))
        }
        Process::Running { pid, has_status: false } => Err(OcfError::generic(format!(
            "rha-ldirectord ({name}) runs as pid {pid} but has written no status file of its own ({})",
            daemon::status_file(name).display()
        ))),
        Process::Running { pid, has_status: true } => {
            if let Some(c) = &report.config
                && std::path::Path::new(c) != cfg.config
            {
                return Err(OcfError::generic(format!(
                    "rha-ldirectord instance {name} (pid {pid}) runs {c}, not {}",
                    cfg.config.display()
                )));
            }
            let age = report.heartbeat_age(daemon::now()).unwrap_or(f64::INFINITY);
            if age > HUNG_AFTER.as_secs_f64() {
                return Err(OcfError::generic(format!(
                    "rha-ldirectord ({name}, pid {pid}) is hung: its last heartbeat was {age:.0} s ago (bound {} s)",
                    HUNG_AFTER.as_secs()
                )));
            }
            if report.phase.as_deref() == Some("stopping") {
                return Err(OcfError::generic(format!("rha-ldirectord ({name}, pid {pid}) is stopping")));
            }
            let broken: Vec<String> = report
                .virtuals
                .iter()
                .filter_map(|v| {
                    v.error.as_ref().map(|e| format!("virtual {} ({}): {e}", v.virtual_service, v.line))
                })
                .collect();
            if !broken.is_empty() {
                return Err(OcfError::generic(format!(
                    "rha-ldirectord ({name}) cannot manage {}",
                    summarize(&broken)
                )));
            }
            if let Some(e) = &report.reload_error {
                ocf_shim::warn!("the last reload was refused, the previous configuration keeps running: {e}");
            }
            Ok(())
        }
    }
}

/// Level 10: the kernel against the daemon's view. The daemon changes the table between our
/// two reads when a check result arrives; a difference counts only if it is still there, the
/// same, in a second reading a moment later.
fn compare_with_kernel(cfg: &Config, ctx: &Context, mut report: Report) -> OcfResult<()> {
    let owned = ipvs::owned(&daemon::owned_file(&report.name));
    let mut last: Option<Vec<String>> = None;
    for attempt in 0..3 {
        let kernel = ipvs::kernel_view(&owned)?;
        // Managed virtuals the daemon did not record as owned cannot be read: say so.
        let mut diffs = ipvs::differences(&report, &kernel);
        for v in report.virtuals.iter().filter(|v| v.error.is_none()) {
            if !kernel.contains_key(&v.virtual_service) {
                diffs.push(format!("virtual {} is not in the daemon's ownership file", v.virtual_service));
            }
        }
        if diffs.is_empty() {
            return Ok(());
        }
        if last.as_ref() == Some(&diffs) || attempt == 2 || ctx.deadline.remaining() < Duration::from_secs(1)
        {
            return Err(OcfError::generic(format!(
                "IPVS differs from rha-ldirectord's view ({}): {}",
                report.name,
                summarize(&diffs)
            )));
        }
        last = Some(diffs);
        std::thread::sleep(Duration::from_millis(300));
        report = daemon::status(cfg, &ctx.deadline)?;
        check(cfg, &report)?;
    }
    Ok(())
}
