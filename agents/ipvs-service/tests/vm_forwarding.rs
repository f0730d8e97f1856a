//! VM tier, scenario S3 end to end: a client namespace reaches real-server namespaces (each
//! answering HTTP with its name) through a VIP programmed by ocf:rha:ipvs-service in a
//! director namespace, with the three forwarding methods:
//! - NAT (masq): wrr 3/3/1 with the director itself as one real server, 1,000 requests within
//!   5% of 3:3:1; the real servers route back through the director, which forwards.
//! - DR (gate): real servers with the VIP on `lo` and ARP suppressed (arp_ignore=1,
//!   arp_announce=2); the client's ARP entry for the VIP is the director's, and the replies
//!   bypass the director.
//! - TUN (ipip): real servers with the VIP on `tunl0`; replies bypass the director too.
//!
//! Runs inside the VM (`rha-vm run-tests`), addresses from the test ranges only:
//! 198.51.100.0/24 public, 203.0.113.0/24 internal.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::vmnet::{self, Server, check_ratio, get_many, plug, save, switch, sysctl, wait_reachable};
use common::{Instance, expect};
use rha_harness::netns::Netns;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn link_mac(ns: &Netns, ifname: &str) -> String {
    ns.run_ok(&["cat", &format!("/sys/class/net/{ifname}/address")]).unwrap().stdout.trim().to_string()
}

/// S3's NAT cluster: VIP 198.51.100.252:http, wrr, the director (weight 3), compute-0-0
/// (203.0.113.254, weight 3) and compute-0-7 (203.0.113.247, weight 1), all masq.
#[test]
fn nat_wrr_3_3_1_with_the_director_as_a_real_server() {
    vmnet::setup();
    let sw = switch("natsw", &["pub", "int"]);
    let client = Netns::new("natcl").unwrap();
    let director = Netns::new("natdir").unwrap();
    let r0 = Netns::new("natr0").unwrap();
    let r7 = Netns::new("natr7").unwrap();
    plug(&client, "eth0", &sw, "pub", "198.51.100.100/24");
    plug(&director, "eth0", &sw, "pub", "198.51.100.1/24");
    director.add_addr("eth0", "198.51.100.252/24").unwrap();
    plug(&director, "eth1", &sw, "int", "203.0.113.1/24");
    sysctl(&director, "net.ipv4.ip_forward=1");
    plug(&r0, "eth0", &sw, "int", "203.0.113.254/24");
    plug(&r7, "eth0", &sw, "int", "203.0.113.247/24");
    for r in [&r0, &r7] {
        r.ip(&["route", "add", "default", "via", "203.0.113.1"]).unwrap();
    }
    let _servers = [
        Server::start(director.name(), sa("0.0.0.0:80"), "director"),
        Server::start(r0.name(), sa("0.0.0.0:80"), "compute-0-0"),
        Server::start(r7.name(), sa("0.0.0.0:80"), "compute-0-7"),
    ];

    let dir = tempfile::tempdir().unwrap();
    let nat = Instance::new("s3nat", dir.path())
        .netns(director.name())
        .param("virtual", "198.51.100.252:http")
        .param("scheduler", "wrr")
        .param("reals", "198.51.100.252:http masq 3; 203.0.113.254:http -m -w 3; 203.0.113.247:http -m -w 1");
    expect(&nat.probe(), 7, "probe before start");
    expect(&nat.start(), 0, "start");
    expect(&nat.monitor(), 0, "monitor");
    expect(&nat.monitor10(), 0, "monitor at level 10 (ip_forward on, VIP local)");
    let listing = save(&director);
    println!("{listing}");
    assert_eq!(
        listing,
        "-A -t 198.51.100.252:80 -s wrr\n\
         -a -t 198.51.100.252:80 -r 198.51.100.252:80 -m -w 3\n\
         -a -t 198.51.100.252:80 -r 203.0.113.247:80 -m -w 1\n\
         -a -t 198.51.100.252:80 -r 203.0.113.254:80 -m -w 3\n"
    );

    let vip = sa("198.51.100.252:80");
    wait_reachable(client.name(), vip, Duration::from_secs(30));
    let (counts, errors) = get_many(client.name(), vip, 1000, Duration::from_secs(300));
    assert!(errors.is_empty(), "failed requests: {errors:?}");
    let summary = check_ratio(&counts, &[("director", 3), ("compute-0-0", 3), ("compute-0-7", 1)], 0.05);
    println!("NAT wrr 3:3:1 over 1000 requests: {summary}");
    expect(&nat.monitor(), 0, "monitor after traffic");
    expect(&nat.stop(), 0, "stop");
    assert_eq!(save(&director), "");
}

