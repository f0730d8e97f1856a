//! VM tier: a director pair (scenario S4's shape, LVS-NAT) with ocf:rha:ipvs-service cloned
//! on both directors and `sync_daemon=both`: the active director's master daemon sends its
//! connections, the standby's backup daemon receives them into its own connection table,
//! and an established TCP connection keeps working after the director dies and its VIPs
//! move to the standby. Without the sync daemon, the same failover breaks the connection
//! (the control that shows what the daemon buys).
//!
//! Namespaces inside the VM: a client, two directors (public eth0, internal eth1, sync
//! multicast on eth1), two real servers whose default gateway is the internal VIP. The VIPs
//! move as IPaddr2 moves them (address off one director, onto the other, gratuitous ARP).

mod common;

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::vmnet::{self, Server, in_netns, ipvsadm, plug, say, sysctl, wait_reachable};
use common::{Instance, expect};
use rha_harness::netns::Netns;

const VIP: &str = "198.51.100.10";
const GW: &str = "203.0.113.1";

struct Pair {
    _sw: Netns,
    client: Netns,
    a: Netns,
    b: Netns,
    _reals: Vec<Netns>,
    _servers: Vec<Server>,
    _dir: tempfile::TempDir,
    ia: Instance,
    ib: Instance,
}

fn pair(tag: &str, sync: bool) -> Pair {
    vmnet::setup();
    let sw = vmnet::switch(&format!("{tag}sw"), &["pub", "int"]);
    let client = Netns::new(&format!("{tag}cl")).unwrap();
    plug(&client, "eth0", &sw, "pub", "198.51.100.100/24");
    let a = Netns::new(&format!("{tag}a")).unwrap();
    let b = Netns::new(&format!("{tag}b")).unwrap();
    for (d, n) in [(&a, 2), (&b, 3)] {
        plug(d, "eth0", &sw, "pub", &format!("198.51.100.{n}/24"));
        plug(d, "eth1", &sw, "int", &format!("203.0.113.{n}/24"));
        sysctl(d, "net.ipv4.ip_forward=1");
    }
    let mut reals = Vec::new();
    let mut servers = Vec::new();
    for n in [11, 12] {
        let r = Netns::new(&format!("{tag}r{n}")).unwrap();
        plug(&r, "eth0", &sw, "int", &format!("203.0.113.{n}/24"));
        r.ip(&["route", "add", "default", "via", GW]).unwrap();
        servers.push(Server::start(r.name(), "0.0.0.0:80".parse().unwrap(), &format!("real{n}")));
        reals.push(r);
    }
    // One state directory for both "nodes": the records say which network namespace they
    // belong to, so the directors' sync daemons are not mistaken for each other's.
    let dir = tempfile::tempdir().unwrap();
    let inst = |name: &str, ns: &Netns| {
        let mut i = Instance::new(name, dir.path())
            .netns(ns.name())
            .param("virtual", format!("{VIP}:80"))
            .param("scheduler", "rr")
            .param("reals", "203.0.113.11:80 masq; 203.0.113.12:80 masq")
            // A clone of two instances, one per director.
            .env("OCF_RESKEY_CRM_meta_clone_max", "2")
            .env("OCF_RESKEY_CRM_meta_clone_node_max", "1");
        if sync {
            i = i.param("sync_daemon", "both").param("sync_interface", "eth1").param("syncid", "7");
        }
        i
    };
    let ia = inst("lvs:0", &a).env("OCF_RESKEY_CRM_meta_clone", "0");
    let ib = inst("lvs:1", &b).env("OCF_RESKEY_CRM_meta_clone", "1");
    Pair { _sw: sw, client, a, b, _reals: reals, _servers: servers, _dir: dir, ia, ib }
}

/// IPaddr2's part of a failover: the VIPs onto `to`, announced with gratuitous ARP.
fn take_vips(to: &Netns) {
    to.add_addr("eth0", &format!("{VIP}/24")).unwrap();
    to.add_addr("eth1", &format!("{GW}/24")).unwrap();
    for (ifname, ip) in [("eth0", VIP), ("eth1", GW)] {
        to.run_ok(&["arping", "-q", "-U", "-c", "2", "-w", "3", "-I", ifname, ip]).unwrap();
    }
}

/// The director dies: its links go down (its kernel state is lost with it).
fn kill_director(d: &Netns) {
    for ifname in ["eth0", "eth1"] {
        d.link_down(ifname).unwrap();
    }
}

