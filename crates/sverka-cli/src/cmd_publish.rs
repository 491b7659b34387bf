//! `sverka publish DIR --out PUBDIR`: the static publication of the latest checkpoint (see
//! `sverka_store::publish`). Full tiles are written once; publishing again only adds files and
//! replaces `checkpoint`. Each checkpoint gets its `snapshot/<N>.json`, replayed from the log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::ProgressBar;
use sverka_store::{PublishOptions, Store, StoreError};

#[derive(clap::Args)]
pub struct Args {
    /// The data directory
    dir: PathBuf,
    /// Where to write the publication (created if missing)
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open_for_publish(&args.dir)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let checkpoint = store.checkpoint_now().context("signing the checkpoint")?;
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("publishing checkpoint {}", checkpoint.size));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let snapshots = sverka_store::snapshot::ReplaySnapshots;
    let result = store.publish(&args.out, &PublishOptions { snapshot: Some(&snapshots) });
    spinner.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(error @ StoreError::PublishedConflict { .. }) => {
            eprintln!("sverka publish: {error}");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error).context("publishing"),
    };
    println!(
        "published checkpoint {} (root {}) to {}",
        report.size,
        checkpoint.root.to_base64(),
        args.out.display()
    );
    println!(
        "  {} files written ({} bytes), {} already there, checkpoint {}",
        report.written,
        report.bytes_written,
        report.unchanged,
        if report.checkpoint_replaced { "replaced" } else { "unchanged" }
    );
    Ok(ExitCode::SUCCESS)
}
