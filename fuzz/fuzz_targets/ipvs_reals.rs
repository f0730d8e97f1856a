//! ipvs-service's `reals` syntax: never a panic; errors say why; what parses is written
//! in canonical form (`format`) and parses back to the same real servers.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use rha_fuzz::FakeResolver;
use rha_ipvs::{Family, ServiceKey};
use rha_ipvs_service::reals::{format, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let key = match first % 4 {
        0 => ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 80),
        1 => ServiceKey::udp(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)), 53),
        2 => ServiceKey::Fwmark { mark: 7, family: Family::Inet },
        _ => ServiceKey::Fwmark { mark: 9, family: Family::Inet6 },
    };
    match parse(text, &key, &FakeResolver) {
        Err(e) => assert!(!e.message.trim().is_empty(), "an error without a message"),
        Ok(dests) => {
            let canonical = format(&dests);
            let again = parse(&canonical, &key, &FakeResolver)
                .unwrap_or_else(|e| panic!("canonical form does not parse: {e}\n{text:?} → {canonical:?}"));
            assert_eq!(again, dests, "{text:?} → {canonical:?}");
        }
    }
});
