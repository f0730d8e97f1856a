//! Shared helpers of the mdraid tests: running the agent with a clean environment.

#![allow(dead_code)]

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Instant;

pub use rha_harness::outcome::Outcome;

#[cfg(feature = "vm-tier")]
pub mod lab;

pub fn agent_path() -> &'static str {
    env!("CARGO_BIN_EXE_mdraid")
}

/// One resource instance: its parameters and extra environment.
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub params: Vec<(String, OsString)>,
    pub env: Vec<(String, String)>,
}

impl Instance {
    pub fn new(name: &str) -> Instance {
        Instance { name: name.to_string(), params: Vec::new(), env: Vec::new() }
    }

    pub fn param(mut self, k: &str, v: impl Into<OsString>) -> Instance {
        self.params.retain(|(n, _)| n != k);
        self.params.push((k.to_string(), v.into()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Instance {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// The environment is cleared first (as pcs does), so nothing of the test's leaks in.
    pub fn command(&self, action: &str, extra: &[(&str, &str)]) -> Command {
        self.command_of(agent_path(), action, extra)
    }

    /// The same invocation of another agent program (e.g. ocf:heartbeat:mdraid, to compare).
    pub fn command_of(&self, exe: &str, action: &str, extra: &[(&str, &str)]) -> Command {
        let mut c = Command::new(exe);
        c.arg(action).env_clear();
        c.env("OCF_ROOT", "/usr/lib/ocf").env("OCF_RESOURCE_INSTANCE", &self.name);
        c.env("OCF_RESKEY_CRM_meta_timeout", "20000");
        for (k, v) in &self.params {
            c.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    pub fn run_with(&self, action: &str, extra: &[(&str, &str)]) -> Outcome {
        let t = Instant::now();
        let o = self.command(action, extra).output().expect("run the agent");
        Outcome::from_output(action, &o, t.elapsed())
    }

    pub fn run(&self, action: &str) -> Outcome {
        self.run_with(action, &[])
    }
    pub fn start(&self) -> Outcome {
        self.run("start")
    }
    pub fn stop(&self) -> Outcome {
        self.run("stop")
    }
    /// A recurring monitor (interval 10 s), OCF 1.0.
    pub fn monitor(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
    }
    /// A recurring monitor from a caller that speaks OCF 1.1.
    pub fn monitor11(&self) -> Outcome {
        self.run_with(
            "monitor",
            &[
                ("OCF_RESKEY_CRM_meta_interval", "10000"),
                ("OCF_RA_VERSION_MAJOR", "1"),
                ("OCF_RA_VERSION_MINOR", "1"),
            ],
        )
    }
    /// A recurring monitor at OCF_CHECK_LEVEL=10 (interval 60 s, as the meta-data advertises).
    pub fn monitor10(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "60000"), ("OCF_CHECK_LEVEL", "10")])
    }
    pub fn probe(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }
}

#[track_caller]
pub fn expect(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o}");
}
