//! Parser for `ipvsadm-save` / `ipvsadm -R` rules text.
//!
//! Each line is one ipvsadm command, parsed with ipvsadm 1.31's rules:
//! popt-style short options (clustered `-At`, attached `-w3`), long options
//! (`--weight 3`, `--weight=3`), an optional argument for `-p`, the command
//! first, ipvsadm's table of which options each command allows, its
//! defaults (scheduler wlc, weight 1, direct routing, persistence 360 s) and
//! its address rules (`host[:port]`, `[v6]:port`, bare IPv6, host names to
//! IPv4, port names per protocol from `/etc/services`). Errors name the line
//! and the offending token.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::names::Resolver;
use crate::addr::inet_aton;
use crate::change::Change;
use crate::types::*;

/// Upper bound ipvsadm puts on timeouts (31 days).
const MAX_TIMEOUT: u32 = 86400 * 31;

/// One command of a rules file, with its line number (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Line the command came from.
    pub line: usize,
    /// What it does.
    pub change: Change,
}

/// A rules file error: the line, the token at fault (if any) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", token.as_ref().map(|t| format!("`{t}`: ")).unwrap_or_default())]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// The token at fault, as written.
    pub token: Option<String>,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    No,
    Required,
    Optional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Opt {
    // Commands.
    AddService,
    EditService,
    DelService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DelServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    // Options.
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Ipv6,
    Scheduler,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThresh,
    LThresh,
    Numeric,
    Connection,
    McastIfn,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
}

/// ipvsadm 1.31's option table: long name, short letter, argument, meaning.
const OPTIONS: &[(&str, Option<char>, Arg, Opt)] = &[
    ("add-service", Some('A'), Arg::No, Opt::AddService),
    ("edit-service", Some('E'), Arg::No, Opt::EditService),
    ("delete-service", Some('D'), Arg::No, Opt::DelService),
    ("clear", Some('C'), Arg::No, Opt::Clear),
    ("list", Some('L'), Arg::No, Opt::List),
    ("list", Some('l'), Arg::No, Opt::List),
    ("zero", Some('Z'), Arg::No, Opt::Zero),
    ("add-server", Some('a'), Arg::No, Opt::AddServer),
    ("edit-server", Some('e'), Arg::No, Opt::EditServer),
    ("delete-server", Some('d'), Arg::No, Opt::DelServer),
    ("set", None, Arg::No, Opt::Set),
    ("help", Some('h'), Arg::No, Opt::Help),
    ("version", Some('v'), Arg::No, Opt::Version),
    ("restore", Some('R'), Arg::No, Opt::Restore),
    ("save", Some('S'), Arg::No, Opt::Save),
    ("start-daemon", None, Arg::Required, Opt::StartDaemon),
    ("stop-daemon", None, Arg::Required, Opt::StopDaemon),
    ("tcp-service", Some('t'), Arg::Required, Opt::Tcp),
    ("udp-service", Some('u'), Arg::Required, Opt::Udp),
    ("sctp-service", None, Arg::Required, Opt::Sctp),
    ("fwmark-service", Some('f'), Arg::Required, Opt::Fwmark),
    ("ipv6", Some('6'), Arg::No, Opt::Ipv6),
    ("scheduler", Some('s'), Arg::Required, Opt::Scheduler),
    ("persistent", Some('p'), Arg::Optional, Opt::Persistent),
    ("netmask", Some('M'), Arg::Required, Opt::Netmask),
    ("real-server", Some('r'), Arg::Required, Opt::Real),
    ("masquerading", Some('m'), Arg::No, Opt::Masq),
    ("ipip", Some('i'), Arg::No, Opt::Ipip),
    ("gatewaying", Some('g'), Arg::No, Opt::Gate),
    ("weight", Some('w'), Arg::Required, Opt::Weight),
    ("u-threshold", Some('x'), Arg::Required, Opt::UThresh),
    ("l-threshold", Some('y'), Arg::Required, Opt::LThresh),
    ("numeric", Some('n'), Arg::No, Opt::Numeric),
    ("connection", Some('c'), Arg::No, Opt::Connection),
    ("mcast-interface", None, Arg::Required, Opt::McastIfn),
    ("syncid", None, Arg::Required, Opt::SyncId),
    ("timeout", None, Arg::No, Opt::Timeout),
    ("daemon", None, Arg::No, Opt::Daemon),
    ("stats", None, Arg::No, Opt::Stats),
    ("rate", None, Arg::No, Opt::Rate),
    ("thresholds", None, Arg::No, Opt::Thresholds),
    ("persistent-conn", None, Arg::No, Opt::PersistentConn),
    ("nosort", None, Arg::No, Opt::NoSort),
    ("sort", None, Arg::No, Opt::Sort),
    ("exact", Some('X'), Arg::No, Opt::Exact),
    ("ops", Some('o'), Arg::No, Opt::Ops),
    ("pe", None, Arg::Required, Opt::Pe),
    ("sched-flags", Some('b'), Arg::Required, Opt::SchedFlags),
    ("mcast-group", None, Arg::Required, Opt::McastGroup),
    ("mcast-port", None, Arg::Required, Opt::McastPort),
    ("mcast-ttl", None, Arg::Required, Opt::McastTtl),
    ("sync-maxlen", None, Arg::Required, Opt::SyncMaxlen),
    ("tun-info", None, Arg::No, Opt::TunInfo),
    ("tun-type", None, Arg::Required, Opt::TunType),
    ("tun-port", None, Arg::Required, Opt::TunPort),
    ("tun-nocsum", None, Arg::No, Opt::TunNoCsum),
    ("tun-csum", None, Arg::No, Opt::TunCsum),
    ("tun-remcsum", None, Arg::No, Opt::TunRemCsum),
];

