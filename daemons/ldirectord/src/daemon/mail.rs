//! Sending one alert mail: over SMTP to the `smtp=` relay, or through the local sendmail
//! (upstream: Net::SMTP or Mail::Send). Always in the background and bounded by
//! [`super::hooks::HOOK_LIMIT`], so a dead relay never delays a check or an IPVS change.
//!
//! The SMTP client is our own and minimal (EHLO or HELO, MAIL, RCPT, DATA, QUIT; no AUTH, no
//! STARTTLS, as upstream's Net::SMTP call): a mail crate (lettre) would bring dozens of crates
//! for six commands to a relay.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{hooks::HOOK_LIMIT, log};

/// Where the local mail system takes a message (`-t`: recipients from the header).
pub const SENDMAIL: &str = "/usr/sbin/sendmail";

/// A composed alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Envelope and header sender.
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl Mail {
    /// The message as sent (CRLF line ends; the body dot-stuffed only for SMTP's DATA).
    pub fn message(&self) -> String {
        let mut m =
            format!("From: {}\r\nTo: {}\r\nSubject: {}\r\n\r\n", self.from, self.to.join(", "), self.subject);
        for line in self.body.lines() {
            m.push_str(line);
            m.push_str("\r\n");
        }
        m
    }
}

/// Sends `mail` in the background: to `smtp` (host or host:port) if given, else through
/// [`SENDMAIL`]. The outcome is logged.
pub fn send(mail: Mail, smtp: Option<String>) {
    tokio::spawn(async move {
        let how = smtp.clone().map(|s| format!("SMTP relay {s}")).unwrap_or_else(|| SENDMAIL.to_string());
        let r = match &smtp {
            Some(relay) => tokio::time::timeout(HOOK_LIMIT, send_smtp(relay, &mail)).await,
            None => tokio::time::timeout(HOOK_LIMIT, send_sendmail(&mail)).await,
        };
        match r {
            Ok(Ok(())) => {
                log::info(&format!("emailalert to {} via {how}: {}", mail.to.join(", "), mail.subject))
            }
            Ok(Err(e)) => log::error(&format!("emailalert via {how} failed: {e} ({})", mail.subject)),
            Err(_) => log::error(&format!(
                "emailalert via {how} gave up after {} s ({})",
                HOOK_LIMIT.as_secs(),
                mail.subject
            )),
        }
    });
}

async fn send_sendmail(mail: &Mail) -> Result<(), String> {
    let mut child = tokio::process::Command::new(SENDMAIL)
        .args(["-t", "-i", "-f", &mail.from])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {SENDMAIL}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(mail.message().as_bytes())
            .await
            .map_err(|e| format!("writing to {SENDMAIL}: {e}"))?;
    }
    let st = child.wait().await.map_err(|e| format!("{SENDMAIL}: {e}"))?;
    if st.success() { Ok(()) } else { Err(format!("{SENDMAIL} exited with {st}")) }
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address → (host, port); port 25 by default.
pub fn relay_address(relay: &str) -> (String, u16) {
    let relay = relay.trim();
    if let Some(rest) = relay.strip_prefix('[')
        && let Some((h, p)) = rest.split_once(']')
    {
        let port = p.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(25);
        return (h.to_string(), port);
    }
    match relay.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().unwrap_or(25)),
        _ => (relay.to_string(), 25),
    }
}

/// Longest reply line we read, and most lines of one reply: a hostile relay cannot make us
/// read without bound.
const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 64;

async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Result<(u16, String), String> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading the reply: {e}"))?;
        if n == 0 {
            return Err("the relay closed the connection".into());
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an SMTP reply: {line:?}"))?;
        text = line.clone();
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
    }
    Err(format!("reply longer than {MAX_LINES} lines (last: {text:?})"))
}

async fn command(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    line: &str,
    want: u16,
) -> Result<(u16, String), String> {
    w.write_all(format!("{line}\r\n").as_bytes()).await.map_err(|e| format!("sending {line:?}: {e}"))?;
    let (code, text) = reply(r).await?;
    if code / 100 != want / 100 {
        return Err(format!("{line:?} answered {text:?}"));
    }
    Ok((code, text))
}

