//! Upstream's search for the configuration file, and the instance name.

use std::path::{Path, PathBuf};

/// The file upstream reads when no configuration is named.
pub const DEFAULT_CONFIG: &str = "ldirectord.cf";
/// The instance name when no configuration is named (pid file /run/ldirectord.ldirectord.pid,
/// as the systemd unit of Debian's ldirectord expects).
pub const DEFAULT_NAME: &str = "ldirectord";

/// Upstream's look-up under /etc: see [`lookup_in`].
pub fn lookup(cfg: Option<&str>) -> (PathBuf, String) {
    lookup_in(Path::new("/etc"), cfg)
}

/// `<etc>/ha.d/<cfg>` if it is a file, else `<etc>/ha.d/conf/<cfg>`, else `<cfg>` as given
/// (which may not exist: reading it then gives the error). `cfg` defaults to `ldirectord.cf`.
/// The instance name (for the pid file `/run/ldirectord.<name>.pid`) is the last path
/// component of `cfg` as given, or `ldirectord` when none was given — upstream's rule, so
/// `ldirectord ldirectord.cf start` is instance `ldirectord.cf`.
pub fn lookup_in(etc: &Path, cfg: Option<&str>) -> (PathBuf, String) {
    let (given, name) = match cfg {
        None => (DEFAULT_CONFIG, DEFAULT_NAME.to_string()),
        Some(c) => {
            let name = c.rsplit('/').find(|s| !s.is_empty()).unwrap_or(c).to_string();
            (c, name)
        }
    };
    // Joining an absolute path would replace the prefix; upstream concatenates strings
    // ("/etc/ha.d//abs"), which names the same file only by accident, so an absolute path
    // is simply taken as it is.
    if !given.starts_with('/') {
        for dir in ["ha.d", "ha.d/conf"] {
            let p = etc.join(dir).join(given);
            if p.is_file() {
                return (p, name);
            }
        }
    }
    (PathBuf::from(given), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_and_names() {
        let etc = tempfile::tempdir().unwrap();
        let e = etc.path();
        std::fs::create_dir_all(e.join("ha.d/conf")).unwrap();
        // Nothing there: the literal path.
        assert_eq!(lookup_in(e, Some("web.cf")), (PathBuf::from("web.cf"), "web.cf".into()));
        assert_eq!(lookup_in(e, None), (PathBuf::from("ldirectord.cf"), "ldirectord".into()));
        std::fs::write(e.join("ha.d/conf/web.cf"), "").unwrap();
        assert_eq!(lookup_in(e, Some("web.cf")), (e.join("ha.d/conf/web.cf"), "web.cf".into()));
        std::fs::write(e.join("ha.d/web.cf"), "").unwrap();
        assert_eq!(lookup_in(e, Some("web.cf")), (e.join("ha.d/web.cf"), "web.cf".into()));
        std::fs::write(e.join("ha.d/ldirectord.cf"), "").unwrap();
        assert_eq!(lookup_in(e, None), (e.join("ha.d/ldirectord.cf"), "ldirectord".into()));
        // A directory of that name is not the file.
        std::fs::create_dir_all(e.join("ha.d/dir.cf")).unwrap();
        assert_eq!(lookup_in(e, Some("dir.cf")).0, PathBuf::from("dir.cf"));
        // Absolute paths are taken as they are; the name is the last component.
        assert_eq!(
            lookup_in(e, Some("/srv/lb/pool.cf")),
            (PathBuf::from("/srv/lb/pool.cf"), "pool.cf".into())
        );
        assert_eq!(lookup_in(e, Some("sub/x.cf")), (PathBuf::from("sub/x.cf"), "x.cf".into()));
    }
}
