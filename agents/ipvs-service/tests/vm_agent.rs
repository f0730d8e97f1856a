//! VM tier: ocf:rha:ipvs-service against a real kernel's IPVS (Debian's stock kernel inside
//! the VM), with ipvsadm only as the oracle. Each test programs its own network namespace's
//! IPVS table (IPVS is per namespace), so tests never see each other's services.
//!
//! - ocf-tester passes;
//! - a probe on a node without ip_vs loaded is 7, and start loads the module;
//! - the lifecycle and faults behind the agent's back: service deleted → 7 and start repairs;
//!   scheduler, reals, forwarding, persistence changed → 1 naming the difference and start
//!   repairs; weights and thresholds changed outside the agent (a drained real, a health
//!   checker) → 0 with a warning naming them, 1 with strict_weights=true; another
//!   service survives our stop; a changed `virtual` removes the old service;
//! - the S3 NAT rules from ipvsadm-save text (with host and port names) through `rules_file`
//!   give the same `ipvsadm -S -n` listing as `ipvsadm -R`, and so does the `reals` form;
//! - SIGKILL at random points of a 1,000-real start: stop gives 0 and nothing of ours is left;
//! - monitor at level 10 (ip_forward for NAT, the VIP local, skipped for clones) and
//!   validate-all at level 10;
//! - sync daemon ownership: started → owned and stopped; pre-existing → used, left running;
//!   shared by two instances → handed over; conflicting → start fails with a reason.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::vmnet::{self, ipvsadm, save, sysctl};
use common::{Instance, agent_path, expect};
use rha_harness::netns::Netns;

const REALS: &str = "203.0.113.2:80 masq 3; 203.0.113.3:80 masq 3; 203.0.113.4:80 masq 1";

fn web(dir: &Path, ns: &Netns) -> Instance {
    Instance::new("web", dir)
        .netns(ns.name())
        .param("virtual", "198.51.100.10:80")
        .param("scheduler", "wrr")
        .param("reals", REALS)
}

const WEB_SAVE: &str = "-A -t 198.51.100.10:80 -s wrr\n\
                        -a -t 198.51.100.10:80 -r 203.0.113.2:80 -m -w 3\n\
                        -a -t 198.51.100.10:80 -r 203.0.113.3:80 -m -w 3\n\
                        -a -t 198.51.100.10:80 -r 203.0.113.4:80 -m -w 1\n";

const OTHER_SAVE: &str =
    "-A -t 198.51.100.99:443 -s rr\n-a -t 198.51.100.99:443 -r 203.0.113.50:443 -m -w 1\n";

fn add_other_service(ns: &Netns) {
    ipvsadm(ns, &["-A", "-t", "198.51.100.99:443", "-s", "rr"]);
    ipvsadm(ns, &["-a", "-t", "198.51.100.99:443", "-r", "203.0.113.50:443", "-m"]);
}

fn daemons(ns: &Netns) -> String {
    ipvsadm(ns, &["-L", "--daemon"])
}

#[test]
fn ocf_tester_passes() {
    vmnet::setup();
    assert!(Path::new("/usr/sbin/ocf-tester").exists(), "ocf-tester missing (resource-agents)");
    let ns = Netns::new("ocft").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("nat", vec!["virtual=198.51.100.10:80", "scheduler=wrr", &*format!("reals={REALS}")]),
        (
            "dr-sync",
            vec![
                "virtual=198.51.100.11:53",
                "protocol=udp",
                "scheduler=sh",
                "schedflags=sh-port",
                "ops=yes",
                "reals=203.0.113.5 gate 2; 203.0.113.6",
                "sync_daemon=both",
                "sync_interface=lo",
                "syncid=9",
            ],
        ),
        ("fwmark6", vec!["virtual=7 -6", "persistent=300", "netmask=64", "reals=[2001:db8::5]:80 masq"]),
    ] {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns.name(), "/usr/sbin/ocf-tester", "-v", "-n", name]);
        for o in &extra {
            c.args(["-o", o]);
        }
        let o = c.arg(agent_path()).env("RHA_RUN_DIR", dir.path()).stdin(Stdio::null()).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && out.contains("passed all tests"),
            "ocf-tester {name} failed:\n{out}\n{err}"
        );
        println!("ocf-tester {name}: passed all tests");
        assert_eq!(save(&ns), "", "{name} left services behind");
        assert_eq!(daemons(&ns), "", "{name} left a sync daemon behind");
    }
}

