//! Start: assemble each array from mdadm_conf only (`mdadm --assemble DEV --config=CONF`,
//! never a scan of everything), wait for its device node, and check monitor says it serves.

use std::path::Path;
use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult};

use crate::array::{self, Roots};
use crate::clustering::{self, Sharing};
use crate::legs;
use crate::mdconf::{self, MdadmConf};
use crate::monitor::{self, Health};
use crate::params::Config;
use crate::tools;

/// The UUID of a running array (`mdadm --detail --export`), to find ours under another name.
fn running_uuid(kname: &str, ctx: &Context) -> Option<String> {
    let c = tools::mdadm_cmd(&["--detail", "--export", &format!("/dev/{kname}")]).ok()?;
    let (ok, out) = tools::run(c, &ctx.deadline).ok()?;
    if !ok {
        return None;
    }
    out.lines().find_map(|l| l.strip_prefix("MD_UUID=")).map(mdconf::normalise_uuid)
}

/// An array of the conf already assembled by someone else under another kernel name.
fn assembled_elsewhere(conf: &MdadmConf, dev: &str, roots: &Roots, ctx: &Context) -> Option<String> {
    let uuid = conf.array_for(dev)?.uuid.clone()?;
    let text = std::fs::read_to_string(&roots.proc_mdstat).ok()?;
    crate::mdstat::parse(&text).into_iter().map(|m| m.name).find(|k| {
        Some(k.as_str()) != array::kernel_name(dev).as_deref()
            && running_uuid(k, ctx).as_deref() == Some(&uuid)
    })
}

/// Before assembling: a clone needs an array that nodes can share (md-cluster, or linear/raid0
/// as ocf:heartbeat:mdraid allows) unless force_clones; an md-cluster array needs the DLM.
/// Only arrays not yet assembled are read (an assembled one was checked when it started).
fn check_sharing(cfg: &Config, conf: &MdadmConf, dev: &str, cloned: bool, ctx: &Context) -> OcfResult<()> {
    let uuid = conf.array_for(dev).and_then(|a| a.uuid.clone());
    let Some(uuid) = uuid else {
        if cloned && !cfg.force_clones {
            return Err(OcfError::configured(format!(
                "{dev}: its ARRAY line in {} has no UUID=, so whether the array may be cloned \
                 (md-cluster) cannot be told: add UUID= or set force_clones",
                cfg.conf.display()
            )));
        }
        return Ok(());
    };
    let partitions = std::fs::read_to_string("/proc/partitions").unwrap_or_default();
    let legs = legs::legs_of(&uuid, &partitions, Path::new("/dev"), &ctx.deadline);
    if legs.is_empty() {
        if cloned && !cfg.force_clones {
            return Err(OcfError::installed(format!(
                "{dev}: no member of the array (UUID {uuid}) is on this node, so whether it may \
                 be cloned cannot be told"
            )));
        }
        // mdadm --assemble says what is missing.
        return Ok(());
    }
    let sharing = clustering::sharing(dev, &legs)?;
    match &sharing {
        Sharing::Clustered { cluster_name, .. } => {
            if clustering::dlm_missing(Path::new("/sys/kernel/config")) {
                return Err(OcfError::generic(format!(
                    "{dev} is an md-cluster array (cluster '{cluster_name}') and the DLM is not \
                     running on this node (no /sys/kernel/config/dlm/cluster): start dlm_controld \
                     first (a cloned ocf:pacemaker:controld ordered before this resource)"
                )));
            }
            ocf_shim::debug!(
                "{dev}: md-cluster array of cluster '{cluster_name}' ({} members here)",
                legs.len()
            );
        }
        Sharing::Stateless { level } if cloned => {
            ocf_shim::info!("{dev} is {level}: no array state is shared, so it may be cloned");
        }
        Sharing::Local { why } if cloned && !cfg.force_clones => {
            return Err(OcfError::configured(format!(
                "the resource is cloned and {dev} is not a clustered array ({why}): active on \
                 several nodes it corrupts data; create it with mdadm --bitmap=clustered, or set \
                 force_clones if something else keeps the nodes apart"
            )));
        }
        _ => {}
    }
    Ok(())
}

pub fn start(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    ctx.require_root()?;
    let roots = Roots::system();
    if !roots.has_md() {
        return Err(OcfError::installed(
            "this kernel has no md support (/proc/mdstat is missing; modprobe md_mod)",
        ));
    }
    tools::mdadm()?;
    let conf = array::load_conf(&cfg.conf)?;
    let devs = array::devices(cfg)?;
    for d in &devs {
        if conf.array_for(d).is_none() {
            return Err(OcfError::args(format!("{d} has no ARRAY line in {}", cfg.conf.display())));
        }
    }
    // Every array is checked before the first is assembled: nothing is left half-done.
    let health = monitor::health_all(cfg, &roots)?;
    let cloned = ctx.clone.is_some_and(|c| c.clone_max > 1);
    for (d, h) in &health {
        if matches!(h, Health::Absent) {
            check_sharing(cfg, &conf, d, cloned, ctx)?;
        }
    }
    for (d, h) in health {
        match h {
            Health::Absent => {}
            // An inactive array before our assembly is typically udev's incremental assembly
            // having taken some members: say what to change rather than stop it ourselves.
            Health::Failed(why) => {
                return Err(OcfError::generic(format!(
                    "{d} is assembled but broken: {why}; if the system assembled it (udev \
                     incremental assembly), put 'AUTO -all' in /etc/mdadm/mdadm.conf and \
                     mdadm --stop it"
                )));
            }
            _ => {
                ocf_shim::info!("{d} is already assembled");
                continue;
            }
        }
        if let Some(other) = assembled_elsewhere(&conf, &d, &roots, ctx) {
            return Err(OcfError::generic(format!(
                "{d} (UUID from {}) is already assembled as /dev/{other}, probably by the system's \
                 auto-assembly: stop it (mdadm --stop /dev/{other}) and put 'AUTO -all' in \
                 /etc/mdadm/mdadm.conf",
                cfg.conf.display()
            )));
        }
        let conf_arg = format!("--config={}", cfg.conf.display());
        let mut args = vec!["--assemble", d.as_str(), conf_arg.as_str()];
        let hh;
        if let Some(h) = &cfg.homehost {
            hh = format!("--homehost={h}");
            args.push(&hh);
        }
        let (ok, out) = tools::run(tools::mdadm_cmd(&args)?, &ctx.deadline)?;
        if !ok {
            return Err(OcfError::generic(format!("mdadm --assemble {d} failed: {}", one_line(&out))));
        }
        ocf_shim::info!("assembled {d}: {}", one_line(&out));
        if cfg.wait_for_udev {
            tools::udev_settle(&d, &ctx.deadline);
        }
        if !ctx.deadline.wait_for(Duration::from_millis(50), || Path::new(&d).exists()) {
            return Err(OcfError::generic(format!("{d} did not appear after assembly")));
        }
    }
    // Verify: every array serves (degraded or syncing is serving).
    for (d, h) in monitor::health_all(cfg, &roots)? {
        match h {
            Health::Absent => {
                return Err(OcfError::generic(format!("{d} is not assembled after mdadm --assemble")));
            }
            Health::Failed(why) => return Err(OcfError::generic(why)),
            Health::Degraded(why) => ocf_shim::warn!("{why}"),
            Health::Syncing(what) => ocf_shim::info!("{what}"),
            Health::Clean => {}
        }
    }
    Ok(())
}

pub fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}
