//! Host tier: the OCF contract of ocf:rha:mdraid that holds on any kernel, with or without md
//! (this build machine's has none; Debian's stock kernel can load md_mod, and the VM tier runs
//! this file there too): meta-data, probe 7 and stop 0 without the conf file, validate-all on
//! the configuration, hostile parameter values giving a defined code with a reason. What a
//! node WITHOUT md must answer (probe 7, stop 0, start 5) is tested in vm_no_md.rs, where the
//! VM takes md away. Needs root, mdadm, libxml2-utils and resource-agents (the DTD).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Instance, agent_path, expect};

const CONF: &str = "AUTO -all\nARRAY /dev/md/web metadata=1.2 UUID=3aaa0122:29827cfa:5331ad66:ca767371\n\
                    ARRAY /dev/md1 UUID=3aaa0122:29827cfa:5331ad66:ca767372\n";

fn conf(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("mdadm.conf");
    std::fs::write(&p, CONF).unwrap();
    p
}

fn xmllint(args: &[&str], xml: &[u8], cwd: &str) -> std::process::Output {
    let mut child = Command::new("xmllint")
        .args(args)
        .arg("-")
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xmllint (libxml2-utils)");
    child.stdin.take().unwrap().write_all(xml).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn meta_data_is_valid_and_names_the_aliases() {
    assert!(Path::new("/usr/share/resource-agents/ra-api-1.dtd").exists(), "resource-agents missing");
    let i = Instance::new("md");
    let m = i.run("meta-data");
    expect(&m, 0, "meta-data");
    let o = xmllint(&["--noout", "--valid"], m.stdout.as_bytes(), "/usr/share/resource-agents");
    assert!(o.status.success(), "meta-data fails ra-api-1.dtd: {}", String::from_utf8_lossy(&o.stderr));
    for p in [
        "mdadm_conf",
        "md_dev",
        "force_stop",
        "wait_for_udev",
        "force_clones",
        "raidconf",
        "raiddev",
        "homehost",
        "udev",
    ] {
        assert!(m.stdout.contains(&format!("<parameter name=\"{p}\"")), "meta-data lacks {p}");
    }
    assert!(m.stdout.contains("Deprecated alias of mdadm_conf"));
    assert!(m.stdout.contains("OCF_DEGRADED (190)"));
    assert!(m.stdout.contains("depth=\"10\""), "meta-data lacks the level-10 monitor");
    let m11 = i.run_with("meta-data", &[("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "1")]);
    expect(&m11, 0, "meta-data 1.1");
    if Path::new("/usr/share/pcs/data/ocf-1.1.rng").exists() {
        let o =
            xmllint(&["--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.1.rng"], m11.stdout.as_bytes(), "/");
        assert!(
            o.status.success(),
            "1.1 meta-data fails pcs's schema: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c"])
        .arg(format!("env -i {} meta-data", agent_path()))
        .output()
        .unwrap();
    assert!(o.status.success(), "meta-data as nobody: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn without_the_conf_file_probe_is_7_stop_0_validate_2() {
    for dev in ["/dev/md0", "auto"] {
        let i = Instance::new("md").param("mdadm_conf", "/nonexistent/mdadm.conf").param("md_dev", dev);
        expect(&i.probe(), 7, "probe without the conf");
        expect(&i.stop(), 0, "stop without the conf");
        let v = i.run("validate-all");
        expect(&v, 2, "validate-all without the conf");
        assert!(v.why().contains("/nonexistent/mdadm.conf"), "{v}");
    }
    let d = tempfile::tempdir().unwrap();
    let i = Instance::new("md").param("mdadm_conf", conf(d.path())).param("md_dev", "/dev/md7");
    let v = i.run("validate-all");
    expect(&v, 2, "md_dev not in the conf");
    assert!(v.why().contains("/dev/md7 has no ARRAY line"), "{v}");
    let bad = d.path().join("bad.conf");
    std::fs::write(&bad, "DEVICE partitions\nARRAY /dev/md0 UUID=xyz\n").unwrap();
    let v = Instance::new("md").param("mdadm_conf", &bad).param("md_dev", "auto").run("validate-all");
    expect(&v, 2, "a bad ARRAY line");
    assert!(v.why().contains(&format!("{}:2:", bad.display())), "{v}");
}

#[test]
fn hostile_parameter_values_give_clean_codes_with_reasons() {
    let d = tempfile::tempdir().unwrap();
    let c = conf(d.path()).display().to_string();
    let cases: &[(&[(&str, &str)], i32)] = &[
        (&[("md_dev", "/dev/md0")], 6),
        (&[("mdadm_conf", &c)], 6),
        (&[("mdadm_conf", "relative.conf"), ("md_dev", "/dev/md0")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "/dev/md0; reboot")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "$(reboot)")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "/dev/../../etc/shadow")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "--scan")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "/dev/md0"), ("force_stop", "sometimes")], 6),
        (&[("mdadm_conf", &c), ("md_dev", "/dev/md0"), ("homehost", "--run")], 6),
        (&[("mdadm_conf", &c), ("raidconf", "/other.conf"), ("md_dev", "/dev/md0")], 6),
        (&[("mdadm_conf", "/dev/null"), ("md_dev", "auto")], 2),
        (&[("mdadm_conf", "/proc/self/mem"), ("md_dev", "auto")], 2),
    ];
    for (params, code) in cases {
        let mut i = Instance::new("md");
        for (k, v) in *params {
            i = i.param(k, *v);
        }
        let v = i.run("validate-all");
        assert_eq!(v.code, *code, "{params:?}: {v}");
        assert!(!v.why().is_empty(), "{params:?}: no reason: {v}");
        expect(&i.probe(), 7, "probe with a bad configuration");
        expect(&i.stop(), 0, "stop with a bad configuration");
    }
    // Not UTF-8.
    use std::os::unix::ffi::OsStringExt;
    let i = Instance::new("md")
        .param("mdadm_conf", &c)
        .param("md_dev", std::ffi::OsString::from_vec(b"/dev/md\xff".to_vec()));
    let v = i.run("validate-all");
    expect(&v, 6, "non-UTF-8 md_dev");
}

