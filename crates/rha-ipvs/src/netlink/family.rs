//! Resolving the IPVS generic netlink family id through the controller
//! (`nlctrl`, `CTRL_CMD_GETFAMILY`).

use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NlasIterator};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::constants::{CTRL_ATTR_FAMILY_ID, CTRL_CMD_NEWFAMILY, GENL_ID_CTRL};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd, nlas::GenlCtrlAttrs};

use super::socket::{Reply, Transport};
use crate::error::{Error, Op, Result};

/// Asks the controller for the id of family `name`.
///
/// The kernel answers `ENOENT` when no such family is registered, which for
/// "IPVS" means the `ip_vs` module is not loaded (or not built): that is
/// reported as [`Error::NotAvailable`] so a probe can say "not running".
pub(crate) fn resolve(t: &mut Transport, name: &str) -> Result<u16> {
    let mut genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
    });
    genl.finalize();
    let mut nl = NetlinkMessage::from(genl);
    let seq = t.next_seq();
    nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    t.send(&buf)?;

    let mut id = None;
    let mut failure = None;
    t.recv_until(|s, reply| {
        if s != seq {
            return Ok(false);
        }
        match reply {
            Reply::Data(msg) => {
                id = id.or(family_id_of(msg));
                Ok(false)
            }
            Reply::Ack(0) | Reply::Done(0) => Ok(true),
            Reply::Ack(e) | Reply::Done(e) => {
                failure = Some(e);
                Ok(true)
            }
        }
    })?;
    match (failure, id) {
        (Some(libc::ENOENT), _) => Err(Error::NotAvailable),
        (Some(errno), _) => Err(Error::Kernel { op: Op::ResolveFamily, errno }),
        (None, Some(id)) => Ok(id),
        (None, None) => Err(Error::NotAvailable),
    }
}

/// Picks `CTRL_ATTR_FAMILY_ID` out of a `CTRL_CMD_NEWFAMILY` reply. Parsed
/// by hand: the controller's reply carries attributes (ops, policies) that
/// strict typed parsers reject on newer kernels, and only the id matters.
fn family_id_of(msg: &[u8]) -> Option<u16> {
    // nlmsghdr (16) + genlmsghdr (4).
    if msg.len() < 20 || u16::from_ne_bytes([msg[4], msg[5]]) != GENL_ID_CTRL {
        return None;
    }
    if msg[16] != CTRL_CMD_NEWFAMILY {
        return None;
    }
    for nla in NlasIterator::new(&msg[20..]) {
        let nla = nla.ok()?;
        if nla.kind() == CTRL_ATTR_FAMILY_ID {
            let v = nla.value();
            if v.len() == 2 {
                return Some(u16::from_ne_bytes([v[0], v[1]]));
            }
        }
    }
    None
}
