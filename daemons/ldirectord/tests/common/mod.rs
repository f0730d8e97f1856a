//! What the VM tests of rha-ldirectord share.

use std::process::{Child, Stdio};

use rha_harness::netns::Netns;

/// `python3 -m http.server` on `ip`:80 in `ns`, serving a directory listing of /.
pub fn http_server(ns: &Netns, ip: &str) -> Child {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-m", "http.server", "80", "--bind", ip, "-d", "/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server")
}
