//! service=imap and imaps: greeting, LOGIN when a login is given, LOGOUT (ldirectord's
//! Net::IMAP::Simple).
//!
//! imaps is TLS from the first byte (port 993), certificate not verified unless `tls_verify`.
//! Up is: an `* OK` (or `* PREAUTH`) greeting and, with `login=`, a tagged OK to LOGIN.
//! `* BYE` is down with its text.
//!
//! STARTTLS (RFC 3501 6.2.1): on plain imap with a login, when the server's capabilities (in the
//! greeting's `[CAPABILITY ...]` code, else from CAPABILITY) include STARTTLS, we upgrade before
//! LOGIN, for the reason given in pop.rs. LOGINDISABLED without STARTTLS is down with that
//! reason rather than sending a login the server said it will refuse.
//!
//! receive=: ldirectord ignores it for imap; we match it against the greeting line.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{LineReader, MAX_REPLY_LINES, Scripted, run_ready, short};
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
    let stream = if spec.service == Service::Imaps {
        probe.stage("in the TLS handshake");
        Stream::Tls(Box::new(tls::handshake(tcp, name.clone(), spec.tls_verify).await?))
    } else {
        Stream::Plain(tcp)
    };
    let mut r = LineReader::new(stream);
    let next = greeting(probe, &mut r, spec.service == Service::Imap).await?;
    if next == Next::StartTls {
        starttls(probe, &mut r).await?;
        let (stream, rest) = r.into_parts();
        if !rest.is_empty() {
            return Err(Down::new("server sent data after its STARTTLS reply"));
        }
        probe.stage("in the STARTTLS handshake");
        r = LineReader::new(stream.start_tls(name, spec.tls_verify).await?);
    }
    login_and_logout(probe, &mut r, next == Next::Preauth).await
}

/// What the greeting leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Login,
    StartTls,
    /// PREAUTH: already logged in, nothing to send but LOGOUT.
    Preauth,
}

/// A tagged reply's status: `Ok(text)` for `<tag> OK text`, the reason for NO/BAD.
pub fn parse_tagged<'l>(line: &'l str, tag: &str) -> Option<Result<&'l str, Down>> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(if status.eq_ignore_ascii_case("OK") {
        Ok(text)
    } else if status.eq_ignore_ascii_case("NO") || status.eq_ignore_ascii_case("BAD") {
        Err(Down(format!("{} {}", status.to_ascii_uppercase(), short(text)).trim_end().to_string()))
    } else {
        Err(Down(format!("not an IMAP reply: {}", crate::lines::quoted(line))))
    })
}

/// Capability words in a line such as `* CAPABILITY IMAP4rev1 STARTTLS` or
/// `* OK [CAPABILITY IMAP4rev1 STARTTLS] ready`, upper-cased; `None` if it names none.
pub fn capabilities(line: &str) -> Option<Vec<String>> {
    let upper = line.to_ascii_uppercase();
    let start = upper.find("CAPABILITY ")? + "CAPABILITY ".len();
    let end = upper[start..].find(']').map_or(upper.len(), |e| start + e);
    Some(upper[start..end].split_whitespace().map(str::to_string).collect())
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(r: &mut LineReader<S>, cmd: &str) -> CheckResult {
    r.get_mut().write_all(format!("{cmd}\r\n").as_bytes()).await?;
    r.get_mut().flush().await?;
    Ok(())
}

/// Reads untagged lines up to the reply tagged `tag`: the untagged lines and the tagged status.
async fn tagged<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut LineReader<S>,
    tag: &str,
) -> Result<(Vec<String>, Result<String, Down>), Down> {
    let mut untagged = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let line = r.read_line().await?;
        if let Some(status) = parse_tagged(&line, tag) {
            return Ok((untagged, status.map(str::to_string)));
        }
        if let Some(rest) = line.strip_prefix("* ") {
            if rest.to_ascii_uppercase().starts_with("BYE") {
                return Err(Down(format!("server said {}", short(rest))));
            }
            untagged.push(line);
        } else {
            return Err(Down(format!("not an IMAP reply: {}", crate::lines::quoted(&line))));
        }
    }
    Err(Down(format!("more than {MAX_REPLY_LINES} lines before the {tag} reply")))
}

/// Reads the greeting (and the capabilities when a login is to be sent on a connection that
/// may be upgraded).
pub async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
    may_upgrade: bool,
) -> Result<Next, Down> {
    probe.stage("waiting for the IMAP greeting");
    let line = r.read_line().await?;
    let upper = line.to_ascii_uppercase();
    let preauth = if upper.starts_with("* OK") {
        false
    } else if upper.starts_with("* PREAUTH") {
        true
    } else if upper.starts_with("* BYE") {
        return Err(Down(format!("IMAP greeting {}", short(&line[2..]))));
    } else {
        return Err(Down(format!("not an IMAP greeting: {}", crate::lines::quoted(&line))));
    };
    if let Some(receive) = &probe.spec.receive {
        if !receive.is_match(&line.as_bytes()[2..]) {
            return Err(receive.mismatch("the greeting"));
        }
    }
    if preauth {
        return Ok(Next::Preauth);
    }
    if !wants_login(probe.spec) {
        return Ok(Next::Login);
    }
    let caps = match capabilities(&line) {
        Some(caps) => caps,
        None => {
            probe.stage("waiting for the CAPABILITY reply");
            send(r, "c1 CAPABILITY").await?;
            let (untagged, status) = tagged(r, "c1").await?;
            match status {
                Ok(_) => untagged.iter().filter_map(|l| capabilities(l)).flatten().collect(),
                Err(_) => Vec::new(),
            }
        }
    };
    let has = |c: &str| caps.iter().any(|x| x == c);
    if may_upgrade && has("STARTTLS") {
        return Ok(Next::StartTls);
    }
    if has("LOGINDISABLED") {
        return Err(Down::new("login refused: the server advertises LOGINDISABLED"));
    }
    Ok(Next::Login)
}

