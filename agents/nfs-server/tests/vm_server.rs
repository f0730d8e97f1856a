//! VM tier: ocf:rha:nfs-server against the real kernel nfsd, started directly (no systemd in
//! the VM), with its state on a shared infodir (an ext4 on a loop device bind-mounted over
//! /var/lib/nfs), sm-notify from the floating IP and an NFSv4 server scope:
//!
//! - start → rpcbind, statd, mountd and nfsd threads are up; a client mounts an export over
//!   NFSv3 and NFSv4.1 and reads a file;
//! - behind its back: nfsd threads set to 0 → 1, mountd killed → 1; start repairs;
//! - stop: no mountd/statd/sm-notify/nfsdcld left, nfsd threads 0, /var/lib/nfs unmounted
//!   (the helpers that held it were stopped first); stop again 0, monitor 7;
//! - nfsv4_only: no statd, NFSv4 mounts, NFSv3 does not;
//! - ocf-tester passes.

#![cfg(feature = "vm-tier")]

use std::path::Path;
use std::process::Command;
use std::sync::Once;

const BASE: &str = "/tmp/rha-nfs-srv";
static SETUP: Once = Once::new();

use rha_harness::cmd::{sh_script as sh, sh_script_ok as sh_ok};

fn setup() {
    SETUP.call_once(|| {
        assert_eq!(std::env::var(rha_harness::vm::IN_VM_ENV).as_deref(), Ok("1"), "VM-tier test outside the VM: run it with `rha-vm run-tests`");
        sh_ok(&format!(
            "set -e; modprobe nfsd; modprobe loop || true; mkdir -p {BASE}/fs {BASE}/m; \
             truncate -s 64M {BASE}/fs.img; mkfs.ext4 -q -F {BASE}/fs.img; mount -o loop {BASE}/fs.img {BASE}/fs; \
             mkdir -p {BASE}/fs/info {BASE}/fs/nfs; echo served > {BASE}/fs/nfs/file"
        ));
    });
}

