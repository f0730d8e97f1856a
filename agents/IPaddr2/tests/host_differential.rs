//! Host tier, differential: the same scenarios against ocf:heartbeat:IPaddr2 (Debian
//! resource-agents 4.12) and ocf:rha:IPaddr2, each agent on its own fresh node namespace.
//! Exit codes must match, or the test asserts the exact difference and names the upstream
//! defect we fix. A table of all results is printed. Needs root, resource-agents and
//! iputils-arping (upstream's run_arping).

mod common;

use common::{Node, PROBE, RECURRING, UPSTREAM, ours, require_upstream};

/// One observed step: what was done, the exit code (or 0/1 for an observation), details.
type Step = (&'static str, i32, String);

enum Expect {
    /// Both agents give the same codes.
    Same,
    /// Ours differs on purpose: the upstream codes and ours, and the defect it fixes.
    Fixed { upstream: &'static [i32], ours: &'static [i32], why: &'static str },
}

struct Scenario {
    name: &'static str,
    run: fn(&Node, &str) -> Vec<Step>,
    expect: Expect,
}

fn step(label: &'static str, o: common::Outcome) -> Step {
    let detail = format!("{label}: {o}");
    (label, o.code, detail)
}

fn observe(label: &'static str, yes: bool, detail: String) -> Step {
    (label, yes as i32, format!("{label}: {} ({detail})", if yes { "yes" } else { "no" }))
}

const VIP: &str = "198.51.100.10";

fn already_started(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("cidr_netmask", "24")];
    let s = vec![
        step("start", n.run(a, "start", &p, &[])),
        step("start again", n.run(a, "start", &p, &[])),
        step("monitor", n.run(a, "monitor", &p, RECURRING)),
        step("probe", n.run(a, "monitor", &p, PROBE)),
    ];
    n.run(a, "stop", &p, &[]);
    s
}

fn already_stopped(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("cidr_netmask", "24")];
    vec![
        step("stop", n.run(a, "stop", &p, &[])),
        step("stop again", n.run(a, "stop", &p, &[])),
        step("monitor", n.run(a, "monitor", &p, RECURRING)),
    ]
}

fn probe_clean_node(n: &Node, a: &str) -> Vec<Step> {
    vec![
        step("probe (nic detected)", n.run(a, "monitor", &[("ip", VIP)], PROBE)),
        step(
            "probe (nic given)",
            n.run(a, "monitor", &[("ip", VIP), ("nic", "eth0"), ("cidr_netmask", "24")], PROBE),
        ),
        step("status", n.run(a, "status", &[("ip", VIP)], PROBE)),
    ]
}

fn nic_missing_probe_stop(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth9"), ("cidr_netmask", "24")];
    vec![
        step("probe", n.run(a, "monitor", &p, PROBE)),
        step("probe (no netmask)", n.run(a, "monitor", &[("ip", VIP), ("nic", "eth9")], PROBE)),
        step("stop", n.run(a, "stop", &p, &[])),
    ]
}

fn nic_missing_start(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth9"), ("cidr_netmask", "24")];
    vec![step("validate-all", n.run(a, "validate-all", &p, &[])), step("start", n.run(a, "start", &p, &[]))]
}

fn bad_netmask(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("cidr_netmask", "33")];
    let q = [("ip", VIP), ("cidr_netmask", "255.0.255.0")];
    vec![
        step("validate-all /33", n.run(a, "validate-all", &p, &[])),
        step("start /33", n.run(a, "start", &p, &[])),
        step("probe /33", n.run(a, "monitor", &p, PROBE)),
        step("monitor /33", n.run(a, "monitor", &p, RECURRING)),
        step("stop /33", n.run(a, "stop", &p, &[])),
        step("start 255.0.255.0", n.run(a, "start", &q, &[])),
    ]
}

