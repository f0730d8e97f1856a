//! rha-migrate: gets an administrator from what they have to rha in one reviewed step.
//!
//! - [`haresources`] (+ [`hacf`]): Heartbeat v1 resource lines to a Pacemaker configuration.
//! - [`ipvsadm`]: `ipvsadm-save` text to `ocf:rha:ipvs-service` primitives or an `ldirectord.cf`.
//! - [`cib`]: `ocf:heartbeat:*` primitives of a CIB to their `ocf:rha:*` equivalents.
//!
//! Every converter either returns the whole result or every fault it found (file:line), never a
//! part: the output is printed only when the input was entirely understood.

pub mod cib;
pub mod cli;
pub mod error;
pub mod hacf;
pub mod haresources;
pub mod ipvsadm;
pub mod names;
pub mod plan;
pub mod rha_params;

pub use error::{Fault, Faults};
pub use plan::Format;
