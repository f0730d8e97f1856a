//! Host tier: service=radius against a real FreeRADIUS in the server namespace: Debian's
//! configuration copied to a temp dir, with a client entry for the test networks (its shared
//! secret) and a test user. IPv4 and IPv6.

mod daemon;
mod support;

use std::path::Path;
use std::time::Duration;

use daemon::{Daemon, wait_udp};
use rha_check::{CheckSpec, Service};
use support::Net;

const SECRET: &str = "rha-test-secret";

fn start_freeradius<'a>(net: &'a Net, dir: &Path) -> anyhow::Result<Daemon<'a>> {
    let d = dir.display();
    let raddb = dir.join("raddb");
    let out = std::process::Command::new("cp").arg("-rL").arg("/etc/freeradius/3.0").arg(&raddb).output()?;
    anyhow::ensure!(
        out.status.success(),
        "copying /etc/freeradius/3.0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sub in ["run", "log"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // Runs as root from the temp dir (the freerad user could not read it), logs and pid there.
    let conf = std::fs::read_to_string(raddb.join("radiusd.conf"))?
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("user = freerad") || t.starts_with("group = freerad") {
                String::new()
            } else if t.starts_with("run_dir = ") {
                format!("run_dir = {d}/run")
            } else if t.starts_with("logdir = ") {
                format!("logdir = {d}/log")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(raddb.join("radiusd.conf"), conf)?;
    let mut clients = std::fs::read_to_string(raddb.join("clients.conf"))?;
    clients.push_str(&format!(
        "\nclient rhatest4 {{\n  ipaddr = 198.51.100.0/24\n  secret = {SECRET}\n}}\n\
         client rhatest6 {{\n  ipv6addr = 2001:db8::/64\n  secret = {SECRET}\n}}\n"
    ));
    std::fs::write(raddb.join("clients.conf"), clients)?;
    let authorize = raddb.join("mods-config/files/authorize");
    let users = std::fs::read_to_string(&authorize)?;
    std::fs::write(&authorize, format!("rhauser Cleartext-Password := \"rha pass 1234567890\"\n{users}"))?;
    let radiusd = Daemon::spawn(
        &net.server,
        "freeradius",
        &format!("freeradius -f -l stdout -d {}", raddb.display()),
        &format!("{d}/freeradius.log"),
    )?;
    if let Err(e) = wait_udp(&net.server, 1812, Duration::from_secs(30)) {
        let log = std::fs::read_to_string(dir.join("freeradius.log")).unwrap_or_default();
        anyhow::bail!("{e:#}\nfreeradius's log:\n{log}");
    }
    Ok(radiusd)
}

fn spec(login: &str, passwd: &str, secret: &str) -> CheckSpec {
    let mut spec = CheckSpec::new(Service::Radius);
    spec.protocol = rha_check::Protocol::Udp;
    spec.login = Some(login.into());
    spec.passwd = Some(passwd.into());
    spec.secret = Some(secret.into());
    // FreeRADIUS delays an Access-Reject by a second (reject_delay).
    spec.negotiate_timeout = Duration::from_secs(3);
    spec
}

#[test]
fn radius_accept_reject_and_down() -> anyhow::Result<()> {
    let net = Net::new("chkradius")?;
    let dir = tempfile::tempdir()?;
    let mut radiusd = start_freeradius(&net, dir.path())?;
    for target in [net.v4(1812), net.v6(1812)] {
        let out = net.check(&spec("rhauser", "rha pass 1234567890", SECRET), target);
        assert!(out.up, "{target:?}: {out:?}");
        let out = net.check(&spec("rhauser", "wrong", SECRET), target);
        assert_eq!((out.up, out.reason.as_str()), (false, "Access-Reject"), "{target:?}");
        let out = net.check(&spec("nobody", "x", SECRET), target);
        assert_eq!((out.up, out.reason.as_str()), (false, "Access-Reject"), "{target:?}");
        // A wrong secret: the server drops the request (its Message-Authenticator fails).
        let out = net.check(&spec("rhauser", "rha pass 1234567890", "not-the-secret"), target);
        assert!(!out.up);
        assert_eq!(out.reason, "timeout after 3 s waiting for the RADIUS reply", "{target:?}");
    }

    net.blackhole()?;
    let out = net.check(&spec("rhauser", "rha pass 1234567890", SECRET), net.v6(1812));
    assert!(!out.up);
    assert_eq!(out.reason, "timeout after 3 s waiting for the RADIUS reply");
    assert!(out.latency < Duration::from_secs(4), "{out:?}");
    net.unblackhole()?;

    radiusd.stop();
    for target in [net.v4(1812), net.v6(1812)] {
        let out = net.check(&spec("rhauser", "rha pass 1234567890", SECRET), target);
        assert_eq!((out.up, out.reason.as_str()), (false, "connect refused"), "{target:?}");
    }
    Ok(())
}
