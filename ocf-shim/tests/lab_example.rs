//! Lab tier: the example agent under a real 2-node Pacemaker/Corosync cluster, configured once
//! through crmsh and once through pcs, moved by a node's death, and its exit reason shown by
//! the cluster. Proves the OCF contract end to end, not only under ocf-tester.

use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS};

mod common;
use common::example_agent;

const RESOURCE_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn example_agent_runs_through_crm_and_pcs_and_fails_over() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("pcs", "pcs")]).unwrap();
    let agents = tempfile::tempdir().unwrap();
    std::fs::copy(example_agent(), agents.path().join("example")).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    let mut lab = Lab::start(cfg).unwrap();

    // pcs validates the parameters through the agent's own validate-all, with no PATH.
    lab.exec_ok(0, "crm configure primitive ex ocf:rha:example params fake=from-crm op monitor interval=5s")
        .unwrap();
    lab.exec_ok(
        1,
        "pcs resource create ex2 ocf:rha:example fake=from-pcs --agent-validation op monitor interval=5s",
    )
    .unwrap();
    lab.exec_ok(0, "pcs constraint colocation add ex2 with ex INFINITY").unwrap();
    let on = lab.wait_started("ex", RESOURCE_TIMEOUT).unwrap();
    rha_harness::cmd::wait_for("ex2 next to ex", RESOURCE_TIMEOUT, Duration::from_millis(500), || {
        Ok((lab.where_is("ex2")? == Some(on)).then_some(()))
    })
    .unwrap();
    // The state file is where the agent said: the node's own /run.
    lab.exec_ok(on, "grep -qx from-crm /run/rha/example/ex.state").unwrap();
    assert_eq!(lab.status().unwrap().resource("ex2").unwrap().agent, "ocf:rha:example");

    // pcs refuses a bad value through validate-all, showing the agent's reason.
    let o = lab.exec(0, "pcs resource create bad ocf:rha:example state=relative --agent-validation").unwrap();
    assert!(!o.success(), "pcs accepted an invalid parameter: {o}");
    assert!(format!("{o}").contains("is not an absolute path"), "{o}");

    // A failing start: the cluster records our exit reason.
    lab.exec_ok(0, "crm configure primitive broken ocf:rha:example params fail_start=true").unwrap();
    rha_harness::cmd::wait_for("failed start recorded", RESOURCE_TIMEOUT, Duration::from_millis(500), || {
        let mon = lab.crm_mon()?;
        Ok(mon.contains("start failed because fail_start is set").then_some(()))
    })
    .unwrap();

    let t = Instant::now();
    lab.kill_node(on).unwrap();
    let survivor = lab.wait_moved("ex", on, RESOURCE_TIMEOUT).unwrap();
    assert_eq!(lab.wait_moved("ex2", on, RESOURCE_TIMEOUT).unwrap(), survivor);
    eprintln!("timing: example resources failed over in {:.1}s", t.elapsed().as_secs_f64());
    lab.exec_ok(survivor, "test -e /run/rha/example/ex.state && test -e /run/rha/example/ex2.state").unwrap();
    lab.teardown().unwrap();
}
