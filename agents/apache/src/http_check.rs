//! The agent's HTTP(S) client: one GET, from a loopback address, within a deadline.
//!
//! - The socket is bound to 127.0.0.1 (or ::1) before connecting, like upstream's
//!   `curl --interface lo`: a URL that is not local to this node fails instead of reaching
//!   another node (a node without the VIP must never look active).
//! - One deadline bounds everything (connect, TLS handshake, request, every read), so a hung
//!   server (SIGSTOP, a slow page) fails the check in time with a reason instead of the
//!   operation being killed by Pacemaker.
//! - HTTP/1.1 with `Connection: close`; Content-Length, chunked and close-delimited bodies;
//!   up to [`MAX_REDIRECTS`] redirects (curl -L); Basic authentication; no proxies, ever.
//! - HTTPS with rustls (ring). Certificates are not verified unless asked (see the
//!   `tls_verify` parameter): this is a liveness check of our own server over loopback.
//!
//! Why not ureq: binding the source address needs ureq's explicitly unstable transport API,
//! and ureq 3 reads proxy settings from the environment by default. A single GET is small
//! enough to own.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, sockopt};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Largest response header accepted.
const MAX_HEADER: usize = 64 << 10;
/// Body bytes kept for matching; the rest is read and dropped (the regex sees the beginning).
const MAX_BODY: usize = 16 << 20;

/// A failed check, worded for an exit reason.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HttpError {
    #[error("invalid URL {0}")]
    Url(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("timed out after {waited:.1} s {during}")]
    Timeout { during: &'static str, waited: f64 },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(String),
    #[error("invalid HTTP response: {0}")]
    Protocol(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

/// A parsed `http(s)://[user:pass@]host[:port][/path]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Without brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    pub userinfo: Option<(String, String)>,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        // Quoted and cut: the value may be huge, and the reason must stay readable.
        let bad = || HttpError::Url(ocf_shim::params::quote(std::ffi::OsStr::new(s)));
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                (Some((percent_decode(user), percent_decode(pass))), h)
            }
            None => (None, authority),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => {
                    (h.to_string(), if p.is_empty() { default_port } else { p.parse().map_err(|_| bad())? })
                }
                None => (hostport.to_string(), default_port),
            }
        };
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Url { https, host, port, path, userinfo })
    }

    /// `Host:` header value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.https { 443 } else { 80 } { host } else { format!("{host}:{}", self.port) }
    }

    /// A `Location` header resolved against this URL.
    fn join(&self, location: &str) -> Result<Url, HttpError> {
        let l = location.trim();
        if l.contains("://") {
            return Url::parse(l);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = l.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let mut next = self.clone();
        next.path = if l.starts_with('/') {
            l.to_string()
        } else {
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{l}")
        };
        Ok(next)
    }

    pub fn display(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.host_header(), self.path)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How to make the request.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Prefer ::1 (and IPv6 addresses of names).
    pub ipv6: bool,
    /// Verify HTTPS certificates against the system CA bundle.
    pub verify_tls: bool,
    /// Basic authentication (a URL's own user:password wins).
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// The final response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
    /// The URL that gave this response (after redirects).
    pub url: String,
}

/// GET `url`, following redirects, before `deadline`.
pub fn get(url: &str, opts: &Options, deadline: Instant) -> Result<Response, HttpError> {
    let mut target = Url::parse(url)?;
    for _ in 0..=MAX_REDIRECTS {
        let resp = get_once(&target, opts, deadline)?;
        if matches!(resp.status, 301 | 302 | 303 | 307 | 308)
            && let Some(loc) = resp.location.as_deref()
        {
            target = target.join(loc)?;
            continue;
        }
        return Ok(Response {
            status: resp.status,
            reason: resp.reason,
            body: resp.body,
            url: target.display(),
        });
    }
    Err(HttpError::TooManyRedirects)
}

struct RawResponse {
    status: u16,
    reason: String,
    location: Option<String>,
    body: Vec<u8>,
}

