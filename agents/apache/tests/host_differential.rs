//! Differential: ocf:heartbeat:apache (Debian resource-agents 4.12) and ours on the same cases,
//! each in a fresh sandbox. Where upstream is right, both must agree; where it is buggy, ours
//! is asserted and the upstream bug is named (and printed with what upstream did).
//!
//! Upstream runs under `timeout -s KILL`, standing in for Pacemaker killing an operation at its
//! timeout (upstream's start and monitor do not bound themselves).

mod support;

use std::time::{Duration, Instant};

use support::{Agent, CustomConf, STOCK_CONFIG, Sandbox, UPSTREAM, note};

const STOCK: &[(&str, &str)] = &[("configfile", STOCK_CONFIG)];

/// Upstream `action`, killed after `secs` like Pacemaker would (its timeout is `secs`).
fn upstream(sb: &Sandbox, action: &str, params: &[(&str, &str)], secs: u64, probe: bool) -> support::Outcome {
    let timeout_ms = (secs * 1000).to_string();
    let interval = if probe { "0" } else { "10000" };
    let mut c = sb.agent_command(
        Agent::Upstream,
        action,
        params,
        &[("OCF_RESKEY_CRM_meta_timeout", &timeout_ms), ("OCF_RESKEY_CRM_meta_interval", interval)],
    );
    // Re-target the command at `timeout`, keeping the environment.
    let mut args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let pos = args.iter().position(|a| a == UPSTREAM).unwrap();
    args.splice(pos..pos, ["timeout".to_string(), "-s".into(), "KILL".into(), secs.to_string()]);
    let envs: Vec<(String, String)> = c
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
        .collect();
    c = std::process::Command::new("nsenter");
    c.env_clear()
        .envs(envs)
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let t = Instant::now();
    let out = c.output().unwrap();
    support::Outcome::from_output(&format!("Upstream {action}"), &out, t.elapsed())
}

/// `timeout -s KILL` kills its whole process group, itself included: a run ended by a signal
/// (or by timeout's 137) is an operation Pacemaker would have killed.
fn killed(r: &support::Outcome) -> bool {
    r.code == -1 || r.code == 137
}

fn show(case: &str, up: &support::Outcome, ours: &support::Outcome) {
    let desc = |r: &support::Outcome| {
        let code = if killed(r) { "killed at timeout".to_string() } else { format!("rc {}", r.code) };
        format!("{code} in {:.2} s", r.elapsed.as_secs_f64())
    };
    note(format!("{case:<48} upstream: {:<26} ours: {}", desc(up), desc(ours)));
}

/// Clean a sandbox between the two agents.
fn cleanup(sb: &Sandbox, params: &[(&str, &str)]) {
    sb.ours("stop", params).expect(0);
    assert!(sb.wait_no_apache(Duration::from_secs(5)));
}

#[test]
fn lifecycle_on_stock_debian() {
    let sb = Sandbox::new("apdlife");
    let access = sb.path("log/access.log");
    for agent in [Agent::Upstream, Agent::Ours] {
        sb.probe(agent, STOCK).expect(7);
        sb.agent(agent, "start", STOCK, &[]).expect(0);
        let before = std::fs::read_to_string(&access).unwrap_or_default().len();
        sb.agent(agent, "monitor", STOCK, &[]).expect(0);
        sb.probe(agent, STOCK).expect(0);
        let log = std::fs::read_to_string(&access).unwrap_or_default();
        let fetched = log[before..].lines().last().unwrap_or("").to_string();
        // Upstream bug: it does not follow IncludeOptional, so on Debian it never sees the
        // server-status Location in mods-enabled/status.conf and checks the index page.
        match agent {
            Agent::Upstream => assert!(fetched.contains("\"GET / HTTP"), "upstream fetched: {fetched}"),
            Agent::Ours => assert!(fetched.contains("\"GET /server-status HTTP"), "ours fetched: {fetched}"),
        }
        note(format!("{agent:?} monitor fetched: {}", fetched.split('"').nth(1).unwrap_or("?")));
        // Upstream bug: `status` is advertised in its meta-data but returns 3.
        let st = sb.agent(agent, "status", STOCK, &[]);
        match agent {
            Agent::Upstream => st.expect(3),
            Agent::Ours => st.expect(0),
        };
        let stop = sb.agent(agent, "stop", STOCK, &[]);
        stop.expect(0);
        note(format!("{agent:?} stop took {:.2} s", stop.elapsed.as_secs_f64()));
        sb.agent(agent, "monitor", STOCK, &[]).expect(7);
        sb.agent(agent, "stop", STOCK, &[]).expect(0);
        assert!(sb.wait_no_apache(Duration::from_secs(5)));
    }
}

