//! Host tier: service=http and https against a real apache2 in the server namespace (its own
//! config, self-signed certificate, document root in a temp dir), IPv4 and IPv6; and
//! service=http_proxy against the same apache2 as a forward proxy (mod_proxy, port 3128).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use rha_check::receive::Receive;
use rha_check::{CheckSpec, Service};
use support::{Net, SERVER_V4, SERVER_V6};

const MODULES: &str = "/usr/lib/apache2/modules";

/// A running apache2, stopped on drop.
struct Apache<'a> {
    net: &'a Net,
    conf: String,
    pid_file: String,
}

impl<'a> Apache<'a> {
    fn start(net: &'a Net, dir: &Path) -> anyhow::Result<Apache<'a>> {
        let d = dir.display();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        for sub in ["run", "www", "log", "tls"] {
            std::fs::create_dir_all(dir.join(sub))?;
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::write(dir.join("www/index.html"), "<html><body>it works: ok</body></html>\n")?;
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=rha-test"])
            .args(["-keyout", &format!("{d}/tls/key.pem"), "-out", &format!("{d}/tls/cert.pem")])
            .output()?;
        anyhow::ensure!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        let conf = format!(
            "ServerRoot /etc/apache2\nServerName rha-test\nDefaultRuntimeDir {d}/run\nPidFile {d}/run/httpd.pid\n\
             LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n\
             LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
             LoadModule dir_module {MODULES}/mod_dir.so\n\
             LoadModule socache_shmcb_module {MODULES}/mod_socache_shmcb.so\n\
             LoadModule ssl_module {MODULES}/mod_ssl.so\n\
             LoadModule proxy_module {MODULES}/mod_proxy.so\n\
             LoadModule proxy_http_module {MODULES}/mod_proxy_http.so\n\
             User www-data\nGroup www-data\n\
             Listen {SERVER_V4}:8080\nListen [{SERVER_V6}]:8080\n\
             Listen {SERVER_V4}:8443\nListen [{SERVER_V6}]:8443\n\
             Listen {SERVER_V4}:3128\nListen [{SERVER_V6}]:3128\n\
             ErrorLog {d}/log/error.log\nLogLevel warn\n\
             DocumentRoot {d}/www\nDirectoryIndex index.html\n\
             <Directory {d}/www>\n  Require all granted\n</Directory>\n\
             SSLSessionCache shmcb:{d}/run/ssl_scache(512000)\n\
             <VirtualHost *:8443>\n  SSLEngine on\n  SSLCertificateFile {d}/tls/cert.pem\n  \
             SSLCertificateKeyFile {d}/tls/key.pem\n</VirtualHost>\n\
             <VirtualHost *:3128>\n  ProxyRequests On\n  ProxyTimeout 5\n  <Proxy \"*\">\n    Require all granted\n  </Proxy>\n</VirtualHost>\n"
        );
        let conf_path = format!("{d}/httpd.conf");
        std::fs::write(&conf_path, conf)?;
        net.server.sh_ok(&format!("apache2 -f {conf_path} -k start"))?;
        let apache = Apache { net, conf: conf_path, pid_file: format!("{d}/run/httpd.pid") };
        net.wait_listening(8080, Duration::from_secs(20))?;
        net.wait_listening(8443, Duration::from_secs(20))?;
        net.wait_listening(3128, Duration::from_secs(20))?;
        Ok(apache)
    }

    fn stop(&self) {
        let _ = self.net.server.sh(&format!("apache2 -f {} -k stop", self.conf));
        let pid_file = self.pid_file.clone();
        let _ = rha_harness::cmd::wait_for(
            "apache2 to exit",
            Duration::from_secs(20),
            Duration::from_millis(50),
            || Ok((!Path::new(&pid_file).exists()).then_some(())),
        );
        // The pid file goes before the children close the listening sockets.
        for port in [8080, 8443, 3128] {
            let _ = self.net.wait_closed(port, Duration::from_secs(20));
        }
    }
}

impl Drop for Apache<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spec(service: Service) -> CheckSpec {
    let mut spec = CheckSpec::new(service);
    spec.negotiate_timeout = Duration::from_secs(2);
    spec
}

#[test]
fn http_https_and_http_proxy_up_and_down_on_both_families() -> anyhow::Result<()> {
    let net = Net::new("chkhttp")?;
    let dir = tempfile::tempdir()?;
    let apache = Apache::start(&net, dir.path())?;
    for (service, port) in [(Service::Http, 8080), (Service::Https, 8443)] {
        for target in [net.v4(port), net.v6(port)] {
            let mut s = spec(service);
            let out = net.check(&s, target);
            assert!(out.up, "{service:?} {target:?}: {out:?}");
            s.receive = Some(Receive::new("it works: ok").unwrap());
            s.virtualhost = Some("www.example.org".into());
            let out = net.check(&s, target);
            assert!(out.up, "{service:?} {target:?} with receive: {out:?}");
            s.http_head = true;
            s.receive = None;
            assert!(net.check(&s, target).up, "{service:?} HEAD");
            s.http_head = false;
            s.receive = Some(Receive::new("not there").unwrap());
            let out = net.check(&s, target);
            assert!(!out.up);
            assert_eq!(out.reason, "receive /not there/ not in body");
            s.receive = None;
            s.request = Some("missing.html".into());
            let out = net.check(&s, target);
            assert!(!out.up);
            assert_eq!(out.reason, "HTTP 404");
        }
    }
    // http_proxy: the real is the proxy, the request an absolute URL it fetches (here from
    // the same apache2's port 8080).
    for (target, origin) in [
        (net.v4(3128), format!("http://{SERVER_V4}:8080")),
        (net.v6(3128), format!("http://[{SERVER_V6}]:8080")),
    ] {
        let mut s = spec(Service::HttpProxy);
        s.request = Some(format!("{origin}/index.html"));
        s.receive = Some(Receive::new("it works: ok").unwrap());
        let out = net.check(&s, target);
        assert!(out.up, "http_proxy {target:?}: {out:?}");
        s.receive = Some(Receive::new("not there").unwrap());
        assert_eq!(net.check(&s, target).reason, "receive /not there/ not in body");
        s.receive = None;
        s.request = Some(format!("{origin}/missing.html"));
        assert_eq!(net.check(&s, target).reason, "HTTP 404", "http_proxy {target:?}");
        // The origin behind the proxy is down: the proxy's 502/503 is the real's answer.
        s.request = Some(origin.replace(":8080", ":8081") + "/");
        let out = net.check(&s, target);
        assert!(
            !out.up && out.reason.starts_with("HTTP 50"),
            "http_proxy to a dead origin {target:?}: {out:?}"
        );
    }

    // Plain HTTP to the TLS port is answered with 400 by apache: down with the status.
    let out = net.check(&spec(Service::Http), net.v4(8443));
    assert!(!out.up && out.reason == "HTTP 400", "{out:?}");

    net.blackhole()?;
    for target in [net.v4(8080), net.v6(8443)] {
        let service = if target.addr.port() == 8080 { Service::Http } else { Service::Https };
        let out = net.check(&spec(service), target);
        assert!(!out.up);
        assert_eq!(out.reason, "timeout after 2 s connecting", "{target:?}");
        assert!(out.latency < Duration::from_secs(3), "{out:?}");
    }
    net.unblackhole()?;

    apache.stop();
    for target in [net.v4(8080), net.v6(8443)] {
        let out = net.check(&spec(Service::Http), target);
        assert!(!out.up);
        assert_eq!(out.reason, "connect refused", "{target:?}");
    }
    let out = net.check(&spec(Service::HttpProxy), net.v4(3128));
    assert_eq!((out.up, out.reason.as_str()), (false, "connect refused"), "http_proxy stopped");
    Ok(())
}
