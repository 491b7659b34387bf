//! `sverka import DIR FILE`: every line of a submissions file (one signed submission per line, as
//! `sverka simulate` writes and `POST /api/v1/submissions` takes) through the store's admission
//! path, in batches. Rejections are normal data: they are quarantined, counted by code and the
//! command still exits 0. It exits 1 when the file could not be read, or at the store's first
//! failure to store a line (a full disk): it then stops reading, and says which line was the
//! first not stored and that the same command run again skips what is already in the log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufRead;

use sverka_store::store::{Pending, BULK_COMMIT_SUBMISSIONS};
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
    /// The first line that could not be stored (its number in the file) and why; every answer
    /// after it is a store error too (the bulk load stops at its first failure) and not counted.
    failure: Option<(u64, String)>,
}

/// A batch on its way to the sequencer, with the file's line number of each submission.
type Numbered = (PreparedBatch, Vec<u64>);

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
    //
    // At the store's first failure (a full disk) nothing later is stored (`submit_prepared_bulk`),
    // so reading on would only decode and check lines to be refused: the reader stops as soon as
    // the sequencer has met the failure (or the writer thread an answer that says so), and the
    // batches in flight are answered.
    let failed = AtomicBool::new(false);
    let stop = || failed.load(Ordering::Relaxed) || store.bulk_failure().is_some();
    let (batches, queue) = std::sync::mpsc::sync_channel::<Numbered>(1);
    let mut checkpoint = None;
    let read = std::thread::scope(|scope| -> anyhow::Result<Read> {
        let writer = scope.spawn(|| {
            let mut summary = Summary::default();
            let mut waiting = std::collections::VecDeque::new();
            let answered = |summary: &mut Summary, (pending, lines): (Pending, Vec<u64>)| {
                for (answer, line) in pending.wait().into_iter().zip(lines) {
                    count(summary, answer, line);
                }
                if summary.failure.is_some() {
                    failed.store(true, Ordering::Relaxed);
                }
            };
            for (batch, lines) in queue {
                if stop() {
                    // Not queued: it would be refused unstored (the reader stops too).
                    continue;
                }
                waiting.push_back((store.submit_prepared_bulk(batch), lines));
                while waiting.len() > IN_FLIGHT {
                    answered(&mut summary, waiting.pop_front().expect("more than none"));
                }
            }
            let checkpoint = store.checkpoint_now();
            for pending in waiting {
                answered(&mut summary, pending);
            }
            (summary, checkpoint)
        });
        let read = read_batches(&args, &name, &progress, |incoming, lines| {
            if stop() {
                return false;
            }
            let prepared = store.prepare(incoming);
            // A closed queue means the writer thread is gone; its panic is reported below.
            !stop() && batches.send((prepared, lines)).is_ok()
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
    let Some((line, error)) = summary.failure.take() else {
        let checkpoint = checkpoint.context("signing the checkpoint")?;
        print_summary(&args, &summary, read.submissions, checkpoint.size);
        return Ok(ExitCode::SUCCESS);
    };
    // What was committed before the failure stays in the log; the checkpoint over it may not be
    // signed (the disk is full), in which case the next run or `sverka serve` signs it.
    let handled = summary.new + summary.repeated + summary.rejected_lines;
    println!(
        "{}: stopped at line {line}, which could not be stored; {handled} submissions before it",
        args.file.display()
    );
    print_counts(&summary);
    match (&checkpoint, store.tree_size()) {
        (Ok(signed), _) => println!("log size {}, checkpoint signed", signed.size),
        (Err(why), Ok(size)) => println!("log size {size}, checkpoint not signed ({why})"),
        (Err(why), Err(_)) => println!("log size unknown, checkpoint not signed ({why})"),
    }
    println!("stopped reading the file at line {}", read.last_line);
    eprintln!(
        "sverka import: line {line} of {} could not be stored: {error}\n\
         sverka import: stopped there. The lines before it are done ({} added to the log, {} \
         already in it, {} rejected); line {line} and every line after it are NOT stored.\n\
         sverka import: free space on the disk of {} (or fix the cause above) and run the same \
         command again: lines already in the log are skipped as repeats, and the rest is \
         stored in file order.",
        args.file.display(),
        summary.new,
        summary.repeated,
        summary.rejected_lines,
        args.dir.display()
    );
    Ok(ExitCode::from(1))
}

/// How far [`read_batches`] read.
struct Read {
    /// Non-empty lines handed on.
    submissions: u64,
    /// The number of the last line read.
    last_line: u64,
}

/// Reads the file's non-empty lines in batches of [`BATCH`], each line named by its number for
/// the quarantine, and hands each batch with the lines' numbers to `submit` (which returns
/// `false` to stop, the batch then not counted).
fn read_batches(
    args: &Args,
    name: &str,
    progress: &ProgressBar,
    mut submit: impl FnMut(Vec<Incoming>, Vec<u64>) -> bool,
) -> anyhow::Result<Read> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Vec::with_capacity(BATCH);
    let mut read = Read { submissions: 0, last_line: 0 };
    loop {
        let mut line = Vec::new();
        let bytes = reader.read_until(b'\n', &mut line).with_context(|| {
            format!("reading {} after line {}", args.file.display(), read.last_line)
        })?;
        if bytes == 0 {
            break;
        }
        read.last_line += 1;
        let number = read.last_line;
        progress.inc(bytes as u64);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        batch.push(Incoming { bytes: line, sender: format!("import {name}:{number}") });
        lines.push(number);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let numbers = std::mem::replace(&mut lines, Vec::with_capacity(BATCH));
            let count = full.len() as u64;
            if !submit(full, numbers) {
                return Ok(read);
            }
            read.submissions += count;
        }
    }
    let count = batch.len() as u64;
    if !batch.is_empty() && submit(batch, lines) {
        read.submissions += count;
    }
    Ok(read)
}

/// Counts the answer to line `line` of the file; after the first store failure nothing is.
fn count(summary: &mut Summary, answer: Result<sverka_store::Receipt, SubmitError>, line: u64) {
    if summary.failure.is_some() {
        return;
    }
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
        Err(SubmitError::Store(error)) => summary.failure = Some((line, error.to_string())),
    }
}

/// Whether a code is an error of the rule catalogue (warnings ride along in rejections too).
fn is_error(code: &str) -> bool {
    sverka_model::validate::rule(code)
        .is_none_or(|rule| rule.severity == sverka_model::validate::Severity::Error)
}

fn print_summary(args: &Args, summary: &Summary, lines: u64, size: u64) {
    println!("{}: {lines} submissions", args.file.display());
    print_counts(summary);
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

/// The counts of the summary, one line each (tests read them by their labels).
fn print_counts(summary: &Summary) {
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
}
