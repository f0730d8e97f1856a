//! service=sip: an OPTIONS request over UDP or TCP; a final `SIP/2.0 200` response is up.
//!
//! ldirectord sends OPTIONS to `sip:<login>` and wants `SIP/2.0 200 OK` as the first line.
//! We want status 200 with any reason phrase, skip provisional (1xx) responses and wait for
//! the final one, and match `receive` (when set) against the response's status line and
//! headers. Without `login` the request URI is the real itself (`sip:<address>:<port>`),
//! since ldirectord's `sip:` with an empty user is not a valid URI. The transport is the
//! virtual's protocol: UDP for UDP virtuals, TCP otherwise.
//!
//! Bounded: a UDP response is one datagram (at most 64 KiB); over TCP the header lines are
//! bounded by [`MAX_LINE`] and [`MAX_HEADERS`], and a provisional response's body by
//! [`MAX_BODY`].

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{LineReader, MAX_LINE, Scripted, quoted, run_ready};
use crate::net::{connect_tcp, connect_udp, random_bytes};
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Protocol, Target};

pub const MAX_HEADERS: usize = 128;
pub const MAX_BODY: usize = 64 * 1024;
/// Provisional responses accepted before the final one.
const MAX_PROVISIONAL: usize = 16;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let udp = spec.protocol == Protocol::Udp;
    let mut rnd = [0u8; 16];
    random_bytes(&mut rnd);
    let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let (branch, call_id) = (&hex[..16], &hex[16..]);
    let target = probe.target.addr;
    if udp {
        probe.stage("sending OPTIONS");
        let socket = connect_udp(probe.target).await?;
        let local = socket.local_addr()?;
        let request = build_options(spec.login.as_deref(), target, local, "UDP", branch, call_id);
        socket.send(request.as_bytes()).await?;
        probe.stage("waiting for the SIP response");
        let mut buf = vec![0u8; 65535];
        for _ in 0..=MAX_PROVISIONAL {
            let n = socket.recv(&mut buf).await?;
            let head = head_of(&buf[..n]);
            match parse_response(head, call_id)? {
                Some(status) => return judge(status, head, probe),
                None => continue,
            }
        }
        return Err(Down::new("too many provisional SIP responses"));
    }
    probe.stage("connecting");
    let stream = connect_tcp(probe.target).await?;
    let local = stream.local_addr()?;
    let request = build_options(spec.login.as_deref(), target, local, "TCP", branch, call_id);
    session(probe, stream, &request, call_id).await
}

/// The TCP dialogue after the connection is made: OPTIONS, then responses until a final one
/// (provisional ones and their bodies skipped, at most [`MAX_PROVISIONAL`]).
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    mut stream: S,
    request: &str,
    call_id: &str,
) -> CheckResult {
    probe.stage("sending OPTIONS");
    stream.write_all(request.as_bytes()).await?;
    probe.stage("waiting for the SIP response");
    let mut reader = LineReader::with_max_line(Prefixed::new(Vec::new(), stream), MAX_LINE);
    for _ in 0..=MAX_PROVISIONAL {
        let mut head = String::new();
        let mut body_len = 0usize;
        for n in 0.. {
            let line = reader.read_line().await?;
            if line.is_empty() {
                // RFC 3261 allows CRLFs before a message (keep-alives): skip them.
                if n == 0 {
                    continue;
                }
                break;
            }
            if n > MAX_HEADERS {
                return Err(Down(format!("more than {MAX_HEADERS} SIP header lines")));
            }
            if let Some(v) = header_value(&line, "content-length", "l") {
                body_len = v.parse().map_err(|_| Down(format!("bad Content-Length {}", quoted(v))))?;
            }
            head.push_str(&line);
            head.push('\n');
        }
        match parse_response(head.as_bytes(), call_id)? {
            Some(status) => return judge(status, head.as_bytes(), probe),
            None => {
                if body_len > MAX_BODY {
                    return Err(Down::new("SIP provisional response body too large"));
                }
                let (mut stream, mut buf) = reader.into_parts();
                while buf.len() < body_len {
                    let mut chunk = vec![0u8; body_len - buf.len()];
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(Down::new("connection closed in a SIP body"));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                // What followed the body: in our buffer, then in the stream's own prefix.
                let mut rest = buf.split_off(body_len);
                rest.append(&mut stream.prefix);
                reader = LineReader::with_max_line(Prefixed::new(rest, stream.inner), MAX_LINE);
            }
        }
    }
    Err(Down::new("too many provisional SIP responses"))
}

/// The Call-ID of [`check_scripted`]'s request.
pub const SCRIPTED_CALL_ID: &str = "rhacallid";

/// The TCP check against a scripted server that sends `server` (then closes), with Call-ID
/// [`SCRIPTED_CALL_ID`]; and, as a UDP check would, each datagram-sized head of `server`
/// through [`parse_response`]: for the fuzzer and the unit tests.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:5060".parse().unwrap());
    let local = "192.0.2.9:5060".parse().unwrap();
    let probe = Probe::new(spec, &target);
    let request =
        build_options(spec.login.as_deref(), target.addr, local, "TCP", "rhabranch", SCRIPTED_CALL_ID);
    let udp = parse_response(head_of(server), SCRIPTED_CALL_ID).map(|_| ());
    let tcp = run_ready(session(&probe, Scripted::new(server), &request, SCRIPTED_CALL_ID))
        .unwrap_or(Err(Down::new("would block")));
    udp.and(tcp)
}

