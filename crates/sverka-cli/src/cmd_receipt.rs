//! `sverka receipt`: an entry's offline receipt, one C2SP tlog-proof@v1 file
//! (sverka_tlog::proof) holding the entry's bytes (as the proof's `extra` data), its index, its
//! inclusion proof and the signed checkpoint with any witness cosignatures.
//!
//! `get` writes one from a publication (directory or URL), finding the entry by index, by leaf hash
//! or by station; `check` verifies one offline with the log's key, and with `--against` also
//! checks that a later publication is consistent with the receipt's checkpoint (RFC 9162 §2.1.4),
//! so the entry is still in the log it was promised in. Exit 0 ok, 1 the receipt does not hold,
//! 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use sverka_model::submission::{Body, Submission};
use sverka_tlog::proof::TlogProof;
use sverka_tlog::tile::{new_entry_bundles, Tile};
use sverka_tlog::{
    consistency_proof_from_tiles, inclusion_proof_from_tiles, leaf_hash, parse_bundle,
    verify_consistency, Checkpoint, Ed25519Verifier, Hash, PublicationReader, VerifierSet,
};

use crate::cmd_verify::{reader_for, FnReader};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ReceiptCommand,
}

#[derive(clap::Subcommand)]
enum ReceiptCommand {
    /// Write the receipt of one entry of a publication to a file
    Get(GetArgs),
    /// Check a receipt offline (and, with --against, against a later publication)
    Check(CheckArgs),
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["leaf", "index", "station"])))]
struct GetArgs {
    /// The publication: a directory written by `sverka publish`, or an http:// URL of one
    target: String,
    /// The entry's leaf hash (hex, as in a submission receipt, or base64)
    #[arg(long)]
    leaf: Option<String>,
    /// The entry's index in the log
    #[arg(long)]
    index: Option<u64>,
    /// A polling station: the receipt of its latest protocol entry
    #[arg(long)]
    station: Option<String>,
    /// The log's verifier key (default: the publication's log.vkey)
    #[arg(long)]
    key: Option<String>,
    /// Where to write the receipt (`.tlog-proof` is the customary extension)
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The receipt file
    file: PathBuf,
    /// The log's verifier key (`name+hex+base64`)
    #[arg(long)]
    key: String,
    /// A later publication (directory or URL) that must still hold the entry
    #[arg(long)]
    against: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ReceiptCommand::Get(args) => get(args),
        ReceiptCommand::Check(args) => check(args),
    }
}

fn read(reader: &FnReader, path: &str) -> anyhow::Result<Vec<u8>> {
    reader
        .read(path)
        .map_err(|e| anyhow::anyhow!("{path}: cannot read: {e}"))?
        .with_context(|| format!("{path}: missing"))
}

fn log_keys(vkey: &str) -> anyhow::Result<VerifierSet> {
    let verifier = Ed25519Verifier::from_vkey(vkey.trim())
        .with_context(|| format!("the log's verifier key {vkey:?}"))?;
    VerifierSet::with(vec![Box::new(verifier)]).context("the log's verifier key")
}

/// Reads the checkpoint of a publication, verified with `vkey`.
fn open_checkpoint(reader: &FnReader, vkey: &str) -> anyhow::Result<(Checkpoint, Vec<u8>)> {
    let bytes = read(reader, "checkpoint")?;
    let (checkpoint, _) = Checkpoint::open(&bytes, &log_keys(vkey)?)
        .context("checkpoint: not signed by the log key")?;
    Ok((checkpoint, bytes))
}