fn unload_ipvs() {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mods = std::fs::read_to_string("/proc/modules").unwrap();
        let mut ours: Vec<&str> = mods
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|m| m.starts_with("ip_vs"))
            .collect();
        if ours.is_empty() {
            return;
        }
        // Schedulers and engines first, ip_vs last.
        ours.sort_by_key(|m| *m == "ip_vs");
        let o = Command::new("modprobe").arg("-r").args(&ours).output().unwrap();
        if o.status.success() && !Path::new("/sys/module/ip_vs").exists() {
            return;
        }
        // Namespaces of earlier tests are freed asynchronously; their IPVS holds the module.
        assert!(Instant::now() < deadline, "cannot unload ip_vs: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn probe_without_ip_vs_loaded_is_not_running_and_start_loads_it() {
    vmnet::setup();
    let ns = Netns::new("noipvs").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = web(dir.path(), &ns);
    unload_ipvs();
    assert!(!Path::new("/proc/net/ip_vs").exists());
    expect(&i.probe(), 7, "probe without ip_vs");
    expect(&i.run("monitor"), 7, "probe without an interval");
    let m = i.monitor();
    expect(&m, 7, "recurring monitor without ip_vs");
    assert!(m.why().contains("IPVS is not loaded"), "{m}");
    expect(
        &i.run_with("validate-all", &[("OCF_CHECK_LEVEL", "10")]),
        0,
        "validate-all 10: ip_vs is loadable",
    );
    expect(&i.stop(), 0, "stop without ip_vs");
    assert!(!Path::new("/sys/module/ip_vs").exists(), "probe, monitor and stop must not load ip_vs");
    let s = i.start();
    expect(&s, 0, "start loads ip_vs");
    assert!(s.stderr.contains("loaded the ip_vs kernel module"), "{s}");
    assert!(Path::new("/sys/module/ip_vs").exists());
    expect(&i.monitor(), 0, "monitor");
    assert_eq!(save(&ns), WEB_SAVE);
    expect(&i.stop(), 0, "stop");
    // Put back what the other tests expect.
    for m in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_sh"] {
        rha_harness::cmd::run_ok(&["modprobe", m]).unwrap();
    }
}

