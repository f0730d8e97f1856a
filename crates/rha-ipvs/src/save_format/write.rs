//! Writer producing exactly what `ipvsadm -S -n` (ipvsadm 1.31) prints.
//!
//! Order matters for a byte-for-byte match: ipvsadm sorts services and real
//! servers with `qsort` and comparators that subtract unsigned values into
//! an `int` (so 10.0.0.1 sorts *after* 193.144.50.252), and glibc's `qsort`
//! is a top-down merge sort. Both are reproduced here.

use std::net::IpAddr;

use crate::addr::ipv6_to_string;
use crate::plan::ServiceSpec;
use crate::types::*;

/// ipvsadm's scheduler flag names (`print_sched_flags`), comma-separated.
/// For `mh` ipvsadm 1.31 names only the two mh flags (flag-3 is not
/// printed, as checked against the real ipvsadm).
pub fn sched_flags_string(sched: &str, bits: u32) -> String {
    let names: [Option<&str>; 3] = match sched {
        "sh" => [Some("sh-fallback"), Some("sh-port"), Some("flag-3")],
        "mh" => [Some("mh-fallback"), Some("mh-port"), None],
        _ => [Some("flag-1"), Some("flag-2"), Some("flag-3")],
    };
    [ServiceFlags::SCHED1, ServiceFlags::SCHED2, ServiceFlags::SCHED3]
        .iter()
        .zip(names)
        .filter(|(b, _)| bits & **b != 0)
        .filter_map(|(_, n)| n)
        .collect::<Vec<_>>()
        .join(",")
}

fn addr_text(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", ipv6_to_string(a)),
    }
}

/// The `-t ADDR:PORT` / `-f MARK [-6]` part of a line.
fn service_arg(key: &ServiceKey) -> String {
    match key {
        // ipvsadm prints the mark with %d.
        ServiceKey::Fwmark { mark, family } => match family {
            Family::Inet => format!("-f {}", *mark as i32),
            Family::Inet6 => format!("-f {} -6", *mark as i32),
        },
        ServiceKey::Addr { protocol, addr, port } => {
            let flag = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{flag} {}", addr_text(addr, *port))
        }
    }
}

fn service_line(svc: &Service, name: &str) -> String {
    let mut s = format!("-A {name} -s {}", svc.scheduler);
    if svc.is_persistent() {
        s.push_str(&format!(" -p {}", svc.timeout));
        match svc.netmask {
            Netmask::V4(m) if svc.key.family() == Family::Inet && m != std::net::Ipv4Addr::BROADCAST => {
                s.push_str(&format!(" -M {m}"))
            }
            Netmask::V6(p) if svc.key.family() == Family::Inet6 && p != 128 => {
                s.push_str(&format!(" -M {p}"))
            }
            _ => {}
        }
    }
    if let Some(pe) = &svc.pe_name {
        s.push_str(&format!(" --pe {pe}"));
    }
    if svc.flags.contains(ServiceFlags::ONEPACKET) {
        s.push_str(" -o");
    }
    let sched = svc.flags.0 & ServiceFlags::SCHED_MASK;
    if sched != 0 {
        s.push_str(&format!(" -b {}", sched_flags_string(&svc.scheduler, sched)));
    }
    s
}

fn dest_line(d: &Dest, name: &str) -> String {
    let fwd = match d.forward {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Local | Forward::DirectRoute => "-g",
        // ipvsadm passes NULL to printf here; glibc prints "(null)".
        Forward::Bypass => "(null)",
    };
    // Weight is printed with %d.
    let mut s = format!("-a {name} -r {} {fwd} -w {}", addr_text(&d.addr, d.port), d.weight as i32);
    if d.forward == Forward::Tunnel {
        let t = &d.tunnel;
        match t.kind {
            TunnelType::Ipip => s.push_str(" --tun-type ipip"),
            TunnelType::Gue => {
                s.push_str(&format!(" --tun-type gue --tun-port {} {}", t.port, t.csum.option()))
            }
            TunnelType::Gre => s.push_str(&format!(" --tun-type gre {}", t.csum.option())),
        }
    }
    s
}

/// glibc's `qsort` (merge sort: split in halves, sort each, merge taking
/// from the left while `cmp(left, right) <= 0`). Reproduced because
/// ipvsadm's comparators are not a total order, so the algorithm shows.
pub(crate) fn glibc_qsort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    let (left, right) = v.split_at_mut(n1);
    glibc_qsort(left, cmp);
    glibc_qsort(right, cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            merged.push(left[i].clone());
            i += 1;
        } else {
            merged.push(right[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    v.clone_from_slice(&merged);
}

/// `ntohl(a) - ntohl(b)` stored in an `int`.
fn diff32(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn words(raw: &[u8; 16]) -> [u32; 4] {
    let mut w = [0u32; 4];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u32::from_be_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
    }
    w
}

/// Address comparison of libipvs: all four words for IPv6 (by the first
/// entry's family), only the first word otherwise.
fn cmp_addr(v6: bool, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    let (wa, wb) = (words(a), words(b));
    if v6 {
        let mut r = 0;
        for i in 0..4 {
            r = diff32(wa[i], wb[i]);
            if r != 0 {
                break;
            }
        }
        r
    } else {
        diff32(wa[0], wb[0])
    }
}

/// libipvs `ipvs_cmp_services`. Fwmark services carry no protocol, address
/// or port in ipvsadm's table (they are zero there).
fn cmp_services(a: &Service, b: &Service) -> i32 {
    let fields = |s: &Service| -> (u32, u16, u16, [u8; 16], u16) {
        match s.key {
            ServiceKey::Fwmark { mark, family } => (mark, family.af(), 0, [0; 16], 0),
            ServiceKey::Addr { protocol, addr, port } => {
                (0, Family::of(&addr).af(), protocol.number(), addr_to_union(&addr), port)
            }
        }
    };
    let (fa, afa, pa, aa, porta) = fields(a);
    let (fb, afb, pb, ab, portb) = fields(b);
    let r = diff32(fa, fb);
    if r != 0 {
        return r;
    }
    let r = i32::from(afa) - i32::from(afb);
    if r != 0 {
        return r;
    }
    let r = i32::from(pa) - i32::from(pb);
    if r != 0 {
        return r;
    }
    let r = cmp_addr(afa == AF_INET6, &aa, &ab);
    if r != 0 {
        return r;
    }
    i32::from(porta) - i32::from(portb)
}

/// libipvs `ipvs_cmp_dests`.
fn cmp_dests(a: &Dest, b: &Dest) -> i32 {
    let r = cmp_addr(a.addr.is_ipv6(), &addr_to_union(&a.addr), &addr_to_union(&b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// One service and its real servers, as `ipvsadm -S -n` prints them (real
/// servers sorted as ipvsadm sorts them). Each line ends with a newline.
pub fn write_service(spec: &ServiceSpec) -> String {
    let name = service_arg(&spec.service.key);
    let mut out = service_line(&spec.service, &name);
    out.push('\n');
    let mut dests = spec.dests.clone();
    glibc_qsort(&mut dests, &cmp_dests);
    for d in &dests {
        out.push_str(&dest_line(d, &name));
        out.push('\n');
    }
    out
}

/// A whole table as `ipvsadm -S -n` prints it, byte for byte.
pub fn write(table: &[ServiceSpec]) -> String {
    let mut specs = table.to_vec();
    glibc_qsort(&mut specs, &|a: &ServiceSpec, b: &ServiceSpec| cmp_services(&a.service, &b.service));
    specs.iter().map(write_service).collect()
}
