//! A server process started by a test inside the server namespace, killed on drop (and with
//! the namespace, which kills all it holds, on every other path).
#![allow(dead_code)]

use std::time::Duration;

use anyhow::Result;
use rha_harness::netns::Netns;

pub struct Daemon<'a> {
    ns: &'a Netns,
    pid: Option<u32>,
    pub what: String,
}

impl<'a> Daemon<'a> {
    /// Runs `command` (a shell command line) in its own session in `ns`; its output goes to
    /// `log`.
    pub fn spawn(ns: &'a Netns, what: &str, command: &str, log: &str) -> Result<Daemon<'a>> {
        let out = ns.sh_ok(&format!("setsid {command} >{log} 2>&1 </dev/null & echo $!"))?;
        let pid = out.stdout.trim().parse()?;
        Ok(Daemon { ns, pid: Some(pid), what: what.to_string() })
    }

    /// Adopts a daemon that forked itself, by its pid file.
    pub fn from_pid_file(ns: &'a Netns, what: &str, pid_file: &str, limit: Duration) -> Result<Daemon<'a>> {
        let pid = rha_harness::cmd::wait_for(
            &format!("{what}'s pid file {pid_file}"),
            limit,
            Duration::from_millis(50),
            || Ok(std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse::<u32>().ok())),
        )?;
        Ok(Daemon { ns, pid: Some(pid), what: what.to_string() })
    }

    /// SIGKILLs the process group and waits until the process is gone.
    pub fn stop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        let _ = self.ns.sh(&format!("kill -KILL -- -{pid} 2>/dev/null; kill -KILL {pid} 2>/dev/null"));
        let _ = rha_harness::cmd::wait_for(
            &format!("{} (pid {pid}) to exit", self.what),
            Duration::from_secs(20),
            Duration::from_millis(20),
            || Ok((!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())),
        );
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until something listens on UDP `port` in `ns`.
pub fn wait_udp(ns: &Netns, port: u16, limit: Duration) -> Result<()> {
    let script = format!("ss -Hlun 'sport = :{port}' | grep -q .");
    rha_harness::cmd::wait_for(
        &format!("a UDP socket on port {port}"),
        limit,
        Duration::from_millis(50),
        || Ok(ns.sh(&script)?.status.success().then_some(())),
    )
}
