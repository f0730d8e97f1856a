//! VM tier, scenario S4's director (../shared/reference/scenarios.md): its ldirectord.cf
//! verbatim, addresses mapped (192.168.1.200 → 198.51.100.200, 10.0.10.110–112 →
//! 203.0.113.110–112), run through rha-ldirectord's command line against real IPVS, with three
//! real Apache servers (Debian's apache2) in a namespace behind LVS-NAT and a client namespace
//! fetching pages through the VIP:
//! - start returns with the three reals in IPVS; round robin serves each of them;
//! - stopping each Apache takes its real to weight 0 (quiescent=yes) within checkinterval +
//!   checktimeout, restarting it brings it back;
//! - all three down → the fallback is added; S4's `fallback=127.0.0.1:80 masq` cannot serve
//!   (Linux drops NAT to a loopback address for clients from the network: start warns at its
//!   line), and with the fix the warning names (gate), applied by autoreload with a scheduler
//!   change, the fallback (an Apache on the director) serves;
//! - a broken edit is refused, named at file:line in `status`, and the running configuration
//!   stays;
//! - stop returns with nothing of ours in IPVS.

#![cfg(feature = "vm-tier")]

mod common;
#[path = "../../../agents/ipvs-service/tests/common/vmnet.rs"]
mod vmnet;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Apache;
use rha_harness::netns::Netns;
use vmnet::{in_netns, plug, save, switch, sysctl};

const OURS: &str = env!("CARGO_BIN_EXE_rha-ldirectord");

/// S4's file, its addresses mapped to the test ranges and nothing else changed.
fn s4_cf() -> String {
    include_str!("data/s4-ldirectord.cf")
        .replace("192.168.1.200", "198.51.100.200")
        .replace("10.0.10.", "203.0.113.")
}

/// The reals of the VIP in `ipvsadm -S -n`, as "REAL WEIGHT", sorted.
fn reals(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = save(ns)
        .lines()
        .filter_map(|l| l.strip_prefix("-a -t 198.51.100.200:80 -r "))
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            format!("{} {}", f[0], f.last().unwrap())
        })
        .collect();
    v.sort();
    v
}