impl Opt {
    fn is_command(self) -> bool {
        matches!(
            self,
            Opt::AddService
                | Opt::EditService
                | Opt::DelService
                | Opt::Clear
                | Opt::List
                | Opt::Zero
                | Opt::AddServer
                | Opt::EditServer
                | Opt::DelServer
                | Opt::Set
                | Opt::Help
                | Opt::Version
                | Opt::Restore
                | Opt::Save
                | Opt::StartDaemon
                | Opt::StopDaemon
        )
    }

    /// ipvsadm's name for the command (`cmdnames[]`).
    fn command_name(self) -> &'static str {
        match self {
            Opt::AddService => "add-service",
            Opt::EditService => "edit-service",
            Opt::DelService => "delete-service",
            Opt::Clear => "flush",
            Opt::List => "list",
            Opt::Zero => "zero",
            Opt::AddServer => "add-server",
            Opt::EditServer => "edit-server",
            Opt::DelServer => "delete-server",
            Opt::Set => "set",
            Opt::StartDaemon => "start-daemon",
            Opt::StopDaemon => "stop-daemon",
            Opt::Restore => "restore",
            Opt::Save => "save",
            Opt::Help => "help",
            Opt::Version => "version",
            _ => "?",
        }
    }

    /// The option class ipvsadm tracks for duplicates and legality
    /// (`optnames[]`); `None` for options without one (`-6`, `--sort`).
    fn class(self) -> Option<&'static str> {
        Some(match self {
            Opt::Tcp | Opt::Udp | Opt::Sctp | Opt::Fwmark => "service-address",
            Opt::Scheduler => "scheduler",
            Opt::Persistent => "persistent",
            Opt::Netmask => "netmask",
            Opt::Real => "real-server",
            Opt::Masq | Opt::Ipip | Opt::Gate => "forwarding-method",
            Opt::Weight => "weight",
            Opt::UThresh => "u-threshold",
            Opt::LThresh => "l-threshold",
            Opt::Numeric => "numeric",
            Opt::Connection => "connection",
            Opt::McastIfn => "mcast-interface",
            Opt::SyncId => "syncid",
            Opt::Timeout => "timeout",
            Opt::Daemon => "daemon",
            Opt::Stats => "stats",
            Opt::Rate => "rate",
            Opt::Thresholds => "thresholds",
            Opt::PersistentConn => "persistent-conn",
            Opt::NoSort => "nosort",
            Opt::Exact => "exact",
            Opt::Ops => "ops",
            Opt::Pe => "pe",
            Opt::SchedFlags => "sched-flags",
            Opt::McastGroup => "mcast-group",
            Opt::McastPort => "mcast-port",
            Opt::McastTtl => "mcast-ttl",
            Opt::SyncMaxlen => "sync-maxlen",
            Opt::TunInfo => "tun-info",
            Opt::TunType => "tun-type",
            Opt::TunPort => "tun-port",
            Opt::TunNoCsum => "tun-nocsum",
            Opt::TunCsum => "tun-csum",
            Opt::TunRemCsum => "tun-remcsum",
            _ => return None,
        })
    }
}

