//! Network helpers of the VM-tier tests: threads inside a namespace, a tiny server that
//! answers HTTP with its name (and echoes lines on a long-lived connection), clients, and
//! ipvsadm as the oracle. Only used inside the VM (the host kernel has no IPVS).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rha_harness::cmd::{self, require_root, require_tools};
use rha_harness::netns::Netns;

static SETUP: Once = Once::new();

/// Root, the tools, and the kernel modules the tests use. Fails loudly: the VM tier never
/// skips. (`ip_vs` itself is loaded here too; the test of a probe without it unloads it.)
pub fn setup() {
    SETUP.call_once(|| {
        require_root().unwrap();
        require_tools(&[("ip", "iproute2"), ("ipvsadm", "ipvsadm"), ("modprobe", "kmod")]).unwrap();
        rha_harness::vm::assert_in_guest();
        for m in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_sh", "ipip"] {
            cmd::run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
        }
    });
}

/// Moves the calling thread into network namespace `name`.
pub fn enter_netns(name: &str) -> std::io::Result<()> {
    let f = File::open(format!("/run/netns/{name}"))?;
    // SAFETY: setns on a namespace file we hold open; affects only this thread for NEWNET.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread inside namespace `ns` and returns its result. Sockets made there
/// stay in that namespace wherever they are used afterwards.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_netns(&ns).unwrap_or_else(|e| panic!("setns {ns}: {e}"));
        f()
    })
    .join()
    .expect("thread inside the namespace")
}

/// A server in a namespace: `GET ...` gets an HTTP/1.0 answer whose body is the server's
/// name; any other first line starts an echo session (`NAME LINE` per line) that lasts until
/// the client closes.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(ns: &str, addr: SocketAddr, name: &str) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let (ns, name, stop2) = (ns.to_string(), name.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            enter_netns(&ns).unwrap();
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr} in {ns}: {e}"));
            tx.send(()).unwrap();
            while !stop2.load(Ordering::Relaxed) {
                let mut pfd = libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                    continue;
                }
                if let Ok((s, _)) = l.accept() {
                    let name = name.clone();
                    std::thread::spawn(move || serve(s, &name));
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30)).expect("server listening");
        Server { stop, thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(s: TcpStream, name: &str) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(s);
    let mut first = String::new();
    if r.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    if first.starts_with("GET ") {
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "" {
            line.clear();
        }
        let _ =
            write!(w, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}", name.len());
        return;
    }
    let mut line = first;
    loop {
        if writeln!(w, "{name} {}", line.trim_end()).is_err() {
            return;
        }
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
    }
}

/// One HTTP GET; the body, or why it failed.
pub fn http_get(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n").map_err(|e| format!("write: {e}"))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| format!("read: {e}"))?;
    match buf.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.to_string()),
        _ => Err(format!("bad answer {buf:?}")),
    }
}

/// `n` GETs from namespace `ns`, one after the other, within `limit` overall: the count of
/// each body, and the failures.
pub fn get_many(
    ns: &str,
    addr: SocketAddr,
    n: usize,
    limit: Duration,
) -> (BTreeMap<String, usize>, Vec<String>) {
    in_netns(ns, move || {
        let start = Instant::now();
        let mut counts = BTreeMap::new();
        let mut errors = Vec::new();
        for i in 0..n {
            if start.elapsed() > limit {
                errors.push(format!("time limit {limit:?} reached after {i} requests"));
                break;
            }
            match http_get(addr, Duration::from_secs(5)) {
                Ok(body) => *counts.entry(body).or_insert(0) += 1,
                Err(e) => errors.push(format!("request {i}: {e}")),
            }
        }
        (counts, errors)
    })
}

/// `ipvsadm ARGS` inside a namespace (the oracle); its stdout.
pub fn ipvsadm(ns: &Netns, args: &[&str]) -> String {
    let mut argv = vec!["ipvsadm"];
    argv.extend_from_slice(args);
    ns.run_ok(&argv).unwrap_or_else(|e| panic!("ipvsadm {args:?}: {e:#}")).stdout
}

/// `ipvsadm -S -n` inside a namespace.
pub fn save(ns: &Netns) -> String {
    ipvsadm(ns, &["-S", "-n"])
}

/// `sysctl -qw K=V` inside a namespace.
pub fn sysctl(ns: &Netns, kv: &str) {
    ns.run_ok(&["sysctl", "-qw", kv]).unwrap_or_else(|e| panic!("sysctl {kv}: {e:#}"));
}

/// A bridge namespace and its bridges.
pub fn switch(tag: &str, bridges: &[&str]) -> Netns {
    let sw = Netns::new(tag).unwrap();
    for b in bridges {
        sw.add_bridge(b).unwrap();
    }
    sw
}

static PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Plugs `ns` into `bridge` of `sw` as `ifname` with `cidr`.
pub fn plug(ns: &Netns, ifname: &str, sw: &Netns, bridge: &str, cidr: &str) {
    let port = format!("p{}", PORT.fetch_add(1, Ordering::Relaxed));
    ns.connect_to(ifname, sw, bridge, &port).unwrap();
    ns.add_addr(ifname, cidr).unwrap();
}

/// Waits until `addr` answers a TCP connect from `ns` (TCG is slow; links take a moment).
pub fn wait_reachable(ns: &str, addr: SocketAddr, limit: Duration) {
    let ok = in_netns(ns, move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    assert!(ok, "{addr} not reachable from {ns} within {limit:?}");
}

/// The share of each name, checked against `want` (name, weight) within `tolerance`
/// (relative: 0.05 = 5%). Returns a description for the log.
pub fn check_ratio(counts: &BTreeMap<String, usize>, want: &[(&str, u32)], tolerance: f64) -> String {
    let total: usize = counts.values().sum();
    let wsum: u32 = want.iter().map(|(_, w)| w).sum();
    let mut lines = Vec::new();
    for (name, w) in want {
        let expected = f64::from(*w) / f64::from(wsum);
        let got = *counts.get(*name).unwrap_or(&0) as f64 / total.max(1) as f64;
        let off = (got - expected).abs() / expected;
        lines.push(format!(
            "{name}: {} of {total} ({got:.4}, expected {expected:.4}, off {:.2}%)",
            counts.get(*name).unwrap_or(&0),
            off * 100.0
        ));
        assert!(
            off <= tolerance,
            "share of {name} is off by {:.2}% (> {:.0}%): {counts:?}",
            off * 100.0,
            tolerance * 100.0
        );
    }
    assert_eq!(counts.len(), want.len(), "unexpected answers: {counts:?}");
    lines.join("; ")
}

/// Sends `line` through a long-lived connection to a [`Server`] and reads its one-line answer
/// within `limit`.
pub fn say(
    s: &mut std::net::TcpStream,
    r: &mut std::io::BufReader<std::net::TcpStream>,
    line: &str,
    limit: Duration,
) -> Result<String, String> {
    use std::io::{BufRead, Write};
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    match r.read_line(&mut answer) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) => Ok(answer.trim_end().to_string()),
        Err(e) => Err(format!("read: {e}")),
    }
}
