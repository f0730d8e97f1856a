//! The agent's description (meta-data) and its parameters turned into a [`Config`].
//!
//! Parameter problems do not fail `configure`: a stop must work whatever the monitor settings
//! say (ocf-shim would otherwise answer a stop with "nothing to stop" while httpd runs). They
//! are kept in [`Config::problems`] and reported by start, monitor and validate-all.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use ocf_shim::params::quote;
use ocf_shim::{ActionSpec, AgentInfo, Context, OcfError, Parameter, Params};
use regex::bytes::{Regex, RegexBuilder};

use crate::config::split_words;

/// upstream's effective default for `testregex`.
pub const DEFAULT_TESTREGEX: &str = "</ *html *>";
pub const DEFAULT_ENVFILES: &str = "/etc/apache2/envvars";
/// The stock configuration files, in upstream's detection order: SUSE, Debian, RHEL.
pub const DEFAULT_CONFIGS: [&str; 3] =
    ["/etc/apache2/httpd.conf", "/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"];

static PARAMETERS: &[Parameter] = &[
    Parameter::string("configfile")
        .short("configuration file path")
        .long(
            "The full pathname of the Apache configuration file. It is read (with its Include and \
             IncludeOptional files) for ServerRoot, PidFile, Listen and the server-status Location. \
             Default: /etc/apache2/httpd.conf (SUSE) if it exists, else /etc/apache2/apache2.conf \
             (Debian) if it exists, else /etc/httpd/conf/httpd.conf (RHEL).",
        )
        .unique(),
    Parameter::string("httpd").short("httpd binary path").long(
        "The full pathname of the httpd binary. Default: the first executable of /sbin/httpd2, \
         /usr/sbin/httpd2, /usr/sbin/apache2, /sbin/httpd, /usr/sbin/httpd, /usr/sbin/apache. \
         When set, it must exist: the agent does not silently run another binary.",
    ),
    Parameter::integer("port").short("httpd port").long(
        "The port to check. The Listen directive with this port is used (with its address); \
         without one, 127.0.0.1 on this port. Default: the first Listen, else the Port \
         directive, else 80.",
    ),
    Parameter::string("statusurl").short("url name").long(
        "The URL to monitor. Default: the Location whose handler is server-status, on the \
         address of the first Listen (loopback when it listens on all addresses); without such \
         a Location, the root page. A path without scheme and host is taken relative to that \
         address. Requests always come from a loopback address (127.0.0.1, or ::1 for IPv6), so \
         make sure the URL answers only to localhost: a node without the resource must not look \
         active. https:// URLs are checked over TLS (see tls_verify).",
    ),
    Parameter::string("testregex").short("monitor regular expression").long(
        "Regular expression (case-insensitive, per line, like grep -Ei) to find in the body of \
         statusurl. The response must also have a 2xx status. Default: </ *html *>. When neither \
         testregex nor a server-status Location nor statusurl is configured, any HTTP response \
         below 500 from the root page counts as alive.",
    ),
    Parameter::string("client").short("http client").long(
        "Accepted for compatibility with ocf:heartbeat:apache and ignored: this agent has its \
         own HTTP(S) client (no wget or curl needed).",
    ),
    Parameter::string("testurl").short("test url").long(
        "URL for monitor at OCF_CHECK_LEVEL=10. If it does not start with http, it is relative \
         to the Listen address.",
    ),
    Parameter::string("testregex10").short("extended monitor regular expression").long(
        "Regular expression (case-insensitive) to find in the body of testurl at \
         OCF_CHECK_LEVEL=10.",
    ),
    Parameter::string("testconffile").short("test configuration file").long(
        "A file with test blocks for OCF_CHECK_LEVEL=10, as in ocf:heartbeat:apache: \
         'test NAME', then 'url', 'match', optionally 'user' and 'password', 'client' (ignored) \
         and 'client_opts' (only -H/--header, -k/--insecure and -u/--user are understood), \
         then 'end'. Lines starting with # are comments.",
    ),
    Parameter::string("testname")
        .short("test name")
        .long("Name of the test block in testconffile. Default: the first block."),
    Parameter::string("options").short("command line options").long(
        "Extra httpd command-line options, split like a shell would (quotes allowed, nothing \
         expanded). -D, -C, -c and -d are also taken into account when reading the \
         configuration. -f and -k are not allowed (use configfile; the agent runs httpd itself).",
    ),
    Parameter::string("envfiles").short("environment settings files").default(DEFAULT_ENVFILES).long(
        "Space-separated files with environment variables for httpd, e.g. Debian's APACHE_* \
         variables. They are read as shell assignments (export VAR=value, VAR=value, \
         ${VAR:-default}, if/else over [ ] tests) without running a shell or any command. \
         Missing files are skipped. An empty value disables this.",
    ),
    Parameter::boolean("use_ipv6").short("use ipv6 with http clients").default("false").long(
        "Check from ::1 instead of 127.0.0.1 and use [::1] for a Listen on all addresses. \
         URLs with an IPv6 address are checked from ::1 anyway.",
    ),
    Parameter::boolean("tls_verify").short("verify the certificate of https URLs").default("false").long(
        "Verify the server certificate (chain against the system CA bundle, and host name) when \
         the monitored URL is https. Off by default: the agent checks its own server over \
         loopback, where the URL's host rarely matches the certificate, and an expiring \
         certificate is not a reason to move the service (every node has the same one).",
    ),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "40s"),
    ActionSpec::new("stop", "60s"),
    ActionSpec::new("status", "30s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    // Advertised so `crm ra info` and `pcs resource describe` show it (issue #10 item 9);
    // pcs then also creates this monitor for new resources, as it does for ipvs-service's.
    ActionSpec::new("monitor", "30s").interval("60s").depth(10),
    ActionSpec::new("meta-data", "5s"),
    ActionSpec::new("validate-all", "5s"),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "apache",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages an Apache Web server instance",
    longdesc: "Manages an Apache httpd instance; parameter compatible with ocf:heartbeat:apache.\n\
        \n\
        start checks the configuration first (httpd -t; a broken configuration fails at once \
        with httpd's own message), starts httpd in its own session and returns when the server \
        answers its status URL. monitor fetches the status URL from a loopback address with the \
        agent's own HTTP(S) client and matches testregex; OCF_CHECK_LEVEL=10 also checks testurl \
        or a testconffile block. stop asks for a graceful stop (SIGWINCH), then SIGTERM, then \
        SIGKILL, within the stop timeout, and returns when httpd and all its children are gone. \
        Processes are identified by the PidFile, the server's session and process tree, and a \
        marker in their environment, never by name patterns, so other httpd instances are never \
        touched. status reports whether httpd runs, without an HTTP request.\n\
        \n\
        The configuration is read like httpd reads it (Include and IncludeOptional with \
        wildcards, ServerRoot, Define, IfModule, IfDefine), so stock Debian, RHEL and SUSE \
        configurations need no parameters. The agent never changes the configuration (no \
        a2enmod).",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// The validated instance parameters.
#[derive(Clone, Debug)]
pub struct Config {
    pub instance: String,
    pub configfile: PathBuf,
    pub httpd: Option<PathBuf>,
    pub port: Option<u16>,
    pub statusurl: Option<String>,
    /// The testregex the user gave (`None`: the default applies, see [`Config::testregex`]).
    pub testregex: Option<Regex>,
    pub default_testregex: Regex,
    pub testurl: Option<String>,
    pub testregex10: Option<Regex>,
    pub testconffile: Option<PathBuf>,
    pub testname: Option<String>,
    /// httpd options, split into words.
    pub options: Vec<String>,
    pub envfiles: Vec<PathBuf>,
    pub use_ipv6: bool,
    pub tls_verify: bool,
    /// Parameter values that are wrong everywhere (each an `OCF_ERR_CONFIGURED`).
    pub problems: Vec<OcfError>,
}

impl Config {
    /// The regex for the status page.
    pub fn testregex(&self) -> &Regex {
        self.testregex.as_ref().unwrap_or(&self.default_testregex)
    }

    /// The first parameter problem, if any.
    pub fn check(&self) -> Result<(), OcfError> {
        match self.problems.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn from_params(params: &Params, ctx: &Context) -> Config {
        let mut problems = Vec::new();
        let mut string = |name: &str| -> Option<String> {
            match params.str(name) {
                Ok(v) => v.map(str::to_string),
                Err(e) => {
                    problems.push(e);
                    None
                }
            }
        };
        let statusurl = string("statusurl").filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_string());
        let testregex_s = if params.is_set("testregex") { string("testregex") } else { None };
        let testurl_raw = string("testurl");
        let testregex10_s = string("testregex10");
        let testconffile = string("testconffile").map(PathBuf::from);
        let testname = string("testname").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let options_s = string("options");
        let httpd =
            string("httpd").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(PathBuf::from);
        if params.is_set("client") {
            ocf_shim::log::debug("parameter client is ignored: the agent uses its own HTTP client");
        }

        let testregex = testregex_s.and_then(|r| compile("testregex", &r).map_err(|e| problems.push(e)).ok());
        let testregex10 =
            testregex10_s.and_then(|r| compile("testregex10", &r).map_err(|e| problems.push(e)).ok());
        let testurl = match testurl_raw {
            Some(u) if u.trim().is_empty() => {
                problems.push(OcfError::configured(format!(
                    "parameter testurl: {} is blank",
                    quote(OsStr::new(&u))
                )));
                None
            }
            other => other.map(|u| u.trim().to_string()),
        };
        let port = params.int_in::<u16>("port", 1, 65535).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        let use_ipv6 = params.bool("use_ipv6").unwrap_or_else(|e| {
            problems.push(e);
            false
        });
        let tls_verify = params.bool("tls_verify").unwrap_or_else(|e| {
            problems.push(e);
            false
        });
        let options = match options_s.as_deref().map(split_words) {
            None => Vec::new(),
            Some(Some(words)) => {
                if let Some(bad) = words.iter().find(|w| is_forbidden_option(w)) {
                    problems.push(OcfError::configured(format!(
                        "parameter options: {} is not allowed (set configfile instead of -f; the agent runs httpd itself)",
                        quote(OsStr::new(bad))
                    )));
                }
                words
            }
            Some(None) => {
                problems.push(OcfError::configured(format!(
                    "parameter options: unbalanced quotes in {}",
                    quote(OsStr::new(options_s.as_deref().unwrap_or("")))
                )));
                Vec::new()
            }
        };
        // envfiles: unset means the default, an empty value means none.
        let envfiles = match params.raw("envfiles") {
            None => vec![PathBuf::from(DEFAULT_ENVFILES)],
            Some(v) => v
                .as_bytes()
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .map(|w| PathBuf::from(OsStr::from_bytes(w)))
                .collect(),
        };
        // configfile: used even when not UTF-8 (a stop must still find the server).
        let configfile = match params.raw("configfile").filter(|v| !v.as_bytes().trim_ascii().is_empty()) {
            Some(v) => PathBuf::from(OsStr::from_bytes(v.as_bytes().trim_ascii())),
            None => detect_configfile(),
        };
        Config {
            instance: ctx.instance.clone(),
            configfile,
            httpd,
            port,
            statusurl,
            testregex,
            default_testregex: compile("testregex", DEFAULT_TESTREGEX).expect("default regex compiles"),
            testurl,
            testregex10,
            testconffile,
            testname,
            options,
            envfiles,
            use_ipv6,
            tls_verify,
            problems,
        }
    }
}

/// `-f FILE`/`-fFILE` (the configfile parameter says that) and `-k ACTION` (the agent
/// starts and stops httpd itself).
fn is_forbidden_option(w: &str) -> bool {
    w.starts_with("-f") || w.starts_with("-k")
}

/// The first stock configuration file that exists (RHEL's path when none does).
pub fn detect_configfile() -> PathBuf {
    DEFAULT_CONFIGS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIGS[2]))
}

