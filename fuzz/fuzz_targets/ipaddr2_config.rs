//! ocf:rha:IPaddr2's configuration (every parameter at once, as Pacemaker passes them) through
//! its library API: never a panic; errors are one-line configuration errors; an accepted
//! address parses back to itself and an accepted prefix fits the family. Every other input
//! runs as an instance of a globally-unique clone, which makes it a cluster-IP bucket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf_shim::{Action, CloneInfo};
use rha_fuzz::{agent_input, check_config_error};
use rha_ipaddr2::params::{Config, INFO, parse_ip, parse_netmask};

fuzz_target!(|data: &[u8]| {
    let Some((p, mut ctx, rest)) =
        agent_input(data, &INFO, &[Action::Start, Action::Stop, Action::Monitor, Action::ValidateAll])
    else {
        return;
    };
    if data[0] & 0x80 != 0 {
        let clone_max = u32::from(data[0] & 0x7) + 1;
        ctx.clone = Some(CloneInfo {
            instance: u32::from(data[0] >> 3 & 0x7),
            clone_max,
            clone_node_max: 2,
            globally_unique: data[0] & 0x40 != 0,
        });
    }
    match Config::from_params(&p, &ctx) {
        Err(e) => check_config_error(&e),
        Ok(cfg) => {
            assert_eq!(parse_ip(&cfg.ip.to_string()).map_err(|e| e.reason), Ok(cfg.ip));
            if let Some(m) = cfg.netmask {
                assert!(m >= 1 && m <= cfg.family.max_prefix(), "prefix {m} for {}", cfg.ip);
            }
            if let Some(c) = &cfg.cluster_ip {
                assert!(c.bucket >= 1 && c.bucket <= c.total, "bucket {} of {}", c.bucket, c.total);
                assert!(c.mac.is_none_or(|m| m[0] & 1 == 1), "unicast cluster MAC accepted: {c:?}");
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
