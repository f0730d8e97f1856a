//! `/sys/block/mdX/md/*`: the array's state as the kernel keeps it (md(4)). The parsers are
//! pure; [`read`] gathers the files of one array.

use std::path::Path;

/// `array_state` (md(4)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayState {
    Clear,
    Inactive,
    Suspended,
    Readonly,
    /// Read-only until the first write (a freshly assembled array): serving.
    ReadAuto,
    Clean,
    Active,
    WritePending,
    ActiveIdle,
    /// raid0/linear with a member gone (kernel 5.9+).
    Broken,
    Unknown,
}

pub fn parse_array_state(s: &str) -> ArrayState {
    match s.trim() {
        "clear" => ArrayState::Clear,
        "inactive" => ArrayState::Inactive,
        "suspended" => ArrayState::Suspended,
        "readonly" => ArrayState::Readonly,
        "read-auto" => ArrayState::ReadAuto,
        "clean" => ArrayState::Clean,
        "active" => ArrayState::Active,
        "write-pending" => ArrayState::WritePending,
        "active-idle" => ArrayState::ActiveIdle,
        "broken" => ArrayState::Broken,
        _ => ArrayState::Unknown,
    }
}

/// `sync_completed`: `none`, or `done / total` in sectors.
pub fn parse_sync_completed(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.trim().split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// `dev-*/state`: comma-separated flags (`in_sync`, `faulty`, `spare`, `write_mostly`, ...).
pub fn parse_dev_state(s: &str) -> Vec<String> {
    s.trim().split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_string).collect()
}

/// One member as sysfs shows it (`dev-loop3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevState {
    pub name: String,
    pub flags: Vec<String>,
}

impl DevState {
    pub fn faulty(&self) -> bool {
        self.flags.iter().any(|f| f == "faulty")
    }
    pub fn in_sync(&self) -> bool {
        self.flags.iter().any(|f| f == "in_sync")
    }
}

/// Everything monitor reads about one array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdSysfs {
    pub state: ArrayState,
    pub level: String,
    pub raid_disks: u32,
    /// Missing or faulty slots (`degraded`); None for levels without redundancy.
    pub degraded: Option<u32>,
    pub sync_action: Option<String>,
    pub sync_completed: Option<(u64, u64)>,
    pub devs: Vec<DevState>,
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// Read `/sys/block/<name>/md`; None when the directory is gone (not assembled).
pub fn read(sys_block: &Path, name: &str) -> Option<MdSysfs> {
    let md = sys_block.join(name).join("md");
    let state = parse_array_state(&read_trim(&md.join("array_state"))?);
    let mut devs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&md) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(dev) = n.strip_prefix("dev-") {
                let flags =
                    read_trim(&e.path().join("state")).map(|s| parse_dev_state(&s)).unwrap_or_default();
                devs.push(DevState { name: dev.to_string(), flags });
            }
        }
    }
    devs.sort_by(|a, b| a.name.cmp(&b.name));
    Some(MdSysfs {
        state,
        level: read_trim(&md.join("level")).unwrap_or_default(),
        raid_disks: read_trim(&md.join("raid_disks")).and_then(|s| s.parse().ok()).unwrap_or(0),
        degraded: read_trim(&md.join("degraded")).and_then(|s| s.parse().ok()),
        sync_action: read_trim(&md.join("sync_action")),
        sync_completed: read_trim(&md.join("sync_completed")).and_then(|s| parse_sync_completed(&s)),
        devs,
    })
}

/// How many members a level can lose and still serve (raid10 depends on the layout: we
/// count the common near-2 case, the kernel's `degraded` and array_state say the rest).
pub fn tolerated_failures(level: &str, raid_disks: u32) -> u32 {
    match level {
        "raid1" => raid_disks.saturating_sub(1),
        "raid4" | "raid5" => 1,
        "raid6" => 2,
        "raid10" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_progress_and_flags() {
        assert_eq!(parse_array_state("clean\n"), ArrayState::Clean);
        assert_eq!(parse_array_state("read-auto"), ArrayState::ReadAuto);
        assert_eq!(parse_array_state("broken"), ArrayState::Broken);
        assert_eq!(parse_array_state("something-new"), ArrayState::Unknown);
        assert_eq!(parse_sync_completed("none\n"), None);
        assert_eq!(parse_sync_completed("1024 / 4096\n"), Some((1024, 4096)));
        assert_eq!(parse_sync_completed("x / 1"), None);
        assert_eq!(parse_dev_state("faulty,write_mostly\n"), vec!["faulty", "write_mostly"]);
        assert!(parse_dev_state("\n").is_empty());
        assert_eq!(tolerated_failures("raid6", 5), 2);
        assert_eq!(tolerated_failures("raid1", 3), 2);
        assert_eq!(tolerated_failures("raid0", 2), 0);
    }

    #[test]
    fn reads_a_sysfs_tree() {
        let d = tempfile::tempdir().unwrap();
        let md = d.path().join("md0/md");
        for (dev, st) in [("loop0", "in_sync"), ("loop1", "faulty")] {
            std::fs::create_dir_all(md.join(format!("dev-{dev}"))).unwrap();
            std::fs::write(md.join(format!("dev-{dev}/state")), format!("{st}\n")).unwrap();
        }
        for (f, v) in [
            ("array_state", "clean"),
            ("level", "raid1"),
            ("raid_disks", "2"),
            ("degraded", "1"),
            ("sync_action", "idle"),
            ("sync_completed", "none"),
        ] {
            std::fs::write(md.join(f), format!("{v}\n")).unwrap();
        }
        let s = read(d.path(), "md0").unwrap();
        assert_eq!(s.state, ArrayState::Clean);
        assert_eq!(s.degraded, Some(1));
        assert_eq!(s.devs.len(), 2);
        assert!(s.devs[1].faulty() && s.devs[0].in_sync());
        assert!(read(d.path(), "md9").is_none());
    }
}