/// Option classes each table command requires and allows (ipvsadm's
/// `commands_v_options`, restricted to commands that belong in rules files).
fn legality(cmd: Opt) -> (&'static [&'static str], &'static [&'static str]) {
    match cmd {
        Opt::AddService | Opt::EditService => {
            (&["service-address"], &["scheduler", "persistent", "netmask", "ops", "pe", "sched-flags"])
        }
        Opt::DelService => (&["service-address"], &[]),
        Opt::AddServer | Opt::EditServer => (
            &["service-address", "real-server"],
            &[
                "forwarding-method",
                "weight",
                "u-threshold",
                "l-threshold",
                "tun-type",
                "tun-port",
                "tun-nocsum",
                "tun-csum",
                "tun-remcsum",
            ],
        ),
        Opt::DelServer => (&["service-address", "real-server"], &[]),
        Opt::StartDaemon => {
            (&[], &["mcast-interface", "syncid", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen"])
        }
        Opt::StopDaemon => (&[], &["syncid"]),
        Opt::Zero => (&[], &["service-address"]),
        _ => (&[], &[]),
    }
}

/// One parsed option occurrence.
struct Occ {
    opt: Opt,
    arg: Option<String>,
    token: String,
}

/// Splits a line into words: blanks separate, single or double quotes group.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn lookup_long(name: &str) -> Option<(Arg, Opt)> {
    OPTIONS.iter().find(|(l, ..)| *l == name).map(|(_, _, a, o)| (*a, *o))
}

fn lookup_short(c: char) -> Option<(Arg, Opt)> {
    OPTIONS.iter().find(|(_, s, ..)| *s == Some(c)).map(|(_, _, a, o)| (*a, *o))
}

/// popt-style scan of one line's words into options and plain arguments.
fn scan(
    words: &[String],
    err: &dyn Fn(Option<&str>, String) -> ParseError,
) -> Result<(Vec<Occ>, Vec<String>), ParseError> {
    let mut occs = Vec::new();
    let mut plain = Vec::new();
    let mut i = 0;
    let mut only_plain = false;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if only_plain || w == "-" || !w.starts_with('-') {
            plain.push(w.clone());
            continue;
        }
        if w == "--" {
            only_plain = true;
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (arg, opt) = lookup_long(name).ok_or_else(|| err(Some(w), "unknown option".into()))?;
            let value = match arg {
                Arg::No => {
                    if inline.is_some() {
                        return Err(err(Some(w), "this option takes no value".into()));
                    }
                    None
                }
                Arg::Required => match inline {
                    Some(v) => Some(v),
                    None if i < words.len() => {
                        i += 1;
                        Some(words[i - 1].clone())
                    }
                    None => return Err(err(Some(w), "missing argument".into())),
                },
                Arg::Optional => match inline {
                    Some(v) => Some(v),
                    None if i < words.len() && !words[i].starts_with('-') => {
                        i += 1;
                        Some(words[i - 1].clone())
                    }
                    None => None,
                },
            };
            occs.push(Occ { opt, arg: value, token: w.clone() });
            continue;
        }
        // A cluster of short options: -At, -w3, -p300.
        let chars: Vec<char> = w[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            k += 1;
            let (arg, opt) = lookup_short(c).ok_or_else(|| err(Some(w), format!("unknown option -{c}")))?;
            let rest: String = chars[k..].iter().collect();
            let value = match arg {
                Arg::No => None,
                Arg::Required => {
                    if !rest.is_empty() {
                        k = chars.len();
                        Some(rest)
                    } else if i < words.len() {
                        i += 1;
                        Some(words[i - 1].clone())
                    } else {
                        return Err(err(Some(w), format!("-{c} needs an argument")));
                    }
                }
                Arg::Optional => {
                    if !rest.is_empty() {
                        k = chars.len();
                        Some(rest)
                    } else if i < words.len() && !words[i].starts_with('-') {
                        i += 1;
                        Some(words[i - 1].clone())
                    } else {
                        None
                    }
                }
            };
            occs.push(Occ { opt, arg: value, token: w.clone() });
        }
    }
    Ok((occs, plain))
}

