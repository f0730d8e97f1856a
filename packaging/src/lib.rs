//! Packaging helpers for rha-resource-agents.
//!
//! - [`metadata`]: reads an agent's OCF meta-data XML (1.0 or 1.1 dialect) into plain structs.
//! - [`roff`]: escaping for man(7) source.
//! - [`man`]: renders `ocf_<provider>_<agent>.7` from the parsed meta-data (used by `rha-mkman`).
//! - [`workspace`]: finds the agents and the `rha-*` tools among the workspace's binaries (used
//!   by `rha-debinfo`, which `packaging/build-deb` calls), so new agents are packaged without
//!   editing this crate.
//! - [`date`]: a civil date from a Unix time, for reproducible man page and changelog dates.

pub mod date;
pub mod man;
pub mod metadata;
pub mod roff;
pub mod workspace;
