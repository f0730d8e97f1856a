//! VM tier: the shared fault matrix (rha-integration's `matrix`) against ocf:rha:mdraid on real
//! md arrays over loop devices and device-mapper legs (Debian's stock kernel in the VM; the
//! build host has no md, and this file fails loudly there).
//!
//! - lifecycle, SIGKILL of the agent's process group at random points of start and of stop
//!   (then a normal stop leaves nothing assembled and no agent or mdadm process), a monitor
//!   racing stop;
//! - a member yanked while monitors run: a RAID 5 leg's device-mapper table swapped for one
//!   that fails every I/O (a dead disk), a write so md sees the errors, then what udev runs
//!   when a disk disappears (`mdadm --incremental --fail`), the device removed and its loop
//!   detached; every monitor meanwhile keeps the OCF contract, answers 0 or 1 with a reason
//!   and returns within Pacemaker's default timeout; after: degraded (0 with a warning, 190
//!   with OCF 1.1); a second leg yanked: failed (1, naming the array);
//! - deadlines: every action with a 3 s CRM_meta_timeout returns before it, and a start given
//!   less than it needs fails in time with a reason (an overrun from a stall of the emulated
//!   guest is retried, as vm_fault_matrix's IPVS deadline is);
//! - hostile parameter values: never a panic, a defined code with an ocf-exit-reason, stop 0,
//!   nothing left, no shell ever running a value.
//!
//! Invariants after every case: no md array holds any of the lab's members (active or
//! inactive), and no process of the agent or of mdadm is left.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use common::agent_path;
use rha_harness::cmd::{self, require_root, require_tools};
use rha_integration::matrix::{self, HostileOptions, KillPlan, Results, returns_before_timeout};
use rha_integration::{AgentUnderTest, Failure, Invariants, Outcome, Place, Rng};

static SETUP: Once = Once::new();

fn setup() {
    SETUP.call_once(|| {
        rha_harness::vm::assert_in_guest();
        require_root().unwrap();
        require_tools(&[
            ("mdadm", "mdadm"),
            ("losetup", "mount"),
            ("modprobe", "kmod"),
            ("dmsetup", "dmsetup"),
        ])
        .unwrap();
        // As vm_mdraid: no auto-assembly behind the tests' back (/etc is the VM's overlay).
        std::fs::create_dir_all("/etc/mdadm").unwrap();
        std::fs::write("/etc/mdadm/mdadm.conf", "AUTO -all\n").unwrap();
        for m in ["loop", "raid1", "raid456", "dm_mod"] {
            cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
        }
        assert!(Path::new("/proc/mdstat").exists(), "no md in this kernel (/proc/mdstat missing)");
    });
}

