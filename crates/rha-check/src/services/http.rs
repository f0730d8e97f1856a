//! service=http, https and http_proxy: one HTTP/1.1 request, ldirectord's semantics.
//!
//! ldirectord asks LWP for `<schema>://<rip>:<checkport>/<request>` with the Host header from
//! `virtualhost`; up is a 2xx status and (no receive, or the body matches receive). For
//! http_proxy the real is the proxy and the request line carries the absolute URL.
//!
//! Our own small client, because every read must be bounded: the status line and each header
//! line by [`lines::MAX_LINE`], the header count by [`MAX_HEADERS`], the body by [`MAX_BODY`]
//! (a longer body is matched on its first [`MAX_BODY`] bytes). `Connection: close` is sent, so
//! a body without a length ends at EOF. Redirects are not followed (a 3xx is down with its
//! status): the real itself must answer, not the place it points to.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{LineReader, MAX_LINE, Scripted, quoted, run_ready};
use crate::net::connect_tcp_client_first;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Service, Target};
use crate::tls::{self, Stream};

/// The most header lines a reply may have.
pub const MAX_HEADERS: usize = 128;
/// The most body bytes read (and matched).
pub const MAX_BODY: usize = 1024 * 1024;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let addr = probe.target.addr;
    let request = build_request(
        spec.service,
        spec.request.as_deref(),
        spec.virtualhost.as_deref(),
        addr,
        spec.http_head,
    );
    probe.stage("connecting");
    let tcp = connect_tcp_client_first(probe.target).await?;
    let stream = if spec.service == Service::Https {
        probe.stage("in the TLS handshake");
        // TLS writes its handshake and the request in several pieces: no Nagle wait between
        // them (a plain request is one write and needs no such option).
        tcp.set_nodelay(true)?;
        let name = tls::server_name(spec.virtualhost.as_deref(), addr.ip());
        Stream::Tls(Box::new(tls::handshake(tcp, name, spec.tls_verify).await?))
    } else {
        Stream::Plain(tcp)
    };
    session(probe, stream, &request).await
}

/// The dialogue after the connection (and TLS) is made: request, status line, headers, body.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    mut stream: S,
    request: &str,
) -> CheckResult {
    let spec = probe.spec;
    probe.stage("sending the request");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    probe.stage("waiting for the status line");
    let mut reader = LineReader::new(stream);
    let status = parse_status_line(&reader.read_line().await?)?;
    probe.stage("reading the headers");
    let mut framing = Framing::ToEof;
    for n in 0.. {
        let line = reader.read_line().await?;
        if line.is_empty() {
            break;
        }
        if n >= MAX_HEADERS {
            return Err(Down(format!("more than {MAX_HEADERS} header lines")));
        }
        let (name, value) = parse_header(&line)?;
        if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let len = value
                .trim()
                .parse::<u64>()
                .map_err(|_| Down(format!("bad Content-Length {}", quoted(value))))?;
            framing = Framing::Length(len);
        }
    }
    if !(200..300).contains(&status) {
        return Err(Down(format!("HTTP {status}")));
    }
    let Some(receive) = &spec.receive else {
        return Ok(());
    };
    if spec.http_head || status == 204 {
        framing = Framing::Length(0);
    }
    probe.stage("reading the body");
    let (mut stream, mut buf) = reader.into_parts();
    let body = read_body(&mut stream, &mut buf, framing).await?;
    if receive.is_match(&body) { Ok(()) } else { Err(receive.mismatch("body")) }
}

/// The check against a scripted server that sends `server` (then closes), over plain HTTP:
/// for the fuzzer and the unit tests. Never panics; every outcome is up or down with a reason.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:80".parse().unwrap());
    let probe = Probe::new(spec, &target);
    let request = build_request(spec.service, spec.request.as_deref(), None, target.addr, spec.http_head);
    run_ready(session(&probe, Scripted::new(server), &request)).unwrap_or(Err(Down::new("would block")))
}

/// How the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    ToEof,
    Length(u64),
    Chunked,
}

