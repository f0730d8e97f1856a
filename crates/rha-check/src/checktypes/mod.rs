//! The checktypes that are not a service's protocol: connect, ping, external.

pub mod connect;
pub mod external;
pub mod ping;
