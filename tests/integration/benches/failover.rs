//! Failover, measured phase by phase (issue 16): how long a client is cut off when the node
//! holding a floating IP dies, for ocf:rha:IPaddr2 and ocf:heartbeat:IPaddr2 in the same lab.
//!
//! A 2-node lab (host tier: namespaces, real corosync and Pacemaker) runs one VIP. The client
//! namespace pings it every 10 ms (`ping -D`, epoch timestamps) and captures ARP (`tcpdump
//! -tt`); the node holding the VIP is killed (links down + SIGKILL, [`Lab::kill_node`]), then
//! revived for the next round. Every round is split into phases, all on the one clock every
//! namespace shares:
//! - detection: kill → the survivor's corosync forms the new membership (corosync.log);
//! - decision: membership → Pacemaker's executor starts the start operation (pacemaker.log);
//! - agent: start begins → the first gratuitous ARP for the VIP on the client's wire;
//! - network: that ARP → the first echo reply the client gets;
//! - outage: the kill → the first reply (the client's view; the sum of the four).
//!
//! Run as root: `cargo bench -p rha-integration --bench failover`. Environment:
//! `RHA_BENCH_KILLS` (rounds per agent and token, default 10), `RHA_BENCH_TOKENS` (corosync
//! token timeouts in ms, default `1000,3000`), `RHA_BENCH_AGENTS` (`rha,heartbeat`),
//! `RHA_AGENT_DIR` (where our IPaddr2 is; e.g. target/release after `cargo build --release -p
//! rha-ipaddr2`, as the package ships it; default: built on demand, debug).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rha_harness::cmd::{require_root, require_tools, wait_for};
use rha_harness::lab::{Lab, LabConfig, REQUIRED_TOOLS, agents_dir};
use rha_integration::{Bin, agent_binary};

const VIP: &str = "198.51.100.190";
const LIMIT: Duration = Duration::from_secs(120);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A background command in the client namespace, its output in a file.
struct Capture {
    child: Child,
    out: PathBuf,
}

impl Capture {
    fn start(ns: &str, argv: &[&str], out: PathBuf) -> Capture {
        let f = std::fs::File::create(&out).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdout(f)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Capture { child, out }
    }

