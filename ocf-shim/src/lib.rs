//! ocf-shim: the OCF resource-agent contract, written once for every rha agent.
//!
//! An agent describes itself ([`AgentInfo`]), turns its `OCF_RESKEY_*` parameters into a
//! validated configuration, and implements start/stop/monitor over it ([`Agent`]). [`run`]
//! does everything else the contract asks for: action dispatch, meta-data XML, exit codes and
//! `ocf-exit-reason:` lines, the invalid-configuration rules Pacemaker needs (probe → 7,
//! stop → 0), check-level fall-back, panics mapped to exit 1, and logging like `ocf_log`.
//!
//! The map of the crate:
//! - [`exit`]: exit codes and the typed error every action returns.
//! - [`metadata`]: the declarative description and its XML.
//! - [`params`]: typed access to `OCF_RESKEY_*` checked against the description.
//! - [`context`]: the action, the `CRM_meta_*` values, probe and check-level logic.
//! - [`dispatch`]: the [`Agent`] trait and [`run`].
//! - [`log`]: `ERROR:`/`WARNING:`/`INFO:`/`DEBUG:` lines, HA_LOGFILE, syslog.
//! - [`deadline`]: bounded waiting against the operation's timeout.
//! - [`state`]: per-instance state files under /run.
//! - [`lock`]: a node-wide lock between agent processes, bounded by the deadline.
//! - [`process`]: pid files, liveness, detached daemons, absolute binary lookup.

pub mod context;
pub mod deadline;
pub mod dispatch;
pub mod exit;
pub mod lock;
pub mod log;
pub mod metadata;
pub mod params;
pub mod process;
pub mod state;

pub use context::{Action, CloneInfo, Context};
pub use deadline::Deadline;
pub use dispatch::{Agent, Status, run};
pub use exit::{OcfCode, OcfError, OcfResult};
pub use metadata::{ActionSpec, AgentInfo, ParamType, Parameter};
pub use params::Params;
