//! service=ftp: banner, login, passive RETR of `request`, receive matched on the file
//! (ldirectord's Net::FTP session).
//!
//! - The banner must be 220 (a 120 "ready in n minutes" is down: not ready now).
//! - USER `login` (default `anonymous`, as ldirectord) and PASS `passwd` (default
//!   `ldirectord@<hostname>`, as ldirectord); 230 is logged in. ldirectord ignores a failed
//!   login and then fails on the empty download; we say "login refused: 530 ..." directly.
//! - With a request (ldirectord's default request "/" names no file): TYPE I, then PASV on
//!   IPv4 and EPSV on IPv6 (RFC 2428; PASV has no IPv6 form). The data connection goes to the
//!   real's own address and the port the server gave, from the same source address as the
//!   control connection: the address in a 227 reply is ignored (servers behind NAT give a
//!   wrong one, and following it would let a server point us elsewhere). RETR of the request
//!   with a leading "/" (ldirectord prefixes one), the data read up to [`MAX_DATA`] bytes, then
//!   the transfer's 226.
//! - receive= is matched against the file (its first [`MAX_DATA`] bytes); without a request,
//!   against the banner and login replies. Empty: no match asked.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{CodedReply, LineReader, Scripted, quoted, read_coded_reply, read_to_limit, run_ready};
use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Target};

/// The most file bytes read (and matched).
pub const MAX_DATA: usize = 1024 * 1024;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    probe.stage("connecting");
    let tcp = connect_tcp(probe.target).await?;
    let mut r = LineReader::new(tcp);
    let text = login(probe, &mut r).await?;
    let Some(path) = retr_path(probe.spec) else {
        quit(&mut r).await;
        return match_receive(probe.spec, text.as_bytes(), "the banner or login replies");
    };
    let port = passive(probe, &mut r, probe.target.addr.is_ipv6()).await?;
    probe.stage("connecting the data connection");
    let data_target =
        Target { addr: SocketAddr::new(probe.target.addr.ip(), port), source: probe.target.source };
    let mut data = connect_tcp(&data_target).await?;
    probe.stage("waiting for the RETR reply");
    command(&mut r, &format!("RETR {path}")).await?;
    let reply = read_coded_reply(&mut r).await?;
    if reply.code != 150 && reply.code != 125 {
        return Err(Down(format!("RETR {path}: {}", reply.summary())));
    }
    probe.stage("reading the file");
    let (file, truncated) = read_to_limit(&mut data, MAX_DATA).await?;
    drop(data);
    if !truncated {
        probe.stage("waiting for the end of the transfer");
        let done = read_coded_reply(&mut r).await?;
        if done.code / 100 != 2 {
            return Err(Down(format!("RETR {path}: {}", done.summary())));
        }
    }
    quit(&mut r).await;
    match_receive(probe.spec, &file, "the file")
}

fn match_receive(spec: &CheckSpec, what: &[u8], name: &str) -> CheckResult {
    match &spec.receive {
        Some(receive) if !receive.is_match(what) => Err(receive.mismatch(name)),
        _ => Ok(()),
    }
}

/// The path to RETR: `request` with a leading "/", none for an empty request or "/".
pub fn retr_path(spec: &CheckSpec) -> Option<String> {
    let request = spec.request.as_deref()?.trim();
    let path = request.trim_start_matches('/');
    (!path.is_empty()).then(|| format!("/{path}"))
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(r: &mut LineReader<S>, cmd: &str) -> CheckResult {
    r.get_mut().write_all(format!("{cmd}\r\n").as_bytes()).await?;
    r.get_mut().flush().await?;
    Ok(())
}

async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut LineReader<S>,
    cmd: &str,
) -> Result<CodedReply, Down> {
    command(r, cmd).await?;
    read_coded_reply(r).await
}

async fn quit<S: AsyncRead + AsyncWrite + Unpin>(r: &mut LineReader<S>) {
    let _ = command(r, "QUIT").await;
}

/// ldirectord's default password: `ldirectord@<hostname>`.
fn default_passwd() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("ldirectord@{}", if host.is_empty() { "localhost" } else { host })
}

/// Banner and login: the replies' text (for receive= without a request).
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
) -> Result<String, Down> {
    let spec = probe.spec;
    probe.stage("waiting for the FTP banner");
    let banner = read_coded_reply(r).await?;
    if banner.code != 220 {
        return Err(Down(format!("FTP banner {}", banner.summary())));
    }
    let user = spec.login.clone().filter(|l| !l.is_empty()).unwrap_or_else(|| "anonymous".into());
    let pass = spec.passwd.clone().filter(|p| !p.is_empty()).unwrap_or_else(default_passwd);
    if [&user, &pass].iter().any(|s| s.contains(['\r', '\n'])) {
        return Err(Down::new("login or passwd contains a line break"));
    }
    probe.stage("waiting for the USER reply");
    let mut reply = ask(r, &format!("USER {user}")).await?;
    if reply.code == 331 {
        probe.stage("waiting for the PASS reply");
        reply = ask(r, &format!("PASS {pass}")).await?;
    }
    if reply.code != 230 && reply.code != 202 {
        return Err(Down(format!("login refused: {}", reply.summary())));
    }
    Ok(format!("{}\n{}", banner.text(), reply.text()))
}

/// TYPE I, then PASV (IPv4) or EPSV (IPv6): the data port.
pub async fn passive<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    r: &mut LineReader<S>,
    ipv6: bool,
) -> Result<u16, Down> {
    probe.stage("waiting for the TYPE reply");
    let reply = ask(r, "TYPE I").await?;
    if reply.code / 100 != 2 {
        return Err(Down(format!("TYPE I refused: {}", reply.summary())));
    }
    if ipv6 {
        probe.stage("waiting for the EPSV reply");
        let reply = ask(r, "EPSV").await?;
        if reply.code != 229 {
            return Err(Down(format!("EPSV refused: {}", reply.summary())));
        }
        parse_epsv(&reply.text())
    } else {
        probe.stage("waiting for the PASV reply");
        let reply = ask(r, "PASV").await?;
        if reply.code != 227 {
            return Err(Down(format!("PASV refused: {}", reply.summary())));
        }
        parse_pasv(&reply.text())
    }
}

