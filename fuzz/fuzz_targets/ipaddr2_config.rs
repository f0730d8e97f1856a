//! ocf:rha:IPaddr2's configuration (every parameter at once, as Pacemaker passes them) through
//! its library API: never a panic; errors are one-line configuration errors; an accepted
//! address parses back to itself and an accepted prefix fits the family.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf_shim::Action;
use rha_fuzz::{agent_input, check_config_error};
use rha_ipaddr2::params::{Config, INFO, parse_ip, parse_netmask};

fuzz_target!(|data: &[u8]| {
    let Some((p, ctx, rest)) =
        agent_input(data, &INFO, &[Action::Start, Action::Stop, Action::Monitor, Action::ValidateAll])
    else {
        return;
    };
    match Config::from_params(&p, &ctx) {
        Err(e) => check_config_error(&e),
        Ok(cfg) => {
            assert_eq!(parse_ip(&cfg.ip.to_string()).map_err(|e| e.reason), Ok(cfg.ip));
            if let Some(m) = cfg.netmask {
                assert!(m >= 1 && m <= cfg.family.max_prefix(), "prefix {m} for {}", cfg.ip);
            }
            if let (Some(nic), Some(_)) = (&cfg.nic, &cfg.label) {
                assert!(cfg.full_label(nic).is_none_or(|l| l.len() <= 15), "label too long: {cfg:?}");
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(rest) {
        if let Err(e) = parse_ip(text) {
            check_config_error(&e);
        }
        for fam in [rha_net::address::Family::V4, rha_net::address::Family::V6] {
            match parse_netmask(text, fam) {
                Ok((m, _)) => assert!(m >= 1 && m <= fam.max_prefix(), "{text:?} → {m}"),
                Err(e) => check_config_error(&e),
            }
        }
    }
});
