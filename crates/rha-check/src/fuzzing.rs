//! Every reply parser over an in-memory reply: for the fuzz target `rha_check_replies`
//! (fuzz/fuzz_targets/rha_check_replies.rs) and the unit tests. No network, no runtime: the
//! TCP dialogues run over a scripted server ([`crate::lines::Scripted`]) that sends the reply
//! and then closes, and never blocks; the datagram protocols (DNS, RADIUS, SIP over UDP) are
//! parsed as the datagram they would receive.
//!
//! [`reply`] takes the fuzzer's bytes: the first picks the parser ([`PARSERS`], the byte
//! modulo their number) and a variant of the check (the byte divided by their number: bit 0
//! sets `receive=ok`, bit 1 a login and password, bit 2 HEAD for http, IPv6 (EPSV) for ftp,
//! TCP framing for dns); the rest is what the server sends.

use crate::Down;
use crate::lines::short;
use std::time::Duration;

use crate::outcome::{CheckResult, Outcome};
use crate::receive::Receive;
use crate::services::{dns, ftp, http, imap, ldap, mysql, nntp, pgsql, pop, radius, simpletcp, sip, smtp};
use crate::spec::{CheckSpec, Service};

/// The parsers, in the order the first input byte picks them.
pub const PARSERS: &[&str] = &[
    "http",
    "dns",
    "smtp",
    "pop",
    "imap",
    "ftp",
    "nntp",
    "ldap",
    "radius",
    "mysql",
    "pgsql",
    "sip",
    "simpletcp",
];

pub use crate::outcome::MAX_REASON;

/// The RADIUS request's identifier and authenticator, and the shared secret, of the
/// scripted exchange.
pub const RADIUS_ID: u8 = 7;
pub const RADIUS_AUTHENTICATOR: [u8; 16] = *b"rha-check-fuzzer";
pub const RADIUS_SECRET: &[u8] = b"secret";

/// Runs the parser the first byte picks over the rest: `None` for empty input. The name of
/// the parser comes back with its result.
pub fn reply(data: &[u8]) -> Option<(&'static str, CheckResult)> {
    let (&first, rest) = data.split_first()?;
    let which = usize::from(first) % PARSERS.len();
    let variant = usize::from(first) / PARSERS.len();
    Some((PARSERS[which], run(which, variant, rest)))
}

/// The first input byte that picks `parser` with `variant`.
pub fn selector(parser: &str, variant: usize) -> u8 {
    let which = PARSERS.iter().position(|p| *p == parser).expect("a parser of PARSERS");
    (variant * PARSERS.len() + which) as u8
}

fn spec(service: Service, variant: usize) -> CheckSpec {
    let mut spec = CheckSpec::new(service);
    if variant & 1 != 0 {
        spec.receive = Some(Receive::new("ok").expect("a regex"));
    }
    if variant & 2 != 0 {
        spec.login = Some("rha".into());
        spec.passwd = Some("secret".into());
    }
    spec
}

fn run(which: usize, variant: usize, server: &[u8]) -> CheckResult {
    match PARSERS[which] {
        "http" => {
            let mut s = spec(Service::Http, variant);
            s.http_head = variant & 4 != 0;
            http::check_scripted(&s, server)
        }
        "dns" => dns_reply(server, variant & 4 != 0),
        "smtp" => smtp::check_scripted(&spec(Service::Smtp, variant), server),
        "pop" => pop::check_scripted(&spec(Service::Pop, variant), server),
        "imap" => imap::check_scripted(&spec(Service::Imap, variant), server),
        "ftp" => ftp::check_scripted(&spec(Service::Ftp, variant), server, variant & 4 != 0).map(|_| ()),
        "nntp" => nntp::check_scripted(&spec(Service::Nntp, variant), server),
        "ldap" => {
            let mut s = spec(Service::Ldap, variant);
            s.request = Some("dc=example,dc=org".into());
            ldap::check_scripted(&s, server)
        }
        "radius" => match radius::parse_reply(server, RADIUS_ID, &RADIUS_AUTHENTICATOR, RADIUS_SECRET) {
            Ok(radius::ACCESS_ACCEPT) => Ok(()),
            Ok(code) => Err(Down(format!("RADIUS code {code}"))),
            Err(radius::Reply::NotOurs) => Err(Down::new("RADIUS reply to another request")),
            Err(radius::Reply::Down(d)) => Err(d),
        },
        "mysql" => mysql::check_scripted(&spec(Service::Mysql, variant), server),
        "pgsql" => pgsql::check_scripted(&spec(Service::Pgsql, variant), server),
        "sip" => sip::check_scripted(&spec(Service::Sip, variant), server),
        "simpletcp" => {
            let mut s = spec(Service::SimpleTcp, variant);
            s.request = Some("PING\\n".into());
            simpletcp::check_scripted(&s, server)
        }
        other => unreachable!("parser {other} has no runner"),
    }
}

