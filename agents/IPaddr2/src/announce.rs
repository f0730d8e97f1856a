//! Telling the neighbours where the address is now: gratuitous ARP (IPv4) or unsolicited
//! Neighbour Advertisements (IPv6), sent by the agent itself from a raw socket.
//!
//! The first announcement always goes out from the agent, immediately after the address is
//! up. The remaining `arp_count - 1` follow `arp_interval` apart: in the agent (bounded by the
//! operation's deadline), or with `arp_bg` from a detached background process. That process
//! is recorded in a pid file before it sends anything (so stop can always end it), stops by
//! itself as soon as the address is gone, and leaves no process behind.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::ForkResult;
use ocf_shim::process::{pid_alive, proc_exe, read_pidfile, signal, wait_gone, write_pidfile};
use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, Deadline, OcfError, OcfResult};
use rha_net::arp::{ArpSocket, GarpForm};
use rha_net::link::{Link, format_mac};
use rha_net::ndisc::NaSocket;
use rha_net::{Netlink, address};

use crate::params::Config;

/// One way to announce the address on one link.
enum Sender {
    Arp { sock: ArpSocket, form: GarpForm, ip: std::net::Ipv4Addr },
    Na { sock: NaSocket, ip: std::net::Ipv6Addr, mac: [u8; 6] },
}

impl Sender {
    /// A sender for `cfg.ip` on `link`; `None` (with a log line) where announcing makes no
    /// sense or is impossible: loopback, links without an Ethernet address.
    fn open(cfg: &Config, link: &Link) -> Option<Sender> {
        if link.is_loopback() {
            return None;
        }
        let Some(mac) = link.ethernet_mac() else {
            ocf_shim::warn!(
                "{} has no Ethernet address (link type {}): no neighbour announcements sent",
                link.name,
                link.link_type
            );
            return None;
        };
        let opened = match cfg.ip {
            IpAddr::V4(ip) => {
                ArpSocket::open(link.index, mac).map(|sock| Sender::Arp { sock, form: cfg.garp_form, ip })
            }
            IpAddr::V6(ip) => NaSocket::open(link.index, ip).map(|sock| Sender::Na { sock, ip, mac }),
        };
        match opened {
            Ok(s) => Some(s),
            Err(e) => {
                ocf_shim::error!("cannot open a socket to announce {} on {}: {e}", cfg.ip, link.name);
                None
            }
        }
    }

    fn send(&self) -> std::io::Result<()> {
        match self {
            Sender::Arp { sock, form, ip } => sock.announce(*form, *ip),
            Sender::Na { sock, ip, mac } => sock.announce(*ip, *mac),
        }
    }

    fn send_repeatedly(
        &self,
        count: u32,
        interval: Duration,
        keep_going: impl FnMut(u32) -> bool,
    ) -> std::io::Result<u32> {
        match self {
            Sender::Arp { sock, form, ip } => {
                sock.announce_repeatedly(*form, *ip, count, interval, keep_going)
            }
            Sender::Na { sock, ip, mac } => sock.announce_repeatedly(*ip, *mac, count, interval, keep_going),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Sender::Arp { form: GarpForm::Request, .. } => "gratuitous ARP request",
            Sender::Arp { form: GarpForm::Reply, .. } => "gratuitous ARP reply",
            Sender::Na { .. } => "unsolicited neighbour advertisement",
        }
    }
}

/// The pid file of this instance's background sender.
pub fn pidfile(ctx: &Context) -> PathBuf {
    StateDir::for_agent(crate::params::INFO.name).instance_file(ctx, ".announce.pid")
}

/// Whether the address is still on the link (the background sender stops when it is not).
fn still_configured(ip: IpAddr, index: u32) -> bool {
    let Ok(mut nl) = Netlink::open() else { return true };
    match address::list(&mut nl, Some(address::Family::of(&ip)), Some(index)) {
        Ok(addrs) => addrs.iter().any(|a| a.address == ip),
        Err(_) => true,
    }
}

