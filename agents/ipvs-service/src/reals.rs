//! The `reals` parameter: every real server of the service in one string, one entry per
//! `ipvsadm -a` line of an `ipvsadm-save` listing.
//!
//! ```text
//! reals   := entry { (";" | newline) entry }        empty entries are ignored
//! entry   := ["-r" | "--real-server" | "real="] address { option }
//! address := IPV4[:PORT] | [IPV6]:PORT | [IPV6] | IPV6 | HOSTNAME[:PORT]
//!            PORT is a number or a name from /etc/services; without a port the real
//!            server takes the virtual service's port (as with ipvsadm)
//! option  := method | weight | threshold | tunnel
//! method  := masq | nat | -m | --masquerading          NAT
//!          | gate | dr | route | -g | --gatewaying      direct routing (the default)
//!          | ipip | tun | tunnel | -i | --ipip          IP-in-IP tunnel
//! weight  := N | w=N | weight=N | -w N | --weight N    0..65535, default 1
//! threshold := x=N | -x N | --u-threshold N            upper connection threshold
//!            | y=N | -y N | --l-threshold N            lower connection threshold
//! tunnel  := tun-type=ipip|gue|gre | tun-port=N | tun-nocsum | tun-csum | tun-remcsum
//!            (also with a leading "--" and a blank instead of "=", as ipvsadm writes them)
//! ```
//!
//! `10.0.0.1:80 masq 3` is `-a ... -r 10.0.0.1:80 -m -w 3`; `10.0.0.2 gate x=100 y=10` is
//! `-a ... -r 10.0.0.2:<vport> -g -w 1 -x 100 -y 10`. [`format`] writes the canonical form
//! (`ADDR:PORT METHOD WEIGHT [x=U] [y=L] [tun-...]`, entries joined by `; `), which parses back
//! to the same real servers; the tail of an `ipvsadm-save` `-a` line (`-r 10.0.0.1:80 -m -w 3`)
//! and ldirectord's `real=10.0.0.1:80 masq 3` are accepted as they are.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rha_ipvs::save_format::Resolver;
use rha_ipvs::{Dest, Forward, Protocol, ServiceKey, Tunnel, TunnelCsum, TunnelType};

/// Largest weight accepted (ipvsadm's limit).
pub const MAX_WEIGHT: u32 = 65535;
/// Largest connection threshold (the kernel stores a signed int).
pub const MAX_THRESHOLD: u32 = i32::MAX as u32;

/// Why a `reals` entry cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealsError {
    /// 1-based entry number.
    pub entry: usize,
    /// The entry as written.
    pub text: String,
    /// What is wrong.
    pub message: String,
    /// True when the entry is fine in itself but cannot be used on this node (a host or port
    /// name that does not resolve here).
    pub node_local: bool,
}

impl fmt::Display for RealsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "real server #{} '{}': {}", self.entry, self.text, self.message)
    }
}

impl std::error::Error for RealsError {}

/// Splits the parameter into its entries (trimmed, empty ones dropped).
pub fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '\n']).map(str::trim).filter(|e| !e.is_empty())
}

/// Parses the `reals` parameter for the service `key`. Host names resolve to IPv4 and port
/// names through /etc/services (for the service's protocol; TCP for fwmark services), as
/// ipvsadm does.
pub fn parse(text: &str, key: &ServiceKey, resolver: &dyn Resolver) -> Result<Vec<Dest>, RealsError> {
    let mut out: Vec<Dest> = Vec::new();
    let mut seen: std::collections::HashMap<rha_ipvs::DestKey, usize> = std::collections::HashMap::new();
    for (i, entry) in entries(text).enumerate() {
        let err = |message: String, node_local: bool| RealsError {
            entry: i + 1,
            text: entry.to_string(),
            message,
            node_local,
        };
        let d = parse_entry(entry, key, resolver).map_err(|(m, local)| err(m, local))?;
        if let Some(prev) = seen.insert(d.key(), i) {
            return Err(err(format!("{} is already real server #{}", d.key(), prev + 1), false));
        }
        out.push(d);
    }
    Ok(out)
}

