//! What the VM tests of rha-ldirectord share.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rha_harness::netns::Netns;

const MODULES: &str = "/usr/lib/apache2/modules";

/// `python3 -m http.server` on `ip`:80 in `ns`, serving a directory listing of /.
pub fn http_server(ns: &Netns, ip: &str) -> Child {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-m", "http.server", "80", "--bind", ip, "-d", "/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server")
}

/// One real Apache: its own configuration, document root and pid file, in `ns`, serving a
/// page with its name; in the foreground, so the test holds the process.
pub struct Apache {
    dir: PathBuf,
    ns: String,
    listen: String,
    name: String,
    child: Option<Child>,
}

impl Apache {
    pub fn new(base: &Path, ns: &Netns, listen: &str, name: &str) -> Apache {
        let dir = base.join(name);
        for sub in ["", "www", "run", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(dir.join("www/index.html"), name).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("httpd.conf"),
            format!(
                "ServerRoot /etc/apache2\nServerName {name}\nDefaultRuntimeDir {d}/run\nPidFile {d}/run/httpd.pid\n\
                 LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
                 LoadModule dir_module {MODULES}/mod_dir.so\n\
                 User www-data\nGroup www-data\nListen {listen}\n\
                 ErrorLog {d}/log/error.log\nLogLevel warn\n\
                 DocumentRoot {d}/www\nDirectoryIndex index.html\n\
                 <Directory {d}/www>\n  Require all granted\n</Directory>\n"
            ),
        )
        .unwrap();
        let mut a = Apache {
            dir,
            ns: ns.name().to_string(),
            listen: listen.to_string(),
            name: name.to_string(),
            child: None,
        };
        a.start();
        a
    }

    /// Its document root (index.html holds its name).
    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }

    pub fn start(&mut self) {
        let conf = self.dir.join("httpd.conf");
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns, "apache2", "-f", conf.to_str().unwrap(), "-DFOREGROUND"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("apache2");
        self.child = Some(child);
        let addr: SocketAddr = self.listen.replace("0.0.0.0", "127.0.0.1").parse().unwrap();
        crate::vmnet::wait_reachable(&self.ns, addr, Duration::from_secs(60));
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: Apache stops its children and exits.
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::SIGTERM);
            let limit = Instant::now() + Duration::from_secs(30);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > limit {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_file(self.dir.join("run/httpd.pid"));
        eprintln!("apache {} stopped", self.name);
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        self.stop();
    }
}
