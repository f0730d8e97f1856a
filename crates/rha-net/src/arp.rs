//! ARP on Ethernet from an `AF_PACKET` socket: gratuitous ARP (announcements, in the request
//! or the reply form) and ARP probes for IPv4 duplicate address detection (RFC 5227).
//!
//! Gratuitous ARP forms, as neighbours' kernels expect them:
//! - **request**: `who-has VIP tell VIP`, sender = target = the address, target hardware
//!   address zero (RFC 5227 announcement), to the Ethernet broadcast address.
//! - **reply**: `VIP is-at MAC` with target hardware address = sender hardware address
//!   (Linux only treats a reply as gratuitous when they are equal), to broadcast. Some
//!   switches and firewalls only learn from replies (iputils `arping -A`).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::sys;

/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv4.
const ETH_P_IP: u16 = 0x0800;
/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// ARP payload length for Ethernet/IPv4.
pub const ARP_LEN: usize = 28;
/// Shortest Ethernet frame (without FCS); shorter frames are padded.
pub const FRAME_LEN: usize = 60;
/// `ff:ff:ff:ff:ff:ff`.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// `ARPOP_REQUEST`.
pub const OP_REQUEST: u16 = 1;
/// `ARPOP_REPLY`.
pub const OP_REPLY: u16 = 2;

/// `PACKET_OUTGOING`: a frame this host sent, looped back to packet sockets.
const PACKET_OUTGOING: u8 = 4;

/// Which kind of gratuitous ARP to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GarpForm {
    /// ARP request (`arping -U`, send_arp): the default.
    Request,
    /// ARP reply (`arping -A`).
    Reply,
}

/// A parsed Ethernet/IPv4 ARP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// The Ethernet frame carrying this packet, padded to the minimum frame length.
    pub fn to_frame(&self) -> [u8; FRAME_LEN] {
        let mut f = [0u8; FRAME_LEN];
        f[0..6].copy_from_slice(&self.eth_dst);
        f[6..12].copy_from_slice(&self.eth_src);
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        let a = &mut f[ETH_HLEN..ETH_HLEN + ARP_LEN];
        a[0..2].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
        a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
        a[4] = 6;
        a[5] = 4;
        a[6..8].copy_from_slice(&self.op.to_be_bytes());
        a[8..14].copy_from_slice(&self.sender_mac);
        a[14..18].copy_from_slice(&self.sender_ip.octets());
        a[18..24].copy_from_slice(&self.target_mac);
        a[24..28].copy_from_slice(&self.target_ip.octets());
        f
    }

    /// Parse an Ethernet frame; `None` unless it is an Ethernet/IPv4 ARP packet.
    pub fn parse(frame: &[u8]) -> Option<ArpPacket> {
        if frame.len() < ETH_HLEN + ARP_LEN || frame[12..14] != ETH_P_ARP.to_be_bytes() {
            return None;
        }
        let a = &frame[ETH_HLEN..ETH_HLEN + ARP_LEN];
        if a[0..2] != 1u16.to_be_bytes() || a[2..4] != ETH_P_IP.to_be_bytes() || a[4] != 6 || a[5] != 4 {
            return None;
        }
        let mac = |s: &[u8]| -> [u8; 6] { s.try_into().expect("6 bytes") };
        let ip = |s: &[u8]| Ipv4Addr::new(s[0], s[1], s[2], s[3]);
        Some(ArpPacket {
            eth_dst: mac(&frame[0..6]),
            eth_src: mac(&frame[6..12]),
            op: u16::from_be_bytes([a[6], a[7]]),
            sender_mac: mac(&a[8..14]),
            sender_ip: ip(&a[14..18]),
            target_mac: mac(&a[18..24]),
            target_ip: ip(&a[24..28]),
        })
    }

    /// A gratuitous ARP announcing that `ip` is at `mac`.
    pub fn gratuitous(form: GarpForm, mac: [u8; 6], ip: Ipv4Addr) -> ArpPacket {
        let (op, target_mac) = match form {
            GarpForm::Request => (OP_REQUEST, [0u8; 6]),
            GarpForm::Reply => (OP_REPLY, mac),
        };
        ArpPacket {
            eth_dst: BROADCAST_MAC,
            eth_src: mac,
            op,
            sender_mac: mac,
            sender_ip: ip,
            target_mac,
            target_ip: ip,
        }
    }

    /// An ARP probe (RFC 5227): `who-has IP tell 0.0.0.0`, asking whether anyone uses `ip`
    /// without claiming it.
    pub fn probe(mac: [u8; 6], ip: Ipv4Addr) -> ArpPacket {
        ArpPacket {
            eth_dst: BROADCAST_MAC,
            eth_src: mac,
            op: OP_REQUEST,
            sender_mac: mac,
            sender_ip: Ipv4Addr::UNSPECIFIED,
            target_mac: [0u8; 6],
            target_ip: ip,
        }
    }

    /// Whether this packet shows another host using `ip`: it claims `ip` as its sender
    /// address from a hardware address other than `our_mac`.
    pub fn claims(&self, ip: Ipv4Addr, our_mac: [u8; 6]) -> bool {
        self.sender_ip == ip && self.sender_mac != our_mac
    }
}

