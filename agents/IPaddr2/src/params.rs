//! What the agent accepts: the meta-data ([`INFO`]) and the validated [`Config`].
//!
//! Parameter names, defaults and validity rules follow ocf:heartbeat:IPaddr2, so a resource
//! moves from `ocf:heartbeat:IPaddr2` to `ocf:rha:IPaddr2` by changing only the provider.
//! Everything here is syntax: no kernel state is read (that is [`crate::findif`]).

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ocf_shim::params::quote;
use ocf_shim::{ActionSpec, AgentInfo, CloneInfo, Context, OcfError, OcfResult, Parameter, Params};
use rha_net::address::{Family, Lifetime};
use rha_net::arp::GarpForm;
use rha_net::link::IFNAME_MAX;

static PARAMETERS: &[Parameter] = &[
    Parameter::string("ip")
        .short("IPv4 or IPv6 address")
        .long(
            "The virtual address: IPv4 in dotted-quad form (198.51.100.10) or IPv6 \
             (2001:db8::10, written in any valid form; it is used in its canonical RFC 5952 form).",
        )
        .required()
        .unique(),
    Parameter::string("nic").short("Network interface").long(
        "The interface the address is added to. When empty, it is the interface of the most \
             specific route that contains the address (as 'ip route list match'; with several \
             equally good routes on different interfaces, start and validate-all fail and name \
             them: set nic then). An interface that does not exist on a node makes start fail with \
             OCF_ERR_INSTALLED there, so the address runs elsewhere.\n\
             The deprecated form 'eth0:label' sets the label too (see iflabel).",
    ),
    Parameter::string("cidr_netmask").short("CIDR netmask").long(
        "The prefix length (24, not 255.255.255.0; a dotted-quad mask is accepted and converted \
             with a warning). When empty, it is the prefix of the route found for the address.",
    ),
    Parameter::string("broadcast").short("Broadcast address").long(
        "IPv4 broadcast address, or '+' (host bits set) or '-' (host bits cleared). When \
             empty, the broadcast of an existing address in the same subnet on the interface is \
             used, or else the one computed from the prefix (no existing address is needed). \
             /31 and /32 addresses get none.",
    ),
    Parameter::string("iflabel").short("Interface label").long(
        "IPv4 address label, appended to the interface name as NIC:LABEL (shown by ifconfig \
             as an alias interface). NIC:LABEL is at most 15 characters. Ignored for IPv6, which \
             has no labels.",
    ),
    Parameter::boolean("lvs_support")
        .short("Enable support for LVS Direct Routing")
        .long(
            "For an LVS-DR director that is also a real server (IPv4 only): on start the address \
             is taken off the loopback interface (and remembered under /run/rha/IPaddr2/), on \
             stop it is put back on the loopback, so the node still accepts traffic for it but no \
             longer answers ARP for it.",
        )
        .default("false"),
    Parameter::boolean("arp_suppress")
        .short("Suppress ARP for a VIP on the loopback (LVS-DR real server)")
        .long(
            "For the VIP of an LVS direct-routing real server, put on the loopback interface \
             (nic=lo, cidr_netmask=32): on start set net.ipv4.conf.all.arp_ignore=1 and \
             arp_announce=2, so that this node never answers ARP for the VIP and clients keep \
             reaching the director. They are node-wide and stay set after stop. When false, start \
             and validate-all warn if this node would answer ARP for a loopback VIP, naming the \
             interfaces. Only for an address on a loopback interface (IPv4; IPv6 needs nothing).",
        )
        .default("false"),
    Parameter::boolean("lvs_ipv6_addrlabel")
        .short("Enable adding IPv6 address label")
        .long(
            "IPv6 only: give the address an RFC 6724 address label while it is up, so the kernel \
             does not pick it as the source of outgoing connections (needed for LVS-DR health \
             checks of real servers that have the same address on their loopback). Ignored for \
             IPv4. Off by default, as in Debian 12's ocf:heartbeat:IPaddr2 (resource-agents \
             4.12), so that switching the provider changes nothing.",
        )
        .default("false"),
    Parameter::integer("lvs_ipv6_addrlabel_value")
        .short("IPv6 address label value")
        .long("The label used with lvs_ipv6_addrlabel: a value not otherwise used in 'ip addrlabel list'.")
        .default("99"),
    Parameter::string("mac").short("Cluster IP MAC address").long(
        "Cluster-IP clone mode: the multicast MAC address clients send to (first octet odd). \
         Default: derived from md5 of 'ip netmask broadcast' as ocf:heartbeat:IPaddr2 does \
         (IPv6: 33:33 and four octets of it). \
         Neighbours learn it by ARP with clusterip_mac_mangle, else need a static entry.",
    ),
    Parameter::string("clusterip_hash")
        .short("Cluster IP hashing function")
        .long(
            "Accepted for compatibility with ipt_CLUSTERIP configurations. Cluster IP hashes the \
             source address only, so one client always reaches the same node.",
        )
        .default("sourceip-sourceport"),
    Parameter::string("clusterip_firewall")
        .short("Cluster IP firewall backend")
        .long(
            "Cluster-IP clone mode: auto, nft or iptables. Every value programs nftables (package \
             nftables), table 'ip IPaddr2_<address>'.",
        )
        .default("auto"),
    Parameter::string("clusterip_hash_seed").short("Cluster IP hash seed").long(
        "Cluster-IP clone mode: the seed of the source-address hash, decimal or 0x hex. Default: \
         the first 8 hex digits of md5 of 'ip netmask broadcast'; equal on every node.",
    ),
    Parameter::string("clusterip_table")
        .short("Cluster IP iptables table")
        .long("Accepted for compatibility; not used (cluster IP is programmed with nftables).")
        .default("mangle"),
    Parameter::string("clusterip_chain")
        .short("Cluster IP iptables chain")
        .long("Accepted for compatibility; not used (cluster IP is programmed with nftables).")
        .default("PREROUTING"),
    Parameter::boolean("clusterip_mac_mangle")
        .short("Cluster IP ARP MAC rewriting")
        .long(
            "Cluster-IP clone mode: make every ARP packet this node sends for the address carry \
             the cluster MAC (nftables table 'arp IPaddr2_<address>'), so neighbours learn it by \
             ARP. Without it, routers need a static ARP entry with the cluster MAC.",
        )
        .default("false"),
    Parameter::boolean("unique_clone_address")
        .short("Create a unique address for cloned instances")
        .long(
            "For a globally-unique clone: add the clone instance number to the last octet of \
             the (IPv4) address, so every instance manages its own address.",
        )
        .default("false"),
    Parameter::integer("arp_interval")
        .short("ARP packet interval in ms")
        .long(
            "Milliseconds between the gratuitous ARPs (IPv4) or unsolicited Neighbour Advertisements (IPv6).",
        )
        .default("200"),
    Parameter::integer("arp_count")
        .short("ARP packet count sent during initialization")
        .long("How many gratuitous ARPs (IPv4) or unsolicited Neighbour Advertisements (IPv6) start sends.")
        .default("5"),
    Parameter::integer("arp_count_refresh")
        .short("ARP packet count sent during monitoring")
        .long(
            "IPv4: gratuitous ARPs sent again by every monitor of a running address, to repair \
             neighbours' caches after a split brain. 0 sends none.",
        )
        .default("0"),
    Parameter::string("arp_bg").short("ARP from background").long(
        "Send the announcements after the first one from a detached background process, so \
             start returns at once (stop ends it; it also ends by itself when the address goes). \
             Empty means true for IPv4 and false for IPv6.",
    ),
    Parameter::string("arp_sender").short("ARP sender").long(
        "Accepted for compatibility (send_arp, iputils_arping, libnet_arping, ipoibarping). \
             This agent always uses its own built-in sender on a raw packet socket, whatever the \
             value: no external program is run.",
    ),
    Parameter::string("send_arp_opts").short("Options for ARP sender").long(
        "Accepted for compatibility. '-A' makes the gratuitous ARPs ARP replies instead of \
             ARP requests (for switches that only learn from replies); other options are ignored.",
    ),
    Parameter::boolean("flush_routes")
        .short("Flush kernel routing cache on stop")
        .long(
            "Flush the route cache when the address is removed, so local applications stop \
             using cached routes through it at once.",
        )
        .default("false"),
    Parameter::string("run_arping")
        .short("Run duplicate address detection before adding (IPv4)")
        .long(
            "IPv4: probe the network with ARP (RFC 5227) before adding the address; if another \
             host answers for it, start fails. Done on a raw socket, no arping program is needed.",
        )
        .default("false"),
    Parameter::string("nodad")
        .short("Skip IPv6 duplicate address detection")
        .long(
            "IPv6: add the address with the nodad flag. Otherwise start waits (within its \
             timeout) until duplicate address detection has finished, and fails, removing the \
             address, if another node has it.",
        )
        .default("false"),
    Parameter::string("noprefixroute")
        .short("Do not add a prefix route")
        .long("Add the address with the noprefixroute flag: the kernel creates no route for its prefix.")
        .default("false"),
    Parameter::string("preferred_lft")
        .short("IPv6 preferred lifetime")
        .long(
            "IPv6: the preferred lifetime, 'forever' or seconds. 0 makes the address deprecated, \
             so it is never chosen as a source address. Must not be empty.",
        )
        .default("forever"),
    Parameter::string("network_namespace").short("Network namespace").long(
        "Manage the address inside this network namespace (as created by 'ip netns add', \
             i.e. /run/netns/NAME), entered directly by the agent.",
    ),
    Parameter::string("check_link_status")
        .short("Consider the link state")
        .long(
            "When the interface is down (DOWN or LOWERLAYERDOWN), monitor reports the address \
             as not running and start fails with OCF_ERR_INSTALLED, so the address moves to a \
             node whose link works.",
        )
        .default("true"),
    Parameter::string("proto").short("Route protocol for interface detection").long(
        "Only consider routes of this protocol (e.g. kernel) when looking for the interface \
             and prefix, as 'ip route list match ... proto PROTO'.",
    ),
    // The old name of cidr_netmask; honoured when cidr_netmask is empty.
    Parameter::string("netmask").hidden(),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "20s"),
    ActionSpec::new("stop", "20s"),
    ActionSpec::new("status", "20s").interval("10s").depth(0),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("meta-data", "5s"),
    ActionSpec::new("validate-all", "20s"),
];

