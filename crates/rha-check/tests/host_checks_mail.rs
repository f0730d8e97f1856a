//! Host tier: the mail and file-transfer checks against Debian's real servers, each started
//! by the test inside the server namespace with its own configuration under a temp dir:
//! - service=smtp and submission against postfix (`postfix -c <dir> start-fg`, a master.cf of
//!   our own: smtpd on 25 and 587, and on 2525 an smtpd that rejects every HELO/EHLO);
//! - service=pop, pops, imap and imaps against dovecot (`dovecot -F -c <conf>`, a passwd-file
//!   user, a self-signed certificate made by the test; on 110 and 143 a login goes through
//!   STLS/STARTTLS, as dovecot refuses plaintext logins from non-local clients);
//! - service=ftp against vsftpd (`vsftpd <conf>`): anonymous and a local user logged in
//!   through PAM (pam_unix: the user exists only in a passwd/shadow pair bind-mounted over
//!   /etc in vsftpd's own mount namespace; chrooted to its home, as ldirectord RETRs
//!   `/<request>`), PASV on IPv4 and EPSV on IPv6, RETR with receive.
//!
//! Each check is up against the healthy server on IPv4 and IPv6, and down (with its reason)
//! for a wrong receive, bad credentials, a black-holed server (within negotiatetimeout) and
//! the server stopped.

mod daemon;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use daemon::Daemon;
use rha_check::receive::Receive;
use rha_check::{CheckSpec, Outcome, Service, Target};
use rha_harness::cmd::{Cmd, wait_for};
use support::Net;

const TIMEOUT: Duration = Duration::from_secs(5);

fn spec(service: Service) -> CheckSpec {
    let mut s = CheckSpec::new(service);
    s.negotiate_timeout = TIMEOUT;
    s
}

fn with_login(service: Service, login: &str, passwd: &str) -> CheckSpec {
    let mut s = spec(service);
    s.login = Some(login.into());
    s.passwd = Some(passwd.into());
    s
}

fn with_receive(mut s: CheckSpec, receive: &str) -> CheckSpec {
    s.receive = Some(Receive::new(receive).unwrap());
    s
}

fn up(net: &Net, spec: &CheckSpec, targets: &[Target]) {
    for t in targets {
        let out = net.check(spec, *t);
        assert!(out.up, "{:?} {t:?} {:?}: {out:?}", spec.service, spec.login);
    }
}

#[track_caller]
fn down(out: Outcome, want: &str) {
    assert!(!out.up, "{out:?}");
    assert!(out.reason.contains(want), "reason {:?} lacks {want:?}", out.reason);
}

/// Every listed check is down with `want` on each target (the server stopped).
fn all_down(net: &Net, specs: &[&CheckSpec], targets: &[Target], want: &str) {
    for s in specs {
        for t in targets {
            let out = net.check(s, *t);
            assert!(!out.up && out.reason.contains(want), "{:?} {t:?}: {out:?} (want {want:?})", s.service);
        }
    }
}

/// The black hole costs the check its timeout, not more.
fn blackholed(net: &Net, spec: &CheckSpec, target: Target) -> Result<()> {
    net.blackhole()?;
    let out = net.check(spec, target);
    net.unblackhole()?;
    down(out.clone(), "timeout after 5 s connecting");
    assert!(out.latency < TIMEOUT + Duration::from_millis(600), "{out:?}");
    Ok(())
}

/// A temp dir the servers' unprivileged processes can traverse (tempfile makes it 0700).
fn open_tempdir() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

/// Waits until the server namespace has a TCP listener on `port` for both families.
fn wait_both(net: &Net, port: u16, what: &str, log: &Path) -> Result<()> {
    let script = format!("ss -Hltn 'sport = :{port}' | grep -c LISTEN");
    wait_for(
        &format!("{what}'s listeners on port {port}"),
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let n = net.server.sh(&script)?.stdout.trim().parse::<u32>().unwrap_or(0);
            Ok((n >= 2).then_some(()))
        },
    )
    .with_context(|| format!("{what}'s log:\n{}", log_of(log)))
}

// ---------------------------------------------------------------------------------------------
// postfix

const MASTER_CF: &str = "\
smtp       inet  n - n - - smtpd
submission inet  n - n - - smtpd
2525       inet  n - n - - smtpd -o smtpd_delay_reject=no -o smtpd_helo_restrictions=reject
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

