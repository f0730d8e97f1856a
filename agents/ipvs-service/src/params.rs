//! What the agent accepts: the meta-data ([`INFO`]) and the validated [`Config`].
//!
//! Parameter names follow ipvsadm's options and ldirectord's `virtual=` directives, so a rule
//! like `ipvsadm -A -t 198.51.100.10:80 -s wrr -p 300` becomes `virtual=198.51.100.10:80
//! scheduler=wrr persistent=300`. Everything here is syntax (level 0): no kernel state is read,
//! only names from /etc/hosts, /etc/services and the `rules_file`.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ocf_shim::params::quote;
use ocf_shim::{Action, ActionSpec, AgentInfo, Context, OcfError, OcfResult, Parameter, Params};
use rha_ipvs::save_format::{self, Resolver};

use crate::names::{ActionResolver, Mode};
use rha_ipvs::{
    DaemonState, Family, Netmask, Protocol, Service, ServiceFlags, ServiceKey, ServiceSpec, SpecError,
};

use crate::reals;

static PARAMETERS: &[Parameter] = &[
    Parameter::string("virtual")
        .short("Virtual service: address:port or firewall mark")
        .long(
            "The virtual service, as ipvsadm's -t/-u/--sctp-service or -f take it (and as \
             ldirectord's virtual= directive): ADDRESS:PORT (198.51.100.10:80; the port may be a \
             name from /etc/services, e.g. 198.51.100.10:http), [IPV6]:PORT \
             ([2001:db8::10]:443), or a firewall mark number (5; '5 -6' or '5 ipv6' for an IPv6 \
             fwmark service). Without a port the service covers all ports and must be \
             persistent. A host name resolves to IPv4 as with ipvsadm; numeric addresses are \
             recommended (no resolver in the failover path).\n\
             Required unless rules_file holds exactly one service.",
        )
        .unique_group("virtual-service"),
    Parameter::select("protocol", &["tcp", "udp", "sctp", "fwmark"])
        .short("Protocol of the virtual service")
        .long(
            "tcp (ipvsadm -t), udp (-u), sctp (--sctp-service) or fwmark (-f). A virtual that \
             is a plain number is a firewall-mark service even when protocol is not set.",
        )
        .default("tcp")
        .unique_group("virtual-service"),
    Parameter::string("scheduler")
        .short("Scheduler")
        .long(
            "The IPVS scheduling algorithm (ipvsadm -s): rr, wrr, lc, wlc, lblc, lblcr, dh, sh, \
             sed, nq, fo, ovf, mh or twos. The kernel loads its module (ip_vs_NAME) on first use; \
             validate-all with OCF_CHECK_LEVEL=10 checks that this node's kernel has it.",
        )
        .default("wlc"),
    Parameter::integer("persistent").short("Persistence timeout (seconds)").long(
        "Makes the service persistent (ipvsadm -p): connections of one client go to the \
             same real server while they keep coming within this many seconds (1 to 2678400). \
             Empty or 0: not persistent.",
    ),
    Parameter::string("netmask").short("Persistence granularity").long(
        "Clients sharing a persistent template (ipvsadm -M): an IPv4 netmask such as \
             255.255.255.0, or for an IPv6 service a prefix length (1 to 128). Only with \
             persistent. Default: one client address per template.",
    ),
    Parameter::string("pe")
        .short("Persistence engine")
        .long("Persistence engine (ipvsadm --pe): sip. Only with persistent. Empty: none (the default)."),
    Parameter::string("schedflags").short("Scheduler flags").long(
        "Comma-separated scheduler flags (ipvsadm -b): flag-1, flag-2, flag-3, and by their \
             names sh-fallback, sh-port (scheduler sh) or mh-fallback, mh-port (scheduler mh).",
    ),
    Parameter::boolean("ops")
        .short("One-packet scheduling")
        .long("Schedule every UDP datagram on its own (ipvsadm -o). UDP and fwmark services only.")
        .default("false"),
    Parameter::boolean("strict_weights")
        .short("Weights changed outside the agent fail the monitor")
        .long(
            "By default, a real's weight or thresholds changed outside the agent (an administrator \
             draining a real with ipvsadm -e ... -w 0, or ldirectord/keepalived managing weights) \
             are left alone: monitor returns success with a warning naming them, and only a missing \
             service or real, or a different scheduler, persistence, flag or forwarding method, \
             fails it (start repairs those). With strict_weights=true weight and threshold \
             differences fail the monitor too, and the recovery's start restores them.",
        )
        .default("false"),
    Parameter::string("reals").short("Real servers").long(
        "The real servers, one entry per ipvsadm -a line, separated by ';' or newlines:\n\
             ADDRESS[:PORT] [METHOD] [WEIGHT] [x=UPPER] [y=LOWER]\n\
             Example: '203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1'.\n\
             ADDRESS is IPv4, [IPv6] or a host name (resolved to IPv4 as ipvsadm does); PORT a \
             number or a /etc/services name; without a port the real server takes the virtual \
             port. METHOD is masq (NAT), gate (direct routing, the default) or ipip (tunnel); \
             ipvsadm's -m, -g, -i and the words nat, dr, tun are accepted too. Direct routing and \
             tunnels cannot change the port. WEIGHT is 0 to 65535 (default 1; 0 sends no new \
             connections); also written w=N or -w N. x=N and y=N are the upper and lower \
             connection thresholds (ipvsadm -x/-y; 0 = none). Tunnel encapsulation: tun-type=gue \
             tun-port=6080 tun-csum (or tun-type=gre, tun-nocsum, tun-remcsum).\n\
             The tail of an ipvsadm-save line is accepted as it is ('-r 203.0.113.2:80 -m -w 3'), \
             and so is ldirectord's 'real=203.0.113.2:80 masq 3'.\n\
             start makes the kernel hold exactly these real servers: others are removed. Empty: \
             a service without real servers. Not together with rules_file.",
    ),
    Parameter::string("rules_file").short("ipvsadm-save file").long(
        "Instead of the parameters above: a file in ipvsadm-save / ipvsadm -S format (or \
             any ipvsadm -R input). It must describe exactly one virtual service, or virtual (and \
             protocol) select one of its services. Host and port names resolve as ipvsadm does. \
             The file is read by every action; a node without it gets OCF_ERR_INSTALLED on start \
             and 'not running' on a probe.",
    ),
    Parameter::select("sync_daemon", &["none", "master", "backup", "both"])
        .short("Connection synchronisation daemon")
        .long(
            "Runs the kernel's connection-sync daemon with the service (ipvsadm --start-daemon): \
             master sends this director's connections, backup receives the peer's, both does \
             both. For a director pair, clone this resource with sync_daemon=both: whichever \
             director holds the VIP sends, the other keeps the connection table, and established \
             connections survive a failover. The daemon is stopped with the resource only if this \
             resource started it. A daemon of the same role running with another interface or \
             syncid makes start fail.",
        )
        .default("none"),
    Parameter::string("sync_interface").short("Interface for the sync daemon").long(
        "The interface carrying the sync multicast (ipvsadm --mcast-interface). Required with sync_daemon.",
    ),
    Parameter::integer("syncid")
        .short("Sync ID")
        .long("The sync daemon's ID (ipvsadm --syncid), 0 to 255. A backup with 0 accepts any master.")
        .default("0"),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "20s"),
    ActionSpec::new("stop", "20s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("monitor", "20s").interval("60s").depth(10),
    ActionSpec::new("status", "20s"),
    ActionSpec::new("validate-all", "20s"),
    ActionSpec::new("meta-data", "5s"),
];

