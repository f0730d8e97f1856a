//! The server's processes and mounts, found through /proc (no pidof, no mount listing tool).

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use ocf_shim::{Deadline, OcfError, OcfResult};

/// The user-space daemons of an NFS server, by their /proc/<pid>/comm.
pub const RPCBIND: &str = "rpcbind";
pub const STATD: &str = "rpc.statd";
pub const MOUNTD: &str = "rpc.mountd";
pub const SM_NOTIFY: &str = "sm-notify";
/// Helpers that keep /var/lib/nfs busy (#2005, PR #2165).
pub const HELPERS: &[&str] = &["nfsdcld", "fsidd", "rpc.idmapd"];

/// Pids whose comm is `name` (not zombies).
pub fn pids(name: &str) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
                && ocf_shim::process::pid_alive(*pid)
        })
        .collect()
}

pub fn running(name: &str) -> bool {
    !pids(name).is_empty()
}

/// TERM, then KILL what is left when `grace` has passed; true when none is left.
pub fn stop_all(name: &str, grace: Duration, deadline: &Deadline) -> bool {
    for pid in pids(name) {
        let _ = ocf_shim::process::signal(pid, Signal::SIGTERM);
    }
    if deadline.cap(grace).wait_for(Duration::from_millis(50), || !running(name)) {
        return true;
    }
    for pid in pids(name) {
        let _ = ocf_shim::process::signal(pid, Signal::SIGKILL);
    }
    deadline.wait_for(Duration::from_millis(50), || !running(name))
}

/// The mount points of /proc/self/mountinfo with their filesystem types.
pub fn mounts() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((unescape(f.get(4)?), f.get(sep + 1)?.to_string()))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

pub fn is_mounted(at: &Path, fstype: Option<&str>) -> bool {
    let at = at.to_string_lossy();
    mounts().iter().any(|(p, t)| *p == at && fstype.is_none_or(|f| f == t))
}

/// Mount a kernel filesystem (nfsd, rpc_pipefs) if it is not mounted there.
pub fn ensure_mounted(fstype: &str, at: &Path) -> OcfResult<()> {
    if is_mounted(at, Some(fstype)) {
        return Ok(());
    }
    std::fs::create_dir_all(at).map_err(|e| OcfError::generic(format!("{}: {e}", at.display())))?;
    nix::mount::mount(Some(fstype), at, Some(fstype), nix::mount::MsFlags::empty(), None::<&str>)
        .map_err(|e| OcfError::generic(format!("mounting {fstype} on {}: {e}", at.display())))
}

/// Processes with a cwd, root or open file under `dir` (what keeps it from unmounting).
pub fn holders(dir: &Path) -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    let under = |p: &Path| p.starts_with(dir);
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let base = format!("/proc/{pid}");
            if ["cwd", "root"]
                .iter()
                .any(|l| std::fs::read_link(format!("{base}/{l}")).is_ok_and(|p| under(&p)))
            {
                return true;
            }
            std::fs::read_dir(format!("{base}/fd"))
                .map(|fds| fds.filter_map(|f| std::fs::read_link(f.ok()?.path()).ok()).any(|p| under(&p)))
                .unwrap_or(false)
        })
        .map(|pid| {
            (pid, std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_paths_are_unescaped_and_root_is_mounted() {
        assert_eq!(unescape("/srv/a\\040b\\134c"), "/srv/a b\\c");
        assert!(is_mounted(Path::new("/proc"), Some("proc")));
        assert!(!is_mounted(Path::new("/proc"), Some("ext4")));
        assert!(pids("surely-no-such-daemon").is_empty());
    }
}
