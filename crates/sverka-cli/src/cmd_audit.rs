//! `sverka audit …`: the risk-limiting audit workflow, every step a signed CEC admin submission
//! in the log (`type` `audit`, docs/formats.md §1.3 and §6), and its status computed from the log
//! by `sverka_audit::workflow`.
//!
//! - `define DIR --audit ID --contest C --risk-limit 0.05`: starts an audit;
//! - `manifest DIR --audit ID`: commits the stations and their reported counts (the tally at the
//!   current log size) by hash;
//! - `seed DIR --audit ID --seed DIGITS`: commits the public seed (after the manifest);
//! - `draw DIR --audit ID [--sample-size N]`: the next round's draws from the seed;
//! - `record DIR --audit ID --station S --votes OPT=N,… --invalid N`: one station's hand count;
//!   `record DIR --audit ID --batch FILE.csv`: many stations' hand counts in one call (docs/formats.md
//!   §7.7), each its own signed `hand_count` entry; the whole file is checked first and nothing is
//!   recorded if any line is wrong (every wrong line is named with its number);
//! - `sheet DIR --audit ID`: the tally sheet for `record --batch`, one empty row per station to count;
//! - `correct DIR --audit ID --station S --votes OPT=N,… --invalid N --reason TEXT`: a new hand
//!   count of a station already counted (the old one stays in the log; the risk is recomputed);
//! - `risk DIR --audit ID`: states each assertion's risk and the decision (confirmed, escalate,
//!   full hand count) as a log entry, once the stage allows one; `sverka verify` recomputes it;
//! - `status DIR --audit ID [--format text|json]`: what to count next, each assertion's risk,
//!   confirmed or escalate;
//! - `estimate DIR --audit ID`: what the audit costs once the manifest is in: per assertion the
//!   batch-level draws and the ballots a card-level comparison audit would compare, and the
//!   stations and ballots the first batch-level round is expected to hand-count.
//!
//! Each step is signed with `--admin KEYFILE` and imported into DIR through the store's admission
//! (the same rules as `POST /api/v1/submissions`), or written to `--out FILE` for `sverka import`.
//! `--seq` defaults to one above the admin key's last number in the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use sverka_audit::workflow::{self, AuditStatus, Stage};
use sverka_model::audit::{
    AuditDefinition, AuditKind, AuditSeed, AuditStep, HandCount, HandCountCorrection, ReportedView,
};
use sverka_model::submission::FORMAT_VERSION;
use sverka_model::{Body, Payload, Submission};
use sverka_store::{CheckpointPolicy, Config, Store, SubmitError};

use crate::cmd_keys::read_private_key;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Start an audit of one contest at a risk limit
    Define(DefineArgs),
    /// Commit the manifest: every station with its reported counts, by SHA-256
    Manifest(StepArgs),
    /// Commit the public random seed (only after the manifest is in the log)
    Seed(SeedArgs),
    /// Draw the next round of stations from the seed and the manifest
    Draw(DrawArgs),
    /// Record the hand count of a sampled station, or of many from a CSV file (--batch)
    Record(RecordArgs),
    /// Print the CSV tally sheet for `record --batch`: the header and a row per station to count
    Sheet(SheetArgs),
    /// Correct a recorded hand count (the old count stays in the log), with the reason
    Correct(CorrectArgs),
    /// State each assertion's risk and the decision in the log (verified by `sverka verify`)
    Risk(StepArgs),
    /// What to count next, each assertion's risk, confirmed or escalate
    Status(StatusArgs),
    /// The cost of the audit: batch-level draws, stations and ballots, against a card-level audit
    Estimate(EstimateArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ViewArg {
    Official,
    Preliminary,
}

/// The data directory, the audit, and who signs.
#[derive(clap::Args)]
struct StepArgs {
    /// The data directory
    dir: PathBuf,
    /// The audit's id
    #[arg(long)]
    audit: String,
    /// The CEC admin's private key file
    #[arg(long)]
    admin: PathBuf,
    /// The admin key's id; default: the file name of --admin without extension
    #[arg(long)]
    admin_id: Option<String>,
    /// The admin key's sequence number; default: one above its last in the log
    #[arg(long)]
    seq: Option<u64>,
    /// Write the submission to this new file instead of importing it into DIR
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DefineArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The contest audited
    #[arg(long)]
    contest: String,
    /// The risk limit, an exact decimal in (0, 1)
    #[arg(long, default_value = "0.05")]
    risk_limit: String,
    /// The reported results checked
    #[arg(long, value_enum, default_value = "official")]
    reported: ViewArg,
}

#[derive(clap::Args)]
struct SeedArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The seed: 1 to 64 decimal digits, e.g. dice rolled in public
    #[arg(long)]
    seed: String,
}

