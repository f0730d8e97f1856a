//! Monitor: /proc only (nfsd's thread count and the daemons' comm).
//!
//! The kernel server is what decides "running": nfsd without threads is not running (an NFS
//! client node runs rpc.statd and rpcbind of its own, and a probe there must say 7, not
//! "partly running"), unless this agent started the server this boot and mountd or statd
//! still run: then it is broken (1). With threads, mountd (and statd unless NFSv4-only)
//! must run and /var/lib/nfs must be the shared infodir.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ocf_shim::{Context, OcfError, OcfResult, Status};

use crate::daemons::{self, MOUNTD, STATD};
use crate::params::Config;

pub fn nfsd_threads(cfg: &Config) -> Option<u32> {
    std::fs::read_to_string(cfg.nfsd_dir.join("threads")).ok()?.trim().parse().ok()
}

/// `libdir` shows `infodir` (a bind mount of it): the same device and inode.
pub fn same_dir(libdir: &Path, infodir: &Path) -> bool {
    match (std::fs::metadata(libdir), std::fs::metadata(infodir)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

pub fn monitor(cfg: &Config, _ctx: &Context) -> OcfResult<Status> {
    if nfsd_threads(cfg).is_none_or(|n| n == 0) {
        // Started by us this boot (the state file is under /run) and some of it still up:
        // broken, not cleanly stopped. Otherwise the statd/mountd here are not ours.
        let leftover: Vec<&str> = [MOUNTD, STATD].into_iter().filter(|d| daemons::running(d)).collect();
        if cfg.state_file.exists() && !leftover.is_empty() {
            return Err(OcfError::generic(format!(
                "nfsd has no threads ({}/threads) while {} still run",
                cfg.nfsd_dir.display(),
                leftover.join(" and ")
            )));
        }
        return Ok(Status::NotRunning);
    }
    let mut missing = vec![];
    if !daemons::running(MOUNTD) {
        missing.push("rpc.mountd".to_string());
    }
    if !cfg.v4_only && !daemons::running(STATD) {
        missing.push("rpc.statd".to_string());
    }
    if let Some(info) = &cfg.infodir {
        if !same_dir(&cfg.libdir, info) {
            missing.push(format!("{} bind-mounted on {}", info.display(), cfg.libdir.display()));
        }
    }
    if missing.is_empty() {
        Ok(Status::Running)
    } else {
        Err(OcfError::generic(format!(
            "NFS server partly running (nfsd has threads): {} missing",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_dir_is_device_and_inode() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::os::unix::fs::symlink(&a, d.path().join("link")).unwrap();
        assert!(same_dir(&a, &a));
        assert!(same_dir(&d.path().join("link"), &a));
        assert!(!same_dir(&a, &b));
        assert!(!same_dir(&d.path().join("missing"), &a));
    }
}
