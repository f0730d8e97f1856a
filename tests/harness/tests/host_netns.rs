//! Host tier: network namespaces, veth pairs and bridges, and their cleanup.
//! Needs root and iproute2; fails (does not skip) without them.

use std::process::Command;

use rha_harness::cmd::{self, require_root, require_tools};
use rha_harness::netns::{self, Netns};

fn preconditions() {
    require_root().unwrap();
    require_tools(&[("ip", "iproute2"), ("ping", "iputils-ping")]).unwrap();
}

/// Interface names in the root namespace: the harness must never add any.
fn root_links() -> Vec<String> {
    let out = cmd::run_ok(&["ip", "-o", "link", "show"]).unwrap();
    let mut v: Vec<String> =
        out.stdout.lines().filter_map(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()).collect();
    v.sort();
    v
}

fn root_addrs() -> String {
    cmd::run_ok(&["ip", "-o", "addr", "show"]).unwrap().stdout
}

#[test]
fn veth_bridge_ping_across() {
    preconditions();
    let links_before = root_links();
    let addrs_before = root_addrs();
    {
        let sw = Netns::new("sw").unwrap();
        let a = Netns::new("a").unwrap();
        let b = Netns::new("b").unwrap();
        sw.add_bridge("br0").unwrap();
        a.connect_to("eth0", &sw, "br0", "pa").unwrap();
        b.connect_to("eth0", &sw, "br0", "pb").unwrap();
        a.add_addr("eth0", "198.51.100.1/24").unwrap();
        b.add_addr("eth0", "198.51.100.2/24").unwrap();
        a.add_addr("eth0", "2001:db8::1/64").unwrap();
        b.add_addr("eth0", "2001:db8::2/64").unwrap();

        a.run_ok(&["ping", "-c", "1", "-W", "5", "198.51.100.2"]).unwrap();
        b.run_ok(&["ping", "-c", "1", "-W", "5", "2001:db8::1"]).unwrap();

        // Link down on the switch side cuts the path (what Lab::kill_node relies on).
        sw.link_down("pb").unwrap();
        let o = a.run(&["ping", "-c", "1", "-W", "1", "198.51.100.2"]).unwrap();
        assert!(!o.success(), "ping went through a downed port: {o}");
        sw.link_up("pb").unwrap();
        cmd::wait_for(
            "ping after link up",
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(200),
            || Ok(a.run(&["ping", "-c", "1", "-W", "1", "198.51.100.2"])?.success().then_some(())),
        )
        .unwrap();

        // Nothing leaked into the root namespace while the namespaces exist. (Compared by
        // name: other people's processes may change the root namespace meanwhile.)
        let links = root_links();
        for ours in ["pa", "pb", "br0"] {
            assert!(
                links_before.contains(&ours.to_string()) || !links.contains(&ours.to_string()),
                "{ours} appeared in the root namespace"
            );
        }
        let addrs = root_addrs();
        for ours in ["198.51.100.1/", "198.51.100.2/", "2001:db8::1/", "2001:db8::2/"] {
            assert!(
                addrs_before.contains(ours) || !addrs.contains(ours),
                "{ours} appeared in the root namespace"
            );
        }
    }
}

#[test]
fn only_test_addresses_are_accepted() {
    preconditions();
    let a = Netns::new("addr").unwrap();
    a.add_veth("v0", &a, "v1").unwrap();
    for bad in ["192.0.2.10/24", "10.1.2.3/8", "2001:db9::1/64"] {
        let e = a.add_addr("v0", bad).unwrap_err().to_string();
        assert!(e.contains("outside the test ranges"), "{e}");
    }
    let out = a.run_ok(&["ip", "-o", "addr", "show", "dev", "v0"]).unwrap();
    assert!(!out.stdout.contains("inet "), "{}", out.stdout);
}

