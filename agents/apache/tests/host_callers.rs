//! Callers other than pacemaker-execd: every action in its own `ip netns exec` (each gets a
//! mount namespace of its own, as an administrator's shell or `crm_resource --force-*` does),
//! and a pid file whose pid was reused by another instance's httpd (issue #10 items 3 and 4).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{CustomConf, OURS, Outcome, Sandbox};

/// Runs our agent as `ip netns exec <ns> apache <action>` from the machine's own mount
/// namespace, with PATH unset and nothing but the OCF variables in its environment.
fn netns_exec(sb: &Sandbox, instance: &str, action: &str, conf: &str) -> Outcome {
    netns_exec_in(sb, sb.ns.name(), instance, action, conf, &[])
}

fn netns_exec_in(
    sb: &Sandbox,
    ns: &str,
    instance: &str,
    action: &str,
    conf: &str,
    extra: &[(&str, &str)],
) -> Outcome {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, OURS, action])
        // No PATH, nothing but the OCF variables: as pacemaker-execd or pcs may run it.
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", instance)
        .env("OCF_RESOURCE_TYPE", "apache")
        .env("OCF_RESKEY_CRM_meta_timeout", "20000")
        .env("OCF_RESKEY_configfile", conf)
        // Agent state in the test's directory, not the machine's /run.
        .env("RHA_RUN_DIR", sb.path("agent-state"))
        .stdin(Stdio::null());
    if action == "monitor" {
        c.env("OCF_RESKEY_CRM_meta_interval", "10000");
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    let t = Instant::now();
    let out = c.output().unwrap();
    Outcome::from_output(&format!("ip netns exec … {action}"), &out, t.elapsed())
}

fn conf(sb: &Sandbox, name: &str, port: u16) -> String {
    let c = CustomConf {
        listen: format!("127.0.0.1:{port}"),
        pid_file: Some(format!("run/{name}.pid")),
        ..Default::default()
    };
    let path = c.write(sb);
    // Each instance its own file (write() always writes conf/httpd.conf).
    let own = sb.path(&format!("conf/{name}.conf"));
    std::fs::rename(&path, &own).unwrap();
    own.display().to_string()
}

fn pid_file_pid(sb: &Sandbox, name: &str) -> i32 {
    std::fs::read_to_string(sb.path(&format!("run/{name}.pid"))).unwrap().trim().parse().unwrap()
}

#[test]
fn every_action_in_its_own_ip_netns_exec_finds_the_same_httpd() {
    let sb = Sandbox::new("apcall");
    let c = conf(&sb, "web", 8080);
    netns_exec(&sb, "web", "start", &c).expect(0);
    let main = pid_file_pid(&sb, "web");
    netns_exec(&sb, "web", "monitor", &c).expect(0);
    // A second start finds it running: no second httpd, the same main process.
    netns_exec(&sb, "web", "start", &c).expect(0);
    assert_eq!(pid_file_pid(&sb, "web"), main);
    netns_exec(&sb, "web", "stop", &c).expect(0);
    // Stop returned 0: nothing of it may still run.
    assert!(
        sb.wait_no_apache(Duration::from_secs(2)),
        "httpd still running after stop: {:?}",
        sb.apache_pids()
    );
    netns_exec(&sb, "web", "monitor", &c).expect(7);
}

#[test]
fn a_pid_file_naming_another_instances_httpd_is_stale_and_stop_leaves_that_httpd_alone() {
    let sb = Sandbox::new("apreuse");
    let a = conf(&sb, "a", 8081);
    let b = conf(&sb, "b", 8082);
    netns_exec(&sb, "a", "start", &a).expect(0);
    netns_exec(&sb, "b", "start", &b).expect(0);
    let a_main = pid_file_pid(&sb, "a");
    let b_main = pid_file_pid(&sb, "b");
    // A's httpd dies; its pid "is reused" by B's main process.
    let before = sb.apache_pids();
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(a_main), nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{a_main}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(sb.path("run/a.pid"), format!("{b_main}\n")).unwrap();
    assert!(before.len() > sb.apache_pids().len(), "A's processes did not die");
    netns_exec(&sb, "a", "monitor", &a).expect(7);
    netns_exec(&sb, "a", "stop", &a).expect(0);
    // B was never signalled by A's stop.
    netns_exec(&sb, "b", "monitor", &b).expect(0);
    assert_eq!(pid_file_pid(&sb, "b"), b_main);
    assert!(std::path::Path::new(&format!("/proc/{b_main}")).exists());
    netns_exec(&sb, "b", "stop", &b).expect(0);
    assert!(sb.wait_no_apache(Duration::from_secs(2)));
}

#[test]
fn with_dns_down_a_status_url_by_name_fails_within_the_monitor_timeout() {
    // Issue #10 item 2: the statusurl's host was resolved with an unbounded getaddrinfo
    // (10 s here), past the monitor's timeout.
    let dns = rha_harness::dns_down::DnsDown::new("apdns").unwrap();
    let sb = Sandbox::new("apdnsh");
    let c = conf(&sb, "web", 8083);
    let ns = dns.client.name();
    netns_exec_in(&sb, ns, "web", "start", &c, &[]).expect(0);
    let by_name = [
        ("OCF_RESKEY_statusurl", "http://web.cluster.invalid:8083/status"),
        ("OCF_RESKEY_CRM_meta_timeout", "4000"),
    ];
    let m = netns_exec_in(&sb, ns, "web", "monitor", &c, &by_name);
    m.expect_reason(1, "web.cluster.invalid");
    // Within Pacemaker's timeout (the shim ends the operation 10% before it).
    assert!(m.elapsed < Duration::from_millis(4000), "monitor overran its timeout: {m}");
    netns_exec_in(&sb, ns, "web", "stop", &c, &[]).expect(0);
    netns_exec_in(&sb, ns, "web", "monitor", &c, &[]).expect(7);
}
