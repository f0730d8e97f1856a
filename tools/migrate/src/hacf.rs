//! Heartbeat's `ha.cf`: the parts a Pacemaker configuration needs (node names, auto_failback)
//! and the timers that become corosync advice.

use crate::error::Faults;

/// Heartbeat's `auto_failback`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoFailback {
    On,
    Off,
    /// Heartbeat's default: like `on` unless nice_failback was set.
    Legacy,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HaCf {
    /// `node` lines, in order.
    pub nodes: Vec<String>,
    pub auto_failback: Option<AutoFailback>,
    /// Milliseconds.
    pub keepalive_ms: Option<u64>,
    pub deadtime_ms: Option<u64>,
    pub initdead_ms: Option<u64>,
    pub warntime_ms: Option<u64>,
}

/// Directives ha.cf knows and the conversion does not need (media, logging, daemons).
const OTHER_DIRECTIVES: &[&str] = &[
    "debugfile",
    "logfile",
    "logfacility",
    "serial",
    "baud",
    "bcast",
    "mcast",
    "ucast",
    "udpport",
    "ping",
    "ping_group",
    "respawn",
    "apiauth",
    "crm",
    "pacemaker",
    "use_logd",
    "compression",
    "compression_threshold",
    "traditional_compression",
    "stonith",
    "stonith_host",
    "watchdog",
    "nice_failback",
    "hopfudge",
    "realtime",
    "debug",
    "deadping",
    "hbgenmethod",
    "conn_logd_time",
    "autojoin",
    "uuidfrom",
    "coredumps",
    "msgfmt",
    "max_rexmit_delay",
    "rtprio",
    "generation_signature",
    "memreserve",
    "record_config_changes",
    "record_pengine_inputs",
    "enable_config_writes",
];

/// Heartbeat time values: `10` (seconds), `10s`, `500ms`, `2min`? (only s/ms, as heartbeat).
fn time_ms(v: &str) -> Option<u64> {
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1000.0)
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') || num.matches('.').count() > 1
    {
        return None;
    }
    let f: f64 = num.parse().ok()?;
    let ms = f * mult;
    (ms.is_finite() && (0.0..1e12).contains(&ms)).then_some(ms.round() as u64)
}

pub fn parse(file: &str, text: &str) -> Result<HaCf, Faults> {
    let mut cf = HaCf::default();
    let mut faults = Faults::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let key = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let one = |faults: &mut Faults| -> Option<&str> {
            if rest.len() == 1 {
                Some(rest[0])
            } else {
                faults.push(file, n, format!("{key} takes one value, got {}", rest.len()));
                None
            }
        };
        match key {
            "node" => {
                if rest.is_empty() {
                    faults.push(file, n, "node without a name");
                }
                for name in rest {
                    if !valid_node(name) {
                        faults.push(file, n, format!("{name:?} is not a valid node name"));
                    } else if cf.nodes.iter().any(|x| x == name) {
                        faults.push(file, n, format!("node {name} is listed twice"));
                    } else {
                        cf.nodes.push(name.to_string());
                    }
                }
            }
            "auto_failback" => {
                if let Some(v) = one(&mut faults) {
                    cf.auto_failback = match v.to_ascii_lowercase().as_str() {
                        "on" | "yes" | "true" | "1" => Some(AutoFailback::On),
                        "off" | "no" | "false" | "0" => Some(AutoFailback::Off),
                        "legacy" => Some(AutoFailback::Legacy),
                        _ => {
                            faults.push(file, n, format!("auto_failback {v:?}: expected on, off or legacy"));
                            None
                        }
                    }
                }
            }
            "keepalive" | "deadtime" | "initdead" | "warntime" => {
                if let Some(v) = one(&mut faults) {
                    match time_ms(v) {
                        Some(ms) => {
                            let slot = match key {
                                "keepalive" => &mut cf.keepalive_ms,
                                "deadtime" => &mut cf.deadtime_ms,
                                "initdead" => &mut cf.initdead_ms,
                                _ => &mut cf.warntime_ms,
                            };
                            *slot = Some(ms);
                        }
                        None => faults.push(file, n, format!("{key} {v:?} is not a time (10, 10s or 500ms)")),
                    }
                }
            }
            k if OTHER_DIRECTIVES.contains(&k) => {}
            k => {
                let known: Vec<&str> =
                    ["node", "auto_failback", "keepalive", "deadtime", "initdead", "warntime"]
                        .into_iter()
                        .chain(OTHER_DIRECTIVES.iter().copied())
                        .collect();
                let hint = crate::names::nearest(k, &known)
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                faults.push(file, n, format!("unknown directive {k:?}{hint}"));
            }
        }
    }
    if let (Some(k), Some(d)) = (cf.keepalive_ms, cf.deadtime_ms)
        && k >= d
    {
        faults.push(file, 0, format!("keepalive ({k} ms) must be shorter than deadtime ({d} ms)"));
    }
    faults.or(cf)
}

/// A node name as Pacemaker and corosync accept it (a host name).
pub fn valid_node(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

impl HaCf {
    /// The corosync (and Pacemaker) settings the timers correspond to, as comment lines.
    pub fn timer_advice(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.keepalive_ms.is_none() && self.deadtime_ms.is_none() && self.initdead_ms.is_none() {
            return a;
        }
        a.push("Heartbeat timers: these belong in /etc/corosync/corosync.conf, which is not part of".into());
        a.push("the CIB. Review and set them by hand on every node (then restart corosync):".into());
        if let Some(d) = self.deadtime_ms {
            a.push(format!(
                "  deadtime {d} ms  -> totem {{ token: {d} }}   (a silent peer is declared dead after this)"
            ));
        }
        if let Some(k) = self.keepalive_ms {
            let d = self.deadtime_ms.unwrap_or(k * 5);
            let r = k.min(d / 4).max(1);
            a.push(format!(
                "  keepalive {k} ms -> totem {{ token_retransmit: {r} }}   (corosync resends the token this often; \
                 it must stay below token/4)"
            ));
        }
        if let Some(i) = self.initdead_ms {
            a.push(format!(
                "  initdead {i} ms  -> quorum {{ two_node: 1  wait_for_all: 1 }} and, in the CIB, \
                 property dc-deadtime={}s   (wait for the peer at boot)",
                i.div_ceil(1000)
            ));
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_ha_cf() {
        let cf = parse(
            "ha.cf",
            "keepalive 2\ndeadtime 10\ninitdead 120\nbcast eth0\nauto_failback on\nnode pc01\nnode pc02\n",
        )
        .unwrap();
        assert_eq!(cf.nodes, ["pc01", "pc02"]);
        assert_eq!(cf.auto_failback, Some(AutoFailback::On));
        assert_eq!(
            (cf.keepalive_ms, cf.deadtime_ms, cf.initdead_ms),
            (Some(2000), Some(10000), Some(120000))
        );
        assert!(cf.timer_advice().iter().any(|l| l.contains("token: 10000")));
    }

    #[test]
    fn faults_are_named() {
        let e =
            parse("ha.cf", "deadtime ten\nauto_failback maybe\nnoed pc01\nkeepalive 500ms\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("ha.cf:1: deadtime"), "{s}");
        assert!(s.contains("ha.cf:2: auto_failback"), "{s}");
        assert!(s.contains("ha.cf:3: unknown directive \"noed\" (did you mean node?)"), "{s}");
        assert_eq!(time_ms("500ms"), Some(500));
        assert_eq!(time_ms("1.5"), Some(1500));
        assert_eq!(time_ms("x"), None);
    }
}
