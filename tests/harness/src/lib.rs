//! Test harness for rha.
//!
//! - [`netns`]: network namespaces as guards, veth pairs, bridges, addresses (test ranges only).
//! - [`lab`]: a real Pacemaker/Corosync cluster in namespaces (test tier 2).
//! - [`vm`]: commands inside one VM with Debian's stock kernel via virtme-ng (test tier 3).
//! - [`modules`]: kernel modules unloaded and refused inside the VM ("a kernel without IPVS").
//! - [`cmd`]: running commands with time limits and readable errors.
//! - [`outcome`]: what one agent run did (exit code, output, exit reason), for assertions.
//!
//! Host-tier tests need root and the Debian packages listed in the notes; they fail (never
//! skip) when something is missing, so CI notices.

pub mod cmd;
pub mod dns_down;
pub mod lab;
pub mod modules;
pub mod netns;
pub mod outcome;
pub mod vm;

pub use cmd::{Cmd, CmdOutput};
pub use lab::{Lab, LabConfig, NetSpec};
pub use netns::Netns;
pub use outcome::Outcome;