/// Send `count` announcements `interval` apart (the first at once); stop early when the
/// address is gone or, with a `deadline` (foreground), when the operation's time is up.
fn series(s: &Sender, count: u32, interval: Duration, ip: IpAddr, index: u32, deadline: Option<&Deadline>) {
    let mut cut_short = false;
    let result = s.send_repeatedly(count, interval, |_| {
        if deadline.is_some_and(|d| d.remaining() < interval) {
            cut_short = true;
            return false;
        }
        still_configured(ip, index)
    });
    match result {
        Ok(sent) if cut_short => ocf_shim::warn!(
            "sent {sent} of {count} announcements for {ip}: the operation's timeout leaves no time for more"
        ),
        Ok(sent) if sent < count => ocf_shim::debug!("{ip} is gone after {sent} announcements"),
        Ok(_) => {}
        Err(e) => ocf_shim::error!("could not send {} for {ip}: {e}", s.what()),
    }
}

/// Announce the address after start.
pub fn on_start(cfg: &Config, ctx: &Context, link: &Link) {
    announce(cfg, ctx, link, cfg.arp_count, ocf_shim::log::Level::Info);
}

/// Re-announce from monitor (`arp_count_refresh`, IPv4 only as upstream).
pub fn refresh(cfg: &Config, ctx: &Context, link: &Link) {
    if cfg.ip.is_ipv4() {
        announce(cfg, ctx, link, cfg.arp_count_refresh, ocf_shim::log::Level::Debug);
    }
}

fn announce(cfg: &Config, ctx: &Context, link: &Link, count: u32, level: ocf_shim::log::Level) {
    let Some(sender) = Sender::open(cfg, link) else { return };
    ocf_shim::log::log(
        level,
        format!(
            "announcing {} at {} on {}: {count} x {} every {} ms{}",
            cfg.ip,
            link.mac.as_deref().map(format_mac).unwrap_or_default(),
            link.name,
            sender.what(),
            cfg.arp_interval.as_millis(),
            if cfg.arp_bg && count > 1 { " (in the background)" } else { "" }
        ),
    );
    let (ip, index, interval) = (cfg.ip, link.index, cfg.arp_interval);
    if !cfg.arp_bg || count <= 1 {
        series(&sender, count, interval, ip, index, Some(&ctx.deadline));
        return;
    }
    // The first one now, from the agent: neighbours learn the new location as early as
    // possible, whatever happens to the background process.
    if let Err(e) = sender.send() {
        ocf_shim::error!("could not send {} for {ip}: {e}", sender.what());
    }
    let pidfile = pidfile(ctx);
    // One background sender per instance.
    if let Err(e) = stop_background(&pidfile, &ctx.deadline) {
        ocf_shim::warn!("{e}");
    }
    let job = move || {
        std::thread::sleep(interval);
        if still_configured(ip, index) {
            series(&sender, count - 1, interval, ip, index, None);
        }
    };
    match spawn_background(&pidfile, job) {
        Ok(pid) => ocf_shim::debug!("background announcements for {ip} in process {pid}"),
        Err(e) => ocf_shim::error!("cannot start background announcements for {ip}: {e}"),
    }
}

fn io_err(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}