/// `strtol`-style decimal number within `[min, max]` (ipvsadm's
/// `string_to_number`): optional sign, digits, nothing else.
fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    (min..=max).contains(&v).then_some(v)
}

/// `atoi`: leading blanks, optional sign, as many digits as there are.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).take(18).collect();
    let v = digits.parse::<i64>().unwrap_or(0);
    if neg { -v } else { v }
}

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port`, or a bare IPv6
/// address. Returns the address and the port if one was given.
fn parse_addr_port(buf: &str, proto: Protocol, r: &dyn Resolver) -> Option<(IpAddr, Option<u16>)> {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        // Includes the empty string; ipvsadm refuses a bare number.
        return None;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let close = rest.find(']')?;
        let after = &rest[close + 1..];
        port = Some(after.strip_prefix(':')?);
        host = &rest[..close];
    }
    let addr = if let Ok(v6) = host.parse::<Ipv6Addr>() {
        IpAddr::V6(v6)
    } else {
        // Like ipvsadm, a non-IPv6 host looks for its port after the last
        // ':' of what is left (so "[1.2.3.4]:80" loses its port there too).
        port = None;
        if let Some((h, p)) = host.rsplit_once(':') {
            host = h;
            port = Some(p);
        }
        IpAddr::V4(inet_aton(host).or_else(|| r.host_v4(host))?)
    };
    let port = match port {
        None => None,
        Some(p) => Some(match number(p, 0, 65535) {
            Some(n) => n as u16,
            None => r.service_port(p, proto)?,
        }),
    };
    Some((addr, port))
}

/// Parses a rules text with the system resolver (see [`parse_with`]).
pub fn parse(text: &str) -> Result<Vec<Command>, ParseError> {
    parse_with(text, &super::names::SystemResolver::default())
}

/// Parses a rules text (what `ipvsadm-save` prints, or any sequence of
/// ipvsadm commands as `ipvsadm -R` reads them). Blank lines and lines
/// starting with `#` are skipped. Host and port names go through `r`.
pub fn parse_with(text: &str, r: &dyn Resolver) -> Result<Vec<Command>, ParseError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let err = |token: Option<&str>, message: String| ParseError {
            line,
            token: token.map(str::to_string),
            message,
        };
        let words = split_words(trimmed).map_err(|m| err(None, m))?;
        // Tolerate a leading program name, as in a pasted `ipvsadm -A ...`.
        let words: &[String] = match words.first().map(String::as_str) {
            Some("ipvsadm") | Some("/sbin/ipvsadm") | Some("/usr/sbin/ipvsadm") => &words[1..],
            _ => &words,
        };
        if words.is_empty() {
            continue;
        }
        let (occs, plain) = scan(words, &err)?;
        out.push(Command { line, change: build(line, occs, plain, r)? });
    }
    Ok(out)
}

