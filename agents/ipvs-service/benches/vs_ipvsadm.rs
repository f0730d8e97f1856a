//! ocf:rha:ipvs-service against ipvsadm, on a real kernel's IPVS (so: inside the VM; see
//! `benches/run-in-vm.sh`).
//!
//! - `program 1000 reals`: one `start` of the agent (a whole process: parameters, plan,
//!   batched netlink, read-back verification) against the same table through `ipvsadm -A`
//!   and 1,000 `ipvsadm -a` processes (how init scripts and ldirectord program IPVS).
//!   Target: at least 20x. `ipvsadm -R` of the same rules (one process) is shown as well.
//!   (The 1,001 ipvsadm processes take minutes under TCG: they run `RHA_BENCH_SLOW_RUNS`
//!   times, default 1; everything else `RHA_BENCH_RUNS` times, default 5.)
//! - `monitor 1000 reals`: one `monitor` of the agent (a whole process) against
//!   `ipvsadm -S -n` (the listing a script would compare). Target: under 10 ms. The
//!   library's own share (read the service back and compare) is shown as well.
//!
//! Everything runs in a fresh network namespace (IPVS is per namespace); both sides are
//! started from a thread inside it, so neither pays for `ip netns exec`. Medians of several
//! runs; the tables both sides make are checked to be identical. Prints
//! `name: rha X ms, ipvsadm Y ms, ratio Zx`. Without IPVS it says so and exits with 2.
//!
//! The VM runs under TCG (no KVM here), where starting any process costs ~100 ms, so the
//! monitor line is broken down: the process floor (`meta-data`), the same process with the
//! 1,000-real configuration parsed (`validate-all`), and the IPVS part in-process. With
//! `--calibrate` (no IPVS, no root needed) the same two processes are timed on the host;
//! `run-in-vm.sh` passes that figure in (`RHA_BENCH_HOST_CONFIG_MS`) and the VM run prints
//! the TCG slowdown of this very process and the monitor and start times it implies
//! without emulation.

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
    agent_env(action, reals, run_dir, &[])
}

fn agent_env(action: &str, reals: &str, run_dir: &str, extra: &[(&str, &str)]) -> Duration {
    let mut c = Command::new(AGENT);
    c.arg(action)
        .env_clear()
        .env("OCF_RESOURCE_INSTANCE", "bench")
        .env("RHA_RUN_DIR", run_dir)
        .env("OCF_RESKEY_virtual", VIP)
        .env("OCF_RESKEY_scheduler", "wrr")
        .env("OCF_RESKEY_reals", reals)
        .env("OCF_RESKEY_CRM_meta_interval", "10000")
        .envs(extra.iter().copied())
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

fn reals_param() -> String {
    reals().iter().map(|(a, w)| format!("{a}:8080 masq {w}")).collect::<Vec<_>>().join("; ")
}

/// The agent's process floor and the same process parsing the 1,000-real configuration
/// (validate-all at level 0 asks nothing of the kernel): medians of `n` runs.
fn process_costs(n: usize, run_dir: &str) -> (Duration, Duration) {
    let reals = reals_param();
    let floor = median((0..n).map(|_| agent("meta-data", "", run_dir)).collect());
    let config = median((0..n).map(|_| agent("validate-all", &reals, run_dir)).collect());
    (floor, config)
}

/// CPU work of a monitor without the kernel: parse the 1,000-real configuration and compare
/// it with a copy of itself, in-process (no process start, so little noise). Its ratio
/// between the VM and the host is this machine's TCG slowdown for the agent's code.
fn cpu_work(n: usize) -> Duration {
    let text = reals_param();
    let key = rha_ipvs::ServiceKey::tcp("198.51.100.20".parse().unwrap(), 80);
    let resolver = rha_ipvs::save_format::SystemResolver::default();
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let dests = rha_ipvs_service::reals::parse(&text, &key, &resolver).unwrap();
                let want = rha_ipvs::ServiceSpec {
                    service: rha_ipvs::Service::new(key).with_scheduler("wrr"),
                    dests,
                };
                let copy = want.clone();
                assert!(describe_differences(Some(&copy), &want).is_empty());
                t.elapsed()
            })
            .collect(),
    )
}