#[derive(clap::Args)]
struct DrawArgs {
    #[command(flatten)]
    step: StepArgs,
    /// Draws in all after this round (default: the estimate, or the escalation's size)
    #[arg(long)]
    sample_size: Option<u64>,
}

#[derive(clap::Args)]
struct RecordArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The station counted
    #[arg(long, required_unless_present = "batch")]
    station: Option<String>,
    /// Ballots per option, OPTION=N separated by commas (every option, "against_all" included)
    #[arg(long, value_delimiter = ',', required_unless_present = "batch")]
    votes: Vec<String>,
    /// Invalid and blank ballots
    #[arg(long, required_unless_present = "batch")]
    invalid: Option<u64>,
    /// A CSV file of hand counts, one station a line (header: station, every option, invalid;
    /// `sverka audit sheet` prints it); every line is checked before anything is recorded
    #[arg(long, conflicts_with_all = ["station", "votes", "invalid"])]
    batch: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CorrectArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The station counted again
    #[arg(long)]
    station: String,
    /// Ballots per option, OPTION=N separated by commas (every option, "against_all" included)
    #[arg(long, value_delimiter = ',')]
    votes: Vec<String>,
    /// Invalid and blank ballots
    #[arg(long)]
    invalid: u64,
    /// Why the count is corrected, e.g. "ballots of a second box found, board decision 7"
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args)]
struct EstimateArgs {
    /// The data directory
    dir: PathBuf,
    /// The audit's id
    #[arg(long)]
    audit: String,
    /// The card-level estimate's assumed rate of one-vote overstatements (ballots misread)
    #[arg(long, default_value_t = 0.001)]
    overstatement_rate: f64,
}

#[derive(clap::Args)]
struct SheetArgs {
    /// The data directory
    dir: PathBuf,
    /// The audit's id
    #[arg(long)]
    audit: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// The data directory
    dir: PathBuf,
    /// The audit's id
    #[arg(long)]
    audit: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Define(args) => define(args),
        Command::Manifest(args) => manifest(args),
        Command::Seed(args) => seed(args),
        Command::Draw(args) => draw(args),
        Command::Record(args) => record(args),
        Command::Sheet(args) => sheet(args),
        Command::Correct(args) => correct(args),
        Command::Risk(args) => risk(args),
        Command::Status(args) => status(args),
        Command::Estimate(args) => estimate(args),
    }
}

fn open(dir: &Path) -> anyhow::Result<Store> {
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    Store::open_with(dir, config).with_context(|| format!("opening {}", dir.display()))
}

/// The audit steps of a log with their indexes, and one signer's highest `seq`.
type LogSteps = (Vec<(u64, AuditStep)>, Option<u64>);

/// Every audit step of the log with its index, and the highest `seq` of `signer`.
fn log_steps(store: &Store, signer: &str) -> anyhow::Result<LogSteps> {
    let size = store.tree_size()?;
    let mut steps = Vec::new();
    let mut last_seq = None;
    let mut start = 1;
    while start < size {
        let end = size.min(start + 4096);
        for (offset, bytes) in store.entries(start..end)?.iter().enumerate() {
            let Ok(submission) = Submission::decode(bytes) else { continue };
            if submission.payload.signer == signer {
                last_seq = last_seq.max(Some(submission.payload.seq));
            }
            if let Body::Audit(step) = submission.payload.body {
                steps.push((start + offset as u64, step));
            }
        }
        start = end;
    }
    Ok((steps, last_seq))
}

/// The audit's status from the log of `store`.
fn audit_status(store: &Store, audit: &str) -> anyhow::Result<AuditStatus> {
    let (steps, _) = log_steps(store, "")?;
    let as_of = steps.iter().find_map(|(_, s)| match s {
        AuditStep::Manifest(m) if m.audit == audit => Some(m.as_of),
        _ => None,
    });
    let reported = match as_of {
        Some(as_of) => Some(
            sverka_store::snapshot::replay_to(store, as_of)
                .with_context(|| format!("replaying the log's first {as_of} entries"))?,
        ),
        None => None,
    };
    let election = store.election();
    Ok(workflow::evaluate(election, reported.as_ref().map(|r| r.tally()), audit, &steps)?)
}