fn judge(status: u16, head: &[u8], probe: &Probe<'_>) -> CheckResult {
    if status != 200 {
        return Err(Down(format!("SIP {status}")));
    }
    match &probe.spec.receive {
        Some(r) if !r.is_match(head) => Err(r.mismatch("SIP response")),
        _ => Ok(()),
    }
}

/// The part of a datagram before its body.
fn head_of(m: &[u8]) -> &[u8] {
    match m.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &m[..i + 2],
        None => m,
    }
}

/// The OPTIONS request.
pub fn build_options(
    login: Option<&str>,
    target: SocketAddr,
    local: SocketAddr,
    transport: &str,
    branch: &str,
    call_id: &str,
) -> String {
    let uri = match login.filter(|l| !l.is_empty()) {
        Some(l) => format!("sip:{}", l.strip_prefix("sip:").unwrap_or(l)),
        None => format!("sip:{}", hostport(target)),
    };
    let via = hostport(local);
    format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {via};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         To: <{uri}>\r\n\
         From: <sip:rha-check@{via}>;tag={branch}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:rha-check@{via}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: rha-check\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn hostport(a: SocketAddr) -> String {
    match a.ip() {
        IpAddr::V4(v4) => format!("{v4}:{}", a.port()),
        IpAddr::V6(v6) => format!("[{v6}]:{}", a.port()),
    }
}

/// `Content-Length: 12` (or its compact form `l: 12`) → "12".
fn header_value<'a>(line: &'a str, name: &str, compact: &str) -> Option<&'a str> {
    let (n, v) = line.split_once(':')?;
    let n = n.trim();
    (n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact)).then(|| v.trim())
}

/// The status of a response head (status line and headers): `Some(code)` when final,
/// `None` when provisional (1xx). A response for another call (Call-ID) is refused.
pub fn parse_response(head: &[u8], call_id: &str) -> Result<Option<u16>, Down> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let status_line = lines.next().unwrap_or("");
    let bad = || Down(format!("not a SIP status line: {}", quoted(status_line)));
    let rest = status_line.strip_prefix("SIP/2.0 ").ok_or_else(bad)?;
    let code = rest.get(..3).filter(|c| c.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
    if rest.len() > 3 && !rest[3..].starts_with(' ') {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    for line in lines.take(MAX_HEADERS) {
        if let Some(v) = header_value(line, "call-id", "i") {
            if v != call_id {
                return Err(Down::new("SIP response for another call (Call-ID mismatch)"));
            }
        }
    }
    Ok(if code < 200 { None } else { Some(code) })
}

/// A stream that first yields bytes already read (what followed a provisional response).
struct Prefixed<S> {
    prefix: Vec<u8>,
    inner: S,
}

impl<S> Prefixed<S> {
    fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Prefixed<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.drain(..n);
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_request() {
        let r = build_options(
            None,
            "[2001:db8::2]:5060".parse().unwrap(),
            "[2001:db8::1]:40000".parse().unwrap(),
            "UDP",
            "abc",
            "cid",
        );
        assert!(r.starts_with("OPTIONS sip:[2001:db8::2]:5060 SIP/2.0\r\n"), "{r}");
        assert!(r.contains("Via: SIP/2.0/UDP [2001:db8::1]:40000;branch=z9hG4bKabc"), "{r}");
        assert!(r.contains("Call-ID: cid\r\n") && r.ends_with("Content-Length: 0\r\n\r\n"));
        let r = build_options(
            Some("ping@example.org"),
            "198.51.100.2:5060".parse().unwrap(),
            "198.51.100.1:4000".parse().unwrap(),
            "TCP",
            "b",
            "c",
        );
        assert!(r.starts_with("OPTIONS sip:ping@example.org SIP/2.0\r\n"), "{r}");
    }

    #[test]
    fn responses() {
        assert_eq!(parse_response(b"SIP/2.0 200 OK\r\nCall-ID: c\r\n", "c").unwrap(), Some(200));
        assert_eq!(parse_response(b"SIP/2.0 200 Fine\r\n", "c").unwrap(), Some(200));
        assert_eq!(parse_response(b"SIP/2.0 100 Trying\r\n", "c").unwrap(), None);
        assert_eq!(parse_response(b"SIP/2.0 404 Not Found\r\ni: c\r\n", "c").unwrap(), Some(404));
        assert!(parse_response(b"SIP/2.0 200 OK\r\nCall-ID: other\r\n", "c").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n", "c").is_err());
        assert!(parse_response(b"SIP/2.0 2000 OK\r\n", "c").is_err());
        assert!(parse_response(b"SIP/2.0 20", "c").is_err());
        assert!(parse_response(b"", "c").is_err());
        assert!(parse_response(&[0xff; 70_000], "c").is_err());
        assert_eq!(head_of(b"SIP/2.0 200 OK\r\nA: b\r\n\r\nbody"), b"SIP/2.0 200 OK\r\nA: b\r\n");
    }
}
