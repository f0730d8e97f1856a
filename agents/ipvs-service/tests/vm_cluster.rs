//! VM tier, scenario S4 under Pacemaker: a 2-node cluster (the lab, inside the VM because the
//! host kernel has no IPVS) runs ocf:rha:ipvs-service as a clone with `sync_daemon=both` and
//! the two VIPs (public, and the real servers' gateway) as a group of ocf:heartbeat:IPaddr2
//! colocated with it. A client holds an established TCP connection through the director
//! that has the VIPs; that node dies (links down, every process killed); Pacemaker moves
//! the VIPs, and the same connection goes on answering through the other director, whose
//! backup sync daemon had received it.

mod common;

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::agent_path;
use common::vmnet::{self, Server, in_netns, plug, say};
use rha_harness::cmd::require_tools;
use rha_harness::lab::{Lab, LabConfig, NetSpec, REQUIRED_TOOLS, agents_dir};
use rha_harness::netns::Netns;

/// TCG on a shared host: generous limits (the lab alone takes 30 to 90 s to come online).
const LIMIT: Duration = Duration::from_secs(400);

const CIB: &str = r#"primitive lvs ocf:rha:ipvs-service \
    params virtual="198.51.100.10:80" scheduler=rr reals="203.0.113.21:80 masq; 203.0.113.22:80 masq" \
        sync_daemon=both sync_interface=eth1 syncid=7 \
    op monitor interval=10s timeout=20s
clone lvs-clone lvs
primitive vip ocf:heartbeat:IPaddr2 params ip=198.51.100.10 cidr_netmask=24 nic=eth0 op monitor interval=10s
primitive gw ocf:heartbeat:IPaddr2 params ip=203.0.113.1 cidr_netmask=24 nic=eth1 op monitor interval=10s
group vips vip gw
colocation vips-with-lvs inf: vips lvs-clone
order lvs-before-vips Mandatory: lvs-clone vips
"#;

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn cloned_service_with_sync_keeps_a_connection_across_a_node_failure() {
    vmnet::setup();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh")]).unwrap();
    let agents = agents_dir(&[("ipvs-service", std::path::Path::new(agent_path()))]).unwrap();

    let t0 = Instant::now();
    let mut cfg = LabConfig::with_nodes(2);
    cfg.tag = "lvs".into();
    cfg.extra_networks.push(NetSpec::second());
    cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
    cfg.online_timeout = LIMIT;
    let mut lab = Lab::start(cfg).unwrap();
    println!("lab online in {:.1}s", t0.elapsed().as_secs_f64());
    for i in 0..2 {
        lab.exec_ok(i, "sysctl -qw net.ipv4.ip_forward=1").unwrap();
    }

    // Two real servers on the internal network, their gateway the internal VIP.
    let sw = Netns::adopt(&lab.state().switch).unwrap();
    let mut reals = Vec::new();
    let mut servers = Vec::new();
    for n in [21, 22] {
        let r = Netns::new(&format!("lvsr{n}")).unwrap();
        plug(&r, "eth0", &sw, "br1", &format!("203.0.113.{n}/24"));
        r.ip(&["route", "add", "default", "via", "203.0.113.1"]).unwrap();
        servers.push(Server::start(r.name(), "0.0.0.0:80".parse().unwrap(), &format!("real{n}")));
        reals.push(r);
    }
    let _ = sw.into_name(); // the lab owns the switch

    let cib = lab.workdir().join("lvs.crm");
    std::fs::write(&cib, CIB).unwrap();
    lab.exec_ok(0, &format!("crm configure load update {}", cib.display())).unwrap();
    let active = lab.wait_started("gw", LIMIT).unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
    let standby = 1 - active;
    for i in [active, standby] {
        wait_until(&format!("the service on node {}", i + 1), LIMIT, || {
            lab.exec(i, "ipvsadm -Ln").map(|o| o.stdout.contains("198.51.100.10:80")).unwrap_or(false)
        });
        let d = lab.exec_ok(i, "ipvsadm -L --daemon").unwrap().stdout;
        assert!(
            d.contains("master sync daemon (mcast=eth1, syncid=7") && d.contains("backup sync daemon"),
            "{d}"
        );
    }
    println!("resources started in {:.1}s; VIPs on node {}", t0.elapsed().as_secs_f64(), active + 1);

    let vip: SocketAddr = "198.51.100.10:80".parse().unwrap();
    vmnet::wait_reachable(lab.client_netns(), vip, LIMIT);
    let s = in_netns(lab.client_netns(), move || TcpStream::connect_timeout(&vip, Duration::from_secs(10)))
        .expect("connect to the VIP");
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut s = s;
    let mut real = String::new();
    for n in 0..5 {
        let a = say(&mut s, &mut r, &format!("hello {n}"), Duration::from_secs(20)).unwrap();
        real = a.split_whitespace().next().unwrap().to_string();
    }
    wait_until("the standby's table to hold the connection", Duration::from_secs(60), || {
        lab.exec(standby, "ipvsadm -Lnc")
            .map(|o| o.stdout.lines().any(|l| l.contains("ESTABLISHED") && l.contains("198.51.100.100:")))
            .unwrap_or(false)
    });
    println!("connection to {real} synced to node {}", standby + 1);

    let t1 = Instant::now();
    lab.kill_node(active).unwrap();
    let to = lab.wait_moved("gw", active, LIMIT).unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
    assert_eq!(to, standby);
    let moved = t1.elapsed();
    let a = say(&mut s, &mut r, "after failover", Duration::from_secs(60)).unwrap_or_else(|e| {
        panic!("the established connection broke on failover: {e}\n{}", lab.diagnostics())
    });
    assert_eq!(a, format!("{real} after failover"));
    println!(
        "node {} killed: VIPs on node {} after {:.1}s, the same connection answered after {:.1}s",
        active + 1,
        to + 1,
        moved.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    );
    let mon = lab.crm_mon().unwrap();
    assert!(!mon.contains("Failed Resource Actions"), "{mon}");
    drop(s);
    drop(servers);
    lab.teardown().unwrap();
    drop(reals);
}