/// Entries of a director's connection table for the client (`ipvsadm -L -n -c`).
fn conns_of_client(d: &Netns) -> Vec<String> {
    ipvsadm(d, &["-L", "-n", "-c"])
        .lines()
        .filter(|l| l.contains("198.51.100.100:"))
        .map(str::to_string)
        .collect()
}

/// Brings the pair up with A active, opens a connection and exchanges a few lines.
fn established(p: &Pair) -> (TcpStream, BufReader<TcpStream>, String) {
    expect(&p.ia.start(), 0, "start on director A");
    expect(&p.ib.start(), 0, "start on director B");
    take_vips(&p.a);
    expect(&p.ia.monitor10(), 0, "A at level 10");
    expect(&p.ib.monitor10(), 0, "B at level 10 (a clone: the VIP is not checked)");
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    wait_reachable(p.client.name(), vip, Duration::from_secs(30));
    let s = in_netns(p.client.name(), move || TcpStream::connect_timeout(&vip, Duration::from_secs(5)))
        .expect("connect to the VIP");
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut s = s;
    let mut real = String::new();
    // A few packets each way: the master syncs a connection once it has seen 3.
    for n in 0..5 {
        let a = say(&mut s, &mut r, &format!("hello {n}"), Duration::from_secs(10)).unwrap();
        real = a.split_whitespace().next().unwrap().to_string();
        assert_eq!(a, format!("{real} hello {n}"));
    }
    println!("established through director A to {real}: {:?}", conns_of_client(&p.a));
    (s, r, real)
}

#[test]
fn established_connection_survives_a_director_failover_with_sync() {
    let p = pair("sy", true);
    let (mut s, mut r, real) = established(&p);
    for (d, name) in [(&p.a, "A"), (&p.b, "B")] {
        let l = ipvsadm(d, &["-L", "--daemon"]);
        assert!(
            l.contains("master sync daemon (mcast=eth1, syncid=7")
                && l.contains("backup sync daemon (mcast=eth1, syncid=7"),
            "director {name}: {l}"
        );
    }

    // The standby's backup daemon receives the connection.
    let start = Instant::now();
    let synced = loop {
        let c = conns_of_client(&p.b);
        if c.iter().any(|l| l.contains("ESTABLISHED") && l.contains(&format!("{VIP}:80"))) {
            break c;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "director B never received the connection: {c:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("director B's table after {:?}: {synced:?}", start.elapsed());
    assert!(synced.iter().any(|l| l.contains(&format!("203.0.113.{}:80", &real[4..]))), "{synced:?}");

    // Director A dies; the VIPs move to B (whose service has been there all along).
    kill_director(&p.a);
    take_vips(&p.b);
    let t = Instant::now();
    let a = say(&mut s, &mut r, "after failover", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("the established connection broke on failover: {e}"));
    assert_eq!(a, format!("{real} after failover"), "answered by the same real server");
    println!("after the failover, the same connection answered in {:?}: {a}", t.elapsed());
    for n in 0..3 {
        assert_eq!(
            say(&mut s, &mut r, &format!("more {n}"), Duration::from_secs(10)).unwrap(),
            format!("{real} more {n}")
        );
    }
    expect(&p.ib.monitor(), 0, "B runs the service");
    // New connections go through B too.
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    let (counts, errors) = vmnet::get_many(p.client.name(), vip, 10, Duration::from_secs(60));
    assert!(errors.is_empty() && counts.len() == 2, "{counts:?} {errors:?}");
    drop(s);
    expect(&p.ib.stop(), 0, "stop on B");
    assert_eq!(ipvsadm(&p.b, &["-L", "--daemon"]), "", "B's daemons were started by B's instance");
    expect(&p.ia.stop(), 0, "stop on A");
    assert_eq!(ipvsadm(&p.a, &["-L", "--daemon"]), "");
}

#[test]
fn without_sync_the_same_failover_breaks_the_connection() {
    let p = pair("ns", false);
    let (mut s, mut r, _real) = established(&p);
    std::thread::sleep(Duration::from_secs(3));
    assert!(conns_of_client(&p.b).is_empty(), "nothing syncs without the daemon");
    kill_director(&p.a);
    take_vips(&p.b);
    let e = say(&mut s, &mut r, "after failover", Duration::from_secs(10));
    println!("without sync, after failover: {e:?}");
    assert!(e.is_err(), "the connection survived without a sync daemon: {e:?}");
    expect(&p.ib.stop(), 0, "stop on B");
    expect(&p.ia.stop(), 0, "stop on A");
}
