//! `cargo bench -p rha-ipaddr2`: ocf:rha:IPaddr2 against ocf:heartbeat:IPaddr2, same run,
//! same namespace, same parameters.
//!
//! - monitor of a running address, N times each: wall and CPU time per call (CPU from
//!   `getrusage(RUSAGE_CHILDREN)`, so everything the agent spawns counts), and the number of
//!   processes one monitor creates besides the agent itself.
//! - start to first announcement: from spawning `start` until a client namespace on the same
//!   bridge receives the first gratuitous ARP for the address (an `AF_PACKET` socket there).
//!
//! Targets (issue 3): monitor at least 20x less wall and CPU time, zero child processes;
//! start-to-first-announcement at least 10x faster. Printed, not asserted (tests assert
//! behaviour). Needs root and resource-agents.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rha_harness::netns::Netns;
use rha_net::arp::ArpSocket;

const UPSTREAM: &str = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2";
const OURS: &str = env!("CARGO_BIN_EXE_IPaddr2");
const VIP: &str = "198.51.100.10";

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Agents {
    state: tempfile::TempDir,
}

impl Agents {
    fn command(&self, agent: &str, action: &str) -> Command {
        let up = self.state.path().join("upstream");
        std::fs::create_dir_all(&up).unwrap();
        let mut c = Command::new(agent);
        c.arg(action)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("HA_RSCTMP", &up)
            .env("RHA_RUN_DIR", self.state.path().join("rha"))
            .env("OCF_RESOURCE_INSTANCE", "vip")
            .env("OCF_RESKEY_ip", VIP)
            .env("OCF_RESKEY_nic", "eth0")
            .env("OCF_RESKEY_cidr_netmask", "24")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_CRM_meta_interval", if action == "monitor" { "10000" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn run(&self, agent: &str, action: &str) -> i32 {
        self.command(agent, action).status().unwrap().code().unwrap_or(-1)
    }
}

fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let tv =
        |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The last pid the kernel handed out (system-wide), from /proc/loadavg.
fn last_pid() -> u64 {
    std::fs::read_to_string("/proc/loadavg").unwrap().split_whitespace().last().unwrap().parse().unwrap()
}

struct MonitorCost {
    wall: Duration,
    cpu: Duration,
    processes: u64,
}

fn monitor_cost(a: &Agents, agent: &str, n: usize) -> MonitorCost {
    for _ in 0..3 {
        assert_eq!(a.run(agent, "monitor"), 0, "{agent} monitor of the running address");
    }
    let (t0, c0) = (Instant::now(), children_cpu());
    for _ in 0..n {
        let rc = a.run(agent, "monitor");
        assert_eq!(rc, 0, "{agent} monitor");
    }
    let (wall, cpu) = (t0.elapsed() / n as u32, (children_cpu() - c0) / n as u32);
    // Processes created per monitor besides the agent: the smallest of several samples, so
    // other activity on the machine (which also takes pids) does not count.
    let mut processes = u64::MAX;
    for _ in 0..15 {
        let before = last_pid();
        a.run(agent, "monitor");
        let after = last_pid();
        if after > before {
            processes = processes.min(after - before - 1);
        }
    }
    MonitorCost { wall, cpu, processes }
}

