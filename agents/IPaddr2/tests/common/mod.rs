//! Shared helpers of the IPaddr2 host-tier tests: namespaces with a working link, running
//! ocf:rha:IPaddr2 and ocf:heartbeat:IPaddr2 inside them, and reading back what is
//! configured. Everything happens in namespaces these helpers create (test ranges only).

#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools, wait_timeout};
use rha_harness::netns::Netns;

/// The upstream agent (Debian resource-agents).
pub const UPSTREAM: &str = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2";

/// Our agent, as cargo built it for this test.
pub fn ours() -> &'static str {
    env!("CARGO_BIN_EXE_IPaddr2")
}

/// Fail (never skip) without root or the tools.
pub fn preconditions() {
    require_root().unwrap();
    require_tools(&[("ip", "iproute2")]).unwrap();
}

pub fn require_upstream() {
    preconditions();
    assert!(
        Path::new(UPSTREAM).exists(),
        "{UPSTREAM} is missing: install resource-agents (tests/install-deps)"
    );
}

pub use rha_harness::outcome::Outcome;

/// A node: a namespace whose `eth0` is connected (veth) to a peer namespace, so it has carrier,
/// plus private state directories for both agents.
pub struct Node {
    pub ns: Netns,
    pub peer: Netns,
    pub state: tempfile::TempDir,
}

impl Node {
    /// `eth0` with `198.51.100.1/24` and `2001:db8::1/64`; the peer's `eth0` has `.2`/`::2`.
    pub fn new(tag: &str) -> Node {
        let ns = Netns::new(tag).unwrap();
        let peer = Netns::new(&format!("{tag}p")).unwrap();
        ns.add_veth("eth0", &peer, "eth0").unwrap();
        ns.link_up("eth0").unwrap();
        peer.link_up("eth0").unwrap();
        ns.add_addr("eth0", "198.51.100.1/24").unwrap();
        peer.add_addr("eth0", "198.51.100.2/24").unwrap();
        ns.add_addr("eth0", "2001:db8::1/64").unwrap();
        peer.add_addr("eth0", "2001:db8::2/64").unwrap();
        Node { ns, peer, state: tempfile::tempdir().unwrap() }
    }

    /// Run `agent action` in the node with exactly these parameters and environment.
    pub fn run(&self, agent: &str, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
        let params: Vec<(String, OsString)> =
            params.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        run_in(&self.ns, self.state.path(), agent, action, &params, env)
    }

    /// Like [`Node::run`] with parameter values that may not be UTF-8.
    pub fn run_os(
        &self,
        agent: &str,
        action: &str,
        params: &[(String, OsString)],
        env: &[(&str, &str)],
    ) -> Outcome {
        run_in(&self.ns, self.state.path(), agent, action, params, env)
    }

    /// `ip -o addr show` lines in the node.
    pub fn addrs(&self) -> String {
        self.ns.ip(&["-o", "addr", "show"]).unwrap().stdout
    }

    /// The `ip -o addr` line of `ip` (exact match), if configured.
    pub fn addr_line(&self, ip: &str) -> Option<String> {
        addr_line_in(&self.ns, ip)
    }

    pub fn addrlabels(&self) -> String {
        self.ns.ip(&["addrlabel", "list"]).unwrap().stdout
    }

    /// Files the agents left in their state directories.
    pub fn state_files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for sub in ["rha/IPaddr2", "upstream"] {
            if let Ok(rd) = std::fs::read_dir(self.state.path().join(sub)) {
                v.extend(rd.flatten().map(|e| e.path()));
            }
        }
        v
    }

    /// Processes running in the node's namespace (a background sender would be one).
    pub fn processes(&self) -> Vec<u32> {
        self.ns.pids().unwrap()
    }

    /// Wait until no process runs in the node's namespace (bounded).
    pub fn wait_no_processes(&self, limit: Duration) -> Vec<u32> {
        let end = Instant::now() + limit;
        loop {
            let p = self.processes();
            if p.is_empty() || Instant::now() > end {
                return p;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The `ip -o addr` line of exactly `ip` in `ns`.
pub fn addr_line_in(ns: &Netns, ip: &str) -> Option<String> {
    let out = ns.ip(&["-o", "addr", "show"]).unwrap().stdout;
    out.lines()
        .find(|l| l.split_whitespace().nth(3).is_some_and(|a| a.split('/').next() == Some(ip)))
        .map(str::to_string)
}

/// Run an agent inside `ns` with a clean environment: PATH, OCF_ROOT, private state
/// directories (`HA_RSCTMP` for upstream, `RHA_RUN_DIR` for ours), a 20 s timeout unless `env`
/// says otherwise, the parameters as `OCF_RESKEY_*`, then `env`. `("PATH", "")` in `env` runs
/// the agent with PATH unset, as pacemaker-execd or pcs may.
pub fn run_in(
    ns: &Netns,
    state: &Path,
    agent: &str,
    action: &str,
    params: &[(String, OsString)],
    env: &[(&str, &str)],
) -> Outcome {
    let upstream_dir = state.join("upstream");
    std::fs::create_dir_all(&upstream_dir).unwrap();
    let mut vars: Vec<OsString> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "OCF_ROOT=/usr/lib/ocf".into(),
        format!("HA_RSCTMP={}", upstream_dir.display()).into(),
        format!("RHA_RUN_DIR={}", state.join("rha").display()).into(),
        "OCF_RESOURCE_INSTANCE=vip".into(),
    ];
    if !env.iter().any(|(k, _)| *k == "OCF_RESKEY_CRM_meta_timeout") {
        vars.push("OCF_RESKEY_CRM_meta_timeout=20000".into());
    }
    for (k, v) in params {
        let mut kv = OsString::from(format!("OCF_RESKEY_{k}="));
        kv.push(v);
        vars.push(kv);
    }
    for (k, v) in env {
        vars.push(format!("{k}={v}").into());
    }
    if env.contains(&("PATH", "")) {
        vars.retain(|v| !v.to_string_lossy().starts_with("PATH="));
    }
    let out = tempfile::tempdir().unwrap();
    let (o, e) = (out.path().join("out"), out.path().join("err"));
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns.name(), "env", "-i"])
        .args(&vars)
        .arg(agent)
        .arg(action)
        .stdin(Stdio::null())
        // Files, not pipes: a background process the agent leaves must not hold us up.
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    let start = Instant::now();
    let mut child = c.spawn().unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(60)).unwrap().unwrap_or_else(|| {
        let _ = child.kill();
        panic!("{agent} {action} did not finish within 60 s");
    });
    let elapsed = start.elapsed();
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome {
        action: action.to_string(),
        code: status.code().unwrap_or_else(|| panic!("{agent} {action} killed by a signal: {status:?}")),
        stdout: read(&o),
        stderr: read(&e),
        elapsed,
    }
}

/// The MAC address of `ifname` in `ns`.
pub fn mac_of(ns: &Netns, ifname: &str) -> String {
    let out = ns.ip(&["-o", "link", "show", "dev", ifname]).unwrap().stdout;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {out}"))
        .to_string()
}

/// A non-UTF-8 value.
pub fn non_utf8(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

/// A small deterministic pseudo-random generator (xorshift), seeded from the clock and
/// printed so a failing run can be repeated with `RHA_TEST_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("RHA_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("random seed {seed} (set RHA_TEST_SEED={seed} to repeat)");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Recurring-monitor environment.
pub const RECURRING: &[(&str, &str)] = &[("OCF_RESKEY_CRM_meta_interval", "10000")];
/// Probe environment.
pub const PROBE: &[(&str, &str)] = &[("OCF_RESKEY_CRM_meta_interval", "0")];
