//! rha-integration: the fault matrix shared by every agent's tests, and the cross-agent tests.
//!
//! - [`binaries`]: the agents under test, built from the current sources.
//! - [`agent`]: [`AgentUnderTest`] (binary, parameters, environment, where it runs) and its
//!   [`Outcome`]s, run the way Pacemaker's executor runs agents.
//! - [`sandbox`]: a [`Sandbox`] node (network + mount namespace with a private /run).
//! - [`invariants`]: what must hold after every case (no stray address, process, state file,
//!   IPVS entry, namespace).
//! - [`matrix`]: the checks — lifecycle, behind-the-back breakage, SIGKILL during start,
//!   deadlines, monitor racing stop, two instances, hostile parameter values.
//! - [`metadata`]: parameter names from an agent's meta-data.
//! - [`rng`]: a seeded generator for reproducible random kill points.
//!
//! See `tests/integration/RELIABILITY.md` for which test proves what for which agent.

pub mod agent;
pub mod binaries;
pub mod invariants;
pub mod matrix;
pub mod metadata;
pub mod rng;
pub mod sandbox;

pub use agent::{AgentUnderTest, Outcome, Place};
pub use binaries::{Bin, agent as agent_binary};
pub use invariants::Invariants;
pub use matrix::{Breakage, CheckResult, Failure, Recovery, Results};
pub use rng::Rng;
pub use sandbox::Sandbox;
