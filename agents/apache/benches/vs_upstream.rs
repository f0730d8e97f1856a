//! ocf:rha:apache against ocf:heartbeat:apache, on the same running apache2 (stock Debian
//! configuration) in a sandbox, in one run: `cargo bench -p rha-apache` (as root).
//!
//! - monitor: N calls each; wall time and CPU time (getrusage of waited-for children, so the
//!   shell agent's curl/grep/... are included) per call, and the ratios;
//! - a full ocf-tester run for each agent.
//!
//! The bench process enters the sandbox's network and mount namespaces itself, so no nsenter
//! sits between it and the agents. It prints numbers; it asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use support::{Agent, STOCK_CONFIG, Sandbox};

const N_OURS: u32 = 300;
const N_UPSTREAM: u32 = 60;

/// CPU time of all waited-for descendants so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn agent_cmd(agent: Agent, action: &str) -> Command {
    let mut c = Command::new(agent.path());
    c.arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "web")
        .env("OCF_RESKEY_configfile", STOCK_CONFIG)
        .env("OCF_RESKEY_CRM_meta_timeout", "20000")
        .env("OCF_RESKEY_CRM_meta_interval", "10000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

struct Sample {
    wall: Duration,
    cpu: Duration,
}

fn monitor_many(agent: Agent, n: u32) -> Sample {
    // Warm up (page cache, first exec).
    for _ in 0..3 {
        agent_cmd(agent, "monitor").status().unwrap();
    }
    let cpu0 = children_cpu();
    let t = Instant::now();
    for _ in 0..n {
        let st = agent_cmd(agent, "monitor").status().unwrap();
        assert_eq!(st.code(), Some(0), "{agent:?} monitor failed");
    }
    Sample { wall: t.elapsed() / n, cpu: (children_cpu() - cpu0) / n }
}

fn ocf_tester(agent: Agent) -> (bool, Duration) {
    let t = Instant::now();
    let out = Command::new("/usr/sbin/ocf-tester")
        .args(["-n", "web", "-o", &format!("configfile={STOCK_CONFIG}"), agent.path()])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let ok = out.status.success() && String::from_utf8_lossy(&out.stdout).contains("passed all tests");
    (ok, t.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("vs_upstream: needs root (network and mount namespaces)");
        std::process::exit(1);
    }
    let sb = Sandbox::new("apbench");
    let holder = sb.holder_pid();
    let home_net = File::open("/proc/self/ns/net").unwrap();
    let home_mnt = File::open("/proc/self/ns/mnt").unwrap();
    let home_pid = File::open("/proc/self/ns/pid").unwrap();
    let cwd = std::env::current_dir().unwrap();
    // Network and mount namespaces for this process; the PID namespace for its children.
    let enter = |net: &File, mnt: &File, pid: &File| {
        setns(net.as_fd(), CloneFlags::CLONE_NEWNET).unwrap();
        setns(mnt.as_fd(), CloneFlags::CLONE_NEWNS).unwrap();
        setns(pid.as_fd(), CloneFlags::CLONE_NEWPID).unwrap();
    };
    let sb_net = File::open(format!("/proc/{holder}/ns/net")).unwrap();
    let sb_mnt = File::open(format!("/proc/{holder}/ns/mnt")).unwrap();
    let sb_pid = File::open(format!("/proc/{holder}/ns/pid")).unwrap();
    enter(&sb_net, &sb_mnt, &sb_pid);
    // Whatever happens inside, come back home before the sandbox is torn down.
    let measured = std::panic::catch_unwind(|| {
        let st = agent_cmd(Agent::Ours, "start").status().unwrap();
        assert_eq!(st.code(), Some(0), "start failed");
        let ours = monitor_many(Agent::Ours, N_OURS);
        let up = monitor_many(Agent::Upstream, N_UPSTREAM);
        agent_cmd(Agent::Ours, "stop").status().unwrap();
        let (ours_ok, ours_t) = ocf_tester(Agent::Ours);
        let (up_ok, up_t) = ocf_tester(Agent::Upstream);
        agent_cmd(Agent::Ours, "stop").status().unwrap();
        (ours, up, ours_ok, ours_t, up_ok, up_t)
    });
    enter(&home_net, &home_mnt, &home_pid);
    std::env::set_current_dir(cwd).unwrap();
    drop(sb);
    let (ours, up, ours_ok, ours_t, up_ok, up_t) = match measured {
        Ok(m) => m,
        Err(p) => std::panic::resume_unwind(p),
    };

    println!();
    println!("monitor on a running stock Debian apache2 (level 0, recurring)");
    println!("  {:<28} {:>10} {:>10}", "", "wall/call", "CPU/call");
    println!(
        "  {:<28} {:>8.2}ms {:>8.2}ms   ({N_OURS} calls)",
        "ocf:rha:apache",
        ms(ours.wall),
        ms(ours.cpu)
    );
    println!(
        "  {:<28} {:>8.2}ms {:>8.2}ms   ({N_UPSTREAM} calls)",
        "ocf:heartbeat:apache",
        ms(up.wall),
        ms(up.cpu)
    );
    println!(
        "  ratio (upstream / ours)      {:>9.1}x {:>9.1}x   (target >= 10x)",
        up.wall.as_secs_f64() / ours.wall.as_secs_f64(),
        up.cpu.as_secs_f64() / ours.cpu.as_secs_f64().max(1e-9)
    );
    println!();
    println!("full ocf-tester run (stock configuration)");
    println!(
        "  {:<28} {:>8.2} s  {}",
        "ocf:rha:apache",
        ours_t.as_secs_f64(),
        if ours_ok { "passed" } else { "FAILED" }
    );
    println!(
        "  {:<28} {:>8.2} s  {}",
        "ocf:heartbeat:apache",
        up_t.as_secs_f64(),
        if up_ok { "passed" } else { "FAILED" }
    );
    println!(
        "  ratio (upstream / ours)      {:>8.1}x    (target: ours < 5 s)",
        up_t.as_secs_f64() / ours_t.as_secs_f64()
    );
}
