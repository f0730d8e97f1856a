//! What must hold on a node after every case: nothing of the agent is left that should not be.
//!
//! An [`Invariants`] set is a list of named checks; [`Invariants::check`] retries them for a
//! short grace period (a daemon being reaped, a kernel object going away) and then reports
//! every one that still fails. Standard checks for the sandboxes are below; agents add their
//! own with [`Invariants::add`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rha_harness::cmd::Cmd;

use crate::sandbox::{Sandbox, leftover_namespaces, processes_in};

type CheckFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A set of named checks.
pub struct Invariants {
    checks: Vec<(String, CheckFn)>,
    /// How long a failing check may take to start holding.
    pub grace: Duration,
}

impl Default for Invariants {
    fn default() -> Self {
        Invariants { checks: Vec::new(), grace: Duration::from_secs(2) }
    }
}

impl Invariants {
    pub fn new() -> Invariants {
        Invariants::default()
    }

    /// Adds a check: `Ok(())` when it holds, else what is wrong.
    pub fn add(mut self, name: &str, check: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.checks.push((name.to_string(), Box::new(check)));
        self
    }

    /// Names of the checks, for reports.
    pub fn names(&self) -> Vec<&str> {
        self.checks.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Every check holds (within the grace period), or a message listing each that does not.
    pub fn check(&self) -> Result<(), String> {
        let end = Instant::now() + self.grace;
        loop {
            let failures: Vec<String> =
                self.checks.iter().filter_map(|(n, c)| c().err().map(|e| format!("{n}: {e}"))).collect();
            if failures.is_empty() {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(format!("invariants violated:\n  - {}", failures.join("\n  - ")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The standard set for an agent in `sb`: no stray address/label/address label and no
    /// route in its network namespace (compared with now), no process but the holder, no file
    /// under `/run/rha/<agent>/` (except names ending in one of `allowed_suffixes`), and no
    /// leftover namespace of this test process.
    pub fn standard(sb: &Sandbox, agent: &str, allowed_suffixes: &[&str]) -> Invariants {
        Invariants::new()
            .add("network state as before", net_baseline(sb.ns().name()))
            .add("no process left", no_processes(sb.ns().name(), vec![sb.holder_pid()]))
            .add(
                &format!("nothing under /run/rha/{agent}"),
                dir_empty(sb.inside(&format!("/run/rha/{agent}")), allowed_suffixes),
            )
            .add("no leftover namespace", no_leftover_namespaces())
    }
}

/// Addresses (interface, address/prefix, label), address labels and routes of a namespace,
/// without flags and lifetimes that change on their own.
pub fn net_state(ns: &str) -> Result<BTreeSet<String>, String> {
    let run = |args: &[&str]| {
        Cmd::new("ip").args(["-n", ns]).args(args).run_ok().map(|o| o.stdout).map_err(|e| format!("{e:#}"))
    };
    let mut set = BTreeSet::new();
    for line in run(&["-o", "addr", "show"])?.lines() {
        // "2: eth0    inet 198.51.100.1/24 brd ... scope global eth0:vip\       valid_lft ..."
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 4 {
            continue;
        }
        let (ifname, fam, addr) = (w[1], w[2], w[3]);
        let label = if fam == "inet" {
            w.iter()
                .position(|x| *x == "scope")
                .and_then(|i| w.get(i + 2))
                .filter(|l| l.contains(':'))
                .map(|l| l.trim_end_matches('\\').to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        set.insert(format!("addr {ifname} {addr} {label}").trim_end().to_string());
    }
    for line in run(&["addrlabel", "list"])?.lines() {
        set.insert(format!("addrlabel {}", line.trim()));
    }
    for fam in ["-4", "-6"] {
        for line in run(&[fam, "route", "show", "table", "all"])?.lines() {
            // Kernel-managed multicast/link-local routes come and go with links; keep the rest.
            if line.starts_with("multicast") || line.contains("fe80::") || line.starts_with("ff00::") {
                continue;
            }
            set.insert(format!("route {}", line.split(" expires ").next().unwrap_or(line).trim()));
        }
    }
    Ok(set)
}

/// Check: the namespace's addresses, address labels and routes are what they are now.
pub fn net_baseline(ns: &str) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    let ns = ns.to_string();
    let before = net_state(&ns);
    move || {
        let before = before.as_ref().map_err(|e| format!("no baseline: {e}"))?;
        let now = net_state(&ns)?;
        let added: Vec<&String> = now.difference(before).collect();
        let removed: Vec<&String> = before.difference(&now).collect();
        if added.is_empty() && removed.is_empty() {
            Ok(())
        } else {
            Err(format!("in {ns}: added {added:?}, removed {removed:?}"))
        }
    }
}

/// Check: no live process in network namespace `ns` but `except`.
pub fn no_processes(ns: &str, except: Vec<u32>) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    let ns = ns.to_string();
    move || {
        let left = processes_in(&ns, &except);
        if left.is_empty() { Ok(()) } else { Err(format!("processes left in {ns}: {left:?}")) }
    }
}

/// Files in `dir` (recursively), relative names.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap_or(&p).to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Check: no file under `dir` except names ending in one of `allowed_suffixes`.
pub fn dir_empty(
    dir: PathBuf,
    allowed_suffixes: &[&str],
) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    let allowed: Vec<String> = allowed_suffixes.iter().map(|s| s.to_string()).collect();
    move || {
        let left: Vec<String> = files_under(&dir)
            .into_iter()
            .filter(|f| !allowed.iter().any(|s| f.ends_with(s.as_str())))
            .collect();
        if left.is_empty() { Ok(()) } else { Err(format!("files left in {}: {left:?}", dir.display())) }
    }
}

/// Check: no namespace of this test process is left that no sandbox holds.
pub fn no_leftover_namespaces() -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    || {
        let left = leftover_namespaces()?;
        if left.is_empty() { Ok(()) } else { Err(format!("namespaces left: {left:?}")) }
    }
}

/// The IPVS table (`ipvsadm -S -n`) and sync daemons of namespace `ns` (VM tier only).
pub fn ipvs_state(ns: &str) -> Result<String, String> {
    let run = |args: &[&str]| {
        Cmd::new("ip")
            .args(["netns", "exec", ns, "ipvsadm"])
            .args(args)
            .run_ok()
            .map(|o| o.stdout)
            .map_err(|e| format!("{e:#}"))
    };
    Ok(format!("{}--- daemons ---\n{}", run(&["-S", "-n"])?, run(&["-L", "--daemon"])?))
}

/// Check: the IPVS table and daemons of `ns` are what they are now.
pub fn ipvs_baseline(ns: &str) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    let ns = ns.to_string();
    let before = ipvs_state(&ns);
    move || {
        let before = before.as_ref().map_err(|e| format!("no baseline: {e}"))?;
        let now = ipvs_state(&ns)?;
        if &now == before { Ok(()) } else { Err(format!("IPVS in {ns} was:\n{before}now:\n{now}")) }
    }
}
