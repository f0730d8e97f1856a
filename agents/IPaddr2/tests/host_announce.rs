//! Host tier: neighbours learn where the address went. Two node namespaces and a client on one
//! bridge; the client talks to the VIP on node 1 (so it has a neighbour entry for it), the VIP
//! moves to node 2, and — without any flush or ping — the client's entry must change to node
//! 2's MAC, from the gratuitous ARP (request and reply forms) or the unsolicited Neighbour
//! Advertisement alone. Needs root.

mod common;

use std::time::{Duration, Instant};

use common::{Outcome, mac_of, ours, preconditions, run_in};
use rha_harness::netns::Netns;

struct Lan {
    _sw: Netns,
    nodes: [Netns; 2],
    client: Netns,
    state: tempfile::TempDir,
}

fn lan(tag: &str) -> Lan {
    preconditions();
    let sw = Netns::new(&format!("{tag}sw")).unwrap();
    sw.add_bridge("br0").unwrap();
    let mk = |i: u8, name: &str| {
        let ns = Netns::new(&format!("{tag}{name}")).unwrap();
        ns.connect_to("eth0", &sw, "br0", &format!("p{i}")).unwrap();
        ns.add_addr("eth0", &format!("198.51.100.{i}/24")).unwrap();
        ns.add_addr("eth0", &format!("2001:db8::{i}/64")).unwrap();
        ns
    };
    let nodes = [mk(1, "n1"), mk(2, "n2")];
    let client = mk(3, "cl");
    Lan { _sw: sw, nodes, client, state: tempfile::tempdir().unwrap() }
}

impl Lan {
    fn agent(&self, node: usize, action: &str, params: &[(&str, &str)]) -> Outcome {
        let params: Vec<(String, std::ffi::OsString)> =
            params.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        // Each node keeps its own state directory, as separate machines would.
        let state = self.state.path().join(format!("node{node}"));
        run_in(&self.nodes[node], &state, ours(), action, &params, &[])
    }

    /// The client's neighbour entry for `ip`: (lladdr, state).
    fn neighbour(&self, ip: &str) -> Option<(String, String)> {
        let out = self.client.ip(&["neigh", "show", ip]).unwrap().stdout;
        let line = out.lines().next()?.to_string();
        let w: Vec<&str> = line.split_whitespace().collect();
        let mac = w.iter().position(|x| *x == "lladdr").and_then(|i| w.get(i + 1))?.to_string();
        Some((mac, w.last().unwrap_or(&"").to_string()))
    }

    fn ping(&self, ip: &str) {
        let o = self.client.run(&["ping", "-c", "1", "-W", "3", ip]).unwrap();
        assert!(o.success(), "client cannot reach {ip}: {o}");
    }
}

fn moves(tag: &str, ip: &str, extra: &[(&str, &str)]) {
    let lan = lan(tag);
    let mut params = vec![("ip", ip), ("nic", "eth0")];
    params.extend_from_slice(extra);
    let macs = [mac_of(&lan.nodes[0], "eth0"), mac_of(&lan.nodes[1], "eth0")];

    let o = lan.agent(0, "start", &params);
    assert_eq!(o.code, 0, "start on node 1: {o}");
    lan.ping(ip);
    let (mac, _) = lan.neighbour(ip).expect("client has a neighbour entry after the ping");
    assert_eq!(mac, macs[0]);

    let o = lan.agent(0, "stop", &params);
    assert_eq!(o.code, 0, "stop on node 1: {o}");
    let moved_at = Instant::now();
    let o = lan.agent(1, "start", &params);
    assert_eq!(o.code, 0, "start on node 2: {o}");

    // No flush, no ping: only the announcements can change the entry.
    let deadline = moved_at + Duration::from_secs(5);
    loop {
        let now = lan.neighbour(ip);
        if now.as_ref().is_some_and(|(m, _)| *m == macs[1]) {
            eprintln!("{ip}: client's entry moved to {} after {:?}", macs[1], moved_at.elapsed());
            break;
        }
        assert!(Instant::now() < deadline, "client still has {now:?} for {ip}, expected {}", macs[1]);
        std::thread::sleep(Duration::from_millis(20));
    }
    lan.ping(ip);
    assert_eq!(lan.agent(1, "stop", &params).code, 0);
}

#[test]
fn ipv4_gratuitous_arp_request_moves_the_client_entry() {
    moves("garq", "198.51.100.100", &[("cidr_netmask", "24")]);
}

#[test]
fn ipv4_gratuitous_arp_reply_moves_the_client_entry() {
    moves("garp", "198.51.100.101", &[("cidr_netmask", "24"), ("send_arp_opts", "-A"), ("arp_bg", "false")]);
}

#[test]
fn ipv6_unsolicited_na_moves_the_client_entry() {
    moves("una", "2001:db8::100", &[("cidr_netmask", "64")]);
}