/// Compile a user regex like `grep -Ei` reads it: case-insensitive, `^`/`$` at line ends
/// (also before `\r\n`).
pub fn compile(name: &str, pattern: &str) -> Result<Regex, OcfError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .multi_line(true)
        .crlf(true)
        .size_limit(4 << 20)
        .build()
        .map_err(|e| {
            let detail = e.to_string().lines().last().unwrap_or("").trim().to_string();
            OcfError::configured(format!(
                "parameter {name}: {} is not a valid regular expression: {detail}",
                quote(OsStr::new(pattern))
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf_shim::context::Action;

    #[test]
    fn level_10_monitor_is_advertised() {
        assert_eq!(INFO.monitor_depths(), vec![0, 10]);
    }
    use std::time::Instant;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let params =
            Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())));
        let ctx = Context::from_env(Action::Monitor, &INFO, Instant::now());
        Config::from_params(&params, &ctx)
    }

    #[test]
    fn meta_data_is_valid_ocf_1_0() {
        let xml = INFO.to_xml(false);
        assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(xml.contains("name=\"status\""));
        assert!(xml.contains("&lt;/ *html *&gt;"), "the default regex is escaped");
    }

    #[test]
    fn defaults() {
        let c = config(&[("configfile", "/etc/apache2/apache2.conf")]);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.envfiles, vec![PathBuf::from(DEFAULT_ENVFILES)]);
        assert!(c.testregex().is_match(b"<p>\n</HTML>\r\n"));
        assert!(!c.use_ipv6 && !c.tls_verify);
        assert!(config(&[("envfiles", "")]).envfiles.is_empty());
        assert_eq!(
            config(&[("envfiles", " /a  /b ")]).envfiles,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn problems_are_collected_not_fatal() {
        let c = config(&[
            ("testregex", "(unclosed"),
            ("port", "http"),
            ("use_ipv6", "maybe"),
            ("testurl", "   "),
            ("options", "-DX \"open"),
        ]);
        assert_eq!(c.problems.len(), 5, "{:?}", c.problems);
        assert!(c.problems.iter().all(|p| p.code == ocf_shim::OcfCode::ErrConfigured));
        assert!(c.problems[0].reason.contains("testregex"));
        let c = config(&[("options", "-f /other.conf")]);
        assert!(c.problems[0].reason.contains("-f"));
        assert!(config(&[("options", "-DSSL -c 'KeepAlive Off'")]).problems.is_empty());
    }

    #[test]
    fn grep_like_matching() {
        let r = compile("t", "^ok$").unwrap();
        assert!(r.is_match(b"first\r\nOK\r\nlast"));
        assert!(compile("t", "[[:space:]]+idle").unwrap().is_match(b"x \t IDLE"));
    }
}
