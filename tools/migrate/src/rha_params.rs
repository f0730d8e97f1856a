//! Which parameters each rha agent accepts, from the agents' own meta-data where the agent is
//! built in this workspace, so the CIB converter can never promise a parameter an agent lacks.

/// Where a parameter list came from, for the output's comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The agent's `AgentInfo` (its real meta-data).
    MetaData,
    /// Agents not in this build: the names their issue texts promise (see the man page).
    Assumed,
}

fn names(info: &ocf_shim::AgentInfo) -> Vec<&'static str> {
    info.parameters.iter().map(|p| p.name).collect()
}

/// The rha agent replacing `ocf:heartbeat:<upstream>`, its parameters, and their source.
pub fn for_upstream(upstream: &str) -> Option<(&'static str, Vec<&'static str>, Source)> {
    Some(match upstream {
        "IPaddr2" => ("IPaddr2", names(&rha_ipaddr2::params::INFO), Source::MetaData),
        "apache" => ("apache", names(&rha_apache::params::INFO), Source::MetaData),
        // ocf:rha:nfs-export is compatible with ocf:heartbeat:exportfs.
        "exportfs" => (
            "nfs-export",
            vec![
                "clientspec",
                "options",
                "directory",
                "fsid",
                "unlock_on_stop",
                "wait_for_leasetime_on_stop",
                "rmtab_backup",
            ],
            Source::Assumed,
        ),
        // ocf:rha:mdraid is compatible with ocf:heartbeat:mdraid and takes Raid1's names as aliases.
        "mdraid" | "Raid1" => ("mdraid", names(&rha_mdraid::params::INFO), Source::MetaData),
        "ldirectord" => ("ldirectord", vec!["configfile", "ldirectord"], Source::Assumed),
        // nfsserver (the NFS server itself) has no rha agent whose parameters are known; it is
        // converted only when rha-migrate learns them.
        _ => return None,
    })
}

/// The ocf:heartbeat agents the converter looks at.
pub const UPSTREAM: &[&str] =
    &["IPaddr2", "apache", "exportfs", "nfsserver", "mdraid", "Raid1", "ldirectord"];
