//! Making a directory of our agents appear as /usr/lib/ocf/resource.d/rha inside the nodes.
//!
//! Binding straight onto the host's /usr/lib/ocf/resource.d/rha would be fragile: that
//! directory belongs to whoever installs our package on the host, and when it is removed or
//! replaced (dpkg, another test) the kernel silently detaches every mount on it in all mount
//! namespaces, so running nodes would lose their agents. Instead the lab builds its own
//! `resource.d` under its work dir, with every host provider (heartbeat, pacemaker, ...)
//! bind-mounted in and `rha` bound to the agents directory, and binds that tree over
//! /usr/lib/ocf/resource.d inside each node. The host's directories are not modified.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::shell_quote;

/// Where Pacemaker looks for OCF agents.
pub const RESOURCE_D: &str = "/usr/lib/ocf/resource.d";

/// Where the agents directory appears inside each node.
pub const OCF_RHA_MOUNT: &str = "/usr/lib/ocf/resource.d/rha";

/// Our provider name.
const PROVIDER: &str = "rha";

/// A directory for [`crate::LabConfig::ocf_rha_dir`]: copies of `agents` (installed name,
/// binary), executable and readable by everyone as Pacemaker's executor needs. The lab mounts
/// it while it runs, so keep the returned directory alive until the lab is torn down.
pub fn agents_dir(agents: &[(&str, &Path)]) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().context("creating the agents directory")?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
    for (name, binary) in agents {
        let to = dir.path().join(name);
        fs::copy(binary, &to).with_context(|| format!("copying {} to {}", binary.display(), to.display()))?;
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir)
}

/// A lab's replacement for /usr/lib/ocf/resource.d.
#[derive(Clone, Debug)]
pub struct OcfTree {
    /// The replacement tree on the host (under the lab's work dir).
    root: PathBuf,
    /// Host provider directories to carry over (all but ours).
    providers: Vec<String>,
    agents: PathBuf,
}

impl OcfTree {
    /// Creates the mount points of the tree under `root` for the host's providers and `agents`.
    pub fn prepare(root: &Path, agents: &Path) -> Result<OcfTree> {
        let mut providers = Vec::new();
        let entries = fs::read_dir(RESOURCE_D)
            .with_context(|| format!("reading {RESOURCE_D} (install resource-agents)"))?;
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            // `metadata` follows symlinks: a provider may be a symlink to a directory.
            if name != PROVIDER && e.path().metadata().is_ok_and(|m| m.is_dir()) {
                providers.push(name);
            }
        }
        providers.sort();
        for p in providers.iter().map(String::as_str).chain([PROVIDER]) {
            let d = root.join(p);
            fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(OcfTree { root: root.to_path_buf(), providers, agents: agents.to_path_buf() })
    }

    /// Shell commands that assemble the tree and mount it, run inside a node's private
    /// mount namespace (so every mount here is invisible to the host).
    pub fn mount_commands(&self) -> String {
        let q = |p: &Path| shell_quote(&p.to_string_lossy());
        let mut s = String::new();
        for p in &self.providers {
            s += &format!("mount --bind {} {}\n", q(&Path::new(RESOURCE_D).join(p)), q(&self.root.join(p)));
        }
        s += &format!("mount --bind {} {}\n", q(&self.agents), q(&self.root.join(PROVIDER)));
        // --rbind carries the provider mounts made just above.
        s += &format!("mount --rbind {} {RESOURCE_D}\n", q(&self.root));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_bind_providers_then_tree() {
        let t = OcfTree {
            root: "/w/ocf".into(),
            providers: vec!["heartbeat".into(), "pacemaker".into()],
            agents: "/a/b".into(),
        };
        let c = t.mount_commands();
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(
            lines,
            [
                "mount --bind /usr/lib/ocf/resource.d/heartbeat /w/ocf/heartbeat",
                "mount --bind /usr/lib/ocf/resource.d/pacemaker /w/ocf/pacemaker",
                "mount --bind /a/b /w/ocf/rha",
                "mount --rbind /w/ocf /usr/lib/ocf/resource.d",
            ]
        );
    }
}
