//! VM tier: cluster-IP clone mode on a node whose kernel has no nf_tables (a container, a
//! kernel with module loading blocked). Reading the table there fails (EINVAL,
//! EPROTONOSUPPORT); that must mean "not running" (probe 7) and "nothing to stop" (stop 0) —
//! a 1 would get a node that never ran the resource fenced — and start fails with 5 and a
//! reason (issue 10 item 6). The VM takes nf_tables away (rha_harness::modules::ModulesBlocked:
//! unloaded, and modprobe refusing it), so this is true by construction.

mod common;

use std::ffi::OsString;

use common::{PROBE, RECURRING, preconditions, run_in};
use rha_harness::modules::ModulesBlocked;
use rha_harness::netns::Netns;

#[test]
fn without_nf_tables_a_bucket_probes_7_stops_0_and_starts_5() {
    preconditions();
    let _gone = ModulesBlocked::new(&["nf_tables"], &["nft_", "nf_tables", "nf_flow_table_inet"])
        .expect("taking nf_tables away (this test runs in the VM tier)");
    let ns = Netns::new("nonft").unwrap();
    let peer = Netns::new("nonftp").unwrap();
    ns.add_veth("eth0", &peer, "eth0").unwrap();
    ns.link_up("eth0").unwrap();
    peer.link_up("eth0").unwrap();
    ns.add_addr("eth0", "198.51.100.1/24").unwrap();
    let state = tempfile::tempdir().unwrap();
    let params: Vec<(String, OsString)> =
        [("ip", "198.51.100.10"), ("cidr_netmask", "24"), ("nic", "eth0"), ("mac", "03:00:00:00:00:0a")]
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
    let clone: &[(&str, &str)] = &[
        ("OCF_RESOURCE_INSTANCE", "cip:0"),
        ("OCF_RESKEY_CRM_meta_clone", "0"),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ("OCF_RESKEY_CRM_meta_clone_node_max", "2"),
        ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
    ];
    let run = |action: &str, extra: &[(&str, &str)]| {
        run_in(&ns, state.path(), common::ours(), action, &params, &[clone, extra].concat())
    };
    let p = run("monitor", PROBE);
    assert_eq!(p.code, 7, "probe without nf_tables: {p}");
    let m = run("monitor", RECURRING);
    assert_eq!(m.code, 7, "recurring monitor without nf_tables: {m}");
    let s = run("stop", &[]);
    assert_eq!(s.code, 0, "stop without nf_tables: {s}");
    let st = run("start", &[]);
    assert_eq!(st.code, 5, "start without nf_tables: {st}");
    assert!(st.why().contains("nf_tables"), "start's reason names nf_tables: {st}");
    assert!(!std::path::Path::new("/sys/module/nf_tables").exists(), "nf_tables came back");
    assert_eq!(run("stop", &[]).code, 0, "stop after the failed start");
    let addrs = ns.sh_ok("ip -o addr show dev eth0").unwrap().stdout;
    assert!(!addrs.contains("198.51.100.10"), "the failed start left the address: {addrs}");
}
