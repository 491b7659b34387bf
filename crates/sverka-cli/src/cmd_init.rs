//! `sverka init DIR --election FILE [--database URL]`: a new data directory with its log key and the
//! election as the log's first entry (checkpoint 1 signed). Refuses an existing non-empty directory.
//! With `--database`, the log goes into that empty PostgreSQL database and DIR names it (copy DIR to
//! every node).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::{Config, Database, Store, StoreError};

#[derive(clap::Args)]
pub struct Args {
    /// The data directory to create (must not exist, or be empty)
    dir: PathBuf,
    /// The election definition (election.toml)
    #[arg(long)]
    election: PathBuf,
    /// An empty PostgreSQL database (postgres://user@host/dbname) to hold the log instead of
    /// DIR/sverka.db, for several `sverka serve` nodes
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.election)
        .with_context(|| format!("reading {}", args.election.display()))?;
    let file_name = args.election.display().to_string();
    let database = match args.database.as_deref().map(Database::parse).transpose() {
        Ok(database) => database,
        Err(error) => {
            eprintln!("sverka init: --database: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let config = Config { database, ..Config::default() };
    let store = match Store::init_with(&args.dir, &text, &file_name, config) {
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
    match store.database() {
        Database::Postgres(_) => println!("  database:      {}", store.database()),
        Database::Sqlite(path) => println!("  database:      {}", path.display()),
    }
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