/// The agent's description.
pub static INFO: AgentInfo = AgentInfo {
    name: "ipvs-service",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "IPVS (LVS) virtual service with its real servers",
    longdesc: "Manages one IPVS (Linux Virtual Server) virtual service and its real servers \
        directly over the kernel's generic netlink interface, without ipvsadm.\n\
        start creates the service, or corrects an existing one, to exactly the configured state \
        (scheduler, persistence, flags, real servers with forwarding method, weight and \
        thresholds) and reads it back. stop deletes this service only (other services in the \
        table are left alone) and the sync daemon only if this resource started it. monitor \
        compares the kernel's table with the configuration: a missing service is 'not running', \
        any difference (scheduler, a missing or extra real server, a changed weight) is a \
        failure whose reason names it. With OCF_CHECK_LEVEL=10 monitor also checks that \
        ip_forward is on when NAT real servers are used and that the virtual address is local \
        (not for clones, whose standby director does not hold the VIP).\n\
        The service is described by parameters (virtual, protocol, scheduler, persistent, \
        netmask, pe, schedflags, ops, reals) or by an ipvsadm-save file (rules_file). The \
        virtual address itself is IPaddr2's job: group it before this resource.\n\
        A node whose kernel has no IPVS gets 'not running' on a probe and OCF_ERR_INSTALLED on \
        start (after trying 'modprobe ip_vs').",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// IPVS schedulers of the mainline kernel (net/netfilter/ipvs/ip_vs_*.c).
pub const KNOWN_SCHEDULERS: &[&str] =
    &["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

/// Persistence engines of the mainline kernel.
pub const KNOWN_PES: &[&str] = &["sip"];

/// Longest persistence timeout ipvsadm accepts (31 days).
pub const MAX_PERSISTENCE: u32 = 86400 * 31;

/// The sync daemon this resource runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Master, backup, or both.
    pub roles: Vec<DaemonState>,
    /// Multicast interface.
    pub interface: String,
    /// Sync ID.
    pub syncid: u32,
}

/// Where the desired service came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The instance parameters.
    Params,
    /// An ipvsadm-save file.
    RulesFile(PathBuf),
}

