//! Finding the server and connecting to it from loopback, both within the deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, sockopt};

use super::error::HttpError;
use super::url::Url;

/// The address to connect to. A host name is looked up on a thread of its own, waited for
/// only until `deadline`: a hung resolver must not make the monitor overrun its timeout.
pub(super) fn resolve(url: &Url, ipv6: bool, deadline: Instant) -> Result<SocketAddr, HttpError> {
    if url.host.eq_ignore_ascii_case("localhost") {
        let ip: IpAddr = if ipv6 { Ipv6Addr::LOCALHOST.into() } else { Ipv4Addr::LOCALHOST.into() };
        return Ok(SocketAddr::new(ip, url.port));
    }
    if let Ok(ip) = url.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, url.port));
    }
    let (host, port) = (url.host.clone(), url.port);
    let limit = deadline.saturating_duration_since(Instant::now());
    let addrs: Vec<SocketAddr> = ocf_shim::deadline::on_thread_within(limit, move || {
        (host.as_str(), port).to_socket_addrs().map(Vec::from_iter)
    })
    .ok_or_else(|| HttpError::Resolve(format!("{}: no answer within the operation's timeout", url.host)))?
    .map_err(|e| HttpError::Resolve(format!("{}: {e}", url.host)))?;
    addrs
        .iter()
        .find(|a| a.is_ipv6() == ipv6)
        .or(addrs.first())
        .copied()
        .ok_or_else(|| HttpError::Resolve(url.host.clone()))
}

/// Connect from the loopback address of `addr`'s family, within the deadline.
pub(super) fn connect(addr: SocketAddr, deadline: Instant, started: Instant) -> Result<TcpStream, HttpError> {
    let fail = |reason: String| HttpError::Connect { addr: addr.to_string(), reason };
    let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)
        .map_err(|e| fail(e.desc().to_string()))?;
    let bound = match addr {
        SocketAddr::V4(a) => socket::bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        )
        .and_then(|_| socket::connect(fd.as_raw_fd(), &SockaddrIn::from(a))),
        SocketAddr::V6(a) => socket::bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(std::net::SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0)),
        )
        .and_then(|_| socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(a))),
    };
    match bound {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HttpError::Timeout {
                    during: "connecting",
                    waited: started.elapsed().as_secs_f64(),
                });
            }
            let ms = left.as_millis().clamp(1, 60_000) as u16;
            let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(&fd), PollFlags::POLLOUT)];
            match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => break,
                Err(e) => return Err(fail(e.desc().to_string())),
            }
        },
        Err(Errno::EINVAL) | Err(Errno::ENETUNREACH) | Err(Errno::EADDRNOTAVAIL) => {
            return Err(fail("the address is not local to this node (checks come from loopback)".into()));
        }
        Err(e) => return Err(fail(e.desc().to_string())),
    }
    match socket::getsockopt(&fd, sockopt::SocketError) {
        Ok(0) => {}
        Ok(errno) => {
            let e = Errno::from_raw(errno);
            let reason = match e {
                Errno::EINVAL | Errno::ENETUNREACH => {
                    "the address is not local to this node (checks come from loopback)".into()
                }
                e => e.desc().to_lowercase(),
            };
            return Err(fail(reason));
        }
        Err(e) => return Err(fail(e.desc().to_string())),
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(false).map_err(|e| fail(e.to_string()))?;
    Ok(stream)
}
