//! Shared setup of the checks library's host tests: a client and a server namespace joined
//! by a veth pair (IPv4 and IPv6), checks run from inside the client namespace, and a way to
//! black-hole the server (nftables drops everything from the client).
//!
//! Real servers are started by each test inside `net.server` (their own config, data
//! directory and port); nothing runs in the machine's own namespace.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use rha_check::{CheckSpec, Outcome, Target};
use rha_harness::netns::Netns;

pub const CLIENT_V4: &str = "198.51.100.1";
pub const SERVER_V4: &str = "198.51.100.2";
pub const CLIENT_V6: &str = "2001:db8::1";
pub const SERVER_V6: &str = "2001:db8::2";

pub struct Net {
    pub client: Netns,
    pub server: Netns,
}

impl Net {
    /// `tag`: ASCII letters and digits (the namespaces are `<tag>c` and `<tag>s`).
    pub fn new(tag: &str) -> Result<Net> {
        rha_harness::cmd::require_root()?;
        let client = Netns::new(&format!("{tag}c"))?;
        let server = Netns::new(&format!("{tag}s"))?;
        client.add_veth("eth0", &server, "eth0")?;
        for (ns, v4, v6) in [(&client, CLIENT_V4, CLIENT_V6), (&server, SERVER_V4, SERVER_V6)] {
            ns.link_up("lo")?;
            ns.link_up("eth0")?;
            ns.add_addr("eth0", &format!("{v4}/24"))?;
            ns.add_addr("eth0", &format!("{v6}/64"))?;
        }
        Ok(Net { client, server })
    }

    pub fn v4(&self, port: u16) -> Target {
        Target::new(SocketAddr::new(SERVER_V4.parse().unwrap(), port))
    }

    pub fn v6(&self, port: u16) -> Target {
        Target::new(SocketAddr::new(SERVER_V6.parse().unwrap(), port))
    }

    /// Runs one check from inside the client namespace.
    pub fn check(&self, spec: &CheckSpec, target: Target) -> Outcome {
        in_namespace(self.client.name(), spec.clone(), target)
    }

    /// Drops every packet the server receives from the client (a black-holed real server).
    pub fn blackhole(&self) -> Result<()> {
        self.server
            .sh_ok(
                "nft add table inet rha_blackhole && \
                 nft add chain inet rha_blackhole input '{ type filter hook input priority -300; policy accept; }' && \
                 nft add rule inet rha_blackhole input iifname eth0 drop",
            )
            .map(|_| ())
    }

    pub fn unblackhole(&self) -> Result<()> {
        self.server.sh_ok("nft delete table inet rha_blackhole").map(|_| ())
    }

    /// Waits until something accepts TCP connections on the server's `port` (a server that
    /// was just started), within `limit`.
    pub fn wait_listening(&self, port: u16, limit: Duration) -> Result<()> {
        self.wait_listener(port, true, limit)
    }

    /// Waits until nothing listens on the server's `port` any more (a server that was just
    /// stopped: its children may hold the socket a moment after its pid file is gone).
    pub fn wait_closed(&self, port: u16, limit: Duration) -> Result<()> {
        self.wait_listener(port, false, limit)
    }

    fn wait_listener(&self, port: u16, listening: bool, limit: Duration) -> Result<()> {
        let script = format!("ss -Hltn 'sport = :{port}' | grep -q LISTEN");
        let what = if listening { "a listener on" } else { "no listener left on" };
        rha_harness::cmd::wait_for(
            &format!("{what} port {port} in the server namespace"),
            limit,
            Duration::from_millis(50),
            || Ok((self.server.sh(&script)?.status.success() == listening).then_some(())),
        )
    }
}

/// Runs `spec` against `target` on a thread that has entered the network namespace `ns`.
pub fn in_namespace(ns: &str, spec: CheckSpec, target: Target) -> Outcome {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        rha_net::netns::enter(&ns).expect("enter the client namespace");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(rha_check::run_check(&spec, &target))
    })
    .join()
    .expect("check thread panicked")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
