//! The `ask` command line (stub).
fn main() {}
