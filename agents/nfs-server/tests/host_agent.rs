//! Host tier (no nfsd here): meta-data is DTD-valid, validate-all 0 with the binaries
//! installed and 5 without the shared infodir, a probe on this node without nfsd is 7,
//! hostile parameters give 6 with a reason, and then a probe 7 and a stop 0. Never runs
//! start, or stop with a valid configuration, here: they act on the node's NFS daemons,
//! which is the VM tier's job. The nfsd directory is pointed at a path that does not exist,
//! so "a node without nfsd" holds on either kernel.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn agent(action: &str, params: &[(&str, &str)], run: &Path) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nfs-server"));
    c.arg(action)
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "host-test")
        .env("RHA_RUN_DIR", run)
        .env("RHA_NFSD_DIR", run.join("no-nfsd"));
    for (k, v) in params {
        c.env(format!("OCF_RESKEY_{k}"), v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

#[test]
fn meta_data_is_dtd_valid() {
    let dtd = "/usr/share/resource-agents/ra-api-1.dtd";
    assert!(Path::new(dtd).exists(), "{dtd} missing: run tests/install-deps (resource-agents)");
    let run = tempfile::tempdir().unwrap();
    let (rc, xml) = agent("meta-data", &[], run.path());
    assert_eq!(rc, 0);
    for p in [
        "nfs_shared_infodir",
        "nfs_ip",
        "nfs_server_scope",
        "nfsv4_only",
        "nfs_no_notify",
        "nfs_notify_foreground",
        "nfs_smnotify_retry_time",
        "rpcpipefs_dir",
        "nfsd_threads",
        "nfs_init_script",
        "nfs_notify_cmd",
    ] {
        assert!(xml.contains(&format!("name=\"{p}\"")), "meta-data lacks {p}");
    }
    let mut x = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", dtd, "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint");
    x.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let o = x.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn hostile_parameters_are_6_with_a_reason() {
    let run = tempfile::tempdir().unwrap();
    let cases: &[&[(&str, &str)]] = &[
        &[("nfs_shared_infodir", "relative/dir")],
        &[("nfs_shared_infodir", "/a/../etc")],
        &[("nfs_ip", "not-an-ip")],
        &[("nfs_server_scope", "has space")],
        &[("nfs_server_scope", "x;reboot")],
        &[("nfsd_threads", "0")],
        &[("nfsd_threads", "many")],
        &[("nfs_smnotify_retry_time", "-1")],
        &[("nfsv4_only", "perhaps")],
        &[("rpcpipefs_dir", "run/rpc_pipefs")],
        &[("nfs_notify_cmd", "/bin/true")],
    ];
    for p in cases {
        let (rc, out) = agent("validate-all", p, run.path());
        assert_eq!(rc, 6, "{p:?}: {out}");
        assert!(out.contains("ocf-exit-reason:"), "{p:?}: {out}");
        assert_eq!(agent("monitor", p, run.path()).0, 7, "probe {p:?}");
        assert_eq!(agent("stop", p, run.path()).0, 0, "stop {p:?}");
    }
}

#[test]
fn without_nfsd_validate_0_probe_7() {
    let run = tempfile::tempdir().unwrap();
    let info = run.path().join("info");
    std::fs::create_dir(&info).unwrap();
    let info = info.to_str().unwrap();
    let p: &[(&str, &str)] =
        &[("nfs_shared_infodir", info), ("nfs_ip", "198.51.100.10"), ("nfs_server_scope", "rha-s4")];
    let (rc, out) = agent("validate-all", p, run.path());
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = agent("monitor", p, run.path());
    assert_eq!(rc, 7, "probe on a node without nfsd: {out}");
    let v4: &[(&str, &str)] = &[("nfsv4_only", "true")];
    assert_eq!(agent("monitor", v4, run.path()).0, 7);
    // The shared directory's filesystem is not mounted here: 5 (this node cannot run it).
    let missing = run.path().join("not-mounted");
    let (rc, out) = agent("validate-all", &[("nfs_shared_infodir", missing.to_str().unwrap())], run.path());
    assert_eq!(rc, 5, "{out}");
    assert!(out.contains("ocf-exit-reason:") && out.contains("not a directory"), "{out}");
    assert_eq!(agent("monitor", &[("nfs_shared_infodir", missing.to_str().unwrap())], run.path()).0, 7);
}

#[test]
fn nfsserver_compat_parameters_init_script_and_notify_cmd() {
    // ocf:heartbeat:nfsserver's nfs_init_script (never run here) and nfs_notify_cmd: named
    // but missing on this node is 5, as nfsserver answers (its ocft cases expect that).
    let run = tempfile::tempdir().unwrap();
    for p in [
        ("nfs_init_script", "no_such_script"),
        ("nfs_notify_cmd", "no_such_dir/sm-notify"),
        ("nfs_notify_cmd", "no_such_program"),
    ] {
        let (rc, out) = agent("validate-all", &[p], run.path());
        assert_eq!(rc, 5, "{p:?}: {out}");
        assert!(out.contains("ocf-exit-reason:") && out.contains(p.0), "{p:?}: {out}");
        assert_eq!(agent("stop", &[p], run.path()).0, 0, "stop {p:?}");
    }
    for p in
        [("nfs_init_script", "/bin/true"), ("nfs_notify_cmd", "rpc.statd"), ("nfs_notify_cmd", "sm-notify")]
    {
        let (rc, out) = agent("validate-all", &[p], run.path());
        assert_eq!(rc, 0, "{p:?}: {out}");
    }
}
