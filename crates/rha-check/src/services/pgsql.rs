//! service=pgsql: log in, run `request`; rows > 0 is up.
//!
//! ldirectord's `check_sql` through DBD::Pg: `login` and `request` are required (a leading "/"
//! of the request is dropped), `database` is the dbname (PostgreSQL's default, the user's
//! name, when empty), and a query returning no rows is down. We speak the frontend/backend
//! protocol 3.0 ourselves: the startup message, trust, cleartext, md5 and SCRAM-SHA-256
//! (Debian 12's default) logins, and a simple query. Rows are the DataRow messages, or the
//! count in the command tag for a statement that returns none (DBI's `rows` of an UPDATE).
//! SCRAM's server signature is verified: a server that does not know the password cannot
//! pass. Passwords are used as given (no SASLprep: ASCII passwords are unaffected).
//!
//! Every message is bounded ([`MAX_MESSAGE`]); the parse functions are public for fuzzing.

use std::num::NonZeroU32;

use md5::{Digest, Md5};
use ring::{hmac, pbkdf2, rand::SecureRandom};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Down;
use crate::lines::{Scripted, run_ready};
use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::{CheckSpec, Target};

/// The largest backend message we accept.
pub const MAX_MESSAGE: usize = 1 << 20;
/// SCRAM iteration counts above this are refused: a hostile server could otherwise make one
/// check burn seconds of CPU (PostgreSQL's default is 4096).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// An ErrorResponse's severity, message and SQLSTATE: "28P01 password authentication
/// failed for user \"x\"".
pub fn parse_error(body: &[u8]) -> String {
    let (mut code, mut message) = (String::new(), String::new());
    for field in body.split(|&b| b == 0) {
        match field.split_first() {
            // A SQLSTATE is five characters; a longer one is cut (a hostile server's).
            Some((b'C', v)) => code = String::from_utf8_lossy(v).chars().take(16).collect(),
            Some((b'M', v)) => message = String::from_utf8_lossy(v).chars().take(160).collect(),
            _ => {}
        }
    }
    match (code.is_empty(), message.is_empty()) {
        (_, true) => "malformed error response".into(),
        (true, false) => message,
        (false, false) => format!("{code} {message}"),
    }
}

/// An authentication request ('R').
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    Ok,
    Cleartext,
    Md5([u8; 4]),
    /// The mechanisms offered.
    Sasl(Vec<String>),
    SaslContinue(Vec<u8>),
    SaslFinal(Vec<u8>),
}

pub fn parse_auth(body: &[u8]) -> Result<Auth, Down> {
    let code = body.get(..4).ok_or_else(|| Down::new("truncated authentication request"))?;
    let rest = &body[4..];
    Ok(match u32::from_be_bytes(code.try_into().unwrap()) {
        0 => Auth::Ok,
        3 => Auth::Cleartext,
        5 => Auth::Md5(rest.get(..4).ok_or_else(|| Down::new("truncated md5 salt"))?.try_into().unwrap()),
        10 => Auth::Sasl(
            rest.split(|&b| b == 0)
                .take_while(|m| !m.is_empty())
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
        ),
        11 => Auth::SaslContinue(rest.to_vec()),
        12 => Auth::SaslFinal(rest.to_vec()),
        2 => return Err(Down::new("login refused: Kerberos authentication is not supported")),
        7 | 8 => return Err(Down::new("login refused: GSSAPI authentication is not supported")),
        9 => return Err(Down::new("login refused: SSPI authentication is not supported")),
        n => return Err(Down(format!("login refused: unknown authentication method {n}"))),
    })
}

