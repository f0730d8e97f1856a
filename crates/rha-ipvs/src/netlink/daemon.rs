//! The sync daemon nest (`IPVS_CMD_ATTR_DAEMON`) and its mapping to [`Daemon`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

use super::attrs::*;
use super::consts::*;
use crate::types::{Daemon, DaemonState};

/// One attribute of a sync daemon nest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAttr {
    /// `IPVS_DAEMON_ATTR_STATE` (`IP_VS_STATE_MASTER`/`BACKUP`).
    State(u32),
    /// `IPVS_DAEMON_ATTR_MCAST_IFN`.
    McastIfn(String),
    /// `IPVS_DAEMON_ATTR_SYNC_ID`.
    SyncId(u32),
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN` (4.1+).
    SyncMaxlen(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP` (network-order address).
    McastGroup(Ipv4Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP6`.
    McastGroup6(Ipv6Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_PORT` (host order: the kernel converts it itself).
    McastPort(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_TTL`.
    McastTtl(u8),
    /// Unknown attribute.
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        match self {
            DaemonAttr::State(_) | DaemonAttr::SyncId(_) | DaemonAttr::McastGroup(_) => 4,
            DaemonAttr::McastIfn(s) => s.len() + 1,
            DaemonAttr::SyncMaxlen(_) | DaemonAttr::McastPort(_) => 2,
            DaemonAttr::McastGroup6(_) => 16,
            DaemonAttr::McastTtl(_) => 1,
            DaemonAttr::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DaemonAttr::State(_) => DAEMON_ATTR_STATE,
            DaemonAttr::McastIfn(_) => DAEMON_ATTR_MCAST_IFN,
            DaemonAttr::SyncId(_) => DAEMON_ATTR_SYNC_ID,
            DaemonAttr::SyncMaxlen(_) => DAEMON_ATTR_SYNC_MAXLEN,
            DaemonAttr::McastGroup(_) => DAEMON_ATTR_MCAST_GROUP,
            DaemonAttr::McastGroup6(_) => DAEMON_ATTR_MCAST_GROUP6,
            DaemonAttr::McastPort(_) => DAEMON_ATTR_MCAST_PORT,
            DaemonAttr::McastTtl(_) => DAEMON_ATTR_MCAST_TTL,
            DaemonAttr::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, b: &mut [u8]) {
        match self {
            DaemonAttr::State(x) | DaemonAttr::SyncId(x) => put_u32(b, *x),
            DaemonAttr::McastIfn(s) => put_string(b, s),
            DaemonAttr::SyncMaxlen(x) | DaemonAttr::McastPort(x) => put_u16(b, *x),
            DaemonAttr::McastGroup(a) => b[..4].copy_from_slice(&a.octets()),
            DaemonAttr::McastGroup6(a) => b[..16].copy_from_slice(&a.octets()),
            DaemonAttr::McastTtl(x) => b[0] = *x,
            DaemonAttr::Other(o) => o.emit_value(b),
        }
    }
}

impl DaemonAttr {
    /// Parses one sync daemon attribute.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<DaemonAttr, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            DAEMON_ATTR_STATE => DaemonAttr::State(get_u32("DAEMON_ATTR_STATE", v)?),
            DAEMON_ATTR_MCAST_IFN => DaemonAttr::McastIfn(get_string(v)),
            DAEMON_ATTR_SYNC_ID => DaemonAttr::SyncId(get_u32("DAEMON_ATTR_SYNC_ID", v)?),
            DAEMON_ATTR_SYNC_MAXLEN => DaemonAttr::SyncMaxlen(get_u16("SYNC_MAXLEN", v)?),
            DAEMON_ATTR_MCAST_GROUP => DaemonAttr::McastGroup(Ipv4Addr::from(get_raw4("MCAST_GROUP", v)?)),
            DAEMON_ATTR_MCAST_GROUP6 => {
                let raw: [u8; 16] = v.try_into().map_err(|_| {
                    DecodeError::from(format!("MCAST_GROUP6: expected 16 bytes, got {}", v.len()))
                })?;
                DaemonAttr::McastGroup6(Ipv6Addr::from(raw))
            }
            DAEMON_ATTR_MCAST_PORT => DaemonAttr::McastPort(get_u16("MCAST_PORT", v)?),
            DAEMON_ATTR_MCAST_TTL => DaemonAttr::McastTtl(get_u8("MCAST_TTL", v)?),
            _ => DaemonAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Attributes that start a daemon (NEW_DAEMON).
pub(crate) fn daemon_attrs(d: &Daemon) -> Vec<DaemonAttr> {
    let mut v = vec![
        DaemonAttr::State(d.state.number()),
        DaemonAttr::McastIfn(d.mcast_ifn.clone()),
        DaemonAttr::SyncId(d.sync_id),
    ];
    if let Some(x) = d.sync_maxlen {
        v.push(DaemonAttr::SyncMaxlen(x));
    }
    match d.mcast_group {
        Some(IpAddr::V4(a)) => v.push(DaemonAttr::McastGroup(a)),
        Some(IpAddr::V6(a)) => v.push(DaemonAttr::McastGroup6(a)),
        None => {}
    }
    if let Some(x) = d.mcast_port {
        v.push(DaemonAttr::McastPort(x));
    }
    if let Some(x) = d.mcast_ttl {
        v.push(DaemonAttr::McastTtl(x));
    }
    v
}

/// Reads a daemon out of a daemon nest (a GET_DAEMON dump entry).
pub(crate) fn daemon_from_attrs(attrs: &[DaemonAttr]) -> Result<Daemon, DecodeError> {
    let mut state = None;
    let mut d = Daemon::new(DaemonState::Master, "", 0);
    for a in attrs {
        match a {
            DaemonAttr::State(x) => state = DaemonState::from_number(*x),
            DaemonAttr::McastIfn(s) => d.mcast_ifn = s.clone(),
            DaemonAttr::SyncId(x) => d.sync_id = *x,
            DaemonAttr::SyncMaxlen(x) => d.sync_maxlen = Some(*x),
            DaemonAttr::McastGroup(a) => d.mcast_group = Some(IpAddr::V4(*a)),
            DaemonAttr::McastGroup6(a) => d.mcast_group = Some(IpAddr::V6(*a)),
            DaemonAttr::McastPort(x) => d.mcast_port = Some(*x),
            DaemonAttr::McastTtl(x) => d.mcast_ttl = Some(*x),
            DaemonAttr::Other(_) => {}
        }
    }
    d.state = state.ok_or_else(|| DecodeError::from("daemon without a valid state"))?;
    Ok(d)
}
