//! A test subject: an ocf-shim agent that panics where told (`OCF_RESKEY_where`: `configure`,
//! `start`, `thread` — a panic on another thread during monitor — or `nowhere`), to prove that a
//! panic anywhere ends the agent with exit 1 and an `ocf-exit-reason:`, never Rust's 101 or a
//! signal Pacemaker would misread.

use ocf_shim::{ActionSpec, Agent, AgentInfo, Context, OcfResult, Parameter, Params, Status};

static PARAMETERS: &[Parameter] = &[Parameter::string("where")
    .short("Where to panic")
    .long("configure, start, thread or nowhere.")
    .default("nowhere")];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "20s"),
    ActionSpec::new("stop", "20s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("meta-data", "5s"),
    ActionSpec::new("validate-all", "20s"),
];

static INFO: AgentInfo = AgentInfo {
    name: "rha-panic-agent",
    version: "0",
    shortdesc: "Panics on purpose (tests)",
    longdesc: "A test subject of rha-integration.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

struct PanicAgent;

impl Agent for PanicAgent {
    type Config = String;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(params: &Params, _ctx: &Context) -> OcfResult<String> {
        let w = params.str_or_empty("where")?.to_string();
        if w == "configure" {
            panic!("deliberate panic in configure");
        }
        Ok(w)
    }

    fn start(cfg: &String, _ctx: &Context) -> OcfResult<()> {
        if cfg == "start" {
            let v: Vec<u8> = Vec::new();
            let _ = v[std::hint::black_box(3)];
        }
        Ok(())
    }

    fn stop(_cfg: &String, _ctx: &Context) -> OcfResult<()> {
        Ok(())
    }

    fn monitor(cfg: &String, _ctx: &Context) -> OcfResult<Status> {
        if cfg == "thread" {
            let _ = std::thread::spawn(|| panic!("deliberate panic on a helper thread")).join();
        }
        Ok(Status::NotRunning)
    }
}

fn main() {
    ocf_shim::run::<PanicAgent>()
}
