//! Host tier: the OCF contract as Pacemaker's own tools see it, proven on the example agent.
//! ocf-tester, xmllint against ra-api-1.dtd and pcs's OCF 1.0/1.1 schemas, `crm ra info`,
//! `pcs resource describe`, and the exit codes of every invalid-configuration rule.
//! Needs root and Debian's resource-agents, libxml2-utils, pcs and crmsh (tests/install-deps).

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::example_agent;

fn require_tool(path: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: run tests/install-deps (this test never skips)");
}

/// Run the agent with exactly `env` (plus nothing else) and the action.
fn run(action: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(example_agent());
    c.arg(action).env_clear();
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("agent exited by a signal")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn ocf_tester_passes() {
    require_tool("/usr/sbin/ocf-tester");
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("ex.state");
    let o = Command::new("/usr/sbin/ocf-tester")
        .args(["-n", "ex1", "-o"])
        .arg(format!("state={}", file.display()))
        .arg(example_agent())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "ocf-tester failed:\n{out}\n{}", stderr(&o));
    assert!(out.contains("passed all tests"), "{out}");
}

fn xmllint(args: &[&str], xml: &[u8], cwd: &str) -> Output {
    let mut c = Command::new("xmllint");
    c.args(args)
        .arg("-")
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("xmllint (libxml2-utils) is required");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(xml).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn meta_data_is_valid_in_both_dialects() {
    require_tool("/usr/share/resource-agents/ra-api-1.dtd");
    require_tool("/usr/share/pcs/data/ocf-1.1.rng");
    // 1.0: as ocf-tester checks it, through the DOCTYPE, from the DTD's directory.
    let v10 = run("meta-data", &[]);
    assert_eq!(code(&v10), 0);
    let o = xmllint(&["--noout", "--valid"], &v10.stdout, "/usr/share/resource-agents");
    assert!(o.status.success(), "1.0 meta-data fails the DTD: {}", stderr(&o));
    let o = xmllint(&["--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.0.rng"], &v10.stdout, "/");
    assert!(o.status.success(), "1.0 meta-data fails pcs's schema: {}", stderr(&o));
    // 1.1: what Pacemaker 2.1+ asks for.
    let v11 = run("meta-data", &[("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "1")]);
    assert!(String::from_utf8_lossy(&v11.stdout).contains("<version>1.1</version>"));
    let o = xmllint(&["--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.1.rng"], &v11.stdout, "/");
    assert!(o.status.success(), "1.1 meta-data fails pcs's schema: {}", stderr(&o));
}

#[test]
fn meta_data_works_as_nobody_with_no_environment() {
    let o = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c"])
        .arg(format!("env -i {} meta-data", example_agent().display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("<resource-agent name=\"example\""));
}

#[test]
fn actions_and_usage() {
    assert_eq!(code(&run("no-such-action", &[])), 3, "unknown action is OCF_ERR_UNIMPLEMENTED");
    assert_eq!(code(&run("notify", &[])), 3, "unadvertised action is OCF_ERR_UNIMPLEMENTED");
    assert_eq!(code(&run("usage", &[])), 0);
    let none = Command::new(example_agent()).env_clear().output().unwrap();
    assert_eq!(code(&none), 2, "no action is OCF_ERR_ARGS");
    let m = run("methods", &[]);
    assert!(String::from_utf8_lossy(&m.stdout).lines().any(|l| l == "validate-all"));
}

#[test]
fn invalid_configuration_follows_pacemaker_rules() {
    let bad = ("OCF_RESKEY_state", "relative/path");
    let probe = [bad, ("OCF_RESKEY_CRM_meta_interval", "0")];
    let recurring = [bad, ("OCF_RESKEY_CRM_meta_interval", "10000")];
    assert_eq!(code(&run("monitor", &probe)), 7, "a probe never bans a node for bad config");
    assert_eq!(code(&run("monitor", &[bad])), 7, "a missing interval is a probe");
    assert_eq!(code(&run("stop", &[bad])), 0, "stop succeeds: nothing can be running");
    let o = run("monitor", &recurring);
    assert_eq!(code(&o), 1, "a recurring monitor fails softly");
    for action in ["start", "validate-all"] {
        let o = run(action, &[bad]);
        assert_eq!(code(&o), 6, "{action}");
        let reason = stderr(&o);
        assert!(
            reason.contains("ocf-exit-reason:parameter state: 'relative/path' is not an absolute path"),
            "{reason}"
        );
    }
    // Clone fields that are not numbers: the same rules (upstream IPaddr2 answers 6 too).
    let clone = ("OCF_RESKEY_CRM_meta_clone_max", "two");
    assert_eq!(code(&run("monitor", &[clone, ("OCF_RESKEY_CRM_meta_interval", "0")])), 7);
    assert_eq!(code(&run("stop", &[clone])), 0);
    let o = run("start", &[clone]);
    assert_eq!(code(&o), 6);
    assert!(stderr(&o).contains("OCF_RESKEY_CRM_meta_clone_max='two' is not a number"), "{}", stderr(&o));
    // Pacemaker's prefix is honoured, booleans are strict.
    let o = run("start", &[("OCF_RESKEY_fail_start", "perhaps"), ("OCF_EXIT_REASON_PREFIX", "why:")]);
    assert_eq!(code(&o), 6);
    assert!(stderr(&o).contains("why:parameter fail_start: 'perhaps' is not a boolean"), "{}", stderr(&o));
}

#[test]
fn lifecycle_is_idempotent_and_reasons_are_given() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("s");
    let s = state.to_str().unwrap();
    let env = [("OCF_RESKEY_state", s), ("OCF_RESKEY_CRM_meta_interval", "10000")];
    assert_eq!(code(&run("monitor", &env)), 7);
    assert_eq!(code(&run("start", &env)), 0);
    assert_eq!(code(&run("start", &env)), 0);
    assert_eq!(code(&run("monitor", &env)), 0);
    assert_eq!(code(&run("status", &env)), 0);
    assert_eq!(code(&run("stop", &env)), 0);
    assert_eq!(code(&run("stop", &env)), 0);
    let o = run("start", &[("OCF_RESKEY_state", s), ("OCF_RESKEY_fail_start", "yes")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("ocf-exit-reason:start failed because fail_start is set"));
}

#[test]
fn logs_go_to_ha_logfile() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("ha.log");
    let o = run(
        "start",
        &[
            ("OCF_RESKEY_state", "rel"),
            ("HA_LOGFILE", log.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", "ex7"),
        ],
    );
    assert_eq!(code(&o), 6);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("example(ex7)") && text.contains("ERROR: parameter state"), "{text}");
}

/// crmsh and pcs find and describe the agent where Pacemaker looks for it. The provider
/// directory is mounted in a private mount namespace, so the host's /usr/lib/ocf is untouched.
#[test]
fn crm_and_pcs_describe_the_agent() {
    require_tool("/usr/sbin/pcs");
    require_tool("/usr/sbin/crm");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("rha")).unwrap();
    std::fs::copy(example_agent(), root.path().join("rha/example")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/ocf/resource.d/heartbeat", root.path().join("heartbeat")).unwrap();
    let script = format!(
        "mount --bind {} /usr/lib/ocf/resource.d && echo PCS && pcs resource describe ocf:rha:example \
         && echo CRM && crm ra info ocf:rha:example && echo LIST && crm ra list ocf rha",
        root.path().display()
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("ocf:rha:example - Example agent (a state file)"), "{out}");
    assert!(out.contains("fake (string, [dummy]): A value to carry"), "{out}");
    assert!(out.split("LIST").nth(1).unwrap().contains("example"), "{out}");
}
