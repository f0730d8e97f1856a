//! service=radius: one Access-Request (RFC 2865) with `login`/`passwd`, the password hidden
//! with the shared `secret`; Access-Accept is up, Access-Reject is down.
//!
//! ldirectord (Authen::Radius `check_pwd`) is up on any reply that proves the server answers;
//! we are stricter, as the issue asks: only an Access-Accept whose Response Authenticator
//! verifies with the secret (a reply from something that does not know the secret, or a
//! reject, is down). Over UDP only, as RADIUS authentication is.
//!
//! The request carries a Message-Authenticator (RFC 3579, HMAC-MD5): FreeRADIUS and others
//! require it since the BlastRADIUS fixes, and it costs nothing. The request is sent again
//! every second until a reply or the negotiate timeout, as RADIUS clients retransmit over UDP.

use std::time::Duration;

use md5::{Digest, Md5};

use crate::Down;
use crate::net::{connect_udp, random_bytes};
use crate::outcome::CheckResult;
use crate::run::Probe;

pub const ACCESS_REQUEST: u8 = 1;
pub const ACCESS_ACCEPT: u8 = 2;
pub const ACCESS_REJECT: u8 = 3;
pub const ACCESS_CHALLENGE: u8 = 11;
const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IDENTIFIER: u8 = 32;
const MESSAGE_AUTHENTICATOR: u8 = 80;
/// The largest RADIUS packet (RFC 2865 §3).
pub const MAX_PACKET: usize = 4096;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let Some(secret) = spec.secret.as_deref().filter(|s| !s.is_empty()) else {
        return Err(Down::new("service=radius needs secret (the shared secret)"));
    };
    let login = spec.login.as_deref().unwrap_or("");
    let passwd = spec.passwd.as_deref().unwrap_or("");
    if login.is_empty() {
        return Err(Down::new("service=radius needs login (the user to authenticate)"));
    }
    let mut authenticator = [0u8; 16];
    random_bytes(&mut authenticator);
    let mut id = [0u8; 1];
    random_bytes(&mut id);
    let request = encode_access_request(id[0], &authenticator, login, passwd, secret.as_bytes())?;
    probe.stage("sending the Access-Request");
    let socket = connect_udp(probe.target).await?;
    socket.send(&request).await?;
    probe.stage("waiting for the RADIUS reply");
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                socket.send(&request).await?;
                continue;
            }
        };
        match parse_reply(&buf[..n], id[0], &authenticator, secret.as_bytes()) {
            // A reply to another request (a late one, another id): not ours, keep waiting.
            Err(Reply::NotOurs) => continue,
            Err(Reply::Down(d)) => return Err(d),
            Ok(ACCESS_ACCEPT) => return Ok(()),
            Ok(ACCESS_REJECT) => return Err(Down::new("Access-Reject")),
            Ok(ACCESS_CHALLENGE) => return Err(Down::new("Access-Challenge (more than a password needed)")),
            Ok(code) => return Err(Down(format!("unexpected RADIUS code {code}"))),
        }
    }
}

/// Why a datagram did not settle the check.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Another id: not the reply to this request.
    NotOurs,
    Down(Down),
}

/// The Access-Request packet.
pub fn encode_access_request(
    id: u8,
    authenticator: &[u8; 16],
    login: &str,
    passwd: &str,
    secret: &[u8],
) -> Result<Vec<u8>, Down> {
    if login.len() > 253 {
        return Err(Down::new("login is longer than a RADIUS attribute (253 bytes)"));
    }
    if passwd.len() > 128 {
        return Err(Down::new("passwd is longer than RADIUS allows (128 bytes)"));
    }
    let mut p = vec![ACCESS_REQUEST, id, 0, 0];
    p.extend_from_slice(authenticator);
    attr(&mut p, USER_NAME, login.as_bytes());
    attr(&mut p, USER_PASSWORD, &hide_password(passwd.as_bytes(), secret, authenticator));
    attr(&mut p, NAS_IDENTIFIER, b"rha-check");
    let ma_at = p.len() + 2;
    attr(&mut p, MESSAGE_AUTHENTICATOR, &[0u8; 16]);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let mac = hmac_md5(secret, &p);
    p[ma_at..ma_at + 16].copy_from_slice(&mac);
    Ok(p)
}

fn attr(p: &mut Vec<u8>, t: u8, value: &[u8]) {
    p.push(t);
    p.push((value.len() + 2) as u8);
    p.extend_from_slice(value);
}

/// RFC 2865 §5.2: the password padded to 16-byte blocks, each XORed with
/// MD5(secret + previous block), the first with MD5(secret + request authenticator).
pub fn hide_password(passwd: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let blocks = passwd.len().div_ceil(16).max(1);
    let mut out = passwd.to_vec();
    out.resize(blocks * 16, 0);
    let mut prev: [u8; 16] = *authenticator;
    for block in out.chunks_mut(16) {
        let b = Md5::new().chain_update(secret).chain_update(prev).finalize();
        for (c, k) in block.iter_mut().zip(b.iter()) {
            *c ^= k;
        }
        prev.copy_from_slice(block);
    }
    out
}

/// HMAC-MD5 (RFC 2104), for the Message-Authenticator.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Md5::new().chain_update(&ipad).chain_update(data).finalize();
    Md5::new().chain_update(&opad).chain_update(inner).finalize().into()
}

