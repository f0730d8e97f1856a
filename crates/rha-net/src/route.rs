//! Routes: the `ip route list match PREFIX` query used to find which interface and prefix an
//! address belongs to, deleting a host route, and flushing the route cache.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteScope, RouteType,
};

use crate::address::{Family, prefix_contains};
use crate::netlink::{Netlink, Result};

/// The main routing table (`ip route` without `table`).
pub const TABLE_MAIN: u32 = 254;
/// The local table (local, broadcast and loopback routes the kernel maintains).
pub const TABLE_LOCAL: u32 = 255;

/// `RT_SCOPE_LINK`.
pub const SCOPE_LINK: u8 = 253;
/// `RT_SCOPE_HOST`.
pub const SCOPE_HOST: u8 = 254;

/// What a route does with matching packets (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Other(u8),
}

impl RouteKind {
    fn from_type(t: RouteType) -> RouteKind {
        match t {
            RouteType::Unicast => RouteKind::Unicast,
            RouteType::Local => RouteKind::Local,
            RouteType::Broadcast => RouteKind::Broadcast,
            RouteType::Anycast => RouteKind::Anycast,
            RouteType::Multicast => RouteKind::Multicast,
            RouteType::BlackHole => RouteKind::Blackhole,
            RouteType::Unreachable => RouteKind::Unreachable,
            RouteType::Prohibit => RouteKind::Prohibit,
            RouteType::Throw => RouteKind::Throw,
            other => RouteKind::Other(u8::from(other)),
        }
    }

    /// Routes that deliver nowhere (`blackhole`, `unreachable`, `prohibit`, `throw`).
    pub fn is_reject(self) -> bool {
        matches!(self, RouteKind::Blackhole | RouteKind::Unreachable | RouteKind::Prohibit | RouteKind::Throw)
    }
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub family: Family,
    /// Destination network (`0.0.0.0`/`::` for the default route).
    pub destination: IpAddr,
    pub prefix_len: u8,
    pub table: u32,
    /// `RTPROT_*` (2 = kernel, 3 = boot, 4 = static, ...).
    pub protocol: u8,
    /// `RT_SCOPE_*` (253 = link, 0 = universe, ...).
    pub scope: u8,
    pub kind: RouteKind,
    /// Output interface; for a multipath route, the first next hop's.
    pub oif: Option<u32>,
    pub gateway: Option<IpAddr>,
    /// Preferred source address (`src`).
    pub pref_src: Option<IpAddr>,
    /// `metric`.
    pub metric: Option<u32>,
    /// The route has several next hops.
    pub multipath: bool,
}

impl Route {
    /// The default route (`0.0.0.0/0`, `::/0`).
    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }

    /// `ip route`-like text, for messages: `198.51.100.0/24 dev #3 metric 100`.
    pub fn describe(&self, mut ifname: impl FnMut(u32) -> String) -> String {
        let mut s = format!("{}/{}", self.destination, self.prefix_len);
        if let Some(g) = self.gateway {
            s.push_str(&format!(" via {g}"));
        }
        if let Some(i) = self.oif {
            s.push_str(&format!(" dev {}", ifname(i)));
        }
        if let Some(m) = self.metric {
            s.push_str(&format!(" metric {m}"));
        }
        s
    }

    fn from_message(msg: RouteMessage) -> Option<Route> {
        let family = Family::from_netlink(msg.header.address_family)?;
        let mut r = Route {
            family,
            destination: match family {
                Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            },
            prefix_len: msg.header.destination_prefix_length,
            table: u32::from(msg.header.table),
            protocol: u8::from(msg.header.protocol),
            scope: u8::from(msg.header.scope),
            kind: RouteKind::from_type(msg.header.kind),
            oif: None,
            gateway: None,
            pref_src: None,
            metric: None,
            multipath: false,
        };
        for attr in msg.attributes {
            match attr {
                RouteAttribute::Destination(a) => r.destination = ip_of(&a)?,
                RouteAttribute::Oif(i) => r.oif = Some(i),
                RouteAttribute::Gateway(a) => r.gateway = ip_of(&a),
                RouteAttribute::PrefSource(a) => r.pref_src = ip_of(&a),
                RouteAttribute::Priority(m) => r.metric = Some(m),
                RouteAttribute::Table(t) => r.table = t,
                RouteAttribute::MultiPath(hops) => {
                    r.multipath = true;
                    if r.oif.is_none() {
                        r.oif = hops.first().map(|h| h.interface_index);
                    }
                }
                _ => {}
            }
        }
        Some(r)
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// Which routes to list: `ip -f FAMILY route list [table T] match ADDRESS[/PREFIX] [proto P]
/// [scope S]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteQuery {
    /// Routes whose destination contains this address...
    pub address: IpAddr,
    /// ...with at most this prefix length (default: the full length, i.e. any route that
    /// covers the address).
    pub prefix_len: Option<u8>,
    /// Routing table (default [`TABLE_MAIN`]).
    pub table: u32,
    /// Only routes of this protocol (`proto kernel` = 2).
    pub protocol: Option<u8>,
    /// Only routes of this scope (`scope link` = 253).
    pub scope: Option<u8>,
}

impl RouteQuery {
    /// Routes in the main table covering `address`.
    pub fn covering(address: IpAddr) -> RouteQuery {
        RouteQuery { address, prefix_len: None, table: TABLE_MAIN, protocol: None, scope: None }
    }

