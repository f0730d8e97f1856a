//! The service nest (`IPVS_CMD_ATTR_SERVICE`) and its mapping to [`Service`].

use netlink_packet_core::{DecodeError, DefaultNla, Emitable, NLA_F_NESTED, Nla, NlaBuffer, Parseable};

use super::attrs::*;
use super::consts::*;
use super::stats::{StatsAttr, stats_from_attrs};
use crate::types::{
    Family, Netmask, Protocol, Service, ServiceEntry, ServiceFlags, ServiceKey, Stats, addr_from_union,
    addr_to_union,
};

/// One attribute of a service nest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceAttr {
    /// `IPVS_SVC_ATTR_AF`.
    Af(u16),
    /// `IPVS_SVC_ATTR_PROTOCOL` (`IPPROTO_*`).
    Protocol(u16),
    /// `IPVS_SVC_ATTR_ADDR` (`union nf_inet_addr`).
    Addr([u8; 16]),
    /// `IPVS_SVC_ATTR_PORT` (host-order value; big-endian on the wire).
    Port(u16),
    /// `IPVS_SVC_ATTR_FWMARK`.
    Fwmark(u32),
    /// `IPVS_SVC_ATTR_SCHED_NAME`.
    SchedName(String),
    /// `IPVS_SVC_ATTR_FLAGS` (`struct ip_vs_flags`: the bits to set within `mask`).
    Flags {
        /// Flag values.
        flags: u32,
        /// Which flags `flags` applies to.
        mask: u32,
    },
    /// `IPVS_SVC_ATTR_TIMEOUT` (seconds).
    Timeout(u32),
    /// `IPVS_SVC_ATTR_NETMASK` (raw 4 bytes; see [`Netmask`]).
    Netmask([u8; 4]),
    /// `IPVS_SVC_ATTR_STATS`.
    Stats(Vec<StatsAttr>),
    /// `IPVS_SVC_ATTR_PE_NAME`.
    PeName(String),
    /// `IPVS_SVC_ATTR_STATS64`.
    Stats64(Vec<StatsAttr>),
    /// Unknown attribute.
    Other(DefaultNla),
}

