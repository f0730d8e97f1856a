//! The IPVS object model: virtual services, real servers (destinations),
//! statistics, timeouts, sync daemons.
//!
//! These types are what the netlink client reads and writes, what the
//! planner compares, and what the `ipvsadm-save` text maps to. They carry
//! kernel semantics (e.g. the persistence netmask of an IPv6 service is a
//! prefix length, because that is what the kernel stores).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `AF_INET` as the kernel puts it on the wire.
pub const AF_INET: u16 = libc::AF_INET as u16;
/// `AF_INET6` as the kernel puts it on the wire.
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

/// Persistence timeout ipvsadm 1.31 uses for `-p` without a value (seconds).
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;
/// Scheduler ipvsadm uses when `-s` is not given.
pub const DEFAULT_SCHEDULER: &str = "wlc";

/// Address family of a service or destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The `AF_*` number used on the wire.
    pub fn af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    /// Family for an `AF_*` number, if it is one IPVS knows.
    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }

    /// Family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// Transport protocol of an address-based virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (`-t`).
    Tcp,
    /// UDP (`-u`).
    Udp,
    /// SCTP (`--sctp-service`).
    Sctp,
}

impl Protocol {
    /// IP protocol number (`IPPROTO_*`).
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => libc::IPPROTO_TCP as u16,
            Protocol::Udp => libc::IPPROTO_UDP as u16,
            Protocol::Sctp => libc::IPPROTO_SCTP as u16,
        }
    }

    /// Protocol for an `IPPROTO_*` number.
    pub fn from_number(n: u16) -> Option<Protocol> {
        match i32::from(n) {
            libc::IPPROTO_TCP => Some(Protocol::Tcp),
            libc::IPPROTO_UDP => Some(Protocol::Udp),
            libc::IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lower-case name as used in `/etc/services`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// A protocol/address/port service (`-t`, `-u`, `--sctp-service`).
    Addr {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual IP address.
        addr: IpAddr,
        /// Virtual port (0 only for persistent "all ports" services).
        port: u16,
    },
    /// A firewall-mark service (`-f`, with `-6` for IPv6).
    Fwmark {
        /// The netfilter mark (never 0).
        mark: u32,
        /// Address family the mark applies to.
        family: Family,
    },
}

impl ServiceKey {
    /// Shorthand for a TCP service.
    pub fn tcp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr { protocol: Protocol::Tcp, addr, port }
    }

    /// Shorthand for a UDP service.
    pub fn udp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr { protocol: Protocol::Udp, addr, port }
    }

    /// Address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// Virtual port; 0 for fwmark services.
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }

    /// True for firewall-mark services.
    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceKey::Fwmark { .. })
    }
}

impl fmt::Display for ServiceKey {
    /// Formats like `ipvsadm -L -n` does: `TCP  10.0.0.1:80`, `FWM  5 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { protocol, addr, port } => {
                write!(f, "{protocol} {}", SockAddrText(*addr, *port))
            }
            ServiceKey::Fwmark { mark, family } => match family {
                Family::Inet => write!(f, "FWM {mark}"),
                Family::Inet6 => write!(f, "FWM {mark} IPv6"),
            },
        }
    }
}

/// Formats `addr:port` with brackets around IPv6 addresses.
pub(crate) struct SockAddrText(pub IpAddr, pub u16);

impl fmt::Display for SockAddrText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{}]:{}", crate::addr::ipv6_to_string(&a), self.1),
        }
    }
}

/// Virtual service flags (`IP_VS_SVC_F_*`).
///
/// The kernel's own `HASHED` bit is dropped when a service is read, so that
/// a service read back compares equal to the one that was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// Persistent service (`-p`).
    pub const PERSISTENT: u32 = 0x0001;
    /// Kernel-internal: the service is in the hash table.
    pub const HASHED: u32 = 0x0002;
    /// One-packet scheduling (`-o`, UDP only).
    pub const ONEPACKET: u32 = 0x0004;
    /// Scheduler flag 1 (`flag-1`; `sh-fallback` for sh, `mh-fallback` for mh).
    pub const SCHED1: u32 = 0x0008;
    /// Scheduler flag 2 (`flag-2`; `sh-port` for sh, `mh-port` for mh).
    pub const SCHED2: u32 = 0x0010;
    /// Scheduler flag 3 (`flag-3`).
    pub const SCHED3: u32 = 0x0020;
    /// All scheduler flags.
    pub const SCHED_MASK: u32 = Self::SCHED1 | Self::SCHED2 | Self::SCHED3;

    /// True if every bit of `bits` is set.
    pub fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// Sets or clears `bits`.
    pub fn set(&mut self, bits: u32, on: bool) {
        if on {
            self.0 |= bits;
        } else {
            self.0 &= !bits;
        }
    }
}

