//! Monitor: /proc/mdstat and /sys/block/mdX/md only, never an mdadm process (it runs every
//! few seconds on every node); level 10 adds [`readcheck`]'s O_DIRECT read of each array.
//! [`assess`] is pure over what was read, so it is unit-tested.

use ocf_shim::{Context, OcfCode, OcfError, OcfResult, Status};

use crate::array::{self, Roots};
use crate::mdstat::{self, MdstatArray};
use crate::params::Config;
use crate::readcheck;
use crate::sysfs::{self, ArrayState, MdSysfs};

/// What one array is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// Not assembled (no sysfs md directory, or `clear`).
    Absent,
    Clean,
    /// Serving without full redundancy: what is missing.
    Degraded(String),
    /// Serving, (re)building: what and how far.
    Syncing(String),
    /// Not serving, or not writable: why.
    Failed(String),
}

/// Judge one array from its sysfs state and its /proc/mdstat entry.
pub fn assess(name: &str, sys: Option<&MdSysfs>, stat: Option<&MdstatArray>) -> Health {
    let Some(s) = sys else { return Health::Absent };
    match s.state {
        ArrayState::Clear => return Health::Absent,
        ArrayState::Inactive => {
            return Health::Failed(format!("{name} is inactive (assembled without enough members to run)"));
        }
        ArrayState::Readonly => return Health::Failed(format!("{name} is read-only")),
        ArrayState::Suspended => return Health::Failed(format!("{name} is suspended")),
        ArrayState::Broken => {
            return Health::Failed(format!("{name} is broken (a member of a {} is missing)", s.level));
        }
        _ => {}
    }
    if stat.is_some_and(|m| m.read_only) && s.state != ArrayState::ReadAuto {
        return Health::Failed(format!("{name} is read-only"));
    }
    let faulty: Vec<&str> = s.devs.iter().filter(|d| d.faulty()).map(|d| d.name.as_str()).collect();
    let working = s.devs.iter().filter(|d| d.in_sync() && !d.faulty()).count() as u32;
    let missing = s.degraded.unwrap_or_else(|| s.raid_disks.saturating_sub(working));
    if missing > 0 || !faulty.is_empty() {
        let mut what = Vec::new();
        if !faulty.is_empty() {
            what.push(format!("faulty: {}", faulty.join(", ")));
        }
        if missing > 0 {
            what.push(format!("{missing} of {} members missing or not in sync", s.raid_disks));
        }
        let what = what.join("; ");
        if missing > sysfs::tolerated_failures(&s.level, s.raid_disks) {
            return Health::Failed(format!("{name} ({}) has failed: {what}", s.level));
        }
        if let Some(p) = progress(s, stat) {
            return Health::Degraded(format!("{name} ({}) is degraded, {p}: {what}", s.level));
        }
        return Health::Degraded(format!("{name} ({}) is degraded: {what}", s.level));
    }
    match progress(s, stat) {
        Some(p) => Health::Syncing(format!("{name} ({}) {p}", s.level)),
        None => Health::Clean,
    }
}

fn progress(s: &MdSysfs, stat: Option<&MdstatArray>) -> Option<String> {
    let action = s.sync_action.as_deref().filter(|a| !matches!(*a, "idle" | "frozen"))?;
    Some(match (s.sync_completed, stat.and_then(|m| m.progress.as_ref())) {
        (Some((d, t)), _) if t > 0 => format!("{action} {:.1}% done", d as f64 * 100.0 / t as f64),
        (_, Some((_, p))) => format!("{action} {p:.1}% done"),
        _ => format!("{action} pending"),
    })
}

/// The health of every array of the instance, by device as given.
pub fn health_all(cfg: &Config, roots: &Roots) -> OcfResult<Vec<(String, Health)>> {
    let devs = array::devices(cfg)?;
    let text = match std::fs::read_to_string(&roots.proc_mdstat) {
        Ok(t) => t,
        Err(_) => return Ok(devs.into_iter().map(|d| (d, Health::Absent)).collect()),
    };
    let stat = mdstat::parse(&text);
    Ok(devs
        .into_iter()
        .map(|d| {
            let h = match array::kernel_name(&d) {
                None => Health::Absent,
                Some(k) => {
                    let st = stat.iter().find(|m| m.name == k);
                    let sys = sysfs::read(&roots.sys_block, &k);
                    // The sysfs directory can outlive the array briefly: mdstat decides.
                    if st.is_none() { Health::Absent } else { assess(&d, sys.as_ref(), st) }
                }
            };
            (d, h)
        })
        .collect())
}

