//! `real=`/`real6=` and `fallback=`/`fallback6=` lines:
//! `host[->host][:port] gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`.
//!
//! Differs from upstream (ldirectord.cf(5) lists these): every word must be understood
//! (upstream skips words it does not expect, e.g. `gate foo 5` is weight 5); `l:` and `u:`
//! may come in either order (upstream silently drops an `l:` written after `u:`); a range
//! is at most [`MAX_RANGE`] addresses.

use std::net::{IpAddr, Ipv4Addr};

use rha_ipvs::{Family, Forward};

use super::names::{Resolver, family_name};
use super::values::{Res, number};

/// The most addresses one `a->b` range may expand to (a /16).
pub const MAX_RANGE: u32 = 65_536;

/// A host as written: an address literal or a name to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host(pub String);

/// A `real=` line, parsed but not resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealLine {
    pub first: Host,
    pub last: Option<Host>,
    /// Port number or service name; `None` when not written.
    pub port: Option<String>,
    pub forward: Forward,
    pub weight: u32,
    /// Per-real (request, receive), quotes removed.
    pub request_receive: Option<(String, String)>,
    pub l_threshold: u32,
    pub u_threshold: u32,
}

/// A `fallback=` line, parsed but not resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackLine {
    pub host: Host,
    pub port: Option<String>,
    pub forward: Forward,
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Comma,
}

fn tokens(s: &str) -> Res<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else { return Ok(out) };
        if c == ',' {
            out.push(Tok::Comma);
            rest = &rest[1..];
        } else if c == '"' {
            let body = &rest[1..];
            let end =
                body.find('"').ok_or_else(|| format!("the closing double quote is missing in {rest:?}"))?;
            out.push(Tok::Quoted(&body[..end]));
            rest = &body[end + 1..];
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == ',' || c == '"').unwrap_or(rest.len());
            out.push(Tok::Word(&rest[..end]));
            rest = &rest[end..];
        }
    }
}

/// `gate`, `masq` or `ipip`.
pub fn forward(w: &str) -> Res<Forward> {
    match w {
        "gate" => Ok(Forward::DirectRoute),
        "masq" => Ok(Forward::Masq),
        "ipip" => Ok(Forward::Tunnel),
        _ => Err(format!("forwarding method must be gate, masq or ipip, not {w:?}")),
    }
}

/// Splits `host[->host][:port]`; IPv6 addresses are in brackets.
fn address_part(s: &str) -> Res<(Host, Option<Host>, Option<String>)> {
    let (hosts, port) = if s.starts_with('[') {
        // [v6] or [v6]->[v6], then :port.
        let close = s.rfind(']').ok_or_else(|| format!("missing ']' in {s:?}"))?;
        let after = &s[close + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("expected ':port' after ']' in {s:?}"))?
                    .to_string(),
            ),
        };
        (&s[..=close], port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.to_string())),
            None => (s, None),
        }
    };
    if let Some(p) = &port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("invalid port {p:?} in {s:?}"));
        }
    }
    let (first, last) = match hosts.split_once("->") {
        Some((a, b)) => (a, Some(b)),
        None => (hosts, None),
    };
    let check = |h: &str| -> Res<Host> {
        let ok = if let Some(inner) = h.strip_prefix('[') {
            inner.strip_suffix(']').is_some_and(|v| {
                !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            })
        } else {
            !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        };
        if ok { Ok(Host(h.to_string())) } else { Err(format!("invalid address {h:?} in {s:?}")) }
    };
    Ok((check(first)?, last.map(check).transpose()?, port))
}

