//! Per-instance state under /run (a tmpfs: empty after boot, which is what a probe after a
//! reboot needs to see).
//!
//! Layout: `/run/rha/<agent>/<instance><suffix>`. `RHA_RUN_DIR` overrides `/run/rha` (tests).

use std::io;
use std::path::PathBuf;

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
    pub fn path(&self) -> &std::path::Path {
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
    pub fn write(&self, path: &std::path::Path, content: &[u8]) -> io::Result<()> {
        self.create()?;
        write_atomic(path, content)
    }
}

/// Write a file so readers see either the old or the new content, never a partial one.
pub fn write_atomic(path: &std::path::Path, content: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Remove a file; a missing file is fine.
pub fn remove_if_exists(path: &std::path::Path) -> io::Result<()> {
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
}
