//! The checks library at scale (issue 11's benchmark): 100, 1,000 and 10,000 HTTP reals,
//! checkinterval 1 s, checktimeout 1 s, 10% of them black-holed. Prints, per size: checks/s,
//! whether every real was checked every interval, CPU per check and in % of one core, peak
//! RSS, and the time from a real's failure to its "down" report (median, max).
//!
//!   cargo bench -p rha-check --bench checks_at_scale            # as root
//!   RHA_BENCH_SIZES=100,1000 cargo bench -p rha-check --bench checks_at_scale
//!
//! Layout (all in namespaces; nothing touches the machine's network): a server namespace
//! holds every real's address (2001:db8:1::/112 on lo) and one small HTTP responder on
//! [::]:80 (this binary, role `serve`); a checker namespace, joined by a veth pair, runs the
//! engine (this binary, role `check N`: a process of its own, so its CPU and RSS are its
//! own). Black-holing is an nftables set in the server namespace whose addresses are
//! dropped; a failure is an address added to that set.
//!
//! Who pays for the kernel's TCP work: a veth pair hands a packet to the receiver's stack in
//! the sender's context, so the checker's system time includes the server's receive path
//! (and the server's includes ours). Besides the checker's own CPU, each size prints the
//! responder's. `RHA_BENCH_NAPI=threaded` moves each veth end's receive path into a kernel
//! thread of its own (GRO on, `threaded` NAPI; TSO off, without which veth hands a TCP
//! packet to NAPI only in special cases): the checker process then pays only its
//! syscalls' send side, its receive path is the thread `napi/chk0-*`, the server's is
//! `napi/srv0-*`; the line after each size gives all four.
//!
//! The peers' figures are the daemon issue's (the Perl ldirectord checks serially: 6.4
//! checks/s at 50 reals in the VM); this binary measures ours natively.

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rha_check::{CheckKey, CheckSpec, Engine, Service, Target};
use rha_harness::netns::Netns;

const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
/// Steady-state window measured after a warm-up.
const WINDOW: Duration = Duration::from_secs(10);
const WARMUP: Duration = Duration::from_secs(3);
/// Reals failed on purpose to measure failure-to-down.
const FAILED: usize = 20;

fn real(n: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, (n >> 16) as u16, (n & 0xffff) as u16 + 1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "serve" || a == "check") {
        Some(i) if args[i] == "serve" => serve(),
        Some(i) => check(args[i + 1].parse().expect("check N"), &args[i + 2], args[i + 3].parse().unwrap()),
        None => lead(),
    }
}

