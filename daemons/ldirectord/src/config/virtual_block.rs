//! A `virtual=`/`virtual6=` section: its directives, then the resolved [`Virtual`] with
//! every default and global applied.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rha_check::{CheckSpec, CheckType, Service, Target};
use rha_ipvs::{Dest, DestKey, Family, Forward, Netmask, Protocol, ServiceFlags, ServiceKey};

use crate::model::{Real, SourceLine, Virtual};

use super::defaults;
use super::globals::{At, CHECKCOUNT_DEPRECATED, GlobalDraft, Shared, apply_shared};
use super::names::Resolver;
use super::real::{FallbackLine, Host, RealLine, expand_range, parse_real, resolve_host, resolve_port};
use super::values::{Res, maybe_quoted, non_empty, port, quoted};

/// What follows `virtual=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VirtualAddr {
    Fwmark(u32),
    Addr { host: Host, port: String },
}

/// Parses the value of `virtual=` (`v6`: of `virtual6=`).
pub fn parse_virtual_addr(v: &str, v6: bool) -> Res<VirtualAddr> {
    let mut words = v.split_whitespace();
    let a = words.next().ok_or("virtual needs an address: virtual=ADDRESS:PORT or virtual=FWMARK")?;
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} after the virtual address {a:?}"));
    }
    if a.bytes().all(|b| b.is_ascii_digit()) {
        return match a.parse::<u32>() {
            Ok(m) if m > 0 => Ok(VirtualAddr::Fwmark(m)),
            _ => Err(format!("invalid firewall mark {a:?} (1 to 4294967295)")),
        };
    }
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        if !v6 {
            return Err("cannot give an IPv6 address here: use virtual6".into());
        }
        let (addr, after) = rest.split_once(']').ok_or_else(|| format!("missing ']' in {a:?}"))?;
        let port =
            after.strip_prefix(':').ok_or_else(|| format!("virtual6 needs [ADDRESS]:PORT, not {a:?}"))?;
        (format!("[{addr}]"), port)
    } else {
        let (h, p) = a
            .rsplit_once(':')
            .ok_or_else(|| format!("virtual needs ADDRESS:PORT or a firewall mark, not {a:?}"))?;
        if h.contains(':') {
            return Err(format!("IPv6 addresses go in brackets: virtual6=[ADDRESS]:PORT, not {a:?}"));
        }
        if h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c)) {
            return Err(format!("invalid virtual address {h:?}"));
        }
        (h.to_string(), p)
    };
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("invalid virtual port {port:?}"));
    }
    Ok(VirtualAddr::Addr { host: Host(host), port: port.to_string() })
}

/// A section's directives as written.
#[derive(Clone, Debug)]
pub struct VirtualDraft {
    pub line: usize,
    pub v6: bool,
    pub addr: VirtualAddr,
    pub shared: Shared,
    pub reals: Vec<At<RealLine>>,
    pub checktype: Option<CheckType>,
    pub service: Option<Service>,
    pub checkcommand: Option<String>,
    pub checkport: Option<u16>,
    pub request: Option<String>,
    pub receive: Option<At<String>>,
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    pub scheduler: Option<String>,
    pub persistent: Option<u32>,
    pub netmask: Option<At<Netmask>>,
    pub schedflags: Option<At<String>>,
    pub protocol: Option<At<String>>,
    pub ops: Option<At<bool>>,
    pub http_head: bool,
    pub virtualhost: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
}

/// What a section directive did, beyond setting a value.
pub enum Outcome {
    Done,
    Warn(String),
    Unknown,
}

impl VirtualDraft {
    pub fn new(line: usize, v6: bool, addr: VirtualAddr) -> Self {
        VirtualDraft {
            line,
            v6,
            addr,
            shared: Shared::default(),
            reals: Vec::new(),
            checktype: None,
            service: None,
            checkcommand: None,
            checkport: None,
            request: None,
            receive: None,
            login: None,
            passwd: None,
            database: None,
            secret: None,
            scheduler: None,
            persistent: None,
            netmask: None,
            schedflags: None,
            protocol: None,
            ops: None,
            http_head: false,
            virtualhost: None,
            servicename: None,
            comment: None,
        }
    }

