//! Start: export each directory with exportfs (the interface for changing exports), then
//! verify in the tables that every export is there with its options. Upstream HEAD returns 0
//! without exporting anything when options and fsid are both empty (reference §13.1; Debian
//! 12's exportfs still refuses a missing fsid); here
//! start succeeds only if monitor would say running.

use ocf_shim::{Context, OcfError, OcfResult, log};

use crate::monitor::{self, Found};
use crate::params::Config;
use crate::{nfsd, rmtab, validate};

/// Run exportfs with `args`, bounded by the action's deadline.
pub fn exportfs(args: &[String], ctx: &Context) -> OcfResult<()> {
    let bin = validate::exportfs()?;
    let mut cmd = ocf_shim::process::command(&bin);
    cmd.args(args);
    let out = ocf_shim::process::run_bounded(cmd, b"", &ctx.deadline)
        .map_err(|e| OcfError::generic(format!("running {}: {e}", bin.display())))?
        .ok_or_else(|| {
            OcfError::generic(format!("exportfs {} did not finish before the timeout", args.join(" ")))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim().lines().last().unwrap_or("").to_string();
        return Err(OcfError::generic(format!("exportfs {} failed ({}): {err}", args.join(" "), out.status)));
    }
    Ok(())
}

pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    validate::validate(cfg, ctx)?;
    if !nfsd::running(&cfg.paths.nfsd_dir) {
        return Err(OcfError::generic(format!(
            "nfsd is not running ({}/threads missing or 0): start the NFS server first",
            cfg.paths.nfsd_dir.display()
        )));
    }
    if cfg.state_file.exists() && monitor::found(cfg)? == Found::All {
        return Ok(());
    }
    // The state file first: a start killed half-way leaves a state that monitor reports as
    // broken (partly exported), never as cleanly stopped.
    if let Some(dir) = cfg.state_file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| OcfError::generic(format!("{}: {e}", dir.display())))?;
    }
    ocf_shim::state::write_atomic(&cfg.state_file, b"started\n")
        .map_err(|e| OcfError::generic(format!("writing {}: {e}", cfg.state_file.display())))?;
    for e in &cfg.exports {
        let mut args = vec![];
        if !e.options.is_empty() {
            args.push("-o".to_string());
            args.push(e.options.join(","));
        }
        args.push(cfg.target(e));
        exportfs(&args, ctx)?;
        if let Some(name) = &cfg.rmtab_backup {
            if let Err(err) = rmtab::restore(&cfg.paths.rmtab, &e.dir, name) {
                log::warn(format!("restoring rmtab from {}/{name}: {err}", e.dir));
            }
        }
    }
    match monitor::found(cfg)? {
        Found::All => {
            log::info(format!(
                "exported {} to {}",
                cfg.exports.iter().map(|e| e.dir.as_str()).collect::<Vec<_>>().join(" "),
                cfg.clientspec
            ));
            Ok(())
        }
        Found::None => Err(OcfError::generic(format!(
            "exportfs succeeded but nothing is exported to {} in {}",
            cfg.clientspec,
            cfg.paths.etab.display()
        ))),
        Found::Broken(why) => Err(OcfError::generic(format!("after exportfs: {why}"))),
    }
}
