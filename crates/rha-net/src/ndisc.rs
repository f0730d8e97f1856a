//! Unsolicited IPv6 Neighbour Advertisements (RFC 4861 §7.2.6) from a raw ICMPv6 socket:
//! the IPv6 counterpart of gratuitous ARP.
//!
//! The advertisement goes to all-nodes `ff02::1` with hop limit 255 (receivers drop anything
//! else), the Override flag set (so neighbours replace a cached link-layer address) and the
//! Solicited flag clear, carrying a Target Link-Layer Address option with the new MAC.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use crate::sys;

/// ICMPv6 type of a Neighbour Advertisement.
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Router flag.
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// Solicited flag.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// Override flag.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Option type: Target Link-Layer Address.
pub const ND_OPT_TARGET_LL_ADDR: u8 = 2;
/// All-nodes link-local multicast.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Length of an advertisement with an Ethernet target link-layer option.
pub const NA_LEN: usize = 32;

/// The ICMPv6 Neighbour Advertisement for `target` at `mac`, with the checksum computed for
/// `src` → `dst` (the kernel recomputes it on raw ICMPv6 sockets anyway).
pub fn neighbour_advertisement(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    mac: [u8; 6],
    flags: u8,
) -> [u8; NA_LEN] {
    let mut m = [0u8; NA_LEN];
    m[0] = ND_NEIGHBOR_ADVERT;
    m[1] = 0; // code
    m[4] = flags;
    m[8..24].copy_from_slice(&target.octets());
    m[24] = ND_OPT_TARGET_LL_ADDR;
    m[25] = 1; // option length in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(src, dst, &m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The unsolicited advertisement IPaddr2 sends: `target` is at `mac`, Override set, to all
/// nodes.
pub fn unsolicited_advertisement(target: Ipv6Addr, mac: [u8; 6]) -> [u8; NA_LEN] {
    neighbour_advertisement(target, ALL_NODES, target, mac, NA_FLAG_OVERRIDE)
}

/// The ICMPv6 checksum (RFC 4443 §2.3) over the IPv6 pseudo-header and `msg` (whose checksum
/// field must be zero).
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = if chunk.len() == 2 {
                u16::from_be_bytes([chunk[0], chunk[1]])
            } else {
                u16::from(chunk[0]) << 8
            };
            sum += u32::from(word);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw ICMPv6 socket sending from one address on one interface.
pub struct NaSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl NaSocket {
    /// Open a raw ICMPv6 socket on interface `ifindex`, bound to `source` (the announced address,
    /// which must have finished duplicate address detection). Needs `CAP_NET_RAW`.
    pub fn open(ifindex: u32, source: Ipv6Addr) -> io::Result<NaSocket> {
        let fd = sys::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
        let hops: libc::c_int = 255;
        sys::setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, hops)?;
        sys::setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, hops)?;
        sys::setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, ifindex as libc::c_int)?;
        sys::setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0 as libc::c_int)?;
        let sa = sockaddr_in6(source, if is_link_local(&source) { ifindex } else { 0 });
        // SAFETY: sa is a valid sockaddr_in6 of the size we pass.
        sys::cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        })?;
        Ok(NaSocket { fd, ifindex })
    }

    /// Send one ICMPv6 message to all nodes on the interface.
    pub fn send_all_nodes(&self, msg: &[u8]) -> io::Result<()> {
        let sa = sockaddr_in6(ALL_NODES, self.ifindex);
        // SAFETY: msg and sa are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Announce that `target` is at `mac`.
    pub fn announce(&self, target: Ipv6Addr, mac: [u8; 6]) -> io::Result<()> {
        self.send_all_nodes(&unsolicited_advertisement(target, mac))
    }

    /// Send `count` advertisements, the first at once and then `interval` apart; before each
    /// later one `keep_going(sent_so_far)` may end the series. Returns how many were sent.
    pub fn announce_repeatedly(
        &self,
        target: Ipv6Addr,
        mac: [u8; 6],
        count: u32,
        interval: Duration,
        keep_going: impl FnMut(u32) -> bool,
    ) -> io::Result<u32> {
        crate::repeat(count, interval, keep_going, || self.announce(target, mac))
    }
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn sockaddr_in6(addr: Ipv6Addr, scope_id: u32) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as u16;
    sa.sin6_addr.s6_addr = addr.octets();
    sa.sin6_scope_id = scope_id;
    sa
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    #[test]
    fn advertisement_layout() {
        let target: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = unsolicited_advertisement(target, MAC);
        assert_eq!(m[0], 136);
        assert_eq!(m[1], 0);
        assert_eq!(m[4], NA_FLAG_OVERRIDE, "override, not solicited, not router");
        assert_eq!(&m[5..8], &[0, 0, 0]);
        assert_eq!(&m[8..24], &target.octets());
        assert_eq!(&m[24..26], &[2, 1], "target link-layer address option, 8 bytes");
        assert_eq!(&m[26..32], &MAC);
    }

    #[test]
    fn checksum_verifies() {
        let target: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = unsolicited_advertisement(target, MAC);
        // A correct checksum makes the sum over pseudo-header and message all ones.
        assert_eq!(icmpv6_checksum(target, ALL_NODES, &m), 0);
        let mut broken = m;
        broken[30] ^= 1;
        assert_ne!(icmpv6_checksum(target, ALL_NODES, &broken), 0);
    }

    #[test]
    fn checksum_known_value() {
        // An echo request from :: to :: with no payload: type 128 -> 0x8000 + pseudo-header
        // length 4 + next header 58.
        let msg = [128u8, 0, 0, 0];
        let sum = 0x8000u32 + 4 + 58;
        assert_eq!(icmpv6_checksum(Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED, &msg), !(sum as u16));
    }

    #[test]
    fn link_local() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
    }
}
