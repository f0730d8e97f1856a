//! service=dns: ask the real (as the nameserver) for `request`, up if an answer matches
//! `receive`.
//!
//! ldirectord: Net::DNS `search(request)` against the real on checkport, over TCP when the
//! virtual is TCP, else UDP; up if an A record's address or a PTR record's name matches
//! receive, so receive is required. A request that is an IP address is looked up as its
//! reverse (PTR) name, as Net::DNS does. For a name we ask for A and, when no A matches, for
//! AAAA (so an IPv6-only name can be checked too; ldirectord only looks at A).
//!
//! The message code is our own, small and bounded: one question, answers parsed with name
//! compression limited in jumps and length, every offset checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Down;
use crate::net::{connect_tcp_client_first, connect_udp, random_id};
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::Protocol;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    // ldirectord strips the leading "/" its config parser puts before every request.
    let request = spec.request.as_deref().map(|r| r.trim().trim_start_matches('/')).unwrap_or("");
    if request.is_empty() {
        return Err(Down::new("service=dns needs request (the name to look up)"));
    }
    let receive = spec.receive.as_ref();
    let questions = questions_for(request);
    let mut seen = Vec::new();
    for (name, qtype) in questions {
        let id = random_id();
        let query = encode_query(id, &name, qtype)?;
        let reply = if spec.protocol == Protocol::Tcp {
            ask_tcp(probe, &query).await?
        } else {
            ask_udp(probe, &query, id).await?
        };
        let answers = decode_response(&reply, id)?;
        for answer in answers {
            let text = match answer {
                Answer::Addr(ip) => ip.to_string(),
                Answer::Ptr(name) => name,
            };
            // No receive: any address or name in the answer proves the server answers.
            if receive.is_none_or(|r| r.is_match(text.as_bytes())) {
                return Ok(());
            }
            seen.push(text);
        }
    }
    if seen.is_empty() {
        Err(Down(format!("no answer for {request}")))
    } else {
        let shown: Vec<&str> = seen.iter().take(4).map(|s| crate::lines::short(s)).collect();
        let pattern = receive.map_or("", |r| r.as_str());
        Err(Down(format!("receive /{pattern}/ not in the answers ({})", shown.join(", "))))
    }
}

async fn ask_udp(probe: &Probe<'_>, query: &[u8], id: u16) -> Result<Vec<u8>, Down> {
    probe.stage("sending the query");
    let socket = connect_udp(probe.target).await?;
    socket.send(query).await?;
    probe.stage("waiting for the answer");
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // A stray datagram (another id) is not our answer: keep waiting within the timeout.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn ask_tcp(probe: &Probe<'_>, query: &[u8]) -> Result<Vec<u8>, Down> {
    probe.stage("connecting");
    let mut stream = connect_tcp_client_first(probe.target).await?;
    probe.stage("sending the query");
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    probe.stage("waiting for the answer");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

/// What to ask for `request`: PTR for an address or a reverse name (as Net::DNS's search),
/// else A then AAAA.
pub fn questions_for(request: &str) -> Vec<(String, u16)> {
    let lower = request.trim_end_matches('.').to_ascii_lowercase();
    match request.parse::<IpAddr>() {
        Ok(ip) => vec![(reverse_name(ip), TYPE_PTR)],
        Err(_) if lower.ends_with(".in-addr.arpa") || lower.ends_with(".ip6.arpa") => {
            vec![(request.to_string(), TYPE_PTR)]
        }
        Err(_) => vec![(request.to_string(), TYPE_A), (request.to_string(), TYPE_AAAA)],
    }
}

/// `198.51.100.7` → `7.100.51.198.in-addr.arpa`; IPv6 by nibbles under ip6.arpa.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

/// A query for `name` (recursion desired, as a resolver asks).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, Down> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return Err(Down(format!("request {name:?} is too long for a DNS name")));
    }
    for label in name.split('.').filter(|l| !name.is_empty() || !l.is_empty()) {
        if label.is_empty() || label.len() > 63 {
            return Err(Down(format!("request {name:?} is not a DNS name")));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    Ok(m)
}

/// An answer a check can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Addr(IpAddr),
    Ptr(String),
}

fn short() -> Down {
    Down::new("truncated DNS reply")
}

