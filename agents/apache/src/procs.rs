//! Which processes belong to this instance, from /proc.
//!
//! - The main httpd is the pid in the PidFile, if that process is alive and is an httpd.
//! - Its processes are: the main one; everything in its session when it leads one (httpd
//!   started by the agent, or daemonized, always does); its process tree; and every process
//!   whose environment carries this instance's marker ([`crate::instance::TAG_VAR`]), which
//!   the agent puts into httpd's environment at start. The marker finds a server whose agent
//!   was killed before the PidFile existed, and children orphaned by a dead main process.
//!
//! Never by name patterns: another instance's processes have another marker, another session
//! and another tree.

use std::path::{Path, PathBuf};

use ocf_shim::process::pid_alive;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub ppid: i32,
    pub sid: i32,
    /// `R`, `S`, `D`, `T` (stopped), `Z` (zombie), ...
    pub state: char,
}

/// Parse one process's stat line.
pub fn stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &s)
}

fn parse_stat(pid: i32, s: &str) -> Option<ProcStat> {
    // "pid (comm) S ppid pgrp session ..." — comm may contain spaces and parentheses.
    let (_, rest) = s.rsplit_once(')')?;
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let _pgrp: i32 = f.next()?.parse().ok()?;
    let sid = f.next()?.parse().ok()?;
    Some(ProcStat { pid, ppid, sid, state })
}

/// Every process (zombies included).
pub fn all() -> Vec<ProcStat> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(stat)
        .collect()
}

/// The executable, without the " (deleted)" suffix an upgraded binary gets.
pub fn exe(pid: i32) -> Option<PathBuf> {
    let p = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = p.to_string_lossy();
    Some(match s.strip_suffix(" (deleted)") {
        Some(stripped) => PathBuf::from(stripped),
        None => p,
    })
}

/// Whether `pid` lives in this agent's network namespace. Cluster nodes in containers (or the
/// test lab's namespaces) share one pid namespace and often the same configuration path: a
/// process of another node is never ours, and every node has its own network namespace.
///
/// Not the mount namespace: every `ip netns exec` and many callers other than
/// pacemaker-execd (an administrator's `crm_resource --force-*`) run in a mount namespace of
/// their own, and httpd started by one call must be found by the next (issue #10 item 3).
pub fn in_our_namespaces(pid: i32) -> bool {
    static OWN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let own = OWN.get_or_init(|| std::fs::read_link("/proc/self/ns/net").ok());
    match own {
        None => true,
        Some(mine) => std::fs::read_link(format!("/proc/{pid}/ns/net")).ok().as_ref() == Some(mine),
    }
}

/// Which instance marker a process carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// This instance's.
    Ours,
    /// Another instance's: the process is never ours, whatever else points at it.
    Other,
    /// None (a process the agent did not start, or one that cleared its environment).
    None,
}

/// The marker in a process's initial environment. `tag` is `NAME=value`.
pub fn marker(pid: i32, tag: &[u8]) -> Marker {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { return Marker::None };
    marker_in(&env, tag)
}

fn marker_in(environ: &[u8], tag: &[u8]) -> Marker {
    let name_len = tag.iter().position(|&b| b == b'=').map_or(tag.len(), |i| i + 1);
    let prefix = &tag[..name_len];
    match environ.split(|&b| b == 0).find(|e| e.starts_with(prefix)) {
        Some(e) if e == tag => Marker::Ours,
        Some(_) => Marker::Other,
        None => Marker::None,
    }
}

/// Whether `pid` runs an httpd: the configured binary, or one named like httpd/apache.
pub fn looks_like_httpd(pid: i32, httpd: Option<&Path>) -> bool {
    let Some(exe) = exe(pid) else { return false };
    if let Some(h) = httpd {
        let canonical = std::fs::canonicalize(h).unwrap_or_else(|_| h.to_path_buf());
        if exe == canonical {
            return true;
        }
    }
    exe.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("httpd") || n.starts_with("apache"))
}

/// What the PidFile says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidFile {
    /// No pid file (or no configuration to name one).
    Missing,
    /// The pid file names a live httpd.
    Running(i32),
    /// The pid file names a process that is gone (or is not an httpd: a reused pid).
    Stale(i32),
}

/// Read the pid file and check the process it names.
pub fn read_pid_file(path: Option<&Path>, httpd: Option<&Path>, tag: &[u8]) -> PidFile {
    let Some(path) = path else { return PidFile::Missing };
    match ocf_shim::process::read_pidfile(path) {
        Ok(Some(pid)) => {
            let ours = match marker(pid, tag) {
                Marker::Ours => true,
                // A reused pid now running another instance's httpd (issue #10 item 4).
                Marker::Other => false,
                Marker::None => looks_like_httpd(pid, httpd),
            };
            if pid_alive(pid) && in_our_namespaces(pid) && ours {
                PidFile::Running(pid)
            } else {
                PidFile::Stale(pid)
            }
        }
        _ => PidFile::Missing,
    }
}

/// All processes of this instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    /// The main httpd: from the pid file, else the session leader carrying the marker.
    pub main: Option<i32>,
    /// Every live (non-zombie) member, the main one included, sorted.
    pub pids: Vec<i32>,
}