/// Turns one line's options into a [`Change`], applying ipvsadm's checks.
fn build(line: usize, occs: Vec<Occ>, plain: Vec<String>, r: &dyn Resolver) -> Result<Change, ParseError> {
    let err =
        |token: Option<&str>, message: String| ParseError { line, token: token.map(str::to_string), message };
    let Some(first) = occs.first() else {
        return Err(err(plain.first().map(String::as_str), "no command on this line".into()));
    };
    if !first.opt.is_command() {
        return Err(err(
            Some(&first.token),
            "a line must start with a command (-A, -E, -D, -a, -e, -d, -C, -Z, --set, \
             --start-daemon, --stop-daemon)"
                .into(),
        ));
    }
    let cmd = first.opt;
    let cmd_token = first.token.clone();
    if matches!(cmd, Opt::List | Opt::Save | Opt::Restore | Opt::Help | Opt::Version) {
        return Err(err(
            Some(&cmd_token),
            format!("the '{}' command does not belong in a rules file", cmd.command_name()),
        ));
    }

    // Duplicates and legality, as ipvsadm's set_option / generic_opt_check.
    let mut seen: HashSet<&'static str> = HashSet::new();
    let (required, allowed) = legality(cmd);
    for o in &occs[1..] {
        if o.opt.is_command() {
            return Err(err(Some(&o.token), "only one command per line".into()));
        }
        if let Some(class) = o.opt.class() {
            if !seen.insert(class) {
                return Err(err(Some(&o.token), format!("multiple '{class}' options specified")));
            }
            if !allowed.contains(&class) && !required.contains(&class) {
                return Err(err(
                    Some(&o.token),
                    format!("Illegal '{class}' option with the '{}' command", cmd.command_name()),
                ));
            }
        }
    }
    for class in required {
        if !seen.contains(class) {
            return Err(err(
                Some(&cmd_token),
                format!("You need to supply the '{class}' option for the '{}' command", cmd.command_name()),
            ));
        }
    }
    if cmd != Opt::Set {
        if let Some(p) = plain.first() {
            return Err(err(Some(p), "unexpected argument".into()));
        }
    }
    let get = |opt: Opt| occs.iter().find(|o| o.opt == opt);
    let has = |opt: Opt| get(opt).is_some();

    match cmd {
        Opt::Clear => return Ok(Change::Flush),
        Opt::Set => {
            if plain.len() != 3 {
                return Err(err(Some(&cmd_token), "--set option requires 3 timeout values".into()));
            }
            let mut v = [0u32; 3];
            for (slot, p) in v.iter_mut().zip(&plain) {
                *slot = number(p, 0, i64::from(MAX_TIMEOUT))
                    .ok_or_else(|| err(Some(p), "invalid timeout value".into()))?
                    as u32;
            }
            return Ok(Change::SetTimeouts(Timeouts { tcp: v[0], tcp_fin: v[1], udp: v[2] }));
        }
        Opt::StartDaemon | Opt::StopDaemon => {
            let o = get(cmd).expect("command occurrence");
            let state = match o.arg.as_deref() {
                Some("master") => DaemonState::Master,
                Some("backup") => DaemonState::Backup,
                _ => {
                    return Err(err(
                        o.arg.as_deref().or(Some(&o.token)),
                        "daemon state must be master or backup".into(),
                    ));
                }
            };
            if cmd == Opt::StopDaemon {
                return Ok(Change::StopDaemon(state));
            }
            return Ok(Change::StartDaemon(build_daemon(state, &get, &err)?));
        }
        _ => {}
    }

    // Everything else names a service (optional only for -Z).
    let Some(svc_occ) = occs.iter().find(|o| matches!(o.opt, Opt::Tcp | Opt::Udp | Opt::Sctp | Opt::Fwmark))
    else {
        return Ok(Change::Zero(None));
    };
    let svc_text = svc_occ.arg.as_deref().unwrap_or("");
    let key = match svc_occ.opt {
        Opt::Fwmark => {
            // ipvsadm prints marks with %d, so its own save output has
            // negative numbers for marks of 2^31 and above (which it then
            // refuses to read back); accept those as the same 32 bits.
            let mark = number(svc_text, i64::from(i32::MIN), i64::from(u32::MAX))
                .filter(|m| *m != 0)
                .ok_or_else(|| err(Some(svc_text), "invalid fwmark value specified".into()))?
                as u32;
            let family = if has(Opt::Ipv6) { Family::Inet6 } else { Family::Inet };
            ServiceKey::Fwmark { mark, family }
        }
        opt => {
            if let Some(o) = get(Opt::Ipv6) {
                return Err(err(Some(&o.token), "-6 is only for fwmark services (-f)".into()));
            }
            let protocol = match opt {
                Opt::Tcp => Protocol::Tcp,
                Opt::Udp => Protocol::Udp,
                _ => Protocol::Sctp,
            };
            let (addr, port) = parse_addr_port(svc_text, protocol, r).ok_or_else(|| {
                err(Some(svc_text), "illegal virtual server address[:port] specified".into())
            })?;
            ServiceKey::Addr { protocol, addr, port: port.unwrap_or(0) }
        }
    };

    match cmd {
        Opt::Zero => Ok(Change::Zero(Some(key))),
        Opt::DelService => Ok(Change::DelService(key)),
        Opt::AddService | Opt::EditService => {
            let svc = build_service(key, &get, &err, r)?;
            Ok(if cmd == Opt::AddService { Change::AddService(svc) } else { Change::EditService(svc) })
        }
        Opt::AddServer | Opt::EditServer | Opt::DelServer => {
            let real = get(Opt::Real).expect("required option checked");
            let text = real.arg.as_deref().unwrap_or("");
            // A fwmark service has no protocol; ipvsadm looks names up as tcp.
            let proto = match key {
                ServiceKey::Addr { protocol, .. } => protocol,
                ServiceKey::Fwmark { .. } => Protocol::Tcp,
            };
            let (addr, port) = parse_addr_port(text, proto, r)
                .ok_or_else(|| err(Some(text), "illegal real server address[:port] specified".into()))?;
            // Without a port the real takes the service's.
            let mut dest = Dest::new(addr, port.unwrap_or(key.port()));
            if cmd == Opt::DelServer {
                return Ok(Change::DelDest(key, dest.key()));
            }
            fill_dest(&mut dest, &key, &get, &has, &err)?;
            Ok(if cmd == Opt::AddServer { Change::AddDest(key, dest) } else { Change::EditDest(key, dest) })
        }
        _ => Err(err(Some(&cmd_token), "unsupported command".into())),
    }
}