/// The validated instance configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The service to program, exactly. `None` only for stop, when the parameters were fine
    /// but the rules file or a name could not be read on this node (stop then needs only the
    /// service's identity).
    pub desired: Option<ServiceSpec>,
    /// The service's identity, when known.
    pub key: Option<ServiceKey>,
    /// Why `desired` is missing.
    pub unusable: Option<OcfError>,
    pub source: Source,
    pub sync: Option<SyncConfig>,
    /// `strict_weights`: weight and threshold differences fail the monitor.
    pub strict_weights: bool,
    /// Host names this invocation resolved (start records them for monitor and stop).
    pub resolved_names: std::collections::BTreeMap<String, std::net::Ipv4Addr>,
    /// Things an administrator should know that do not stop the resource.
    pub warnings: Vec<String>,
}

impl Config {
    /// The desired service, or the error that made it unavailable.
    pub fn spec(&self) -> OcfResult<&ServiceSpec> {
        match (&self.desired, &self.unusable) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(OcfError::configured("no virtual service configured")),
        }
    }

    /// Parses and checks the parameters (see the module comment).
    ///
    /// Host names are resolved as [`crate::names`] says for the action: afresh and bounded for
    /// start, from start's record for monitor and stop (stop never asks DNS).
    pub fn from_params(params: &Params, ctx: &Context) -> OcfResult<Config> {
        let mode = match ctx.action {
            Action::Stop => Mode::RecordedOnly,
            Action::Monitor | Action::Status => Mode::RecordedFirst,
            _ => Mode::Fresh,
        };
        let recorded = match mode {
            Mode::Fresh => Default::default(),
            _ => crate::ownership::read(ctx).ok().flatten().map(|r| r.names).unwrap_or_default(),
        };
        let resolver = ActionResolver::new(mode, recorded, ctx.deadline);
        let mut cfg = Config::from_params_with(params, ctx, &resolver)?;
        cfg.resolved_names = resolver.resolved();
        Ok(cfg)
    }

    /// [`Config::from_params`] with a given name resolver (tests).
    ///
    /// For stop, nothing but the parameters' syntax can fail, and not even that: stop needs
    /// only the service's identity (from `virtual`, or from what start recorded), so a rules
    /// file that vanished, a name that no longer resolves or a parameter changed into nonsense
    /// must not keep it from removing what start made.
    pub fn from_params_with(params: &Params, ctx: &Context, resolver: &dyn Resolver) -> OcfResult<Config> {
        match load(params, resolver) {
            Ok(c) => Ok(c),
            Err(LoadError { error, key }) if ctx.action == Action::Stop => {
                ocf_shim::warn!("{}; stopping by the service's identity only", error.reason);
                let source = match params.str("rules_file") {
                    Ok(Some(p)) => Source::RulesFile(PathBuf::from(p)),
                    _ => Source::Params,
                };
                Ok(Config {
                    desired: None,
                    key,
                    unusable: Some(error),
                    source,
                    sync: None,
                    strict_weights: false,
                    resolved_names: Default::default(),
                    warnings: Vec::new(),
                })
            }
            Err(LoadError { error, .. }) => Err(error),
        }
    }
}

fn load(params: &Params, resolver: &dyn Resolver) -> Result<Config, LoadError> {
    let rules_file = params.str("rules_file")?.map(PathBuf::from);
    let source = match &rules_file {
        Some(p) => Source::RulesFile(p.clone()),
        None => Source::Params,
    };
    let spec = match &rules_file {
        None => from_service_params(params, resolver)?,
        Some(path) => from_rules_file(params, path, resolver)?,
    };
    let key = Some(spec.service.key);
    let sync = sync_config(params).map_err(|error| LoadError { error, key })?;
    let strict_weights = params.bool("strict_weights").map_err(|error| LoadError { error, key })?;
    let warnings = syntax_warnings(&spec);
    Ok(Config {
        desired: Some(spec),
        key,
        unusable: None,
        source,
        sync,
        strict_weights,
        resolved_names: Default::default(),
        warnings,
    })
}

/// A failure to build the desired service, with the key if it was known by then.
struct LoadError {
    error: OcfError,
    key: Option<ServiceKey>,
}

impl From<OcfError> for LoadError {
    fn from(error: OcfError) -> LoadError {
        LoadError { error, key: None }
    }
}