#[test]
fn lifecycle_and_faults_behind_the_agents_back() {
    vmnet::setup();
    let ns = Netns::new("life").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = web(dir.path(), &ns);
    add_other_service(&ns);
    expect(&i.probe(), 7, "probe");
    expect(&i.monitor(), 7, "monitor before start");
    expect(&i.start(), 0, "start");
    assert_eq!(save(&ns), format!("{WEB_SAVE}{OTHER_SAVE}"));
    expect(&i.probe(), 0, "probe of the running service");
    expect(&i.monitor(), 0, "monitor");
    let again = i.start();
    expect(&again, 0, "start of a running service");
    assert!(!again.stderr.contains("change(s)"), "a matching service needs no change: {again}");
    assert!(i.record().unwrap().contains("service -t 198.51.100.10:80"));

    // Deleted behind our back: not running, and start repairs.
    ipvsadm(&ns, &["-D", "-t", "198.51.100.10:80"]);
    let m = i.monitor();
    expect(&m, 7, "service deleted");
    assert!(m.why().contains("TCP 198.51.100.10:80 is not in the kernel"), "{m}");
    expect(&i.start(), 0, "start repairs");
    expect(&i.monitor(), 0, "monitor after repair");

    // Each kind of drift: failure naming it, and start repairs.
    let drifts: &[(&[&str], &str)] = &[
        (&["-E", "-t", "198.51.100.10:80", "-s", "rr"], "scheduler wrr, kernel has rr"),
        (
            &["-d", "-t", "198.51.100.10:80", "-r", "203.0.113.4:80"],
            "real 203.0.113.4:80 (Masq weight 1) is not in the kernel",
        ),
        (
            &["-a", "-t", "198.51.100.10:80", "-r", "203.0.113.9:80", "-m"],
            "real 203.0.113.9:80 (Masq weight 1) is in the kernel but not configured",
        ),
        (
            &["-e", "-t", "198.51.100.10:80", "-r", "203.0.113.2:80", "-g", "-w", "3"],
            "real 203.0.113.2:80 forwarding Masq, kernel has Route",
        ),
        (
            &["-E", "-t", "198.51.100.10:80", "-s", "wrr", "-p", "60"],
            "not persistent, kernel has persistent 60",
        ),
    ];
    for (args, words) in drifts {
        ipvsadm(&ns, args);
        let m = i.monitor();
        expect(&m, 1, &format!("after ipvsadm {args:?}"));
        assert!(m.why().contains(words), "after ipvsadm {args:?} the reason lacks {words:?}: {m}");
        let p = i.probe();
        expect(&p, 1, "a probe of a drifted service is a failure too");
        expect(&i.start(), 0, "start repairs");
        expect(&i.monitor(), 0, "monitor after repair");
        assert_eq!(save(&ns), format!("{WEB_SAVE}{OTHER_SAVE}"), "after repairing {args:?}");
    }

    // Weights and thresholds changed outside the agent (crm-examples/s4's drain advice, or
    // ldirectord managing weights): left alone with a warning, unless strict_weights.
    let strict = i.clone().param("strict_weights", "true");
    let tunings: &[(&[&str], &str)] = &[
        (
            &["-e", "-t", "198.51.100.10:80", "-r", "203.0.113.3:80", "-m", "-w", "0"],
            "real 203.0.113.3:80 weight 3, kernel has 0",
        ),
        (
            &["-e", "-t", "198.51.100.10:80", "-r", "203.0.113.2:80", "-m", "-w", "3", "-x", "50"],
            "real 203.0.113.2:80 upper threshold 0, kernel has 50",
        ),
    ];
    for (args, words) in tunings {
        ipvsadm(&ns, args);
        let drained = save(&ns);
        let m = i.monitor();
        expect(&m, 0, &format!("after ipvsadm {args:?} (weights are the administrator's)"));
        assert!(m.stderr.contains("WARNING") && m.stderr.contains(words), "warning lacks {words:?}: {m}");
        expect(&i.probe(), 0, "probe of a drained service");
        assert_eq!(save(&ns), drained, "monitor changed nothing");
        let m = strict.monitor();
        expect(&m, 1, &format!("strict_weights after ipvsadm {args:?}"));
        assert!(m.why().contains(words), "{m}");
        expect(&strict.start(), 0, "start restores the configured weights");
        assert_eq!(save(&ns), format!("{WEB_SAVE}{OTHER_SAVE}"), "after restoring {args:?}");
    }

    // Another service survives our stop, untouched.
    expect(&i.stop(), 0, "stop");
    assert_eq!(save(&ns), OTHER_SAVE);
    assert!(i.record().is_none(), "record removed");
    expect(&i.monitor(), 7, "monitor after stop");
    expect(&i.stop(), 0, "stop again");

    // A changed virtual service: start removes the one this instance programmed before.
    expect(&i.start(), 0, "start");
    let moved = i.clone().param("virtual", "198.51.100.11:80");
    expect(&moved.start(), 0, "start with another virtual");
    assert_eq!(
        save(&ns),
        format!("{}{OTHER_SAVE}", WEB_SAVE.replace("198.51.100.10:80", "198.51.100.11:80"))
    );
    // And stop with the old parameters still removes the new one (it is recorded).
    expect(&i.stop(), 0, "stop with the old parameters");
    assert_eq!(save(&ns), OTHER_SAVE);
}