impl Members {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    /// Members other than the main process.
    pub fn others(&self) -> Vec<i32> {
        self.pids.iter().copied().filter(|&p| Some(p) != self.main).collect()
    }
}

/// A dead main process whose session may have left orphans behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stale {
    None,
    /// Named by a pid file of unknown age: only httpd processes of that session count (the
    /// file may name an unrelated session that took the id later).
    FromPidFile(i32),
    /// Seen alive by this agent a moment ago: everything left in its session is ours.
    Seen(i32),
}

/// Scan /proc for this instance's processes. `main` is the pid file's live httpd.
pub fn members(main: Option<i32>, stale: Stale, httpd: Option<&Path>, tag: &[u8]) -> Members {
    let procs = all();
    let me = std::process::id() as i32;
    // A process with another instance's marker is never a member: not through a stale pid
    // file's session, not through the process tree.
    let live: Vec<(&ProcStat, Marker)> = procs
        .iter()
        .filter(|p| p.state != 'Z' && p.state != 'X' && p.pid != me && in_our_namespaces(p.pid))
        .map(|p| (p, marker(p.pid, tag)))
        .filter(|(_, m)| *m != Marker::Other)
        .collect();
    let tagged: Vec<bool> = live.iter().map(|(_, m)| *m == Marker::Ours).collect();
    let live: Vec<&ProcStat> = live.into_iter().map(|(p, _)| p).collect();
    let tagged_leader = live.iter().zip(&tagged).find(|(p, t)| **t && p.sid == p.pid).map(|(p, _)| p.pid);
    let main = main.or(tagged_leader);
    let main_leads = main.is_some_and(|m| live.iter().any(|p| p.pid == m && p.sid == m));
    let mut pids: Vec<i32> = Vec::new();
    for (p, &t) in live.iter().zip(&tagged) {
        let member = Some(p.pid) == main
            || t
            || (main_leads && Some(p.sid) == main)
            || match stale {
                Stale::None => false,
                Stale::FromPidFile(s) => p.sid == s && looks_like_httpd(p.pid, httpd),
                Stale::Seen(s) => p.sid == s,
            };
        if member {
            pids.push(p.pid);
        }
    }
    // The process tree below the main process (e.g. CGI children that started a new session).
    if let Some(m) = main {
        let mut seen = std::collections::BTreeSet::from([m]);
        let mut frontier = vec![m];
        while let Some(parent) = frontier.pop() {
            for p in live.iter().filter(|p| p.ppid == parent) {
                if seen.insert(p.pid) {
                    frontier.push(p.pid);
                    pids.push(p.pid);
                }
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Members { main, pids }
}

/// The members still alive (not zombies).
pub fn alive(pids: &[i32]) -> Vec<i32> {
    pids.iter().copied().filter(|&p| pid_alive(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let s = parse_stat(42, "42 (a (weird) name) S 1 42 42 0 -1 4194560").unwrap();
        assert_eq!(s, ProcStat { pid: 42, ppid: 1, sid: 42, state: 'S' });
        assert!(parse_stat(1, "garbage").is_none());
        let me = stat(std::process::id() as i32).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
        // In a container whose session leader lives outside our pid namespace (CI runs so),
        // the kernel reports session 0 and parent 0: only the own pid is certain.
        assert!(me.sid >= 0 && me.ppid >= 0);
    }

    #[test]
    fn markers_tell_ours_from_another_instances() {
        let tag = b"RHA_APACHE_ID=/etc/a.conf";
        assert_eq!(marker_in(b"A=1\0RHA_APACHE_ID=/etc/a.conf\0", tag), Marker::Ours);
        assert_eq!(marker_in(b"RHA_APACHE_ID=/etc/b.conf\0", tag), Marker::Other);
        assert_eq!(marker_in(b"RHA_APACHE_ID=/etc/a.conf.bak", tag), Marker::Other);
        assert_eq!(marker_in(b"PATH=/bin\0", tag), Marker::None);
        assert_eq!(marker_in(b"", tag), Marker::None);
    }

    #[test]
    fn finds_tagged_processes_and_their_session() {
        let tag = format!("RHA_APACHE_ID=test-{}", std::process::id());
        let mut cmd = std::process::Command::new("/bin/sh");
        // A session leader with a child, both tagged by inheritance; the child also starts a
        // grandchild without the tag (env -i), found through the session.
        cmd.args(["-c", "env -i /bin/sleep 30 & /bin/sleep 30 & wait"])
            .env("RHA_APACHE_ID", tag.split_once('=').unwrap().1);
        let pid = ocf_shim::process::spawn_detached(cmd).unwrap() as i32;
        std::thread::sleep(std::time::Duration::from_millis(200));
        let m = members(None, Stale::None, None, tag.as_bytes());
        assert_eq!(m.main, Some(pid));
        assert_eq!(m.pids.len(), 3, "{m:?}");
        let other = members(None, Stale::None, None, b"RHA_APACHE_ID=someone-else");
        assert!(other.pids.iter().all(|p| !m.pids.contains(p)));
        for p in &m.pids {
            let _ = ocf_shim::process::signal(*p, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let d = ocf_shim::Deadline::after(std::time::Duration::from_secs(5));
        assert!(d.wait_for(std::time::Duration::from_millis(10), || alive(&m.pids).is_empty()));
    }
}
