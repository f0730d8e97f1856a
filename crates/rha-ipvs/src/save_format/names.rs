//! Host and service names in rules files, resolved the way ipvsadm does:
//! host names to an IPv4 address (`gethostbyname` semantics; ipvsadm never
//! resolves names to IPv6), service names through `/etc/services` for the
//! service's protocol.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::types::Protocol;

/// Resolves the names a rules file may contain.
pub trait Resolver {
    /// IPv4 address of a host name, if it has one.
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr>;
    /// Port of a service name (like `http`) for a protocol.
    fn service_port(&self, name: &str, protocol: Protocol) -> Option<u16>;
}

/// The system's resolver: `getaddrinfo` for hosts, `/etc/services` for ports.
#[derive(Debug)]
pub struct SystemResolver {
    services_path: PathBuf,
    services: OnceLock<HashMap<(String, String), u16>>,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::with_services_file("/etc/services")
    }
}

impl SystemResolver {
    /// A resolver reading service names from another file (for tests).
    pub fn with_services_file(path: impl Into<PathBuf>) -> SystemResolver {
        SystemResolver { services_path: path.into(), services: OnceLock::new() }
    }

    fn services(&self) -> &HashMap<(String, String), u16> {
        self.services.get_or_init(|| {
            std::fs::read_to_string(&self.services_path).map(|t| parse_services(&t)).unwrap_or_default()
        })
    }
}

impl Resolver for SystemResolver {
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        // std's lookup is getaddrinfo(AF_UNSPEC); keep the first IPv4 answer,
        // which is what gethostbyname (used by ipvsadm) would give.
        (name, 0u16).to_socket_addrs().ok()?.find_map(|sa| match sa {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
    }

    fn service_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.services().get(&(name.to_string(), protocol.name().to_string())).copied()
    }
}

/// Parses `/etc/services` text into (name or alias, protocol) -> port.
/// The first entry for a name wins, as with `getservbyname`.
pub(crate) fn parse_services(text: &str) -> HashMap<(String, String), u16> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(portproto)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((port, proto)) = portproto.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        for n in std::iter::once(name).chain(fields) {
            map.entry((n.to_string(), proto.to_string())).or_insert(port);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_file() {
        let m = parse_services(
            "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\n\
             domain 53/udp\ndomain 53/tcp\nbad line\nsip 5060/sctp\n",
        );
        assert_eq!(m.get(&("http".into(), "tcp".into())), Some(&80));
        assert_eq!(m.get(&("www".into(), "tcp".into())), Some(&80));
        assert_eq!(m.get(&("domain".into(), "udp".into())), Some(&53));
        assert_eq!(m.get(&("http".into(), "udp".into())), None);
        assert_eq!(m.get(&("sip".into(), "sctp".into())), Some(&5060));
    }

    #[test]
    fn localhost_resolves() {
        let r = SystemResolver::default();
        assert_eq!(r.host_v4("localhost"), Some(Ipv4Addr::LOCALHOST));
    }
}
