//! The [`Agent`] trait and [`run`], the one entry point every agent's `main` calls.

use std::ffi::OsString;
use std::io::Write;
use std::time::Instant;

use crate::context::{Action, Context};
use crate::exit::{OcfCode, OcfError, OcfResult};
use crate::log;
use crate::metadata::AgentInfo;
use crate::params::Params;

/// What monitor found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fully active: exit 0.
    Running,
    /// Cleanly stopped: exit 7.
    NotRunning,
}

/// A resource agent: a validated configuration built from parameters, and the lifecycle
/// actions over it. `run::<MyAgent>()` does the rest of the OCF contract.
pub trait Agent {
    /// The validated instance configuration.
    type Config;

    /// The agent's description: meta-data, parameter types and defaults, monitor depths.
    fn info() -> &'static AgentInfo;

    /// Parse and check the parameters. Errors use 6 for values that are wrong everywhere and
    /// 2/5 for what is wrong or missing on this node. The dispatcher applies Pacemaker's
    /// rules to a failure here: a probe returns 7, stop returns 0, a recurring monitor 1.
    fn configure(params: &Params, ctx: &Context) -> OcfResult<Self::Config>;

    /// Bring the resource up; succeed if it already is. Return only once monitor would
    /// report it running.
    fn start(cfg: &Self::Config, ctx: &Context) -> OcfResult<()>;

    /// Take the resource down completely; succeed if it already is. Never "not running".
    fn stop(cfg: &Self::Config, ctx: &Context) -> OcfResult<()>;

    /// Report the state at `ctx.check_level`. Setup errors (2/5/6) on a probe become 7.
    fn monitor(cfg: &Self::Config, ctx: &Context) -> OcfResult<Status>;

    /// validate-all beyond `configure` (e.g. local checks at check level 10).
    fn validate(_cfg: &Self::Config, _ctx: &Context) -> OcfResult<()> {
        Ok(())
    }

    /// The deprecated `status` action; the same as monitor unless an agent says otherwise.
    fn status(cfg: &Self::Config, ctx: &Context) -> OcfResult<Status> {
        Self::monitor(cfg, ctx)
    }

    /// Any other advertised action (notify, reload, ...). Unadvertised actions never get here.
    fn other(action: &str, _cfg: &Self::Config, _ctx: &Context) -> OcfResult<()> {
        Err(OcfError::unimplemented(format!("action {action} is not implemented")))
    }
}

/// Map a panic anywhere (any thread) to exit 1 with an exit reason, never a core dump or
/// Rust's exit code 101, which Pacemaker would misread.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        log::error(format!("internal error: {msg}{at}"));
        log::exit_reason(&format!("internal error: {msg}"));
        let _ = std::io::stderr().flush();
        std::process::exit(OcfCode::ErrGeneric.as_i32());
    }));
}

fn usage(info: &AgentInfo) -> String {
    let mut names: Vec<&str> = info.actions.iter().map(|a| a.name).collect();
    names.dedup();
    format!("usage: {} {{{}}}\n", info.name, names.join("|"))
}

/// Run the agent for this process's `argv[1]` and environment, and exit with the OCF code.
pub fn run<A: Agent>() -> ! {
    let start = crate::deadline::process_start().unwrap_or_else(Instant::now);
    install_panic_hook();
    let code = run_action::<A>(std::env::args_os().nth(1), start);
    let _ = std::io::stdout().flush();
    std::process::exit(code.as_i32());
}

