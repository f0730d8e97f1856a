//! Host tier: service=ldap and ldaps against a real slapd (OpenLDAP, Debian's package) in the
//! server namespace: its own slapd.conf, mdb database and self-signed certificate in a temp
//! dir, loaded with slapadd before it starts; listening on ldap:// and ldaps:// on the
//! server's IPv4 and IPv6 addresses. Up for an anonymous bind and a base search whose DN
//! matches receive, and for a bind as a test user; down for a wrong receive, bad
//! credentials, a missing base, a verified self-signed certificate, a black-holed server
//! and a stopped one.

mod daemon;
mod support;

use std::path::Path;
use std::time::Duration;

use daemon::Daemon;
use rha_check::receive::Receive;
use rha_check::{CheckSpec, Service};
use support::{Net, SERVER_V4, SERVER_V6};

const SUFFIX: &str = "dc=example,dc=test";
const USER: &str = "cn=checker,dc=example,dc=test";
const PASSWORD: &str = "rha ldap pass";

fn run(what: &str, cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let out = cmd.output().map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn start_slapd<'a>(net: &'a Net, dir: &Path) -> anyhow::Result<Daemon<'a>> {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("db"))?;
    run(
        "openssl req (the self-signed certificate)",
        std::process::Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"]).args([
            "-keyout",
            &format!("{d}/key.pem"),
            "-out",
            &format!("{d}/cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=ldap.example.test",
        ]),
    )?;
    std::fs::write(
        dir.join("slapd.conf"),
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             TLSCertificateFile {d}/cert.pem\nTLSCertificateKeyFile {d}/key.pem\n\
             database mdb\nmaxsize 16777216\nsuffix \"{SUFFIX}\"\n\
             rootdn \"cn=admin,{SUFFIX}\"\nrootpw not-used-by-the-test\ndirectory {d}/db\n\
             access to attrs=userPassword by anonymous auth by * none\naccess to * by * read\n"
        ),
    )?;
    std::fs::write(
        dir.join("data.ldif"),
        format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: rha test\n\n\
             dn: {USER}\nobjectClass: person\ncn: checker\nsn: checker\nuserPassword: {PASSWORD}\n"
        ),
    )?;
    run(
        "slapadd",
        std::process::Command::new("slapadd").args([
            "-f",
            &format!("{d}/slapd.conf"),
            "-l",
            &format!("{d}/data.ldif"),
        ]),
    )?;
    let urls = format!(
        "ldap://{SERVER_V4}:389/ ldap://[{SERVER_V6}]:389/ ldaps://{SERVER_V4}:636/ ldaps://[{SERVER_V6}]:636/"
    );
    // -d: in the foreground (the Daemon owns its process group); 256: one line per operation.
    let slapd = Daemon::spawn(
        &net.server,
        "slapd",
        &format!("slapd -d 256 -f {d}/slapd.conf -h '{urls}'"),
        &format!("{d}/slapd.log"),
    )?;
    let ready = net
        .wait_listening(389, Duration::from_secs(30))
        .and_then(|_| net.wait_listening(636, Duration::from_secs(30)));
    if let Err(e) = ready {
        let log = std::fs::read_to_string(dir.join("slapd.log")).unwrap_or_default();
        anyhow::bail!("{e:#}\nslapd's log:\n{log}");
    }
    Ok(slapd)
}

fn spec(service: Service, base: &str, receive: Option<&str>) -> CheckSpec {
    let mut spec = CheckSpec::new(service);
    spec.request = Some(base.into());
    spec.receive = receive.map(|r| Receive::new(r).unwrap());
    spec.negotiate_timeout = Duration::from_secs(3);
    spec
}

fn with_login(mut spec: CheckSpec, login: &str, passwd: &str) -> CheckSpec {
    spec.login = Some(login.into());
    spec.passwd = Some(passwd.into());
    spec
}

