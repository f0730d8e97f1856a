//! service=ldap and ldaps: a simple bind, then a base search of `request`; up when exactly
//! one entry comes back and its DN matches `receive`.
//!
//! ldirectord (Net::LDAP): bind with `login`/`passwd` when both are set, else anonymously;
//! search base = request without its leading "/", scope base, filter (objectClass=*); down
//! unless the count is 1; up when receive is empty or matches the entry's DN. ldaps is LDAP
//! in TLS from the first byte (port 636). We do the same.
//!
//! Our own minimal BER (only what these four messages need), bounded: a message may be at
//! most [`MAX_MESSAGE`] bytes, lengths are definite and checked against what is there, and
//! at most [`MAX_ENTRIES`] search results are read.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{Scripted, run_ready, short};
use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Service, Target};
use crate::tls::{self, Stream};

/// The largest LDAP message read.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// The most search results read (a base search returns one).
pub const MAX_ENTRIES: usize = 16;

const BIND_REQUEST: u8 = 0x60;
const BIND_RESPONSE: u8 = 0x61;
const UNBIND_REQUEST: u8 = 0x42;
const SEARCH_REQUEST: u8 = 0x63;
const SEARCH_ENTRY: u8 = 0x64;
const SEARCH_DONE: u8 = 0x65;
const SEARCH_REFERENCE: u8 = 0x73;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let base = spec.request.as_deref().unwrap_or("");
    let base = base.strip_prefix('/').unwrap_or(base);
    let (dn, pw) = match (spec.login.as_deref(), spec.passwd.as_deref()) {
        (Some(l), Some(p)) if !l.is_empty() && !p.is_empty() => (l, p),
        _ => ("", ""),
    };
    probe.stage("connecting");
    let tcp = connect_tcp(probe.target).await?;
    let stream = if spec.service == Service::Ldaps {
        probe.stage("in the TLS handshake");
        let name = tls::server_name(spec.virtualhost.as_deref(), probe.target.addr.ip());
        Stream::Tls(Box::new(tls::handshake(tcp, name, spec.tls_verify).await?))
    } else {
        Stream::Plain(tcp)
    };
    session(probe, stream, base, dn, pw).await
}

/// The dialogue after the connection (and TLS) is made: bind, base search, unbind.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    mut stream: S,
    base: &str,
    dn: &str,
    pw: &str,
) -> CheckResult {
    let spec = probe.spec;
    probe.stage("binding");
    stream.write_all(&encode_bind(1, dn, pw)).await?;
    let msg = read_message(&mut stream).await?;
    let (id, op, body) = parse_message(&msg)?;
    if id != 1 || op != BIND_RESPONSE {
        return Err(Down::new("LDAP reply is not the bind response"));
    }
    let code = parse_result(body)?;
    if code != 0 {
        return Err(Down(format!("LDAP bind failed: {}", result_name(code))));
    }
    probe.stage("searching");
    stream.write_all(&encode_search(2, base)).await?;
    let mut dns = Vec::new();
    loop {
        let msg = read_message(&mut stream).await?;
        let (id, op, body) = parse_message(&msg)?;
        if id != 2 {
            return Err(Down::new("LDAP reply to another request"));
        }
        match op {
            SEARCH_ENTRY => {
                if dns.len() >= MAX_ENTRIES {
                    return Err(Down(format!("LDAP search returned more than {MAX_ENTRIES} entries")));
                }
                dns.push(parse_entry_dn(body)?);
            }
            SEARCH_REFERENCE => {}
            SEARCH_DONE => {
                let code = parse_result(body)?;
                if code != 0 {
                    return Err(Down(format!("LDAP search failed: {}", result_name(code))));
                }
                break;
            }
            _ => return Err(Down(format!("unexpected LDAP operation 0x{op:02x}"))),
        }
    }
    // Polite end; the server closes either way.
    let _ = stream.write_all(&encode_unbind(3)).await;
    if dns.len() != 1 {
        return Err(Down(format!("LDAP search returned {} entries, not 1", dns.len())));
    }
    match &spec.receive {
        Some(r) if !r.is_match(dns[0].as_bytes()) => Err(r.mismatch(&format!("DN {}", short(&dns[0])))),
        _ => Ok(()),
    }
}

