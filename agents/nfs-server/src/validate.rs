//! validate-all: the binaries (by absolute lookup).

use std::path::PathBuf;

use ocf_shim::{Context, OcfError, OcfResult};

use crate::params::Config;

pub struct Binaries {
    pub rpcbind: PathBuf,
    pub nfsd: PathBuf,
    pub mountd: PathBuf,
    pub statd: Option<PathBuf>,
    pub sm_notify: Option<PathBuf>,
}

fn find(name: &str, pkg: &str) -> OcfResult<PathBuf> {
    ocf_shim::process::find_binary(name)
        .ok_or_else(|| OcfError::installed(format!("{name} is not installed (Debian: {pkg})")))
}

pub fn binaries(cfg: &Config) -> OcfResult<Binaries> {
    if let Some(s) = &cfg.init_script {
        if ocf_shim::process::find_binary(s).is_none() {
            return Err(OcfError::installed(format!(
                "nfs_init_script {s} is not an executable on this node (this agent never runs it, but \
                 ocf:heartbeat:nfsserver would)"
            )));
        }
    }
    Ok(Binaries {
        rpcbind: find("rpcbind", "rpcbind")?,
        nfsd: find("rpc.nfsd", "nfs-kernel-server")?,
        mountd: find("rpc.mountd", "nfs-kernel-server")?,
        statd: if cfg.v4_only { None } else { Some(find("rpc.statd", "nfs-common")?) },
        sm_notify: match (&cfg.notify_cmd, cfg.v4_only) {
            (_, true) => None,
            (None, false) => Some(find("sm-notify", "nfs-common")?),
            (Some(c), false) => Some(ocf_shim::process::find_binary(c).ok_or_else(|| {
                OcfError::installed(format!("nfs_notify_cmd {c} is not installed on this node"))
            })?),
        },
    })
}

pub fn validate(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
    binaries(cfg)?;
    if let Some(d) = &cfg.infodir {
        if !d.is_dir() {
            return Err(OcfError::installed(format!(
                "nfs_shared_infodir {} is not a directory on this node (is its filesystem mounted?)",
                d.display()
            )));
        }
    }
    Ok(())
}
