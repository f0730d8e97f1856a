//! A node for one agent instance: its own network namespace (rha-harness naming, so parallel
//! runs by others are never swept by ours) and a private mount namespace with a fresh tmpfs on
//! /run (so `/run/rha/<agent>/`, `/run/apache2`, pid files are this sandbox's alone), held
//! open by a `sleep` process. Agents run inside with `nsenter -t <holder> -m -n`
//! ([`crate::Place::Namespaces`]). Dropping it kills everything inside and deletes the
//! namespaces.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use rha_harness::cmd::{Cmd, CmdOutput, shell_quote};
use rha_harness::netns::{self, Netns};

use crate::agent::{AgentUnderTest, Place};

/// Names of the namespaces this process created through [`Sandbox`] and still holds.
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn track(name: &str) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string());
}

fn untrack(name: &str) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
}

/// Namespaces named as ours (`rha-<our pid>-...`) that no live [`Sandbox`] holds: leftovers.
pub fn leftover_namespaces() -> Result<Vec<String>, String> {
    let me = std::process::id();
    let live = LIVE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let all = netns::list_ours().map_err(|e| format!("{e:#}"))?;
    Ok(all.into_iter().filter(|n| netns::owner_of(n) == Some(me) && !live.contains(n)).collect())
}

/// How to build a [`Sandbox`].
#[derive(Clone, Debug, Default)]
pub struct SandboxBuilder {
    tag: String,
    /// Host directory → path inside (bind mounts).
    binds: Vec<(PathBuf, PathBuf)>,
    /// Paths inside that get an empty private directory (under [`Sandbox::dir`]).
    private: Vec<PathBuf>,
    /// A veth `eth0` to a peer namespace, with these addresses here and there.
    link: Option<(Vec<String>, Vec<String>)>,
}

impl SandboxBuilder {
    /// Bind-mounts a host directory over `inside` (e.g. a private /var/log/apache2).
    pub fn bind(mut self, host: &Path, inside: &str) -> Self {
        self.binds.push((host.to_path_buf(), PathBuf::from(inside)));
        self
    }

    /// Gives `inside` (e.g. /var/log/apache2) an empty private directory, kept under
    /// [`Sandbox::dir`] so the test can read what was written there.
    pub fn private_dir(mut self, inside: &str) -> Self {
        self.private.push(PathBuf::from(inside));
        self
    }

    /// Connects `eth0` to a peer namespace's `eth0` (so it has carrier), with `here` and
    /// `peer` addresses (test ranges only; rha-harness refuses others).
    pub fn link(mut self, here: &[&str], peer: &[&str]) -> Self {
        self.link = Some((
            here.iter().map(|s| s.to_string()).collect(),
            peer.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }

    pub fn build(self) -> Result<Sandbox, String> {
        let ns = Netns::new(&self.tag)
            .map_err(|e| format!("creating a network namespace (run as root): {e:#}"))?;
        track(ns.name());
        let dir = tempfile::Builder::new().prefix("rha-sandbox-").tempdir().map_err(|e| e.to_string())?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let mut sb = Sandbox { ns: Some(ns), peer: None, holder: None, dir };
        if let Some((here, there)) = &self.link {
            let peer = Netns::new(&format!("{}p", self.tag)).map_err(|e| format!("{e:#}"))?;
            track(peer.name());
            let ns = sb.ns();
            let r = (|| -> anyhow::Result<()> {
                ns.add_veth("eth0", &peer, "eth0")?;
                ns.link_up("eth0")?;
                peer.link_up("eth0")?;
                for a in here {
                    ns.add_addr("eth0", a)?;
                }
                for a in there {
                    peer.add_addr("eth0", a)?;
                }
                Ok(())
            })();
            sb.peer = Some(peer);
            r.map_err(|e| format!("setting up the sandbox's link: {e:#}"))?;
        }
        let mut script = String::from("set -e; mount -t tmpfs -o mode=0755 tmpfs /run; mkdir -p /run/lock; ");
        let mut binds = self.binds.clone();
        for inside in &self.private {
            let name: String = inside.to_string_lossy().trim_matches('/').replace('/', "_");
            let host = sb.dir.path().join("private").join(name);
            std::fs::create_dir_all(&host).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            binds.push((host, inside.clone()));
        }
        for (host, inside) in &binds {
            script += &format!(
                "mkdir -p {inside}; mount --bind {host} {inside}; ",
                host = shell_quote(&host.to_string_lossy()),
                inside = shell_quote(&inside.to_string_lossy())
            );
        }
        script += "echo ready; exec sleep 2147483647";
        let mut holder = Command::new("ip")
            .args([
                "netns",
                "exec",
                sb.ns().name(),
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
            ])
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the sandbox holder: {e}"))?;
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().expect("piped")).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let o = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!("sandbox setup failed: {}", String::from_utf8_lossy(&o.stderr)));
        }
        sb.holder = Some(holder);
        Ok(sb)
    }
}