/// The meta-data.
pub static INFO: AgentInfo = AgentInfo {
    name: "IPaddr2",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages virtual IPv4 and IPv6 addresses (Linux, over netlink)",
    longdesc: "Adds a floating IPv4 or IPv6 address to an interface, announces it to the \
               neighbours (gratuitous ARP, unsolicited Neighbour Advertisements) and removes it \
               again. A drop-in replacement for ocf:heartbeat:IPaddr2 with the same parameters, \
               working through rtnetlink and raw sockets without running any program. \
               As a globally-unique clone with clone-max greater than 1 it runs in cluster-IP mode: \
               every node holds the address, clients send to a multicast MAC, and an \
               nftables hash of the source address makes each instance (one hash bucket) accept \
               its share; use clone-node-max of 2 or more so buckets can move. Or set \
               unique_clone_address to give each instance its own address.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// The broadcast address asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// Empty: an existing address's in the subnet, else computed from the prefix.
    Auto,
    /// `+`: host bits set.
    HostBitsSet,
    /// `-`: host bits cleared.
    HostBitsCleared,
    Address(Ipv4Addr),
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub ip: IpAddr,
    pub family: Family,
    /// The interface, if given (without a `:label` suffix).
    pub nic: Option<String>,
    /// The label suffix (`vip` in `eth0:vip`), IPv4 only.
    pub label: Option<String>,
    /// The prefix length, if given.
    pub netmask: Option<u8>,
    pub broadcast: Broadcast,
    pub lvs_support: bool,
    /// `arp_suppress`: a loopback VIP's node-wide ARP sysctls are set at start.
    pub arp_suppress: bool,
    /// The IPv6 address label to add, if any.
    pub addrlabel: Option<u32>,
    pub arp_interval: Duration,
    pub arp_count: u32,
    pub arp_count_refresh: u32,
    pub arp_bg: bool,
    pub garp_form: GarpForm,
    /// send_arp_opts options we do not implement (logged at start).
    pub ignored_send_arp_opts: Vec<String>,
    pub flush_routes: bool,
    pub run_arping: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
    pub preferred_lft: Lifetime,
    pub network_namespace: Option<String>,
    pub check_link_status: bool,
    /// Route protocol filter for detection.
    pub proto: Option<u8>,
    /// Cluster-IP clone mode: this instance's bucket and the hash.
    pub cluster_ip: Option<ClusterIpSpec>,
    /// Warnings to log when the configuration is used for start or validate-all.
    pub warnings: Vec<String>,
}

