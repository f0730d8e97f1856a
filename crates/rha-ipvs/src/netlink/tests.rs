//! Attribute and message encode/decode round trips, and the wire facts the
//! kernel depends on (byte orders, sizes, nesting).

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{DefaultNla, Emitable, NLA_F_NESTED, Nla, NlaBuffer};

use super::attrs::{IpvsAttr, IpvsMessage};
use super::consts::*;
use super::daemon::{DaemonAttr, daemon_attrs, daemon_from_attrs};
use super::dest::{DestAttr, dest_attrs, dest_from_attrs};
use super::service::{ServiceAttr, key_attrs, service_attrs, service_from_attrs};
use super::stats::{StatsAttr, stats_to_attrs};
use super::{decode, encode, request_for};
use crate::change::Change;
use crate::types::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Bytes of one attribute as it goes on the wire.
fn wire<T: Nla>(a: &T) -> Vec<u8> {
    let mut b = vec![0u8; a.buffer_len()];
    a.emit(&mut b);
    b
}

/// Encodes a message, decodes it back.
fn round_trip(cmd: u8, attrs: Vec<IpvsAttr>) -> IpvsMessage {
    let bytes = encode(0x2a, cmd, attrs, 0x5, 77);
    // nlmsghdr: length, type = family id, flags, seq.
    assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize, bytes.len());
    assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x2a);
    assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), 0x5);
    assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 77);
    // genlmsghdr: command, version 1.
    assert_eq!(bytes[16], cmd);
    assert_eq!(bytes[17], IPVS_GENL_VERSION);
    decode(&bytes).unwrap()
}

fn services() -> Vec<Service> {
    let mut a = Service::new(ServiceKey::tcp(ip("193.144.50.252"), 80)).with_scheduler("wrr");
    a.flags.0 |= ServiceFlags::ONEPACKET;
    let mut b =
        Service::new(ServiceKey::Fwmark { mark: u32::MAX, family: Family::Inet6 }).with_persistence(100);
    b.netmask = Netmask::V6(64);
    let mut c =
        Service::new(ServiceKey::Addr { protocol: Protocol::Sctp, addr: ip("2001:db8::10"), port: 5060 })
            .with_scheduler("sh")
            .with_persistence(360);
    c.pe_name = Some("sip".into());
    c.flags.0 |= ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
    let mut d = Service::new(ServiceKey::udp(ip("10.0.0.1"), 53)).with_persistence(60);
    d.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    vec![a, b, c, d]
}

#[test]
fn service_round_trips() {
    for s in services() {
        let m = round_trip(CMD_NEW_SERVICE, vec![IpvsAttr::Service(service_attrs(&s))]);
        assert_eq!(m.cmd, CMD_NEW_SERVICE);
        let IpvsAttr::Service(attrs) = &m.attrs[0] else { panic!() };
        assert_eq!(service_from_attrs(attrs).unwrap().service, s);
    }
}

#[test]
fn service_wire_facts() {
    // Ports are big-endian, after the 4-byte header (length excludes padding).
    assert_eq!(wire(&ServiceAttr::Port(80)), [6, 0, 4, 0, 0, 80, 0, 0]);
    // Addresses always travel as a 16-byte union nf_inet_addr.
    let w = wire(&ServiceAttr::Addr(addr_to_union(&ip("10.0.0.1"))));
    assert_eq!(&w[..4], &[20, 0, 3, 0]);
    assert_eq!(&w[4..8], &[10, 0, 0, 1]);
    assert!(w[8..].iter().all(|b| *b == 0));
    // IPv4 netmask: network order; IPv6: prefix length as a host-order u32.
    assert_eq!(
        &wire(&ServiceAttr::Netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)).to_wire()))[4..],
        [255, 255, 255, 0]
    );
    assert_eq!(&wire(&ServiceAttr::Netmask(Netmask::V6(64).to_wire()))[4..], 64u32.to_ne_bytes());
    // Strings carry their NUL; flags carry flags then an all-ones mask.
    assert_eq!(wire(&ServiceAttr::SchedName("rr".into())), [7, 0, 6, 0, b'r', b'r', 0, 0]);
    let s = services().remove(0);
    let attrs = service_attrs(&s);
    assert!(attrs.contains(&ServiceAttr::Flags { flags: ServiceFlags::ONEPACKET, mask: u32::MAX }));
    // The service nest is marked nested.
    assert_eq!(IpvsAttr::Service(attrs).kind(), CMD_ATTR_SERVICE | NLA_F_NESTED);
    // A key is just the identity.
    assert_eq!(
        key_attrs(&ServiceKey::Fwmark { mark: 5, family: Family::Inet }),
        vec![ServiceAttr::Af(AF_INET), ServiceAttr::Fwmark(5)]
    );
}

