//! Monitor: read etab and the kernel's export cache as files; no exportfs, no grep.

use ocf_shim::{Context, OcfError, OcfResult, Status, log};

use crate::params::Config;
use crate::table::{self, Entry, Table};
use crate::{nfsd, rmtab};

/// What the tables say about this resource's exports.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Every directory is exported to the client with the requested options.
    All,
    /// None of them is exported to the client.
    None,
    /// Some are, or one carries other options: a broken state, with the reason.
    Broken(String),
}

/// Compare the tables with the configuration (pure, for tests and the fuzz target).
pub fn compare(cfg: &Config, etab: &[Entry], kernel: &[Entry]) -> Found {
    let mut present = 0;
    let mut problems = Vec::new();
    for e in &cfg.exports {
        let mine = |t: &&Entry| t.path == e.dir && table::same_client(&t.client, &cfg.clientspec);
        match etab.iter().find(mine) {
            None => problems.push(format!("{} is not exported to {}", e.dir, cfg.clientspec)),
            Some(t) => {
                present += 1;
                let unmet = table::unmet(&e.options, &t.flags, Table::Etab);
                if !unmet.is_empty() {
                    problems.push(format!(
                        "{} is exported to {} without {}",
                        e.dir,
                        cfg.clientspec,
                        unmet.join(",")
                    ));
                }
            }
        }
        // The kernel's cache, where a client has made it load the export: what nfsd serves.
        for k in kernel.iter().filter(mine) {
            let unmet = table::unmet(&e.options, &k.flags, Table::Kernel);
            if !unmet.is_empty() {
                problems.push(format!(
                    "the kernel serves {} to {} without {} ({})",
                    e.dir,
                    cfg.clientspec,
                    unmet.join(","),
                    k.flags.join(",")
                ));
            }
        }
    }
    if problems.is_empty() {
        Found::All
    } else if present == 0 && problems.len() == cfg.exports.len() {
        Found::None
    } else {
        Found::Broken(problems.join("; "))
    }
}

/// Read the tables and compare. The kernel's tables are absent without nfsd: empty then.
pub fn found(cfg: &Config) -> OcfResult<Found> {
    let etab = table::read(&cfg.paths.etab)
        .map_err(|e| OcfError::generic(format!("reading {}: {e}", cfg.paths.etab.display())))?;
    let mut kernel = table::read(&cfg.paths.kernel_exports).unwrap_or_default();
    kernel.extend(table::read(&cfg.paths.export_cache).unwrap_or_default());
    Ok(compare(cfg, &etab, &kernel))
}

pub fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    // etab is on disk and survives a reboot; our state file is under /run and does not. A
    // probe after a reboot finds the stale etab entry and no state file: not running.
    if !cfg.state_file.exists() {
        return Ok(Status::NotRunning);
    }
    match found(cfg)? {
        Found::None => Ok(Status::NotRunning),
        Found::Broken(why) => Err(OcfError::generic(why)),
        Found::All => {
            if !nfsd::running(&cfg.paths.nfsd_dir) {
                return Err(OcfError::generic(format!(
                    "exported in etab but nfsd is not running ({}/threads is missing or 0)",
                    cfg.paths.nfsd_dir.display()
                )));
            }
            if !ctx.is_probe() {
                backup_rmtab(cfg);
            }
            Ok(Status::Running)
        }
    }
}

/// Keep the rmtab backups current; a failure is logged, never fails the monitor.
pub fn backup_rmtab(cfg: &Config) {
    let Some(name) = &cfg.rmtab_backup else { return };
    for e in &cfg.exports {
        if let Err(err) = rmtab::backup(&cfg.paths.rmtab, &e.dir, name) {
            log::warn(format!("rmtab backup {}/{name}: {err}", e.dir));
        }
    }
}