fn configured(msg: impl Into<String>) -> OcfError {
    OcfError::configured(msg)
}

fn sync_config(params: &Params) -> OcfResult<Option<SyncConfig>> {
    let roles = match params.select("sync_daemon")?.unwrap_or("none") {
        "master" => vec![DaemonState::Master],
        "backup" => vec![DaemonState::Backup],
        "both" => vec![DaemonState::Master, DaemonState::Backup],
        _ => {
            return Ok(None);
        }
    };
    let interface = params.str("sync_interface")?.map(str::trim).ok_or_else(|| {
        configured("sync_daemon needs sync_interface (the interface for the sync multicast)")
    })?;
    if !rha_net::link::valid_name(interface) {
        return Err(configured(format!(
            "parameter sync_interface: {} is not an interface name (1 to 15 characters, no '/', ':' or blanks)",
            quote(OsStr::new(interface))
        )));
    }
    let syncid = params.int_in::<u32>("syncid", 0, 255)?.unwrap_or(0);
    Ok(Some(SyncConfig { roles, interface: interface.to_string(), syncid }))
}

/// The service's identity from `virtual` and `protocol`.
pub fn service_key(params: &Params, resolver: &dyn Resolver) -> OcfResult<Option<ServiceKey>> {
    let Some(virt) = params.trimmed("virtual")? else {
        return Ok(None);
    };
    let proto_set = params.is_set("protocol");
    let proto = params.select("protocol")?.unwrap_or("tcp");
    parse_virtual(virt, proto, proto_set, resolver).map(Some)
}

/// Parses the `virtual` parameter for `protocol` (`protocol_set`: given explicitly).
pub fn parse_virtual(
    virt: &str,
    protocol: &str,
    protocol_set: bool,
    resolver: &dyn Resolver,
) -> OcfResult<ServiceKey> {
    let quoted = || quote(OsStr::new(virt));
    let mut words = virt.split_whitespace();
    let first = words.next().unwrap_or("");
    let is_mark = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
    if is_mark || protocol == "fwmark" {
        if protocol_set && protocol != "fwmark" {
            return Err(configured(format!(
                "parameter virtual: {} is a firewall mark, but protocol is {protocol} (use protocol=fwmark, or ADDRESS:PORT)",
                quoted()
            )));
        }
        let mark = match first.parse::<u64>() {
            Ok(m) if (1..=u64::from(u32::MAX)).contains(&m) => m as u32,
            _ => {
                return Err(configured(format!(
                    "parameter virtual: {} is not a firewall mark (1 to 4294967295) for protocol fwmark",
                    quoted()
                )));
            }
        };
        let family = match (words.next(), words.next()) {
            (None, _) => Family::Inet,
            (Some("-6" | "ipv6" | "--ipv6"), None) => Family::Inet6,
            _ => {
                return Err(configured(format!(
                    "parameter virtual: {} is not MARK, 'MARK -6' or 'MARK ipv6'",
                    quoted()
                )));
            }
        };
        return Ok(ServiceKey::Fwmark { mark, family });
    }
    let protocol = match protocol {
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => Protocol::Tcp,
    };
    if words.next().is_some() {
        return Err(configured(format!("parameter virtual: {} has blanks in it", quoted())));
    }
    let (addr, port) = reals::parse_address(first, protocol, resolver).map_err(|(msg, local)| {
        let e = format!("parameter virtual: {msg}");
        if local { OcfError::args(e) } else { configured(e) }
    })?;
    Ok(ServiceKey::Addr { protocol, addr, port: port.unwrap_or(0) })
}

