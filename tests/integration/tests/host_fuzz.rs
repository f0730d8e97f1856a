//! Host tier: every parser fuzzed for a bounded time (`fuzz/run-bounded`: cargo-fuzz targets
//! for ocf-shim's parameters, IPaddr2's configuration, ipvsadm-save text, ipvs-service's reals
//! and parameters, Apache's configuration, envfiles and parameters). Fails loudly when the
//! fuzzer cannot be built or installed, and on any crash, hang or memory blow-up, printing the
//! input and how to replay it.
//!
//! `RHA_FUZZ_SECONDS` sets the time per target (default 15 s), plus the first build.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rha_harness::cmd::{require_root, wait_timeout};

#[test]
fn every_parser_survives_bounded_fuzzing() {
    require_root().unwrap();
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let script = fuzz_dir.join("run-bounded");
    assert!(script.exists(), "{} is missing", script.display());
    // run-bounded fuzzes every file of fuzz_targets/: its summary must name them all.
    let targets = std::fs::read_dir(fuzz_dir.join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "rs")))
        .count();
    assert!(targets > 0, "no fuzz targets in fuzz/fuzz_targets");
    // Its own target directory: the cargo running this test holds the lock on ours.
    let target = rha_integration::binaries::profile_dir()
        .parent()
        .map(|p| p.join("rha-fuzz"))
        .expect("target directory");
    let t = Instant::now();
    let mut child = Command::new("bash")
        .arg(&script)
        .env("RHA_FUZZ_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("running fuzz/run-bounded");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    // First build (AddressSanitizer, every agent) plus every target: well under 40 minutes.
    let status = wait_timeout(&mut child, Duration::from_secs(40 * 60)).unwrap();
    if status.is_none() {
        rha_harness::cmd::kill_group(&mut child);
    }
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    eprintln!("{out}\n{err}\nfuzz/run-bounded took {:.0} s", t.elapsed().as_secs_f64());
    let status = status.unwrap_or_else(|| panic!("fuzz/run-bounded did not finish in 40 minutes"));
    assert!(
        status.success(),
        "fuzz/run-bounded failed ({status}): a parser crashed or the fuzzer did not build\n{out}\n{err}"
    );
    assert!(
        out.lines().any(|l| l.starts_with(&format!("fuzz: {targets} targets")) && l.ends_with("0 failed")),
        "no summary line from fuzz/run-bounded:\n{out}"
    );
}
