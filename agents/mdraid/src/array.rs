//! Shared by the operations: the conf file, the device list, and an array's kernel name.
//! The roots (/proc, /sys/block, /dev) are fields so unit tests can point them at a tree.

use std::path::{Path, PathBuf};

use ocf_shim::{OcfError, OcfResult};

use crate::mdconf::{self, MdadmConf};
use crate::params::{Config, Devices};

/// Where the kernel's files are (the real ones except in unit tests).
#[derive(Clone, Debug)]
pub struct Roots {
    pub proc_mdstat: PathBuf,
    pub sys_block: PathBuf,
}

impl Roots {
    pub fn system() -> Roots {
        Roots { proc_mdstat: "/proc/mdstat".into(), sys_block: "/sys/block".into() }
    }
    /// No md driver: /proc/mdstat appears when md_mod is loaded (or built in).
    pub fn has_md(&self) -> bool {
        self.proc_mdstat.exists()
    }
}

/// Read and parse the conf; errors are "wrong on this node" (2) and name file:line.
pub fn load_conf(path: &Path) -> OcfResult<MdadmConf> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OcfError::args(format!("mdadm_conf {}: {e}", path.display())))?;
    mdconf::parse(&text).map_err(|(line, m)| OcfError::args(format!("{}:{line}: {m}", path.display())))
}

/// The devices this instance manages. `auto` needs the conf; an explicit list does not.
pub fn devices(cfg: &Config) -> OcfResult<Vec<String>> {
    match &cfg.devices {
        Devices::List(l) => Ok(l.clone()),
        Devices::Auto => {
            let conf = load_conf(&cfg.conf)?;
            let l: Vec<String> =
                conf.arrays.iter().map(|a| a.dev.clone()).filter(|d| d.starts_with("/dev/")).collect();
            if l.is_empty() {
                return Err(OcfError::args(format!(
                    "md_dev=auto but {} has no ARRAY line with a device",
                    cfg.conf.display()
                )));
            }
            Ok(l)
        }
    }
}

/// The kernel name (`md127`) of a device as given (`/dev/md0`, `/dev/md/web`), or None when
/// no such array is known to the kernel.
pub fn kernel_name(dev: &str) -> Option<String> {
    // /dev/md/NAME is a symlink made by mdadm or udev; /dev/mdN is the kernel's own node.
    if let Ok(target) = std::fs::canonicalize(dev) {
        let base = target.file_name()?.to_string_lossy().into_owned();
        if base.starts_with("md") {
            return Some(base);
        }
    }
    if let Some(n) = dev.strip_prefix("/dev/md/") {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("md{n}"));
        }
    }
    let base = dev.strip_prefix("/dev/")?;
    (base.starts_with("md") && !base.contains('/')).then(|| base.to_string())
}
