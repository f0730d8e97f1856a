//! ocf:rha:ipvs-service's whole configuration (service parameters, reals, rules_file, sync
//! daemon) through its library API, with a deterministic resolver and a private root (a
//! `rules_file` naming /dev/zero must not hang the fuzzer): never a panic, one-line errors.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use ocf_shim::{Action, Context, Params};
use rha_fuzz::{FakeResolver, check_config_error, confine, params_from, write_files};
use rha_ipvs_service::params::{Config, INFO};

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
        let Some((&first, rest)) = data.split_first() else { return };
        let action = match first % 4 {
            0 => Action::Start,
            1 => Action::Stop,
            2 => Action::Monitor,
            _ => Action::ValidateAll,
        };
        let names: Vec<&str> = INFO.parameters.iter().map(|p| p.name).collect();
        let p = Params::from_pairs(&INFO, params_from(rest, &names));
        let ctx = Context::from_env(action, &INFO, Instant::now());
        match Config::from_params_with(&p, &ctx, &FakeResolver) {
            Err(e) => check_config_error(&e),
            Ok(cfg) => {
                if let Ok(spec) = cfg.spec() {
                    let _ = rha_ipvs_service::reals::format(&spec.dests);
                }
            }
        }
    }
);