/// postfix-script (start-fg) and the master it starts.
fn start_postfix<'a>(net: &'a Net, dir: &Path) -> Result<(Daemon<'a>, Daemon<'a>)> {
    let d = dir.display();
    for sub in ["conf", "queue", "data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Cmd::new("chown").args(["postfix", &format!("{d}/data")]).run_ok()?;
    std::fs::write(
        dir.join("conf/main.cf"),
        format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/queue\n\
             data_directory = {d}/data\n\
             myhostname = mx.rha.test\n\
             mydestination =\n\
             alias_maps =\n\
             alias_database =\n\
             mynetworks = 127.0.0.0/8\n\
             inet_interfaces = all\n\
             inet_protocols = all\n\
             smtpd_banner = $myhostname ESMTP Postfix (rha test)\n\
             maillog_file = /dev/stdout\n"
        ),
    )?;
    std::fs::write(dir.join("conf/master.cf"), MASTER_CF)?;
    // start-fg: postfix-script checks and creates the queue, then the master (which makes
    // itself a session leader: we adopt it by its pid file, so stopping kills its group).
    let log = dir.join("postfix.log");
    let starter = Daemon::spawn(
        &net.server,
        "postfix",
        &format!("postfix -c {d}/conf start-fg"),
        &log.display().to_string(),
    )?;
    let master = Daemon::from_pid_file(
        &net.server,
        "postfix master",
        &format!("{d}/queue/pid/master.pid"),
        Duration::from_secs(30),
    )
    .with_context(|| format!("postfix's log:\n{}", log_of(&log)))?;
    for port in [25, 587, 2525] {
        wait_both(net, port, "postfix", &log)?;
    }
    Ok((starter, master))
}

#[test]
fn smtp_and_submission_against_postfix() -> Result<()> {
    let net = Net::new("chksmtp")?;
    let dir = open_tempdir()?;
    let (_starter, mut postfix) = start_postfix(&net, dir.path())?;
    let smtp = [net.v4(25), net.v6(25)];
    let submission = [net.v4(587), net.v6(587)];
    up(&net, &spec(Service::Smtp), &smtp);
    up(&net, &spec(Service::Submission), &submission);
    // receive= on the banner and the EHLO reply.
    up(&net, &with_receive(spec(Service::Smtp), r"ESMTP Postfix \(rha test\)"), &smtp);
    up(&net, &with_receive(spec(Service::Submission), "(?m)^PIPELINING$"), &submission);
    for t in smtp {
        down(
            net.check(&with_receive(spec(Service::Smtp), "Exim"), t),
            "receive /Exim/ not in the banner or EHLO reply",
        );
    }
    // The smtpd on 2525 greets, then refuses EHLO and the HELO we fall back to.
    for t in [net.v4(2525), net.v6(2525)] {
        down(net.check(&spec(Service::Smtp), t), "EHLO refused: 554 5.7.1");
        down(net.check(&spec(Service::Smtp), t), "HELO refused: 554 5.7.1");
    }

    blackholed(&net, &spec(Service::Smtp), net.v4(25))?;
    blackholed(&net, &spec(Service::Submission), net.v6(587))?;
    up(&net, &spec(Service::Smtp), &smtp);

    postfix.stop();
    net.wait_closed(25, Duration::from_secs(30))?;
    net.wait_closed(587, Duration::from_secs(30))?;
    all_down(&net, &[&spec(Service::Smtp)], &smtp, "connect refused");
    all_down(&net, &[&spec(Service::Submission)], &submission, "connect refused");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// dovecot

const USER: &str = "rhauser";
const PASS: &str = "rha mail pass 42";

fn start_dovecot<'a>(net: &'a Net, dir: &Path) -> Result<Daemon<'a>> {
    let d = dir.display();
    for sub in ["run", "state", "mail"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Cmd::new("chown").args(["nobody:nogroup", &format!("{d}/mail")]).run_ok()?;
    Cmd::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mail.rha.test", "-days", "2"])
        .args(["-keyout", &format!("{d}/key.pem"), "-out", &format!("{d}/cert.pem")])
        .timeout(Duration::from_secs(60))
        .run_ok()?;
    std::fs::write(dir.join("users"), format!("{USER}:{{PLAIN}}{PASS}\n"))?;
    let conf = format!(
        "base_dir = {d}/run\n\
         state_dir = {d}/state\n\
         log_path = {d}/dovecot.log\n\
         protocols = pop3 imap\n\
         listen = *, ::\n\
         ssl = yes\n\
         ssl_cert = <{d}/cert.pem\n\
         ssl_key = <{d}/key.pem\n\
         mail_location = maildir:{d}/mail/%u\n\
         passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
         service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n\
         service pop3-login {{\n  inet_listener pop3 {{\n    port = 110\n  }}\n  inet_listener pop3s {{\n    port = 995\n    ssl = yes\n  }}\n}}\n\
         service imap-login {{\n  inet_listener imap {{\n    port = 143\n  }}\n  inet_listener imaps {{\n    port = 993\n    ssl = yes\n  }}\n}}\n"
    );
    std::fs::write(dir.join("dovecot.conf"), conf)?;
    let log = dir.join("dovecot.log");
    let dovecot = Daemon::spawn(
        &net.server,
        "dovecot",
        &format!("dovecot -F -c {d}/dovecot.conf"),
        &format!("{d}/dovecot.out"),
    )?;
    for port in [110, 143, 993, 995] {
        wait_both(net, port, "dovecot", &log)?;
    }
    Ok(dovecot)
}

