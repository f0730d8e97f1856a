//! Lab tier: the README's demo runs from the installed package.
//!
//! Builds the .deb, installs it, runs `./demo` with `RHA_DEMO_FROM_INSTALLED=1` (so the demo
//! uses exactly what the package installed: no build, no `dpkg -i` of its own) and checks the
//! failover it narrates really happened; the package is purged on every exit path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rha_harness::cmd::{Cmd, require_root, require_tools};

const PACKAGE: &str = "rha-resource-agents";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Purges the package however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        match Cmd::new("dpkg").args(["--purge", PACKAGE]).timeout(Duration::from_secs(300)).run() {
            Ok(o) if o.success() => {}
            other => eprintln!("cleanup: dpkg --purge {PACKAGE}: {other:?}"),
        }
    }
}

#[test]
fn readme_demo_runs_from_the_installed_package() {
    require_root().unwrap();
    require_tools(&[("dpkg", "dpkg"), ("crm", "crmsh"), ("curl", "curl")]).unwrap();
    let root = workspace_root();

    let built =
        Cmd::new(root.join("packaging/build-deb")).timeout(Duration::from_secs(1800)).run_ok().unwrap();
    let deb = built.stdout.lines().last().expect("build-deb printed no path").trim().to_string();
    assert!(deb.ends_with(".deb") && Path::new(&deb).is_file(), "build-deb's last line is not a .deb: {deb}");

    let _installed = Installed;
    Cmd::new("dpkg").args(["-i", &deb]).timeout(Duration::from_secs(300)).run_ok().unwrap();
    for agent in ["IPaddr2", "apache"] {
        assert!(Path::new("/usr/lib/ocf/resource.d/rha").join(agent).is_file(), "{agent} not installed");
    }

    let demo = Cmd::new(root.join("demo"))
        .env("RHA_DEMO_FROM_INSTALLED", "1")
        .timeout(Duration::from_secs(900))
        .run()
        .unwrap();
    let out = format!("{}\n{}", demo.stdout, demo.stderr);
    assert!(demo.success(), "the demo failed:\n{out}");
    for step in [
        "Started node1",
        "killed node1",
        "failover: the client reached node2",
        "node1 online again",
        "demo finished",
    ] {
        assert!(out.contains(step), "the demo's output lacks {step:?}:\n{out}");
    }
    // The client saw each node's own page: first node1, then node2 after the kill.
    let pages: Vec<&str> = demo.stdout.lines().filter(|l| *l == "node1" || *l == "node2").collect();
    assert_eq!(pages, ["node1", "node2", "node1"], "pages the client saw:\n{out}");
    let failover = out.lines().find(|l| l.starts_with("failover:")).unwrap();
    eprintln!("demo {failover}");
}
