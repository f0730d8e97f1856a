//! IP addresses on interfaces: list, add (label, broadcast, flags, lifetimes), delete.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags as NlFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::netlink::{Netlink, Result};

/// IP version of an address or route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    /// Full prefix length: 32 or 128.
    pub fn max_prefix(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    pub(crate) fn netlink(self) -> AddressFamily {
        match self {
            Family::V4 => AddressFamily::Inet,
            Family::V6 => AddressFamily::Inet6,
        }
    }

    pub(crate) fn from_netlink(f: AddressFamily) -> Option<Family> {
        match f {
            AddressFamily::Inet => Some(Family::V4),
            AddressFamily::Inet6 => Some(Family::V6),
            _ => None,
        }
    }
}

/// `IFA_F_*` address flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AddressFlags(pub u32);

impl AddressFlags {
    pub const SECONDARY: u32 = 0x01;
    pub const NODAD: u32 = 0x02;
    pub const OPTIMISTIC: u32 = 0x04;
    pub const DADFAILED: u32 = 0x08;
    pub const DEPRECATED: u32 = 0x20;
    pub const TENTATIVE: u32 = 0x40;
    pub const PERMANENT: u32 = 0x80;
    pub const NOPREFIXROUTE: u32 = 0x200;

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
}

impl fmt::Display for AddressFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::SECONDARY, "secondary"),
            (Self::NODAD, "nodad"),
            (Self::OPTIMISTIC, "optimistic"),
            (Self::DADFAILED, "dadfailed"),
            (Self::DEPRECATED, "deprecated"),
            (Self::TENTATIVE, "tentative"),
            (Self::PERMANENT, "permanent"),
            (Self::NOPREFIXROUTE, "noprefixroute"),
        ];
        let set: Vec<&str> = names.iter().filter(|(b, _)| self.has(*b)).map(|(_, n)| *n).collect();
        f.write_str(&set.join(" "))
    }
}

/// An address lifetime (`preferred_lft`, `valid_lft`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lifetime {
    #[default]
    Forever,
    Seconds(u32),
}

impl Lifetime {
    /// What the kernel uses for "forever".
    pub const INFINITY: u32 = u32::MAX;

    /// Parse `forever` or a number of seconds, as `ip addr add ... preferred_lft X` does.
    pub fn parse(s: &str) -> Option<Lifetime> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("forever") || s.eq_ignore_ascii_case("infinity") {
            return Some(Lifetime::Forever);
        }
        match s.parse::<u32>().ok()? {
            Self::INFINITY => Some(Lifetime::Forever),
            n => Some(Lifetime::Seconds(n)),
        }
    }

    fn raw(self) -> u32 {
        match self {
            Lifetime::Forever => Self::INFINITY,
            Lifetime::Seconds(s) => s,
        }
    }

    fn from_raw(v: u32) -> Lifetime {
        if v == Self::INFINITY { Lifetime::Forever } else { Lifetime::Seconds(v) }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::Forever => f.write_str("forever"),
            Lifetime::Seconds(s) => write!(f, "{s}sec"),
        }
    }
}

/// One address configured on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Interface index.
    pub index: u32,
    /// The local address.
    pub address: IpAddr,
    pub prefix_len: u8,
    /// IPv4 label (`eth0`, `eth0:vip`); IPv6 addresses have none.
    pub label: Option<String>,
    /// IPv4 broadcast address, if set.
    pub broadcast: Option<Ipv4Addr>,
    pub flags: AddressFlags,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    pub preferred: Lifetime,
    pub valid: Lifetime,
}

impl Address {
    pub fn family(&self) -> Family {
        Family::of(&self.address)
    }

    /// IPv6 duplicate address detection still running.
    pub fn is_tentative(&self) -> bool {
        self.flags.has(AddressFlags::TENTATIVE) && !self.is_dad_failed()
    }

    /// IPv6 duplicate address detection found another node with this address.
    pub fn is_dad_failed(&self) -> bool {
        self.flags.has(AddressFlags::DADFAILED)
    }

    fn from_message(msg: AddressMessage) -> Option<Address> {
        // Only IPv4 and IPv6 addresses are of interest.
        Family::from_netlink(msg.header.family)?;
        let mut local = None;
        let mut peer = None;
        let mut a = Address {
            index: msg.header.index,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: msg.header.prefix_len,
            label: None,
            broadcast: None,
            flags: AddressFlags(u32::from(msg.header.flags.bits())),
            scope: u8::from(msg.header.scope),
            preferred: Lifetime::Forever,
            valid: Lifetime::Forever,
        };
        for attr in msg.attributes {
            match attr {
                AddressAttribute::Local(ip) => local = Some(ip),
                AddressAttribute::Address(ip) => peer = Some(ip),
                AddressAttribute::Label(l) => a.label = Some(l),
                AddressAttribute::Broadcast(b) => a.broadcast = Some(b),
                // IFA_FLAGS holds all 32 bits; the header only the low 8.
                AddressAttribute::Flags(f) => a.flags = AddressFlags(f.bits()),
                AddressAttribute::CacheInfo(c) => {
                    a.preferred = Lifetime::from_raw(c.ifa_preferred);
                    a.valid = Lifetime::from_raw(c.ifa_valid);
                }
                _ => {}
            }
        }
        // IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer); IPv6 sends
        // IFA_LOCAL only with a point-to-point peer, and then it is the local address too.
        a.address = local.or(peer)?;
        Some(a)
    }
}

