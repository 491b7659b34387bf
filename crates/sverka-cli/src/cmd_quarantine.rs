//! `sverka quarantine`: not built yet; this module is its place.

pub use crate::not_built::Args;

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::not_built::run("quarantine", args)
}