/// The port of a 227 reply's text: `Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (the numbers
/// may come without parentheses, RFC 1123 4.1.2.6).
pub fn parse_pasv(text: &str) -> Result<u16, Down> {
    let bad = || Down(format!("bad PASV reply {}", quoted(text)));
    let start = text.find(|c: char| c.is_ascii_digit()).ok_or_else(bad)?;
    let nums: Vec<&str> = text[start..]
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .next()
        .ok_or_else(bad)?
        .split(',')
        .collect();
    if nums.len() != 6 {
        return Err(bad());
    }
    let mut n = [0u8; 6];
    for (slot, s) in n.iter_mut().zip(&nums) {
        *slot = s.parse().map_err(|_| bad())?;
    }
    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
    if port == 0 { Err(bad()) } else { Ok(port) }
}

/// The port of a 229 reply's text: `Entering Extended Passive Mode (|||6446|)` (any
/// delimiter, RFC 2428 3).
pub fn parse_epsv(text: &str) -> Result<u16, Down> {
    let bad = || Down(format!("bad EPSV reply {}", quoted(text)));
    let open = text.find('(').ok_or_else(bad)?;
    let close = text[open..].find(')').map(|c| open + c).ok_or_else(bad)?;
    let inner = &text[open + 1..close];
    let d = inner.chars().next().ok_or_else(bad)?;
    let parts: Vec<&str> = inner.split(d).collect();
    if parts.len() != 5
        || !parts[0].is_empty()
        || !parts[1].is_empty()
        || !parts[2].is_empty()
        || !parts[4].is_empty()
    {
        return Err(bad());
    }
    match parts[3].parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(bad()),
    }
}

/// The control-connection dialogue against a scripted server, up to the passive reply: for
/// the fuzzer and the unit tests (a scripted server has no data connection).
pub fn check_scripted(spec: &CheckSpec, server: &[u8], ipv6: bool) -> Result<u16, Down> {
    let target = Target::new("192.0.2.1:21".parse().unwrap());
    let probe = Probe::new(spec, &target);
    run_ready(async {
        let mut r = LineReader::new(Scripted::new(server));
        login(&probe, &mut r).await?;
        passive(&probe, &mut r, ipv6).await
    })
    .unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Service;

    fn spec() -> CheckSpec {
        CheckSpec::new(Service::Ftp)
    }

    #[test]
    fn login_and_passive() {
        let ok = b"220-Welcome\r\n  to vsftpd\r\n220 ready\r\n331 pw\r\n230 in\r\n200 ok\r\n227 Entering Passive Mode (198,51,100,2,39,16).\r\n";
        assert_eq!(check_scripted(&spec(), ok, false), Ok(10000));
        let v6 = b"220 ready\r\n230 in\r\n200 ok\r\n229 Entering Extended Passive Mode (|||6446|)\r\n";
        assert_eq!(check_scripted(&spec(), v6, true), Ok(6446));
        let refused = b"220 ready\r\n331 pw\r\n530 Login incorrect.\r\n";
        assert_eq!(
            check_scripted(&spec(), refused, false).unwrap_err().0,
            "login refused: 530 Login incorrect."
        );
        assert_eq!(check_scripted(&spec(), b"421 busy\r\n", false).unwrap_err().0, "FTP banner 421 busy");
        assert_eq!(check_scripted(&spec(), b"120 soon\r\n", false).unwrap_err().0, "FTP banner 120 soon");
        let no_pasv = b"220 r\r\n230 in\r\n200 ok\r\n500 no\r\n";
        assert_eq!(check_scripted(&spec(), no_pasv, false).unwrap_err().0, "PASV refused: 500 no");
        assert!(check_scripted(&spec(), b"220 r\r\n230 in\r\n200 ok\r\n227 x\r\n", false).is_err());
        assert!(check_scripted(&spec(), b"220 r\r\n331", false).unwrap_err().0.contains("closed"));
        assert!(check_scripted(&spec(), &[b'2'; 20_000], false).unwrap_err().0.contains("longer than"));
        let mut bad = spec();
        bad.login = Some("a\r\nDELE x".into());
        assert!(check_scripted(&bad, ok, false).unwrap_err().0.contains("line break"));
    }

    #[test]
    fn passive_replies() {
        assert_eq!(parse_pasv("Entering Passive Mode (10,0,0,1,4,1)"), Ok(1025));
        assert_eq!(parse_pasv("=10,0,0,1,0,21"), Ok(21));
        for bad in ["", "(1,2,3,4,5)", "(1,2,3,4,256,1)", "(1,2,3,4,0,0)", "(a,b)", "(1,2,3,4,5,6,7)"] {
            assert!(parse_pasv(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_epsv("ok (!!!21!)"), Ok(21));
        for bad in ["", "(|||0|)", "(|||99999|)", "(||1|2|)", "(|||21)", "(", "()"] {
            assert!(parse_epsv(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_paths() {
        let mut s = spec();
        assert_eq!(retr_path(&s), None);
        s.request = Some("/".into());
        assert_eq!(retr_path(&s), None);
        s.request = Some("pub/check.txt".into());
        assert_eq!(retr_path(&s).as_deref(), Some("/pub/check.txt"));
        s.request = Some("//x".into());
        assert_eq!(retr_path(&s).as_deref(), Some("/x"));
    }
}
