//! ocf:rha:ipvs-service against ipvsadm, on a real kernel's IPVS (so: inside the VM; see
//! `benches/run-in-vm.sh`).
//!
//! - `program 1000 reals`: one `start` of the agent (a whole process: parameters, plan,
//!   batched netlink, read-back verification) against the same table through `ipvsadm -A`
//!   and 1,000 `ipvsadm -a` processes (how init scripts and ldirectord program IPVS).
//!   Target: at least 20x. `ipvsadm -R` of the same rules (one process) is shown as well.
//! - `monitor 1000 reals`: one `monitor` of the agent (a whole process) against
//!   `ipvsadm -S -n` (the listing a script would compare). Target: under 10 ms. The
//!   library's own share (read the service back and compare) is shown as well.
//!
//! Everything runs in a fresh network namespace (IPVS is per namespace); both sides are
//! started from a thread inside it, so neither pays for `ip netns exec`. Medians of several
//! runs; the tables both sides make are checked to be identical. Prints
//! `name: rha X ms, ipvsadm Y ms, ratio Zx`. Without IPVS it says so and exits with 2.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rha_ipvs::{Ipvs, describe_differences};

const AGENT: &str = env!("CARGO_BIN_EXE_ipvs-service");
const N: usize = 1000;
const VIP: &str = "198.51.100.20:80";

