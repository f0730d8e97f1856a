//! IPv6 address labels: the RFC 6724 policy table (`ip addrlabel`).
//!
//! Source address selection prefers a source whose label equals the destination's. Giving a
//! virtual address a label no destination has keeps the kernel from choosing it as the
//! source of outgoing connections (what IPaddr2's `lvs_ipv6_addrlabel` is for).

use std::net::{IpAddr, Ipv6Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::addrlabel::{AddrLabelAttribute, AddrLabelMessage};

use crate::address::Family;
use crate::netlink::{Netlink, Result};

/// One policy-table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrLabel {
    pub prefix: Ipv6Addr,
    pub prefix_len: u8,
    pub label: u32,
    /// Limited to one interface, if not 0.
    pub index: u32,
}

fn message(prefix: Ipv6Addr, prefix_len: u8, label: u32, index: u32) -> AddrLabelMessage {
    let mut msg = AddrLabelMessage::default();
    msg.header.family = Family::V6.netlink();
    msg.header.prefix_len = prefix_len;
    msg.header.index = index;
    msg.attributes.push(AddrLabelAttribute::Address(IpAddr::V6(prefix)));
    msg.attributes.push(AddrLabelAttribute::Label(label));
    msg
}

/// `ip addrlabel add prefix PREFIX/LEN label LABEL`. An identical prefix already in the table
/// gives `EEXIST`.
pub fn add(nl: &mut Netlink, prefix: Ipv6Addr, prefix_len: u8, label: u32) -> Result<()> {
    nl.request(
        RouteNetlinkMessage::NewAddrLabel(message(prefix, prefix_len, label, 0)),
        NLM_F_CREATE | NLM_F_EXCL,
        &|| format!("adding IPv6 address label {prefix}/{prefix_len} label {label}"),
    )
}

/// `ip addrlabel del prefix PREFIX/LEN label LABEL`. A missing entry gives `ESRCH`.
pub fn delete(nl: &mut Netlink, prefix: Ipv6Addr, prefix_len: u8, label: u32) -> Result<()> {
    nl.request(RouteNetlinkMessage::DelAddrLabel(message(prefix, prefix_len, label, 0)), 0, &|| {
        format!("deleting IPv6 address label {prefix}/{prefix_len} label {label}")
    })
}

/// Whether a delete failed only because the entry was not there.
pub fn is_absent(e: &crate::Error) -> bool {
    e.is_errno(&[libc::ESRCH, libc::ENOENT])
}

/// The whole policy table (`ip addrlabel list`).
pub fn list(nl: &mut Netlink) -> Result<Vec<AddrLabel>> {
    let mut msg = AddrLabelMessage::default();
    msg.header.family = Family::V6.netlink();
    let msgs = nl.dump(RouteNetlinkMessage::GetAddrLabel(msg), &|| "listing IPv6 address labels".into())?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddrLabel(l) => {
                let mut prefix = None;
                let mut label = None;
                for a in l.attributes {
                    match a {
                        AddrLabelAttribute::Address(IpAddr::V6(p)) => prefix = Some(p),
                        AddrLabelAttribute::Label(v) => label = Some(v),
                        _ => {}
                    }
                }
                Some(AddrLabel {
                    prefix: prefix?,
                    prefix_len: l.header.prefix_len,
                    label: label?,
                    index: l.header.index,
                })
            }
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    #[test]
    fn message_round_trips() {
        let m = message("2001:db8::5".parse().unwrap(), 128, 99, 0);
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        let back = AddrLabelMessage::parse(buf.as_slice()).unwrap();
        assert_eq!(back.header.prefix_len, 128);
        assert!(back.attributes.contains(&AddrLabelAttribute::Label(99)));
        assert!(back.attributes.contains(&AddrLabelAttribute::Address("2001:db8::5".parse().unwrap())));
    }
}