/// Addresses of `family` (or all families), optionally only on interface `index`.
pub fn list(nl: &mut Netlink, family: Option<Family>, index: Option<u32>) -> Result<Vec<Address>> {
    let mut msg = AddressMessage::default();
    if let Some(f) = family {
        msg.header.family = f.netlink();
    }
    let msgs = nl.dump(RouteNetlinkMessage::GetAddress(msg), &|| "listing addresses".into())?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => Address::from_message(a),
            _ => None,
        })
        .filter(|a| family.is_none_or(|f| a.family() == f))
        .filter(|a| index.is_none_or(|i| a.index == i))
        .collect())
}

/// Every configured instance of exactly `ip` (any prefix, any interface).
pub fn find(nl: &mut Netlink, ip: IpAddr) -> Result<Vec<Address>> {
    Ok(list(nl, Some(Family::of(&ip)), None)?.into_iter().filter(|a| a.address == ip).collect())
}

/// An address to add: `ip addr add ADDRESS/PREFIX [brd B] dev IFINDEX [label L] [nodad]
/// [noprefixroute] [preferred_lft P] [valid_lft V] [metric M]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAddress {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    /// IPv4 only; ignored for IPv6.
    pub label: Option<String>,
    /// IPv4 only.
    pub broadcast: Option<Ipv4Addr>,
    /// IPv6: skip duplicate address detection.
    pub nodad: bool,
    /// Do not create the prefix route.
    pub noprefixroute: bool,
    pub preferred: Lifetime,
    pub valid: Lifetime,
    /// Metric of the prefix route (`IFA_RT_PRIORITY`).
    pub metric: Option<u32>,
}

impl NewAddress {
    /// `address/prefix_len` on interface `index`, with nothing else set.
    pub fn new(index: u32, address: IpAddr, prefix_len: u8) -> NewAddress {
        NewAddress {
            index,
            address,
            prefix_len,
            label: None,
            broadcast: None,
            nodad: false,
            noprefixroute: false,
            preferred: Lifetime::Forever,
            valid: Lifetime::Forever,
            metric: None,
        }
    }

    /// The netlink message that adds this address.
    pub fn message(&self) -> AddressMessage {
        let family = Family::of(&self.address);
        let mut msg = AddressMessage::default();
        msg.header.family = family.netlink();
        msg.header.prefix_len = self.prefix_len;
        msg.header.index = self.index;
        msg.header.scope =
            if self.address.is_loopback() { AddressScope::Host } else { AddressScope::Universe };
        let mut flags = 0u32;
        if self.nodad && family == Family::V6 {
            flags |= AddressFlags::NODAD;
        }
        if self.noprefixroute {
            flags |= AddressFlags::NOPREFIXROUTE;
        }
        msg.header.flags = AddressHeaderFlags::from_bits_retain(flags as u8);
        msg.attributes.push(AddressAttribute::Local(self.address));
        msg.attributes.push(AddressAttribute::Address(self.address));
        if family == Family::V4 {
            if let Some(label) = &self.label {
                msg.attributes.push(AddressAttribute::Label(label.clone()));
            }
            if let Some(b) = self.broadcast {
                msg.attributes.push(AddressAttribute::Broadcast(b));
            }
        }
        if flags != 0 {
            msg.attributes.push(AddressAttribute::Flags(NlFlags::from_bits_retain(flags)));
        }
        if self.preferred != Lifetime::Forever || self.valid != Lifetime::Forever {
            let mut ci = CacheInfo::default();
            ci.ifa_preferred = self.preferred.raw();
            ci.ifa_valid = self.valid.raw();
            msg.attributes.push(AddressAttribute::CacheInfo(ci));
        }
        if let Some(m) = self.metric {
            msg.attributes.push(AddressAttribute::RoutePriority(m));
        }
        msg
    }
}

/// Add an address; fails with `EEXIST` if it is already there.
pub fn add(nl: &mut Netlink, new: &NewAddress) -> Result<()> {
    nl.request(RouteNetlinkMessage::NewAddress(new.message()), NLM_F_CREATE | NLM_F_EXCL, &|| {
        format!("adding {}/{} to interface #{}", new.address, new.prefix_len, new.index)
    })
}

/// Delete `ip/prefix_len` from interface `index`. An address that is not there gives
/// `EADDRNOTAVAIL` (see [`is_absent`]).
pub fn delete(nl: &mut Netlink, index: u32, ip: IpAddr, prefix_len: u8) -> Result<()> {
    let family = Family::of(&ip);
    let mut msg = AddressMessage::default();
    msg.header.family = family.netlink();
    msg.header.prefix_len = prefix_len;
    msg.header.index = index;
    msg.attributes.push(AddressAttribute::Local(ip));
    if family == Family::V6 {
        msg.attributes.push(AddressAttribute::Address(ip));
    }
    nl.request(RouteNetlinkMessage::DelAddress(msg), 0, &|| {
        format!("deleting {ip}/{prefix_len} from interface #{index}")
    })
}

