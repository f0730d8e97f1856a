//! Faults, each in its own sandbox: the right exit code, a useful exit reason, bounded time,
//! and no httpd left behind.

mod support;

use std::time::{Duration, Instant};

use support::{Agent, CustomConf, STOCK_CONFIG, Sandbox, note};

const STOCK: &[(&str, &str)] = &[("configfile", STOCK_CONFIG)];

fn stock_main(sb: &Sandbox) -> u32 {
    sb.read_pid("/run/apache2/apache2.pid").expect("stock pid file")
}

/// Signal a host pid (from `apache_pids`).
fn kill_host(pid: u32, sig: &str) {
    let ok =
        std::process::Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap();
    assert!(ok.success(), "kill -{sig} {pid}");
}

#[test]
fn probe_without_server_is_not_running() {
    let sb = Sandbox::new("approbe");
    sb.probe(Agent::Ours, STOCK).expect(7);
    sb.ours("monitor", STOCK).expect(7);
    sb.ours("status", STOCK).expect(7);
    // Nothing set up for it on this node at all: still 7 for a probe, 0 for stop.
    let missing = &[("configfile", "/etc/nonexistent/httpd.conf")];
    sb.probe(Agent::Ours, missing).expect(7);
    sb.ours("stop", missing).expect(0);
}

#[test]
fn start_twice_stop_twice() {
    let sb = Sandbox::new("aptwice");
    sb.ours("start", STOCK).expect(0);
    let pid = stock_main(&sb);
    let again = sb.ours("start", STOCK);
    again.expect(0);
    assert_eq!(stock_main(&sb), pid, "a second start must not start another server");
    sb.ours("status", STOCK).expect(0);
    sb.ours("stop", STOCK).expect(0);
    sb.ours("stop", STOCK).expect(0);
    sb.ours("monitor", STOCK).expect(7);
    assert!(sb.apache_pids().is_empty());
}

#[test]
fn broken_configuration_fails_fast_with_httpds_message() {
    let sb = Sandbox::new("apbroken");
    let conf = CustomConf { extra: "ThisIsNotADirective on\n".into(), ..Default::default() }.write(&sb);
    let p = [("configfile", conf.to_str().unwrap())];
    let r = sb.ours("start", &p);
    r.expect_reason(5, "Invalid command 'ThisIsNotADirective'");
    assert!(r.elapsed < Duration::from_secs(10), "start took {:?} (timeout 20 s)", r.elapsed);
    note(format!("broken config: start rc 5 after {:?}: {}", r.elapsed, r.why()));
    sb.probe(Agent::Ours, &p).expect(7);
    sb.ours("stop", &p).expect(0);
    // validate-all at level 10 runs the same configuration test.
    sb.agent(Agent::Ours, "validate-all", &p, &[("OCF_CHECK_LEVEL", "10")])
        .expect_reason(5, "ThisIsNotADirective");
    assert!(sb.apache_pids().is_empty());
}

#[test]
fn missing_binary() {
    let sb = Sandbox::new("apnobin");
    let p = [("configfile", STOCK_CONFIG), ("httpd", "/nonexistent/sbin/httpd")];
    sb.ours("start", &p).expect_reason(5, "/nonexistent/sbin/httpd does not exist");
    sb.probe(Agent::Ours, &p).expect(7);
    sb.ours("monitor", &p).expect(7);
    sb.ours("stop", &p).expect(0);
    let v = sb.ours("validate-all", &p);
    v.expect(0);
    assert!(v.stderr.contains("WARNING: on this node: httpd /nonexistent/sbin/httpd"), "{}", v.stderr);
    sb.agent(Agent::Ours, "validate-all", &p, &[("OCF_CHECK_LEVEL", "10")]).expect(5);

    // The binary vanishing under a running server does not stop stop from working.
    sb.ours("start", STOCK).expect(0);
    sb.ours("stop", &p).expect(0);
    assert!(sb.wait_no_apache(Duration::from_secs(2)), "stop without the binary left apache running");
}

