//! Shared helpers of the ldirectord agent's tests: the agent and the daemon's binary, and
//! running the agent (in a network namespace) with a clean environment.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub use rha_harness::outcome::Outcome;

/// Our agent, as cargo built it for this test.
pub fn agent_path() -> &'static str {
    env!("CARGO_BIN_EXE_ldirectord")
}

/// The daemon's binary, built beside the agent (`cargo build -p rha-ldirectord`: cargo builds
/// only this package's binaries for its tests). Never skipped: a missing daemon fails loudly.
pub fn daemon_path() -> PathBuf {
    let agent = Path::new(agent_path());
    let d = agent.with_file_name("rha-ldirectord");
    assert!(
        d.is_file(),
        "{} is missing: run `cargo build -p rha-ldirectord` before these tests",
        d.display()
    );
    d
}

/// One resource instance.
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub netns: Option<String>,
    pub params: Vec<(String, OsString)>,
    pub env: Vec<(String, String)>,
}

impl Instance {
    /// An instance of `config` run by the freshly built daemon.
    pub fn new(name: &str, config: &Path) -> Instance {
        Instance { name: name.into(), netns: None, params: Vec::new(), env: Vec::new() }
            .param("configfile", config.as_os_str())
            .param("ldirectord", daemon_path().as_os_str())
    }

    pub fn netns(mut self, ns: &str) -> Instance {
        self.netns = Some(ns.to_string());
        self
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

    /// The command for `action`; the environment is cleared first (as pcs does).
    pub fn command(&self, action: &str, extra: &[(&str, &str)]) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("/usr/bin/ip");
                c.args(["netns", "exec", ns, agent_path(), action]);
                c
            }
            None => {
                let mut c = Command::new(agent_path());
                c.arg(action);
                c
            }
        };
        c.env_clear();
        c.env("OCF_ROOT", "/usr/lib/ocf").env("OCF_RESOURCE_INSTANCE", &self.name);
        c.env("OCF_RESKEY_CRM_meta_timeout", "30000");
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

    /// A recurring monitor (interval 20 s).
    pub fn monitor(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "20000")])
    }

    /// A recurring monitor at check level 10.
    pub fn monitor10(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "60000"), ("OCF_CHECK_LEVEL", "10")])
    }

    /// A probe (interval 0).
    pub fn probe(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }
}

/// The daemon's instance name for `config` (what `status --json` says).
pub fn daemon_name(config: &Path) -> String {
    let o = Command::new(daemon_path()).arg("--json").arg("--").arg(config).arg("status").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status --json prints JSON");
    v["name"].as_str().expect("status --json names the instance").to_string()
}
