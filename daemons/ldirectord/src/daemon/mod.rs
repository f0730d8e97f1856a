//! The running daemon. TODO(ld-daemon helper): implement.