fn dotted_quad_netmask(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("cidr_netmask", "255.255.255.128")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    let line = n.addr_line(VIP).unwrap_or_default();
    s.push(observe("added as /25", line.contains(&format!("{VIP}/25")), line));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

fn invalid_values(n: &Node, a: &str) -> Vec<Step> {
    vec![
        step("bad ip: validate-all", n.run(a, "validate-all", &[("ip", "198.51.100.300")], &[])),
        step("bad ip: start", n.run(a, "start", &[("ip", "198.51.100.300")], &[])),
        step("bad ip: probe", n.run(a, "monitor", &[("ip", "198.51.100.300")], PROBE)),
        step("no ip: start", n.run(a, "start", &[], &[])),
        step(
            "label too long: start",
            n.run(a, "start", &[("ip", VIP), ("nic", "eth0"), ("iflabel", "0123456789ab")], &[]),
        ),
        step("bad broadcast: start", n.run(a, "start", &[("ip", VIP), ("broadcast", "x.y")], &[])),
        step(
            "lvs_support on IPv6: start",
            n.run(a, "start", &[("ip", "2001:db8::10"), ("lvs_support", "true")], &[]),
        ),
        step(
            "empty preferred_lft: validate-all",
            n.run(a, "validate-all", &[("ip", VIP), ("preferred_lft", "")], &[]),
        ),
        step("arp_count 0: validate-all", n.run(a, "validate-all", &[("ip", VIP), ("arp_count", "0")], &[])),
        step(
            "unknown arp_sender: validate-all",
            n.run(a, "validate-all", &[("ip", VIP), ("arp_sender", "x")], &[]),
        ),
    ]
}

fn duplicate_with_run_arping(n: &Node, a: &str) -> Vec<Step> {
    // Another host on the link already has the address.
    n.peer.ip(&["addr", "add", &format!("{VIP}/24"), "dev", "eth0"]).unwrap();
    let p = [("ip", VIP), ("cidr_netmask", "24"), ("run_arping", "true")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    s.push(observe("address added", n.addr_line(VIP).is_some(), n.addrs()));
    n.run(a, "stop", &p, &[]);
    s
}

fn deleted_behind_the_agent(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth0"), ("cidr_netmask", "24")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    n.ns.ip(&["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]).unwrap();
    s.push(step("monitor", n.run(a, "monitor", &p, RECURRING)));
    s.push(step("start", n.run(a, "start", &p, &[])));
    s.push(step("monitor", n.run(a, "monitor", &p, RECURRING)));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

fn ipv6_lifecycle(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", "2001:db8::10"), ("cidr_netmask", "64")];
    vec![
        step("start", n.run(a, "start", &p, &[])),
        step("monitor", n.run(a, "monitor", &p, RECURRING)),
        step("stop", n.run(a, "stop", &p, &[])),
        step("monitor", n.run(a, "monitor", &p, RECURRING)),
    ]
}

fn link_down_monitor(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth0"), ("cidr_netmask", "24")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    n.peer.link_down("eth0").unwrap(); // our eth0 loses its carrier
    s.push(step("monitor", n.run(a, "monitor", &p, RECURRING)));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

fn link_down_start(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth0"), ("cidr_netmask", "24")];
    n.peer.link_down("eth0").unwrap();
    let s = vec![step("start", n.run(a, "start", &p, &[]))];
    n.run(a, "stop", &p, &[]);
    s
}

fn label_changed(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("nic", "eth0"), ("cidr_netmask", "24"), ("iflabel", "vip")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    n.ns.ip(&["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]).unwrap();
    n.ns.ip(&["addr", "add", &format!("{VIP}/24"), "dev", "eth0", "label", "eth0:other"]).unwrap();
    s.push(step("monitor", n.run(a, "monitor", &p, RECURRING)));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

fn broadcast_without_address_in_subnet(n: &Node, a: &str) -> Vec<Step> {
    // A subnet routed to eth0 without any address of ours in it.
    n.ns.ip(&["route", "add", "203.0.113.0/24", "dev", "eth0"]).unwrap();
    let p = [("ip", "203.0.113.10")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    let line = n.addr_line("203.0.113.10").unwrap_or_default();
    s.push(observe("broadcast 203.0.113.255 set", line.contains("brd 203.0.113.255"), line));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

/// eth1 beside eth0, with an address in the same IPv6 /64: two equally good routes.
fn second_interface_same_prefix(n: &Node) {
    n.ns.add_veth("eth1", &n.peer, "eth1").unwrap();
    n.ns.link_up("eth1").unwrap();
    n.peer.link_up("eth1").unwrap();
    n.ns.add_addr("eth1", "2001:db8::3/64").unwrap();
}

fn ambiguous_routes_start(n: &Node, a: &str) -> Vec<Step> {
    second_interface_same_prefix(n);
    let p = [("ip", "2001:db8::50"), ("nodad", "true")];
    let s = vec![step("start", n.run(a, "start", &p, &[]))];
    n.run(a, "stop", &p, &[]);
    s
}

fn ambiguous_routes_monitor(n: &Node, a: &str) -> Vec<Step> {
    second_interface_same_prefix(n);
    // The address runs on eth0 (started with nic=eth0); monitor is configured without nic.
    n.ns.ip(&["addr", "add", "2001:db8::50/64", "dev", "eth0", "nodad"]).unwrap();
    let p = [("ip", "2001:db8::50"), ("cidr_netmask", "64")];
    vec![step("monitor", n.run(a, "monitor", &p, RECURRING)), step("probe", n.run(a, "monitor", &p, PROBE))]
}

fn nic_by_altname(n: &Node, a: &str) -> Vec<Step> {
    n.ns.ip(&["link", "property", "add", "dev", "eth0", "altname", "lan0"]).unwrap();
    let p = [("ip", VIP), ("nic", "lan0")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    s.push(step("monitor", n.run(a, "monitor", &p, RECURRING)));
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s
}

fn stop_while_link_down(n: &Node, a: &str) -> Vec<Step> {
    let p = [("ip", VIP), ("cidr_netmask", "24")];
    let mut s = vec![step("start", n.run(a, "start", &p, &[]))];
    // Administratively down: IPv4 keeps the address but the kernel drops the routes.
    n.ns.link_down("eth0").unwrap();
    s.push(step("stop", n.run(a, "stop", &p, &[])));
    s.push(observe("address left behind", n.addr_line(VIP).is_some(), n.addrs()));
    s
}

fn scenarios() -> Vec<Scenario> {
    use Expect::*;
    vec![
        Scenario { name: "already started", run: already_started, expect: Same },
        Scenario { name: "already stopped", run: already_stopped, expect: Same },
        Scenario { name: "probe on a clean node", run: probe_clean_node, expect: Same },
        Scenario { name: "nic missing: probe, stop", run: nic_missing_probe_stop, expect: Same },
        Scenario {
            name: "nic missing: validate-all, start",
            run: nic_missing_start,
            expect: Fixed {
                upstream: &[6, 6],
                ours: &[5, 5],
                why: "a nic missing on one node is OCF_ERR_INSTALLED (ban this node, run elsewhere); \
                      4.12 answers OCF_ERR_CONFIGURED, which stops the resource on every node \
                      (upstream HEAD's ip_init now returns 5 at start when findif fails)",
            },
        },
        Scenario { name: "bad netmask", run: bad_netmask, expect: Same },
        Scenario { name: "dotted-quad netmask", run: dotted_quad_netmask, expect: Same },
        Scenario { name: "invalid values", run: invalid_values, expect: Same },
        Scenario { name: "duplicate address with run_arping", run: duplicate_with_run_arping, expect: Same },
        Scenario { name: "address deleted behind the agent", run: deleted_behind_the_agent, expect: Same },
        Scenario { name: "IPv6 start, monitor, stop", run: ipv6_lifecycle, expect: Same },
        Scenario {
            name: "link down (no carrier): monitor",
            run: link_down_monitor,
            expect: Fixed {
                upstream: &[0, 0, 0],
                ours: &[0, 7, 0],
                why: "#2047/#2113: a VIP on a dead link reported as running; check_link_status \
                      makes monitor return OCF_NOT_RUNNING (7), not 5 (absent in 4.12)",
            },
        },
        Scenario {
            name: "link down: start",
            run: link_down_start,
            expect: Fixed {
                upstream: &[0],
                ours: &[5],
                why: "#2047: starting a VIP on a dead link succeeds in 4.12; with check_link_status \
                      start returns OCF_ERR_INSTALLED so it runs on a node whose link works",
            },
        },
        Scenario {
            name: "label changed behind the agent",
            run: label_changed,
            expect: Fixed {
                upstream: &[0, 0, 0],
                ours: &[0, 1, 0],
                why: "4.12 ignores the label in monitor; HEAD reports a missing label as partial \
                      (OCF_ERR_GENERIC), as we do",
            },
        },
        Scenario {
            name: "broadcast with no address in the subnet",
            run: broadcast_without_address_in_subnet,
            expect: Fixed {
                upstream: &[0, 0, 0],
                ours: &[0, 1, 0],
                why: "#656: findif copies the broadcast of another address in the subnet and \
                      sets none without one; we compute it from the prefix",
            },
        },
        Scenario {
            name: "ambiguous routes (IPv6): start",
            run: ambiguous_routes_start,
            expect: Fixed {
                upstream: &[0],
                ours: &[5],
                why: "#1963: with equally good routes on two interfaces 4.12 silently picks one; \
                      we refuse at start (and validate-all) with the routes named and 'set nic'",
            },
        },
        Scenario {
            name: "ambiguous routes (IPv6): monitor of a running address",
            run: ambiguous_routes_monitor,
            expect: Fixed {
                upstream: &[7, 7],
                ours: &[0, 0],
                why: "#1963: route ambiguity must not break monitor; 4.12 only looks on the \
                      interface it guessed (HEAD fails monitor outright); we look on all candidates",
            },
        },
        Scenario {
            name: "nic given by its altname",
            run: nic_by_altname,
            expect: Fixed {
                upstream: &[1, 1, 0],
                ours: &[0, 0, 0],
                why: "the #1726 class (given nic vs calculated nic): findif greps 'dev <nic>' in \
                      'ip route' text, which shows only the primary name; we ask the kernel",
            },
        },
        Scenario {
            name: "stop while the link is down (nic detected)",
            run: stop_while_link_down,
            expect: Fixed {
                upstream: &[0, 0, 1],
                ours: &[0, 0, 0],
                why: "without a route findif fails and 4.12's stop returns success leaving the \
                      address configured (a duplicate VIP when the link returns); we find and \
                      remove it",
            },
        },
    ]
}

fn codes(steps: &[Step]) -> Vec<i32> {
    steps.iter().map(|s| s.1).collect()
}

fn fmt_codes(c: &[i32]) -> String {
    c.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
}

#[test]
fn same_scenarios_against_upstream_and_ours() {
    require_upstream();
    let all = scenarios();
    let results: Vec<(Vec<Step>, Vec<Step>)> = std::thread::scope(|scope| {
        // A few scenarios at a time: each runs two namespaces' worth of agents.
        let mut results = Vec::new();
        for chunk in all.chunks(4) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|sc| {
                    let run = sc.run;
                    scope.spawn(move || {
                        let up = std::thread::spawn(move || run(&Node::new("dfu"), UPSTREAM));
                        let ours = run(&Node::new("dfo"), ours());
                        (up.join().unwrap(), ours)
                    })
                })
                .collect();
            results.extend(handles.into_iter().map(|h| h.join().unwrap()));
        }
        results
    });

    let mut table = format!("\n{:<56}| {:<22}| {:<22}| verdict\n", "scenario", "upstream 4.12", "ours");
    let mut failures = Vec::new();
    for (sc, (up, ours)) in all.iter().zip(&results) {
        let labels: Vec<&str> = up.iter().map(|s| s.0).collect();
        assert_eq!(labels, ours.iter().map(|s| s.0).collect::<Vec<_>>(), "{}: steps differ", sc.name);
        let (u, o) = (codes(up), codes(ours));
        let verdict = match &sc.expect {
            Expect::Same if u == o => "same".to_string(),
            Expect::Same => {
                failures.push(format!("{}: steps {labels:?}: upstream {u:?}, ours {o:?}", sc.name));
                "MISMATCH".to_string()
            }
            Expect::Fixed { upstream, ours: want, why } => {
                if u != *upstream || o != *want {
                    failures.push(format!(
                        "{}: steps {labels:?}: expected upstream {upstream:?} / ours {want:?}, got {u:?} / {o:?}",
                        sc.name
                    ));
                    "UNEXPECTED".to_string()
                } else {
                    format!("differs on purpose: {}", why.split_whitespace().collect::<Vec<_>>().join(" "))
                }
            }
        };
        table.push_str(&format!(
            "{:<56}| {:<22}| {:<22}| {verdict}\n",
            sc.name,
            fmt_codes(&u),
            fmt_codes(&o)
        ));
        if verdict == "MISMATCH" || verdict == "UNEXPECTED" {
            for s in up {
                table.push_str(&format!("    upstream {}\n", s.2.replace('\n', "\n      ")));
            }
            for s in ours {
                table.push_str(&format!("    ours     {}\n", s.2.replace('\n', "\n      ")));
            }
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "differential failures:\n{}\n{table}", failures.join("\n"));
}