fn calibrate(runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (floor, config) = process_costs(runs * 4, dir.path().to_str().unwrap());
    let cpu = cpu_work(runs * 8);
    println!(
        "calibration on this host (no IPVS needed): agent meta-data {:.2} ms, agent validate-all of 1000 reals \
         {:.2} ms, in-process parse and compare of 1000 reals {:.3} ms",
        ms(floor),
        ms(config),
        ms(cpu)
    );
    println!("RHA_BENCH_HOST_CONFIG_MS={:.3}", ms(config));
    println!("RHA_BENCH_HOST_CPU_MS={:.4}", ms(cpu));
}

fn bench(runs: usize, slow_runs: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().to_str().unwrap().to_string();
    let reals = reals();
    let reals_param = reals_param();
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
    for run in 0..runs {
        rha_start.push(agent("start", &reals_param, &run_dir));
        assert_eq!(ipvsadm(&["-S", "-n"]), ours);
        agent("stop", &reals_param, &run_dir);

        // 1,001 processes take minutes under TCG: fewer runs of this side.
        if run < slow_runs {
            let t = Instant::now();
            ipvsadm(&["-A", "-t", VIP, "-s", "wrr"]);
            for (a, w) in &reals {
                ipvsadm(&["-a", "-t", VIP, "-r", &format!("{a}:8080"), "-m", "-w", &w.to_string()]);
            }
            adm_start.push(t.elapsed());
            assert_eq!(ipvsadm(&["-S", "-n"]), ours, "ipvsadm made another table");
            ipvsadm(&["-C"]);
        }

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
    let (floor, config) = process_costs(runs * 4, &run_dir);
    println!(
        "monitor 1000 reals (breakdown): process floor (meta-data) {:.2} ms; process parsing the 1000-real \
         configuration (validate-all) {:.2} ms; IPVS read-back and comparison in-process {:.2} ms",
        ms(floor),
        ms(config),
        ms(lm)
    );
    let cpu = cpu_work(runs * 8);
    println!("monitor 1000 reals (cpu): in-process parse and compare of 1000 reals {:.3} ms", ms(cpu));
    let host = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let mut native_monitor = None;
    if let (Some(host_config), Some(host_cpu)) =
        (host("RHA_BENCH_HOST_CONFIG_MS"), host("RHA_BENCH_HOST_CPU_MS"))
    {
        let slowdown = ms(cpu) / host_cpu;
        let estimate = host_config + ms(lm) / slowdown;
        println!(
            "without emulation (estimate): the agent's code runs {slowdown:.0}x slower in this VM than on the host \
             ({:.3} ms vs {host_cpu:.3} ms in-process); monitor = the host's own validate-all process of the same \
             configuration ({host_config:.2} ms, measured) + the IPVS part scaled ({:.2} ms / {slowdown:.0}) = {estimate:.2} ms",
            ms(cpu),
            ms(lm),
        );
        native_monitor = Some(estimate);
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: program ratio {start_ratio:.1}x (target >= 20x: {}); monitor under TCG {:.2} ms, of which the process \
         floor is {:.2} ms{}",
        verdict(start_ratio >= 20.0),
        ms(rm),
        ms(floor),
        match native_monitor {
            Some(e) =>
                format!("; estimated without emulation {e:.2} ms (target < 10 ms: {})", verdict(e < 10.0)),
            None => format!(
                " (target < 10 ms: {}; run through run-in-vm.sh for the estimate)",
                verdict(ms(rm) < 10.0)
            ),
        }
    );
    start_ratio >= 20.0 && native_monitor.unwrap_or(ms(rm)) < 10.0
}

fn main() {
    // `cargo bench` passes --bench; `--calibrate` times the host side only.
    let runs: usize = std::env::var("RHA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    if std::env::args().any(|a| a == "--calibrate") {
        calibrate(runs);
        return;
    }
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
    let slow_runs: usize = std::env::var("RHA_BENCH_SLOW_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .clamp(1, runs.max(1));
    let ns = rha_harness::netns::Netns::new("bench").expect("create a network namespace");
    let name = ns.name().to_string();
    let ok = std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
        // SAFETY: setns on a namespace file we hold open; only this thread moves.
        assert_eq!(unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) }, 0);
        bench(runs, slow_runs)
    })
    .join()
    .expect("benchmark thread");
    drop(ns);
    if !ok {
        println!("vs_ipvsadm: a target was not met");
    }
}
