//! "A kernel without IPVS / md / nfsd", made true inside the VM: [`ModulesBlocked`] unloads
//! the modules and makes modprobe refuse them until it is dropped.
//!
//! Agents must answer a probe with 7 and a stop with 0 on a node whose kernel lacks what they
//! manage (a container, a kernel with module loading blocked). On Debian's stock kernel the
//! modules are loadable, so those answers can only be tested where the modules are really
//! gone: this guard unloads them (dependents first) and writes `install <module> /bin/false`
//! for each into /etc/modprobe.d (so the kernel's own request_module fails too, as with
//! `modprobe.blacklist` plus no manual loading). It refuses to run outside the VM: on a real
//! machine that would take the machine's own IPVS or RAID away.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::vm::IN_VM_ENV;

/// While alive, the named modules (and every loaded module whose name starts with one of
/// the prefixes) are unloaded and cannot be loaded.
#[derive(Debug)]
pub struct ModulesBlocked {
    conf: PathBuf,
}

impl ModulesBlocked {
    /// `modules`: module names to block (`ip_vs`, `md_mod`, `nfsd`); `prefixes`: loaded
    /// modules to unload first (`ip_vs` for ip_vs_rr, ip_vs_wrr, ...; `raid` for raid1, ...).
    pub fn new(modules: &[&str], prefixes: &[&str]) -> Result<ModulesBlocked> {
        if std::env::var_os(IN_VM_ENV).is_none() {
            bail!(
                "blocking kernel modules ({modules:?}) is done only inside the test VM ({IN_VM_ENV} is not set): \
                 this test belongs to the VM tier"
            );
        }
        std::fs::create_dir_all("/etc/modprobe.d").context("creating /etc/modprobe.d")?;
        let conf = PathBuf::from(format!("/etc/modprobe.d/rha-test-blocked-{}.conf", std::process::id()));
        let text: String = modules.iter().map(|m| format!("install {m} /bin/false\n")).collect();
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        let guard = ModulesBlocked { conf };
        unload(modules, prefixes)?;
        Ok(guard)
    }
}

/// Unloads every loaded module named in `modules` or starting with a prefix, dependents
/// first, retrying while namespaces of earlier tests (which hold IPVS) are being freed.
fn unload(modules: &[&str], prefixes: &[&str]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = std::fs::read_to_string("/proc/modules").context("reading /proc/modules")?;
        // /proc/modules: name size refcount dependents state address.
        let loaded: Vec<(String, String)> = list
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((f.first()?.to_string(), f.get(3).unwrap_or(&"-").to_string()))
            })
            .filter(|(n, _)| modules.contains(&n.as_str()) || prefixes.iter().any(|p| n.starts_with(p)))
            .collect();
        if loaded.is_empty() {
            return Ok(());
        }
        // Modules nothing uses go first (the 4th column lists a module's users).
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        let mut order = loaded.clone();
        order.sort_by_key(|(_, users)| users.split(',').filter(|u| !u.is_empty() && *u != "-").count());
        let o = Command::new("/usr/sbin/rmmod").args(order.iter().map(|(n, _)| n)).output();
        let err = match o {
            Ok(o) if o.status.success() => continue,
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            bail!("cannot unload {names:?}: {err}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for ModulesBlocked {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.conf);
    }
}