/// See the module documentation.
pub struct Sandbox {
    ns: Option<Netns>,
    peer: Option<Netns>,
    holder: Option<Child>,
    /// A host directory for the test's files (configuration, logs); removed on drop.
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// `tag`: ASCII letters and digits, shown in the namespace's name.
    pub fn builder(tag: &str) -> SandboxBuilder {
        SandboxBuilder { tag: tag.to_string(), ..Default::default() }
    }

    /// A plain sandbox (no link, no binds).
    pub fn new(tag: &str) -> Result<Sandbox, String> {
        Sandbox::builder(tag).build()
    }

    pub fn ns(&self) -> &Netns {
        self.ns.as_ref().expect("sandbox namespace")
    }

    /// The peer namespace at the other end of `eth0`, if built with a link.
    pub fn peer(&self) -> Option<&Netns> {
        self.peer.as_ref()
    }

    /// Pid of the process holding the namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.holder.as_ref().expect("holder").id()
    }

    /// Where agents run to be in this sandbox.
    pub fn place(&self) -> Place {
        Place::Namespaces(self.holder_pid())
    }

    /// An agent running in this sandbox.
    pub fn agent(&self, name: &str, binary: &Path) -> AgentUnderTest {
        AgentUnderTest::new(name, binary, self.place())
    }

    /// A path inside the sandbox, seen from the host (through the holder's root).
    pub fn inside(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{}", self.holder_pid(), path))
    }

    /// A command run inside (network and mount namespaces).
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Cmd {
        Cmd::new("nsenter").args(["-t", &self.holder_pid().to_string(), "-m", "-n", "--"]).args(argv)
    }

    /// Runs a shell script inside; the output whatever the status.
    pub fn sh(&self, script: &str) -> Result<CmdOutput, String> {
        self.cmd(&["sh", "-c", script]).run().map_err(|e| format!("{e:#}"))
    }

    /// Runs a shell script inside; fails unless it exits 0.
    pub fn sh_ok(&self, script: &str) -> Result<CmdOutput, String> {
        self.cmd(&["sh", "-c", script]).run_ok().map_err(|e| format!("{e:#}"))
    }

    /// `ip <args>` in the sandbox's network namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        self.ns().ip(args).map(|o| o.stdout).map_err(|e| format!("{e:#}"))
    }

    /// Live processes in the sandbox's network namespace other than the holder, with their
    /// command names.
    pub fn processes(&self) -> Vec<(u32, String)> {
        processes_in(self.ns().name(), &[self.holder_pid()])
    }
}

/// Live (non-zombie) processes of network namespace `ns` except `except`, with `comm`.
pub fn processes_in(ns: &str, except: &[u32]) -> Vec<(u32, String)> {
    let out = match Cmd::new("ip").args(["netns", "pids", ns]).run_ok() {
        Ok(o) => o.stdout,
        Err(_) => return Vec::new(),
    };
    out.split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|p| !except.contains(p) && netns::process_alive(*p))
        .map(|p| {
            let comm =
                std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim().to_string();
            (p, comm)
        })
        .collect()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(ns) = &self.ns {
            let _ = ns.kill_all();
        }
        if let Some(mut h) = self.holder.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for ns in [self.peer.take(), self.ns.take()].into_iter().flatten() {
            let name = ns.name().to_string();
            if let Err(e) = ns.delete() {
                eprintln!("rha-integration: removing namespace {name}: {e:#}");
            }
            untrack(&name);
        }
    }
}
