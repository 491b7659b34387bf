//! `sverka verify PUBDIR_OR_URL [--state FILE] [--key VKEY] [--policy FILE | --witness VKEY...
//! [--quorum K]]`: the observers' full check of a publication. Reads it from a directory or over
//! HTTP; checks the checkpoint's signature and its witnesses' cosignatures against a C2SP
//! tlog-policy (sverka_tlog::policy), the log (sverka_tlog::publication), every entry as a canonical
//! submission signed by a key the log had registered for that role (entry 0 by the log key), every
//! snapshot recomputed byte for byte, and every blob against its SHA-256; and remembers the
//! checkpoint in `--state` so the next run proves the log only grew. Exit 0 only if everything
//! holds; 1 with the first failure; 2 for a usage error (a policy file that does not parse).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use sverka_model::registry::KeyRegistry;
use sverka_model::submission::{sha256_hex, Body, Submission};
use sverka_tally::replay::Replay;
use sverka_tlog::policy::{CosignatureStatus, Policy};
use sverka_tlog::{Ed25519Verifier, Expectation, Hash, PublicationReader, VerifierSet};

#[derive(clap::Args)]
pub struct Args {
    /// The publication: a directory written by `sverka publish`, or an http:// URL of one
    target: String,
    /// A file remembering the log key and the last checkpoint verified (created if absent)
    #[arg(long)]
    state: Option<PathBuf>,
    /// The log's verifier key (`name+hex+base64`); default: the one pinned in --state, else the
    /// publication's own log.vkey (trusted on first use)
    #[arg(long)]
    key: Option<String>,
    /// A witness policy (C2SP tlog-policy: `log VKEY`, `witness NAME VKEY`, `group NAME k|any|all
    /// NAME...`, `quorum NAME|none`) the checkpoint's cosignatures must meet; its log keys, if any,
    /// are the keys the checkpoint must be signed by
    #[arg(long, conflicts_with_all = ["witness", "quorum"])]
    policy: Option<PathBuf>,
    /// A witness's cosignature verifier key (tlog-cosignature, type 0x04); repeat for each
    #[arg(long)]
    witness: Vec<String>,
    /// How many of the --witness keys must have cosigned the checkpoint (default: all)
    #[arg(long, requires = "witness")]
    quorum: Option<usize>,
    /// Print where the time went (reading and hashing, decoding, tabulating, signatures)
    #[arg(long)]
    timings: bool,
}

/// A publication file reader: `Ok(None)` when the file is not there.
type ReadFn = Box<dyn Fn(&str) -> Result<Option<Vec<u8>>, String>>;

/// Reads publication files from a directory.
struct DirReader(PathBuf);

