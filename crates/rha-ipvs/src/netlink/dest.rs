//! The destination nest (`IPVS_CMD_ATTR_DEST`) and its mapping to [`Dest`].

use netlink_packet_core::{DecodeError, DefaultNla, Emitable, NLA_F_NESTED, Nla, NlaBuffer, Parseable};

use super::attrs::*;
use super::consts::*;
use super::stats::{StatsAttr, stats_from_attrs};
use crate::types::{
    Dest, DestEntry, DestKey, Family, Forward, Stats, Tunnel, TunnelCsum, TunnelType, addr_from_union,
    addr_to_union,
};

/// One attribute of a destination nest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestAttr {
    /// `IPVS_DEST_ATTR_ADDR` (`union nf_inet_addr`).
    Addr([u8; 16]),
    /// `IPVS_DEST_ATTR_PORT` (host-order value; big-endian on the wire).
    Port(u16),
    /// `IPVS_DEST_ATTR_FWD_METHOD`.
    FwdMethod(u32),
    /// `IPVS_DEST_ATTR_WEIGHT`.
    Weight(u32),
    /// `IPVS_DEST_ATTR_U_THRESH`.
    UThresh(u32),
    /// `IPVS_DEST_ATTR_L_THRESH`.
    LThresh(u32),
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS`.
    ActiveConns(u32),
    /// `IPVS_DEST_ATTR_INACT_CONNS`.
    InactConns(u32),
    /// `IPVS_DEST_ATTR_PERSIST_CONNS`.
    PersistConns(u32),
    /// `IPVS_DEST_ATTR_STATS`.
    Stats(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_ADDR_FAMILY` (3.18+; lets a tunnel real differ in family).
    AddrFamily(u16),
    /// `IPVS_DEST_ATTR_STATS64`.
    Stats64(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_TUN_TYPE` (5.2+).
    TunType(u8),
    /// `IPVS_DEST_ATTR_TUN_PORT` (host-order value; big-endian on the wire).
    TunPort(u16),
    /// `IPVS_DEST_ATTR_TUN_FLAGS` (5.3+).
    TunFlags(u16),
    /// Unknown attribute.
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        match self {
            DestAttr::Addr(_) => 16,
            DestAttr::Port(_) | DestAttr::AddrFamily(_) | DestAttr::TunPort(_) => 2,
            DestAttr::TunFlags(_) => 2,
            DestAttr::TunType(_) => 1,
            DestAttr::FwdMethod(_)
            | DestAttr::Weight(_)
            | DestAttr::UThresh(_)
            | DestAttr::LThresh(_)
            | DestAttr::ActiveConns(_)
            | DestAttr::InactConns(_)
            | DestAttr::PersistConns(_) => 4,
            DestAttr::Stats(v) | DestAttr::Stats64(v) => v.as_slice().buffer_len(),
            DestAttr::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DestAttr::Addr(_) => DEST_ATTR_ADDR,
            DestAttr::Port(_) => DEST_ATTR_PORT,
            DestAttr::FwdMethod(_) => DEST_ATTR_FWD_METHOD,
            DestAttr::Weight(_) => DEST_ATTR_WEIGHT,
            DestAttr::UThresh(_) => DEST_ATTR_U_THRESH,
            DestAttr::LThresh(_) => DEST_ATTR_L_THRESH,
            DestAttr::ActiveConns(_) => DEST_ATTR_ACTIVE_CONNS,
            DestAttr::InactConns(_) => DEST_ATTR_INACT_CONNS,
            DestAttr::PersistConns(_) => DEST_ATTR_PERSIST_CONNS,
            DestAttr::Stats(_) => DEST_ATTR_STATS | NLA_F_NESTED,
            DestAttr::AddrFamily(_) => DEST_ATTR_ADDR_FAMILY,
            DestAttr::Stats64(_) => DEST_ATTR_STATS64 | NLA_F_NESTED,
            DestAttr::TunType(_) => DEST_ATTR_TUN_TYPE,
            DestAttr::TunPort(_) => DEST_ATTR_TUN_PORT,
            DestAttr::TunFlags(_) => DEST_ATTR_TUN_FLAGS,
            DestAttr::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, b: &mut [u8]) {
        match self {
            DestAttr::Addr(a) => b[..16].copy_from_slice(a),
            DestAttr::Port(p) | DestAttr::TunPort(p) => put_u16_be(b, *p),
            DestAttr::AddrFamily(x) | DestAttr::TunFlags(x) => put_u16(b, *x),
            DestAttr::TunType(x) => b[0] = *x,
            DestAttr::FwdMethod(x)
            | DestAttr::Weight(x)
            | DestAttr::UThresh(x)
            | DestAttr::LThresh(x)
            | DestAttr::ActiveConns(x)
            | DestAttr::InactConns(x)
            | DestAttr::PersistConns(x) => put_u32(b, *x),
            DestAttr::Stats(v) | DestAttr::Stats64(v) => v.as_slice().emit(b),
            DestAttr::Other(o) => o.emit_value(b),
        }
    }
}

impl DestAttr {
    /// Parses one destination attribute.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<DestAttr, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            DEST_ATTR_ADDR => DestAttr::Addr(get_addr16("DEST_ATTR_ADDR", v)?),
            DEST_ATTR_PORT => DestAttr::Port(get_u16_be("DEST_ATTR_PORT", v)?),
            DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(get_u32("DEST_ATTR_FWD_METHOD", v)?),
            DEST_ATTR_WEIGHT => DestAttr::Weight(get_u32("DEST_ATTR_WEIGHT", v)?),
            DEST_ATTR_U_THRESH => DestAttr::UThresh(get_u32("DEST_ATTR_U_THRESH", v)?),
            DEST_ATTR_L_THRESH => DestAttr::LThresh(get_u32("DEST_ATTR_L_THRESH", v)?),
            DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(get_u32("ACTIVE_CONNS", v)?),
            DEST_ATTR_INACT_CONNS => DestAttr::InactConns(get_u32("INACT_CONNS", v)?),
            DEST_ATTR_PERSIST_CONNS => DestAttr::PersistConns(get_u32("PERSIST_CONNS", v)?),
            DEST_ATTR_STATS => DestAttr::Stats(parse_nested(v, StatsAttr::parse)?),
            DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(get_u16("DEST_ATTR_ADDR_FAMILY", v)?),
            DEST_ATTR_STATS64 => DestAttr::Stats64(parse_nested(v, StatsAttr::parse)?),
            DEST_ATTR_TUN_TYPE => DestAttr::TunType(get_u8("DEST_ATTR_TUN_TYPE", v)?),
            DEST_ATTR_TUN_PORT => DestAttr::TunPort(get_u16_be("DEST_ATTR_TUN_PORT", v)?),
            DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(get_u16("DEST_ATTR_TUN_FLAGS", v)?),
            _ => DestAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// The attributes that identify a destination (enough for DEL_DEST).
pub(crate) fn key_attrs(key: &DestKey) -> Vec<DestAttr> {
    vec![
        DestAttr::AddrFamily(Family::of(&key.addr).af()),
        DestAttr::Addr(addr_to_union(&key.addr)),
        DestAttr::Port(key.port),
    ]
}

/// The full attribute set NEW_DEST and SET_DEST need.
pub(crate) fn dest_attrs(d: &Dest) -> Vec<DestAttr> {
    let mut v = key_attrs(&d.key());
    v.push(DestAttr::FwdMethod(d.forward.number()));
    v.push(DestAttr::Weight(d.weight));
    v.push(DestAttr::UThresh(d.u_threshold));
    v.push(DestAttr::LThresh(d.l_threshold));
    // Tunnel attributes only for tunnels: kernels before 5.2 do not know
    // them (they ignore unknown attributes, but there is no reason to send).
    if d.forward == Forward::Tunnel {
        v.push(DestAttr::TunType(d.tunnel.kind.number()));
        v.push(DestAttr::TunPort(d.tunnel.port));
        v.push(DestAttr::TunFlags(d.tunnel.csum.bits()));
    }
    v
}

/// Reads a destination (and its counters) out of a destination nest;
/// `service_family` is used when the kernel does not say (pre-3.18).
pub(crate) fn dest_from_attrs(attrs: &[DestAttr], service_family: Family) -> Result<DestEntry, DecodeError> {
    let mut addr = None;
    let mut port = None;
    let mut fwd = 0u32;
    let mut weight = 0u32;
    let (mut u, mut l) = (0u32, 0u32);
    let (mut active, mut inact, mut persist) = (0u32, 0u32, 0u32);
    let mut family = service_family;
    let mut tunnel = Tunnel::default();
    let mut stats = None;
    let mut stats64 = None;
    for a in attrs {
        match a {
            DestAttr::Addr(x) => addr = Some(*x),
            DestAttr::Port(x) => port = Some(*x),
            DestAttr::FwdMethod(x) => fwd = *x,
            DestAttr::Weight(x) => weight = *x,
            DestAttr::UThresh(x) => u = *x,
            DestAttr::LThresh(x) => l = *x,
            DestAttr::ActiveConns(x) => active = *x,
            DestAttr::InactConns(x) => inact = *x,
            DestAttr::PersistConns(x) => persist = *x,
            DestAttr::AddrFamily(x) => {
                family = Family::from_af(*x)
                    .ok_or_else(|| DecodeError::from(format!("destination with unknown family {x}")))?
            }
            DestAttr::TunType(x) => tunnel.kind = TunnelType::from_number(*x).unwrap_or_default(),
            DestAttr::TunPort(x) => tunnel.port = *x,
            DestAttr::TunFlags(x) => tunnel.csum = TunnelCsum::from_bits(*x),
            DestAttr::Stats(v) => stats = Some(stats_from_attrs(v)),
            DestAttr::Stats64(v) => stats64 = Some(stats_from_attrs(v)),
            DestAttr::Other(_) => {}
        }
    }
    let raw = addr.ok_or_else(|| DecodeError::from("destination without address"))?;
    let forward = Forward::from_number(fwd)
        .ok_or_else(|| DecodeError::from(format!("destination with forwarding method {fwd}")))?;
    let dest = Dest {
        addr: addr_from_union(family, &raw),
        port: port.ok_or_else(|| DecodeError::from("destination without port"))?,
        forward,
        weight,
        u_threshold: u,
        l_threshold: l,
        // Non-tunnel reals report zeros; keep the model canonical.
        tunnel: if forward == Forward::Tunnel { tunnel } else { Tunnel::default() },
    };
    Ok(DestEntry {
        dest,
        active_conns: active,
        inactive_conns: inact,
        persist_conns: persist,
        stats: stats64.or(stats).unwrap_or(Stats::default()),
    })
}