/// A DNS reply (its id is its own first two bytes, so any id matches), as a UDP datagram or,
/// with `tcp`, as the TCP stream's length-prefixed message; its A, AAAA and PTR answers must
/// be printable.
fn dns_reply(server: &[u8], tcp: bool) -> CheckResult {
    let m = if tcp {
        let len = server.get(..2).ok_or_else(|| Down::new("connection closed by the server"))?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        server.get(2..2 + len).ok_or_else(|| Down::new("connection closed by the server"))?
    } else {
        server
    };
    let id = m.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let answers = dns::decode_response(m, id)?;
    let texts: Vec<String> = answers
        .into_iter()
        .map(|a| match a {
            dns::Answer::Addr(ip) => ip.to_string(),
            dns::Answer::Ptr(name) => name,
        })
        .collect();
    if texts.is_empty() { Err(Down::new("no answer")) } else { Ok(()) }
}

/// Checks what every result must be: up, or down with a reason that is bounded where it is
/// made (at most [`MAX_REASON`] bytes, so no server text of unbounded length goes into it),
/// and one line once [`Outcome::from_result`] has made it fit to show.
pub fn check_result(parser: &str, result: &CheckResult) -> Result<(), String> {
    let Err(Down(reason)) = result else { return Ok(()) };
    if reason.trim().is_empty() {
        return Err(format!("{parser}: down without a reason"));
    }
    if reason == "would block" {
        return Err(format!("{parser}: the dialogue waited for something other than the server"));
    }
    if reason.len() > MAX_REASON {
        return Err(format!("{parser}: a reason of {} bytes: {:?}...", reason.len(), short(reason)));
    }
    let shown = Outcome::from_result(result.clone(), Duration::ZERO).reason;
    if shown.trim().is_empty() || shown.contains(['\n', '\r']) || shown.len() > MAX_REASON {
        return Err(format!("{parser}: an outcome's reason not fit to show: {shown:?}"));
    }
    Ok(())
}

