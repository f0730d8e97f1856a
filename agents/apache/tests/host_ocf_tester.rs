//! ocf-tester (Debian's resource-agents) on our agent, in a sandbox per test:
//! - the stock Debian apache2 configuration with no parameter but configfile;
//! - a custom configuration with its own PidFile and a Listen on a VIP inside the namespace.

mod support;

use std::time::{Duration, Instant};

use support::{CustomConf, OURS, STOCK_CONFIG, Sandbox, note};

fn ocf_tester(sb: &Sandbox, params: &[(&str, &str)]) -> (bool, String, Duration) {
    let mut c = sb.command("/usr/sbin/ocf-tester");
    c.args(["-n", "web"]);
    for (k, v) in params {
        c.args(["-o", &format!("{k}={v}")]);
    }
    c.arg(OURS);
    let t = Instant::now();
    let out = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("passed all tests"), text, t.elapsed())
}

#[test]
fn stock_debian_config_passes_ocf_tester() {
    let sb = Sandbox::new("apotst");
    let (ok, text, took) = ocf_tester(&sb, &[("configfile", STOCK_CONFIG)]);
    assert!(ok, "ocf-tester failed:\n{text}");
    note(format!("ocf-tester on stock Debian apache2: passed in {:.2} s", took.as_secs_f64()));
    assert!(sb.apache_pids().is_empty(), "ocf-tester's last stop left apache running");
}

#[test]
fn custom_pidfile_and_vip_passes_ocf_tester() {
    let sb = Sandbox::new("apotvip");
    let client = sb.add_vip("198.51.100.10/24", "198.51.100.2/24");
    let conf = CustomConf { listen: "198.51.100.10:8080".into(), ..Default::default() }.write(&sb);
    let conf_s = conf.to_str().unwrap();
    let (ok, text, took) = ocf_tester(&sb, &[("configfile", conf_s)]);
    assert!(ok, "ocf-tester failed:\n{text}");
    note(format!("ocf-tester on a custom PidFile + VIP config: passed in {:.2} s", took.as_secs_f64()));
    assert!(sb.apache_pids().is_empty());

    // The server really listens on the VIP only, uses the custom pid file, and the monitor's
    // status URL is derived from that Listen and the Location.
    sb.ours("start", &[("configfile", conf_s)]).expect(0);
    let pid_file = sb.path("run/custom-httpd.pid");
    assert!(sb.read_pid(pid_file.to_str().unwrap()).is_some(), "custom PidFile not written");
    let m = sb.agent(support::Agent::Ours, "monitor", &[("configfile", conf_s)], &[("HA_debug", "1")]);
    m.expect(0);
    let page = client.run(&["curl", "-s", "--max-time", "5", "http://198.51.100.10:8080/"]).unwrap();
    assert!(page.stdout.contains("custom server"), "client could not reach the VIP: {page}");
    let lo = sb.sh("curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/ && echo reachable");
    assert!(!String::from_utf8_lossy(&lo.stdout).contains("reachable"), "listening beyond the VIP");
    // A statusurl that is not local to this node fails: checks come from loopback.
    let far = sb.ours("monitor", &[("configfile", conf_s), ("statusurl", "http://198.51.100.2:8080/status")]);
    far.expect_reason(1, "not local");
    sb.ours("stop", &[("configfile", conf_s)]).expect(0);
    assert!(sb.apache_pids().is_empty());
}
