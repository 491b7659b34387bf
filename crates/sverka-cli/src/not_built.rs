//! Commands of the contract that are not built yet say so plainly and exit 2; they never pretend.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Arguments of the future command (ignored)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(name: &str, _args: Args) -> anyhow::Result<ExitCode> {
    eprintln!(
        "sverka {name}: not built yet in this version (see the open issues); nothing was done"
    );
    Ok(ExitCode::from(2))
}