fn get_once(url: &Url, opts: &Options, deadline: Instant) -> Result<RawResponse, HttpError> {
    let started = Instant::now();
    let addr = resolve(url, opts, deadline)?;
    let tcp = connect(addr, deadline, started)?;
    let _ = tcp.set_nodelay(true);
    let mut conn = if url.https {
        Conn::Tls(Box::new(tls_stream(url, tcp, opts.verify_tls)?))
    } else {
        Conn::Plain(tcp)
    };
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rha-apache/{}\r\nAccept: */*\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    if let Some((u, p)) = url.userinfo.as_ref().or(opts.auth.as_ref()) {
        req.push_str(&format!("Authorization: Basic {}\r\n", base64(format!("{u}:{p}").as_bytes())));
    }
    for (k, v) in &opts.headers {
        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("connection") {
            req = replace_header(&req, k, v);
        } else {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("\r\n");
    let mut io = Timed { conn: &mut conn, deadline };
    io.write_all(req.as_bytes()).map_err(|e| io_error(e, "sending the request", started))?;
    io.flush().map_err(|e| io_error(e, "sending the request", started))?;
    read_response(&mut io, started)
}

fn replace_header(req: &str, name: &str, value: &str) -> String {
    req.lines()
        .map(|l| match l.split_once(':') {
            Some((k, _)) if k.eq_ignore_ascii_case(name) => format!("{k}: {value}\r\n"),
            _ if l.is_empty() => String::new(),
            _ => format!("{l}\r\n"),
        })
        .collect()
}

/// The address to connect to. A host name is looked up on a thread of its own, waited for
/// only until `deadline`: a hung resolver must not make the monitor overrun its timeout.
fn resolve(url: &Url, opts: &Options, deadline: Instant) -> Result<SocketAddr, HttpError> {
    if url.host.eq_ignore_ascii_case("localhost") {
        let ip: IpAddr = if opts.ipv6 { Ipv6Addr::LOCALHOST.into() } else { Ipv4Addr::LOCALHOST.into() };
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
        .find(|a| a.is_ipv6() == opts.ipv6)
        .or(addrs.first())
        .copied()
        .ok_or_else(|| HttpError::Resolve(url.host.clone()))
}

/// Connect from the loopback address of `addr`'s family, within the deadline.
fn connect(addr: SocketAddr, deadline: Instant, started: Instant) -> Result<TcpStream, HttpError> {
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

// ---- TLS ----------------------------------------------------------------------------------

fn tls_stream(
    url: &Url,
    tcp: TcpStream,
    verify: bool,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, HttpError> {
    let config = tls_config(verify)?;
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|e| HttpError::Tls(e.to_string()))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| HttpError::Tls(e.to_string()))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The system CA bundles of Debian, RHEL and SUSE.
const CA_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem"];

fn tls_config(verify: bool) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?;
    let config = if verify {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for bundle in CA_BUNDLES {
            if let Ok(iter) = CertificateDer::pem_file_iter(bundle) {
                for cert in iter.flatten() {
                    let _ = roots.add(cert);
                }
                break;
            }
        }
        if roots.is_empty() {
            return Err(HttpError::Tls(format!(
                "tls_verify: no CA bundle found ({})",
                CA_BUNDLES.join(", ")
            )));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---- I/O with the deadline ----------------------------------------------------------------

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

/// Sets the socket timeouts to what is left before each read and write.
struct Timed<'a> {
    conn: &'a mut Conn,
    deadline: Instant,
}

impl Timed<'_> {
    fn arm(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
        }
        let left = left.max(Duration::from_millis(1));
        self.conn.tcp().set_read_timeout(Some(left))?;
        self.conn.tcp().set_write_timeout(Some(left))
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        let r = match self.conn {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        };
        match r {
            // A peer closing without TLS close_notify: the end of a close-delimited body.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        match self.conn {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        match self.conn {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn io_error(e: io::Error, during: &'static str, started: Instant) -> HttpError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            HttpError::Timeout { during, waited: started.elapsed().as_secs_f64() }
        }
        _ => match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(tls) => HttpError::Tls(tls.to_string()),
            None => HttpError::Io(format!("{during}: {e}")),
        },
    }
}

// ---- Response parsing ---------------------------------------------------------------------

fn read_response(r: &mut impl Read, started: Instant) -> Result<RawResponse, HttpError> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    loop {
        // Header (skipping interim 1xx responses).
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEADER {
                return Err(HttpError::Protocol("header too large".into()));
            }
            let n = r.read(&mut chunk).map_err(|e| io_error(e, "waiting for the response", started))?;
            if n == 0 {
                return Err(if buf.is_empty() {
                    HttpError::Io("connection closed without a response".into())
                } else {
                    HttpError::Protocol("connection closed inside the header".into())
                });
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let rest = buf.split_off(end);
        buf = rest;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/") {
            return Err(HttpError::Protocol(format!("status line {:?}", truncate(status_line, 60))));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HttpError::Protocol(format!("status line {:?}", truncate(status_line, 60))))?;
        let reason = parts.next().unwrap_or("").trim().to_string();
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let mut content_length = None;
        let mut chunked = false;
        let mut location = None;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else { continue };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.parse::<u64>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("location") {
                location = Some(v.to_string());
            }
        }
        let body = if status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            read_chunked(r, buf, started)?
        } else if let Some(len) = content_length {
            read_exact_len(r, buf, len, started)?
        } else {
            read_to_close(r, buf, started)?
        };
        return Ok(RawResponse { status, reason, location, body });
    }
}

fn read_more(r: &mut impl Read, buf: &mut Vec<u8>, started: Instant) -> Result<usize, HttpError> {
    let mut chunk = [0u8; 16384];
    let n = r.read(&mut chunk).map_err(|e| io_error(e, "reading the response body", started))?;
    if buf.len() < MAX_BODY + 64 {
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(n)
}

fn read_exact_len(
    r: &mut impl Read,
    mut buf: Vec<u8>,
    len: u64,
    started: Instant,
) -> Result<Vec<u8>, HttpError> {
    let mut total = buf.len() as u64;
    while total < len {
        let n = read_more(r, &mut buf, started)?;
        if n == 0 {
            return Err(HttpError::Protocol(format!("body ended after {total} of {len} bytes")));
        }
        total += n as u64;
    }
    buf.truncate(len.min(MAX_BODY as u64) as usize);
    Ok(buf)
}

fn read_to_close(r: &mut impl Read, mut buf: Vec<u8>, started: Instant) -> Result<Vec<u8>, HttpError> {
    while read_more(r, &mut buf, started)? > 0 {}
    buf.truncate(MAX_BODY);
    Ok(buf)
}

fn read_chunked(r: &mut impl Read, mut raw: Vec<u8>, started: Instant) -> Result<Vec<u8>, HttpError> {
    let mut dec = Dechunker::default();
    let mut pos = 0;
    loop {
        pos += dec.feed(&raw[pos..])?;
        if dec.done {
            return Ok(dec.out);
        }
        raw.drain(..pos);
        pos = 0;
        if read_more(r, &mut raw, started)? == 0 {
            return Err(HttpError::Protocol("connection closed inside a chunked body".into()));
        }
    }
}

/// Incremental `Transfer-Encoding: chunked` decoder.
#[derive(Default)]
struct Dechunker {
    /// Bytes left in the current chunk's data.
    left: usize,
    /// Expecting the CRLF after a chunk's data.
    after_data: bool,
    in_trailer: bool,
    done: bool,
    out: Vec<u8>,
}

impl Dechunker {
    /// Consume what can be consumed; returns the bytes used.
    fn feed(&mut self, data: &[u8]) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < data.len() && !self.done {
            if self.left > 0 {
                let n = self.left.min(data.len() - i);
                if self.out.len() < MAX_BODY {
                    self.out.extend_from_slice(&data[i..i + n]);
                }
                self.left -= n;
                i += n;
                if self.left == 0 {
                    self.after_data = true;
                }
                continue;
            }
            // Line-oriented parts need a whole line.
            let Some(eol) = find(&data[i..], b"\r\n") else { break };
            let line = &data[i..i + eol];
            i += eol + 2;
            if self.after_data {
                if !line.is_empty() {
                    return Err(HttpError::Protocol("missing CRLF after a chunk".into()));
                }
                self.after_data = false;
            } else if self.in_trailer {
                if line.is_empty() {
                    self.done = true;
                }
            } else {
                let size_s = String::from_utf8_lossy(line);
                let size_s = size_s.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_s, 16)
                    .map_err(|_| HttpError::Protocol(format!("chunk size {:?}", truncate(size_s, 20))))?;
                if size == 0 {
                    self.in_trailer = true;
                } else {
                    self.left = size;
                }
            }
        }
        Ok(i)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= c.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:80/server-status?auto").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 80, "/server-status?auto")
        );
        let u = Url::parse("HTTPS://u%40x:p%3Aw@[2001:db8::1]/").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port), (true, "2001:db8::1", 443));
        assert_eq!(u.userinfo, Some(("u@x".into(), "p:w".into())));
        assert_eq!(u.host_header(), "[2001:db8::1]");
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
        assert_eq!(Url::parse("http://h?q").unwrap().path, "/?q");
        for bad in [
            "",
            "ftp://h/",
            "http://",
            "http://h:x/",
            "http://[::1/",
            "http://h:0/",
            "127.0.0.1/x",
            "http://a b/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        let base = Url::parse("http://h:8080/a/b?x").unwrap();
        assert_eq!(base.join("/c").unwrap().display(), "http://h:8080/c");
        assert_eq!(base.join("c").unwrap().display(), "http://h:8080/a/c");
        assert_eq!(base.join("https://o/").unwrap().display(), "https://o/");
        assert_eq!(base.join("//o:1/p").unwrap().display(), "http://o:1/p");
    }

    #[test]
    fn base64_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn chunked_in_pieces() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 1..body.len() {
            let mut d = Dechunker::default();
            let mut raw = body[..split].to_vec();
            let used = d.feed(&raw).unwrap();
            raw.drain(..used);
            raw.extend_from_slice(&body[split..]);
            d.feed(&raw).unwrap();
            assert!(d.done, "split {split}");
            assert_eq!(d.out, b"Wikipedia");
        }
        assert!(Dechunker::default().feed(b"zz\r\n").is_err());
    }

    /// A one-shot server on loopback answering `response` to one request.
    fn serve(response: Vec<u8>, delay: Duration) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, peer) = l.accept().unwrap();
            assert!(peer.ip().is_loopback());
            let mut req = Vec::new();
            let mut b = [0u8; 4096];
            while find(&req, b"\r\n\r\n").is_none() {
                let n = s.read(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&b[..n]);
            }
            std::thread::sleep(delay);
            let _ = s.write_all(&response);
            req
        });
        (port, h)
    }

    #[test]
    fn content_length_chunked_and_close() {
        let soon = || Instant::now() + Duration::from_secs(5);
        let (port, h) =
            serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-extra".to_vec(), Duration::ZERO);
        let opts = Options {
            auth: Some(("u".into(), "p".into())),
            headers: vec![("Host".into(), "example.org".into())],
            ..Default::default()
        };
        let r = get(&format!("http://127.0.0.1:{port}/x"), &opts, soon()).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let req = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(req.starts_with("GET /x HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Authorization: Basic dTpw\r\n") && req.contains("Host: example.org\r\n"),
            "{req}"
        );
        assert_eq!(req.matches("Host:").count(), 1);

        let (port, _h) = serve(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(), Duration::ZERO);
        let r = get(&format!("http://localhost:{port}/"), &Options::default(), soon()).unwrap();
        assert_eq!((r.status, r.reason.as_str(), r.body.as_slice()), (404, "Not Found", &b"abc"[..]));

        let (port, _h) = serve(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec(), Duration::ZERO);
        assert_eq!(
            get(&format!("http://127.0.0.1:{port}/"), &Options::default(), soon()).unwrap().body,
            b"until close"
        );
    }

    #[test]
    fn redirects_are_followed() {
        let (p2, _h2) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(), Duration::ZERO);
        let (p1, _h1) = serve(
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{p2}/there\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
            Duration::ZERO,
        );
        let r = get(
            &format!("http://127.0.0.1:{p1}/"),
            &Options::default(),
            Instant::now() + Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((r.status, r.url), (200, format!("http://127.0.0.1:{p2}/there")));
    }

    #[test]
    fn slow_server_times_out_in_time() {
        let (port, _h) = serve(b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), Duration::from_secs(3));
        let t = Instant::now();
        let e = get(
            &format!("http://127.0.0.1:{port}/"),
            &Options::default(),
            Instant::now() + Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(e, HttpError::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(e.to_string().starts_with("timed out after 0."), "{e}");
    }

    #[test]
    fn refused() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = get(
            &format!("http://127.0.0.1:{port}/"),
            &Options::default(),
            Instant::now() + Duration::from_secs(2),
        )
        .unwrap_err();
        assert!(e.to_string().contains("connection refused"), "{e}");
        // Non-local addresses are tested in a network namespace (tests/host_faults.rs): no
        // test sends anything from the root namespace.
    }
}
