//! What the agent accepts: the meta-data ([`INFO`]) and the validated [`Config`].
//!
//! Names are ocf:heartbeat:mdraid's; ocf:heartbeat:Raid1's (raidconf, raiddev, homehost,
//! udev) are accepted as aliases so a Raid1 resource switches by changing the provider only.
//! Only syntax is checked here: a missing conf file or mdadm must not keep stop from working.

use std::path::PathBuf;

use ocf_shim::params::quote;
use ocf_shim::{ActionSpec, AgentInfo, Context, OcfError, OcfResult, Parameter, Params};

static PARAMETERS: &[Parameter] = &[
    Parameter::string("mdadm_conf")
        .short("mdadm.conf with the array(s)")
        .long(
            "Absolute path of an mdadm.conf whose ARRAY lines (with UUID=) describe the \
             array(s). Arrays are assembled from this file only; put 'AUTO -all' in the \
             system's /etc/mdadm/mdadm.conf so the system does not assemble them itself. \
             Required (alias: raidconf). Not marked required so that Raid1 resources using \
             raidconf validate.",
        ),
    Parameter::string("md_dev")
        .short("MD device(s)")
        .long(
            "The array device: /dev/mdX or /dev/md/NAME, several separated by spaces, or \
             'auto' for every ARRAY line of mdadm_conf. Required (alias: raiddev).",
        ),
    Parameter::boolean("force_stop")
        .short("End processes that keep the array open on stop")
        .long(
            "If the array is held open by processes when stopping, send them TERM, then KILL \
             within the stop timeout, and stop again. A mounted filesystem or a holder device \
             (LVM, dm-crypt) is never forced: stop fails naming it.",
        )
        .default("false"),
    Parameter::boolean("wait_for_udev")
        .short("Wait for udev after assembly")
        .long("Run 'udevadm settle' (if present) after assembling. The device node is waited for in any case. Alias: udev.")
        .default("true"),
    Parameter::boolean("force_clones")
        .short("Allow cloning a non-clustered array")
        .long(
            "Allow the resource to be cloned (active on several nodes) whatever the array. \
             Without it a clone starts only an md-cluster array (mdadm --create \
             --bitmap=clustered; told from the bitmap superblock of any member present on \
             the node, so a missing member does not matter) or, as ocf:heartbeat:mdraid, a \
             linear or raid0 array (no resync, no bitmap: the nodes write no array state). \
             Anything else active on several nodes corrupts data. An md-cluster array also \
             needs the DLM (dlm_controld) running before start.",
        )
        .default("false"),
    Parameter::string("raidconf").short("Alias of mdadm_conf (ocf:heartbeat:Raid1)").long("Deprecated alias of mdadm_conf."),
    Parameter::string("raiddev").short("Alias of md_dev (ocf:heartbeat:Raid1)").long("Deprecated alias of md_dev."),
    Parameter::string("homehost")
        .short("Homehost for mdadm (ocf:heartbeat:Raid1)")
        .long("Passed to mdadm --assemble as --homehost (ocf:heartbeat:Raid1's parameter)."),
    Parameter::boolean("udev")
        .short("Alias of wait_for_udev (ocf:heartbeat:Raid1)")
        .long("Deprecated alias of wait_for_udev."),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "20s"),
    ActionSpec::new("stop", "20s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("monitor", "20s").interval("60s").depth(10),
    ActionSpec::new("validate-all", "5s"),
    ActionSpec::new("meta-data", "5s"),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "mdraid",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Linux md (software RAID) array",
    longdesc: "Assembles Linux md arrays from an mdadm.conf on start and stops them on stop. \
               Monitor reads /proc/mdstat and /sys/block/mdX/md only (no mdadm process): a \
               degraded array that still serves is running, with a warning naming the missing \
               or faulty members, or OCF_DEGRADED (190) when the caller speaks OCF 1.1; a \
               failed, inactive or read-only array is an error (1). OCF_CHECK_LEVEL=10 adds \
               an O_DIRECT read of the first block of each array, bounded by the operation's \
               timeout: a read error or a read that does not return is an error (1) naming \
               the device and the errno. Parameters are \
               ocf:heartbeat:mdraid's; raidconf, raiddev, homehost and udev are aliases from \
               ocf:heartbeat:Raid1.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// Which arrays this instance manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Devices {
    List(Vec<String>),
    /// Every ARRAY line of the conf (read when acting: the file may be absent here).
    Auto,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub conf: PathBuf,
    pub devices: Devices,
    pub force_stop: bool,
    pub wait_for_udev: bool,
    pub force_clones: bool,
    pub homehost: Option<String>,
}