fn agent(action: &str, params: &[(&str, &str)], run: &Path) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nfs-server"));
    c.arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "nfs-server")
        .env("RHA_RUN_DIR", run)
        .env("CRM_meta_timeout", "90000");
    if action == "monitor" {
        c.env("CRM_meta_interval", "10000");
    }
    for (k, v) in params {
        c.env(format!("OCF_RESKEY_{k}"), v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

fn expect(action: &str, params: &[(&str, &str)], run: &Path, code: i32) -> String {
    let (rc, out) = agent(action, params, run);
    assert_eq!(rc, code, "{action}: {out}");
    out
}

fn procs(names: &[&str]) -> Vec<String> {
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_str().is_some_and(|n| n.parse::<u32>().is_ok()) {
            if let Ok(c) = std::fs::read_to_string(e.path().join("comm")) {
                if names.contains(&c.trim()) {
                    found.push(format!("{}[{}]", c.trim(), e.file_name().to_string_lossy()));
                }
            }
        }
    }
    found
}

fn threads() -> u32 {
    std::fs::read_to_string("/proc/fs/nfsd/threads").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn libdir_mounted() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/var/lib/nfs"))
}

fn mount(opts: &str, src: &str) -> bool {
    sh(&format!("timeout 120 mount -t nfs -o {opts},soft,timeo=50,retrans=2 {src} {BASE}/m")).status.success()
}

fn read_umount() -> String {
    let s = std::fs::read_to_string(format!("{BASE}/m/file")).unwrap();
    sh_ok(&format!("umount {BASE}/m"));
    s
}

const SERVER_DAEMONS: &[&str] = &["rpc.mountd", "rpc.statd", "sm-notify", "nfsdcld", "fsidd"];

#[test]
fn server_lifecycle_with_shared_infodir_and_scope() {
    setup();
    let run = tempfile::tempdir().unwrap();
    let info = format!("{BASE}/fs/info");
    let p: &[(&str, &str)] = &[
        ("nfs_shared_infodir", &info),
        ("nfs_ip", "127.0.0.1"),
        ("nfs_server_scope", "rha-s4"),
        ("nfs_notify_foreground", "true"),
    ];
    // Whatever an earlier test left: stop takes the node's NFS server down.
    expect("stop", p, run.path(), 0);
    expect("monitor", p, run.path(), 7);
    expect("start", p, run.path(), 0);
    expect("monitor", p, run.path(), 0);
    assert!(threads() > 0);
    assert!(libdir_mounted(), "/var/lib/nfs is not the shared infodir");
    assert!(!procs(&["rpc.statd"]).is_empty() && !procs(&["rpc.mountd"]).is_empty());
    // sm-notify ran (in the foreground) on the shared directory: the NSM state is there.
    assert!(Path::new(&format!("{info}/state")).exists(), "no NSM state file on the shared infodir");
    expect("start", p, run.path(), 0);

    let dir = format!("{BASE}/fs/nfs");
    sh_ok(&format!("exportfs -o rw,sync,no_subtree_check,no_root_squash,fsid=0 127.0.0.1:{dir}"));
    assert!(Path::new(&format!("{info}/etab")).exists());
    assert!(
        std::fs::read_to_string(format!("{info}/etab")).unwrap().contains(&dir),
        "etab is not on the shared infodir"
    );
    assert!(mount("vers=3,nolock", &format!("127.0.0.1:{dir}")), "NFSv3 mount");
    assert_eq!(read_umount(), "served\n");
    assert!(mount("vers=4.1", "127.0.0.1:/"), "NFSv4.1 mount");
    assert_eq!(read_umount(), "served\n");

    sh_ok("rpc.nfsd 0");
    let out = expect("monitor", p, run.path(), 1);
    assert!(out.contains("nfsd has no threads"), "{out}");
    expect("start", p, run.path(), 0);
    sh_ok("kill -9 $(pidof rpc.mountd)");
    let out = expect("monitor", p, run.path(), 1);
    assert!(out.contains("rpc.mountd"), "{out}");
    expect("start", p, run.path(), 0);
    expect("monitor", p, run.path(), 0);
    sh_ok(&format!("exportfs -u 127.0.0.1:{dir}"));

    expect("stop", p, run.path(), 0);
    assert_eq!(procs(SERVER_DAEMONS), Vec::<String>::new(), "left after stop");
    assert_eq!(threads(), 0);
    assert!(!libdir_mounted(), "/var/lib/nfs still bind-mounted after stop");
    expect("stop", p, run.path(), 0);
    expect("monitor", p, run.path(), 7);

    // A node that is only an NFS client runs its own rpc.statd: a probe there is 7, not
    // "partly running" (which would make Pacemaker stop it everywhere).
    sh_ok("rpc.statd --no-notify");
    let fresh = tempfile::tempdir().unwrap();
    expect("monitor", p, fresh.path(), 7);
    sh_ok("kill $(pidof rpc.statd)");
}

#[test]
fn nfsv4_only() {
    setup();
    let run = tempfile::tempdir().unwrap();
    let p: &[(&str, &str)] = &[("nfsv4_only", "true")];
    expect("stop", p, run.path(), 0);
    expect("start", p, run.path(), 0);
    expect("monitor", p, run.path(), 0);
    assert!(procs(&["rpc.statd", "sm-notify"]).is_empty());
    let dir = format!("{BASE}/fs/nfs");
    sh_ok(&format!("exportfs -o rw,fsid=0,no_subtree_check 127.0.0.1:{dir}"));
    assert!(mount("vers=4.2", "127.0.0.1:/"), "NFSv4.2 mount");
    assert_eq!(read_umount(), "served\n");
    assert!(!mount("vers=3,nolock", &format!("127.0.0.1:{dir}")), "NFSv3 mounted on an NFSv4-only server");
    sh_ok(&format!("exportfs -u 127.0.0.1:{dir}"));
    expect("stop", p, run.path(), 0);
    assert_eq!(procs(SERVER_DAEMONS), Vec::<String>::new(), "left after stop");
}

#[test]
fn ocf_tester_passes() {
    setup();
    let run = tempfile::tempdir().unwrap();
    let o = Command::new("/usr/sbin/ocf-tester")
        .args(["-v", "-n", "nfs-server-tester"])
        .args(["-o", &format!("nfs_shared_infodir={BASE}/fs/info")])
        .args(["-o", "nfs_ip=127.0.0.1"])
        .arg(env!("CARGO_BIN_EXE_nfs-server"))
        .env("RHA_RUN_DIR", run.path())
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "ocf-tester: {out}");
}
