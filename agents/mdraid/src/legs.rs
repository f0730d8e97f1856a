//! The members ("legs") of an array that are present on this node, found the way mdadm's
//! default `DEVICE partitions` does: every block device in /proc/partitions whose md
//! superblock carries the array's UUID. Each device is read directly (a few KiB per device,
//! no mdadm -E or blkid process), so a leg that is missing is simply not found — it never
//! makes the others unreadable (ocf:heartbeat:mdraid's mdadm -E of every leg, PR #1666).

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ocf_shim::deadline::Deadline;

use crate::superblock::{self, Bitmap, Member};

/// One member of an array found on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub path: PathBuf,
    pub member: Member,
    /// The bitmap superblock, when the member has an internal bitmap that could be read.
    pub bitmap: Option<Bitmap>,
}

/// Device names in /proc/partitions' text, in its order. Floppies and optical drives are left
/// out: reading one without a medium can take seconds and they never hold md members.
pub fn partition_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // major minor #blocks name; the header and blank lines do not parse.
            (f.len() == 4 && f[0].parse::<u32>().is_ok()).then(|| f[3].to_string())
        })
        .filter(|n| !n.starts_with("fd") && !n.starts_with("sr"))
        .collect()
}

fn read_at(f: &File, at: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, at).ok()?;
    Some(buf)
}

/// The md superblock of a device (or of a regular file holding a device's image), if it has
/// one. Version 1.x is looked for first, at its three places; then 0.90.
pub fn read_member(path: &Path) -> std::io::Result<Option<(Member, Option<Bitmap>)>> {
    let mut f = File::open(path)?;
    let size = f.seek(SeekFrom::End(0))?;
    for (version, at) in superblock::v1_offsets(size) {
        let Some(buf) = read_at(&f, at, superblock::V1_LEN) else { continue };
        if let Some(m) = superblock::parse_v1(&buf, version, at) {
            let bitmap = m
                .bitmap_at
                .filter(|&b| b.saturating_add(superblock::BITMAP_LEN as u64) <= size)
                .and_then(|b| read_at(&f, b, superblock::BITMAP_LEN))
                .and_then(|buf| superblock::parse_bitmap(&buf));
            return Ok(Some((m, bitmap)));
        }
    }
    if let Some(at) = superblock::v090_offset(size) {
        if let Some(m) = read_at(&f, at, superblock::V090_LEN).and_then(|b| superblock::parse_v090(&b)) {
            return Ok(Some((m, None)));
        }
    }
    Ok(None)
}

/// The legs of the array with this UUID (normalised hex) among /proc/partitions' devices
/// under `dev_dir`. Unreadable devices are skipped (logged at debug); the scan ends early, with
/// what it found, when the deadline is near.
pub fn legs_of(uuid: &str, partitions: &str, dev_dir: &Path, deadline: &Deadline) -> Vec<Leg> {
    let mut legs = Vec::new();
    for name in partition_names(partitions) {
        if deadline.remaining().as_millis() < 200 {
            ocf_shim::warn!("looking for the members of {uuid}: stopped at {name}, the timeout is near");
            break;
        }
        let path = dev_dir.join(&name);
        match read_member(&path) {
            Ok(Some((member, bitmap))) if member.uuid == uuid => legs.push(Leg { path, member, bitmap }),
            Ok(_) => {}
            Err(e) => ocf_shim::debug!("{}: {e}", path.display()),
        }
    }
    legs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn partitions_text() {
        let t = "major minor  #blocks  name\n\n 254        0   52428800 vda\n   7        0     102400 loop0\n  \
                 11        0    1048575 sr0\n   2        0          4 fd0\n   9        0     204800 md0\n";
        assert_eq!(partition_names(t), ["vda", "loop0", "md0"]);
    }

    /// A device image with a 1.2 superblock 4 KiB in and a bitmap 8 sectors after it.
    fn image(dir: &Path, name: &str, bitmap_version: u32) -> PathBuf {
        let mut img = vec![0u8; 1 << 20];
        let sb = &mut img[4096..4096 + superblock::V1_LEN];
        sb[0..4].copy_from_slice(&superblock::MD_MAGIC.to_le_bytes());
        sb[4..8].copy_from_slice(&1u32.to_le_bytes());
        sb[8..12].copy_from_slice(&1u32.to_le_bytes());
        sb[16..32].copy_from_slice(&[0x11; 16]);
        sb[72..76].copy_from_slice(&1i32.to_le_bytes());
        sb[96..100].copy_from_slice(&8i32.to_le_bytes());
        let bm = &mut img[8192..8192 + superblock::BITMAP_LEN];
        bm[0..4].copy_from_slice(&superblock::BITMAP_MAGIC.to_le_bytes());
        bm[4..8].copy_from_slice(&bitmap_version.to_le_bytes());
        bm[68..72].copy_from_slice(&2u32.to_le_bytes());
        bm[72..76].copy_from_slice(b"test");
        let p = dir.join(name);
        File::create(&p).unwrap().write_all(&img).unwrap();
        p
    }

    #[test]
    fn finds_legs_by_uuid_and_reads_their_bitmap() {
        let dir = tempfile::tempdir().unwrap();
        image(dir.path(), "loop0", 5);
        File::create(dir.path().join("loop1")).unwrap().write_all(&[0u8; 65536]).unwrap();
        let parts = "major minor #blocks name\n7 0 1024 loop0\n7 1 64 loop1\n7 2 64 loop2\n";
        let d = Deadline::after(std::time::Duration::from_secs(5));
        let legs = legs_of(&"11".repeat(16), parts, dir.path(), &d);
        assert_eq!(legs.len(), 1, "{legs:?}");
        let b = legs[0].bitmap.as_ref().expect("the bitmap");
        assert!(b.is_clustered());
        assert_eq!(b.cluster_name, "test");
        assert!(legs_of(&"22".repeat(16), parts, dir.path(), &d).is_empty());
    }
}
