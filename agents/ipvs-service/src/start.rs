//! start: make the kernel hold exactly the configured service, and prove it.
//!
//! 1. Connect to IPVS; when the kernel has no IPVS family, `modprobe ip_vs` (as ipvsadm does)
//!    and try again; still nothing is OCF_ERR_INSTALLED.
//! 2. Under the node-wide lock, record the service and the wanted sync daemons (before any
//!    change, so a start killed half-way leaves a record stop can follow). A service recorded
//!    by an earlier start of this instance with other parameters is removed.
//! 3. Read the service back, `plan` the changes (service settings, new reals, edited reals,
//!    then removals) and apply them in batches (many per `sendmsg`, every ack checked).
//! 4. Start the sync daemons that are not running (recorded as owned first).
//! 5. Read everything back: it must match exactly (else 1, naming the difference).
//!
//! Starting a service that already matches changes nothing.

use std::process::Stdio;
use std::time::Duration;

use ocf_shim::process::{command, find_binary};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_ipvs::{Error, Ipvs, Op, plan};

use crate::ownership::{self, Record};
use crate::params::Config;
use crate::{ipvs_error, monitor, sync_daemon, validate};

/// Connects to IPVS, loading `ip_vs` when the kernel has it as a module not yet loaded.
pub fn connect_loading_module(ctx: &Context) -> OcfResult<Ipvs> {
    if validate::ipvs_loaded() != Some(false) {
        match Ipvs::connect() {
            Ok(i) => return Ok(i),
            Err(e) if !e.is_not_available() => return Err(ipvs_error(e)),
            Err(_) => {}
        }
    }
    let how = load_module("ip_vs", ctx);
    match Ipvs::connect() {
        Ok(i) => {
            ocf_shim::info!("loaded the ip_vs kernel module");
            Ok(i)
        }
        Err(e) if e.is_not_available() => Err(OcfError::installed(format!(
            "IPVS is not available in this kernel ({}): {how}",
            validate::kernel_release().unwrap_or_default()
        ))),
        Err(e) => Err(ipvs_error(e)),
    }
}

/// Runs `modprobe NAME` within the deadline; says what happened (for the error message).
fn load_module(name: &str, ctx: &Context) -> String {
    let Some(modprobe) = find_binary("modprobe") else {
        return "modprobe is not installed".into();
    };
    let child = command(&modprobe)
        .arg(name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("cannot run {}: {e}", modprobe.display()),
    };
    let limit = ctx.deadline.cap(Duration::from_secs(10));
    let mut status = None;
    limit.wait_for(Duration::from_millis(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    match status {
        Some(s) if s.success() => {
            format!("'modprobe {name}' succeeded but the IPVS netlink family is still missing")
        }
        Some(s) => {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            let err = err.trim().replace('\n', "; ");
            format!(
                "'modprobe {name}' failed ({s}){}",
                if err.is_empty() { String::new() } else { format!(": {err}") }
            )
        }
        None => {
            let _ = child.kill();
            let _ = child.wait();
            format!("'modprobe {name}' did not finish in time")
        }
    }
}

/// A failed batch as an OCF error: a scheduler or persistence engine the kernel cannot load
/// is missing software on this node (5); anything else is a runtime failure.
fn apply_error(e: Error, what: &str) -> OcfError {
    let missing_module = match &e {
        Error::Batch(f) => {
            f.iter().any(|x| matches!(x.op, Op::AddService | Op::EditService) && x.errno == libc::ENOENT)
        }
        Error::Kernel { op: Op::AddService | Op::EditService, errno } => *errno == libc::ENOENT,
        _ => false,
    };
    if missing_module {
        return OcfError::installed(format!(
            "{what}: {e} (kernel {} cannot load the scheduler's or persistence engine's module)",
            validate::kernel_release().unwrap_or_default()
        ));
    }
    ipvs_error(e).context(what)
}

/// Changes sent between two deadline checks (one netlink batch).
const APPLY_SLICE: usize = 128;

/// The start action.
pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    let want = cfg.spec()?;
    let key = want.service.key;
    for w in &cfg.warnings {
        ocf_shim::warn!("{w}");
    }
    if let Some(p) = validate::nat_forwarding_problem(want) {
        ocf_shim::warn!("{p}");
    }
    let mut ipvs = connect_loading_module(ctx)?;
    let _lock = ownership::lock(ctx)?;

    let mut rec = ownership::read(ctx)?.unwrap_or_default();
    if let Some(old) = rec.service.filter(|old| *old != key) {
        ocf_shim::info!("removing virtual service {old}, programmed by an earlier start of this resource");
        match ipvs.del_service(&old) {
            Err(e) if e.errno() != Some(libc::ESRCH) => {
                return Err(ipvs_error(e).context(format!("removing {old}")));
            }
            _ => {}
        }
    }
    rec.netns = ownership::current_netns();
    rec.names = cfg.resolved_names.clone();
    rec.service = Some(key);
    rec.wants = sync_daemon::wanted(cfg.sync.as_ref());
    ownership::write(ctx, &rec)?;

    let current = ipvs.service_spec(&key).map_err(ipvs_error)?;
    let changes = plan(current.as_ref(), want);
    if !changes.is_empty() {
        ocf_shim::info!(
            "{} virtual service {key}: {} change(s), {} real server(s)",
            if current.is_some() { "correcting" } else { "creating" },
            changes.len(),
            want.dests.len()
        );
        for c in changes.iter().take(20) {
            ocf_shim::debug!("{c}");
        }
        // In slices, checking the deadline between them: a large table on a slow node must
        // end in a reasoned failure before Pacemaker's timeout, not in its SIGKILL. A slice is
        // only begun when twice the slowest one so far still fits.
        let mut slowest = std::time::Duration::ZERO;
        for (i, slice) in changes.chunks(APPLY_SLICE).enumerate() {
            if ctx.deadline.remaining() <= slowest * 2 {
                return Err(OcfError::generic(format!(
                    "programming virtual service {key}: the operation's timeout is near after {} of {} \
                     changes; raise the start timeout for a table this large",
                    i * APPLY_SLICE,
                    changes.len()
                )));
            }
            let t = std::time::Instant::now();
            ipvs.apply(slice).map_err(|e| apply_error(e, &format!("programming virtual service {key}")))?;
            slowest = slowest.max(t.elapsed());
        }
    }

    let wanted = rec.wants.clone();
    let mut save = |r: &Record| ownership::write(ctx, r);
    sync_daemon::ensure(&mut ipvs, &wanted, &mut rec, &mut save)?;

    // Read back: what monitor would say.
    monitor::compare(&mut ipvs, want, true).map_err(|e| {
        OcfError::generic(format!(
            "after programming, the kernel does not hold the configured service: {}",
            e.reason
        ))
    })?;
    if let Err(why) = sync_daemon::check(&mut ipvs, &wanted)? {
        return Err(OcfError::generic(why));
    }
    if ctx.clone.is_none() {
        if let Ok(Some(p)) = validate::vip_problem(want) {
            ocf_shim::warn!("{p}");
        }
    }
    Ok(())
}
