//! Benchmarks of the audit mathematics (filled below).
fn main() {}