/// The dispatcher behind [`run`], returning the code instead of exiting (tested directly).
pub fn run_action<A: Agent>(arg: Option<OsString>, start: Instant) -> OcfCode {
    let info = A::info();
    let Some(name) = arg.as_ref().and_then(|a| a.to_str()) else {
        eprint!("{}", usage(info));
        return OcfCode::ErrArgs;
    };
    let action = Action::parse(name);
    match &action {
        Action::MetaData => {
            // Must work as `nobody`, with no environment, binaries or configuration.
            let ocf_1_1 = Context::from_env(Action::MetaData, info, start).ocf_1_1;
            print!("{}", info.to_xml(ocf_1_1));
            return OcfCode::Success;
        }
        Action::Usage => {
            print!("{}", usage(info));
            return OcfCode::Success;
        }
        Action::Methods => {
            let mut names: Vec<&str> = info.actions.iter().map(|a| a.name).collect();
            names.dedup();
            println!("{}", names.join("\n"));
            return OcfCode::Success;
        }
        Action::Other(n) if !info.advertises(n) => {
            eprint!("{}", usage(info));
            log::exit_reason(&format!("action {n} is not implemented"));
            return OcfCode::ErrUnimplemented;
        }
        _ => {}
    }

    let ctx = Context::from_env(action, info, start);
    log::init(info.name, &ctx.instance);
    log::debug(format!(
        "{} (interval {} ms, check level {})",
        ctx.action.name(),
        ctx.interval_ms,
        ctx.check_level
    ));
    if let Some(e) = crate::context::clone_fields_error() {
        return invalid_configuration(&ctx, e);
    }
    let params = Params::from_env(info);
    let cfg = match A::configure(&params, &ctx) {
        Ok(cfg) => cfg,
        Err(e) => return invalid_configuration(&ctx, e),
    };
    let result = match &ctx.action {
        Action::Start => A::start(&cfg, &ctx).map(|()| OcfCode::Success),
        Action::Stop => match A::stop(&cfg, &ctx) {
            Err(e) if e.code == OcfCode::NotRunning => {
                log::warn(format!(
                    "stop reported not running ({}); a stopped resource stops successfully",
                    e.reason
                ));
                Ok(OcfCode::Success)
            }
            r => r.map(|()| OcfCode::Success),
        },
        Action::Monitor => A::monitor(&cfg, &ctx).map(status_code),
        Action::Status => A::status(&cfg, &ctx).map(status_code),
        Action::ValidateAll => A::validate(&cfg, &ctx).map(|()| OcfCode::Success),
        Action::Other(n) => A::other(n, &cfg, &ctx).map(|()| OcfCode::Success),
        Action::MetaData | Action::Usage | Action::Methods => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => report_failure(&ctx, e),
    }
}

fn status_code(s: Status) -> OcfCode {
    match s {
        Status::Running => OcfCode::Success,
        Status::NotRunning => OcfCode::NotRunning,
    }
}

/// Configuration that cannot be used: what each action must answer so Pacemaker does the
/// right thing (ocf-rarun's `handle_invalid_env` rules).
fn invalid_configuration(ctx: &Context, e: OcfError) -> OcfCode {
    match ctx.action {
        // Nothing can have been started with this configuration here.
        Action::Stop => {
            log::warn(format!("stop with unusable configuration ({}): nothing to stop", e.reason));
            OcfCode::Success
        }
        // A node not set up for the resource must not be banned, nor the resource stopped
        // cluster-wide: the resource is simply not running here.
        Action::Monitor | Action::Status if ctx.is_probe() => {
            log::info(format!("probe: configuration not usable on this node ({}): not running", e.reason));
            OcfCode::NotRunning
        }
        // A recurring monitor of a running resource whose configuration no longer works here:
        // fail softly so Pacemaker recovers (restart elsewhere) rather than stopping it
        // everywhere.
        Action::Monitor | Action::Status => {
            log::error(&e.reason);
            log::exit_reason(&e.reason);
            OcfCode::ErrGeneric
        }
        _ => {
            log::error(&e.reason);
            log::exit_reason(&e.reason);
            e.code
        }
    }
}

fn report_failure(ctx: &Context, e: OcfError) -> OcfCode {
    let code = if ctx.is_probe() && e.code.is_setup_error() {
        log::info(format!("probe: {} ({}): not running on this node", e.reason, e.code));
        return OcfCode::NotRunning;
    } else {
        e.code
    };
    if matches!(code, OcfCode::Degraded | OcfCode::DegradedPromoted) {
        // OCF 1.1's degraded is a working resource: a warning, with the reason for crm_mon.
        log::warn(&e.reason);
        log::exit_reason(&e.reason);
    } else if code == OcfCode::NotRunning {
        // Not an error for monitor: say it at info level, and as the reason unless probing.
        log::info(&e.reason);
        if !ctx.is_probe() {
            log::exit_reason(&e.reason);
        }
    } else {
        log::error(&e.reason);
        log::exit_reason(&e.reason);
    }
    code
}
