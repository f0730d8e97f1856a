//! Benchmark (VM tier: this machine's kernel has no IPVS): rha-ldirectord, Debian's Perl
//! ldirectord and keepalived's checker in the same VM, the same reals and the same checks
//! (TCP connect, interval 1 s, timeout 3 s), one after the other, each in its own director
//! namespace.
//!
//! For 100 and 1,000 reals (one real-server address, one port each, accepted by one poll loop):
//! - start-up: time from starting the daemon until every real is in IPVS with its weight
//!   (ours and keepalived with `alpha`: reals start down until their first check passes;
//!   Perl adds them as it checks them, serially);
//! - then 10 s of steady state: the daemon's CPU (utime + stime of all its processes, from
//!   /proc) and RSS.
//!
//! `benches/run-in-vm.sh` builds it and runs it with `rha-vm`. Prints a table and the ratios;
//! asserts nothing about timings (tests assert behaviour).

#[path = "../../../agents/ipvs-service/tests/common/vmnet.rs"]
mod vmnet;

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rha_harness::netns::Netns;

const OURS: &str = env!("CARGO_BIN_EXE_rha-ldirectord");
const PERL: &str = "/usr/sbin/ldirectord";
const KEEPALIVED: &str = "/usr/sbin/keepalived";
const VIP: &str = "198.51.100.10";
const REAL: &str = "203.0.113.2";
const BASE_PORT: u16 = 20000;
/// How long a daemon may take to bring every real up before we report how far it got.
const LIMIT: Duration = Duration::from_secs(180);

/// Listeners on `n` ports of the real address, accepted (and dropped) by one poll loop.
struct Reals {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reals {
    fn start(ns: &str, n: usize) -> Reals {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let ns = ns.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            vmnet::enter_netns(&ns).unwrap();
            let ls: Vec<TcpListener> = (0..n)
                .map(|i| {
                    let l = TcpListener::bind((REAL, BASE_PORT + i as u16)).unwrap();
                    l.set_nonblocking(true).unwrap();
                    l
                })
                .collect();
            tx.send(()).unwrap();
            let mut fds: Vec<libc::pollfd> = ls
                .iter()
                .map(|l| libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 })
                .collect();
            while !stop2.load(Ordering::Relaxed) {
                // SAFETY: a valid array of pollfds.
                let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 200) };
                if r <= 0 {
                    continue;
                }
                for (i, f) in fds.iter_mut().enumerate() {
                    if f.revents != 0 {
                        while ls[i].accept().is_ok() {}
                        f.revents = 0;
                    }
                }
            }
        });
        rx.recv().unwrap();
        Reals { stop, thread: Some(thread) }
    }
}

impl Drop for Reals {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Daemon {
    Ours,
    Perl,
    Keepalived,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Ours => "rha-ldirectord",
            Daemon::Perl => "ldirectord (Perl)",
            Daemon::Keepalived => "keepalived",
        }
    }
}

fn ldirectord_cf(n: usize, log: &Path) -> String {
    let mut s = format!(
        "checktimeout=3\ncheckinterval=1\nquiescent=no\nlogfile=\"{}\"\n\nvirtual={VIP}:80\n",
        log.display()
    );
    for i in 0..n {
        s.push_str(&format!("\treal={REAL}:{} masq\n", BASE_PORT + i as u16));
    }
    s.push_str("\tchecktype=connect\n\tscheduler=rr\n\tprotocol=tcp\n");
    s
}

fn keepalived_conf(n: usize) -> String {
    let mut s = format!(
        "global_defs {{\n  router_id bench\n}}\nvirtual_server {VIP} 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  alpha\n"
    );
    for i in 0..n {
        s.push_str(&format!(
            "  real_server {REAL} {} {{\n    weight 1\n    TCP_CHECK {{\n      connect_timeout 3\n    }}\n  }}\n",
            BASE_PORT + i as u16
        ));
    }
    s.push_str("}\n");
    s
}

/// Reals of the VIP with a weight above 0, read over netlink in the director's namespace.
fn up_count(ns: &str) -> usize {
    vmnet::in_netns(ns, || {
        let mut ipvs = rha_ipvs::Ipvs::connect().unwrap();
        let key = rha_ipvs::ServiceKey::tcp(VIP.parse().unwrap(), 80);
        ipvs.dests(&key).map(|d| d.iter().filter(|d| d.dest.weight > 0).count()).unwrap_or(0)
    })
}

/// utime + stime (clock ticks) and RSS (kB) of `pids`.
fn cpu_and_rss(pids: &[u32]) -> (u64, u64) {
    let (mut ticks, mut rss) = (0, 0);
    for p in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            let rest = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            ticks += f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            rss += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (ticks, rss)
}

fn pids_of(ns: &Netns) -> Vec<u32> {
    ns.pids().unwrap_or_default()
}

struct Result {
    daemon: Daemon,
    reals: usize,
    all_up: Option<Duration>,
    reached: usize,
    cpu_pct: f64,
    rss_mib: f64,
}