/// An `AF_PACKET` socket for ARP on one Ethernet interface.
pub struct ArpSocket {
    fd: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
}

fn sockaddr_ll(ifindex: u32, dst: [u8; 6]) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ETH_P_ARP.to_be();
    sa.sll_ifindex = ifindex as i32;
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&dst);
    sa
}

impl ArpSocket {
    /// Open a raw packet socket for ARP on interface `ifindex`, whose hardware address is `mac`.
    /// Needs `CAP_NET_RAW`.
    pub fn open(ifindex: u32, mac: [u8; 6]) -> io::Result<ArpSocket> {
        // Protocol 0 at creation, ETH_P_ARP at bind: a socket created with a protocol is
        // already receiving on every interface, and re-binding it waits for an RCU grace
        // period (milliseconds on a busy machine) before the first packet can go out.
        let fd = sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        let sa = sockaddr_ll(ifindex, [0; 6]);
        // SAFETY: sa is a valid sockaddr_ll of the size we pass.
        sys::cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(ArpSocket { fd, ifindex, mac })
    }

    /// The interface's hardware address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Send one ARP packet (its Ethernet destination decides where it goes).
    pub fn send(&self, packet: &ArpPacket) -> io::Result<()> {
        let frame = packet.to_frame();
        let sa = sockaddr_ll(self.ifindex, packet.eth_dst);
        // SAFETY: frame and sa are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Send a gratuitous ARP for `ip` from this interface.
    pub fn announce(&self, form: GarpForm, ip: Ipv4Addr) -> io::Result<()> {
        self.send(&ArpPacket::gratuitous(form, self.mac, ip))
    }

    /// Send `count` gratuitous ARPs for `ip`, the first at once and then `interval` apart;
    /// before each later one `keep_going(sent_so_far)` may end the series (the address is
    /// gone, a deadline is near). Returns how many were sent.
    pub fn announce_repeatedly(
        &self,
        form: GarpForm,
        ip: Ipv4Addr,
        count: u32,
        interval: Duration,
        keep_going: impl FnMut(u32) -> bool,
    ) -> io::Result<u32> {
        crate::repeat(count, interval, keep_going, || self.announce(form, ip))
    }

    /// The next ARP packet received from the network (frames this host sent are skipped),
    /// or `None` once `timeout` has passed.
    pub fn recv(&self, timeout: Duration) -> io::Result<Option<ArpPacket>> {
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 1514];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if !sys::wait_readable(self.fd.as_raw_fd(), left)? {
                return Ok(None);
            }
            // SAFETY: zeroed sockaddr_ll is valid; recvfrom fills at most its size.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: buf and from are valid for the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) {
                    continue;
                }
                return Err(e);
            }
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            if let Some(p) = ArpPacket::parse(&buf[..n as usize]) {
                return Ok(Some(p));
            }
        }
    }

    /// IPv4 duplicate address detection (what `arping -D` does): send `probes` ARP probes for
    /// `ip`, `interval` apart, and listen until `wait` after the last one. Returns the hardware
    /// address of a host that answers for `ip`, or `None` if nobody does.
    ///
    /// If `deadline` passes first, fails with `ErrorKind::TimedOut`: the check is incomplete.
    pub fn detect_duplicate(
        &self,
        ip: Ipv4Addr,
        probes: u32,
        interval: Duration,
        wait: Duration,
        deadline: Option<Instant>,
    ) -> io::Result<Option<[u8; 6]>> {
        let probe = ArpPacket::probe(self.mac, ip);
        for i in 0..probes.max(1) {
            self.send(&probe)?;
            let listen = if i + 1 == probes.max(1) { wait } else { interval };
            let until = Instant::now() + listen;
            if deadline.is_some_and(|d| d < until) {
                let d = deadline.expect("checked");
                if let Some(mac) = self.listen_for_claim(ip, d)? {
                    return Ok(Some(mac));
                }
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "duplicate address detection could not finish before the deadline",
                ));
            }
            if let Some(mac) = self.listen_for_claim(ip, until)? {
                return Ok(Some(mac));
            }
        }
        Ok(None)
    }

    fn listen_for_claim(&self, ip: Ipv4Addr, until: Instant) -> io::Result<Option<[u8; 6]>> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.recv(left)? {
                Some(p) if p.claims(ip, self.mac) => return Ok(Some(p.sender_mac)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    fn vip() -> Ipv4Addr {
        "198.51.100.10".parse().unwrap()
    }

    #[test]
    fn gratuitous_request_layout() {
        let f = ArpPacket::gratuitous(GarpForm::Request, MAC, vip()).to_frame();
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &[0xff; 6], "to broadcast");
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        // htype 1, ptype 0x0800, hlen 6, plen 4, op 1
        assert_eq!(&f[14..22], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&f[22..28], &MAC, "sender hw");
        assert_eq!(&f[28..32], &[198, 51, 100, 10], "sender ip");
        assert_eq!(&f[32..38], &[0; 6], "target hw zero (RFC 5227)");
        assert_eq!(&f[38..42], &[198, 51, 100, 10], "target ip = sender ip");
        assert!(f[42..].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn gratuitous_reply_has_target_hw_equal_to_sender() {
        let f = ArpPacket::gratuitous(GarpForm::Reply, MAC, vip()).to_frame();
        assert_eq!(&f[20..22], &[0, 2], "op reply");
        assert_eq!(&f[32..38], &MAC, "Linux requires tha == sha for a gratuitous reply");
        assert_eq!(&f[0..6], &[0xff; 6]);
    }

    #[test]
    fn probe_layout() {
        let p = ArpPacket::probe(MAC, vip());
        let f = p.to_frame();
        assert_eq!(&f[20..22], &[0, 1]);
        assert_eq!(&f[28..32], &[0, 0, 0, 0], "sender ip 0.0.0.0");
        assert_eq!(&f[38..42], &[198, 51, 100, 10]);
        assert!(!p.claims(vip(), [9; 6]), "a probe claims nothing");
    }

    #[test]
    fn parse_round_trip_and_rejects() {
        let p = ArpPacket::gratuitous(GarpForm::Reply, MAC, vip());
        assert_eq!(ArpPacket::parse(&p.to_frame()), Some(p));
        assert_eq!(ArpPacket::parse(&p.to_frame()[..41]), None, "short");
        let mut ip_frame = p.to_frame();
        ip_frame[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(ArpPacket::parse(&ip_frame), None, "not ARP");
        let mut ib = p.to_frame();
        ib[18] = 20;
        assert_eq!(ArpPacket::parse(&ib), None, "hardware length 20 (InfiniBand)");
    }

    #[test]
    fn repeat_counts_and_stops() {
        let mut sent = 0;
        let n = crate::repeat(
            5,
            Duration::ZERO,
            |_| true,
            || {
                sent += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((n, sent), (5, 5));
        let n = crate::repeat(5, Duration::ZERO, |done| done < 2, || Ok(())).unwrap();
        assert_eq!(n, 2, "keep_going ends the series");
        let e = crate::repeat(5, Duration::ZERO, |_| true, || Err(io::Error::other("down")));
        assert!(e.is_err());
        assert_eq!(crate::repeat(0, Duration::ZERO, |_| true, || Ok(())).unwrap(), 0);
    }

    #[test]
    fn claims() {
        let other = [0x02, 0, 0, 0, 0, 9];
        let reply = ArpPacket::gratuitous(GarpForm::Reply, other, vip());
        assert!(reply.claims(vip(), MAC));
        assert!(!reply.claims(vip(), other), "our own packet");
        assert!(!reply.claims("198.51.100.11".parse().unwrap(), MAC));
    }
}