/// A device name we pass to mdadm and look up under /dev: /dev/ plus a plain path.
fn check_device(d: &str) -> OcfResult<()> {
    let ok = d
        .strip_prefix("/dev/")
        .is_some_and(|r| !r.is_empty() && r.split('/').all(|c| !c.is_empty() && c != "." && c != ".."))
        && d.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_.:-+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(OcfError::configured(format!(
            "md_dev: {} is not a device under /dev/ (use /dev/mdX, /dev/md/NAME or auto)",
            quote(std::ffi::OsStr::new(d))
        )))
    }
}

/// `name`, or its alias when only that is set; both set and different is an error.
fn aliased<'a>(p: &'a Params, name: &str, alias: &str) -> OcfResult<Option<&'a str>> {
    let (a, b) = (p.str(name)?, p.str(alias)?);
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(OcfError::configured(format!(
            "{name} and its alias {alias} are both set, to different values"
        ))),
        (Some(x), _) => Ok(Some(x)),
        (None, y) => Ok(y),
    }
}

impl Config {
    pub fn from_params(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        let conf = aliased(p, "mdadm_conf", "raidconf")?
            .ok_or_else(|| OcfError::configured("required parameter mdadm_conf (or raidconf) is not set"))?;
        if !conf.starts_with('/') {
            return Err(OcfError::configured(format!(
                "mdadm_conf: {} is not an absolute path",
                quote(std::ffi::OsStr::new(conf))
            )));
        }
        let md = aliased(p, "md_dev", "raiddev")?
            .ok_or_else(|| OcfError::configured("required parameter md_dev (or raiddev) is not set"))?;
        let devices = if md.trim() == "auto" {
            Devices::Auto
        } else {
            let list: Vec<String> = md.split_whitespace().map(str::to_string).collect();
            if list.is_empty() {
                return Err(OcfError::configured("required parameter md_dev is empty"));
            }
            for d in &list {
                check_device(d)?;
            }
            Devices::List(list)
        };
        let wait_for_udev = if p.is_set("wait_for_udev") || !p.is_set("udev") {
            p.bool("wait_for_udev")?
        } else {
            p.bool("udev")?
        };
        let homehost = p.str("homehost")?.map(str::to_string);
        if let Some(h) = &homehost {
            if h.starts_with('-') || h.contains(char::is_whitespace) {
                return Err(OcfError::configured(format!(
                    "homehost: {} is not a host name",
                    quote(std::ffi::OsStr::new(h))
                )));
            }
        }
        Ok(Config {
            conf: PathBuf::from(conf),
            devices,
            force_stop: p.bool("force_stop")?,
            wait_for_udev,
            force_clones: p.bool("force_clones")?,
            homehost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf_shim::Action;

    fn cfg(pairs: &[(&str, &str)]) -> OcfResult<Config> {
        let p =
            Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())));
        let ctx = Context::from_env(Action::ValidateAll, &INFO, std::time::Instant::now());
        Config::from_params(&p, &ctx)
    }

    #[test]
    fn names_aliases_and_lists() {
        let c = cfg(&[("mdadm_conf", "/etc/m.conf"), ("md_dev", "/dev/md0 /dev/md/web")]).unwrap();
        assert_eq!(c.devices, Devices::List(vec!["/dev/md0".into(), "/dev/md/web".into()]));
        assert!(c.wait_for_udev && !c.force_stop);
        let c = cfg(&[("raidconf", "/etc/m.conf"), ("raiddev", "auto"), ("udev", "false")]).unwrap();
        assert_eq!(c.devices, Devices::Auto);
        assert!(!c.wait_for_udev);
        assert_eq!(c.conf, PathBuf::from("/etc/m.conf"));
    }

    #[test]
    fn bad_values_are_configuration_errors() {
        use ocf_shim::OcfCode::ErrConfigured;
        for bad in [
            vec![("md_dev", "/dev/md0")],
            vec![("mdadm_conf", "m.conf"), ("md_dev", "/dev/md0")],
            vec![("mdadm_conf", "/m.conf")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "md0")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "/dev/../etc/passwd")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "/dev/md0;reboot")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "/dev/")],
            vec![("mdadm_conf", "/m.conf"), ("raidconf", "/n.conf"), ("md_dev", "/dev/md0")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "/dev/md0"), ("force_stop", "maybe")],
            vec![("mdadm_conf", "/m.conf"), ("md_dev", "/dev/md0"), ("homehost", "--run")],
        ] {
            let e = cfg(&bad).unwrap_err();
            assert_eq!(e.code, ErrConfigured, "{bad:?}: {e:?}");
        }
    }
}
