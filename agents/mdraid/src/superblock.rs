//! md member superblocks, read from the member device itself: which array a device belongs to
//! (its array UUID), the RAID level, and whether the array is clustered (an md-cluster
//! bitmap). Pure parsing over byte buffers; [`crate::legs`] does the reading.
//!
//! Layouts are the kernel's (include/uapi/linux/raid/md_p.h, drivers/md/md-bitmap.h):
//! - v1.x: `struct mdp_superblock_1`, little-endian, at the start of the device (1.1), 4 KiB
//!   in (1.2), or 8 KiB from the end rounded down to 4 KiB (1.0). With feature bit 0 the
//!   write-intent bitmap's own superblock is `bitmap_offset` sectors (signed) from it.
//! - v0.90: `mdp_super_t`, host-endian, in the last 64 KiB-aligned 64 KiB of the device. It
//!   has no bitmap field md-cluster could use, so a 0.90 array is never clustered.
//! - bitmap superblock: magic "bitm", version 5 (`BITMAP_MAJOR_CLUSTERED`) for md-cluster,
//!   with the number of node slots and the corosync cluster name.

/// The magic of both md superblock versions.
pub const MD_MAGIC: u32 = 0xa92b_4efc;
/// "bitm" read as a little-endian u32.
pub const BITMAP_MAGIC: u32 = 0x6d74_6962;
/// The bitmap version md-cluster writes (`mdadm --bitmap=clustered`).
pub const BITMAP_MAJOR_CLUSTERED: u32 = 5;
/// Bytes of a v1 superblock that matter here (the fixed part before `dev_roles`).
pub const V1_LEN: usize = 256;
/// Bytes of a bitmap superblock that matter here (up to the end of `cluster_name`).
pub const BITMAP_LEN: usize = 136;
/// Bytes of a v0.90 superblock that matter here (up to `set_uuid3`).
pub const V090_LEN: usize = 64;

/// Where each metadata version keeps its superblock, in bytes from the start of a device of
/// `size` bytes; None when the device is too small for it.
pub fn v1_offsets(size: u64) -> Vec<(Version, u64)> {
    let mut v = Vec::new();
    if size >= 8192 + V1_LEN as u64 {
        v.push((Version::V1_1, 0));
        v.push((Version::V1_2, 4096));
        // mdadm: (sectors - 16) & ~7, in 512-byte sectors.
        let sectors = size / 512;
        v.push((Version::V1_0, ((sectors - 16) & !7) * 512));
    }
    v
}

/// The 0.90 superblock's offset: the last 64 KiB-aligned 64 KiB block.
pub fn v090_offset(size: u64) -> Option<u64> {
    const RESERVED: u64 = 64 * 1024;
    (size >= 2 * RESERVED).then(|| (size & !(RESERVED - 1)) - RESERVED)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0_90,
    V1_0,
    V1_1,
    V1_2,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V0_90 => "0.90",
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

/// What a member's superblock says about its array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub version: Version,
    /// The array's UUID as lower-case hex without separators (as [`crate::mdconf`] keeps it).
    pub uuid: String,
    /// The kernel's level number: -1 linear, 0 raid0, 1, 4, 5, 6, 10 (others are not arrays
    /// of data: -4 multipath, -5 faulty).
    pub level: i32,
    /// Byte offset of the bitmap superblock from the start of the device, when the
    /// superblock says there is an internal bitmap.
    pub bitmap_at: Option<u64>,
}

impl Member {
    /// Levels that keep no per-array state that nodes would update behind each other's back
    /// (no resync, no bitmap): ocf:heartbeat:mdraid lets those be cloned without md-cluster.
    pub fn is_linear_or_raid0(&self) -> bool {
        self.level == -1 || self.level == 0
    }

    pub fn level_name(&self) -> String {
        match self.level {
            -1 => "linear".into(),
            -4 => "multipath".into(),
            -5 => "faulty".into(),
            n => format!("raid{n}"),
        }
    }
}

/// The bitmap superblock's md-cluster fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    pub version: u32,
    /// Node slots (md-cluster); 0 on a plain bitmap.
    pub nodes: u32,
    /// The corosync cluster name recorded at creation (md-cluster); empty on a plain bitmap.
    pub cluster_name: String,
}

