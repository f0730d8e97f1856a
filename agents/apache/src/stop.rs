//! stop: graceful stop (SIGWINCH), then SIGTERM, then SIGKILL, each bounded by a share of the
//! stop timeout; done as soon as httpd and every process of its session, tree and marker are
//! gone.
//!
//! Budget of the time left (the op timeout minus ocf-shim's margin): graceful up to 1/2, TERM
//! up to 7/10 of what remains then, the rest for KILL. Graceful stop is skipped when the pid
//! file does not (yet) name the server: an httpd killed in its start-up has no requests to
//! finish, and ignores SIGWINCH until it has installed its handlers.

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf_shim::process::{pid_alive, signal, wait_gone};
use ocf_shim::state::remove_if_exists;
use ocf_shim::{Context, Deadline, OcfError, OcfResult, log};

use crate::instance::Instance;
use crate::params::Config;
use crate::procs::{PidFile, alive};

const POLL: Duration = Duration::from_millis(20);

pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    let inst = Instance::resolve(cfg, ctx);
    let pf = inst.pid_file_state();
    let m = inst.members(pf);
    let deadline = ctx.deadline;
    if m.is_empty() {
        log::info("httpd is not running");
        remove_stale_pid_file(&inst);
        return Ok(());
    }
    if let Some(main) = m.main {
        let from_pid_file = pf == PidFile::Running(main);
        let mut gone = false;
        if from_pid_file {
            let graceful = deadline.cap(deadline.remaining() / 2);
            log::info(format!(
                "graceful stop of httpd (pid {main}, SIGWINCH), up to {:.1} s",
                graceful.remaining().as_secs_f64()
            ));
            send(main, Signal::SIGWINCH)?;
            gone = wait_gone(main, &graceful);
        }
        if !gone {
            let term = deadline.cap(deadline.remaining() * 7 / 10);
            log::info(format!(
                "stopping httpd (pid {main}, SIGTERM), up to {:.1} s",
                term.remaining().as_secs_f64()
            ));
            send(main, Signal::SIGTERM)?;
            gone = wait_gone(main, &term);
        }
        let rest = inst.remains_of(main);
        if gone {
            // Children that outlived their parent (stuck requests, CGI processes).
            let left = rest.pids;
            if !left.is_empty() {
                log::info(format!("{} processes outlived httpd: {left:?}", left.len()));
                terminate(&left, &deadline)?;
            }
        } else {
            log::warn(format!("httpd (pid {main}) ignored SIGWINCH and SIGTERM: SIGKILL"));
            kill_all(&rest.pids, &deadline)?;
        }
    } else {
        log::info(format!("httpd is gone but left processes {:?}", m.pids));
        terminate(&m.pids, &deadline)?;
    }
    remove_stale_pid_file(&inst);
    log::info("httpd stopped");
    Ok(())
}

fn send(pid: i32, sig: Signal) -> OcfResult<()> {
    signal(pid, sig).map_err(|e| OcfError::generic(format!("cannot send {sig} to pid {pid}: {e}")))
}

/// SIGTERM, a short wait (up to 1 s or half of what is left), then SIGKILL.
pub fn terminate(pids: &[i32], deadline: &Deadline) -> OcfResult<()> {
    for &p in pids {
        let _ = signal(p, Signal::SIGTERM);
    }
    let short = deadline.cap((deadline.remaining() / 2).min(Duration::from_secs(1)));
    if short.wait_for(POLL, || alive(pids).is_empty()) {
        return Ok(());
    }
    kill_all(pids, deadline)
}

/// SIGKILL and wait until every process is gone (or the deadline passes: then fail, since
/// a process that survives SIGKILL is stuck in the kernel and needs an administrator).
fn kill_all(pids: &[i32], deadline: &Deadline) -> OcfResult<()> {
    let targets = alive(pids);
    for &p in &targets {
        let _ = signal(p, Signal::SIGKILL);
    }
    // Give KILL a moment even when the budget is spent.
    let wait = if deadline.expired() { Deadline::after(Duration::from_millis(500)) } else { *deadline };
    if wait.wait_for(POLL, || alive(&targets).is_empty()) {
        return Ok(());
    }
    Err(OcfError::generic(format!("processes still present after SIGKILL: {:?}", alive(&targets))))
}

/// httpd removes its pid file; after a SIGKILL the agent does.
fn remove_stale_pid_file(inst: &Instance) {
    if let (Some(f), PidFile::Stale(p)) = (&inst.pid_file, inst.pid_file_state())
        && !pid_alive(p)
    {
        let _ = remove_if_exists(f);
    }
}
