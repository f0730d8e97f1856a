//! `ocf:rha:example` — the smallest complete rha agent, and the proof of the OCF contract.
//!
//! The "resource" is a state file. It exists to show how an agent is written over ocf-shim,
//! and the host and lab tiers run it through ocf-tester, `crm configure` and `pcs resource
//! create`. Real agents live under `agents/`.

use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{ActionSpec, Agent, AgentInfo, Context, OcfError, OcfResult, Parameter, Params, Status};
use std::path::PathBuf;

static PARAMETERS: &[Parameter] = &[
    Parameter::string("state")
        .short("State file")
        .long("Where the resource records that it is running. Defaults to a file under /run/rha/example/.")
        .unique(),
    Parameter::string("fake")
        .short("A value to carry")
        .long("Carried into the state file; changing it restarts.")
        .default("dummy"),
    Parameter::boolean("fail_start")
        .short("Make start fail")
        .long("For tests: start fails with a reason.")
        .default("false"),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "20s"),
    ActionSpec::new("stop", "20s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("status", "20s"),
    ActionSpec::new("validate-all", "20s"),
    ActionSpec::new("meta-data", "5s"),
];

static INFO: AgentInfo = AgentInfo {
    name: "example",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Example agent (a state file)",
    longdesc: "The smallest complete rha agent: start writes a state file, stop removes it, monitor checks it.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

struct Example;

struct Config {
    state: PathBuf,
    fake: String,
    fail_start: bool,
}

impl Agent for Example {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(params: &Params, ctx: &Context) -> OcfResult<Config> {
        let state = match params.str("state")? {
            Some(p) if !p.starts_with('/') => {
                let p = ocf_shim::params::quote(std::ffi::OsStr::new(p));
                return Err(OcfError::configured(format!("parameter state: {p} is not an absolute path")));
            }
            Some(p) => PathBuf::from(p),
            None => StateDir::for_agent(INFO.name).instance_file(ctx, ".state"),
        };
        Ok(Config {
            state,
            fake: params.str_or_empty("fake")?.to_string(),
            fail_start: params.bool("fail_start")?,
        })
    }

    fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if Self::monitor(cfg, ctx)? == Status::Running {
            return Ok(());
        }
        if cfg.fail_start {
            return Err(OcfError::generic("start failed because fail_start is set"));
        }
        if let Some(dir) = cfg.state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| OcfError::generic(format!("{}: {e}", dir.display())))?;
        }
        ocf_shim::state::write_atomic(&cfg.state, cfg.fake.as_bytes())
            .map_err(|e| OcfError::generic(format!("writing {}: {e}", cfg.state.display())))
    }

    fn stop(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        remove_if_exists(&cfg.state)
            .map_err(|e| OcfError::generic(format!("removing {}: {e}", cfg.state.display())))
    }

    fn monitor(cfg: &Config, _ctx: &Context) -> OcfResult<Status> {
        Ok(if cfg.state.exists() { Status::Running } else { Status::NotRunning })
    }
}

fn main() {
    ocf_shim::run::<Example>()
}