/// Sends STARTTLS and expects a tagged OK.
pub async fn starttls<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
) -> CheckResult {
    probe.stage("waiting for the STARTTLS reply");
    send(r, "s1 STARTTLS").await?;
    let (_, status) = tagged(r, "s1").await?;
    status.map(|_| ()).map_err(|e| Down(format!("STARTTLS refused: {}", e.0)))
}

fn wants_login(spec: &CheckSpec) -> bool {
    spec.login.as_deref().is_some_and(|l| !l.is_empty())
}

/// An IMAP quoted string (RFC 3501 4.3): `"` and `\` escaped.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// LOGIN when a login is configured (and not preauthenticated), then LOGOUT (not awaited).
pub async fn login_and_logout<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
    preauth: bool,
) -> CheckResult {
    let spec = probe.spec;
    if wants_login(spec) && !preauth {
        let user = spec.login.as_deref().unwrap_or("");
        let pass = spec.passwd.as_deref().unwrap_or("");
        if [user, pass].iter().any(|s| s.contains(['\r', '\n', '\0'])) {
            return Err(Down::new("login or passwd contains a line break"));
        }
        probe.stage("waiting for the LOGIN reply");
        send(r, &format!("l1 LOGIN {} {}", quoted(user), quoted(pass))).await?;
        let (_, status) = tagged(r, "l1").await?;
        status.map_err(|e| Down(format!("login refused: {}", e.0)))?;
    }
    probe.stage("sending LOGOUT");
    let _ = send(r, "z1 LOGOUT").await;
    Ok(())
}

/// The check against a scripted server that sends `server` (then closes), plain IMAP with
/// STARTTLS answered but not upgraded: for the fuzzer and the unit tests.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:143".parse().unwrap());
    let probe = Probe::new(spec, &target);
    run_ready(async {
        let mut r = LineReader::new(Scripted::new(server));
        let next = greeting(&probe, &mut r, true).await?;
        if next == Next::StartTls {
            starttls(&probe, &mut r).await?;
        }
        login_and_logout(&probe, &mut r, next == Next::Preauth).await
    })
    .unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::Receive;

    fn spec(login: Option<(&str, &str)>) -> CheckSpec {
        let mut s = CheckSpec::new(Service::Imap);
        if let Some((u, p)) = login {
            s.login = Some(u.into());
            s.passwd = Some(p.into());
        }
        s
    }

    #[test]
    fn greetings() {
        assert_eq!(check_scripted(&spec(None), b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"), Ok(()));
        assert_eq!(check_scripted(&spec(None), b"* PREAUTH hi\r\n"), Ok(()));
        assert_eq!(
            check_scripted(&spec(None), b"* BYE too busy\r\n").unwrap_err().0,
            "IMAP greeting BYE too busy"
        );
        assert!(check_scripted(&spec(None), b"+OK pop\r\n").unwrap_err().0.contains("not an IMAP greeting"));
        assert!(check_scripted(&spec(None), b"* OK").unwrap_err().0.contains("closed"));
        assert!(check_scripted(&spec(None), &[b'*'; 40_000]).unwrap_err().0.contains("longer than"));
    }

    #[test]
    fn logins() {
        let s = spec(Some(("u", "p\"q")));
        assert_eq!(
            check_scripted(&s, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\nl1 OK Logged in\r\n"),
            Ok(())
        );
        let asked =
            b"* OK hi\r\n* CAPABILITY IMAP4rev1\r\nc1 OK done\r\n* CAPABILITY IMAP4rev1\r\nl1 OK in\r\n";
        assert_eq!(check_scripted(&s, asked), Ok(()));
        let tls = b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\ns1 OK Begin TLS\r\nl1 OK in\r\n";
        assert_eq!(check_scripted(&s, tls), Ok(()));
        let refused =
            b"* OK [CAPABILITY IMAP4rev1] hi\r\nl1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n";
        assert_eq!(
            check_scripted(&s, refused).unwrap_err().0,
            "login refused: NO [AUTHENTICATIONFAILED] Authentication failed."
        );
        let disabled = b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n";
        assert!(check_scripted(&s, disabled).unwrap_err().0.contains("LOGINDISABLED"));
        let bye = b"* OK [CAPABILITY IMAP4rev1] hi\r\n* BYE shutting down\r\n";
        assert_eq!(check_scripted(&s, bye).unwrap_err().0, "server said BYE shutting down");
        let junk = b"* OK [CAPABILITY IMAP4rev1] hi\r\nwhat\r\n";
        assert!(check_scripted(&s, junk).unwrap_err().0.contains("not an IMAP reply"));
        let endless = format!("* OK [CAPABILITY X] hi\r\n{}", "* 1 EXISTS\r\n".repeat(1000));
        assert!(check_scripted(&s, endless.as_bytes()).unwrap_err().0.contains("more than"));
        assert!(check_scripted(&spec(Some(("u\r\n", "p"))), b"* OK [CAPABILITY X] hi\r\n").is_err());
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn receive_matches_the_greeting() {
        let mut s = spec(None);
        s.receive = Some(Receive::new("Dovecot").unwrap());
        assert_eq!(check_scripted(&s, b"* OK Dovecot ready.\r\n"), Ok(()));
        assert_eq!(
            check_scripted(&s, b"* OK Cyrus\r\n").unwrap_err().0,
            "receive /Dovecot/ not in the greeting"
        );
    }
}
