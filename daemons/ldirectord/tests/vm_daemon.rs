//! VM tier: the rha-ldirectord daemon against a real kernel's IPVS, in-process (the config
//! parser is another engineer's and not merged yet, so the Config is built in code and reload
//! goes through `daemon::Command::Reload`), with ipvsadm as the oracle.
//!
//! A director namespace (VIP on a dummy, the daemon's thread inside it) and a real-server
//! namespace reached over a veth, with `python3 -m http.server` on each real address:
//! - reals appear only after their first check passes; a real without a server never does;
//! - a stopped server's real leaves within interval + timeout, and comes back when restarted;
//! - all reals down → the fallback; one back → the fallback goes;
//! - a weight changed behind the daemon's back is repaired;
//! - a reload adds a virtual and removes a real; a virtual it does not own is never touched;
//! - stop leaves nothing of ours in IPVS;
//! - emailalert (SMTP), monitorfile and the Prometheus file follow a failing real.

#![cfg(feature = "vm-tier")]

mod common;
#[path = "../../../agents/ipvs-service/tests/common/vmnet.rs"]
mod vmnet;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http_server;
use rha_check::{CheckSpec, Service as CheckService, Target};
use rha_harness::netns::Netns;
use rha_ipvs::{Dest, Forward, Service, ServiceKey};
use rha_ldirectord::daemon::{Command, Daemon, Options, Paths};
use rha_ldirectord::model::{AlertStates, Config, Globals, Real, SourceLine, Virtual};
use vmnet::{enter_netns, ipvsadm, save};

fn real(addr: &str, weight: u32, check: &CheckSpec) -> Real {
    let a: SocketAddr = addr.parse().unwrap();
    Real {
        dest: Dest::new(a.ip(), a.port()).with_forward(Forward::Masq).with_weight(weight),
        check: check.clone(),
        target: Target::new(a),
        line: SourceLine::default(),
    }
}

fn virt(vip: &str, reals: &[(&str, u32)]) -> Virtual {
    let a: SocketAddr = vip.parse().unwrap();
    let mut check = CheckSpec::new(CheckService::Http);
    check.check_timeout = Duration::from_secs(3);
    check.negotiate_timeout = Duration::from_secs(3);
    Virtual {
        service: Service::new(ServiceKey::tcp(a.ip(), a.port())).with_scheduler("wrr"),
        reals: reals.iter().map(|(r, w)| real(r, *w, &check)).collect(),
        fallback: Some(Dest::new("203.0.113.9".parse().unwrap(), 80).with_forward(Forward::Masq)),
        fallback_command: None,
        check,
        check_interval: Duration::from_secs(1),
        check_count: 1,
        failure_count: 1,
        quiescent: false,
        cleanstop: true,
        emailalert: Vec::new(),
        emailalert_freq: Duration::ZERO,
        emailalert_status: AlertStates::ALL,
        smtp: None,
        servicename: None,
        comment: None,
        monitorfile: None,
        line: SourceLine::default(),
    }
}

/// The `-a` lines of one service in `ipvsadm -S -n`, as "REAL WEIGHT".
fn reals_of(ns: &Netns, vip: &str) -> Vec<String> {
    let want = format!("-a -t {vip} -r ");
    save(ns)
        .lines()
        .filter_map(|l| l.strip_prefix(&want))
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            format!("{} {}", f[0], f.last().unwrap())
        })
        .collect::<Vec<_>>()
}

