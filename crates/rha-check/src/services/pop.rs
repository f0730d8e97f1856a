//! service=pop and pops: greeting, USER/PASS when a login is given, QUIT (ldirectord's
//! Mail::POP3Client).
//!
//! pops is TLS from the first byte (port 995); the certificate is not verified unless
//! `tls_verify`, as ldirectord. Up is: a `+OK` greeting, and, with `login=`, `+OK` to USER and
//! to PASS. Without a login only the greeting is checked, as ldirectord.
//!
//! STARTTLS (RFC 2595 STLS): on plain pop with a login, we ask CAPA and, when the server offers
//! STLS, upgrade before sending the password. That keeps the password off the wire and is what
//! servers that refuse plaintext logins on port 110 (dovecot's default) need; a server that
//! offers no STLS gets the plain login ldirectord would send. Without a login there is nothing
//! to protect, so no CAPA/STLS is sent (the check stays ldirectord's one round trip).
//!
//! receive=: ldirectord ignores it for pop; we match it against the greeting line, like smtp.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{LineReader, MAX_REPLY_LINES, Scripted, quoted, run_ready, short};
use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Service, Target};
use crate::tls::{self, Stream};

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    probe.stage("connecting");
    let tcp = connect_tcp(probe.target).await?;
    let name = tls::server_name(spec.virtualhost.as_deref(), probe.target.addr.ip());
    let stream = if spec.service == Service::Pops {
        probe.stage("in the TLS handshake");
        Stream::Tls(Box::new(tls::handshake(tcp, name.clone(), spec.tls_verify).await?))
    } else {
        Stream::Plain(tcp)
    };
    let mut r = LineReader::new(stream);
    let offered = greeting(probe, &mut r, spec.service == Service::Pop).await?;
    if offered {
        stls(probe, &mut r).await?;
        let (stream, rest) = r.into_parts();
        if !rest.is_empty() {
            // Bytes sent before the handshake would be read as if they came over TLS.
            return Err(Down::new("server sent data after its STLS reply"));
        }
        probe.stage("in the STLS handshake");
        r = LineReader::new(stream.start_tls(name, spec.tls_verify).await?);
    }
    login_and_quit(probe, &mut r).await
}

/// A POP3 status line: `Ok(text)` for `+OK text`, the reason for `-ERR ...` or anything else.
pub fn parse_status(line: &str) -> Result<&str, Down> {
    if let Some(rest) = line.strip_prefix("+OK") {
        if rest.is_empty() || rest.starts_with(' ') {
            return Ok(rest.trim_start());
        }
    }
    if line.starts_with("-ERR") {
        return Err(Down(short(line).to_string()));
    }
    Err(Down(format!("not a POP3 reply: {}", quoted(line))))
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut LineReader<S>,
    cmd: &str,
) -> Result<String, Down> {
    r.get_mut().write_all(format!("{cmd}\r\n").as_bytes()).await?;
    r.get_mut().flush().await?;
    r.read_line().await
}

/// Reads the greeting (and, when `may_upgrade` and a login is to be sent, CAPA): whether the
/// server offers STLS.
pub async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
    may_upgrade: bool,
) -> Result<bool, Down> {
    probe.stage("waiting for the POP3 greeting");
    let line = r.read_line().await?;
    let text = parse_status(&line).map_err(|e| Down(format!("POP3 greeting {}", e.0)))?.to_string();
    if let Some(receive) = &probe.spec.receive {
        if !receive.is_match(text.as_bytes()) {
            return Err(receive.mismatch("the greeting"));
        }
    }
    if !(may_upgrade && wants_login(probe.spec)) {
        return Ok(false);
    }
    probe.stage("waiting for the CAPA reply");
    let line = command(r, "CAPA").await?;
    if parse_status(&line).is_err() {
        // No CAPA (RFC 1939 servers): no STLS either.
        return Ok(false);
    }
    let mut stls = false;
    for _ in 0..MAX_REPLY_LINES {
        let line = r.read_line().await?;
        if line == "." {
            return Ok(stls);
        }
        stls |= line.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("STLS"));
    }
    Err(Down(format!("CAPA reply longer than {MAX_REPLY_LINES} lines")))
}

/// Sends STLS and expects `+OK`.
pub async fn stls<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
) -> CheckResult {
    probe.stage("waiting for the STLS reply");
    let line = command(r, "STLS").await?;
    parse_status(&line).map(|_| ()).map_err(|e| Down(format!("STLS refused: {}", e.0)))
}

fn wants_login(spec: &CheckSpec) -> bool {
    spec.login.as_deref().is_some_and(|l| !l.is_empty())
}

