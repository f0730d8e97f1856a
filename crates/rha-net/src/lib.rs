//! rha-net: the kernel networking state the rha agents manage, without any `ip` process.
//!
//! Synchronous rtnetlink over `netlink-packet-route` and `netlink-sys`, plus the raw sockets
//! that announce an address to its neighbours. One module per concern:
//!
//! - [`netlink`]: the socket, sequence numbers, request/ack and dump plumbing, errors.
//! - [`link`]: interfaces by name or index, operational state (incl. `LOWERLAYERDOWN`),
//!   flags, MAC, bringing a link up.
//! - [`address`]: listing, adding (label, broadcast, `nodad`, `noprefixroute`, lifetimes)
//!   and deleting addresses; DAD state (`tentative`, `dadfailed`).
//! - [`route`]: the `ip route list match` equivalent used to find an address's interface and
//!   prefix, host-route deletion, and the route cache flush.
//! - [`addrlabel`]: IPv6 address labels (RFC 6724 policy table).
//! - [`arp`]: gratuitous ARP (request and reply forms) and ARP probes for duplicate address
//!   detection, from an `AF_PACKET` socket.
//! - [`ndisc`]: unsolicited IPv6 Neighbour Advertisements from a raw ICMPv6 socket.
//! - [`nftables`]: reading a table's rules (handles, comments) over nfnetlink.
//! - [`multicast`]: joining and leaving link-layer multicast groups (`ip maddr`).
//!
//! Everything acts in the calling thread's network namespace; [`netns::enter`] switches it.

pub mod address;
pub mod addrlabel;
pub mod arp;
pub mod link;
pub mod multicast;
pub mod ndisc;
pub mod netlink;
pub mod netns;
pub mod nftables;
pub mod route;

mod sys;

pub use address::{Address, AddressFlags, Lifetime, NewAddress};
pub use link::{Link, OperState};
pub use netlink::{Error, Netlink, Result};
pub use route::{Route, RouteKind, RouteQuery};

/// Call `send` `count` times, `interval` apart (the first at once); before each later call
/// `keep_going(sent_so_far)` may end the series. Returns how many were sent; the first error
/// ends it.
pub(crate) fn repeat(
    count: u32,
    interval: std::time::Duration,
    mut keep_going: impl FnMut(u32) -> bool,
    mut send: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<u32> {
    for sent in 0..count {
        if sent > 0 {
            if !keep_going(sent) {
                return Ok(sent);
            }
            std::thread::sleep(interval);
        }
        send()?;
    }
    Ok(count)
}