type EntryResult<T> = Result<T, (String, bool)>;

fn bad<T>(msg: impl Into<String>) -> EntryResult<T> {
    Err((msg.into(), false))
}

/// Option words, normalised: leading dashes and `=VALUE` split off.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Masq,
    Gate,
    Ipip,
    Weight,
    Upper,
    Lower,
    TunType,
    TunPort,
    Csum(TunnelCsum),
}

impl Word {
    fn takes_value(self) -> bool {
        matches!(self, Word::Weight | Word::Upper | Word::Lower | Word::TunType | Word::TunPort)
    }

    fn class(self) -> &'static str {
        match self {
            Word::Masq | Word::Gate | Word::Ipip => "forwarding method",
            Word::Weight => "weight",
            Word::Upper => "upper threshold (x)",
            Word::Lower => "lower threshold (y)",
            Word::TunType => "tunnel type",
            Word::TunPort => "tunnel port",
            Word::Csum(_) => "tunnel checksum",
        }
    }
}

fn word(name: &str) -> Option<Word> {
    Some(match name {
        "masq" | "nat" | "m" | "masquerading" => Word::Masq,
        "gate" | "dr" | "route" | "g" | "gatewaying" => Word::Gate,
        "ipip" | "tun" | "tunnel" | "i" => Word::Ipip,
        "w" | "weight" => Word::Weight,
        "x" | "u-threshold" | "u_threshold" => Word::Upper,
        "y" | "l-threshold" | "l_threshold" => Word::Lower,
        "tun-type" | "tun_type" => Word::TunType,
        "tun-port" | "tun_port" => Word::TunPort,
        "tun-nocsum" | "tun_nocsum" => Word::Csum(TunnelCsum::NoCsum),
        "tun-csum" | "tun_csum" => Word::Csum(TunnelCsum::Csum),
        "tun-remcsum" | "tun_remcsum" => Word::Csum(TunnelCsum::RemCsum),
        _ => return None,
    })
}

fn number(text: &str, what: &str, max: u32) -> EntryResult<u32> {
    match text.parse::<u64>() {
        Ok(n) if n <= u64::from(max) => Ok(n as u32),
        Ok(_) => bad(format!("{what} {text} is out of range 0..{max}")),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            bad(format!("{what} {text} is out of range 0..{max}"))
        }
        Err(_) => bad(format!("{what} '{text}' is not a number")),
    }
}

