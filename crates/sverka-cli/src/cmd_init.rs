//! `sverka init DIR --election FILE`: a new data directory with its log key and the election as
//! the log's first entry (checkpoint 1 signed). Refuses an existing non-empty directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::{Store, StoreError};

#[derive(clap::Args)]
pub struct Args {
    /// The data directory to create (must not exist, or be empty)
    dir: PathBuf,
    /// The election definition (election.toml)
    #[arg(long)]
    election: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.election)
        .with_context(|| format!("reading {}", args.election.display()))?;
    let file_name = args.election.display().to_string();
    let store = match Store::init(&args.dir, &text, &file_name) {
        Ok(store) => store,
        Err(StoreError::NotEmpty(dir)) => {
            eprintln!(
                "sverka init: {} exists and is not empty; nothing was written",
                dir.display()
            );
            return Ok(ExitCode::from(2));
        }
        Err(StoreError::Election(errors)) => {
            eprintln!("sverka init: the election definition is not valid:\n{errors}");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error).context("creating the data directory"),
    };
    let checkpoint = store.checkpoint()?;
    println!("created {}", args.dir.display());
    println!("  database:      {}", args.dir.join(sverka_store::store::DB_FILE).display());
    println!(
        "  log key:       {} (keep it secret)",
        args.dir.join(sverka_store::store::LOG_KEY_FILE).display()
    );
    println!("  election:      {} (entry 0 of the log)", store.election().id);
    println!("  checkpoint:    size {}, root {}", checkpoint.size, checkpoint.root.to_base64());
    println!("log verifier key (publish it; verifiers need it):");
    println!("{}", store.verifier_key());
    Ok(ExitCode::SUCCESS)
}
