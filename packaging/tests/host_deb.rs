//! Host tier: the Debian package, built, linted, installed, exercised and purged (needs root).
//!
//! 1. `packaging/build-deb --with-example` builds the .deb (the example agent is added so at least
//!    one agent is always known to pass everything; the released package never ships it).
//! 2. lintian reports no errors; the file list stays out of heartbeat/ and pacemaker/ and
//!    overlaps with neither resource-agents nor ldirectord; Depends is only what the binaries
//!    link to.
//! 3. `dpkg -i`, then for every installed agent: meta-data valid against ra-api-1.dtd, a probe
//!    returns 7, `ocf-tester` passes where this kernel allows it (IPaddr2 and apache in network
//!    namespaces), the man page renders without warnings, `crm ra list ocf rha` and
//!    `pcs resource agents ocf:rha` list it, `pcs resource describe` and `crm ra info` show it.
//! 4. `dpkg -r` and `dpkg -P` leave nothing behind.
//!
//! Everything that touches /run (the package's /run/rha, the agents' state, apache's pid file,
//! network namespaces) happens in a private mount namespace with its own /run, so the test
//! never disturbs other tests using /run/rha on the same machine, and a crash leaves nothing
//! there. No address is ever added in the root network namespace. The package is purged on
//! every exit path (a Drop guard).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const PACKAGE: &str = "rha-resource-agents";
const OCF_DIR: &str = "/usr/lib/ocf/resource.d/rha";
const DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";
const DOC_DIR: &str = "/usr/share/doc/rha-resource-agents";
const RUN_DIR: &str = "/run/rha";

/// Agents whose real work needs the VM tier's kernel (IPVS, md, nfsd): here only meta-data and
/// a probe are checked; they run through ocf-tester in the VM tier.
const VM_KERNEL_AGENTS: &[&str] = &["ipvs-service", "ldirectord", "mdraid", "nfs-export", "nfs-server"];

// ---------------------------------------------------------------------------------------------
// Commands

