//! Network namespaces as RAII guards, plus veth pairs, bridges and addresses inside them.
//!
//! Safety rule of the project (see shared/notes/test-environment.md): nothing here touches the
//! root network namespace. Links are created directly inside their namespaces (`ip -n NS link
//! add ... peer ... netns OTHER`), and addresses can only be added through a [`Netns`] and only
//! from the documentation ranges 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
//!
//! Names are `rha-<owner pid>-<counter>-<tag>`. The owner pid makes names unique across test
//! processes running in parallel and lets [`sweep_stale`] tell leftovers (owner dead) from
//! namespaces another live test is using.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, CmdOutput};

/// Every namespace the harness creates starts with this.
pub const PREFIX: &str = "rha";

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// How long to wait for a namespace's processes to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A named network namespace, deleted (with all its processes killed) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    /// False after [`Netns::into_name`]: the namespace outlives this value.
    owned: bool,
}

impl Netns {
    /// Creates `rha-<our pid>-<n>-<tag>`.
    pub fn new(tag: &str) -> Result<Netns> {
        Netns::new_owned_by(tag, std::process::id())
    }

    /// Creates a namespace whose name records `owner_pid` as its owner: [`sweep_stale`] leaves
    /// it alone while that process lives. Used by `rha-lab`, whose cluster outlives the command.
    pub fn new_owned_by(tag: &str, owner_pid: u32) -> Result<Netns> {
        if !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("namespace tag {tag:?} must be ASCII letters and digits");
        }
        // A stale namespace of an earlier process with the same pid may hold a name: skip it.
        for _ in 0..1000 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = if tag.is_empty() {
                format!("{PREFIX}-{owner_pid}-{n}")
            } else {
                format!("{PREFIX}-{owner_pid}-{n}-{tag}")
            };
            if list()?.contains(&name) {
                continue;
            }
            Cmd::new("ip")
                .args(["netns", "add", &name])
                .run_ok()
                .with_context(|| format!("creating network namespace {name}"))?;
            let ns = Netns { name, owned: true };
            // Loopback up: many daemons (and libqb-free tools) expect 127.0.0.1 to work.
            ns.ip(&["link", "set", "lo", "up"])?;
            return Ok(ns);
        }
        bail!("could not find a free namespace name for tag {tag:?}")
    }

    /// Takes charge of an existing namespace (e.g. one recorded in a state file); it is deleted
    /// when the returned guard drops.
    pub fn adopt(name: &str) -> Result<Netns> {
        if !name.starts_with(PREFIX) {
            bail!("refusing to adopt namespace {name:?}: not created by the harness");
        }
        if !list()?.iter().any(|n| n == name) {
            bail!("network namespace {name} does not exist");
        }
        Ok(Netns { name: name.to_string(), owned: true })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gives up ownership: the namespace stays after this value is gone.
    pub fn into_name(mut self) -> String {
        self.owned = false;
        std::mem::take(&mut self.name)
    }

    /// A command that runs `argv` inside the namespace (via `ip netns exec`).
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Cmd {
        Cmd::new("ip").args(["netns", "exec", &self.name]).args(argv)
    }

    /// Runs `argv` inside the namespace; returns status and output whatever the status.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Result<CmdOutput> {
        self.cmd(argv).run()
    }

    /// Like [`Netns::run`] but fails unless the command exits 0.
    pub fn run_ok<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Result<CmdOutput> {
        self.cmd(argv).run_ok()
    }

    /// Runs a shell script inside the namespace.
    pub fn sh(&self, script: &str) -> Result<CmdOutput> {
        self.run(&["sh", "-c", script])
    }

    /// Runs a shell script inside the namespace; fails unless it exits 0.
    pub fn sh_ok(&self, script: &str) -> Result<CmdOutput> {
        self.run_ok(&["sh", "-c", script])
    }

    /// `ip -n <ns> <args>`, failing with the full output on error.
    pub fn ip(&self, args: &[&str]) -> Result<CmdOutput> {
        Cmd::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .run_ok()
            .with_context(|| format!("in network namespace {}", self.name))
    }

    /// Pids of the processes whose network namespace this is.
    pub fn pids(&self) -> Result<Vec<u32>> {
        pids_of(&self.name)
    }

    /// SIGKILLs every process in the namespace and waits until they are gone.
    pub fn kill_all(&self) -> Result<()> {
        kill_all_in(&self.name)
    }

    /// Creates a bridge (a switch) and sets it up.
    pub fn add_bridge(&self, bridge: &str) -> Result<()> {
        check_ifname(bridge)?;
        self.ip(&["link", "add", bridge, "type", "bridge"])?;
        self.link_up(bridge)
    }

    /// Creates a veth pair: `ifname` in this namespace, `peer_ifname` in `peer`. Both are left
    /// down; bring them up with [`Netns::link_up`].
    pub fn add_veth(&self, ifname: &str, peer: &Netns, peer_ifname: &str) -> Result<()> {
        check_ifname(ifname)?;
        check_ifname(peer_ifname)?;
        self.ip(&["link", "add", ifname, "type", "veth", "peer", "name", peer_ifname, "netns", &peer.name])
            .map(|_| ())
    }

    /// Enslaves `ifname` to `bridge` (both in this namespace).
    pub fn set_master(&self, ifname: &str, bridge: &str) -> Result<()> {
        self.ip(&["link", "set", ifname, "master", bridge]).map(|_| ())
    }

    pub fn link_up(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", ifname, "up"]).map(|_| ())
    }

    pub fn link_down(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", ifname, "down"]).map(|_| ())
    }

    /// Adds `cidr` (e.g. `198.51.100.11/24`) to `ifname`. Only documentation ranges are
    /// accepted. IPv6 addresses skip duplicate address detection so they work at once.
    pub fn add_addr(&self, ifname: &str, cidr: &str) -> Result<()> {
        let ip = check_test_address(cidr)?;
        let mut args = vec!["addr", "add", cidr, "dev", ifname];
        if ip.is_ipv6() {
            args.push("nodad");
        }
        self.ip(&args).map(|_| ())
    }

    /// Connects this namespace to `bridge` in `switch`: a veth `ifname` here, its peer `port`
    /// enslaved to the bridge, both up.
    pub fn connect_to(&self, ifname: &str, switch: &Netns, bridge: &str, port: &str) -> Result<()> {
        self.add_veth(ifname, switch, port)?;
        switch.set_master(port, bridge)?;
        switch.link_up(port)?;
        self.link_up(ifname)
    }

    /// Kills the namespace's processes and deletes it, reporting errors (drop only logs them).
    pub fn delete(mut self) -> Result<()> {
        self.owned = false;
        remove(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Err(e) = remove(&self.name) {
            eprintln!("rha-harness: cleaning up network namespace {}: {e:#}", self.name);
        }
    }
}

fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.contains(['/', ' ']) {
        bail!("invalid interface name {name:?} (1..={IFNAME_MAX} chars, no '/' or spaces)");
    }
    Ok(())
}

/// Accepts only `addr/prefix` in 198.51.100.0/24, 203.0.113.0/24 or 2001:db8::/32, so a test
/// can never put a routable (or the uplink's) address anywhere. Returns the address.
pub fn check_test_address(cidr: &str) -> Result<IpAddr> {
    let (addr, prefix) = cidr.split_once('/').with_context(|| format!("address {cidr:?} needs a /prefix"))?;
    let ip: IpAddr = addr.parse().with_context(|| format!("invalid IP address in {cidr:?}"))?;
    let prefix: u8 = prefix.parse().with_context(|| format!("invalid prefix length in {cidr:?}"))?;
    let ok = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            prefix <= 32 && matches!(o[..3], [198, 51, 100] | [203, 0, 113])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            prefix <= 128 && s[0] == 0x2001 && s[1] == 0x0db8
        }
    };
    if !ok {
        bail!(
            "address {cidr} is outside the test ranges 198.51.100.0/24, 203.0.113.0/24, \
             2001:db8::/32"
        );
    }
    Ok(ip)
}

/// Names of all network namespaces (`ip netns list`).
pub fn list() -> Result<Vec<String>> {
    let out = Cmd::new("ip").args(["netns", "list"]).run_ok()?;
    // Lines look like `name` or `name (id: 3)`.
    Ok(out.stdout.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect())
}