    fn six(&self) -> &'static str {
        if self.v6 { "6" } else { "" }
    }

    /// Reads one indented directive.
    pub fn apply(&mut self, key: &str, value: Option<&str>, line: usize) -> Res<Outcome> {
        let Some(v) = value else { return Ok(Outcome::Unknown) };
        match key {
            "real" | "real6" | "fallback" | "fallback6" => {
                let want6 = key.ends_with('6');
                if want6 != self.v6 {
                    let base = key.trim_end_matches('6');
                    return Err(format!(
                        "cannot use {key} in a virtual{} section: use {base}{}",
                        self.six(),
                        self.six()
                    ));
                }
                if key.starts_with("real") {
                    self.reals.push(At { v: parse_real(v)?, line });
                } else {
                    self.shared.fallback = Some(At { v: super::real::parse_fallback(v)?, line });
                }
                return Ok(Outcome::Done);
            }
            _ => {}
        }
        if apply_shared(&mut self.shared, key, v, line)? {
            if key == "checkcount" {
                return Ok(Outcome::Warn(CHECKCOUNT_DEPRECATED.into()));
            }
            return Ok(Outcome::Done);
        }
        match key {
            "checktype" => self.checktype = Some(CheckType::from_name(v)?),
            "service" => self.service = Some(Service::from_name(v).map_err(|e| e.to_string())?),
            "checkcommand" => self.checkcommand = Some(non_empty(key, v)?),
            "checkport" => self.checkport = Some(port(key, v)?),
            "request" => {
                let r = quoted(key, v)?;
                if r.is_empty() {
                    return Err("no request string given: request=\"...\"".into());
                }
                self.request = Some(r);
            }
            "receive" => {
                let r = quoted(key, v)?;
                if r.is_empty() {
                    return Err("empty receive string: leave receive out to accept any reply".into());
                }
                rha_check::receive::Receive::new(&r)?;
                self.receive = Some(At { v: r, line });
            }
            "login" => self.login = Some(quoted_non_empty(key, v)?),
            "passwd" => self.passwd = Some(quoted_non_empty(key, v)?),
            "database" => self.database = Some(quoted_non_empty(key, v)?),
            "secret" => self.secret = Some(quoted_non_empty(key, v)?),
            "load" => {
                // Accepted and ignored, as upstream (which parses it and never uses it).
                let l = quoted(key, v)?;
                if !l.chars().any(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("invalid string for load testing {l:?}"));
                }
            }
            "scheduler" => {
                // Any lower-case word, as upstream: new kernel schedulers need no new parser.
                if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(format!(
                        "invalid scheduler {v:?}: only lowercase letters a-z (rr, wrr, lc, wlc, sh, mh, ...)"
                    ));
                }
                self.scheduler = Some(v.to_string());
            }
            "persistent" => {
                self.persistent = Some(match v.parse::<u32>() {
                    Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => return Err(format!("invalid persistent timeout {v:?} (seconds, greater than 0)")),
                })
            }
            "netmask" => {
                let m = if self.v6 {
                    match v.parse::<u8>() {
                        Ok(p) if (1..=128).contains(&p) && v.bytes().all(|b| b.is_ascii_digit()) => {
                            Netmask::V6(p)
                        }
                        _ => {
                            return Err(format!(
                                "invalid netmask {v:?}: a prefix length between 1 and 128 is required"
                            ));
                        }
                    }
                } else {
                    match v.parse::<std::net::Ipv4Addr>() {
                        Ok(a) => Netmask::V4(a),
                        Err(_) => {
                            return Err(format!("invalid netmask {v:?}: dotted quad notation is required"));
                        }
                    }
                };
                self.netmask = Some(At { v: m, line });
            }
            "schedflags" => {
                if v.is_empty() || v.chars().any(char::is_whitespace) {
                    return Err(format!("invalid schedflags {v:?}"));
                }
                self.schedflags = Some(At { v: v.to_string(), line });
            }
            "protocol" => {
                let fwm = matches!(self.addr, VirtualAddr::Fwmark(_));
                match (fwm, v) {
                    (true, "fwm") | (false, "tcp") | (false, "udp") => {}
                    (true, _) => {
                        return Err(format!("protocol must be fwm for a firewall-mark virtual, not {v:?}"));
                    }
                    (false, _) => {
                        return Err(format!("protocol must be tcp or udp for an address virtual, not {v:?}"));
                    }
                }
                self.protocol = Some(At { v: v.to_string(), line });
            }
            "ops" => self.ops = Some(At { v: super::values::yes_no(key, v)?, line }),
            "httpmethod" => {
                self.http_head = match v.to_ascii_uppercase().as_str() {
                    "GET" => false,
                    "HEAD" => true,
                    _ => return Err(format!("httpmethod must be GET or HEAD, not {v:?}")),
                }
            }
            "virtualhost" => self.virtualhost = Some(non_empty(key, v)?),
            "servicename" => self.servicename = Some(maybe_quoted(key, v)?),
            "comment" => self.comment = Some(maybe_quoted(key, v)?),
            _ => return Ok(Outcome::Unknown),
        }
        Ok(Outcome::Done)
    }
}

