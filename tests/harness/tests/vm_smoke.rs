//! VM tier smoke test. It runs INSIDE the VM booted by `rha-vm run-tests` (Debian's stock
//! kernel under virtme-ng), never on the host: run on the host it fails, on purpose.
//!
//! Build and run:
//!   cargo test -p rha-harness --features vm-tier --test vm_smoke --no-run
//!   rha-vm run-tests <the vm_smoke executable printed above>

use std::path::Path;
use std::time::Duration;

use rha_harness::cmd::{self, require_root, require_tools};
use rha_harness::netns::Netns;
use rha_harness::vm::{HOST_KERNEL_ENV, IN_VM_ENV};

fn kernel_release() -> String {
    nix::sys::utsname::uname().unwrap().release().to_string_lossy().into_owned()
}

#[test]
fn runs_in_the_vm_with_another_kernel() {
    let host = std::env::var(HOST_KERNEL_ENV)
        .unwrap_or_else(|_| panic!("${HOST_KERNEL_ENV} unset: this test must run inside `rha-vm run-tests`"));
    assert_eq!(std::env::var(IN_VM_ENV).as_deref(), Ok("1"));
    let guest = kernel_release();
    assert_ne!(guest, host, "kernel release equals the host's: not in the VM");
    // QEMU's firmware identifies itself in DMI.
    let vendor = std::fs::read_to_string("/sys/class/dmi/id/sys_vendor").unwrap_or_default();
    assert_eq!(vendor.trim(), "QEMU", "not a QEMU guest");
}

#[test]
fn ip_vs_module_loads() {
    require_root().unwrap();
    require_tools(&[("modprobe", "kmod"), ("ipvsadm", "ipvsadm")]).unwrap();
    cmd::run_ok(&["modprobe", "ip_vs"]).unwrap();
    assert!(Path::new("/proc/net/ip_vs").exists(), "/proc/net/ip_vs missing after modprobe ip_vs");
    let out = cmd::run_ok(&["ipvsadm", "-Ln"]).unwrap();
    assert!(out.stdout.contains("IP Virtual Server"), "{out}");
}

#[test]
fn md_module_loads() {
    require_root().unwrap();
    cmd::run_ok(&["modprobe", "raid1"]).unwrap();
    assert!(Path::new("/proc/mdstat").exists(), "/proc/mdstat missing");
}

#[test]
fn network_namespaces_work_in_the_vm() {
    require_root().unwrap();
    require_tools(&[("ip", "iproute2"), ("ping", "iputils-ping")]).unwrap();
    let sw = Netns::new("vmsw").unwrap();
    sw.add_bridge("br0").unwrap();
    let a = Netns::new("vma").unwrap();
    let b = Netns::new("vmb").unwrap();
    a.connect_to("eth0", &sw, "br0", "pa").unwrap();
    b.connect_to("eth0", &sw, "br0", "pb").unwrap();
    a.add_addr("eth0", "198.51.100.1/24").unwrap();
    b.add_addr("eth0", "198.51.100.2/24").unwrap();
    // TCG is slow: allow a few tries for the first packet.
    cmd::wait_for(
        "ping between namespaces in the VM",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || Ok(a.run(&["ping", "-c", "1", "-W", "2", "198.51.100.2"])?.success().then_some(())),
    )
    .unwrap();
    let name = b.name().to_string();
    b.delete().unwrap();
    assert!(!rha_harness::netns::list().unwrap().contains(&name));
}
