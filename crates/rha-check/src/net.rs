//! Sockets for checks: TCP connect and UDP, from a chosen source address when asked.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::spec::Target;

/// Connects to the target over TCP (bound to its source address when set). The caller bounds
/// the time.
pub async fn connect_tcp(target: &Target) -> io::Result<TcpStream> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(source) = target.source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
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
