//! Shared helpers of the ipvs-service tests: running the agent (optionally inside a network
//! namespace) with a private state directory, and reading its outcome.

#![allow(dead_code)]

pub mod vmnet;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Our agent, as cargo built it for this test.
pub fn agent_path() -> &'static str {
    env!("CARGO_BIN_EXE_ipvs-service")
}

pub use rha_harness::outcome::Outcome;

/// One resource instance: its parameters, its state directory, and where it runs.
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    /// Network namespace to run in (`ip netns exec`), or the caller's.
    pub netns: Option<String>,
    /// `RHA_RUN_DIR` (the agent keeps its records under `<dir>/ipvs-service/`).
    pub run_dir: PathBuf,
    pub params: Vec<(String, OsString)>,
    /// Extra environment (`OCF_CHECK_LEVEL`, clone fields, ...).
    pub env: Vec<(String, String)>,
    /// A file bind-mounted over /etc/hosts for the agent (in a private mount namespace).
    pub hosts: Option<PathBuf>,
}

impl Instance {
    pub fn new(name: &str, run_dir: &Path) -> Instance {
        Instance {
            name: name.to_string(),
            netns: None,
            run_dir: run_dir.to_path_buf(),
            params: Vec::new(),
            env: Vec::new(),
            hosts: None,
        }
    }

    pub fn netns(mut self, ns: &str) -> Instance {
        self.netns = Some(ns.to_string());
        self
    }

    /// Runs the agent with `path` as its /etc/hosts.
    pub fn hosts(mut self, path: &Path) -> Instance {
        self.hosts = Some(path.to_path_buf());
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

    /// The command for `action` with `extra` environment; the environment is cleared first
    /// (as pcs does), so nothing of the test's leaks in.
    pub fn command(&self, action: &str, extra: &[(&str, &str)]) -> Command {
        let mut argv: Vec<String> = Vec::new();
        if let Some(ns) = &self.netns {
            argv.extend(["ip", "netns", "exec", ns].map(String::from));
        }
        match &self.hosts {
            Some(h) => argv.extend([
                "unshare".into(),
                "--mount".into(),
                "--propagation".into(),
                "private".into(),
                "sh".into(),
                "-c".into(),
                "mount --bind \"$0\" /etc/hosts && exec \"$1\" \"$2\"".into(),
                h.display().to_string(),
                agent_path().into(),
                action.into(),
            ]),
            None => argv.extend([agent_path().to_string(), action.to_string()]),
        }
        // The first program by absolute path: a test may run the agent with PATH unset.
        let program = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(&argv[0]))
            .find(|p| !argv[0].starts_with('/') && p.exists())
            .unwrap_or_else(|| argv[0].clone().into());
        let mut c = Command::new(program);
        c.args(&argv[1..]).env_clear();
        // unshare/mount/sh are found through PATH; the agent itself never uses it.
        if argv[0] != agent_path() {
            c.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        }
        c.env("OCF_ROOT", "/usr/lib/ocf").env("OCF_RESOURCE_INSTANCE", &self.name);
        c.env("RHA_RUN_DIR", &self.run_dir);
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

    /// A recurring monitor (interval 10 s).
    pub fn monitor(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
    }

    /// A recurring monitor at check level 10.
    pub fn monitor10(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "60000"), ("OCF_CHECK_LEVEL", "10")])
    }

    /// A probe (interval 0).
    pub fn probe(&self) -> Outcome {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }

    /// This instance's ownership record, if any.
    pub fn record(&self) -> Option<String> {
        std::fs::read_to_string(self.run_dir.join("ipvs-service").join(format!("{}.state", self.name))).ok()
    }
}

/// Asserts an outcome's code, printing the whole outcome when it differs.
#[track_caller]
pub fn expect(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o}");
}

/// Every agent run of this file happens in a network namespace of its own: on a kernel where
/// ip_vs can be loaded (Debian's stock kernel), a start with a valid `virtual` would otherwise
/// program the machine's own IPVS table (issue #10).
pub fn test_ns() -> rha_harness::netns::Netns {
    rha_harness::netns::Netns::new("ipvshost").expect("creating a network namespace (run as root)")
}

pub fn instance(name: &str, dir: &Path, ns: &rha_harness::netns::Netns) -> Instance {
    Instance::new(name, dir).netns(ns.name())
}

pub fn nat(dir: &Path, ns: &rha_harness::netns::Netns) -> Instance {
    instance("web", dir, ns)
        .param("virtual", "198.51.100.10:80")
        .param("scheduler", "wrr")
        .param("reals", "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1")
}
