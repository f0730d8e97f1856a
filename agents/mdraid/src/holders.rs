//! Who keeps an array busy: mounts (/proc/self/mountinfo by major:minor), holder devices
//! (/sys/block/mdX/holders: LVM, dm-crypt, another md) and processes with it open (/proc/*/fd).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The `major:minor` of a block device node, from sysfs (`/sys/block/mdX/dev`).
pub fn dev_numbers(sys_block: &Path, kname: &str) -> Option<(u32, u32)> {
    let s = std::fs::read_to_string(sys_block.join(kname).join("dev")).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Mount points of the device, from mountinfo text (field 3 is major:minor, 5 the mount point).
pub fn mounts_in(mountinfo: &str, dev: (u32, u32)) -> Vec<String> {
    let want = format!("{}:{}", dev.0, dev.1);
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[2] == want).then(|| unescape(f[4]))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn mounts(dev: (u32, u32)) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| mounts_in(&t, dev)).unwrap_or_default()
}

/// Devices stacked on the array (dm-0, md1, ...), with a dm name when there is one.
pub fn holder_devices(sys_block: &Path, kname: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(sys_block.join(kname).join("holders")) else { return Vec::new() };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            match std::fs::read_to_string(sys_block.join(&n).join("dm/name")) {
                Ok(dm) => format!("{n} ({})", dm.trim()),
                Err(_) => n,
            }
        })
        .collect();
    v.sort();
    v
}

/// Processes with the block device open, as (pid, command); never this process.
pub fn processes(dev: (u32, u32)) -> Vec<(i32, String)> {
    let rdev = libc::makedev(dev.0, dev.1);
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::metadata(fd.path()).is_ok_and(|m| m.file_type().is_block_device() && m.rdev() == rdev)
        });
        if holds {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default().trim().to_string();
            out.push((pid, comm));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_by_device_number_with_escapes() {
        let mi = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                  40 22 9:0 / /srv/web\\040content rw - ext4 /dev/md0 rw\n\
                  41 22 9:0 /sub /mnt/bind rw - ext4 /dev/md0 rw\n\
                  42 22 9:1 / /other rw - ext4 /dev/md1 rw\n";
        assert_eq!(mounts_in(mi, (9, 0)), vec!["/srv/web content", "/mnt/bind"]);
        assert!(mounts_in(mi, (9, 5)).is_empty());
        assert!(mounts_in("garbage\n\\\n", (9, 0)).is_empty());
        assert_eq!(unescape("a\\"), "a\\");
    }
}
