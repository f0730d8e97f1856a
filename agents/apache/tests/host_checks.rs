//! The health check itself: HTTPS status URLs (upstream issue #1556), level-10 tests with
//! user/password, testurl/testregex10, IPv6.

mod support;

use std::path::Path;

use support::{Agent, CustomConf, STOCK_CONFIG, Sandbox};

fn https_conf(sb: &Sandbox) -> String {
    let (cert, key) = support::make_cert(sb);
    let conf = CustomConf {
        listen: "127.0.0.1:8443 https".into(),
        extra: format!(
            "LoadModule ssl_module {m}/mod_ssl.so\nLoadModule socache_shmcb_module {m}/mod_socache_shmcb.so\n\
             SSLSessionCache shmcb:{d}/run/ssl_scache(512000)\n\
             <VirtualHost 127.0.0.1:8443>\n  SSLEngine on\n  SSLCertificateFile {cert}\n  SSLCertificateKeyFile {key}\n</VirtualHost>\n",
            m = support::MODULES,
            d = sb.dir.path().display()
        ),
        ..Default::default()
    };
    conf.write(sb).display().to_string()
}

#[test]
fn https_status_url_from_listen_https() {
    let sb = Sandbox::new("aphttps");
    let conf = https_conf(&sb);
    let p = [("configfile", conf.as_str())];
    sb.ours("start", &p).expect(0);
    sb.ours("monitor", &p).expect(0);
    // Explicit https statusurl too, and a regex that only the status page matches.
    let explicit = [
        ("configfile", conf.as_str()),
        ("statusurl", "https://localhost:8443/status"),
        ("testregex", "Apache Server Status"),
    ];
    sb.ours("monitor", &explicit).expect(0);
    // Plain http to the TLS port gets a 400 from httpd: a wrong answer, reported as such.
    let plain = [("configfile", conf.as_str()), ("statusurl", "http://127.0.0.1:8443/status")];
    sb.ours("monitor", &plain).expect_reason(1, "HTTP 400");
    // Verification against the system CAs rejects the self-signed certificate.
    let verify = [("configfile", conf.as_str()), ("tls_verify", "true")];
    sb.ours("monitor", &verify).expect_reason(1, "TLS");
    sb.ours("stop", &p).expect(0);
    assert!(sb.apache_pids().is_empty());
}