    fn finish(mut self) -> String {
        // SIGINT: ping and tcpdump flush their output on it.
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

/// Epoch seconds of a log line's timestamp (`Dec 04 22:30:01.123` or without the fraction;
/// the year is the current one).
fn log_time(line: &str) -> Option<f64> {
    let mut w = line.split_whitespace();
    let (mon, day, time) = (w.next()?, w.next()?, w.next()?);
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == mon)? as u32
        + 1;
    let day: u32 = day.parse().ok()?;
    let mut hms = time.split(':');
    let (h, m): (u32, u32) = (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    let s: f64 = hms.next()?.parse().ok()?;
    let year = 1970 + (now() / 31_556_952.0) as i64; // good enough for "this year"
    let days = days_from_civil(year, month, day);
    // Log timestamps are local time; the lab's machines run in UTC (TZ unset in CI).
    Some(days as f64 * 86400.0 + (h * 3600 + m * 60) as f64 + s)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first line after `t0` in `path` containing every one of `needles`; its time.
fn first_after(path: &Path, t0: f64, needles: &[&str]) -> Option<(f64, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| log_time(l).map(|t| (t, l.to_string())))
        .find(|(t, _)| *t >= t0 - 0.001)
}

/// `[1733349041.123456] 64 bytes from ...`: the reply times.
fn ping_replies(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect()
}

/// `1733349041.123456 ARP, Reply 198.51.100.190 is-at ...` or a request whose sender is the VIP.
fn first_garp_after(out: &str, t0: f64) -> Option<f64> {
    out.lines()
        .filter(|l| {
            l.contains(&format!("Reply {VIP} is-at"))
                || (l.contains(&format!("who-has {VIP} tell {VIP}"))
                    || l.contains(&format!("Announcement {VIP}")))
        })
        .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .find(|t| *t >= t0)
}

#[derive(Debug, Default, Clone)]
struct Round {
    outage: f64,
    detection: Option<f64>,
    decision: Option<f64>,
    /// Of the decision: membership → the scheduler's transition (Pacemaker's controller
    /// sleeps a whole second before it when CIB updates are still pending, see README).
    scheduler: Option<f64>,
    agent: Option<f64>,
    network: Option<f64>,
}

/// The node whose eth0 holds the VIP, once the cluster has settled (no action pending).
fn holder(lab: &Lab) -> usize {
    lab.exec_on_any("crm_resource --wait --timeout=120").unwrap();
    wait_for("the VIP on exactly one node", LIMIT, Duration::from_millis(200), || {
        let on: Vec<usize> = (0..2)
            .filter(|&i| {
                lab.exec(i, "ip -o -4 addr show dev eth0")
                    .is_ok_and(|o| o.stdout.contains(&format!(" {VIP}/")))
            })
            .collect();
        Ok((on.len() == 1).then(|| on[0]))
    })
    .unwrap()
}

fn round(lab: &mut Lab, k: usize, dir: &Path) -> Round {
    let active = holder(lab);
    let survivor = 1 - active;
    let ns = lab.client_netns().to_string();
    // The client has just talked to the VIP: its neighbour entry is fresh, as under load.
    let ping = Capture::start(
        &ns,
        &["ping", "-D", "-n", "-i", "0.01", "-W", "1", VIP],
        dir.join(format!("ping{k}")),
    );
    let arp = Capture::start(
        &ns,
        &["tcpdump", "-l", "-n", "-tt", "-i", "eth0", "arp"],
        dir.join(format!("arp{k}")),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let t_kill = now();
    lab.kill_node(active).unwrap();
    let ping_out = dir.join(format!("ping{k}"));
    let served = wait_for("a reply after the kill", LIMIT, Duration::from_millis(50), || {
        let text = std::fs::read_to_string(&ping_out).unwrap_or_default();
        Ok(ping_replies(&text).into_iter().find(|t| *t > t_kill + 0.02))
    });
    std::thread::sleep(Duration::from_millis(300));
    let _ = ping.finish();
    let arp_text = arp.finish();
    let first = served.unwrap_or_else(|e| panic!("{e:#}\n{}", lab.diagnostics()));
    let node = lab.workdir().join(lab.node_name(survivor));
    let membership = first_after(&node.join("var-log-corosync/corosync.log"), t_kill, &["A new membership"]);
    let start = first_after(
        &node.join("var-log-pacemaker/pacemaker.log"),
        t_kill,
        &["executing", "rsc:vip", "action:start"],
    );
    if std::env::var_os("RHA_BENCH_VERBOSE").is_some() {
        eprintln!(
            "  kill at {t_kill:.3}, first reply {first:.3}\n  membership: {membership:?}\n  start: {start:?}"
        );
        let log = std::fs::read_to_string(node.join("var-log-pacemaker/pacemaker.log")).unwrap_or_default();
        let interesting = ["controld", "schedulerd", "execd"];
        for l in log
            .lines()
            .filter(|l| interesting.iter().any(|w| l.contains(w)))
            .filter(|l| log_time(l).is_some_and(|t| t >= t_kill - 0.5 && t <= first + 0.2))
        {
            eprintln!("  | {l}");
        }
    }
    let (membership, start) = (membership.map(|(t, _)| t), start.map(|(t, _)| t));
    let calculated = membership.and_then(|m| {
        first_after(
            &node.join("var-log-pacemaker/pacemaker.log"),
            m,
            &["schedulerd", "Calculated transition"],
        )
    });
    let garp = first_garp_after(&arp_text, t_kill);
    let r = Round {
        outage: first - t_kill,
        detection: membership.map(|m| m - t_kill),
        decision: membership.zip(start).map(|(m, s)| s - m),
        scheduler: membership.zip(calculated).map(|(m, (c, _))| c - m),
        agent: start.zip(garp).map(|(s, g)| g - s),
        network: garp.map(|g| first - g),
    };
    lab.revive_node(active).unwrap();
    lab.wait_online(LIMIT).unwrap();
    r
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}", v * 1000.0)).unwrap_or_else(|| "?".into())
}

fn stats(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if s.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    (s[s.len() / 2], *s.last().unwrap())
}

fn main() {
    // `cargo bench` passes --bench; any other argument is a filter we do not have.
    require_root().unwrap();
    require_tools(REQUIRED_TOOLS).unwrap();
    require_tools(&[("crm", "crmsh"), ("ping", "iputils-ping"), ("tcpdump", "tcpdump")]).unwrap();
    let kills: usize = env_or("RHA_BENCH_KILLS", "10").parse().expect("RHA_BENCH_KILLS");
    let tokens: Vec<u32> = env_or("RHA_BENCH_TOKENS", "1000,3000")
        .split(',')
        .map(|t| t.trim().parse().expect("RHA_BENCH_TOKENS"))
        .collect();
    let which = env_or("RHA_BENCH_AGENTS", "rha,heartbeat");
    let ours = agent_binary(Bin::IpAddr2);
    println!("bench failover: ocf:rha:IPaddr2 = {}", ours.display());
    let agents = agents_dir(&[("IPaddr2", ours.as_path())]).unwrap();
    let mut table = Vec::new();
    for &token in &tokens {
        for provider in which.split(',').map(str::trim) {
            let mut cfg = LabConfig::with_nodes(2);
            cfg.tag = "fo".into();
            cfg.ocf_rha_dir = Some(agents.path().to_path_buf());
            cfg.token_ms = token;
            cfg.online_timeout = LIMIT;
            let mut lab = Lab::start(cfg).unwrap();
            lab.exec_ok(
                0,
                &format!(
                    "crm configure primitive vip ocf:{provider}:IPaddr2 params ip={VIP} cidr_netmask=24 nic=eth0 \
                     op monitor interval=10s && crm configure rsc_defaults resource-stickiness=100"
                ),
            )
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut rounds = Vec::new();
            for k in 0..kills {
                let r = round(&mut lab, k, dir.path());
                println!(
                    "bench failover token={token} {provider} round {}: outage {} ms = detection {} + decision {} (scheduler {}) + agent {} + network {}",
                    k + 1,
                    ms(Some(r.outage)),
                    ms(r.detection),
                    ms(r.decision),
                    ms(r.scheduler),
                    ms(r.agent),
                    ms(r.network)
                );
                rounds.push(r);
            }
            lab.teardown().unwrap();
            table.push((token, provider.to_string(), rounds));
        }
    }
    println!("\nbench failover summary (ms; median / max over the rounds):");
    println!(
        "| token | agent | rounds | outage | detection | decision | agent (start → GARP) | network (GARP → reply) | outage − detection | rounds with the controller's 1 s sleep |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (token, provider, rounds) in &table {
        let col = |f: &dyn Fn(&Round) -> Option<f64>| {
            let v: Vec<f64> = rounds.iter().filter_map(f).collect();
            let (m, x) = stats(&v);
            format!("{:.0} / {:.0}", m * 1000.0, x * 1000.0)
        };
        println!(
            "| {token} | ocf:{provider}:IPaddr2 | {} | {} | {} | {} | {} | {} | {} | {} |",
            rounds.len(),
            col(&|r| Some(r.outage)),
            col(&|r| r.detection),
            col(&|r| r.decision),
            col(&|r| r.agent),
            col(&|r| r.network),
            col(&|r| r.detection.map(|d| r.outage - d)),
            rounds.iter().filter(|r| r.scheduler.is_some_and(|s| s > 0.9)).count(),
        );
    }
}