/// The md5 password answer: "md5" + md5(md5(password + user) in hex + salt) in hex.
pub fn md5_password(user: &str, password: &str, salt: &[u8; 4]) -> String {
    let inner = hex(&Md5::new().chain_update(password).chain_update(user).finalize());
    format!("md5{}", hex(&Md5::new().chain_update(inner).chain_update(salt).finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The server-first-message of SCRAM: (nonce, salt, iterations).
pub fn parse_server_first(msg: &str, client_nonce: &str) -> Result<(String, Vec<u8>, u32), Down> {
    let bad = || Down::new("malformed SCRAM server-first message");
    let (mut nonce, mut salt, mut iter) = (None, None, None);
    for attr in msg.split(',') {
        match attr.split_once('=') {
            Some(("r", v)) => nonce = Some(v.to_string()),
            Some(("s", v)) => salt = Some(base64_decode(v).ok_or_else(bad)?),
            Some(("i", v)) => iter = Some(v.parse::<u32>().map_err(|_| bad())?),
            _ => {}
        }
    }
    let (nonce, salt, iter) = (nonce.ok_or_else(bad)?, salt.ok_or_else(bad)?, iter.ok_or_else(bad)?);
    if !nonce.starts_with(client_nonce) || nonce.len() == client_nonce.len() {
        return Err(Down::new("SCRAM server nonce does not extend ours"));
    }
    if iter == 0 || iter > MAX_ITERATIONS {
        return Err(Down(format!("SCRAM iteration count {iter} out of range")));
    }
    Ok((nonce, salt, iter))
}

/// One SCRAM-SHA-256 exchange (RFC 5802/7677) as PostgreSQL runs it (the user name in the
/// messages is empty: the server uses the startup message's).
pub struct Scram {
    client_nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl Scram {
    pub fn new(client_nonce: String) -> Self {
        Scram { client_first_bare: format!("n=,r={client_nonce}"), client_nonce, server_signature: None }
    }

    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// The client-final message for the server-first one.
    pub fn client_final(&mut self, password: &str, server_first: &[u8]) -> Result<String, Down> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| Down::new("malformed SCRAM server-first message"))?;
        let (nonce, salt, iter) = parse_server_first(server_first, &self.client_nonce)?;
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iter).expect("checked above"),
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        let salted_key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = ring::digest::digest(&ring::digest::SHA256, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature =
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(signature.as_ref()).map(|(a, b)| a ^ b).collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let server_sig =
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()), auth_message.as_bytes());
        self.server_signature = Some(server_sig.as_ref().to_vec());
        Ok(format!("{without_proof},p={}", base64_encode(&proof)))
    }

    /// The signature the server must send back, once [`Scram::client_final`] has run (a
    /// scripted server's final message is built from it).
    pub fn server_signature(&self) -> Option<&[u8]> {
        self.server_signature.as_deref()
    }

    /// Checks the server-final message ("v=<signature>").
    pub fn verify_final(&self, server_final: &[u8]) -> Result<(), Down> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(e) = text.strip_prefix("e=") {
            return Err(Down(format!("login refused: SCRAM error {}", crate::lines::short(e))));
        }
        let sig = text.strip_prefix("v=").and_then(|v| base64_decode(v.trim_end()));
        match (&self.server_signature, sig) {
            (Some(want), Some(got)) if *want == got => Ok(()),
            _ => Err(Down::new("login refused: the server's SCRAM signature is wrong")),
        }
    }
}

