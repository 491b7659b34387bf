//! `sverka migrate DIR [--database URL]` and `sverka migrate --database URL`: brings a store's
//! schema to the version this sverka writes (`sverka_store::schema`), and moves a data directory's
//! SQLite log into an empty PostgreSQL database.
//!
//! - `sverka migrate DIR`: migrates DIR's own database (its `sverka.db`, or the PostgreSQL database
//!   its `database` file names).
//! - `sverka migrate --database URL`: migrates that PostgreSQL database (creates the tables of an
//!   empty one).
//! - `sverka migrate DIR --database URL`: moves DIR's SQLite log into the PostgreSQL database at
//!   URL (which must hold no log), then points DIR at it; copy DIR (its `keys/` and `database`)
//!   to every node that will run `sverka serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::{Database, Store};

#[derive(clap::Args)]
pub struct Args {
    /// The data directory (made by `sverka init`)
    dir: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://user@host/dbname): the database to migrate, or with DIR the
    /// one to move DIR's log into
    #[arg(long)]
    database: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let database = match args.database.as_deref().map(Database::parse).transpose() {
        Ok(database) => database,
        Err(error) => {
            eprintln!("sverka migrate: --database: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    match (args.dir, database) {
        (None, None) => {
            eprintln!("sverka migrate: give a data directory, --database URL, or both");
            Ok(ExitCode::from(2))
        }
        (None, Some(database)) => migrate(&database),
        (Some(dir), None) => {
            // Opening migrates; nothing else is written (the policy signs nothing) but the cached
            // election, `DIR/election.cache` and its pin, if the store had none that holds.
            let config = sverka_store::Config {
                checkpoint: sverka_store::CheckpointPolicy::Manual,
                ..Default::default()
            };
            let store = Store::open_with(&dir, config)
                .with_context(|| format!("opening {}", dir.display()))?;
            let database = store.database().clone();
            drop(store);
            migrate(&database)
        }
        (Some(dir), Some(Database::Postgres(url))) => {
            let moved = sverka_store::move_to_postgres(&dir, &url).with_context(|| {
                format!("moving {} into {}", dir.display(), Database::Postgres(url.clone()))
            })?;
            println!("moved the log of {} into {}", dir.display(), Database::Postgres(url));
            for (table, rows) in moved.rows {
                println!("  {table:<20} {rows} rows");
            }
            println!(
                "{} now names that database ({}); copy the directory to every node",
                dir.display(),
                sverka_store::store::DATABASE_FILE
            );
            Ok(ExitCode::SUCCESS)
        }
        (Some(_), Some(Database::Sqlite(_))) => {
            unreachable!("--database parses PostgreSQL URLs only")
        }
    }
}

fn migrate(database: &Database) -> anyhow::Result<ExitCode> {
    let migrated = sverka_store::migrate_database(database)
        .with_context(|| format!("migrating {database}"))?;
    if migrated.from == migrated.to {
        println!("{database}: schema version {} (up to date)", migrated.to);
    } else {
        println!("{database}: schema version {} → {}", migrated.from, migrated.to);
    }
    Ok(ExitCode::SUCCESS)
}