impl Nla for ServiceAttr {
    fn value_len(&self) -> usize {
        match self {
            ServiceAttr::Af(_) | ServiceAttr::Protocol(_) | ServiceAttr::Port(_) => 2,
            ServiceAttr::Addr(_) => 16,
            ServiceAttr::Fwmark(_) | ServiceAttr::Timeout(_) | ServiceAttr::Netmask(_) => 4,
            ServiceAttr::SchedName(s) | ServiceAttr::PeName(s) => s.len() + 1,
            ServiceAttr::Flags { .. } => 8,
            ServiceAttr::Stats(v) | ServiceAttr::Stats64(v) => v.as_slice().buffer_len(),
            ServiceAttr::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            ServiceAttr::Af(_) => SVC_ATTR_AF,
            ServiceAttr::Protocol(_) => SVC_ATTR_PROTOCOL,
            ServiceAttr::Addr(_) => SVC_ATTR_ADDR,
            ServiceAttr::Port(_) => SVC_ATTR_PORT,
            ServiceAttr::Fwmark(_) => SVC_ATTR_FWMARK,
            ServiceAttr::SchedName(_) => SVC_ATTR_SCHED_NAME,
            ServiceAttr::Flags { .. } => SVC_ATTR_FLAGS,
            ServiceAttr::Timeout(_) => SVC_ATTR_TIMEOUT,
            ServiceAttr::Netmask(_) => SVC_ATTR_NETMASK,
            ServiceAttr::Stats(_) => SVC_ATTR_STATS | NLA_F_NESTED,
            ServiceAttr::PeName(_) => SVC_ATTR_PE_NAME,
            ServiceAttr::Stats64(_) => SVC_ATTR_STATS64 | NLA_F_NESTED,
            ServiceAttr::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, b: &mut [u8]) {
        match self {
            ServiceAttr::Af(x) | ServiceAttr::Protocol(x) => put_u16(b, *x),
            ServiceAttr::Addr(a) => b[..16].copy_from_slice(a),
            ServiceAttr::Port(p) => put_u16_be(b, *p),
            ServiceAttr::Fwmark(x) | ServiceAttr::Timeout(x) => put_u32(b, *x),
            ServiceAttr::Netmask(m) => b[..4].copy_from_slice(m),
            ServiceAttr::SchedName(s) | ServiceAttr::PeName(s) => put_string(b, s),
            ServiceAttr::Flags { flags, mask } => {
                put_u32(b, *flags);
                put_u32(&mut b[4..], *mask);
            }
            ServiceAttr::Stats(v) | ServiceAttr::Stats64(v) => v.as_slice().emit(b),
            ServiceAttr::Other(o) => o.emit_value(b),
        }
    }
}

impl ServiceAttr {
    /// Parses one service attribute.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<ServiceAttr, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            SVC_ATTR_AF => ServiceAttr::Af(get_u16("SVC_ATTR_AF", v)?),
            SVC_ATTR_PROTOCOL => ServiceAttr::Protocol(get_u16("SVC_ATTR_PROTOCOL", v)?),
            SVC_ATTR_ADDR => ServiceAttr::Addr(get_addr16("SVC_ATTR_ADDR", v)?),
            SVC_ATTR_PORT => ServiceAttr::Port(get_u16_be("SVC_ATTR_PORT", v)?),
            SVC_ATTR_FWMARK => ServiceAttr::Fwmark(get_u32("SVC_ATTR_FWMARK", v)?),
            SVC_ATTR_SCHED_NAME => ServiceAttr::SchedName(get_string(v)),
            SVC_ATTR_FLAGS => {
                if v.len() != 8 {
                    return Err(DecodeError::from(format!(
                        "attribute SVC_ATTR_FLAGS: expected 8 bytes, got {}",
                        v.len()
                    )));
                }
                ServiceAttr::Flags {
                    flags: get_u32("SVC_ATTR_FLAGS", &v[..4])?,
                    mask: get_u32("SVC_ATTR_FLAGS", &v[4..])?,
                }
            }
            SVC_ATTR_TIMEOUT => ServiceAttr::Timeout(get_u32("SVC_ATTR_TIMEOUT", v)?),
            SVC_ATTR_NETMASK => ServiceAttr::Netmask(get_raw4("SVC_ATTR_NETMASK", v)?),
            SVC_ATTR_STATS => ServiceAttr::Stats(parse_nested(v, StatsAttr::parse)?),
            SVC_ATTR_PE_NAME => ServiceAttr::PeName(get_string(v)),
            SVC_ATTR_STATS64 => ServiceAttr::Stats64(parse_nested(v, StatsAttr::parse)?),
            _ => ServiceAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// The attributes that identify a service (enough for DEL, GET, GET_DEST, ZERO).
pub(crate) fn key_attrs(key: &ServiceKey) -> Vec<ServiceAttr> {
    match key {
        ServiceKey::Fwmark { mark, family } => {
            vec![ServiceAttr::Af(family.af()), ServiceAttr::Fwmark(*mark)]
        }
        ServiceKey::Addr { protocol, addr, port } => vec![
            ServiceAttr::Af(Family::of(addr).af()),
            ServiceAttr::Protocol(protocol.number()),
            ServiceAttr::Addr(addr_to_union(addr)),
            ServiceAttr::Port(*port),
        ],
    }
}

/// The full attribute set NEW_SERVICE and SET_SERVICE need.
pub(crate) fn service_attrs(svc: &Service) -> Vec<ServiceAttr> {
    let mut v = key_attrs(&svc.key);
    v.push(ServiceAttr::SchedName(svc.scheduler.clone()));
    if let Some(pe) = &svc.pe_name {
        v.push(ServiceAttr::PeName(pe.clone()));
    }
    // Mask all ones: the service gets exactly these flags (the kernel keeps
    // its own HASHED bit regardless).
    v.push(ServiceAttr::Flags { flags: svc.flags.0 & !ServiceFlags::HASHED, mask: u32::MAX });
    v.push(ServiceAttr::Timeout(svc.timeout));
    v.push(ServiceAttr::Netmask(svc.netmask.to_wire()));
    v
}

/// Reads a service (and its counters) out of a service nest.
pub(crate) fn service_from_attrs(attrs: &[ServiceAttr]) -> Result<ServiceEntry, DecodeError> {
    let mut af = None;
    let mut protocol = None;
    let mut addr = None;
    let mut port = None;
    let mut fwmark = None;
    let mut sched = None;
    let mut flags = 0u32;
    let mut timeout = 0u32;
    let mut netmask = None;
    let mut pe = None;
    let mut stats = None;
    let mut stats64 = None;
    for a in attrs {
        match a {
            ServiceAttr::Af(x) => af = Some(*x),
            ServiceAttr::Protocol(x) => protocol = Some(*x),
            ServiceAttr::Addr(x) => addr = Some(*x),
            ServiceAttr::Port(x) => port = Some(*x),
            ServiceAttr::Fwmark(x) => fwmark = Some(*x),
            ServiceAttr::SchedName(s) => sched = Some(s.clone()),
            ServiceAttr::Flags { flags: f, mask } => flags = f & mask,
            ServiceAttr::Timeout(x) => timeout = *x,
            ServiceAttr::Netmask(m) => netmask = Some(*m),
            ServiceAttr::PeName(s) if !s.is_empty() => pe = Some(s.clone()),
            ServiceAttr::Stats(v) => stats = Some(stats_from_attrs(v)),
            ServiceAttr::Stats64(v) => stats64 = Some(stats_from_attrs(v)),
            _ => {}
        }
    }
    let af = af.ok_or_else(|| DecodeError::from("service without SVC_ATTR_AF"))?;
    let family =
        Family::from_af(af).ok_or_else(|| DecodeError::from(format!("service with unknown family {af}")))?;
    let key = match fwmark {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { mark, family },
        _ => {
            let p = protocol.ok_or_else(|| DecodeError::from("service without protocol"))?;
            let protocol = Protocol::from_number(p)
                .ok_or_else(|| DecodeError::from(format!("service with protocol {p}")))?;
            let raw = addr.ok_or_else(|| DecodeError::from("service without address"))?;
            ServiceKey::Addr {
                protocol,
                addr: addr_from_union(family, &raw),
                port: port.ok_or_else(|| DecodeError::from("service without port"))?,
            }
        }
    };
    let service = Service {
        key,
        scheduler: sched.unwrap_or_else(|| "none".to_string()),
        flags: ServiceFlags(flags & !ServiceFlags::HASHED),
        timeout,
        netmask: netmask.map(|m| Netmask::from_wire(family, m)).unwrap_or_else(|| Netmask::host(family)),
        pe_name: pe,
    };
    Ok(ServiceEntry { service, stats: stats64.or(stats).unwrap_or(Stats::default()) })
}
