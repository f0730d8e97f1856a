//! One lab node: its private directories, its mount namespace and its daemons.
//!
//! A node is a network namespace plus a private mount (and UTS) namespace, held open by an
//! "anchor" process (`sleep infinity`). Corosync, pacemakerd and every command the tests run
//! in the node enter the anchor's namespaces with `nsenter`. A fresh `ip netns exec` would not
//! do: libqb IPC lives in the node's own /dev/shm, which only exists in that mount namespace.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::unistd::{Group, User, chown};

use crate::cmd::{self, Cmd, shell_quote};
use crate::netns::Netns;

use super::ocf::OcfTree;

/// Printed by the anchor once its mounts are in place.
const READY: &str = "RHA-NODE-READY";

/// Limit for the anchor to set up its mounts.
const ANCHOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Host-side directories of one node (under the lab's work dir), bind-mounted into the node.
#[derive(Clone, Debug)]
pub struct NodeDirs {
    pub root: PathBuf,
}

impl NodeDirs {
    pub fn new(root: PathBuf) -> NodeDirs {
        NodeDirs { root }
    }

    /// Pairs of (host directory, mount point inside the node) for the cluster stack.
    fn binds(&self, www: bool) -> Vec<(PathBuf, &'static str)> {
        let mut v = vec![
            (self.root.join("var-lib-pacemaker"), "/var/lib/pacemaker"),
            (self.root.join("var-lib-corosync"), "/var/lib/corosync"),
            (self.root.join("var-log-pacemaker"), "/var/log/pacemaker"),
            (self.root.join("var-log-corosync"), "/var/log/corosync"),
            (self.root.join("etc-corosync"), "/etc/corosync"),
            // crmsh refuses to start without its log directory (missing in the VM).
            (self.root.join("var-log-crmsh"), "/var/log/crmsh"),
        ];
        if www {
            v.push((self.www(), "/var/www/html"));
            v.push((self.root.join("var-log-apache2"), "/var/log/apache2"));
        }
        v
    }

    /// The node's copy of host directory `path` (see `LabConfig::private_dirs`).
    pub fn private_copy(&self, path: &Path) -> PathBuf {
        self.root.join("private").join(path.strip_prefix("/").unwrap_or(path))
    }

    /// Copies each of `dirs` from the host (contents, owners, modes) into the node's tree.
    pub fn create_private_copies(&self, dirs: &[PathBuf]) -> Result<()> {
        for d in dirs {
            let copy = self.private_copy(d);
            fs::create_dir_all(&copy).with_context(|| format!("creating {}", copy.display()))?;
            if d.is_dir() {
                // `cp -a SRC/. DST`: contents with owners, modes and symlinks as they are.
                let src = format!("{}/.", d.display());
                Cmd::new("cp").args(["-a", &src]).arg(&copy).run_ok()?;
            }
        }
        Ok(())
    }

    /// The directory served as /var/www/html in the node.
    pub fn www(&self) -> PathBuf {
        self.root.join("www")
    }

    pub fn pacemaker_log(&self) -> PathBuf {
        self.root.join("var-log-pacemaker/pacemaker.log")
    }

    pub fn corosync_log(&self) -> PathBuf {
        self.root.join("var-log-corosync/corosync.log")
    }

    /// stdout/stderr of a daemon we started.
    pub fn daemon_output(&self, daemon: &str) -> PathBuf {
        self.root.join(format!("{daemon}.out"))
    }

    /// Creates the directories (once per lab) with the owners the daemons expect.
    pub fn create(&self, node_name: &str, corosync_conf: &str, cib: &str, www: bool) -> Result<()> {
        let ha = User::from_name("hacluster")?.context("user hacluster missing (install pacemaker)")?;
        let haclient = Group::from_name("haclient")?.context("group haclient missing (install pacemaker)")?;
        let mkdir = |p: &Path, mode: u32, hacluster: bool| -> Result<()> {
            fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
            fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
            if hacluster {
                chown(p, Some(ha.uid), Some(haclient.gid))
                    .with_context(|| format!("chown {}", p.display()))?;
            }
            Ok(())
        };
        let pcmk = self.root.join("var-lib-pacemaker");
        mkdir(&pcmk, 0o755, false)?;
        for sub in ["cib", "pengine", "blackbox", "cores"] {
            mkdir(&pcmk.join(sub), 0o750, true)?;
        }
        let cib_file = pcmk.join("cib/cib.xml");
        fs::write(&cib_file, cib)?;
        fs::set_permissions(&cib_file, fs::Permissions::from_mode(0o600))?;
        chown(&cib_file, Some(ha.uid), Some(haclient.gid))?;
        mkdir(&self.root.join("var-lib-corosync"), 0o755, false)?;
        mkdir(&self.root.join("var-log-pacemaker"), 0o770, true)?;
        mkdir(&self.root.join("var-log-pacemaker/bundles"), 0o770, true)?;
        mkdir(&self.root.join("var-log-corosync"), 0o755, false)?;
        mkdir(&self.root.join("var-log-crmsh"), 0o775, true)?;
        let etc = self.root.join("etc-corosync");
        mkdir(&etc, 0o755, false)?;
        mkdir(&etc.join("uidgid.d"), 0o755, false)?;
        fs::write(etc.join("corosync.conf"), corosync_conf)?;
        if www {
            mkdir(&self.www(), 0o755, false)?;
            let page = self.www().join("index.html");
            fs::write(&page, format!("{node_name}\n"))?;
            fs::set_permissions(&page, fs::Permissions::from_mode(0o644))?;
            mkdir(&self.root.join("var-log-apache2"), 0o755, false)?;
        }
        Ok(())
    }

    /// The script the anchor runs inside its fresh mount namespace before it sleeps.
    pub fn mount_script(
        &self,
        node_name: &str,
        ocf: Option<&OcfTree>,
        www: bool,
        hosts: &Path,
        private_dirs: &[PathBuf],
    ) -> String {
        let mut s = String::from("set -eu\n");
        s += &format!("hostname {}\n", shell_quote(node_name));
        // mkdir -p: mount points may be missing (the VM's /var/log starts empty). It creates
        // them only if missing, on the shared root filesystem.
        let bind = |src: &Path, dst: &str| {
            let dst = shell_quote(dst);
            format!("mkdir -p {dst}\nmount --bind {} {dst}\n", shell_quote(&src.to_string_lossy()))
        };
        for (src, dst) in self.binds(www) {
            s += &bind(&src, dst);
        }
        for d in private_dirs {
            s += &bind(&self.private_copy(d), &d.to_string_lossy());
        }
        if let Some(tree) = ocf {
            s += &tree.mount_commands();
        }
        // The lab's /etc/hosts names every node, as a real cluster's would (apache, pcs and
        // crmsh look the node names up).
        s += &format!("mount --bind {} /etc/hosts\n", shell_quote(&hosts.to_string_lossy()));
        // Private /dev/shm (libqb IPC) and /run (pid files, /run/crm, apache's run dir).
        s += "mount -t tmpfs -o mode=1777 rha-shm /dev/shm\n";
        s += "mount -t tmpfs -o mode=0755 rha-run /run\n";
        s += "mkdir -p /run/crm /run/resource-agents /run/lock\n";
        s += "chown hacluster:haclient /run/crm\n";
        s += "chmod 1777 /run/lock\n";
        s += &format!("echo {READY}\n");
        s += "exec sleep infinity </dev/null >/dev/null 2>&1\n";
        s
    }
}

/// Starts the anchor of a node in `ns` and waits until its mounts are in place.
pub fn spawn_anchor(ns: &Netns, script: &str) -> Result<Child> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .args(["unshare", "--mount", "--uts", "--propagation", "private"])
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Not in our process group: a Ctrl-C aimed at the test must not half-kill the lab;
        // teardown (or the next sweep) removes it.
        .process_group(0)
        .spawn()
        .context("starting node anchor (ip netns exec ... unshare)")?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim() == READY {
                let _ = tx.send(());
                break;
            }
        }
    });
    let err_text = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    if rx.recv_timeout(ANCHOR_TIMEOUT).is_ok() {
        return Ok(child);
    }
    cmd::kill_group(&mut child);
    let err = err_text.join().unwrap_or_default();
    bail!(
        "node anchor in {} did not get ready within {ANCHOR_TIMEOUT:?}; its stderr:\n{}",
        ns.name(),
        err.trim_end()
    )
}

/// A command that runs `argv` in the namespaces of the anchor `pid`.
pub fn nsenter<S: AsRef<std::ffi::OsStr>>(pid: u32, argv: &[S]) -> Cmd {
    Cmd::new("nsenter").args(["-t", &pid.to_string(), "-m", "-n", "-u", "--"]).args(argv)
}

/// Starts a daemon in the anchor's namespaces, detached (new session, reparented away from
/// us) so it outlives this process when `rha-lab up` returns. Output goes to `log`.
pub fn spawn_daemon(pid: u32, argv: &[&str], log: &Path) -> Result<()> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut child = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "-n", "-u", "--", "setsid", "-f"])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {argv:?} via nsenter"))?;
    // `setsid -f` forks the daemon and exits at once.
    match cmd::wait_timeout(&mut child, Duration::from_secs(30))? {
        Some(s) if s.success() => Ok(()),
        Some(s) => bail!("starting {argv:?} failed: {s}; see {}", log.display()),
        None => {
            cmd::kill_group(&mut child);
            bail!("starting {argv:?} hung; see {}", log.display())
        }
    }
}

/// Last `lines` lines of a file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(s) => {
            let v: Vec<&str> = s.lines().collect();
            v[v.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}