/// A finished command, for assertions and messages.
struct Ran {
    line: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
    fn show(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.code,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
    #[track_caller]
    fn expect_ok(self) -> Ran {
        assert!(self.ok(), "{}", self.show());
        self
    }
}

/// Runs `argv` under `timeout(1)` (a hung tool fails the test instead of hanging the run).
fn run_env(argv: &[&str], env: &[(&str, &str)], clear_env: bool, limit: Duration) -> Ran {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=10", &format!("{}", limit.as_secs())]).args(argv);
    if clear_env {
        cmd.env_clear();
    }
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    let out: Output = cmd.output().unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    Ran {
        line: argv.join(" "),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(argv: &[&str]) -> Ran {
    run_env(argv, &[], false, Duration::from_secs(120))
}

fn have(tool: &str) -> bool {
    run(&["sh", "-c", &format!("command -v {tool}")]).ok()
}

// ---------------------------------------------------------------------------------------------
// A private mount namespace with its own /run

/// A process that holds a mount namespace whose /run is a fresh tmpfs (set up like a booted
/// system's by systemd-tmpfiles); commands enter it with `nsenter -m`. It ends when dropped, or
/// when its stdin closes because the test process died, which releases everything mounted in
/// it (network namespaces included).
struct RunNs {
    child: Child,
}

impl RunNs {
    fn new() -> RunNs {
        let script = "mount -t tmpfs -o mode=0755,size=64m rha-deb-run /run \
             && mkdir -m 1777 /run/lock \
             && { systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1 || true; } \
             && echo ready && read -r _";
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux)");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
        let ns = RunNs { child };
        assert_eq!(line.trim(), "ready", "could not set up a private /run");
        ns
    }

    /// `argv` inside the namespace.
    fn run(&self, argv: &[&str], limit: Duration) -> Ran {
        self.run_env(argv, &[], limit)
    }

    fn run_env(&self, argv: &[&str], env: &[(&str, &str)], limit: Duration) -> Ran {
        let pid = self.child.id().to_string();
        let mut full = vec!["nsenter", "-t", pid.as_str(), "-m", "--"];
        full.extend_from_slice(argv);
        run_env(&full, env, false, limit)
    }

    fn exists(&self, path: &str) -> bool {
        self.run(&["test", "-e", path], Duration::from_secs(10)).ok()
    }
}

impl Drop for RunNs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NETNS_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace created inside a [`RunNs`] (so its name lives in the private /run);
/// its processes are killed and it is deleted on drop.
struct Netns<'a> {
    ns: &'a RunNs,
    name: String,
}

impl<'a> Netns<'a> {
    fn new(ns: &'a RunNs) -> Netns<'a> {
        let name =
            format!("rha-{}-{}-deb", std::process::id(), NETNS_COUNTER.fetch_add(1, Ordering::Relaxed));
        ns.run(&["ip", "netns", "add", &name], Duration::from_secs(30)).expect_ok();
        let n = Netns { ns, name };
        n.ip(&["link", "set", "lo", "up"]);
        n
    }

    fn ip(&self, args: &[&str]) {
        let mut argv = vec!["ip", "-n", self.name.as_str()];
        argv.extend_from_slice(args);
        self.ns.run(&argv, Duration::from_secs(30)).expect_ok();
    }

    /// A veth pair `eth0`/`eth1` inside the namespace, with `addr` on eth0 (documentation
    /// ranges only).
    fn with_nic(self, addr: &str) -> Self {
        assert!(addr.starts_with("198.51.100.") || addr.starts_with("203.0.113."), "{addr}");
        self.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
        self.ip(&["link", "set", "eth0", "up"]);
        self.ip(&["link", "set", "eth1", "up"]);
        self.ip(&["addr", "add", addr, "dev", "eth0"]);
        self
    }

    fn run(&self, argv: &[&str], limit: Duration) -> Ran {
        let mut full = vec!["ip", "netns", "exec", self.name.as_str()];
        full.extend_from_slice(argv);
        self.ns.run(&full, limit)
    }
}

impl Drop for Netns<'_> {
    fn drop(&mut self) {
        let script =
            format!("for p in $(ip netns pids {0}); do kill -9 $p; done; ip netns del {0}", self.name);
        let _ = self.ns.run(&["sh", "-c", &script], Duration::from_secs(30));
    }
}

// ---------------------------------------------------------------------------------------------
// dpkg

/// dpkg in the private /run, waiting while another dpkg/apt holds the lock.
fn dpkg(ns: &RunNs, args: &[&str]) -> Ran {
    let mut argv = vec!["dpkg"];
    argv.extend_from_slice(args);
    for _ in 0..60 {
        let r = ns.run(&argv, Duration::from_secs(600));
        let busy = r.stderr.contains("locked by another process") || r.stderr.contains("is locked");
        if r.ok() || !busy {
            return r;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    panic!("dpkg lock stayed busy for 5 minutes");
}

/// Purges the package on every exit path.
struct Installed<'a> {
    ns: &'a RunNs,
    armed: bool,
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        if self.armed {
            let r = dpkg(self.ns, &["--purge", PACKAGE]);
            if !r.ok() {
                eprintln!("cleanup: {}", r.show());
            }
        }
    }
}

fn package_status() -> String {
    let r = run(&["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE]);
    if r.ok() { r.stdout.trim().to_string() } else { "not-installed".into() }
}

// ---------------------------------------------------------------------------------------------
// Per-agent checks

/// Runs a command somewhere (in the private /run, or in a network namespace inside it).
type Runner<'a> = &'a dyn Fn(&[&str]) -> Ran;

/// The environment Pacemaker gives an agent (the parts that matter here).
const AGENT_ENV: &[(&str, &str)] = &[
    ("OCF_ROOT", "/usr/lib/ocf"),
    ("OCF_RA_VERSION_MAJOR", "1"),
    ("OCF_RA_VERSION_MINOR", "0"),
    ("OCF_RESOURCE_INSTANCE", "rha-deb-probe"),
];

/// meta-data (OCF 1.0, the dialect ocf-tester checks) validates against ra-api-1.dtd and names
/// the agent as installed.
fn check_meta_data(agent: &str) {
    let path = format!("{OCF_DIR}/{agent}");
    let md = run_env(&[&path, "meta-data"], AGENT_ENV, true, Duration::from_secs(20)).expect_ok();
    assert!(md.stdout.contains(&format!("<resource-agent name=\"{agent}\"")), "{}", md.show());
    let file = std::env::temp_dir().join(format!("rha-deb-{}-{agent}.xml", std::process::id()));
    std::fs::write(&file, &md.stdout).unwrap();
    let v = run(&["xmllint", "--noout", "--dtdvalid", DTD, file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    v.expect_ok();
}

/// A probe (monitor without interval, empty environment) where nothing runs: 7.
fn check_probe(agent: &str, params: &[(&str, &str)], runner: Runner<'_>) {
    let mut argv: Vec<String> = vec!["env".into(), "-i".into()];
    argv.extend(AGENT_ENV.iter().map(|(k, v)| format!("{k}={v}")));
    argv.push("OCF_RESKEY_CRM_meta_interval=0".into());
    argv.extend(params.iter().map(|(k, v)| format!("OCF_RESKEY_{k}={v}")));
    argv.extend([format!("{OCF_DIR}/{agent}"), "monitor".into()]);
    let r = runner(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, Some(7), "probe of {agent} should return 7 (not running)\n{}", r.show());
}

fn ocf_tester(agent: &str, params: &[(&str, &str)], runner: Runner<'_>) {
    let path = format!("{OCF_DIR}/{agent}");
    let name = format!("rha-deb-{}", agent.to_lowercase());
    let opts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut argv = vec!["ocf-tester", "-n", name.as_str()];
    for o in &opts {
        argv.extend_from_slice(&["-o", o.as_str()]);
    }
    argv.push(&path);
    let r = runner(&argv);
    eprintln!("ocf-tester {agent}: {}", r.stdout.lines().last().unwrap_or(""));
    assert!(r.ok(), "ocf-tester failed for {agent}\n{}", r.show());
}

/// How each agent is run through ocf-tester on this host.
fn exercise_agent(ns: &RunNs, agent: &str) {
    let long = Duration::from_secs(300);
    match agent {
        "example" => {
            check_probe(agent, &[], &|argv| ns.run(argv, long));
            ocf_tester(agent, &[], &|argv| ns.run(argv, long));
        }
        "IPaddr2" => {
            // Only inside a namespace with its own nic: never an address in the root namespace.
            let net = Netns::new(ns).with_nic("198.51.100.1/24");
            let params = [("ip", "198.51.100.10"), ("cidr_netmask", "24"), ("nic", "eth0")];
            check_probe(agent, &params, &|argv| net.run(argv, long));
            ocf_tester(agent, &params, &|argv| net.run(argv, long));
        }
        "apache" => {
            // Debian's stock apache2 configuration, listening on port 80 of its own namespace;
            // its pid and lock files live in the private /run.
            let net = Netns::new(ns);
            let params = [("configfile", "/etc/apache2/apache2.conf")];
            check_probe(agent, &params, &|argv| net.run(argv, long));
            ocf_tester(agent, &params, &|argv| net.run(argv, long));
        }
        a if VM_KERNEL_AGENTS.contains(&a) => {
            let net = Netns::new(ns);
            check_probe(agent, &[], &|argv| net.run(argv, long));
            eprintln!(
                "{agent}: meta-data and probe checked; ocf-tester runs in the VM tier (needs its kernel)"
            );
        }
        other => panic!(
            "no host-tier recipe for the new agent {other:?}: add one to exercise_agent() in \
             packaging/tests/host_deb.rs (parameters for ocf-tester, or VM_KERNEL_AGENTS)"
        ),
    }
}

/// The man page renders without any warning from man/groff (as lintian runs it, and plainly).
fn check_man_page(agent: &str) {
    let page = format!("/usr/share/man/man7/ocf_rha_{agent}.7.gz");
    assert!(Path::new(&page).is_file(), "{page} missing");
    let env = [("LC_ALL", "C.UTF-8"), ("MANWIDTH", "80"), ("MAN_DISABLE_SECCOMP", "1")];
    let lintian_way = run_env(
        &["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", &page],
        &env,
        false,
        Duration::from_secs(60),
    )
    .expect_ok();
    assert!(lintian_way.stderr.trim().is_empty(), "man warnings for {page}:\n{}", lintian_way.stderr);
    let text = run_env(&["man", "--warnings", "-l", &page], &env, false, Duration::from_secs(60)).expect_ok();
    assert!(text.stderr.trim().is_empty(), "man warnings for {page}:\n{}", text.stderr);
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "SUPPORTED PARAMETERS", "SUPPORTED ACTIONS", "EXAMPLE"]
    {
        assert!(text.stdout.contains(section), "{page} has no {section}:\n{}", text.stdout);
    }
    assert!(text.stdout.contains(&format!("ocf:rha:{agent}")), "{}", text.stdout);
}

// ---------------------------------------------------------------------------------------------
// The package's contents

fn deb_files(deb: &Path) -> Vec<String> {
    let list =
        run(&["sh", "-c", &format!("dpkg-deb --fsys-tarfile '{}' | tar -t", deb.display())]).expect_ok();
    list.stdout
        .lines()
        .map(|l| l.trim_start_matches('.').to_string())
        .filter(|l| !l.is_empty() && l != "/")
        .collect()
}

fn control_field(deb: &Path, field: &str) -> String {
    run(&["dpkg-deb", "-f", deb.to_str().unwrap(), field]).expect_ok().stdout.trim().to_string()
}

fn check_contents(deb: &Path) -> BTreeSet<String> {
    let files = deb_files(deb);
    let allowed = [
        "/usr/lib/ocf/resource.d/rha/",
        "/usr/sbin/rha-",
        "/usr/share/man/man7/ocf_rha_",
        "/usr/share/man/man8/rha-",
        "/usr/share/man/man5/rha-",
        "/usr/share/doc/rha-resource-agents/",
        "/usr/lib/tmpfiles.d/rha-resource-agents.conf",
        "/usr/share/lintian/overrides/rha-resource-agents",
    ];
    let mut agents = BTreeSet::new();
    for f in files.iter().filter(|f| !f.ends_with('/')) {
        assert!(allowed.iter().any(|a| f.starts_with(a)), "unexpected file in the package: {f}");
        if let Some(a) = f.strip_prefix("/usr/lib/ocf/resource.d/rha/") {
            agents.insert(a.to_string());
        }
    }
    assert!(!files.iter().any(|f| f.contains("resource.d/heartbeat") || f.contains("resource.d/pacemaker")));
    for a in &agents {
        assert!(files.contains(&format!("/usr/share/man/man7/ocf_rha_{a}.7.gz")), "no man page for {a}");
    }
    // Every daemon and tool has its page; rha-ldirectord has one for its ldirectord.cf dialect too.
    for f in files.iter().filter_map(|f| f.strip_prefix("/usr/sbin/")).filter(|f| !f.is_empty()) {
        assert!(files.contains(&format!("/usr/share/man/man8/{f}.8.gz")), "no man page for /usr/sbin/{f}");
    }
    if files.contains(&"/usr/sbin/rha-ldirectord".to_string()) {
        assert!(
            files.contains(&"/usr/share/man/man5/rha-ldirectord.cf.5.gz".to_string()),
            "no rha-ldirectord.cf(5)"
        );
    }
    // Coexistence: no file shared with Debian's resource-agents or ldirectord (directories may be).
    for other in ["resource-agents", "ldirectord"] {
        let r = run(&["dpkg-query", "-L", other]);
        assert!(
            r.ok(),
            "{other} is not installed (tests/install-deps installs it): overlap with it cannot be checked"
        );
        let theirs: BTreeSet<&str> = r.stdout.lines().filter(|p| !Path::new(p).is_dir()).collect();
        let clash: Vec<&String> = files.iter().filter(|f| theirs.contains(f.as_str())).collect();
        assert!(clash.is_empty(), "files also in {other}: {clash:?}");
    }
    // Relations: only what the binaries link to is a hard dependency, and nothing conflicts.
    let depends = control_field(deb, "Depends");
    for word in ["pacemaker", "apache2", "mdadm", "nfs-kernel-server", "ipvsadm", "resource-agents"] {
        assert!(!depends.contains(word), "Depends must not name {word}: {depends}");
    }
    assert!(depends.contains("libc6"), "Depends: {depends}");
    for field in ["Conflicts", "Breaks", "Replaces"] {
        assert_eq!(control_field(deb, field), "", "{field} must not be set");
    }
    assert!(control_field(deb, "Recommends").contains("pacemaker"));
    agents
}

// ---------------------------------------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn host_deb() {
    let uid = run(&["id", "-u"]).stdout.trim().to_string();
    assert_eq!(uid, "0", "the host tier runs as root (it installs a package)");
    for tool in [
        "dpkg-deb",
        "lintian",
        "ocf-tester",
        "xmllint",
        "crm",
        "pcs",
        "man",
        "unshare",
        "nsenter",
        "ip",
        "timeout",
    ] {
        assert!(
            have(tool),
            "{tool} is missing: install pacemaker pcs crmsh resource-agents libxml2-utils lintian man-db"
        );
    }
    assert!(Path::new(DTD).is_file(), "{DTD} is missing (resource-agents)");

    // 1. Build.
    let out = tempfile::tempdir().unwrap();
    let build = run_env(
        &[
            workspace_root().join("packaging/build-deb").to_str().unwrap(),
            "--with-example",
            "--outdir",
            out.path().to_str().unwrap(),
        ],
        &[],
        false,
        Duration::from_secs(3600),
    )
    .expect_ok();
    let deb = PathBuf::from(build.stdout.lines().last().expect("build-deb printed the .deb path"));
    assert!(deb.is_file(), "{}", deb.display());
    let arch = run(&["dpkg", "--print-architecture"]).expect_ok().stdout.trim().to_string();
    assert!(deb.file_name().unwrap().to_str().unwrap().ends_with(&format!("_{arch}.deb")));

    // 2. lintian and the file list.
    let lint = run_env(
        &["lintian", "--fail-on", "error", deb.to_str().unwrap()],
        &[],
        false,
        Duration::from_secs(600),
    );
    eprintln!("lintian:\n{}{}", lint.stdout, lint.stderr);
    assert!(lint.ok(), "lintian reports errors\n{}", lint.show());
    assert!(!lint.stdout.lines().any(|l| l.starts_with("E:")), "{}", lint.stdout);
    let agents = check_contents(&deb);
    assert!(agents.contains("example"), "the test package carries the example agent");

    // 3. Install into the real system, with /run private to this test.
    let ns = RunNs::new();
    if package_status() != "not-installed" {
        eprintln!("note: {PACKAGE} was installed before this test; it is replaced and purged");
    }
    let mut installed = Installed { ns: &ns, armed: true };
    dpkg(&ns, &["-i", deb.to_str().unwrap()]).expect_ok();
    assert_eq!(package_status(), "installed");
    assert!(ns.exists(RUN_DIR), "postinst did not create {RUN_DIR}");
    let mode = ns.run(&["stat", "-c", "%a %U %G", RUN_DIR], Duration::from_secs(10)).expect_ok();
    assert_eq!(mode.stdout.trim(), "755 root root");

    let on_disk: BTreeSet<String> = std::fs::read_dir(OCF_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, agents, "installed agents differ from the package's list");

    let crm_list = ns.run(&["crm", "ra", "list", "ocf", "rha"], Duration::from_secs(120)).expect_ok();
    let crm_listed: BTreeSet<&str> = crm_list.stdout.split_whitespace().collect();
    let pcs_list = ns.run(&["pcs", "resource", "agents", "ocf:rha"], Duration::from_secs(120)).expect_ok();
    let pcs_listed: BTreeSet<&str> = pcs_list.stdout.split_whitespace().collect();

    for agent in &agents {
        eprintln!("== {agent}");
        assert!(
            crm_listed.contains(agent.as_str()),
            "crm ra list ocf rha misses {agent}:\n{}",
            crm_list.stdout
        );
        assert!(
            pcs_listed.contains(agent.as_str()),
            "pcs resource agents ocf:rha misses {agent}:\n{}",
            pcs_list.stdout
        );
        let spec = format!("ocf:rha:{agent}");
        let describe = ns.run(&["pcs", "resource", "describe", &spec], Duration::from_secs(120)).expect_ok();
        assert!(describe.stdout.starts_with(&format!("{spec} - ")), "{}", describe.show());
        let info = ns.run(&["crm", "ra", "info", &spec], Duration::from_secs(120)).expect_ok();
        assert!(info.stdout.contains(&spec), "{}", info.show());
        check_meta_data(agent);
        check_man_page(agent);
        exercise_agent(&ns, agent);
    }

    // 4. Remove, then purge: nothing may remain.
    dpkg(&ns, &["-r", PACKAGE]).expect_ok();
    let shipped: Vec<String> = deb_files(&deb).into_iter().filter(|f| !f.ends_with('/')).collect();
    let leftovers = |stage: &str| {
        for dir in [OCF_DIR, DOC_DIR] {
            assert!(!Path::new(dir).exists(), "{dir} left after {stage}");
        }
        assert!(!ns.exists(RUN_DIR), "{RUN_DIR} left after {stage}");
        let left: Vec<&String> = shipped.iter().filter(|f| Path::new(f).exists()).collect();
        assert!(left.is_empty(), "files left after {stage}: {left:?}");
    };
    leftovers("dpkg -r");
    dpkg(&ns, &["-P", PACKAGE]).expect_ok();
    leftovers("dpkg -P");
    assert_eq!(package_status(), "not-installed");
    let info_files = run(&["sh", "-c", &format!("ls /var/lib/dpkg/info/{PACKAGE}.* 2>/dev/null")]);
    assert!(info_files.stdout.trim().is_empty(), "dpkg still has {}", info_files.stdout);
    installed.armed = false;
}
