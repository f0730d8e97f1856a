//! A node-wide lock between agent processes, for state several resources share on one node
//! (e.g. the instances of one clone on one node programming the same firewall table).
//!
//! It is an `flock` on a file in the agent's state directory: the kernel releases it when the
//! holder dies (Pacemaker SIGKILLs an agent at its timeout), so a lock is never left stale.
//! The holder removes the file when it is done, so nothing stays behind after stop; a waiter
//! that locked a file removed meanwhile notices (the path names another file, or none) and
//! tries again.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exit::{OcfError, OcfResult};

/// How often a busy lock is tried again.
const POLL: Duration = Duration::from_millis(10);

/// A held lock; dropping it releases it and removes its file.
#[derive(Debug)]
pub struct NodeLock {
    file: File,
    path: PathBuf,
}

impl NodeLock {
    /// Takes the lock at `path` (creating the file), waiting at most until `deadline`.
    pub fn acquire(path: &Path, deadline: &Deadline) -> OcfResult<NodeLock> {
        let fail = |e: io::Error| OcfError::generic(format!("cannot lock {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(fail)?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                // Still the file at `path`? (Its last holder may have removed it meanwhile.)
                let held = file.metadata().map_err(fail)?;
                match std::fs::metadata(path) {
                    Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                        return Ok(NodeLock { file, path: path.to_path_buf() });
                    }
                    _ => continue,
                }
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(fail(e));
            }
            if deadline.remaining() <= POLL {
                return Err(OcfError::generic(format!(
                    "timed out waiting for the lock {} (held by another operation on this node)",
                    path.display()
                )));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        // Removed while still held: a waiter that opened the old file sees it is gone.
        let _ = std::fs::remove_file(&self.path);
        // SAFETY: unlocking a descriptor we own (closing it would do the same).
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_holder_at_a_time_and_nothing_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.lock");
        let inside = Arc::new(AtomicU32::new(0));
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (path, inside, start) = (path.clone(), inside.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..20 {
                        let _l = NodeLock::acquire(&path, &Deadline::after(Duration::from_secs(20))).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                        std::thread::sleep(Duration::from_micros(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(!path.exists(), "the lock file stays behind");
    }

    #[test]
    fn a_busy_lock_times_out_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.lock");
        let _held = NodeLock::acquire(&path, &Deadline::after(Duration::from_secs(5))).unwrap();
        // flock locks belong to the open file: a second open in this process conflicts too.
        let e = NodeLock::acquire(&path, &Deadline::after(Duration::from_millis(50))).unwrap_err();
        assert!(e.reason.contains("timed out waiting for the lock"), "{}", e.reason);
    }
}
