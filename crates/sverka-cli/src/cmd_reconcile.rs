//! `sverka reconcile DIR [--format json|csv] [--tolerance N] [--district ID]`: every source
//! compared with every other at every station, line by line, and whether the discrepancies could
//! change an outcome, from the latest checkpoint of a data directory, replayed by the same function
//! as `sverka results`. JSON is `sverka-reconciliation/v1`; CSV is one row per station × contest ×
//! pair × line with a discrepancy (both in docs/formats.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::Store;
use sverka_tally::reconcile::export::{reconciliation_csv, reconciliation_json};
use sverka_tally::reconcile::{reconcile, Config};
use sverka_tally::snapshot::Checkpoint;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Csv,
}

#[derive(clap::Args)]
pub struct Args {
    /// The data directory
    dir: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// The largest difference on one line that still counts as the same count (default: the
    /// election's rules.machine_manual_tolerance)
    #[arg(long)]
    tolerance: Option<u64>,
    /// List only the stations and totals of this district (the answers stay nation-wide)
    #[arg(long)]
    district: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store =
        Store::open(&args.dir).with_context(|| format!("opening {}", args.dir.display()))?;
    let checkpoint = store.checkpoint_now().context("signing the checkpoint")?;
    let replay =
        sverka_store::snapshot::replay_to(&store, checkpoint.size).context("replaying the log")?;
    let election = replay.election();
    if let Some(district) = &args.district {
        if !election.districts.iter().any(|d| &d.id == district) {
            eprintln!(
                "sverka reconcile: --district {district:?} is not a district of election {:?}",
                election.id
            );
            return Ok(ExitCode::from(2));
        }
    }
    let mut config = Config::for_election(election);
    if let Some(tolerance) = args.tolerance {
        config.tolerance = tolerance;
    }
    let reconciliation = reconcile(election, replay.tally(), &config);
    let district = args.district.as_deref();
    let output = match args.format {
        Format::Json => {
            let at = Checkpoint { size: checkpoint.size, root: *checkpoint.root.as_bytes() };
            reconciliation_json(&reconciliation, Some(&at), district)?
        }
        Format::Csv => reconciliation_csv(&reconciliation, district).into_bytes(),
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_all(&output).and_then(|()| match output.last() {
        Some(b'\n') => Ok(()),
        _ => stdout.write_all(b"\n"),
    });
    match written {
        // `sverka reconcile data | head` closes the pipe early; that is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).context("writing the reconciliation"),
    }
}
