//! VM tier: ocf:rha:mdraid against real md arrays over loop devices (Debian's stock kernel in
//! the VM; the build host has no md). mdadm creates the arrays and is the oracle for "nothing
//! assembled"; the agent assembles them from the conf we write.
//!
//! - RAID 1, RAID 6 (five members, as scenario S4) and RAID 0: start, monitor clean, stop,
//!   nothing left assembled;
//! - `mdadm --fail` one member: 0 with a warning naming it (OCF 1.0), 190 with OCF 1.1; a
//!   second RAID 6 member: still serving; a third: failed (1);
//! - stop with a mounted filesystem: 1 naming the mount, also with force_stop (never
//!   unmounted); a process holding the device: 1 naming pid and command, and with force_stop
//!   the process is ended and stop succeeds;
//! - `md_dev=auto` with two arrays, partly assembled → 1;
//! - an array assembled under another name: start fails naming it and `AUTO -all`;
//! - ocf-tester passes on a RAID 1;
//! - monitor level 10 (O_DIRECT read): 0 on a healthy RAID 1, 1 naming the device and EIO on
//!   a RAID 0 whose first member (a device-mapper target) fails every I/O;
//! - a RAID 1 resyncing (throttled): 0 with the resync and its percentage logged; clean after;
//! - the benchmark of issue 13 (`bench_recurring_monitor_raid6_against_heartbeat`): CPU and
//!   child processes per recurring monitor, ours against ocf:heartbeat:mdraid.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{LOOP_SIZE, Lab, assembled, kname, mdstat, sh};
use common::{Instance, agent_path, expect};
use rha_harness::cmd::{self, require_tools};

#[test]
fn raid1_start_monitor_degraded_stop() {
    let mut lab = Lab::new();
    let m = lab.array("/dev/md11", "1", 2);
    let i = lab.instance("/dev/md11");
    expect(&i.probe(), 7, "probe before start");
    expect(&i.start(), 0, "start");
    assert!(assembled("md11"), "{}", mdstat());
    let mon = i.monitor();
    expect(&mon, 0, "monitor clean");
    assert!(!mon.stderr.contains("WARNING"), "{mon}");
    expect(&i.start(), 0, "start again (already assembled)");
    sh(&["mdadm", "/dev/md11", "--fail", &m[1]]);
    let loop1 = Path::new(&m[1]).file_name().unwrap().to_str().unwrap().to_string();
    let mon = i.monitor();
    expect(&mon, 0, "monitor degraded, OCF 1.0");
    assert!(mon.stderr.contains("WARNING") && mon.stderr.contains(&loop1), "{mon}");
    let mon = i.monitor11();
    expect(&mon, 190, "monitor degraded, OCF 1.1");
    assert!(mon.why().contains(&loop1), "{mon}");
    expect(&i.stop(), 0, "stop");
    assert!(!assembled("md11"), "{}", mdstat());
    expect(&i.probe(), 7, "probe after stop");
    expect(&i.stop(), 0, "stop again");
}

#[test]
fn raid6_five_members_survives_two_failures_not_three() {
    let mut lab = Lab::new();
    let m = lab.array("/dev/md12", "6", 5);
    let i = lab.instance("/dev/md12");
    expect(&i.start(), 0, "start");
    expect(&i.monitor(), 0, "monitor clean");
    sh(&["mdadm", "/dev/md12", "--fail", &m[0]]);
    let mon = i.monitor();
    expect(&mon, 0, "one member failed");
    assert!(mon.stderr.contains("degraded"), "{mon}");
    expect(&i.monitor11(), 190, "one member failed, OCF 1.1");
    sh(&["mdadm", "/dev/md12", "--fail", &m[1]]);
    expect(&i.monitor(), 0, "two members failed: still serving");
    let _ = Command::new("mdadm").args(["/dev/md12", "--fail", &m[2]]).status();
    let mon = i.monitor();
    expect(&mon, 1, "three members failed");
    assert!(mon.why().contains("failed"), "{mon}");
    expect(&i.stop(), 0, "stop a failed array");
    assert!(!assembled("md12"), "{}", mdstat());
}

