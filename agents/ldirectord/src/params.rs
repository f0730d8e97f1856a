//! What the agent accepts: the meta-data ([`INFO`]) and the validated [`Config`].
//!
//! The parameters are ocf:heartbeat:ldirectord's, so switching the provider of a resource
//! changes nothing else. Unlike upstream (which exits 5 from every action when the file or the
//! binary is missing), a node without them is "not running" to a probe and stops successfully
//! (ocf-shim's rules for a configuration error); start and validate-all say 5.

use std::path::{Path, PathBuf};

use ocf_shim::process::find_binary;
use ocf_shim::{Action, ActionSpec, AgentInfo, Context, OcfError, OcfResult, Parameter, Params};

/// Upstream's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/ha.d/ldirectord.cf";
/// Our daemon (Debian's `ldirectord` package keeps /usr/sbin/ldirectord: no conflict).
pub const DEFAULT_DAEMON: &str = "/usr/sbin/rha-ldirectord";

static PARAMETERS: &[Parameter] = &[
    Parameter::string("configfile")
        .short("ldirectord configuration file")
        .long(
            "The ldirectord.cf file of this instance (see ldirectord.cf(5) of rha-ldirectord for \
             the dialect). A name without a '/' at the start is looked up as the daemon does: \
             /etc/ha.d/NAME, then /etc/ha.d/conf/NAME, then NAME itself. Its base name is the \
             daemon's instance name (pid file /run/ldirectord.NAME.pid), so two resources need \
             two files of different names.",
        )
        .default(DEFAULT_CONFIG)
        .unique(),
    Parameter::string("ldirectord")
        .short("The daemon's binary")
        .long(
            "The path of rha-ldirectord (a name is looked up in the system directories). \
             Upstream's Perl ldirectord is not supported by this agent: its stop is asynchronous \
             and it has no status file.",
        )
        .default(DEFAULT_DAEMON),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "60s"),
    ActionSpec::new("stop", "30s"),
    ActionSpec::new("monitor", "20s").interval("20s").depth(0),
    ActionSpec::new("monitor", "20s").interval("60s").depth(10),
    ActionSpec::new("status", "20s"),
    ActionSpec::new("validate-all", "20s"),
    ActionSpec::new("meta-data", "5s"),
];

/// The agent's description.
pub static INFO: AgentInfo = AgentInfo {
    name: "ldirectord",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "rha-ldirectord: health checks keeping IPVS in step with an ldirectord.cf",
    longdesc: "Runs rha-ldirectord, an ldirectord.cf-compatible daemon that checks every real \
        server concurrently and keeps the kernel's IPVS table in step over netlink.\n\
        start runs the daemon and returns only when it has programmed IPVS and finished its \
        first check round (a real server gets weight only after its check passed), or fails \
        with the configuration's first error as file:line. An instance already running starts \
        successfully.\n\
        monitor: not running (7) when the daemon is not running and none of its virtual \
        services is left in IPVS; failed (1) when the daemon is hung (its status file's \
        heartbeat, rewritten every second, is older than 10 s), runs another configuration, \
        cannot program a virtual service, when the pid file names a live process that is not \
        rha-ldirectord, or when a dead daemon left its virtual services in IPVS (stop removes \
        them). With OCF_CHECK_LEVEL=10 monitor also compares the kernel's IPVS table with the \
        daemon's view (every virtual service, real server and weight it programmed).\n\
        stop is synchronous: it returns when the daemon has exited and no virtual service of \
        this instance is left in IPVS, whatever cleanstop says (a stopped resource keeps \
        nothing on the node). A hung daemon is killed and its virtual services removed by the \
        agent.\n\
        validate-all parses the configuration with the daemon's own parser and names the \
        first error as file:line.\n\
        A node without the configuration file or the daemon's binary gets 'not running' from \
        a probe and success from stop; start and validate-all say OCF_ERR_INSTALLED.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// The validated instance configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `configfile` parameter as given (or its default).
    pub configfile: String,
    /// The file the daemon will read (upstream's look-up applied).
    pub config: PathBuf,
    /// The daemon's binary.
    pub binary: PathBuf,
    /// Why the file is missing, when it is (stop works without it: the daemon's `stop` and
    /// `status` do not read the configuration).
    pub missing_config: Option<OcfError>,
}

impl Config {
    pub fn from_params(params: &Params, ctx: &Context) -> OcfResult<Config> {
        Self::from_params_in(params, ctx, Path::new("/etc"))
    }