impl Config {
    /// `NIC:LABEL` for an address on interface `nic`, IPv4 only.
    pub fn full_label(&self, nic: &str) -> Option<String> {
        match (&self.label, self.family) {
            (Some(l), Family::V4) => Some(format!("{nic}:{l}")),
            _ => None,
        }
    }
}

fn configured(msg: impl Into<String>) -> OcfError {
    OcfError::configured(msg)
}

/// Parse `ip`: strict IPv4 dotted quad when it has no colon, IPv6 otherwise.
pub fn parse_ip(raw: &str) -> OcfResult<IpAddr> {
    let s = raw.trim();
    let ip: IpAddr = if s.contains(':') {
        s.parse::<std::net::Ipv6Addr>().map(IpAddr::V6)
    } else {
        s.parse::<Ipv4Addr>().map(IpAddr::V4)
    }
    .map_err(|_| {
        configured(format!("parameter ip: {} is not a valid IPv4 or IPv6 address", quote(OsStr::new(raw))))
    })?;
    let unusable = match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast() || v6.is_loopback(),
    };
    if unusable {
        return Err(configured(format!("parameter ip: {ip} is not a unicast address")));
    }
    Ok(ip)
}

/// Parse a prefix length or a dotted-quad mask. Returns the prefix and whether it was
/// converted from a dotted quad.
pub fn parse_netmask(raw: &str, family: Family) -> OcfResult<(u8, bool)> {
    let s = raw.trim();
    let bad = || {
        configured(format!(
            "parameter cidr_netmask: {} is not a prefix length 1..{} (or a dotted-quad netmask)",
            quote(OsStr::new(raw)),
            family.max_prefix()
        ))
    };
    let (prefix, converted) = if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        (s.parse::<u8>().map_err(|_| bad())?, false)
    } else if s.contains('.') {
        let mask: Ipv4Addr = s.parse().map_err(|_| bad())?;
        let m = u32::from(mask);
        // Contiguous: the ones are all on the left.
        if m.leading_ones() + m.trailing_zeros() != 32 {
            return Err(configured(format!("parameter cidr_netmask: {s} is not a contiguous netmask")));
        }
        (m.leading_ones() as u8, true)
    } else {
        return Err(bad());
    };
    if prefix < 1 || prefix > family.max_prefix() {
        return Err(bad());
    }
    Ok((prefix, converted))
}

