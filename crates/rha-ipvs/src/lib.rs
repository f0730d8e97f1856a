//! IPVS (Linux Virtual Server) for rha's resource agents, without ipvsadm.
//!
//! - [`Ipvs`]: a blocking client of the kernel's "IPVS" generic netlink
//!   family: services, real servers, timeouts, sync daemons, flush, info,
//!   and batches of many changes per `sendmsg` ([`Ipvs::apply`]).
//! - [`plan`] / [`describe_differences`]: make one service in the kernel
//!   match a [`ServiceSpec`] exactly, and say in words how it differs.
//! - [`save_format`]: parse and write `ipvsadm-save` / `ipvsadm -S -n` text.
//!
//! Everything is synchronous: agents run for milliseconds.
//!
//! ```no_run
//! use rha_ipvs::{Dest, Forward, Ipvs, Service, ServiceKey, ServiceSpec, plan};
//! let key = ServiceKey::tcp("198.51.100.10".parse()?, 80);
//! let want = ServiceSpec {
//!     service: Service::new(key).with_scheduler("wrr"),
//!     dests: vec![Dest::new("203.0.113.2".parse()?, 80).with_forward(Forward::Masq).with_weight(3)],
//! };
//! let mut ipvs = Ipvs::connect()?; // Error::NotAvailable if ip_vs is absent
//! let current = ipvs.service_spec(&key)?;
//! ipvs.apply(&plan(current.as_ref(), &want))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod addr;
mod change;
mod client;
mod error;
pub mod netlink;
mod plan;
pub mod save_format;
mod types;

pub use change::Change;
pub use client::Ipvs;
pub use error::{BatchFailure, Error, Op, Result};
pub use plan::{
    DestSpec, Differences, ServiceSpec, SpecError, classify_differences, describe_differences, plan,
};
pub use types::*;
