//! One modification of the kernel's IPVS state. The planner produces these
//! and [`crate::Ipvs::apply`] sends them, many per `sendmsg`.

use std::fmt;

use crate::types::{Daemon, DaemonState, Dest, DestKey, Forward, Service, ServiceKey, Timeouts};

/// A single IPVS modification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create a virtual service (`ipvsadm -A`).
    AddService(Service),
    /// Replace a virtual service's settings (`ipvsadm -E`).
    EditService(Service),
    /// Delete a virtual service and its real servers (`ipvsadm -D`).
    DelService(ServiceKey),
    /// Add a real server (`ipvsadm -a`).
    AddDest(ServiceKey, Dest),
    /// Replace a real server's settings (`ipvsadm -e`).
    EditDest(ServiceKey, Dest),
    /// Remove a real server (`ipvsadm -d`).
    DelDest(ServiceKey, DestKey),
    /// Remove every service (`ipvsadm -C`).
    Flush,
    /// Zero counters of one service, or of all (`ipvsadm -Z`).
    Zero(Option<ServiceKey>),
    /// Set connection timeouts; zero fields stay unchanged (`ipvsadm --set`).
    SetTimeouts(Timeouts),
    /// Start a sync daemon (`ipvsadm --start-daemon`).
    StartDaemon(Daemon),
    /// Stop a sync daemon (`ipvsadm --stop-daemon`).
    StopDaemon(DaemonState),
}

pub(crate) fn describe_dest(d: &Dest) -> String {
    let mut s = format!("{} weight {}", d.forward.name(), d.weight);
    if d.u_threshold != 0 || d.l_threshold != 0 {
        s.push_str(&format!(" thresholds {}/{}", d.u_threshold, d.l_threshold));
    }
    if d.forward == Forward::Tunnel {
        s.push_str(&format!(" tunnel {}", d.tunnel.kind.name()));
        if d.tunnel.port != 0 {
            s.push_str(&format!(":{}", d.tunnel.port));
        }
    }
    s
}

pub(crate) fn describe_service(s: &Service) -> String {
    let mut out = format!("{} {}", s.key, s.scheduler);
    if s.is_persistent() {
        out.push_str(&format!(" persistent {}", s.timeout));
    }
    out
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService(s) => write!(f, "add service {}", describe_service(s)),
            Change::EditService(s) => write!(f, "edit service {}", describe_service(s)),
            Change::DelService(k) => write!(f, "delete service {k}"),
            Change::AddDest(k, d) => {
                write!(f, "add real {} to {k} ({})", d.key(), describe_dest(d))
            }
            Change::EditDest(k, d) => {
                write!(f, "edit real {} of {k} ({})", d.key(), describe_dest(d))
            }
            Change::DelDest(k, d) => write!(f, "delete real {d} from {k}"),
            Change::Flush => f.write_str("flush all services"),
            Change::Zero(Some(k)) => write!(f, "zero counters of {k}"),
            Change::Zero(None) => f.write_str("zero all counters"),
            Change::SetTimeouts(t) => {
                write!(f, "set timeouts tcp {} tcpfin {} udp {}", t.tcp, t.tcp_fin, t.udp)
            }
            Change::StartDaemon(d) => {
                write!(f, "start {} sync daemon on {} syncid {}", d.state.name(), d.mcast_ifn, d.sync_id)
            }
            Change::StopDaemon(s) => write!(f, "stop {} sync daemon", s.name()),
        }
    }
}