fn valid_label(label: &str) -> bool {
    !label.is_empty() && label.chars().all(|c| c.is_ascii_graphic() && c != '/')
}

impl Config {
    /// Validate the parameters. `clone` is the clone placement, if any.
    pub fn from_params(p: &Params, ctx: &Context) -> OcfResult<Config> {
        let mut warnings = Vec::new();
        let clone = ctx.clone;
        let mut ip = parse_ip(p.required("ip")?)?;

        // Clone handling: unique_clone_address gives every instance its own address; any
        // other multi-instance clone would be cluster-IP mode.
        let unique_clone_address = p.bool("unique_clone_address")?;
        if unique_clone_address {
            if !clone.is_some_and(|c| c.globally_unique) {
                return Err(configured(
                    "unique_clone_address makes sense only with meta globally-unique=true",
                ));
            }
            let IpAddr::V4(v4) = ip else {
                return Err(configured("unique_clone_address supports IPv4 addresses only"));
            };
            let n = clone.map(|c| c.instance).unwrap_or(0);
            let o = v4.octets();
            let last = u32::from(o[3]) + n;
            if last > 254 {
                return Err(configured(format!(
                    "unique_clone_address: {v4} + clone {n} leaves the last octet range"
                )));
            }
            ip = IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last as u8));
        }
        let family = Family::of(&ip);
        // Any other multi-instance clone is cluster-IP mode.
        let cluster_ip = match clone {
            Some(c) if c.clone_max > 1 && !unique_clone_address => {
                Some(ClusterIpSpec::from_params(p, &c, family, &mut warnings)?)
            }
            _ => None,
        };

        // nic, with the deprecated nic:label form.
        let mut label = p.trimmed("iflabel")?.map(str::to_string);
        let nic = match p.trimmed("nic")? {
            None => None,
            Some(n) => {
                let (base, lbl) = match n.split_once(':') {
                    Some((b, l)) => (b, Some(l)),
                    None => (n, None),
                };
                if !rha_net::link::valid_name(base) {
                    return Err(configured(format!(
                        "parameter nic: {} is not a valid interface name",
                        quote(OsStr::new(n))
                    )));
                }
                if let Some(l) = lbl {
                    warnings.push(format!(
                        "nic={n}: the NIC:LABEL form is deprecated, use nic={base} iflabel={l}"
                    ));
                    label = Some(l.to_string());
                }
                Some(base.to_string())
            }
        };
        if let Some(l) = &label {
            if !valid_label(l) {
                return Err(configured(format!(
                    "parameter iflabel: {} is not a valid label",
                    quote(OsStr::new(l))
                )));
            }
            if family == Family::V6 {
                warnings.push(format!("iflabel {l} ignored: IPv6 addresses have no labels"));
                label = None;
            } else if let Some(n) = &nic {
                check_label_length(n, l)?;
            }
        }

        let mask_raw = p.trimmed("cidr_netmask")?.or(p.trimmed("netmask")?);
        let netmask = match mask_raw {
            None => None,
            Some(m) => {
                let (prefix, converted) = parse_netmask(m, family)?;
                if converted {
                    warnings
                        .push(format!("please convert dotted-quad netmask {m} to CIDR notation {prefix}"));
                }
                Some(prefix)
            }
        };
        if ip_is_link_local(&ip) && nic.is_none() {
            return Err(configured(format!("parameter nic is required for the link-local address {ip}")));
        }

        let broadcast = match p.trimmed("broadcast")? {
            None => Broadcast::Auto,
            Some(_) if family == Family::V6 => {
                warnings.push("broadcast ignored: IPv6 has no broadcast".to_string());
                Broadcast::Auto
            }
            Some("+") => Broadcast::HostBitsSet,
            Some("-") => Broadcast::HostBitsCleared,
            Some(b) => Broadcast::Address(b.parse().map_err(|_| {
                configured(format!(
                    "parameter broadcast: {} is not an IPv4 address, '+' or '-'",
                    quote(OsStr::new(b))
                ))
            })?),
        };

        let lvs_support = p.bool("lvs_support")?;
        let arp_suppress = p.bool("arp_suppress")?;
        if lvs_support && clone.is_some_and(|c| c.clone_max > 1) {
            return Err(configured(
                "lvs_support cannot be used in a clone (LVS and load sharing do not go together)",
            ));
        }
        if lvs_support && family == Family::V6 {
            return Err(configured("lvs_support is IPv4 only (use lvs_ipv6_addrlabel for IPv6)"));
        }
        let addrlabel = if family == Family::V6 && p.bool("lvs_ipv6_addrlabel")? {
            Some(p.int::<u32>("lvs_ipv6_addrlabel_value")?.unwrap_or(99))
        } else {
            None
        };

        let arp_interval = p.int_in::<u32>("arp_interval", 1, u32::MAX)?.unwrap_or(200);
        let arp_count = p.int_in::<u32>("arp_count", 1, u32::MAX)?.unwrap_or(5);
        let arp_count_refresh = p.int::<u32>("arp_count_refresh")?.unwrap_or(0);
        let arp_bg = match p.trimmed("arp_bg")? {
            None => family == Family::V4,
            Some(_) => p.bool("arp_bg")?,
        };
        match p.trimmed("arp_sender")? {
            None | Some("send_arp" | "iputils_arping" | "libnet_arping" | "ipoibarping") => {}
            Some(other) => {
                return Err(configured(format!(
                    "parameter arp_sender: {} is not one of send_arp, iputils_arping, libnet_arping, ipoibarping",
                    quote(OsStr::new(other))
                )));
            }
        }
        let mut garp_form = GarpForm::Request;
        let mut ignored_send_arp_opts = Vec::new();
        for opt in p.str_or_empty("send_arp_opts")?.split_whitespace() {
            match opt {
                "-A" => garp_form = GarpForm::Reply,
                "-U" => garp_form = GarpForm::Request,
                other => ignored_send_arp_opts.push(other.to_string()),
            }
        }

        let preferred_lft = match p.raw("preferred_lft") {
            Some(v) if v.is_empty() => {
                return Err(configured("parameter preferred_lft: an empty value is invalid"));
            }
            _ => {
                let s = p.str_or_empty("preferred_lft")?;
                Lifetime::parse(s).ok_or_else(|| {
                    configured(format!(
                        "parameter preferred_lft: {} is not 'forever' or a number of seconds",
                        quote(OsStr::new(s))
                    ))
                })?
            }
        };

        let network_namespace = match p.trimmed("network_namespace")? {
            None => None,
            Some(ns) if rha_net::netns::valid_name(ns) => Some(ns.to_string()),
            Some(ns) => {
                return Err(configured(format!(
                    "parameter network_namespace: {} is not a namespace name",
                    quote(OsStr::new(ns))
                )));
            }
        };

        let proto = match p.trimmed("proto")? {
            None => None,
            Some(name) => Some(rha_net::route::protocol_by_name(name).ok_or_else(|| {
                configured(format!("parameter proto: {} is not a route protocol", quote(OsStr::new(name))))
            })?),
        };

        Ok(Config {
            ip,
            family,
            nic,
            label,
            netmask,
            broadcast,
            lvs_support,
            arp_suppress,
            addrlabel,
            arp_interval: Duration::from_millis(u64::from(arp_interval)),
            arp_count,
            arp_count_refresh,
            arp_bg,
            garp_form,
            ignored_send_arp_opts,
            flush_routes: p.bool("flush_routes")?,
            run_arping: family == Family::V4 && p.bool("run_arping")?,
            nodad: p.bool("nodad")?,
            noprefixroute: p.bool("noprefixroute")?,
            preferred_lft,
            network_namespace,
            check_link_status: p.bool("check_link_status")?,
            proto,
            cluster_ip,
            warnings,
        })
    }
}