async fn send_smtp(relay: &str, mail: &Mail) -> Result<(), String> {
    let (host, port) = relay_address(relay);
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| format!("connecting to {host}:{port}: timeout"))?
        .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    let (rd, mut w) = stream.into_split();
    let mut r = BufReader::new(rd);
    let (code, text) = reply(&mut r).await?;
    if code != 220 {
        return Err(format!("greeting {text:?}"));
    }
    let me = hostname();
    if command(&mut r, &mut w, &format!("EHLO {me}"), 250).await.is_err() {
        command(&mut r, &mut w, &format!("HELO {me}"), 250).await?;
    }
    command(&mut r, &mut w, &format!("MAIL FROM:<{}>", mail.from), 250).await?;
    for to in &mail.to {
        command(&mut r, &mut w, &format!("RCPT TO:<{to}>"), 250).await?;
    }
    command(&mut r, &mut w, "DATA", 354).await?;
    let mut data = String::new();
    for line in mail.message().split("\r\n") {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    // message() ends with CRLF, so the split left one empty piece: the terminator follows.
    data.truncate(data.len() - 2);
    data.push_str(".\r\n");
    w.write_all(data.as_bytes()).await.map_err(|e| format!("sending the message: {e}"))?;
    let (code, text) = reply(&mut r).await?;
    if code / 100 != 2 {
        return Err(format!("the message was refused: {text:?}"));
    }
    let _ = command(&mut r, &mut w, "QUIT", 221).await;
    Ok(())
}

/// This node's name, for EHLO, the default sender and the body (the parser's rule).
pub fn hostname() -> String {
    crate::config::local_hostname()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses() {
        assert_eq!(relay_address("mail.example"), ("mail.example".into(), 25));
        assert_eq!(relay_address("198.51.100.5:2525"), ("198.51.100.5".into(), 2525));
        assert_eq!(relay_address("[2001:db8::5]:587"), ("2001:db8::5".into(), 587));
        assert_eq!(relay_address("2001:db8::5"), ("2001:db8::5".into(), 25));
    }

    /// A relay written in the test: it records what it was sent, and the alert arrives
    /// whole, with a leading dot stuffed and unstuffed.
    #[tokio::test(flavor = "current_thread")]
    async fn smtp_dialogue_and_dot_stuffing() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (rd, mut w) = s.into_split();
            let mut r = BufReader::new(rd);
            let mut log = Vec::new();
            w.write_all(b"220 relay ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            let mut body = String::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        w.write_all(b"250 queued\r\n").await.unwrap();
                    } else {
                        body.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    continue;
                }
                log.push(line.trim_end().to_string());
                let reply: &[u8] = match line.get(..4).unwrap_or("") {
                    "EHLO" => b"250-relay\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                w.write_all(reply).await.unwrap();
            }
            (log, body)
        });
        let mail = Mail {
            from: "ldirectord@director".into(),
            to: vec!["ops@example.org".into(), "oncall@example.org".into()],
            subject: "Deleted real server: 203.0.113.2:80 (TCP 198.51.100.10:80)".into(),
            body: "ldirectord host: director\n.a line with a leading dot\nDaemon-Status: running".into(),
        };
        send_smtp(&addr.to_string(), &mail).await.unwrap();
        let (log, body) = server.await.unwrap();
        assert!(log[0].starts_with("EHLO "), "{log:?}");
        assert_eq!(
            &log[1..],
            [
                "MAIL FROM:<ldirectord@director>",
                "RCPT TO:<ops@example.org>",
                "RCPT TO:<oncall@example.org>",
                "DATA",
                "QUIT"
            ]
        );
        assert!(body.contains("Subject: Deleted real server: 203.0.113.2:80"), "{body}");
        assert!(body.contains("\r\n.a line with a leading dot\r\n"), "{body}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refusing_relay_is_an_error_naming_the_command() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (rd, mut w) = s.into_split();
            let mut r = BufReader::new(rd);
            w.write_all(b"220 relay\r\n").await.unwrap();
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                let reply: &[u8] =
                    if line.starts_with("RCPT") { b"550 5.1.1 no such user\r\n" } else { b"250 ok\r\n" };
                w.write_all(reply).await.unwrap();
                line.clear();
            }
        });
        let mail = Mail { from: "a@b".into(), to: vec!["x@y".into()], subject: "s".into(), body: "b".into() };
        let e = send_smtp(&addr.to_string(), &mail).await.unwrap_err();
        assert!(e.contains("RCPT TO:<x@y>") && e.contains("550"), "{e}");
    }
}
