//! rha-ldirectord's ldirectord.cf parser: never a panic; an error names a line of the input
//! (or 0) and says why; an accepted file parses to the same Config twice, and what it holds
//! is what the kernel would take (reals within their virtual's family, ports of gate/ipip
//! reals equal to the virtual's). Names resolve through a fixed table: no network.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rha_ldirectord::config::{Options, StaticResolver, parse_str_with};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let resolver = StaticResolver::common();
    let opt = Options { resolver: &resolver, hostname: "fuzz".into() };
    let path = Path::new("/fuzz/ldirectord.cf");
    match parse_str_with(text, path, &opt) {
        Ok(c) => {
            assert_eq!(parse_str_with(text, path, &opt).unwrap(), c, "not deterministic");
            for v in &c.virtuals {
                let fam = v.key().family();
                for r in &v.reals {
                    assert_eq!(rha_ipvs::Family::of(&r.dest.addr), fam);
                    if !v.key().is_fwmark() && r.dest.forward != rha_ipvs::Forward::Masq {
                        assert_eq!(r.dest.port, v.key().port());
                    }
                    assert!(r.line.line >= 1 && r.line.line <= text.split('\n').count());
                }
            }
        }
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "an error without a message");
            assert!(e.line <= text.split('\n').count(), "line {} beyond the input: {e}", e.line);
            assert!(e.to_string().starts_with("/fuzz/ldirectord.cf:"), "{e}");
        }
    }
});
