//! Host tier: service=simpletcp and service=sip against responders written here (Python 3,
//! on every machine of this project) in the server namespace, over TCP and UDP, IPv4 and IPv6,
//! and service=nntp against an NNTP responder written here too (RFC 3977's greeting and QUIT:
//! all ldirectord's check speaks; Debian's inn2 would be a whole news server for one banner).

mod daemon;
mod support;

use std::time::Duration;

use daemon::{Daemon, wait_udp};
use rha_check::receive::Receive;
use rha_check::{CheckSpec, Protocol, Service, Target};
use support::Net;

/// A line server (port 7100: answers "OK ready" to a line, over TCP and UDP) and a SIP
/// responder (port 5060: "100 Trying" then "200 OK" to OPTIONS, copying Via, From, To,
/// Call-ID and CSeq, over UDP and TCP), all dual-stack.
const RESPONDERS: &str = r#"
import socket, threading, sys
def sock(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    if kind == socket.SOCK_STREAM: s.listen(64)
    return s
def sip_reply(req):
    head = req.split(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
    keep = [l for l in head[1:] if l.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    def msg(status):
        return ("SIP/2.0 " + status + "\r\n" + "\r\n".join(keep) + "\r\nServer: rha-test-sip\r\nContent-Length: 0\r\n\r\n").encode()
    return msg("100 Trying") + msg("200 OK") if head[0].startswith("OPTIONS ") else msg("400 Bad Request")
def line_tcp(c):
    f = c.makefile("rb"); f.readline(); c.sendall(b"hello\r\nOK ready\r\n"); c.close()
def sip_tcp(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d: return
        data += d
    c.sendall(sip_reply(data)); c.recv(1); c.close()
def serve_tcp(s, fn):
    while True:
        c, _ = s.accept(); threading.Thread(target=fn, args=(c,), daemon=True).start()
def serve_udp(s, fn):
    while True:
        d, a = s.recvfrom(65535)
        for part in fn(d): s.sendto(part, a)
def sip_udp(d):
    r = sip_reply(d); i = r.index(b"\r\n\r\n") + 4
    return [r[:i], r[i:]]
threading.Thread(target=serve_tcp, args=(sock(socket.SOCK_STREAM, 7100), line_tcp), daemon=True).start()
threading.Thread(target=serve_udp, args=(sock(socket.SOCK_DGRAM, 7100), lambda d: [b"OK " + d]), daemon=True).start()
threading.Thread(target=serve_tcp, args=(sock(socket.SOCK_STREAM, 5060), sip_tcp), daemon=True).start()
def nntp_tcp(c, banner):
    c.sendall(banner); f = c.makefile("rb"); line = f.readline()
    if line.strip().upper() == b"QUIT": c.sendall(b"205 closing connection\r\n")
    c.close()
threading.Thread(target=serve_tcp, args=(sock(socket.SOCK_STREAM, 119), lambda c: nntp_tcp(c, b"200 news.rha-test InterNetNews ready (posting ok)\r\n")), daemon=True).start()
threading.Thread(target=serve_tcp, args=(sock(socket.SOCK_STREAM, 1119), lambda c: nntp_tcp(c, b"400 too busy, try later\r\n")), daemon=True).start()
serve_udp(sock(socket.SOCK_DGRAM, 5060), sip_udp)
"#;

fn spec(service: Service, protocol: Protocol) -> CheckSpec {
    let mut spec = CheckSpec::new(service);
    spec.protocol = protocol;
    spec.negotiate_timeout = Duration::from_secs(2);
    spec
}

fn targets(net: &Net, port: u16) -> [Target; 2] {
    [net.v4(port), net.v6(port)]
}

#[test]
fn simpletcp_sip_and_nntp_up_and_down() -> anyhow::Result<()> {
    let net = Net::new("chklines")?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("responders.py");
    std::fs::write(&script, RESPONDERS)?;
    let log = dir.path().join("responders.log");
    let mut server = Daemon::spawn(
        &net.server,
        "the responders",
        &format!("python3 {}", script.display()),
        &log.display().to_string(),
    )?;
    net.wait_listening(7100, Duration::from_secs(10))?;
    net.wait_listening(5060, Duration::from_secs(10))?;
    net.wait_listening(119, Duration::from_secs(10))?;
    net.wait_listening(1119, Duration::from_secs(10))?;
    wait_udp(&net.server, 5060, Duration::from_secs(10))?;

    // NNTP: the greeting decides; receive (ours; ldirectord ignores it) is matched against it.
    for target in targets(&net, 119) {
        let mut s = spec(Service::Nntp, Protocol::Tcp);
        let out = net.check(&s, target);
        assert!(out.up, "nntp {target:?}: {out:?}");
        s.receive = Some(Receive::new("InterNetNews").unwrap());
        assert!(net.check(&s, target).up, "nntp receive {target:?}");
        s.receive = Some(Receive::new("^Leafnode").unwrap());
        let out = net.check(&s, target);
        assert!(!out.up && out.reason.contains("Leafnode"), "{out:?}");
    }
    for target in targets(&net, 1119) {
        let out = net.check(&spec(Service::Nntp, Protocol::Tcp), target);
        assert!(!out.up);
        assert_eq!(out.reason, "NNTP banner 400 too busy, try later", "{target:?}");
    }

    for protocol in [Protocol::Tcp, Protocol::Udp] {
        for target in targets(&net, 7100) {
            let mut s = spec(Service::SimpleTcp, protocol);
            s.request = Some("/PING\\n".into());
            s.receive = Some(Receive::new("^OK").unwrap());
            let out = net.check(&s, target);
            assert!(out.up, "simpletcp {protocol:?} {target:?}: {out:?}");
            s.receive = Some(Receive::new("^NOPE").unwrap());
            let out = net.check(&s, target);
            assert!(!out.up, "{out:?}");
            if protocol == Protocol::Tcp {
                assert_eq!(out.reason, "receive /^NOPE/ not in reply");
            } else {
                // A UDP server answers once: waiting for more ends at the timeout.
                assert_eq!(out.reason, "timeout after 2 s waiting for the reply");
            }
        }
        for target in targets(&net, 5060) {
            let mut s = spec(Service::Sip, protocol);
            let out = net.check(&s, target);
            assert!(out.up, "sip {protocol:?} {target:?}: {out:?}");
            s.receive = Some(Receive::new("Server: rha-test-sip").unwrap());
            assert!(net.check(&s, target).up, "sip receive {protocol:?} {target:?}");
            s.receive = Some(Receive::new("Server: other").unwrap());
            let out = net.check(&s, target);
            assert!(!out.up);
            assert_eq!(out.reason, "receive /Server: other/ not in SIP response");
        }
    }

    net.blackhole()?;
    let out = net.check(&spec(Service::Nntp, Protocol::Tcp), net.v4(119));
    assert_eq!((out.up, out.reason.as_str()), (false, "timeout after 2 s connecting"), "nntp black-holed");
    assert!(out.latency < Duration::from_secs(3), "{out:?}");
    for (service, port) in [(Service::SimpleTcp, 7100), (Service::Sip, 5060)] {
        for (protocol, stage) in [(Protocol::Tcp, "connecting"), (Protocol::Udp, "")] {
            let mut s = spec(service, protocol);
            s.request = Some("PING\\n".into());
            let out = net.check(&s, net.v6(port));
            assert!(!out.up);
            let stage = if !stage.is_empty() {
                stage
            } else if service == Service::Sip {
                "waiting for the SIP response"
            } else {
                "waiting for the reply"
            };
            assert_eq!(out.reason, format!("timeout after 2 s {stage}"), "{service:?} {protocol:?}");
            assert!(out.latency < Duration::from_secs(3), "{out:?}");
        }
    }
    net.unblackhole()?;

    server.stop();
    for target in targets(&net, 119) {
        let out = net.check(&spec(Service::Nntp, Protocol::Tcp), target);
        assert_eq!((out.up, out.reason.as_str()), (false, "connect refused"), "nntp stopped {target:?}");
    }
    for (service, port) in [(Service::SimpleTcp, 7100), (Service::Sip, 5060)] {
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            for target in targets(&net, port) {
                let mut s = spec(service, protocol);
                s.request = Some("PING\\n".into());
                let out = net.check(&s, target);
                assert!(!out.up);
                assert_eq!(out.reason, "connect refused", "{service:?} {protocol:?} {target:?}");
            }
        }
    }
    Ok(())
}
