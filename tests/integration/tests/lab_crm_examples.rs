//! Lab tier: every file in crm-examples/ runs as written.
//!
//! In one 2-node cluster (pc01, pc02; eth0 on 198.51.100.0/24, eth1 on 203.0.113.0/24) with
//! our agents installed as ocf:rha, each example is loaded exactly as an administrator would —
//! `crm configure load update FILE` for the crmsh files, `sh FILE` for the pcs ones — and then:
//! crmsh's own verification passes, and every primitive's parameters pass its agent's
//! `validate-all` run by Pacemaker (`crm_resource --validate`). Resources are kept stopped while
//! checking (this kernel has no IPVS for the LVS examples); S1 is then really started from its
//! file: the client is served by pc01 through the VIP, by pc02 once pc01 dies, and by pc01 again
//! when it returns (auto_failback on = a location preference, no stickiness).
//!
//! S4's directors get their own /etc/ha.d holding crm-examples/s4-ldirectord.cf as
//! ldirectord.cf (what its file tells administrators to do), and ldirectord1's `ldirectord`
//! parameter is pointed at the daemon this tree built (the package installs it at the default,
//! /usr/sbin/rha-ldirectord; the test tree does not).
//!
//! Needs root, pacemaker, corosync, crmsh, pcs, apache2, curl.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, NetSpec, REQUIRED_TOOLS, agents_dir};
use rha_integration::{Bin, agent_binary};

const TIMEOUT: Duration = Duration::from_secs(150);

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crm-examples").canonicalize().unwrap()
}

/// The resource ids an example defines, in order.
fn primitives(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let pcs = file.extension().is_some_and(|e| e == "pcs");
    text.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.as_slice() {
                ["primitive", id, ..] if !pcs => Some(id.to_string()),
                ["pcs", "resource", "create", id, ..] if pcs => Some(id.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// Remove every resource and constraint, keep resources from starting.
fn reset(lab: &Lab) {
    lab.exec_ok(0, "crm configure property stop-all-resources=true").unwrap();
    lab.exec_ok(0, "cibadmin --replace --scope constraints --xml-text '<constraints/>'").unwrap();
    lab.exec_ok(0, "cibadmin --replace --scope resources --xml-text '<resources/>'").unwrap();
}

fn load(lab: &Lab, file: &Path) {
    let path = file.display();
    let o = if file.extension().is_some_and(|e| e == "pcs") {
        lab.exec(0, &format!("sh {path}")).unwrap()
    } else {
        lab.exec(0, &format!("crm configure load update {path}")).unwrap()
    };
    assert!(o.success() && !o.stderr.contains("ERROR"), "{path} does not load:\n{o}");
}

fn check(lab: &Lab, file: &Path) {
    let ids = primitives(file);
    assert!(!ids.is_empty(), "{} defines no primitive", file.display());
    let o = lab.exec(0, "crm configure verify").unwrap();
    assert!(
        o.success() && !o.stdout.contains("ERROR") && !o.stderr.contains("ERROR"),
        "{}:\n{o}",
        file.display()
    );
    for id in &ids {
        let xml = lab.exec_ok(0, &format!("crm_resource --resource {id} --query-xml")).unwrap();
        assert!(
            xml.stdout.contains(r#"provider="rha""#),
            "{id} in {} is not ocf:rha:\n{xml}",
            file.display()
        );
        let v = lab.exec(0, &format!("crm_resource --validate --resource {id}")).unwrap();
        assert!(v.success(), "{id} in {}: the agent's validate-all refuses it:\n{v}", file.display());
    }
    eprintln!("{}: {} primitives load, verify and validate", file.display(), ids.len());
}

/// A cluster named as the scenario's sources name their nodes, with our agents installed (and
/// a private copy of each of `private` on every node).
fn lab(agents: &Path, names: [&str; 2], private: &[&str]) -> Lab {
    let mut cfg = LabConfig::with_nodes(2);
    cfg.private_dirs = private.iter().map(PathBuf::from).collect();
    cfg.tag = "examples".into();
    cfg.node_names = Some(names.iter().map(|n| n.to_string()).collect());
    cfg.extra_networks.push(NetSpec::second());
    cfg.ocf_rha_dir = Some(agents.to_path_buf());
    cfg.www = true;
    Lab::start(cfg).unwrap()
}

#[test]
fn every_example_loads_validates_and_s1_runs() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("pcs", "pcs"), ("curl", "curl"), ("apache2", "apache2")]).unwrap();
    let binaries: Vec<(&str, PathBuf)> = [Bin::IpAddr2, Bin::Apache, Bin::IpvsService, Bin::Ldirectord]
        .into_iter()
        .map(|b| (b.file_name(), agent_binary(b)))
        .collect();
    let agents = agents_dir(&binaries.iter().map(|(n, p)| (*n, p.as_path())).collect::<Vec<_>>()).unwrap();

    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "crm" || e == "pcs"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "examples missing: {files:?}");
    // S4's directors are called master and standby; every other example runs on pc01/pc02.
    let (s4, others): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|f| f.file_name().unwrap().to_string_lossy().starts_with("s4-"));

    let directors = lab(agents.path(), ["master", "standby"], &["/etc/ha.d"]);
    let cf = examples_dir().join("s4-ldirectord.cf");
    for i in 0..2 {
        directors.exec_ok(i, &format!("cp {} /etc/ha.d/ldirectord.cf", cf.display())).unwrap();
    }
    let daemon = agent_binary(Bin::LdirectordDaemon);
    for f in &s4 {
        reset(&directors);
        load(&directors, f);
        directors
            .exec_ok(
                0,
                &format!(
                    "crm_resource --resource ldirectord1 --set-parameter ldirectord --parameter-value {}",
                    daemon.display()
                ),
            )
            .unwrap();
        check(&directors, f);
    }
    directors.teardown().unwrap();

    let lab = lab(agents.path(), ["pc01", "pc02"], &[]);
    for f in &others {
        reset(&lab);
        load(&lab, f);
        check(&lab, f);
    }
    // S1 as written, for real: the group starts on pc01 and the client gets pc01's page.
    reset(&lab);
    load(&lab, &examples_dir().join("s1-web-failover.crm"));
    lab.exec_ok(0, "crm configure property stop-all-resources=false").unwrap();
    let on = lab.wait_started("web", TIMEOUT).unwrap();
    assert_eq!(lab.node_name(on), "pc01", "S1 prefers pc01");
    let served_by = |lab: &Lab, who: &str| {
        wait_for(&format!("{who}'s page at the VIP"), TIMEOUT, Duration::from_millis(200), || {
            let o = lab.client_exec("curl -s --max-time 2 http://198.51.100.182/")?;
            Ok((o.stdout.trim() == who).then_some(()))
        })
        .unwrap()
    };
    served_by(&lab, "pc01");
    // The source's failover test: stop the primary, browse again — pc02 serves.
    let mut lab = lab;
    lab.kill_node(on).unwrap();
    let survivor = lab.wait_moved("web", on, TIMEOUT).unwrap();
    assert_eq!(lab.node_name(survivor), "pc02");
    served_by(&lab, "pc02");
    // auto_failback on: when pc01 returns, the site moves back to it.
    lab.revive_node(on).unwrap();
    lab.wait_online(TIMEOUT).unwrap();
    wait_for("the site back on pc01", TIMEOUT, Duration::from_millis(500), || {
        Ok((lab.where_is("web")? == Some(on) && lab.where_is("vip")? == Some(on)).then_some(()))
    })
    .unwrap();
    served_by(&lab, "pc01");
    lab.teardown().unwrap();
}
