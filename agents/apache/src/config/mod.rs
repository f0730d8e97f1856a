//! The server's own configuration, read without running anything: the Apache configuration
//! files ([`parse`]), the shell environment files they depend on ([`envvars`]), and the
//! wildcards both use ([`glob`]).

pub mod envvars;
pub mod glob;
pub mod parse;

pub use envvars::{ShellEnv, split_words};
pub use parse::{ApacheConf, Listen, ParseOptions, StatusLocation, parse};