async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    framing: Framing,
) -> Result<Vec<u8>, Down> {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match framing {
            Framing::Length(len) if buf.len() as u64 >= len => {
                buf.truncate(len as usize);
                return Ok(std::mem::take(buf));
            }
            Framing::Chunked => {
                if let Some(body) = decode_chunked(buf, MAX_BODY)? {
                    return Ok(body);
                }
            }
            _ => {}
        }
        // Bounded: the raw (chunked) body may carry framing bytes on top of MAX_BODY.
        if buf.len() >= MAX_BODY + MAX_LINE {
            return Ok(match framing {
                Framing::Chunked => decode_chunked_prefix(buf, MAX_BODY),
                _ => buf[..MAX_BODY.min(buf.len())].to_vec(),
            });
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return match framing {
                Framing::ToEof => Ok(std::mem::take(buf)),
                Framing::Length(len) => Err(Down(format!("body ended after {} of {len} bytes", buf.len()))),
                Framing::Chunked => Err(Down::new("chunked body ended before its last chunk")),
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request bytes: request line, Host, Connection: close.
pub fn build_request(
    service: Service,
    request: Option<&str>,
    virtualhost: Option<&str>,
    addr: SocketAddr,
    head: bool,
) -> String {
    let method = if head { "HEAD" } else { "GET" };
    let request = request.unwrap_or("/");
    let absolute = split_absolute(request);
    let default_port = if service == Service::Https { 443 } else { 80 };
    let (host, path) = match absolute {
        // The URL's host names the site; the connection still goes to the real.
        Some((url_host, path)) => {
            (virtualhost.map(str::to_string).unwrap_or(url_host.to_string()), path.to_string())
        }
        None => {
            let path = if request.starts_with('/') { request.to_string() } else { format!("/{request}") };
            (virtualhost.map(str::to_string).unwrap_or_else(|| host_for(addr, default_port)), path)
        }
    };
    let target = if service == Service::HttpProxy {
        match absolute {
            Some(_) => request.to_string(),
            None => format!("http://{host}{path}"),
        }
    } else {
        path
    };
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rha-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
}

/// `http://host[:port]/path` → (`host[:port]`, `/path`).
fn split_absolute(request: &str) -> Option<(&str, &str)> {
    let lower = request.get(..8).unwrap_or(request).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &request[7..]
    } else if lower.starts_with("https://") {
        &request[8..]
    } else {
        return None;
    };
    Some(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// The real's address as a Host value: IPv6 bracketed, the port when not the default.
pub fn host_for(addr: SocketAddr, default_port: u16) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if addr.port() == default_port { ip } else { format!("{ip}:{}", addr.port()) }
}

/// `HTTP/1.1 200 OK` → 200.
pub fn parse_status_line(line: &str) -> Result<u16, Down> {
    let bad = || Down(format!("not an HTTP status line: {}", quoted(line)));
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().ok_or_else(bad)?;
    if !version.starts_with("HTTP/") {
        return Err(bad());
    }
    let code = parts.next().ok_or_else(bad)?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    code.parse().map_err(|_| bad())
}

/// `Name: value` → (name, trimmed value).
pub fn parse_header(line: &str) -> Result<(&str, &str), Down> {
    let (name, value) =
        line.split_once(':').ok_or_else(|| Down(format!("bad header line {}", quoted(line))))?;
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Down(format!("bad header line {}", quoted(line))));
    }
    Ok((name, value.trim()))
}

/// Decodes a complete chunked body: `Ok(None)` while more bytes are needed. The decoded body
/// is cut at `limit` bytes.
pub fn decode_chunked(raw: &[u8], limit: usize) -> Result<Option<Vec<u8>>, Down> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = raw[pos..].windows(2).position(|w| w == b"\r\n") else {
            if raw.len() - pos > MAX_LINE {
                return Err(Down::new("chunk size line too long"));
            }
            return Ok(None);
        };
        let line = std::str::from_utf8(&raw[pos..pos + eol]).map_err(|_| Down::new("bad chunk size line"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| Down(format!("bad chunk size {}", quoted(size_hex))))?;
        pos += eol + 2;
        if size == 0 {
            // Trailers are not needed: the body is complete.
            return Ok(Some(out));
        }
        let end = pos
            .checked_add(size)
            .and_then(|e| e.checked_add(2))
            .ok_or_else(|| Down::new("chunk too large"))?;
        if raw.len() < end {
            return Ok(None);
        }
        if &raw[end - 2..end] != b"\r\n" {
            return Err(Down::new("chunk not followed by CRLF"));
        }
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&raw[pos..pos + size.min(room)]);
        pos = end;
    }
}