#[test]
fn raid0_start_monitor_stop() {
    let mut lab = Lab::new();
    lab.array("/dev/md13", "0", 2);
    let i = lab.instance("/dev/md13");
    expect(&i.start(), 0, "start");
    expect(&i.monitor(), 0, "monitor");
    expect(&i.stop(), 0, "stop");
    assert!(!assembled("md13"), "{}", mdstat());
}

#[test]
fn stop_with_a_mounted_filesystem_names_the_mount_and_never_unmounts() {
    let mut lab = Lab::new();
    lab.array("/dev/md14", "1", 2);
    let i = lab.instance("/dev/md14");
    expect(&i.start(), 0, "start");
    sh(&["mkfs.ext4", "-q", "-F", "/dev/md14"]);
    let mnt = tempfile::tempdir().unwrap();
    let mp = mnt.path().to_str().unwrap().to_string();
    sh(&["mount", "/dev/md14", &mp]);
    let s = i.stop();
    expect(&s, 1, "stop while mounted");
    assert!(s.why().contains(&format!("mounted on {mp}")), "{s}");
    let s = i.clone().param("force_stop", "true").stop();
    expect(&s, 1, "force_stop while mounted");
    assert!(s.why().contains(&mp), "{s}");
    assert!(std::fs::read_to_string("/proc/self/mounts").unwrap().contains(&mp), "force_stop unmounted");
    sh(&["umount", &mp]);
    expect(&i.stop(), 0, "stop after umount");
    assert!(!assembled("md14"));
}

