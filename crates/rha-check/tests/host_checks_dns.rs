//! Host tier: service=dns against a real named (bind9) in the server namespace, its config
//! and zones in a temp dir: A, AAAA and PTR answers, over UDP and TCP, IPv4 and IPv6.

mod daemon;
mod support;

use std::path::Path;
use std::time::Duration;

use daemon::{Daemon, wait_udp};
use rha_check::receive::Receive;
use rha_check::{CheckSpec, Protocol, Service};
use support::{Net, SERVER_V4, SERVER_V6};

fn start_named<'a>(net: &'a Net, dir: &Path) -> anyhow::Result<Daemon<'a>> {
    let d = dir.display();
    let soa =
        "@ 60 IN SOA ns.example.test. admin.example.test. 1 60 60 600 60\n@ 60 IN NS ns.example.test.\n";
    std::fs::write(
        dir.join("example.test.zone"),
        format!(
            "$ORIGIN example.test.\n{soa}ns 60 IN A {SERVER_V4}\nwww 60 IN A 198.51.100.80\nwww 60 IN AAAA 2001:db8::80\nv6only 60 IN AAAA 2001:db8::81\n"
        ),
    )?;
    std::fs::write(
        dir.join("reverse.zone"),
        format!("$ORIGIN 100.51.198.in-addr.arpa.\n{soa}80 60 IN PTR www.example.test.\n"),
    )?;
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  \
             managed-keys-directory \"{d}\";\n  listen-on port 53 {{ {SERVER_V4}; }};\n  listen-on-v6 port 53 {{ {SERVER_V6}; }};\n  \
             recursion no;\n  allow-query {{ any; }};\n  dnssec-validation no;\n}};\ncontrols {{ }};\n\
             zone \"example.test\" {{ type primary; file \"{d}/example.test.zone\"; }};\n\
             zone \"100.51.198.in-addr.arpa\" {{ type primary; file \"{d}/reverse.zone\"; }};\n"
        ),
    )?;
    let named = Daemon::spawn(
        &net.server,
        "named",
        &format!("named -g -n 1 -c {d}/named.conf"),
        &format!("{d}/named.log"),
    )?;
    let ready = net
        .wait_listening(53, Duration::from_secs(30))
        .and_then(|_| wait_udp(&net.server, 53, Duration::from_secs(30)));
    if let Err(e) = ready {
        let log = std::fs::read_to_string(dir.join("named.log")).unwrap_or_default();
        anyhow::bail!("{e:#}\nnamed's log:\n{log}");
    }
    Ok(named)
}

fn spec(protocol: Protocol, request: &str, receive: &str) -> CheckSpec {
    let mut spec = CheckSpec::new(Service::Dns);
    spec.protocol = protocol;
    spec.request = Some(request.into());
    spec.receive = Some(Receive::new(receive).unwrap());
    spec.negotiate_timeout = Duration::from_secs(2);
    spec
}

#[test]
fn dns_a_aaaa_ptr_over_udp_and_tcp_up_and_down() -> anyhow::Result<()> {
    let net = Net::new("chkdns")?;
    let dir = tempfile::tempdir()?;
    let mut named = start_named(&net, dir.path())?;
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        for target in [net.v4(53), net.v6(53)] {
            for (request, receive) in [
                ("www.example.test", "^198\\.51\\.100\\.80$"),
                ("/www.example.test", "^2001:db8::80$"),
                ("v6only.example.test.", "2001:db8::81"),
                ("198.51.100.80", "^www\\.example\\.test$"),
                ("80.100.51.198.in-addr.arpa", "www"),
            ] {
                let out = net.check(&spec(protocol, request, receive), target);
                assert!(out.up, "{protocol:?} {target:?} {request}: {out:?}");
            }
            let out = net.check(&spec(protocol, "www.example.test", "^203\\."), target);
            assert!(!out.up);
            assert_eq!(out.reason, "receive /^203\\./ not in the answers (198.51.100.80, 2001:db8::80)");
            let out = net.check(&spec(protocol, "missing.example.test", "."), target);
            assert_eq!((out.up, out.reason.as_str()), (false, "DNS NXDOMAIN"));
            let out = net.check(&spec(protocol, "elsewhere.invalid", "."), target);
            assert_eq!((out.up, out.reason.as_str()), (false, "DNS REFUSED"), "{protocol:?}");
        }
    }

    net.blackhole()?;
    for (protocol, stage) in [(Protocol::Udp, "waiting for the answer"), (Protocol::Tcp, "connecting")] {
        let out = net.check(&spec(protocol, "www.example.test", "."), net.v4(53));
        assert!(!out.up);
        assert_eq!(out.reason, format!("timeout after 2 s {stage}"));
        assert!(out.latency < Duration::from_secs(3), "{out:?}");
    }
    net.unblackhole()?;

    named.stop();
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        for target in [net.v4(53), net.v6(53)] {
            let out = net.check(&spec(protocol, "www.example.test", "."), target);
            assert!(!out.up);
            assert_eq!(out.reason, "connect refused", "{protocol:?} {target:?}");
        }
    }
    Ok(())
}
