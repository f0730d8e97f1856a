//! ocf:rha:ipvs-service's whole configuration (service parameters, reals, rules_file, sync
//! daemon) through its library API, with a deterministic resolver and a private root (a
//! `rules_file` naming /dev/zero must not hang the fuzzer): never a panic, one-line errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf_shim::Action;
use rha_fuzz::{FakeResolver, agent_input, check_config_error, confine, write_files};
use rha_ipvs_service::params::{Config, INFO, stop_identity_with};

fuzz_target!(
    init: {
        confine(|root| {
            write_files(root, &[
                ("srv/web.rules", "-A -t 198.51.100.10:80 -s wrr\n-a -t 198.51.100.10:80 -r 203.0.113.2:80 -m -w 3\n"),
                ("srv/named.rules", "-A -u vip:domain -s rr\n-a -u vip:domain -r real1:domain -m\n"),
                ("srv/empty.rules", ""),
            ]);
        })
    },
    |data: &[u8]| {
        let Some((p, _ctx, _)) = agent_input(data, &INFO, &[Action::Start, Action::Stop, Action::Monitor, Action::ValidateAll]) else { return };
        match Config::from_params_with(&p, &FakeResolver) {
            Err(e) => check_config_error(&e),
            Ok(cfg) => {
                let _ = rha_ipvs_service::reals::format(&cfg.desired.dests);
                // A configuration that loads has the identity a stop uses.
                assert_eq!(stop_identity_with(&p, &FakeResolver), Some(cfg.key()));
            }
        }
        // Stop's identity never panics, whatever the parameters.
        let _ = stop_identity_with(&p, &FakeResolver);
    }
);