fn parse_entry(entry: &str, key: &ServiceKey, resolver: &dyn Resolver) -> EntryResult<Dest> {
    let mut tokens: Vec<&str> = entry.split_whitespace().collect();
    // `-r ADDR`, `--real-server ADDR`, `--real-server=ADDR`, `real=ADDR`.
    if matches!(tokens.first(), Some(&"-r") | Some(&"--real-server")) {
        tokens.remove(0);
    }
    let Some(first) = tokens.first().copied() else {
        return bad("no address");
    };
    let addr_text = first
        .strip_prefix("real=")
        .or_else(|| first.strip_prefix("--real-server="))
        .or_else(|| first.strip_prefix("-r").filter(|r| !r.is_empty() && !r.starts_with('-')))
        .unwrap_or(first);
    let proto = match key {
        ServiceKey::Addr { protocol, .. } => *protocol,
        ServiceKey::Fwmark { .. } => Protocol::Tcp,
    };
    let (addr, port) = parse_address(addr_text, proto, resolver)?;

    let mut seen: Vec<&'static str> = Vec::new();
    let mut forward = None;
    let mut weight = None;
    let (mut upper, mut lower) = (0, 0);
    let mut tun_type = None;
    let mut tun_port = None;
    let mut csum = None;
    let mut i = 1;
    while i < tokens.len() {
        let tok = tokens[i];
        i += 1;
        if tok.bytes().all(|b| b.is_ascii_digit()) {
            if seen.contains(&"weight") {
                return bad(format!("more than one weight ('{tok}')"));
            }
            seen.push("weight");
            weight = Some(number(tok, "weight", MAX_WEIGHT)?);
            continue;
        }
        let bare = tok.trim_start_matches('-');
        let (name, attached) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (bare, None),
        };
        // `-w3`, `-x100`: ipvsadm's attached short options.
        let (w, attached) = match (word(name), attached) {
            (Some(w), a) => (w, a),
            (None, None) if tok.starts_with('-') && !tok.starts_with("--") && name.chars().count() > 1 => {
                // Split after the first character, not the first byte: values may be any text.
                let split = name.chars().next().map_or(0, char::len_utf8);
                match word(&name[..split]) {
                    Some(w) if w.takes_value() => (w, Some(&name[split..])),
                    _ => return bad(unknown_option(tok)),
                }
            }
            _ => return bad(unknown_option(tok)),
        };
        if seen.contains(&w.class()) {
            return bad(format!("more than one {} ('{tok}')", w.class()));
        }
        seen.push(w.class());
        let value = if w.takes_value() {
            match attached {
                Some(v) if !v.is_empty() => Some(v),
                Some(_) => return bad(format!("'{tok}' needs a value")),
                None => {
                    let v = tokens.get(i).copied().ok_or((format!("'{tok}' needs a value"), false))?;
                    i += 1;
                    Some(v)
                }
            }
        } else {
            if attached.is_some() {
                return bad(format!("'{tok}' takes no value"));
            }
            None
        };
        let v = value.unwrap_or("");
        match w {
            Word::Masq => forward = Some(Forward::Masq),
            Word::Gate => forward = Some(Forward::DirectRoute),
            Word::Ipip => forward = Some(Forward::Tunnel),
            Word::Weight => weight = Some(number(v, "weight", MAX_WEIGHT)?),
            Word::Upper => upper = number(v, "upper threshold", MAX_THRESHOLD)?,
            Word::Lower => lower = number(v, "lower threshold", MAX_THRESHOLD)?,
            Word::TunType => {
                tun_type = Some(match v {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    _ => return bad(format!("tunnel type '{v}' is not ipip, gue or gre")),
                })
            }
            Word::TunPort => {
                let p = number(v, "tunnel port", 65535)?;
                if p == 0 {
                    return bad("tunnel port 0");
                }
                tun_port = Some(p as u16);
            }
            Word::Csum(c) => csum = Some(c),
        }
    }

    let forward = forward.unwrap_or(Forward::DirectRoute);
    let mut d = Dest::new(addr, port.unwrap_or(key.port())).with_forward(forward);
    d.weight = weight.unwrap_or(1);
    d.u_threshold = upper;
    d.l_threshold = lower;
    if upper != 0 && lower > upper {
        return bad(format!("lower threshold y={lower} is above the upper threshold x={upper}"));
    }
    let tunnel_opts = tun_type.is_some() || tun_port.is_some() || csum.is_some();
    if tunnel_opts && forward != Forward::Tunnel {
        return bad("tunnel options need the ipip forwarding method");
    }
    if forward == Forward::Tunnel {
        let kind = tun_type.unwrap_or_default();
        match kind {
            TunnelType::Ipip if tun_port.is_some() || csum.is_some() => {
                return bad("an ipip tunnel takes no tun-port or checksum option");
            }
            TunnelType::Gue if tun_port.is_none() => return bad("a gue tunnel needs tun-port=N"),
            TunnelType::Gre if tun_port.is_some() => return bad("a gre tunnel takes no tun-port"),
            TunnelType::Gre if csum == Some(TunnelCsum::RemCsum) => {
                return bad("a gre tunnel does not support tun-remcsum");
            }
            _ => {}
        }
        d.tunnel = Tunnel { kind, port: tun_port.unwrap_or(0), csum: csum.unwrap_or_default() };
    }
    if rha_ipvs::Family::of(&addr) != key.family() && forward != Forward::Tunnel {
        return bad(format!(
            "{} is of another address family than the virtual service; only ipip tunnels allow that",
            addr
        ));
    }
    if let (ServiceKey::Addr { port: vport, .. }, Some(p)) = (key, port) {
        if matches!(forward, Forward::DirectRoute | Forward::Tunnel) && p != *vport {
            let how = if forward == Forward::Tunnel { "ipip" } else { "gate (direct routing)" };
            return bad(format!(
                "{how} cannot change the port: the real server receives the virtual port {vport}; \
                 write {} or {}",
                HostText(addr),
                SockText(addr, *vport)
            ));
        }
        if forward == Forward::Masq && p == 0 && *vport != 0 {
            return bad("port 0 for a NAT real server of a port-based service");
        }
    }
    Ok(d)
}

