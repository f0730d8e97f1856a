//! Host tier: the VM launcher fails loudly, with the reason, when the VM cannot start.
//! (The VM itself is exercised by the vm tier: `rha-vm run-tests`.)

use rha_harness::vm::{self, VmCommand, VmConfig};

#[test]
fn unbootable_kernel_is_a_clear_error() {
    vm::find_vng().expect("virtme-ng must be installed for the VM tier");
    // Not a kernel: qemu refuses it at once.
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), "not a kernel\n").unwrap();
    let cfg = VmConfig { kernel: Some(junk.path().to_path_buf()), echo: false, ..VmConfig::default() };
    let e = vm::run(&cfg, &[VmCommand::new(&["true"])]).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("the VM did not start"), "{msg}");
    assert!(msg.contains(&junk.path().display().to_string()), "{msg}");
}

#[test]
fn stock_kernel_is_found() {
    let k = vm::find_kernel().expect("install linux-image-amd64");
    let name = k.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("vmlinuz-"), "{name}");
}
