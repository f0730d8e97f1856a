//! Host and service names, resolved when the file is read (as upstream does), each look-up
//! bounded in time so a dead DNS server cannot hang a start or a reload.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use rha_ipvs::Family;

/// How long one host-name look-up may take.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves names written in ldirectord.cf.
pub trait Resolver {
    /// The first address of `family` for a host name (never called for address literals).
    fn host(&self, name: &str, family: Family) -> Result<IpAddr, String>;
    /// The port of a service name for a protocol ("tcp", "udp"); `None` for any protocol.
    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16>;
}

/// getaddrinfo (on a helper thread, bounded by [`LOOKUP_TIMEOUT`]) and /etc/services.
#[derive(Debug)]
pub struct SystemResolver {
    services_path: PathBuf,
    services: OnceLock<Vec<(String, String, u16)>>,
    timeout: Duration,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::with_services_file("/etc/services")
    }
}

impl SystemResolver {
    /// A resolver reading service names from another file (tests).
    pub fn with_services_file(path: impl Into<PathBuf>) -> SystemResolver {
        SystemResolver { services_path: path.into(), services: OnceLock::new(), timeout: LOOKUP_TIMEOUT }
    }

    fn services(&self) -> &[(String, String, u16)] {
        self.services.get_or_init(|| {
            std::fs::read_to_string(&self.services_path).map(|t| parse_services(&t)).unwrap_or_default()
        })
    }
}

impl Resolver for SystemResolver {
    fn host(&self, name: &str, family: Family) -> Result<IpAddr, String> {
        let (tx, rx) = mpsc::channel();
        let owned = name.to_string();
        // A thread per look-up: getaddrinfo cannot be cancelled, so a slow one is abandoned
        // (it ends on its own) and the parse goes on with an error.
        std::thread::Builder::new()
            .name("ldirectord-resolve".into())
            .spawn(move || {
                let r = (owned.as_str(), 0u16).to_socket_addrs().map(|it| it.collect::<Vec<SocketAddr>>());
                let _ = tx.send(r);
            })
            .map_err(|e| format!("cannot resolve {name:?}: {e}"))?;
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(addrs)) => addrs
                .into_iter()
                .map(|a| a.ip())
                .find(|ip| Family::of(ip) == family)
                .ok_or_else(|| format!("host {name:?} has no {} address", family_name(family))),
            Ok(Err(e)) => Err(format!("could not resolve host {name:?}: {e}")),
            Err(_) => Err(format!("could not resolve host {name:?} within {} s", self.timeout.as_secs())),
        }
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.services()
            .iter()
            .find(|(n, p, _)| n == name && protocol.is_none_or(|want| want == p))
            .map(|(_, _, port)| *port)
    }
}

pub fn family_name(f: Family) -> &'static str {
    match f {
        Family::Inet => "IPv4",
        Family::Inet6 => "IPv6",
    }
}

/// /etc/services → (name or alias, protocol, port), in file order (the first entry wins, as
/// with getservbyname).
fn parse_services(text: &str) -> Vec<(String, String, u16)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(pp)) = (fields.next(), fields.next()) else { continue };
        let Some((port, proto)) = pp.split_once('/') else { continue };
        let Ok(port) = port.parse::<u16>() else { continue };
        for n in std::iter::once(name).chain(fields) {
            out.push((n.to_string(), proto.to_string(), port));
        }
    }
    out
}

/// A resolver that knows only what it is given (tests and the fuzz target: deterministic,
/// no network).
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    pub hosts: HashMap<String, Vec<IpAddr>>,
    pub services: Vec<(String, String, u16)>,
}

impl StaticResolver {
    /// `localhost` and the service names ldirectord configurations commonly use.
    pub fn common() -> StaticResolver {
        let mut r = StaticResolver::default();
        r.hosts.insert("localhost".into(), vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
        for (n, p) in [
            ("ftp", 21),
            ("smtp", 25),
            ("domain", 53),
            ("http", 80),
            ("www", 80),
            ("pop3", 110),
            ("nntp", 119),
            ("imap2", 143),
            ("imap", 143),
            ("ldap", 389),
            ("https", 443),
            ("submission", 587),
            ("ldaps", 636),
            ("imaps", 993),
            ("pop3s", 995),
            ("mysql", 3306),
            ("postgresql", 5432),
            ("sip", 5060),
        ] {
            r.services.push((n.into(), "tcp".into(), p));
            r.services.push((n.into(), "udp".into(), p));
        }
        r
    }
}

impl Resolver for StaticResolver {
    fn host(&self, name: &str, family: Family) -> Result<IpAddr, String> {
        self.hosts
            .get(name)
            .and_then(|v| v.iter().find(|ip| Family::of(ip) == family).copied())
            .ok_or_else(|| format!("could not resolve host {name:?} to an {} address", family_name(family)))
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.services
            .iter()
            .find(|(n, p, _)| n == name && protocol.is_none_or(|want| want == p))
            .map(|(_, _, port)| *port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_file_first_entry_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("services");
        std::fs::write(&p, "# c\nhttp 80/tcp www # web\ndomain 53/udp\ndomain 53/tcp\nbad\n").unwrap();
        let r = SystemResolver::with_services_file(&p);
        assert_eq!(r.service("www", Some("tcp")), Some(80));
        assert_eq!(r.service("http", Some("udp")), None);
        assert_eq!(r.service("domain", None), Some(53));
        assert_eq!(r.service("nope", None), None);
    }

    #[test]
    fn system_resolver_resolves_localhost_and_fails_with_the_name() {
        let r = SystemResolver::default();
        assert_eq!(r.host("localhost", Family::Inet), Ok("127.0.0.1".parse().unwrap()));
        let e = r.host("no-such-host.invalid", Family::Inet).unwrap_err();
        assert!(e.contains("no-such-host.invalid"), "{e}");
    }
}
