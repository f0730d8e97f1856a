//! Per-instance state under /run (a tmpfs: empty after boot, which is what a probe after a
//! reboot needs to see).
//!
//! Layout: `/run/rha/<agent>/<instance><suffix>`. `RHA_RUN_DIR` overrides `/run/rha` (tests).

use std::io;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::context::safe_file_name;

/// The root of rha's runtime state.
pub fn run_dir() -> PathBuf {
    std::env::var_os("RHA_RUN_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/rha"))
}

/// One agent's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// `/run/rha/<agent>` (not created until [`StateDir::create`]).
    pub fn for_agent(agent: &str) -> Self {
        StateDir { dir: run_dir().join(safe_file_name(agent.as_ref())) }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Create it (mode 0755) if missing.
    pub fn create(&self) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(&self.dir)
    }

    /// The file for `name` (already a safe file name or made one).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(safe_file_name(name.as_ref()))
    }

    /// The file for this instance with a suffix, e.g. `vip.pid`.
    pub fn instance_file(&self, ctx: &Context, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", ctx.instance_file_name()))
    }

    /// Write atomically (temp file + rename), creating the directory.
    pub fn write(&self, path: &Path, content: &[u8]) -> io::Result<()> {
        self.create()?;
        write_atomic(path, content)
    }
}

/// The prefix of the temporary files [`write_atomic`] writes beside `path`: hidden, and named
/// after the file so that [`remove_if_exists`] can find the leftovers of an interrupted write.
fn temp_prefix(path: &Path) -> Option<String> {
    path.file_name().map(|n| format!(".{}.tmp", n.to_string_lossy()))
}

/// Write a file so readers see either the old or the new content, never a partial one.
/// An agent SIGKILLed in here (Pacemaker's timeout) leaves a hidden temporary file, which the
/// next [`remove_if_exists`] of the same path removes.
pub fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let prefix = temp_prefix(path).ok_or_else(|| io::Error::other("state file path has no file name"))?;
    let tmp = path.with_file_name(format!("{prefix}{}", std::process::id()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Remove a file, and any leftovers of interrupted [`write_atomic`]s of it; a missing file is
/// fine.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    if let (Some(prefix), Some(dir)) = (temp_prefix(path), path.parent())
        && let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
    {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_and_remove() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"22").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"22");
        remove_if_exists(&p).unwrap();
        remove_if_exists(&p).unwrap();
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn remove_takes_leftovers_of_interrupted_writes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("vip.lo");
        // What a writer killed between write and rename leaves behind.
        std::fs::write(d.path().join(".vip.lo.tmp4242"), b"partial").unwrap();
        std::fs::write(d.path().join("other"), b"keep").unwrap();
        remove_if_exists(&p).unwrap();
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("other")]);
    }
}
