//! Where the agents under test are: built by the cargo that runs the tests, into a target
//! directory of their own.
//!
//! `env!("CARGO_BIN_EXE_…")` only exists inside an agent's own package, and `cargo test -p
//! rha-integration` does not build other packages' binaries. So the first test that needs an
//! agent runs `cargo build` (the cargo that runs us, `$CARGO`) for every agent at once into
//! `<target>/rha-agents` (a separate target directory: the running cargo holds the lock on
//! ours). An up-to-date build is a no-op, so the binaries are always those of the current
//! sources, never a stale copy left in `target/debug`.
//!
//! Inside the VM (`RHA_IN_VM=1`) nothing is built (cargo under TCG would take forever): the
//! newer of the binary next to the test executable (built by the same `cargo test --no-run`)
//! and the one of the last host build in `<target>/rha-agents` is used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Overrides where agents are looked up: a profile directory as cargo fills it (`IPaddr2`,
/// `apache`, ..., `examples/example`). `tests/run-all` points it at the `target/debug` its
/// workspace build has just filled, so the tiers do not build every agent a second time.
pub const AGENT_DIR_ENV: &str = "RHA_AGENT_DIR";

/// One agent binary of the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    /// `ocf:rha:IPaddr2` (package rha-ipaddr2).
    IpAddr2,
    /// `ocf:rha:apache` (package rha-apache).
    Apache,
    /// `ocf:rha:ipvs-service` (package rha-ipvs-service).
    IpvsService,
    /// `ocf:rha:ldirectord` (package rha-ldirectord-agent).
    Ldirectord,
    /// The daemon `ocf:rha:ldirectord` runs (package rha-ldirectord; not an agent itself).
    LdirectordDaemon,
    /// ocf-shim's example agent (`examples/example.rs`).
    Example,
}

impl Bin {
    pub const ALL: [Bin; 6] =
        [Bin::IpAddr2, Bin::Apache, Bin::IpvsService, Bin::Ldirectord, Bin::LdirectordDaemon, Bin::Example];

    /// The file name of the binary (also the agent's OCF type name).
    pub fn file_name(self) -> &'static str {
        match self {
            Bin::IpAddr2 => "IPaddr2",
            Bin::Apache => "apache",
            Bin::IpvsService => "ipvs-service",
            Bin::Ldirectord => "ldirectord",
            Bin::LdirectordDaemon => "rha-ldirectord",
            Bin::Example => "example",
        }
    }

    pub fn package(self) -> &'static str {
        match self {
            Bin::IpAddr2 => "rha-ipaddr2",
            Bin::Apache => "rha-apache",
            Bin::IpvsService => "rha-ipvs-service",
            Bin::Ldirectord => "rha-ldirectord-agent",
            Bin::LdirectordDaemon => "rha-ldirectord",
            Bin::Example => "ocf-shim",
        }
    }

    /// Path relative to a profile directory (`target/debug`).
    fn relative(self) -> PathBuf {
        match self {
            Bin::Example => Path::new("examples").join("example"),
            b => PathBuf::from(b.file_name()),
        }
    }
}

/// `target/debug` of the running test executable (`target/debug/deps/<test>-<hash>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test executable has a directory");
    let dir = if deps.file_name().is_some_and(|n| n == "deps") { deps.parent().unwrap() } else { deps };
    dir.to_path_buf()
}

/// The target directory the agents are built into.
pub fn nested_target_dir() -> PathBuf {
    profile_dir().parent().map(Path::to_path_buf).unwrap_or_else(profile_dir).join("rha-agents")
}

fn in_vm() -> bool {
    std::env::var(rha_harness::vm::IN_VM_ENV).as_deref() == Ok("1")
}

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Builds every agent (once per test process) and returns the profile directory holding them.
fn build_all() -> Result<PathBuf, String> {
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let target = nested_target_dir();
            let mut c = Command::new(&cargo);
            c.arg("build").arg("--quiet").arg("--manifest-path").arg(workspace.join("Cargo.toml"));
            for b in Bin::ALL {
                c.args(["-p", b.package()]);
            }
            c.args(["--bins", "--example", "example"]).arg("--target-dir").arg(&target);
            let out = c.output().map_err(|e| format!("running {cargo} to build the agents: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "building the agents failed ({}):\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(target.join("debug"))
        })
        .clone()
}

/// The path of an agent binary, built from the current sources when possible. Panics with the
/// reason when it cannot be found or built (tests fail, never skip).
pub fn agent(bin: Bin) -> PathBuf {
    try_agent(bin).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`agent`], returning the reason instead of panicking.
pub fn try_agent(bin: Bin) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(AGENT_DIR_ENV).filter(|d| !d.is_empty()) {
        let p = Path::new(&dir).join(bin.relative());
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("${AGENT_DIR_ENV}: {} is missing", p.display()))
        };
    }
    if in_vm() {
        let candidates =
            [profile_dir().join(bin.relative()), nested_target_dir().join("debug").join(bin.relative())];
        // The newer of the two: the same `cargo test --no-run` (run-all's VM tier) or the last
        // host run's build.
        let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        return candidates.iter().filter(|p| p.is_file()).max_by_key(|p| mtime(p)).cloned().ok_or_else(
            || {
                format!(
                    "{} not found in the VM (looked at {candidates:?}); build it on the host first: \
                 cargo build -p {} (or run the host tier, which builds every agent)",
                    bin.file_name(),
                    bin.package()
                )
            },
        );
    }
    let p = build_all()?.join(bin.relative());
    if p.is_file() { Ok(p) } else { Err(format!("{} missing after building the agents", p.display())) }
}
