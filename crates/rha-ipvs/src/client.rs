//! The blocking IPVS client.

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

use crate::change::Change;
use crate::error::{BatchFailure, Error, Op, Result};
use crate::netlink::attrs::{IpvsAttr, IpvsMessage};
use crate::netlink::consts::*;
use crate::netlink::socket::{Reply, Transport};
use crate::netlink::{daemon, decode, dest, encode, family, request_for, service};
use crate::plan::ServiceSpec;
use crate::types::{
    Daemon, DaemonState, Dest, DestEntry, DestKey, Info, Service, ServiceEntry, ServiceKey, Timeouts,
};

/// Requests per `sendmsg` in [`Ipvs::apply`]. Their acks (about 1 KiB of
/// receive-buffer accounting each) must fit the socket's receive buffer, or
/// the kernel drops them; 128 fits even the default 208 KiB buffer.
const BATCH_CHUNK: usize = 128;

/// A connection to the kernel's IPVS over generic netlink.
///
/// Works in the network namespace of the calling thread. All calls block
/// until the kernel has answered (at most 10 s).
pub struct Ipvs {
    t: Transport,
    family: u16,
}

impl Ipvs {
    /// Opens a generic netlink socket and resolves the "IPVS" family.
    ///
    /// Returns [`Error::NotAvailable`] when the kernel has no IPVS (module
    /// not loaded or not built), which a probe should map to "not running".
    pub fn connect() -> Result<Ipvs> {
        let mut t = Transport::open()?;
        let family = family::resolve(&mut t, IPVS_GENL_NAME)?;
        Ok(Ipvs { t, family })
    }