/// USER/PASS when a login is configured, then QUIT (its reply not awaited).
pub async fn login_and_quit<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
) -> CheckResult {
    let spec = probe.spec;
    if wants_login(spec) {
        let user = spec.login.as_deref().unwrap_or("");
        let pass = spec.passwd.as_deref().unwrap_or("");
        if [user, pass].iter().any(|s| s.contains(['\r', '\n'])) {
            return Err(Down::new("login or passwd contains a line break"));
        }
        probe.stage("waiting for the USER reply");
        let line = command(r, &format!("USER {user}")).await?;
        parse_status(&line).map_err(|e| Down(format!("login refused: {}", e.0)))?;
        probe.stage("waiting for the PASS reply");
        let line = command(r, &format!("PASS {pass}")).await?;
        parse_status(&line).map_err(|e| Down(format!("login refused: {}", e.0)))?;
    }
    probe.stage("sending QUIT");
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    let _ = r.get_mut().flush().await;
    Ok(())
}

/// The check against a scripted server that sends `server` (then closes), over plain POP3
/// with STLS answered but not upgraded: for the fuzzer and the unit tests.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:110".parse().unwrap());
    let probe = Probe::new(spec, &target);
    run_ready(async {
        let mut r = LineReader::new(Scripted::new(server));
        if greeting(&probe, &mut r, true).await? {
            stls(&probe, &mut r).await?;
        }
        login_and_quit(&probe, &mut r).await
    })
    .unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::Receive;

    fn spec(login: Option<(&str, &str)>) -> CheckSpec {
        let mut s = CheckSpec::new(Service::Pop);
        if let Some((u, p)) = login {
            s.login = Some(u.into());
            s.passwd = Some(p.into());
        }
        s
    }

    #[test]
    fn greeting_only_without_a_login() {
        assert_eq!(check_scripted(&spec(None), b"+OK Dovecot ready.\r\n"), Ok(()));
        assert_eq!(check_scripted(&spec(None), b"+OK\r\n"), Ok(()));
        assert_eq!(
            check_scripted(&spec(None), b"-ERR go away\r\n").unwrap_err().0,
            "POP3 greeting -ERR go away"
        );
        assert!(check_scripted(&spec(None), b"+OKAY\r\n").unwrap_err().0.contains("not a POP3 reply"));
        assert!(check_scripted(&spec(None), b"").unwrap_err().0.contains("closed"));
        assert!(check_scripted(&spec(None), &[b'+'; 50_000]).unwrap_err().0.contains("longer than"));
    }

    #[test]
    fn login_with_and_without_stls() {
        let s = spec(Some(("u", "p")));
        let plain = b"+OK hi\r\n+OK Capability list follows\r\nUSER\r\n.\r\n+OK\r\n+OK Logged in.\r\n";
        assert_eq!(check_scripted(&s, plain), Ok(()));
        let tls = b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n+OK Begin TLS\r\n+OK\r\n+OK in\r\n";
        assert_eq!(check_scripted(&s, tls), Ok(()));
        let no_capa = b"+OK hi\r\n-ERR unknown\r\n+OK\r\n+OK in\r\n";
        assert_eq!(check_scripted(&s, no_capa), Ok(()));
        let refused = b"+OK hi\r\n-ERR\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n";
        assert_eq!(
            check_scripted(&s, refused).unwrap_err().0,
            "login refused: -ERR [AUTH] Authentication failed."
        );
        let stls_refused = b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n-ERR no\r\n";
        assert_eq!(check_scripted(&s, stls_refused).unwrap_err().0, "STLS refused: -ERR no");
        let endless = format!("+OK hi\r\n+OK\r\n{}", "X\r\n".repeat(1000));
        assert!(check_scripted(&s, endless.as_bytes()).unwrap_err().0.contains("CAPA reply longer"));
        assert!(check_scripted(&s, b"+OK hi\r\n+OK\r\nSTLS\r\n").is_err());
        let injected = spec(Some(("u\r\nDELE 1", "p")));
        assert!(check_scripted(&injected, plain).unwrap_err().0.contains("line break"));
    }

    #[test]
    fn receive_matches_the_greeting() {
        let mut s = spec(None);
        s.receive = Some(Receive::new("Dovecot").unwrap());
        assert_eq!(check_scripted(&s, b"+OK Dovecot ready.\r\n"), Ok(()));
        assert_eq!(
            check_scripted(&s, b"+OK Courier\r\n").unwrap_err().0,
            "receive /Dovecot/ not in the greeting"
        );
    }
}
