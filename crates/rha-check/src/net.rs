//! Sockets for checks: TCP connect and UDP, from a chosen source address when asked.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::spec::Target;

/// Connects to the target over TCP (bound to its source address when set), for a service
/// whose server speaks first (a banner, a greeting). The caller bounds the time. TCP_NODELAY
/// is on: a dialogue's small writes go out at once.
///
/// Every check's connection ends in a reset, not a FIN handshake: `SO_LINGER` {on, 0} makes
/// the close that drops the stream, once the check has its verdict, send one RST and free the
/// socket at once (no FIN/ACK exchange, no TIME_WAIT on either end; HAProxy closes its health
/// checks the same way). Nothing a check proves rests on how the connection ends: the verdict
/// is made before the close, and bytes a check wrote are on the wire when the write returns
/// (TCP_NODELAY, or a first write, which Nagle never holds), so the reset discards nothing
/// unsent that a server should have seen.
pub async fn connect_tcp(target: &Target) -> io::Result<TcpStream> {
    connect(target, false).await
}

/// [`connect_tcp`] for a check whose client speaks first, in one write, and whose server
/// answers in one reply (HTTP, simpletcp, DNS over TCP). The socket is in delayed-ACK mode
/// from the start (TCP_QUICKACK off before the connect), so the handshake's last ACK rides on
/// the request instead of a segment of its own, and the reply is not acknowledged before the
/// reset that ends the check: two segments fewer each way per check. TCP_NODELAY is left off
/// (one syscall fewer): Nagle never holds a connection's first write; a caller that writes
/// more (TLS) sets it itself. Not for a server that speaks first, which would wait for that
/// ACK (up to 200 ms, the kernel's delayed-ACK limit) before its banner, nor for
/// `checktype=connect`, whose server should see the connection completed as ldirectord's does.
pub async fn connect_tcp_client_first(target: &Target) -> io::Result<TcpStream> {
    connect(target, true).await
}

async fn connect(target: &Target, client_first: bool) -> io::Result<TcpStream> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(source) = target.source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.set_zero_linger()?;
    if client_first {
        set_int_option(&socket, libc::IPPROTO_TCP, libc::TCP_QUICKACK, 0)?;
    }
    let stream = socket.connect(target.addr).await?;
    if !client_first {
        stream.set_nodelay(true)?;
    }
    Ok(stream)
}

fn set_int_option(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: setsockopt reads one c_int from a pointer to our local, on a descriptor we own.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A UDP socket connected to the target (so that ICMP port-unreachable comes back as
/// ECONNREFUSED on the next receive).
pub async fn connect_udp(target: &Target) -> io::Result<UdpSocket> {
    let local: SocketAddr = match (target.source, target.addr) {
        (Some(src), _) => SocketAddr::new(src, 0),
        (None, SocketAddr::V4(_)) => "0.0.0.0:0".parse().unwrap(),
        (None, SocketAddr::V6(_)) => "[::]:0".parse().unwrap(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target.addr).await?;
    Ok(socket)
}

/// Fills `buf` from the kernel's random source (getrandom(2)): DNS ids, RADIUS
/// authenticators, SIP branches. Falls back to the clock, which still varies the bytes.
pub fn random_bytes(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: getrandom writes at most buf.len() - filled bytes at buf[filled..].
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n <= 0 {
            break;
        }
        filled += n as usize;
    }
    if filled < buf.len() {
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        for (i, b) in buf[filled..].iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8;
        }
    }
}

/// A random 16-bit value (a DNS query id).
pub fn random_id() -> u16 {
    let mut b = [0u8; 2];
    random_bytes(&mut b);
    u16::from_ne_bytes(b)
}

/// A short reason for a socket error, as the daemon shows it ("connect refused").
pub fn describe_io_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "connect refused".into(),
        Some(libc::ECONNRESET) => "connection reset".into(),
        Some(libc::EHOSTUNREACH) => "host unreachable".into(),
        Some(libc::ENETUNREACH) => "network unreachable".into(),
        Some(libc::EADDRNOTAVAIL) => "source address not available".into(),
        Some(libc::EPIPE) => "connection closed by the server".into(),
        Some(libc::EMFILE) | Some(libc::ENFILE) => "out of file descriptors".into(),
        _ => match e.kind() {
            io::ErrorKind::UnexpectedEof => "connection closed by the server".into(),
            _ => e.to_string(),
        },
    }
}
