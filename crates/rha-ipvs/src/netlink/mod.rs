//! The kernel's IPVS generic netlink family: wire numbers, attribute types,
//! message payload, family resolution and the blocking socket.
//!
//! Attribute types are defined here on top of `netlink-packet-core` and
//! `netlink-packet-generic`; the wire facts come from the kernel's
//! `include/uapi/linux/ip_vs.h` and `net/netfilter/ipvs/ip_vs_ctl.c`.

pub mod attrs;
pub mod consts;
pub mod daemon;
pub mod dest;
pub(crate) mod family;
pub mod service;
pub(crate) mod socket;
pub mod stats;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

use crate::change::Change;
use crate::error::Op;
use attrs::{IpvsAttr, IpvsMessage};
use consts::*;

/// Command, attributes and error wording for one [`Change`].
pub(crate) fn request_for(change: &Change) -> (Op, u8, Vec<IpvsAttr>) {
    match change {
        Change::AddService(s) => {
            (Op::AddService, CMD_NEW_SERVICE, vec![IpvsAttr::Service(service::service_attrs(s))])
        }
        Change::EditService(s) => {
            (Op::EditService, CMD_SET_SERVICE, vec![IpvsAttr::Service(service::service_attrs(s))])
        }
        Change::DelService(k) => {
            (Op::DelService, CMD_DEL_SERVICE, vec![IpvsAttr::Service(service::key_attrs(k))])
        }
        Change::AddDest(k, d) => (
            Op::AddDest,
            CMD_NEW_DEST,
            vec![IpvsAttr::Service(service::key_attrs(k)), IpvsAttr::Dest(dest::dest_attrs(d))],
        ),
        Change::EditDest(k, d) => (
            Op::EditDest,
            CMD_SET_DEST,
            vec![IpvsAttr::Service(service::key_attrs(k)), IpvsAttr::Dest(dest::dest_attrs(d))],
        ),
        Change::DelDest(k, d) => (
            Op::DelDest,
            CMD_DEL_DEST,
            vec![IpvsAttr::Service(service::key_attrs(k)), IpvsAttr::Dest(dest::key_attrs(d))],
        ),
        Change::Flush => (Op::Flush, CMD_FLUSH, vec![]),
        Change::Zero(k) => {
            (Op::Zero, CMD_ZERO, k.iter().map(|k| IpvsAttr::Service(service::key_attrs(k))).collect())
        }
        Change::SetTimeouts(t) => {
            // Zero means "leave as is"; omit those attributes entirely.
            let mut v = Vec::new();
            if t.tcp != 0 {
                v.push(IpvsAttr::TimeoutTcp(t.tcp));
            }
            if t.tcp_fin != 0 {
                v.push(IpvsAttr::TimeoutTcpFin(t.tcp_fin));
            }
            if t.udp != 0 {
                v.push(IpvsAttr::TimeoutUdp(t.udp));
            }
            (Op::SetTimeouts, CMD_SET_CONFIG, v)
        }
        Change::StartDaemon(d) => {
            (Op::StartDaemon, CMD_NEW_DAEMON, vec![IpvsAttr::Daemon(daemon::daemon_attrs(d))])
        }
        Change::StopDaemon(s) => (
            Op::StopDaemon,
            CMD_DEL_DAEMON,
            vec![IpvsAttr::Daemon(vec![daemon::DaemonAttr::State(s.number())])],
        ),
    }
}

/// Serializes one IPVS request.
pub(crate) fn encode(family: u16, cmd: u8, attrs: Vec<IpvsAttr>, flags: u16, seq: u32) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(IpvsMessage::new(cmd, attrs));
    genl.set_resolved_family_id(family);
    let mut nl = NetlinkMessage::from(genl);
    nl.header.flags = flags;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Parses one received IPVS message (header included).
pub(crate) fn decode(msg: &[u8]) -> Result<IpvsMessage, String> {
    let nl = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(msg).map_err(|e| e.to_string())?;
    match nl.payload {
        NetlinkPayload::InnerMessage(g) => Ok(g.payload),
        other => Err(format!("unexpected netlink payload {other:?}")),
    }
}

#[cfg(test)]
mod tests;
