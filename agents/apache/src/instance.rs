//! One Apache instance as this node sees it: the parameters resolved into the httpd binary,
//! httpd's environment (the envfiles), its configuration, the pid file, the URLs to check and
//! the marker that identifies its processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ocf_shim::state::StateDir;
use ocf_shim::{Context, OcfError};
use regex::bytes::Regex;

use crate::config::{self, ApacheConf, Listen, ParseOptions, ShellEnv};
use crate::httpd;
use crate::params::{Config, INFO};
use crate::procs::{self, Members, PidFile, Stale};

/// The environment variable that marks this instance's httpd processes. Its value is the
/// canonical path of the configuration file (unique per resource).
pub const TAG_VAR: &str = "RHA_APACHE_ID";
/// Defines the agent always passes: `-DSTATUS` as upstream does (for `<IfDefine STATUS>`),
/// `-DFOREGROUND` so httpd stays the session leader the agent started.
pub const ALWAYS_DEFINED: [&str; 2] = ["STATUS", "FOREGROUND"];

/// Environment variables of the agent's own caller that httpd must not inherit.
fn caller_only(name: &str) -> bool {
    name.starts_with("OCF_") || name.starts_with("HA_") || name.starts_with("PCMK_") || name == TAG_VAR
}

/// The parameters resolved on this node.
#[derive(Debug)]
pub struct Instance {
    pub configfile: PathBuf,
    /// The httpd binary, or why there is none.
    pub httpd: Result<PathBuf, OcfError>,
    /// httpd's environment (without the marker).
    pub env: BTreeMap<String, String>,
    /// The configuration as read, or why it could not be.
    pub conf: Result<ApacheConf, OcfError>,
    /// The pid file: the configuration's, or the agent's own (then passed with `-c PidFile`).
    pub pid_file: Option<PathBuf>,
    pub forced_pid_file: bool,
    /// `TAG_VAR=value`, as found in `/proc/<pid>/environ`.
    pub tag: String,
    /// The `options` words.
    pub options: Vec<String>,
    /// What the envfiles evaluation skipped or could not read.
    pub env_notes: Vec<String>,
}

/// The options that shape how the configuration is read.
#[derive(Debug, Default)]
struct OptionEffects {
    defines: Vec<String>,
    pre: Vec<String>,
    post: Vec<String>,
    server_root: Option<PathBuf>,
}

fn option_effects(options: &[String]) -> OptionEffects {
    let mut fx = OptionEffects::default();
    let mut it = options.iter();
    while let Some(w) = it.next() {
        let (flag, attached) = match w.get(..2) {
            Some(f @ ("-D" | "-C" | "-c" | "-d")) => (f, &w[2..]),
            _ => continue,
        };
        let value = if attached.is_empty() { it.next().cloned() } else { Some(attached.to_string()) };
        let Some(value) = value else { continue };
        match flag {
            "-D" => fx.defines.push(value),
            "-C" => fx.pre.push(value),
            "-c" => fx.post.push(value),
            _ => fx.server_root = Some(PathBuf::from(value)),
        }
    }
    fx
}

