//! `sverka verify PUBDIR_OR_URL [--state FILE] [--key VKEY]`: the observers' full check of a
//! publication. Reads it from a directory or over HTTP, checks the log (sverka_tlog::publication),
//! decodes every entry as a canonical signed submission, and remembers the checkpoint in `--state` so
//! the next run proves the log only grew. Exit 0 only if everything holds; 1 with the first failure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use sverka_model::submission::{Body, Submission};
use sverka_tally::replay::Replay;
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reader: ReadFn =
        if args.target.starts_with("http://") || args.target.starts_with("https://") {
            let http =
                HttpReader { base: args.target.clone(), agent: ureq::Agent::new_with_defaults() };
            Box::new(move |p| http.read(p))
        } else {
            let dir = DirReader(PathBuf::from(&args.target));
            if !dir.0.is_dir() {
                eprintln!("sverka verify: {} is not a directory or an http:// URL", args.target);
                return Ok(ExitCode::from(2));
            }
            Box::new(move |p| dir.read(p).map_err(|e| e.to_string()))
        };
    match verify(&args, &FnReader(reader)) {
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

struct FnReader(ReadFn);

impl PublicationReader for FnReader {
    type Error = String;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        (self.0)(path)
    }
}

fn verify(args: &Args, reader: &FnReader) -> anyhow::Result<String> {
    let state = match &args.state {
        Some(path) => load_state(path)?,
        None => None,
    };
    let published_vkey = reader
        .read("log.vkey")
        .map_err(|e| anyhow::anyhow!("log.vkey: {e}"))?
        .map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let vkey = match (&args.key, &state, &published_vkey) {
        (Some(key), _, _) => key.clone(),
        (None, Some(state), _) => state.vkey.clone(),
        (None, None, Some(published)) => published.clone(),
        (None, None, None) => bail!("log.vkey: missing, and no --key given"),
    };
    if let (Some(published), Some(state)) = (&published_vkey, &state) {
        if published != &state.vkey {
            bail!("log.vkey: the log key changed from {} to {published}", state.vkey);
        }
    }
    let verifier = Ed25519Verifier::from_vkey(&vkey).context("the log's verifier key")?;
    let keys = VerifierSet::with(vec![Box::new(verifier)]).context("the log's verifier key")?;
    let previous = match &state {
        Some(s) => Some((s.size, Hash::from_hex(&s.root).context("--state: root is not hex")?)),
        None => None,
    };
    let expect = Expectation {
        log_keys: &keys,
        origin: state.as_ref().map(|s| s.origin.as_str()),
        previous,
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
    let mut leaves: Vec<Hash> = Vec::new();
    let mut on_entry = |index: u64, bytes: &[u8]| {
        if entry_failure.is_some() {
            return;
        }
        leaves.push(sverka_tlog::leaf_hash(bytes));
        if let Err(failure) = check_entry(reader, index, bytes, &mut replay, &mut counts) {
            entry_failure = Some(failure);
            return;
        }
        let size = index + 1;
        if snapshot_sizes.contains(&size) {
            let root = sverka_tlog::merkle::root(&leaves);
            let replay = replay.as_ref().expect("entry 0 started the replay");
            match compare_snapshot(reader, replay, size, root) {
                Ok(()) => snapshots_checked.push(size),
                Err(failure) => entry_failure = Some(failure),
            }
        }
    };
    let log =
        sverka_tlog::verify_publication(reader, &expect, &mut on_entry, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
    bar.finish_and_clear();
    let log = log?;
    if let Some(failure) = entry_failure {
        bail!(failure);
    }
    let size = log.checkpoint.size();
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
    if let Some((seen, _)) = previous {
        summary.push_str(&format!("  consistent with the checkpoint of size {seen} seen before\n"));
    }
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
        summary.push_str(&format!("  {n} {kind}, each a canonical signed submission\n"));
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

/// Decodes one entry and folds it into the replay.
fn check_entry(
    reader: &FnReader,
    index: u64,
    bytes: &[u8],
    replay: &mut Option<Replay>,
    counts: &mut std::collections::BTreeMap<&'static str, u64>,
) -> Result<(), String> {
    let submission = Submission::decode(bytes).map_err(|e| format!("entry {index}: {e}"))?;
    let kind = match &submission.payload.body {
        Body::Protocol(_) => "protocols",
        Body::Annulment(_) => "annulments",
        Body::KeyRegistration(_) => "key registrations",
        Body::KeyRevocation(_) => "key revocations",
        Body::Election(_) => "election definitions",
    };
    *counts.entry(kind).or_default() += 1;
    match replay {
        None => {
            let sha256 = Replay::definition_sha256(bytes).map_err(|e| e.to_string())?;
            let path = format!("blob/{sha256}");
            let definition =
                reader.read(&path).map_err(|e| format!("{path}: cannot read: {e}"))?.ok_or_else(
                    || format!("{path}: missing (the election definition of entry 0)"),
                )?;
            *replay = Some(Replay::start(bytes, &definition).map_err(|e| format!("{path}: {e}"))?);
        }
        Some(replay) => replay.apply(index, bytes).map_err(|e| e.to_string())?,
    }
    Ok(())
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
