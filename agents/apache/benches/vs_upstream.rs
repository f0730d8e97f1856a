//! Benchmark against ocf:heartbeat:apache (filled in below).
fn main() {}
