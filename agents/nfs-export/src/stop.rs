//! Stop: unexport, unlock the filesystem when asked (only when no other client keeps the
//! directory), wait for the NFSv4 lease when asked (within the deadline), and flush the
//! kernel's export cache with a bound (upstream loops forever, #2070).

use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult, log};

use crate::params::Config;
use crate::table::{self, Entry};
use crate::{monitor, nfsd};

fn etab(cfg: &Config) -> OcfResult<Vec<Entry>> {
    table::read(&cfg.paths.etab)
        .map_err(|e| OcfError::generic(format!("reading {}: {e}", cfg.paths.etab.display())))
}

fn exported_to_us(cfg: &Config, entries: &[Entry], dir: &str) -> bool {
    entries.iter().any(|t| t.path == dir && table::same_client(&t.client, &cfg.clientspec))
}

/// Valid kernel cache entries of ours (the cache prints invalid ones as comments).
fn cached(cfg: &Config) -> Vec<String> {
    let mut k = table::read(&cfg.paths.export_cache).unwrap_or_default();
    k.extend(table::read(&cfg.paths.kernel_exports).unwrap_or_default());
    cfg.exports
        .iter()
        .filter(|e| k.iter().any(|t| t.path == e.dir && table::same_client(&t.client, &cfg.clientspec)))
        .map(|e| e.dir.clone())
        .collect()
}

pub fn stop(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let before = etab(cfg)?;
    let ours: Vec<_> = cfg.exports.iter().filter(|e| exported_to_us(cfg, &before, &e.dir)).collect();
    if !ours.is_empty() {
        monitor::backup_rmtab(cfg);
        for e in &ours {
            crate::start::exportfs(&["-u".to_string(), cfg.target(e)], ctx)?;
        }
    }
    let after = etab(cfg)?;
    let left: Vec<_> =
        cfg.exports.iter().filter(|e| exported_to_us(cfg, &after, &e.dir)).map(|e| e.dir.as_str()).collect();
    if !left.is_empty() {
        return Err(OcfError::generic(format!(
            "still exported to {} after exportfs -u: {}",
            cfg.clientspec,
            left.join(" ")
        )));
    }

    if cfg.unlock_on_stop && nfsd::running(&cfg.paths.nfsd_dir) {
        for e in &cfg.exports {
            // Unlocking is per filesystem: another resource exporting this directory to other
            // clients would lose its locks, so only the last one out unlocks.
            let others: Vec<_> =
                after.iter().filter(|t| t.path == e.dir).map(|t| t.client.as_str()).collect();
            if !others.is_empty() {
                log::info(format!("not unlocking {}: still exported to {}", e.dir, others.join(" ")));
                continue;
            }
            if let Err(err) = nfsd::unlock_filesystem(&cfg.paths.nfsd_dir, &e.dir) {
                log::warn(format!("unlocking {}: {err}", e.dir));
            }
        }
    }

    if cfg.wait_for_leasetime_on_stop && !ours.is_empty() {
        if let Some(lease) = nfsd::lease_time(&cfg.paths.nfsd_dir) {
            let want = Duration::from_secs(lease + 2);
            // Keep a little of the deadline for the cache flush below.
            let room = ctx.deadline.remaining().saturating_sub(Duration::from_secs(2));
            if room < want {
                log::warn(format!(
                    "stop timeout too short for the NFSv4 lease ({}s + 2s): waiting only {}s; raise the stop timeout",
                    lease,
                    room.as_secs()
                ));
            }
            std::thread::sleep(want.min(room));
        }
    }

    // Flush the kernel's export cache until our entries are gone, with a bound.
    if !cached(cfg).is_empty() {
        let bound = ctx.deadline.cap(Duration::from_secs(10));
        let flushed = bound.wait_for(Duration::from_millis(200), || {
            let _ = crate::start::exportfs(&["-f".to_string()], ctx);
            cached(cfg).is_empty()
        });
        if !flushed {
            return Err(OcfError::generic(format!(
                "the kernel's export cache still holds {} for {} after exportfs -f",
                cached(cfg).join(" "),
                cfg.clientspec
            )));
        }
    }
    ocf_shim::state::remove_if_exists(&cfg.state_file)
        .map_err(|e| OcfError::generic(format!("removing {}: {e}", cfg.state_file.display())))
}
