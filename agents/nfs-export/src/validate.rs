//! validate-all: the configuration is checked by `Config::from_params`; here the node.

use ocf_shim::{Context, OcfError, OcfResult};

use crate::params::Config;

pub fn exportfs() -> OcfResult<std::path::PathBuf> {
    ocf_shim::process::find_binary("exportfs")
        .ok_or_else(|| OcfError::installed("exportfs is not installed (Debian: nfs-kernel-server)"))
}

pub fn validate(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
    exportfs()?;
    for e in &cfg.exports {
        if !std::path::Path::new(&e.dir).is_dir() {
            return Err(OcfError::installed(format!(
                "{} is not a directory on this node (is its filesystem mounted?)",
                e.dir
            )));
        }
    }
    Ok(())
}
