//! VM tier, scenario S5 (../shared/reference/scenarios.md): LVS-DR for DNS, mail and web
//! behind one VIP, driven by rha-ldirectord through its command line against real IPVS.
//!
//! S5 gives no ldirectord.cf, only its services, its forwarding and the checks it needs:
//! tests/data/s5-ldirectord.cf writes that description as one (its header says what was
//! chosen: the timers, and the test servers' DNS name and POP3 login). The network, mapped
//! onto the test ranges: director .5 with the VIP 198.51.100.110/32 on `eth0:0` (S5's
//! alias), three real servers .21–.23 (as crm-examples/s5-lvs-dr-multiservice.crm) with the VIP /32 on `lo` and ARP suppressed
//! (`arp_ignore=1`, `arp_announce=2`: S5's source found that without it connections fail),
//! a client .100, all on one segment (DR needs the reals on the director's link). The
//! standby director is not here (the Pacemaker lab's business). Every real server runs, in
//! its own namespace, each with its own configuration under a temp dir: BIND (named) on 53
//! UDP and TCP, Postfix on 25, Dovecot on 110 and 995, Apache on 80, and for S5's "telnet
//! 23 (test only)" a plain TCP listener (no telnetd in the lab; its check is S5's plain TCP
//! connect). Proven:
//! - (a) the IPVS table after `start` is the file's: 7 virtuals, 21 reals, `-g -w 1`,
//!   compared line by line with `ipvsadm -S -n`;
//! - (b) the client gets real answers through the VIP from every real server: dig over UDP
//!   and TCP, the SMTP banner, the POP3 greeting, the POP3S greeting over TLS (openssl
//!   s_client), an HTTP page, the TCP listener's echo;
//! - (c) one server of each kind stopped (named on .21, Postfix and the TCP listener on .22,
//!   Dovecot on .23, Apache on .21) takes exactly that real out of exactly its virtuals
//!   (weight 0; removed for HTTP, which is not quiescent), each within checkinterval +
//!   the check's timeout (+ the emulated guest's slack), while the others keep serving the client;
//!   started again, each comes back within the same bound;
//! - (d) a page that no longer matches receive (Apache on .22) and a changed password
//!   (Dovecot on .23) take those reals down with the check's reason in `status --json`;
//!   fixed, they come back;
//! - stop leaves IPVS empty.

#![cfg(feature = "vm-tier")]

mod common;
#[path = "../../../agents/ipvs-service/tests/common/vmnet.rs"]
mod vmnet;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Apache;
use rha_harness::netns::Netns;
use vmnet::{in_netns, plug, save, switch, sysctl};

const OURS: &str = env!("CARGO_BIN_EXE_rha-ldirectord");
const VIP: &str = "198.51.100.110";
const REALS: [&str; 3] = ["21", "22", "23"];
const USER: &str = "s5check";
const PASS: &str = "s5 check pass";
/// checkinterval + the check's timeout in the file: checktimeout for the plain connect (23),
/// negotiatetimeout for the others.
fn bound(vs: &str) -> Duration {
    Duration::from_secs(if vs == "-t 23" { 5 + 3 } else { 5 + 10 })
}
/// The emulated guest's slack (as vm_s4): 21 checks per round, TLS among them, under TCG.
const SLACK: Duration = Duration::from_secs(5);
const LIMIT: Duration = Duration::from_secs(60);

/// The file's virtuals: ipvsadm's protocol flag, the port, quiescent.
const VIRTUALS: [(&str, u16, bool); 7] = [
    ("-u", 53, true),
    ("-t", 53, true),
    ("-t", 25, true),
    ("-t", 110, true),
    ("-t", 995, true),
    ("-t", 80, false),
    ("-t", 23, true),
];

/// A (virtual, real) pair: "-u 53", "22".
type Pair = (String, String);

fn pair(proto: &str, port: u16, real: &str) -> Pair {
    (format!("{proto} {port}"), real.to_string())
}