fn u16_at(m: &[u8], pos: usize) -> Result<u16, Down> {
    m.get(pos..pos + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(short)
}

/// Reads the name at `pos`; returns it and the offset after it (after the first pointer, when
/// compressed). Jumps are bounded, so a pointer loop is an error, not a hang.
pub fn read_name(m: &[u8], mut pos: usize) -> Result<(String, usize), Down> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *m.get(pos).ok_or_else(short)? as usize;
        match len & 0xc0 {
            0xc0 => {
                let target = (u16_at(m, pos)? & 0x3fff) as usize;
                end.get_or_insert(pos + 2);
                jumps += 1;
                if jumps > 32 {
                    return Err(Down::new("DNS name compression loop"));
                }
                pos = target;
            }
            0x00 if len == 0 => {
                return Ok((if name.is_empty() { ".".into() } else { name }, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = m.get(pos + 1..pos + 1 + len).ok_or_else(short)?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                if name.len() > 255 {
                    return Err(Down::new("DNS name longer than 255 bytes"));
                }
                pos += 1 + len;
            }
            _ => return Err(Down::new("bad DNS label type")),
        }
    }
}

const RCODES: [&str; 6] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/// The A, AAAA and PTR answers of a reply to query `id`.
pub fn decode_response(m: &[u8], id: u16) -> Result<Vec<Answer>, Down> {
    if m.len() < 12 {
        return Err(short());
    }
    if u16_at(m, 0)? != id {
        return Err(Down::new("DNS reply to another query (id mismatch)"));
    }
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return Err(Down::new("DNS message is not a reply"));
    }
    let rcode = (flags & 0xf) as usize;
    if rcode != 0 {
        return Err(Down(format!(
            "DNS {}",
            RCODES.get(rcode).map_or_else(|| format!("rcode {rcode}"), |s| s.to_string())
        )));
    }
    let qd = u16_at(m, 4)?;
    let an = u16_at(m, 6)?;
    let mut pos = 12;
    for _ in 0..qd {
        pos = read_name(m, pos)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        pos = read_name(m, pos)?.1;
        let rtype = u16_at(m, pos)?;
        let rdlen = u16_at(m, pos + 8)? as usize;
        let rdata = pos + 10;
        let rd = m.get(rdata..rdata + rdlen).ok_or_else(short)?;
        match (rtype, rdlen) {
            (TYPE_A, 4) => out.push(Answer::Addr(IpAddr::V4(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3])))),
            (TYPE_AAAA, 16) => {
                let b: [u8; 16] = rd.try_into().map_err(|_| short())?;
                out.push(Answer::Addr(IpAddr::V6(Ipv6Addr::from(b))));
            }
            (TYPE_PTR, _) => out.push(Answer::Ptr(read_name(m, rdata)?.0)),
            // CNAMEs and others: the records they lead to follow in the same answer section.
            _ => {}
        }
        pos = rdata + rdlen;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with the given answer records (name as a pointer to the question).
    fn reply(query: &[u8], answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = query.to_vec();
        m[2] |= 0x80;
        m[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (t, rd) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            m.extend_from_slice(rd);
        }
        m
    }

    #[test]
    fn queries_encode_names_and_refuse_bad_ones() {
        let q = encode_query(0x1234, "www.example.org.", TYPE_A).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..], b"\x03www\x07example\x03org\x00\x00\x01\x00\x01");
        assert!(encode_query(1, "a..b", TYPE_A).is_err());
        assert!(encode_query(1, &"a".repeat(64), TYPE_A).is_err());
        assert_eq!(&encode_query(1, ".", TYPE_A).unwrap()[12..], b"\x00\x00\x01\x00\x01");
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_name("198.51.100.7".parse().unwrap()), "7.100.51.198.in-addr.arpa");
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
    }

    #[test]
    fn answers_decode_with_compression() {
        let q = encode_query(7, "www.example.org", TYPE_A).unwrap();
        let mut aaaa = vec![0u8; 16];
        aaaa[15] = 1;
        let ptr = b"\x03www\xc0\x10".to_vec(); // "www." + pointer to "example.org" in the question
        let m = reply(
            &q,
            &[
                (5, b"\xc0\x0c".to_vec()),
                (TYPE_A, vec![198, 51, 100, 80]),
                (TYPE_AAAA, aaaa),
                (TYPE_PTR, ptr),
            ],
        );
        let a = decode_response(&m, 7).unwrap();
        assert_eq!(
            a,
            vec![
                Answer::Addr("198.51.100.80".parse().unwrap()),
                Answer::Addr("::1".parse().unwrap()),
                Answer::Ptr("www.example.org".into())
            ]
        );
        assert!(decode_response(&m, 8).unwrap_err().0.contains("id mismatch"));
        for cut in 0..m.len() {
            // Every truncation is an error or fewer answers, never a panic.
            let _ = decode_response(&m[..cut], 7);
        }
    }

    #[test]
    fn errors_loops_and_non_replies() {
        let q = encode_query(9, "x.example", TYPE_A).unwrap();
        assert!(decode_response(&q, 9).unwrap_err().0.contains("not a reply"));
        let mut nx = reply(&q, &[]);
        nx[3] |= 3;
        assert_eq!(decode_response(&nx, 9).unwrap_err().0, "DNS NXDOMAIN");
        let looped = reply(&q, &[(TYPE_PTR, b"\xc0\x00".to_vec())]);
        let mut looped = looped;
        let at = looped.len() - 2;
        looped[at + 1] = at as u8;
        assert!(decode_response(&looped, 9).unwrap_err().0.contains("loop"));
        assert!(read_name(b"\x40abc", 0).is_err());
    }
}
