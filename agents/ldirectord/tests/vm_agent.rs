//! VM tier (placeholder, filled below).
#![cfg(feature = "vm-tier")]
