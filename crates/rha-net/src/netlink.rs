//! The rtnetlink socket: sequence numbers, request/acknowledgement and dump plumbing.
//!
//! Every call is synchronous: send one request, read the kernel's answer (one message, an
//! acknowledgement, or a multi-part dump up to `NLMSG_DONE`). The kernel answers rtnetlink
//! requests immediately, so no timeouts are needed.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A failed networking operation: what was being done, and the kernel's (or the socket's) error.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct Error {
    context: String,
    #[source]
    source: io::Error,
}

/// Result of a networking operation.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a description of the operation that failed.
    pub fn new(context: impl Into<String>, source: io::Error) -> Self {
        Error { context: context.into(), source }
    }

    /// The `errno` the kernel answered with, if any (e.g. `libc::EEXIST`).
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    /// Whether the kernel answered with one of `errnos`.
    pub fn is_errno(&self, errnos: &[i32]) -> bool {
        self.errno().is_some_and(|e| errnos.contains(&e))
    }

    /// The underlying I/O error.
    pub fn io(&self) -> &io::Error {
        &self.source
    }

    /// What was being done.
    pub fn context(&self) -> &str {
        &self.context
    }
}

/// Add context to a plain `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(what(), e))
    }
}

/// Largest datagram the kernel sends for rtnetlink dumps is well under this.
const RECV_BUF: usize = 64 * 1024;

/// How often a dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is retried.
const DUMP_RETRIES: usize = 5;

/// An rtnetlink socket bound to the calling thread's network namespace (at open time).
pub struct Netlink {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
}

impl Netlink {
    /// Open an `AF_NETLINK`/`NETLINK_ROUTE` socket connected to the kernel.
    pub fn open() -> Result<Netlink> {
        let what = || "opening rtnetlink socket".to_string();
        let mut sock = Socket::new(NETLINK_ROUTE).ctx(what)?;
        sock.bind_auto().ctx(what)?;
        sock.connect(&SocketAddr::new(0, 0)).ctx(what)?;
        // Extended acknowledgements carry the kernel's error text; nice to have, not needed.
        let _ = sock.set_ext_ack(true);
        // Seed sequence numbers from the pid so concurrent agents' messages never look alike.
        let seq = std::process::id().wrapping_mul(1000);
        Ok(Netlink { sock, seq, rx: Vec::with_capacity(RECV_BUF) })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16, what: &dyn Fn() -> String) -> Result<u32> {
        let seq = self.next_seq();
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let n = self.sock.send(&buf, 0).ctx(what)?;
        if n != buf.len() {
            return Err(Error::new(what(), io::Error::other("short netlink send")));
        }
        Ok(seq)
    }

    /// Read one datagram and hand each netlink message with sequence number `seq` to `each`.
    /// `each` returns `true` once the exchange is complete.
    fn receive(
        &mut self,
        seq: u32,
        what: &dyn Fn() -> String,
        each: &mut dyn FnMut(NetlinkMessage<RouteNetlinkMessage>) -> Result<bool>,
    ) -> Result<bool> {
        self.rx.clear();
        self.rx.reserve(RECV_BUF);
        let n = self.sock.recv(&mut self.rx, libc::MSG_TRUNC).ctx(what)?;
        if n > self.rx.len() {
            return Err(Error::new(what(), io::Error::other("netlink reply truncated")));
        }
        let mut done = false;
        let mut off = 0;
        while off + 16 <= self.rx.len() {
            let len = u32::from_ne_bytes(self.rx[off..off + 4].try_into().expect("4 bytes")) as usize;
            if len < 16 || off + len > self.rx.len() {
                return Err(Error::new(what(), io::Error::other("malformed netlink message")));
            }
            let bytes = &self.rx[off..off + len];
            off += (len + 3) & !3;
            let msg_seq = u32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
            if msg_seq != seq {
                // A late answer to an earlier request: not ours any more.
                continue;
            }
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                .map_err(|e| Error::new(what(), io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
            if let NetlinkPayload::Error(e) = &msg.payload
                && e.code.is_some()
            {
                return Err(Error::new(what(), e.to_io()));
            }
            if each(msg)? {
                done = true;
            }
        }
        Ok(done)
    }

    /// Send a change request (`NEW*`/`DEL*`/`SET*`) with `extra_flags` (e.g. `NLM_F_CREATE |
    /// NLM_F_EXCL`) and wait for the kernel's acknowledgement. `what` describes it for errors.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        extra_flags: u16,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | extra_flags, what)?;
        while !self.receive(seq, what, &mut |m| Ok(matches!(m.payload, NetlinkPayload::Error(_))))? {}
        Ok(())
    }

    /// Send a `GET*` request for one object and return the kernel's answer(s).
    pub fn get(
        &mut self,
        msg: RouteNetlinkMessage,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK, what)?;
        let mut out = Vec::new();
        while !self.receive(seq, what, &mut |m| match m.payload {
            NetlinkPayload::InnerMessage(inner) => {
                out.push(inner);
                Ok(false)
            }
            NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => Ok(true),
            _ => Ok(false),
        })? {}
        Ok(out)
    }

    /// Dump a table (`GET*` with `NLM_F_DUMP`): every object the kernel lists. A dump that a
    /// concurrent change interrupted is repeated.
    pub fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP, what)?;
            let mut out = Vec::new();
            let mut interrupted = false;
            while !self.receive(seq, what, &mut |m| {
                if m.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => {
                        out.push(inner);
                        Ok(false)
                    }
                    NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => Ok(true),
                    _ => Ok(false),
                }
            })? {}
            if !interrupted {
                return Ok(out);
            }
        }
        Err(Error::new(what(), io::Error::other("dump kept being interrupted by concurrent changes")))
    }
}