/// Checks a reply to request `id` (sent with `authenticator`) and returns its code. The
/// length field and every attribute length are checked against the datagram; the Response
/// Authenticator must be MD5(code, id, length, request authenticator, attributes, secret).
pub fn parse_reply(m: &[u8], id: u8, authenticator: &[u8; 16], secret: &[u8]) -> Result<u8, Reply> {
    let bad = |s: &str| Reply::Down(Down(s.to_string()));
    if m.len() < 20 {
        return Err(bad("truncated RADIUS reply"));
    }
    if m[1] != id {
        return Err(Reply::NotOurs);
    }
    let len = u16::from_be_bytes([m[2], m[3]]) as usize;
    if !(20..=MAX_PACKET).contains(&len) || len > m.len() {
        return Err(bad("bad RADIUS length"));
    }
    // Octets past the length are padding (RFC 2865 §3): ignored.
    let m = &m[..len];
    let mut pos = 20;
    while pos < len {
        let alen = *m.get(pos + 1).ok_or_else(|| bad("truncated RADIUS attribute"))? as usize;
        if alen < 2 || pos + alen > len {
            return Err(bad("bad RADIUS attribute length"));
        }
        pos += alen;
    }
    let expected = Md5::new()
        .chain_update(&m[..4])
        .chain_update(authenticator)
        .chain_update(&m[20..])
        .chain_update(secret)
        .finalize();
    if expected.as_slice() != &m[4..20] {
        return Err(bad("RADIUS reply authenticator does not verify (wrong secret?)"));
    }
    Ok(m[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply the way a server builds it.
    fn reply(code: u8, id: u8, req_auth: &[u8; 16], attrs: &[u8], secret: &[u8]) -> Vec<u8> {
        let mut p = vec![code, id, 0, 0];
        p.extend_from_slice(&[0u8; 16]);
        p.extend_from_slice(attrs);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let auth = Md5::new()
            .chain_update(&p[..4])
            .chain_update(req_auth)
            .chain_update(&p[20..])
            .chain_update(secret)
            .finalize();
        p[4..20].copy_from_slice(&auth);
        p
    }

    #[test]
    fn password_hiding_round_trips() {
        let auth = [7u8; 16];
        for pw in [&b""[..], b"secret", b"0123456789abcdef", b"0123456789abcdefX"] {
            let hidden = hide_password(pw, b"s3cr3t", &auth);
            assert_eq!(hidden.len(), pw.len().div_ceil(16).max(1) * 16);
            // Unhide: the same stream cipher in reverse.
            let mut prev = auth.to_vec();
            let mut plain = Vec::new();
            for block in hidden.chunks(16) {
                let b = Md5::new().chain_update(b"s3cr3t").chain_update(&prev).finalize();
                plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
                prev = block.to_vec();
            }
            assert_eq!(&plain[..pw.len()], pw);
            assert!(plain[pw.len()..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn hmac_md5_matches_rfc2104() {
        let mac = hmac_md5(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            [0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d, 0xb7, 0x38]
        );
    }

    #[test]
    fn request_layout() {
        let p = encode_access_request(9, &[1u8; 16], "alice", "pw", b"s").unwrap();
        assert_eq!(p[0], ACCESS_REQUEST);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]) as usize, p.len());
        assert_eq!(&p[20..27], b"\x01\x07alice");
        assert!(encode_access_request(9, &[1u8; 16], &"a".repeat(254), "pw", b"s").is_err());
    }

    #[test]
    fn replies_verify_and_malformed_ones_are_down() {
        let auth = [3u8; 16];
        let ok = reply(ACCESS_ACCEPT, 5, &auth, b"\x12\x05abc", b"s");
        assert_eq!(parse_reply(&ok, 5, &auth, b"s"), Ok(ACCESS_ACCEPT));
        assert_eq!(parse_reply(&ok, 6, &auth, b"s"), Err(Reply::NotOurs));
        assert!(
            matches!(parse_reply(&ok, 5, &auth, b"wrong"), Err(Reply::Down(d)) if d.0.contains("wrong secret"))
        );
        let rej = reply(ACCESS_REJECT, 5, &auth, b"", b"s");
        assert_eq!(parse_reply(&rej, 5, &auth, b"s"), Ok(ACCESS_REJECT));
        // Padding past the length is ignored.
        let mut padded = ok.clone();
        padded.extend_from_slice(&[0; 10]);
        assert_eq!(parse_reply(&padded, 5, &auth, b"s"), Ok(ACCESS_ACCEPT));
        for cut in 0..ok.len() {
            assert!(parse_reply(&ok[..cut], 5, &auth, b"s").is_err());
        }
        let bad_attr = reply(ACCESS_ACCEPT, 5, &auth, b"\x12\x01", b"s");
        assert!(parse_reply(&bad_attr, 5, &auth, b"s").is_err());
        let long = reply(ACCESS_ACCEPT, 5, &auth, b"\x12\xffab", b"s");
        assert!(parse_reply(&long, 5, &auth, b"s").is_err());
        let mut huge = ok.clone();
        huge[2..4].copy_from_slice(&60000u16.to_be_bytes());
        assert!(parse_reply(&huge, 5, &auth, b"s").is_err());
    }
}
