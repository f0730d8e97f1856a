//! service=nntp: the banner, then QUIT.
//!
//! ldirectord reads up to 64 bytes and calls the server up when they begin with `2`. We read
//! the banner line (bounded) and want RFC 3977's 200 (posting allowed) or 201 (no posting);
//! any other code is down with it ("NNTP banner 400 ..."). receive=, ignored by ldirectord,
//! is matched against the banner text, like smtp.

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
    session(probe, tcp).await
}

pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(probe: &Probe<'_>, stream: S) -> CheckResult {
    let mut r = LineReader::new(stream);
    probe.stage("waiting for the NNTP banner");
    let banner = read_coded_reply(&mut r).await?;
    if banner.code != 200 && banner.code != 201 {
        return Err(Down(format!("NNTP banner {}", banner.summary())));
    }
    probe.stage("sending QUIT");
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    let _ = r.get_mut().flush().await;
    if let Some(receive) = &probe.spec.receive {
        if !receive.is_match(banner.text().as_bytes()) {
            return Err(receive.mismatch("the banner"));
        }
    }
    Ok(())
}

/// The check against a scripted server that sends `server`: for the fuzzer and unit tests.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:119".parse().unwrap());
    let probe = Probe::new(spec, &target);
    run_ready(session(&probe, Scripted::new(server))).unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::Receive;
    use crate::spec::Service;

    fn run(server: &[u8]) -> CheckResult {
        check_scripted(&CheckSpec::new(Service::Nntp), server)
    }

    #[test]
    fn banners() {
        assert_eq!(run(b"200 news.example ready\r\n"), Ok(()));
        assert_eq!(run(b"201 no posting\r\n"), Ok(()));
        assert_eq!(run(b"400 too busy\r\n").unwrap_err().0, "NNTP banner 400 too busy");
        assert_eq!(run(b"502 go away\r\n").unwrap_err().0, "NNTP banner 502 go away");
        assert!(run(b"").unwrap_err().0.contains("closed"));
        assert!(run(b"20").unwrap_err().0.contains("closed"));
        assert!(run(b"HTTP/1.1 200 OK\r\n").unwrap_err().0.contains("not a protocol reply"));
        assert!(run(&[b'2'; 30_000]).unwrap_err().0.contains("longer than"));
        let mut spec = CheckSpec::new(Service::Nntp);
        spec.receive = Some(Receive::new("INN").unwrap());
        assert_eq!(check_scripted(&spec, b"200 INN 2.7 ready\r\n"), Ok(()));
        assert_eq!(check_scripted(&spec, b"200 other\r\n").unwrap_err().0, "receive /INN/ not in the banner");
    }
}
