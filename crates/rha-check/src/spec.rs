//! What a check is: ldirectord's `checktype`, `service` and their parameters.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::receive::Receive;

/// ldirectord's `service=` values (the protocol a negotiate check speaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Http,
    Https,
    HttpProxy,
    Dns,
    Smtp,
    Submission,
    Pop,
    Pops,
    Imap,
    Imaps,
    Ftp,
    Ldap,
    Ldaps,
    Nntp,
    Sip,
    SimpleTcp,
    Radius,
    Mysql,
    Pgsql,
    None,
}

/// Every service name ldirectord accepts, with its well-known port (the default `checkport`
/// and, from the virtual's port, the default `service`).
const SERVICES: &[(&str, Service, u16)] = &[
    ("ftp", Service::Ftp, 21),
    ("smtp", Service::Smtp, 25),
    ("dns", Service::Dns, 53),
    ("http", Service::Http, 80),
    ("pop", Service::Pop, 110),
    ("nntp", Service::Nntp, 119),
    ("imap", Service::Imap, 143),
    ("ldap", Service::Ldap, 389),
    ("https", Service::Https, 443),
    ("submission", Service::Submission, 587),
    ("ldaps", Service::Ldaps, 636),
    ("imaps", Service::Imaps, 993),
    ("pops", Service::Pops, 995),
    ("radius", Service::Radius, 1812),
    ("http_proxy", Service::HttpProxy, 3128),
    ("mysql", Service::Mysql, 3306),
    ("sip", Service::Sip, 5060),
    ("pgsql", Service::Pgsql, 5432),
    ("simpletcp", Service::SimpleTcp, 0),
    ("none", Service::None, 0),
];

/// Why a service name is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "service=oracle is not supported: there is no free Oracle client to check it with (use checktype=connect, or checktype=external with your own check)"
    )]
    Oracle,
    #[error("unknown service {0:?} (known: {1})")]
    Unknown(String, String),
}

impl Service {
    /// Parses a `service=` value.
    pub fn from_name(name: &str) -> Result<Service, ServiceError> {
        if name == "oracle" {
            return Err(ServiceError::Oracle);
        }
        SERVICES.iter().find(|(n, _, _)| *n == name).map(|(_, s, _)| *s).ok_or_else(|| {
            let known: Vec<&str> = SERVICES.iter().map(|(n, _, _)| *n).collect();
            ServiceError::Unknown(name.to_string(), known.join(", "))
        })
    }

    pub fn name(self) -> &'static str {
        SERVICES.iter().find(|(_, s, _)| *s == self).map(|(n, _, _)| *n).unwrap_or("none")
    }

    /// The well-known port (0 where the service has none: simpletcp, none).
    pub fn default_port(self) -> u16 {
        SERVICES.iter().find(|(_, s, _)| *s == self).map(|(_, _, p)| *p).unwrap_or(0)
    }

    /// ldirectord's default service for a virtual's port (`none` for other ports and fwmarks).
    /// Port 1521 is oracle in ldirectord: that is refused by [`Service::from_name`], so here it
    /// defaults to `none` like any other port without a free checker.
    pub fn for_port(port: u16) -> Service {
        SERVICES
            .iter()
            .find(|(_, s, p)| *p == port && *p != 0 && !matches!(s, Service::None))
            .map(|(_, s, _)| *s)
            .unwrap_or(Service::None)
    }
}

/// ldirectord's `checktype=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckType {
    /// TCP connect within checktimeout. On UDP virtuals ldirectord pings instead, and so do we.
    Connect,
    /// Speak the service's protocol (the default).
    Negotiate,
    /// ICMP / ICMPv6 echo.
    Ping,
    /// `checkcommand <vip> <vport> <rip> <rport>`, exit 0 = up.
    External,
    /// Always up, never checked.
    On,
    /// Never up: no real is added.
    Off,
    /// Connect checks, with a negotiate check after every N successful connects.
    Combined(u32),
}