/// Persistence granularity: which client addresses share a persistent
/// template. IPv4 services use a mask, IPv6 services a prefix length
/// (that is how the kernel stores it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// IPv4 netmask, e.g. 255.255.255.0.
    V4(Ipv4Addr),
    /// IPv6 prefix length, 1..=128.
    V6(u8),
}

impl Netmask {
    /// The default (one client address per template) for a family.
    pub fn host(family: Family) -> Netmask {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Netmask::V6(128),
        }
    }

    /// The 4 bytes the kernel's `IPVS_SVC_ATTR_NETMASK` carries: the mask in
    /// network order for IPv4; for IPv6 the prefix length as a host-order u32
    /// (the kernel reads the attribute raw and compares it with 128).
    pub(crate) fn to_wire(self) -> [u8; 4] {
        match self {
            Netmask::V4(m) => m.octets(),
            Netmask::V6(p) => u32::from(p).to_ne_bytes(),
        }
    }

    pub(crate) fn from_wire(family: Family, raw: [u8; 4]) -> Netmask {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::from(raw)),
            Family::Inet6 => Netmask::V6(u32::from_ne_bytes(raw).min(255) as u8),
        }
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::V4(m) => write!(f, "{m}"),
            Netmask::V6(p) => write!(f, "{p}"),
        }
    }
}

