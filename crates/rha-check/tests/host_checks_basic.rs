//! Host tier: connect checks and the shared test setup (namespaces, black hole), IPv4 and IPv6.

mod support;

use std::time::Duration;

use rha_check::{CheckSpec, CheckType, Service};
use support::Net;

fn connect_spec() -> CheckSpec {
    let mut spec = CheckSpec::new(Service::None);
    spec.checktype = CheckType::Connect;
    spec.check_timeout = Duration::from_secs(1);
    spec
}

#[test]
fn connect_up_refused_and_blackholed_on_both_families() -> anyhow::Result<()> {
    let net = Net::new("chkbasic")?;
    // A real listener: socat from Debian would do, a shell loop with nc is not everywhere;
    // python3 is on every machine of this project.
    net.server.sh_ok(
        "setsid python3 -c 'import socket,time\n\
s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
s.bind((\"::\", 7000)); s.listen(64)\n\
while True:\n c,_=s.accept(); c.close()' >/dev/null 2>&1 < /dev/null &",
    )?;
    net.wait_listening(7000, Duration::from_secs(10))?;
    let spec = connect_spec();
    for target in [net.v4(7000), net.v6(7000)] {
        let out = net.check(&spec, target);
        assert!(out.up, "{target:?}: {out:?}");
    }
    for target in [net.v4(7001), net.v6(7001)] {
        let out = net.check(&spec, target);
        assert!(!out.up);
        assert_eq!(out.reason, "connect refused", "{target:?}");
    }
    net.blackhole()?;
    for target in [net.v4(7000), net.v6(7000)] {
        let out = net.check(&spec, target);
        assert!(!out.up);
        assert_eq!(out.reason, "timeout after 1 s connecting", "{target:?}");
        assert!(out.latency < Duration::from_millis(1500), "{out:?}");
    }
    net.unblackhole()?;
    assert!(net.check(&spec, net.v4(7000)).up);
    Ok(())
}

#[test]
fn a_check_from_a_source_address_binds_it() -> anyhow::Result<()> {
    let net = Net::new("chksrc")?;
    net.client.add_addr("eth0", "198.51.100.3/24")?;
    net.server.sh_ok(
        "setsid python3 -c 'import socket\n\
s=socket.socket(); s.bind((\"0.0.0.0\", 7000)); s.listen(64)\n\
while True:\n c,a=s.accept(); open(\"/tmp/rha-chk-src-peer\",\"w\").write(a[0]); c.close()' >/dev/null 2>&1 < /dev/null &",
    )?;
    net.wait_listening(7000, Duration::from_secs(10))?;
    let mut target = net.v4(7000);
    target.source = Some(support::ip("198.51.100.3"));
    assert!(net.check(&connect_spec(), target).up);
    // The server writes the peer address after accept: wait for it.
    let peer = rha_harness::cmd::wait_for(
        "the server's note of the peer",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || Ok(std::fs::read_to_string("/tmp/rha-chk-src-peer").ok().filter(|s| !s.is_empty())),
    )?;
    let _ = std::fs::remove_file("/tmp/rha-chk-src-peer");
    assert_eq!(peer, "198.51.100.3");
    // A source the client does not have is a clear reason, not a panic.
    target.source = Some(support::ip("203.0.113.9"));
    let out = net.check(&connect_spec(), target);
    assert!(!out.up);
    assert_eq!(out.reason, "source address not available");
    Ok(())
}
