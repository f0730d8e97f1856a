//! VM tier: upstream's ocft cases for ocf:heartbeat:Raid1 (Debian's resource-agents ships
//! them in /usr/share/resource-agents/ocft/configs/Raid1) run against ocf:rha:mdraid through
//! the Raid1 names (raidconf, raiddev): the proof that a Raid1 resource switches by changing
//! the provider only.
//!
//! The config is copied as it is, with only `Agent`/`AgentRoot` pointing at our binary (a
//! symlink named `mdraid` in a directory of the test's own); `ocft make -d DIR mdraid` then
//! `ocft test mdraid` run every case, and the test fails on any failed case, on a case that
//! did not run, or on ocft's own errors. Case adjustments, each with its reason, are in
//! [`adjust`].

mod common;

use std::process::{Command, Stdio};

use common::agent_path;
use rha_harness::cmd::{self, require_root, require_tools};

const UPSTREAM: &str = "/usr/share/resource-agents/ocft/configs/Raid1";

/// The cases of the upstream config, by name (all must run and pass).
const CASES: &[&str] = &[
    "check base env",
    "check base env: invalid 'OCF_RESKEY_raiddev'",
    "check base env: unset 'OCF_RESKEY_raiddev'",
    "normal start",
    "normal stop",
    "double start",
    "double stop",
    "monitor when running",
    "monitor when not running",
    "normal start (auto)",
    "normal stop (auto)",
    "normal start (multiple)",
    "normal stop (multiple)",
    "unimplemented command",
];

/// The upstream config with `Agent`/`AgentRoot` pointing at ours, and the case adjustments.
fn adjust(upstream: &str, root: &str) -> String {
    let mut out = String::new();
    let mut case = String::new();
    for line in upstream.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("CASE ") {
            case = name.trim().trim_matches('"').to_string();
        }
        if t.starts_with("Agent ") {
            out.push_str("\tAgent mdraid\n");
            continue;
        }
        if t.starts_with("AgentRoot ") {
            out.push_str(&format!("\tAgentRoot {root}\n"));
            continue;
        }
        // "check base env: invalid 'OCF_RESKEY_raiddev'": raiddev=/dev/no_such_device, a device
        // with no ARRAY line in raidconf. Raid1 answers OCF_ERR_GENERIC (1) only because it
        // tries `mdadm --assemble` and that fails; 1 is a soft error, so Pacemaker retries the
        // start on this node up to migration-threshold, each retry failing the same way. The
        // device is simply not in this node's configuration: ocf:rha:mdraid says so at once
        // with OCF_ERR_ARGS (2, "not configured right on this node": the resource moves), as
        // its validate-all does. Only the expected code of this case changes.
        if case == "check base env: invalid 'OCF_RESKEY_raiddev'" && t == "AgentRun start OCF_ERR_GENERIC" {
            out.push_str(
                "\t# ocf:rha:mdraid: a device without an ARRAY line in raidconf is OCF_ERR_ARGS\n\
                 \t# (wrong on this node), not a soft error retried here (see vm_ocft.rs).\n\
                 \tAgentRun start OCF_ERR_ARGS\n",
            );
            continue;
        }
        // "normal start (auto)": its precondition (`prepare_auto`'s `AgentRun stop` without an
        // expected code) runs monitor first and calls stop only when monitor says 0; anything
        // but 0 or 7 fails the case. Here md8 is stopped (the cases before stop it) and md9 is
        // still assembled (SETUP-AGENT created it; no case before this one uses it). Raid1's
        // monitor of several arrays returns at the first one not running (`forall` stops at
        // the first non-zero code), so it answers 7 and reports a resource half up as stopped:
        // Pacemaker would then never stop md9 on this node while another node assembles it.
        // ocf:rha:mdraid answers 1 ("partly assembled: /dev/md8 not assembled"), so that
        // Pacemaker recovers with a stop. The case keeps its intent (start from stopped, then
        // start and monitor): prepare_auto spelled out, its stop given the expected code 0.
        if case == "normal start (auto)" && t == "Include prepare_auto" {
            out.push_str(
                "\t# ocf:rha:mdraid: monitor says 1 for md9 left assembled with md8 stopped (Raid1\n\
                 \t# says 7: its forall returns at the first array not running); so the stop\n\
                 \t# that starts from stopped is explicit here (see vm_ocft.rs).\n\
                 \tInclude required_args\n\
                 \tEnv OCF_RESKEY_raiddev=\"auto\"\n\
                 \tAgentRun stop OCF_SUCCESS\n",
            );
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whatever the cases leave (a failed case skips ocft's cleanup of its arrays): stopped, and
/// the loop devices of ocft's helper detached, so later VM-tier programs start clean.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        for md in ["/dev/md8", "/dev/md9"] {
            let _ = Command::new("mdadm").args(["--stop", md]).stderr(Stdio::null()).status();
        }
        for n in 0..4 {
            let f = format!("/run/resource-agents/ocft-Raid1-disk{n}");
            let Ok(o) = Command::new("losetup").args(["-j", &f]).stderr(Stdio::null()).output() else {
                continue;
            };
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                if let Some((dev, _)) = l.split_once(':') {
                    let _ = Command::new("losetup").args(["-d", dev]).stderr(Stdio::null()).status();
                }
            }
        }
    }
}

