//! Health checks of real servers with ldirectord's semantics.
//!
//! The ldirectord daemon (`rha-ldirectord`) asks this crate one question per real server and
//! interval: is it up? A check is described by a [`CheckSpec`] (what ldirectord.cf says for the
//! virtual and the real: `checktype`, `service`, `request`, `receive`, credentials, timeouts)
//! and a [`Target`] (the address to check, optionally the source address to check from).
//! [`run_check`] runs it once, bounded by its own timeout, and returns an [`Outcome`]: up or
//! down with a short reason the daemon logs and shows in its status.
//!
//! Layout, as keepalived keeps one checker per file:
//! - [`spec`]: the types that describe a check (service names, default ports, checktypes);
//! - [`outcome`]: up/down and the reason;
//! - [`run`]: one check under its timeout (checktype dispatch, stage-aware timeout reasons);
//! - [`services`]: one file per ldirectord `service` (the negotiate checks);
//! - [`net`], [`lines`], [`tls`], [`receive`]: the sockets, bounded reads, TLS and Perl-style
//!   regexes every service shares.
//! - [`fuzzing`]: every reply parser over an in-memory reply (a scripted server), for the fuzz
//!   target `rha_check_replies` and the unit tests.
//!
//! Every read is bounded in size and every check in time: a malformed, truncated, oversized,
//! slow or byte-dribbling reply gives "down" with a reason, never a panic or an unbounded read.

pub mod checktypes;
pub mod engine;
pub mod fuzzing;
pub mod lines;
pub mod net;
pub mod outcome;
pub mod receive;
pub mod run;
pub mod services;
pub mod spec;
pub mod tls;

pub use engine::{CheckKey, Engine, Report, SubscriptionId};
pub use outcome::{Down, Outcome};
pub use run::run_check;
pub use spec::{CheckSpec, CheckType, Protocol, Service, Target};
