//! `sverka simulate --election FILE --seed S [--stations N] --out DIR`: a synthetic election night.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The election definition to simulate
    #[arg(long)]
    election: std::path::PathBuf,
    /// The seed; the same seed gives byte-identical output
    #[arg(long)]
    seed: u64,
    /// Scale the geography synthetically to this many stations
    #[arg(long)]
    stations: Option<u64>,
    /// The output directory (created; must not exist or be empty)
    #[arg(long)]
    out: std::path::PathBuf,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    eprintln!("sverka simulate: not built yet in this version; nothing was done");
    Ok(ExitCode::from(2))
}