/// Parses the value of a `real=` line.
pub fn parse_real(value: &str) -> Res<RealLine> {
    let toks = tokens(value)?;
    let mut it = toks.into_iter().peekable();
    let Some(Tok::Word(addr)) = it.next() else {
        return Err("a real server needs an address: real=ADDRESS[:PORT] gate|masq|ipip [WEIGHT]".into());
    };
    let (first, last, port) = address_part(addr)?;
    let method = match it.next() {
        Some(Tok::Word(w)) => forward(w)?,
        _ => {
            return Err(format!(
                "real server {addr}: a forwarding method (gate, masq or ipip) must follow the address"
            ));
        }
    };
    let mut r = RealLine {
        first,
        last,
        port,
        forward: method,
        weight: 1,
        request_receive: None,
        l_threshold: 0,
        u_threshold: 0,
    };
    if let Some(Tok::Word(w)) = it.peek() {
        if w.bytes().all(|b| b.is_ascii_digit()) {
            r.weight = number("weight", w, 65_535)?;
            it.next();
        }
    }
    if let Some(Tok::Quoted(req)) = it.peek() {
        let req = req.to_string();
        it.next();
        if it.peek() == Some(&Tok::Comma) {
            it.next();
        }
        match it.next() {
            Some(Tok::Quoted(rec)) => r.request_receive = Some((req, rec.to_string())),
            _ => {
                return Err(format!(
                    "real server {addr}: a request {req:?} needs its receive string: \"REQUEST\", \"RECEIVE\""
                ));
            }
        }
    }
    let (mut seen_l, mut seen_u) = (false, false);
    for t in it {
        let w = match t {
            Tok::Word(w) => w,
            Tok::Quoted(q) => {
                return Err(format!(
                    "real server {addr}: unexpected quoted string {q:?} (request and receive come right after the weight)"
                ));
            }
            Tok::Comma => return Err(format!("real server {addr}: unexpected ','")),
        };
        if let Some(n) = w.strip_prefix("l:") {
            if seen_l {
                return Err(format!("real server {addr}: l: given twice"));
            }
            seen_l = true;
            r.l_threshold = number("l: (lower connection threshold)", n, i32::MAX as u32)?;
        } else if let Some(n) = w.strip_prefix("u:") {
            if seen_u {
                return Err(format!("real server {addr}: u: given twice"));
            }
            seen_u = true;
            r.u_threshold = number("u: (upper connection threshold)", n, i32::MAX as u32)?;
        } else {
            return Err(format!(
                "real server {addr}: unexpected {w:?} (expected a weight, \"request\", \"receive\", l:N or u:N)"
            ));
        }
    }
    Ok(r)
}

/// Parses the value of a `fallback=` line: `host[:port] [gate|masq|ipip]` (gate by default).
pub fn parse_fallback(value: &str) -> Res<FallbackLine> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let (addr, method) = match words.as_slice() {
        [a] => (*a, Forward::DirectRoute),
        [a, m] => (*a, forward(m)?),
        [] => return Err("fallback needs an address: fallback=ADDRESS[:PORT] [gate|masq|ipip]".into()),
        [_, _, extra, ..] => {
            return Err(format!("fallback: unexpected {extra:?} after the forwarding method"));
        }
    };
    let (host, last, port) = address_part(addr)?;
    if last.is_some() {
        return Err(format!("a fallback server is one address, not a range: {addr:?}"));
    }
    Ok(FallbackLine { host, port, forward: method })
}

/// An address literal or a resolved name of `family`. IPv6 literals are in brackets.
pub fn resolve_host(h: &Host, family: Family, r: &dyn Resolver) -> Res<IpAddr> {
    let s = h.0.as_str();
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let ip: std::net::Ipv6Addr = inner.parse().map_err(|_| format!("invalid IPv6 address {inner:?}"))?;
        if family != Family::Inet6 {
            return Err(format!(
                "{s} is an IPv6 address: use the 6 form of the directive (virtual6, real6, fallback6)"
            ));
        }
        return Ok(IpAddr::V6(ip));
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let ip: Ipv4Addr = s.parse().map_err(|_| format!("invalid IPv4 address {s:?}"))?;
        if family != Family::Inet {
            return Err(format!("{s} is an IPv4 address: an IPv6 section needs [IPv6] addresses"));
        }
        return Ok(IpAddr::V4(ip));
    }
    r.host(s, family).map_err(|e| format!("{e} (a {} address or a host name is needed)", family_name(family)))
}

/// A port number or a service name (for `protocol`, or any protocol when `None`).
pub fn resolve_port(p: &str, protocol: Option<&str>, r: &dyn Resolver) -> Res<u16> {
    if p.bytes().all(|b| b.is_ascii_digit()) {
        return p.parse::<u16>().map_err(|_| format!("port {p:?} is not in 0..65535"));
    }
    r.service(p, protocol).ok_or_else(|| match protocol {
        Some(proto) => format!("unknown service name {p:?} for {proto} (not in /etc/services)"),
        None => format!("unknown service name {p:?} (not in /etc/services)"),
    })
}

/// The addresses of `first->last` (IPv4 only, at most [`MAX_RANGE`]).
pub fn expand_range(first: IpAddr, last: IpAddr) -> Res<Vec<IpAddr>> {
    let (IpAddr::V4(a), IpAddr::V4(b)) = (first, last) else {
        return Err("address ranges (->) are IPv4 only (as upstream)".into());
    };
    let (a, b) = (u32::from(a), u32::from(b));
    if a > b {
        return Err(format!(
            "range {}->{}: the first address must not be above the last",
            Ipv4Addr::from(a),
            Ipv4Addr::from(b)
        ));
    }
    if b - a >= MAX_RANGE {
        return Err(format!(
            "range {}->{} has {} addresses; at most {MAX_RANGE} per line",
            Ipv4Addr::from(a),
            Ipv4Addr::from(b),
            u64::from(b - a) + 1
        ));
    }
    Ok((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))).collect())
}

