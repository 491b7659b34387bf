//! `sverka simulate --election FILE --seed S [--stations N] --out DIR`: a synthetic election night.
//!
//! Wires files and a progress bar to `sverka_model::simulate`; the night itself is decided there.
//! DIR is written through a temporary sibling directory and renamed into place at the end, so an
//! interrupted run leaves no half-written night behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sverka_model::simulate::{Config, Night, Profile, Progress, Stage};

#[derive(clap::Args)]
pub struct Args {
    /// The election definition to simulate
    #[arg(long)]
    election: PathBuf,
    /// The seed; the same seed gives byte-identical output
    #[arg(long)]
    seed: u64,
    /// Scale the geography synthetically to this many stations
    #[arg(long)]
    stations: Option<u64>,
    /// The output directory (created; must not exist or be empty)
    #[arg(long)]
    out: PathBuf,
    /// National targets (turnout, party shares); default: simulate.toml beside the election, if any
    #[arg(long, conflicts_with = "no_profile")]
    profile: Option<PathBuf>,
    /// Ignore simulate.toml beside the election: plausible default shares
    #[arg(long)]
    no_profile: bool,
    /// Share of scanners that never report
    #[arg(long, default_value_t = Config::default().machine_failure_share)]
    machine_failure_share: f64,
    /// Share of stations with a party observer's copy
    #[arg(long, default_value_t = Config::default().observer_share)]
    observer_share: f64,
    /// Share of reporting scanners whose protocol differs from the hand count
    #[arg(long, default_value_t = Config::default().machine_manual_discrepancy_share)]
    machine_manual_share: f64,
    /// Signing threads (default: one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(problem) = unusable_out(&args.out) {
        eprintln!("error: {problem}; choose a new directory");
        return Ok(ExitCode::from(2));
    }
    let started = Instant::now();
    let text = fs::read_to_string(&args.election)
        .with_context(|| format!("reading {}", args.election.display()))?;
    let (profile, profile_path) = profile(&args)?;
    let config = Config {
        seed: args.seed,
        stations: args.stations,
        machine_failure_share: args.machine_failure_share,
        observer_share: args.observer_share,
        machine_manual_discrepancy_share: args.machine_manual_share,
        profile,
        threads: args.threads,
        ..Config::default()
    };
    let bar = Bar::new();
    let night =
        Night::with_progress(&args.election.display().to_string(), &text, config, &mut |p| {
            bar.show(p)
        })?;
    let partial = partial_dir(&args.out);
    let written = write_night(&night, &partial, &bar);
    bar.finish();
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&partial);
        return Err(error);
    }
    if args.out.exists() {
        fs::remove_dir(&args.out)
            .with_context(|| format!("replacing the empty {}", args.out.display()))?;
    }
    fs::rename(&partial, &args.out)
        .with_context(|| format!("moving {} to {}", partial.display(), args.out.display()))?;

    let summary = night.summary();
    let profile_note = match profile_path {
        Some(path) => format!(" National targets from {}.", path.display()),
        None => " No profile: default shares.".to_string(),
    };
    println!(
        "{summary}.{profile_note} Wrote {dir}/election.toml, {dir}/keys/ ({keys} keys), {dir}/submissions.jsonl ({lines} lines) and {dir}/defects.json in {secs:.1} s.",
        dir = args.out.display(),
        keys = summary.keys,
        lines = summary.submissions,
        secs = started.elapsed().as_secs_f64(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Why DIR cannot be written, if it cannot.
fn unusable_out(out: &Path) -> Option<String> {
    if !out.exists() {
        return None;
    }
    if !out.is_dir() {
        return Some(format!("{} exists and is not a directory", out.display()));
    }
    match fs::read_dir(out).map(|mut entries| entries.next().is_none()) {
        Ok(true) => None,
        Ok(false) => {
            Some(format!("{} is not empty; sverka simulate never overwrites", out.display()))
        }
        Err(e) => Some(format!("cannot read {}: {e}", out.display())),
    }
}

/// The profile to use: `--profile`, else `simulate.toml` beside the election unless `--no-profile`.
fn profile(args: &Args) -> anyhow::Result<(Option<Profile>, Option<PathBuf>)> {
    let beside = args.election.parent().unwrap_or(Path::new(".")).join("simulate.toml");
    let path = match &args.profile {
        Some(path) => path.clone(),
        None if !args.no_profile && beside.is_file() => beside,
        None => return Ok((None, None)),
    };
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok((Some(Profile::from_toml(&path.display().to_string(), &text)?), Some(path)))
}

fn partial_dir(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn write_night(night: &Night, dir: &Path, bar: &Bar) -> anyhow::Result<()> {
    fs::create_dir_all(dir.join("keys")).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write("election.toml", night.election_toml().as_bytes())?;
    for file in night.key_files() {
        write_private(&dir.join(&file.path), file.contents.as_bytes())?;
    }
    write("defects.json", night.defects_json().as_bytes())?;
    let path = dir.join("submissions.jsonl");
    // The lines come in chunks of about a megabyte: written as they are, no buffer in between.
    let mut file =
        fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    night
        .write_submissions(&mut |lines| file.write_all(lines), &mut |p| bar.show(p))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A private key file, readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

/// One progress bar on stderr (hidden when stderr is not a terminal), relabelled per stage.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>22} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Bar { bar }
    }

    fn show(&self, p: Progress) {
        let message = match p.stage {
            Stage::Keys => "deriving scanner keys",
            Stage::Submissions => "signing submissions",
        };
        if self.bar.message() != message {
            self.bar.reset();
            self.bar.set_message(message);
            self.bar.set_length(p.total);
        }
        self.bar.set_position(p.done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