fn from_service_params(params: &Params, resolver: &dyn Resolver) -> Result<ServiceSpec, LoadError> {
    let key = service_key(params, resolver)?
        .ok_or_else(|| configured("parameter virtual is required (or give rules_file)"))?;
    let with_key = |error: OcfError| LoadError { error, key: Some(key) };
    let mut svc = Service::new(key);
    let sched = params.str_or_empty("scheduler")?.trim();
    check_scheduler(sched)?;
    svc.scheduler = sched.to_string();
    let persistent = params.int_in::<u32>("persistent", 0, MAX_PERSISTENCE)?.unwrap_or(0);
    if persistent > 0 {
        svc = svc.with_persistence(persistent);
    }
    if let Some(mask) = params.trimmed("netmask")? {
        if persistent == 0 {
            return Err(configured(
                "parameter netmask needs persistent (it sets the persistence granularity)",
            )
            .into());
        }
        svc.netmask = parse_netmask(mask, key.family())?;
    }
    if let Some(pe) = params.trimmed("pe")? {
        if persistent == 0 {
            return Err(configured(
                "parameter pe needs persistent (a persistence engine shapes persistence)",
            )
            .into());
        }
        if !KNOWN_PES.contains(&pe) {
            return Err(configured(format!(
                "parameter pe: {} is not a persistence engine ({})",
                quote(OsStr::new(pe)),
                KNOWN_PES.join(", ")
            ))
            .into());
        }
        svc.pe_name = Some(pe.to_string());
    }
    if params.bool("ops")? {
        let udp = matches!(key, ServiceKey::Addr { protocol: Protocol::Udp, .. });
        if !udp && !key.is_fwmark() {
            return Err(configured(
                "parameter ops: one-packet scheduling is only for UDP and fwmark services",
            )
            .into());
        }
        svc.flags.set(ServiceFlags::ONEPACKET, true);
    }
    if let Some(flags) = params.trimmed("schedflags")? {
        svc.flags.0 |= parse_schedflags(&svc.scheduler, flags)?;
    }
    let text = params.str_or_empty("reals")?;
    let dests = reals::parse(text, &key, resolver).map_err(|e| {
        let msg = format!("parameter reals: {e}");
        with_key(if e.node_local { OcfError::args(msg) } else { configured(msg) })
    })?;
    let spec = ServiceSpec { service: svc, dests };
    spec.validate().map_err(spec_error)?;
    Ok(spec)
}

fn from_rules_file(
    params: &Params,
    path: &PathBuf,
    resolver: &dyn Resolver,
) -> Result<ServiceSpec, LoadError> {
    let key = service_key(params, resolver)?;
    let with_key = |error: OcfError| LoadError { error, key };
    for p in ["reals", "scheduler", "persistent", "netmask", "pe", "schedflags", "ops"] {
        if params.is_set(p) {
            return Err(configured(format!(
                "parameter {p} cannot be used with rules_file: the service comes from the file"
            ))
            .into());
        }
    }
    if !path.is_absolute() {
        return Err(
            configured(format!("parameter rules_file: {} is not an absolute path", path.display())).into()
        );
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        with_key(match e.kind() {
            std::io::ErrorKind::NotFound => {
                OcfError::installed(format!("rules_file {} does not exist on this node", path.display()))
            }
            _ => OcfError::installed(format!("cannot read rules_file {}: {e}", path.display())),
        })
    })?;
    let table = save_format::parse_with(&text, resolver)
        .and_then(|cmds| save_format::to_table(&cmds))
        .map_err(|e| with_key(configured(format!("rules_file {}: {e}", path.display()))))?;
    let spec = match key {
        Some(k) => table.into_iter().find(|s| s.service.key == k).ok_or_else(|| {
            with_key(configured(format!("rules_file {} has no virtual service {k}", path.display())))
        })?,
        None if table.len() == 1 => table.into_iter().next().expect("one service"),
        None => {
            let keys: Vec<String> = table.iter().map(|s| s.service.key.to_string()).collect();
            return Err(configured(format!(
                "rules_file {} describes {} virtual services{}; set virtual (and protocol) to choose one",
                path.display(),
                table.len(),
                if keys.is_empty() { String::new() } else { format!(" ({})", keys.join(", ")) }
            ))
            .into());
        }
    };
    let key = Some(spec.service.key);
    let with_key = |error: OcfError| LoadError { error, key };
    check_scheduler(&spec.service.scheduler).map_err(with_key)?;
    if let Some(pe) = &spec.service.pe_name {
        if !KNOWN_PES.contains(&pe.as_str()) {
            return Err(with_key(configured(format!("rules_file: persistence engine {pe} is unknown"))));
        }
    }
    for d in &spec.dests {
        if d.weight > reals::MAX_WEIGHT {
            return Err(with_key(configured(format!(
                "rules_file: real {} weight {} is above 65535",
                d.key(),
                d.weight
            ))));
        }
    }
    spec.validate().map_err(|e| with_key(spec_error(e).error))?;
    Ok(spec)
}

fn spec_error(e: SpecError) -> LoadError {
    configured(e.to_string()).into()
}

fn check_scheduler(name: &str) -> OcfResult<()> {
    if KNOWN_SCHEDULERS.contains(&name) {
        return Ok(());
    }
    Err(configured(format!(
        "scheduler {} is not an IPVS scheduler ({})",
        quote(OsStr::new(name)),
        KNOWN_SCHEDULERS.join(", ")
    )))
}