#[test]
fn port_taken_by_another_process() {
    let sb = Sandbox::new("apport");
    let mut squatter = support::squat_port_80(&sb);
    let r = sb.ours("start", STOCK);
    r.expect_reason(1, "Address already in use");
    assert!(r.elapsed < Duration::from_secs(10), "start took {:?}", r.elapsed);
    note(format!("port taken: start rc 1 after {:?}: {}", r.elapsed, r.why()));
    sb.ours("monitor", STOCK).expect(7);
    sb.ours("stop", STOCK).expect(0);
    assert!(squatter.try_wait().unwrap().is_none(), "the other process was touched");
    let _ = squatter.kill();
    let _ = squatter.wait();
}

#[test]
fn status_url_404() {
    let sb = Sandbox::new("ap404");
    let p = [("configfile", STOCK_CONFIG), ("statusurl", "http://127.0.0.1/no-such-page")];
    let r = sb.ours("start", &p);
    r.expect_reason(1, "HTTP 404 Not Found");
    assert!(r.elapsed < Duration::from_secs(10), "start took {:?}", r.elapsed);
    sb.ours("monitor", &p).expect_reason(1, "404");
    sb.ours("monitor", STOCK).expect(0);
    sb.ours("stop", &p).expect(0);
    assert!(sb.apache_pids().is_empty());
}

/// A CGI that sleeps 30 s as the status page.
fn slow_conf(sb: &Sandbox) -> String {
    let script = sb.path("cgi/slow.sh");
    let conf = CustomConf {
        extra: format!(
            "LoadModule cgid_module {m}/mod_cgid.so\nLoadModule alias_module {m}/mod_alias.so\n\
             ScriptSock {d}/run/cgisock\nScriptAlias /slow {script}\n<Directory {d}/cgi>\n  Require all granted\n</Directory>\n",
            m = support::MODULES,
            d = sb.dir.path().display(),
            script = script.display()
        ),
        ..Default::default()
    }
    .write(sb);
    std::fs::write(&script, "#!/bin/sh\nsleep 30\nprintf 'Content-Type: text/plain\\r\\n\\r\\nlate\\n'\n")
        .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    conf.to_str().unwrap().to_string()
}