type Err<'a> = dyn Fn(Option<&str>, String) -> ParseError + 'a;
type Get<'a, 'b> = dyn Fn(Opt) -> Option<&'b Occ> + 'a;

/// A scheduler or persistence engine name as the kernel's modules are named (at most
/// `IP_VS_SCHEDNAME_MAXLEN` - 1 bytes). Anything else (a quoted name with a space, say) no kernel
/// knows, and it could not be written back as one ipvsadm-save word.
fn module_name(s: &str) -> bool {
    (1..=15).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn build_service(
    key: ServiceKey,
    get: &Get<'_, '_>,
    err: &Err<'_>,
    r: &dyn Resolver,
) -> Result<Service, ParseError> {
    let mut svc = Service::new(key);
    if let Some(o) = get(Opt::Scheduler) {
        let s = o.arg.as_deref().unwrap_or("");
        if !module_name(s) {
            return Err(err(
                Some(s),
                "scheduler name must be 1 to 15 letters, digits, '_', '-' or '.'".into(),
            ));
        }
        svc.scheduler = s.to_string();
    }
    if let Some(o) = get(Opt::Persistent) {
        svc.flags.set(ServiceFlags::PERSISTENT, true);
        svc.timeout = match o.arg.as_deref() {
            None => DEFAULT_PERSISTENCE_TIMEOUT,
            Some(t) => number(t, 1, i64::from(MAX_TIMEOUT))
                .ok_or_else(|| err(Some(t), "invalid timeout value specified".into()))?
                as u32,
        };
    }
    if let Some(o) = get(Opt::Netmask) {
        let m = o.arg.as_deref().unwrap_or("");
        svc.netmask =
            match key.family() {
                Family::Inet6 => {
                    let n = atoi(m);
                    if !(1..=128).contains(&n) {
                        return Err(err(Some(m), "illegal ipv6 netmask specified".into()));
                    }
                    Netmask::V6(n as u8)
                }
                // Like ipvsadm's parse_netmask: a dotted quad, else a host name.
                Family::Inet => Netmask::V4(inet_aton(m).or_else(|| r.host_v4(m)).ok_or_else(|| {
                    err(Some(m), "illegal virtual server persistent mask specified".into())
                })?),
            };
    }
    if let Some(o) = get(Opt::Pe) {
        let pe = o.arg.as_deref().unwrap_or("");
        if !module_name(pe) {
            return Err(err(
                Some(pe),
                "persistence engine name must be 1 to 15 letters, digits, '_', '-' or '.'".into(),
            ));
        }
        svc.pe_name = Some(pe.to_string());
    }
    if let Some(o) = get(Opt::Ops) {
        let udp = matches!(key, ServiceKey::Addr { protocol: Protocol::Udp, .. });
        if !key.is_fwmark() && !udp {
            return Err(err(Some(&o.token), "One-Packet Scheduling is only for UDP virtual services".into()));
        }
        svc.flags.set(ServiceFlags::ONEPACKET, true);
    }
    if let Some(o) = get(Opt::SchedFlags) {
        let text = o.arg.as_deref().unwrap_or("");
        svc.flags.0 |= parse_sched_flags(&svc.scheduler, text).map_err(|m| err(Some(text), m))?;
    }
    if !key.is_fwmark() && key.port() == 0 && !svc.is_persistent() {
        return Err(err(None, "Zero port specified for non-persistent service".into()));
    }
    Ok(svc)
}

/// `-b` flags: comma-separated; the sh-/mh- ones need that scheduler.
fn parse_sched_flags(sched: &str, text: &str) -> Result<u32, String> {
    let mut bits = 0;
    let mut any = false;
    for flag in text.split(',').filter(|f| !f.is_empty()) {
        any = true;
        bits |= match flag {
            "flag-1" => ServiceFlags::SCHED1,
            "flag-2" => ServiceFlags::SCHED2,
            "flag-3" => ServiceFlags::SCHED3,
            "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port" => {
                if sched != &flag[..2] {
                    return Err(format!("incompatible scheduler flag `{flag}'"));
                }
                if flag.ends_with("fallback") { ServiceFlags::SCHED1 } else { ServiceFlags::SCHED2 }
            }
            _ => return Err(format!("invalid scheduler flag `{flag}'")),
        };
    }
    if !any {
        return Err("no scheduler flag given".into());
    }
    Ok(bits)
}

fn fill_dest(
    dest: &mut Dest,
    key: &ServiceKey,
    get: &Get<'_, '_>,
    has: &dyn Fn(Opt) -> bool,
    err: &Err<'_>,
) -> Result<(), ParseError> {
    if has(Opt::Masq) {
        dest.forward = Forward::Masq;
    } else if has(Opt::Ipip) {
        dest.forward = Forward::Tunnel;
    } else if has(Opt::Gate) {
        dest.forward = Forward::DirectRoute;
    }
    if let Some(o) = get(Opt::Weight) {
        let t = o.arg.as_deref().unwrap_or("");
        dest.weight =
            number(t, 0, 65535).ok_or_else(|| err(Some(t), "illegal weight specified".into()))? as u32;
    }
    if let Some(o) = get(Opt::UThresh) {
        let t = o.arg.as_deref().unwrap_or("");
        dest.u_threshold = number(t, 0, i64::from(i32::MAX))
            .ok_or_else(|| err(Some(t), "illegal u_threshold specified".into()))?
            as u32;
    }
    if let Some(o) = get(Opt::LThresh) {
        let t = o.arg.as_deref().unwrap_or("");
        dest.l_threshold = number(t, 0, i64::from(i32::MAX))
            .ok_or_else(|| err(Some(t), "illegal l_threshold specified".into()))?
            as u32;
    }
    // Direct routing and tunnelling cannot change the port: ipvsadm forces
    // the service's port for port-based services.
    if !key.is_fwmark() && matches!(dest.forward, Forward::Tunnel | Forward::DirectRoute) {
        dest.port = key.port();
    }
    if Family::of(&dest.addr) != key.family() && dest.forward != Forward::Tunnel {
        return Err(err(
            get(Opt::Real).map(|o| o.token.as_str()),
            "Different address family is allowed only for tunneling servers".into(),
        ));
    }
    let tun_opts = [Opt::TunType, Opt::TunPort, Opt::TunNoCsum, Opt::TunCsum, Opt::TunRemCsum];
    if let Some(o) = tun_opts.iter().find_map(|t| get(*t)) {
        if dest.forward != Forward::Tunnel {
            return Err(err(Some(&o.token), "Tunnel options conflict with forward method".into()));
        }
    }
    if let Some(o) = get(Opt::TunType) {
        let t = o.arg.as_deref().unwrap_or("");
        dest.tunnel.kind = match t {
            "ipip" => TunnelType::Ipip,
            "gue" => TunnelType::Gue,
            "gre" => TunnelType::Gre,
            _ => return Err(err(Some(t), "illegal tunnel type specified".into())),
        };
    }
    if let Some(o) = get(Opt::TunPort) {
        let t = o.arg.as_deref().unwrap_or("");
        dest.tunnel.port =
            number(t, 1, 65535).ok_or_else(|| err(Some(t), "illegal tunnel port specified".into()))? as u16;
    }
    let csum: Vec<(&Occ, TunnelCsum)> = [
        (Opt::TunNoCsum, TunnelCsum::NoCsum),
        (Opt::TunCsum, TunnelCsum::Csum),
        (Opt::TunRemCsum, TunnelCsum::RemCsum),
    ]
    .iter()
    .filter_map(|(o, c)| get(*o).map(|occ| (occ, *c)))
    .collect();
    // ipvsadm's tunnel_types_v_options: ipip takes no options; gue needs a
    // port and at most one checksum option; gre takes at most one of
    // --tun-nocsum/--tun-csum.
    let kind = dest.tunnel.kind;
    let tname = kind.name();
    if kind == TunnelType::Ipip {
        if let Some(o) = tun_opts[1..].iter().find_map(|t| get(*t)) {
            let class = o.opt.class().unwrap_or("?");
            return Err(err(
                Some(&o.token),
                format!("Illegal '{class}' option with the '{tname}' tunnel type"),
            ));
        }
    }
    if kind == TunnelType::Gue && !has(Opt::TunPort) && dest.forward == Forward::Tunnel {
        return Err(err(
            get(Opt::TunType).map(|o| o.token.as_str()),
            format!("You need to supply the 'tun-port' option for the '{tname}' tunnel type"),
        ));
    }
    // ipvsadm refuses a port and remote checksum offload for GRE (the 6.1
    // kernel itself would accept the latter).
    if kind == TunnelType::Gre {
        if let Some(o) = get(Opt::TunPort).or_else(|| get(Opt::TunRemCsum)) {
            let class = o.opt.class().unwrap_or("?");
            return Err(err(
                Some(&o.token),
                format!("Illegal '{class}' option with the '{tname}' tunnel type"),
            ));
        }
    }
    if csum.len() > 1 {
        return Err(err(
            Some(&csum[1].0.token),
            format!(
                "The option '{}' conflicts with the '{}' option in the '{tname}' tunnel type",
                csum[1].0.opt.class().unwrap_or("?"),
                csum[0].0.opt.class().unwrap_or("?")
            ),
        ));
    }
    if let Some((_, c)) = csum.first() {
        dest.tunnel.csum = *c;
    }
    Ok(())
}

fn build_daemon(state: DaemonState, get: &Get<'_, '_>, err: &Err<'_>) -> Result<Daemon, ParseError> {
    // ipvsadm's default multicast interface.
    let mut d = Daemon::new(state, "eth0", 0);
    if let Some(o) = get(Opt::McastIfn) {
        let ifn = o.arg.as_deref().unwrap_or("");
        if ifn.is_empty() || ifn.len() > 15 {
            return Err(err(Some(ifn), "interface name must be 1 to 15 characters".into()));
        }
        d.mcast_ifn = ifn.to_string();
    }
    if let Some(o) = get(Opt::SyncId) {
        let t = o.arg.as_deref().unwrap_or("");
        d.sync_id = number(t, 0, 255).ok_or_else(|| err(Some(t), "illegal syncid specified".into()))? as u32;
    }
    if let Some(o) = get(Opt::SyncMaxlen) {
        let t = o.arg.as_deref().unwrap_or("");
        d.sync_maxlen = Some(
            number(t, 1, 65535 - 20 - 8)
                .ok_or_else(|| err(Some(t), "illegal sync-maxlen specified".into()))? as u16,
        );
    }
    if let Some(o) = get(Opt::McastGroup) {
        let t = o.arg.as_deref().unwrap_or("");
        let group = if t.contains(':') {
            t.parse::<Ipv6Addr>()
                .ok()
                .filter(|a| a.is_multicast())
                .map(IpAddr::V6)
                .ok_or_else(|| err(Some(t), "invalid IPv6 mcast-group".into()))?
        } else {
            t.parse::<Ipv4Addr>()
                .ok()
                .filter(|a| a.is_multicast())
                .map(IpAddr::V4)
                .ok_or_else(|| err(Some(t), "invalid IPv4 mcast-group".into()))?
        };
        d.mcast_group = Some(group);
    }
    if let Some(o) = get(Opt::McastPort) {
        let t = o.arg.as_deref().unwrap_or("");
        d.mcast_port =
            Some(number(t, 1, 65535).ok_or_else(|| err(Some(t), "illegal mcast-port specified".into()))?
                as u16);
    }
    if let Some(o) = get(Opt::McastTtl) {
        let t = o.arg.as_deref().unwrap_or("");
        d.mcast_ttl =
            Some(number(t, 1, 255).ok_or_else(|| err(Some(t), "illegal mcast-ttl specified".into()))? as u8);
    }
    Ok(d)
}