fn sh(argv: &[&str]) -> Result<String, String> {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{argv:?}: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!("{argv:?}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    }
}

fn must(argv: &[&str]) -> String {
    sh(argv).unwrap_or_else(|e| panic!("{e}"))
}

const LOOP_SIZE: u64 = 24 << 20;

/// Loop devices (some under device-mapper legs) on a private tmpfs, and the arrays made of
/// them; all removed on drop.
struct Lab {
    dir: tempfile::TempDir,
    loops: Vec<String>,
    dms: Vec<String>,
    arrays: Vec<String>,
    conf_lines: Vec<String>,
    /// Kernel names of every member (loopN, dm-N): what the invariants look for.
    members: std::sync::Arc<Mutex<Vec<String>>>,
}

fn kname(dev: &str) -> String {
    let p = std::fs::canonicalize(dev).unwrap_or_else(|_| PathBuf::from(dev));
    p.file_name().unwrap().to_string_lossy().into_owned()
}

impl Lab {
    fn new() -> Lab {
        setup();
        let dir = tempfile::tempdir().unwrap();
        must(&["mount", "-t", "tmpfs", "-o", "size=300m", "rha-mdfault", dir.path().to_str().unwrap()]);
        Lab {
            dir,
            loops: Vec::new(),
            dms: Vec::new(),
            arrays: Vec::new(),
            conf_lines: Vec::new(),
            members: Default::default(),
        }
    }

    fn loopdev(&mut self) -> String {
        let f = self.dir.path().join(format!("disk{}", self.loops.len()));
        std::fs::File::create(&f).unwrap().set_len(LOOP_SIZE).unwrap();
        let l = must(&["losetup", "-f", "--show", f.to_str().unwrap()]).trim().to_string();
        self.loops.push(l.clone());
        self.members.lock().unwrap().push(kname(&l));
        l
    }

    /// A device-mapper linear leg over a new loop device (a disk that can die).
    fn dm_leg(&mut self, name: &str) -> String {
        let l = self.loopdev();
        must(&["dmsetup", "create", name, "--table", &format!("0 {} linear {l} 0", LOOP_SIZE / 512)]);
        self.dms.push(name.to_string());
        let dev = format!("/dev/mapper/{name}");
        self.members.lock().unwrap().push(kname(&dev));
        dev
    }

    fn array_of(&mut self, dev: &str, level: &str, members: &[String]) {
        let lv = format!("--level={level}");
        let nd = format!("--raid-devices={}", members.len());
        let mut argv = vec![
            "mdadm",
            "--create",
            dev,
            "--run",
            "--metadata=1.2",
            lv.as_str(),
            nd.as_str(),
            "--assume-clean",
        ];
        argv.extend(members.iter().map(String::as_str));
        must(&argv);
        self.arrays.push(dev.to_string());
        self.conf_lines.push(must(&["mdadm", "--detail", "--brief", dev]).trim().to_string());
        must(&["mdadm", "--stop", dev]);
        let _ = Command::new("udevadm").args(["settle", "--timeout=30"]).status();
    }

    fn conf(&self) -> PathBuf {
        let p = self.dir.path().join("mdadm.conf");
        std::fs::write(
            &p,
            format!("DEVICE /dev/loop* /dev/mapper/rha-mdf-*\nAUTO -all\n{}\n", self.conf_lines.join("\n")),
        )
        .unwrap();
        p
    }

    /// The agent for `md_dev`, as Pacemaker's executor runs it (own process group, clean
    /// environment), with Pacemaker's default 20 s as the limit of any one run: a run that
    /// takes longer is a hang.
    fn agent(&self, md_dev: &str) -> AgentUnderTest {
        let mut a = AgentUnderTest::new("mdraid", agent_path(), Place::Host)
            .instance("md")
            .param("mdadm_conf", self.conf())
            .param("md_dev", md_dev);
        a.limit = Duration::from_secs(20);
        a
    }

    fn invariants(&self) -> Invariants {
        let members = self.members.clone();
        let agent = std::fs::canonicalize(agent_path()).unwrap();
        let mut inv = Invariants::new()
            .add("no md array holds a member of the lab", move || {
                let m = members.lock().unwrap().clone();
                let held = arrays_holding(&m);
                if held.is_empty() { Ok(()) } else { Err(format!("{held:?}\n{}", mdstat())) }
            })
            .add("no agent or mdadm process left", move || {
                let left = processes(&agent);
                if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
            });
        // udev's own mdadm runs (63-md-raid-arrays.rules) after a stop are brief.
        inv.grace = Duration::from_secs(5);
        inv
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for a in &self.arrays {
            let _ = Command::new("mdadm").args(["--stop", a]).stderr(Stdio::null()).status();
        }
        for d in &self.dms {
            let _ = Command::new("dmsetup").args(["remove", "--retry", d]).stderr(Stdio::null()).status();
        }
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).stderr(Stdio::null()).status();
        }
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn mdstat() -> String {
    std::fs::read_to_string("/proc/mdstat").unwrap_or_default()
}

/// `mdX: [members]` for every md array (active or inactive) holding one of `members`.
fn arrays_holding(members: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/block") else { return out };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("md") {
            continue;
        }
        let slaves: Vec<String> = std::fs::read_dir(e.path().join("slaves"))
            .map(|r| r.flatten().map(|s| s.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        if slaves.iter().any(|s| members.contains(s)) {
            out.push(format!("{name}: {slaves:?}"));
        }
    }
    out
}

/// Live processes running the agent's binary or mdadm (pid, command).
fn processes(agent: &Path) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) {
            continue;
        }
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default().trim().to_string();
        let exe = std::fs::read_link(e.path().join("exe")).ok();
        if comm == "mdadm" || exe.as_deref() == Some(agent) {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    out
}

