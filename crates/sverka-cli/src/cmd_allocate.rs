//! `sverka allocate [FILE]`: seat allocation only, per DESIGN.md's JSON contract. One JSON object in
//! (from FILE or standard input), one JSON object out; the arithmetic is `sverka_tally::seats`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The input JSON object; standard input when absent
    file: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = match &args.file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("reading standard input")?;
            input
        }
    };
    match sverka_tally::seats::allocate_json(&input) {
        Ok(output) => {
            println!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("sverka allocate: {error}");
            Ok(ExitCode::from(1))
        }
    }
}