fn setup() {
    rha_harness::vm::assert_in_guest();
    require_root().unwrap();
    require_tools(&[
        ("mdadm", "mdadm"),
        ("losetup", "mount"),
        ("modprobe", "kmod"),
        ("ocft", "resource-agents"),
    ])
    .unwrap();
    assert!(std::path::Path::new(UPSTREAM).is_file(), "{UPSTREAM} missing (resource-agents)");
    // As vm_mdraid: no auto-assembly behind the cases' back (/etc is the VM's overlay).
    std::fs::create_dir_all("/etc/mdadm").unwrap();
    std::fs::write("/etc/mdadm/mdadm.conf", "AUTO -all\n").unwrap();
    for m in ["loop", "raid0"] {
        cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
    }
    // ocft's helpers keep their loop files and control files under $HA_RSCTMP and
    // <rundir>/resource-agents (both /run/resource-agents here); the VM's /run starts empty.
    std::fs::create_dir_all("/run/resource-agents").unwrap();
}

fn ocft(args: &[&str]) -> (bool, String) {
    let o = Command::new("ocft").args(args).stdin(Stdio::null()).output().expect("run ocft");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    // Colours off: ocft writes ANSI escapes around names and verdicts.
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    (o.status.success(), plain)
}

#[test]
fn upstream_ocft_raid1_cases_pass_through_the_aliases() {
    setup();
    let _cleanup = Cleanup;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("agents");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(agent_path(), root.join("mdraid")).unwrap();
    let cfgs = dir.path().join("configs");
    std::fs::create_dir(&cfgs).unwrap();
    let upstream = std::fs::read_to_string(UPSTREAM).unwrap();
    let cfg = adjust(&upstream, root.to_str().unwrap());
    assert!(cfg.contains("Agent mdraid") && cfg.contains("OCF_RESKEY_raidconf"), "{cfg}");
    std::fs::write(cfgs.join("mdraid"), &cfg).unwrap();

    let (ok, made) = ocft(&["make", "-d", cfgs.to_str().unwrap(), "mdraid"]);
    assert!(ok, "ocft make failed:\n{made}");
    for c in CASES {
        assert!(made.contains(&format!(": {c}\n")), "ocft make did not generate case {c:?}:\n{made}");
    }
    let t = std::time::Instant::now();
    let (ok, out) = ocft(&["test", "mdraid"]);
    let took = t.elapsed();
    let _ = ocft(&["clean", "mdraid"]);
    eprintln!("ocft test mdraid ({:.1} s):\n{out}", took.as_secs_f64());
    let passed: Vec<&str> =
        out.lines().filter(|l| l.starts_with("mdraid: ") && l.ends_with(" - OK.")).collect();
    let failed: Vec<&str> = out.lines().filter(|l| l.contains("FAILED") || l.contains("ERROR")).collect();
    assert!(
        failed.is_empty(),
        "ocft: {} failure line(s):\n{}\n\nwhole output:\n{out}",
        failed.len(),
        failed.join("\n")
    );
    for c in CASES {
        assert!(
            passed.iter().any(|l| *l == format!("mdraid: {c} - OK.")),
            "case {c:?} did not pass (or did not run):\n{out}"
        );
    }
    assert_eq!(passed.len(), CASES.len(), "{out}");
    assert!(ok, "ocft test exited non-zero:\n{out}");
    // Nothing of the cases is left assembled.
    let mdstat = std::fs::read_to_string("/proc/mdstat").unwrap();
    assert!(!mdstat.contains("md8 :") && !mdstat.contains("md9 :"), "{mdstat}");
}
