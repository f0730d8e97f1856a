//! Stop: `mdadm --stop` each assembled array. When something holds it, the failure names the
//! mount point, holder device or process; with force_stop processes are ended (TERM, then
//! KILL, within the deadline), never a filesystem unmounted behind Pacemaker's back.

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf_shim::process::{pid_alive, signal};
use ocf_shim::{Context, OcfError, OcfResult};

use crate::array::{self, Roots};
use crate::holders;
use crate::params::Config;
use crate::start::one_line;
use crate::tools;

/// What keeps the array busy, as one sentence part, and the processes (for force_stop).
fn users(roots: &Roots, kname: &str) -> (Vec<String>, Vec<(i32, String)>) {
    let mut what = Vec::new();
    let mut procs = Vec::new();
    if let Some(dev) = holders::dev_numbers(&roots.sys_block, kname) {
        for m in holders::mounts(dev) {
            what.push(format!("mounted on {m}"));
        }
        procs = holders::processes(dev);
    }
    for h in holders::holder_devices(&roots.sys_block, kname) {
        what.push(format!("held by device {h}"));
    }
    for (pid, comm) in &procs {
        what.push(format!("open by pid {pid} ({comm})"));
    }
    (what, procs)
}

fn try_stop(kname: &str, ctx: &Context) -> OcfResult<(bool, String)> {
    tools::run(tools::mdadm_cmd(&["--stop", &format!("/dev/{kname}")])?, &ctx.deadline)
}

fn gone(roots: &Roots, kname: &str) -> bool {
    let text = std::fs::read_to_string(&roots.proc_mdstat).unwrap_or_default();
    !crate::mdstat::parse(&text).iter().any(|m| m.name == kname)
}

fn end_processes(procs: &[(i32, String)], ctx: &Context) {
    for (pid, comm) in procs {
        ocf_shim::warn!("force_stop: sending TERM to pid {pid} ({comm}), which holds the array open");
        let _ = signal(*pid, Signal::SIGTERM);
    }
    // Half of what is left for TERM, then KILL.
    let term = ctx.deadline.cap(ctx.deadline.remaining() / 2);
    term.wait_for(Duration::from_millis(20), || procs.iter().all(|(p, _)| !pid_alive(*p)));
    for (pid, comm) in procs.iter().filter(|(p, _)| pid_alive(*p)) {
        ocf_shim::warn!("force_stop: pid {pid} ({comm}) ignored TERM: sending KILL");
        let _ = signal(*pid, Signal::SIGKILL);
    }
    ctx.deadline.wait_for(Duration::from_millis(20), || procs.iter().all(|(p, _)| !pid_alive(*p)));
}

fn stop_one(cfg: &Config, roots: &Roots, dev: &str, kname: &str, ctx: &Context) -> OcfResult<()> {
    let mut forced = false;
    loop {
        let (ok, out) = try_stop(kname, ctx)?;
        if ok || gone(roots, kname) {
            ocf_shim::info!("stopped {dev} ({kname})");
            return Ok(());
        }
        let (what, procs) = users(roots, kname);
        let only_processes = !procs.is_empty() && what.len() == procs.len();
        if cfg.force_stop && only_processes && !forced {
            end_processes(&procs, ctx);
            forced = true;
            continue;
        }
        // The last closer may still be going away (udev's blkid, a just-killed process).
        if what.is_empty() && !ctx.deadline.expired() {
            std::thread::sleep(Duration::from_millis(200));
            if ctx.deadline.remaining() > Duration::from_secs(1) {
                continue;
            }
        }
        let who = if what.is_empty() { one_line(&out) } else { what.join(", ") };
        let hint =
            if !procs.is_empty() && !cfg.force_stop { " (force_stop ends such processes)" } else { "" };
        return Err(OcfError::generic(format!("cannot stop {dev}: {who}{hint}")));
    }
}

pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let roots = Roots::system();
    if !roots.has_md() {
        return Ok(());
    }
    // auto without a conf here: nothing of ours can be known to be assembled.
    let devs = match array::devices(cfg) {
        Ok(d) => d,
        Err(e) => {
            ocf_shim::warn!("{e}: nothing to stop");
            return Ok(());
        }
    };
    ctx.require_root()?;
    for d in devs {
        let Some(k) = array::kernel_name(&d) else { continue };
        if gone(&roots, &k) {
            continue;
        }
        stop_one(cfg, &roots, &d, &k, ctx)?;
    }
    Ok(())
}