fn quoted_non_empty(key: &str, v: &str) -> Res<String> {
    let s = quoted(key, v)?;
    if s.is_empty() { Err(format!("{key} is empty")) } else { Ok(s) }
}

/// What the build needs besides the section.
pub struct BuildEnv<'a> {
    pub file: &'a Path,
    pub resolver: &'a dyn Resolver,
    pub hostname: &'a str,
    /// Reals already built for earlier sections (the file's [`super::MAX_REALS`] bound).
    pub reals_before: usize,
}

/// A failed build: the line and why.
pub type BuildError = (usize, String);

impl VirtualDraft {
    /// The section with every default and global applied.
    pub fn build(
        self,
        g: &GlobalDraft,
        env: &BuildEnv<'_>,
        warnings: &mut Vec<(usize, String)>,
    ) -> Result<Virtual, BuildError> {
        let vline = self.line;
        let family = if self.v6 { Family::Inet6 } else { Family::Inet };
        let r = env.resolver;

        // The kernel service.
        let (key, proto_name) = match &self.addr {
            VirtualAddr::Fwmark(mark) => (ServiceKey::Fwmark { mark: *mark, family }, None),
            VirtualAddr::Addr { host, port } => {
                let udp = match &self.protocol {
                    Some(p) => p.v == "udp",
                    None => defaults::udp_by_default(port),
                };
                let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
                let addr =
                    resolve_host(host, family, r).map_err(|e| (vline, format!("virtual server: {e}")))?;
                let port = resolve_port(port, Some(protocol.name()), r)
                    .map_err(|e| (vline, format!("virtual server: {e}")))?;
                (ServiceKey::Addr { protocol, addr, port }, Some(protocol.name()))
            }
        };
        let mut service = rha_ipvs::Service::new(key)
            .with_scheduler(self.scheduler.as_deref().unwrap_or(defaults::SCHEDULER));
        if let Some(t) = self.persistent {
            service = service.with_persistence(t);
            if let Some(m) = &self.netmask {
                service.netmask = m.v;
            }
        } else if let Some(m) = &self.netmask {
            warnings.push((m.line, "netmask has no effect without persistent (ignored, as upstream)".into()));
        }
        if let Some(f) = &self.schedflags {
            let bits = sched_flags(&service.scheduler, &f.v).map_err(|e| (f.line, e))?;
            service.flags.set(bits, true);
        }
        if let Some(o) = &self.ops {
            if o.v {
                if proto_name == Some("udp") {
                    service.flags.set(ServiceFlags::ONEPACKET, true);
                } else {
                    warnings
                        .push((o.line, "ops=yes only applies to udp virtuals (ignored, as upstream)".into()));
                }
            }
        }
        if !key.is_fwmark() && key.port() == 0 && !service.is_persistent() {
            return Err((
                vline,
                "a virtual with port 0 (all ports) must be persistent: add persistent=SECONDS".into(),
            ));
        }

        // The check.
        let s = &self.shared;
        let gs = &g.shared;
        let port_opt = (!key.is_fwmark()).then_some(key.port());
        let svc = self.service.unwrap_or_else(|| defaults::service_for(port_opt));
        let checktype = self.checktype.unwrap_or(CheckType::Negotiate);
        let (check_timeout, negotiate_timeout) =
            defaults::timeouts(s.checktimeout, s.negotiatetimeout, gs.checktimeout, gs.negotiatetimeout);
        let (mut login, mut passwd) = (self.login.clone(), self.passwd.clone());
        defaults::credentials(svc, env.hostname, &mut login, &mut passwd);
        let receive = match &self.receive {
            Some(rc) => Some(rha_check::receive::Receive::new(&rc.v).map_err(|e| (rc.line, e))?),
            None => None,
        };
        let virtual_id = match key {
            ServiceKey::Fwmark { mark, .. } => (mark.to_string(), 0),
            ServiceKey::Addr { addr, port, .. } => (addr.to_string(), port),
        };
        let check = CheckSpec {
            checktype,
            service: svc,
            protocol: match proto_name {
                None => rha_check::Protocol::Fwmark,
                Some("udp") => rha_check::Protocol::Udp,
                Some(_) => rha_check::Protocol::Tcp,
            },
            request: self.request.clone(),
            receive,
            http_head: self.http_head,
            virtualhost: self.virtualhost.clone(),
            login,
            passwd,
            database: self.database.clone(),
            secret: self.secret.clone(),
            checkcommand: matches!(checktype, CheckType::External)
                .then(|| self.checkcommand.clone().unwrap_or_else(|| defaults::CHECKCOMMAND.into())),
            virtual_id,
            check_timeout,
            negotiate_timeout,
            tls_verify: false,
        };

        // The reals.
        let mut reals = Vec::new();
        let mut seen: HashMap<DestKey, usize> = HashMap::new();
        let needs_port = match checktype {
            CheckType::Connect | CheckType::Combined(_) => true,
            CheckType::Negotiate => svc != Service::None,
            _ => false,
        };
        for At { v: rl, line } in &self.reals {
            let line = *line;
            let e = |m: String| (line, m);
            let first = resolve_host(&rl.first, family, r).map_err(|m| e(format!("real server: {m}")))?;
            let addrs = match &rl.last {
                None => vec![first],
                Some(last) => {
                    let last = resolve_host(last, family, r).map_err(|m| e(format!("real server: {m}")))?;
                    expand_range(first, last).map_err(e)?
                }
            };
            // Checked before building them: a few huge ranges must not cost their memory first.
            if env.reals_before + reals.len() + addrs.len() > super::MAX_REALS {
                return Err((line, format!("more than {} real servers in one file", super::MAX_REALS)));
            }
            let written = match &rl.port {
                // A real's port name is looked up for any protocol, as upstream.
                Some(p) => resolve_port(p, None, r).map_err(|m| e(format!("real server: {m}")))?,
                None => 0,
            };
            let mut real_check = check.clone();
            if let Some((req, rec)) = &rl.request_receive {
                real_check.request = Some(req.clone());
                real_check.receive = if rec.is_empty() {
                    None
                } else {
                    Some(rha_check::receive::Receive::new(rec).map_err(e)?)
                };
            }
            for addr in addrs {
                let dest =
                    dest_for(addr, written, rl.forward, &key, rl.weight, rl.l_threshold, rl.u_threshold);
                if let Some(w) = loopback_nat("real server", addr, rl.forward) {
                    warnings.push((line, w));
                }
                if let Some(first_line) = seen.insert(dest.key(), line) {
                    return Err((
                        line,
                        format!("real server {} is already listed at line {first_line}", dest.key()),
                    ));
                }
                let cport = defaults::check_port(self.checkport, written, svc, dest.port);
                if cport == 0 && needs_port {
                    return Err((
                        line,
                        format!(
                            "real server {addr}: no port to check: give the real a port or set checkport"
                        ),
                    ));
                }
                reals.push(Real {
                    target: Target::new(std::net::SocketAddr::new(addr, cport)),
                    check: real_check.clone(),
                    dest,
                    line: SourceLine { file: env.file.to_path_buf(), line },
                });
            }
        }

        // The fallback: the section's, else the global one of its family.
        let fallback_line =
            s.fallback.as_ref().or(if self.v6 { gs.fallback6.as_ref() } else { gs.fallback.as_ref() });
        let fallback = match fallback_line {
            None => None,
            Some(At { v: FallbackLine { host, port, forward }, line }) => {
                let e = |m: String| (*line, format!("fallback server: {m}"));
                let addr = resolve_host(host, family, r).map_err(e)?;
                let written = match port {
                    Some(p) => resolve_port(p, proto_name.or(Some("tcp")), r).map_err(e)?,
                    None => key.port(),
                };
                if let Some(w) = loopback_nat("fallback server", addr, *forward) {
                    warnings.push((*line, w));
                }
                Some(dest_for(addr, written, *forward, &key, 1, 0, 0))
            }
        };

        let monitorfile = s.monitorfile.clone().or_else(|| gs.monitorfile.clone());
        Ok(Virtual {
            service,
            reals,
            fallback,
            fallback_command: s.fallbackcommand.clone().or_else(|| gs.fallbackcommand.clone()),
            check,
            check_interval: s.checkinterval.or(gs.checkinterval).unwrap_or(defaults::CHECKINTERVAL),
            check_count: s.checkcount.or(gs.checkcount).unwrap_or(1),
            failure_count: s.failurecount.or(gs.failurecount).unwrap_or(1),
            quiescent: s.quiescent.or(gs.quiescent).unwrap_or(defaults::QUIESCENT),
            cleanstop: s.cleanstop.or(gs.cleanstop).unwrap_or(defaults::CLEANSTOP),
            emailalert: s.emailalert.clone().or_else(|| gs.emailalert.clone()).unwrap_or_default(),
            emailalert_freq: s.emailalertfreq.or(gs.emailalertfreq).unwrap_or(Duration::ZERO),
            emailalert_status: s.emailalertstatus.or(gs.emailalertstatus).unwrap_or_default(),
            smtp: s.smtp.clone().or_else(|| gs.smtp.clone()),
            servicename: self.servicename.clone(),
            comment: self.comment.clone(),
            monitorfile,
            line: SourceLine { file: env.file.to_path_buf(), line: vline },
        })
    }
}

