//! `sverka allocate [FILE]`: seat allocation only, per DESIGN.md's JSON contract.

use std::io::Read;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The input JSON object; standard input when absent
    file: Option<std::path::PathBuf>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    eprintln!("sverka allocate: not built yet in this version; nothing was done");
    Ok(ExitCode::from(2))
}
