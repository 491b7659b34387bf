//! `sverka reconcile DIR [--format json|csv] [--tolerance N] [--district ID]`: every source
//! compared with every other at every station, line by line, and whether the discrepancies could
//! change an outcome, from the latest checkpoint of a data directory, replayed by the same function
//! as `sverka results`; or from a static publication (`sverka publish`'s PUBDIR), whose checkpoint,
//! tiles and entries are verified against its `log.vkey` as `sverka verify` does before they are
//! replayed. JSON is `sverka-reconciliation/v1`; CSV is one row per station × contest × pair × line
//! with a discrepancy (both in docs/formats.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::Store;
use sverka_tally::reconcile::export::{reconciliation_csv, reconciliation_json};
use sverka_tally::reconcile::{reconcile, Config};
use sverka_tally::replay::Replay;
use sverka_tally::snapshot::Checkpoint;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Csv,
}

#[derive(clap::Args)]
pub struct Args {
    /// The data directory, or a static publication directory
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
    let (replay, at) = if is_publication(&args.dir) {
        from_publication(&args.dir)?
    } else {
        let store = Store::open_read_only(&args.dir)
            .with_context(|| format!("opening {}", args.dir.display()))?;
        let checkpoint = store.checkpoint().context("reading the latest signed checkpoint")?;
        let replay = sverka_store::snapshot::replay_to(&store, checkpoint.size)
            .context("replaying the log")?;
        (replay, Checkpoint { size: checkpoint.size, root: *checkpoint.root.as_bytes() })
    };
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
        Format::Json => reconciliation_json(&reconciliation, Some(&at), district)?,
        Format::Csv => reconciliation_csv(&reconciliation, district).into_bytes(),
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_all(&output).and_then(|()| match output.last() {
        Some(b'\n') => Ok(()),
        _ => stdout.write_all(b"\n"),
    });
    crate::stdout_exit_code(written.and_then(|()| stdout.flush()))
        .context("writing the reconciliation")
}

/// A publication has a `checkpoint` and a `log.vkey` beside its tiles; a data directory has not.
fn is_publication(dir: &Path) -> bool {
    dir.join("checkpoint").is_file() && dir.join("log.vkey").is_file()
}

/// Verifies the publication under its own `log.vkey` and replays every entry it holds.
fn from_publication(dir: &Path) -> anyhow::Result<(Replay, Checkpoint)> {
    use sverka_tlog::{verify_publication, Ed25519Verifier, Expectation, PublicationReader};
    let target = dir.to_string_lossy();
    let reader = crate::cmd_verify::reader_for(&target)
        .with_context(|| format!("{target} is not a directory"))?;
    let vkey = reader
        .read("log.vkey")
        .map_err(|e| anyhow::anyhow!("{target}/log.vkey: {e}"))?
        .context("log.vkey: missing")?;
    let vkey = String::from_utf8_lossy(&vkey).trim().to_string();
    let verifier = Ed25519Verifier::from_vkey(&vkey)
        .with_context(|| format!("the log's verifier key {vkey}"))?;
    let keys = sverka_tlog::VerifierSet::with(vec![
        Box::new(verifier) as Box<dyn sverka_tlog::note::NoteVerifier>
    ])
    .context("the log's verifier key")?;
    let expect = Expectation { log_keys: &keys, origin: None, previous: None, policy: None };
    let mut replay: Option<Replay> = None;
    let mut failure: Option<anyhow::Error> = None;
    let mut on_entry = |index: u64, bytes: &[u8]| {
        if failure.is_some() {
            return;
        }
        let step = match replay.as_mut() {
            Some(replay) => replay.apply(index, bytes).map_err(anyhow::Error::from),
            None => first_entry(&reader, bytes).map(|r| replay = Some(r)),
        };
        if let Err(e) = step {
            failure = Some(e.context(format!("entry {index}")));
        }
    };
    let verified = verify_publication(&reader, &expect, &mut on_entry, &mut |_, _| {})
        .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let replay = replay.context("the publication has no entries")?;
    let checkpoint = &verified.checkpoint;
    Ok((replay, Checkpoint { size: checkpoint.size(), root: *checkpoint.root().as_bytes() }))
}

/// Starts the replay from entry 0 and the election definition it commits to (`blob/<sha256>`).
fn first_entry(reader: &crate::cmd_verify::FnReader, entry0: &[u8]) -> anyhow::Result<Replay> {
    use sverka_tlog::PublicationReader;
    let sha256 = Replay::definition_sha256(entry0)?;
    let definition = reader
        .read(&format!("blob/{sha256}"))
        .map_err(|e| anyhow::anyhow!("blob/{sha256}: {e}"))?
        .with_context(|| format!("blob/{sha256}: the election definition is missing"))?;
    Ok(Replay::start(entry0, &definition)?)
}