/// The benchmark's driver: namespaces, then one checker run per size.
fn lead() {
    rha_harness::cmd::require_root().expect("the benchmark needs root (namespaces)");
    let sizes: Vec<usize> = std::env::var("RHA_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("RHA_BENCH_SIZES: numbers"))
        .collect();
    let max = *sizes.iter().max().unwrap();
    let server = Netns::new("chkbs").unwrap();
    let client = Netns::new("chkbc").unwrap();
    client.add_veth("chk0", &server, "srv0").unwrap();
    for (ns, dev, a) in [(&client, "chk0", "2001:db8::1/64"), (&server, "srv0", "2001:db8::2/64")] {
        ns.link_up("lo").unwrap();
        ns.link_up(dev).unwrap();
        ns.add_addr(dev, a).unwrap();
    }
    client.sh_ok("ip -6 route add 2001:db8:1::/64 via 2001:db8::2 dev chk0").unwrap();
    let threaded = std::env::var("RHA_BENCH_NAPI").is_ok_and(|v| v == "threaded");
    if threaded {
        for (ns, dev) in [(&client, "chk0"), (&server, "srv0")] {
            ns.sh_ok(&format!("ethtool -K {dev} gro on tso off && echo 1 > /sys/class/net/{dev}/threaded"))
                .expect("RHA_BENCH_NAPI=threaded needs ethtool and a kernel with threaded NAPI on veth");
        }
    }
    // Every real's address, in one batch.
    let batch: String = (0..max).map(|n| format!("address add {}/128 dev lo nodad\n", real(n))).collect();
    let path = std::env::temp_dir().join(format!("rha-chkbench-{}.batch", std::process::id()));
    std::fs::write(&path, batch).unwrap();
    server.sh_ok(&format!("ip -b {}", path.display())).unwrap();
    let _ = std::fs::remove_file(&path);
    server
        .sh_ok(
            "nft add table ip6 bh && nft add set ip6 bh down '{ type ipv6_addr; }' && \
             nft add chain ip6 bh input '{ type filter hook input priority -300; policy accept; }' && \
             nft add rule ip6 bh input ip6 daddr @down drop",
        )
        .unwrap();
    // Enough listening and connection room for ~10,000 connections a second.
    server.sh_ok("sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192").unwrap();
    client.sh_ok("sysctl -qw net.ipv4.ip_local_port_range='1024 65000' net.ipv4.tcp_tw_reuse=1").unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut srv = Command::new("ip")
        .args(["netns", "exec", server.name()])
        .arg(&exe)
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(srv.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening", "the responder did not start");

    let srv_pid = srv.id().to_string();
    println!(
        "{:>7} {:>9} {:>12} {:>12} {:>10} {:>13} {:>9} {:>22}",
        "reals",
        "checks/s",
        "every real",
        "CPU/check",
        "CPU %core",
        "user/sys",
        "RSS MiB",
        "fail->down med/max"
    );
    for &n in &sizes {
        // A fresh black-hole set: 10% of this size's reals, the last ones.
        server.sh_ok("nft flush set ip6 bh down").unwrap();
        let dead: Vec<String> = (n - n / 10..n).map(|k| real(k).to_string()).collect();
        for chunk in dead.chunks(500) {
            server.sh_ok(&format!("nft add element ip6 bh down '{{ {} }}'", chunk.join(", "))).unwrap();
        }
        let out = Command::new("ip")
            .args(["netns", "exec", client.name()])
            .arg(&exe)
            .args(["check", &n.to_string(), server.name(), &srv_pid])
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "checker for {n} reals failed");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        std::io::stdout().flush().unwrap();
    }
    let _ = srv.kill();
    let _ = srv.wait();
}

/// Role `serve`: a minimal HTTP/1.0 responder on [::]:80 (every local address).
fn serve() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v6().unwrap();
        sock.set_reuseaddr(true).unwrap();
        sock.bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80)).unwrap();
        let listener = sock.listen(8192).unwrap();
        println!("listening");
        std::io::stdout().flush().unwrap();
        loop {
            let Ok((mut s, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 2048];
                let mut got = 0;
                // Read the request head, then answer and close.
                while got < buf.len() {
                    match s.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got += k,
                    }
                    if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n").await;
            });
        }
    });
}

/// CPU seconds (user, system) this process has used. System time includes the kernel's TCP
/// work for both ends of each connection that runs in this process's context (a veth pair
/// delivers the packet to the server's stack on the sender's CPU time).
fn cpu_seconds() -> (f64, f64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(u.ru_utime), t(u.ru_stime))
}

/// CPU seconds (user, system) of another process (or kernel thread), from /proc/PID/stat.
fn cpu_seconds_of(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name's closing parenthesis: utime and stime are the 12th and
    // 13th (fields 14 and 15 of proc(5)), in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).copied().unwrap_or(0.0) / hz, f.get(12).copied().unwrap_or(0.0) / hz)
}

/// The kernel threads that run a threaded-NAPI veth end's receive path (`napi/DEV-ID`).
fn napi_threads(dev: &str) -> Vec<u32> {
    let prefix = format!("napi/{dev}-");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with(&prefix))
        })
        .collect()
}

/// Summed CPU seconds (user + system) of `pids`.
fn cpu_of_all(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu_seconds_of(p)).map(|(u, s)| u + s).sum()
}