#[test]
fn slow_status_url_is_bounded_by_the_timeout() {
    let sb = Sandbox::new("apslow");
    let conf = slow_conf(&sb);
    let base = [("configfile", conf.as_str())];
    let slow = [("configfile", conf.as_str()), ("statusurl", "/slow")];
    sb.ours("start", &base).expect(0);
    let m = sb.agent(Agent::Ours, "monitor", &slow, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    m.expect_reason(1, "timed out");
    assert!(m.elapsed < Duration::from_secs(5), "monitor took {:?} with a 5 s timeout", m.elapsed);
    note(format!("slow status URL: monitor rc 1 after {:?}: {}", m.elapsed, m.why()));
    // A stop with requests stuck in a CGI: graceful, then TERM, within the 8 s budget, and the
    // CGI's own processes are gone too.
    let s = sb.agent(Agent::Ours, "stop", &base, &[("OCF_RESKEY_CRM_meta_timeout", "8000")]);
    s.expect(0);
    assert!(s.elapsed < Duration::from_secs(8), "stop took {:?}", s.elapsed);
    assert!(sb.apache_pids().is_empty());
    assert!(sb.processes("sleep").len() <= 1, "the CGI's sleep outlived httpd: {:?}", sb.processes("sleep"));
    // Start whose status URL never answers: fails within its timeout, not killed by it.
    let r = sb.agent(Agent::Ours, "start", &slow, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    r.expect_reason(1, "did not answer within the start timeout");
    assert!(r.elapsed < Duration::from_secs(5), "start took {:?}", r.elapsed);
    sb.ours("stop", &slow).expect(0);
    assert!(sb.apache_pids().is_empty());
}

#[test]
fn httpd_killed_behind_the_agents_back() {
    let sb = Sandbox::new("apkilled");
    sb.ours("start", STOCK).expect(0);
    let main = stock_main(&sb);
    sb.signal_in(main, "KILL");
    // The main process is gone but its children (still holding port 80) are not.
    let m = sb.ours("monitor", STOCK);
    m.expect_reason(1, "processes remain");
    sb.probe(Agent::Ours, STOCK).expect(1);
    // Recovery: start cleans the leftovers and starts afresh; or stop, then start.
    sb.ours("start", STOCK).expect(0);
    assert_ne!(stock_main(&sb), main);
    sb.signal_in(stock_main(&sb), "KILL");
    sb.ours("stop", STOCK).expect(0);
    assert!(sb.apache_pids().is_empty(), "stop left {:?}", sb.apache_pids());

    // Everything killed: a stale pid file means not running.
    sb.ours("start", STOCK).expect(0);
    let all = sb.apache_pids();
    for p in &all {
        kill_host(*p, "KILL");
    }
    assert!(sb.wait_no_apache(Duration::from_secs(5)));
    sb.probe(Agent::Ours, STOCK).expect(7);
    sb.ours("monitor", STOCK).expect(7);
    sb.ours("stop", STOCK).expect(0);
    assert!(sb.read_pid("/run/apache2/apache2.pid").is_none(), "stop leaves no stale pid file");
}

#[test]
fn pid_file_removed_behind_the_agents_back() {
    let sb = Sandbox::new("apnopid");
    sb.ours("start", STOCK).expect(0);
    sb.sh_ok("rm /run/apache2/apache2.pid");
    // Still found by its marker and session: running, with a warning.
    let m = sb.ours("monitor", STOCK);
    m.expect(0);
    assert!(m.stderr.contains("WARNING: httpd runs as pid"), "{}", m.stderr);
    sb.ours("start", STOCK).expect(0);
    sb.ours("stop", STOCK).expect(0);
    assert!(sb.wait_no_apache(Duration::from_secs(2)), "stop without a pid file left {:?}", sb.apache_pids());
    sb.probe(Agent::Ours, STOCK).expect(7);
}

#[test]
fn hung_httpd_sigstop() {
    let sb = Sandbox::new("aphung");
    sb.ours("start", STOCK).expect(0);
    let pids = sb.apache_pids();
    for p in &pids {
        kill_host(*p, "STOP");
    }
    let m = sb.agent(Agent::Ours, "monitor", STOCK, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    m.expect_reason(1, "timed out");
    assert!(m.elapsed < Duration::from_secs(5), "monitor took {:?}", m.elapsed);
    let s = sb.agent(Agent::Ours, "stop", STOCK, &[("OCF_RESKEY_CRM_meta_timeout", "8000")]);
    s.expect(0);
    assert!(s.elapsed < Duration::from_secs(8), "stop took {:?}", s.elapsed);
    assert!(s.stderr.contains("SIGKILL"), "{}", s.stderr);
    note(format!("SIGSTOPped httpd: monitor rc 1 after {:?}; stop rc 0 after {:?}", m.elapsed, s.elapsed));
    assert!(sb.apache_pids().is_empty());
}

#[test]
fn sigkill_of_the_agent_during_start() {
    let sb = Sandbox::new("apsigkill");
    for delay_ms in [0u64, 5, 15, 30, 50, 80, 120, 200] {
        let mut child = sb.agent_command(Agent::Ours, "start", STOCK, &[]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Pacemaker kills the agent's whole process group on a timeout.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        let t = Instant::now();
        let s = sb.ours("stop", STOCK);
        s.expect(0);
        assert!(
            sb.wait_no_apache(Duration::from_millis(500)),
            "after a start killed at {delay_ms} ms, stop left {:?}:\n{}",
            sb.apache_pids(),
            s.stderr
        );
        sb.probe(Agent::Ours, STOCK).expect(7);
        note(format!("start killed after {delay_ms} ms: stop rc 0 in {:?}", t.elapsed()));
    }
}

#[test]
fn other_instances_are_never_touched() {
    let sb = Sandbox::new("apother");
    let conf = CustomConf::default().write(&sb);
    let custom = [("configfile", conf.to_str().unwrap())];
    sb.ours("start", STOCK).expect(0);
    let stock_pids = sb.apache_pids();
    sb.ours("start", &custom).expect(0);
    let custom_main = sb.read_pid(sb.path("run/custom-httpd.pid").to_str().unwrap()).unwrap();
    // Kill the custom server's main process, so only its marker and session identify it.
    sb.signal_in(custom_main, "KILL");
    sb.ours("stop", &custom).expect(0);
    sb.ours("monitor", STOCK).expect(0);
    let survivors: Vec<u32> = sb.apache_pids();
    assert_eq!(survivors, stock_pids, "stock server processes were touched");
    sb.ours("monitor", &custom).expect(7);
    sb.ours("stop", STOCK).expect(0);
    assert!(sb.apache_pids().is_empty());
}