fn auth_conf(sb: &Sandbox) -> String {
    let d = sb.dir.path();
    std::fs::create_dir_all(d.join("private")).unwrap();
    std::fs::write(d.join("private/index.html"), "<html>private page ok</html>\n").unwrap();
    let conf = CustomConf {
        extra: format!(
            "LoadModule auth_basic_module {m}/mod_auth_basic.so\nLoadModule authn_file_module {m}/mod_authn_file.so\n\
             LoadModule authn_core_module {m}/mod_authn_core.so\nLoadModule authz_user_module {m}/mod_authz_user.so\n\
             LoadModule alias_module {m}/mod_alias.so\nAlias /private {d}/private\n\
             <Directory {d}/private>\n  AuthType Basic\n  AuthName rha\n  AuthUserFile {d}/conf/htpasswd\n  Require valid-user\n</Directory>\n",
            m = support::MODULES,
            d = d.display()
        ),
        ..Default::default()
    }
    .write(sb);
    let out = std::process::Command::new("htpasswd")
        .args(["-cbB", d.join("conf/htpasswd").to_str().unwrap(), "mon", "s3cret"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::set_permissions(d.join("conf/htpasswd"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    std::fs::write(
        d.join("conf/webmon.cf"),
        "# level-10 tests\ntest priv\nurl /private/index.html\nmatch private page ok\nuser mon\npassword s3cret\nend\n\n\
         test wrong\nurl /private/index.html\nmatch private page ok\nuser mon\npassword nope\nend\n\n\
         test vhost\nurl http://127.0.0.1:8080/\nmatch custom server\nclient curl\nclient_opts -H 'X-Test: 1' --max-time 3\nend\n",
    )
    .unwrap();
    conf.display().to_string()
}

#[test]
fn level_10_testconffile_with_user_and_password() {
    let sb = Sandbox::new("aplvl10");
    let conf = auth_conf(&sb);
    let cf = Path::new(&conf).parent().unwrap().join("webmon.cf").display().to_string();
    let lvl10 = [("OCF_CHECK_LEVEL", "10")];
    let base = [("configfile", conf.as_str()), ("testconffile", cf.as_str())];
    sb.ours("start", &base).expect(0);
    // First block by default, then by name.
    sb.agent(Agent::Ours, "monitor", &base, &lvl10).expect(0);
    let with = |name: &'static str| {
        [("configfile", conf.as_str()), ("testconffile", cf.as_str()), ("testname", name)]
    };
    sb.agent(Agent::Ours, "monitor", &with("priv"), &lvl10).expect(0);
    sb.agent(Agent::Ours, "monitor", &with("wrong"), &lvl10).expect_reason(1, "HTTP 401");
    sb.agent(Agent::Ours, "monitor", &with("vhost"), &lvl10).expect(0);
    // Level 0 ignores the level-10 test.
    sb.ours("monitor", &with("wrong")).expect(0);
    // A test name that does not exist: start refuses (6), a recurring monitor fails softly (1).
    sb.agent(Agent::Ours, "monitor", &with("nosuch"), &lvl10).expect_reason(1, "no test named");
    sb.ours("stop", &base).expect(0);
    sb.ours("start", &with("nosuch")).expect_reason(6, "no test named");
    assert!(sb.apache_pids().is_empty());
}

#[test]
fn level_10_testurl_and_testregex10() {
    let sb = Sandbox::new("aptesturl");
    let conf = CustomConf::default().write(&sb).display().to_string();
    let lvl10 = [("OCF_CHECK_LEVEL", "10")];
    sb.ours("start", &[("configfile", &conf)]).expect(0);
    let ok = [("configfile", conf.as_str()), ("testurl", "/index.html"), ("testregex10", "CUSTOM server")];
    sb.agent(Agent::Ours, "monitor", &ok, &lvl10).expect(0);
    let nomatch =
        [("configfile", conf.as_str()), ("testurl", "/index.html"), ("testregex10", "^nothing like this$")];
    sb.agent(Agent::Ours, "monitor", &nomatch, &lvl10).expect_reason(1, "does not match");
    let missing = [("configfile", conf.as_str()), ("testurl", "/nope.html"), ("testregex10", "x")];
    sb.agent(Agent::Ours, "monitor", &missing, &lvl10).expect_reason(1, "404");
    let noregex = [("configfile", conf.as_str()), ("testurl", "/index.html")];
    sb.agent(Agent::Ours, "monitor", &noregex, &lvl10).expect_reason(1, "testregex10");
    // Level 10 requested without any level-10 test: the status check only, and a warning.
    let plain = sb.agent(Agent::Ours, "monitor", &[("configfile", &conf)], &lvl10);
    plain.expect(0);
    assert!(plain.stderr.contains("WARNING"), "{}", plain.stderr);
    sb.ours("stop", &[("configfile", &conf)]).expect(0);
}

#[test]
fn ipv6_listen_and_use_ipv6() {
    let sb = Sandbox::new("apipv6");
    let conf =
        CustomConf { listen: "[::1]:8080".into(), ..Default::default() }.write(&sb).display().to_string();
    let p = [("configfile", conf.as_str())];
    sb.ours("start", &p).expect(0);
    sb.ours("monitor", &p).expect(0);
    sb.ours("stop", &p).expect(0);
    // Stock configuration (Listen 80, all addresses) checked over ::1.
    let v6 = [("configfile", STOCK_CONFIG), ("use_ipv6", "true")];
    sb.ours("start", &v6).expect(0);
    sb.ours("monitor", &v6).expect(0);
    sb.ours("monitor", &[("configfile", STOCK_CONFIG), ("statusurl", "http://[::1]/server-status")])
        .expect(0);
    sb.ours("stop", &v6).expect(0);
    assert!(sb.apache_pids().is_empty());
}