impl CheckType {
    pub fn from_name(name: &str) -> Result<CheckType, String> {
        Ok(match name {
            "connect" => CheckType::Connect,
            "negotiate" => CheckType::Negotiate,
            "ping" => CheckType::Ping,
            "external" => CheckType::External,
            "external-perl" => {
                return Err("checktype=external-perl evaluates Perl inside the daemon and is not supported: use checktype=external with the same script run by its interpreter".into());
            }
            "on" => CheckType::On,
            "off" => CheckType::Off,
            n => match n.parse::<u32>() {
                Ok(k) if k > 0 => CheckType::Combined(k),
                _ => {
                    return Err(format!(
                        "unknown checktype {n:?} (connect, negotiate, ping, external, on, off or a number > 0)"
                    ));
                }
            },
        })
    }
}

/// The virtual service's protocol (`protocol=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    /// A firewall-mark virtual: checks use TCP unless the service says otherwise.
    Fwmark,
}

/// Everything a check needs besides the address: ldirectord.cf's directives for one virtual,
/// with a real's own request/receive already applied. Equal specs against equal targets are
/// the same check, which the engine runs once per interval however many virtuals share it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub checktype: CheckType,
    pub service: Service,
    pub protocol: Protocol,
    /// `request=`, unescaped; `None` means the service's default ("/" for http).
    pub request: Option<String>,
    /// `receive=`, compiled; `None` when empty.
    pub receive: Option<Receive>,
    /// `httpmethod=`: true for HEAD, false for GET.
    pub http_head: bool,
    /// `virtualhost=`: the HTTP Host header and the TLS server name.
    pub virtualhost: Option<String>,
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    /// `checkcommand=` for checktype=external.
    pub checkcommand: Option<String>,
    /// The virtual's address (or fwmark as a string) and port, passed to checkcommand.
    pub virtual_id: (String, u16),
    /// checktimeout: bounds connect, ping and external checks.
    pub check_timeout: Duration,
    /// negotiatetimeout: bounds negotiate checks.
    pub negotiate_timeout: Duration,
    /// Verify TLS certificates (ldirectord does not: off by default).
    pub tls_verify: bool,
}

impl CheckSpec {
    /// A spec with ldirectord's defaults for `service` (negotiate, tcp, 5 s / 30 s).
    pub fn new(service: Service) -> Self {
        CheckSpec {
            checktype: CheckType::Negotiate,
            service,
            protocol: Protocol::Tcp,
            request: None,
            receive: None,
            http_head: false,
            virtualhost: None,
            login: None,
            passwd: None,
            database: None,
            secret: None,
            checkcommand: None,
            virtual_id: (String::new(), 0),
            check_timeout: Duration::from_secs(5),
            negotiate_timeout: Duration::from_secs(30),
            tls_verify: false,
        }
    }
}

/// Where a check goes: the real server's address and the port to check (`checkport`, else
/// the real's port, else the service's well-known port, resolved by the caller), and the
/// source address to check from when one is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: SocketAddr,
    pub source: Option<IpAddr>,
}

impl Target {
    pub fn new(addr: SocketAddr) -> Self {
        Target { addr, source: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_round_trip_and_ports_match_ldirectord() {
        for (name, service, port) in SERVICES {
            assert_eq!(Service::from_name(name).unwrap(), *service);
            assert_eq!(service.name(), *name);
            assert_eq!(service.default_port(), *port);
        }
        assert_eq!(Service::for_port(80), Service::Http);
        assert_eq!(Service::for_port(53), Service::Dns);
        assert_eq!(Service::for_port(8080), Service::None);
        assert_eq!(Service::for_port(0), Service::None);
        assert_eq!(Service::for_port(1521), Service::None);
    }

    #[test]
    fn oracle_and_unknown_services_are_refused_with_a_reason() {
        assert_eq!(Service::from_name("oracle"), Err(ServiceError::Oracle));
        let e = Service::from_name("htp").unwrap_err().to_string();
        assert!(e.contains("\"htp\"") && e.contains("http"), "{e}");
    }

    #[test]
    fn checktypes_parse_as_ldirectord() {
        assert_eq!(CheckType::from_name("connect").unwrap(), CheckType::Connect);
        assert_eq!(CheckType::from_name("5").unwrap(), CheckType::Combined(5));
        assert!(CheckType::from_name("0").is_err());
        assert!(CheckType::from_name("external-perl").unwrap_err().contains("external"));
        assert!(CheckType::from_name("bogus").is_err());
    }
}
