//! VM tier: rha-ldirectord beside Debian's Perl ldirectord, the same ldirectord.cf and the same
//! real servers, each director in its own network namespace (IPVS is per namespace), both
//! started and stopped through their command lines as an init script would.
//!
//! After the first round, after a real fails, with every real down (the fallback) and after a
//! real returns, both IPVS tables (`ipvsadm -S -n`) must be the same. Where we differ on
//! purpose it is said here: upstream's `stop` returns before the daemon has cleaned IPVS (we
//! wait for it), and upstream briefly gives unchecked reals their full weight at start
//! (upstream-agents.md §7; our start never does, which vm_daemon proves).

#![cfg(feature = "vm-tier")]

mod common;
#[path = "../../../agents/ipvs-service/tests/common/vmnet.rs"]
mod vmnet;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::http_server;
use rha_harness::netns::Netns;
use vmnet::{plug, save, switch};

const PERL: &str = "/usr/sbin/ldirectord";
const OURS: &str = env!("CARGO_BIN_EXE_rha-ldirectord");
const VIP: &str = "198.51.100.10:80";

fn stop_server(c: &mut Child) {
    c.kill().unwrap();
    c.wait().unwrap();
}

fn config(log: &Path) -> String {
    format!(
        "# The same file for both daemons (only the log differs).\n\
         checktimeout=3\n\
         negotiatetimeout=3\n\
         checkinterval=1\n\
         quiescent=no\n\
         logfile=\"{}\"\n\
         \n\
         virtual={VIP}\n\
         \treal=203.0.113.2:80 masq 3\n\
         \treal=203.0.113.3:80 masq 2\n\
         \treal=203.0.113.4:80 masq 1\n\
         \tfallback=127.0.0.1:80 masq\n\
         \tservice=http\n\
         \trequest=\"/\"\n\
         \treceive=\"Directory listing\"\n\
         \tscheduler=wrr\n\
         \tprotocol=tcp\n\
         \tchecktype=negotiate\n",
        log.display()
    )
}