/// A real (or fallback) as the kernel will hold it: a port not written is the virtual's
/// (as ipvsadm does), and gate/ipip reals of an address virtual take the virtual's port
/// (the kernel cannot change the port for those methods; rha_ipvs normalises the same way).
/// Linux drops NAT to a loopback address for packets from the network (ip_vs_nat_xmit:
/// "stopping DNAT to loopback address"), so a masq real or fallback at 127.0.0.1 or ::1 is
/// programmed but never serves a client: upstream says nothing; we warn, with the fix. (S4's
/// `fallback=127.0.0.1:80 masq` is such a line; with gate the kernel hands the packet to the
/// director's own stack, where a server listening on the VIP or on all addresses answers.)
fn loopback_nat(what: &str, addr: IpAddr, forward: Forward) -> Option<String> {
    (forward == Forward::Masq && addr.is_loopback()).then(|| {
        format!(
            "{what} {addr} with masq never serves clients from the network: Linux drops NAT to a \
             loopback address; use gate (a server on this director listening on the VIP or on all \
             addresses answers) or an address of this director"
        )
    })
}

fn dest_for(
    addr: IpAddr,
    written: u16,
    forward: Forward,
    key: &ServiceKey,
    weight: u32,
    l: u32,
    u: u32,
) -> Dest {
    let port = if key.is_fwmark() {
        written
    } else if written == 0 || forward != Forward::Masq {
        key.port()
    } else {
        written
    };
    let mut d = Dest::new(addr, port).with_forward(forward).with_weight(weight);
    d.l_threshold = l;
    d.u_threshold = u;
    d
}

/// `schedflags=`: what `ipvsadm -b` takes (flag-1..3; sh-/mh-fallback and -port for those
/// schedulers), comma-separated.
pub fn sched_flags(scheduler: &str, text: &str) -> Res<u32> {
    let mut bits = 0;
    for flag in text.split(',') {
        bits |= match flag {
            "flag-1" => ServiceFlags::SCHED1,
            "flag-2" => ServiceFlags::SCHED2,
            "flag-3" => ServiceFlags::SCHED3,
            "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port" => {
                if scheduler != &flag[..2] {
                    return Err(format!(
                        "schedflags {flag:?} needs scheduler={}, not {scheduler}",
                        &flag[..2]
                    ));
                }
                if flag.ends_with("fallback") { ServiceFlags::SCHED1 } else { ServiceFlags::SCHED2 }
            }
            _ => {
                return Err(format!(
                    "invalid schedflags {flag:?} (flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)"
                ));
            }
        };
    }
    Ok(bits)
}