fn run(d: Daemon, n: usize, dir: &Path) -> Result {
    let ns = Netns::new("ldb").unwrap();
    let web = Netns::new("ldbw").unwrap();
    ns.ip(&["link", "add", "vip0", "type", "dummy"]).unwrap();
    ns.link_up("vip0").unwrap();
    ns.link_up("lo").unwrap();
    ns.add_addr("vip0", &format!("{VIP}/32")).unwrap();
    ns.add_veth("eth0", &web, "eth0").unwrap();
    ns.link_up("eth0").unwrap();
    web.link_up("eth0").unwrap();
    ns.add_addr("eth0", "203.0.113.1/24").unwrap();
    web.add_addr("eth0", &format!("{REAL}/24")).unwrap();
    let _reals = Reals::start(web.name(), n);
    vmnet::wait_reachable(
        ns.name(),
        SocketAddr::new(REAL.parse().unwrap(), BASE_PORT),
        Duration::from_secs(60),
    );

    let tag = format!(
        "{}-{n}",
        match d {
            Daemon::Ours => "ours",
            Daemon::Perl => "perl",
            Daemon::Keepalived => "keepalived",
        }
    );
    let conf: PathBuf = dir.join(format!("{tag}.cf"));
    let log = dir.join(format!("{tag}.log"));
    let t0 = Instant::now();
    let child: Child = match d {
        Daemon::Ours | Daemon::Perl => {
            std::fs::write(&conf, ldirectord_cf(n, &log)).unwrap();
            let bin = if d == Daemon::Ours { OURS } else { PERL };
            // In the background: our start returns only after the first round.
            std::process::Command::new("ip")
                .args(["netns", "exec", ns.name(), bin, conf.to_str().unwrap(), "start"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        }
        Daemon::Keepalived => {
            std::fs::write(&conf, keepalived_conf(n)).unwrap();
            let pid = dir.join(format!("{tag}.pid"));
            let cpid = dir.join(format!("{tag}.checkers.pid"));
            std::process::Command::new("ip")
                .args(["netns", "exec", ns.name(), KEEPALIVED, "-n", "-C", "-G", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(&pid)
                .arg("-c")
                .arg(&cpid)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        }
    };
    let (mut all_up, mut reached) = (None, 0);
    while t0.elapsed() < LIMIT {
        reached = up_count(ns.name());
        if reached == n {
            all_up = Some(t0.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Steady state: 10 s of every process in the director's namespace but our poller.
    let pids = pids_of(&ns);
    let (c0, _) = cpu_and_rss(&pids);
    let w = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let (c1, rss) = cpu_and_rss(&pids);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu_pct = (c1.saturating_sub(c0)) as f64 / hz / w.elapsed().as_secs_f64() * 100.0;

    match d {
        Daemon::Ours | Daemon::Perl => {
            let bin = if d == Daemon::Ours { OURS } else { PERL };
            let _ = ns.cmd(&[bin, conf.to_str().unwrap(), "stop"]).timeout(Duration::from_secs(120)).run();
        }
        Daemon::Keepalived => {}
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    let _ = ns.kill_all();
    Result { daemon: d, reals: n, all_up, reached, cpu_pct, rss_mib: rss as f64 / 1024.0 }
}

fn main() {
    // `cargo bench` passes --bench; anything else (the test harness's flags) is ignored.
    if std::env::var(rha_harness::vm::IN_VM_ENV).as_deref() != Ok("1") {
        eprintln!("vs_upstream: run inside the VM: daemons/ldirectord/benches/run-in-vm.sh");
        std::process::exit(2);
    }
    vmnet::setup();
    for p in [PERL, KEEPALIVED] {
        assert!(Path::new(p).exists(), "{p} missing (tests/install-deps installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = std::env::var("RHA_BENCH_REALS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    // RHA_BENCH_DAEMONS=ours,keepalived,perl (default: all three).
    let daemons: Vec<Daemon> = std::env::var("RHA_BENCH_DAEMONS")
        .unwrap_or_else(|_| "ours,keepalived,perl".into())
        .split(',')
        .filter_map(|d| match d.trim() {
            "ours" => Some(Daemon::Ours),
            "keepalived" => Some(Daemon::Keepalived),
            "perl" => Some(Daemon::Perl),
            _ => None,
        })
        .collect();
    let mut results = Vec::new();
    for &n in &sizes {
        for &d in &daemons {
            let r = run(d, n, dir.path());
            println!(
                "{:>18} {:>5} reals: all up {}; steady CPU {:.1}% of a core, RSS {:.1} MiB",
                r.daemon.name(),
                n,
                r.all_up.map(|t| format!("after {:.2} s", t.as_secs_f64())).unwrap_or_else(|| format!(
                    "NOT after {} s ({} of {n} up)",
                    LIMIT.as_secs(),
                    r.reached
                )),
                r.cpu_pct,
                r.rss_mib
            );
            results.push(r);
        }
    }
    println!(
        "\n| reals | daemon | all reals up after | steady CPU (1 s interval) | RSS | start-up vs ours |"
    );
    println!("|---|---|---|---|---|---|");
    for &n in &sizes {
        let ours = results.iter().find(|r| r.reals == n && r.daemon == Daemon::Ours).and_then(|r| r.all_up);
        for r in results.iter().filter(|r| r.reals == n) {
            let up = r
                .all_up
                .map(|t| format!("{:.2} s", t.as_secs_f64()))
                .unwrap_or_else(|| format!("> {} s ({} up)", LIMIT.as_secs(), r.reached));
            let ratio = match (r.all_up.or(Some(LIMIT)), ours) {
                (Some(t), Some(o)) if r.daemon != Daemon::Ours => {
                    format!(
                        "{}{:.1}x slower",
                        if r.all_up.is_none() { "> " } else { "" },
                        t.as_secs_f64() / o.as_secs_f64()
                    )
                }
                _ => "1".into(),
            };
            println!(
                "| {n} | {} | {up} | {:.1}% | {:.1} MiB | {ratio} |",
                r.daemon.name(),
                r.cpu_pct,
                r.rss_mib
            );
        }
    }
}
