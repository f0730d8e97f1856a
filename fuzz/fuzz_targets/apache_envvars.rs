//! ocf:rha:apache's evaluator of environment files (Debian's /etc/apache2/envvars: the shell
//! subset of assignments, quoting, ${...} expansions, if/test, `.`), without a shell, in a
//! private root: never a panic, nothing executed.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rha_apache::config::{ShellEnv, split_words};
use rha_fuzz::confine_with_apache;

fuzz_target!(
    init: {
        confine_with_apache(&[
            ("srv/env/a", "export A=1\nB=\"$A two\"\n"),
            ("srv/env/loop", ". /srv/env/loop\n"),
        ]);
    },
    |data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let mut env = ShellEnv::with_exported([("PATH", "/usr/bin:/bin"), ("LANG", "C"), ("HOME", "/root")]);
        env.eval(&text);
        let _: Vec<(&str, &str)> = env.exported().collect();
        let _ = env.expand(&text);
        let _ = split_words(&text);
        assert!(!Path::new("/pwned").exists(), "the evaluator ran a command");
    }
);