/// The startup message: protocol 3.0, user, database.
pub fn startup_message(user: &str, database: Option<&str>) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in [("user", Some(user)), ("database", database), ("application_name", Some("rha-check"))] {
        if let Some(v) = v {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
    }
    body.push(0);
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

/// A frontend message: type, length, body.
pub fn message(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstring(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Reads one backend message: (type, body).
pub async fn read_message<R: AsyncRead + Unpin>(r: &mut R) -> Result<(u8, Vec<u8>), Down> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len < 4 {
        return Err(Down(format!("malformed message length {len}")));
    }
    if len - 4 > MAX_MESSAGE {
        return Err(Down(format!("reply message of {len} bytes is larger than {MAX_MESSAGE}")));
    }
    let mut body = vec![0u8; len - 4];
    r.read_exact(&mut body).await?;
    Ok((head[0], body))
}

/// The row count in a CommandComplete tag ("SELECT 3", "INSERT 0 1", "UPDATE 2").
pub fn tag_rows(body: &[u8]) -> u64 {
    let tag = String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(body)).into_owned();
    tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn nonce() -> Result<String, Down> {
    let mut raw = [0u8; 18];
    ring::rand::SystemRandom::new().fill(&mut raw).map_err(|_| Down::new("no random numbers for SCRAM"))?;
    Ok(base64_encode(&raw))
}

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let spec = probe.spec;
    let query = spec.request.as_deref().map(|r| r.strip_prefix('/').unwrap_or(r)).unwrap_or("");
    let Some(user) = spec.login.as_deref().filter(|l| !l.is_empty()) else {
        return Err(Down::new("service pgsql needs a login and a request"));
    };
    if query.is_empty() {
        return Err(Down::new("service pgsql needs a login and a request"));
    }
    let password = spec.passwd.as_deref().unwrap_or("");
    let database = spec.database.as_deref().filter(|d| !d.is_empty());

    probe.stage("connecting");
    let s = connect_tcp(probe.target).await?;
    session(probe, s, user, password, database, query, nonce()?).await
}

/// The dialogue after the connection is made: startup, login (SCRAM with `client_nonce`),
/// query, first row.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    probe: &Probe<'_>,
    mut s: S,
    user: &str,
    password: &str,
    database: Option<&str>,
    query: &str,
    client_nonce: String,
) -> CheckResult {
    let mut client_nonce = Some(client_nonce);
    probe.stage("logging in");
    s.write_all(&startup_message(user, database)).await?;
    let mut scram: Option<Scram> = None;
    let mut verified = false;
    loop {
        let (ty, body) = read_message(&mut s).await?;
        match ty {
            b'R' => match parse_auth(&body)? {
                Auth::Ok => {}
                Auth::Cleartext => s.write_all(&message(b'p', &cstring(password))).await?,
                Auth::Md5(salt) => {
                    s.write_all(&message(b'p', &cstring(&md5_password(user, password, &salt)))).await?
                }
                Auth::Sasl(mechs) => {
                    if !mechs.iter().any(|m| m == "SCRAM-SHA-256") {
                        let shown: Vec<String> =
                            mechs.iter().take(3).map(|m| crate::lines::quoted(m)).collect();
                        return Err(Down(format!(
                            "login refused: no supported SASL mechanism in [{}]",
                            shown.join(", ")
                        )));
                    }
                    let n = client_nonce.take().ok_or_else(|| Down::new("a second SASL start"))?;
                    let sc = Scram::new(n);
                    let first = sc.client_first();
                    let mut b = cstring("SCRAM-SHA-256");
                    b.extend_from_slice(&(first.len() as u32).to_be_bytes());
                    b.extend_from_slice(first.as_bytes());
                    s.write_all(&message(b'p', &b)).await?;
                    scram = Some(sc);
                }
                Auth::SaslContinue(data) => {
                    let sc = scram.as_mut().ok_or_else(|| Down::new("SASL continue without a SASL start"))?;
                    let fin = sc.client_final(password, &data)?;
                    s.write_all(&message(b'p', fin.as_bytes())).await?;
                }
                Auth::SaslFinal(data) => {
                    scram
                        .as_ref()
                        .ok_or_else(|| Down::new("SASL final without a SASL start"))?
                        .verify_final(&data)?;
                    verified = true;
                }
            },
            b'E' => return Err(Down(format!("login refused: {}", parse_error(&body)))),
            // Parameter status, backend key, notices: not needed.
            b'S' | b'K' | b'N' => {}
            b'Z' => break,
            other => return Err(Down(format!("unexpected message {:?} while logging in", other as char))),
        }
    }
    // A server that skips SCRAM's final message has not proven it knows the password.
    if scram.is_some() && !verified {
        return Err(Down::new("login refused: SCRAM exchange did not finish"));
    }
    probe.stage("running the query");
    s.write_all(&message(b'Q', &cstring(query))).await?;
    let (mut data_rows, mut tagged, mut error) = (0u64, 0u64, None);
    loop {
        let (ty, body) = read_message(&mut s).await?;
        match ty {
            b'D' => data_rows += 1,
            b'C' => tagged += tag_rows(&body),
            b'E' => error = Some(parse_error(&body)),
            b'T' | b'I' | b'N' | b'S' => {}
            b'Z' => break,
            other => {
                return Err(Down(format!("unexpected message {:?} in the query's reply", other as char)));
            }
        }
        if data_rows > 0 {
            // The first row is enough.
            break;
        }
    }
    let _ = s.write_all(&message(b'X', &[])).await;
    if let Some(e) = error {
        return Err(Down(format!("query failed: {e}")));
    }
    if data_rows.max(tagged) == 0 { Err(Down::new("query returned 0 rows")) } else { Ok(()) }
}

