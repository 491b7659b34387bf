//! The `sverka` binary (being built).
fn main() {}
