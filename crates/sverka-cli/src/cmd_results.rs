//! `sverka results DIR [--format json|csv|cdf]`: the tabulated results of the latest signed
//! checkpoint, replayed from the log by the same function the publication and `sverka verify`
//! use. It only reads: the store is opened read-only (`Store::open_read_only`), so it signs
//! nothing and works on a data directory it may not write to.
//! JSON is the `sverka-snapshot/v1` snapshot; CSV is one row per level (or per station with
//! `--table stations`); CDF is NIST SP 1500-100 Election Results Reporting (JSON).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_store::Store;
use sverka_tally::export::cdf::{election_report_json, CdfConfig};
use sverka_tally::export::csv::{levels_csv, stations_csv};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Csv,
    Cdf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Table {
    Levels,
    Stations,
}

#[derive(clap::Args)]
pub struct Args {
    /// The data directory
    dir: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// For CSV: one row per level (nation, regions, districts) or per polling station
    #[arg(long, value_enum, default_value = "levels")]
    table: Table,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(&args.dir)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let checkpoint = store.checkpoint().context("reading the latest signed checkpoint")?;
    let replay =
        sverka_store::snapshot::replay_to(&store, checkpoint.size).context("replaying the log")?;
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        // Handed to stdout a megabyte at a time: a million stations' snapshot is over a
        // gigabyte, too large to hold whole beside the tally.
        Format::Json => {
            let mut failed = None;
            replay.write_snapshot(*checkpoint.root.as_bytes(), &mut |piece| {
                failed = stdout.write_all(piece).err();
                failed.is_none()
            })?;
            failed.map_or_else(|| stdout.write_all(b"\n"), Err)
        }
        Format::Csv | Format::Cdf => {
            let results = replay.tally().results(replay.election());
            let output = match (args.format, args.table) {
                (Format::Csv, Table::Levels) => levels_csv(&results).into_bytes(),
                (Format::Csv, Table::Stations) => stations_csv(&results).into_bytes(),
                _ => {
                    let mut config = CdfConfig::official(&now_rfc3339());
                    config.notes = Some(format!(
                        "computed by sverka from log checkpoint {} (root {})",
                        checkpoint.size,
                        checkpoint.root.to_base64()
                    ));
                    election_report_json(&results, replay.election(), &config)?
                }
            };
            stdout.write_all(&output).and_then(|()| match output.last() {
                Some(b'\n') => Ok(()),
                _ => stdout.write_all(b"\n"),
            })
        }
    };
    let exit = crate::stdout_exit_code(written.and_then(|()| stdout.flush()));
    // The process ends next: freeing the tally of a million stations allocation by allocation
    // would take most of a second and give nothing back to anyone.
    std::mem::forget(replay);
    exit.context("writing the results")
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, H. Hinnant's algorithm).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
