//! ocf:rha:apache's reader of httpd configuration (Include/IncludeOptional with directories
//! and wildcards, Define and ${VAR}, <IfModule>/<IfDefine>/<IfFile>, Listen, PidFile, the
//! server-status Location), in a private root holding Debian's /etc/apache2 and a small tree:
//! never a panic, and what it finds is consistent.
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use rha_apache::config::parse::split_args;
use rha_apache::config::{Listen, ParseOptions, parse};
use rha_fuzz::confine_with_apache;

fuzz_target!(
    init: {
        confine_with_apache(&[
            ("srv/conf/a.conf", "Listen 127.0.0.1:8080\nPidFile run/a.pid\n"),
            ("srv/conf/d/b.conf", "<IfModule status_module>\n<Location /st>\nSetHandler server-status\n</Location>\n</IfModule>\n"),
            ("srv/conf/d/c.conf", "Define X 1\nInclude ../a.conf\n"),
            ("srv/conf/self.conf", "IncludeOptional self.conf\n"),
        ]);
    },
    |data: &[u8]| {
        let Some((&flags, rest)) = data.split_first() else { return };
        let text = String::from_utf8_lossy(rest);
        // Up to two -C/-c directives ride along after a \x01 separator.
        let mut parts = text.split('\u{1}');
        let main = parts.next().unwrap_or_default();
        let pre: Vec<String> = parts.next().map(|s| vec![s.to_string()]).unwrap_or_default();
        let post: Vec<String> = parts.next().map(|s| vec![s.to_string()]).unwrap_or_default();
        let file = PathBuf::from("/srv/fuzz.conf");
        if std::fs::write(&file, main.as_bytes()).is_err() {
            return;
        }
        let mut defines = vec!["FOREGROUND".to_string()];
        if flags & 1 != 0 {
            defines.push("STATUS".into());
        }
        let server_root = if flags & 2 != 0 { "/etc/apache2" } else { "/srv/conf" };
        let env: BTreeMap<String, String> = [
            ("APACHE_RUN_DIR", "/run/apache2"),
            ("APACHE_PID_FILE", "/run/apache2/apache2.pid"),
            ("APACHE_LOG_DIR", "/var/log/apache2"),
            ("APACHE_RUN_USER", "www-data"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let opts = ParseOptions {
            configfile: file,
            server_root: PathBuf::from(server_root),
            defines,
            pre_directives: pre,
            post_directives: post,
            env,
        };
        let conf = parse(&opts).expect("the main file exists");
        for l in &conf.listens {
            assert!(l.port > 0, "Listen with port 0 accepted: {l:?}");
        }
        assert!(!conf.files.is_empty(), "the main file is always read");
        for line in main.lines().take(64) {
            let words = split_args(line);
            if let Some(l) = Listen::parse(&words) {
                assert!(l.port > 0);
            }
        }
    }
);