    /// Whether `r` is selected by this query.
    pub fn matches(&self, r: &Route) -> bool {
        let family = Family::of(&self.address);
        let len = self.prefix_len.unwrap_or(family.max_prefix());
        r.family == family
            && r.table == self.table
            && r.prefix_len <= len
            && prefix_contains(r.destination, r.prefix_len, self.address)
            && self.protocol.is_none_or(|p| r.protocol == p)
            && self.scope.is_none_or(|s| r.scope == s)
    }
}

/// Every route of the query's family, in every table.
pub fn list(nl: &mut Netlink, family: Family) -> Result<Vec<Route>> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family.netlink();
    let msgs = nl.dump(RouteNetlinkMessage::GetRoute(msg), &|| "listing routes".into())?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRoute(r) => Route::from_message(r),
            _ => None,
        })
        .filter(|r| r.family == family)
        .collect())
}

/// The routes `ip route list match` would print for `q`.
pub fn list_match(nl: &mut Netlink, q: &RouteQuery) -> Result<Vec<Route>> {
    Ok(list(nl, Family::of(&q.address))?.into_iter().filter(|r| q.matches(r)).collect())
}

/// Delete the main-table host route `ip/32` (or `/128`) through interface `oif`
/// (`ip route delete IP dev IF`). A route that is not there gives `ESRCH`.
pub fn delete_host_route(nl: &mut Netlink, ip: IpAddr, oif: u32) -> Result<()> {
    let family = Family::of(&ip);
    let mut msg = RouteMessage::default();
    msg.header.address_family = family.netlink();
    msg.header.destination_prefix_length = family.max_prefix();
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.scope = RouteScope::NoWhere;
    msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(ip)));
    msg.attributes.push(RouteAttribute::Oif(oif));
    nl.request(RouteNetlinkMessage::DelRoute(msg), 0, &|| format!("deleting route {ip} dev #{oif}"))
}

/// Flush the route cache (`ip route flush cache`): cached routes, PMTU and redirect
/// exceptions of `family` are dropped, so the next packet looks the route up again.
pub fn flush_cache(family: Family) -> std::io::Result<()> {
    let path = match family {
        Family::V4 => "/proc/sys/net/ipv4/route/flush",
        Family::V6 => "/proc/sys/net/ipv6/route/flush",
    };
    std::fs::write(path, b"-1\n")
}

/// A route protocol by `/etc/iproute2/rt_protos` name (`kernel`, `static`, ...) or number.
pub fn protocol_by_name(name: &str) -> Option<u8> {
    let n = name.trim();
    if let Ok(v) = n.parse::<u8>() {
        return Some(v);
    }
    Some(match n.to_ascii_lowercase().as_str() {
        "unspec" => 0,
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "gated" => 8,
        "ra" => 9,
        "mrt" => 10,
        "zebra" => 11,
        "bird" => 12,
        "dnrouted" => 13,
        "xorp" => 14,
        "ntk" => 15,
        "dhcp" => 16,
        "keepalived" => 18,
        "babel" => 42,
        "openr" => 99,
        "bgp" => 186,
        "isis" => 187,
        "ospf" => 188,
        "rip" => 189,
        "eigrp" => 192,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, len: u8, scope: u8) -> Route {
        let destination: IpAddr = dst.parse().unwrap();
        Route {
            family: Family::of(&destination),
            destination,
            prefix_len: len,
            table: TABLE_MAIN,
            protocol: 2,
            scope,
            kind: RouteKind::Unicast,
            oif: Some(3),
            gateway: None,
            pref_src: None,
            metric: None,
            multipath: false,
        }
    }

    #[test]
    fn match_semantics_follow_ip_route_list_match() {
        let q = RouteQuery::covering("198.51.100.7".parse().unwrap());
        assert!(q.matches(&route("198.51.100.0", 24, SCOPE_LINK)));
        assert!(q.matches(&route("0.0.0.0", 0, 0)), "the default route covers everything");
        assert!(!q.matches(&route("203.0.113.0", 24, SCOPE_LINK)));
        assert!(!q.matches(&route("2001:db8::", 32, 0)), "other family");

        // match ip/prefix: only routes at most that long
        let q = RouteQuery { prefix_len: Some(16), ..q };
        assert!(!q.matches(&route("198.51.100.0", 24, SCOPE_LINK)));
        assert!(q.matches(&route("198.51.0.0", 16, SCOPE_LINK)));

        let q =
            RouteQuery { scope: Some(SCOPE_LINK), ..RouteQuery::covering("198.51.100.7".parse().unwrap()) };
        assert!(!q.matches(&route("0.0.0.0", 0, 0)));
        let q = RouteQuery { protocol: Some(4), ..q };
        assert!(!q.matches(&route("198.51.100.0", 24, SCOPE_LINK)));
        let mut other_table = route("198.51.100.0", 24, SCOPE_LINK);
        other_table.table = 100;
        assert!(!RouteQuery::covering("198.51.100.7".parse().unwrap()).matches(&other_table));
    }

    #[test]
    fn protocols() {
        assert_eq!(protocol_by_name("kernel"), Some(2));
        assert_eq!(protocol_by_name("Static"), Some(4));
        assert_eq!(protocol_by_name("200"), Some(200));
        assert_eq!(protocol_by_name("nonsense"), None);
        assert_eq!(protocol_by_name("300"), None);
    }

    #[test]
    fn describe() {
        let mut r = route("198.51.100.0", 24, SCOPE_LINK);
        r.metric = Some(100);
        assert_eq!(r.describe(|i| format!("if{i}")), "198.51.100.0/24 dev if3 metric 100");
    }
}
