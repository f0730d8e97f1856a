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
//!
//! One file per step, each below this one (which only sequences them): `url` (parsing,
//! redirect targets), `request` (options, request text), `net` (resolve, connect from
//! loopback), `tls` (rustls configuration), `timed` (reads and writes bounded by the
//! deadline), `response` (status, headers, bodies); `error` sits below them all.

mod error;
mod net;
mod request;
mod response;
mod timed;
mod tls;
mod url;

use std::io::Write;
use std::time::Instant;

pub use error::{HttpError, MAX_REDIRECTS};
pub use request::Options;
pub use url::Url;

use response::{RawResponse, read_response};
use timed::{Conn, Timed, io_error};

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

fn get_once(url: &Url, opts: &Options, deadline: Instant) -> Result<RawResponse, HttpError> {
    let started = Instant::now();
    let addr = net::resolve(url, opts.ipv6, deadline)?;
    let tcp = net::connect(addr, deadline, started)?;
    let _ = tcp.set_nodelay(true);
    let mut conn = if url.https {
        Conn::Tls(Box::new(tls::stream(url, tcp, opts.verify_tls)?))
    } else {
        Conn::Plain(tcp)
    };
    let req = request::text(url, opts);
    let mut io = Timed { conn: &mut conn, deadline };
    io.write_all(req.as_bytes()).map_err(|e| io_error(e, "sending the request", started))?;
    io.flush().map_err(|e| io_error(e, "sending the request", started))?;
    read_response(&mut io, started)
}

#[cfg(test)]
mod tests {
    use super::response::find;
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

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