    /// [`Config::from_params`] with the look-up under `etc` (tests).
    pub fn from_params_in(params: &Params, ctx: &Context, etc: &Path) -> OcfResult<Config> {
        let configfile = params.trimmed("configfile")?.unwrap_or(DEFAULT_CONFIG).to_string();
        if configfile.contains('\0') || configfile.ends_with('/') {
            return Err(OcfError::configured(format!(
                "parameter configfile: {} is not a file name",
                ocf_shim::params::quote(configfile.as_ref())
            )));
        }
        let daemon = params.trimmed("ldirectord")?.unwrap_or(DEFAULT_DAEMON);
        let binary = find_binary(daemon).ok_or_else(|| {
            OcfError::installed(format!(
                "the daemon {daemon} is not installed or not executable (parameter ldirectord)"
            ))
        })?;
        if crate::daemon::is_script(&binary) {
            return Err(OcfError::configured(format!(
                "{} is a script, not rha-ldirectord (upstream's Perl ldirectord is not supported by \
                 ocf:rha:ldirectord: use ocf:heartbeat:ldirectord for it)",
                binary.display()
            )));
        }
        let config = lookup_in(etc, &configfile);
        let missing_config = (!config.is_file()).then(|| {
            OcfError::installed(if configfile.starts_with('/') {
                format!("configuration file {configfile} does not exist")
            } else {
                format!(
                    "configuration file {configfile} does not exist (looked for {}/ha.d/{configfile}, \
                     {}/ha.d/conf/{configfile} and ./{configfile})",
                    etc.display(),
                    etc.display()
                )
            })
        });
        if let Some(e) = &missing_config
            && ctx.action != Action::Stop
        {
            return Err(e.clone());
        }
        Ok(Config { configfile, config, binary, missing_config })
    }
}

/// The daemon's look-up (rha_ldirectord::config::lookup_in, upstream's): `<etc>/ha.d/<cfg>`
/// if it is a file, else `<etc>/ha.d/conf/<cfg>`, else `<cfg>` as given; an absolute path is
/// taken as it is.
pub fn lookup_in(etc: &Path, cfg: &str) -> PathBuf {
    if !cfg.starts_with('/') {
        for dir in ["ha.d", "ha.d/conf"] {
            let p = etc.join(dir).join(cfg);
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf_shim::OcfCode;
    use std::time::Instant;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())))
    }

    fn ctx(a: Action) -> Context {
        Context::from_env(a, &INFO, Instant::now())
    }

    #[test]
    fn lookup_is_the_daemons() {
        let etc = tempfile::tempdir().unwrap();
        let e = etc.path();
        std::fs::create_dir_all(e.join("ha.d/conf")).unwrap();
        for name in ["web.cf", "ldirectord.cf", "dir.cf", "/srv/x.cf", "sub/y.cf"] {
            assert_eq!(lookup_in(e, name), rha_ldirectord::config::lookup_in(e, Some(name)).0, "{name}");
        }
        std::fs::write(e.join("ha.d/conf/web.cf"), "").unwrap();
        assert_eq!(lookup_in(e, "web.cf"), e.join("ha.d/conf/web.cf"));
        std::fs::write(e.join("ha.d/web.cf"), "").unwrap();
        assert_eq!(lookup_in(e, "web.cf"), e.join("ha.d/web.cf"));
        assert_eq!(lookup_in(e, "web.cf"), rha_ldirectord::config::lookup_in(e, Some("web.cf")).0);
    }

    #[test]
    fn missing_file_or_binary_is_not_installed_but_stop_needs_only_the_binary() {
        let etc = tempfile::tempdir().unwrap();
        let p = params(&[("configfile", "nosuch.cf"), ("ldirectord", "/bin/true")]);
        let e = Config::from_params_in(&p, &ctx(Action::Start), etc.path()).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrInstalled);
        assert!(e.reason.contains("nosuch.cf does not exist"), "{}", e.reason);
        let c = Config::from_params_in(&p, &ctx(Action::Stop), etc.path()).unwrap();
        assert!(c.missing_config.is_some());
        let p = params(&[("ldirectord", "/nonexistent/rha-ldirectord")]);
        let e = Config::from_params_in(&p, &ctx(Action::Stop), etc.path()).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrInstalled);
        assert!(e.reason.contains("/nonexistent/rha-ldirectord"), "{}", e.reason);
    }

    #[test]
    fn upstreams_perl_daemon_is_refused() {
        let etc = tempfile::tempdir().unwrap();
        let perl = etc.path().join("ldirectord");
        std::fs::write(&perl, "#!/usr/bin/perl\n").unwrap();
        std::fs::set_permissions(&perl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let p = params(&[("ldirectord", perl.to_str().unwrap())]);
        let e = Config::from_params_in(&p, &ctx(Action::Start), etc.path()).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(e.reason.contains("not rha-ldirectord"), "{}", e.reason);
    }

    #[test]
    fn defaults_are_upstreams_and_ours() {
        let etc = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(etc.path().join("ha.d")).unwrap();
        let e = Config::from_params_in(&params(&[]), &ctx(Action::Start), etc.path()).unwrap_err();
        assert!(e.reason.contains(DEFAULT_CONFIG) || e.reason.contains("rha-ldirectord"), "{}", e.reason);
        let cf = etc.path().join("ha.d/web.cf");
        std::fs::write(&cf, "").unwrap();
        let c = Config::from_params_in(
            &params(&[("configfile", "web.cf"), ("ldirectord", "true")]),
            &ctx(Action::Start),
            etc.path(),
        )
        .unwrap();
        assert_eq!(c.config, cf);
        assert!(c.binary.is_absolute());
        let e = Config::from_params_in(&params(&[("configfile", "dir/")]), &ctx(Action::Start), etc.path())
            .unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
    }
}
