//! ocf:rha:mdraid's readers of md member superblocks (v1.x, v0.90) and of the write-intent
//! bitmap's superblock, on any bytes a device might hold: never a panic; a superblock only
//! where the magic (and version) is; a UUID of 32 lower-case hex digits; a bitmap offset
//! never before the device's start; a cluster name that holds no NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rha_mdraid::superblock::{self, MD_MAGIC, Version};

fn hex32(u: &str) -> bool {
    u.len() == 32 && u.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose where the superblock "was read" (any u64 offset).
    let (offset, buf) = match data.split_first_chunk::<8>() {
        Some((o, rest)) => (u64::from_le_bytes(*o), rest),
        None => (0, data),
    };
    for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
        if let Some(m) = superblock::parse_v1(buf, v, offset) {
            assert_eq!(u32::from_le_bytes(buf[0..4].try_into().unwrap()), MD_MAGIC);
            assert!(hex32(&m.uuid), "uuid {:?}", m.uuid);
            assert_eq!(m.version, v);
            let _ = m.level_name();
        }
    }
    if let Some(m) = superblock::parse_v090(buf) {
        assert!(hex32(&m.uuid), "uuid {:?}", m.uuid);
        assert_eq!(m.bitmap_at, None);
    }
    if let Some(b) = superblock::parse_bitmap(buf) {
        assert!(!b.cluster_name.contains('\0'), "{b:?}");
        assert!(b.cluster_name.len() <= 64 * 3, "{b:?}");
        let _ = b.is_clustered();
    }
    // Where each version looks, for any device size: inside the device.
    for (_, at) in superblock::v1_offsets(offset) {
        assert!(at + superblock::V1_LEN as u64 <= offset, "v1 at {at} of {offset}");
    }
    if let Some(at) = superblock::v090_offset(offset) {
        assert!(at + 65536 <= offset, "0.90 at {at} of {offset}");
    }
});
