//! Start: assemble each array from mdadm_conf only (`mdadm --assemble DEV --config=CONF`,
//! never a scan of everything), wait for its device node, and check monitor says it serves.

use std::path::Path;
use std::time::Duration;

use ocf_shim::{Context, OcfError, OcfResult};

use crate::array::{self, Roots};
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
    if ctx.clone.is_some_and(|c| c.clone_max > 1) && !cfg.force_clones {
        return Err(OcfError::configured(
            "the resource is cloned but force_clones is not set: a non-clustered md array active on \
             several nodes corrupts data (clustered md detection is not implemented)",
        ));
    }
    let devs = array::devices(cfg)?;
    for d in &devs {
        if conf.array_for(d).is_none() {
            return Err(OcfError::args(format!("{d} has no ARRAY line in {}", cfg.conf.display())));
        }
    }
    for (d, h) in monitor::health_all(cfg, &roots)? {
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