/// Names of all namespaces with the harness prefix, whoever owns them.
pub fn list_ours() -> Result<Vec<String>> {
    Ok(list()?.into_iter().filter(|n| n.starts_with(PREFIX)).collect())
}

/// The owner pid recorded in a harness namespace name, if the name has one.
pub fn owner_of(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.strip_prefix('-')?.split('-').next()?.parse().ok()
}

/// True while `pid` is a running (not zombie) process.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Removes every leftover harness namespace: `rha-<pid>-...` whose owner process is gone.
/// Namespaces of live processes are left alone, so parallel test runs (and a demo cluster of
/// `rha-lab`) survive. Other `rha*` names record no owner, so nothing tells whether they are
/// still in use: they are left to [`sweep_all`]. Returns the names removed.
pub fn sweep_stale() -> Result<Vec<String>> {
    sweep(|name| owner_of(name).is_some_and(|pid| !process_alive(pid)))
}

/// Removes every `rha*` namespace, including ones in use. For CI setup and manual cleanup.
pub fn sweep_all() -> Result<Vec<String>> {
    sweep(|_| true)
}

fn sweep(select: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let victims: Vec<String> = list_ours()?.into_iter().filter(|n| select(n)).collect();
    let mut errors = Vec::new();
    for name in &victims {
        if let Err(e) = remove(name) {
            errors.push(format!("{name}: {e:#}"));
        }
    }
    if !errors.is_empty() {
        bail!("sweeping namespaces failed: {}", errors.join("; "));
    }
    Ok(victims)
}

/// Kills all processes in namespace `name` and deletes it. A namespace that vanishes
/// meanwhile (another sweep got there first) counts as removed.
pub fn remove(name: &str) -> Result<()> {
    let exists = || list().map(|l| l.iter().any(|n| n == name));
    if !exists()? {
        return Ok(());
    }
    let r = kill_all_in(name).and_then(|_| {
        Cmd::new("ip")
            .args(["netns", "delete", name])
            .run_ok()
            .with_context(|| format!("deleting network namespace {name}"))
    });
    match r {
        Err(_) if !exists()? => Ok(()),
        r => r.map(|_| ()),
    }
}

fn pids_of(name: &str) -> Result<Vec<u32>> {
    let out = Cmd::new("ip")
        .args(["netns", "pids", name])
        .run_ok()
        .with_context(|| format!("listing processes of namespace {name}"))?;
    Ok(out.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

fn kill_all_in(name: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        // Repeat: a process may fork while we kill its parent.
        let pids = pids_of(name)?;
        if pids.is_empty() {
            return Ok(());
        }
        if start.elapsed() > KILL_WAIT {
            bail!("processes {pids:?} in namespace {name} survived SIGKILL for {KILL_WAIT:?}");
        }
        for pid in pids {
            // SAFETY: plain syscall on a pid taken from the namespace's process list.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_addresses_only() {
        assert!(check_test_address("198.51.100.11/24").is_ok());
        assert!(check_test_address("203.0.113.5/32").is_ok());
        assert!(check_test_address("2001:db8:1::5/64").is_ok());
        for bad in [
            "192.0.2.10/24",
            "10.0.0.1/8",
            "198.51.101.1/24",
            "2001:db9::1/64",
            "198.51.100.1",
            "198.51.100.1/33",
        ] {
            assert!(check_test_address(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn owner_parsing() {
        assert_eq!(owner_of("rha-123-4-node1"), Some(123));
        assert_eq!(owner_of("rha-123-4"), Some(123));
        assert_eq!(owner_of("rhafoo"), None);
        assert_eq!(owner_of("rha-x-1"), None);
    }

    #[test]
    fn liveness() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX - 1));
    }
}