#[test]
fn force_stop_ends_a_process_holding_the_array() {
    let mut lab = Lab::new();
    lab.array("/dev/md15", "1", 2);
    let i = lab.instance("/dev/md15");
    expect(&i.start(), 0, "start");
    let mut holder = Command::new("sh").args(["-c", "exec sleep 600 </dev/md15"]).spawn().unwrap();
    let pid = holder.id();
    // Wait until the shell has exec'd sleep with the device open.
    let t = Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim() != "sleep" {
        assert!(t.elapsed() < Duration::from_secs(30), "holder never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = i.stop();
    expect(&s, 1, "stop while held open");
    assert!(s.why().contains(&format!("pid {pid} (sleep)")), "{s}");
    assert!(s.why().contains("force_stop"), "{s}");
    let s = i.clone().param("force_stop", "true").stop();
    expect(&s, 0, "force_stop");
    let t = Instant::now();
    while holder.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(5), "holder still running after force_stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!assembled("md15"), "{}", mdstat());
}

#[test]
fn md_dev_auto_with_two_arrays() {
    let mut lab = Lab::new();
    lab.array("/dev/md16", "1", 2);
    lab.array("/dev/md17", "1", 2);
    let i = lab.instance("auto");
    let p = i.probe();
    assert_eq!(p.code, 7, "probe: {p}\n{}", mdstat());
    expect(&i.start(), 0, "start");
    assert!(assembled("md16") && assembled("md17"), "{}", mdstat());
    expect(&i.monitor(), 0, "monitor");
    sh(&["mdadm", "--stop", "/dev/md17"]);
    let mon = i.monitor();
    expect(&mon, 1, "one of two stopped behind our back");
    assert!(mon.why().contains("/dev/md17"), "{mon}");
    expect(&i.start(), 0, "start repairs");
    expect(&i.stop(), 0, "stop");
    assert!(!assembled("md16") && !assembled("md17"), "{}", mdstat());
    let _ = kname("/dev/md16");
}

#[test]
fn ocf_tester_passes_on_raid1() {
    assert!(Path::new("/usr/sbin/ocf-tester").exists(), "ocf-tester missing (resource-agents)");
    let mut lab = Lab::new();
    lab.array("/dev/md18", "1", 2);
    lab.settle();
    let conf = lab.conf();
    let o = Command::new("/usr/sbin/ocf-tester")
        .args(["-v", "-n", "r1", "-o", &format!("mdadm_conf={}", conf.display()), "-o", "md_dev=/dev/md18"])
        .arg(agent_path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.contains("passed all tests"), "ocf-tester failed:\n{out}\n{err}");
    assert!(!assembled("md18"), "{}", mdstat());
}

#[test]
fn an_array_assembled_under_another_name_is_reported_by_name() {
    let mut lab = Lab::new();
    let m = lab.array("/dev/md19", "1", 2);
    let i = lab.instance("/dev/md19");
    // As the system's auto-assembly would: the same array, another kernel name.
    let mut argv = vec!["mdadm", "--assemble", "/dev/md119", "--run"];
    argv.extend(m.iter().map(String::as_str));
    sh(&argv);
    lab.arrays.push("/dev/md119".into());
    let s = i.start();
    expect(&s, 1, "start while assembled as md119");
    assert!(s.why().contains("/dev/md119") && s.why().contains("AUTO -all"), "{s}");
    assert!(!assembled("md19"), "{}", mdstat());
    sh(&["mdadm", "--stop", "/dev/md119"]);
}

fn dm_setup() {
    require_tools(&[("dmsetup", "dmsetup")]).unwrap();
    cmd::run_ok(&["modprobe", "dm_mod"]).unwrap_or_else(|e| panic!("modprobe dm_mod: {e:#}"));
}

#[test]
fn level_10_reads_each_array_and_names_one_that_cannot_be_read() {
    let mut lab = Lab::new();
    dm_setup();
    lab.array("/dev/md20", "1", 2);
    // RAID 0 has no redundancy to fail over to and md keeps it "clean" when a member answers
    // every I/O with an error: only reading it tells. Member 0 holds the array's first chunk.
    let leg = lab.dm_leg("rha-md-leg0");
    let other = lab.loopdev();
    lab.array_of("/dev/md21", "0", vec![leg, other], false);
    let r1 = lab.instance("/dev/md20");
    let r0 = Instance::new("md0").param("mdadm_conf", lab.conf()).param("md_dev", "/dev/md21");
    expect(&r1.start(), 0, "start the RAID 1");
    expect(&r0.start(), 0, "start the RAID 0");
    expect(&r1.monitor10(), 0, "level 10 on a healthy RAID 1");
    expect(&r0.monitor10(), 0, "level 10 on a healthy RAID 0");
    sh(&["dmsetup", "reload", "rha-md-leg0", "--table", &format!("0 {} error", LOOP_SIZE / 512)]);
    sh(&["dmsetup", "resume", "rha-md-leg0"]);
    let m = r0.monitor();
    eprintln!("level 0 with member 0 answering errors: {m}");
    let m = r0.monitor10();
    expect(&m, 1, "level 10 with member 0 answering errors");
    assert!(m.why().contains("/dev/md21") && m.why().contains("EIO"), "{m}");
    expect(&r1.monitor10(), 0, "the RAID 1 is still readable");
    let t = format!("0 {} linear {} 0", LOOP_SIZE / 512, lab.loops[2]);
    sh(&["dmsetup", "reload", "rha-md-leg0", "--table", &t]);
    sh(&["dmsetup", "resume", "rha-md-leg0"]);
    expect(&r0.stop(), 0, "stop the RAID 0");
    expect(&r1.stop(), 0, "stop the RAID 1");
    assert!(!assembled("md20") && !assembled("md21"), "{}", mdstat());
}

/// Sets /proc/sys/dev/raid/speed_limit_max and puts the old value back on drop.
struct SpeedLimit(String);

impl SpeedLimit {
    const PATH: &'static str = "/proc/sys/dev/raid/speed_limit_max";
    fn set(kb_per_s: &str) -> SpeedLimit {
        let old = std::fs::read_to_string(Self::PATH).unwrap().trim().to_string();
        std::fs::write(Self::PATH, kb_per_s).unwrap();
        SpeedLimit(old)
    }
}

impl Drop for SpeedLimit {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::PATH, &self.0);
    }
}