/// The `ipvsadm -S -n` lines the file says, with the pairs in `down` failed, sorted.
fn expected(down: &BTreeSet<Pair>) -> Vec<String> {
    let mut v = Vec::new();
    for (proto, port, quiescent) in VIRTUALS {
        v.push(format!("-A {proto} {VIP}:{port} -s rr"));
        for r in REALS {
            let is_down = down.contains(&pair(proto, port, r));
            if is_down && !quiescent {
                continue;
            }
            let w = if is_down { 0 } else { 1 };
            v.push(format!("-a {proto} {VIP}:{port} -r 198.51.100.{r}:{port} -g -w {w}"));
        }
    }
    v.sort();
    v
}

fn table(director: &Netns) -> Vec<String> {
    let mut v: Vec<String> = save(director).lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The weight of each (virtual, real) in IPVS (absent: not in the table).
fn weights(director: &Netns) -> BTreeMap<Pair, u32> {
    let mut m = BTreeMap::new();
    for l in save(director).lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first() != Some(&"-a") {
            continue;
        }
        let port = f[2].rsplit(':').next().unwrap();
        let real = f[4].split(':').next().unwrap().rsplit('.').next().unwrap();
        m.insert((format!("{} {port}", f[1]), real.to_string()), f.last().unwrap().parse().unwrap());
    }
    m
}

/// Waits until IPVS is `expected(want_down)`. `events`: pairs that change in this step,
/// each with the instant its cause happened; returns how long each took to show in IPVS.
/// Any other pair leaving weight 1 on the way fails at once: exactly those reals change.
fn wait_table(
    director: &Netns,
    want_down: &BTreeSet<Pair>,
    events: &BTreeMap<Pair, Instant>,
    what: &str,
) -> BTreeMap<Pair, Duration> {
    let want = expected(want_down);
    let quiescent: BTreeMap<String, bool> =
        VIRTUALS.iter().map(|(p, port, q)| (format!("{p} {port}"), *q)).collect();
    let start = Instant::now();
    let mut took = BTreeMap::new();
    loop {
        let w = weights(director);
        for (p, since) in events {
            if took.contains_key(p) {
                continue;
            }
            let now_state = w.get(p).copied();
            let target =
                if want_down.contains(p) { if quiescent[&p.0] { Some(0) } else { None } } else { Some(1) };
            if now_state == target {
                took.insert(p.clone(), since.elapsed());
            }
        }
        for (p, weight) in &w {
            if *weight != 1 && !want_down.contains(p) && !events.contains_key(p) {
                panic!("{what}: {p:?} has weight {weight}, but nothing of it failed\n{}", save(director));
            }
        }
        for (vs, q) in &quiescent {
            for r in REALS {
                let p = (vs.clone(), r.to_string());
                if !q && !w.contains_key(&p) && !want_down.contains(&p) && !events.contains_key(&p) {
                    panic!("{what}: {p:?} was removed, but nothing of it failed\n{}", save(director));
                }
            }
        }
        if table(director) == want && took.len() == events.len() {
            break;
        }
        assert!(start.elapsed() < LIMIT, "{what}: want\n{}\nIPVS has\n{}", want.join("\n"), save(director));
        std::thread::sleep(Duration::from_millis(200));
    }
    for (p, d) in &took {
        eprintln!("{what}: {} real .{} in {:.1} s", p.0, p.1, d.as_secs_f64());
    }
    took
}