#[cfg(test)]
mod tests {
    use super::super::names::StaticResolver;
    use super::*;

    #[test]
    fn every_part_of_a_real_line() {
        let r = parse_real("198.51.100.2->198.51.100.4:8080 masq 5 \"/health\", \"OK\" l:10 u:100").unwrap();
        assert_eq!(r.first, Host("198.51.100.2".into()));
        assert_eq!(r.last, Some(Host("198.51.100.4".into())));
        assert_eq!(r.port.as_deref(), Some("8080"));
        assert_eq!(r.forward, Forward::Masq);
        assert_eq!(r.weight, 5);
        assert_eq!(r.request_receive, Some(("/health".into(), "OK".into())));
        assert_eq!((r.l_threshold, r.u_threshold), (10, 100));
        let r = parse_real("[2001:db8::2]:80 ipip u:7 l:3").unwrap();
        assert_eq!(r.first, Host("[2001:db8::2]".into()));
        assert_eq!((r.forward, r.weight, r.l_threshold, r.u_threshold), (Forward::Tunnel, 1, 3, 7));
        let r = parse_real("web1 gate \"a b\" \"c, d\"").unwrap();
        assert_eq!(r.port, None);
        assert_eq!(r.request_receive, Some(("a b".into(), "c, d".into())));
    }

    #[test]
    fn real_line_errors_name_the_token() {
        for (line, want) in [
            ("198.51.100.2:80", "forwarding method"),
            ("198.51.100.2:80 nat", "\"nat\""),
            ("198.51.100.2:80 gate foo 5", "\"foo\""),
            ("198.51.100.2:80 gate 70000", "\"70000\""),
            ("198.51.100.2:80 gate \"/x\"", "receive"),
            ("198.51.100.2:80 gate l:x", "\"x\""),
            ("198.51.100.2:80 gate l:1 l:2", "twice"),
            ("198.51.100.2::5060 gate", "invalid"),
            ("198.51.100.2:80 gate \"open", "closing"),
            ("", "address"),
        ] {
            let e = parse_real(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn fallback_lines() {
        let f = parse_fallback("127.0.0.1:80 masq").unwrap();
        assert_eq!(
            (f.host.0.as_str(), f.port.as_deref(), f.forward),
            ("127.0.0.1", Some("80"), Forward::Masq)
        );
        let f = parse_fallback("[::1]").unwrap();
        assert_eq!((f.port, f.forward), (None, Forward::DirectRoute));
        assert!(parse_fallback("127.0.0.1 gate x").unwrap_err().contains("\"x\""));
        assert!(parse_fallback("1.2.3.4->1.2.3.5").unwrap_err().contains("range"));
    }

    #[test]
    fn hosts_ports_and_ranges_resolve() {
        let r = StaticResolver::common();
        assert_eq!(
            resolve_host(&Host("localhost".into()), Family::Inet, &r),
            Ok("127.0.0.1".parse().unwrap())
        );
        assert_eq!(resolve_host(&Host("localhost".into()), Family::Inet6, &r), Ok("::1".parse().unwrap()));
        assert!(resolve_host(&Host("[::1]".into()), Family::Inet, &r).unwrap_err().contains("virtual6"));
        assert!(resolve_host(&Host("1.2.3".into()), Family::Inet, &r).is_err());
        assert!(resolve_host(&Host("nosuch".into()), Family::Inet, &r).unwrap_err().contains("nosuch"));
        assert_eq!(resolve_port("http", Some("tcp"), &r), Ok(80));
        assert!(resolve_port("bogus", Some("tcp"), &r).unwrap_err().contains("bogus"));
        assert!(resolve_port("70000", None, &r).is_err());
        let v = expand_range("198.51.100.254".parse().unwrap(), "198.51.101.1".parse().unwrap()).unwrap();
        assert_eq!(v.len(), 4);
        assert!(expand_range("198.51.100.2".parse().unwrap(), "198.51.100.1".parse().unwrap()).is_err());
        assert!(
            expand_range("10.0.0.0".parse().unwrap(), "10.1.0.0".parse().unwrap())
                .unwrap_err()
                .contains("65536")
        );
    }
}