#[test]
fn broken_configuration_outside_the_stock_paths() {
    let sb = Sandbox::new("apdbroken");
    let conf = CustomConf { extra: "ThisIsNotADirective on\n".into(), ..Default::default() }.write(&sb);
    let p = [("configfile", conf.to_str().unwrap())];
    let up = upstream(&sb, "start", &p, 8, false);
    cleanup(&sb, &p);
    let ours = sb.ours("start", &p);
    show("broken config (custom path): start", &up, &ours);
    // Upstream bug: no configtest outside the stock paths, httpd's exit status ignored, then it
    // waits for the server until the operation times out.
    assert!(killed(&up), "upstream start rc {}", up.code);
    ours.expect_reason(5, "Invalid command 'ThisIsNotADirective'");
    assert!(ours.elapsed < Duration::from_secs(4));
}

#[test]
fn port_taken_by_another_process() {
    let sb = Sandbox::new("apdport");
    let mut squatter = support::squat_port_80(&sb);
    let up = upstream(&sb, "start", STOCK, 8, false);
    cleanup(&sb, STOCK);
    let ours = sb.ours("start", STOCK);
    show("port taken by another process: start", &up, &ours);
    // Upstream bug: the failed httpd start is ignored and start waits out its timeout.
    assert!(killed(&up), "upstream start rc {}", up.code);
    ours.expect_reason(1, "Address already in use");
    assert!(ours.elapsed < Duration::from_secs(4));
    let _ = squatter.kill();
    let _ = squatter.wait();
}

#[test]
fn status_url_404() {
    let sb = Sandbox::new("apd404");
    let p = [("configfile", STOCK_CONFIG), ("statusurl", "http://127.0.0.1/no-such-page")];
    let curl =
        [("configfile", STOCK_CONFIG), ("statusurl", "http://127.0.0.1/no-such-page"), ("client", "curl")];
    sb.ours("start", STOCK).expect(0);
    // With wget (upstream's first choice) the 404 fails the check, by wget's exit status.
    let up = upstream(&sb, "monitor", &p, 20, false);
    let ours = sb.ours("monitor", &p);
    show("status URL answers 404: monitor", &up, &ours);
    up.expect(1);
    ours.expect_reason(1, "HTTP 404");
    // Upstream bug: with curl (client=curl, or a node without wget) the HTTP status is not
    // checked, and the 404 page contains </html>, which matches the default testregex.
    let up = upstream(&sb, "monitor", &curl, 20, false);
    let ours = sb.ours("monitor", &curl);
    show("status URL answers 404, client=curl: monitor", &up, &ours);
    up.expect(0);
    ours.expect_reason(1, "HTTP 404");
    cleanup(&sb, STOCK);
}

#[test]
fn main_process_killed_behind_the_agents_back() {
    let sb = Sandbox::new("apdkilled");
    for agent in [Agent::Upstream, Agent::Ours] {
        sb.agent(agent, "start", STOCK, &[]).expect(0);
        let main = sb.read_pid("/run/apache2/apache2.pid").unwrap();
        sb.signal_in(main, "KILL");
        assert!(sb.wait_reaped_in(main, Duration::from_secs(10)));
        let mon = match agent {
            Agent::Upstream => upstream(&sb, "monitor", STOCK, 20, false),
            Agent::Ours => sb.ours("monitor", STOCK),
        };
        // Pacemaker's recovery after a failed monitor: stop, then start.
        let stop = match agent {
            Agent::Upstream => upstream(&sb, "stop", STOCK, 20, false),
            Agent::Ours => sb.ours("stop", STOCK),
        };
        let start = match agent {
            Agent::Upstream => upstream(&sb, "start", STOCK, 8, false),
            Agent::Ours => sb.ours("start", STOCK),
        };
        note(format!(
            "{agent:?} after the main httpd was killed: monitor rc {}, stop rc {}, start rc {} ({:.1} s)",
            mon.code,
            stop.code,
            start.code,
            start.elapsed.as_secs_f64()
        ));
        match agent {
            // Upstream: monitor says 7 ("cleanly stopped") while the orphaned children still
            // hold port 80 (a start without stop fails: see port_taken_by_another_process).
            // Its stop finds them only with `pkill -f "$HTTPD.*$CONFIGFILE"`, a pattern that
            // matches any instance with the same binary and configuration path.
            Agent::Upstream => {
                mon.expect(7);
            }
            // Ours: "not running but N of its processes remain" → 1; stop removes them and a
            // new start works.
            Agent::Ours => {
                mon.expect_reason(1, "processes remain");
                stop.expect(0);
                start.expect(0);
            }
        };
        cleanup(&sb, STOCK);
    }
}