/// `-M`: a dotted IPv4 netmask (contiguous), or an IPv6 prefix length.
fn parse_netmask(text: &str, family: Family) -> OcfResult<Netmask> {
    let bad = || {
        configured(format!(
            "parameter netmask: {} is not {}",
            quote(OsStr::new(text)),
            match family {
                Family::Inet => "an IPv4 netmask like 255.255.255.0",
                Family::Inet6 => "an IPv6 prefix length (1 to 128)",
            }
        ))
    };
    match family {
        Family::Inet => {
            let m: Ipv4Addr = text.parse().map_err(|_| bad())?;
            let bits = u32::from(m);
            // Contiguous ones from the top; 0.0.0.0 would put every client on one template.
            if bits == 0 || bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(bad());
            }
            Ok(Netmask::V4(m))
        }
        Family::Inet6 => match text.strip_prefix('/').unwrap_or(text).parse::<u8>() {
            Ok(p) if (1..=128).contains(&p) => Ok(Netmask::V6(p)),
            _ => Err(bad()),
        },
    }
}

/// `-b`: comma-separated flags; the sh-/mh- names need that scheduler.
fn parse_schedflags(sched: &str, text: &str) -> OcfResult<u32> {
    let mut bits = 0;
    for flag in text.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        bits |= match flag {
            "flag-1" => ServiceFlags::SCHED1,
            "flag-2" => ServiceFlags::SCHED2,
            "flag-3" => ServiceFlags::SCHED3,
            "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port" => {
                if sched != &flag[..2] {
                    return Err(configured(format!(
                        "parameter schedflags: {flag} needs scheduler {}, not {sched}",
                        &flag[..2]
                    )));
                }
                if flag.ends_with("fallback") { ServiceFlags::SCHED1 } else { ServiceFlags::SCHED2 }
            }
            _ => {
                return Err(configured(format!(
                    "parameter schedflags: {} is not a scheduler flag (flag-1, flag-2, flag-3, \
                     sh-fallback, sh-port, mh-fallback, mh-port)",
                    quote(OsStr::new(flag))
                )));
            }
        };
    }
    Ok(bits)
}

/// Level-0 remarks about the configuration itself.
fn syntax_warnings(spec: &ServiceSpec) -> Vec<String> {
    let mut w = Vec::new();
    if spec.dests.is_empty() {
        w.push(format!(
            "virtual service {} has no real servers: it will refuse every connection",
            spec.service.key
        ));
    } else if spec.dests.iter().all(|d| d.weight == 0) {
        w.push(format!(
            "every real server of {} has weight 0: the service accepts no new connections",
            spec.service.key
        ));
    }
    w
}

/// True if `addr` is one of the virtual service's real servers' addresses reached by NAT.
pub fn uses_nat(spec: &ServiceSpec) -> bool {
    spec.dests.iter().any(|d| d.forward == rha_ipvs::Forward::Masq)
}

