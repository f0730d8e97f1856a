//! service=smtp and submission: banner, EHLO, QUIT (ldirectord's Net::SMTP->new, then quit).
//!
//! Up is: a 2xx banner, then a 2xx answer to EHLO (or, when EHLO is refused, to HELO, as
//! Net::SMTP falls back). The name we greet with is the address literal of our own end of the
//! connection (`[198.51.100.1]`, `[IPv6:2001:db8::1]`, RFC 5321 4.1.3): always valid, and it
//! says which host checks.
//!
//! receive=: ldirectord ignores it for smtp; we match it against the banner and the EHLO reply
//! (one text, lines joined by newlines), so `receive=ESMTP Postfix` or `receive=PIPELINING`
//! can tell the right server from another one. Empty: no match asked.
//!
//! QUIT is sent, its reply not awaited: it decides nothing (ldirectord ignores it too), and a
//! server slow to say goodbye should not cost the check its timeout.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{LineReader, Scripted, read_coded_reply, run_ready};
use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Target};

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    probe.stage("connecting");
    let tcp = connect_tcp(probe.target).await?;
    let local = tcp.local_addr()?;
    session(probe, tcp, &address_literal(local)).await
}

/// `[198.51.100.1]` or `[IPv6:2001:db8::1]`.
pub fn address_literal(local: SocketAddr) -> String {
    match local.ip() {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[{v4}]"),
            None => format!("[IPv6:{v6}]"),
        },
    }
}

/// The dialogue after the connection is made.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    stream: S,
    helo: &str,
) -> CheckResult {
    let mut r = LineReader::new(stream);
    probe.stage("waiting for the SMTP banner");
    let banner = read_coded_reply(&mut r).await?;
    if banner.code / 100 != 2 {
        return Err(Down(format!("SMTP banner {}", banner.summary())));
    }
    probe.stage("waiting for the EHLO reply");
    r.get_mut().write_all(format!("EHLO {helo}\r\n").as_bytes()).await?;
    r.get_mut().flush().await?;
    let mut hello = read_coded_reply(&mut r).await?;
    if hello.code / 100 != 2 {
        probe.stage("waiting for the HELO reply");
        r.get_mut().write_all(format!("HELO {helo}\r\n").as_bytes()).await?;
        r.get_mut().flush().await?;
        let refused = hello.summary();
        hello = read_coded_reply(&mut r).await?;
        if hello.code / 100 != 2 {
            return Err(Down(format!("EHLO refused: {refused}; HELO refused: {}", hello.summary())));
        }
    }
    probe.stage("sending QUIT");
    // A server that closed already is still up: it answered everything asked.
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    let _ = r.get_mut().flush().await;
    if let Some(receive) = &probe.spec.receive {
        let text = format!("{}\n{}", banner.text(), hello.text());
        if !receive.is_match(text.as_bytes()) {
            return Err(receive.mismatch("the banner or EHLO reply"));
        }
    }
    Ok(())
}

/// The check against a scripted server that sends `server` (then closes): for the fuzzer and
/// the unit tests. Never panics; every outcome is up or down with a reason.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:25".parse().unwrap());
    let probe = Probe::new(spec, &target);
    run_ready(session(&probe, Scripted::new(server), "[192.0.2.9]")).unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::Receive;
    use crate::spec::Service;

    fn run(server: &str) -> CheckResult {
        check_scripted(&CheckSpec::new(Service::Smtp), server.as_bytes())
    }

    #[test]
    fn healthy_dialogues_are_up() {
        assert_eq!(run("220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"), Ok(()));
        // EHLO refused, HELO accepted (an old server).
        assert_eq!(run("220 mx\r\n502 no EHLO\r\n250 mx\r\n"), Ok(()));
    }

    #[test]
    fn bad_banners_and_replies_are_down_with_a_reason() {
        assert_eq!(run("554 no service\r\n").unwrap_err().0, "SMTP banner 554 no service");
        assert_eq!(run("421\r\n").unwrap_err().0, "SMTP banner 421");
        assert_eq!(
            run("220 mx\r\n500 what\r\n500 no\r\n").unwrap_err().0,
            "EHLO refused: 500 what; HELO refused: 500 no"
        );
        assert!(run("").unwrap_err().0.contains("closed"));
        assert!(run("220 mx\r\n250-trunc").unwrap_err().0.contains("closed"));
        assert!(run("SSH-2.0-OpenSSH_9.2\r\n").unwrap_err().0.contains("not a protocol reply"));
        assert!(run(&"2".repeat(100_000)).unwrap_err().0.contains("longer than"));
        assert!(run(&format!("220 mx\r\n{}", "250-x\r\n".repeat(10_000))).unwrap_err().0.contains("lines"));
        assert!(check_scripted(&CheckSpec::new(Service::Smtp), b"\xff\xfe\x00\n").is_err());
    }

    #[test]
    fn receive_matches_banner_and_ehlo_text() {
        let mut spec = CheckSpec::new(Service::Submission);
        spec.receive = Some(Receive::new("PIPELINING").unwrap());
        let server = b"220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n";
        assert_eq!(check_scripted(&spec, server), Ok(()));
        spec.receive = Some(Receive::new("^220").unwrap());
        assert!(check_scripted(&spec, server).is_err(), "codes are not part of the text");
        spec.receive = Some(Receive::new("Exim").unwrap());
        assert_eq!(
            check_scripted(&spec, server).unwrap_err().0,
            "receive /Exim/ not in the banner or EHLO reply"
        );
    }

    #[test]
    fn greeting_names_are_address_literals() {
        assert_eq!(address_literal("198.51.100.1:4000".parse().unwrap()), "[198.51.100.1]");
        assert_eq!(address_literal("[2001:db8::1]:4000".parse().unwrap()), "[IPv6:2001:db8::1]");
    }
}
