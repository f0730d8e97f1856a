//! The Prometheus text-format file (`rha-ldirectord --prometheus FILE`): per real its state,
//! weight, last check latency and failures, and the kernel's IPVS counters; written atomically
//! every second, for node_exporter's textfile collector (point it at a `*.prom` file in its
//! directory) or any scraper that reads files.

use std::collections::HashMap;
use std::fmt::Write;

use rha_ipvs::DestEntry;

use super::real_state::Health;
use super::status::Status;

/// The kernel's counters of one real, keyed by (virtual as in the status, real as in the status).
pub type Counters = HashMap<(String, String), DestEntry>;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The file's text.
pub fn render(st: &Status, counters: &Counters) -> String {
    let mut out = String::new();
    let inst = label(&st.name);
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP rha_ldirectord_{name} {help}\n# TYPE rha_ldirectord_{name} gauge");
    };
    gauge(&mut out, "first_round_done", "1 once every checked real server has had a result.");
    let _ = writeln!(
        out,
        "rha_ldirectord_first_round_done{{instance=\"{inst}\"}} {}",
        u8::from(st.first_round_done)
    );
    gauge(&mut out, "heartbeat_timestamp_seconds", "When the daemon wrote this file (Unix time).");
    let _ = writeln!(
        out,
        "rha_ldirectord_heartbeat_timestamp_seconds{{instance=\"{inst}\"}} {:.3}",
        st.heartbeat
    );

    type Field = fn(&super::status::RealStatus) -> Option<f64>;
    let per_real: [(&str, &str, Field); 5] = [
        ("real_up", "1 when the real server's checks say up (maintenance applied).", |r| {
            Some(f64::from(u8::from(r.state == Health::Up)))
        }),
        ("real_weight", "The weight programmed in IPVS (0 when absent).", |r| {
            Some(f64::from(r.weight.unwrap_or(0)))
        }),
        ("real_check_latency_seconds", "How long the last check took.", |r| {
            r.latency_ms.map(|ms| ms / 1000.0)
        }),
        ("real_consecutive_failures", "Failed checks in a row.", |r| Some(f64::from(r.consecutive_failures))),
        ("real_seconds_since_change", "Seconds since the real server's state last changed.", |r| {
            Some(r.seconds_since_change)
        }),
    ];
    for (name, help, f) in per_real {
        gauge(&mut out, name, help);
        for v in &st.virtuals {
            for r in v.reals.iter().filter(|r| !r.draining) {
                if let Some(x) = f(r) {
                    let _ = writeln!(
                        out,
                        "rha_ldirectord_{name}{{instance=\"{inst}\",virtual=\"{}\",real=\"{}\"}} {x}",
                        label(&v.virtual_service),
                        label(&r.real)
                    );
                }
            }
        }
    }

    type Counter = fn(&DestEntry) -> u64;
    let ipvs: [(&str, &str, &str, Counter); 7] = [
        ("ipvs_connections_total", "counter", "Connections IPVS scheduled to the real server.", |d| {
            d.stats.conns
        }),
        ("ipvs_in_packets_total", "counter", "Packets from clients to the real server.", |d| d.stats.inpkts),
        ("ipvs_out_packets_total", "counter", "Packets from the real server to clients.", |d| {
            d.stats.outpkts
        }),
        ("ipvs_in_bytes_total", "counter", "Bytes from clients to the real server.", |d| d.stats.inbytes),
        ("ipvs_out_bytes_total", "counter", "Bytes from the real server to clients.", |d| d.stats.outbytes),
        ("ipvs_active_connections", "gauge", "Active connections.", |d| u64::from(d.active_conns)),
        ("ipvs_inactive_connections", "gauge", "Inactive connections.", |d| u64::from(d.inactive_conns)),
    ];
    let mut keys: Vec<&(String, String)> = counters.keys().collect();
    keys.sort();
    for (name, kind, help, f) in ipvs {
        let _ = writeln!(out, "# HELP rha_ldirectord_{name} {help}\n# TYPE rha_ldirectord_{name} {kind}");
        for k in &keys {
            let _ = writeln!(
                out,
                "rha_ldirectord_{name}{{instance=\"{inst}\",virtual=\"{}\",real=\"{}\"}} {}",
                label(&k.0),
                label(&k.1),
                f(&counters[*k])
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{RealStatus, VirtualStatus};
    use rha_ipvs::{Dest, Stats};

    #[test]
    fn text_format() {
        let real = |name: &str, state| RealStatus {
            real: name.into(),
            state,
            weight: if state == Health::Up { Some(3) } else { None },
            configured_weight: 3,
            last_result: Some(state),
            reason: Some("ok".into()),
            latency_ms: Some(1.5),
            consecutive_failures: 0,
            maintenance: None,
            draining: false,
            changed: 0.0,
            seconds_since_change: 12.0,
        };
        let st = Status {
            name: "web.cf".into(),
            config: "/etc/ha.d/web.cf".into(),
            pid: 1,
            heartbeat: 1000.5,
            started: 900.0,
            first_round_done: true,
            phase: "running".into(),
            reload_error: None,
            virtuals: vec![VirtualStatus {
                virtual_service: "TCP 198.51.100.10:80".into(),
                scheduler: "wrr".into(),
                line: "web.cf:3".into(),
                fallback: None,
                fallback_active: false,
                error: None,
                reals: vec![real("203.0.113.2:80", Health::Up), real("203.0.113.3:80", Health::Down)],
            }],
        };
        let mut c = Counters::new();
        c.insert(
            ("TCP 198.51.100.10:80".into(), "203.0.113.2:80".into()),
            DestEntry {
                dest: Dest::new("203.0.113.2".parse().unwrap(), 80),
                active_conns: 4,
                inactive_conns: 1,
                persist_conns: 0,
                stats: Stats { conns: 17, inbytes: 2048, ..Default::default() },
            },
        );
        let text = render(&st, &c);
        let l = r#"{instance="web.cf",virtual="TCP 198.51.100.10:80",real="203.0.113.2:80"}"#;
        for want in [
            "rha_ldirectord_first_round_done{instance=\"web.cf\"} 1".to_string(),
            format!("rha_ldirectord_real_up{l} 1"),
            r#"rha_ldirectord_real_up{instance="web.cf",virtual="TCP 198.51.100.10:80",real="203.0.113.3:80"} 0"#.into(),
            format!("rha_ldirectord_real_weight{l} 3"),
            format!("rha_ldirectord_real_check_latency_seconds{l} 0.0015"),
            format!("rha_ldirectord_ipvs_connections_total{l} 17"),
            format!("rha_ldirectord_ipvs_in_bytes_total{l} 2048"),
            format!("rha_ldirectord_ipvs_active_connections{l} 4"),
            "# TYPE rha_ldirectord_ipvs_connections_total counter".into(),
        ] {
            assert!(text.lines().any(|x| x == want), "missing {want:?} in\n{text}");
        }
        // Every sample line is NAME{labels} VALUE with a number.
        for x in text.lines().filter(|x| !x.starts_with('#')) {
            let v = x.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok(), "{x}");
        }
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