fn reals() -> Vec<(String, u32)> {
    (0..N as u32)
        .map(|n| (format!("10.{}.{}.{}", 20 + n / 62500, (n / 250) % 250, n % 250 + 1), n % 7))
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn agent(action: &str, reals: &str, run_dir: &str) -> Duration {
    let mut c = Command::new(AGENT);
    c.arg(action)
        .env_clear()
        .env("OCF_RESOURCE_INSTANCE", "bench")
        .env("RHA_RUN_DIR", run_dir)
        .env("OCF_RESKEY_virtual", VIP)
        .env("OCF_RESKEY_scheduler", "wrr")
        .env("OCF_RESKEY_reals", reals)
        .env("OCF_RESKEY_CRM_meta_interval", "10000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let o = c.output().expect("run the agent");
    let d = t.elapsed();
    assert!(o.status.success(), "agent {action} failed: {}", String::from_utf8_lossy(&o.stderr));
    d
}

fn ipvsadm(args: &[&str]) -> String {
    let o = Command::new("ipvsadm").args(args).stdin(Stdio::null()).output().expect("run ipvsadm");
    assert!(o.status.success(), "ipvsadm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn ipvsadm_restore(rules: &str) {
    let mut child = Command::new("ipvsadm")
        .arg("-R")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ipvsadm -R");
    child.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "ipvsadm -R: {}", String::from_utf8_lossy(&o.stderr));
}

fn line(name: &str, rha: Duration, other: Duration, what: &str) {
    println!(
        "{name}: rha {:.2} ms, ipvsadm {:.2} ms, ratio {:.1}x ({what})",
        ms(rha),
        ms(other),
        other.as_secs_f64() / rha.as_secs_f64()
    );
}

fn bench(runs: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().to_str().unwrap().to_string();
    let reals = reals();
    let reals_param = reals.iter().map(|(a, w)| format!("{a}:8080 masq {w}")).collect::<Vec<_>>().join("; ");
    let mut rules = format!("-A -t {VIP} -s wrr\n");
    for (a, w) in &reals {
        rules.push_str(&format!("-a -t {VIP} -r {a}:8080 -m -w {w}\n"));
    }

    // Warm-up (page cache, scheduler module) and the reference listing.
    agent("start", &reals_param, &run_dir);
    let ours = ipvsadm(&["-S", "-n"]);
    assert_eq!(ours.lines().count(), N + 1, "{ours}");
    agent("stop", &reals_param, &run_dir);
    assert_eq!(ipvsadm(&["-S", "-n"]), "");

    let mut rha_start = Vec::new();
    let mut adm_start = Vec::new();
    let mut adm_restore = Vec::new();
    for _ in 0..runs {
        rha_start.push(agent("start", &reals_param, &run_dir));
        assert_eq!(ipvsadm(&["-S", "-n"]), ours);
        agent("stop", &reals_param, &run_dir);

        let t = Instant::now();
        ipvsadm(&["-A", "-t", VIP, "-s", "wrr"]);
        for (a, w) in &reals {
            ipvsadm(&["-a", "-t", VIP, "-r", &format!("{a}:8080"), "-m", "-w", &w.to_string()]);
        }
        adm_start.push(t.elapsed());
        assert_eq!(ipvsadm(&["-S", "-n"]), ours, "ipvsadm made another table");
        ipvsadm(&["-C"]);

        let t = Instant::now();
        ipvsadm_restore(&rules);
        adm_restore.push(t.elapsed());
        assert_eq!(ipvsadm(&["-S", "-n"]), ours);
        ipvsadm(&["-C"]);
    }
    let (rs, as_, ar) = (median(rha_start), median(adm_start), median(adm_restore));
    line("program 1000 reals", rs, as_, "one agent start vs ipvsadm -A + 1000 x ipvsadm -a");
    line("program 1000 reals (restore)", rs, ar, "one agent start vs one ipvsadm -R of the same rules");
    let start_ratio = as_.as_secs_f64() / rs.as_secs_f64();

    agent("start", &reals_param, &run_dir);
    let mut rha_mon = Vec::new();
    let mut adm_mon = Vec::new();
    for _ in 0..runs * 4 {
        rha_mon.push(agent("monitor", &reals_param, &run_dir));
        let t = Instant::now();
        let s = ipvsadm(&["-S", "-n"]);
        adm_mon.push(t.elapsed());
        assert_eq!(s, ours);
    }
    // The library's share: read the service back and compare it with the configuration.
    let want = rha_ipvs::save_format::parse_table(&rules).unwrap().remove(0);
    let mut ipvs = Ipvs::connect().unwrap();
    let mut lib_mon = Vec::new();
    for _ in 0..runs * 4 {
        let t = Instant::now();
        let cur = ipvs.service_spec(&want.service.key).unwrap();
        assert!(describe_differences(cur.as_ref(), &want).is_empty());
        lib_mon.push(t.elapsed());
    }
    agent("stop", &reals_param, &run_dir);
    let (rm, am, lm) = (median(rha_mon), median(adm_mon), median(lib_mon));
    line("monitor 1000 reals", rm, am, "one agent monitor vs one ipvsadm -S -n");
    println!("monitor 1000 reals (in-process): rha {:.2} ms (netlink read-back and comparison only)", ms(lm));
    println!(
        "targets: program ratio {start_ratio:.1}x (target >= 20x: {}); monitor {:.2} ms (target < 10 ms: {})",
        if start_ratio >= 20.0 { "met" } else { "NOT met" },
        ms(rm),
        if ms(rm) < 10.0 { "met" } else { "NOT met" },
    );
    start_ratio >= 20.0 && ms(rm) < 10.0
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("vs_ipvsadm: must run as root (IPVS and network namespaces)");
        std::process::exit(2);
    }
    let _ = Command::new("modprobe").arg("ip_vs").stderr(Stdio::null()).status();
    if let Err(e) = Ipvs::connect() {
        eprintln!(
            "vs_ipvsadm: {e}\nThis benchmark needs a kernel with IPVS; this machine's has none. Run it in the VM: \
             agents/ipvs-service/benches/run-in-vm.sh"
        );
        std::process::exit(2);
    }
    if Command::new("ipvsadm").arg("-v").stdout(Stdio::null()).status().map(|s| !s.success()).unwrap_or(true)
    {
        eprintln!("vs_ipvsadm: ipvsadm is not installed (apt-get install ipvsadm)");
        std::process::exit(2);
    }
    let runs: usize = std::env::var("RHA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let ns = rha_harness::netns::Netns::new("bench").expect("create a network namespace");
    let name = ns.name().to_string();
    let ok = std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
        // SAFETY: setns on a namespace file we hold open; only this thread moves.
        assert_eq!(unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) }, 0);
        bench(runs)
    })
    .join()
    .expect("benchmark thread");
    drop(ns);
    if !ok {
        println!("vs_ipvsadm: a target was not met");
    }
}
