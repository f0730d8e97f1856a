//! validate-all: the configuration parsed by the daemon's own parser (`configtest`), its
//! first error named as file:line (OCF_ERR_CONFIGURED); the file and the binary were checked
//! by [`crate::params`] (OCF_ERR_INSTALLED when missing).

use ocf_shim::{Context, OcfResult};

use crate::daemon;
use crate::params::Config;

/// The validate-all action.
pub fn validate(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    for w in daemon::configtest(cfg, &ctx.deadline)? {
        ocf_shim::warn!("{w}");
    }
    Ok(())
}
