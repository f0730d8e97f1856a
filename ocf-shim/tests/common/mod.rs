//! Shared by the ocf-shim integration tests: the example agent's binary.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

static BUILD: Once = Once::new();

/// The example agent (`target/<profile>/examples/example`). `cargo test --test X` builds only
/// X, not the examples; when it is missing, build it here with the cargo that runs us, into a
/// target directory of its own (the running cargo holds the lock on ours).
pub fn example_agent() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let agent = profile_dir.join("examples").join("example");
    if agent.exists() {
        return agent;
    }
    let nested = profile_dir.parent().unwrap().join("rha-nested");
    // Tests run in parallel: build once.
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--quiet", "--example", "example", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(&nested)
            .status()
            .expect("running cargo to build the example agent");
        assert!(st.success(), "building the example agent failed");
    });
    let agent = nested.join("debug").join("examples").join("example");
    assert!(agent.exists(), "example agent missing at {}", agent.display());
    agent
}
