//! Start, directly (no systemd on the nodes this is tested on): mounts, then rpcbind,
//! statd, mountd, nfsd, each verified with a bounded wait, then sm-notify from the
//! floating IP.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ocf_shim::{Context, Deadline, OcfError, OcfResult, Status, log};

use crate::daemons::{self, MOUNTD, RPCBIND, SM_NOTIFY, STATD};
use crate::params::Config;
use crate::{monitor, validate};

pub fn run(bin: &Path, args: &[String], ctx: &Context) -> OcfResult<()> {
    run_cmd(ocf_shim::process::command(bin), bin, args, &ctx.deadline)
}

fn run_cmd(mut cmd: Command, bin: &Path, args: &[String], deadline: &Deadline) -> OcfResult<()> {
    cmd.args(args);
    let what = format!("{} {}", bin.display(), args.join(" "));
    let out = ocf_shim::process::run_bounded(cmd, b"", deadline)
        .map_err(|e| OcfError::generic(format!("running {what}: {e}")))?
        .ok_or_else(|| OcfError::generic(format!("{what} did not finish before the timeout")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(OcfError::generic(format!(
            "{what} failed ({}): {}",
            out.status,
            err.trim().lines().last().unwrap_or("")
        )));
    }
    Ok(())
}

/// Start a daemon that forks into the background (rpcbind, rpc.statd, rpc.mountd,
/// sm-notify): its output goes to a file, not a pipe (a daemon that keeps its standard
/// output open would make a pipe reader wait forever), in its own session (Pacemaker's kill
/// of the agent's process group on a timeout must not reach it), bounded by `deadline`.
fn run_daemon(bin: &Path, args: &[String], cfg: &Config, deadline: &Deadline) -> OcfResult<()> {
    let what = format!("{} {}", bin.display(), args.join(" "));
    let log_path = cfg.state_file.with_extension("out");
    let out = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&log_path)
        .map_err(|e| OcfError::generic(format!("{}: {e}", log_path.display())))?;
    let err = out.try_clone().map_err(|e| OcfError::generic(format!("{}: {e}", log_path.display())))?;
    let mut cmd = ocf_shim::process::command(bin);
    cmd.args(args).stdin(std::process::Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    let mut child = cmd.spawn().map_err(|e| OcfError::generic(format!("running {what}: {e}")))?;
    let mut status = None;
    deadline.wait_for(Duration::from_millis(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    let last = text.trim().lines().last().unwrap_or("").to_string();
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(OcfError::generic(format!("{what} failed ({s}): {last}"))),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(OcfError::generic(format!("{what} did not finish before the timeout: {last}")))
        }
    }
}

fn wait(ctx: &Context, what: &str, mut ok: impl FnMut() -> bool) -> OcfResult<()> {
    if ctx.deadline.wait_for(Duration::from_millis(50), &mut ok) {
        Ok(())
    } else {
        Err(OcfError::generic(format!("{what} did not come up before the timeout")))
    }
}

/// nfsd knows NFSv2 (listed as +2 or -2 in its versions file).
fn kernel_has_v2(cfg: &Config) -> bool {
    std::fs::read_to_string(cfg.nfsd_dir.join("versions"))
        .is_ok_and(|v| v.split_whitespace().any(|x| x.trim_start_matches(['+', '-']) == "2"))
}

fn rpcbind_answers() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:111".parse().unwrap(), Duration::from_millis(200))
        .is_ok()
}

/// Bind the shared infodir over /var/lib/nfs, seeding what the daemons need; true when it
/// was not bound before (daemons already running then use the node's own directory).
fn bind_infodir(cfg: &Config, dir: &Path) -> OcfResult<bool> {
    let io = |what: &Path, e: std::io::Error| OcfError::generic(format!("{}: {e}", what.display()));
    for sub in ["sm", "sm.bak", "v4recovery"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
    }
    for f in ["etab", "rmtab"] {
        let p = dir.join(f);
        if !p.exists() {
            std::fs::write(&p, b"").map_err(|e| io(&p, e))?;
        }
    }
    if monitor::same_dir(&cfg.libdir, dir) {
        return Ok(false);
    }
    if daemons::is_mounted(&cfg.libdir, None) {
        return Err(OcfError::generic(format!(
            "{} is already a mount point of something other than {}: not mounting over it",
            cfg.libdir.display(),
            dir.display()
        )));
    }
    std::fs::create_dir_all(&cfg.libdir).map_err(|e| io(&cfg.libdir, e))?;
    nix::mount::mount(Some(dir), &cfg.libdir, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| {
            OcfError::generic(format!("bind-mounting {} on {}: {e}", dir.display(), cfg.libdir.display()))
        })?;
    Ok(true)
}

pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let bins = validate::binaries(cfg)?;
    if monitor::monitor(cfg, ctx).ok() == Some(Status::Running) {
        return Ok(());
    }
    if let Some(dir) = cfg.state_file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| OcfError::generic(format!("{}: {e}", dir.display())))?;
    }
    if let Some(dir) = &cfg.infodir {
        if bind_infodir(cfg, dir)? {
            // Daemons started before the bind keep the node's own state directory open:
            // restart them on the shared one.
            for name in [SM_NOTIFY, MOUNTD, STATD] {
                if !daemons::stop_all(name, Duration::from_secs(5), &ctx.deadline) {
                    return Err(OcfError::generic(format!(
                        "{name} did not stop (to restart it on {})",
                        dir.display()
                    )));
                }
            }
        }
    }
    daemons::ensure_mounted("nfsd", &cfg.nfsd_dir)?;
    if let Err(e) = daemons::ensure_mounted("rpc_pipefs", &cfg.rpcpipefs_dir) {
        // Only gssd and idmapd need it; the server runs without.
        log::warn(e.to_string());
    }

    let mut started_rpcbind = false;
    if !daemons::running(RPCBIND) {
        run_daemon(&bins.rpcbind, &["-w".to_string()], cfg, &ctx.deadline)?;
        started_rpcbind = true;
    }
    wait(ctx, "rpcbind (127.0.0.1:111)", rpcbind_answers)?;
    // What we started, for stop (rpcbind is shared with other RPC services otherwise).
    ocf_shim::state::write_atomic(&cfg.state_file, if started_rpcbind { b"rpcbind\n" } else { b"\n" })
        .map_err(|e| OcfError::generic(format!("writing {}: {e}", cfg.state_file.display())))?;

    if !cfg.v4_only && !daemons::running(STATD) {
        let mut args = vec!["--no-notify".to_string()];
        if let Some(ip) = &cfg.nfs_ip {
            args.extend(["-n".to_string(), ip.clone()]);
        }
        run_daemon(bins.statd.as_deref().unwrap(), &args, cfg, &ctx.deadline)?;
        wait(ctx, "rpc.statd", || daemons::running(STATD))?;
    }
    if !daemons::running(MOUNTD) {
        let mut args = vec![];
        if cfg.v4_only {
            args.extend(["-N", "2", "-N", "3"].map(String::from));
        }
        run_daemon(&bins.mountd, &args, cfg, &ctx.deadline)?;
        wait(ctx, "rpc.mountd", || daemons::running(MOUNTD))?;
    }

    let mut args = vec![];
    if cfg.v4_only {
        // Kernels since 6.2 (and Debian's 6.1) have no NFSv2: rpc.nfsd -N 2 fails there.
        if kernel_has_v2(cfg) {
            args.extend(["-N", "2"].map(String::from));
        }
        args.extend(["-N", "3"].map(String::from));
    }
    args.push(cfg.threads.to_string());
    let mut cmd = ocf_shim::process::command(&bins.nfsd);
    if let Some(scope) = cfg.scope.clone() {
        // nfsd takes its NFSv4 server scope from the host name of the process that starts
        // it: give rpc.nfsd its own UTS namespace with the scope as host name.
        // SAFETY: only async-signal-safe calls (unshare, sethostname) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::unshare(libc::CLONE_NEWUTS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::sethostname(scope.as_ptr().cast(), scope.len()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    run_cmd(cmd, &bins.nfsd, &args, &ctx.deadline)?;
    wait(ctx, "nfsd threads", || crate::monitor::nfsd_threads(cfg).is_some_and(|n| n > 0))?;

    if !cfg.v4_only && !cfg.no_notify {
        let mut args = vec!["-f".to_string(), "-m".to_string(), cfg.notify_retry_minutes.to_string()];
        if let Some(ip) = &cfg.nfs_ip {
            args.extend(["-v".to_string(), ip.clone()]);
        }
        if cfg.notify_foreground {
            args.push("-d".to_string());
        }
        let notify = bins.sm_notify.as_deref().unwrap();
        // In the foreground it retries unreachable clients for up to -m minutes: keep 2 s
        // of the start timeout for the answer.
        let bound = ctx.deadline.cap(ctx.deadline.remaining().saturating_sub(Duration::from_secs(2)));
        if let Err(e) = run_daemon(notify, &args, cfg, &bound) {
            // Clients that miss the notification find out on their next lock call; the
            // server itself is up.
            log::warn(format!("sm-notify: {e}"));
        }
    }
    log::info(format!("NFS server running ({} nfsd threads)", cfg.threads));
    Ok(())
}
