//! rha-check's reply parsers (HTTP status line, headers and body; DNS messages; SMTP, POP,
//! IMAP, FTP and NNTP replies; LDAP BER; RADIUS; MySQL and PostgreSQL handshakes and results;
//! SIP; simpletcp): the first byte picks the parser and a variant of the check
//! (rha_check::fuzzing), the rest is what the server sends before it closes. Never a panic;
//! every dialogue finishes without waiting; down always has a short reason on one line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((parser, result)) = rha_check::fuzzing::reply(data) else { return };
    if let Err(e) = rha_check::fuzzing::check_result(parser, &result) {
        panic!("{e}");
    }
    // Deterministic: the same reply, the same outcome.
    assert_eq!(rha_check::fuzzing::reply(data).map(|(_, r)| r), Some(result), "{parser}: not deterministic");
});
