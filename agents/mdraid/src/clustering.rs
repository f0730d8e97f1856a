//! Whether an array may be active on several nodes at once (a clone), and whether the DLM an
//! md-cluster array needs is running here. Decided from the legs present on this node
//! ([`crate::legs`]): one readable leg is enough, a missing one changes nothing.

use std::path::Path;

use ocf_shim::{OcfError, OcfResult};

use crate::legs::Leg;

/// What the legs say about sharing the array between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// An md-cluster bitmap (`mdadm --create --bitmap=clustered`) on the legs.
    Clustered { cluster_name: String, nodes: u32 },
    /// linear or raid0: no resync and no bitmap, so nodes write no array state
    /// (ocf:heartbeat:mdraid lets these be cloned; the data on top still needs a cluster
    /// filesystem).
    Stateless { level: String },
    /// Neither: active on two nodes, their superblock and bitmap updates corrupt each other.
    Local { why: String },
}

fn names(legs: &[&Leg]) -> String {
    legs.iter().map(|l| l.path.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Classify an array from its legs (at least one). Legs that disagree about the bitmap are a
/// configuration error naming both kinds: the UUID is shared by devices of different arrays
/// (a copied disk image, a stale member).
pub fn sharing(dev: &str, legs: &[Leg]) -> OcfResult<Sharing> {
    let (clustered, plain): (Vec<&Leg>, Vec<&Leg>) =
        legs.iter().partition(|l| l.bitmap.as_ref().is_some_and(|b| b.is_clustered()));
    if let Some(first) = clustered.first() {
        if !plain.is_empty() {
            return Err(OcfError::configured(format!(
                "{dev}: the members disagree: {} have an md-cluster bitmap, {} do not; devices \
                 of different arrays share its UUID (a copied disk or a stale member)",
                names(&clustered),
                names(&plain)
            )));
        }
        let b = first.bitmap.as_ref().expect("partitioned on the bitmap");
        return Ok(Sharing::Clustered { cluster_name: b.cluster_name.clone(), nodes: b.nodes });
    }
    if !legs.is_empty() && legs.iter().all(|l| l.member.is_linear_or_raid0()) {
        return Ok(Sharing::Stateless { level: legs[0].member.level_name() });
    }
    let all: Vec<&Leg> = legs.iter().collect();
    let level = legs.first().map(|l| l.member.level_name()).unwrap_or_default();
    let bitmap = if legs.iter().any(|l| l.bitmap.is_some()) { "a plain bitmap" } else { "no bitmap" };
    Ok(Sharing::Local { why: format!("{level} with {bitmap} on {}", names(&all)) })
}

/// md-cluster joins a DLM lockspace at assembly; without dlm_controld the kernel refuses with
/// an opaque error. dlm_controld creates this configfs directory when it starts. When configfs
/// is not mounted at all we cannot tell, and leave the answer to mdadm.
pub fn dlm_missing(configfs: &Path) -> bool {
    configfs.is_dir() && !configfs.join("dlm/cluster").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::superblock::{Bitmap, Member, Version};

    fn leg(path: &str, level: i32, bitmap: Option<u32>) -> Leg {
        Leg {
            path: path.into(),
            member: Member { version: Version::V1_2, uuid: "11".repeat(16), level, bitmap_at: None },
            bitmap: bitmap.map(|v| Bitmap { version: v, nodes: 4, cluster_name: "web".into() }),
        }
    }

    #[test]
    fn one_clustered_leg_is_enough() {
        let s = sharing("/dev/md0", &[leg("/dev/loop1", 1, Some(5))]).unwrap();
        assert_eq!(s, Sharing::Clustered { cluster_name: "web".into(), nodes: 4 });
    }

    #[test]
    fn legs_that_disagree_are_named() {
        let e =
            sharing("/dev/md0", &[leg("/dev/loop0", 1, Some(5)), leg("/dev/loop1", 1, Some(4))]).unwrap_err();
        assert_eq!(e.code, ocf_shim::OcfCode::ErrConfigured);
        assert!(e.reason.contains("/dev/loop0 have") && e.reason.contains("/dev/loop1 do not"), "{e:?}");
    }

    #[test]
    fn raid0_and_linear_are_stateless() {
        assert_eq!(
            sharing("/dev/md0", &[leg("/dev/a", 0, None), leg("/dev/b", 0, None)]).unwrap(),
            Sharing::Stateless { level: "raid0".into() }
        );
        assert!(matches!(
            sharing("/dev/md0", &[leg("/dev/a", -1, None)]).unwrap(),
            Sharing::Stateless { .. }
        ));
    }

    #[test]
    fn anything_else_is_local_with_the_reason() {
        let Sharing::Local { why } =
            sharing("/dev/md0", &[leg("/dev/a", 1, Some(4)), leg("/dev/b", 1, Some(4))]).unwrap()
        else {
            panic!("not local")
        };
        assert_eq!(why, "raid1 with a plain bitmap on /dev/a, /dev/b");
        let Sharing::Local { why } = sharing("/dev/md0", &[leg("/dev/a", 6, None)]).unwrap() else {
            panic!()
        };
        assert_eq!(why, "raid6 with no bitmap on /dev/a");
    }

    #[test]
    fn dlm_presence_from_configfs() {
        let d = tempfile::tempdir().unwrap();
        assert!(dlm_missing(d.path()));
        std::fs::create_dir_all(d.path().join("dlm/cluster")).unwrap();
        assert!(!dlm_missing(d.path()));
        assert!(!dlm_missing(&d.path().join("not-mounted")));
    }
}