impl Instance {
    pub fn resolve(cfg: &Config, ctx: &Context) -> Instance {
        let httpd = httpd::find(cfg.httpd.as_deref());
        let configfile = cfg.configfile.clone();
        let fx = option_effects(&cfg.options);
        let server_root = fx.server_root.clone().unwrap_or_else(|| {
            httpd::default_server_root(httpd.as_ref().ok().map(PathBuf::as_path), &configfile)
        });
        let configfile = if configfile.is_relative() { server_root.join(&configfile) } else { configfile };

        // httpd's environment: the caller's, minus what belongs to the cluster, plus envfiles.
        let mut shell = ShellEnv::with_exported(
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        );
        let caller: Vec<String> =
            shell.exported().map(|(k, _)| k.to_string()).filter(|k| caller_only(k)).collect();
        for k in caller {
            shell.unset(&k);
        }
        if is_debian_layout(&configfile) && shell.get("APACHE_CONFDIR").is_none() {
            // What apache2ctl and apache2@.service do, so envvars computes the right SUFFIX for
            // /etc/apache2-NAME instances.
            if let Some(dir) = configfile.parent().and_then(Path::to_str) {
                shell.set("APACHE_CONFDIR", dir, true);
            }
        }
        for f in &cfg.envfiles {
            if let Err(e) = shell.source_file(f) {
                shell.notes.push(format!("envfile {}: {e}", f.display()));
            }
        }
        let mut env: BTreeMap<String, String> =
            shell.exported().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if env.get("PATH").is_none_or(|p| p.is_empty()) {
            env.insert("PATH".into(), ocf_shim::process::SYSTEM_PATH.into());
        }

        let mut defines: Vec<String> = ALWAYS_DEFINED.iter().map(|d| d.to_string()).collect();
        defines.extend(fx.defines.iter().cloned());
        let opts = ParseOptions {
            configfile: configfile.clone(),
            server_root,
            defines,
            pre_directives: fx.pre.clone(),
            post_directives: fx.post.clone(),
            env: env.clone(),
        };
        let conf = config::parse(&opts).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                OcfError::installed(format!("configuration file {} not found", configfile.display()))
            } else {
                OcfError::installed(format!("cannot read configuration file {}: {e}", configfile.display()))
            }
        });
        let (pid_file, forced_pid_file) = match &conf {
            Ok(c) => match &c.pid_file {
                Some(p) => (Some(p.clone()), false),
                None => (Some(StateDir::for_agent(INFO.name).instance_file(ctx, ".pid")), true),
            },
            Err(_) => (None, false),
        };
        let canonical = std::fs::canonicalize(&configfile).unwrap_or_else(|_| configfile.clone());
        Instance {
            tag: format!("{TAG_VAR}={}", canonical.display()),
            configfile,
            httpd,
            env,
            conf,
            pid_file,
            forced_pid_file,
            options: cfg.options.clone(),
            env_notes: std::mem::take(&mut shell.notes),
        }
    }

    pub fn httpd_path(&self) -> Option<&Path> {
        self.httpd.as_ref().ok().map(PathBuf::as_path)
    }

    /// The marker's value (for the child's environment).
    pub fn tag_value(&self) -> &str {
        self.tag.split_once('=').map(|(_, v)| v).unwrap_or("")
    }

    /// What the pid file says now.
    pub fn pid_file_state(&self) -> PidFile {
        procs::read_pid_file(self.pid_file.as_deref(), self.httpd_path(), self.tag.as_bytes())
    }

    /// Every process of this instance (a scan of /proc).
    pub fn members(&self, pf: PidFile) -> Members {
        let (main, stale) = match pf {
            PidFile::Running(p) => (Some(p), Stale::None),
            PidFile::Stale(p) => (None, Stale::FromPidFile(p)),
            PidFile::Missing => (None, Stale::None),
        };
        procs::members(main, stale, self.httpd_path(), self.tag.as_bytes())
    }

    /// What is left of this instance after its main process `main` (seen alive by this
    /// agent) was signalled.
    pub fn remains_of(&self, main: i32) -> Members {
        if ocf_shim::process::pid_alive(main) {
            procs::members(Some(main), Stale::None, self.httpd_path(), self.tag.as_bytes())
        } else {
            procs::members(None, Stale::Seen(main), self.httpd_path(), self.tag.as_bytes())
        }
    }

    /// The address checks go to: the Listen with `port` (or the first one), loopback when it
    /// listens on all addresses.
    pub fn endpoint(&self, cfg: &Config) -> Endpoint {
        let (listens, port_directive) = match &self.conf {
            Ok(c) => (c.listens.as_slice(), c.port),
            Err(_) => (&[][..], None),
        };
        let chosen = match cfg.port {
            Some(p) => listens.iter().find(|l| l.port == p).cloned().unwrap_or(Listen {
                host: None,
                port: p,
                protocol: None,
            }),
            None => listens.first().cloned().unwrap_or(Listen {
                host: None,
                port: port_directive.unwrap_or(80),
                protocol: None,
            }),
        };
        let host = if chosen.is_wildcard() {
            // `Listen [::]:80` is reached on ::1; `Listen 80` on 127.0.0.1 unless use_ipv6.
            let v6_only_wildcard = chosen.host.as_deref().is_some_and(|h| h.contains(':'));
            if cfg.use_ipv6 || v6_only_wildcard { "[::1]".to_string() } else { "127.0.0.1".to_string() }
        } else {
            bracket(chosen.host.as_deref().unwrap_or("127.0.0.1"))
        };
        Endpoint { https: chosen.is_https(), host, port: chosen.port }
    }

    /// The level-0 check: the status URL and what must be in it.
    pub fn status_check<'c>(&self, cfg: &'c Config) -> Check<'c> {
        let base = self.endpoint(cfg);
        if let Some(u) = &cfg.statusurl {
            return Check { url: base.absolute(u), regex: Some(cfg.testregex()) };
        }
        if let Some(status) = self.conf.as_ref().ok().and_then(|c| c.status.as_ref()) {
            // A Location inside a <VirtualHost ip:port> is reached on that address.
            let on_vhost = status.vhost.as_ref().and_then(|args| args.first()).and_then(|a| {
                let l = Listen::parse(std::slice::from_ref(a))?;
                let https = listens_of(&self.conf)
                    .iter()
                    .find(|x| x.port == l.port)
                    .map_or(l.port == 443, Listen::is_https);
                (!l.is_wildcard() && l.host.as_deref() != Some("_default_")).then(|| Endpoint {
                    https,
                    host: bracket(l.host.as_deref().unwrap_or("127.0.0.1")),
                    port: l.port,
                })
            });
            let ep = on_vhost.unwrap_or(base);
            return Check { url: ep.absolute(&status.path), regex: Some(cfg.testregex()) };
        }
        // No status page configured: the root page must answer (any response below 500),
        // or match testregex when one is given.
        Check { url: base.absolute("/"), regex: cfg.testregex.as_ref() }
    }
}