/// The check against a scripted server that sends `server` (then closes), over plain LDAP:
/// for the fuzzer and the unit tests. Never panics; every outcome is up or down with a reason.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:389".parse().unwrap());
    let probe = Probe::new(spec, &target);
    let base = spec.request.as_deref().unwrap_or("");
    run_ready(session(&probe, Scripted::new(server), base, "", "")).unwrap_or(Err(Down::new("would block")))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0x81, n as u8]);
    } else if n <= 0xffff {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn int(tag: u8, v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = bytes.iter().position(|&b| b != 0).unwrap_or(3);
    // A leading bit set would read as negative: keep a zero byte.
    if bytes[start] & 0x80 != 0 {
        start -= 1;
    }
    tlv(tag, &bytes[start..])
}

fn message(id: u32, op: Vec<u8>) -> Vec<u8> {
    let mut content = int(0x02, id);
    content.extend(op);
    tlv(0x30, &content)
}

/// BindRequest, LDAPv3, simple authentication (anonymous when both are empty).
pub fn encode_bind(id: u32, dn: &str, password: &str) -> Vec<u8> {
    let mut op = int(0x02, 3);
    op.extend(tlv(0x04, dn.as_bytes()));
    op.extend(tlv(0x80, password.as_bytes()));
    message(id, tlv(BIND_REQUEST, &op))
}

/// SearchRequest: base object, no alias dereferencing, (objectClass=*), no attributes.
pub fn encode_search(id: u32, base: &str) -> Vec<u8> {
    let mut op = tlv(0x04, base.as_bytes());
    op.extend(tlv(0x0a, &[0])); // scope baseObject
    op.extend(tlv(0x0a, &[0])); // derefAliases neverDerefAliases
    op.extend(int(0x02, 2)); // sizeLimit: 1 is the answer, 2 proves it is the only one
    op.extend(int(0x02, 0)); // timeLimit: the negotiate timeout bounds us
    op.extend(tlv(0x01, &[0])); // typesOnly false
    op.extend(tlv(0x87, b"objectClass")); // present filter
    op.extend(tlv(0x30, &tlv(0x04, b"1.1"))); // "1.1": no attributes, only the DN
    message(id, tlv(SEARCH_REQUEST, &op))
}

pub fn encode_unbind(id: u32) -> Vec<u8> {
    message(id, vec![UNBIND_REQUEST, 0])
}

fn bad(what: &str) -> Down {
    Down(format!("malformed LDAP reply ({what})"))
}

/// Splits one TLV at the start of `m`: (tag, content, rest).
pub fn read_tlv(m: &[u8]) -> Result<(u8, &[u8], &[u8]), Down> {
    let (&tag, rest) = m.split_first().ok_or_else(|| bad("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("multi-byte tag"));
    }
    let (&first, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(bad("indefinite or huge length"));
        }
        let bytes = rest.get(..n).ok_or_else(|| bad("truncated"))?;
        (bytes.iter().fold(0usize, |a, &b| (a << 8) | b as usize), &rest[n..])
    };
    if len > rest.len() {
        return Err(bad("truncated"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn read_int(m: &[u8]) -> Result<(u32, &[u8]), Down> {
    let (tag, v, rest) = read_tlv(m)?;
    if (tag != 0x02 && tag != 0x0a) || v.is_empty() || v.len() > 5 || (v.len() == 5 && v[0] != 0) {
        return Err(bad("bad integer"));
    }
    Ok((v.iter().fold(0u64, |a, &b| (a << 8) | b as u64) as u32, rest))
}

/// An LDAPMessage: (messageID, protocolOp tag, protocolOp content).
pub fn parse_message(m: &[u8]) -> Result<(u32, u8, &[u8]), Down> {
    let (tag, content, _) = read_tlv(m)?;
    if tag != 0x30 {
        return Err(bad("not a message"));
    }
    let (id, rest) = read_int(content)?;
    let (op, body, _) = read_tlv(rest)?;
    Ok((id, op, body))
}

/// The resultCode of an LDAPResult (bind response, search done).
pub fn parse_result(body: &[u8]) -> Result<u32, Down> {
    read_int(body).map(|(code, _)| code)
}

/// The objectName of a SearchResultEntry.
pub fn parse_entry_dn(body: &[u8]) -> Result<String, Down> {
    let (tag, dn, _) = read_tlv(body)?;
    if tag != 0x04 {
        return Err(bad("entry without a DN"));
    }
    Ok(String::from_utf8_lossy(dn).into_owned())
}

/// Reads one whole LDAPMessage, refusing one longer than [`MAX_MESSAGE`].
pub async fn read_message<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, Down> {
    let mut head = vec![0u8; 2];
    r.read_exact(&mut head).await?;
    if head[0] != 0x30 {
        return Err(bad("not a message"));
    }
    let len = if head[1] < 0x80 {
        head[1] as usize
    } else {
        let n = (head[1] & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(bad("indefinite or huge length"));
        }
        let mut bytes = vec![0u8; n];
        r.read_exact(&mut bytes).await?;
        head.extend_from_slice(&bytes);
        bytes.iter().fold(0usize, |a, &b| (a << 8) | b as usize)
    };
    if len > MAX_MESSAGE {
        return Err(Down(format!("LDAP reply longer than {} KiB", MAX_MESSAGE / 1024)));
    }
    let at = head.len();
    head.resize(at + len, 0);
    r.read_exact(&mut head[at..]).await?;
    Ok(head)
}

/// "invalidCredentials (49)".
pub fn result_name(code: u32) -> String {
    let name = match code {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => return format!("result code {code}"),
    };
    format!("{name} ({code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn requests_encode_as_ber() {
        assert_eq!(encode_bind(1, "", ""), b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00");
        assert_eq!(encode_unbind(3), b"\x30\x05\x02\x01\x03\x42\x00");
        let s = encode_search(2, "dc=example,dc=org");
        let (id, op, body) = parse_message(&s).unwrap();
        assert_eq!((id, op), (2, SEARCH_REQUEST));
        assert_eq!(parse_entry_dn(body).unwrap(), "dc=example,dc=org");
        // Long forms.
        let long = encode_bind(200, &"x".repeat(300), "pw");
        let (id, op, _) = parse_message(&long).unwrap();
        assert_eq!((id, op), (200, BIND_REQUEST));
        assert_eq!(int(0x02, 128), b"\x02\x02\x00\x80");
    }

    #[test]
    fn replies_parse_and_malformed_ones_are_errors() {
        let bind_ok = message(1, tlv(BIND_RESPONSE, &[0x0a, 1, 0, 4, 0, 4, 0]));
        let (id, op, body) = parse_message(&bind_ok).unwrap();
        assert_eq!((id, op, parse_result(body).unwrap()), (1, BIND_RESPONSE, 0));
        let bind_bad = message(1, tlv(BIND_RESPONSE, &[0x0a, 1, 49, 4, 0, 4, 0]));
        let (_, _, body) = parse_message(&bind_bad).unwrap();
        assert_eq!(result_name(parse_result(body).unwrap()), "invalidCredentials (49)");
        let mut entry = tlv(0x04, b"cn=x,dc=y");
        entry.extend(tlv(0x30, &[]));
        let entry = message(2, tlv(SEARCH_ENTRY, &entry));
        let (_, _, body) = parse_message(&entry).unwrap();
        assert_eq!(parse_entry_dn(body).unwrap(), "cn=x,dc=y");
        for m in [&bind_ok, &entry] {
            for cut in 0..m.len() {
                assert!(parse_message(&m[..cut]).and_then(|(_, _, b)| parse_result(b)).is_err() || cut > 8);
            }
        }
        assert!(read_tlv(b"\x30\x80\x00\x00").is_err()); // indefinite
        assert!(read_tlv(b"\x30\x85\x01\x01\x01\x01\x01").is_err()); // huge
        assert!(read_tlv(b"\x1f\x01\x00").is_err());
        assert!(read_int(b"\x02\x00").is_err());
        assert!(read_int(b"\x02\x06\x01\x02\x03\x04\x05\x06").is_err());
    }

    #[test]
    fn messages_are_read_whole_and_bounded() {
        rt().block_on(async {
            let m = encode_bind(1, "cn=a", "b");
            let mut two = m.clone();
            two.extend_from_slice(&m);
            let mut r = &two[..];
            assert_eq!(read_message(&mut r).await.unwrap(), m);
            assert_eq!(read_message(&mut r).await.unwrap(), m);
            assert!(read_message(&mut r).await.is_err());
            let huge = b"\x30\x84\x10\x00\x00\x00";
            assert!(read_message(&mut &huge[..]).await.unwrap_err().0.contains("longer than"));
            assert!(read_message(&mut &b"\x04\x00"[..]).await.is_err());
            assert!(read_message(&mut &b"\x30\x05\x02"[..]).await.is_err());
        });
    }
}