fn wait_reals(ns: &Netns, want: &[&str], limit: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    loop {
        let got = reals(ns);
        if got == want {
            eprintln!("{what}: {got:?} after {:.1} s", start.elapsed().as_secs_f64());
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: want {want:?}, IPVS has {got:?} after {limit:?}\n{}",
            save(ns)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One page's body over HTTP/1.0 (Apache answers 1.1 with headers we do not need).
fn get(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let t = Duration::from_secs(10);
    let mut s = match std::net::TcpStream::connect_timeout(&addr, t) {
        Ok(s) => s,
        Err(e) => return format!("error: connect: {e}"),
    };
    let _ = s.set_read_timeout(Some(t));
    let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: s4\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_string(),
        _ => format!("error: {answer:?}"),
    }
}

/// `n` pages through the VIP from the client namespace.
fn pages(client: &Netns, n: usize) -> Vec<String> {
    let vip: SocketAddr = "198.51.100.200:80".parse().unwrap();
    in_netns(client.name(), move || (0..n).map(|_| get(vip)).collect())
}

#[test]
fn s4_director_config_verbatim_with_real_apache_servers() {
    vmnet::setup();
    assert!(Path::new("/usr/sbin/apache2").exists(), "apache2 missing");
    let sw = switch("s4sw", &["pub", "int"]);
    let client = Netns::new("s4cl").unwrap();
    let director = Netns::new("s4dir").unwrap();
    let web = Netns::new("s4web").unwrap();
    plug(&client, "eth0", &sw, "pub", "198.51.100.100/24");
    plug(&director, "eth0", &sw, "pub", "198.51.100.200/24");
    plug(&director, "eth1", &sw, "int", "203.0.113.200/24");
    director.link_up("lo").unwrap();
    sysctl(&director, "net.ipv4.ip_forward=1");
    plug(&web, "eth0", &sw, "int", "203.0.113.110/24");
    web.add_addr("eth0", "203.0.113.111/24").unwrap();
    web.add_addr("eth0", "203.0.113.112/24").unwrap();
    web.link_up("lo").unwrap();
    // The internal VIP is the real servers' gateway (S4: LVS-NAT).
    web.ip(&["route", "add", "default", "via", "203.0.113.200"]).unwrap();

    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut apaches: Vec<Apache> = ["110", "111", "112"]
        .iter()
        .map(|n| Apache::new(base.path(), &web, &format!("203.0.113.{n}:80"), &format!("real-{n}")))
        .collect();
    // The fallback: an Apache on the director itself (the kernel delivers a local real's
    // packets to the local stack with the VIP as destination, so it listens on all addresses).
    let _fallback = Apache::new(base.path(), &director, "0.0.0.0:80", "fallback");

    let cf = base.path().join("ldirectord.cf");
    let s4 = s4_cf();
    std::fs::write(&cf, &s4).unwrap();
    let cfs = cf.to_str().unwrap();
    let o = director.cmd(&[OURS, cfs, "start"]).timeout(Duration::from_secs(120)).run().unwrap();
    assert!(o.success(), "start: {}\n{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("ldirectord.cf:10: fallback server 127.0.0.1 with masq never serves"),
        "start warns about S4's fallback at its line: {}",
        o.stderr
    );
    let all = ["203.0.113.110:80 1", "203.0.113.111:80 1", "203.0.113.112:80 1"];
    assert_eq!(reals(&director), all, "IPVS when start returned");
    let got = pages(&client, 30);
    for n in ["real-110", "real-111", "real-112"] {
        assert_eq!(got.iter().filter(|p| *p == n).count(), 10, "round robin: {got:?}");
    }

    // Each Apache stopped → weight 0 within checkinterval + checktimeout (+ TCG's slack);
    // back → weight 1.
    let bound = Duration::from_secs(10 + 3);
    let limit = Duration::from_secs(60);
    for (i, n) in ["110", "111", "112"].iter().enumerate() {
        apaches[i].stop();
        let mut want: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        want[i] = format!("203.0.113.{n}:80 0");
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        let took = wait_reals(&director, &want, limit, &format!("apache {n} stopped"));
        assert!(took <= bound + Duration::from_secs(5), "{n}: down after {took:?}, bound {bound:?} (+5 s)");
        apaches[i].start();
        wait_reals(&director, &all, limit, &format!("apache {n} back"));
    }

    // All three down: the fallback is programmed as written, but Linux drops NAT to a
    // loopback address for clients from the network (ip_vs_nat_xmit), so S4's
    // `fallback=127.0.0.1:80 masq` cannot serve them: start said so at its line.
    for a in &mut apaches {
        a.stop();
    }
    wait_reals(
        &director,
        &["127.0.0.1:80 1", "203.0.113.110:80 0", "203.0.113.111:80 0", "203.0.113.112:80 0"],
        limit,
        "all down: fallback",
    );
    let got = pages(&client, 2);
    eprintln!("through the masq fallback at 127.0.0.1 (the kernel drops them): {got:?}");
    assert!(got.iter().all(|p| p.starts_with("error")), "masq to 127.0.0.1 served after all: {got:?}");

    // autoreload: the fix the warning names (gate) and a scheduler change, applied without a
    // restart; the down reals stay down; now the fallback serves.
    let fixed = s4
        .replace("fallback=127.0.0.1:80 masq", "fallback=127.0.0.1:80 gate")
        .replace("scheduler=rr", "scheduler=wrr");
    std::fs::write(&cf, &fixed).unwrap();
    let start = Instant::now();
    while !(save(&director).contains("-A -t 198.51.100.200:80 -s wrr")
        && save(&director).contains("-r 127.0.0.1:80 -g -w 1"))
    {
        assert!(start.elapsed() < limit, "autoreload did not apply the edit:\n{}", save(&director));
        std::thread::sleep(Duration::from_millis(250));
    }
    let got = pages(&client, 5);
    assert!(got.iter().all(|p| p == "fallback"), "the gate fallback serves: {got:?}");
    apaches[0].start();
    wait_reals(
        &director,
        &["203.0.113.110:80 1", "203.0.113.111:80 0", "203.0.113.112:80 0"],
        limit,
        "one back: the fallback goes",
    );
    // A broken edit: refused, said at file:line, the running configuration kept.
    std::fs::write(&cf, fixed.replace("checktype=connect", "checktype=sometimes")).unwrap();
    let start = Instant::now();
    loop {
        let st = director.run(&[OURS, cfs, "status", "--json"]).unwrap();
        let j: serde_json::Value = serde_json::from_str(&st.stdout).unwrap_or_default();
        if let Some(e) = j["reload_error"].as_str() {
            assert!(e.contains("ldirectord.cf:14"), "the error names file:line: {e}");
            break;
        }
        assert!(start.elapsed() < limit, "the broken edit was not reported: {}", st.stdout);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(save(&director).contains("-s wrr"), "{}", save(&director));
    assert_eq!(reals(&director), ["203.0.113.110:80 1", "203.0.113.111:80 0", "203.0.113.112:80 0"]);
    apaches[1].start();
    wait_reals(
        &director,
        &["203.0.113.110:80 1", "203.0.113.111:80 1", "203.0.113.112:80 0"],
        limit,
        "checks go on",
    );

    let o = director.run(&[OURS, cfs, "stop"]).unwrap();
    assert!(o.success(), "stop: {}\n{}", o.stdout, o.stderr);
    assert_eq!(save(&director), "", "IPVS after stop");
}
