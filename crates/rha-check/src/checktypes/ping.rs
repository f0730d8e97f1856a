//! `checktype=ping` (and connect checks of UDP virtuals): ICMP or ICMPv6 echo, no `ping`
//! process.
//!
//! The socket is an unprivileged ICMP datagram socket (`SOCK_DGRAM, IPPROTO_ICMP[V6]`: the
//! kernel fills in the identifier and hands us only replies to our own echoes) when
//! `net.ipv4.ping_group_range` admits our group, else a raw socket (root; we match the
//! identifier and sequence ourselves). A check that times out says which socket it used.
//! Echo requests go out every third of checktimeout (at most every second, at least every
//! 100 ms), so one lost packet does not fail a check: ldirectord's Net::Ping retries
//! `checkcount` times in the same spirit.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::Down;
use crate::outcome::CheckResult;
use crate::run::Probe;

/// Which kind of ICMP socket a check used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    Datagram,
    Raw,
}

pub struct IcmpSocket {
    fd: AsyncFd<OwnedFd>,
    pub kind: SocketKind,
    v6: bool,
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid; we fill the family's fields.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn open(v6: bool, kind: SocketKind) -> io::Result<OwnedFd> {
    let (domain, proto) =
        if v6 { (libc::AF_INET6, libc::IPPROTO_ICMPV6) } else { (libc::AF_INET, libc::IPPROTO_ICMP) };
    let ty = match kind {
        SocketKind::Datagram => libc::SOCK_DGRAM,
        SocketKind::Raw => libc::SOCK_RAW,
    } | libc::SOCK_NONBLOCK
        | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) has no memory arguments; a non-negative result is a new descriptor.
    let fd = unsafe { libc::socket(domain, ty, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl IcmpSocket {
    /// An ICMP socket for `dest`'s family, bound to `source` when given and connected to
    /// `dest` (datagram first, raw as the fallback).
    pub fn new(dest: IpAddr, source: Option<IpAddr>) -> Result<IcmpSocket, Down> {
        let v6 = dest.is_ipv6();
        let (fd, kind) = match open(v6, SocketKind::Datagram) {
            Ok(fd) => (fd, SocketKind::Datagram),
            Err(dgram) => match open(v6, SocketKind::Raw) {
                Ok(fd) => (fd, SocketKind::Raw),
                Err(raw) => {
                    return Err(Down(format!(
                        "cannot open an ICMP socket (datagram: {dgram}; raw: {raw}): allow our group in net.ipv4.ping_group_range or run as root"
                    )));
                }
            },
        };
        if let Some(src) = source {
            let (ss, len) = sockaddr(SocketAddr::new(src, 0));
            // SAFETY: ss/len describe a valid sockaddr of the socket's family.
            if unsafe { libc::bind(fd.as_raw_fd(), &ss as *const _ as *const libc::sockaddr, len) } < 0 {
                return Err(io::Error::last_os_error().into());
            }
        }
        let (ss, len) = sockaddr(SocketAddr::new(dest, 0));
        // SAFETY: as above; connect on a datagram/raw socket only sets the peer.
        if unsafe { libc::connect(fd.as_raw_fd(), &ss as *const _ as *const libc::sockaddr, len) } < 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: we own the descriptor and it stays open, unmoved, until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| Down::from(io::Error::from(e)))?;
        Ok(IcmpSocket { fd, kind, v6 })
    }

    pub async fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.fd
            .async_io(Interest::WRITABLE, |fd| {
                // SAFETY: the buffer is valid for its length.
                let n = unsafe { libc::send(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len(), 0) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
            })
            .await
    }

    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd
            .async_io(Interest::READABLE, |fd| {
                // SAFETY: the buffer is valid for its length.
                let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
            })
            .await
    }
}

/// An echo request: type, code 0, checksum, identifier, sequence, payload.
pub fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"rha-check ping\0\0");
    if !v6 {
        // ICMPv6's checksum covers a pseudo-header: the kernel computes it for both socket
        // kinds. ICMPv4's we compute (raw sockets send it as is; datagram ones recompute).
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Is `packet` (as received: raw ICMPv4 with its IP header) an echo reply to `ident`? The
/// sequence is returned. Datagram sockets rewrite the identifier, so theirs is not compared.
pub fn parse_reply(packet: &[u8], v6: bool, kind: SocketKind, ident: u16) -> Option<u16> {
    let icmp = if !v6 && kind == SocketKind::Raw {
        let ihl = usize::from(*packet.first()? & 0x0f) * 4;
        if ihl < 20 {
            return None;
        }
        packet.get(ihl..)?
    } else {
        packet
    };
    if icmp.len() < 8 || icmp[0] != if v6 { 129 } else { 0 } || icmp[1] != 0 {
        return None;
    }
    if kind == SocketKind::Raw && u16::from_be_bytes([icmp[4], icmp[5]]) != ident {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    probe.stage("opening the ICMP socket");
    let socket = IcmpSocket::new(probe.target.addr.ip(), probe.target.source)?;
    probe.stage(match socket.kind {
        SocketKind::Datagram => "waiting for the echo reply (ICMP datagram socket)",
        SocketKind::Raw => "waiting for the echo reply (raw ICMP socket)",
    });
    let ident = (std::process::id() as u16) ^ (probe as *const _ as usize as u16);
    let every = (probe.spec.check_timeout / 3).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(every);
    let mut seq: u16 = 0;
    let mut sent = Vec::new();
    let mut buf = [0u8; 1500];
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                seq = seq.wrapping_add(1);
                socket.send(&echo_request(socket.v6, ident, seq)).await?;
                sent.push(seq);
            }
            got = socket.recv(&mut buf) => {
                let n = got?;
                if let Some(s) = parse_reply(&buf[..n], socket.v6, socket.kind, ident)
                    && sent.contains(&s)
                {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_carry_a_valid_checksum() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(echo_request(true, 1, 1)[0], 128);
    }

    #[test]
    fn replies_are_matched_and_junk_is_ignored() {
        let mut reply = echo_request(false, 0x1234, 7);
        reply[0] = 0;
        assert_eq!(parse_reply(&reply, false, SocketKind::Datagram, 0), Some(7));
        let mut raw = vec![0x45u8; 20];
        raw.extend_from_slice(&reply);
        assert_eq!(parse_reply(&raw, false, SocketKind::Raw, 0x1234), Some(7));
        assert_eq!(parse_reply(&raw, false, SocketKind::Raw, 0x9999), None);
        // Our own request (raw sockets see it on loopback), truncated or empty packets.
        assert_eq!(parse_reply(&echo_request(false, 1, 1), false, SocketKind::Datagram, 1), None);
        assert_eq!(parse_reply(&reply[..5], false, SocketKind::Datagram, 0), None);
        assert_eq!(parse_reply(&[], false, SocketKind::Raw, 0), None);
        assert_eq!(parse_reply(&[0x4f], false, SocketKind::Raw, 0), None);
        assert_eq!(parse_reply(&[0x41; 30], false, SocketKind::Raw, 0), None);
        let mut v6 = echo_request(true, 5, 9);
        v6[0] = 129;
        assert_eq!(parse_reply(&v6, true, SocketKind::Raw, 5), Some(9));
    }
}
