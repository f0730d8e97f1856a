//! The kernel nfsd's control files under /proc/fs/nfsd (the nfsd filesystem).

use std::path::Path;

/// nfsd's thread count, None when the nfsd filesystem is not mounted (or unreadable).
pub fn threads(nfsd_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(nfsd_dir.join("threads")).ok()?.trim().parse().ok()
}

/// nfsd is serving: its filesystem is mounted and it has threads.
pub fn running(nfsd_dir: &Path) -> bool {
    threads(nfsd_dir).is_some_and(|n| n > 0)
}

/// The NFSv4 lease time in seconds.
pub fn lease_time(nfsd_dir: &Path) -> Option<u64> {
    std::fs::read_to_string(nfsd_dir.join("nfsv4leasetime")).ok()?.trim().parse().ok()
}

/// Release every NFS lock on the filesystem holding `dir`.
pub fn unlock_filesystem(nfsd_dir: &Path, dir: &str) -> std::io::Result<()> {
    std::fs::write(nfsd_dir.join("unlock_filesystem"), format!("{dir}\n"))
}