#[test]
fn run_and_sh_report_output_and_errors() {
    preconditions();
    let ns = Netns::new("run").unwrap();
    let o = ns.sh("echo hi; echo oops >&2; exit 4").unwrap();
    assert_eq!(o.code(), Some(4));
    assert_eq!(o.stdout, "hi\n");
    assert_eq!(o.stderr, "oops\n");
    let e = ns.sh_ok("echo oops >&2; exit 4").unwrap_err().to_string();
    assert!(e.contains("exit code 4") && e.contains("oops") && e.contains(ns.name()), "{e}");

    // Inside, only lo exists: we really are in a fresh namespace.
    let links = ns.run_ok(&["ip", "-o", "link"]).unwrap().stdout;
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:"));
}

#[test]
fn names_have_prefix_and_are_unique() {
    preconditions();
    let a = Netns::new("u").unwrap();
    let b = Netns::new("u").unwrap();
    assert_ne!(a.name(), b.name());
    for n in [a.name(), b.name()] {
        assert!(n.starts_with("rha-"), "{n}");
        assert_eq!(netns::owner_of(n), Some(std::process::id()));
    }
}

#[test]
fn drop_kills_processes_and_removes_namespace() {
    preconditions();
    let ns = Netns::new("drop").unwrap();
    let name = ns.name().to_string();
    let o = ns.sh_ok("sleep 1000 </dev/null >/dev/null 2>&1 & echo $!").unwrap();
    let pid: u32 = o.stdout.trim().parse().unwrap();
    assert!(netns::process_alive(pid));
    assert_eq!(ns.pids().unwrap(), vec![pid]);
    drop(ns);
    assert!(!netns::list().unwrap().contains(&name), "{name} still listed");
    assert!(!netns::process_alive(pid), "process {pid} survived the drop");
}

#[test]
fn sweep_removes_stale_but_not_live() {
    preconditions();
    // A pid that surely is dead: a child we already reaped.
    let mut c = Command::new("true").spawn().unwrap();
    c.wait().unwrap();
    let dead = c.id();
    assert!(!netns::process_alive(dead));

    let stale = Netns::new_owned_by("stale", dead).unwrap();
    stale.sh_ok("sleep 1000 </dev/null >/dev/null 2>&1 &").unwrap();
    let stale_name = stale.into_name(); // leaked, like after a killed test run
    let live = Netns::new("live").unwrap();

    // (Another test of this binary may sweep at the same time and take it first.)
    let removed = netns::sweep_stale().unwrap();
    let names = netns::list().unwrap();
    assert!(!names.contains(&stale_name));
    assert!(names.contains(&live.name().to_string()), "sweep removed a live namespace");
    assert!(!removed.contains(&live.name().to_string()));
}

#[test]
fn deleting_a_namespace_removes_its_veth_peers() {
    preconditions();
    let sw = Netns::new("peersw").unwrap();
    sw.add_bridge("br0").unwrap();
    let a = Netns::new("peera").unwrap();
    a.connect_to("eth0", &sw, "br0", "porta").unwrap();
    assert!(sw.ip(&["link", "show", "porta"]).is_ok());
    a.delete().unwrap();
    // The kernel destroys a namespace asynchronously after its last user is gone.
    cmd::wait_for(
        "the switch port to vanish with its peer's namespace",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(50),
        || Ok(sw.ip(&["link", "show", "porta"]).is_err().then_some(())),
    )
    .unwrap();
}

#[test]
fn sweep_leaves_namespaces_without_owner_alone() {
    preconditions();
    // Someone else's namespace with our prefix but not our naming scheme: in use or not,
    // nothing says, so only sweep_all may remove it.
    let name = format!("rhaforeign{}", std::process::id());
    cmd::run_ok(&["ip", "netns", "add", &name]).unwrap();
    let removed = netns::sweep_stale().unwrap();
    let still = netns::list().unwrap().contains(&name);
    netns::remove(&name).unwrap();
    assert!(!removed.contains(&name) && still, "sweep_stale removed {name}");
}
