//! start: configtest, launch, wait until the server answers.

use std::os::unix::fs::{DirBuilderExt, chown};
use std::path::Path;
use std::time::{Duration, Instant};

use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, OcfError, OcfResult, log};

use crate::config::ApacheConf;
use crate::httpd;
use crate::instance::Instance;
use crate::monitor::{http, running_main};
use crate::params::{Config, INFO};
use crate::procs::PidFile;
use crate::stop::terminate;
use crate::testconf;

/// How long start tolerates wrong answers (404, no match) before failing.
const WRONG_ANSWER_GRACE: Duration = Duration::from_secs(1);

pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    cfg.check()?;
    ctx.require_root()?;
    let inst = Instance::resolve(cfg, ctx);
    let httpd = inst.httpd.clone()?;
    let conf = inst.conf.as_ref().map_err(Clone::clone)?;
    // A level-10 test that cannot work fails now rather than at the first deep monitor.
    testconf::from_config(cfg)?;
    for w in &conf.warnings {
        log::debug(format!("configuration: {w}"));
    }
    for n in &inst.env_notes {
        log::debug(format!("envfiles: {n}"));
    }

    match inst.pid_file_state() {
        PidFile::Running(pid) => return already_running(&inst, cfg, ctx, pid),
        pf => {
            let m = inst.members(pf);
            if let Some(main) = m.main {
                return already_running(&inst, cfg, ctx, main);
            }
            if !m.is_empty() {
                log::warn(format!(
                    "cleaning up {} processes left by an earlier httpd: {:?}",
                    m.pids.len(),
                    m.pids
                ));
                let budget = ctx.deadline.cap(ctx.deadline.remaining() / 4);
                terminate(&m.pids, &budget)?;
            }
            if let (PidFile::Stale(_), Some(f)) = (pf, &inst.pid_file) {
                let _ = remove_if_exists(f);
            }
        }
    }

    prepare_directories(&inst, conf)?;
    httpd::configtest(&inst, &httpd, &ctx.deadline)?;

    let state = StateDir::for_agent(INFO.name);
    state
        .create()
        .map_err(|e| OcfError::generic(format!("cannot create {}: {e}", state.path().display())))?;
    let stderr_file = state.instance_file(ctx, ".stderr");
    let log_offset = conf.error_log.as_deref().and_then(|f| std::fs::metadata(f).ok()).map_or(0, |m| m.len());
    let mut child = httpd::launch(&inst, &httpd, &stderr_file)
        .map_err(|e| OcfError::generic(format!("cannot start {}: {e}", httpd.display())))?;
    let pid = child.id() as i32;
    log::info(format!("started {} (pid {pid}) with {}", httpd.display(), inst.configfile.display()));

    let check = inst.status_check(cfg);
    let opts =
        crate::http_check::Options { ipv6: cfg.use_ipv6, verify_tls: cfg.tls_verify, ..Default::default() };
    let mut last: String;
    let mut pause = Duration::from_millis(10);
    // A wrong answer (404, no match) may be a start-up race; after this long it is the answer.
    let mut wrong_since: Option<Instant> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let msg = std::fs::read_to_string(&stderr_file)
                .ok()
                .and_then(|t| httpd::summarize(&t))
                .or_else(|| conf.error_log.as_deref().and_then(|f| httpd::error_log_since(f, log_offset)))
                .unwrap_or_else(|| "no message (see the error log)".into());
            return Err(OcfError::generic(format!(
                "httpd exited during start ({}): {msg}",
                httpd::describe_status(status)
            )));
        }
        match inst.pid_file_state() {
            PidFile::Running(p) if p == pid => {
                let deadline = Instant::now() + ctx.deadline.remaining();
                match http(&check, &opts, deadline) {
                    Ok(()) => {
                        log::info(format!("httpd (pid {pid}) answers {}", check.url));
                        return Ok(());
                    }
                    Err(e) if e.answered => {
                        let since = *wrong_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= WRONG_ANSWER_GRACE {
                            return Err(OcfError::generic(format!(
                                "httpd (pid {pid}) started but its check fails: {e}"
                            )));
                        }
                        last = e.message;
                    }
                    Err(e) => last = e.message,
                }
            }
            PidFile::Running(other) => last = format!("the pid file names pid {other}, not {pid}"),
            _ => last = "the pid file is not written yet".into(),
        }
        if ctx.deadline.expired() {
            return Err(OcfError::generic(format!(
                "httpd (pid {pid}) did not answer within the start timeout ({} s): {last}",
                ctx.timeout().as_secs()
            )));
        }
        std::thread::sleep(pause.min(ctx.deadline.remaining()));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Start on a running server succeeds once it answers (it may itself be starting).
fn already_running(inst: &Instance, cfg: &Config, ctx: &Context, pid: i32) -> OcfResult<()> {
    log::info(format!("httpd already runs (pid {pid})"));
    let check = inst.status_check(cfg);
    let opts =
        crate::http_check::Options { ipv6: cfg.use_ipv6, verify_tls: cfg.tls_verify, ..Default::default() };
    let mut outcome: Result<(), String> = Err("no answer".into());
    ctx.deadline.wait_for(Duration::from_millis(100), || {
        if running_main(inst).ok().flatten().is_none() {
            outcome = Err("it exited".into());
            return true;
        }
        outcome = http(&check, &opts, Instant::now() + ctx.deadline.remaining()).map_err(|e| e.message);
        outcome.is_ok()
    });
    outcome.map_err(|e| OcfError::generic(format!("httpd already runs (pid {pid}) but does not answer: {e}")))
}

/// The run-time directories httpd expects (they live on tmpfs and vanish at boot): the pid
/// file's, DefaultRuntimeDir, and Debian's APACHE_RUN_DIR and APACHE_LOCK_DIR (the latter
/// owned by APACHE_RUN_USER, as apache2ctl does).
fn prepare_directories(inst: &Instance, conf: &ApacheConf) -> OcfResult<()> {
    let mut dirs: Vec<(std::path::PathBuf, Option<&str>)> = Vec::new();
    if let Some(parent) = inst.pid_file.as_deref().and_then(Path::parent) {
        dirs.push((parent.to_path_buf(), None));
    }
    if let Some(rt) = &conf.runtime_dir {
        dirs.push((rt.clone(), None));
    }
    if let Some(d) = inst.env.get("APACHE_RUN_DIR") {
        dirs.push((d.into(), None));
    }
    if let Some(d) = inst.env.get("APACHE_LOCK_DIR") {
        dirs.push((d.into(), inst.env.get("APACHE_RUN_USER").map(String::as_str)));
    }
    for (dir, owner) in dirs {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            continue;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| OcfError::installed(format!("cannot create directory {}: {e}", dir.display())))?;
        if let Some(user) = owner.and_then(|u| nix::unistd::User::from_name(u).ok().flatten()) {
            let _ = chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()));
        }
    }
    Ok(())
}