/// A healthy reply of every protocol, as `(file name, fuzzer input)`: the seeds of the fuzz
/// target (fuzz/seeds/rha_check_replies/, kept equal to these by a unit test). Each is up.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with = |parser: &str, variant: usize, server: &[u8]| {
        let mut v = vec![selector(parser, variant)];
        v.extend_from_slice(server);
        v
    };
    let mut out = vec![
        ("http-length", with("http", 1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")),
        (
            "http-chunked",
            with("http", 1, b"HTTP/1.1 200 OK\r\nServer: Apache\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nok!\n\r\n0\r\n\r\n"),
        ),
        ("http-head", with("http", 4, b"HTTP/1.0 204 No Content\r\nConnection: close\r\n\r\n")),
        ("smtp", with("smtp", 1, b"220 mx.example ESMTP Postfix\r\n250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 ok 8BITMIME\r\n")),
        ("pop", with("pop", 0, b"+OK Dovecot ready.\r\n")),
        ("pop-login", with("pop", 2, b"+OK hi\r\n+OK Capability list follows\r\nUSER\r\n.\r\n+OK\r\n+OK Logged in.\r\n")),
        ("imap", with("imap", 0, b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n")),
        (
            "imap-login",
            with("imap", 2, b"* OK hi\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nc1 OK done\r\n* CAPABILITY IMAP4rev1\r\nl1 OK in\r\n"),
        ),
        (
            "ftp",
            with("ftp", 0, b"220-Welcome\r\n  to vsftpd\r\n220 ready\r\n331 pw\r\n230 in\r\n200 ok\r\n227 Entering Passive Mode (198,51,100,2,39,16).\r\n"),
        ),
        ("ftp-epsv", with("ftp", 4, b"220 ready\r\n230 in\r\n200 ok\r\n229 Entering Extended Passive Mode (|||6446|)\r\n")),
        ("nntp", with("nntp", 0, b"200 news.example InterNetNews ready (posting ok)\r\n")),
        ("sip", with("sip", 1, b"SIP/2.0 100 Trying\r\nCall-ID: rhacallid\r\nl: 2\r\n\r\nxxSIP/2.0 200 ok\r\nVia: SIP/2.0/TCP 192.0.2.9:5060\r\ni: rhacallid\r\nContent-Length: 0\r\n\r\n")),
        ("simpletcp", with("simpletcp", 1, b"hello\r\nok ready\r\n")),
    ];
    out.push(("dns-udp", with("dns", 0, &dns_seed())));
    let m = dns_seed();
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    out.push(("dns-tcp", with("dns", 4, &framed)));
    out.push(("ldap", with("ldap", 1, &ldap_seed())));
    out.push(("radius", with("radius", 0, &radius_seed())));
    out.push(("mysql", with("mysql", 2, &mysql_seed())));
    out.push(("pgsql-trust", with("pgsql", 2, &pgsql_seed(false))));
    out.push(("pgsql-scram", with("pgsql", 2, &pgsql_seed(true))));
    out
}

/// A reply to `www.example.org A` with a CNAME, an A, an AAAA and a PTR record, compressed.
fn dns_seed() -> Vec<u8> {
    let mut m = dns::encode_query(0x1234, "www.example.org", dns::TYPE_A).expect("a DNS name");
    m[2] |= 0x80;
    m[7] = 4;
    let rr = |m: &mut Vec<u8>, t: u16, rd: &[u8]| {
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        m.extend_from_slice(rd);
    };
    rr(&mut m, 5, b"\x03web\xc0\x10");
    rr(&mut m, dns::TYPE_A, &[198, 51, 100, 80]);
    rr(&mut m, dns::TYPE_AAAA, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    rr(&mut m, dns::TYPE_PTR, b"\x02ok\xc0\x10");
    m
}

fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn ldap_msg(id: u8, op: u8, body: &[u8]) -> Vec<u8> {
    let mut content = vec![0x02, 1, id];
    content.extend(ber(op, body));
    ber(0x30, &content)
}

/// slapd's answers to an anonymous bind and a base search: bind OK, one entry, search done.
fn ldap_seed() -> Vec<u8> {
    let result_ok = [0x0a, 1, 0, 0x04, 0, 0x04, 0];
    let mut m = ldap_msg(1, 0x61, &result_ok);
    let mut entry = ber(0x04, b"dc=example,dc=org ok");
    entry.extend(ber(0x30, &[]));
    m.extend(ldap_msg(2, 0x64, &entry));
    m.extend(ldap_msg(2, 0x65, &result_ok));
    m
}

/// An Access-Accept to the scripted request, signed with the scripted secret.
fn radius_seed() -> Vec<u8> {
    use md5::{Digest, Md5};
    let attrs = b"\x12\x0aWelcome!";
    let mut p = vec![radius::ACCESS_ACCEPT, RADIUS_ID, 0, 0];
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(attrs);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let auth = Md5::new()
        .chain_update(&p[..4])
        .chain_update(RADIUS_AUTHENTICATOR)
        .chain_update(&p[20..])
        .chain_update(RADIUS_SECRET)
        .finalize();
    p[4..20].copy_from_slice(&auth);
    p
}

fn mysql_packet(out: &mut Vec<u8>, seq: u8, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
    out.push(seq);
    out.extend_from_slice(payload);
}

/// MariaDB 10.11: greeting, OK to the login, a one-column result set with one row.
fn mysql_seed() -> Vec<u8> {
    let mut g = vec![10];
    g.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(b"abcdefgh\0");
    let caps: u32 = 0xf7fe | 0x8_0000 | 0x0020_0000;
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.push(45);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0");
    g.extend_from_slice(b"mysql_native_password\0");
    let mut m = Vec::new();
    mysql_packet(&mut m, 0, &g);
    mysql_packet(&mut m, 2, &[0, 0, 0, 2, 0, 0, 0]);
    mysql_packet(&mut m, 1, &[1]);
    mysql_packet(
        &mut m,
        2,
        b"\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00",
    );
    mysql_packet(&mut m, 3, &[0xfe, 0, 0, 2, 0]);
    mysql_packet(&mut m, 4, b"\x011");
    mysql_packet(&mut m, 5, &[0xfe, 0, 0, 2, 0]);
    m
}

fn pg_msg(out: &mut Vec<u8>, ty: u8, body: &[u8]) {
    out.extend(pgsql::message(ty, body));
}

/// PostgreSQL 15: login (trust, or SCRAM-SHA-256 with the scripted nonce and password),
/// then `SELECT 1`'s one row.
fn pgsql_seed(scram: bool) -> Vec<u8> {
    let mut m = Vec::new();
    if scram {
        pg_msg(&mut m, b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0");
        let server_first = b"r=rhanonceSERVERPART,s=c2FsdHNhbHQ=,i=4096";
        let mut sc = pgsql::Scram::new("rhanonce".into());
        sc.client_final("secret", server_first).expect("a valid server-first message");
        let mut cont = 11u32.to_be_bytes().to_vec();
        cont.extend_from_slice(server_first);
        pg_msg(&mut m, b'R', &cont);
        let mut fin = 12u32.to_be_bytes().to_vec();
        fin.extend_from_slice(b"v=");
        fin.extend_from_slice(pgsql::base64_encode(sc.server_signature().expect("signed")).as_bytes());
        pg_msg(&mut m, b'R', &fin);
    }
    pg_msg(&mut m, b'R', &[0, 0, 0, 0]);
    pg_msg(&mut m, b'S', b"server_version\x0015.5\0");
    pg_msg(&mut m, b'K', &[0, 0, 0, 1, 0, 0, 0, 2]);
    pg_msg(&mut m, b'Z', b"I");
    pg_msg(&mut m, b'T', b"\0\x01?column?\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0");
    pg_msg(&mut m, b'D', b"\0\x01\0\0\0\x011");
    pg_msg(&mut m, b'C', b"SELECT 1\0");
    pg_msg(&mut m, b'Z', b"I");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_named(parser: &str, variant: usize, server: &[u8]) -> CheckResult {
        let mut data = vec![selector(parser, variant)];
        data.extend_from_slice(server);
        let (name, result) = reply(&data).unwrap();
        assert_eq!(name, parser);
        check_result(name, &result).unwrap();
        result
    }

    #[test]
    fn the_selector_picks_every_parser_and_variant() {
        for p in PARSERS {
            for v in 0..8 {
                let data = [selector(p, v)];
                assert_eq!(reply(&data).unwrap().0, *p);
            }
        }
        assert!(reply(&[]).is_none());
    }

    #[test]
    fn empty_truncated_and_garbage_replies_are_down_with_a_reason() {
        for p in PARSERS {
            for v in 0..8 {
                for server in [&b""[..], b"\r\n", b"\xff\xfe\x00garbage", &[0u8; 300]] {
                    // simpletcp without receive: any reply at all is up (ldirectord's).
                    if *p == "simpletcp" && v & 1 == 0 && !server.is_empty() {
                        continue;
                    }
                    assert!(run_named(p, v, server).is_err(), "{p} variant {v} up on {server:?}");
                }
            }
        }
    }

    #[test]
    fn every_seed_is_up_and_the_committed_seeds_are_these() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/rha_check_replies");
        let write = std::env::var_os("RHA_WRITE_SEEDS").is_some();
        let seeds = seeds();
        let mut covered: Vec<&str> = Vec::new();
        for (name, data) in &seeds {
            let (parser, result) = reply(data).unwrap();
            assert_eq!(result, Ok(()), "seed {name} ({parser}) is not up");
            covered.push(parser);
            let path = dir.join(name);
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, data).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (RHA_WRITE_SEEDS=1 cargo test -p rha-check --lib writes them)",
                    path.display()
                )
            });
            assert_eq!(&committed, data, "{} differs from seeds()", path.display());
        }
        for p in PARSERS {
            assert!(covered.contains(p), "no seed for {p}");
        }
    }

    #[test]
    fn hostile_server_text_gives_bounded_reasons() {
        // An entry whose DN is 10,000 bytes: the mismatch names it cut.
        let result_ok = [0x0a, 1, 0, 0x04, 0, 0x04, 0];
        let mut m = ldap_msg(1, 0x61, &result_ok);
        let mut entry = ber(0x04, &[b'a'; 10_000]);
        entry.extend(ber(0x30, &[]));
        m.extend(ldap_msg(2, 0x64, &entry));
        m.extend(ldap_msg(2, 0x65, &result_ok));
        let e = run_named("ldap", 1, &m).unwrap_err().0;
        assert!(e.starts_with("receive /ok/ not in DN aaaa") && e.len() < 120, "{e}");
        // PostgreSQL: a 10,000-byte SQLSTATE, 100 long SASL mechanisms, a long SCRAM error.
        let mut m = Vec::new();
        let mut err = b"C".to_vec();
        err.extend_from_slice(&[b'9'; 10_000]);
        err.extend_from_slice(b"\0Mno\0\0");
        pg_msg(&mut m, b'E', &err);
        let e = run_named("pgsql", 0, &m).unwrap_err().0;
        assert_eq!(e, format!("login refused: {} no", "9".repeat(16)));
        let mut sasl = 10u32.to_be_bytes().to_vec();
        for _ in 0..100 {
            sasl.extend_from_slice(&[b'X'; 200]);
            sasl.push(0);
        }
        sasl.push(0);
        let mut m = Vec::new();
        pg_msg(&mut m, b'R', &sasl);
        let e = run_named("pgsql", 0, &m).unwrap_err().0;
        assert!(
            e.starts_with("login refused: no supported SASL mechanism in [\"XXX") && e.len() < 400,
            "{e}"
        );
        let sc = pgsql::Scram::new("n".into());
        let mut fin = b"e=".to_vec();
        fin.extend_from_slice(&[b'e'; 5000]);
        assert!(sc.verify_final(&fin).unwrap_err().0.len() < 120);
        // Line breaks inside a server's text: one line once it is an outcome.
        let r = run_named("mysql", 0, b"\x0e\0\0\0\xff\x10\x04two\nlines\r!");
        assert_eq!(r.clone().unwrap_err().0, "server refused the connection: 1040 two\nlines\r!");
        assert_eq!(
            Outcome::from_result(r, Duration::ZERO).reason,
            "server refused the connection: 1040 two lines !"
        );
    }

    /// Every healthy seed cut at every byte, and grown past every limit: never a panic, down
    /// with a fit reason (the fuzzer's inputs stop at 4 KiB; these go to megabytes).
    #[test]
    fn truncated_and_oversized_seeds() {
        for (name, data) in seeds() {
            // Each cut past its server-first message runs PBKDF2 (4096 rounds, slow unoptimised).
            let step = if name == "pgsql-scram" { 13 } else { 1 };
            for cut in (1..data.len()).step_by(step) {
                let (parser, result) = reply(&data[..cut]).unwrap();
                check_result(parser, &result).unwrap_or_else(|e| panic!("{name} cut at {cut}: {e}"));
            }
            let mut repeated = data.clone();
            while repeated.len() < 3 << 19 {
                repeated.extend_from_slice(&data[1..]);
            }
            let mut padded = data.clone();
            padded.resize(3 << 19, data[data.len() - 1]);
            let mut garbage = data[..data.len() / 2].to_vec();
            garbage.resize(3 << 19, b'a');
            for (how, input) in [("repeated", repeated), ("padded", padded), ("garbage", garbage)] {
                let (parser, result) = reply(&input).unwrap();
                check_result(parser, &result).unwrap_or_else(|e| panic!("{name} {how}: {e}"));
            }
        }
    }

    /// Inputs the fuzzer found (also committed as seeds, fuzz/seeds/rha_check_replies/regression-*).
    #[test]
    fn regressions_found_by_the_fuzzer() {
        // A Content-Length of 120 control bytes: its `{:?}` was 700 bytes in the reason.
        let mut server = b"HTTP/1.1 200 \nContent-Length: 62\xff".to_vec();
        server.extend_from_slice(&[0x14; 120]);
        server.extend_from_slice(b"\xff\xffe=\xff\xff\n\xff\xff\n");
        let e = run_named("http", 0, &server).unwrap_err().0;
        assert!(e.starts_with("bad Content-Length \"62\u{fffd}\\u{14}") && e.len() < 130, "{e}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/rha_check_replies");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("regression-") {
                let data = std::fs::read(&path).unwrap();
                let (parser, result) = reply(&data).unwrap();
                check_result(parser, &result).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }

    #[test]
    fn healthy_scripted_replies_are_up() {
        assert_eq!(run_named("http", 0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), Ok(()));
        assert_eq!(run_named("http", 1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), Ok(()));
        assert_eq!(run_named("smtp", 0, b"220 mx ESMTP\r\n250 mx\r\n"), Ok(()));
        assert_eq!(run_named("nntp", 0, b"200 news ready\r\n"), Ok(()));
        assert_eq!(run_named("simpletcp", 1, b"ok\n"), Ok(()));
        assert_eq!(run_named("sip", 0, b"SIP/2.0 200 OK\r\nCall-ID: rhacallid\r\n\r\n"), Ok(()));
    }
}
