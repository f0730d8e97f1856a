//! Host tier: what ocf:rha:ldirectord answers on any kernel, with or without IPVS (this build
//! machine's has none): meta-data against the DTD, validate-all naming file:line, a node
//! without the configuration file or the daemon's binary (probe 7, stop 0, start and
//! validate-all 5), start failing cleanly (6 for a bad configuration, 5 without IPVS) and
//! leaving nothing, a stale pid file naming someone else's live process (1, never killed).
//! Every agent run is in a network namespace of its own, so a kernel that can load ip_vs
//! never gets an entry in the machine's table. Needs root, iproute2, libxml2-utils,
//! resource-agents (the DTD) and `cargo build -p rha-ldirectord`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Instance, agent_path, daemon_name, daemon_path};
use rha_harness::netns::Netns;

const GOOD: &str = "checktimeout=3\ncheckinterval=1\nquiescent=no\n\n\
virtual=198.51.100.10:80\n\treal=203.0.113.2:80 masq 3\n\treal=203.0.113.3:80 masq 1\n\
\tservice=http\n\trequest=\"/\"\n\tscheduler=wrr\n\tprotocol=tcp\n\tchecktype=negotiate\n";

fn require(path: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: run tests/install-deps (this test never skips)");
}

fn ns() -> Netns {
    Netns::new("ldagent").expect("creating a network namespace (run as root)")
}

