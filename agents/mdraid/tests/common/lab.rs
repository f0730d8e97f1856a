//! The VM tests' md lab: loop devices over files on a private tmpfs, the arrays mdadm makes of
//! them, the conf the agent is given, and the node setup the agent documents (`AUTO -all`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;

use super::Instance;
use rha_harness::cmd::{self, require_root, require_tools};

static SETUP: Once = Once::new();

pub fn setup() {
    SETUP.call_once(|| {
        require_root().unwrap();
        require_tools(&[
            ("mdadm", "mdadm"),
            ("losetup", "mount"),
            ("modprobe", "kmod"),
            ("mkfs.ext4", "e2fsprogs"),
        ])
        .unwrap();
        rha_harness::vm::assert_in_guest();
        // The node setup the agent documents: no auto-assembly by udev/mdadm --incremental,
        // which otherwise grabs our loop members behind the tests' back. /etc is the VM's
        // writable overlay (asserted above), never the host's.
        std::fs::create_dir_all("/etc/mdadm").unwrap();
        std::fs::write("/etc/mdadm/mdadm.conf", "AUTO -all\n").unwrap();
        for m in ["loop", "raid1", "raid456", "raid0"] {
            cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
        }
    });
}

pub fn sh(argv: &[&str]) -> String {
    let o = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).output().unwrap();
    assert!(
        o.status.success(),
        "{argv:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn mdstat() -> String {
    std::fs::read_to_string("/proc/mdstat").unwrap()
}

pub fn assembled(kname: &str) -> bool {
    mdstat().lines().any(|l| l.starts_with(&format!("{kname} :")))
}

/// Loop devices over files on a private tmpfs, and the arrays made of them; all removed on drop.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub loops: Vec<String>,
    /// Device-mapper devices (names under /dev/mapper) made over some of the loops.
    pub dms: Vec<String>,
    pub arrays: Vec<String>,
    pub conf_lines: Vec<String>,
}

/// Loop files are small (the VM tier runs every test in one boot), except where a resync must
/// last long enough to be seen.
pub const LOOP_SIZE: u64 = 24 << 20;

impl Lab {
    pub fn new() -> Lab {
        setup();
        let dir = tempfile::tempdir().unwrap();
        sh(&["mount", "-t", "tmpfs", "-o", "size=400m", "rha-mdraid", dir.path().to_str().unwrap()]);
        Lab { dir, loops: Vec::new(), dms: Vec::new(), arrays: Vec::new(), conf_lines: Vec::new() }
    }

    pub fn loopdev(&mut self) -> String {
        self.loopdev_sized(LOOP_SIZE)
    }

    pub fn loopdev_sized(&mut self, size: u64) -> String {
        let f = self.dir.path().join(format!("disk{}", self.loops.len()));
        std::fs::File::create(&f).unwrap().set_len(size).unwrap();
        let l = sh(&["losetup", "-f", "--show", f.to_str().unwrap()]).trim().to_string();
        self.loops.push(l.clone());
        l
    }

    /// A device-mapper linear target `/dev/mapper/NAME` over a new loop device, so a test can
    /// later make it fail every I/O (`dmsetup reload` to an `error` table).
    pub fn dm_leg(&mut self, name: &str) -> String {
        let l = self.loopdev();
        let table = format!("0 {} linear {l} 0", LOOP_SIZE / 512);
        sh(&["dmsetup", "create", name, "--table", &table]);
        self.dms.push(name.to_string());
        format!("/dev/mapper/{name}")
    }

    /// Create an array (then stop it, so the agent assembles it), and add it to the conf.
    pub fn array(&mut self, dev: &str, level: &str, n: usize) -> Vec<String> {
        let members: Vec<String> = (0..n).map(|_| self.loopdev()).collect();
        self.array_of(dev, level, members, level != "0")
    }

    /// The same over the given members; without `assume_clean` a RAID 1/5/6 starts resyncing.
    pub fn array_of(
        &mut self,
        dev: &str,
        level: &str,
        members: Vec<String>,
        assume_clean: bool,
    ) -> Vec<String> {
        self.array_with(dev, level, members, if assume_clean { &["--assume-clean"] } else { &[] })
    }

    /// The same with more `mdadm --create` options (a bitmap, md-cluster's).
    pub fn array_with(
        &mut self,
        dev: &str,
        level: &str,
        members: Vec<String>,
        extra: &[&str],
    ) -> Vec<String> {
        let lv = format!("--level={level}");
        let nd = format!("--raid-devices={}", members.len());
        let mut argv = vec!["mdadm", "--create", dev, "--run", "--metadata=1.2", lv.as_str(), nd.as_str()];
        argv.extend_from_slice(extra);
        argv.extend(members.iter().map(String::as_str));
        sh(&argv);
        self.arrays.push(dev.to_string());
        let brief = sh(&["mdadm", "--detail", "--brief", dev]);
        self.conf_lines.push(brief.trim().to_string());
        sh(&["mdadm", "--stop", dev]);
        members
    }

    /// udev in the VM may assemble our members on its own (mdadm's incremental rule reacts to
    /// the stop's change events): wait for it, and stop whatever it made of our loops, so each
    /// test starts from nothing assembled (as a node with `AUTO -all` would).
    pub fn settle(&self) {
        let _ = Command::new("udevadm").args(["settle", "--timeout=30"]).status();
        let Ok(rd) = std::fs::read_dir("/sys/block") else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("md") {
                continue;
            }
            let slaves: Vec<String> = std::fs::read_dir(e.path().join("slaves"))
                .map(|r| r.flatten().map(|s| format!("/dev/{}", s.file_name().to_string_lossy())).collect())
                .unwrap_or_default();
            if slaves.iter().any(|s| self.loops.contains(s)) {
                eprintln!("note: /dev/{name} was assembled behind the test's back (udev?): stopping it");
                let _ = Command::new("mdadm").args(["--stop", &format!("/dev/{name}")]).status();
            }
        }
    }

    pub fn conf(&self) -> PathBuf {
        let p = self.dir.path().join("mdadm.conf");
        std::fs::write(
            &p,
            format!("DEVICE /dev/loop* /dev/mapper/rha-md-*\nAUTO -all\n{}\n", self.conf_lines.join("\n")),
        )
        .unwrap();
        p
    }

    pub fn instance(&self, md_dev: &str) -> Instance {
        self.settle();
        assert!(
            !mdstat().lines().any(|l| self.loops.iter().any(|lp| l.contains(&format!(" {}[", &lp[5..])))),
            "{}",
            mdstat()
        );
        Instance::new("md").param("mdadm_conf", self.conf()).param("md_dev", md_dev)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for a in &self.arrays {
            let _ = Command::new("umount").arg(a).stderr(Stdio::null()).status();
            let _ = Command::new("mdadm").args(["--stop", a]).stderr(Stdio::null()).status();
        }
        for d in &self.dms {
            let _ = Command::new("dmsetup").args(["remove", "--retry", d]).status();
        }
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

pub fn kname(dev: &str) -> String {
    let p = std::fs::canonicalize(dev).unwrap_or_else(|_| PathBuf::from(dev));
    p.file_name().unwrap().to_string_lossy().into_owned()
}