/// As pacemaker-execd or pcs may run it (issue 10): PATH unset and nothing but OCF variables;
/// whatever the agent needs (modprobe for ip_vs included) it finds by absolute path.
#[test]
fn a_lifecycle_with_path_unset_and_nothing_but_ocf_variables() {
    vmnet::setup();
    let ns = Netns::new("nopath").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = web(dir.path(), &ns).env("PATH", "");
    expect(&i.probe(), 7, "probe with PATH unset");
    expect(&i.start(), 0, "start with PATH unset");
    assert_eq!(save(&ns), WEB_SAVE);
    expect(&i.monitor(), 0, "monitor with PATH unset");
    expect(&i.stop(), 0, "stop with PATH unset");
    assert_eq!(save(&ns), "", "nothing left after stop");
}

#[test]
fn ipv6_fwmark_and_persistent_services() {
    vmnet::setup();
    let ns = Netns::new("svc6").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Instance, &str)> = vec![
        (
            Instance::new("v6", dir.path())
                .param("virtual", "[2001:db8::10]:443")
                .param("scheduler", "lc")
                .param("reals", "[2001:db8::2]:8443 masq 5; 2001:db8::3 gate; 203.0.113.7 ipip 2"),
            "-A -t [2001:db8::10]:443 -s lc\n\
             -a -t [2001:db8::10]:443 -r 203.0.113.7:443 -i -w 2 --tun-type ipip\n\
             -a -t [2001:db8::10]:443 -r [2001:db8::2]:8443 -m -w 5\n\
             -a -t [2001:db8::10]:443 -r [2001:db8::3]:443 -g -w 1\n",
        ),
        (
            Instance::new("mark", dir.path())
                .param("virtual", "5")
                .param("scheduler", "sh")
                .param("schedflags", "sh-fallback")
                .param("persistent", "600")
                .param("netmask", "255.255.255.0")
                .param("reals", "203.0.113.2 gate x=100 y=10; 203.0.113.3:8080 masq 0"),
            "-A -f 5 -s sh -p 600 -M 255.255.255.0 -b sh-fallback\n\
             -a -f 5 -r 203.0.113.2:0 -g -w 1\n\
             -a -f 5 -r 203.0.113.3:8080 -m -w 0\n",
        ),
        (
            Instance::new("dns", dir.path())
                .param("virtual", "198.51.100.10:domain")
                .param("protocol", "udp")
                .param("scheduler", "rr")
                .param("ops", "true")
                .param("reals", "203.0.113.2:domain masq; 203.0.113.3:53 masq"),
            "-A -u 198.51.100.10:53 -s rr -o\n\
             -a -u 198.51.100.10:53 -r 203.0.113.2:53 -m -w 1\n\
             -a -u 198.51.100.10:53 -r 203.0.113.3:53 -m -w 1\n",
        ),
    ];
    for (i, want) in &cases {
        let i = i.clone().netns(ns.name());
        expect(&i.start(), 0, &i.name);
        expect(&i.monitor(), 0, &i.name);
        let sorted = |t: &str| {
            let mut v: Vec<String> = t.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(&save(&ns)), sorted(want), "{}", i.name);
        expect(&i.stop(), 0, &i.name);
        assert_eq!(save(&ns), "");
    }
    // Thresholds are not in ipvsadm-save: check them with --thresholds.
    let i = cases[1].0.clone().netns(ns.name());
    expect(&i.start(), 0, "start");
    let thr = ipvsadm(&ns, &["-L", "-n", "--thresholds"]);
    assert!(
        thr.lines().any(|l| l.contains("203.0.113.2:0") && l.contains("100") && l.contains("10")),
        "{thr}"
    );
    expect(&i.stop(), 0, "stop");
}

