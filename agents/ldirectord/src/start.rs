//! start: the configuration checked, IPVS reachable, the daemon started and proven ready.
//!
//! 1. `configtest`: a configuration error is OCF_ERR_CONFIGURED naming file:line, before
//!    anything runs.
//! 2. Already running and healthy (monitor's level 0): success, nothing changes. Running
//!    but broken (hung, another configuration): failure; Pacemaker's recovery stops it first.
//! 3. IPVS: connect, `modprobe ip_vs` when the kernel has it as a module; none is
//!    OCF_ERR_INSTALLED (the daemon would only fail later with a less clear message).
//! 4. `rha-ldirectord <config> start`, bounded by the operation's timeout: it daemonises (its
//!    own session, out of Pacemaker's process group) and returns only when every virtual is
//!    programmed and every real has had its first check. Exit 2 is a configuration error (6).
//! 5. The status file must say so: running, first round done, every virtual managed.

use std::process::Stdio;
use std::time::Duration;

use ocf_shim::process::{command, find_binary};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_ipvs::Ipvs;

use crate::daemon::{self, Process};
use crate::params::Config;
use crate::{ipvs, monitor};

/// The start action.
pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    for w in daemon::configtest(cfg, &ctx.deadline)? {
        ocf_shim::warn!("{w}");
    }
    let before = daemon::status(cfg, &ctx.deadline)?;
    if let Process::Running { pid, .. } = before.process() {
        monitor::check(cfg, &before).map_err(|e| e.context("already running, but not healthy"))?;
        ocf_shim::info!("rha-ldirectord ({}) is already running as pid {pid}", before.name);
        return Ok(());
    }
    connect_loading_module(ctx)?;

    let out = daemon::run(cfg, &[], "start", &ctx.deadline)?.ok_or_else(|| {
        OcfError::generic(format!(
            "rha-ldirectord did not finish its first check round within the start timeout ({} s); \
             raise it above checkinterval + the checks' timeouts",
            ctx.timeout().as_secs()
        ))
    })?;
    match out.status.code() {
        Some(0) => {}
        Some(2) => return Err(OcfError::configured(daemon::error_text(&out))),
        _ => return Err(OcfError::generic(daemon::error_text(&out))),
    }
    // The CLI returns on the daemon's "ready", written just before the status file is.
    let mut last = None;
    let ready =
        ctx.deadline.cap(Duration::from_secs(5)).wait_for(
            Duration::from_millis(50),
            || match daemon::status(cfg, &ctx.deadline) {
                Ok(r) => {
                    let ok = r.first_round_done && monitor::check(cfg, &r).is_ok();
                    last = Some(r);
                    ok
                }
                Err(_) => false,
            },
        );
    match (ready, last) {
        (true, Some(r)) => {
            let reals: usize = r.virtuals.iter().map(|v| v.reals.len()).sum();
            let up: usize =
                r.virtuals.iter().map(|v| v.reals.iter().filter(|x| x.state == "up").count()).sum();
            ocf_shim::info!(
                "rha-ldirectord ({}) started: {} virtual services programmed, {up} of {reals} real servers up",
                r.name,
                r.virtuals.len()
            );
            Ok(())
        }
        (_, Some(r)) => Err(monitor::check(cfg, &r)
            .err()
            .unwrap_or_else(|| {
                OcfError::generic("the daemon started but reports its first check round not done")
            })
            .context("after start")),
        (_, None) => Err(OcfError::generic("the daemon started but its status cannot be read")),
    }
}

/// Connects to IPVS, loading `ip_vs` when the kernel has it as a module not yet loaded.
pub fn connect_loading_module(ctx: &Context) -> OcfResult<Ipvs> {
    match Ipvs::connect() {
        Ok(i) => return Ok(i),
        Err(e) if !e.is_not_available() => return Err(ipvs::error(e)),
        Err(_) => {}
    }
    let how = match find_binary("modprobe") {
        None => "modprobe is not installed".to_string(),
        Some(m) => {
            let mut c = command(&m);
            c.arg("ip_vs").stdin(Stdio::null());
            match ocf_shim::process::run_bounded(c, b"", &ctx.deadline.cap(Duration::from_secs(10))) {
                Ok(Some(o)) if o.status.success() => "'modprobe ip_vs' succeeded".into(),
                Ok(Some(o)) => format!(
                    "'modprobe ip_vs' failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim().replace('\n', "; ")
                ),
                Ok(None) => "'modprobe ip_vs' did not finish in time".into(),
                Err(e) => format!("cannot run modprobe: {e}"),
            }
        }
    };
    match Ipvs::connect() {
        Ok(i) => {
            ocf_shim::info!("loaded the ip_vs kernel module");
            Ok(i)
        }
        Err(e) if e.is_not_available() => {
            Err(OcfError::installed(format!("IPVS is not available in this kernel: {how}")))
        }
        Err(e) => Err(ipvs::error(e)),
    }
}