impl Bitmap {
    pub fn is_clustered(&self) -> bool {
        self.version == BITMAP_MAJOR_CLUSTERED
    }
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A v1 superblock read at `offset` bytes into its device; None when `buf` is not one (too
/// short, wrong magic or major version). The `bitmap_at` offset is checked to fall inside
/// the device only by the reader.
pub fn parse_v1(buf: &[u8], version: Version, offset: u64) -> Option<Member> {
    if buf.len() < V1_LEN || u32_le(buf, 0) != MD_MAGIC || u32_le(buf, 4) != 1 {
        return None;
    }
    let feature_map = u32_le(buf, 8);
    let level = u32_le(buf, 72) as i32;
    let bitmap_offset = u32_le(buf, 96) as i32;
    let bitmap_at =
        (feature_map & 1 != 0).then(|| offset.checked_add_signed(i64::from(bitmap_offset) * 512)).flatten();
    Some(Member { version, uuid: hex(&buf[16..32]), level, bitmap_at })
}

/// A v0.90 superblock (host-endian words); None when `buf` is not one.
pub fn parse_v090(buf: &[u8]) -> Option<Member> {
    if buf.len() < V090_LEN || u32_ne(buf, 0) != MD_MAGIC || u32_ne(buf, 4) != 0 || u32_ne(buf, 8) != 90 {
        return None;
    }
    // mdadm prints a 0.90 UUID as set_uuid0:1:2:3, each word as eight hex digits.
    let uuid = [20, 52, 56, 60].iter().map(|&at| format!("{:08x}", u32_ne(buf, at))).collect();
    Some(Member { version: Version::V0_90, uuid, level: u32_ne(buf, 28) as i32, bitmap_at: None })
}

/// A bitmap superblock; None when `buf` is not one.
pub fn parse_bitmap(buf: &[u8]) -> Option<Bitmap> {
    if buf.len() < BITMAP_LEN || u32_le(buf, 0) != BITMAP_MAGIC {
        return None;
    }
    let name = &buf[72..136];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some(Bitmap {
        version: u32_le(buf, 4),
        nodes: u32_le(buf, 68),
        cluster_name: String::from_utf8_lossy(&name[..end]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(level: i32, feature: u32, bitmap_offset: i32) -> Vec<u8> {
        let mut b = vec![0u8; V1_LEN];
        b[0..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[8..12].copy_from_slice(&feature.to_le_bytes());
        for (i, x) in b[16..32].iter_mut().enumerate() {
            *x = 0xa0 + i as u8;
        }
        b[72..76].copy_from_slice(&level.to_le_bytes());
        b[96..100].copy_from_slice(&bitmap_offset.to_le_bytes());
        b
    }

    fn bitmap(version: u32, nodes: u32, name: &str) -> Vec<u8> {
        let mut b = vec![0u8; BITMAP_LEN];
        b[0..4].copy_from_slice(&BITMAP_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&version.to_le_bytes());
        b[68..72].copy_from_slice(&nodes.to_le_bytes());
        b[72..72 + name.len()].copy_from_slice(name.as_bytes());
        b
    }

    #[test]
    fn v1_superblock_with_internal_bitmap() {
        let m = parse_v1(&v1(1, 1, 8), Version::V1_2, 4096).expect("a superblock");
        assert_eq!(m.uuid, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
        assert_eq!(m.level, 1);
        assert_eq!(m.bitmap_at, Some(4096 + 8 * 512));
        assert_eq!(m.level_name(), "raid1");
    }

    #[test]
    fn v1_0_bitmap_before_the_superblock() {
        // 1.0 keeps its superblock at the end and the bitmap before it: a negative offset.
        let m = parse_v1(&v1(6, 1, -64), Version::V1_0, 1 << 20).expect("a superblock");
        assert_eq!(m.bitmap_at, Some((1 << 20) - 64 * 512));
        // An offset before the device's start is no bitmap at all.
        assert_eq!(parse_v1(&v1(6, 1, -64), Version::V1_0, 512).unwrap().bitmap_at, None);
    }

    #[test]
    fn no_bitmap_feature_means_no_bitmap() {
        assert_eq!(parse_v1(&v1(0, 0, 8), Version::V1_2, 4096).unwrap().bitmap_at, None);
        assert!(parse_v1(&v1(0, 0, 8), Version::V1_2, 4096).unwrap().is_linear_or_raid0());
        assert!(parse_v1(&v1(-1, 0, 0), Version::V1_1, 0).unwrap().is_linear_or_raid0());
    }

    #[test]
    fn not_a_superblock() {
        let mut b = v1(1, 0, 0);
        assert!(parse_v1(&b[..100], Version::V1_2, 0).is_none());
        b[4] = 2;
        assert!(parse_v1(&b, Version::V1_2, 0).is_none());
        assert!(parse_v1(&[0u8; V1_LEN], Version::V1_2, 0).is_none());
        assert!(parse_bitmap(&[0xffu8; BITMAP_LEN]).is_none());
    }

    #[test]
    fn clustered_bitmap() {
        let b = parse_bitmap(&bitmap(5, 4, "webcluster")).expect("a bitmap");
        assert!(b.is_clustered());
        assert_eq!((b.nodes, b.cluster_name.as_str()), (4, "webcluster"));
        let plain = parse_bitmap(&bitmap(4, 0, "")).expect("a bitmap");
        assert!(!plain.is_clustered());
        // A name filling all 64 bytes has no NUL.
        let long = "x".repeat(64);
        assert_eq!(parse_bitmap(&bitmap(5, 2, &long)).unwrap().cluster_name, long);
    }

    #[test]
    fn v090_superblock() {
        let mut b = vec![0u8; V090_LEN];
        b[0..4].copy_from_slice(&MD_MAGIC.to_ne_bytes());
        b[8..12].copy_from_slice(&90u32.to_ne_bytes());
        b[20..24].copy_from_slice(&0x1234_5678u32.to_ne_bytes());
        b[28..32].copy_from_slice(&0i32.to_ne_bytes());
        b[52..56].copy_from_slice(&0x9abc_def0u32.to_ne_bytes());
        b[56..60].copy_from_slice(&1u32.to_ne_bytes());
        b[60..64].copy_from_slice(&2u32.to_ne_bytes());
        let m = parse_v090(&b).expect("a 0.90 superblock");
        assert_eq!(m.uuid, "123456789abcdef00000000100000002");
        assert!(m.is_linear_or_raid0());
        assert_eq!(m.bitmap_at, None);
    }

    #[test]
    fn offsets() {
        let size = 100 * 1024 * 1024;
        let o = v1_offsets(size);
        assert_eq!(o[0], (Version::V1_1, 0));
        assert_eq!(o[1], (Version::V1_2, 4096));
        assert_eq!(o[2], (Version::V1_0, size - 8192));
        assert!(v1_offsets(4096).is_empty());
        assert_eq!(v090_offset(size), Some(size - 65536));
        assert_eq!(v090_offset(100_000), None);
        // An unaligned size rounds down first.
        assert_eq!(v090_offset(200_000), Some(196_608 - 65_536));
    }
}
