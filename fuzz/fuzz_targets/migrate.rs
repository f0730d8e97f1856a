//! rha-migrate's converters (haresources, ha.cf, ipvsadm-save, CIB): never a panic; a refusal
//! names at least one fault, each with a message; an accepted input converts to the same bytes
//! twice (deterministic output). The first byte picks the converter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rha_fuzz::FakeResolver;
use rha_migrate::haresources::{InitClass, Options};
use rha_migrate::{Faults, Format, cib, hacf, haresources, ipvsadm};

fn check_faults(f: &Faults) {
    assert!(!f.is_empty(), "a refusal without a fault");
    for x in &f.0 {
        assert!(!x.message.trim().is_empty(), "a fault without a message");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 4 {
        0 => {
            // haresources, with an ha.cf made of the text's own lines after a "---" line.
            let (har, cf) = text.split_once("\n---\n").unwrap_or((text, ""));
            let ha_cf = if cf.is_empty() {
                None
            } else {
                match hacf::parse("ha.cf", cf) {
                    Ok(c) => Some(c),
                    Err(f) => return check_faults(&f),
                }
            };
            let opt = Options { init: InitClass::Systemd, ha_cf };
            match haresources::convert("haresources", har, &opt) {
                Ok(p) => {
                    let again = haresources::convert("haresources", har, &opt).unwrap();
                    assert_eq!(p.render(Format::Crm), again.render(Format::Crm));
                    let _ = p.render(Format::Pcs);
                }
                Err(f) => check_faults(&f),
            }
        }
        1 => match hacf::parse("ha.cf", text) {
            Ok(c) => {
                let _ = c.timer_advice();
            }
            Err(f) => check_faults(&f),
        },
        2 => {
            match ipvsadm::convert("rules", text, &FakeResolver) {
                Ok(p) => assert_eq!(p.render(Format::Crm), p.clone().render(Format::Crm)),
                Err(f) => check_faults(&f),
            }
            if let Err(f) = ipvsadm::ldirectord("rules", text, &FakeResolver) {
                check_faults(&f)
            }
        }
        _ => match cib::analyse("cib", text) {
            Ok(c) => {
                let a = cib::render("cib", &c, Format::Crm);
                assert_eq!(a, cib::render("cib", &cib::analyse("cib", text).unwrap(), Format::Crm));
                let _ = cib::render("cib", &c, Format::Pcs);
            }
            Err(f) => check_faults(&f),
        },
    }
});