/// The decoded chunks fully present in `raw` (for a body cut at the read limit).
fn decode_chunked_prefix(raw: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(eol) = raw[pos..].windows(2).position(|w| w == b"\r\n") {
        let Some(size) = std::str::from_utf8(&raw[pos..pos + eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok())
        else {
            break;
        };
        pos += eol + 2;
        let take = size.min(raw.len() - pos).min(limit.saturating_sub(out.len()));
        out.extend_from_slice(&raw[pos..pos + take]);
        if size == 0 || take < size {
            break;
        }
        pos = (pos + size + 2).min(raw.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn request_line_host_and_leading_slash() {
        let r = build_request(Service::Http, Some("index.html"), None, addr("198.51.100.2:80"), false);
        assert!(r.starts_with("GET /index.html HTTP/1.1\r\nHost: 198.51.100.2\r\n"), "{r}");
        assert!(r.contains("Connection: close\r\n") && r.ends_with("\r\n\r\n"));
        let r = build_request(Service::Http, None, None, addr("[2001:db8::2]:8080"), true);
        assert!(r.starts_with("HEAD / HTTP/1.1\r\nHost: [2001:db8::2]:8080\r\n"), "{r}");
        let r = build_request(
            Service::Https,
            Some("/x"),
            Some("www.example.org"),
            addr("198.51.100.2:443"),
            false,
        );
        assert!(r.starts_with("GET /x HTTP/1.1\r\nHost: www.example.org\r\n"), "{r}");
        let r = build_request(Service::Https, None, None, addr("198.51.100.2:80"), false);
        assert!(r.contains("Host: 198.51.100.2:80\r\n"), "{r}");
        let r = build_request(
            Service::Http,
            Some("http://site.example/a?b"),
            None,
            addr("198.51.100.2:80"),
            false,
        );
        assert!(r.starts_with("GET /a?b HTTP/1.1\r\nHost: site.example\r\n"), "{r}");
    }

    #[test]
    fn proxy_requests_carry_the_absolute_url() {
        let r = build_request(
            Service::HttpProxy,
            Some("http://site.example/x"),
            None,
            addr("198.51.100.2:3128"),
            false,
        );
        assert!(r.starts_with("GET http://site.example/x HTTP/1.1\r\nHost: site.example\r\n"), "{r}");
        let r = build_request(
            Service::HttpProxy,
            Some("x"),
            Some("site.example"),
            addr("198.51.100.2:3128"),
            false,
        );
        assert!(r.starts_with("GET http://site.example/x HTTP/1.1\r\n"), "{r}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK").unwrap(), 200);
        assert_eq!(parse_status_line("HTTP/1.0 503").unwrap(), 503);
        assert!(parse_status_line("SSH-2.0-OpenSSH").is_err());
        assert!(parse_status_line("HTTP/1.1 20 OK").is_err());
        assert!(parse_status_line("HTTP/1.1 2x0 OK").is_err());
        assert!(parse_status_line("").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header("Content-Length:  12 ").unwrap(), ("Content-Length", "12"));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header(": x").is_err());
    }

    #[test]
    fn chunked_bodies() {
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        assert_eq!(decode_chunked(raw, 100).unwrap().unwrap(), b"Wikipedia");
        assert_eq!(decode_chunked(&raw[..10], 100).unwrap(), None);
        assert_eq!(decode_chunked(b"4\r\nWi", 100).unwrap(), None);
        assert_eq!(decode_chunked(raw, 3).unwrap().unwrap(), b"Wik");
        assert!(decode_chunked(b"zz\r\n", 100).is_err());
        assert!(decode_chunked(b"4\r\nWikiXX0\r\n\r\n", 100).is_err());
        assert!(decode_chunked(b"ffffffffffffffffff\r\n", 100).is_err());
        assert!(decode_chunked(&vec![b'1'; MAX_LINE + 10], 100).is_err());
        assert_eq!(decode_chunked_prefix(b"4\r\nWiki\r\n5\r\npe", 100), b"Wikipe");
    }
}