fn unknown_option(tok: &str) -> String {
    format!(
        "unknown option '{tok}' (expected masq|gate|ipip, a weight, x=N, y=N or tun-type=/tun-port=/tun-csum; \
         health-check request/receive strings are ldirectord's, not this agent's)"
    )
}

/// `host[:port]`, `[v6]:port`, `[v6]` or a bare IPv6 address. The port is `None` when absent.
pub fn parse_address(
    text: &str,
    proto: Protocol,
    resolver: &dyn Resolver,
) -> EntryResult<(IpAddr, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return bad(format!("'{text}': missing ']'"));
        };
        let v6: Ipv6Addr = match inside.parse() {
            Ok(a) => a,
            Err(_) => return bad(format!("'{inside}' is not an IPv6 address")),
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return bad(format!("'{text}': expected ':PORT' after ']'")),
            },
        };
        return Ok((IpAddr::V6(v6), port.map(|p| parse_port(p, proto, resolver)).transpose()?));
    } else if let Ok(v6) = text.parse::<Ipv6Addr>() {
        return Ok((IpAddr::V6(v6), None));
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.contains(':') {
        return bad(format!("'{text}': write IPv6 addresses with a port as [ADDRESS]:PORT"));
    }
    let addr = parse_host(host, resolver)?;
    Ok((addr, port.map(|p| parse_port(p, proto, resolver)).transpose()?))
}

/// A dotted quad, or a host name resolved to IPv4 (ipvsadm's `gethostbyname`).
fn parse_host(host: &str, resolver: &dyn Resolver) -> EntryResult<IpAddr> {
    if host.is_empty() {
        return bad("empty address");
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(IpAddr::V4(v4));
    }
    let looks_numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let name_chars = host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if looks_numeric || !name_chars || host.starts_with(['-', '.']) {
        return bad(format!("'{host}' is not an IP address or host name"));
    }
    match resolver.host_v4(host) {
        Some(a) => Ok(IpAddr::V4(a)),
        None => Err((format!("host name '{host}' does not resolve to an IPv4 address on this node"), true)),
    }
}

/// A port number or a service name of /etc/services for `proto`.
pub fn parse_port(text: &str, proto: Protocol, resolver: &dyn Resolver) -> EntryResult<u16> {
    if text.is_empty() {
        return bad("empty port");
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(p) if p <= 65535 => Ok(p as u16),
            _ => bad(format!("port {text} is out of range 0..65535")),
        };
    }
    if !text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+')) {
        return bad(format!("'{text}' is not a port number or service name"));
    }
    resolver
        .service_port(text, proto)
        .ok_or_else(|| (format!("service name '{text}' is not in /etc/services for {}", proto.name()), true))
}

/// `addr` as written in an entry without a port (`[v6]` for IPv6).
struct HostText(IpAddr);

impl fmt::Display for HostText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// `addr:port`, `[v6]:port`.
struct SockText(IpAddr, u16);

