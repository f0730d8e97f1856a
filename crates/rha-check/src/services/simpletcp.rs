//! service=simpletcp: send `request`, up when a line of the reply matches `receive`.
//!
//! ldirectord: over the virtual's protocol (TCP, or UDP when the virtual is UDP), write the
//! request with `\n` turned into newlines, half-close, and read lines until one matches
//! receive. We do the same. Without receive, any reply is up (ldirectord's empty pattern would
//! reuse Perl's last match). Over UDP each datagram is matched line by line. The reply read
//! is bounded by [`MAX_REPLY`]: a server that talks forever without a match is down.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{Scripted, run_ready};
use crate::net::{connect_tcp_client_first, connect_udp};
use crate::outcome::CheckResult;
use crate::receive::Receive;
use crate::run::Probe;
use crate::spec::{CheckSpec, Protocol, Target};

/// The most reply bytes read.
pub const MAX_REPLY: usize = 64 * 1024;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let request = request_bytes(spec.request.as_deref());
    let receive = spec.receive.as_ref();
    if spec.protocol == Protocol::Udp {
        probe.stage("sending the request");
        let socket = connect_udp(probe.target).await?;
        socket.send(&request).await?;
        probe.stage("waiting for the reply");
        let mut buf = vec![0u8; 65535];
        let mut total = 0;
        loop {
            let n = socket.recv(&mut buf).await?;
            if reply_matches(&buf[..n], receive) {
                return Ok(());
            }
            total += n;
            if total >= MAX_REPLY {
                return Err(mismatch(receive));
            }
        }
    }
    probe.stage("connecting");
    let stream = connect_tcp_client_first(probe.target).await?;
    session(probe, stream, &request).await
}

/// The TCP dialogue after the connection is made: the request, then lines until one matches.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    mut stream: S,
    request: &[u8],
) -> CheckResult {
    let receive = probe.spec.receive.as_ref();
    probe.stage("sending the request");
    stream.write_all(request).await?;
    // ldirectord half-closes: line servers that read to EOF answer then.
    stream.shutdown().await?;
    probe.stage("waiting for the reply");
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if reply.is_empty() {
                return Err(Down::new("connection closed without a reply"));
            }
            return if reply_matches(&reply, receive) { Ok(()) } else { Err(mismatch(receive)) };
        }
        let room = MAX_REPLY - reply.len();
        reply.extend_from_slice(&chunk[..n.min(room)]);
        // Match the complete lines so far (a match needs no more bytes).
        let complete = reply.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete > 0 && reply_matches(&reply[..complete], receive) {
            return Ok(());
        }
        if reply.len() >= MAX_REPLY {
            return Err(Down(format!(
                "{} not in the first {} KiB of the reply",
                receive.map_or("a reply".to_string(), |r| format!("receive /{}/", r.as_str())),
                MAX_REPLY / 1024
            )));
        }
    }
}

/// The TCP check against a scripted server that sends `server` (then closes): for the fuzzer
/// and the unit tests.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:7".parse().unwrap());
    let probe = Probe::new(spec, &target);
    let request = request_bytes(spec.request.as_deref());
    run_ready(session(&probe, Scripted::new(server), &request)).unwrap_or(Err(Down::new("would block")))
}

fn mismatch(receive: Option<&Receive>) -> Down {
    match receive {
        Some(r) => r.mismatch("reply"),
        None => Down::new("empty reply"),
    }
}

/// The bytes to send: the request without ldirectord's leading "/", `\n` as a newline.
pub fn request_bytes(request: Option<&str>) -> Vec<u8> {
    let r = request.unwrap_or("");
    let r = r.strip_prefix('/').unwrap_or(r);
    r.replace("\\n", "\n").into_bytes()
}

/// Does a line of `reply` match (any non-empty reply without receive)?
pub fn reply_matches(reply: &[u8], receive: Option<&Receive>) -> bool {
    match receive {
        None => !reply.is_empty(),
        Some(r) => reply.split(|&b| b == b'\n').any(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            r.is_match(line)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_drop_the_slash_and_unescape_newlines() {
        assert_eq!(request_bytes(Some("/PING\\n")), b"PING\n");
        assert_eq!(request_bytes(Some("HELLO")), b"HELLO");
        assert_eq!(request_bytes(None), b"");
    }

    #[test]
    fn lines_match_one_by_one() {
        let r = Receive::new("^OK").unwrap();
        assert!(reply_matches(b"hello\r\nOK ready\r\n", Some(&r)));
        assert!(!reply_matches(b"hello OK\n", Some(&r)));
        assert!(!reply_matches(b"", Some(&r)));
        assert!(reply_matches(b"x", None));
        assert!(!reply_matches(b"", None));
        assert!(!reply_matches(&[0xff; 100_000], Some(&r)));
    }
}