/// Whether a delete failed only because the address was already gone.
pub fn is_absent(e: &crate::Error) -> bool {
    e.is_errno(&[libc::EADDRNOTAVAIL, libc::ENOENT, libc::ENODEV, libc::ENXIO, libc::ESRCH])
}

/// The broadcast address of `ip/prefix_len` (host bits set), or `None` for /31 and /32,
/// which have none (RFC 3021).
pub fn broadcast_of(ip: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Addr> {
    if prefix_len >= 31 {
        return None;
    }
    Some(Ipv4Addr::from(u32::from(ip) | host_mask(prefix_len)))
}

/// The network address of `ip/prefix_len` (host bits cleared).
pub fn network_of(ip: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip) & !host_mask(prefix_len))
}

fn host_mask(prefix_len: u8) -> u32 {
    if prefix_len >= 32 { 0 } else { u32::MAX >> prefix_len }
}

/// Whether `ip` lies in `net/prefix_len` (same family only).
pub fn prefix_contains(net: IpAddr, prefix_len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix_len.min(32))) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if prefix_len == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix_len.min(128))) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;
    use netlink_packet_core::Parseable;
    use std::net::Ipv6Addr;

    #[test]
    fn broadcast_and_network() {
        let ip: Ipv4Addr = "198.51.100.77".parse().unwrap();
        assert_eq!(broadcast_of(ip, 24), Some("198.51.100.255".parse().unwrap()));
        assert_eq!(broadcast_of(ip, 26), Some("198.51.100.127".parse().unwrap()));
        assert_eq!(broadcast_of(ip, 31), None);
        assert_eq!(broadcast_of(ip, 32), None);
        assert_eq!(broadcast_of(ip, 0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(network_of(ip, 24), "198.51.100.0".parse::<Ipv4Addr>().unwrap());
        assert_eq!(network_of(ip, 32), ip);
        assert_eq!(network_of(ip, 0), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn prefixes() {
        let n: IpAddr = "198.51.100.0".parse().unwrap();
        assert!(prefix_contains(n, 24, "198.51.100.9".parse().unwrap()));
        assert!(!prefix_contains(n, 24, "198.51.101.9".parse().unwrap()));
        assert!(prefix_contains(n, 0, "203.0.113.1".parse().unwrap()));
        let n6: IpAddr = "2001:db8:1::".parse().unwrap();
        assert!(prefix_contains(n6, 64, "2001:db8:1::5".parse().unwrap()));
        assert!(!prefix_contains(n6, 64, "2001:db8:2::5".parse().unwrap()));
        assert!(!prefix_contains(n6, 64, "198.51.100.9".parse().unwrap()));
    }

    #[test]
    fn lifetimes() {
        assert_eq!(Lifetime::parse("forever"), Some(Lifetime::Forever));
        assert_eq!(Lifetime::parse("0"), Some(Lifetime::Seconds(0)));
        assert_eq!(Lifetime::parse("4294967295"), Some(Lifetime::Forever));
        assert_eq!(Lifetime::parse("-1"), None);
        assert_eq!(Lifetime::parse("soon"), None);
    }

    #[test]
    fn new_address_message_round_trips() {
        let mut n = NewAddress::new(7, "2001:db8::10".parse().unwrap(), 64);
        n.nodad = true;
        n.noprefixroute = true;
        n.preferred = Lifetime::Seconds(0);
        n.label = Some("ignored".into());
        let msg = n.message();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let back = AddressMessage::parse(buf.as_slice()).unwrap();
        let a = Address::from_message(back).unwrap();
        assert_eq!(a.address, IpAddr::V6("2001:db8::10".parse::<Ipv6Addr>().unwrap()));
        assert_eq!(a.prefix_len, 64);
        assert_eq!(a.index, 7);
        assert!(a.flags.has(AddressFlags::NODAD) && a.flags.has(AddressFlags::NOPREFIXROUTE));
        assert_eq!(a.preferred, Lifetime::Seconds(0));
        assert_eq!(a.valid, Lifetime::Forever);
        assert_eq!(a.label, None, "IPv6 has no labels");

        let mut v4 = NewAddress::new(3, "198.51.100.5".parse().unwrap(), 24);
        v4.label = Some("eth0:vip".into());
        v4.broadcast = broadcast_of("198.51.100.5".parse().unwrap(), 24);
        v4.nodad = true; // meaningless for IPv4: not sent
        let msg = v4.message();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let back = AddressMessage::parse(buf.as_slice()).unwrap();
        let a = Address::from_message(back).unwrap();
        assert_eq!(a.label.as_deref(), Some("eth0:vip"));
        assert_eq!(a.broadcast, Some("198.51.100.255".parse().unwrap()));
        assert_eq!(a.flags, AddressFlags(0));
    }

    #[test]
    fn flags_display() {
        let f = AddressFlags(AddressFlags::TENTATIVE | AddressFlags::NODAD);
        assert_eq!(f.to_string(), "nodad tentative");
    }
}