#[test]
fn pop_and_imap_against_dovecot() -> Result<()> {
    let net = Net::new("chkdove")?;
    let dir = open_tempdir()?;
    let mut dovecot = start_dovecot(&net, dir.path())?;
    let ports = [(Service::Pop, 110), (Service::Pops, 995), (Service::Imap, 143), (Service::Imaps, 993)];
    let targets = |port| [net.v4(port), net.v6(port)];
    for (service, port) in ports {
        // The greeting alone (no login: ldirectord's check), then a login.
        up(&net, &spec(service), &targets(port));
        up(&net, &with_login(service, USER, PASS), &targets(port));
        up(&net, &with_receive(with_login(service, USER, PASS), "Dovecot"), &targets(port));
        for t in targets(port) {
            down(net.check(&with_receive(spec(service), "Cyrus"), t), "receive /Cyrus/ not in the greeting");
            // dovecot delays an authentication failure (auth_failure_delay, 2 s): within 5 s.
            // (Its growing per-client penalty, up to 15 s, is switched off in the config: this
            // test fails logins from one address 16 times.)
            let out = net.check(&with_login(service, USER, "wrong"), t);
            match service {
                Service::Pop | Service::Pops => {
                    down(out, "login refused: -ERR [AUTH] Authentication failed.")
                }
                _ => down(out, "login refused: NO [AUTHENTICATIONFAILED] Authentication failed."),
            }
            let out = net.check(&with_login(service, "nobody-here", PASS), t);
            assert!(!out.up && out.reason.starts_with("login refused: "), "{out:?}");
        }
    }
    // The certificate is self-signed: verified on request, the TLS services are down.
    for (service, port) in ports {
        let mut s = with_login(service, USER, PASS);
        s.tls_verify = true;
        down(net.check(&s, net.v4(port)), "TLS handshake failed");
    }

    blackholed(&net, &with_login(Service::Imap, USER, PASS), net.v4(143))?;
    blackholed(&net, &spec(Service::Pops), net.v6(995))?;
    up(&net, &with_login(Service::Pop, USER, PASS), &targets(110));

    dovecot.stop();
    for (service, port) in ports {
        net.wait_closed(port, Duration::from_secs(30))?;
        all_down(
            &net,
            &[&spec(service), &with_login(service, USER, PASS)],
            &targets(port),
            "connect refused",
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// vsftpd

const FTP_USER: &str = "rhaftp";
const FTP_PASS: &str = "ftp pass 7";
const FTP_UID: u32 = 64999;

fn start_vsftpd<'a>(net: &'a Net, dir: &Path) -> Result<Daemon<'a>> {
    let d = dir.display();
    for sub in ["anon", "empty", "home", "etc"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("anon/health.txt"), "anonymous health: ok\n")?;
    std::fs::write(dir.join("home/health.txt"), "private health: ok\n")?;
    // ldirectord RETRs `/<request>` (after CWD /): the local user is chrooted to its home, as
    // FTP servers are set up, so that is its file. vsftpd refuses a chroot the user can write
    // to: the home stays root's, the file is the user's.
    Cmd::new("chown").args([&format!("{FTP_UID}:{FTP_UID}"), &format!("{d}/home/health.txt")]).run_ok()?;
    // The login exists only for vsftpd: its passwd (the machine's, plus our user) and a
    // shadow holding only our user are bind-mounted over /etc's in its own mount namespace.
    let mut passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd.push_str(&format!("{FTP_USER}:x:{FTP_UID}:{FTP_UID}:rha ftp test:{d}/home:/bin/sh\n"));
    std::fs::write(dir.join("etc/passwd"), passwd)?;
    let hash = Cmd::new("openssl").args(["passwd", "-6", FTP_PASS]).run_ok()?.stdout.trim().to_string();
    std::fs::write(dir.join("etc/shadow"), format!("{FTP_USER}:{hash}:20000:0:99999:7:::\n"))?;
    std::fs::set_permissions(dir.join("etc/shadow"), std::fs::Permissions::from_mode(0o600))?;
    std::fs::write(
        dir.join("vsftpd.conf"),
        format!(
            "listen=NO\n\
             listen_ipv6=YES\n\
             background=NO\n\
             anonymous_enable=YES\n\
             anon_root={d}/anon\n\
             no_anon_password=YES\n\
             local_enable=YES\n\
             chroot_local_user=YES\n\
             write_enable=NO\n\
             pasv_enable=YES\n\
             pasv_min_port=40000\n\
             pasv_max_port=40100\n\
             secure_chroot_dir={d}/empty\n\
             seccomp_sandbox=NO\n\
             pam_service_name=vsftpd\n\
             xferlog_enable=YES\n\
             vsftpd_log_file={d}/vsftpd.log\n\
             ftpd_banner=rha test FTP service\n"
        ),
    )?;
    let command = format!(
        "unshare -m --propagation private sh -c 'mount --bind {d}/etc/passwd /etc/passwd && \
         mount --bind {d}/etc/shadow /etc/shadow && exec vsftpd {d}/vsftpd.conf'"
    );
    let log = dir.join("vsftpd.out");
    let vsftpd = Daemon::spawn(&net.server, "vsftpd", &command, &log.display().to_string())?;
    // One dual-stack socket (listen_ipv6=YES).
    wait_for("vsftpd's listener on port 21", Duration::from_secs(30), Duration::from_millis(50), || {
        Ok(net.server.sh("ss -Hltn 'sport = :21' | grep -q LISTEN")?.status.success().then_some(()))
    })
    .with_context(|| format!("vsftpd's output:\n{}", log_of(&log)))?;
    Ok(vsftpd)
}

fn ftp(login: Option<(&str, &str)>, request: Option<&str>, receive: Option<&str>) -> CheckSpec {
    let mut s = match login {
        Some((l, p)) => with_login(Service::Ftp, l, p),
        None => spec(Service::Ftp),
    };
    s.request = request.map(str::to_string);
    if let Some(r) = receive {
        s = with_receive(s, r);
    }
    s
}

#[test]
fn ftp_against_vsftpd() -> Result<()> {
    let net = Net::new("chkftp")?;
    let dir = open_tempdir()?;
    let mut vsftpd = start_vsftpd(&net, dir.path())?;
    let both = [net.v4(21), net.v6(21)];
    let user = Some((FTP_USER, FTP_PASS));
    // Anonymous (ldirectord's default login): banner and login only, then a RETR (PASV on
    // IPv4, EPSV on IPv6) with receive matched on the file.
    up(&net, &ftp(None, None, None), &both);
    up(&net, &ftp(None, None, Some("rha test FTP service")), &both);
    up(&net, &ftp(None, Some("/health.txt"), Some("^anonymous health: ok$")), &both);
    up(&net, &ftp(None, Some("health.txt"), None), &both);
    // A local user through PAM, its own home.
    up(&net, &ftp(user, None, None), &both);
    up(&net, &ftp(user, Some("health.txt"), Some("private health")), &both);

    for t in both {
        down(
            net.check(&ftp(None, Some("/health.txt"), Some("broken")), t),
            "receive /broken/ not in the file",
        );
        down(
            net.check(&ftp(user, Some("health.txt"), Some("anonymous")), t),
            "receive /anonymous/ not in the file",
        );
        down(net.check(&ftp(None, Some("/missing.txt"), None), t), "RETR /missing.txt: 550");
        down(
            net.check(&ftp(None, None, Some("^Exim")), t),
            "receive /^Exim/ not in the banner or login replies",
        );
        // vsftpd delays a failed login (delay_failed_login, 1 s).
        down(net.check(&ftp(Some((FTP_USER, "wrong")), Some("health.txt"), None), t), "login refused: 530");
        down(net.check(&ftp(Some(("nobody-here", "x")), None, None), t), "login refused: 530");
    }

    blackholed(&net, &ftp(None, Some("/health.txt"), None), net.v4(21))?;
    blackholed(&net, &ftp(user, None, None), net.v6(21))?;
    up(&net, &ftp(None, Some("/health.txt"), None), &both);

    vsftpd.stop();
    net.wait_closed(21, Duration::from_secs(30))?;
    all_down(&net, &[&ftp(None, None, None), &ftp(user, Some("health.txt"), None)], &both, "connect refused");
    Ok(())
}