/// `NIC:LABEL` must fit in 15 characters (the kernel's IFNAMSIZ).
pub fn check_label_length(nic: &str, label: &str) -> OcfResult<()> {
    let full = format!("{nic}:{label}");
    if full.len() > IFNAME_MAX {
        return Err(configured(format!(
            "interface label {} exceeds the maximum of {IFNAME_MAX} characters",
            ocf_shim::params::quote(std::ffi::OsStr::new(&full))
        )));
    }
    Ok(())
}

fn ip_is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// The cluster-IP part of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterIpSpec {
    /// `clone-max`: the number of buckets.
    pub total: u32,
    /// This instance's bucket, 1-based (`clone` + 1).
    pub bucket: u32,
    /// `mac`, if given (else derived at start).
    pub mac: Option<[u8; 6]>,
    /// `clusterip_hash_seed`, if given (else derived at start).
    pub seed: Option<u32>,
    /// `clusterip_mac_mangle`: the node's ARP for the address carries the cluster MAC.
    pub mac_mangle: bool,
}

impl ClusterIpSpec {
    /// The cluster-IP parameters of a clone with more than one instance.
    pub fn from_params(
        p: &Params,
        clone: &CloneInfo,
        family: Family,
        warnings: &mut Vec<String>,
    ) -> OcfResult<ClusterIpSpec> {
        let configured = |m: String| OcfError::configured(m);
        if !clone.globally_unique {
            return Err(configured(format!(
                "cluster-IP clone mode needs meta globally-unique=true: each of the clone-max={} \
                 instances is one hash bucket",
                clone.clone_max
            )));
        }
        if clone.instance >= clone.clone_max {
            return Err(configured(format!(
                "clone instance {} is not below clone-max={}",
                clone.instance, clone.clone_max
            )));
        }
        match p.trimmed("clusterip_firewall")? {
            None | Some("auto" | "nft") => {}
            Some("iptables") => warnings.push(
                "clusterip_firewall=iptables: ocf:rha:IPaddr2 programs cluster IP with nftables \
                 (the same kernel packet path); clusterip_table and clusterip_chain are not used"
                    .into(),
            ),
            Some(other) => {
                return Err(configured(format!(
                    "parameter clusterip_firewall: {} is not auto, nft or iptables",
                    quote(OsStr::new(other))
                )));
            }
        }
        let mac_mangle = p.bool("clusterip_mac_mangle")?;
        if mac_mangle && family == Family::V6 {
            return Err(configured(
                "clusterip_mac_mangle rewrites ARP, IPv4 only: give the routers a static neighbour \
                 entry for an IPv6 cluster IP"
                    .into(),
            ));
        }
        if let Some(h) =
            p.str("clusterip_hash")?.map(str::trim).filter(|h| p.is_set("clusterip_hash") && *h != "sourceip")
        {
            warnings.push(format!(
                "clusterip_hash={h}: cluster IP hashes the source address only (as ocf:heartbeat:IPaddr2 \
                 with nftables does), so one client always reaches the same node"
            ));
        }
        let mac = match p.trimmed("mac")? {
            None => None,
            Some(m) => {
                let mac = parse_mac(m).ok_or_else(|| {
                    configured(format!("parameter mac: {} is not a MAC address", quote(OsStr::new(m))))
                })?;
                if mac[0] & 1 == 0 || mac == [0xff; 6] {
                    return Err(configured(format!(
                        "parameter mac: {m} is not a multicast MAC address (the first octet must be odd)"
                    )));
                }
                Some(mac)
            }
        };
        let seed = match p.trimmed("clusterip_hash_seed")? {
            None => None,
            Some(s) => Some(parse_seed(s).ok_or_else(|| {
                configured(format!(
                    "parameter clusterip_hash_seed: {} is not a 32-bit number (decimal or 0x hex)",
                    quote(OsStr::new(s))
                ))
            })?),
        };
        Ok(ClusterIpSpec { total: clone.clone_max, bucket: clone.instance + 1, mac, seed, mac_mangle })
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *m = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// A 32-bit number, decimal or 0x hex (`clusterip_hash_seed`).
pub fn parse_seed(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf_shim::context::Action;
    use ocf_shim::{CloneInfo, OcfCode};
    use std::time::Instant;

    fn ctx(clone: Option<CloneInfo>) -> Context {
        let mut c = Context::from_env(Action::ValidateAll, &INFO, Instant::now());
        c.clone = clone;
        c
    }

    fn cfg_with(pairs: &[(&str, &str)], clone: Option<CloneInfo>) -> OcfResult<Config> {
        let p =
            Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())));
        Config::from_params(&p, &ctx(clone))
    }

    fn cfg(pairs: &[(&str, &str)]) -> OcfResult<Config> {
        cfg_with(pairs, None)
    }

    fn code(r: OcfResult<Config>) -> OcfCode {
        r.unwrap_err().code
    }

    #[test]
    fn defaults_follow_upstream() {
        let c = cfg(&[("ip", "198.51.100.10")]).unwrap();
        assert_eq!(c.nic, None);
        assert_eq!(c.netmask, None);
        assert_eq!(c.broadcast, Broadcast::Auto);
        assert_eq!(c.arp_interval, Duration::from_millis(200));
        assert_eq!(c.arp_count, 5);
        assert_eq!(c.arp_count_refresh, 0);
        assert!(c.arp_bg, "IPv4 sends in the background by default");
        assert_eq!(c.garp_form, GarpForm::Request);
        assert!(c.check_link_status);
        assert_eq!(c.preferred_lft, Lifetime::Forever);
        assert_eq!(c.addrlabel, None, "address labels are IPv6 only");
        let c6 = cfg(&[("ip", "2001:db8:0:0::10")]).unwrap();
        assert_eq!(c6.ip.to_string(), "2001:db8::10", "canonical form");
        assert!(!c6.arp_bg, "IPv6 announces in the foreground by default");
        // Debian 12's agent (4.12) defaults lvs_ipv6_addrlabel to false.
        assert_eq!(c6.addrlabel, None);
        assert_eq!(
            cfg(&[("ip", "2001:db8::10"), ("lvs_ipv6_addrlabel", "true")]).unwrap().addrlabel,
            Some(99)
        );
        assert_eq!(
            cfg(&[("ip", "2001:db8::10"), ("lvs_ipv6_addrlabel", "true"), ("lvs_ipv6_addrlabel_value", "7")])
                .unwrap()
                .addrlabel,
            Some(7)
        );
    }

    #[test]
    fn ip_validation() {
        assert_eq!(code(cfg(&[])), OcfCode::ErrConfigured);
        for bad in [
            "",
            "x",
            "198.51.100",
            "198.51.100.256",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "ff02::1",
            "fe80::1%eth0",
            "::1",
            "1.2.3.4 5",
        ] {
            assert_eq!(code(cfg(&[("ip", bad)])), OcfCode::ErrConfigured, "{bad}");
        }
        assert!(cfg(&[("ip", " 198.51.100.10 ")]).is_ok(), "surrounding blanks are tolerated");
        assert!(cfg(&[("ip", "127.0.0.2")]).is_ok());
    }

    #[test]
    fn netmasks() {
        assert_eq!(parse_netmask("24", Family::V4).unwrap(), (24, false));
        assert_eq!(parse_netmask("255.255.255.0", Family::V4).unwrap(), (24, true));
        assert_eq!(parse_netmask("255.255.255.255", Family::V4).unwrap(), (32, true));
        assert_eq!(parse_netmask("64", Family::V6).unwrap(), (64, false));
        for bad in ["0", "33", "255.0.255.0", "0.0.0.0", "abc", "-1", "24.5", "0024", "", "255.255.255.0.0"] {
            assert!(parse_netmask(bad, Family::V4).is_err(), "{bad}");
        }
        assert!(parse_netmask("129", Family::V6).is_err());
        let c = cfg(&[("ip", "198.51.100.10"), ("netmask", "26")]).unwrap();
        assert_eq!(c.netmask, Some(26), "legacy netmask alias");
        let c = cfg(&[("ip", "198.51.100.10"), ("netmask", "26"), ("cidr_netmask", "25")]).unwrap();
        assert_eq!(c.netmask, Some(25), "cidr_netmask wins");
        assert!(c.warnings.is_empty());
        assert_eq!(
            cfg(&[("ip", "198.51.100.10"), ("cidr_netmask", "255.255.255.128")]).unwrap().warnings.len(),
            1
        );
    }

    #[test]
    fn nic_and_labels() {
        let c = cfg(&[("ip", "198.51.100.10"), ("nic", "eth0:vip")]).unwrap();
        assert_eq!(c.nic.as_deref(), Some("eth0"));
        assert_eq!(c.label.as_deref(), Some("vip"));
        assert_eq!(c.full_label("eth0").as_deref(), Some("eth0:vip"));
        let c = cfg(&[("ip", "198.51.100.10"), ("nic", "eth0:vip"), ("iflabel", "other")]).unwrap();
        assert_eq!(c.label.as_deref(), Some("vip"), "the label in nic wins, as upstream");
        assert_eq!(
            code(cfg(&[("ip", "198.51.100.10"), ("nic", "eth0"), ("iflabel", "0123456789a")])),
            OcfCode::ErrConfigured
        );
        assert!(
            cfg(&[("ip", "198.51.100.10"), ("nic", "eth0"), ("iflabel", "0123456789")]).is_ok(),
            "exactly 15"
        );
        for bad in ["a/b", "sixteen-chars-xx", "e th0", ".."] {
            assert_eq!(code(cfg(&[("ip", "198.51.100.10"), ("nic", bad)])), OcfCode::ErrConfigured, "{bad}");
        }
        assert_eq!(code(cfg(&[("ip", "198.51.100.10"), ("iflabel", "a b")])), OcfCode::ErrConfigured);
        let c6 = cfg(&[("ip", "2001:db8::10"), ("iflabel", "vip")]).unwrap();
        assert_eq!(c6.label, None);
        assert_eq!(code(cfg(&[("ip", "fe80::10")])), OcfCode::ErrConfigured, "link-local needs nic");
        assert!(cfg(&[("ip", "fe80::10"), ("nic", "eth0")]).is_ok());
    }

    #[test]
    fn broadcasts() {
        let b = |v: &str| cfg(&[("ip", "198.51.100.10"), ("broadcast", v)]).map(|c| c.broadcast);
        assert_eq!(b("+").unwrap(), Broadcast::HostBitsSet);
        assert_eq!(b("-").unwrap(), Broadcast::HostBitsCleared);
        assert_eq!(b("198.51.100.255").unwrap(), Broadcast::Address("198.51.100.255".parse().unwrap()));
        assert_eq!(b("nope").unwrap_err().code, OcfCode::ErrConfigured);
    }

    #[test]
    fn numbers_and_choices() {
        let bad = |k: &str, v: &str| code(cfg(&[("ip", "198.51.100.10"), (k, v)]));
        assert_eq!(bad("arp_interval", "0"), OcfCode::ErrConfigured);
        assert_eq!(bad("arp_count", "0"), OcfCode::ErrConfigured);
        assert_eq!(bad("arp_count", "-3"), OcfCode::ErrConfigured);
        assert_eq!(bad("arp_count_refresh", "x"), OcfCode::ErrConfigured);
        assert_eq!(bad("arp_sender", "fancy"), OcfCode::ErrConfigured);
        assert_eq!(bad("arp_bg", "maybe"), OcfCode::ErrConfigured);
        assert_eq!(bad("preferred_lft", ""), OcfCode::ErrConfigured);
        assert_eq!(bad("preferred_lft", "soon"), OcfCode::ErrConfigured);
        assert_eq!(bad("proto", "nonsense"), OcfCode::ErrConfigured);
        assert_eq!(bad("network_namespace", "a/b"), OcfCode::ErrConfigured);
        for s in ["send_arp", "iputils_arping", "libnet_arping", "ipoibarping"] {
            assert!(cfg(&[("ip", "198.51.100.10"), ("arp_sender", s)]).is_ok());
        }
        let c = cfg(&[("ip", "198.51.100.10"), ("send_arp_opts", "-A -c 3"), ("proto", "kernel")]).unwrap();
        assert_eq!(c.garp_form, GarpForm::Reply);
        assert_eq!(c.ignored_send_arp_opts, vec!["-c", "3"]);
        assert_eq!(c.proto, Some(2));
        assert_eq!(code(cfg(&[("ip", "2001:db8::1"), ("lvs_support", "true")])), OcfCode::ErrConfigured);
        assert!(!cfg(&[("ip", "2001:db8::1"), ("run_arping", "true")]).unwrap().run_arping, "IPv4 only");
    }

    #[test]
    fn clones() {
        let clone = |max, n, unique| {
            Some(CloneInfo { instance: n, clone_max: max, clone_node_max: 1, globally_unique: unique })
        };
        let e = cfg_with(&[("ip", "198.51.100.10")], clone(2, 0, false)).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(e.reason.contains("clone"), "{}", e.reason);
        assert!(
            cfg_with(&[("ip", "198.51.100.10")], clone(1, 0, false)).is_ok(),
            "clone-max=1 is a single address"
        );
        let c = cfg_with(&[("ip", "198.51.100.10"), ("unique_clone_address", "true")], clone(3, 2, true))
            .unwrap();
        assert_eq!(c.ip.to_string(), "198.51.100.12");
        assert_eq!(
            code(cfg_with(&[("ip", "198.51.100.10"), ("unique_clone_address", "true")], clone(3, 2, false))),
            OcfCode::ErrConfigured
        );
        assert_eq!(
            code(cfg(&[("ip", "198.51.100.10"), ("unique_clone_address", "true")])),
            OcfCode::ErrConfigured
        );
    }

    #[test]
    fn cluster_ip_values() {
        assert_eq!(parse_mac("01:00:5e:7f:00:0a"), Some([1, 0, 0x5e, 0x7f, 0, 0x0a]));
        assert_eq!(parse_mac("01:00:5e:7f:00"), None);
        assert_eq!(parse_mac("01:00:5e:7f:00:0g"), None);
        assert_eq!(parse_seed("0x1234abcd"), Some(0x1234abcd));
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed("4294967296"), None);
        assert_eq!(parse_seed("x"), None);
    }
}