/// S3's NAT rules as ipvsadm-save text with host and port names: restoring them through
/// `rules_file` gives exactly the listing `ipvsadm -R` gives (ipvsadm only as the oracle).
#[test]
fn rules_file_restores_the_s3_nat_rules_like_ipvsadm() {
    vmnet::setup();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("s3-nat.rules");
    std::fs::write(
        &rules,
        "-A -t 198.51.100.252:http -s wrr\n\
         -a -t 198.51.100.252:http -r 198.51.100.252:http -m -w 3\n\
         -a -t 198.51.100.252:http -r compute-0-0.local:http -m -w 3\n\
         -a -t 198.51.100.252:http -r compute-0-7.local:http -m -w 1\n",
    )
    .unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n203.0.113.254 compute-0-0.local\n203.0.113.247 compute-0-7.local\n",
    )
    .unwrap();

    // The oracle: ipvsadm -R in its own namespace, with the same /etc/hosts.
    let oracle = Netns::new("s3ora").unwrap();
    let o = oracle
        .cmd(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &format!("mount --bind {} /etc/hosts && exec ipvsadm -R < {}", hosts.display(), rules.display()),
        ])
        .run_ok()
        .unwrap();
    assert!(o.success());
    let theirs = save(&oracle);
    println!("ipvsadm -R gives:\n{theirs}");
    assert_eq!(theirs.lines().count(), 4, "{theirs}");

    let ns = Netns::new("s3rf").unwrap();
    let i = Instance::new("s3", dir.path())
        .netns(ns.name())
        .hosts(&hosts)
        .param("rules_file", rules.to_str().unwrap());
    expect(&i.run("validate-all"), 0, "validate-all");
    expect(&i.start(), 0, "start from the rules file");
    assert_eq!(save(&ns), theirs, "rules_file and ipvsadm -R differ");
    expect(&i.monitor(), 0, "monitor against the rules file");
    // The same service through the reals parameter.
    let ns2 = Netns::new("s3re").unwrap();
    let r = Instance::new("s3r", dir.path())
        .netns(ns2.name())
        .hosts(&hosts)
        .param("virtual", "198.51.100.252:http")
        .param("scheduler", "wrr")
        .param(
            "reals",
            "198.51.100.252:http masq 3; compute-0-0.local:http -m -w 3; compute-0-7.local:http -m -w 1",
        );
    expect(&r.start(), 0, "start from reals");
    assert_eq!(save(&ns2), theirs, "reals and ipvsadm -R differ");
    // Our own listing of a table read back is ipvsadm's too: rules_file of ipvsadm -S output.
    let saved = dir.path().join("saved.rules");
    std::fs::write(&saved, &theirs).unwrap();
    let ns3 = Netns::new("s3sv").unwrap();
    let s = Instance::new("s3s", dir.path()).netns(ns3.name()).param("rules_file", saved.to_str().unwrap());
    expect(&s.start(), 0, "start from ipvsadm -S output");
    assert_eq!(save(&ns3), theirs);
    for x in [&i, &r, &s] {
        expect(&x.stop(), 0, "stop");
    }
    assert_eq!(save(&ns) + &save(&ns2) + &save(&ns3), "");
}