/// A virtual service and its settings (without statistics).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// What identifies the service.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wrr`, `lc`, `wlc`, `sh`, `mh`, ...).
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` flags (persistence, one-packet, scheduler flags).
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (meaningful when persistent).
    pub timeout: u32,
    /// Persistence granularity (meaningful when persistent).
    pub netmask: Netmask,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: scheduler `wlc`, not persistent.
    pub fn new(key: ServiceKey) -> Service {
        Service {
            key,
            scheduler: DEFAULT_SCHEDULER.to_string(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: Netmask::host(key.family()),
            pe_name: None,
        }
    }

    /// Sets the scheduler (builder style).
    pub fn with_scheduler(mut self, name: &str) -> Service {
        self.scheduler = name.to_string();
        self
    }

    /// Makes the service persistent with this timeout (builder style).
    pub fn with_persistence(mut self, timeout: u32) -> Service {
        self.flags.set(ServiceFlags::PERSISTENT, true);
        self.timeout = timeout;
        self
    }

    /// True if `-p` is in effect.
    pub fn is_persistent(&self) -> bool {
        self.flags.contains(ServiceFlags::PERSISTENT)
    }
}

/// Forwarding method of a real server (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forward {
    /// NAT / masquerading (`-m`).
    Masq,
    /// Local node (kernel-internal; ipvsadm shows it as `-g`).
    Local,
    /// IP-in-IP or other encapsulation (`-i`).
    Tunnel,
    /// Direct routing / gatewaying (`-g`, ipvsadm's default).
    DirectRoute,
    /// Cache bypass (kernel-internal).
    Bypass,
}

impl Forward {
    /// The `IP_VS_CONN_F_*` number.
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::DirectRoute => 3,
            Forward::Bypass => 4,
        }
    }

    /// Forwarding method for the low bits of a connection-flags word.
    pub fn from_number(n: u32) -> Option<Forward> {
        match n & 0x7 {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::DirectRoute),
            4 => Some(Forward::Bypass),
            _ => None,
        }
    }

    /// Word used in human messages (same as `ipvsadm -L`).
    pub fn name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::DirectRoute => "Route",
            Forward::Bypass => "Bypass",
        }
    }
}

/// Encapsulation of a tunnelling real server (kernel 5.2+).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// IP-in-IP (the default and the only type before kernel 5.2).
    #[default]
    Ipip,
    /// Generic UDP Encapsulation (needs a port).
    Gue,
    /// GRE.
    Gre,
}

impl TunnelType {
    /// `IP_VS_CONN_F_TUNNEL_TYPE_*` number.
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }

    /// Tunnel type for its number.
    pub fn from_number(n: u8) -> Option<TunnelType> {
        match n {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }

    /// Name as ipvsadm spells it.
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

/// Checksum mode of a GUE/GRE tunnel (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelCsum {
    /// No checksum (`--tun-nocsum`).
    #[default]
    NoCsum,
    /// Checksum (`--tun-csum`).
    Csum,
    /// Remote checksum offload (`--tun-remcsum`).
    RemCsum,
}

impl TunnelCsum {
    /// Flag bits for the kernel.
    pub fn bits(self) -> u16 {
        match self {
            TunnelCsum::NoCsum => 0,
            TunnelCsum::Csum => 1,
            TunnelCsum::RemCsum => 2,
        }
    }

    /// Mode for kernel flag bits (remote checksum wins if both are set).
    pub fn from_bits(b: u16) -> TunnelCsum {
        if b & 2 != 0 {
            TunnelCsum::RemCsum
        } else if b & 1 != 0 {
            TunnelCsum::Csum
        } else {
            TunnelCsum::NoCsum
        }
    }

    /// ipvsadm option spelling.
    pub fn option(self) -> &'static str {
        match self {
            TunnelCsum::NoCsum => "--tun-nocsum",
            TunnelCsum::Csum => "--tun-csum",
            TunnelCsum::RemCsum => "--tun-remcsum",
        }
    }
}

/// Tunnel settings of a real server; only used with [`Forward::Tunnel`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Encapsulation.
    pub kind: TunnelType,
    /// Destination UDP port for GUE (0 otherwise).
    pub port: u16,
    /// Checksum mode for GUE/GRE.
    pub csum: TunnelCsum,
}

/// What identifies a real server inside a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestKey {
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SockAddrText(self.addr, self.port).fmt(f)
    }
}

/// A real server (destination) and its settings (without counters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    /// Real server address (may differ in family from the service only for tunnels).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Forward,
    /// Scheduling weight; 0 means quiesced (no new connections).
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub u_threshold: u32,
    /// Lower connection threshold (0 = none).
    pub l_threshold: u32,
    /// Tunnel settings (ignored unless `forward` is [`Forward::Tunnel`]).
    pub tunnel: Tunnel,
}

impl Dest {
    /// A real server with ipvsadm's defaults: direct routing, weight 1.
    pub fn new(addr: IpAddr, port: u16) -> Dest {
        Dest {
            addr,
            port,
            forward: Forward::DirectRoute,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// Sets the forwarding method (builder style).
    pub fn with_forward(mut self, forward: Forward) -> Dest {
        self.forward = forward;
        self
    }

    /// Sets the weight (builder style).
    pub fn with_weight(mut self, weight: u32) -> Dest {
        self.weight = weight;
        self
    }

    /// Identity of this real server within its service.
    pub fn key(&self) -> DestKey {
        DestKey { addr: self.addr, port: self.port }
    }
}

/// Traffic counters and rates of a service or real server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Incoming packets.
    pub inpkts: u64,
    /// Outgoing packets.
    pub outpkts: u64,
    /// Incoming bytes.
    pub inbytes: u64,
    /// Outgoing bytes.
    pub outbytes: u64,
    /// Connections per second (rate estimate).
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// A virtual service as read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// Settings.
    pub service: Service,
    /// Counters (64-bit ones when the kernel provides them).
    pub stats: Stats,
}

/// A real server as read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestEntry {
    /// Settings.
    pub dest: Dest,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
    /// Persistent-template connections.
    pub persist_conns: u32,
    /// Counters.
    pub stats: Stats,
}

/// Connection timeouts (`ipvsadm --set tcp tcpfin udp`), in seconds.
///
/// When setting, 0 leaves that timeout unchanged (kernel semantics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Established TCP sessions.
    pub tcp: u32,
    /// TCP sessions after FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// Role of a connection-sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaemonState {
    /// Sends connection state (`--start-daemon master`).
    Master,
    /// Receives connection state (`--start-daemon backup`).
    Backup,
}

impl DaemonState {
    /// `IP_VS_STATE_*` number.
    pub fn number(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }

    /// State for its number.
    pub fn from_number(n: u32) -> Option<DaemonState> {
        match n {
            1 => Some(DaemonState::Master),
            2 => Some(DaemonState::Backup),
            _ => None,
        }
    }

    /// `master` or `backup`.
    pub fn name(self) -> &'static str {
        match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        }
    }
}

/// A connection-sync daemon. Optional fields left `None` take the kernel's
/// defaults when starting (max length 1472, group 224.0.0.81 or ff02::81,
/// port 8848, TTL 1); a daemon read back has them all filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
    /// Master or backup.
    pub state: DaemonState,
    /// Interface for the multicast traffic.
    pub mcast_ifn: String,
    /// Sync ID (0..=255; 0 accepts any on a backup).
    pub sync_id: u32,
    /// Maximum sync message payload.
    pub sync_maxlen: Option<u16>,
    /// Multicast group.
    pub mcast_group: Option<IpAddr>,
    /// Multicast UDP port.
    pub mcast_port: Option<u16>,
    /// Multicast TTL.
    pub mcast_ttl: Option<u8>,
}

impl Daemon {
    /// A daemon with kernel defaults for the optional settings.
    pub fn new(state: DaemonState, mcast_ifn: &str, sync_id: u32) -> Daemon {
        Daemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}

/// General IPVS information (`IPVS_CMD_GET_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// Version code, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP Virtual Server version {}.{}.{} (size={})",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
            self.conn_tab_size
        )
    }
}

/// Puts an address into the 16-byte `union nf_inet_addr` layout the kernel
/// uses (IPv4 in the first 4 bytes, the rest zero).
pub(crate) fn addr_to_union(addr: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out = a.octets(),
    }
    out
}

/// Reads an address out of the `union nf_inet_addr` layout.
pub(crate) fn addr_from_union(family: Family, raw: &[u8; 16]) -> IpAddr {
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::from(*raw)),
    }
}