#[test]
fn kernel_dump_entry_decodes() {
    // What the kernel sends for a dump entry: HASHED set, both stats nests,
    // an attribute from a future kernel.
    let mut attrs = service_attrs(&services()[0]);
    for a in &mut attrs {
        if let ServiceAttr::Flags { flags, .. } = a {
            *flags |= ServiceFlags::HASHED;
        }
    }
    let stats = Stats { conns: 5, inbytes: 1 << 40, outbps: 7, ..Stats::default() };
    attrs.push(ServiceAttr::Stats(stats_to_attrs(&Stats::default(), false)));
    attrs.push(ServiceAttr::Stats64(stats_to_attrs(&stats, true)));
    attrs.push(ServiceAttr::Other(DefaultNla::new(99, vec![1, 2, 3, 4])));
    let m = round_trip(CMD_NEW_SERVICE, vec![IpvsAttr::Service(attrs)]);
    let IpvsAttr::Service(attrs) = &m.attrs[0] else { panic!() };
    assert!(attrs.contains(&ServiceAttr::Other(DefaultNla::new(99, vec![1, 2, 3, 4]))));
    let e = service_from_attrs(attrs).unwrap();
    assert_eq!(e.service, services()[0]);
    assert_eq!(e.stats, stats);
}

#[test]
fn stats_widths() {
    let narrow = stats_to_attrs(&Stats { conns: 3, inbytes: 9, ..Stats::default() }, false);
    assert_eq!(narrow[0].value_len(), 4);
    assert_eq!(narrow[3].value_len(), 8);
    let bytes = wire(&narrow[0]);
    let parsed = StatsAttr::parse(&NlaBuffer::new_checked(&bytes[..]).unwrap()).unwrap();
    assert_eq!(parsed, narrow[0]);
    // The alignment pad attribute carries nothing.
    let pad = [4u8, 0, STATS_ATTR_PAD as u8, 0];
    assert_eq!(StatsAttr::parse(&NlaBuffer::new_checked(&pad[..]).unwrap()).unwrap().value, None);
    let odd = [7u8, 0, 1, 0, 1, 2, 3, 0];
    assert!(StatsAttr::parse(&NlaBuffer::new_checked(&odd[..]).unwrap()).is_err());
}

#[test]
fn dest_round_trips() {
    let dests = vec![
        Dest::new(ip("10.0.0.2"), 8080).with_forward(Forward::Masq).with_weight(3),
        Dest { u_threshold: 100, l_threshold: 10, ..Dest::new(ip("2001:db8::2"), 80) },
        Dest {
            tunnel: Tunnel { kind: TunnelType::Gue, port: 6080, csum: TunnelCsum::RemCsum },
            ..Dest::new(ip("10.0.0.3"), 80).with_forward(Forward::Tunnel)
        },
    ];
    for d in dests {
        let m = round_trip(
            CMD_NEW_DEST,
            vec![
                IpvsAttr::Service(key_attrs(&ServiceKey::tcp(ip("10.0.0.1"), 80))),
                IpvsAttr::Dest(dest_attrs(&d)),
            ],
        );
        let IpvsAttr::Dest(attrs) = &m.attrs[1] else { panic!() };
        let back = dest_from_attrs(attrs, Family::Inet).unwrap();
        assert_eq!(back.dest, d);
        // Tunnel attributes only travel for tunnels.
        let has_tun = attrs.iter().any(|a| matches!(a, DestAttr::TunType(_)));
        assert_eq!(has_tun, d.forward == Forward::Tunnel);
    }
    assert_eq!(wire(&DestAttr::TunPort(6080)), [6, 0, 14, 0, 0x17, 0xc0, 0, 0]);
    assert_eq!(wire(&DestAttr::TunType(1)), [5, 0, 13, 0, 1, 0, 0, 0]);
}

#[test]
fn dest_family_defaults_to_the_service() {
    // Pre-3.18 kernels send no ADDR_FAMILY.
    let attrs = vec![
        DestAttr::Addr(addr_to_union(&ip("2001:db8::7"))),
        DestAttr::Port(80),
        DestAttr::FwdMethod(3),
        DestAttr::Weight(1),
    ];
    assert_eq!(dest_from_attrs(&attrs, Family::Inet6).unwrap().dest.addr, ip("2001:db8::7"));
    assert!(dest_from_attrs(&attrs[1..], Family::Inet6).is_err());
}

