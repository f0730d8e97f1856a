//! mdadm and udevadm, run bounded by the deadline (start and stop only; monitor never runs them).

use std::path::PathBuf;
use std::process::Command;

use ocf_shim::deadline::Deadline;
use ocf_shim::process::{command, find_binary, run_bounded};
use ocf_shim::{OcfError, OcfResult};

pub fn mdadm() -> OcfResult<PathBuf> {
    find_binary("mdadm").ok_or_else(|| OcfError::installed("mdadm is not installed (package mdadm)"))
}

/// Run a tool; Ok((success, combined stderr+stdout)), an error only when it could not run
/// or overran the deadline.
pub fn run(mut cmd: Command, deadline: &Deadline) -> OcfResult<(bool, String)> {
    let what = format!("{cmd:?}");
    cmd.env("LC_ALL", "C");
    match run_bounded(cmd, b"", deadline) {
        Ok(Some(o)) => {
            let mut text = String::from_utf8_lossy(&o.stderr).trim().to_string();
            let out = String::from_utf8_lossy(&o.stdout);
            if !out.trim().is_empty() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(out.trim());
            }
            Ok((o.status.success(), text))
        }
        Ok(None) => Err(OcfError::generic(format!("{what} did not finish within the timeout"))),
        Err(e) => Err(OcfError::generic(format!("running {what}: {e}"))),
    }
}

pub fn mdadm_cmd(args: &[&str]) -> OcfResult<Command> {
    let mut c = command(mdadm()?);
    c.args(args);
    Ok(c)
}

/// `udevadm settle` for the device, if udevadm exists (absent: we poll for the node anyway).
pub fn udev_settle(dev: &str, deadline: &Deadline) {
    let Some(u) = find_binary("udevadm") else { return };
    let secs = deadline.remaining().as_secs().clamp(1, 30);
    let mut c = command(u);
    c.args(["settle", &format!("--exit-if-exists={dev}"), &format!("--timeout={secs}")]);
    if let Err(e) = run(c, deadline) {
        ocf_shim::warn!("udevadm settle: {e}");
    }
}
