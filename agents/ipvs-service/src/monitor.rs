//! monitor: the kernel's table against the configuration.
//!
//! - IPVS absent from the kernel, or the service not in the table: not running (7). A probe
//!   on a node without IPVS is therefore 7, never 5 or 6.
//! - The service there but different (scheduler, persistence, flags, a real server missing or
//!   extra, a changed forwarding method), or a configured sync daemon not running as
//!   configured: failure (1), the reason naming every difference.
//! - Only weights or thresholds differ (changed outside the agent: an administrator draining a
//!   real, ldirectord or keepalived managing weights): running (0) with a warning naming them;
//!   failure (1) only with `strict_weights=true`.
//! - Level 10 also: `ip_forward` on when NAT real servers are used, and the VIP local (not
//!   for clones: the standby director of a cloned service does not hold the VIP).
//!
//! Two netlink round trips and one dump; nothing is changed. When `/proc/net/ip_vs` is
//! absent IPVS is not loaded and netlink is not even asked (that would load the module).

use ocf_shim::{Context, OcfError, OcfResult, Status};
use rha_ipvs::{Ipvs, ServiceSpec, classify_differences};

use crate::params::Config;
use crate::{ipvs_error, sync_daemon, validate};

/// Differences named in a monitor failure before "and N more".
const MAX_NAMED: usize = 8;

/// Joins differences for an exit reason, naming at most [`MAX_NAMED`].
pub fn summarize(diffs: &[String]) -> String {
    let mut s = diffs.iter().take(MAX_NAMED).cloned().collect::<Vec<_>>().join("; ");
    if diffs.len() > MAX_NAMED {
        s.push_str(&format!("; and {} more difference(s)", diffs.len() - MAX_NAMED));
    }
    s
}

/// What the kernel holds against what is configured: `Ok(Running)`, or the error monitor
/// returns. Used by start to verify its work too (start programs weights as configured, so it
/// passes `strict_weights = true`).
///
/// Weights and thresholds changed outside the agent (an administrator draining a real, or a
/// health checker such as ldirectord managing weights) are not a failure unless
/// `strict_weights`: Pacemaker would restart the service, restore the weight the checker had
/// taken away, and at migration-threshold move the whole group. They are a warning naming them.
pub fn compare(ipvs: &mut Ipvs, want: &ServiceSpec, strict_weights: bool) -> OcfResult<Status> {
    let key = want.service.key;
    let current = ipvs.service_spec(&key).map_err(ipvs_error)?;
    let Some(current) = current else {
        return Err(OcfError::not_running(format!(
            "virtual service {key} is not in the kernel's IPVS table"
        )));
    };
    let diffs = classify_differences(Some(&current), want);
    if !diffs.structural.is_empty() || (strict_weights && !diffs.weights.is_empty()) {
        let mut all = diffs.structural;
        all.extend(diffs.weights);
        return Err(OcfError::generic(format!(
            "virtual service {key} differs from its configuration: {}",
            summarize(&all)
        )));
    }
    if !diffs.weights.is_empty() {
        ocf_shim::warn!(
            "virtual service {key}: weights changed outside the agent, left as they are (strict_weights=false): {}",
            summarize(&diffs.weights)
        );
    }
    Ok(Status::Running)
}

/// The monitor action.
pub fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    let want = cfg.spec()?;
    if validate::ipvs_loaded() == Some(false) {
        return Err(OcfError::not_running(format!(
            "virtual service {} is not running: IPVS is not loaded in this kernel (no /proc/net/ip_vs)",
            want.service.key
        )));
    }
    let mut ipvs = match Ipvs::connect() {
        Ok(i) => i,
        Err(e) if e.is_not_available() => {
            return Err(OcfError::not_running(format!(
                "virtual service {} is not running: {e}",
                want.service.key
            )));
        }
        Err(e) => return Err(ipvs_error(e)),
    };
    compare(&mut ipvs, want, cfg.strict_weights)?;
    let wanted = sync_daemon::wanted(cfg.sync.as_ref());
    if let Err(why) = sync_daemon::check(&mut ipvs, &wanted)? {
        return Err(OcfError::generic(why));
    }
    if ctx.check_level >= 10 {
        if let Some(p) = validate::nat_forwarding_problem(want) {
            return Err(OcfError::generic(p));
        }
        if ctx.clone.is_none() {
            if let Some(p) = validate::vip_problem(want)? {
                return Err(OcfError::generic(p));
            }
        }
    }
    Ok(Status::Running)
}