impl fmt::Display for SockText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// One real server in the canonical syntax: `ADDR:PORT METHOD WEIGHT [x=U] [y=L] [tun-...]`.
pub fn format_dest(d: &Dest) -> String {
    let method = match d.forward {
        Forward::Masq => "masq",
        Forward::Tunnel => "ipip",
        // The kernel-internal methods read back as direct routing, as ipvsadm shows them.
        Forward::DirectRoute | Forward::Local | Forward::Bypass => "gate",
    };
    let mut s = format!("{} {method} {}", SockText(d.addr, d.port), d.weight);
    if d.u_threshold != 0 {
        s.push_str(&format!(" x={}", d.u_threshold));
    }
    if d.l_threshold != 0 {
        s.push_str(&format!(" y={}", d.l_threshold));
    }
    if d.forward == Forward::Tunnel && d.tunnel.kind != TunnelType::Ipip {
        s.push_str(&format!(" tun-type={}", d.tunnel.kind.name()));
        if d.tunnel.kind == TunnelType::Gue {
            s.push_str(&format!(" tun-port={}", d.tunnel.port));
        }
        s.push(' ');
        s.push_str(&d.tunnel.csum.option()[2..]);
    }
    s
}

/// The canonical `reals` text for these real servers, in the given order.
pub fn format(dests: &[Dest]) -> String {
    dests.iter().map(format_dest).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rha_ipvs::save_format::{self, SystemResolver};
    use rha_ipvs::{Family, Service, ServiceSpec};
    use std::collections::HashMap;

    /// Fixed names, so tests do not depend on the machine's /etc/hosts or /etc/services.
    struct Names;

    impl Resolver for Names {
        fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
            HashMap::from([("compute-0-0.local", Ipv4Addr::new(203, 0, 113, 254))]).get(name).copied()
        }
        fn service_port(&self, name: &str, p: Protocol) -> Option<u16> {
            match (name, p) {
                ("http", Protocol::Tcp | Protocol::Udp | Protocol::Sctp) => Some(80),
                ("domain", _) => Some(53),
                _ => None,
            }
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tcp80() -> ServiceKey {
        ServiceKey::tcp(ip("198.51.100.10"), 80)
    }

    fn p(text: &str) -> Vec<Dest> {
        parse(text, &tcp80(), &Names).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn e(text: &str) -> RealsError {
        parse(text, &tcp80(), &Names).expect_err(text)
    }

    #[test]
    fn the_issue_example() {
        let d = p("10.0.0.1:80 masq 3; 10.0.0.2:80 gate 1");
        assert_eq!(d[0], Dest::new(ip("10.0.0.1"), 80).with_forward(Forward::Masq).with_weight(3));
        assert_eq!(d[1], Dest::new(ip("10.0.0.2"), 80).with_forward(Forward::DirectRoute).with_weight(1));
        assert_eq!(format(&d), "10.0.0.1:80 masq 3; 10.0.0.2:80 gate 1");
    }

    /// Found by the fault matrix: a multi-byte character after `-` was sliced at a byte.
    #[test]
    fn non_ascii_option_is_an_error_not_a_panic() {
        for text in ["203.0.113.2:80 -é", "203.0.113.2:80 -wé", "203.0.113.2:80 -éw3"] {
            let _ = e(text);
        }
    }

    #[test]
    fn every_spelling_of_the_same_real() {
        let want = Dest {
            u_threshold: 100,
            l_threshold: 10,
            ..Dest::new(ip("203.0.113.2"), 8080).with_forward(Forward::Masq).with_weight(3)
        };
        for text in [
            "203.0.113.2:8080 masq 3 x=100 y=10",
            "203.0.113.2:8080 -m -w 3 -x 100 -y 10",
            "-r 203.0.113.2:8080 -m -w 3 -x 100 -y 10",
            "--real-server 203.0.113.2:8080 --masquerading --weight 3 --u-threshold 100 --l-threshold 10",
            "real=203.0.113.2:8080 masq 3 x=100 y=10",
            "203.0.113.2:8080 nat weight=3 -x100 -y10",
            "203.0.113.2:8080 -m -w3 --u-threshold=100 y=10",
            "  203.0.113.2:8080\tmasq\t3  x=100   y=10 ",
        ] {
            assert_eq!(p(text), vec![want.clone()], "{text}");
        }
    }

    #[test]
    fn defaults_are_ipvsadms() {
        // Direct routing, weight 1, the service's port.
        assert_eq!(p("203.0.113.5"), vec![Dest::new(ip("203.0.113.5"), 80)]);
        assert_eq!(p("203.0.113.5 masq")[0].port, 80);
        assert_eq!(p("203.0.113.5 0")[0].weight, 0);
        assert_eq!(p("203.0.113.5 65535")[0].weight, 65535);
    }

    #[test]
    fn names_resolve_like_ipvsadm() {
        let d = p("compute-0-0.local:http masq 3");
        assert_eq!(d[0].addr, ip("203.0.113.254"));
        assert_eq!(d[0].port, 80);
        let err = e("nosuchhost.invalid:80 masq");
        assert!(err.node_local, "{err}");
        assert!(err.message.contains("does not resolve"), "{err}");
        let err = e("203.0.113.2:nosuchport masq");
        assert!(err.node_local && err.message.contains("/etc/services"), "{err}");
    }

    #[test]
    fn ipv6_forms() {
        let key = ServiceKey::tcp(ip("2001:db8::10"), 443);
        let d =
            parse("[2001:db8::2]:8443 masq 5; 2001:db8::3 gate; [2001:db8::4] -g 2", &key, &Names).unwrap();
        assert_eq!(d[0], Dest::new(ip("2001:db8::2"), 8443).with_forward(Forward::Masq).with_weight(5));
        assert_eq!(d[1], Dest::new(ip("2001:db8::3"), 443));
        assert_eq!(d[2].port, 443);
        assert_eq!(format(&d[..1]), "[2001:db8::2]:8443 masq 5");
        let err = parse("2001:db8::2:80:x masq", &key, &Names).unwrap_err();
        assert!(err.message.contains("[ADDRESS]:PORT"), "{err}");
        // Another family only through a tunnel.
        assert!(parse("203.0.113.2 masq", &key, &Names).unwrap_err().message.contains("family"));
        assert!(parse("203.0.113.2 ipip", &key, &Names).is_ok());
    }

    #[test]
    fn tunnels() {
        let d = p("203.0.113.2 ipip tun-type=gue tun-port=6080 tun-csum");
        assert_eq!(d[0].tunnel, Tunnel { kind: TunnelType::Gue, port: 6080, csum: TunnelCsum::Csum });
        assert_eq!(format(&d), "203.0.113.2:80 ipip 1 tun-type=gue tun-port=6080 tun-csum");
        assert_eq!(p("203.0.113.2 -i --tun-type gue --tun-port 6080 --tun-csum"), d);
        let d = p("203.0.113.2 ipip --tun-type gre");
        assert_eq!(format(&d), "203.0.113.2:80 ipip 1 tun-type=gre tun-nocsum");
        assert_eq!(p(&format(&d)), d);
        assert!(e("203.0.113.2 masq tun-type=gue tun-port=1").message.contains("ipip"));
        assert!(e("203.0.113.2 ipip tun-type=gue").message.contains("tun-port"));
        assert!(e("203.0.113.2 ipip tun-port=5").message.contains("ipip tunnel takes no"));
        assert!(e("203.0.113.2 ipip tun-type=gre tun-remcsum").message.contains("remcsum"));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("203.0.113.2 masq 65536", "out of range"),
            ("203.0.113.2 masq -w -1", "not a number"),
            ("203.0.113.2 masq 3 4", "more than one weight"),
            ("203.0.113.2 masq gate", "more than one forwarding method"),
            ("203.0.113.2 masq x=5 y=10", "above the upper"),
            ("203.0.113.2 masq x=2147483648", "out of range"),
            ("203.0.113.2 masq -w", "needs a value"),
            ("203.0.113.2 masq weight=", "needs a value"),
            ("203.0.113.2 masq=1", "takes no value"),
            ("203.0.113.2 fast", "unknown option"),
            ("203.0.113.2 masq 1 \"GET /\" \"ok\"", "ldirectord"),
            ("203.0.113.2:8080 gate", "cannot change the port"),
            ("203.0.113.2:8080 ipip", "cannot change the port"),
            ("203.0.113.2:0 masq", "port 0"),
            ("203.0.113.2:65536 masq", "out of range"),
            ("203.0.113.300 masq", "not an IP address"),
            ("[2001:db8::1 masq", "missing ']'"),
            ("[203.0.113.2]:80", "not an IPv6"),
            ("203.0.113.2:80; 203.0.113.2 masq", "already real server #1"),
            ("-r", "no address"),
            ("bad/host", "not an IP address"),
        ] {
            let err = e(text);
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(!err.node_local, "{text}");
        }
        assert_eq!(e("203.0.113.1 masq; 203.0.113.2 fast").entry, 2);
    }

    #[test]
    fn gate_with_the_service_port_is_fine() {
        assert_eq!(p("203.0.113.2:80 gate 3")[0].port, 80);
        // fwmark services keep whatever port is written.
        let key = ServiceKey::Fwmark { mark: 5, family: Family::Inet };
        let d = parse("203.0.113.2:8080 gate; 203.0.113.3 masq", &key, &Names).unwrap();
        assert_eq!((d[0].port, d[1].port), (8080, 0));
    }

    /// The syntax maps 1:1 onto `ipvsadm-save` `-a` lines: reals text → save text (written as
    /// `ipvsadm -S -n` would print it) → parsed back → the same reals text.
    #[test]
    fn round_trip_with_ipvsadm_save_lines() {
        let texts = [
            "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1",
            "203.0.113.2:80 gate 3; 203.0.113.3:80 gate 1",
            "203.0.113.2:80 ipip 3; 203.0.113.3:80 ipip 1 tun-type=gue tun-port=6080 tun-remcsum",
            "203.0.113.2:8080 masq 0; 203.0.113.9:80 masq 65535",
        ];
        for text in texts {
            let key = tcp80();
            let dests = p(text);
            let spec = ServiceSpec { service: Service::new(key).with_scheduler("wrr"), dests: dests.clone() };
            let save = save_format::write(&[spec]);
            let table = save_format::parse_table(&save).unwrap();
            assert_eq!(table.len(), 1);
            let mut back = table[0].dests.clone();
            back.sort_by_key(|d| d.key());
            let mut sorted = dests.clone();
            sorted.sort_by_key(|d| d.key());
            assert_eq!(back, sorted, "{save}");
            assert_eq!(format(&back), format(&sorted));
            // Each -a line's tail is itself a valid entry.
            for (line, d) in save.lines().skip(1).zip(&back) {
                let tail = line.split_once(" -r ").unwrap().1;
                assert_eq!(p(&format!("-r {tail}")), vec![d.clone()], "{line}");
            }
        }
    }

    /// The S3 NAT rules as the source wrote them (names) and as `ipvsadm -S -n` prints them.
    #[test]
    fn s3_nat_reals() {
        let named = "198.51.100.252:http masq 3; compute-0-0.local:http -m -w 3; 203.0.113.247:http -m -w 1";
        let numeric = p(named);
        assert_eq!(
            format(&numeric),
            "198.51.100.252:80 masq 3; 203.0.113.254:80 masq 3; 203.0.113.247:80 masq 1"
        );
        let _ = SystemResolver::default();
    }

    /// Odd input never panics and always gives a result.
    #[test]
    fn arbitrary_text_never_panics() {
        let pieces = [
            "",
            " ",
            ";",
            "\n",
            "[",
            "]",
            ":",
            "::",
            "-",
            "--",
            "=",
            "x=",
            "-w",
            "masq",
            "gate",
            "ipip",
            "0",
            "65535",
            "99999999999999999999",
            "203.0.113.2",
            "2001:db8::1",
            "[2001:db8::1]:",
            "é",
            "\u{0}",
            "tun-type=gue",
            "tun-port=",
            "real=",
            "-r",
            "http",
            "y=1",
            "x=0",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20000 {
            let mut s = String::new();
            for _ in 0..(seed % 7) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                if seed & 8 != 0 {
                    s.push(' ');
                }
            }
            let _ = parse(&s, &tcp80(), &Names);
        }
    }
}
