//! Shared by the host-tier tests: a sandbox per test, and running agents in it.
//!
//! A [`Sandbox`] is a network namespace (rha-harness [`Netns`]: loopback up, deleted with all
//! its processes on drop), a private mount namespace with a fresh tmpfs on /run and a private
//! directory over /var/log/apache2, and a private PID namespace whose init is a small reaper.
//! Commands enter all three with `nsenter`. So every test runs the *stock* Debian
//! configuration unchanged (port 80, /run/apache2, /var/lock/apache2) without meeting another
//! test's apache, the machine's own, or the root namespace's network.
//!
//! The PID namespace matters for upstream: ocf:heartbeat:apache's stop runs
//! `pkill -f "$HTTPD.*$CONFIGFILE"`, which would otherwise kill every stock apache2 on the
//! machine (other tests', other engineers'). It also reaps orphans promptly, as a real init
//! does (this machine's pid 1 does not), so shell agents' `/proc/<pid>` checks behave.
//!
//! Pids inside the sandbox (pid files) are not host pids: signal them with
//! [`Sandbox::signal_in`]; [`Sandbox::apache_pids`] returns host pids.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rha_harness::Netns;

pub const UPSTREAM: &str = "/usr/lib/ocf/resource.d/heartbeat/apache";
pub const OURS: &str = env!("CARGO_BIN_EXE_apache");
pub const STOCK_CONFIG: &str = "/etc/apache2/apache2.conf";
pub const MODULES: &str = "/usr/lib/apache2/modules";

/// Which agent to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    Ours,
    Upstream,
}

impl Agent {
    pub fn path(self) -> &'static str {
        match self {
            Agent::Ours => OURS,
            Agent::Upstream => UPSTREAM,
        }
    }
}

pub use rha_harness::outcome::Outcome;

/// A network + mount namespace for one test.
pub struct Sandbox {
    pub ns: Netns,
    /// `unshare`, the parent of the PID namespace's init.
    unshare: Child,
    /// Host pid of the PID namespace's init (the reaper).
    holder: u32,
    pub dir: tempfile::TempDir,
}

/// Init of a sandbox's PID namespace: reap every orphan at once.
const REAPER: &str = "import os, time\nwhile True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        time.sleep(0.05)\n";