/// Every entry of the log of `size`, bundle by bundle, until `visit` returns `Some`.
fn find_entry<T>(
    reader: &FnReader,
    size: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Option<T>,
) -> anyhow::Result<Option<T>> {
    for bundle in new_entry_bundles(0, size) {
        let path = bundle.path();
        let bytes = read(reader, &path)?;
        let entries =
            parse_bundle(&bytes).with_context(|| format!("{path}: not an entry bundle"))?;
        for (offset, entry) in entries.into_iter().enumerate() {
            if let Some(found) = visit(bundle.first_entry() + offset as u64, entry) {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

fn parse_leaf(text: &str) -> Option<Hash> {
    Hash::from_hex(text).or_else(|| Hash::from_base64(text))
}

/// The index of the entry `args` names.
fn which_entry(args: &GetArgs, reader: &FnReader, size: u64) -> anyhow::Result<u64> {
    if let Some(index) = args.index {
        if index >= size {
            bail!("entry {index}: the checkpoint holds only {size} entries");
        }
        return Ok(index);
    }
    if let Some(leaf) = &args.leaf {
        let wanted = parse_leaf(leaf).with_context(|| format!("--leaf {leaf}: not a hash"))?;
        return find_entry(reader, size, |i, e| (leaf_hash(e) == wanted).then_some(i))?
            .with_context(|| format!("no entry with leaf hash {leaf} in the {size} entries"));
    }
    let station = args.station.as_deref().expect("clap requires one of the three");
    let mut latest = None;
    find_entry(reader, size, |index, entry| {
        let protocol_of_station = Submission::decode(entry)
            .is_ok_and(|s| matches!(&s.payload.body, Body::Protocol(p) if p.station == station));
        if protocol_of_station {
            latest = Some(index);
        }
        None::<()>
    })?;
    latest.with_context(|| format!("station {station}: no protocol in the {size} entries"))
}

fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let Some(reader) = reader_for(&args.target) else {
        eprintln!("sverka receipt: {} is not a directory or an http:// URL", args.target);
        return Ok(ExitCode::from(2));
    };
    let vkey = match &args.key {
        Some(key) => key.clone(),
        None => String::from_utf8_lossy(&read(&reader, "log.vkey")?).trim().to_string(),
    };
    let (checkpoint, checkpoint_bytes) = open_checkpoint(&reader, &vkey)?;
    let size = checkpoint.size();
    let index = which_entry(&args, &reader, size)?;
    let entry = find_entry(&reader, size, |i, e| (i == index).then(|| e.to_vec()))?
        .with_context(|| format!("entry {index}: not in the entry bundles"))?;
    let tiles = |tile: &Tile| read(&reader, &tile.path());
    let hashes = inclusion_proof_from_tiles(&tiles, index, size)
        .map_err(|e| anyhow::anyhow!("inclusion proof of entry {index}: {e}"))?;
    let proof = TlogProof { extra: Some(entry), index, hashes, checkpoint: checkpoint_bytes };
    // Never hand out a receipt that does not check.
    proof.verify_entry(proof.extra.as_deref().unwrap_or_default(), &log_keys(&vkey)?)?;
    std::fs::write(&args.out, proof.to_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {}: entry {index} of {} (checkpoint size {size}, {} proof hashes)",
        args.out.display(),
        checkpoint.origin(),
        proof.hashes.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// What an entry is, in one line.
fn describe(entry: &[u8]) -> String {
    match Submission::decode(entry) {
        Ok(submission) => match &submission.payload.body {
            Body::Protocol(p) => format!(
                "protocol of station {}, contest {}, source {:?}, signed by {}",
                p.station, p.contest, p.source, submission.payload.signer
            ),
            _ => format!(
                "{} entry signed by {}",
                body_kind(&submission.payload.body),
                submission.payload.signer
            ),
        },
        Err(e) => format!("not a sverka submission ({e})"),
    }
}

fn body_kind(body: &Body) -> &'static str {
    match body {
        Body::Protocol(_) => "protocol",
        Body::Annulment(_) => "annulment",
        Body::KeyRegistration(_) => "key registration",
        Body::KeyRevocation(_) => "key revocation",
        Body::Election(_) => "election",
        Body::Audit(_) => "audit step",
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let file = args.file.display();
    let outcome = (|| -> anyhow::Result<String> {
        let proof = TlogProof::parse(&bytes).with_context(|| format!("{file}"))?;
        let Some(entry) = &proof.extra else {
            bail!("{file}: has no extra line, so no entry to check (a sverka receipt carries it)");
        };
        let (checkpoint, note) =
            proof.verify_entry(entry, &log_keys(&args.key)?).with_context(|| format!("{file}"))?;
        let cosignatures = note.signatures().len().saturating_sub(1);
        let mut report = format!(
            "{file}: entry {} is in the log {} at checkpoint size {} (root {}), signed by the log key, {cosignatures} other signature line(s)\n  {}",
            proof.index,
            checkpoint.origin(),
            checkpoint.size(),
            checkpoint.root(),
            describe(entry)
        );
        if let Some(target) = &args.against {
            report.push_str(&format!("\n  {}", check_against(target, &args.key, &checkpoint)?));
        }
        Ok(report)
    })();
    match outcome {
        Ok(report) => {
            println!("{report}\nOK: the receipt holds");
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("FAILED: {failure:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Checks that the publication at `target` is consistent with the receipt's checkpoint.
fn check_against(target: &str, vkey: &str, receipt: &Checkpoint) -> anyhow::Result<String> {
    let reader = reader_for(target)
        .with_context(|| format!("{target}: not a directory or an http:// URL"))?;
    let (later, _) = open_checkpoint(&reader, vkey).with_context(|| target.to_string())?;
    if later.origin() != receipt.origin() {
        bail!(
            "{target}/checkpoint: origin {:?}, the receipt's is {:?}",
            later.origin(),
            receipt.origin()
        );
    }
    let (m, n) = (receipt.size(), later.size());
    if n < m {
        bail!("{target}/checkpoint: size {n} is smaller than the receipt's {m}: the log was rolled back");
    }
    let tiles = |tile: &Tile| read(&reader, &tile.path());
    let proof = consistency_proof_from_tiles(&tiles, m, n)
        .map_err(|e| anyhow::anyhow!("{target}: consistency proof from {m} to {n}: {e}"))?;
    verify_consistency(m, n, &proof, &receipt.root(), &later.root()).map_err(|e| {
        anyhow::anyhow!(
            "{target}: the log at size {n} is not an extension of the receipt's checkpoint (size {m}): {e}: history was rewritten"
        )
    })?;
    Ok(format!("{target}: checkpoint size {n} is consistent with the receipt's (size {m}); the entry is still there"))
}