/// A check's failure made from a message (for steps outside `matrix`).
fn failure(case: &str, detail: String) -> Failure {
    Failure { agent: "mdraid".into(), case: case.into(), detail }
}

/// The array's identity: its device number and members (a second start must not change it).
fn identity(k: &str) -> Result<String, String> {
    let dev = std::fs::read_to_string(format!("/sys/block/{k}/dev")).map_err(|e| format!("{k}: {e}"))?;
    let mut m: Vec<String> = std::fs::read_dir(format!("/sys/block/{k}/md"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dev-"))
        .collect();
    m.sort();
    Ok(format!("{} {}", dev.trim(), m.join(",")))
}

#[test]
fn mdraid_lifecycle_sigkill_during_start_and_stop_and_monitor_racing_stop() {
    let mut lab = Lab::new();
    let m = [lab.loopdev(), lab.loopdev()];
    lab.array_of("/dev/md40", "1", &m);
    let inv = lab.invariants();
    let a = lab.agent("/dev/md40");
    let r = Results::new();
    let id = |_: &AgentUnderTest| identity("md40");
    r.record("mdraid lifecycle (RAID 1)", matrix::lifecycle(&a, &inv, Some(&id)));
    let mut rng = Rng::from_env_or_clock("mdraid SIGKILL");
    let plan = KillPlan { runs: 4, budget: Duration::from_secs(90), min_runs: 3, span: None };
    r.record("mdraid SIGKILL during start", matrix::sigkill_during_start(&a, &inv, &plan, &mut rng));
    r.record("mdraid SIGKILL during stop", matrix::sigkill_during_stop(&a, &inv, &plan, &mut rng));
    r.record("mdraid monitor racing stop", matrix::monitor_races_stop(&a, &inv, 2, 1, &mut rng));
    r.finish();
}

/// A dead disk: every I/O to the leg fails from now on.
fn kill_leg(name: &str) -> Result<(), String> {
    sh(&["dmsetup", "wipe_table", name]).map(|_| ())
}

/// Waits (bounded) until md reports `member` faulty or gone from `k`.
fn wait_faulty(k: &str, member: &str) -> Result<(), String> {
    let state = format!("/sys/block/{k}/md/dev-{member}/state");
    let t = Instant::now();
    loop {
        match std::fs::read_to_string(&state) {
            Ok(s) if s.contains("faulty") => return Ok(()),
            Err(_) => return Ok(()),
            _ if t.elapsed() > Duration::from_secs(20) => {
                return Err(format!("md never failed {member}: {}", mdstat()));
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A write across every leg (a full stripe, O_DIRECT), so md meets the dead leg's errors.
fn write_stripe(dev: &str) {
    let _ = Command::new("timeout")
        .args(["30", "dd", "if=/dev/zero", &format!("of={dev}"), "bs=1M", "count=2", "oflag=direct"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Recurring monitors (OCF 1.0) in a loop while `f` runs; all outcomes.
fn monitored_while(
    a: &AgentUnderTest,
    f: impl FnOnce() -> Result<(), String>,
) -> (Result<(), String>, Vec<Outcome>) {
    let done = AtomicBool::new(false);
    let seen = Mutex::new(Vec::new());
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            loop {
                let last = done.load(Ordering::SeqCst);
                seen.lock().unwrap().push(a.monitor());
                if last {
                    break;
                }
            }
        });
        let r = f();
        // A few more monitors after the change settled.
        std::thread::sleep(Duration::from_millis(500));
        done.store(true, Ordering::SeqCst);
        r
    });
    (r, seen.into_inner().unwrap())
}

/// Every monitor racing a yank keeps the contract, answers 0 or 1 (with a reason) and none
/// hung (the harness's limit here is Pacemaker's default 20 s timeout).
fn check_racing(case: &str, seen: &[Outcome]) -> Result<String, Failure> {
    let mut counts = [0usize; 2];
    let mut slowest = Duration::ZERO;
    for o in seen {
        matrix::expect(o, &[0, 1], &format!("a monitor while {case}")).map_err(|e| failure(case, e))?;
        counts[(o.code == 1) as usize] += 1;
        slowest = slowest.max(o.duration);
    }
    Ok(format!(
        "{} monitors meanwhile: {} said 0, {} said 1; slowest {slowest:?}",
        seen.len(),
        counts[0],
        counts[1]
    ))
}

#[test]
fn mdraid_member_yanked_while_monitors_run() {
    let mut lab = Lab::new();
    let legs = [lab.dm_leg("rha-mdf-0"), lab.dm_leg("rha-mdf-1"), lab.dm_leg("rha-mdf-2")];
    lab.array_of("/dev/md41", "5", &legs);
    let inv = lab.invariants();
    let a = lab.agent("/dev/md41");
    let r = Results::new();
    let case = "member yanked while monitors run";
    let step = |o: Outcome, codes: &[i32], what: &str| {
        matrix::expect(&o, codes, what).map(|_| o).map_err(|e| failure(case, e))
    };
    let one = || -> Result<String, Failure> {
        step(a.start(), &[0], "start")?;
        step(a.monitor(), &[0], "monitor clean")?;
        let k0 = kname(&legs[0]);
        for l in &legs {
            let d = format!("/sys/block/md41/md/dev-{}", kname(l));
            if !Path::new(&d).exists() {
                return Err(failure(case, format!("{d} missing: the legs are not md41's members")));
            }
        }
        // Leg 0 dies, md meets its errors, then what udev runs when the disk disappears; the
        // device is removed and its loop detached.
        let (y, seen) = monitored_while(&a, || {
            kill_leg("rha-mdf-0")?;
            write_stripe("/dev/md41");
            wait_faulty("md41", &k0)?;
            sh(&["mdadm", "--incremental", "--fail", &k0])?;
            let t = Instant::now();
            while sh(&["dmsetup", "remove", "rha-mdf-0"]).is_err() {
                if t.elapsed() > Duration::from_secs(20) {
                    return Err(format!("rha-mdf-0 still open after md let it go: {}", mdstat()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            sh(&["losetup", "-d", &lab.loops[0]]).map(|_| ())
        });
        y.map_err(|e| failure(case, format!("yanking leg 0: {e}")))?;
        let first = check_racing("leg 0 was yanked", &seen)?;
        let m = step(a.monitor(), &[0], "monitor after leg 0 was yanked")?;
        if !(m.stderr.contains("WARNING") && m.stderr.contains("degraded")) {
            return Err(failure(case, format!("no degraded warning after leg 0 was yanked\n{m}")));
        }
        step(a.probe(), &[0], "probe after leg 0 was yanked")?;
        let m11 = a.run(
            "monitor",
            &[
                ("OCF_RESKEY_CRM_meta_interval", "10000"),
                ("OCF_RA_VERSION_MAJOR", "1"),
                ("OCF_RA_VERSION_MINOR", "1"),
            ],
        );
        if m11.code != 190 || !m11.why().contains("degraded") {
            return Err(failure(
                case,
                format!("OCF 1.1 monitor of the degraded array: expected 190 with a reason\n{m11}"),
            ));
        }
        // Leg 1 dies too: a RAID 5 cannot serve without two of three.
        let k1 = kname(&legs[1]);
        let (y, seen) = monitored_while(&a, || {
            kill_leg("rha-mdf-1")?;
            write_stripe("/dev/md41");
            wait_faulty("md41", &k1)
        });
        y.map_err(|e| failure(case, format!("yanking leg 1: {e}")))?;
        let second = check_racing("leg 1 was yanked", &seen)?;
        let m = step(a.monitor(), &[1], "monitor after two of three legs were yanked")?;
        if !m.why().contains("/dev/md41") {
            return Err(failure(case, format!("the reason does not name the array\n{m}")));
        }
        step(a.probe(), &[1], "probe of the failed array")?;
        step(a.stop(), &[0], "stop the failed array")?;
        inv.check().map_err(|e| failure(case, format!("after stop: {e}")))?;
        step(a.monitor(), &[7], "monitor after stop")?;
        Ok(format!("leg 0: {first}; leg 1: {second}; then {}", m.why()))
    };
    struct S(String);
    impl matrix::Summary for S {
        fn summary(&self) -> String {
            self.0.clone()
        }
    }
    r.record("mdraid RAID 5: a member yanked, then a second", one().map(S));
    r.finish();
}

/// `returns_before_timeout`, tried up to three times when it overran (a stall of the emulated
/// guest, which a busy host causes at any moment, is not the agent's); every other failure
/// counts at once.
fn in_time(a: &AgentUnderTest, action: &str, timeout: u64, codes: &[i32]) -> matrix::CheckResult<Outcome> {
    let mut attempt = 1;
    loop {
        match returns_before_timeout(a, action, &[], timeout, codes) {
            Err(e) if attempt < 3 && e.detail.contains("not before the timeout") => {
                eprintln!(
                    "note: {action} in {timeout} ms, attempt {attempt} overran (tried again): {}",
                    e.detail.lines().next().unwrap_or("")
                );
                let _ = a.stop();
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[test]
fn mdraid_deadlines() {
    let mut lab = Lab::new();
    let m = [lab.loopdev(), lab.loopdev()];
    lab.array_of("/dev/md42", "1", &m);
    let inv = lab.invariants();
    let a = lab.agent("/dev/md42");
    let r = Results::new();
    // TCG runs processes ~10x slower than the host: 3 s here is the host's 300 ms; every
    // action fits and must return before it.
    let mut attempt = 1;
    let d = loop {
        match matrix::deadlines(&a, &inv, 3000) {
            Err(e) if attempt < 3 && e.detail.contains("not before the timeout") => {
                eprintln!(
                    "note: deadlines, attempt {attempt} overran (tried again): {}",
                    e.detail.lines().next().unwrap_or("")
                );
                let _ = a.stop();
                attempt += 1;
            }
            other => break other,
        }
    };
    r.record("mdraid deadlines (3 s)", d);
    // A start given less than it needs. The floor is exec'ing the agent (a 12 MB debug binary
    // over the VM's 9p root) and parsing, measured by validate-all: it varies by a few hundred
    // ms from one run to the next under TCG, and the agent's own clock starts after exec, so
    // the timeout is the floor + 700 ms (as the IPVS deadline in vm_fault_matrix). A full start
    // (mdadm --assemble, udev, the device node) takes about 1.5 s here and does not fit: start
    // stops at its deadline and says so (or, on a fast guest, is done), before the timeout, and
    // the stop after it leaves nothing.
    // The least of three, so a stall while measuring does not widen the timeout.
    let floor = (0..3).map(|_| a.validate().duration.as_millis() as u64).min().unwrap_or(0);
    let s = in_time(&a, "start", floor + 700, &[0, 1]);
    r.record(&format!("mdraid start in {} ms (floor {floor} + 700)", floor + 700), s);
    let after = matrix::expect(&a.stop(), &[0], "stop").and_then(|_| inv.check());
    r.record("mdraid stop after the short start, nothing left", after.map_err(|e| failure("deadline", e)));
    r.finish();
}

#[test]
fn mdraid_hostile_values() {
    let mut lab = Lab::new();
    let m = [lab.loopdev(), lab.loopdev()];
    lab.array_of("/dev/md43", "1", &m);
    let inv = lab.invariants();
    let a = lab.agent("/dev/md43");
    let canary = PathBuf::from(format!("/tmp/rha-canary-mdraid-{}", std::process::id()));
    let all = matrix::hostile_values(&canary);
    let opts = HostileOptions { canary: canary.clone(), start_when_valid: true };
    let r = Results::new();
    // Every value on md_dev, what reaches mdadm's command line (each agent run costs a fifth
    // of a second under TCG, and host_mdraid already runs every value on every parameter);
    // a sample on the rest.
    let full: Vec<String> = ["md_dev"].map(String::from).to_vec();
    r.record(
        "mdraid hostile values (md_dev)",
        matrix::hostile_parameter_values(&a, &inv, &full, &all, &opts),
    );
    let keep = ["empty", "non-UTF-8", "$(...)", "newlines", "huge (128 KiB, the most exec passes)"];
    let sample: Vec<_> = all.into_iter().filter(|v| keep.contains(&v.label.as_str())).collect();
    let rest: Vec<String> = [
        "mdadm_conf",
        "homehost",
        "force_stop",
        "wait_for_udev",
        "force_clones",
        "raidconf",
        "raiddev",
        "udev",
    ]
    .map(String::from)
    .to_vec();
    r.record(
        "mdraid hostile values (sample, the other parameters)",
        matrix::hostile_parameter_values(&a, &inv, &rest, &sample, &opts),
    );
    r.finish();
}