#[test]
fn ldap_and_ldaps_against_slapd_up_and_down() -> anyhow::Result<()> {
    let net = Net::new("chkldap")?;
    let dir = tempfile::tempdir()?;
    let mut slapd = start_slapd(&net, dir.path())?;
    let receive = Some("^dc=example,dc=test$");
    for (service, port) in [(Service::Ldap, 389), (Service::Ldaps, 636)] {
        for target in [net.v4(port), net.v6(port)] {
            let what = format!("{service:?} {target:?}");
            // Anonymous bind, base search, the DN matched (ldirectord's leading "/" dropped).
            let out = net.check(&spec(service, &format!("/{SUFFIX}"), receive), target);
            assert!(out.up, "{what}: {out:?}");
            let out = net.check(&spec(service, SUFFIX, None), target);
            assert!(out.up, "{what} without receive: {out:?}");
            // A bind as the test user.
            let out =
                net.check(&with_login(spec(service, USER, Some("^cn=checker")), USER, PASSWORD), target);
            assert!(out.up, "{what} bound as {USER}: {out:?}");

            let out = net.check(&spec(service, SUFFIX, Some("^dc=other")), target);
            assert_eq!(
                (out.up, out.reason.as_str()),
                (false, "receive /^dc=other/ not in DN dc=example,dc=test"),
                "{what}"
            );
            let out = net.check(&with_login(spec(service, SUFFIX, receive), USER, "wrong"), target);
            assert_eq!(
                (out.up, out.reason.as_str()),
                (false, "LDAP bind failed: invalidCredentials (49)"),
                "{what}"
            );
            let out = net.check(
                &with_login(spec(service, SUFFIX, receive), "cn=nobody,dc=example,dc=test", "x"),
                target,
            );
            assert_eq!(
                (out.up, out.reason.as_str()),
                (false, "LDAP bind failed: invalidCredentials (49)"),
                "{what}"
            );
            let out = net.check(&spec(service, "dc=missing,dc=example,dc=test", None), target);
            assert_eq!(
                (out.up, out.reason.as_str()),
                (false, "LDAP search failed: noSuchObject (32)"),
                "{what}"
            );
        }
    }

    // ldaps: the self-signed certificate is not verified by default (as ldirectord); asked
    // to verify, the check is down and says why.
    let mut verify = spec(Service::Ldaps, SUFFIX, receive);
    verify.tls_verify = true;
    for target in [net.v4(636), net.v6(636)] {
        let out = net.check(&verify, target);
        assert!(!out.up, "{target:?}: {out:?}");
        assert!(out.reason.starts_with("TLS handshake failed: "), "{target:?}: {out:?}");
        assert!(out.reason.contains("certificate"), "{target:?}: {out:?}");
    }
    // Plain LDAP to the ldaps port and ldaps to the plain one: down with a reason.
    let out = net.check(&spec(Service::Ldap, SUFFIX, receive), net.v4(636));
    assert!(!out.up, "{out:?}");
    let out = net.check(&spec(Service::Ldaps, SUFFIX, receive), net.v4(389));
    assert!(!out.up && out.reason.starts_with("TLS handshake failed"), "{out:?}");

    // A black-holed server costs the check its timeout, no more.
    net.blackhole()?;
    for (service, port) in [(Service::Ldap, 389), (Service::Ldaps, 636)] {
        let out = net.check(&spec(service, SUFFIX, receive), net.v6(port));
        assert!(!out.up);
        assert_eq!(out.reason, "timeout after 3 s connecting", "{service:?}");
        assert!(out.latency < Duration::from_secs(4), "{out:?}");
    }
    net.unblackhole()?;

    slapd.stop();
    net.wait_closed(389, Duration::from_secs(10))?;
    for (service, port) in [(Service::Ldap, 389), (Service::Ldaps, 636)] {
        for target in [net.v4(port), net.v6(port)] {
            let out = net.check(&spec(service, SUFFIX, receive), target);
            assert_eq!((out.up, out.reason.as_str()), (false, "connect refused"), "{service:?} {target:?}");
        }
    }
    Ok(())
}