/// Each change within its bound; a late one is recorded (the test fails at its end, after
/// the later phases ran, so one run shows them all).
fn assert_within(took: &BTreeMap<Pair, Duration>, what: &str, late: &mut Vec<String>) {
    for (p, d) in took {
        let b = bound(&p.0);
        if *d > b + SLACK {
            eprintln!("LATE {what}: {p:?} took {d:?}, bound {b:?} (+{SLACK:?})");
            late.push(format!("{what}: {p:?} took {d:?}, bound {b:?} (+{SLACK:?})"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real servers' daemons

/// A server process in a namespace with its own configuration, in the foreground (or adopted
/// by its pid file), stopped by SIGTERM as an administrator would.
struct Proc {
    what: String,
    ns: String,
    command: Vec<String>,
    log: PathBuf,
    pid_file: Option<PathBuf>,
    tcp: Vec<u16>,
    udp: Vec<u16>,
    child: Option<Child>,
}

impl Proc {
    fn new(what: &str, ns: &Netns, command: &[&str], log: &Path, tcp: &[u16], udp: &[u16]) -> Proc {
        Proc {
            what: what.to_string(),
            ns: ns.name().to_string(),
            command: command.iter().map(|s| s.to_string()).collect(),
            log: log.to_path_buf(),
            pid_file: None,
            tcp: tcp.to_vec(),
            udp: udp.to_vec(),
            child: None,
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(&self.command)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.what));
        self.child = Some(child);
    }

    /// Each of its ports has a listener (`up`) or none (`!up`).
    fn ports(&self, up: bool) -> bool {
        let tcp = self.tcp.iter().map(|p| format!("ss -Hltn 'sport = :{p}' | grep -q LISTEN"));
        let udp = self.udp.iter().map(|p| format!("ss -Hlun 'sport = :{p}' | grep -q ."));
        tcp.chain(udp).all(|script| ns_sh(&self.ns, &script) == up)
    }

    /// Waits until all its ports listen; its log on failure.
    fn wait_listening(&mut self) {
        let start = Instant::now();
        while !self.ports(true) {
            if start.elapsed() > LIMIT {
                let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                panic!(
                    "{} not listening on {:?}/{:?} after {LIMIT:?} (its process: {exited:?}); its log:\n{}",
                    self.what,
                    self.tcp,
                    self.udp,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start(&mut self) {
        self.spawn();
        self.wait_listening();
    }

    fn pid(&self) -> Option<i32> {
        match &self.pid_file {
            Some(f) => std::fs::read_to_string(f).ok().and_then(|s| s.trim().parse().ok()),
            None => self.child.as_ref().map(|c| c.id() as i32),
        }
    }

    /// SIGTERM, then waits until its ports are closed (SIGKILL to its group after 30 s).
    fn stop(&mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::Pid;
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let start = Instant::now();
            while !self.ports(false) && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(100));
            }
            if !self.ports(false) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if let Some(mut c) = self.child.take() {
            let start = Instant::now();
            while c.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(30) {
                    let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let start = Instant::now();
        while !self.ports(false) {
            assert!(start.elapsed() < Duration::from_secs(30), "{} still listening after stop", self.what);
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} stopped", self.what);
    }
}

impl Drop for Proc {
    /// Quietly (this may run while a failed test unwinds): SIGKILL to its group; the
    /// namespace's deletion kills whatever is left.
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = self.pid() {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `sh -c script` in namespace `ns`: whether it succeeded.
fn ns_sh(ns: &str, script: &str) -> bool {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_ok(argv: &[&str]) {
    rha_harness::cmd::run_ok(argv).unwrap_or_else(|e| panic!("{argv:?}: {e:#}"));
}

/// named (as the checks library's host test runs it): a zone with `www` (the check's name)
/// and a TXT record `who` naming this real server.
fn named(dir: &Path, ns: &Netns, name: &str, ip: &str) -> Proc {
    mkdir(dir);
    let d = dir.display();
    std::fs::write(
        dir.join("s5.test.zone"),
        format!(
            "$ORIGIN s5.test.\n@ 60 IN SOA ns.s5.test. admin.s5.test. 1 60 60 600 60\n@ 60 IN NS ns.s5.test.\n\
             ns 60 IN A {ip}\nwww 60 IN A 198.51.100.80\nwho 60 IN TXT \"{name}\"\n"
        ),
    )
    .unwrap();
    // listen-on any: the VIP on lo (DR: packets arrive for it) and the real's own address.
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  \
             managed-keys-directory \"{d}\";\n  listen-on port 53 {{ any; }};\n  listen-on-v6 {{ none; }};\n  \
             recursion no;\n  allow-query {{ any; }};\n  dnssec-validation no;\n}};\ncontrols {{ }};\n\
             zone \"s5.test\" {{ type primary; file \"{d}/s5.test.zone\"; }};\n"
        ),
    )
    .unwrap();
    let conf = format!("{d}/named.conf");
    Proc::new(
        &format!("named on {name}"),
        ns,
        &["named", "-g", "-n", "1", "-c", &conf],
        &dir.join("named.log"),
        &[53],
        &[53],
    )
}

const MASTER_CF: &str = "\
smtp       inet  n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
local      unix  - n n - - local
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
";

/// Postfix (`postfix -c <dir> start-fg`, as the checks library's host test), its banner
/// naming this real server; adopted by the master's pid file.
fn postfix(dir: &Path, ns: &Netns, name: &str) -> Proc {
    for sub in ["", "conf", "queue", "data"] {
        mkdir(&dir.join(sub));
    }
    let d = dir.display();
    run_ok(&["chown", "postfix", &format!("{d}/data")]);
    std::fs::write(
        dir.join("conf/main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             myhostname = {name}.s5.test\nmydestination =\nalias_maps =\nalias_database =\n\
             mynetworks = 127.0.0.0/8\ninet_interfaces = all\ninet_protocols = ipv4\n\
             smtpd_banner = $myhostname ESMTP Postfix (rha s5)\nmaillog_file = {d}/maillog\nmaillog_file_prefixes = {d}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("conf/master.cf"), MASTER_CF).unwrap();
    let conf = format!("{d}/conf");
    let mut p = Proc::new(
        &format!("postfix on {name}"),
        ns,
        &["postfix", "-c", &conf, "start-fg"],
        // Its log file (postfix-script's output goes there too; the file's directory must be
        // in maillog_file_prefixes, or postfix exits 1 without a word).
        &dir.join("maillog"),
        &[25],
        &[],
    );
    p.pid_file = Some(dir.join("queue/pid/master.pid"));
    p
}

/// Dovecot (`dovecot -F -c <conf>`, as the checks library's host test): POP3 on 110 (logins
/// over STLS), POP3S on 995, a passwd-file user, its greeting naming this real server.
fn dovecot(dir: &Path, ns: &Netns, name: &str, cert: &Path) -> Proc {
    for sub in ["", "run", "state", "mail"] {
        mkdir(&dir.join(sub));
    }
    let d = dir.display();
    run_ok(&["chown", "nobody:nogroup", &format!("{d}/mail")]);
    std::fs::write(dir.join("users"), format!("{USER}:{{PLAIN}}{PASS}\n")).unwrap();
    let c = cert.display();
    std::fs::write(
        dir.join("dovecot.conf"),
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = pop3\nlisten = *\nlogin_greeting = {name} ready.\nauth_failure_delay = 0\n\
             ssl = yes\nssl_cert = <{c}/cert.pem\nssl_key = <{c}/key.pem\n\
             mail_location = maildir:{d}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
             service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 110\n  }}\n  \
             inet_listener pop3s {{\n    port = 995\n    ssl = yes\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let conf = format!("{d}/dovecot.conf");
    Proc::new(
        &format!("dovecot on {name}"),
        ns,
        &["dovecot", "-F", "-c", &conf],
        &dir.join("dovecot.out"),
        &[110, 995],
        &[],
    )
}

// ---------------------------------------------------------------------------------------------
// The client's side

/// `dig +short` through the VIP from the client namespace: its answer, or why not.
fn dig(client: &Netns, tcp: bool, name: &str, qtype: &str) -> String {
    let at = format!("@{VIP}");
    let mut argv = vec!["dig", "+short", "+time=3", "+tries=1", &at, name, qtype];
    if tcp {
        argv.push("+tcp");
    }
    let o = client.cmd(&argv).timeout(Duration::from_secs(20)).run().unwrap();
    if o.success() { o.stdout.trim().trim_matches('"').to_string() } else { format!("error: {}", o.stdout) }
}

/// The first line a TCP server sends through the VIP (after `send`, if any).
fn first_line(client: &Netns, port: u16, send: Option<&'static str>) -> String {
    let addr: SocketAddr = format!("{VIP}:{port}").parse().unwrap();
    in_netns(client.name(), move || {
        let t = Duration::from_secs(10);
        let mut s = match TcpStream::connect_timeout(&addr, t) {
            Ok(s) => s,
            Err(e) => return format!("error: connect: {e}"),
        };
        let _ = s.set_read_timeout(Some(t));
        if let Some(line) = send {
            let _ = s.write_all(line.as_bytes());
        }
        let mut r = BufReader::new(s);
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(_) => line.trim_end().to_string(),
            Err(e) => format!("error: read: {e}"),
        }
    })
}

/// The POP3S greeting through the VIP, over TLS (openssl s_client; the certificate is
/// self-signed, so verification is reported and not enforced, as a mail client told to trust).
fn pop3s_greeting(client: &Netns) -> String {
    let o = client
        .cmd(&["sh", "-c", &format!("printf 'QUIT\\r\\n' | openssl s_client -quiet -connect {VIP}:995")])
        .timeout(Duration::from_secs(20))
        .run()
        .unwrap();
    o.stdout.lines().find(|l| l.starts_with("+OK")).unwrap_or("error: no greeting").trim().to_string()
}

/// One page's body through the VIP (HTTP/1.0).
fn page(client: &Netns) -> String {
    let addr: SocketAddr = format!("{VIP}:80").parse().unwrap();
    in_netns(client.name(), move || {
        use std::io::Read;
        let t = Duration::from_secs(10);
        let mut s = match TcpStream::connect_timeout(&addr, t) {
            Ok(s) => s,
            Err(e) => return format!("error: connect: {e}"),
        };
        let _ = s.set_read_timeout(Some(t));
        let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: s5\r\n\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        match answer.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_string(),
            _ => format!("error: {answer:?}"),
        }
    })
}

/// Every protocol through the VIP, `n` times each: which real server answered each, per
/// protocol (the name in its answer), with any answer that was not the expected kind failing.
fn answers(client: &Netns, n: usize) -> BTreeMap<&'static str, Vec<String>> {
    let mut m: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let name_in = |s: &str| -> String {
        REALS
            .iter()
            .map(|r| format!("real-{r}"))
            .find(|r| s.contains(r.as_str()))
            .unwrap_or_else(|| format!("unexpected: {s}"))
    };
    // The check's name, over both (before the round-robin count: each query is a connection).
    for tcp in [false, true] {
        let a = dig(client, tcp, "www.s5.test", "A");
        assert_eq!(a, "198.51.100.80", "dig A (tcp {tcp}) through the VIP");
    }
    for _ in 0..n {
        for tcp in [false, true] {
            let who = dig(client, tcp, "who.s5.test", "TXT");
            m.entry(if tcp { "dns/tcp" } else { "dns/udp" }).or_default().push(name_in(&who));
        }
        let b = first_line(client, 25, None);
        assert!(b.starts_with("220 ") && b.ends_with("ESMTP Postfix (rha s5)"), "SMTP banner: {b:?}");
        m.entry("smtp").or_default().push(name_in(&b));
        let g = first_line(client, 110, None);
        assert!(g.starts_with("+OK real-") && g.ends_with(" ready."), "POP3 greeting: {g:?}");
        m.entry("pop3").or_default().push(name_in(&g));
        let g = pop3s_greeting(client);
        assert!(g.starts_with("+OK real-") && g.ends_with(" ready."), "POP3S greeting: {g:?}");
        m.entry("pop3s").or_default().push(name_in(&g));
        let p = page(client);
        m.entry("http").or_default().push(name_in(&p));
        let e = first_line(client, 23, Some("hello\n"));
        assert!(e.ends_with(" hello"), "TCP 23 echo: {e:?}");
        m.entry("tcp23").or_default().push(name_in(&e));
    }
    m
}

fn served_by(m: &BTreeMap<&'static str, Vec<String>>, proto: &str) -> BTreeSet<String> {
    m[proto].iter().cloned().collect()
}

/// (state, reason) of a real in `status --json`.
fn real_status(director: &Netns, cf: &str, vs: &str, real: &str) -> (String, String) {
    let o = director.run(&[OURS, cf, "status", "--json"]).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("status --json: {e}: {}", o.stdout));
    for v in j["virtuals"].as_array().unwrap() {
        if v["virtual_service"] != vs {
            continue;
        }
        for r in v["reals"].as_array().unwrap() {
            if r["real"] == real {
                return (
                    r["state"].as_str().unwrap_or("").to_string(),
                    r["reason"].as_str().unwrap_or("").to_string(),
                );
            }
        }
    }
    panic!("{vs} {real} not in status --json: {}", o.stdout);
}

fn all_of<const N: usize>(items: [(&str, u16, &str); N]) -> BTreeSet<Pair> {
    items.iter().map(|(p, port, r)| pair(p, *port, r)).collect()
}

#[test]
fn s5_dr_dns_mail_web_behind_one_vip() {
    let t0 = Instant::now();
    let mut late = Vec::new();
    vmnet::setup();
    // Every server S5 runs must be here: the test never skips one.
    for (path, pkg) in [
        ("/usr/sbin/named", "bind9"),
        ("/usr/bin/dig", "bind9-dnsutils"),
        ("/usr/sbin/postfix", "postfix"),
        ("/usr/sbin/dovecot", "dovecot-core"),
        ("/usr/lib/dovecot/pop3-login", "dovecot-pop3d"),
        ("/usr/sbin/apache2", "apache2"),
        ("/usr/bin/openssl", "openssl"),
    ] {
        assert!(Path::new(path).exists(), "{path} missing: install {pkg} (tests/install-deps)");
    }

    let sw = switch("s5sw", &["lan"]);
    let client = Netns::new("s5cl").unwrap();
    let director = Netns::new("s5dir").unwrap();
    plug(&client, "eth0", &sw, "lan", "198.51.100.100/24");
    plug(&director, "eth0", &sw, "lan", "198.51.100.5/24");
    // S5: the VIP /32 on the alias eth0:0.
    director.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0", "label", "eth0:0"]).unwrap();
    let reals: Vec<Netns> = REALS
        .iter()
        .map(|r| {
            let ns = Netns::new(&format!("s5r{r}")).unwrap();
            plug(&ns, "eth0", &sw, "lan", &format!("198.51.100.{r}/24"));
            // DR: the VIP on a non-ARPing device, and ARP for it suppressed.
            ns.add_addr("lo", &format!("{VIP}/32")).unwrap();
            for kv in [
                "net.ipv4.conf.all.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2",
                "net.ipv4.conf.eth0.arp_ignore=1",
                "net.ipv4.conf.eth0.arp_announce=2",
            ] {
                sysctl(&ns, kv);
            }
            ns
        })
        .collect();

    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let b = base.path();
    // One certificate for the three Dovecots (EC: cheap to make under TCG).
    let cert = b.join("tls");
    mkdir(&cert);
    rha_harness::cmd::Cmd::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", "/CN=mail.s5.test", "-days", "2"])
        .args([
            "-keyout",
            &format!("{}/key.pem", cert.display()),
            "-out",
            &format!("{}/cert.pem", cert.display()),
        ])
        .timeout(Duration::from_secs(60))
        .run_ok()
        .unwrap();
    std::fs::set_permissions(cert.join("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut nameds = Vec::new();
    let mut postfixes = Vec::new();
    let mut dovecots = Vec::new();
    for (r, ns) in REALS.iter().zip(&reals) {
        let name = format!("real-{r}");
        let mut n = named(&b.join(format!("{name}-named")), ns, &name, &format!("198.51.100.{r}"));
        let mut p = postfix(&b.join(format!("{name}-postfix")), ns, &name);
        let mut d = dovecot(&b.join(format!("{name}-dovecot")), ns, &name, &cert);
        n.spawn();
        p.spawn();
        d.spawn();
        nameds.push(n);
        postfixes.push(p);
        dovecots.push(d);
    }
    let mut apaches: Vec<Apache> = REALS
        .iter()
        .zip(&reals)
        .map(|(r, ns)| Apache::new(b, ns, "0.0.0.0:80", &format!("real-{r}")))
        .collect();
    for p in nameds.iter_mut().chain(postfixes.iter_mut()).chain(dovecots.iter_mut()) {
        p.wait_listening();
    }
    let mut listeners: Vec<Option<vmnet::Server>> = REALS
        .iter()
        .zip(&reals)
        .map(|(r, ns)| {
            Some(vmnet::Server::start(ns.name(), "0.0.0.0:23".parse().unwrap(), &format!("real-{r}")))
        })
        .collect();
    eprintln!("servers up after {:.1} s", t0.elapsed().as_secs_f64());

    let cf = b.join("ldirectord.cf");
    std::fs::write(&cf, include_str!("data/s5-ldirectord.cf")).unwrap();
    let cfs = cf.to_str().unwrap();
    let started = Instant::now();
    let o = director.cmd(&[OURS, cfs, "start"]).timeout(Duration::from_secs(120)).run().unwrap();
    assert!(o.success(), "start: {}\n{}", o.stdout, o.stderr);
    eprintln!("start returned after {:.1} s: {}", started.elapsed().as_secs_f64(), o.stdout.trim());

    // (a) The file's table, line by line. Under TCG a first check may miss its timeout (a
    // server's first connection forks its worker): such a real is programmed down (weight
    // 0), never up unchecked, and must be up after its next check.
    let want = expected(&BTreeSet::new());
    let first = table(&director);
    for l in first.iter().filter(|l| l.ends_with(" -w 0")) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let vs = format!("{} {}", if f[1] == "-u" { "UDP" } else { "TCP" }, f[2]);
        let (state, reason) = real_status(&director, cfs, &vs, f[4]);
        eprintln!("after the first round: {vs} {} {state}: {reason}", f[4]);
    }
    let waited = Instant::now();
    while table(&director) != want {
        assert!(
            waited.elapsed() < bound("") + SLACK,
            "IPVS {:?} after start returned: want\n{}\nIPVS has\n{}",
            waited.elapsed(),
            want.join("\n"),
            save(&director)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("IPVS is the file's {:.1} s after start returned", waited.elapsed().as_secs_f64());

    // (b) Every protocol through the VIP; round robin reaches every real server.
    let everyone: BTreeSet<String> = REALS.iter().map(|r| format!("real-{r}")).collect();
    let got = answers(&client, 3);
    eprintln!("through the VIP: {got:?}");
    for proto in got.keys() {
        assert_eq!(served_by(&got, proto), everyone, "{proto}: {got:?}");
    }

    // (c) One server of each kind stopped, each on the real named here.
    let mut stopped: BTreeMap<Pair, Instant> = BTreeMap::new();
    nameds[0].stop();
    let now = Instant::now();
    stopped.insert(pair("-u", 53, "21"), now);
    stopped.insert(pair("-t", 53, "21"), now);
    apaches[0].stop();
    stopped.insert(pair("-t", 80, "21"), Instant::now());
    postfixes[1].stop();
    stopped.insert(pair("-t", 25, "22"), Instant::now());
    listeners[1] = None;
    stopped.insert(pair("-t", 23, "22"), Instant::now());
    dovecots[2].stop();
    let now = Instant::now();
    stopped.insert(pair("-t", 110, "23"), now);
    stopped.insert(pair("-t", 995, "23"), now);
    let down: BTreeSet<Pair> = stopped.keys().cloned().collect();
    let took = wait_table(&director, &down, &stopped, "stopped");
    assert_within(&took, "stopped", &mut late);
    for (vs, real) in [
        ("UDP 198.51.100.110:53", "198.51.100.21:53"),
        ("TCP 198.51.100.110:53", "198.51.100.21:53"),
        ("TCP 198.51.100.110:80", "198.51.100.21:80"),
        ("TCP 198.51.100.110:25", "198.51.100.22:25"),
        ("TCP 198.51.100.110:23", "198.51.100.22:23"),
        ("TCP 198.51.100.110:110", "198.51.100.23:110"),
        ("TCP 198.51.100.110:995", "198.51.100.23:995"),
    ] {
        let (state, reason) = real_status(&director, cfs, vs, real);
        eprintln!("status --json: {vs} {real}: {state}: {reason}");
        assert_eq!((state.as_str(), reason.as_str()), ("down", "connect refused"), "{vs} {real}");
    }
    // S5's source: a real server removed, the service continues on the others.
    let got = answers(&client, 2);
    eprintln!("through the VIP, one server of each kind down: {got:?}");
    let without =
        |r: &str| -> BTreeSet<String> { everyone.iter().filter(|n| !n.ends_with(r)).cloned().collect() };
    for (proto, out) in [
        ("dns/udp", "21"),
        ("dns/tcp", "21"),
        ("http", "21"),
        ("smtp", "22"),
        ("tcp23", "22"),
        ("pop3", "23"),
        ("pop3s", "23"),
    ] {
        assert_eq!(served_by(&got, proto), without(out), "{proto}: {got:?}");
    }

    // Started again: each back within the same bound. One server at a time, the table watched
    // right after each start: starting them all first and only then watching the table counted
    // the later servers' start-up (tens of seconds under TCG) against the first ones' reals
    // (named's and Apache's on .21 looked 25-30 s late while the daemon had them up at once).
    let mut still_down = all_of([
        ("-u", 53, "21"),
        ("-t", 53, "21"),
        ("-t", 80, "21"),
        ("-t", 25, "22"),
        ("-t", 23, "22"),
        ("-t", 110, "23"),
        ("-t", 995, "23"),
    ]);
    let mut back_up = |start: &mut dyn FnMut(), pairs: &[Pair], late: &mut Vec<String>| {
        start();
        let now = Instant::now();
        let back: BTreeMap<Pair, Instant> = pairs.iter().map(|p| (p.clone(), now)).collect();
        for p in pairs {
            still_down.remove(p);
        }
        let took = wait_table(&director, &still_down, &back, "started again");
        assert_within(&took, "started again", late);
    };
    back_up(&mut || nameds[0].start(), &[pair("-u", 53, "21"), pair("-t", 53, "21")], &mut late);
    back_up(&mut || apaches[0].start(), &[pair("-t", 80, "21")], &mut late);
    back_up(&mut || postfixes[1].start(), &[pair("-t", 25, "22")], &mut late);
    back_up(
        &mut || {
            listeners[1] =
                Some(vmnet::Server::start(reals[1].name(), "0.0.0.0:23".parse().unwrap(), "real-22"))
        },
        &[pair("-t", 23, "22")],
        &mut late,
    );
    back_up(&mut || dovecots[2].start(), &[pair("-t", 110, "23"), pair("-t", 995, "23")], &mut late);

    // (d) A page that no longer matches receive, and a changed password: down, with the
    // check's reason in status --json.
    let index = apaches[1].www().join("index.html");
    std::fs::write(&index, "under maintenance").unwrap();
    let users = b.join("real-23-dovecot/users");
    std::fs::write(&users, format!("{USER}:{{PLAIN}}another password\n")).unwrap();
    let now = Instant::now();
    let broken: BTreeMap<Pair, Instant> = all_of([("-t", 80, "22"), ("-t", 110, "23"), ("-t", 995, "23")])
        .into_iter()
        .map(|p| (p, now))
        .collect();
    let down: BTreeSet<Pair> = broken.keys().cloned().collect();
    let took = wait_table(&director, &down, &broken, "wrong receive / password");
    assert_within(&took, "wrong receive / password", &mut late);
    for (vs, real, want) in [
        ("TCP 198.51.100.110:80", "198.51.100.22:80", "receive /^real-2[0-9]$/ not in"),
        ("TCP 198.51.100.110:110", "198.51.100.23:110", "login refused: -ERR [AUTH] Authentication failed."),
        ("TCP 198.51.100.110:995", "198.51.100.23:995", "login refused: -ERR [AUTH] Authentication failed."),
    ] {
        let (state, reason) = real_status(&director, cfs, vs, real);
        eprintln!("status --json: {vs} {real}: {state}: {reason}");
        assert_eq!(state, "down", "{vs} {real}: {reason}");
        assert!(reason.contains(want), "{vs} {real}: reason {reason:?} lacks {want:?}");
    }
    std::fs::write(&index, "real-22").unwrap();
    std::fs::write(&users, format!("{USER}:{{PLAIN}}{PASS}\n")).unwrap();
    let now = Instant::now();
    let fixed: BTreeMap<Pair, Instant> = down.iter().map(|p| (p.clone(), now)).collect();
    let took = wait_table(&director, &BTreeSet::new(), &fixed, "fixed");
    assert_within(&took, "fixed", &mut late);
    let got = answers(&client, 3);
    for proto in got.keys() {
        assert_eq!(served_by(&got, proto), everyone, "{proto} after all came back: {got:?}");
    }

    let o = director.run(&[OURS, cfs, "stop"]).unwrap();
    assert!(o.success(), "stop: {}\n{}", o.stdout, o.stderr);
    assert_eq!(save(&director), "", "IPVS after stop");
    drop(listeners);
    eprintln!("S5 done in {:.1} s", t0.elapsed().as_secs_f64());
    assert!(late.is_empty(), "beyond checkinterval + timeout (+ slack): {late:#?}");
}
