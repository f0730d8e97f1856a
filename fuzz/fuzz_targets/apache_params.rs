//! ocf:rha:apache's parameters as a whole (Config::from_params, the instance they resolve to on
//! this node, the status check, the level-10 test file and test blocks, URLs), in a private
//! root with Debian's /etc/apache2: never a panic; parameter problems are one-line
//! OCF_ERR_CONFIGURED.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf_shim::{Action, OcfCode};
use rha_apache::http_check::Url;
use rha_apache::instance::Instance;
use rha_apache::params::{Config, INFO};
use rha_apache::testconf;
use rha_fuzz::{agent_input, check_reason, confine_with_apache};

fuzz_target!(
    init: {
        confine_with_apache(&[
            ("srv/tests.conf", "test one\nurl /\nmatch html\nend\ntest two\nurl http://127.0.0.1:80/x\nmatch ok\nclient_opts -H 'X: y' -k\nend\n"),
        ]);
    },
    |data: &[u8]| {
        let Some((p, ctx, rest)) = agent_input(data, &INFO, &[Action::Start, Action::Monitor, Action::ValidateAll]) else { return };
        let cfg = Config::from_params(&p, &ctx);
        for e in &cfg.problems {
            check_reason(e);
            assert_eq!(e.code, OcfCode::ErrConfigured, "{}", e.reason);
        }
        let inst = Instance::resolve(&cfg, &ctx);
        let check = inst.status_check(&cfg);
        if let Ok(u) = Url::parse(&check.url) {
            assert!(u.path.starts_with('/'), "{u:?}");
        }
        if let Err(e) = testconf::from_config(&cfg) {
            check_reason(&e);
        }
        let text = String::from_utf8_lossy(rest);
        if let Err(e) = testconf::parse(&text, None) {
            check_reason(&e);
        }
        if let Ok(u) = Url::parse(&text) {
            assert!(u.path.starts_with('/'), "{text:?} → {u:?}");
            let again = Url::parse(&u.display());
            assert!(again.is_ok(), "{text:?} → {:?} does not parse again", u.display());
        }
    }
);