/// A configuration file with a name of its own (the daemon's instance name is its base name).
fn config(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(format!("{name}-{}.cf", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn xmllint_valid(xml: &[u8]) -> std::process::Output {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--valid", "-"])
        .current_dir("/usr/share/resource-agents")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xmllint (libxml2-utils)");
    child.stdin.take().unwrap().write_all(xml).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn meta_data_is_valid_and_works_as_nobody() {
    require("/usr/share/resource-agents/ra-api-1.dtd");
    let dir = tempfile::tempdir().unwrap();
    let i = Instance::new("md", &dir.path().join("x.cf"));
    let o = i.run("meta-data");
    o.expect(0);
    let v = xmllint_valid(o.stdout.as_bytes());
    assert!(v.status.success(), "meta-data fails ra-api-1.dtd: {}", String::from_utf8_lossy(&v.stderr));
    for needle in [
        "<resource-agent name=\"ldirectord\"",
        "<parameter name=\"configfile\" required=\"0\" unique=\"1\">",
        "default=\"/etc/ha.d/ldirectord.cf\"",
        "<parameter name=\"ldirectord\"",
        "default=\"/usr/sbin/rha-ldirectord\"",
        "depth=\"10\"",
    ] {
        assert!(o.stdout.contains(needle), "meta-data lacks {needle}:\n{}", o.stdout);
    }
    let o = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c"])
        .arg(format!("env -i {} meta-data", agent_path()))
        .output()
        .unwrap();
    assert!(o.status.success(), "meta-data as nobody: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn validate_all_names_the_first_error_as_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let n = ns();
    let good = config(dir.path(), "good", GOOD);
    Instance::new("v", &good).netns(n.name()).run("validate-all").expect(0);
    for (name, text, line, what) in [
        ("unknown", "checkinterval=1\nbogus=1\n", 2, "unknown directive \"bogus\""),
        ("real", "virtual=198.51.100.10:80\n\treal=203.0.113.2:80 masq x\n", 2, "weight"),
        ("deprecated", "timeout=3\n", 1, "deprecated"),
        ("outside", "\treal=203.0.113.2:80\n", 1, "outside a virtual section"),
        (
            "dup",
            "virtual=198.51.100.10:80\n\treal=203.0.113.2:80 masq\nvirtual=198.51.100.10:80\n",
            3,
            "duplicate",
        ),
    ] {
        let cf = config(dir.path(), name, text);
        let o = Instance::new("v", &cf).netns(n.name()).run("validate-all");
        o.expect_reason(6, &format!("{}:{line}: ", cf.display()));
        assert!(o.why().contains(what), "{name}: {o}");
        // start says the same, before it runs anything.
        Instance::new("v", &cf)
            .netns(n.name())
            .start()
            .expect_reason(6, &format!("{}:{line}: ", cf.display()));
    }
}

#[test]
fn a_node_without_the_file_or_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let n = ns();
    let missing = Instance::new("m", &dir.path().join("nosuch.cf")).netns(n.name());
    missing.probe().expect(7);
    missing.stop().expect(0);
    missing.start().expect_reason(5, "nosuch.cf does not exist");
    missing.run("validate-all").expect_reason(5, "nosuch.cf does not exist");
    // A recurring monitor of a started resource whose file vanished fails softly.
    missing.monitor().expect(1);
    // A relative name is looked up as the daemon does (/etc/ha.d, /etc/ha.d/conf) and says so.
    Instance::new("m", Path::new("rha-surely-absent.cf"))
        .netns(n.name())
        .start()
        .expect_reason(5, "/etc/ha.d/conf/rha-surely-absent.cf");
    let good = config(dir.path(), "nobin", GOOD);
    let nobin = Instance::new("b", &good).netns(n.name()).param("ldirectord", "/nonexistent/rha-ldirectord");
    nobin.probe().expect(7);
    nobin.stop().expect(0);
    nobin.start().expect_reason(5, "/nonexistent/rha-ldirectord");
    nobin.run("validate-all").expect_reason(5, "/nonexistent/rha-ldirectord");
}

#[test]
fn start_without_ipvs_fails_cleanly_and_leaves_nothing() {
    // This machine's kernel has no IPVS (the VM tier tests the other case).
    assert!(!Path::new("/proc/net/ip_vs").exists(), "this host test expects a kernel without IPVS");
    let dir = tempfile::tempdir().unwrap();
    let n = ns();
    let cf = config(dir.path(), "noipvs", GOOD);
    let i = Instance::new("n", &cf).netns(n.name());
    i.start().expect_reason(5, "IPVS is not available");
    let name = daemon_name(&cf);
    for p in [
        format!("/run/ldirectord.{name}.pid"),
        format!("/run/rha-ldirectord/{name}.status"),
        format!("/run/rha-ldirectord/{name}.owned"),
    ] {
        assert!(!Path::new(&p).exists(), "{p} left after a failed start");
    }
    i.probe().expect(7);
    i.monitor().expect_reason(7, "not running");
    i.stop().expect(0);
    i.stop().expect(0);
}

#[test]
fn a_stale_pid_file_naming_another_live_process_fails_monitor_and_is_never_killed() {
    let dir = tempfile::tempdir().unwrap();
    let n = ns();
    let cf = config(dir.path(), "stale", GOOD);
    let name = daemon_name(&cf);
    let pidf = format!("/run/ldirectord.{name}.pid");
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(&pidf, format!("{}\n", sleeper.id())).unwrap();
    let i = Instance::new("s", &cf).netns(n.name());
    i.monitor().expect_reason(1, "not rha-ldirectord");
    i.probe().expect(1);
    i.stop().expect(0);
    assert!(sleeper.try_wait().unwrap().is_none(), "stop killed a process that is not the daemon");
    assert!(!Path::new(&pidf).exists(), "stop leaves the stale pid file");
    i.probe().expect(7);
    // A pid file naming a dead process is simply stale: not running.
    sleeper.kill().unwrap();
    let dead = sleeper.id();
    sleeper.wait().unwrap();
    std::fs::write(&pidf, format!("{dead}\n")).unwrap();
    i.probe().expect(7);
    i.stop().expect(0);
    assert!(!Path::new(&pidf).exists());
    // Upstream's Perl ldirectord for a configuration of the same name uses the same pid file:
    // it is "an ldirectord", but not ours, and is never stopped or killed.
    let mut upstream = Command::new("bash").args(["-c", "exec -a ldirectord sleep 60"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::write(&pidf, format!("{}\n", upstream.id())).unwrap();
    i.monitor().expect_reason(1, "not");
    let o = i.stop();
    o.expect(0);
    assert!(o.stderr.contains("left alone"), "{o}");
    assert!(upstream.try_wait().unwrap().is_none(), "stop killed upstream's ldirectord");
    upstream.kill().unwrap();
    upstream.wait().unwrap();
    let _ = std::fs::remove_file(&pidf);
    let _ = daemon_path();
}

#[test]
fn upstreams_perl_ldirectord_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let n = ns();
    let perl = dir.path().join("ldirectord");
    std::fs::write(&perl, "#!/usr/bin/perl\nexit 0;\n").unwrap();
    std::fs::set_permissions(&perl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cf = config(dir.path(), "perl", GOOD);
    let i = Instance::new("p", &cf).netns(n.name()).param("ldirectord", perl.as_os_str());
    i.run("validate-all").expect_reason(6, "not rha-ldirectord");
    i.start().expect_reason(6, "not rha-ldirectord");
    i.probe().expect(7);
    i.stop().expect(0);
}