/// Signs each of `steps` with the admin key, with consecutive sequence numbers from `--seq` (or
/// one above the key's last in the log): the submissions' bytes.
fn sign_steps(
    store: &Store,
    args: &StepArgs,
    steps: Vec<AuditStep>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let key = read_private_key(&args.admin)?;
    let signer = match &args.admin_id {
        Some(id) => id.clone(),
        None => args
            .admin
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .with_context(|| format!("{}: give --admin-id", args.admin.display()))?,
    };
    let first = match args.seq {
        Some(seq) => seq,
        None => log_steps(store, &signer)?.1.map_or(1, |last| last + 1),
    };
    let election = store.election().id.clone();
    Ok(steps
        .into_iter()
        .zip(first..)
        .map(|(step, seq)| {
            let payload = Payload {
                v: FORMAT_VERSION,
                election: election.clone(),
                signer: signer.clone(),
                seq,
                time: None,
                body: Body::Audit(step),
            };
            payload.sign(&key).to_bytes()
        })
        .collect())
}

/// Writes submissions to a new file, one a line, for `sverka import`.
fn write_out(out: &Path, submissions: &[Vec<u8>]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let file = options
        .open(out)
        .with_context(|| format!("creating {} (never overwritten)", out.display()))?;
    let mut file = std::io::BufWriter::new(file);
    for bytes in submissions {
        file.write_all(bytes)
            .and_then(|()| file.write_all(b"\n"))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    file.flush().with_context(|| format!("writing {}", out.display()))
}

/// Signs `step` with the admin key and imports it into the store (or writes it to `--out`).
fn submit(store: &Store, args: &StepArgs, step: AuditStep) -> anyhow::Result<ExitCode> {
    let name = step.name();
    let bytes = sign_steps(store, args, vec![step])?.pop().expect("one step signed");
    if let Some(out) = &args.out {
        write_out(out, std::slice::from_ref(&bytes))?;
        println!("wrote {} (audit {name}; ingest it with `sverka import`)", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    match store.submit_from(bytes, &format!("sverka audit {name}")) {
        Ok(receipt) => {
            store.checkpoint_now().context("signing the checkpoint")?;
            println!("audit {name}: entry {} of the log", receipt.index);
            Ok(ExitCode::SUCCESS)
        }
        Err(SubmitError::Rejected(rejection)) => {
            eprintln!("sverka audit {name}: refused (kept in the quarantine): {rejection}");
            Ok(ExitCode::from(1))
        }
        Err(SubmitError::Store(error)) => Err(error).context("storing the submission"),
    }
}

fn define(args: DefineArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.step.dir)?;
    let step = AuditStep::Define(AuditDefinition {
        audit: args.step.audit.clone(),
        contest: args.contest,
        risk_limit: args.risk_limit,
        kind: AuditKind::BatchComparison,
        reported: match args.reported {
            ViewArg::Official => ReportedView::Official,
            ViewArg::Preliminary => ReportedView::Preliminary,
        },
    });
    submit(&store, &args.step, step)
}

fn manifest(args: StepArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let (steps, _) = log_steps(&store, "")?;
    let Some(define) = steps.iter().find_map(|(_, s)| match s {
        AuditStep::Define(d) if d.audit == args.audit => Some(d.clone()),
        _ => None,
    }) else {
        bail!(
            "audit {:?} is not defined in {}: run `sverka audit define` first",
            args.audit,
            args.dir.display()
        );
    };
    let as_of = store.checkpoint_now().context("signing the checkpoint")?.size;
    let replay = sverka_store::snapshot::replay_to(&store, as_of).context("replaying the log")?;
    let manifest = workflow::build_manifest(store.election(), replay.tally(), &define, as_of)?;
    println!(
        "manifest of audit {}: {} stations, {} ballots, as of log size {as_of}, sha256 {}",
        args.audit,
        manifest.rows.len(),
        manifest.ballots(),
        manifest.sha256()
    );
    submit(&store, &args, AuditStep::Manifest(manifest.step()))
}

fn seed(args: SeedArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.step.dir)?;
    let step = AuditStep::Seed(AuditSeed { audit: args.step.audit.clone(), seed: args.seed });
    submit(&store, &args.step, step)
}

fn draw(args: DrawArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.step.dir)?;
    let status = audit_status(&store, &args.step.audit)?;
    let Some(draw) = workflow::next_draw(&status, args.sample_size) else {
        bail!(
            "audit {:?} cannot draw now: {} (a new round's sample size must exceed {})",
            args.step.audit,
            stage_text(&status.stage),
            status.rounds.last().map_or(0, |&(_, s)| s)
        );
    };
    println!("round {}: {} draws, {} in all", draw.round, draw.draws.len(), draw.sample_size);
    submit(&store, &args.step, AuditStep::Draw(draw))
}