/// Both tables, once they are equal to `want` (the virtual's line and its reals, sorted), or
/// a failure naming what each daemon had.
fn converge(perl: &Netns, ours: &Netns, want: &[&str], limit: Duration, what: &str) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let table = |ns: &Netns| {
        let mut l: Vec<String> = save(ns).lines().map(str::to_string).collect();
        l.sort();
        l
    };
    let start = Instant::now();
    let (mut p_at, mut o_at) = (None, None);
    loop {
        let (p, o) = (table(perl), table(ours));
        if p == want && p_at.is_none() {
            p_at = Some(start.elapsed());
        }
        if o == want && o_at.is_none() {
            o_at = Some(start.elapsed());
        }
        if p == want && o == want {
            eprintln!(
                "{what}: both tables agree (Perl after {:.1} s, ours after {:.1} s)",
                p_at.unwrap().as_secs_f64(),
                o_at.unwrap().as_secs_f64()
            );
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: after {limit:?}\nwanted {want:#?}\nPerl ldirectord has {p:#?}\nrha-ldirectord has {o:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn same_config_same_servers_same_ipvs_table_as_perl_ldirectord() {
    vmnet::setup();
    assert!(Path::new(PERL).exists(), "{PERL} missing: install Debian's ldirectord package");
    let sw = switch("ldxs", &["br0"]);
    let perl = Netns::new("ldxp").unwrap();
    let ours = Netns::new("ldxo").unwrap();
    let web = Netns::new("ldxw").unwrap();
    for (ns, addr) in [(&perl, "203.0.113.101/24"), (&ours, "203.0.113.102/24")] {
        plug(ns, "eth0", &sw, "br0", addr);
        ns.link_up("lo").unwrap();
        ns.ip(&["link", "add", "vip0", "type", "dummy"]).unwrap();
        ns.link_up("vip0").unwrap();
        ns.add_addr("vip0", "198.51.100.10/32").unwrap();
    }
    plug(&web, "eth0", &sw, "br0", "203.0.113.2/24");
    web.add_addr("eth0", "203.0.113.3/24").unwrap();
    web.add_addr("eth0", "203.0.113.4/24").unwrap();
    web.link_up("lo").unwrap();
    let mut s2 = http_server(&web, "203.0.113.2");
    let mut s3 = http_server(&web, "203.0.113.3");
    for ns in [&perl, &ours] {
        for a in ["203.0.113.2:80", "203.0.113.3:80"] {
            vmnet::wait_reachable(ns.name(), a.parse().unwrap(), Duration::from_secs(60));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let perl_cf = dir.path().join("perl.cf");
    let ours_cf = dir.path().join("ours.cf");
    std::fs::write(&perl_cf, config(&dir.path().join("perl.log"))).unwrap();
    std::fs::write(&ours_cf, config(&dir.path().join("ours.log"))).unwrap();

    let p = perl.run(&[PERL, perl_cf.to_str().unwrap(), "start"]).unwrap();
    assert!(p.success(), "Perl ldirectord start: {}\n{}", p.stdout, p.stderr);
    let t = Instant::now();
    let o = ours
        .cmd(&[OURS, ours_cf.to_str().unwrap(), "start"])
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap();
    assert!(o.success(), "rha-ldirectord start: {}\n{}", o.stdout, o.stderr);
    eprintln!("rha-ldirectord start returned after {:.1} s (first round done)", t.elapsed().as_secs_f64());
    // Ours is complete when start returns: no waiting.
    let mut now: Vec<String> = save(&ours).lines().map(str::to_string).collect();
    now.sort();
    let first = [
        "-A -t 198.51.100.10:80 -s wrr",
        "-a -t 198.51.100.10:80 -r 203.0.113.2:80 -m -w 3",
        "-a -t 198.51.100.10:80 -r 203.0.113.3:80 -m -w 2",
    ];
    let mut want: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(now, want, "our table when start returned");
    let limit = Duration::from_secs(120);
    converge(&perl, &ours, &first, limit, "first round");

    stop_server(&mut s3);
    converge(
        &perl,
        &ours,
        &["-A -t 198.51.100.10:80 -s wrr", "-a -t 198.51.100.10:80 -r 203.0.113.2:80 -m -w 3"],
        limit,
        ".3 stopped",
    );
    stop_server(&mut s2);
    converge(
        &perl,
        &ours,
        &["-A -t 198.51.100.10:80 -s wrr", "-a -t 198.51.100.10:80 -r 127.0.0.1:80 -m -w 1"],
        limit,
        "all down: the fallback",
    );
    s3 = http_server(&web, "203.0.113.3");
    converge(
        &perl,
        &ours,
        &["-A -t 198.51.100.10:80 -s wrr", "-a -t 198.51.100.10:80 -r 203.0.113.3:80 -m -w 2"],
        limit,
        ".3 back: no fallback",
    );

    // Stop: ours returns with IPVS clean; upstream's returns at once and cleans up later.
    let o = ours.run(&[OURS, ours_cf.to_str().unwrap(), "stop"]).unwrap();
    assert!(o.success(), "rha-ldirectord stop: {}\n{}", o.stdout, o.stderr);
    assert_eq!(save(&ours), "", "our table right after stop returned");
    let st = ours.run(&[OURS, ours_cf.to_str().unwrap(), "status"]).unwrap();
    assert_eq!(st.status.code(), Some(3), "status after stop: {}", st.stdout);
    let p = perl.run(&[PERL, perl_cf.to_str().unwrap(), "stop"]).unwrap();
    assert!(p.success(), "Perl ldirectord stop: {}\n{}", p.stdout, p.stderr);
    converge(&perl, &ours, &[], limit, "both stopped");
    let _ = s3.kill();
    let _ = s3.wait();
}