/// Differential, upstream-agents.md §13.2: ocf:heartbeat:mdraid's validate-all runs a
/// top-level `return`, which dash forgives (0) and bash as /bin/sh (RHEL, SUSE) does not:
/// "return: can only `return' from a function or sourced script", exit 2. Ours is no shell
/// script; it answers 0 for the same configuration also with bash as the `sh` on its PATH.
#[test]
fn validate_all_is_0_with_bash_as_sh_where_upstream_gives_2() {
    const UPSTREAM: &str = "/usr/lib/ocf/resource.d/heartbeat/mdraid";
    assert!(Path::new(UPSTREAM).exists(), "{UPSTREAM} missing (resource-agents)");
    let bash = Path::new("/bin/bash");
    assert!(bash.exists(), "bash missing");
    let d = tempfile::tempdir().unwrap();
    // bash started as `sh` runs in POSIX mode, as /bin/sh is on RHEL and SUSE.
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(bash, bin.join("sh")).unwrap();
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let i = Instance::new("md").param("mdadm_conf", conf(d.path())).param("md_dev", "/dev/md1");
    // The environment of the agent's own invocation, for `<sh> <upstream> validate-all`.
    let env = i.command_of(UPSTREAM, "validate-all", &[("PATH", &path)]);
    let run = |sh: &Path| {
        let mut c = Command::new(sh);
        c.arg(UPSTREAM).arg("validate-all").env_clear().stdin(Stdio::null());
        c.envs(env.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        c.output().unwrap()
    };
    let dash = run(Path::new("/bin/dash"));
    assert_eq!(dash.status.code(), Some(0), "upstream under dash: {dash:?}");
    let bashsh = run(&bin.join("sh"));
    assert_eq!(
        bashsh.status.code(),
        Some(2),
        "upstream under bash as sh no longer gives 2 (§13.2 fixed? update this test): {bashsh:?}"
    );
    assert!(String::from_utf8_lossy(&bashsh.stderr).contains("can only `return'"), "{bashsh:?}");
    let ours = i.run_with("validate-all", &[("PATH", &path)]);
    expect(&ours, 0, "ours, bash as the sh on PATH");
}