impl PublicationReader for DirReader {
    type Error = std::io::Error;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error> {
        match std::fs::read(self.0.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Reads publication files over plain HTTP.
struct HttpReader {
    base: String,
    agent: ureq::Agent,
}

impl PublicationReader for HttpReader {
    type Error = String;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error> {
        let url = format!("{}/{path}", self.base.trim_end_matches('/'));
        match self.agent.get(&url).call() {
            Ok(mut response) => response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_vec()
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(ureq::Error::StatusCode(404)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What `--state` remembers between runs.
#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    vkey: String,
    origin: String,
    size: u64,
    root: String,
}

fn load_state(path: &Path) -> anyhow::Result<Option<State>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The policy of `--policy` or of `--witness`/`--quorum`; `Err` is a usage error.
fn load_policy(args: &Args) -> Result<Option<Policy>, String> {
    if let Some(path) = &args.policy {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--policy {}: {e}", path.display()))?;
        return Policy::parse(&text)
            .map(Some)
            .map_err(|e| format!("--policy {}: {e}", path.display()));
    }
    if args.witness.is_empty() {
        return Ok(None);
    }
    let k = args.quorum.unwrap_or(args.witness.len());
    let witnesses: Vec<&str> = args.witness.iter().map(String::as_str).collect();
    Policy::k_of(&[], &witnesses, k).map(Some).map_err(|e| format!("--witness/--quorum: {e}"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policy = match load_policy(&args) {
        Ok(policy) => policy,
        Err(message) => {
            eprintln!("sverka verify: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(reader) = reader_for(&args.target) else {
        eprintln!("sverka verify: {} is not a directory or an http:// URL", args.target);
        return Ok(ExitCode::from(2));
    };
    match verify(&args, policy.as_ref(), &reader) {
        Ok(summary) => {
            println!("{summary}");
            println!("OK: everything published under this checkpoint holds");
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("FAILED: {failure:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Reads a publication from a directory or an http(s):// URL; `None` if `target` is neither.
pub(crate) fn reader_for(target: &str) -> Option<FnReader> {
    let reader: ReadFn = if target.starts_with("http://") || target.starts_with("https://") {
        let http = HttpReader { base: target.to_string(), agent: ureq::Agent::new_with_defaults() };
        Box::new(move |p| http.read(p))
    } else {
        let dir = DirReader(PathBuf::from(target));
        if !dir.0.is_dir() {
            return None;
        }
        Box::new(move |p| dir.read(p).map_err(|e| e.to_string()))
    };
    Some(FnReader(reader))
}

/// A publication reader over a directory or a URL (see [`reader_for`]).
pub(crate) struct FnReader(ReadFn);

impl PublicationReader for FnReader {
    type Error = String;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        (self.0)(path)
    }
}

fn verify(args: &Args, policy: Option<&Policy>, reader: &FnReader) -> anyhow::Result<String> {
    let state = match &args.state {
        Some(path) => load_state(path)?,
        None => None,
    };
    let published_vkey = reader
        .read("log.vkey")
        .map_err(|e| anyhow::anyhow!("log.vkey: {e}"))?
        .map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let policy_logs: Vec<String> =
        policy.map(|p| p.logs().iter().map(|l| l.to_vkey()).collect()).unwrap_or_default();
    let vkey = match (&args.key, policy_logs.first(), &state, &published_vkey) {
        (Some(key), _, _, _) => key.clone(),
        (None, Some(first), _, _) => first.clone(),
        (None, None, Some(state), _) => state.vkey.clone(),
        (None, None, None, Some(published)) => published.clone(),
        (None, None, None, None) => bail!("log.vkey: missing, and no --key given"),
    };
    if let (Some(published), Some(state)) = (&published_vkey, &state) {
        if published != &state.vkey {
            bail!("log.vkey: the log key changed from {} to {published}", state.vkey);
        }
    }
    let log_vkeys = if args.key.is_none() && !policy_logs.is_empty() {
        policy_logs
    } else {
        vec![vkey.clone()]
    };
    let mut log_verifiers = Vec::new();
    for vkey in &log_vkeys {
        log_verifiers.push(
            Ed25519Verifier::from_vkey(vkey)
                .with_context(|| format!("the log's verifier key {vkey}"))?,
        );
    }
    let keys = VerifierSet::with(
        log_verifiers
            .iter()
            .map(|v| Box::new(v.clone()) as Box<dyn sverka_tlog::note::NoteVerifier>)
            .collect(),
    )
    .context("the log's verifier keys")?;
    let previous = match &state {
        Some(s) => Some((s.size, Hash::from_hex(&s.root).context("--state: root is not hex")?)),
        None => None,
    };
    let expect = Expectation {
        log_keys: &keys,
        origin: state.as_ref().map(|s| s.origin.as_str()),
        previous,
        policy,
    };

    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} entries").expect("template"),
    );
    bar.set_message("verifying");
    let snapshot_sizes = snapshot_sizes(args);
    let mut snapshots_checked = Vec::new();
    let mut entry_failure: Option<String> = None;
    let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
    let mut replay: Option<Replay> = None;
    let (signers, signer_work) = std::sync::mpsc::sync_channel(4096);
    let signers = RefCell::new(Some(signers));
    let mut entries = EntryChecks {
        log_keys: &log_verifiers,
        signers: &signers,
        decoding: Duration::ZERO,
        tabulating: Duration::ZERO,
    };
    let mut snapshot_time = Duration::ZERO;
    let mut leaves: Vec<Hash> = Vec::new();
    let started = Instant::now();
    let mut on_entry = |index: u64, bytes: &[u8]| {
        if entry_failure.is_some() {
            return;
        }
        leaves.push(sverka_tlog::leaf_hash(bytes));
        if let Err(failure) =
            check_entry(reader, index, bytes, &mut replay, &mut entries, &mut counts)
        {
            entry_failure = Some(failure);
            return;
        }
        let size = index + 1;
        if snapshot_sizes.contains(&size) {
            let snapshot_started = Instant::now();
            let root = sverka_tlog::merkle::root(&leaves);
            let replay = replay.as_ref().expect("entry 0 started the replay");
            match compare_snapshot(reader, replay, size, root) {
                Ok(()) => snapshots_checked.push(size),
                Err(failure) => entry_failure = Some(failure),
            }
            snapshot_time += snapshot_started.elapsed();
        }
    };
    let (log, signer_outcome) = std::thread::scope(|scope| {
        let signer_thread = scope.spawn(move || check_signers(signer_work));
        let log =
            sverka_tlog::verify_publication(reader, &expect, &mut on_entry, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
        signers.borrow_mut().take();
        (log, signer_thread.join().expect("the signer thread does not panic"))
    });
    bar.finish_and_clear();
    let log = log?;
    if let Some(failure) = entry_failure {
        bail!(failure);
    }
    let signer_report = signer_outcome.map_err(anyhow::Error::msg)?;
    for (kind, n) in &signer_report.counts {
        *counts.entry(kind).or_default() += n;
    }
    if args.timings {
        eprintln!(
            "timings: {:.2} s in all; main thread: {:.2} s decoding entry 0, {:.2} s decoding and \
             tabulating, {:.2} s recomputing snapshots during the pass, the rest reading, hashing \
             and tiles; signer thread (decoding, registry, Ed25519): {:.2} s busy",
            started.elapsed().as_secs_f64(),
            entries.decoding.as_secs_f64(),
            entries.tabulating.as_secs_f64(),
            snapshot_time.as_secs_f64(),
            signer_report.busy.as_secs_f64()
        );
    }
    let size = log.checkpoint.size();
    if let Some(beyond) = snapshot_sizes.range(size + 1..).next() {
        bail!(
            "snapshot/{beyond}.json: results for {beyond} entries, but the checkpoint signs only \
             {size}: a stale checkpoint served with newer files"
        );
    }
    let blobs = check_blobs(args, reader, &signer_report.scans)?;
    if !snapshots_checked.contains(&size) {
        let replay = replay.as_ref().context("the log is empty")?;
        compare_snapshot(reader, replay, size, log.checkpoint.root())
            .map_err(anyhow::Error::msg)?;
        snapshots_checked.push(size);
    }
    let checkpoint = &log.checkpoint;
    if let Some(path) = &args.state {
        let state = State {
            vkey,
            origin: checkpoint.origin().to_string(),
            size: checkpoint.size(),
            root: checkpoint.root().to_hex(),
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut summary = format!(
        "log {}: checkpoint size {}, root {}\n  signature by the log key: ok\n  {} entry bundles and hash tiles: every one rebuilt from the entries and equal\n",
        checkpoint.origin(),
        checkpoint.size(),
        checkpoint.root(),
        log.tiles_checked
    );
    if let Some(outcome) = &log.witnesses {
        summary.push_str(&format!("  witness quorum {:?}: met\n", outcome.quorum));
        for (name, status) in &outcome.witnesses {
            let line = match status {
                CosignatureStatus::Verified(time) => format!("cosigned (time {time})"),
                CosignatureStatus::Missing => "no cosignature".to_string(),
                CosignatureStatus::Bad(error) => format!("BAD cosignature: {error}"),
            };
            summary.push_str(&format!("    {name}: {line}\n"));
        }
    }
    if let Some((seen, _)) = previous {
        summary.push_str(&format!("  consistent with the checkpoint of size {seen} seen before\n"));
    }
    summary.push_str(&format!("  {blobs}\n"));
    summary.push_str(&format!(
        "  {} snapshot(s) recomputed from the entries and byte-identical: {}\n",
        snapshots_checked.len(),
        snapshots_checked
            .iter()
            .map(|n| format!("snapshot/{n}.json"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for (kind, n) in counts {
        summary.push_str(&format!(
            "  {n} {kind}, each a canonical submission signed by a key registered for it\n"
        ));
    }
    Ok(summary.trim_end().to_string())
}

/// The snapshot sizes to recompute: every `snapshot/<N>.json` of a directory publication (a URL
/// cannot be listed, so there only the checkpoint's own snapshot is checked).
fn snapshot_sizes(args: &Args) -> std::collections::BTreeSet<u64> {
    let dir = Path::new(&args.target).join("snapshot");
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Default::default();
    };
    listing
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .collect()
}

/// What the entry checks carry from one entry to the next.
struct EntryChecks<'a> {
    /// The log's keys: entry 0, the election definition, is signed by the log key.
    log_keys: &'a [Ed25519Verifier],
    /// The signer-checking thread's queue; `None` once closed.
    signers: &'a RefCell<Option<SyncSender<SignerWork>>>,
    /// Time spent decoding entry 0 and replaying every entry, for `--timings`.
    decoding: Duration,
    tabulating: Duration,
}

/// Work for the signer-checking thread, in log order.
enum SignerWork {
    /// The registry of entry 0's election: who may sign what before any other entry.
    Start(Box<KeyRegistry>),
    /// An entry's bytes: decoded on the signer thread, so the main thread decodes each entry
    /// only once (inside the replay).
    Entry(u64, Vec<u8>),
}

/// What the signer thread found besides failures.
#[derive(Default)]
struct SignerReport {
    /// Time spent working (not waiting for entries).
    busy: Duration,
    /// Entries by kind.
    counts: std::collections::BTreeMap<&'static str, u64>,
    /// `(entry, sha256)` of every scan a protocol names.
    scans: Vec<(u64, String)>,
}

fn kind_of(body: &Body) -> &'static str {
    match body {
        Body::Protocol(_) => "protocols",
        Body::Annulment(_) => "annulments",
        Body::KeyRegistration(_) => "key registrations",
        Body::KeyRevocation(_) => "key revocations",
        Body::Election(_) => "election definitions",
        Body::Audit(_) => "audit steps",
    }
}

/// The signer checks (the store's admission rules E101 to E111: registered, unrevoked key for the
/// role, a signature that verifies, increasing sequence numbers), on their own thread because the
/// Ed25519 verification of every entry is the largest single cost of a verify. Returns the time
/// spent, or the first entry refused.
fn check_signers(work: Receiver<SignerWork>) -> Result<SignerReport, String> {
    let mut report = SignerReport::default();
    let mut registry = None;
    for item in work {
        let started = Instant::now();
        match item {
            SignerWork::Start(start) => registry = Some(start),
            SignerWork::Entry(index, bytes) => {
                let submission =
                    Submission::decode(&bytes).map_err(|e| format!("entry {index}: {e}"))?;
                let registry = registry.as_mut().expect("the registry starts at entry 0");
                registry.check(&submission).map_err(|finding| {
                    format!(
                        "entry {index}: the log holds a submission its own rules refuse: {finding}"
                    )
                })?;
                registry.apply(&submission);
                if let Body::Protocol(protocol) = &submission.payload.body {
                    if let Some(scan) = &protocol.scan_sha256 {
                        report.scans.push((index, scan.clone()));
                    }
                }
                *report.counts.entry(kind_of(&submission.payload.body)).or_default() += 1;
            }
        }
        report.busy += started.elapsed();
    }
    Ok(report)
}

/// Decodes one entry, checks its signer against the keys registered so far (the store's
/// admission rules E101 to E111), and folds it into the replay.
fn check_entry(
    reader: &FnReader,
    index: u64,
    bytes: &[u8],
    replay: &mut Option<Replay>,
    checks: &mut EntryChecks<'_>,
    counts: &mut std::collections::BTreeMap<&'static str, u64>,
) -> Result<(), String> {
    if index > 0 {
        // A closed queue means the signer thread has stopped at a failure, reported at the end.
        if let Some(signers) = checks.signers.borrow().as_ref() {
            let _ = signers.send(SignerWork::Entry(index, bytes.to_vec()));
        }
    } else {
        let decoding = Instant::now();
        let submission = Submission::decode(bytes).map_err(|e| format!("entry {index}: {e}"))?;
        checks.decoding += decoding.elapsed();
        let signed = submission.payload.signer == "log"
            && checks.log_keys.iter().any(|k| submission.verify(k.public_key()));
        if !signed {
            return Err(format!(
                "entry 0: the election definition is not signed by the log key (signer {:?})",
                submission.payload.signer
            ));
        }
        *counts.entry(kind_of(&submission.payload.body)).or_default() += 1;
    }
    let tabulating = Instant::now();
    match replay {
        None => {
            let sha256 = Replay::definition_sha256(bytes).map_err(|e| e.to_string())?;
            let path = format!("blob/{sha256}");
            let definition =
                reader.read(&path).map_err(|e| format!("{path}: cannot read: {e}"))?.ok_or_else(
                    || format!("{path}: missing (the election definition of entry 0)"),
                )?;
            let started = Replay::start(bytes, &definition).map_err(|e| format!("{path}: {e}"))?;
            let registry = Box::new(KeyRegistry::from_election(started.election()));
            if let Some(signers) = checks.signers.borrow().as_ref() {
                let _ = signers.send(SignerWork::Start(registry));
            }
            *replay = Some(started);
        }
        Some(replay) => replay.apply(index, bytes).map_err(|e| e.to_string())?,
    }
    checks.tabulating += tabulating.elapsed();
    Ok(())
}

/// Checks every blob against its name: each scan a protocol names (missing scans are counted, not
/// failed: a scan may be published later) and, for a directory, every file under `blob/`.
fn check_blobs(args: &Args, reader: &FnReader, scans: &[(u64, String)]) -> anyhow::Result<String> {
    let check = |path: &str, sha256: &str, bytes: &[u8], whose: &str| -> anyhow::Result<()> {
        let actual = sha256_hex(bytes);
        if actual != sha256 {
            bail!("{path}: its content hashes to {actual}, not to its name{whose}: the file was swapped");
        }
        Ok(())
    };
    let mut unpublished = 0;
    for (index, sha256) in scans {
        let path = format!("blob/{sha256}");
        match reader.read(&path).map_err(|e| anyhow::anyhow!("{path}: cannot read: {e}"))? {
            Some(bytes) => {
                check(&path, sha256, &bytes, &format!(" (the scan entry {index} names)"))?
            }
            None => unpublished += 1,
        }
    }
    let mut files = 0;
    if let Ok(listing) = std::fs::read_dir(Path::new(&args.target).join("blob")) {
        for entry in listing.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("blob/{name}");
            let bytes =
                std::fs::read(entry.path()).with_context(|| format!("{path}: cannot read"))?;
            check(&path, &name, &bytes, "")?;
            files += 1;
        }
    }
    Ok(format!(
        "blobs: {files} file(s) under blob/ hash to their names; {} scan(s) named by protocols, {unpublished} not published",
        scans.len()
    ))
}

/// Recomputes `snapshot/<size>.json` and compares it byte for byte with the published one.
fn compare_snapshot(
    reader: &FnReader,
    replay: &Replay,
    size: u64,
    root: Hash,
) -> Result<(), String> {
    let path = format!("snapshot/{size}.json");
    let published = reader
        .read(&path)
        .map_err(|e| format!("{path}: cannot read: {e}"))?
        .ok_or_else(|| format!("{path}: missing (every checkpoint needs its snapshot)"))?;
    let recomputed = replay.snapshot(root.0).map_err(|e| format!("{path}: {e}"))?;
    if published == recomputed {
        return Ok(());
    }
    let what = match serde_json::from_slice::<serde_json::Value>(&published) {
        Ok(value) => {
            let ours: serde_json::Value =
                serde_json::from_slice(&recomputed).expect("our snapshot is JSON");
            first_difference(&value, &ours, "")
                .unwrap_or_else(|| "same values, different bytes (not canonical)".into())
        }
        Err(e) => format!("not JSON: {e}"),
    };
    Err(format!("{path}: differs from the results recomputed from the log: {what}"))
}

/// The first place two JSON values differ, as a path with both values.
fn first_difference(
    published: &serde_json::Value,
    ours: &serde_json::Value,
    at: &str,
) -> Option<String> {
    use serde_json::Value;
    match (published, ours) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => first_difference(x, y, &format!("{at}/{k}")),
                (x, y) => Some(format!("{at}/{k}: published {x:?}, recomputed {y:?}")),
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{at}/{i}"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{at}: published {a}, recomputed {b}")),
    }
}