#[test]
fn daemon_round_trips() {
    let d = Daemon {
        sync_maxlen: Some(1400),
        mcast_group: Some(ip("224.0.0.82")),
        mcast_port: Some(8850),
        mcast_ttl: Some(2),
        ..Daemon::new(DaemonState::Backup, "eth1", 6)
    };
    let m = round_trip(CMD_NEW_DAEMON, vec![IpvsAttr::Daemon(daemon_attrs(&d))]);
    let IpvsAttr::Daemon(attrs) = &m.attrs[0] else { panic!() };
    assert_eq!(daemon_from_attrs(attrs).unwrap(), d);
    // The multicast group travels in network order.
    assert_eq!(&wire(&DaemonAttr::McastGroup(Ipv4Addr::new(224, 0, 0, 82)))[4..], [224, 0, 0, 82]);
    let v6 = Daemon { mcast_group: Some(ip("ff02::82")), ..Daemon::new(DaemonState::Master, "lo", 0) };
    assert_eq!(daemon_from_attrs(&daemon_attrs(&v6)).unwrap(), v6);
    assert!(daemon_from_attrs(&[DaemonAttr::State(7)]).is_err());
}

#[test]
fn info_reply_reuses_attribute_numbers() {
    let m = round_trip(CMD_SET_INFO, vec![IpvsAttr::InfoVersion(0x010201), IpvsAttr::InfoConnTabSize(4096)]);
    assert_eq!(m.attrs, vec![IpvsAttr::InfoVersion(0x010201), IpvsAttr::InfoConnTabSize(4096)]);
    let m = round_trip(CMD_SET_CONFIG, vec![IpvsAttr::TimeoutTcp(900), IpvsAttr::TimeoutUdp(300)]);
    assert_eq!(m.attrs, vec![IpvsAttr::TimeoutTcp(900), IpvsAttr::TimeoutUdp(300)]);
}

#[test]
fn every_change_maps_to_its_command() {
    let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
    let d = Dest::new(ip("10.0.0.2"), 80);
    let cases = vec![
        (Change::AddService(Service::new(k)), CMD_NEW_SERVICE, 1),
        (Change::EditService(Service::new(k)), CMD_SET_SERVICE, 1),
        (Change::DelService(k), CMD_DEL_SERVICE, 1),
        (Change::AddDest(k, d.clone()), CMD_NEW_DEST, 2),
        (Change::EditDest(k, d.clone()), CMD_SET_DEST, 2),
        (Change::DelDest(k, d.key()), CMD_DEL_DEST, 2),
        (Change::Flush, CMD_FLUSH, 0),
        (Change::Zero(None), CMD_ZERO, 0),
        (Change::Zero(Some(k)), CMD_ZERO, 1),
        (Change::SetTimeouts(Timeouts { tcp: 1, tcp_fin: 0, udp: 3 }), CMD_SET_CONFIG, 2),
        (Change::StartDaemon(Daemon::new(DaemonState::Master, "lo", 1)), CMD_NEW_DAEMON, 1),
        (Change::StopDaemon(DaemonState::Backup), CMD_DEL_DAEMON, 1),
    ];
    for (change, cmd, n) in cases {
        let (_, c, attrs) = request_for(&change);
        assert_eq!(c, cmd, "{change}");
        assert_eq!(attrs.len(), n, "{change}");
        let m = round_trip(c, attrs.clone());
        assert_eq!(m.attrs, attrs, "{change}");
    }
}

#[test]
fn garbage_does_not_panic() {
    let good = encode(0x2a, CMD_NEW_SERVICE, vec![IpvsAttr::Service(service_attrs(&services()[2]))], 0, 1);
    let mut x: u32 = 12345;
    for i in 0..4000 {
        let mut b = good.clone();
        // Flip a few bytes after the netlink header, or truncate.
        for _ in 0..3 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let pos = 16 + (x as usize % (b.len() - 16));
            b[pos] = (x >> 16) as u8;
        }
        if i % 5 == 0 {
            b.truncate(16 + (x as usize % (b.len() - 16)));
            let len = b.len() as u32;
            b[..4].copy_from_slice(&len.to_ne_bytes());
        }
        if let Ok(m) = decode(&b) {
            for a in &m.attrs {
                if let IpvsAttr::Service(s) = a {
                    let _ = service_from_attrs(s);
                }
            }
        }
    }
}
