//! Lab tier (scenario S4's addresses): a real 2-node Pacemaker cluster runs a group of two
//! ocf:rha:IPaddr2 addresses on different interfaces; the node holding them dies, both move
//! to the survivor, the client's neighbour entries follow (gratuitous ARP) and both
//! addresses answer from the client. Needs root, pacemaker, corosync, crmsh.

use std::path::Path;
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, NetSpec, REQUIRED_TOOLS, agents_dir};

const TIMEOUT: Duration = Duration::from_secs(120);
const VIPS: [(&str, &str, &str); 2] = [("ip1", "198.51.100.200", "eth0"), ("ip2", "203.0.113.200", "eth1")];

fn client_neighbour(lab: &Lab, ip: &str) -> String {
    lab.client_exec(&format!("ip neigh show {ip}")).map(|o| o.stdout).unwrap_or_default()
}

fn mac(lab: &Lab, node: usize, ifname: &str) -> String {
    let out = lab.exec_ok(node, &format!("cat /sys/class/net/{ifname}/address")).unwrap().stdout;
    out.trim().to_string()
}

#[test]
fn group_of_two_vips_on_two_nics_fails_over() {
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("ping", "iputils-ping")]).unwrap();

    let agents = agents_dir(&[("IPaddr2", Path::new(env!("CARGO_BIN_EXE_IPaddr2")))]).unwrap();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "ipa".into();
    cfg.extra_networks.push(NetSpec::second());
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    let mut lab = Lab::start(cfg).unwrap();

    for (name, ip, nic) in VIPS {
        let brd = format!("{}.255", ip.rsplit_once('.').unwrap().0);
        lab.exec_ok(
            0,
            &format!(
                "crm configure primitive {name} ocf:rha:IPaddr2 params ip={ip} nic={nic} cidr_netmask=24 \
                 broadcast={brd} op monitor interval=5s timeout=20s"
            ),
        )
        .unwrap();
    }
    lab.exec_ok(0, "crm configure group group1 ip1 ip2").unwrap();
    let on = lab.wait_started("ip1", TIMEOUT).unwrap();
    wait_for("ip2 next to ip1", TIMEOUT, Duration::from_millis(500), || {
        Ok((lab.where_is("ip2")? == Some(on)).then_some(()))
    })
    .unwrap();
    for (_, ip, nic) in VIPS {
        let o = lab.exec_ok(on, &format!("ip -o addr show dev {nic}")).unwrap();
        assert!(o.stdout.contains(&format!("{ip}/24")), "{ip} not on {nic}: {o}");
        lab.client_exec_ok(&format!("ping -c 1 -W 5 {ip}")).unwrap();
        assert!(client_neighbour(&lab, ip).contains(&mac(&lab, on, nic)));
    }

    let t = Instant::now();
    lab.kill_node(on).unwrap();
    let survivor = lab.wait_moved("ip1", on, TIMEOUT).unwrap();
    assert_eq!(lab.wait_moved("ip2", on, TIMEOUT).unwrap(), survivor);
    eprintln!(
        "timing: group moved from {} to {} in {:.1}s",
        lab.node_name(on),
        lab.node_name(survivor),
        t.elapsed().as_secs_f64()
    );
    for (_, ip, nic) in VIPS {
        // The announcements alone move the client's entries (no ping before this check).
        let want = mac(&lab, survivor, nic);
        wait_for(
            &format!("client's entry for {ip} to show {want}"),
            Duration::from_secs(10),
            Duration::from_millis(100),
            || Ok(client_neighbour(&lab, ip).contains(&want).then_some(())),
        )
        .unwrap();
        lab.client_exec_ok(&format!("ping -c 1 -W 5 {ip}")).unwrap();
    }
    lab.teardown().unwrap();
}
