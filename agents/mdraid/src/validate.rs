//! validate-all: the configuration, then what this node needs (the conf file and its ARRAY
//! lines, mdadm). It does not need md loaded: validate answers for the configuration.

use ocf_shim::{Context, OcfError, OcfResult};

use crate::array;
use crate::params::{Config, Devices};
use crate::tools;

pub fn validate(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
    let conf = array::load_conf(&cfg.conf)?;
    if let Devices::List(l) = &cfg.devices {
        for d in l {
            if conf.array_for(d).is_none() {
                return Err(OcfError::args(format!("{d} has no ARRAY line in {}", cfg.conf.display())));
            }
        }
    }
    array::devices(cfg)?;
    for a in &conf.arrays {
        if a.uuid.is_none() {
            ocf_shim::warn!(
                "{}:{}: ARRAY {} has no UUID=; mdadm may assemble another array under that name",
                cfg.conf.display(),
                a.line,
                a.dev
            );
        }
    }
    if !conf.auto_disabled() {
        ocf_shim::debug!(
            "{} has no 'AUTO -all' (only the system's mdadm.conf matters for auto-assembly)",
            cfg.conf.display()
        );
    }
    tools::mdadm()?;
    Ok(())
}