/// The DR and TUN labs share this shape: client, director (VIP on eth0) and two real
/// servers on one segment; `prepare_real` puts the VIP where the method needs it.
fn bypass_lab(tag: &str, method: &str, prepare_real: impl Fn(&Netns)) {
    vmnet::setup();
    let sw = switch(&format!("{tag}sw"), &["pub"]);
    let client = Netns::new(&format!("{tag}cl")).unwrap();
    let director = Netns::new(&format!("{tag}dir")).unwrap();
    let r1 = Netns::new(&format!("{tag}r1")).unwrap();
    let r2 = Netns::new(&format!("{tag}r2")).unwrap();
    plug(&client, "eth0", &sw, "pub", "198.51.100.100/24");
    plug(&director, "eth0", &sw, "pub", "198.51.100.1/24");
    director.add_addr("eth0", "198.51.100.250/32").unwrap();
    plug(&r1, "eth0", &sw, "pub", "198.51.100.252/24");
    plug(&r2, "eth0", &sw, "pub", "198.51.100.251/24");
    for r in [&r1, &r2] {
        // The source forgot this: without it a real server answers ARP for the VIP.
        for kv in [
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.eth0.arp_ignore=1",
            "net.ipv4.conf.eth0.arp_announce=2",
        ] {
            sysctl(r, kv);
        }
        prepare_real(r);
    }
    let _servers = [
        Server::start(r1.name(), sa("0.0.0.0:80"), "real-252"),
        Server::start(r2.name(), sa("0.0.0.0:80"), "real-251"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let i = Instance::new(tag, dir.path())
        .netns(director.name())
        .param("virtual", "198.51.100.250:80")
        .param("scheduler", "wrr")
        .param("reals", format!("198.51.100.252 {method} 3; 198.51.100.251:80 {method} 1"));
    expect(&i.start(), 0, "start");
    expect(&i.monitor10(), 0, "monitor at level 10 (VIP local; no NAT, so no ip_forward needed)");
    // ipvsadm 1.31 names the tunnel type of every tunnelling real server.
    let flag = if method == "gate" { "-g" } else { "-i" };
    let tun = if method == "gate" { "" } else { " --tun-type ipip" };
    assert_eq!(
        save(&director),
        format!(
            "-A -t 198.51.100.250:80 -s wrr\n\
             -a -t 198.51.100.250:80 -r 198.51.100.251:80 {flag} -w 1{tun}\n\
             -a -t 198.51.100.250:80 -r 198.51.100.252:80 {flag} -w 3{tun}\n"
        )
    );
    let vip = sa("198.51.100.250:80");
    wait_reachable(client.name(), vip, Duration::from_secs(30));
    let (counts, errors) = get_many(client.name(), vip, 200, Duration::from_secs(120));
    assert!(errors.is_empty(), "failed requests: {errors:?}");
    let summary = check_ratio(&counts, &[("real-252", 3), ("real-251", 1)], 0.05);
    println!("{method} wrr 3:1 over 200 requests: {summary}");

    // ARP for the VIP was answered by the director only.
    let neigh = client.run_ok(&["ip", "neigh", "show", "198.51.100.250"]).unwrap().stdout;
    let dmac = link_mac(&director, "eth0");
    assert!(neigh.contains(&dmac), "client's ARP entry for the VIP is not the director's ({dmac}): {neigh}");
    // The replies went straight to the client: the director forwarded no packet outwards.
    // (The kernel folds its per-CPU counters into what it reports every 2 s.)
    let mut service = String::new();
    for _ in 0..50 {
        let stats = vmnet::ipvsadm(&director, &["-L", "-n", "--stats", "--exact"]);
        service = stats.lines().find(|l| l.starts_with("TCP  198.51.100.250:80")).unwrap().to_string();
        if service.split_whitespace().nth(2).and_then(|c| c.parse::<u64>().ok()).unwrap_or(0) >= 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("{service}");
    let f: Vec<&str> = service.split_whitespace().collect();
    let (conns, inpkts, outpkts) = (f[2], f[3], f[4]);
    assert!(conns.parse::<u64>().unwrap() >= 200 && inpkts != "0", "{service}");
    assert_eq!(outpkts, "0", "replies went through the director: {service}");
    expect(&i.stop(), 0, "stop");
    assert_eq!(save(&director), "");
}

/// S3's DR variant: reals with the VIP on lo /32 and ARP suppressed.
#[test]
fn dr_with_the_vip_on_lo_and_arp_suppressed() {
    bypass_lab("dr", "gate", |r| {
        r.add_addr("lo", "198.51.100.250/32").unwrap();
    });
}

/// S3's TUN variant: reals with the VIP on tunl0 /32.
#[test]
fn tun_with_the_vip_on_tunl0() {
    bypass_lab("tun", "ipip", |r| {
        r.link_up("tunl0").unwrap();
        r.add_addr("tunl0", "198.51.100.250/32").unwrap();
        for kv in [
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.tunl0.rp_filter=0",
            "net.ipv4.conf.tunl0.arp_ignore=1",
        ] {
            sysctl(r, kv);
        }
    });
}