fn parse_votes(items: &[String]) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut votes = BTreeMap::new();
    for item in items {
        let Some((option, n)) = item.split_once('=') else {
            bail!("--votes {item:?}: write OPTION=N, e.g. party-a=120");
        };
        let n: u64 = n
            .trim()
            .parse()
            .with_context(|| format!("--votes {item:?}: N is not a whole number"))?;
        votes.insert(option.trim().to_string(), n);
    }
    Ok(votes)
}

fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    if let Some(batch) = &args.batch {
        return record_batch(&args.step, batch);
    }
    let (Some(station), Some(invalid)) = (args.station, args.invalid) else {
        bail!("give --station, --votes and --invalid, or --batch FILE");
    };
    let store = open(&args.step.dir)?;
    let step = AuditStep::HandCount(HandCount {
        audit: args.step.audit.clone(),
        votes: parse_votes(&args.votes)?,
        station,
        invalid,
    });
    submit(&store, &args.step, step)
}

/// `record --batch FILE`: checks every line of the CSV against the audit (the sample, what is
/// counted already, the contest's options), reports every wrong line and records nothing, or
/// signs one `hand_count` per line and submits them together.
fn record_batch(args: &StepArgs, path: &Path) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let status = audit_status(&store, &args.audit)?;
    let Some(manifest) = &status.manifest else {
        bail!("audit {:?} has no sample yet: {}", args.audit, stage_text(&status.stage));
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let counts = match batch::parse(&text, &manifest.options, &status) {
        Ok(counts) => counts,
        Err(errors) => {
            for error in errors.iter().take(100) {
                eprintln!("{}:{error}", path.display());
            }
            if errors.len() > 100 {
                eprintln!("… and {} more", errors.len() - 100);
            }
            eprintln!(
                "sverka audit record: {} wrong line(s) in {}; nothing was recorded",
                errors.iter().map(|e| e.line).collect::<std::collections::BTreeSet<_>>().len(),
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let lines: Vec<usize> = counts.iter().map(|(line, _)| *line).collect();
    let steps: Vec<AuditStep> = counts
        .into_iter()
        .map(|(_, (station, votes, invalid))| {
            AuditStep::HandCount(HandCount { audit: args.audit.clone(), station, votes, invalid })
        })
        .collect();
    let submissions = sign_steps(&store, args, steps)?;
    if let Some(out) = &args.out {
        write_out(out, &submissions)?;
        println!(
            "wrote {} ({} hand counts of audit {}; ingest it with `sverka import`)",
            out.display(),
            submissions.len(),
            args.audit
        );
        return Ok(ExitCode::SUCCESS);
    }
    let n = submissions.len();
    let answers = store.submit_batch(submissions);
    let mut first_last: Option<(u64, u64)> = None;
    let mut refused = 0;
    for (answer, line) in answers.into_iter().zip(&lines) {
        match answer {
            Ok(receipt) => {
                let (first, _) = first_last.unwrap_or((receipt.index, receipt.index));
                first_last = Some((first.min(receipt.index), receipt.index));
            }
            Err(SubmitError::Rejected(rejection)) => {
                refused += 1;
                eprintln!(
                    "{}:{line}: refused (kept in the quarantine): {rejection}",
                    path.display()
                );
            }
            Err(SubmitError::Store(error)) => {
                return Err(error).context(format!("storing the hand count of line {line}"));
            }
        }
    }
    store.checkpoint_now().context("signing the checkpoint")?;
    if let Some((first, last)) = first_last {
        println!(
            "audit hand_count: {} of {n} recorded, entries {first} to {last} of the log",
            n - refused
        );
    }
    Ok(if refused == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn sheet(args: SheetArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let status = audit_status(&store, &args.audit)?;
    let Some(manifest) = &status.manifest else {
        bail!("audit {:?} has no sample yet: {}", args.audit, stage_text(&status.stage));
    };
    print!("{}", batch::sheet(&manifest.options, &status));
    Ok(ExitCode::SUCCESS)
}

fn correct(args: CorrectArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.step.dir)?;
    let step = AuditStep::HandCountCorrection(HandCountCorrection {
        audit: args.step.audit.clone(),
        votes: parse_votes(&args.votes)?,
        station: args.station,
        invalid: args.invalid,
        reason: args.reason,
    });
    submit(&store, &args.step, step)
}

fn risk(args: StepArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let status = audit_status(&store, &args.audit)?;
    let Some(statement) = workflow::risk_statement(&status) else {
        bail!("audit {:?} has no risk to state now: {}", args.audit, stage_text(&status.stage));
    };
    let worst = status.assertions.iter().map(|a| a.p_value).fold(0.0, f64::max);
    println!(
        "round {}: largest risk {}, decision {}",
        statement.round,
        workflow::format_risk(worst),
        status.stage.code()
    );
    submit(&store, &args, AuditStep::Risk(statement))
}

fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let status = audit_status(&store, &args.audit)?;
    match args.format {
        Format::Text => print!("{}", status_text(&status)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&status_json(&status))?),
    }
    Ok(ExitCode::SUCCESS)
}

fn estimate(args: EstimateArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.dir)?;
    let status = audit_status(&store, &args.audit)?;
    let Some(manifest) = &status.manifest else {
        bail!("audit {:?} has no manifest yet: {}", args.audit, stage_text(&status.stage));
    };
    if !(0.0..1.0).contains(&args.overstatement_rate) {
        bail!("--overstatement-rate {}: give a share in [0, 1)", args.overstatement_rate);
    }
    let cards = workflow::card_level_estimates(&status, args.overstatement_rate)?;
    let ballots = manifest.ballots();
    let draws = status.assertions.iter().map(|a| a.estimated_draws).max().unwrap_or(0);
    // expected distinct stations and their ballots after `draws` draws with probability n_p / N
    let (mut stations, mut counted) = (0.0, 0.0);
    for row in &manifest.rows {
        let hit = 1.0 - (1.0 - row.ballots as f64 / ballots as f64).powf(draws as f64);
        stations += hit;
        counted += hit * row.ballots as f64;
    }
    println!(
        "audit {} of contest {} at risk limit {}: {} stations, {ballots} ballots on the manifest",
        status.audit,
        status.contest,
        status.risk_limit,
        manifest.rows.len()
    );
    println!(
        "batch level (stations as batches): round 1 is {draws} draws, expected to hand-count \
         {stations:.0} stations and {counted:.0} ballots ({:.1}% of the ballots), if no count differs",
        100.0 * counted / ballots as f64
    );
    let card = cards.iter().copied().max().unwrap_or(0);
    println!(
        "card level (each sampled ballot against its cast vote record, one-vote overstatement \
         rate {}): {card} ballots ({:.2}% of the ballots)",
        args.overstatement_rate,
        100.0 * card as f64 / ballots as f64
    );
    println!(
        "per assertion (smallest margin first): margin, batch-level draws, card-level ballots"
    );
    let mut rows: Vec<(usize, f64)> =
        status.assertions.iter().enumerate().map(|(i, a)| (i, a.margin)).collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (i, margin) in rows {
        let a = &status.assertions[i];
        println!("  {margin:.6} {:>7} {:>9}  {}", a.estimated_draws, cards[i], a.claim);
    }
    Ok(ExitCode::SUCCESS)
}

fn stage_text(stage: &Stage) -> String {
    match stage {
        Stage::NeedsManifest => "the manifest is next (sverka audit manifest)".into(),
        Stage::NeedsSeed => "the seed is next (sverka audit seed)".into(),
        Stage::NeedsDraw { sample_size } => {
            format!("draw the first round: {sample_size} draws (sverka audit draw)")
        }
        Stage::Counting { stations } => {
            format!("count by hand: {} stations ({})", stations.len(), stations.join(", "))
        }
        Stage::Confirmed => "confirmed: every assertion's risk is at most the risk limit".into(),
        Stage::Escalate { sample_size } => {
            format!("escalate: draw another round, to {sample_size} draws in all")
        }
        Stage::FullHandCount => "escalate to a full hand count of every station".into(),
    }
}

fn status_text(status: &AuditStatus) -> String {
    let mut out = format!(
        "audit {} of contest {} at risk limit {}\n",
        status.audit, status.contest, status.risk_limit
    );
    if let Some(m) = &status.manifest {
        out.push_str(&format!(
            "manifest: {} stations, {} ballots, as of log size {}, sha256 {}\n",
            m.rows.len(),
            m.ballots(),
            m.as_of,
            m.sha256()
        ));
    }
    if let Some(seed) = &status.seed {
        out.push_str(&format!("seed: {seed}\n"));
    }
    for (round, size) in &status.rounds {
        let risk = status.round_risks.iter().find(|(r, _)| r == round);
        let risk = risk.map_or("not all counted yet".to_string(), |(_, p)| format!("{p:.6}"));
        out.push_str(&format!("round {round}: {size} draws in all; largest risk {risk}\n"));
    }
    out.push_str(&format!(
        "hand counts: {} stations; draws used by the risk: {}\n",
        status.hand_counts.len(),
        status.draws_used
    ));
    for c in &status.corrections {
        out.push_str(&format!(
            "correction of station {} (entry {}, replaces entry {}): votes {:?} invalid {} -> \
             votes {:?} invalid {}; reason: {}\n",
            c.station, c.entry, c.replaces, c.old.0, c.old.1, c.new.0, c.new.1, c.reason
        ));
    }
    for d in &status.differences {
        let lines: Vec<String> =
            d.lines.iter().map(|(line, r, h)| format!("{line} {r} -> {h}")).collect();
        out.push_str(&format!(
            "hand count of station {} (entry {}) differs from the reported count: {}\n",
            d.station,
            d.entry,
            lines.join(", ")
        ));
    }
    for (entry, stated) in &status.statements {
        out.push_str(&format!(
            "stated in entry {entry}: round {}, decision {:?}\n",
            stated.round, stated.decision
        ));
    }
    for a in &status.assertions {
        out.push_str(&format!(
            "  risk {:.6} {} {} (margin {:.6})\n",
            a.p_value,
            if a.confirmed { "confirmed" } else { "open     " },
            a.claim,
            a.margin
        ));
    }
    out.push_str(&format!("next: {}\n", stage_text(&status.stage)));
    out
}

/// The status as JSON (`sverka audit status --format json`).
pub fn status_json(status: &AuditStatus) -> serde_json::Value {
    let stations = match &status.stage {
        Stage::Counting { stations } => stations.clone(),
        _ => Vec::new(),
    };
    let next_sample_size = match status.stage {
        Stage::NeedsDraw { sample_size } | Stage::Escalate { sample_size } => Some(sample_size),
        _ => None,
    };
    serde_json::json!({
        "audit": status.audit,
        "contest": status.contest,
        "risk_limit": status.risk_limit,
        "manifest": status.manifest.as_ref().map(|m| serde_json::json!({
            "stations": m.rows.len(), "ballots": m.ballots(), "as_of": m.as_of, "sha256": m.sha256(),
        })),
        "seed": status.seed,
        "rounds": status.rounds.iter().map(|(r, s)| serde_json::json!({
            "round": r,
            "sample_size": s,
            "largest_risk": status.round_risks.iter().find(|(q, _)| q == r).map(|(_, p)| p),
        })).collect::<Vec<_>>(),
        "draws": status.draws.iter().map(|(s, counted)| serde_json::json!({"station": s, "counted": counted})).collect::<Vec<_>>(),
        "hand_counts": status.hand_counts,
        "corrections": status.corrections.iter().map(|c| serde_json::json!({
            "station": c.station, "entry": c.entry, "replaces": c.replaces,
            "old": {"votes": c.old.0, "invalid": c.old.1},
            "new": {"votes": c.new.0, "invalid": c.new.1},
            "reason": c.reason,
        })).collect::<Vec<_>>(),
        "differences": status.differences.iter().map(|d| serde_json::json!({
            "station": d.station, "entry": d.entry,
            "lines": d.lines.iter().map(|(line, reported, hand)| serde_json::json!({
                "line": line, "reported": reported, "hand": hand,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "statements": status.statements.iter().map(|(entry, r)| serde_json::json!({
            "entry": entry, "round": r.round, "risks": r.risks, "decision": r.decision,
        })).collect::<Vec<_>>(),
        "draws_used": status.draws_used,
        "assertions": status.assertions.iter().map(|a| serde_json::json!({
            "claim": a.claim, "margin": a.margin, "risk": a.p_value,
            "estimated_draws": a.estimated_draws, "confirmed": a.confirmed,
        })).collect::<Vec<_>>(),
        "stage": status.stage.code(),
        "to_count": stations,
        "next_sample_size": next_sample_size,
    })
}

/// What [`verify_published_audits`] does with each entry it reads again.
type OnEntry<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// For `sverka verify`: every audit of a publication of `size` entries with Merkle root `root`,
/// recomputed by `sverka_audit::verify` (each manifest, every draw from the seed, every risk and
/// decision a `risk` step states). Reads the entry bundles again (their leaves must give the
/// verified root), keeps the audit steps, and replays the log to each manifest's `as_of`.
/// Returns the summary line, or the first mismatch.
pub(crate) fn verify_published_audits<R>(
    reader: &R,
    size: u64,
    root: sverka_tlog::Hash,
) -> Result<String, String>
where
    R: sverka_tlog::PublicationReader<Error = String>,
{
    let read_entries = |upto: u64, on_entry: &mut OnEntry<'_>| {
        let mut index = 0u64;
        // the publication's bundles are those of its full size (a prefix's last bundle may be
        // published only as part of a wider one)
        for bundle in sverka_tlog::tile::new_entry_bundles(0, size) {
            if index >= upto {
                break;
            }
            let path = bundle.path();
            let bytes = reader
                .read(&path)
                .map_err(|e| format!("{path}: cannot read: {e}"))?
                .ok_or_else(|| format!("{path}: missing"))?;
            let entries = sverka_tlog::parse_bundle(&bytes).map_err(|e| format!("{path}: {e}"))?;
            for entry in entries {
                if index < upto {
                    on_entry(index, entry)?;
                }
                index += 1;
            }
        }
        Ok::<(), String>(())
    };
    let mut leaves = Vec::with_capacity(size as usize);
    let mut steps = Vec::new();
    let mut entry0 = None;
    read_entries(size, &mut |index, bytes| {
        leaves.push(sverka_tlog::leaf_hash(bytes));
        if index == 0 {
            entry0 = Some(bytes.to_vec());
        }
        if bytes.windows(14).any(|w| w == b"\"type\":\"audit\"") {
            let submission =
                Submission::decode(bytes).map_err(|e| format!("entry {index}: {e}"))?;
            if let Body::Audit(step) = submission.payload.body {
                steps.push((index, step));
            }
        }
        Ok(())
    })?;
    if sverka_tlog::merkle::root(&leaves) != root {
        return Err("the entry bundles read again do not give the checkpoint's root".into());
    }
    let entry0 = entry0.ok_or("the log is empty")?;
    let sha256 =
        sverka_tally::replay::Replay::definition_sha256(&entry0).map_err(|e| e.to_string())?;
    let definition = reader
        .read(&format!("blob/{sha256}"))
        .map_err(|e| format!("blob/{sha256}: {e}"))?
        .ok_or_else(|| format!("blob/{sha256}: missing"))?;
    let start =
        || sverka_tally::replay::Replay::start(&entry0, &definition).map_err(|e| e.to_string());
    let election = start()?.election().clone();
    // one replay to the largest as_of, the tally kept at each manifest's as_of on the way
    let sizes = sverka_audit::verify::manifest_sizes(&steps);
    let mut tallies = std::collections::BTreeMap::new();
    let mut replay = start()?;
    let mut keep = |replay: &sverka_tally::replay::Replay| {
        if sizes.contains(&replay.size()) {
            tallies.insert(replay.size(), replay.tally().clone());
        }
    };
    keep(&replay);
    let last = sizes.last().copied().unwrap_or(0).min(size);
    read_entries(last, &mut |index, bytes| {
        if index > 0 {
            replay.apply(index, bytes).map_err(|e| e.to_string())?;
            keep(&replay);
        }
        Ok(())
    })?;
    let checked = sverka_audit::verify::check_audits(&election, &steps, &tallies)
        .map_err(|mismatch| format!("audit steps: {mismatch}"))?;
    let stages: Vec<String> =
        checked.stages.iter().map(|(audit, stage)| format!("{audit} {stage}")).collect();
    Ok(format!(
        "{} audit(s) recomputed ({}): {} draws from the seeds, {} hand counts, {} stated risk(s)",
        checked.audits,
        stages.join(", "),
        checked.draws,
        checked.hand_counts,
        checked.statements
    ))
}

/// The hand-count CSV of `sverka audit record --batch` and `sverka audit sheet` (docs/formats.md
/// §7.7): a header naming `station`, every vote option of the contest (`against_all` included)
/// and `invalid`, in any order; then one line per station. Blank lines and lines starting with
/// `#` are skipped; fields are not quoted (ids and counts need no quotes).
mod batch {
    use std::collections::{BTreeMap, HashMap};
    use std::fmt;

    use sverka_audit::workflow::AuditStatus;

    /// One wrong line of the file: its number (1-based) and what is wrong.
    #[derive(Debug, Clone, PartialEq)]
    pub struct LineError {
        pub line: usize,
        pub message: String,
    }

    impl fmt::Display for LineError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}: {}", self.line, self.message)
        }
    }

    /// One station's hand count: station, votes per option, invalid ballots.
    pub type Count = (String, BTreeMap<String, u64>, u64);

    /// The stations of the sample not counted yet, in draw order.
    fn to_count(status: &AuditStatus) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (station, counted) in &status.draws {
            if !counted && !out.contains(&station.as_str()) {
                out.push(station);
            }
        }
        out
    }

    /// The first line of a tally sheet: the format's name and version (a comment to the parser).
    pub const VERSION_LINE: &str = "# sverka-hand-counts/v1";

    /// The tally sheet: the version line, the header and one empty row per station still to
    /// count, in draw order.
    pub fn sheet(options: &[String], status: &AuditStatus) -> String {
        let mut out = format!("{VERSION_LINE}\nstation,{},invalid\n", options.join(","));
        for station in to_count(status) {
            out.push_str(station);
            out.push_str(&",".repeat(options.len() + 1));
            out.push('\n');
        }
        out
    }

    /// Every line's hand count, or every wrong line.
    pub fn parse(
        text: &str,
        options: &[String],
        status: &AuditStatus,
    ) -> Result<Vec<(usize, Count)>, Vec<LineError>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("# sverka-hand-counts/") && line != VERSION_LINE {
                return Err(vec![LineError {
                    line: i + 1,
                    message: format!("{line:?}: this sverka reads {:?}", &VERSION_LINE[2..]),
                }]);
            }
        }
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let Some((header_line, header)) = lines.next() else {
            return Err(vec![LineError { line: 1, message: "the file is empty".into() }]);
        };
        let columns = header_columns(header_line, header, options, &status.contest)?;
        let open = to_count(status);
        let mut errors = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut counts = Vec::new();
        for (line, text) in lines {
            let mut error = |message: String| errors.push(LineError { line, message });
            match parse_row(text, &columns) {
                Err(messages) => messages.into_iter().for_each(&mut error),
                Ok((station, votes, invalid)) => {
                    if let Some(first) = seen.insert(station.clone(), line) {
                        error(format!("station {station:?} is also on line {first}"));
                    } else if let Some(entry) = status.hand_counts.get(&station) {
                        error(format!(
                            "station {station:?} is already counted (entry {entry}); a new count \
                             of it is a correction: sverka audit correct"
                        ));
                    } else if !open.contains(&station.as_str()) {
                        error(format!(
                            "station {station:?} is not in the sample of audit {:?} ({} stations \
                             to count: sverka audit sheet lists them)",
                            status.audit,
                            open.len()
                        ));
                    } else {
                        counts.push((line, (station, votes, invalid)));
                    }
                }
            }
        }
        if counts.is_empty() && errors.is_empty() {
            errors.push(LineError {
                line: header_line,
                message: "no hand count follows the header".into(),
            });
        }
        if errors.is_empty() {
            Ok(counts)
        } else {
            Err(errors)
        }
    }

    /// What each column of the header is.
    #[derive(Clone)]
    enum Column {
        Station,
        Option(String),
        Invalid,
    }

    fn header_columns(
        line: usize,
        header: &str,
        options: &[String],
        contest: &str,
    ) -> Result<Vec<Column>, Vec<LineError>> {
        let mut errors = Vec::new();
        let mut columns = Vec::new();
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                errors.push(format!("column {name:?} is named twice"));
            }
            columns.push(match *name {
                "station" => Column::Station,
                "invalid" => Column::Invalid,
                option if options.iter().any(|o| o == option) => Column::Option(option.into()),
                other => {
                    errors.push(format!(
                        "column {other:?} is not station, invalid or a vote option of contest \
                         {contest:?} ({})",
                        options.join(", ")
                    ));
                    Column::Invalid
                }
            });
        }
        let wanted = ["station"].into_iter().chain(options.iter().map(String::as_str));
        for name in wanted.chain(["invalid"]) {
            if !names.contains(&name) {
                errors.push(format!("the header has no column {name:?}"));
            }
        }
        if errors.is_empty() {
            Ok(columns)
        } else {
            Err(errors.into_iter().map(|message| LineError { line, message }).collect())
        }
    }

    /// One line's count, or everything wrong with it.
    fn parse_row(text: &str, columns: &[Column]) -> Result<Count, Vec<String>> {
        if text.contains('"') {
            return Err(vec![
                "quoted fields are not read: write ids and counts without quotes".to_string()
            ]);
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(vec![format!(
                "{} fields, but the header has {} columns",
                fields.len(),
                columns.len()
            )]);
        }
        let mut errors = Vec::new();
        let (mut station, mut votes, mut invalid) = (String::new(), BTreeMap::new(), 0);
        for (field, column) in fields.iter().zip(columns) {
            let name = match column {
                Column::Station => {
                    if field.is_empty() {
                        errors.push("the station is empty".to_string());
                    }
                    station = field.to_string();
                    continue;
                }
                Column::Option(option) => option.as_str(),
                Column::Invalid => "invalid",
            };
            let n = match field.parse::<u64>() {
                Ok(n) => n,
                Err(_) if field.is_empty() => {
                    errors.push(format!("column {name:?} is empty"));
                    continue;
                }
                Err(_) => {
                    errors.push(format!("column {name:?}: {field:?} is not a whole number"));
                    continue;
                }
            };
            match column {
                Column::Option(option) => {
                    votes.insert(option.clone(), n);
                }
                _ => invalid = n,
            }
        }
        if errors.is_empty() {
            Ok((station, votes, invalid))
        } else {
            Err(errors)
        }
    }
}