/// Listen in the client namespace for gratuitous ARPs announcing the VIP.
fn garp_listener(client: String) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        rha_net::netns::enter(&client).unwrap();
        let mut nl = rha_net::Netlink::open().unwrap();
        let link = rha_net::link::by_name(&mut nl, "eth0").unwrap().unwrap();
        let sock = ArpSocket::open(link.index, link.ethernet_mac().unwrap()).unwrap();
        ready_tx.send(()).unwrap();
        let vip: std::net::Ipv4Addr = VIP.parse().unwrap();
        loop {
            if let Ok(Some(p)) = sock.recv(Duration::from_millis(200))
                && p.sender_ip == vip
                && p.target_ip == vip
                && tx.send(Instant::now()).is_err()
            {
                return;
            }
        }
    });
    ready_rx.recv().unwrap();
    rx
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time from spawning start to the client seeing the first gratuitous ARP, and median
/// duration of the start action itself.
fn start_to_announcement(
    a: &Agents,
    agent: &str,
    garps: &mpsc::Receiver<Instant>,
    trials: usize,
) -> (Duration, Duration) {
    let mut first = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..trials {
        assert_eq!(a.run(agent, "stop"), 0);
        std::thread::sleep(Duration::from_millis(300));
        while garps.try_recv().is_ok() {}
        let t0 = Instant::now();
        let mut child = a.command(agent, "start").spawn().unwrap();
        let seen = loop {
            let t = garps.recv_timeout(Duration::from_secs(10)).expect("no gratuitous ARP within 10 s");
            if t >= t0 {
                break t;
            }
        };
        let status = child.wait().unwrap();
        whole.push(t0.elapsed());
        assert!(status.success(), "{agent} start");
        first.push(seen - t0);
        if std::env::var_os("RHA_BENCH_VERBOSE").is_some() {
            eprintln!(
                "{agent}: first announcement after {:?}, start took {:?}",
                seen - t0,
                whole.last().unwrap()
            );
        }
    }
    assert_eq!(a.run(agent, "stop"), 0);
    (median(first), median(whole))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn ratio(upstream: Duration, ours: Duration) -> f64 {
    upstream.as_secs_f64() / ours.as_secs_f64().max(1e-9)
}

fn main() {
    assert!(nix::unistd::geteuid().is_root(), "the benchmark needs root (network namespaces)");
    assert!(std::path::Path::new(UPSTREAM).exists(), "{UPSTREAM} missing: install resource-agents");
    let n_ours = env_n("RHA_BENCH_MONITORS", 300);
    let n_up = env_n("RHA_BENCH_UPSTREAM_MONITORS", 60);
    let trials = env_n("RHA_BENCH_STARTS", 9);

    let sw = Netns::new("bsw").unwrap();
    sw.add_bridge("br0").unwrap();
    let node = Netns::new("bnode").unwrap();
    let client = Netns::new("bcl").unwrap();
    node.connect_to("eth0", &sw, "br0", "p1").unwrap();
    client.connect_to("eth0", &sw, "br0", "p2").unwrap();
    node.add_addr("eth0", "198.51.100.1/24").unwrap();
    client.add_addr("eth0", "198.51.100.2/24").unwrap();

    let garps = garp_listener(client.name().to_string());
    let node_name = node.name().to_string();
    // Agents run from a thread inside the node's namespace (the main thread stays outside,
    // so the namespace guards never see this process as one of the namespace's).
    let report = std::thread::spawn(move || {
        rha_net::netns::enter(&node_name).unwrap();
        let a = Agents { state: tempfile::tempdir().unwrap() };
        assert_eq!(a.run(OURS, "start"), 0, "start");
        let ours = monitor_cost(&a, OURS, n_ours);
        let up = monitor_cost(&a, UPSTREAM, n_up);
        assert_eq!(a.run(OURS, "stop"), 0, "stop");
        let (ours_first, ours_start) = start_to_announcement(&a, OURS, &garps, trials);
        let (up_first, up_start) = start_to_announcement(&a, UPSTREAM, &garps, trials);
        let mut r = String::new();
        r += &format!(
            "monitor: rha {}, upstream {}, ratio {:.1}x   (wall per call; {n_ours} and {n_up} calls)\n",
            ms(ours.wall),
            ms(up.wall),
            ratio(up.wall, ours.wall)
        );
        r += &format!(
            "monitor cpu: rha {}, upstream {}, ratio {:.1}x   (user+sys per call, children included)\n",
            ms(ours.cpu),
            ms(up.cpu),
            ratio(up.cpu, ours.cpu)
        );
        r += &format!(
            "monitor child processes: rha {}, upstream {}   (per call, besides the agent)\n",
            ours.processes, up.processes
        );
        r += &format!(
            "start-to-first-announcement: rha {}, upstream {}, ratio {:.1}x   (median of {trials}; first gratuitous ARP seen by the client)\n",
            ms(ours_first),
            ms(up_first),
            ratio(up_first, ours_first)
        );
        r += &format!(
            "start (whole action): rha {}, upstream {}, ratio {:.1}x\n",
            ms(ours_start),
            ms(up_start),
            ratio(up_start, ours_start)
        );
        let met = |ok: bool| if ok { "met" } else { "NOT MET" };
        r += &format!(
            "targets: monitor >=20x wall {}, >=20x cpu {}, no child processes {}; start-to-first-announcement >=10x {}\n",
            met(ratio(up.wall, ours.wall) >= 20.0),
            met(ratio(up.cpu, ours.cpu) >= 20.0),
            met(ours.processes == 0),
            met(ratio(up_first, ours_first) >= 10.0)
        );
        r
    })
    .join()
    .unwrap();
    println!("{report}");
}
