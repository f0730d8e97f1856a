//! The per-directory backup of /var/lib/nfs/rmtab (NFSv3 clients' mount records), so that
//! the node that takes over knows the mounts. Written only when its content changes: a
//! monitor every 10 s must neither rewrite the file nor log (upstream PR #1828).

use std::path::{Path, PathBuf};

/// The rmtab lines (`host:dir:count`) of one directory.
pub fn lines_for(rmtab: &str, dir: &str) -> Vec<String> {
    let needle = format!(":{dir}:");
    rmtab.lines().filter(|l| l.contains(&needle)).map(str::to_string).collect()
}

fn backup_path(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}

/// Write the backup if it differs; true if it was written.
pub fn backup(rmtab: &Path, dir: &str, name: &str) -> std::io::Result<bool> {
    let table = match std::fs::read_to_string(rmtab) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut want = lines_for(&table, dir).join("\n");
    if !want.is_empty() {
        want.push('\n');
    }
    let path = backup_path(dir, name);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(want.as_str()) {
        return Ok(false);
    }
    ocf_shim::state::write_atomic(&path, want.as_bytes())?;
    Ok(true)
}

/// Merge the backup's lines into rmtab (kept unique); true if rmtab changed.
pub fn restore(rmtab: &Path, dir: &str, name: &str) -> std::io::Result<bool> {
    let saved = match std::fs::read_to_string(backup_path(dir, name)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let table = std::fs::read_to_string(rmtab).unwrap_or_default();
    let mut lines: Vec<&str> = table.lines().collect();
    let before = lines.len();
    for l in saved.lines() {
        if !l.is_empty() && !lines.contains(&l) {
            lines.push(l);
        }
    }
    if lines.len() == before {
        return Ok(false);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    ocf_shim::state::write_atomic(rmtab, text.as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_only_on_change_and_restore_merges() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("export");
        std::fs::create_dir(&dir).unwrap();
        let dir = dir.to_str().unwrap().to_string();
        let rmtab = d.path().join("rmtab");
        std::fs::write(&rmtab, format!("10.0.10.5:{dir}:0x00000001\n10.0.10.6:/other:0x00000001\n")).unwrap();
        assert!(backup(&rmtab, &dir, ".rmtab").unwrap());
        assert!(!backup(&rmtab, &dir, ".rmtab").unwrap());
        std::fs::write(&rmtab, "").unwrap();
        assert!(restore(&rmtab, &dir, ".rmtab").unwrap());
        assert!(!restore(&rmtab, &dir, ".rmtab").unwrap());
        assert_eq!(std::fs::read_to_string(&rmtab).unwrap(), format!("10.0.10.5:{dir}:0x00000001\n"));
    }
}