    /// The generic netlink family id the kernel assigned to IPVS.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info> {
        let msgs = self.request(Op::GetInfo, CMD_GET_INFO, vec![])?;
        let (mut version, mut size) = (None, None);
        for a in msgs.iter().flat_map(|m| m.attrs.iter()) {
            match a {
                IpvsAttr::InfoVersion(v) => version = Some(*v),
                IpvsAttr::InfoConnTabSize(v) => size = Some(*v),
                _ => {}
            }
        }
        match (version, size) {
            (Some(version), Some(conn_tab_size)) => Ok(Info { version, conn_tab_size }),
            _ => Err(Error::Decode("GET_INFO reply without version/size".into())),
        }
    }

    /// Every virtual service, in kernel order.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>> {
        let msgs = self.dump(Op::GetService, CMD_GET_SERVICE, vec![])?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in &msgs {
            for a in &m.attrs {
                if let IpvsAttr::Service(attrs) = a {
                    out.push(service::service_from_attrs(attrs).map_err(decode_err)?);
                }
            }
        }
        Ok(out)
    }

    /// One virtual service, or `None` if the kernel has no such service.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>> {
        let attrs = vec![IpvsAttr::Service(service::key_attrs(key))];
        let msgs = match self.request(Op::GetService, CMD_GET_SERVICE, attrs) {
            Ok(m) => m,
            Err(Error::Kernel { errno, .. }) if errno == libc::ESRCH => return Ok(None),
            Err(e) => return Err(e),
        };
        for m in &msgs {
            for a in &m.attrs {
                if let IpvsAttr::Service(attrs) = a {
                    return Ok(Some(service::service_from_attrs(attrs).map_err(decode_err)?));
                }
            }
        }
        Ok(None)
    }

    /// The real servers of a service, in kernel order. A service that does
    /// not exist has none (the kernel answers an empty dump).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>> {
        let attrs = vec![IpvsAttr::Service(service::key_attrs(key))];
        let msgs = self.dump(Op::GetDests, CMD_GET_DEST, attrs)?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in &msgs {
            for a in &m.attrs {
                if let IpvsAttr::Dest(attrs) = a {
                    out.push(dest::dest_from_attrs(attrs, key.family()).map_err(decode_err)?);
                }
            }
        }
        Ok(out)
    }

    /// A service and its real servers as a [`ServiceSpec`] (for planning),
    /// or `None` if the service does not exist.
    pub fn service_spec(&mut self, key: &ServiceKey) -> Result<Option<ServiceSpec>> {
        let Some(entry) = self.service(key)? else {
            return Ok(None);
        };
        let dests = self.dests(key)?.into_iter().map(|d| d.dest).collect();
        Ok(Some(ServiceSpec { service: entry.service, dests }))
    }

    /// The whole table: every service with its real servers.
    pub fn table(&mut self) -> Result<Vec<ServiceSpec>> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for s in services {
            let dests = self.dests(&s.service.key)?.into_iter().map(|d| d.dest).collect();
            out.push(ServiceSpec { service: s.service, dests });
        }
        Ok(out)
    }

    /// Creates a virtual service.
    pub fn add_service(&mut self, svc: &Service) -> Result<()> {
        self.apply_one(&Change::AddService(svc.clone()))
    }

    /// Replaces a virtual service's settings (scheduler, flags, persistence, pe).
    pub fn edit_service(&mut self, svc: &Service) -> Result<()> {
        self.apply_one(&Change::EditService(svc.clone()))
    }

    /// Deletes a virtual service with its real servers.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<()> {
        self.apply_one(&Change::DelService(*key))
    }

    /// Adds a real server to a service.
    pub fn add_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<()> {
        self.apply_one(&Change::AddDest(*key, dest.clone()))
    }

    /// Replaces a real server's settings (forwarding, weight, thresholds, tunnel).
    pub fn edit_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<()> {
        self.apply_one(&Change::EditDest(*key, dest.clone()))
    }

    /// Removes a real server from a service.
    pub fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<()> {
        self.apply_one(&Change::DelDest(*key, *dest))
    }

    /// Adds many real servers to one service in as few round trips as
    /// possible (see [`Ipvs::apply`]); the counterpart of N `ipvsadm -a`.
    pub fn add_dests(&mut self, key: &ServiceKey, dests: &[Dest]) -> Result<()> {
        let changes: Vec<Change> = dests.iter().map(|d| Change::AddDest(*key, d.clone())).collect();
        self.apply(&changes)
    }

    /// Removes every virtual service (`ipvsadm -C`).
    pub fn flush(&mut self) -> Result<()> {
        self.apply_one(&Change::Flush)
    }

    /// Zeroes the counters of one service, or of all with `None`.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<()> {
        self.apply_one(&Change::Zero(key.copied()))
    }

    /// Current connection timeouts.
    pub fn timeouts(&mut self) -> Result<Timeouts> {
        let msgs = self.request(Op::GetTimeouts, CMD_GET_CONFIG, vec![])?;
        let mut t = Timeouts::default();
        for a in msgs.iter().flat_map(|m| m.attrs.iter()) {
            match a {
                IpvsAttr::TimeoutTcp(v) => t.tcp = *v,
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                IpvsAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Sets connection timeouts; zero fields are left unchanged.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<()> {
        self.apply_one(&Change::SetTimeouts(*t))
    }

    /// Running sync daemons (at most one master and one backup).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>> {
        let msgs = self.dump(Op::GetDaemons, CMD_GET_DAEMON, vec![])?;
        let mut out = Vec::new();
        for a in msgs.iter().flat_map(|m| m.attrs.iter()) {
            if let IpvsAttr::Daemon(attrs) = a {
                out.push(daemon::daemon_from_attrs(attrs).map_err(decode_err)?);
            }
        }
        Ok(out)
    }

    /// Starts a connection sync daemon.
    pub fn start_daemon(&mut self, d: &Daemon) -> Result<()> {
        self.apply_one(&Change::StartDaemon(d.clone()))
    }

    /// Stops the master or backup sync daemon.
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<()> {
        self.apply_one(&Change::StopDaemon(state))
    }

    /// Applies one change and waits for its acknowledgement.
    pub fn apply_one(&mut self, change: &Change) -> Result<()> {
        let (op, cmd, attrs) = request_for(change);
        self.request(op, cmd, attrs).map(|_| ())
    }

    /// Applies many changes, in order, sending up to 128 requests per
    /// `sendmsg` before reading their acknowledgements; every ack is
    /// checked. The kernel carries on after a failed request, so on failure
    /// the others have been applied and [`Error::Batch`] lists the failed
    /// ones (read the table back to see the result).
    pub fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let mut failures = Vec::new();
        for (chunk_no, chunk) in changes.chunks(BATCH_CHUNK).enumerate() {
            let mut buf = Vec::with_capacity(chunk.len() * 192);
            let mut ops = Vec::with_capacity(chunk.len());
            let first = self.t.next_seq();
            for (i, ch) in chunk.iter().enumerate() {
                let seq = if i == 0 { first } else { self.t.next_seq() };
                let (op, cmd, attrs) = request_for(ch);
                ops.push(op);
                buf.extend(encode(self.family, cmd, attrs, NLM_F_REQUEST | NLM_F_ACK, seq));
            }
            self.t.send(&buf)?;
            let mut pending = chunk.len();
            let base = chunk_no * BATCH_CHUNK;
            self.t.recv_until(|seq, reply| {
                let idx = seq.wrapping_sub(first) as usize;
                if idx >= chunk.len() {
                    return Ok(false);
                }
                if let Reply::Ack(errno) = reply {
                    pending -= 1;
                    if errno != 0 {
                        failures.push(BatchFailure {
                            index: base + idx,
                            change: chunk[idx].to_string(),
                            op: ops[idx],
                            errno,
                        });
                    }
                }
                Ok(pending == 0)
            })?;
        }
        if failures.is_empty() { Ok(()) } else { Err(Error::Batch(failures)) }
    }

    /// Sends one request with an ack and collects its replies.
    fn request(&mut self, op: Op, cmd: u8, attrs: Vec<IpvsAttr>) -> Result<Vec<IpvsMessage>> {
        let seq = self.t.next_seq();
        self.t.send(&encode(self.family, cmd, attrs, NLM_F_REQUEST | NLM_F_ACK, seq))?;
        self.collect(op, seq)
    }

    /// Sends a dump request and collects every message up to the end.
    fn dump(&mut self, op: Op, cmd: u8, attrs: Vec<IpvsAttr>) -> Result<Vec<IpvsMessage>> {
        let seq = self.t.next_seq();
        self.t.send(&encode(self.family, cmd, attrs, NLM_F_REQUEST | NLM_F_DUMP, seq))?;
        self.collect(op, seq)
    }

    fn collect(&mut self, op: Op, seq: u32) -> Result<Vec<IpvsMessage>> {
        let mut out = Vec::new();
        let mut failure = None;
        self.t.recv_until(|s, reply| {
            if s != seq {
                return Ok(false);
            }
            match reply {
                Reply::Data(msg) => {
                    out.push(decode(msg).map_err(Error::Decode)?);
                    Ok(false)
                }
                Reply::Ack(0) | Reply::Done(0) => Ok(true),
                Reply::Ack(e) | Reply::Done(e) => {
                    failure = Some(e);
                    Ok(true)
                }
            }
        })?;
        match failure {
            Some(errno) => Err(Error::Kernel { op, errno }),
            None => Ok(out),
        }
    }
}

fn decode_err(e: netlink_packet_core::DecodeError) -> Error {
    Error::Decode(e.to_string())
}
