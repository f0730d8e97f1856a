//! The running daemon: check scheduling (the `rha-check` engine), real-server states, the
//! desired IPVS table, its sync with the kernel, reload, status file and signals.
//!
//! One file per concern, each using only those above it:
//! - [`log`]: where log lines go;
//! - [`real_state`]: one real's health from its check results (+ maintenance);
//! - [`desired`]: config + states → the wanted IPVS service (pure);
//! - [`ipvs_sync`]: ownership of virtuals and applying the wanted table;
//! - [`status`]: the status file other tools read;
//! - [`hooks`]: fallbackcommand, bounded and never blocking checks;
//! - [`runner`]: the loop (reports, ticks, signals, commands), start and stop;
//! - [`reload`]: applying a new config as a difference.

pub mod desired;
pub mod hooks;
pub mod ipvs_sync;
pub mod log;
pub mod real_state;
pub mod reload;
pub mod runner;
pub mod status;

use std::path::PathBuf;
use std::time::Duration;

pub use runner::{Command, Daemon, OnReady};

/// Where an instance keeps its files.
#[derive(Clone, Debug)]
pub struct Paths {
    /// `/run/rha-ldirectord` normally.
    pub run_dir: PathBuf,
    /// The instance name: the config file's base name.
    pub name: String,
}

/// The daemon's run directory (status and ownership files).
pub const RUN_DIR: &str = "/run/rha-ldirectord";

impl Paths {
    pub fn new(name: &str) -> Paths {
        Paths { run_dir: PathBuf::from(RUN_DIR), name: name.to_string() }
    }

    pub fn status(&self) -> PathBuf {
        self.run_dir.join(format!("{}.status", self.name))
    }

    pub fn owned(&self) -> PathBuf {
        self.run_dir.join(format!("{}.owned", self.name))
    }
}

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Paths,
    /// Handle SIGTERM/SIGINT (stop) and SIGHUP (reload). Off for in-process use by tests.
    pub signals: bool,
    /// How long a real a reload removed is kept at weight 0 before it is deleted.
    pub drain: Duration,
    /// How often every owned virtual is read back and repaired if changed behind our back.
    pub repair_every: Duration,
}

impl Options {
    pub fn new(paths: Paths) -> Options {
        Options { paths, signals: true, drain: Duration::from_secs(10), repair_every: Duration::from_secs(5) }
    }
}