/// Run `job` in a detached process (double fork, own session, stdio on /dev/null) whose pid
/// is written to `pidfile` before `job` starts. If this process dies before the pid file is
/// written, the child does nothing and exits. Returns the child's pid.
fn spawn_background(pidfile: &Path, job: impl FnOnce()) -> std::io::Result<i32> {
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(io_err)?;
    let (go_r, go_w) = nix::unistd::pipe().map_err(io_err)?;
    // SAFETY: the agent is single-threaded; the children only use async-signal-safe calls
    // until the second fork, and the grandchild continues as an ordinary single-threaded
    // process that never returns into the caller.
    match unsafe { nix::unistd::fork() }.map_err(io_err)? {
        ForkResult::Parent { child } => {
            drop(ready_w);
            drop(go_r);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut buf = [0u8; 4];
            let mut ready = std::fs::File::from(ready_r);
            ready
                .read_exact(&mut buf)
                .map_err(|e| std::io::Error::other(format!("background process did not start: {e}")))?;
            let pid = i32::from_ne_bytes(buf);
            if let Some(dir) = pidfile.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_pidfile(pidfile, pid as u32)?;
            // Only now may it send: stop can always find it.
            std::fs::File::from(go_w).write_all(b"1")?;
            Ok(pid)
        }
        ForkResult::Child => {
            drop(ready_r);
            drop(go_w);
            let _ = nix::unistd::setsid();
            // SAFETY: as above.
            match unsafe { nix::unistd::fork() } {
                Ok(ForkResult::Parent { .. }) | Err(_) => unsafe_exit(0),
                Ok(ForkResult::Child) => background_child(ready_w, go_r, pidfile, job),
            }
        }
    }
}

fn unsafe_exit(code: i32) -> ! {
    // SAFETY: _exit ends the process without running the parent's atexit handlers or
    // flushing buffers inherited from it.
    unsafe { libc::_exit(code) }
}

fn background_child(ready_w: OwnedFd, go_r: OwnedFd, pidfile: &Path, job: impl FnOnce()) -> ! {
    std::panic::set_hook(Box::new(|_| unsafe_exit(1)));
    let me = std::process::id() as i32;
    // Detach stdio: the caller (ocf-tester, Pacemaker) may wait for the pipes to close.
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    if std::fs::File::from(ready_w).write_all(&me.to_ne_bytes()).is_err() {
        unsafe_exit(0);
    }
    let mut go = [0u8; 1];
    if std::fs::File::from(go_r).read_exact(&mut go).is_err() {
        // The agent died before recording us: nobody could stop us, so do nothing.
        unsafe_exit(0);
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    if read_pidfile(pidfile).ok().flatten() == Some(me) {
        let _ = remove_if_exists(pidfile);
    }
    unsafe_exit(0)
}

/// Whether `pid` runs this agent's binary (and is not a recycled pid of something else).
fn is_our_process(pid: i32) -> bool {
    let (Some(exe), Ok(me)) = (proc_exe(pid), std::env::current_exe()) else { return false };
    let strip = |p: &Path| PathBuf::from(p.to_string_lossy().trim_end_matches(" (deleted)"));
    strip(&exe) == strip(&me)
}

/// End this instance's background sender, if one runs, and remove its pid file.
/// Ends the background announcer, spending at most half of what is left of `deadline` (a
/// quarter waiting after SIGTERM, a quarter after SIGKILL, at most 1 s and 2 s): stop must keep
/// room for removing the address within Pacemaker's timeout.
pub fn stop_background(pidfile: &Path, deadline: &Deadline) -> OcfResult<()> {
    let pid = read_pidfile(pidfile)
        .map_err(|e| OcfError::generic(format!("reading {}: {e}", pidfile.display())))?;
    if let Some(pid) = pid
        && pid != std::process::id() as i32
        && pid_alive(pid)
        && is_our_process(pid)
    {
        ocf_shim::info!("ending background announcements (process {pid})");
        let quarter = deadline.remaining() / 4;
        let _ = signal(pid, Signal::SIGTERM);
        if !wait_gone(pid, &deadline.cap(quarter.min(Duration::from_secs(1)))) {
            let _ = signal(pid, Signal::SIGKILL);
            if !wait_gone(pid, &deadline.cap(quarter.min(Duration::from_secs(2)))) {
                return Err(OcfError::generic(format!("background announcement process {pid} does not die")));
            }
        }
    }
    remove_if_exists(pidfile)
        .map_err(|e| OcfError::generic(format!("removing {}: {e}", pidfile.display())))?;
    Ok(())
}
