//! `sverka import DIR FILE`: every line of a submissions file (one signed submission per line, as
//! `sverka simulate` writes and `POST /api/v1/submissions` takes) through the store's admission
//! path, in batches. Rejections are normal data: they are quarantined, counted by code and the
//! command still exits 0; it exits 1 only when the file could not be processed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sverka_store::{CheckpointPolicy, Config, Incoming, Store, SubmitError};

/// Lines per call to the store (the sequencer may group several calls into one transaction).
const BATCH: usize = 1024;

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
    let content =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = Store::open_with(&args.dir, config)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let lines: Vec<(usize, &[u8])> = content
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let progress = ProgressBar::new(lines.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} submissions {per_sec} eta {eta}")
            .expect("static template"),
    );
    let name = args.file.display().to_string();
    let mut summary = Summary::default();
    for chunk in lines.chunks(BATCH) {
        let incoming = chunk
            .iter()
            .map(|(number, line)| Incoming {
                bytes: line.to_vec(),
                sender: format!("import {name}:{number}"),
            })
            .collect();
        for answer in store.submit_incoming(incoming) {
            count(&mut summary, answer);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let checkpoint = store.checkpoint_now().context("signing the checkpoint")?;
    print_summary(&args, &summary, lines.len(), checkpoint.size);
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

fn print_summary(args: &Args, summary: &Summary, lines: usize, size: u64) {
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