/// The check against a scripted server that sends `server` (then closes), as user "rha" with
/// password "secret", query "SELECT 1" and the SCRAM client nonce "rhanonce": for the fuzzer
/// and the unit tests. Never panics; every outcome is up or down with a reason.
pub fn check_scripted(spec: &CheckSpec, server: &[u8]) -> CheckResult {
    let target = Target::new("192.0.2.1:5432".parse().unwrap());
    let probe = Probe::new(spec, &target);
    let session =
        session(&probe, Scripted::new(server), "rha", "secret", Some("db"), "SELECT 1", "rhanonce".into());
    run_ready(session).unwrap_or(Err(Down::new("would block")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn scram_matches_rfc7677s_example() {
        // RFC 7677 section 3, with the user name left out as PostgreSQL does: the proof then
        // differs from the RFC's, so we check our own exchange end to end instead, and the
        // RFC's server-first parse.
        let mut sc = Scram::new("rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(sc.client_first(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
        let sf = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = sc.client_final("pencil", sf).unwrap();
        assert!(fin.starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="), "{fin}");
        assert!(sc.verify_final(b"v=AAAA").is_err());
        let good = format!("v={}", base64_encode(sc.server_signature.as_ref().unwrap()));
        assert!(sc.verify_final(good.as_bytes()).is_ok());
        assert!(sc.verify_final(b"e=invalid-proof").unwrap_err().0.contains("invalid-proof"));
    }

    #[test]
    fn hostile_server_first_messages_are_refused() {
        let n = "abc";
        assert!(parse_server_first("r=abcdef,s=AAAA,i=4096", n).is_ok());
        assert!(parse_server_first("r=abc,s=AAAA,i=4096", n).is_err(), "nonce not extended");
        assert!(parse_server_first("r=xyz1,s=AAAA,i=4096", n).is_err());
        assert!(parse_server_first("r=abcd,s=AAAA,i=4000000000", n).is_err());
        assert!(parse_server_first("r=abcd,s=AAAA,i=0", n).is_err());
        assert!(parse_server_first("r=abcd,s=!!,i=1", n).is_err());
        assert!(parse_server_first("", n).is_err());
        let mut sc = Scram::new("abc".into());
        assert!(sc.client_final("x", b"\xff\xfe").is_err());
    }

    #[test]
    fn md5_answers_match_postgres() {
        // select 'md5' || md5(md5('secret' || 'alice') || 'salt') in psql.
        let inner = hex(&Md5::digest(b"secretalice"));
        let want = format!("md5{}", hex(&Md5::digest(format!("{inner}salt").as_bytes())));
        assert_eq!(md5_password("alice", "secret", b"salt"), want);
        assert_eq!(want.len(), 35);
    }

    #[test]
    fn auth_requests_errors_and_tags() {
        assert_eq!(parse_auth(&[0, 0, 0, 0]).unwrap(), Auth::Ok);
        assert_eq!(parse_auth(&[0, 0, 0, 5, 1, 2, 3, 4]).unwrap(), Auth::Md5([1, 2, 3, 4]));
        assert!(parse_auth(&[0, 0, 0, 5, 1]).is_err());
        assert!(parse_auth(&[0, 0]).is_err());
        assert_eq!(
            parse_auth(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0").unwrap(),
            Auth::Sasl(vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()])
        );
        assert!(parse_auth(&[0, 0, 0, 7]).unwrap_err().0.contains("GSSAPI"));
        assert_eq!(
            parse_error(b"SFATAL\0C28P01\0Mpassword authentication failed for user \"x\"\0\0"),
            "28P01 password authentication failed for user \"x\""
        );
        assert_eq!(parse_error(b""), "malformed error response");
        assert_eq!(tag_rows(b"SELECT 3\0"), 3);
        assert_eq!(tag_rows(b"INSERT 0 1\0"), 1);
        assert_eq!(tag_rows(b"BEGIN\0"), 0);
        assert_eq!(tag_rows(b""), 0);
    }

    #[test]
    fn truncated_and_oversized_messages_are_reasons() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut big: &[u8] = &[b'R', 0x7f, 0xff, 0xff, 0xff];
            assert!(read_message(&mut big).await.unwrap_err().0.contains("larger than"));
            let mut short: &[u8] = &[b'R', 0, 0, 0, 2];
            assert!(read_message(&mut short).await.unwrap_err().0.contains("malformed"));
            let mut cut: &[u8] = &[b'R', 0, 0, 0, 8, 0, 0];
            assert_eq!(read_message(&mut cut).await.unwrap_err().0, "connection closed by the server");
            let mut ok: &[u8] = &[b'Z', 0, 0, 0, 5, b'I'];
            assert_eq!(read_message(&mut ok).await.unwrap(), (b'Z', vec![b'I']));
        });
        let m = startup_message("u", Some("d"));
        assert_eq!(u32::from_be_bytes(m[..4].try_into().unwrap()) as usize, m.len());
    }
}