/// The VIP of an address-based service.
pub fn vip(spec: &ServiceSpec) -> Option<IpAddr> {
    match spec.service.key {
        ServiceKey::Addr { addr, .. } => Some(addr),
        ServiceKey::Fwmark { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf_shim::OcfCode;
    use ocf_shim::context::Action;
    use rha_ipvs::{Dest, Forward};
    use std::time::Instant;

    struct Names;
    impl Resolver for Names {
        fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
            (name == "director.example").then_some(Ipv4Addr::new(198, 51, 100, 10))
        }
        fn service_port(&self, name: &str, _: Protocol) -> Option<u16> {
            match name {
                "http" => Some(80),
                "domain" => Some(53),
                _ => None,
            }
        }
    }

    fn ctx(action: Action) -> Context {
        Context::from_env(action, &INFO, Instant::now())
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())))
    }

    fn cfg(pairs: &[(&str, &str)]) -> OcfResult<Config> {
        Config::from_params_with(&params(pairs), &ctx(Action::Start), &Names)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_nat_service_from_parameters() {
        let c = cfg(&[
            ("virtual", "198.51.100.10:http"),
            ("scheduler", "wrr"),
            ("reals", "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1"),
        ])
        .unwrap();
        let s = c.spec().unwrap();
        assert_eq!(s.service.key, ServiceKey::tcp(ip("198.51.100.10"), 80));
        assert_eq!(s.service.scheduler, "wrr");
        assert_eq!(s.dests.len(), 3);
        assert_eq!(s.dests[2], Dest::new(ip("203.0.113.4"), 80).with_forward(Forward::Masq));
        assert!(uses_nat(s));
        assert_eq!(c.sync, None);
        assert_eq!(s.to_string().lines().next().unwrap(), "-A -t 198.51.100.10:80 -s wrr");
    }

    #[test]
    fn service_options_map_to_ipvsadms() {
        let c = cfg(&[
            ("virtual", "198.51.100.10:53"),
            ("protocol", "udp"),
            ("scheduler", "sh"),
            ("persistent", "300"),
            ("netmask", "255.255.255.0"),
            ("schedflags", "sh-fallback,sh-port"),
            ("ops", "yes"),
        ])
        .unwrap();
        let text = c.spec().unwrap().to_string();
        assert_eq!(text, "-A -u 198.51.100.10:53 -s sh -p 300 -M 255.255.255.0 -o -b sh-fallback,sh-port\n");
        let c = cfg(&[("virtual", "[2001:db8::10]:443"), ("persistent", "60"), ("netmask", "64")]).unwrap();
        assert_eq!(c.spec().unwrap().to_string(), "-A -t [2001:db8::10]:443 -s wlc -p 60 -M 64\n");
        let c = cfg(&[
            ("virtual", "director.example"),
            ("persistent", "360"),
            ("pe", "sip"),
            ("protocol", "udp"),
        ])
        .unwrap();
        assert_eq!(c.spec().unwrap().to_string(), "-A -u 198.51.100.10:0 -s wlc -p 360 --pe sip\n");
    }

    #[test]
    fn fwmark_services() {
        let k = |pairs: &[(&str, &str)]| cfg(pairs).map(|c| c.key.unwrap());
        assert_eq!(k(&[("virtual", "5")]).unwrap(), ServiceKey::Fwmark { mark: 5, family: Family::Inet });
        assert_eq!(
            k(&[("virtual", "7 -6"), ("protocol", "fwmark")]).unwrap(),
            ServiceKey::Fwmark { mark: 7, family: Family::Inet6 }
        );
        assert_eq!(
            k(&[("virtual", "7 ipv6")]).unwrap(),
            ServiceKey::Fwmark { mark: 7, family: Family::Inet6 }
        );
        assert!(k(&[("virtual", "5"), ("protocol", "tcp")]).unwrap_err().reason.contains("protocol=fwmark"));
        assert!(k(&[("virtual", "0")]).is_err());
        assert!(k(&[("virtual", "4294967296")]).is_err());
        assert!(k(&[("virtual", "198.51.100.1:80"), ("protocol", "fwmark")]).is_err());
        assert!(k(&[("virtual", "5 -7")]).is_err());
        assert!(cfg(&[("virtual", "5"), ("ops", "1")]).is_ok());
    }

    #[test]
    fn parameter_errors_are_configuration_errors() {
        for (pairs, needle) in [
            (vec![], "virtual is required"),
            (vec![("virtual", "198.51.100.10:80"), ("scheduler", "fastest")], "not an IPVS scheduler"),
            (vec![("virtual", "198.51.100.10")], "port 0 must be persistent"),
            (vec![("virtual", "198.51.100.10:80"), ("persistent", "-1")], "not a valid integer"),
            (vec![("virtual", "198.51.100.10:80"), ("persistent", "2678401")], "out of range"),
            (vec![("virtual", "198.51.100.10:80"), ("netmask", "255.255.255.0")], "needs persistent"),
            (
                vec![("virtual", "198.51.100.10:80"), ("persistent", "1"), ("netmask", "255.0.255.0")],
                "netmask",
            ),
            (vec![("virtual", "[2001:db8::1]:80"), ("persistent", "1"), ("netmask", "129")], "prefix length"),
            (vec![("virtual", "198.51.100.10:80"), ("schedflags", "sh-port")], "needs scheduler sh"),
            (vec![("virtual", "198.51.100.10:80"), ("schedflags", "fast")], "not a scheduler flag"),
            (vec![("virtual", "198.51.100.10:80"), ("ops", "1")], "only for UDP"),
            (vec![("virtual", "198.51.100.10:80"), ("ops", "maybe")], "not a boolean"),
            (
                vec![("virtual", "198.51.100.10:80"), ("persistent", "9"), ("pe", "http")],
                "persistence engine",
            ),
            (vec![("virtual", "198.51.100.10:80"), ("pe", "sip")], "pe needs persistent"),
            (vec![("virtual", "198.51.100.10:80"), ("reals", "203.0.113.2 masq 70000")], "out of range"),
            (vec![("virtual", "198.51.100.10:80"), ("protocol", "icmp")], "not one of"),
            (vec![("virtual", "198.51.100.10:80 x")], "blanks"),
            (vec![("virtual", "198.51.100.10:99999")], "out of range"),
            (vec![("virtual", "198.51.100.10:80"), ("sync_daemon", "master")], "sync_interface"),
            (vec![("virtual", "198.51.100.10:80"), ("sync_daemon", "primary")], "not one of"),
            (
                vec![("virtual", "198.51.100.10:80"), ("sync_daemon", "master"), ("sync_interface", "a/b")],
                "not an interface",
            ),
            (
                vec![
                    ("virtual", "198.51.100.10:80"),
                    ("sync_daemon", "master"),
                    ("sync_interface", "eth0"),
                    ("syncid", "256"),
                ],
                "out of range",
            ),
            (vec![("rules_file", "relative.rules")], "absolute"),
            (vec![("rules_file", "/x"), ("reals", "203.0.113.2")], "cannot be used with rules_file"),
        ] {
            let e = cfg(&pairs).expect_err(needle);
            assert_eq!(e.code, OcfCode::ErrConfigured, "{pairs:?}: {}", e.reason);
            assert!(e.reason.contains(needle), "{pairs:?}: {}", e.reason);
        }
    }

    #[test]
    fn names_that_do_not_resolve_are_node_local() {
        let e = cfg(&[("virtual", "nowhere.invalid:80")]).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrArgs, "{}", e.reason);
        let e = cfg(&[("virtual", "198.51.100.10:80"), ("reals", "nowhere.invalid masq")]).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrArgs, "{}", e.reason);
        // Stop still knows the service.
        let c = Config::from_params_with(
            &params(&[("virtual", "198.51.100.10:80"), ("reals", "nowhere.invalid masq")]),
            &ctx(Action::Stop),
            &Names,
        )
        .unwrap();
        assert!(c.desired.is_none());
        assert_eq!(c.key, Some(ServiceKey::tcp(ip("198.51.100.10"), 80)));
        assert!(c.spec().is_err());
    }

    #[test]
    fn sync_daemon_roles() {
        let c = cfg(&[
            ("virtual", "198.51.100.10:80"),
            ("sync_daemon", "both"),
            ("sync_interface", "eth1"),
            ("syncid", "7"),
        ])
        .unwrap();
        assert_eq!(
            c.sync,
            Some(SyncConfig {
                roles: vec![DaemonState::Master, DaemonState::Backup],
                interface: "eth1".into(),
                syncid: 7
            })
        );
    }

    #[test]
    fn rules_files() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.rules");
        std::fs::write(
            &one,
            "-A -t 198.51.100.252:http -s wrr\n\
             -a -t 198.51.100.252:http -r 198.51.100.252:http -m -w 3\n\
             -a -t 198.51.100.252:http -r 203.0.113.254:http -m -w 3\n\
             -a -t 198.51.100.252:http -r 203.0.113.247:http -m -w 1\n",
        )
        .unwrap();
        let path = one.to_str().unwrap();
        let c = cfg(&[("rules_file", path)]).unwrap();
        assert_eq!(c.spec().unwrap().dests.len(), 3);
        assert_eq!(c.source, Source::RulesFile(one.clone()));
        let two = dir.path().join("two.rules");
        std::fs::write(&two, "-A -t 198.51.100.1:80 -s rr\n-A -u 198.51.100.1:53 -s rr\n-a -u 198.51.100.1:53 -r 203.0.113.9 -g\n")
            .unwrap();
        let path2 = two.to_str().unwrap();
        let e = cfg(&[("rules_file", path2)]).unwrap_err();
        assert!(
            e.reason.contains("2 virtual services") && e.reason.contains("UDP 198.51.100.1:53"),
            "{}",
            e.reason
        );
        let c = cfg(&[("rules_file", path2), ("virtual", "198.51.100.1:53"), ("protocol", "udp")]).unwrap();
        assert_eq!(c.spec().unwrap().dests.len(), 1);
        let e = cfg(&[("rules_file", path2), ("virtual", "198.51.100.1:54")]).unwrap_err();
        assert!(e.reason.contains("has no virtual service"), "{}", e.reason);
        let bad = dir.path().join("bad.rules");
        std::fs::write(&bad, "-A -t 198.51.100.1:80 -s rr\n-a -t 198.51.100.1:80 -r 203.0.113.1 -w x\n")
            .unwrap();
        let e = cfg(&[("rules_file", bad.to_str().unwrap())]).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(e.reason.contains("line 2"), "{}", e.reason);
        let missing = dir.path().join("missing.rules");
        let e = cfg(&[("rules_file", missing.to_str().unwrap())]).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrInstalled, "{}", e.reason);
        // Stop of a missing file goes by the virtual parameter.
        let c = Config::from_params_with(
            &params(&[("rules_file", missing.to_str().unwrap()), ("virtual", "198.51.100.1:80")]),
            &ctx(Action::Stop),
            &Names,
        )
        .unwrap();
        assert_eq!(c.key, Some(ServiceKey::tcp(ip("198.51.100.1"), 80)));
    }

    #[test]
    fn warnings_for_odd_but_valid_services() {
        let c = cfg(&[("virtual", "198.51.100.10:80")]).unwrap();
        assert!(c.warnings[0].contains("no real servers"));
        let c = cfg(&[("virtual", "198.51.100.10:80"), ("reals", "203.0.113.2 masq 0")]).unwrap();
        assert!(c.warnings[0].contains("weight 0"));
    }
}
