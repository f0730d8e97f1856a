//! Host tier: this build machine's kernel has no nfsd, which is exactly the node a probe must
//! answer "not running" on. Checks the OCF contract of ocf:rha:nfs-export there: meta-data
//! (DTD-valid), probe 7, stop 0, start 1 with a reason (no nfsd), and hostile parameters 6
//! with a reason. Never skips: the nfsd side is the VM tier's.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn agent(action: &str, params: &[(&str, &str)], run: &Path, interval: bool) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nfs-export"));
    c.arg(action)
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "host-test")
        .env("RHA_RUN_DIR", run)
        .env("RHA_NFSD_DIR", run.join("no-nfsd"))
        .env("RHA_NFS_ETAB", run.join("etab"));
    if interval {
        c.env("CRM_meta_interval", "10000");
    }
    for (k, v) in params {
        c.env(format!("OCF_RESKEY_{k}"), v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const GOOD: &[(&str, &str)] =
    &[("clientspec", "10.0.10.0/24"), ("directory", "/tmp"), ("fsid", "0"), ("options", "rw,sync")];

#[test]
fn meta_data_is_dtd_valid() {
    let dtd = "/usr/share/resource-agents/ra-api-1.dtd";
    assert!(Path::new(dtd).exists(), "{dtd} missing: run tests/install-deps (resource-agents)");
    let run = tempfile::tempdir().unwrap();
    let (rc, xml, _) = agent("meta-data", &[], run.path(), false);
    assert_eq!(rc, 0);
    for p in [
        "clientspec",
        "options",
        "directory",
        "fsid",
        "unlock_on_stop",
        "wait_for_leasetime_on_stop",
        "rmtab_backup",
    ] {
        assert!(xml.contains(&format!("name=\"{p}\"")), "meta-data lacks {p}");
    }
    let mut x = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", dtd, "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint (libxml2-utils)");
    x.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let o = x.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn without_nfsd_probe_7_stop_0_start_1() {
    let run = tempfile::tempdir().unwrap();
    // A stale etab (a reboot) with no state file: still not running.
    std::fs::write(run.path().join("etab"), "/tmp\t10.0.10.0/24(rw,sync,fsid=0)\n").unwrap();
    assert_eq!(agent("monitor", GOOD, run.path(), false).0, 7);
    assert_eq!(agent("monitor", GOOD, run.path(), true).0, 7);
    std::fs::write(run.path().join("etab"), "").unwrap();
    assert_eq!(agent("stop", GOOD, run.path(), false).0, 0);
    let (rc, out, err) = agent("start", GOOD, run.path(), false);
    assert_eq!(rc, 1, "{out}{err}");
    assert!(out.contains("ocf-exit-reason:") || err.contains("ocf-exit-reason:"), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("nfsd is not running") || format!("{out}{err}").contains("exportfs")
    );
}

#[test]
fn hostile_parameters_are_6_with_a_reason_and_never_panic() {
    let run = tempfile::tempdir().unwrap();
    let cases: &[&[(&str, &str)]] = &[
        &[("directory", "/tmp")],
        &[("clientspec", "10.0.10.0/24")],
        &[("clientspec", "a b"), ("directory", "/tmp")],
        &[("clientspec", "x(rw)"), ("directory", "/tmp")],
        &[("clientspec", "2001:db8::1"), ("directory", "/tmp")],
        &[("clientspec", "*"), ("directory", "relative")],
        &[("clientspec", "*"), ("directory", "/tmp /var"), ("fsid", "root")],
        &[("clientspec", "*"), ("directory", "/tmp"), ("fsid", "1,2")],
        &[("clientspec", "*"), ("directory", "/tmp"), ("fsid", "99999999999")],
        &[("clientspec", "*"), ("directory", "/tmp"), ("options", "rw sync")],
        &[("clientspec", "*"), ("directory", "/tmp"), ("rmtab_backup", "../../etc/x")],
        &[("clientspec", "*"), ("directory", "/tmp"), ("unlock_on_stop", "maybe")],
    ];
    for p in cases {
        let (rc, out, err) = agent("validate-all", p, run.path(), false);
        assert_eq!(rc, 6, "{p:?}: {out}{err}");
        assert!(out.contains("ocf-exit-reason:") || err.contains("ocf-exit-reason:"), "{p:?}: {out}{err}");
        assert_eq!(agent("monitor", p, run.path(), false).0, 7, "probe {p:?}");
        assert_eq!(agent("stop", p, run.path(), false).0, 0, "stop {p:?}");
    }
}