/// The OCF answer for all arrays together.
pub fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    let all = health_all(cfg, &Roots::system())?;
    let absent: Vec<&str> =
        all.iter().filter(|(_, h)| *h == Health::Absent).map(|(d, _)| d.as_str()).collect();
    if absent.len() == all.len() {
        return Ok(Status::NotRunning);
    }
    if !absent.is_empty() {
        return Err(OcfError::generic(format!("partly assembled: {} not assembled", absent.join(", "))));
    }
    let mut degraded = Vec::new();
    for (_, h) in &all {
        match h {
            Health::Failed(why) => return Err(OcfError::generic(why.clone())),
            Health::Degraded(why) => degraded.push(why.clone()),
            Health::Syncing(what) => ocf_shim::info!("{what}"),
            Health::Clean | Health::Absent => {}
        }
    }
    if ctx.check_level >= 10 {
        for (dev, _) in &all {
            readcheck::read_within(dev, ctx.deadline.remaining())
                .map_err(|f| OcfError::generic(f.report(dev)))?;
        }
    }
    if degraded.is_empty() {
        return Ok(Status::Running);
    }
    let why = degraded.join("; ");
    if ctx.ocf_1_1 {
        return Err(OcfError::new(OcfCode::Degraded, why));
    }
    ocf_shim::warn!("{why}");
    Ok(Status::Running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::DevState;

    fn sys(level: &str, disks: u32, degraded: u32, devs: &[(&str, &str)]) -> MdSysfs {
        MdSysfs {
            state: ArrayState::Clean,
            level: level.into(),
            raid_disks: disks,
            degraded: Some(degraded),
            sync_action: Some("idle".into()),
            sync_completed: None,
            devs: devs
                .iter()
                .map(|(n, f)| DevState { name: n.to_string(), flags: sysfs::parse_dev_state(f) })
                .collect(),
        }
    }

    #[test]
    fn raid6_loses_two_and_serves_a_third_fails() {
        let ok = [
            ("loop0", "in_sync"),
            ("loop1", "in_sync"),
            ("loop2", "in_sync"),
            ("loop3", "in_sync"),
            ("loop4", "in_sync"),
        ];
        assert_eq!(assess("/dev/md0", Some(&sys("raid6", 5, 0, &ok)), None), Health::Clean);
        let one = [
            ("loop0", "faulty"),
            ("loop1", "in_sync"),
            ("loop2", "in_sync"),
            ("loop3", "in_sync"),
            ("loop4", "in_sync"),
        ];
        match assess("/dev/md0", Some(&sys("raid6", 5, 1, &one)), None) {
            Health::Degraded(w) => assert!(w.contains("faulty: loop0") && w.contains("1 of 5"), "{w}"),
            h => panic!("{h:?}"),
        }
        let two = [("loop1", "in_sync"), ("loop2", "in_sync"), ("loop3", "in_sync")];
        assert!(matches!(assess("/dev/md0", Some(&sys("raid6", 5, 2, &two)), None), Health::Degraded(_)));
        let three = [("loop2", "in_sync"), ("loop3", "in_sync")];
        assert!(matches!(assess("/dev/md0", Some(&sys("raid6", 5, 3, &three)), None), Health::Failed(_)));
    }

    #[test]
    fn states_absent_inactive_readonly_and_sync() {
        assert_eq!(assess("/dev/md0", None, None), Health::Absent);
        let mut s = sys("raid1", 2, 0, &[("loop0", "in_sync"), ("loop1", "in_sync")]);
        s.state = ArrayState::Inactive;
        assert!(matches!(assess("/dev/md0", Some(&s), None), Health::Failed(w) if w.contains("inactive")));
        s.state = ArrayState::Readonly;
        assert!(matches!(assess("/dev/md0", Some(&s), None), Health::Failed(w) if w.contains("read-only")));
        s.state = ArrayState::ReadAuto;
        assert_eq!(assess("/dev/md0", Some(&s), None), Health::Clean);
        s.state = ArrayState::Active;
        s.sync_action = Some("resync".into());
        s.sync_completed = Some((512, 2048));
        assert!(
            matches!(assess("/dev/md0", Some(&s), None), Health::Syncing(w) if w.contains("resync 25.0%"))
        );
        let r0 = sys("raid0", 2, 0, &[("loop0", "in_sync")]);
        let mut r0 = r0;
        r0.degraded = None;
        assert!(matches!(assess("/dev/md0", Some(&r0), None), Health::Failed(_)));
    }
}
