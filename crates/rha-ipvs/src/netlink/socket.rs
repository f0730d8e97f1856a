//! A blocking generic netlink socket: send requests (one or many in one
//! `sendmsg`), then walk the replies message by message.
//!
//! Agents run for milliseconds and must not hang, so the socket has a
//! receive timeout; everything is synchronous (no async runtime).

use std::io;
use std::time::Duration;

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NetlinkBuffer};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use crate::error::{Error, Result};

/// How long to wait for the kernel before giving up. The kernel answers
/// IPVS requests synchronously, so hitting this means something is wrong.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// Receive buffer we ask for: a batch's acknowledgements must all fit, or
/// the kernel drops them (each ack costs ~1 KiB of buffer accounting).
const WANT_RCVBUF: usize = 1 << 20;

/// Largest datagram we read; kernel dump skbs are at most 32 KiB.
const RX_SIZE: usize = 64 * 1024;

/// One message of a received datagram, as the transport sees it.
#[derive(Debug)]
pub(crate) enum Reply<'a> {
    /// A data message (the whole netlink message, header included).
    Data(&'a [u8]),
    /// An acknowledgement: 0 for success or a positive errno.
    Ack(i32),
    /// End of a dump: 0, or a positive errno if the dump failed.
    Done(i32),
}

/// Blocking netlink socket with sequence numbers.
pub(crate) struct Transport {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
}

impl Transport {
    /// Opens and binds a `NETLINK_GENERIC` socket.
    pub fn open() -> Result<Transport> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Acks without the echoed request keep batches small; optional.
        let _ = sock.set_cap_ack(true);
        // Room for a batch's acks. SO_RCVBUFFORCE works for root (agents
        // run as root); otherwise fall back to what rmem_max allows.
        if setsockopt(&sock, sockopt::RcvBufForce, &WANT_RCVBUF).is_err() {
            let _ = setsockopt(&sock, sockopt::RcvBuf, &WANT_RCVBUF);
        }
        let tv = TimeVal::new(RECV_TIMEOUT.as_secs() as _, 0);
        setsockopt(&sock, sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)?;
        Ok(Transport {
            sock,
            // Start somewhere other than 0 so stray replies are easy to tell.
            seq: std::process::id().wrapping_mul(1000),
            rx: Vec::with_capacity(RX_SIZE),
        })
    }

    /// Allocates the next sequence number.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends one or more serialized messages in a single `sendmsg`.
    pub fn send(&self, buf: &[u8]) -> Result<()> {
        let n = self.sock.send(buf, 0)?;
        if n != buf.len() {
            return Err(Error::Io(io::Error::other(format!(
                "short netlink send: {n} of {} bytes",
                buf.len()
            ))));
        }
        Ok(())
    }

    /// Reads datagrams and hands each message (with its sequence number) to
    /// `f`, until `f` returns `Ok(true)`.
    pub fn recv_until(&mut self, mut f: impl FnMut(u32, Reply<'_>) -> Result<bool>) -> Result<()> {
        loop {
            self.rx.clear();
            let n = match self.sock.recv(&mut self.rx, libc::MSG_TRUNC) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no reply from the kernel within {RECV_TIMEOUT:?}"),
                    )));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Io(io::Error::new(
                        e.kind(),
                        "netlink receive buffer overrun: kernel replies were lost",
                    )));
                }
                Err(e) => return Err(Error::Io(e)),
            };
            if n > self.rx.len() {
                return Err(Error::Decode(format!(
                    "netlink datagram of {n} bytes truncated to {}",
                    self.rx.len()
                )));
            }
            let mut off = 0;
            while off < n {
                let data = &self.rx[off..n];
                let nb = NetlinkBuffer::new_checked(data)
                    .map_err(|e| Error::Decode(format!("bad netlink header: {e}")))?;
                let len = nb.length() as usize;
                if len < 16 || len > data.len() {
                    return Err(Error::Decode(format!("bad netlink message length {len}")));
                }
                let seq = nb.sequence_number();
                let kind = nb.message_type();
                let msg = &data[..len];
                let payload = &msg[16..];
                let reply = match kind {
                    NLMSG_NOOP => None,
                    NLMSG_OVERRUN => {
                        return Err(Error::Decode("netlink overrun".into()));
                    }
                    NLMSG_ERROR => Some(Reply::Ack(read_code(payload)?)),
                    NLMSG_DONE => Some(Reply::Done(if payload.len() >= 4 { read_code(payload)? } else { 0 })),
                    _ => Some(Reply::Data(msg)),
                };
                if let Some(r) = reply {
                    if f(seq, r)? {
                        return Ok(());
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }
}

/// Reads the (negative) errno at the start of an error/done payload and
/// returns it positive.
fn read_code(payload: &[u8]) -> Result<i32> {
    let raw: [u8; 4] = payload
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Decode("short netlink error message".into()))?;
    Ok(i32::from_ne_bytes(raw).wrapping_neg())
}