/// SIGKILL at spread-out moments of a 1,000-real start (with a sync daemon): stop then
/// gives 0 and leaves nothing of ours: no service, no daemon, no record.
#[test]
fn sigkill_during_start_leaves_nothing_after_stop() {
    vmnet::setup();
    let ns = Netns::new("kill").unwrap();
    let dir = tempfile::tempdir().unwrap();
    add_other_service(&ns);
    let reals: Vec<String> = (0..1000u32)
        .map(|n| format!("10.{}.{}.{} masq {}", 20 + n / 62500, (n / 250) % 250, n % 250 + 1, n % 7))
        .collect();
    let i = Instance::new("big", dir.path())
        .netns(ns.name())
        .param("virtual", "198.51.100.20:80")
        .param("scheduler", "wrr")
        .param("reals", reals.join("; "))
        .param("sync_daemon", "master")
        .param("sync_interface", "lo")
        .param("syncid", "3");
    // How long a whole start takes here, to spread the kills over it.
    let full = i.start();
    expect(&full, 0, "start");
    expect(&i.stop(), 0, "stop");
    let span = full.elapsed.as_millis().max(20) as u64;
    println!("a full start of 1000 reals takes {:?}", full.elapsed);
    // Bisect the kill time between "nothing programmed yet" and "service complete", so the
    // kills close in on the moment the kernel is being changed.
    let (mut lo, mut hi) = (0u64, span);
    let mut killed_mid_way = 0;
    let mut seen = std::collections::BTreeMap::new();
    for run in 0..12u64 {
        let delay_ms = if run < 2 { span * run / 2 } else { (lo + hi) / 2 };
        let delay = Duration::from_millis(delay_ms);
        let mut child = i.command("start", &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if !finished {
            killed_mid_way += 1;
        }
        let listing = save(&ns);
        let ours = listing.lines().filter(|l| l.contains("198.51.100.20:80")).count();
        let state = match (ours, i.record().is_some(), daemons(&ns).is_empty()) {
            (0, false, _) => "nothing yet",
            (0, true, _) => "record only",
            (1001, _, true) => "service complete, no daemon yet",
            (1001, _, false) => "service and daemon",
            _ => "partial service",
        };
        *seen.entry(state).or_insert(0) += 1;
        if ours == 0 {
            lo = delay_ms;
        } else {
            hi = delay_ms;
        }
        let stop = i.stop();
        expect(&stop, 0, &format!("stop after SIGKILL at {delay:?} ({state})"));
        assert_eq!(save(&ns), OTHER_SAVE, "run {run}: something of ours is left after stop");
        assert_eq!(daemons(&ns), "", "run {run}: the sync daemon is left after stop");
        assert!(i.record().is_none(), "run {run}: record left");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("ipvs-service"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("big"))
            .collect();
        assert!(leftovers.is_empty(), "run {run}: files left: {leftovers:?}");
        expect(&i.monitor(), 7, "monitor after stop");
    }
    let partial = seen.get("partial service").copied().unwrap_or(0);
    println!("states the kills left: {seen:?}");
    println!(
        "12 runs: {killed_mid_way} killed before start finished, {partial} left a partial service for stop"
    );
    assert!(killed_mid_way >= 3, "the kills did not hit running starts (full start {:?})", full.elapsed);
}

#[test]
fn monitor_level_10_checks_forwarding_and_the_vip() {
    vmnet::setup();
    let ns = Netns::new("lvl10").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = web(dir.path(), &ns);
    sysctl(&ns, "net.ipv4.ip_forward=0");
    let s = i.start();
    expect(&s, 0, "start (NAT without ip_forward only warns)");
    assert!(s.stderr.contains("WARNING:") && s.stderr.contains("ip_forward is 0"), "{s}");
    expect(&i.monitor(), 0, "level 0 does not look at the node");
    let m = i.monitor10();
    expect(&m, 1, "level 10 without ip_forward");
    assert!(m.why().contains("net.ipv4.ip_forward is 0"), "{m}");
    sysctl(&ns, "net.ipv4.ip_forward=1");
    let m = i.monitor10();
    expect(&m, 1, "level 10 without the VIP");
    assert!(m.why().contains("198.51.100.10 is not local"), "{m}");
    // A clone's standby director does not hold the VIP: not checked there.
    let clone = [
        ("OCF_RESKEY_CRM_meta_interval", "60000"),
        ("OCF_CHECK_LEVEL", "10"),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
    ];
    expect(&i.run_with("monitor", &clone), 0, "clone at level 10");
    ns.add_addr("lo", "198.51.100.10/32").unwrap();
    expect(&i.monitor10(), 0, "level 10 with ip_forward and the VIP");
    let v = i.run_with("validate-all", &[("OCF_CHECK_LEVEL", "10")]);
    expect(&v, 0, "validate-all 10");
    let bad = i.clone().param("sync_daemon", "master").param("sync_interface", "nosuch0");
    let v = bad.run_with("validate-all", &[("OCF_CHECK_LEVEL", "10")]);
    // Node-local: 5 (issue #10 item 9), so only this node is banned.
    expect(&v, 5, "validate-all 10 with a missing sync interface");
    assert!(v.why().contains("nosuch0 does not exist"), "{v}");
    let s = bad.clone().param("virtual", "198.51.100.12:80").start();
    expect(&s, 5, "start with a missing sync interface");
    expect(&bad.clone().param("virtual", "198.51.100.12:80").stop(), 0, "stop");
    expect(&i.stop(), 0, "stop");
    assert_eq!(save(&ns), "");
    assert_eq!(daemons(&ns), "");
}

#[test]
fn sync_daemon_is_stopped_only_by_its_owner() {
    vmnet::setup();
    let ns = Netns::new("syncown").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let with_sync = |name: &str, vip: &str, role: &str, id: &str| {
        Instance::new(name, dir.path())
            .netns(ns.name())
            .param("virtual", vip)
            .param("reals", "203.0.113.2 masq")
            .param("sync_daemon", role)
            .param("sync_interface", "lo")
            .param("syncid", id)
    };
    let a = with_sync("a", "198.51.100.10:80", "master", "5");
    let b = with_sync("b", "198.51.100.11:80", "master", "5");
    expect(&a.start(), 0, "a starts the daemon");
    assert!(daemons(&ns).contains("master sync daemon (mcast=lo, syncid=5"), "{}", daemons(&ns));
    assert!(a.record().unwrap().contains("owns master lo 5"));
    expect(&b.start(), 0, "b uses it");
    assert!(!b.record().unwrap().contains("owns master"), "b did not start it: {:?}", b.record());
    expect(&a.stop(), 0, "a stops");
    assert!(daemons(&ns).contains("master sync daemon"), "b still wants it: {}", daemons(&ns));
    assert!(b.record().unwrap().contains("owns master lo 5"), "handed over to b: {:?}", b.record());
    expect(&b.monitor(), 0, "b");
    expect(&b.stop(), 0, "b stops");
    assert_eq!(daemons(&ns), "", "the last user stopped it");

    // A daemon someone else started: used, and left running.
    ipvsadm(&ns, &["--start-daemon", "master", "--mcast-interface", "lo", "--syncid", "5"]);
    expect(&a.start(), 0, "a with a foreign daemon");
    expect(&a.stop(), 0, "a stops");
    assert!(daemons(&ns).contains("master sync daemon (mcast=lo, syncid=5"), "foreign daemon stopped");
    // One with other settings: start fails and names it.
    let c = with_sync("c", "198.51.100.12:80", "master", "6");
    let s = c.start();
    expect(&s, 1, "a conflicting foreign daemon");
    assert!(
        s.why().contains("master sync daemon (mcast=lo, syncid=5) that this resource did not start"),
        "{s}"
    );
    expect(&c.stop(), 0, "stop after the failed start");
    assert!(daemons(&ns).contains("syncid=5"), "not ours, not stopped");
    ipvsadm(&ns, &["--stop-daemon", "master"]);

    // Killed behind our back: monitor fails, start repairs.
    expect(&a.start(), 0, "a");
    ipvsadm(&ns, &["--stop-daemon", "master"]);
    let m = a.monitor();
    expect(&m, 1, "daemon gone");
    assert!(m.why().contains("master sync daemon (mcast=lo, syncid=5) is not running"), "{m}");
    expect(&a.start(), 0, "start repairs");
    expect(&a.monitor(), 0, "monitor");
    expect(&a.stop(), 0, "stop");
    assert_eq!(daemons(&ns), "");

    // both: master and backup.
    let d = with_sync("d", "198.51.100.13:80", "both", "8");
    expect(&d.start(), 0, "both");
    let l = daemons(&ns);
    assert!(
        l.contains("master sync daemon (mcast=lo, syncid=8")
            && l.contains("backup sync daemon (mcast=lo, syncid=8"),
        "{l}"
    );
    expect(&d.monitor(), 0, "both");
    expect(&d.stop(), 0, "stop both");
    assert_eq!(daemons(&ns), "");
    assert_eq!(save(&ns), "");
}