fn wait_reals(ns: &Netns, vip: &str, want: &[&str], limit: Duration, what: &str) {
    let start = Instant::now();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    loop {
        let mut got = reals_of(ns, vip);
        got.sort();
        if got == want {
            eprintln!("{what}: {got:?} after {:.1} s", start.elapsed().as_secs_f64());
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: want {want:?}, IPVS has {got:?} after {limit:?}\n{}",
            save(ns)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn daemon_follows_checks_reload_and_stop_in_ipvs() {
    vmnet::setup();
    let dir_ns = Netns::new("ldd").unwrap();
    let web = Netns::new("ldw").unwrap();
    dir_ns.ip(&["link", "add", "vip0", "type", "dummy"]).unwrap();
    dir_ns.link_up("vip0").unwrap();
    dir_ns.add_addr("vip0", "198.51.100.10/32").unwrap();
    dir_ns.add_addr("vip0", "198.51.100.11/32").unwrap();
    dir_ns.add_veth("eth0", &web, "eth0").unwrap();
    dir_ns.link_up("eth0").unwrap();
    web.link_up("eth0").unwrap();
    dir_ns.add_addr("eth0", "203.0.113.1/24").unwrap();
    for ip in ["203.0.113.2/24", "203.0.113.3/24", "203.0.113.4/24"] {
        web.add_addr("eth0", ip).unwrap();
    }
    web.link_up("lo").unwrap();
    let mut s2 = http_server(&web, "203.0.113.2");
    let mut s3 = http_server(&web, "203.0.113.3");
    for a in ["203.0.113.2:80", "203.0.113.3:80"] {
        vmnet::wait_reachable(dir_ns.name(), a.parse().unwrap(), Duration::from_secs(60));
    }
    // A virtual this daemon does not own.
    ipvsadm(&dir_ns, &["-A", "-t", "198.51.100.99:443", "-s", "rr"]);
    ipvsadm(&dir_ns, &["-a", "-t", "198.51.100.99:443", "-r", "203.0.113.50:443", "-m", "-w", "4"]);
    let other_before = reals_of(&dir_ns, "198.51.100.99:443");

    const VIP: &str = "198.51.100.10:80";
    let cfg = Config {
        path: "/nonexistent/ldirectord.cf".into(),
        globals: Globals::default(),
        virtuals: vec![virt(VIP, &[("203.0.113.2:80", 3), ("203.0.113.3:80", 2), ("203.0.113.4:80", 1)])],
        warnings: Vec::new(),
    };
    let run_dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(Paths { run_dir: run_dir.path().to_path_buf(), name: "t".into() });
    opts.signals = false;
    opts.drain = Duration::from_secs(3);
    opts.repair_every = Duration::from_secs(2);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel::<Command>(4);
    let ns_name = dir_ns.name().to_string();
    let cfg2 = cfg.clone();
    let daemon = std::thread::spawn(move || {
        enter_netns(&ns_name).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let tx = ready_tx.clone();
            let d = Daemon::start(cfg2, opts, Some(Box::new(move |r| tx.send(r).unwrap())))?;
            d.run(cmd_rx).await
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(120)).expect("first round").expect("first round ok");
    // After the first round: both served reals at their weight, the unserved one never.
    assert_eq!(
        {
            let mut r = reals_of(&dir_ns, VIP);
            r.sort();
            r
        },
        vec!["203.0.113.2:80 3", "203.0.113.3:80 2"],
        "{}",
        save(&dir_ns)
    );
    let status = rha_ldirectord::daemon::status::Status::read(&run_dir.path().join("t.status")).unwrap();
    assert!(status.first_round_done);
    let limit = Duration::from_secs(60); // interval 1 s + timeout 3 s, generously for TCG

    s3.kill().unwrap();
    s3.wait().unwrap();
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3"], limit, "real .3 stopped");
    s3 = http_server(&web, "203.0.113.3");
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3", "203.0.113.3:80 2"], limit, "real .3 back");

    s2.kill().unwrap();
    s3.kill().unwrap();
    s2.wait().unwrap();
    s3.wait().unwrap();
    wait_reals(&dir_ns, VIP, &["203.0.113.9:80 1"], limit, "all down: fallback");
    s2 = http_server(&web, "203.0.113.2");
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3"], limit, "one back: no fallback");

    // Changed behind its back: repaired.
    ipvsadm(&dir_ns, &["-e", "-t", VIP, "-r", "203.0.113.2:80", "-m", "-w", "9"]);
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3"], limit, "weight repaired");

    // Reload: .2 removed from the first virtual (drained at weight 0, then deleted), a second
    // virtual added with .2 (it starts down and comes in after its check).
    let mut cfg_b = cfg.clone();
    cfg_b.virtuals[0].reals.retain(|r| r.dest.port == 80 && r.dest.addr.to_string() != "203.0.113.2");
    cfg_b.virtuals.push(virt("198.51.100.11:80", &[("203.0.113.2:80", 5)]));
    let (rtx, rrx) = tokio::sync::oneshot::channel();
    cmd_tx.blocking_send(Command::Reload(Box::new(cfg_b), rtx)).unwrap();
    rrx.blocking_recv().unwrap().expect("reload applied");
    wait_reals(&dir_ns, "198.51.100.11:80", &["203.0.113.2:80 5"], limit, "added virtual");
    wait_reals(&dir_ns, VIP, &["203.0.113.9:80 1"], limit, "removed real drained and deleted");
    assert_eq!(reals_of(&dir_ns, "198.51.100.99:443"), other_before, "unowned virtual touched");

    // Stop: nothing of ours left, the other virtual intact.
    cmd_tx.blocking_send(Command::Stop).unwrap();
    daemon.join().unwrap().expect("clean stop");
    let table = save(&dir_ns);
    assert!(!table.contains("198.51.100.10") && !table.contains("198.51.100.11"), "{table}");
    assert_eq!(reals_of(&dir_ns, "198.51.100.99:443"), other_before, "{table}");
    let _ = s2.kill();
    let _ = s2.wait();
}

/// An SMTP relay written in the test (the relay is not what we manage; our client is), in the
/// director's namespace: every message's Subject line, in arrival order.
fn smtp_sink(ns: &str, addr: &str) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use std::io::{BufRead, BufReader, Write};
    let subjects = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = subjects.clone();
    let (ns, addr) = (ns.to_string(), addr.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        enter_netns(&ns).unwrap();
        let l = std::net::TcpListener::bind(&addr).unwrap();
        tx.send(()).unwrap();
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 sink\r\n");
            let mut in_data = false;
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        let _ = w.write_all(b"250 ok\r\n");
                    } else if let Some(sub) = line.strip_prefix("Subject: ") {
                        out.lock().unwrap().push(sub.trim_end().to_string());
                    }
                } else if line.starts_with("DATA") {
                    in_data = true;
                    let _ = w.write_all(b"354 go\r\n");
                } else if line.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    let _ = w.write_all(b"250 ok\r\n");
                }
                line.clear();
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("smtp sink listening");
    subjects
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{what}: after {:.1} s", start.elapsed().as_secs_f64());
}

/// emailalert over SMTP (never for a real that was never up; down, reminder every
/// emailalertfreq, restored), monitorfile lines in upstream's format and the Prometheus file,
/// all from a real server that fails and recovers behind real IPVS.
#[test]
fn alerts_monitorfile_and_metrics_follow_a_failing_real() {
    vmnet::setup();
    let dir_ns = Netns::new("lda").unwrap();
    let web = Netns::new("ldaw").unwrap();
    dir_ns.ip(&["link", "add", "vip0", "type", "dummy"]).unwrap();
    dir_ns.link_up("vip0").unwrap();
    dir_ns.link_up("lo").unwrap();
    dir_ns.add_addr("vip0", "198.51.100.10/32").unwrap();
    dir_ns.add_veth("eth0", &web, "eth0").unwrap();
    dir_ns.link_up("eth0").unwrap();
    web.link_up("eth0").unwrap();
    web.link_up("lo").unwrap();
    dir_ns.add_addr("eth0", "203.0.113.1/24").unwrap();
    web.add_addr("eth0", "203.0.113.2/24").unwrap();
    web.add_addr("eth0", "203.0.113.4/24").unwrap();
    let mut s2 = http_server(&web, "203.0.113.2");
    vmnet::wait_reachable(dir_ns.name(), "203.0.113.2:80".parse().unwrap(), Duration::from_secs(60));
    let subjects = smtp_sink(dir_ns.name(), "127.0.0.1:2525");

    let files = tempfile::tempdir().unwrap();
    let monitor = files.path().join("monitor.log");
    let prom = files.path().join("ldirectord.prom");
    const VIP: &str = "198.51.100.10:80";
    // .4 has no server: it never comes up, and must never make a mail.
    let mut v = virt(VIP, &[("203.0.113.2:80", 3), ("203.0.113.4:80", 1)]);
    v.fallback = None;
    v.emailalert = vec!["ops@example.org".into()];
    v.emailalert_freq = Duration::from_secs(3);
    v.smtp = Some("127.0.0.1:2525".into());
    v.servicename = Some("web".into());
    v.monitorfile = Some(monitor.clone());
    let cfg = Config {
        path: "/nonexistent/ldirectord.cf".into(),
        globals: Globals::default(),
        virtuals: vec![v],
        warnings: Vec::new(),
    };
    let run_dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(Paths { run_dir: run_dir.path().to_path_buf(), name: "a".into() });
    opts.signals = false;
    opts.metrics_file = Some(prom.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel::<Command>(4);
    let ns_name = dir_ns.name().to_string();
    let daemon = std::thread::spawn(move || {
        enter_netns(&ns_name).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let tx = ready_tx.clone();
            let d = Daemon::start(cfg, opts, Some(Box::new(move |r| tx.send(r).unwrap())))?;
            d.run(cmd_rx).await
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(120)).expect("first round").expect("first round ok");
    let limit = Duration::from_secs(60);
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3"], limit, "first round");
    let l2 = r#"{instance="a",virtual="TCP 198.51.100.10:80",real="203.0.113.2:80"}"#;
    let metric = |name: &str| -> Option<String> {
        let text = std::fs::read_to_string(&prom).ok()?;
        let want = format!("rha_ldirectord_{name}{l2} ");
        text.lines().find_map(|l| l.strip_prefix(&want).map(str::to_string))
    };
    wait_for("metrics: .2 up", limit, || metric("real_up").as_deref() == Some("1"));
    assert_eq!(metric("real_weight").as_deref(), Some("3"));
    assert!(metric("ipvs_connections_total").is_some(), "{}", std::fs::read_to_string(&prom).unwrap());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(*subjects.lock().unwrap(), Vec::<String>::new(), "no mail at start-up");

    s2.kill().unwrap();
    s2.wait().unwrap();
    wait_reals(&dir_ns, VIP, &[], limit, ".2 stopped");
    let deleted = "[web] Deleted real server: 203.0.113.2:80 (TCP 198.51.100.10:80)";
    let reminder = "[web] Inaccessible real server: 203.0.113.2:80 (TCP 198.51.100.10:80)";
    wait_for("mail: deleted", limit, || subjects.lock().unwrap().iter().any(|s| s == deleted));
    wait_for("mail: reminder", limit, || subjects.lock().unwrap().iter().any(|s| s == reminder));
    wait_for("metrics: .2 down", limit, || metric("real_up").as_deref() == Some("0"));
    s2 = http_server(&web, "203.0.113.2");
    wait_reals(&dir_ns, VIP, &["203.0.113.2:80 3"], limit, ".2 back");
    let restored = "[web] Restored real server: 203.0.113.2:80 (TCP 198.51.100.10:80) (weight set to 3)";
    wait_for("mail: restored", limit, || subjects.lock().unwrap().iter().any(|s| s == restored));
    let got = subjects.lock().unwrap().clone();
    assert!(got.iter().all(|s| !s.contains("203.0.113.4")), "a never-up real made mail: {got:?}");

    let log = std::fs::read_to_string(&monitor).unwrap();
    let has = |state: &str, real: &str| {
        log.lines().any(|l| {
            l.contains(&format!("] negotiate http tcp {real} 80 ")) && l.contains(&format!(" [{state}] "))
        })
    };
    assert!(has("up", "203.0.113.2") && has("down", "203.0.113.2") && has("down", "203.0.113.4"), "{log}");
    assert!(
        log.lines().all(|l| l.starts_with('[') && l.contains(&format!("] [{}] ", std::process::id()))),
        "{log}"
    );

    cmd_tx.blocking_send(Command::Stop).unwrap();
    daemon.join().unwrap().expect("clean stop");
    let _ = s2.kill();
    let _ = s2.wait();
}