fn listens_of(conf: &Result<ApacheConf, OcfError>) -> &[Listen] {
    conf.as_ref().map(|c| c.listens.as_slice()).unwrap_or(&[])
}

/// `/etc/apache2*/apache2.conf`: Debian's layout, driven by apache2ctl's APACHE_CONFDIR.
fn is_debian_layout(configfile: &Path) -> bool {
    configfile.file_name().is_some_and(|n| n == "apache2.conf")
        && configfile.parent().and_then(Path::to_str).is_some_and(|d| d.starts_with("/etc/apache2"))
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() }
}

/// Scheme, host and port of the local server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// As written in a URL (IPv6 in brackets).
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn base(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// A full URL as is; a path relative to this endpoint.
    pub fn absolute(&self, url: &str) -> String {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            url.to_string()
        } else if url.starts_with('/') {
            format!("{}{url}", self.base())
        } else {
            format!("{}/{url}", self.base())
        }
    }
}

/// One HTTP check: a URL and the regex its body must match (`None`: any response below 500).
#[derive(Clone, Debug)]
pub struct Check<'a> {
    pub url: String,
    pub regex: Option<&'a Regex>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_shape_the_reading() {
        let w = |s: &str| crate::config::split_words(s).unwrap();
        let fx = option_effects(&w("-DSSL -D X -c 'PidFile /a' -CDefine\\ B -d /srv -e debug"));
        assert_eq!(fx.defines, vec!["SSL", "X"]);
        assert_eq!(fx.post, vec!["PidFile /a"]);
        assert_eq!(fx.pre, vec!["Define B"]);
        assert_eq!(fx.server_root, Some(PathBuf::from("/srv")));
        let _ = option_effects(&w("-D"));
    }

    #[test]
    fn urls() {
        let ep = Endpoint { https: false, host: "127.0.0.1".into(), port: 80 };
        assert_eq!(ep.absolute("/server-status"), "http://127.0.0.1:80/server-status");
        assert_eq!(ep.absolute("x?auto"), "http://127.0.0.1:80/x?auto");
        assert_eq!(ep.absolute("HTTPS://h/x"), "HTTPS://h/x");
        assert_eq!(bracket("2001:db8::1"), "[2001:db8::1]");
        assert!(is_debian_layout(Path::new("/etc/apache2-web/apache2.conf")));
        assert!(!is_debian_layout(Path::new("/etc/httpd/conf/httpd.conf")));
    }
}
