//! `rha-ldirectord`: an ldirectord.cf-compatible daemon that health-checks real servers with
//! the checks library (`rha-check`) and keeps IPVS in step over netlink (`rha-ipvs`).
//!
//! Layers, each using only those above it in this list:
//! - [`model`]: what a parsed ldirectord.cf says (globals, virtuals, reals), with every
//!   default resolved — the one type the parser produces and the daemon consumes;
//! - [`config`]: ldirectord.cf's grammar → [`model::Config`], errors naming file:line;
//! - [`daemon`]: the running daemon (check scheduling, real-server states, IPVS sync, reload);
//! - [`cli`]: upstream's command line (start, stop, status, reload, ...), pid file, daemonising.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod model;
