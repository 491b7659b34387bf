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
//! - `correct DIR --audit ID --station S --votes OPT=N,… --invalid N --reason TEXT`: a new hand
//!   count of a station already counted (the old one stays in the log; the risk is recomputed);
//! - `risk DIR --audit ID`: states each assertion's risk and the decision (confirmed, escalate,
//!   full hand count) as a log entry, once the stage allows one; `sverka verify` recomputes it;
//! - `status DIR --audit ID [--format text|json]`: what to count next, each assertion's risk,
//!   confirmed or escalate.
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
    /// Record the hand count of a sampled station
    Record(RecordArgs),
    /// Correct a recorded hand count (the old count stays in the log), with the reason
    Correct(CorrectArgs),
    /// State each assertion's risk and the decision in the log (verified by `sverka verify`)
    Risk(StepArgs),
    /// What to count next, each assertion's risk, confirmed or escalate
    Status(StatusArgs),
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
    #[arg(long)]
    station: String,
    /// Ballots per option, OPTION=N separated by commas (every option, "against_all" included)
    #[arg(long, value_delimiter = ',')]
    votes: Vec<String>,
    /// Invalid and blank ballots
    #[arg(long)]
    invalid: u64,
}

#[derive(clap::Args)]
struct CorrectArgs {
    #[command(flatten)]
    record: RecordArgs,
    /// Why the count is corrected, e.g. "ballots of a second box found, board decision 7"
    #[arg(long)]
    reason: String,
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
        Command::Correct(args) => correct(args),
        Command::Risk(args) => risk(args),
        Command::Status(args) => status(args),
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

/// Signs `step` with the admin key and imports it into the store (or writes it to `--out`).
fn submit(store: &Store, args: &StepArgs, step: AuditStep) -> anyhow::Result<ExitCode> {
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
    let seq = match args.seq {
        Some(seq) => seq,
        None => log_steps(store, &signer)?.1.map_or(1, |last| last + 1),
    };
    let name = step.name();
    let payload = Payload {
        v: FORMAT_VERSION,
        election: store.election().id.clone(),
        signer,
        seq,
        time: None,
        body: Body::Audit(step),
    };
    let bytes = payload.sign(&key).to_bytes();
    if let Some(out) = &args.out {
        let mut line = bytes;
        line.push(b'\n');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        use std::io::Write;
        let mut file = options
            .open(out)
            .with_context(|| format!("creating {} (never overwritten)", out.display()))?;
        file.write_all(&line).with_context(|| format!("writing {}", out.display()))?;
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

fn parse_votes(args: &RecordArgs) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut votes = BTreeMap::new();
    for item in &args.votes {
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
    let store = open(&args.step.dir)?;
    let step = AuditStep::HandCount(HandCount {
        audit: args.step.audit.clone(),
        votes: parse_votes(&args)?,
        station: args.station,
        invalid: args.invalid,
    });
    submit(&store, &args.step, step)
}

fn correct(args: CorrectArgs) -> anyhow::Result<ExitCode> {
    let record = args.record;
    let store = open(&record.step.dir)?;
    let step = AuditStep::HandCountCorrection(HandCountCorrection {
        audit: record.step.audit.clone(),
        votes: parse_votes(&record)?,
        station: record.station,
        invalid: record.invalid,
        reason: args.reason,
    });
    submit(&store, &record.step, step)
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
