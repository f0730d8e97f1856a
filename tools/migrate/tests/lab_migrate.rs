//! Lab tier: rha-migrate's output in a real 2-node cluster (pc01, pc02; eth0 on
//! 198.51.100.0/24) with our agents installed as ocf:rha.
//!
//! 1. S1's haresources line + ha.cf, converted, loads as is (`crm configure load update`),
//!    starts on pc01 (auto_failback on), and fails over to pc02 when pc01 dies.
//! 2. S1 running on ocf:heartbeat:IPaddr2 + apache is switched to rha with the script
//!    `rha-migrate cib` prints for the live CIB; a client polling the VIP sees the site the whole
//!    time except during the one restart the script announced.
//!
//! Needs root, pacemaker, corosync, crmsh, apache2, curl, resource-agents.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS, agents_dir};
use rha_integration::{Bin, agent_binary};

const TIMEOUT: Duration = Duration::from_secs(180);
const VIP: &str = "198.51.100.182";

fn reset(lab: &Lab) {
    lab.exec_ok(0, "crm configure property stop-all-resources=true").unwrap();
    lab.exec_ok(0, "cibadmin --replace --scope constraints --xml-text '<constraints/>'").unwrap();
    lab.exec_ok(0, "cibadmin --replace --scope resources --xml-text '<resources/>'").unwrap();
}

fn page(lab: &Lab) -> Option<String> {
    let o = lab.client_exec(&format!("curl -s --max-time 2 http://{VIP}/")).ok()?;
    o.success().then(|| o.stdout.trim().to_string())
}

fn wait_page(lab: &Lab, want: &str) {
    wait_for(&format!("{want}'s page at the VIP"), TIMEOUT, Duration::from_millis(200), || {
        Ok((page(lab).as_deref() == Some(want)).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.diagnostics()));
}

#[test]
fn converted_s1_fails_over_and_heartbeat_agents_switch_to_rha() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[
        ("crm", "crmsh"),
        ("curl", "curl"),
        ("apache2", "apache2"),
        ("crm_shadow", "pacemaker-cli-utils"),
    ])
    .unwrap();
    assert!(
        std::path::Path::new("/usr/lib/ocf/resource.d/heartbeat/apache").exists(),
        "the upstream agents (resource-agents) are needed for the switch-over"
    );
    let binaries: Vec<(&str, std::path::PathBuf)> =
        [Bin::IpAddr2, Bin::Apache].into_iter().map(|b| (b.file_name(), agent_binary(b))).collect();
    let agents = agents_dir(&binaries.iter().map(|(n, p)| (*n, p.as_path())).collect::<Vec<_>>()).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "migrate".into();
    cfg.node_names = Some(vec!["pc01".into(), "pc02".into()]);
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    cfg.www = true;
    let mut lab = Lab::start(cfg).unwrap();
    let work = lab.workdir().to_path_buf();

    // 1. The converted S1 loads as is and fails over.
    let cf = work.join("ha.cf");
    std::fs::write(&cf, S1_HA_CF).unwrap();
    let r = migrate(&["haresources", "-", "--ha-cf", cf.to_str().unwrap()], S1_HARESOURCES);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = work.join("s1.crm");
    std::fs::write(&file, &r.stdout).unwrap();
    reset(&lab);
    let o = lab.exec(0, &format!("crm configure load update {}", file.display())).unwrap();
    assert!(o.success() && !o.stderr.contains("ERROR"), "converted S1 does not load:\n{o}\n{}", r.stdout);
    let v = lab.exec(0, "crm configure verify").unwrap();
    assert!(v.success() && !v.stdout.contains("ERROR") && !v.stderr.contains("ERROR"), "{v}");
    lab.exec_ok(0, "crm configure property stop-all-resources=false").unwrap();
    let on = lab.wait_started("apache2", TIMEOUT).unwrap();
    assert_eq!(lab.node_name(on), "pc01", "auto_failback on: S1 prefers pc01");
    wait_page(&lab, "pc01");
    let t = Instant::now();
    lab.kill_node(0).unwrap();
    let to = lab.wait_moved("apache2", 0, TIMEOUT).unwrap();
    assert_eq!(lab.node_name(to), "pc02");
    wait_page(&lab, "pc02");
    eprintln!("converted S1: pc01 killed, pc02 serves the VIP after {:.1} s", t.elapsed().as_secs_f64());
    lab.revive_node(0).unwrap();
    lab.wait_online(TIMEOUT).unwrap();
    // auto_failback on: back to pc01 when it returns.
    wait_page(&lab, "pc01");

    // 2. S1 on the upstream agents, switched to rha by the tool's script.
    reset(&lab);
    let upstream = work.join("s1-heartbeat.crm");
    std::fs::write(
        &upstream,
        format!(
            "primitive vip ocf:heartbeat:IPaddr2 params ip={VIP} cidr_netmask=24 nic=eth0 \
             op monitor interval=10s timeout=20s\n\
             primitive web ocf:heartbeat:apache params configfile=/etc/apache2/apache2.conf \
             op start timeout=40s op stop timeout=60s op monitor interval=10s timeout=20s\n\
             group site vip web\nlocation site-prefers-pc01 site 100: pc01\n"
        ),
    )
    .unwrap();
    lab.exec_ok(0, &format!("crm configure load update {}", upstream.display())).unwrap();
    lab.exec_ok(0, "crm configure property stop-all-resources=false").unwrap();
    lab.wait_started("web", TIMEOUT).unwrap();
    wait_page(&lab, "pc01");

    let cib = lab.exec_ok(0, "cibadmin -Q").unwrap().stdout;
    let r = migrate(&["cib", "-"], &cib);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("will restart (stop, then start) once: vip web"), "{}", r.stdout);
    let script = work.join("switch.sh");
    std::fs::write(&script, &r.stdout).unwrap();

    // A client polls the VIP while the script runs; every failed probe must fall in the one
    // restart window (a single outage), and the site must be back afterwards.
    let stop = Arc::new(AtomicBool::new(false));
    let probes = std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut seen: Vec<bool> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(page(&lab).as_deref() == Some("pc01"));
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        let o = lab.exec(0, &format!("sh {}", script.display())).unwrap();
        assert!(o.success(), "the switch script failed:\n{o}");
        assert!(o.stderr.contains("rha-migrate: restarting vip web"), "{o}");
        wait_for("the group on ocf:rha", TIMEOUT, Duration::from_millis(300), || {
            let x = lab.exec(0, "crm_resource --resource web --query-xml").ok();
            let rha = x.is_some_and(|x| x.stdout.contains(r#"provider="rha""#));
            Ok((rha && lab.where_is("web").ok().flatten().is_some() && page(&lab).as_deref() == Some("pc01"))
                .then_some(()))
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", lab.diagnostics()));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        poller.join().unwrap()
    });
    let outages = probes.windows(2).filter(|w| w[0] && !w[1]).count() + usize::from(!probes[0]);
    let failed = probes.iter().filter(|ok| !**ok).count();
    eprintln!(
        "switch-over: {} probes, {failed} failed (~{:.1} s unreachable), {outages} outage(s)",
        probes.len(),
        failed as f64 * 0.1
    );
    assert!(probes.last() == Some(&true), "the site is not back after the switch");
    assert!(outages <= 1, "more outages than the one announced restart: {probes:?}");
    for id in ["vip", "web"] {
        let x = lab.exec_ok(0, &format!("crm_resource --resource {id} --query-xml")).unwrap();
        assert!(x.stdout.contains(r#"provider="rha""#), "{id} is not ocf:rha:\n{x}");
    }
    lab.teardown().unwrap();
}
