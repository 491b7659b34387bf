//! `sverka import DIR FILE`: every line of a submissions file (one signed submission per line, as
//! `sverka simulate` writes and `POST /api/v1/submissions` takes) through the store's admission
//! path, in batches. Rejections are normal data: they are quarantined, counted by code and the
//! command still exits 0; it exits 1 only when the file could not be processed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufRead;

use sverka_store::store::BULK_COMMIT_SUBMISSIONS;
use sverka_store::{CheckpointPolicy, Config, Incoming, PreparedBatch, Store, SubmitError};

/// Lines per call to the store. The batches are queued as a bulk load: the sequencer stages
/// consecutive ones in one transaction of up to [`BULK_COMMIT_SUBMISSIONS`] submissions (16
/// batches). Each transaction writes every index page it touched (leaf hashes, signers and
/// stations are inserted at random places) to the WAL and again at the next WAL checkpoint, so
/// fewer, larger transactions write far less (BENCHMARKS.md, "The pipeline end to end"). What
/// a batch decoded is freed as soon as it is staged (only the answers wait for the commit), so
/// the size of a batch no longer sets the size of a commit: 4,096 instead of 8,192 holds ~250 MB
/// less decoded in flight (peak 1,672 against 1,920 MiB at 2 million lines).
const BATCH: usize = 4096;

/// Batches queued and not yet answered, at most: a bulk transaction's worth and one more, so
/// that the sequencer never waits for the next batch of a transaction it could commit.
const IN_FLIGHT: usize = BULK_COMMIT_SUBMISSIONS.div_ceil(BATCH) + 1;

#[derive(clap::Args)]
pub struct Args {
    /// The data directory (made by `sverka init`)
    dir: PathBuf,
    /// The submissions file: one submission per line (JSON Lines)
    file: PathBuf,
}

/// What happened to the lines of the file.
#[derive(Default)]
struct Summary {
    new: u64,
    repeated: u64,
    /// Error codes of rejected submissions (a rejection may also carry warnings; not counted).
    rejected: BTreeMap<String, u64>,
    rejected_lines: u64,
    /// Warning codes of accepted submissions.
    warnings: BTreeMap<String, u64>,
    warned_lines: u64,
    failed: u64,
    first_failure: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = Store::open_with(&args.dir, config)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let progress = ProgressBar::new(length);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("static template"),
    );
    let name = args.file.display().to_string();
    let mut summary = Summary::default();
    // The file is read a batch at a time (a million stations' night is several GB), and each
    // batch is decoded and signature-checked here while the previous ones are being written by
    // the sequencer: answers counted in file order. The checkpoint request after the last batch
    // commits the sequencer's last transaction.
    let (batches, queue) = std::sync::mpsc::sync_channel::<PreparedBatch>(1);
    let mut checkpoint = None;
    let lines = std::thread::scope(|scope| -> anyhow::Result<u64> {
        let writer = scope.spawn(|| {
            let mut summary = Summary::default();
            let mut waiting = std::collections::VecDeque::new();
            for batch in queue {
                waiting.push_back(store.submit_prepared_bulk(batch));
                while waiting.len() > IN_FLIGHT {
                    let answers = waiting.pop_front().expect("more than none").wait();
                    answers.into_iter().for_each(|answer| count(&mut summary, answer));
                }
            }
            let checkpoint = store.checkpoint_now();
            for answers in waiting {
                answers.wait().into_iter().for_each(|answer| count(&mut summary, answer));
            }
            (summary, checkpoint)
        });
        let read = read_batches(&args, &name, &progress, |incoming| {
            // A closed queue means the writer thread is gone; its panic is reported below.
            batches.send(store.prepare(incoming)).is_ok()
        });
        drop(batches);
        let (written, signed) = writer.join().expect("the import's writer thread");
        (summary, checkpoint) = (written, Some(signed));
        read
    })?;
    progress.finish_and_clear();
    let checkpoint = match checkpoint {
        Some(signed) => signed,
        None => store.checkpoint_now(),
    };
    let checkpoint = checkpoint.context("signing the checkpoint")?;
    print_summary(&args, &summary, lines, checkpoint.size);
    if summary.failed > 0 {
        eprintln!(
            "sverka import: {} submissions could not be stored ({}); run the same import again: \
             what is already in the log is recognised and not added twice",
            summary.failed,
            summary.first_failure.as_deref().unwrap_or("unknown error")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the file's non-empty lines in batches of [`BATCH`], each line named by its number for
/// the quarantine, and hands each batch to `submit` (which returns `false` to stop); returns
/// the number of submissions read.
fn read_batches(
    args: &Args,
    name: &str,
    progress: &ProgressBar,
    mut submit: impl FnMut(Vec<Incoming>) -> bool,
) -> anyhow::Result<u64> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut batch = Vec::with_capacity(BATCH);
    let (mut number, mut submissions) = (0u64, 0u64);
    loop {
        let mut line = Vec::new();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {} after line {number}", args.file.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        progress.inc(read as u64);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        submissions += 1;
        batch.push(Incoming { bytes: line, sender: format!("import {name}:{number}") });
        if batch.len() == BATCH && !submit(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
        {
            return Ok(submissions);
        }
    }
    if !batch.is_empty() {
        submit(batch);
    }
    Ok(submissions)
}

fn count(summary: &mut Summary, answer: Result<sverka_store::Receipt, SubmitError>) {
    match answer {
        Ok(receipt) if receipt.new => {
            summary.new += 1;
            if !receipt.warnings.is_empty() {
                summary.warned_lines += 1;
            }
            for warning in &receipt.warnings {
                *summary.warnings.entry(warning.code.clone()).or_default() += 1;
            }
        }
        Ok(_) => summary.repeated += 1,
        Err(SubmitError::Rejected(rejection)) => {
            summary.rejected_lines += 1;
            for code in rejection.codes().into_iter().filter(|code| is_error(code)) {
                *summary.rejected.entry(code.to_string()).or_default() += 1;
            }
        }
        Err(SubmitError::Store(error)) => {
            summary.failed += 1;
            summary.first_failure.get_or_insert_with(|| error.to_string());
        }
    }
}

/// Whether a code is an error of the rule catalogue (warnings ride along in rejections too).
fn is_error(code: &str) -> bool {
    sverka_model::validate::rule(code)
        .is_none_or(|rule| rule.severity == sverka_model::validate::Severity::Error)
}

fn print_summary(args: &Args, summary: &Summary, lines: u64, size: u64) {
    println!("{}: {lines} submissions", args.file.display());
    println!("  accepted, new:         {}", summary.new);
    println!("    with warnings:       {}", summary.warned_lines);
    for (code, n) in &summary.warnings {
        println!("      {code}: {n}");
    }
    println!("  already in the log:    {}", summary.repeated);
    println!("  rejected:              {}", summary.rejected_lines);
    for (code, n) in &summary.rejected {
        println!("    {code}: {n}");
    }
    println!("log size {size}, checkpoint signed");
    if summary.rejected_lines > 0 {
        println!(
            "rejected submissions are kept in the quarantine of {} (table `quarantine` of {}, \
             with the line each came from and its codes)",
            args.dir.display(),
            args.dir.join(sverka_store::store::DB_FILE).display()
        );
    }
}