#[test]
fn resync_progress_is_logged_and_the_array_is_clean_after() {
    let mut lab = Lab::new();
    // 64 MiB members at 1 MB/s: about a minute of resync, so it is still running when the
    // monitor looks; then unthrottled, it ends in seconds.
    let limit = SpeedLimit::set("1000");
    let members = vec![lab.loopdev_sized(64 << 20), lab.loopdev_sized(64 << 20)];
    lab.array_of("/dev/md22", "1", members, false);
    let i = lab.instance("/dev/md22");
    expect(&i.start(), 0, "start");
    // md assembles it read-auto, the resync pending until the first write (a mount would do
    // it): as that write, switch it to read-write.
    sh(&["mdadm", "--readwrite", "/dev/md22"]);
    let action = || std::fs::read_to_string("/sys/block/md22/md/sync_action").unwrap().trim().to_string();
    // md's sync thread picks the resync up from its checkpoint a moment after assembly.
    let t = Instant::now();
    while action() != "resync" {
        assert!(t.elapsed() < Duration::from_secs(20), "no resync running: {}", mdstat());
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = i.monitor();
    expect(&m, 0, "monitor during the resync");
    let line = m.stderr.lines().find(|l| l.contains("resync")).unwrap_or_else(|| panic!("{m}"));
    assert!(line.contains('%') && line.contains("/dev/md22"), "{line}");
    assert!(!m.stderr.contains("WARNING"), "{m}");
    eprintln!("during the resync: {line}");
    drop(limit);
    let t = Instant::now();
    while action() != "idle" {
        assert!(t.elapsed() < Duration::from_secs(120), "resync still running: {}", mdstat());
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = i.monitor();
    expect(&m, 0, "monitor after the resync");
    assert!(!m.stderr.contains("resync"), "{m}");
    expect(&i.stop(), 0, "stop");
    assert!(!assembled("md22"), "{}", mdstat());
}

const HEARTBEAT_MDRAID: &str = "/usr/lib/ocf/resource.d/heartbeat/mdraid";

/// A recurring monitor, with the PATH Pacemaker gives agents (the shell agent needs one).
const BENCH_ENV: &[(&str, &str)] =
    &[("OCF_RESKEY_CRM_meta_interval", "10000"), ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")];

/// CPU (user + system) of children waited for so far, from getrusage(RUSAGE_CHILDREN).
fn children_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we own.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One recurring monitor of `i` by the program `exe`; its exit code.
fn monitor_with(i: &Instance, exe: &str) -> i32 {
    let o = i.command_of(exe, "monitor", BENCH_ENV).output().unwrap();
    o.status.code().unwrap_or(-1)
}

/// Processes one monitor by `exe` creates, counted exactly under `strace -f`: every process
/// of the tree ends with one exit_group(2) or is killed by a signal ("+++ killed by"), and
/// threads end with exit(2) instead, so those lines minus one (the agent itself) are the
/// child processes spawned, forked subshells included. strace only counts here: the CPU
/// figures come from runs without it.
fn children_spawned(i: &Instance, exe: &str, out: &Path) -> usize {
    // The agent's own invocation (its environment), run under strace.
    let agent = i.command_of(exe, "monitor", BENCH_ENV);
    let mut s = Command::new("strace");
    s.args(["-f", "-q", "-e", "trace=exit_group", "-o"]).arg(out).arg(exe).arg("monitor");
    s.env_clear().envs(agent.get_envs().filter_map(|(k, v)| v.map(|v| (k, v)))).stdin(Stdio::null());
    let st = s.output().unwrap();
    assert!(st.status.code().is_some(), "strace: {st:?}");
    let log = std::fs::read_to_string(out).unwrap();
    let ends = log.lines().filter(|l| l.contains("exit_group(") || l.contains("+++ killed by")).count();
    assert!(ends >= 1, "strace saw no process end:\n{log}");
    ends - 1
}

/// The benchmark of issue 13, run by the VM tier: the recurring monitor of a clean RAID 6 of
/// five members (scenario S4) by ocf:rha:mdraid and by Debian's ocf:heartbeat:mdraid, N times
/// each (RHA_BENCH_RUNS, default 10), the programs taking turns so that a change of load on
/// the host (TCG's vCPUs are host threads) weighs on both alike. Ours runs twice per turn: as
/// built (read over the VM's 9p root, as the shell agent and its tools are) and copied onto
/// the test's tmpfs, which shows what exec'ing a 12 MB debug binary over 9p costs. It prints
/// CPU per call (user + system of the agent and everything it ran: getrusage(RUSAGE_CHILDREN)
/// before and after each call, one child at a time) and child processes per call (strace, see
/// `children_spawned`). It asserts behaviour only: all answer 0 and ours spawns no process.
/// Timings are printed, never asserted.
#[test]
fn bench_recurring_monitor_raid6_against_heartbeat() {
    require_tools(&[("strace", "strace")]).unwrap();
    assert!(Path::new(HEARTBEAT_MDRAID).exists(), "{HEARTBEAT_MDRAID} missing (resource-agents)");
    let runs: u32 = std::env::var("RHA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let mut lab = Lab::new();
    lab.array("/dev/md23", "6", 5);
    let i = lab.instance("/dev/md23");
    expect(&i.start(), 0, "start");
    expect(&i.monitor(), 0, "monitor clean");
    let local = lab.dir.path().join("mdraid");
    std::fs::copy(agent_path(), &local).unwrap();
    let local = local.to_str().unwrap().to_string();
    let progs = [
        ("ocf:rha:mdraid", agent_path()),
        ("ocf:rha:mdraid (binary on tmpfs)", local.as_str()),
        ("ocf:heartbeat:mdraid", HEARTBEAT_MDRAID),
    ];
    let mut cpu = [Duration::ZERO; 3];
    let mut wall = [Duration::ZERO; 3];
    for (name, exe) in progs {
        assert_eq!(monitor_with(&i, exe), 0, "{name}: monitor of a clean RAID 6 (warm-up)");
    }
    for _ in 0..runs {
        for (k, (name, exe)) in progs.iter().enumerate() {
            let (c, t) = (children_cpu(), Instant::now());
            assert_eq!(monitor_with(&i, exe), 0, "{name}: monitor of a clean RAID 6");
            wall[k] += t.elapsed();
            cpu[k] += children_cpu() - c;
        }
    }
    let trace = lab.dir.path().join("strace.out");
    let kids: Vec<Vec<usize>> =
        progs.iter().map(|(_, exe)| (0..2).map(|_| children_spawned(&i, exe, &trace)).collect()).collect();
    use std::io::Write;
    // Written to the real stderr (not eprintln!, which libtest captures), so the figures show
    // in the VM tier's log of a passing run.
    let mut err = std::io::stderr();
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / runs as f64;
    for (k, (name, _)) in progs.iter().enumerate() {
        let _ = writeln!(
            err,
            "bench mdraid monitor, RAID 6 of 5, {runs} runs: {name}: CPU {:.2} ms/call, wall {:.2} \
             ms/call, child processes per call {:?}",
            ms(cpu[k]),
            ms(wall[k]),
            kids[k]
        );
    }
    for k in 0..2 {
        let ratio = ms(cpu[2]) / ms(cpu[k]).max(1e-6);
        let _ = writeln!(err, "bench mdraid monitor: CPU ratio heartbeat / {}: {ratio:.1}x", progs[k].0);
    }
    assert_eq!(kids[0], vec![0, 0], "ocf:rha:mdraid's recurring monitor spawned processes");
    assert_eq!(kids[1], vec![0, 0], "ocf:rha:mdraid's recurring monitor spawned processes");
    expect(&i.stop(), 0, "stop");
}