impl Sandbox {
    pub fn new(tag: &str) -> Sandbox {
        let ns = Netns::new(tag).expect("creating a network namespace (run as root)");
        let dir = tempfile::Builder::new().prefix("rha-apache-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let log = dir.path().join("log");
        std::fs::create_dir(&log).unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!(
            "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/lock; mount --bind {} /var/log/apache2; \
             echo ready; exec /usr/bin/python3 -c '{REAPER}'",
            log.display()
        );
        let mut unshare = Command::new("ip")
            .args(["netns", "exec", ns.name(), "unshare", "--mount", "--propagation", "private"])
            .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the sandbox holder");
        let mut line = String::new();
        BufReader::new(unshare.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "sandbox setup failed");
        // The holder is unshare's child: pid 1 of the new PID namespace.
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id())).unwrap();
        let holder =
            children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("sandbox init pid");
        Sandbox { ns, unshare, holder, dir }
    }

    /// The process holding the sandbox's namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.holder
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A command run inside the sandbox with a clean environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C")
            .args(["-t", &self.holder.to_string(), "-m", "-n", "-p", "--", program])
            .stdin(Stdio::null());
        c
    }

    /// Outcome a shell script inside; returns the output whatever the status.
    pub fn sh(&self, script: &str) -> Output {
        self.command("/bin/sh").args(["-c", script]).output().unwrap()
    }

    #[track_caller]
    pub fn sh_ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(o.status.success(), "{script}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// An agent command as Pacemaker would run it (its own process group).
    pub fn agent_command(
        &self,
        agent: Agent,
        action: &str,
        params: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Command {
        let mut c = self.command(agent.path());
        c.arg(action)
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", "web")
            .env("OCF_RESOURCE_TYPE", "apache")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if action == "monitor" {
            c.env("OCF_RESKEY_CRM_meta_interval", "10000");
        }
        for (k, v) in params {
            c.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Outcome an agent action. `env` may override the defaults (timeout 20 s; monitor recurring
    /// at 10 s — set `OCF_RESKEY_CRM_meta_interval=0` for a probe).
    pub fn agent(
        &self,
        agent: Agent,
        action: &str,
        params: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Outcome {
        let t = Instant::now();
        let out = self.agent_command(agent, action, params, env).output().unwrap();
        Outcome::from_output(&format!("{agent:?} {action}"), &out, t.elapsed())
    }

    pub fn ours(&self, action: &str, params: &[(&str, &str)]) -> Outcome {
        self.agent(Agent::Ours, action, params, &[])
    }

    pub fn probe(&self, agent: Agent, params: &[(&str, &str)]) -> Outcome {
        self.agent(agent, "monitor", params, &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }

    /// Live (non-zombie) processes in the sandbox running `exe_name`.
    pub fn processes(&self, exe_name: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for pid in self.ns.pids().unwrap_or_default() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            let name = exe.as_ref().and_then(|e| e.file_name()).and_then(|n| n.to_str()).unwrap_or("");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            if !zombie && (name == exe_name || name.starts_with(&format!("{exe_name} "))) {
                out.push(pid);
            }
        }
        out
    }

    pub fn apache_pids(&self) -> Vec<u32> {
        self.processes("apache2")
    }

    /// Wait (up to `limit`) until no apache2 runs in the sandbox.
    pub fn wait_no_apache(&self, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.apache_pids().is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.apache_pids().is_empty()
    }

    /// Send `sig` (e.g. "KILL") to a pid of the sandbox's PID namespace (from a pid file).
    #[track_caller]
    pub fn signal_in(&self, pid: u32, sig: &str) {
        self.sh_ok(&format!("kill -{sig} {pid}"));
    }

    /// Wait until sandbox pid `pid` has disappeared from the sandbox's /proc (reaped).
    pub fn wait_reaped_in(&self, pid: u32, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if !self.sh(&format!("test -e /proc/{pid}")).status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Send `sig` to a host pid (from [`Sandbox::apache_pids`]).
    pub fn signal_host(pid: u32, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
    }

    /// A veth to a peer namespace `client` with `vip` (e.g. 198.51.100.10/24) here and
    /// `client_addr` there. Returns the peer.
    pub fn add_vip(&self, vip: &str, client_addr: &str) -> Netns {
        let client = Netns::new("apcli").unwrap();
        self.ns.add_veth("eth0", &client, "eth0").unwrap();
        self.ns.link_up("eth0").unwrap();
        client.link_up("eth0").unwrap();
        self.ns.add_addr("eth0", vip).unwrap();
        client.add_addr("eth0", client_addr).unwrap();
        client
    }

    /// The pid in a pid file inside the sandbox (/run is private).
    pub fn read_pid(&self, file: &str) -> Option<u32> {
        let o = self.sh(&format!("cat {file}"));
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Killing a PID namespace's init kills everything in it; the namespace guard then
        // kills whatever else is in the network namespace and deletes it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.holder as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        let _ = self.ns.kill_all();
    }
}

/// A small self-contained httpd configuration in the sandbox directory.
pub struct CustomConf {
    pub listen: String,
    /// Extra directives appended at the end.
    pub extra: String,
    pub pid_file: Option<String>,
}

impl Default for CustomConf {
    fn default() -> Self {
        CustomConf {
            listen: "127.0.0.1:8080".into(),
            extra: String::new(),
            pid_file: Some("run/custom-httpd.pid".into()),
        }
    }
}

impl CustomConf {
    /// Writes `conf/httpd.conf`, `www/index.html` and returns the configuration path.
    pub fn write(&self, sb: &Sandbox) -> PathBuf {
        let d = sb.dir.path();
        for sub in ["conf", "run", "www", "cgi"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
            std::fs::set_permissions(d.join(sub), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(d.join("www/index.html"), "<html><body>custom server</body></html>\n").unwrap();
        let pid =
            self.pid_file.as_ref().map(|p| format!("PidFile {}/{p}\n", d.display())).unwrap_or_default();
        let conf = format!(
            "ServerRoot /etc/apache2\nServerName rha-test\nDefaultRuntimeDir {d}/run\n{pid}\
             LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
             LoadModule authz_core_module {m}/mod_authz_core.so\n\
             LoadModule authz_host_module {m}/mod_authz_host.so\n\
             LoadModule status_module {m}/mod_status.so\n\
             LoadModule dir_module {m}/mod_dir.so\n\
             User www-data\nGroup www-data\nListen {listen}\n\
             ErrorLog {d}/log/custom-error.log\nLogLevel warn\n\
             DocumentRoot {d}/www\nDirectoryIndex index.html\n\
             <Directory {d}/www>\n  Require all granted\n</Directory>\n\
             <Location /status>\n  SetHandler server-status\n  Require local\n</Location>\n{extra}\n",
            d = d.display(),
            m = MODULES,
            listen = self.listen,
            extra = self.extra,
        );
        let path = d.join("conf/httpd.conf");
        std::fs::write(&path, conf).unwrap();
        path
    }
}

/// Append to the test log (shown with --nocapture).
pub fn note(msg: impl AsRef<str>) {
    eprintln!("    {}", msg.as_ref());
}

/// A self-signed certificate for CN=rha-test in `dir`.
pub fn make_cert(sb: &Sandbox) -> (String, String) {
    let dir = sb.path("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=rha-test", "-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert.display().to_string(), key.display().to_string())
}

/// Another program holding port 80 in the sandbox's namespaces (listening once it returns).
pub fn squat_port_80(sb: &Sandbox) -> std::process::Child {
    let mut squatter = sb
        .command("/usr/bin/python3")
        .args([
            "-c",
            "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('0.0.0.0',80))\ns.listen()\nprint('ok',flush=True)\ntime.sleep(600)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(squatter.stdout.as_mut().unwrap()), &mut line)
        .unwrap();
    assert_eq!(line.trim(), "ok", "the port squatter did not start");
    squatter
}
