//! Network namespaces: switching the calling thread into a named one (`ip netns exec`
//! without a process).

use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Where `ip netns add NAME` puts the namespace handles.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Whether `name` can name a namespace under [`NETNS_RUN_DIR`] (one path component).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']) && name.len() < 256
}

/// The handle of the namespace called `name`.
pub fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Move the calling thread (in a single-threaded process: the process) into the network
/// namespace `name`, as created by `ip netns add`. Sockets opened afterwards live there.
/// A missing namespace is `NotFound`.
pub fn enter(name: &str) -> io::Result<()> {
    if !valid_name(name) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid namespace name {name:?}")));
    }
    enter_path(&path_of(name))
}

/// Like [`enter`], with the namespace given by a file (`/proc/PID/ns/net`, a bind mount).
pub fn enter_path(path: &Path) -> io::Result<()> {
    let f = std::fs::File::open(path)?;
    // SAFETY: setns on a descriptor we hold open.
    crate::sys::cvt(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("blue"));
        assert!(!valid_name(""));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert_eq!(path_of("blue"), PathBuf::from("/run/netns/blue"));
        assert_eq!(enter("../etc").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(enter("rha-surely-missing-ns").unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