#[test]
fn hung_server() {
    let sb = Sandbox::new("apdhung");
    sb.ours("start", STOCK).expect(0);
    for p in sb.apache_pids() {
        std::process::Command::new("kill").args(["-STOP", &p.to_string()]).status().unwrap();
    }
    let up = upstream(&sb, "monitor", STOCK, 5, false);
    let ours = sb.agent(Agent::Ours, "monitor", STOCK, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    show("SIGSTOPped httpd: monitor (5 s timeout)", &up, &ours);
    // Upstream: the status fetch has no timeout of its own; Pacemaker kills it, with no reason.
    assert!(killed(&up), "upstream monitor should be killed at its timeout: rc {}", up.code);
    ours.expect_reason(1, "timed out");
    cleanup(&sb, STOCK);
}

#[test]
fn https_only_server() {
    let sb = Sandbox::new("apdhttps");
    let (cert, key) = support::make_cert(&sb);
    let conf = CustomConf {
        listen: "127.0.0.1:8443 https".into(),
        extra: format!(
            "LoadModule ssl_module {m}/mod_ssl.so\n<VirtualHost 127.0.0.1:8443>\n  SSLEngine on\n  \
             SSLCertificateFile {c}\n  SSLCertificateKeyFile {k}\n</VirtualHost>\n\
             CustomLog {d}/log/custom-access.log \"%r %>s\"\n",
            m = support::MODULES,
            c = cert,
            k = key,
            d = sb.dir.path().display()
        ),
        ..Default::default()
    }
    .write(&sb);
    let p = [("configfile", conf.to_str().unwrap())];
    let access = sb.path("log/custom-access.log");
    let last =
        || std::fs::read_to_string(&access).unwrap_or_default().lines().last().unwrap_or("").to_string();
    sb.ours("start", &p).expect(0);
    let up = upstream(&sb, "monitor", &p, 20, false);
    let up_saw = last();
    let ours = sb.ours("monitor", &p);
    let ours_saw = last();
    show("https-only server: monitor", &up, &ours);
    note(format!("access log after upstream: {up_saw:?}; after ours: {ours_saw:?}"));
    // Upstream (issue #1556): the status URL is built as http:// and gets httpd's 400 "plain
    // HTTP to an SSL-enabled port"; its fallback header check then accepts any response, so
    // it reports a healthy server without ever having seen the status page.
    assert!(up_saw.ends_with(" 400"), "upstream request: {up_saw}");
    ours.expect(0);
    assert_eq!(ours_saw, "GET /status HTTP/1.1 200");
    cleanup(&sb, &p);
}

#[test]
fn missing_binary_parameter() {
    let sb = Sandbox::new("apdnobin");
    let p = [("configfile", STOCK_CONFIG), ("httpd", "/nonexistent/sbin/httpd")];
    let up = upstream(&sb, "start", &p, 20, false);
    cleanup(&sb, STOCK);
    let ours = sb.ours("start", &p);
    show("httpd=/nonexistent/sbin/httpd: start", &up, &ours);
    // Upstream ignores a missing httpd and silently runs another binary it finds; ours refuses.
    up.expect(0);
    ours.expect_reason(5, "does not exist");
    for agent in [Agent::Upstream, Agent::Ours] {
        sb.probe(agent, &p).expect(7);
    }
}
