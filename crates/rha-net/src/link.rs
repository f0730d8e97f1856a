//! Network interfaces: lookup by name or index, state, flags, hardware address, bringing up.

use std::fmt;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};

use crate::netlink::{Netlink, Result};

/// `IFNAMSIZ - 1`: the longest interface name (and IPv4 address label) Linux accepts.
pub const IFNAME_MAX: usize = 15;

/// Whether `name` can be an interface name: what the kernel's `dev_valid_name` accepts (1 to
/// [`IFNAME_MAX`] bytes, not `.` or `..`, no `/`, `:` or blanks), further limited to printable
/// ASCII so that it can be written into logs, nft rules and ip commands without quoting
/// surprises. The one check of every agent that takes an interface name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_graphic() && c != '/' && c != ':')
}

/// `ARPHRD_ETHER`: Ethernet-like links (also veth, bridges, bonds, VLANs, macvlan).
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_LOOPBACK`.
pub const ARPHRD_LOOPBACK: u16 = 772;
/// `ARPHRD_INFINIBAND`.
pub const ARPHRD_INFINIBAND: u16 = 32;

/// RFC 2863 operational state (`IFLA_OPERSTATE`), as `ip link` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    /// Down because a device it depends on is down (e.g. a veth whose peer is down, a VLAN
    /// whose parent lost carrier).
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl From<State> for OperState {
    fn from(s: State) -> Self {
        match s {
            State::Unknown => OperState::Unknown,
            State::NotPresent => OperState::NotPresent,
            State::Down => OperState::Down,
            State::LowerLayerDown => OperState::LowerLayerDown,
            State::Testing => OperState::Testing,
            State::Dormant => OperState::Dormant,
            State::Up => OperState::Up,
            State::Other(v) => OperState::Other(v),
            _ => OperState::Unknown,
        }
    }
}

impl fmt::Display for OperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperState::Unknown => f.write_str("UNKNOWN"),
            OperState::NotPresent => f.write_str("NOTPRESENT"),
            OperState::Down => f.write_str("DOWN"),
            OperState::LowerLayerDown => f.write_str("LOWERLAYERDOWN"),
            OperState::Testing => f.write_str("TESTING"),
            OperState::Dormant => f.write_str("DORMANT"),
            OperState::Up => f.write_str("UP"),
            OperState::Other(v) => write!(f, "{v}"),
        }
    }
}

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The interface index (`ifindex`).
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// Alternative names (`ip link property add altname`).
    pub alt_names: Vec<String>,
    /// `IFF_*` flags.
    pub flags: LinkFlags,
    /// Operational state.
    pub oper_state: OperState,
    /// Hardware address (6 bytes on Ethernet), if the link has one.
    pub mac: Option<Vec<u8>>,
    /// `ARPHRD_*` link-layer type.
    pub link_type: u16,
    /// MTU.
    pub mtu: Option<u32>,
}

impl Link {
    /// Administratively up (`IFF_UP`).
    pub fn is_admin_up(&self) -> bool {
        self.flags.contains(LinkFlags::Up)
    }

    /// Carrier present (`IFF_LOWER_UP`).
    pub fn has_carrier(&self) -> bool {
        self.flags.contains(LinkFlags::LowerUp)
    }

    /// Loopback device.
    pub fn is_loopback(&self) -> bool {
        self.flags.contains(LinkFlags::Loopback) || self.link_type == ARPHRD_LOOPBACK
    }

    /// The link cannot carry traffic: administratively down, operationally `DOWN` or
    /// `LOWERLAYERDOWN` (what IPaddr2's `check_link_status` looks at), or without carrier (the
    /// kernel updates the operational state a little after the carrier; this sees it at once).
    pub fn is_down(&self) -> bool {
        !self.is_admin_up()
            || matches!(self.oper_state, OperState::Down | OperState::LowerLayerDown)
            || !self.has_carrier()
    }

    /// Why [`Link::is_down`] is true, for messages (e.g. `"state LOWERLAYERDOWN"`).
    pub fn down_reason(&self) -> String {
        if !self.is_admin_up() {
            "administratively down".to_string()
        } else if matches!(self.oper_state, OperState::Down | OperState::LowerLayerDown) {
            format!("state {}", self.oper_state)
        } else if !self.has_carrier() {
            "no carrier".to_string()
        } else {
            format!("state {}", self.oper_state)
        }
    }

    /// The 6-byte Ethernet address, if this is an Ethernet-like link.
    pub fn ethernet_mac(&self) -> Option<[u8; 6]> {
        if self.link_type != ARPHRD_ETHER {
            return None;
        }
        self.mac.as_deref().and_then(|m| m.try_into().ok())
    }

    /// Whether `name` is this link's name or one of its alternative names.
    pub fn has_name(&self, name: &str) -> bool {
        self.name == name || self.alt_names.iter().any(|a| a == name)
    }

    fn from_message(msg: LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            alt_names: Vec::new(),
            flags: msg.header.flags,
            oper_state: OperState::Unknown,
            mac: None,
            link_type: u16::from(msg.header.link_layer_type),
            mtu: None,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n,
                LinkAttribute::OperState(s) => link.oper_state = s.into(),
                LinkAttribute::Address(a) => link.mac = Some(a),
                LinkAttribute::Mtu(m) => link.mtu = Some(m),
                LinkAttribute::PropList(props) => {
                    for p in props {
                        if let netlink_packet_route::link::Prop::AltIfName(n) = p {
                            link.alt_names.push(n);
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

/// Format a hardware address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn links_from(msgs: Vec<RouteNetlinkMessage>) -> Vec<Link> {
    msgs.into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(Link::from_message(l)),
            _ => None,
        })
        .collect()
}

/// The interface called `name` (or with that alternative name); `None` if there is none.
pub fn by_name(nl: &mut Netlink, name: &str) -> Result<Option<Link>> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.contains(['/', '\0']) {
        return Ok(None);
    }
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.get(RouteNetlinkMessage::GetLink(msg), &|| format!("looking up interface {name}")) {
        Ok(msgs) => Ok(links_from(msgs).into_iter().next()),
        Err(e) if e.is_errno(&[libc::ENODEV, libc::ENOENT]) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The interface with index `index`; `None` if there is none.
pub fn by_index(nl: &mut Netlink, index: u32) -> Result<Option<Link>> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    match nl.get(RouteNetlinkMessage::GetLink(msg), &|| format!("looking up interface #{index}")) {
        Ok(msgs) => Ok(links_from(msgs).into_iter().next()),
        Err(e) if e.is_errno(&[libc::ENODEV, libc::ENOENT]) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every interface in the namespace.
pub fn all(nl: &mut Netlink) -> Result<Vec<Link>> {
    let msgs =
        nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), &|| "listing interfaces".into())?;
    Ok(links_from(msgs))
}

/// Set the interface administratively up (`ip link set dev X up`).
pub fn set_up(nl: &mut Netlink, index: u32) -> Result<()> {
    set_admin_state(nl, index, true)
}

/// Set the interface administratively down (`ip link set dev X down`).
pub fn set_down(nl: &mut Netlink, index: u32) -> Result<()> {
    set_admin_state(nl, index, false)
}

fn set_admin_state(nl: &mut Netlink, index: u32, up: bool) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = if up { LinkFlags::Up } else { LinkFlags::empty() };
    msg.header.change_mask = LinkFlags::Up;
    nl.request(RouteNetlinkMessage::SetLink(msg), 0, &|| {
        format!("setting interface #{index} {}", if up { "up" } else { "down" })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(flags: LinkFlags, oper: OperState) -> Link {
        Link {
            index: 2,
            name: "eth0".into(),
            alt_names: vec!["enp0s3".into()],
            flags,
            oper_state: oper,
            mac: Some(vec![2, 0, 0, 0, 0, 1]),
            link_type: ARPHRD_ETHER,
            mtu: Some(1500),
        }
    }

    #[test]
    fn down_states() {
        assert!(!link(LinkFlags::Up | LinkFlags::LowerUp, OperState::Up).is_down());
        assert!(link(LinkFlags::Up, OperState::LowerLayerDown).is_down());
        assert!(link(LinkFlags::Up, OperState::Down).is_down());
        assert!(link(LinkFlags::empty(), OperState::Unknown).is_down());
        // Loopback and some virtual devices report UNKNOWN while perfectly usable.
        assert!(!link(LinkFlags::Up | LinkFlags::LowerUp, OperState::Unknown).is_down());
        // Carrier lost, operational state not updated yet.
        assert!(link(LinkFlags::Up, OperState::Up).is_down());
        assert_eq!(link(LinkFlags::Up, OperState::Up).down_reason(), "no carrier");
        assert_eq!(link(LinkFlags::Up, OperState::LowerLayerDown).down_reason(), "state LOWERLAYERDOWN");
        assert_eq!(link(LinkFlags::empty(), OperState::Down).down_reason(), "administratively down");
    }

    #[test]
    fn names_and_macs() {
        let l = link(LinkFlags::Up, OperState::Up);
        assert!(l.has_name("eth0") && l.has_name("enp0s3") && !l.has_name("eth1"));
        assert_eq!(l.ethernet_mac(), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(format_mac(&[2, 0, 0xab, 0, 0, 1]), "02:00:ab:00:00:01");
    }
}
