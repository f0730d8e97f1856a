//! Upstream ldirectord's command line. TODO(ld-daemon helper): implement.

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    eprintln!("rha-ldirectord: not implemented yet");
    1
}
