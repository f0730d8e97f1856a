//! VM tier: ocf:rha:mdraid on a node whose kernel has no md — probe 7, stop 0, start 5 with a
//! reason naming /proc/mdstat. Debian's stock kernel can load md_mod, so the test takes it away
//! first (rha_harness::modules::ModulesBlocked: the RAID personalities and md_mod unloaded,
//! modprobe refusing them) — true by construction, never by skipping.

mod common;

use std::path::Path;

use common::{Instance, expect};
use rha_harness::modules::ModulesBlocked;

const CONF: &str = "AUTO -all\nARRAY /dev/md/web metadata=1.2 UUID=3aaa0122:29827cfa:5331ad66:ca767371\n\
                    ARRAY /dev/md1 UUID=3aaa0122:29827cfa:5331ad66:ca767372\n";

fn conf(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("mdadm.conf");
    std::fs::write(&p, CONF).unwrap();
    p
}

#[test]
fn without_md_probe_is_7_stop_0_start_5() {
    let _gone =
        ModulesBlocked::new(&["md_mod"], &["raid0", "raid1", "raid456", "linear", "multipath", "md_mod"])
            .expect("taking md away (this test runs in the VM tier)");
    assert!(!Path::new("/proc/mdstat").exists(), "md is still there");
    let d = tempfile::tempdir().unwrap();
    let c = conf(d.path());
    for dev in ["/dev/md/web", "/dev/md/web /dev/md1", "auto"] {
        let i = Instance::new("md").param("mdadm_conf", &c).param("md_dev", dev);
        expect(&i.probe(), 7, "probe without md");
        expect(&i.monitor(), 7, "recurring monitor without md");
        expect(&i.stop(), 0, "stop without md");
        let s = i.start();
        expect(&s, 5, "start without md");
        assert!(s.why().contains("/proc/mdstat"), "{s}");
        expect(&i.run("validate-all"), 0, "validate-all (configuration only)");
    }
    // The Raid1 names.
    let i = Instance::new("md").param("raidconf", &c).param("raiddev", "/dev/md1").param("udev", "no");
    expect(&i.probe(), 7, "probe through the aliases");
    expect(&i.run("validate-all"), 0, "validate-all through the aliases");
}