/// Peak resident set size, MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Role `check N SERVER_NS SERVER_PID`: the engine over N reals; prints one result line and
/// a line on where the rest of the CPU went.
fn check(n: usize, server_ns: &str, server_pid: u32) {
    // As the daemon would run (LimitNOFILE): room for every concurrent check.
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(1 << 17);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(65536);
        let engine = Engine::new(tx, rha_check::engine::default_max_concurrent());
        let mut spec = CheckSpec::new(Service::Http);
        spec.check_timeout = TIMEOUT;
        spec.negotiate_timeout = TIMEOUT;
        let keys: Vec<CheckKey> = (0..n)
            .map(|k| CheckKey::new(spec.clone(), Target::new(SocketAddr::new(IpAddr::V6(real(k)), 80))))
            .collect();
        for k in &keys {
            engine.add(k.clone(), INTERVAL);
        }
        let index: std::collections::HashMap<SocketAddr, usize> =
            keys.iter().enumerate().map(|(i, k)| (k.target.addr, i)).collect();
        // Warm-up: every real gets its first result.
        let until = Instant::now() + WARMUP;
        while let Ok(Some(_)) = tokio::time::timeout_at(until.into(), rx.recv()).await {}
        // Steady state.
        let (rx_ours, rx_server) = (napi_threads("chk0"), napi_threads("srv0"));
        let (srv0, rxo0, rxs0) = (cpu_seconds_of(server_pid), cpu_of_all(&rx_ours), cpu_of_all(&rx_server));
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let mut per_real = vec![0u32; n];
        let mut checks = 0u64;
        let end = t0 + WINDOW;
        while let Ok(Some((key, _, _))) = tokio::time::timeout_at(end.into(), rx.recv()).await {
            checks += 1;
            per_real[index[&key.target.addr]] += 1;
        }
        let (cpu1, secs) = (cpu_seconds(), t0.elapsed().as_secs_f64());
        let (srv1, rxo1, rxs1) = (cpu_seconds_of(server_pid), cpu_of_all(&rx_ours), cpu_of_all(&rx_server));
        let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
        let cpu = user + sys;
        // Every real checked every interval: at least WINDOW/INTERVAL - 1 results each.
        let want = (WINDOW.as_secs_f64() / INTERVAL.as_secs_f64()) as u32 - 1;
        let short = per_real.iter().filter(|&&c| c < want).count();
        // Failure to down: FAILED live reals are black-holed at once.
        let live = n - n / 10;
        let victims: Vec<usize> = (0..FAILED.min(live)).map(|i| i * live / FAILED.min(live)).collect();
        let addrs: Vec<String> = victims.iter().map(|&v| real(v).to_string()).collect();
        let failed_at = Instant::now();
        let ok = Command::new("ip")
            .args(["netns", "exec", server_ns, "nft", "add", "element", "ip6", "bh", "down"])
            .arg(format!("{{ {} }}", addrs.join(", ")))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "could not black-hole the victims");
        let mut latency: Vec<Duration> = Vec::new();
        let mut pending: std::collections::HashSet<usize> = victims.iter().copied().collect();
        let give_up = failed_at + INTERVAL * 3 + TIMEOUT * 2;
        while !pending.is_empty() {
            match tokio::time::timeout_at(give_up.into(), rx.recv()).await {
                Ok(Some((key, outcome, when))) => {
                    let i = index[&key.target.addr];
                    if !outcome.up && pending.remove(&i) {
                        latency.push(when.saturating_duration_since(failed_at));
                    }
                }
                _ => break,
            }
        }
        latency.sort();
        let fmt = |d: Option<&Duration>| d.map(|d| format!("{:.2}", d.as_secs_f64())).unwrap_or("-".into());
        let lat = format!(
            "{}/{} s{}",
            fmt(latency.get(latency.len() / 2)),
            fmt(latency.last()),
            if pending.is_empty() { String::new() } else { format!(" ({} never down)", pending.len()) }
        );
        println!(
            "{:>7} {:>9.0} {:>12} {:>9.1} µs {:>9.1}% {:>13} {:>9.1} {:>22}",
            n,
            checks as f64 / secs,
            if short == 0 { "yes".to_string() } else { format!("{short} missed") },
            cpu / checks.max(1) as f64 * 1e6,
            cpu / secs * 100.0,
            format!("{:.0}/{:.0}%", user / secs * 100.0, sys / secs * 100.0),
            peak_rss_mib(),
            lat
        );
        let pct = |s: f64| format!("{:.1}%", s / secs * 100.0);
        let rx = if rx_ours.is_empty() {
            String::new()
        } else {
            format!(
                "; receive paths (threaded NAPI): ours {} = {:.1} µs/check, the server's {}",
                pct(rxo1 - rxo0),
                (rxo1 - rxo0) / checks.max(1) as f64 * 1e6,
                pct(rxs1 - rxs0)
            )
        };
        println!(
            "{:>7}   the responder: {} ({} user, {} kernel){rx}",
            "",
            pct(srv1.0 - srv0.0 + srv1.1 - srv0.1),
            pct(srv1.0 - srv0.0),
            pct(srv1.1 - srv0.1)
        );
        std::io::stdout().flush().unwrap();
        drop(engine);
    });
}
