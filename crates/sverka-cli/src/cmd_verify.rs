//! `sverka verify PUBDIR_OR_URL [--state FILE] [--key VKEY] [--policy FILE | --witness VKEY...
//! [--quorum K]]`: the observers' full check of a publication. Reads it from a directory or over
//! HTTP; checks the checkpoint's signature and its witnesses' cosignatures against a C2SP
//! tlog-policy (sverka_tlog::policy), the log (sverka_tlog::publication), every entry as a canonical
//! submission signed by a key the log had registered for that role (entry 0 by the log key), every
//! snapshot recomputed byte for byte, and every blob against its SHA-256; and remembers the
//! checkpoint in `--state` so the next run proves the log only grew. Exit 0 only if everything
//! holds; 1 with the first failure; 2 for a usage error (a policy file that does not parse).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use sverka_model::hashing::{HashingReader, HashingWriter};
use sverka_model::protocol_view::{SignedView, ViewSpans};
use sverka_model::registry::{Candidate, KeyRegistry, PublicKeys};
use sverka_model::submission::{sha256_hex, Body, Submission};
use sverka_model::Election;
use sverka_tally::replay::{Recompute, Replay, ReplayError};
use sverka_tally::snapshot::Piece;
use sverka_tally::tabulate::state::{
    scan_state, NewTally, ScannedState, StateBytes, TallyStateError,
};
use sverka_tlog::builder::{consistency_proof_from_tiles, root_from_tiles, TileReader};
use sverka_tlog::policy::{CosignatureStatus, Policy};
use sverka_tlog::tile::{hashes_at_level, new_entry_bundles, partial_tiles};
use sverka_tlog::{
    append_leaves, leaf_hash, parse_bundle, Checkpoint, Ed25519Verifier, EntryBundle, Hash,
    MemoryTiles, PublicationError, PublicationReader, Tile, TilePath, VerifierSet,
};

/// The version of the `--state` file (docs/formats.md, "`sverka verify --state`").
const STATE_FORMAT: &str = "sverka-verify-state/v4";
/// The previous binary state (the whole tally inside the file, rewritten by every run): only its
/// checkpoint is used (every entry checked again).
const STATE_FORMAT_V3: &str = "sverka-verify-state/v3";
/// The binary state before (its tally section `sverka-tally-state/v1`): only its checkpoint is
/// used.
const STATE_FORMAT_V2: &str = "sverka-verify-state/v2";
/// The delta of a [`STATE_FORMAT`] file may grow to this many bytes, or an eighth of its tally
/// base's, whichever is more, before a run writes a new base instead (folding in the delta's
/// entries on every resume costs about what reading eight times their bytes of base does).
const DELTA_FLOOR: usize = 2 << 20;
/// The JSON state of earlier versions: only its checkpoint is used (every entry checked again).
const STATE_FORMAT_V1: &str = "sverka-verify-state/v1";

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

/// What `--state` remembers between runs: the checkpoint verified last (all a JSON file of
/// [`STATE_FORMAT_V1`] or earlier is read for: the next run then checks every entry again) and,
/// in [`STATE_FORMAT`], what is needed to continue from it (`resume`, with the binary
/// [`Sections`] after it).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct State<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    vkey: String,
    origin: String,
    size: u64,
    root: String,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    resume: Option<Resume<'a>>,
}

/// The binary parts of a [`STATE_FORMAT`] file, after its JSON line.
#[derive(Default)]
struct Sections {
    /// The entries folded into the tally since its base ([`Delta::bytes`]).
    delta: Vec<u8>,
    /// Where the pieces section's bytes ([`Pieces::bytes`]) are in the file: read by
    /// [`Sections::read_pieces`] when needed, on another thread than the one that reads the
    /// state (18 MB at 250,000 stations: not copied out of a buffer of the whole file).
    pieces: Option<(PathBuf, u64, usize)>,
}

impl Sections {
    /// The snapshot pieces a state keeps (`None` if it keeps none), from where
    /// [`Sections::pieces`] says they are.
    fn read_pieces(pieces: &Option<(PathBuf, u64, usize)>) -> anyhow::Result<Option<Pieces>> {
        let Some((path, at, len)) = pieces else { return Ok(None) };
        let cut =
            || format!("--state {}: the snapshot pieces section is cut short", path.display());
        let mut file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(*at)).with_context(cut)?;
        let mut bytes = vec![0; *len];
        file.read_exact(&mut bytes).with_context(cut)?;
        Pieces::from_bytes(bytes).context("--state: snapshot pieces")
    }
}

/// Where the tally of a [`STATE_FORMAT`] file is: a base file, the tally's state
/// (`sverka_tally::replay::Replay::save_state`) after `base_size` entries, written once and
/// named in the state, and the entries since (the delta section), which a run folds in after
/// loading the base. A run rewrites only the state file (its delta grown by the new entries)
/// until the delta outgrows [`DELTA_FLOOR`] or an eighth of the base; then it writes a new base.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TallyRef {
    /// The base file's name, in the state file's directory: the state file's name, `.tally-`,
    /// and the first 16 hex digits of the base's SHA-256.
    base: String,
    /// How many entries (entry 0 included) the base's tally has folded in.
    base_size: u64,
    /// The SHA-256 (hex) of the base file.
    base_sha256: String,
    /// How many entries the delta section holds: entries `base_size` to `size - 1`.
    delta_entries: u64,
    /// The SHA-256 (hex) of the delta section.
    delta_sha256: String,
}

/// The delta of a state being carried on: the base it rests on and the entries since, each as
/// its length (`u32`, little-endian) and bytes.
struct Delta {
    base: TallyRef,
    /// The base file's length in bytes.
    base_len: u64,
    bytes: Vec<u8>,
    entries: u64,
    /// The base file, if the tally was loaded with only the records that the delta's and the
    /// new entries' stations need ([`ScannedState::compact`]): [`whole_replay`] reads it whole
    /// when another record is needed (a snapshot compared in full).
    partial: Option<PathBuf>,
}

impl Delta {
    fn push(&mut self, entry: &[u8]) {
        self.bytes.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(entry);
        self.entries += 1;
    }

    /// Whether the delta has outgrown its base (then the next state gets a new base).
    fn outgrown(&self) -> bool {
        outgrows(self.bytes.len(), self.base_len)
    }
}

/// Whether a delta of `len` bytes has outgrown a base of `base_len` bytes ([`Delta::outgrown`]).
fn outgrows(len: usize, base_len: u64) -> bool {
    len > DELTA_FLOOR.max((base_len / 8) as usize)
}

/// The checkpoint an earlier version's JSON state file names (its other members are not used).
#[derive(serde::Deserialize)]
struct EarlierState {
    #[serde(default)]
    format: Option<String>,
    vkey: String,
    origin: String,
    size: u64,
    root: String,
}

fn load_state(path: &Path) -> anyhow::Result<Option<(State<'static>, Sections)>> {
    // The two lines are read and the JSON parsed where it lies; the delta is read into a buffer
    // of its length, and the pieces (held until the snapshot is compared, when a resume's memory
    // peaks) are only located: [`Sections::read_pieces`] reads them into a buffer of their own.
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let reading = || format!("reading {}", path.display());
    let file_len = file.metadata().with_context(reading)?.len();
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let at = || format!("--state {}", path.display());
    let mut first = Vec::new();
    std::io::BufRead::read_until(&mut input, b'\n', &mut first).with_context(reading)?;
    if !first.starts_with(b"sverka-verify-state/") {
        // A JSON file of an earlier version (one document, no sections).
        input.read_to_end(&mut first).with_context(reading)?;
        return load_earlier_state(&first, &at());
    }
    let format = String::from_utf8_lossy(strip_newline(&first)).into_owned();
    if format != STATE_FORMAT && format != STATE_FORMAT_V3 && format != STATE_FORMAT_V2 {
        bail!("{}: format {format:?}, this sverka reads {STATE_FORMAT:?}", at());
    }
    // The JSON line into a buffer of the file's length (only the pages it fills are touched; a
    // buffer grown as it is read would touch twice as many, fresh), then kept to the end of the
    // run: the signers' ids in it (250,080 at 250,000 stations) are borrowed, not copied.
    let mut second = Vec::with_capacity(usize::try_from(file_len).unwrap_or(0).min(1 << 32));
    std::io::BufRead::read_until(&mut input, b'\n', &mut second).with_context(reading)?;
    let second: &'static [u8] = second.leak();
    let json = strip_newline(second);
    if format != STATE_FORMAT {
        return load_earlier_state(json, &at());
    }
    // `last_seq` holds most of the line: room for as many ids as it could hold (each member
    // takes at least 6 bytes), so its list is not grown, and copied, as it is read.
    LAST_SEQ_ROOM.set(json.len() / 6);
    let state = serde_json::from_slice::<State<'static>>(json);
    LAST_SEQ_ROOM.set(0);
    let state =
        state.with_context(|| format!("{}: its second line is not the state's JSON", at()))?;
    // Each section: its length (`u64`, little-endian), then its bytes.
    let mut next = (first.len() + second.len()) as u64;
    let mut section_len = |what: &str, input: &mut dyn Read| -> anyhow::Result<usize> {
        let cut = || format!("{}: the {what} section is cut short", at());
        let mut len = [0u8; 8];
        input.read_exact(&mut len).with_context(cut)?;
        let len = u64::from_le_bytes(len);
        next += 8;
        if len > file_len - next.min(file_len) {
            // As reading the section's bytes would report it.
            return Err(cut_short()).with_context(cut);
        }
        next += len;
        usize::try_from(len).with_context(cut)
    };
    let delta_len = section_len("tally delta", &mut input)?;
    let mut delta = vec![0; delta_len];
    let cut = || format!("{}: the tally delta section is cut short", at());
    input.read_exact(&mut delta).with_context(cut)?;
    let pieces_len = section_len("snapshot pieces", &mut input)?;
    if next != file_len {
        bail!("{}: {} bytes after its last section", at(), file_len - next);
    }
    if state.format.as_deref() != Some(STATE_FORMAT) {
        bail!("{}: its JSON names format {:?}, not {STATE_FORMAT:?}", at(), state.format);
    }
    let pieces =
        (pieces_len > 0).then(|| (path.to_path_buf(), next - pieces_len as u64, pieces_len));
    Ok(Some((state, Sections { delta, pieces })))
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// The error of a read that found the end of its input before the bytes it needed.
fn cut_short() -> std::io::Error {
    let mut nothing: &[u8] = &[];
    nothing.read_exact(&mut [0]).expect_err("nothing to read")
}

/// A JSON state file of [`STATE_FORMAT_V1`] or earlier, or the JSON line of a
/// [`STATE_FORMAT_V2`] or [`STATE_FORMAT_V3`] file: only its checkpoint is used.
fn load_earlier_state(
    bytes: &[u8],
    at: &str,
) -> anyhow::Result<Option<(State<'static>, Sections)>> {
    let earlier: EarlierState =
        serde_json::from_slice(bytes).with_context(|| format!("{at}: not a verify state file"))?;
    match earlier.format.as_deref() {
        None | Some(STATE_FORMAT_V1) | Some(STATE_FORMAT_V2) | Some(STATE_FORMAT_V3) => {}
        Some(other) => bail!("{at}: format {other:?}, this sverka reads {STATE_FORMAT:?}"),
    }
    let EarlierState { vkey, origin, size, root, .. } = earlier;
    Ok(Some((State { format: None, vkey, origin, size, root, resume: None }, Sections::default())))
}

/// Writes `state`, the tally's delta and the snapshot pieces to `path` (to `path.tmp`, synced,
/// then renamed).
fn save_state(
    path: &Path,
    state: &State<'_>,
    delta: &[u8],
    pieces: Option<&Pieces>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let writing = || format!("writing {}", tmp.display());
    let file = std::fs::File::create(&tmp).with_context(writing)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(STATE_FORMAT.as_bytes()).with_context(writing)?;
    out.write_all(b"\n").with_context(writing)?;
    serde_json::to_writer(&mut out, state).with_context(writing)?;
    out.write_all(b"\n").with_context(writing)?;
    out.write_all(&(delta.len() as u64).to_le_bytes()).with_context(writing)?;
    out.write_all(delta).with_context(writing)?;
    let pieces = pieces.map_or(&[][..], |p| p.bytes.as_slice());
    out.write_all(&(pieces.len() as u64).to_le_bytes()).with_context(writing)?;
    out.write_all(pieces).with_context(writing)?;
    out.into_inner().map_err(|e| e.into_error()).with_context(writing)?.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The name of a tally base of the state file `path` whose SHA-256 is `sha256` (hex).
fn base_name(path: &Path, sha256: &str) -> String {
    side_file_name(path, "tally", sha256)
}

/// The name of an election cache of the state file `path` whose SHA-256 is `sha256` (hex).
fn cache_name(path: &Path, sha256: &str) -> String {
    side_file_name(path, "election", sha256)
}

/// `<the state file's name>.<kind>-<the first 16 hex digits of sha256>`.
fn side_file_name(path: &Path, kind: &str, sha256: &str) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{name}.{kind}-{}", &sha256[..16.min(sha256.len())])
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `cache` names a file of the state `path` (its name made of the state's and a hash):
/// only such a file is read, or removed once replaced.
fn cache_well_named(path: &Path, cache: &ElectionRef) -> bool {
    is_sha256_hex(&cache.sha256) && cache.cache == cache_name(path, &cache.sha256)
}

/// The election a resume continues with: `cached`, the cache `--state` names read by
/// [`read_election_cache`], if it is there, hashes to the SHA-256 the state gives and is a cache
/// of this definition (then `Some` of it too); otherwise the definition (`blob/<sha256>`, whose
/// hash the caller has checked) read again, with a note on stderr saying why (and `None`: the
/// next state names a new cache). A cache is never trusted beyond what the state pins.
fn load_election(
    reader: &FnReader,
    path: &Path,
    cache: Option<&ElectionRef>,
    cached: Option<Result<Election, String>>,
    definition_path: &str,
    definition_sha256: &[u8; 32],
) -> anyhow::Result<(Arc<Election>, Option<ElectionRef>)> {
    if let (Some(cache), Some(cached)) = (cache, cached) {
        match cached {
            Ok(election) => return Ok((Arc::new(election), Some(cache.clone()))),
            Err(why) => eprintln!(
                "--state {}: its election cache {:?} {why}: not used, the definition is read again",
                path.display(),
                cache.cache
            ),
        }
    }
    // Read again (it was hashed a megabyte at a time, not held): checked again.
    let definition = read_required(reader, definition_path)?;
    let found: [u8; 32] = Sha256::digest(&definition).into();
    if &found != definition_sha256 {
        bail!("{definition_path}: its content hashes to {}, not to its name (the election definition of entry 0): the file was swapped", hex(&found));
    }
    let text = std::str::from_utf8(&definition)
        .map_err(|_| anyhow::anyhow!("the election definition is not UTF-8"))?;
    // The state is written only after a run that read this definition with every check
    // (docs/formats.md §11, "Trusted"): its keys are not decompressed again.
    let election = Election::from_toml_trusted_keys("election.toml", text)
        .map_err(|e| anyhow::anyhow!("the election definition does not validate: {e}"))?;
    Ok((Arc::new(election), None))
}

fn read_election_cache(
    path: &Path,
    cache: &ElectionRef,
    definition_sha256: &[u8; 32],
) -> Result<Election, String> {
    if !cache_well_named(path, cache) {
        return Err("is not named after the state file and the cache's hash".to_string());
    }
    // Decoded as it is read and hashed, a megabyte at a time (never held whole: 31 MB of fresh
    // pages at 250,000 stations, on the resume's critical path); the rest of the file, if the
    // decoding stopped early, is hashed too, and the hash is compared first: an election is
    // used only if the whole file is the one the state pins.
    let file = std::fs::File::open(path.with_file_name(&cache.cache))
        .map_err(|e| format!("cannot be read ({e})"))?;
    let len = file.metadata().map_err(|e| format!("cannot be read ({e})"))?.len();
    let len = usize::try_from(len).map_err(|_| format!("is {len} bytes long"))?;
    let mut source = HashingReader::new(file);
    let election = Election::from_cache_reader(&mut source, len, definition_sha256);
    let found = hex(&source.finish().map_err(|e| format!("cannot be read ({e})"))?);
    if found != cache.sha256 {
        return Err(format!("hashes to {found}, not to the {} the state names", cache.sha256));
    }
    election.map_err(|e| format!("is refused: {e}"))
}

/// Writes `election`'s cache beside the state file `path` (streamed into
/// `<name>.election-.tmp`, synced, renamed to its name with its hash).
fn write_election_cache(
    path: &Path,
    election: &Election,
    definition_sha256: &[u8; 32],
) -> anyhow::Result<ElectionRef> {
    let tmp = path.with_file_name(format!("{}.tmp", cache_name(path, "")));
    let writing = || format!("writing {}", tmp.display());
    let file = std::fs::File::create(&tmp).with_context(writing)?;
    let mut out = HashingWriter::new(file);
    election.write_cache(definition_sha256, &mut out).with_context(writing)?;
    let (file, sha256) = out.finish();
    let sha256 = hex(&sha256);
    file.sync_all().with_context(writing)?;
    let cache = cache_name(path, &sha256);
    std::fs::rename(&tmp, path.with_file_name(&cache))
        .with_context(|| format!("writing {}", path.with_file_name(&cache).display()))?;
    Ok(ElectionRef { cache, sha256 })
}

/// The 32 bytes of a SHA-256 written in hex.
fn sha256_bytes(text: &str) -> Option<[u8; 32]> {
    if !is_sha256_hex(text) {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(bytes)
}

/// Writes the tally's state as a new base file beside the state file `path` (streamed into
/// `<name>.tally.tmp`, synced, renamed to its name with its hash): the [`TallyRef`] of a state
/// with an empty delta.
fn write_base(path: &Path, replay: &Replay) -> anyhow::Result<TallyRef> {
    let tmp = path.with_file_name(format!("{}.tmp", base_name(path, "")));
    let writing = || format!("writing {}", tmp.display());
    let file = std::fs::File::create(&tmp).with_context(writing)?;
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut out = HashingWriter::new(out);
    replay.save_state_to(&mut out).with_context(writing)?;
    let (out, sha256) = out.finish();
    let sha256 = hex(&sha256);
    out.into_inner().map_err(|e| e.into_error()).with_context(writing)?.sync_all()?;
    let base = base_name(path, &sha256);
    std::fs::rename(&tmp, path.with_file_name(&base))
        .with_context(|| format!("writing {}", path.with_file_name(&base).display()))?;
    Ok(TallyRef {
        base,
        base_size: replay.size(),
        base_sha256: sha256,
        delta_entries: 0,
        delta_sha256: sha256_hex(b""),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `tally` names a base file of the state `path` (its name made of the state's and a
/// hash): only such a file is read.
fn base_well_named(path: &Path, tally: &TallyRef) -> bool {
    is_sha256_hex(&tally.base_sha256) && tally.base == base_name(path, &tally.base_sha256)
}

/// Whether [`read_hashed`] keeps the bytes it hashes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Into one buffer of the file's length, returned with the hash.
    Bytes,
    /// Only the hash: each megabyte is read into the same buffer (an empty one is returned).
    HashOnly,
}

/// A file's SHA-256, read a megabyte at a time and each megabyte hashed as soon as it is read
/// (while it is still in the processor's cache), and with [`Keep::Bytes`] its bytes.
fn read_hashed(path: &Path, keep: Keep) -> std::io::Result<(Vec<u8>, [u8; 32])> {
    const STEP: usize = 1 << 20;
    let mut file = std::fs::File::open(path)?;
    let capacity = match keep {
        // One more byte than the file: reading its end needs no second buffer.
        Keep::Bytes => usize::try_from(file.metadata()?.len()).unwrap_or(0).saturating_add(1),
        Keep::HashOnly => STEP,
    };
    let mut bytes = Vec::with_capacity(capacity);
    let mut hasher = Sha256::new();
    loop {
        if keep == Keep::HashOnly {
            bytes.clear();
        }
        let start = bytes.len();
        if (&mut file).take(STEP as u64).read_to_end(&mut bytes)? == 0 {
            return Ok((bytes, hasher.finalize().into()));
        }
        hasher.update(&bytes[start..]);
    }
}

/// A tally base read, hashed and its records checked as it streamed past ([`scan_state`]),
/// kept open to read again the records a resume needs: its whole SHA-256, the SHA-256 of each
/// [`BASE_BLOCK`] bytes of it, and what the scan found.
struct ScannedBase {
    file: std::fs::File,
    len: usize,
    sha256: [u8; 32],
    blocks: Vec<[u8; 32]>,
    scanned: Result<ScannedState, TallyStateError>,
}

/// The blocks a tally base is hashed in, besides its whole SHA-256, so that the records a
/// resume keeps can be read again and each shown to be the bytes hashed the first time.
const BASE_BLOCK: usize = 1 << 12;

/// A reader that hashes what it reads, whole and in blocks of [`BASE_BLOCK`] bytes.
struct BlockHashing<R> {
    inner: R,
    whole: Sha256,
    block: Sha256,
    in_block: usize,
    blocks: Vec<[u8; 32]>,
}

impl<R: Read> BlockHashing<R> {
    fn new(inner: R, len: usize) -> BlockHashing<R> {
        let blocks = Vec::with_capacity(len.div_ceil(BASE_BLOCK));
        BlockHashing { inner, whole: Sha256::new(), block: Sha256::new(), in_block: 0, blocks }
    }

    /// The SHA-256 of everything read, and of each block.
    fn finish(mut self) -> ([u8; 32], Vec<[u8; 32]>) {
        if self.in_block > 0 {
            self.blocks.push(self.block.finalize().into());
        }
        (self.whole.finalize().into(), self.blocks)
    }
}

impl<R: Read> Read for BlockHashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut rest = &buf[..n];
        self.whole.update(rest);
        while !rest.is_empty() {
            let take = (BASE_BLOCK - self.in_block).min(rest.len());
            self.block.update(&rest[..take]);
            (self.in_block, rest) = (self.in_block + take, &rest[take..]);
            if self.in_block == BASE_BLOCK {
                self.blocks.push(self.block.finalize_reset().into());
                self.in_block = 0;
            }
        }
        Ok(n)
    }
}

/// Reads a tally base, hashes it whole and by block and checks its records, keeping none of
/// them (the resume's base thread; [`scan_state`]).
fn scan_base(path: &Path) -> std::io::Result<ScannedBase> {
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    let mut reader = BlockHashing::new(&file, len);
    let scanned = scan_state(&mut reader, len)?;
    let (sha256, blocks) = reader.finish();
    Ok(ScannedBase { file, len, sha256, blocks, scanned })
}

/// Bytes of a scanned base read again ([`BaseBlocks::fetch`]), each block they lie in hashed
/// and compared with its hash from the scan; the last blocks read are kept for the next bytes.
struct BaseBlocks<'a> {
    file: &'a std::fs::File,
    len: usize,
    blocks: &'a [[u8; 32]],
    /// Blocks read past the last bytes asked for (more when the whole base is read).
    ahead: usize,
    /// The blocks read last, from offset `at`.
    at: usize,
    held: Vec<u8>,
}

impl BaseBlocks<'_> {
    /// Fills `out` with the base's bytes at `at`, as they were when scanned.
    fn fetch(&mut self, at: usize, out: &mut [u8]) -> std::io::Result<()> {
        let end = at + out.len();
        if at < self.at || end > self.at + self.held.len() {
            let first = at / BASE_BLOCK;
            let last = (end.div_ceil(BASE_BLOCK) + self.ahead).min(self.len.div_ceil(BASE_BLOCK));
            let (from, to) = (first * BASE_BLOCK, (last * BASE_BLOCK).min(self.len));
            if end > to {
                return Err(std::io::Error::other("the tally base is shorter than when scanned"));
            }
            self.held.resize(to - from, 0);
            let mut done = 0;
            while done < self.held.len() {
                match read_at(self.file, &mut self.held[done..], (from + done) as u64) {
                    Ok(0) => return Err(cut_short()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            for (k, block) in self.held.chunks(BASE_BLOCK).enumerate() {
                if self.blocks.get(first + k) != Some(&Sha256::digest(block).into()) {
                    return Err(std::io::Error::other("the tally base changed while it was read"));
                }
            }
            self.at = from;
        }
        out.copy_from_slice(&self.held[at - self.at..end - self.at]);
        Ok(())
    }
}

/// The stations that the delta's entries and the new entries `seen..size` (read from the
/// publication's directory `dir`) name, and how long the delta will be with them: `None` if
/// any of them does not decode, is a second election definition or cannot be read (then the
/// whole tally base is loaded, and the pass reports what it finds).
fn stations_named(dir: &Path, delta: &[u8], seen: u64, size: u64) -> Option<(Vec<String>, usize)> {
    let mut stations = Vec::new();
    let mut name = |entry: &[u8]| -> Option<()> {
        match Submission::decode(entry).ok()?.payload.body {
            Body::Protocol(protocol) => stations.push(protocol.station),
            Body::Annulment(annulment) => stations.push(annulment.station),
            Body::Election(_) => return None,
            _ => {}
        }
        Some(())
    };
    let mut rest = delta;
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().expect("4 bytes")) as usize;
        name(rest.get(4..4 + len)?)?;
        rest = &rest[4 + len..];
    }
    let mut delta_len = delta.len();
    for bundle in new_entry_bundles(seen, size) {
        let bytes = std::fs::read(dir.join(bundle.path())).ok()?;
        let entries = parse_bundle(&bytes).ok()?;
        let skip = seen.saturating_sub(bundle.first_entry()) as usize;
        for entry in entries.get(skip..)? {
            delta_len += 4 + entry.len();
            name(entry)?;
        }
    }
    Some((stations, delta_len))
}

/// Which records of the tally base a resume keeps: `None`, every one.
type KeptRecords = Option<Vec<bool>>;

/// The tally of a [`STATE_FORMAT`] file: its base file (`base`: scanned by [`scan_base`],
/// `None` if it is not [`base_well_named`]) checked against the hash the state names, the
/// delta checked likewise, the base loaded (into `ahead`, the new tally of `election`; only the
/// records `keep` names and those with corrections, read again, if `keep` is given) and the
/// delta's entries folded in.
#[allow(clippy::too_many_arguments)]
fn load_tally(
    path: &Path,
    tally: &TallyRef,
    delta: Vec<u8>,
    election: Arc<Election>,
    size: u64,
    base: Option<std::io::Result<ScannedBase>>,
    ahead: Box<NewTally>,
    keep: KeptRecords,
) -> anyhow::Result<(Replay, Delta)> {
    let at = || format!("--state {}", path.display());
    if !base_well_named(path, tally) {
        bail!(
            "{}: its tally base is named {:?}, not after the state file and the base's hash",
            at(),
            tally.base
        );
    }
    if tally.base_size.checked_add(tally.delta_entries) != Some(size) {
        bail!(
            "{}: a tally base of {} entries and a delta of {} entries, but the state names {size} \
             entries: a stale delta",
            at(),
            tally.base_size,
            tally.delta_entries
        );
    }
    if sha256_hex(&delta) != tally.delta_sha256 {
        bail!(
            "{}: its tally delta does not hash to the {} the state names",
            at(),
            tally.delta_sha256
        );
    }
    let base_path = path.with_file_name(&tally.base);
    let base = base
        .expect("a well-named base is read")
        .with_context(|| format!("{}: its tally base {}", at(), base_path.display()))?;
    let found = hex(&base.sha256);
    if found != tally.base_sha256 {
        bail!(
            "{}: its tally base {} hashes to {found}, not to the {} the state names (changed, or \
             another state's)",
            at(),
            base_path.display(),
            tally.base_sha256
        );
    }
    let ScannedBase { file, len, blocks, scanned, .. } = base;
    let scanned = scanned.map_err(|e| anyhow::anyhow!("{}: its tally base: {e}", at()))?;
    let base_len = len as u64;
    // The records kept are read again, each block they lie in shown to hash as it did.
    let ahead_blocks = if keep.is_some() { 0 } else { 256 };
    let mut blocks = BaseBlocks {
        file: &file,
        len,
        blocks: &blocks,
        ahead: ahead_blocks,
        at: 0,
        held: Vec::new(),
    };
    let partial = keep.is_some().then(|| base_path.clone());
    let kept = |r: usize| keep.as_ref().is_none_or(|keep| keep.get(r) == Some(&true));
    let base = scanned
        .compact(&kept, &mut |at, out| blocks.fetch(at, out))
        .with_context(|| format!("{}: its tally base {}", at(), base_path.display()))?;
    drop(blocks);
    let mut replay =
        Replay::resume_election(election, tally.base_size, StateBytes::Ahead(base, ahead))
            .map_err(|e| anyhow::anyhow!("{}: its tally base: {e}", at()))?;
    let mut rest = delta.as_slice();
    for k in 0..tally.delta_entries {
        let index = tally.base_size + k;
        let cut = || format!("{}: its tally delta is cut short at entry {index}", at());
        let len = rest.get(..4).with_context(cut)?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let entry = rest.get(4..4 + len).with_context(cut)?;
        replay
            .apply(index, entry)
            .map_err(|e| anyhow::anyhow!("{}: its tally delta: {e}", at()))?;
        rest = &rest[4 + len..];
    }
    if !rest.is_empty() {
        bail!("{}: {} bytes after the last entry of its tally delta", at(), rest.len());
    }
    // The pieces kept describe the snapshot at `size`, the delta's stations included.
    replay.forget_touched();
    let delta = Delta {
        base: tally.clone(),
        base_len,
        entries: tally.delta_entries,
        bytes: delta,
        partial,
    };
    Ok((replay, delta))
}

/// The replay of a tally loaded with only some records of its base ([`Delta::partial`]) made
/// whole: the base read whole, its hash compared with the state's again, loaded, and the
/// delta's entries folded in up to the replay's size (the entries a pass has read but not yet
/// folded stay out).
fn whole_replay(replay: &mut Replay, delta: &mut Delta) -> Result<(), String> {
    let Some(path) = delta.partial.clone() else { return Ok(()) };
    let at = || format!("its tally base {}", path.display());
    let (bytes, sha256) = read_hashed(&path, Keep::Bytes).map_err(|e| format!("{}: {e}", at()))?;
    if hex(&sha256) != delta.base.base_sha256 {
        return Err(format!(
            "{}: hashes to {}, not to the {} the state names (changed, or another state's)",
            at(),
            hex(&sha256),
            delta.base.base_sha256
        ));
    }
    let base = delta.base.base_size;
    let mut whole = Replay::resume_election(replay.shared_election(), base, bytes)
        .map_err(|e| format!("{}: {e}", at()))?;
    let mut rest = delta.bytes.as_slice();
    for index in base..replay.size() {
        let len =
            rest.get(..4).ok_or_else(|| format!("the tally delta is cut at entry {index}"))?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let entry = rest
            .get(4..4 + len)
            .ok_or_else(|| format!("the tally delta is cut at entry {index}"))?;
        whole.apply(index, entry).map_err(|e| format!("the tally delta: {e}"))?;
        rest = &rest[4 + len..];
    }
    delta.partial = None;
    *replay = whole;
    Ok(())
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
    let (mut state, sections) = match &args.state {
        Some(path) => match load_state(path)? {
            Some((state, sections)) => (Some(state), sections),
            None => (None, Sections::default()),
        },
        None => (None, Sections::default()),
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
    let started = Instant::now();

    // The checkpoint: the log's signature, the origin pinned in --state, the witness quorum.
    let checkpoint_bytes = read_required(reader, "checkpoint")?;
    let (checkpoint, note) =
        Checkpoint::open(&checkpoint_bytes, &keys).map_err(PublicationError::from)?;
    if let Some(state) = &state {
        if checkpoint.origin() != state.origin {
            return Err(PublicationError::Origin {
                found: checkpoint.origin().to_string(),
                expected: state.origin.clone(),
            }
            .into());
        }
    }
    let witnesses = policy.map(|policy| policy.evaluate(&note));
    if let Some(outcome) = witnesses.as_ref().filter(|o| !o.quorum_met) {
        return Err(PublicationError::Quorum {
            quorum: outcome.quorum.clone(),
            outcome: outcome.clone(),
        }
        .into());
    }
    let size = checkpoint.size();
    if let Some((seen, _)) = previous {
        if seen > size {
            return Err(PublicationError::RolledBack { seen, now: size }.into());
        }
    }

    // Resume from --state (the checks of the first `seen` entries are not repeated) when it holds
    // what is needed to continue; otherwise every entry from 0.
    let loading = Instant::now();
    let mut resumed = match (&mut state, previous) {
        (Some(State { resume: Some(resume), .. }), Some((seen, before))) => {
            check_consistency(reader, seen, before, &checkpoint)?;
            let path = args.state.as_deref().expect("a state was read");
            let dir = Path::new(&args.target).is_dir().then(|| Path::new(&args.target));
            Some(Resumed::load(reader, dir, path, resume, sections, seen, size)?)
        }
        _ => None,
    };
    let from = resumed.as_ref().map_or(0, |r| r.size);
    let loading = loading.elapsed();

    let bar = ProgressBar::new(size - from).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} entries").expect("template"),
    );
    bar.set_message("verifying");
    let (signer_keys, worker_busy) = (RwLock::default(), AtomicU64::new(0));
    let mut pass =
        Pass::new(args, reader, &log_verifiers, resumed.take(), from, &signer_keys, &worker_busy);
    pass.check_root_at = previous.filter(|_| from == 0).map(|(seen, _)| seen);
    let log = pass.run(size, &checkpoint, &bar);
    bar.finish_and_clear();
    log?;
    if let Some((seen, before)) = previous.filter(|_| from == 0) {
        let now = match seen {
            0 => sverka_tlog::merkle::root(&[]),
            _ => pass.root_at_check.expect("the pass went past the checkpoint seen before"),
        };
        if now != before {
            return Err(PublicationError::Inconsistent { seen, before, now }.into());
        }
    }
    if let Some(failure) = pass.failure.take() {
        bail!(failure);
    }
    let timings = format!(
        "timings: {:.2} s in all; {:.2} s resuming from --state (consistency proof, the \
         election, the registry and the tally); {:.2} s with the workers (decoding, leaf hashes, Ed25519 on {} \
         threads, busy {:.2} s in all); main thread: {:.2} s reading and hashing tiles, {:.2} s \
         registry and tabulating, {:.2} s recomputing snapshots",
        started.elapsed().as_secs_f64(),
        loading.as_secs_f64(),
        pass.pass_time.as_secs_f64(),
        pass.workers,
        Duration::from_nanos(worker_busy.load(Ordering::Relaxed)).as_secs_f64(),
        pass.reading.as_secs_f64(),
        pass.folding.as_secs_f64(),
        pass.snapshot_time.as_secs_f64(),
    );
    if let Some(beyond) = pass.snapshot_sizes.range(size + 1..).next() {
        bail!(
            "snapshot/{beyond}.json: results for {beyond} entries, but the checkpoint signs only \
             {size}: a stale checkpoint served with newer files"
        );
    }
    let mut progress = pass.progress.take().context("the log is empty")?;
    let blobs = check_blobs(args, reader, &mut progress)?;
    if !progress.snapshots.contains(&size) {
        let replay = progress.replay.as_mut().context("the log is empty")?;
        let started = Instant::now();
        let (dir, root) = (pass.dir.as_deref(), checkpoint.root());
        let (pieces, delta) = (&mut progress.pieces, progress.delta.as_mut());
        compare_snapshot(reader, dir, replay, pieces, &mut progress.ahead, delta, size, root)
            .map_err(anyhow::Error::msg)?;
        pass.snapshot_time += started.elapsed();
        progress.snapshots.insert(size);
        pass.snapshots_checked.push(size);
    }
    // every audit recomputed: manifests, draws from the seeds, stated risks (H4, issue 7)
    let audits = match progress.counts.contains_key("audit steps") {
        true => Some(
            crate::cmd_audit::verify_published_audits(reader, size, checkpoint.root())
                .map_err(anyhow::Error::msg)?,
        ),
        false => None,
    };
    if args.timings {
        eprintln!("{timings}; {:.2} s for the snapshots in all", pass.snapshot_time.as_secs_f64());
    }
    if let Some(path) = &args.state {
        let saving = Instant::now();
        // The delta grown by this run's entries, or (a run from entry 0, or a delta that
        // outgrew its base) a new base and an empty delta.
        let (tally, delta) = match progress.delta.take().filter(|d| !d.outgrown()) {
            Some(delta) => {
                let tally = TallyRef {
                    delta_entries: delta.entries,
                    delta_sha256: sha256_hex(&delta.bytes),
                    ..delta.base
                };
                (tally, delta.bytes)
            }
            None => {
                let replay = progress.replay.as_ref().context("the log is empty")?;
                (write_base(path, replay)?, Vec::new())
            }
        };
        let new_base = tally.base.clone();
        // The election cache read, or (a run from entry 0, or a cache that was not used) a new one.
        let election = match progress.election_cache.clone() {
            Some(cache) => cache,
            None => {
                let replay = progress.replay.as_ref().context("the log is empty")?;
                let definition = progress.definition.as_deref().and_then(sha256_bytes);
                let definition = definition.context("the definition's SHA-256 is not hex")?;
                write_election_cache(path, replay.election(), &definition)?
            }
        };
        let new_cache = election.cache.clone();
        let state = State {
            format: Some(STATE_FORMAT.to_string()),
            vkey,
            origin: checkpoint.origin().to_string(),
            size,
            root: checkpoint.root().to_hex(),
            resume: Some(progress.to_resume(&pass.edge, tally, election)?),
        };
        save_state(path, &state, &delta, progress.pieces.as_ref())?;
        // The base and the cache the state read before are no longer named by it.
        if let Some(old) = progress.old_base.as_ref().filter(|old| **old != new_base) {
            let _ = std::fs::remove_file(path.with_file_name(old));
        }
        if let Some(old) = progress.old_election_cache.as_ref().filter(|old| **old != new_cache) {
            let _ = std::fs::remove_file(path.with_file_name(old));
        }
        if args.timings {
            eprintln!("timings: {:.2} s writing --state", saving.elapsed().as_secs_f64());
        }
    }
    let mut summary = format!(
        "log {}: checkpoint size {}, root {}\n  signature by the log key: ok\n  {} entry bundles and hash tiles: every one rebuilt from the entries and equal\n",
        checkpoint.origin(),
        checkpoint.size(),
        checkpoint.root(),
        pass.tiles_checked
    );
    if let Some(outcome) = &witnesses {
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
        if from > 0 && from < size {
            summary.push_str(&format!(
                "  resumed from --state: entries {from} to {} checked now, the first {from} \
                 were checked by an earlier run\n",
                size - 1
            ));
        } else if from > 0 {
            summary.push_str(&format!(
                "  resumed from --state: no new entries, all {from} were checked by an earlier \
                 run\n"
            ));
        }
    }
    summary.push_str(&format!("  {blobs}\n"));
    if let Some(audits) = &audits {
        summary.push_str(&format!("  {audits}\n"));
    }
    summary.push_str(&format!(
        "  {} snapshot(s) recomputed from the entries and byte-identical: {}\n",
        pass.snapshots_checked.len(),
        pass.snapshots_checked
            .iter()
            .map(|n| format!("snapshot/{n}.json"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for (kind, n) in &progress.counts {
        summary.push_str(&format!(
            "  {n} {kind}, each a canonical submission signed by a key registered for it\n"
        ));
    }
    // The replay (tally and election) and the key registry of 250,000 stations take seconds to
    // free, a tenth of a re-verify's CPU (BENCHMARKS.md); `verify` is the process's last work,
    // so the system takes the memory back instead.
    std::mem::forget(progress);
    Ok(summary.trim_end().to_string())
}

fn read_required(reader: &FnReader, path: &str) -> Result<Vec<u8>, PublicationError> {
    match reader.read(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(PublicationError::Missing { path: path.to_string() }),
        Err(reason) => Err(PublicationError::Read { path: path.to_string(), reason }),
    }
}

/// The publication's hash tiles, for proofs: a partial tile the log no longer serves is read from
/// a wider version of it (tlog-tiles lets logs delete partial tiles once full).
fn read_tile(reader: &FnReader, tile: &Tile) -> Result<Vec<u8>, String> {
    let path = tile.path();
    match reader.read(&path)? {
        Some(bytes) => Ok(bytes),
        None if !tile.is_full() => reader
            .read(&tile.to_full().path())?
            .ok_or_else(|| format!("{path}: missing (nor is its full tile published)")),
        None => Err(format!("{path}: missing")),
    }
}

/// The checkpoint of size `seen` and root `before`, seen by an earlier run, must be a prefix of
/// this one: an RFC 9162 consistency proof computed from the published tiles must verify from one
/// root to the other (a log that rewrote any of the first `seen` entries cannot produce one).
fn check_consistency(
    reader: &FnReader,
    seen: u64,
    before: Hash,
    checkpoint: &Checkpoint,
) -> anyhow::Result<()> {
    let (size, root) = (checkpoint.size(), checkpoint.root());
    let tiles = |tile: &Tile| read_tile(reader, tile);
    let proof = if seen == size || seen == 0 {
        Ok(Vec::new())
    } else {
        consistency_proof_from_tiles(&tiles, seen, size).map_err(|e| format!("{e:?}"))
    };
    let verdict = proof.and_then(|proof| {
        sverka_tlog::verify_consistency(seen, size, &proof, &before, &root)
            .map_err(|e| e.to_string())
    });
    if let Err(why) = verdict {
        let now = match root_from_tiles(&tiles, seen) {
            Ok(now) if seen < size => format!("; the published tiles give {now} for them"),
            _ => String::new(),
        };
        bail!(
            "checkpoint: size {size}, root {root} is not consistent with the checkpoint of size \
             {seen}, root {before} seen before (the consistency proof from the published tiles \
             fails: {why}){now}: history was rewritten"
        );
    }
    Ok(())
}

/// What verifying has established so far: carried through the pass, and saved in `--state`.
struct Progress {
    /// The replay of every entry so far (`None` until entry 0 has started it).
    replay: Option<Replay>,
    /// The key registry after every entry so far.
    registry: Option<KeyRegistry>,
    /// Entries that change the registry beyond a sequence number (key registrations and
    /// revocations, audit steps), in log order: `--state` keeps them to rebuild it.
    key_entries: Vec<Vec<u8>>,
    /// The SHA-256 of the election definition entry 0 commits to.
    definition: Option<String>,
    counts: BTreeMap<String, u64>,
    /// `(entry, sha256)` of every scan a protocol names.
    scans: Vec<(u64, String)>,
    /// Blob files already hashed against their names.
    blobs: BTreeSet<String>,
    /// Snapshots already recomputed and compared.
    snapshots: BTreeSet<u64>,
    /// Each station's part of the last snapshot compared: the next one recomputes only the
    /// stations that entries since name.
    pieces: Option<Pieces>,
    /// The next snapshot's unchanged stations, looked for while the pass runs (a resume
    /// from a directory with pieces).
    ahead: Option<Ahead>,
    /// The tally's base and the entries since, from `--state` and grown by this pass; `None`
    /// when the next state gets a new base (a pass from entry 0, or a delta grown too large).
    delta: Option<Delta>,
    /// The base file the `--state` read names (removed once a new state names another).
    old_base: Option<String>,
    /// The election cache this run read the definition from (`None`: the next state gets a
    /// new one).
    election_cache: Option<ElectionRef>,
    /// The election cache the `--state` read names, whether or not it was used (removed once a
    /// new state names another).
    old_election_cache: Option<String>,
}

/// `--state` in [`STATE_FORMAT`]: everything needed to continue after the checkpoint it names
/// (documented in docs/formats.md, "`sverka verify --state`").
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume<'a> {
    /// The right-edge partial hash tiles of the tree at `size` (tile path to its bytes, base64):
    /// with them the new tiles are rebuilt from the new entries alone.
    edge: BTreeMap<String, String>,
    /// The SHA-256 of the election definition (`blob/<sha256>`) entry 0 commits to.
    definition: String,
    counts: BTreeMap<String, u64>,
    scans: Vec<(u64, String)>,
    blobs: Vec<String>,
    snapshots: Vec<u64>,
    /// Key registrations, revocations and audit steps (base64 of the entries' bytes), in log order.
    key_entries: Vec<String>,
    /// The highest sequence number accepted from each signer.
    #[serde(borrow)]
    last_seq: LastSeqs<'a>,
    /// Where the tally is: its base file and the delta section.
    tally: TallyRef,
    /// Where the parsed definition is cached (absent from states written before the cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    election: Option<ElectionRef>,
}

/// `resume.last_seq`: a JSON object of signer ids to sequence numbers, its members in the
/// order of their ids (as a `BTreeMap` writes them). Read into a list, not a map: a state's
/// members come in that order, so the 225,078 of 250,000 stations need no search tree; members
/// out of order (or an id twice) are put in order as a map would (the last of an id kept).
/// Those written are borrowed from the registry ([`LastSeqs::of_registry`]: no string copied).
#[derive(Debug, Default, PartialEq, Eq)]
struct LastSeqs<'a>(Vec<(Cow<'a, str>, u64)>);

impl<'a> LastSeqs<'a> {
    /// A registry's, in the order of their ids, borrowed, not copied (250,080 at 250,000
    /// stations, at the end of a re-verify). Its ids are unique (the definition's keys have
    /// unique ids, a key the log registers is kept by its id, and a sequence number is noted
    /// under the definition's key of an id before any other), so they are sorted in place, not
    /// stably: no second buffer, the order a map of them gives.
    fn of_registry(registry: &'a KeyRegistry) -> LastSeqs<'a> {
        let mut seqs: Vec<(Cow<'a, str>, u64)> =
            registry.last_seqs().map(|(id, seq)| (Cow::Borrowed(id), seq)).collect();
        if !seqs.windows(2).all(|w| w[0].0 < w[1].0) {
            seqs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        LastSeqs(seqs)
    }

    /// In the order of their ids, one per id (the last given).
    fn sorted(mut seqs: Vec<(Cow<'a, str>, u64)>) -> LastSeqs<'a> {
        if !seqs.windows(2).all(|w| w[0].0 < w[1].0) {
            // Stable: of one id, the last given stays last, and is kept.
            seqs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(Cow<'a, str>, u64)> = Vec::with_capacity(seqs.len());
            for (id, seq) in seqs {
                match kept.last_mut() {
                    Some(last) if last.0 == id => last.1 = seq,
                    _ => kept.push((id, seq)),
                }
            }
            seqs = kept;
        }
        LastSeqs(seqs)
    }
}

impl serde::Serialize for LastSeqs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(id, seq)| (id, seq)))
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for LastSeqs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LastSeqs<'a>, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = LastSeqs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of signer ids to sequence numbers")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LastSeqs<'a>, A::Error> {
                let room = map.size_hint().unwrap_or(0).max(LAST_SEQ_ROOM.get());
                let mut seqs = Vec::with_capacity(room);
                while let Some((SignerId(id), seq)) = map.next_entry::<SignerId<'a>, u64>()? {
                    seqs.push((id, seq));
                }
                Ok(LastSeqs::sorted(seqs))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

thread_local! {
    /// How many members [`LastSeqs`]'s deserializer makes room for at once (set by
    /// [`load_state`] from the JSON line's length: only the pages the list fills are touched).
    static LAST_SEQ_ROOM: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A signer id of `last_seq`, borrowed from the JSON where it lies as written (no escapes, as
/// every id this state writes), else copied.
struct SignerId<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for SignerId<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SignerId<'a>, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = SignerId<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                id: &'de str,
            ) -> Result<SignerId<'a>, E> {
                Ok(SignerId(Cow::Borrowed(id)))
            }
            fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<SignerId<'a>, E> {
                Ok(SignerId(Cow::Owned(id.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, id: String) -> Result<SignerId<'a>, E> {
                Ok(SignerId(Cow::Owned(id)))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// The election cache of a [`STATE_FORMAT`] file: the [`sverka_model::Election`] the definition
/// gives, as `Election::to_cache` writes it (`sverka-election-cache/v1`, which names the
/// definition's SHA-256), in a file beside the state written once and never rewritten. A resume
/// whose cache is missing, does not hash to `sha256` or is not a cache of the definition
/// `definition` names reads the definition again (and the next state names a new cache): the
/// cache saves time and is never needed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ElectionRef {
    /// The cache's name, in the state file's directory: the state file's name, `.election-`,
    /// and the first 16 hex digits of `sha256`.
    cache: String,
    /// The SHA-256 (hex) of the cache file.
    sha256: String,
}

/// A [`Progress`] rebuilt from `--state`, with the tiles of the tree's right edge.
struct Resumed {
    size: u64,
    progress: Progress,
    edge: MemoryTiles,
}

impl Resumed {
    fn load(
        reader: &FnReader,
        dir: Option<&Path>,
        state_path: &Path,
        resume: &mut Resume<'_>,
        sections: Sections,
        size: u64,
        to: u64,
    ) -> anyhow::Result<Resumed> {
        let b64 = |what: &str, text: &str| {
            BASE64.decode(text).with_context(|| format!("--state: {what} is not base64"))
        };
        let mut edge = MemoryTiles::new();
        for (path, bytes) in &resume.edge {
            let Ok(TilePath::Hash(tile)) = sverka_tlog::parse_path(path) else {
                bail!("--state: edge tile {path:?} is not a hash tile path");
            };
            edge.insert_all([(tile, b64(path, bytes)?)]);
        }
        let path = format!("blob/{}", resume.definition);
        // Two cores share the work, each check made and reported as in one thread: another
        // thread reads and hashes the tally base and the definition while this one reads the
        // election cache; then it rebuilds the key registry while this one loads the tally.
        std::thread::scope(|scope| {
            let base = base_well_named(state_path, &resume.tally).then(|| {
                let base_path = state_path.with_file_name(&resume.tally.base);
                // Its records are checked here too, while this thread reads the election, as it
                // streams past (none of it kept: `scan_base`); the checks that need the
                // election are made when it is loaded (`load_tally`, after the hash is
                // compared), and the records the resume needs are read again then.
                scope.spawn(move || scan_base(&base_path))
            });
            // That thread then reads the snapshot pieces, needed only once the new snapshot is
            // compared, and the stations the delta and the new entries name (the records of
            // the base to keep).
            let (delta, pieces) = (sections.delta, &sections.pieces);
            let definition = scope.spawn(|| {
                // Moved here and handed back (its stations are read here).
                let delta = delta;
                let sha256 = match dir {
                    Some(dir) => match read_hashed(&dir.join(&path), Keep::HashOnly) {
                        Ok((_, sha256)) => Ok(Some(sha256)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            Err(PublicationError::Missing { path: path.clone() })
                        }
                        Err(e) => Err(PublicationError::Read {
                            path: path.clone(),
                            reason: e.to_string(),
                        }),
                    },
                    None => Ok(None),
                };
                let pieces = Sections::read_pieces(pieces);
                // The next snapshot's unchanged stations are looked for from now on.
                let looking = match (dir, &pieces) {
                    (Some(dir), Ok(Some(p))) if p.size == size => {
                        Ahead::start(dir, size, to, p.clone())
                    }
                    _ => None,
                };
                // A resume reads the whole base unless it compares the next snapshot by its
                // pieces (else every station is recomputed), never defers the sums (a pass
                // of at most as many entries as stations: `Pass::defer_sums_if_worth_it`)
                // and keeps the delta (else it writes a new base): see `load_tally`.
                let fits = matches!(&pieces, Ok(Some(p)) if p.size == size);
                let named = match dir {
                    Some(dir) if fits => stations_named(dir, &delta, size, to),
                    _ => None,
                };
                (sha256, pieces, named, delta, looking)
            });
            // The cache names the definition's SHA-256; if the state's `definition` is not one,
            // the definition's check below fails first.
            let expected = sha256_bytes(&resume.definition);
            let cached = match (resume.election.as_ref(), expected) {
                (Some(cache), Some(expected)) => {
                    Some(read_election_cache(state_path, cache, &expected))
                }
                (Some(_), None) => Some(Err("names no definition".to_string())),
                _ => None,
            };
            let (definition, pieces, named, delta, looking) =
                definition.join().expect("hashing the definition does not panic");
            let definition_sha256: [u8; 32] = match definition? {
                Some(sha256) => sha256,
                None => Sha256::digest(read_required(reader, &path)?).into(),
            };
            if hex(&definition_sha256) != resume.definition {
                bail!("{path}: its content hashes to {}, not to its name (the election definition of entry 0): the file was swapped", hex(&definition_sha256));
            }
            let (election, election_cache) = load_election(
                reader,
                state_path,
                resume.election.as_ref(),
                cached,
                &path,
                &definition_sha256,
            )?;
            let shared = Arc::clone(&election);
            // The signers' sequence numbers (250,080 strings at 250,000 stations) are dropped
            // once noted, not held to the snapshot's comparison, when memory peaks.
            let last_seq = std::mem::take(&mut resume.last_seq);
            let resume: &Resume<'_> = resume;
            let registry = scope.spawn(move || -> anyhow::Result<_> {
                let mut registry = KeyRegistry::new(shared);
                let mut key_entries = Vec::new();
                for text in &resume.key_entries {
                    let bytes = b64("a key entry", text)?;
                    let submission = Submission::decode(&bytes).context("--state: a key entry")?;
                    registry.apply(&submission);
                    key_entries.push(bytes);
                }
                for (signer, seq) in last_seq.0 {
                    registry.note_seq(&signer, seq);
                }
                Ok((registry, key_entries))
            });
            // The tally's indexes are built from the election while the other thread may still
            // be reading and checking the base (a tenth of a re-verify's CPU at 250,000
            // stations, off its critical path).
            let ahead = NewTally::new(&election);
            let base = base.map(|read| read.join().expect("reading the tally base does not panic"));
            let base_len = base.as_ref().and_then(|b| b.as_ref().ok()).map_or(0, |b| b.len);
            let stations = election.stations.len() as u64;
            let keep = named
                .filter(|(_, delta_len)| {
                    !outgrows(*delta_len, base_len as u64) && to.saturating_sub(size) <= stations
                })
                .map(|(named, _)| {
                    let mut keep = Vec::new();
                    for station in named.iter().filter_map(|id| election.station_index(id)) {
                        for r in ahead.station_records(station) {
                            if r >= keep.len() {
                                keep.resize(r + 1, false);
                            }
                            keep[r] = true;
                        }
                    }
                    keep
                });
            let (replay, delta) =
                load_tally(state_path, &resume.tally, delta, election, size, base, ahead, keep)?;
            let pieces = pieces?;
            let (registry, key_entries) =
                registry.join().expect("rebuilding the registry does not panic")?;
            Ok(Resumed {
                size,
                edge,
                progress: Progress {
                    replay: Some(replay),
                    registry: Some(registry),
                    key_entries,
                    definition: Some(resume.definition.clone()),
                    counts: resume.counts.clone(),
                    scans: resume.scans.clone(),
                    blobs: resume.blobs.iter().cloned().collect(),
                    snapshots: resume.snapshots.iter().copied().collect(),
                    pieces: pieces.filter(|p| p.size == size),
                    ahead: looking,
                    old_base: Some(delta.base.base.clone()),
                    delta: Some(delta),
                    election_cache,
                    old_election_cache: resume
                        .election
                        .as_ref()
                        .filter(|cache| cache_well_named(state_path, cache))
                        .map(|cache| cache.cache.clone()),
                },
            })
        })
    }
}

impl Progress {
    fn to_resume(
        &self,
        edge: &MemoryTiles,
        tally: TallyRef,
        election: ElectionRef,
    ) -> anyhow::Result<Resume<'_>> {
        let replay = self.replay.as_ref().context("the log is empty")?;
        let registry = self.registry.as_ref().context("the log is empty")?;
        let size = replay.size();
        let mut tiles = BTreeMap::new();
        for tile in partial_tiles(size) {
            let bytes = edge
                .read_tile(&tile)
                .map_err(|e| anyhow::anyhow!("the right edge of the tree: {e}"))?;
            tiles.insert(tile.path(), BASE64.encode(&bytes[..tile.byte_len()]));
        }
        let last_seq = LastSeqs::of_registry(registry);
        Ok(Resume {
            edge: tiles,
            definition: self.definition.clone().context("the log is empty")?,
            counts: self.counts.clone(),
            scans: self.scans.clone(),
            blobs: self.blobs.iter().cloned().collect(),
            snapshots: self.snapshots.iter().copied().collect(),
            key_entries: self.key_entries.iter().map(|e| BASE64.encode(e)).collect(),
            last_seq,
            tally,
            election: Some(election),
        })
    }
}

/// One entry as a worker thread leaves it: its leaf hash, and what the worker read of it.
struct Checked {
    leaf: Hash,
    read: EntryRead,
}

/// What a worker read of an entry, its signature checked under the signer's key as far as the
/// worker knew it.
enum EntryRead {
    /// A protocol in its canonical form, read in place ([`SignedView::parse`]: exactly the
    /// protocols `Submission::decode_signed` accepts), with the verdict of its signature under
    /// the key of these raw bytes (`None`: no key known for the signer yet). The main thread makes
    /// the view again of the entry's bytes, which it gets back with the bundle, from where its
    /// parts lie ([`SignedView::at`]: no second read).
    Protocol { spans: Box<ViewSpans>, signature: Option<([u8; 32], bool)> },
    /// Anything else, decoded typed (`Submission::decode_signed`; few: boxed).
    Typed(Box<Result<Candidate, String>>),
}

/// A bundle's entries back from the workers, in log order: its sequence number, the index of
/// its first entry, the entries and what the workers made of them.
type Done = (u64, u64, Entries, Vec<Checked>);

/// A bundle's entries for the workers (`first` is the index of the first one).
struct Job {
    seq: u64,
    first: u64,
    entries: Entries,
}

/// Entries of one bundle: the bundle's bytes as read, and where each entry lies in them (one
/// buffer a bundle, not one an entry).
struct Entries {
    bytes: Vec<u8>,
    /// Each entry's start and length in `bytes`.
    spans: Vec<(usize, usize)>,
}

impl Entries {
    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(start, len)| &self.bytes[start..start + len])
    }

    fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

/// The pass over the entries: the main thread reads the bundles and hands them to worker threads
/// (decoding, leaf hashes, Ed25519: every entry decoded once), then folds the decoded entries in
/// log order into the key registry and the replay, and recomputes the snapshots on the way.
struct Pass<'a> {
    reader: &'a FnReader,
    log_keys: &'a [Ed25519Verifier],
    /// The publication's directory (`None` for a URL).
    dir: Option<PathBuf>,
    /// The first entry this pass reads (0, or the size `--state` resumes from).
    from: u64,
    /// The right edge (partial tiles) of the tree of `flushed` leaves: nothing at 0.
    edge: MemoryTiles,
    /// How many leaves the tiles checked so far cover: `from`, then each [`Pass::flush`] on.
    flushed: u64,
    /// Leaves whose root is to be kept in `root_at_check` on the way (the checkpoint of an
    /// earlier state that cannot be resumed from, proved consistent from the leaves).
    check_root_at: Option<u64>,
    root_at_check: Option<Hash>,
    progress: Option<Progress>,
    /// Leaf hashes of the entries from `flushed` on, at most about [`Pass::TILE_BATCH`]: a
    /// million-entry log's leaves and tiles are not held (133 MB each at 4 million entries).
    leaves: Vec<Hash>,
    failure: Option<String>,
    snapshot_sizes: BTreeSet<u64>,
    snapshots_checked: Vec<u64>,
    tiles_checked: usize,
    /// The registry's public keys, for the workers' signature checks (taken again after each key
    /// registration; each key decompressed when a worker first needs it).
    keys: &'a RwLock<Option<PublicKeys>>,
    workers: usize,
    worker_busy: &'a AtomicU64,
    /// The size the pass reads up to (for [`Pass::defer_sums_if_worth_it`]).
    pass_end: u64,
    pass_time: Duration,
    reading: Duration,
    folding: Duration,
    snapshot_time: Duration,
}

impl<'a> Pass<'a> {
    fn new(
        args: &'a Args,
        reader: &'a FnReader,
        log_keys: &'a [Ed25519Verifier],
        resumed: Option<Resumed>,
        from: u64,
        keys: &'a RwLock<Option<PublicKeys>>,
        worker_busy: &'a AtomicU64,
    ) -> Pass<'a> {
        let (edge, progress) = match resumed {
            Some(r) => (r.edge, r.progress),
            None => (
                MemoryTiles::new(),
                Progress {
                    replay: None,
                    registry: None,
                    key_entries: Vec::new(),
                    definition: None,
                    counts: BTreeMap::new(),
                    scans: Vec::new(),
                    blobs: BTreeSet::new(),
                    snapshots: BTreeSet::new(),
                    pieces: None,
                    ahead: None,
                    delta: None,
                    old_base: None,
                    election_cache: None,
                    old_election_cache: None,
                },
            ),
        };
        if let Some(registry) = &progress.registry {
            *keys.write().expect("no worker panics") = Some(registry.public_keys());
        }
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 16);
        let dir = Path::new(&args.target).is_dir().then(|| PathBuf::from(&args.target));
        Pass {
            dir,
            reader,
            log_keys,
            from,
            edge,
            flushed: from,
            check_root_at: None,
            root_at_check: None,
            progress: Some(progress),
            leaves: Vec::new(),
            failure: None,
            snapshot_sizes: snapshot_sizes(args),
            snapshots_checked: Vec::new(),
            tiles_checked: 0,
            keys,
            workers,
            worker_busy,
            pass_end: from,
            pass_time: Duration::ZERO,
            reading: Duration::ZERO,
            folding: Duration::ZERO,
            snapshot_time: Duration::ZERO,
        }
    }

    /// Reads, checks and folds in the entries `from..size`, then checks every tile they make
    /// against the published one and the tree's head against the checkpoint's root. `Err` is a
    /// fault of the log itself; a fault of an entry is left in `failure` (the log's come first).
    fn run(
        &mut self,
        size: u64,
        checkpoint: &Checkpoint,
        bar: &ProgressBar,
    ) -> Result<(), PublicationError> {
        let started = Instant::now();
        self.pass_end = size;
        // A resumed replay (a full pass starts its replay at entry 0, below).
        self.defer_sums_if_worth_it(self.from);
        let bundles = new_entry_bundles(self.from, size);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(self.workers * 4);
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let outcome = std::thread::scope(|scope| {
            for _ in 0..self.workers {
                let (job_rx, done_tx) = (&job_rx, done_tx.clone());
                let (keys, busy) = (self.keys, self.worker_busy);
                scope.spawn(move || loop {
                    let job = job_rx.lock().expect("no worker panics").recv();
                    let Ok(job) = job else { return };
                    let working = Instant::now();
                    let checked = check_job(&job, keys);
                    busy.fetch_add(working.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    if done_tx.send((job.seq, job.first, job.entries, checked)).is_err() {
                        return;
                    }
                });
            }
            drop(done_tx);
            let mut pending: BTreeMap<u64, (u64, Entries, Vec<Checked>)> = BTreeMap::new();
            let (mut sent, mut folded) = (0u64, 0u64);
            let mut result = Ok(());
            for bundle in &bundles {
                let reading = Instant::now();
                let entries = match self.read_bundle(bundle) {
                    Ok(entries) => entries,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                };
                self.reading += reading.elapsed();
                if bundle.first_entry() == 0 && self.from == 0 {
                    if let Some(entry0) = entries.first() {
                        self.start(entry0);
                        self.defer_sums_if_worth_it(1);
                    }
                }
                let first = bundle.first_entry().max(self.from);
                let progress = self.progress.as_mut().expect("during the pass");
                if let Some(delta) = progress.delta.as_mut() {
                    entries.iter().for_each(|entry| delta.push(entry));
                    if delta.outgrown() {
                        progress.delta = None;
                    }
                }
                let job = Job { seq: sent, first, entries };
                sent += 1;
                if job_tx.send(job).is_err() {
                    break;
                }
                while let Ok((seq, first, entries, checked)) = done_rx.try_recv() {
                    pending.insert(seq, (first, entries, checked));
                }
                // At most a few bundles wait decoded: memory stays bounded.
                while sent - folded > (self.workers * 8) as u64 || pending.contains_key(&folded) {
                    if !pending.contains_key(&folded) {
                        let Ok((seq, first, entries, checked)) = done_rx.recv() else { break };
                        pending.insert(seq, (first, entries, checked));
                        continue;
                    }
                    let (first, entries, checked) = pending.remove(&folded).expect("present");
                    self.fold(first, &entries, checked);
                    folded += 1;
                    bar.set_position(self.flushed - self.from + self.leaves.len() as u64);
                }
                if self.leaves.len() >= Self::TILE_BATCH {
                    if let Err(error) = self.flush() {
                        result = Err(error);
                        break;
                    }
                }
            }
            drop(job_tx);
            while result.is_ok() && folded < sent {
                if let Some((first, entries, checked)) = pending.remove(&folded) {
                    self.fold(first, &entries, checked);
                    folded += 1;
                    bar.set_position(self.flushed - self.from + self.leaves.len() as u64);
                    if self.leaves.len() >= Self::TILE_BATCH {
                        if let Err(error) = self.flush() {
                            result = Err(error);
                            break;
                        }
                    }
                    continue;
                }
                let Ok((seq, first, entries, checked)) = done_rx.recv() else { break };
                pending.insert(seq, (first, entries, checked));
            }
            result
        });
        self.settle_sums();
        self.pass_time = started.elapsed();
        outcome?;
        let root = self.flush()?;
        // The right edge's partial tiles new since `from` (the full ones were compared as they
        // were completed): with those, every tile of `new_tiles(from, size)` once.
        let reading = Instant::now();
        for tile in partial_tiles(size) {
            if hashes_at_level(self.from, tile.level()) == hashes_at_level(size, tile.level()) {
                continue;
            }
            let expected = self.edge.read_tile(&tile).expect("the right edge of the tree is held");
            let path = tile.path();
            let published = read_required(self.reader, &path)?;
            sverka_tlog::publication::compare_tile(path, &published, &expected)?;
            self.tiles_checked += 1;
        }
        self.reading += reading.elapsed();
        if root != checkpoint.root() {
            return Err(PublicationError::RootMismatch {
                signed: checkpoint.root(),
                computed: root,
            });
        }
        Ok(())
    }

    /// Leaves held before [`Pass::flush`] checks the tiles they complete (2 MiB of hashes: 256
    /// full tiles of level 0, one of level 1).
    const TILE_BATCH: usize = 1 << 16;

    /// Appends the leaves held to the tree (of `flushed` leaves), compares every full tile they
    /// complete with the published one, and keeps of the tiles only the new right edge; returns
    /// the new tree's root. On the way, the root at `check_root_at` is kept.
    fn flush(&mut self) -> Result<Hash, PublicationError> {
        if let Some(at) = self.check_root_at {
            if at > self.flushed && at - self.flushed <= self.leaves.len() as u64 {
                self.root_at_check = Some(self.append((at - self.flushed) as usize)?);
            }
        }
        self.append(self.leaves.len())
    }

    /// [`Pass::flush`] of the first `n` leaves held.
    fn append(&mut self, n: usize) -> Result<Hash, PublicationError> {
        let reading = Instant::now();
        let (reader, checked) = (self.reader, &mut self.tiles_checked);
        let (edge, root) =
            append_checked(&self.edge, self.flushed, &self.leaves[..n], |tile, expected| {
                let path = tile.path();
                let published = read_required(reader, &path)?;
                *checked += 1;
                sverka_tlog::publication::compare_tile(path, &published, expected)
            })?;
        self.edge = edge;
        self.flushed += n as u64;
        self.leaves.drain(..n);
        self.reading += reading.elapsed();
        Ok(root)
    }

    /// Reads one entry bundle: its entries from `from` on. Entries before `from` (the first bundle
    /// of a resumed pass) must be the ones whose leaf hashes the right edge of the tree holds.
    fn read_bundle(&self, bundle: &EntryBundle) -> Result<Entries, PublicationError> {
        let path = bundle.path();
        let bytes = read_required(self.reader, &path)?;
        let entries = parse_bundle(&bytes)
            .map_err(|error| PublicationError::Bundle { path: path.clone(), error })?;
        if entries.len() != usize::from(bundle.width()) {
            return Err(PublicationError::BundleWidth {
                path,
                found: entries.len(),
                expected: usize::from(bundle.width()),
            });
        }
        let skip = self.from.saturating_sub(bundle.first_entry()) as usize;
        if skip > 0 {
            let tile = bundle.hash_tile();
            let seen = Tile::new(0, tile.index(), skip as u16)
                .ok()
                .and_then(|t| self.edge.read_tile(&t).ok())
                .unwrap_or_default();
            for (k, entry) in entries[..skip].iter().enumerate() {
                if seen.get(k * 32..k * 32 + 32) != Some(&leaf_hash(entry).0[..]) {
                    return Err(PublicationError::TileMismatch {
                        path: Tile::new(0, tile.index(), skip as u16)
                            .map_or_else(|_| tile.path(), |t| t.path()),
                        hash_index: k,
                    });
                }
            }
        }
        let at = |entry: &[u8]| (entry.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        let spans = entries[skip.min(entries.len())..].iter().map(|e| (at(e), e.len())).collect();
        Ok(Entries { bytes, spans })
    }

    /// Entry 0: the election definition, signed by the log key; starts the replay and the
    /// registry (before the workers check any signature, so they know the election's keys).
    fn start(&mut self, entry0: &[u8]) {
        if let Err(failure) = self.try_start(entry0) {
            self.failure.get_or_insert(failure);
        }
    }

    fn try_start(&mut self, bytes: &[u8]) -> Result<(), String> {
        let submission = Submission::decode(bytes).map_err(|e| format!("entry 0: {e}"))?;
        let signed = submission.payload.signer == "log"
            && self.log_keys.iter().any(|k| submission.verify(k.public_key()));
        if !signed {
            return Err(format!(
                "entry 0: the election definition is not signed by the log key (signer {:?})",
                submission.payload.signer
            ));
        }
        let Body::Election(committed) = &submission.payload.body else {
            return Err(format!("entry 0: {}", ReplayError::NoElection));
        };
        let path = format!("blob/{}", committed.definition_sha256);
        let definition = self
            .reader
            .read(&path)
            .map_err(|e| format!("{path}: cannot read: {e}"))?
            .ok_or_else(|| format!("{path}: missing (the election definition of entry 0)"))?;
        let replay =
            Replay::start_decoded(&submission, &definition).map_err(|e| format!("{path}: {e}"))?;
        let registry = KeyRegistry::new(replay.shared_election());
        *self.keys.write().expect("no worker panics") = Some(registry.public_keys());
        let progress = self.progress.as_mut().expect("during the pass");
        *progress.counts.entry(kind_of(&submission.payload.body).into()).or_default() += 1;
        progress.definition = Some(committed.definition_sha256.clone());
        progress.replay = Some(replay);
        progress.registry = Some(registry);
        Ok(())
    }

    /// Folds one bundle's checked entries in, in log order.
    fn fold(&mut self, first: u64, entries: &Entries, checked: Vec<Checked>) {
        for (k, (item, bytes)) in checked.into_iter().zip(entries.iter()).enumerate() {
            let index = first + k as u64;
            self.leaves.push(item.leaf);
            if self.failure.is_some() {
                continue;
            }
            if index > 0 {
                let folding = Instant::now();
                if let Err(failure) = self.fold_read(index, bytes, item.read) {
                    self.failure = Some(failure);
                    continue;
                }
                self.folding += folding.elapsed();
            }
            let size = index + 1;
            if self.snapshot_sizes.contains(&size) {
                let started = Instant::now();
                self.settle_sums();
                let root = append_leaves(&self.edge, self.flushed, &self.leaves)
                    .expect("the right edge of the tree is held")
                    .root();
                let progress = self.progress.as_mut().expect("during the pass");
                let replay = progress.replay.as_mut().expect("entry 0 started the replay");
                let (dir, pieces) = (self.dir.as_deref(), &mut progress.pieces);
                let (ahead, delta) = (&mut progress.ahead, progress.delta.as_mut());
                match compare_snapshot(self.reader, dir, replay, pieces, ahead, delta, size, root) {
                    Ok(()) => {
                        progress.snapshots.insert(size);
                        self.snapshots_checked.push(size);
                    }
                    Err(failure) => self.failure = Some(failure),
                }
                self.defer_sums_if_worth_it(size);
                self.snapshot_time += started.elapsed();
            }
        }
    }

    /// Stops the replay keeping its units' sums up to date ([`Replay::defer_sums`]) when the
    /// entries still to come from `size` on are many enough to make it pay: every protocol
    /// folded in with the sums kept costs two passes over its station's record, every settling
    /// (before each snapshot, and once at the end) one pass over every record (about two per
    /// station). A full verify defers, and a resume of more entries than about twice the
    /// stations (`verify_resume`'s `a_delta_past_two_mebibytes_makes_a_new_base`); a re-verify
    /// of a few thousand entries does not.
    fn defer_sums_if_worth_it(&mut self, size: u64) {
        let Some(replay) = self.progress.as_mut().and_then(|p| p.replay.as_mut()) else {
            return;
        };
        let (end, snapshots) = (self.pass_end, self.snapshot_sizes.range(size + 1..).count());
        let settlings = u64::try_from(snapshots).unwrap_or(u64::MAX).saturating_add(1);
        let stations = u64::try_from(replay.election().stations.len()).unwrap_or(u64::MAX);
        if end.saturating_sub(size) > stations.saturating_mul(settlings) {
            replay.defer_sums();
        }
    }

    /// [`Replay::settle_sums`], if they were deferred.
    fn settle_sums(&mut self) {
        if let Some(replay) = self.progress.as_mut().and_then(|p| p.replay.as_mut()) {
            replay.settle_sums();
        }
    }

    /// Folds in one entry as the worker read it. A protocol read in place that the registry
    /// refuses is decoded typed and folded in as before, so that the refusal is named exactly as
    /// that path names it (the view only ever takes the path of an entry that passes).
    fn fold_read(&mut self, index: u64, bytes: &[u8], read: EntryRead) -> Result<(), String> {
        let signature = match read {
            EntryRead::Typed(candidate) => return self.fold_entry(index, *candidate),
            EntryRead::Protocol { spans, signature } => (spans, signature),
        };
        let (spans, signature) = signature;
        let view = SignedView::at(bytes, &spans).expect("the bytes the worker read");
        match self.fold_view(index, &view, signature) {
            Some(folded) => folded,
            None => {
                let key = self.keys.read().expect("no worker panics").clone();
                let key = key.and_then(|keys| keys.verifying_key(view.protocol.signer));
                let decoded = Submission::decode_signed(bytes).map_err(|e| e.to_string());
                let candidate =
                    decoded.map(|decoded| Candidate::from_decoded(decoded, key.as_ref()));
                self.fold_entry(index, candidate)
            }
        }
    }

    /// [`Pass::fold_entry`] of a protocol read as a [`SignedView`]: the same checks, changes and
    /// counts; `None` (and nothing changed) when the registry refuses it or there is no registry.
    fn fold_view(
        &mut self,
        index: u64,
        view: &SignedView<'_>,
        signature: Option<([u8; 32], bool)>,
    ) -> Option<Result<(), String>> {
        let progress = self.progress.as_mut().expect("during the pass");
        let (Some(registry), Some(replay)) = (progress.registry.as_mut(), progress.replay.as_mut())
        else {
            return None;
        };
        registry.check_signed_view(view, signature).ok()?;
        registry.apply_signed_view(view);
        if let Some(scan) = view.protocol.scan_sha256 {
            progress.scans.push((index, scan.to_owned()));
        }
        match progress.counts.get_mut("protocols") {
            Some(count) => *count += 1,
            None => {
                progress.counts.insert("protocols".into(), 1);
            }
        }
        Some(replay.apply_view(index, &view.protocol).map_err(|e| e.to_string()))
    }

    /// The signer checks (the store's admission rules E101 to E111: registered, unrevoked key for
    /// the role, a signature that verifies, increasing sequence numbers), then the replay.
    fn fold_entry(
        &mut self,
        index: u64,
        candidate: Result<Candidate, String>,
    ) -> Result<(), String> {
        let candidate = candidate.map_err(|e| format!("entry {index}: {e}"))?;
        let progress = self.progress.as_mut().expect("during the pass");
        let (Some(registry), Some(replay)) = (progress.registry.as_mut(), progress.replay.as_mut())
        else {
            return Err(format!("entry {index}: no election definition before it"));
        };
        registry.check_candidate(&candidate).map_err(|finding| {
            format!("entry {index}: the log holds a submission its own rules refuse: {finding}")
        })?;
        let submission = candidate.submission();
        registry.apply(submission);
        match &submission.payload.body {
            Body::Protocol(protocol) => {
                if let Some(scan) = &protocol.scan_sha256 {
                    progress.scans.push((index, scan.clone()));
                }
            }
            Body::KeyRegistration(_) => {
                *self.keys.write().expect("no worker panics") = Some(registry.public_keys());
                progress.key_entries.push(submission.to_bytes());
            }
            Body::KeyRevocation(_) | Body::Audit(_) => {
                progress.key_entries.push(submission.to_bytes())
            }
            _ => {}
        }
        *progress.counts.entry(kind_of(&submission.payload.body).into()).or_default() += 1;
        replay.apply_decoded(index, submission).map_err(|e| e.to_string())
    }
}

/// Appends `leaves` to the tree of `size` leaves whose right edge (its partial tiles) `edge`
/// holds, hands every full tile they complete to `compare` with its bytes, and returns the right
/// edge of the new tree and its root. The partial tiles on the way are not compared (the
/// publication has only those of its checkpoint's size).
fn append_checked<E>(
    edge: &MemoryTiles,
    size: u64,
    leaves: &[Hash],
    mut compare: impl FnMut(&Tile, &[u8]) -> Result<(), E>,
) -> Result<(MemoryTiles, Hash), E> {
    let outcome = append_leaves(edge, size, leaves).expect("the right edge of the tree is held");
    for (tile, expected) in outcome.tiles().iter().filter(|(tile, _)| tile.is_full()) {
        compare(tile, expected)?;
    }
    let (size, root) = (outcome.size(), outcome.root());
    let mut new = outcome.into_tiles();
    new.retain(|(tile, _)| !tile.is_full());
    let mut next = MemoryTiles::new();
    for tile in partial_tiles(size) {
        let bytes = match new.iter().position(|(t, _)| *t == tile) {
            Some(i) => new.swap_remove(i).1,
            // Not changed by these leaves: the old edge holds it.
            None => edge.read_tile(&tile).expect("the right edge of the tree is held"),
        };
        next.insert_all([(tile, bytes)]);
    }
    Ok((next, root))
}

/// A worker's part of one bundle: leaf hashes, reading, signatures. Protocols in their canonical
/// form (nearly every entry) are read in place ([`SignedView::parse`]), anything else decoded
/// typed; then the signatures of the whole job checked together (one field inversion for all of
/// them; each its own verdict).
fn check_job(job: &Job, keys: &RwLock<Option<PublicKeys>>) -> Vec<Checked> {
    let keys = keys.read().expect("no worker panics").clone();
    let key_of = |signer: &str| keys.as_ref().and_then(|keys| keys.verifying_key(signer));
    // Per entry: the view's key and signed message, or the entry's typed decoding.
    let mut views = Vec::with_capacity(job.entries.len());
    let mut typed = Vec::new();
    for bytes in job.entries.iter() {
        match SignedView::parse(bytes) {
            Some(view) => {
                let key = key_of(view.protocol.signer);
                let spans = Box::new(view.spans(bytes));
                views.push(Some((key, view.signing_message(), view.signature, spans)));
            }
            None => {
                views.push(None);
                typed.push(Submission::decode_signed(bytes).map_err(|e| e.to_string()).map(
                    |decoded| {
                        let key = key_of(&decoded.submission().payload.signer);
                        (decoded, key)
                    },
                ));
            }
        }
    }
    let checkable: Vec<(&_, &[u8], &[u8; 64])> = views
        .iter()
        .flatten()
        .filter_map(|(key, message, signature, _)| {
            Some((key.as_ref()?, message.as_slice(), signature))
        })
        .collect();
    let mut verdicts = sverka_model::keys::verify_each(&checkable).into_iter();
    let mut typed = Candidate::from_decoded_each(typed).into_iter();
    views
        .into_iter()
        .zip(job.entries.iter())
        .map(|(view, bytes)| {
            let read = match view {
                Some((key, _, _, spans)) => EntryRead::Protocol {
                    spans,
                    signature: key.map(|key| {
                        (key.to_bytes(), verdicts.next().expect("one verdict per keyed view"))
                    }),
                },
                None => {
                    EntryRead::Typed(Box::new(typed.next().expect("one candidate per typed entry")))
                }
            };
            Checked { leaf: leaf_hash(bytes), read }
        })
        .collect()
}

/// The snapshot sizes to recompute: every `snapshot/<N>.json` of a directory publication (a URL
/// cannot be listed, so there only the checkpoint's own snapshot is checked).
fn snapshot_sizes(args: &Args) -> BTreeSet<u64> {
    snapshot_sizes_in(Path::new(&args.target))
}

/// The sizes of the snapshots published under `dir` (`snapshot/<N>.json`).
fn snapshot_sizes_in(dir: &Path) -> BTreeSet<u64> {
    let Ok(listing) = std::fs::read_dir(dir.join("snapshot")) else {
        return Default::default();
    };
    listing
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .collect()
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

/// Checks every blob against its name: each scan a protocol names (missing scans are counted, not
/// failed: a scan may be published later) and, for a directory, every file under `blob/`. Blobs
/// hashed by an earlier run (`--state`) are not read again: a blob's name is its hash.
fn check_blobs(args: &Args, reader: &FnReader, progress: &mut Progress) -> anyhow::Result<String> {
    let check = |path: &str, sha256: &str, bytes: &[u8], whose: &str| -> anyhow::Result<()> {
        let actual = sha256_hex(bytes);
        if actual != sha256 {
            bail!("{path}: its content hashes to {actual}, not to its name{whose}: the file was swapped");
        }
        Ok(())
    };
    let mut unpublished = 0;
    for (index, sha256) in &progress.scans {
        if progress.blobs.contains(sha256) {
            continue;
        }
        let path = format!("blob/{sha256}");
        match reader.read(&path).map_err(|e| anyhow::anyhow!("{path}: cannot read: {e}"))? {
            Some(bytes) => {
                check(&path, sha256, &bytes, &format!(" (the scan entry {index} names)"))?;
                progress.blobs.insert(sha256.clone());
            }
            None => unpublished += 1,
        }
    }
    let mut files = 0;
    if let Ok(listing) = std::fs::read_dir(Path::new(&args.target).join("blob")) {
        for entry in listing.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            files += 1;
            if progress.blobs.contains(&name) {
                continue;
            }
            let path = format!("blob/{name}");
            let bytes =
                std::fs::read(entry.path()).with_context(|| format!("{path}: cannot read"))?;
            check(&path, &name, &bytes, "")?;
            progress.blobs.insert(name);
        }
    }
    Ok(format!(
        "blobs: {files} file(s) under blob/ hash to their names; {} scan(s) named by protocols, {unpublished} not published",
        progress.scans.len()
    ))
}

/// Each station's part of a snapshot (per contest, in the order of its `stations` list): the
/// length of its bytes and their SHA-256 (as RFC 6962 hashes a leaf: of a 0 byte and the bytes).
/// A station that no entry since names has the same bytes in the next snapshot, so that one is
/// checked against these without recomputing it. Kept as the bytes the state holds
/// ([`Pieces::bytes`]), read where they lie rather than copied out per station.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pieces {
    /// The size of the snapshot they are the parts of.
    size: u64,
    /// The size (`u64`), the number of contests (`u64`), then per contest the number of its
    /// stations (`u64`) and per station its length (`u32`) and hash, little-endian. Shared with
    /// the [`Ahead`] thread while it looks for the stations in the next snapshot (a clone of
    /// the pieces copies none of it).
    bytes: Arc<Vec<u8>>,
    /// Per contest, where its first station's length is in `bytes` and how many it has.
    contests: Vec<(usize, usize)>,
}

impl Pieces {
    /// The length and hash of station `station` of contest `contest`.
    fn get(&self, contest: usize, station: usize) -> Option<(u32, [u8; 32])> {
        let &(at, n) = self.contests.get(contest)?;
        if station >= n {
            return None;
        }
        let one = &self.bytes[at + 36 * station..at + 36 * station + 36];
        let len = u32::from_le_bytes(one[..4].try_into().expect("4 bytes"));
        Some((len, one[4..].try_into().expect("32 bytes")))
    }

    /// The pieces of `bytes` ([`Pieces::bytes`]); `None` for empty bytes (none kept).
    fn from_bytes(bytes: Vec<u8>) -> anyhow::Result<Option<Pieces>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut at = 0usize;
        let mut take = |n: usize| -> anyhow::Result<usize> {
            anyhow::ensure!(bytes.len() - at >= n, "cut short");
            at += n;
            Ok(at - n)
        };
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let size = u64_at(take(8)?);
        let n_contests = u64_at(take(8)?);
        let mut contests = Vec::new();
        for _ in 0..n_contests {
            let n = usize::try_from(u64_at(take(8)?))?;
            let first = take(n.checked_mul(36).context("too many stations")?)?;
            contests.push((first, n));
        }
        anyhow::ensure!(at == bytes.len(), "{} bytes too many", bytes.len() - at);
        Ok(Some(Pieces { size, bytes: Arc::new(bytes), contests }))
    }
}

/// The [`Pieces`] of a snapshot being compared, written in [`Pieces::bytes`]' layout as the
/// stations come (contest by contest, each in order). Given the previous snapshot's pieces (read
/// by [`PiecesBuilder::previous`]), it writes each new piece over the previous one of the same
/// station, once that was read, while the two layouts agree (the usual case: every contest lists
/// the same stations as before), so a re-verify does not hold both at its peak (18 MB each at
/// 250,000 stations); from the first contest or station that lies elsewhere on, the new pieces
/// go into a buffer of their own. The bytes written are the same either way.
struct PiecesBuilder {
    size: u64,
    /// Per contest of the new pieces, where its first station is and how many it has.
    contests: Vec<(usize, usize)>,
    /// The previous snapshot's pieces. While `in_place`, its bytes before `len` are the new
    /// pieces' (each written where the previous pieces had the same station or contest, after
    /// it was read; what is read next always lies further on).
    previous: Option<Pieces>,
    in_place: bool,
    /// The new pieces' bytes, once not written in place.
    bytes: Vec<u8>,
    /// How many bytes of the new pieces are written.
    len: usize,
}

impl PiecesBuilder {
    /// The pieces of the snapshot of `size` entries, over the `previous` snapshot's if any.
    fn new(size: u64, previous: Option<Pieces>) -> PiecesBuilder {
        let in_place = previous.as_ref().is_some_and(|p| p.bytes.len() >= 16);
        let mut builder = PiecesBuilder {
            size,
            contests: Vec::new(),
            previous,
            in_place,
            bytes: Vec::new(),
            len: 0,
        };
        builder.write(Some(0), &size.to_le_bytes());
        builder.write(Some(8), &0u64.to_le_bytes());
        builder
    }

    /// The length and hash of station `station` of contest `contest` in the previous
    /// snapshot's pieces (to be read before that station is pushed).
    fn previous(&self, contest: usize, station: usize) -> Option<(u32, [u8; 32])> {
        self.previous.as_ref()?.get(contest, station)
    }

    /// Writes `bytes` next: over the previous pieces if `at`, where they held the same item, is
    /// where the new pieces have come to; else (from now on) into their own buffer.
    fn write(&mut self, at: Option<usize>, bytes: &[u8]) {
        if self.in_place && at != Some(self.len) {
            let previous = self.previous.as_ref().expect("in place over previous pieces");
            let mut own = Vec::with_capacity(previous.bytes.len().max(self.len + bytes.len()));
            own.extend_from_slice(&previous.bytes[..self.len]);
            (self.bytes, self.in_place) = (own, false);
        }
        let previous = self.previous.as_mut().filter(|_| self.in_place);
        // The [`Ahead`] thread is done with them before a snapshot is compared; were it not,
        // the new pieces would go into their own buffer from here on.
        match previous.map(|p| Arc::get_mut(&mut p.bytes)) {
            Some(Some(previous)) => {
                previous[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            }
            Some(None) => {
                self.in_place = false;
                let previous = self.previous.as_ref().expect("in place over previous pieces");
                let mut own = Vec::with_capacity(previous.bytes.len());
                own.extend_from_slice(&previous.bytes[..self.len]);
                own.extend_from_slice(bytes);
                self.bytes = own;
            }
            None => self.bytes.extend_from_slice(bytes),
        }
        self.len += bytes.len();
    }

    /// Adds station `station` of contest `contest`: `false` unless it is the next one (the
    /// next of its contest, or the first of a later contest).
    fn push(&mut self, contest: usize, station: usize, len: u32, hash: &[u8; 32]) -> bool {
        let before = |this: &PiecesBuilder, k: usize| {
            this.previous.as_ref().and_then(|p| p.contests.get(k)).copied()
        };
        while self.contests.len() <= contest {
            let at = before(self, self.contests.len()).map(|(first, _)| first - 8);
            self.write(at, &0u64.to_le_bytes());
            self.contests.push((self.len, 0));
        }
        let last = self.contests.len() - 1;
        if contest != last || station != self.contests[last].1 {
            return false;
        }
        let at = before(self, contest).filter(|&(_, n)| station < n);
        let mut item = [0u8; 36];
        item[..4].copy_from_slice(&len.to_le_bytes());
        item[4..].copy_from_slice(hash);
        self.write(at.map(|(first, _)| first + 36 * station), &item);
        self.contests[last].1 += 1;
        true
    }

    /// The pieces, with the counts written in.
    fn finish(mut self) -> Pieces {
        let mut bytes = match self.in_place {
            true => {
                let shared = self.previous.take().expect("in place over previous pieces").bytes;
                Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.as_ref().clone())
            }
            false => std::mem::take(&mut self.bytes),
        };
        bytes.truncate(self.len);
        let n_contests = self.contests.len() as u64;
        bytes[8..16].copy_from_slice(&n_contests.to_le_bytes());
        for &(at, n) in &self.contests {
            bytes[at - 8..at].copy_from_slice(&(n as u64).to_le_bytes());
        }
        Pieces { size: self.size, bytes: Arc::new(bytes), contests: self.contests }
    }
}

/// A published file read a few megabytes at a time, each piece compared or hashed where it lies
/// in the buffer (not copied out first).
struct Chunked {
    source: Box<dyn Read>,
    /// Shared with the [`Hashers`] while they hash pieces of it.
    buffer: Arc<[u8]>,
    /// Earlier buffers, taken again once the hashers are done with them.
    spare: Vec<Arc<[u8]>>,
    start: usize,
    end: usize,
    /// A read failed: the file is not what was expected.
    failed: bool,
}

/// How much of the file [`Chunked`] reads at a time. The buffers the [`Hashers`] still hold
/// are kept alive while the new snapshot is compared, when a resume's memory peaks: small
/// buffers and small batches keep that a few megabytes (by the channels' bounds, up to eleven
/// batches are in flight: with 4 MiB buffers and 512 pieces a batch, about 7 MB of a 250,000-
/// station snapshot's pieces across four or five buffers).
const CHUNK: usize = 1 << 20;

impl Chunked {
    fn new(source: Box<dyn Read>) -> Chunked {
        Chunked {
            source,
            buffer: vec![0; CHUNK].into(),
            spare: Vec::new(),
            start: 0,
            end: 0,
            failed: false,
        }
    }

    /// Makes at least one byte available: `false` at the end of the file or on a read error.
    fn fill(&mut self) -> bool {
        if self.start < self.end {
            return true;
        }
        (self.start, self.end) = (0, 0);
        if Arc::get_mut(&mut self.buffer).is_none() {
            // The hashers still hold it: read into a buffer they are done with, or a new one.
            let free = self.spare.iter().position(|b| Arc::strong_count(b) == 1);
            let next = match free {
                Some(i) => self.spare.swap_remove(i),
                None => vec![0; CHUNK].into(),
            };
            let busy = std::mem::replace(&mut self.buffer, next);
            if self.spare.len() < 8 {
                self.spare.push(busy);
            }
        }
        let buffer = Arc::get_mut(&mut self.buffer).expect("a buffer nobody else holds");
        loop {
            match self.source.read(buffer) {
                Ok(n) => {
                    self.end = n;
                    return n > 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.failed = true;
                    return false;
                }
            }
        }
    }

    /// Consumes the next `len` bytes, handing them to `each` in stretches, in order, while it
    /// returns `true`: `false` if the file ends first or `each` stops.
    fn take(&mut self, mut len: usize, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        while len > 0 {
            if !self.fill() {
                return false;
            }
            let n = len.min(self.end - self.start);
            let going = each(&self.buffer[self.start..self.start + n]);
            (self.start, len) = (self.start + n, len - n);
            if !going {
                return false;
            }
        }
        true
    }

    /// Whether the next bytes are `expected` (consumed either way).
    fn equal(&mut self, expected: &[u8]) -> bool {
        let mut at = 0;
        self.take(expected.len(), &mut |part| {
            let same = part == &expected[at..at + part.len()];
            at += part.len();
            same
        })
    }

    /// The RFC 6962 leaf hash of the next `len` bytes; `None` if the file ends first.
    fn leaf_hash(&mut self, len: usize) -> Option<[u8; 32]> {
        let mut hasher = Sha256::new();
        hasher.update([0u8]);
        self.take(len, &mut |part| {
            hasher.update(part);
            true
        })
        .then(|| hasher.finalize().into())
    }

    /// Whether the next `len` bytes have the RFC 6962 leaf hash `expected`: checked by `hashers`
    /// on another thread when they lie in the buffer (the answer comes with [`Hashers::finish`]),
    /// here otherwise. `false` if the file ends first or they are found to differ here.
    fn leaf_hash_is(
        &mut self,
        len: usize,
        expected: [u8; 32],
        hashers: &mut Hashers<'_, '_>,
    ) -> bool {
        if self.fill() && self.end - self.start >= len {
            hashers.check(self.buffer.clone(), self.start, len, expected);
            self.start += len;
            return true;
        }
        self.leaf_hash(len) == Some(expected)
    }

    /// Whether every byte has been consumed.
    fn at_end(&mut self) -> bool {
        !self.fill() && !self.failed
    }
}

/// One piece of a published file whose leaf hash must be `expected`.
struct HashJob {
    bytes: Arc<[u8]>,
    start: usize,
    len: usize,
    expected: [u8; 32],
}

/// Threads that check the leaf hashes of the pieces [`Chunked::leaf_hash_is`] hands them, in
/// batches, while the main thread reads on: a re-verify's new snapshot is mostly stations no new
/// entry names, whose hashes are the bulk of its work.
struct Hashers<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    /// How many threads to start, when the first batch is sent (none in a verify that
    /// recomputes every station).
    count: usize,
    /// Bounded: the main thread waits when the hashers fall behind, so the buffers they hold
    /// stay a few reads' worth instead of growing towards the whole file.
    senders: Vec<mpsc::SyncSender<Vec<HashJob>>>,
    threads: Vec<std::thread::ScopedJoinHandle<'scope, ()>>,
    next: usize,
    batch: Vec<HashJob>,
    /// Set by a hasher that found a piece whose hash differs.
    differs: Arc<AtomicBool>,
}

impl<'scope, 'env> Hashers<'scope, 'env> {
    /// Pieces a hasher is sent at a time (about 170 KB of a snapshot's stations at 250,000).
    const BATCH: usize = 128;

    /// `count` hashers in `scope`, started when they are first given a batch.
    fn start(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        count: usize,
    ) -> Hashers<'scope, 'env> {
        Hashers {
            scope,
            count: count.max(1),
            senders: Vec::new(),
            threads: Vec::new(),
            next: 0,
            batch: Vec::new(),
            differs: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts the threads (once).
    fn spawn(&mut self) {
        if !self.threads.is_empty() {
            return;
        }
        for _ in 0..self.count {
            let (sender, receiver) = mpsc::sync_channel::<Vec<HashJob>>(4);
            let differs = self.differs.clone();
            self.threads.push(self.scope.spawn(move || {
                for batch in receiver {
                    for job in batch {
                        let piece = &job.bytes[job.start..job.start + job.len];
                        if leaf_hash(piece).0 != job.expected {
                            differs.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }));
            self.senders.push(sender);
        }
    }

    fn check(&mut self, bytes: Arc<[u8]>, start: usize, len: usize, expected: [u8; 32]) {
        self.batch.push(HashJob { bytes, start, len, expected });
        if self.batch.len() >= Self::BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        self.spawn();
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(Self::BATCH));
        let sender = &self.senders[self.next % self.senders.len()];
        self.next += 1;
        // A hasher only stops when its sender is dropped.
        sender.send(batch).expect("a hasher is running");
    }

    /// Waits for every piece handed over: `true` if each had its expected hash.
    fn finish(mut self) -> bool {
        if !self.batch.is_empty() {
            self.send();
        }
        // Without their senders the hashers end once they have hashed what they were sent.
        self.senders.clear();
        let all_ran = self.threads.drain(..).all(|thread| thread.join().is_ok());
        all_ran && !self.differs.load(Ordering::Relaxed)
    }
}

/// What a [`StretchReaders`] thread checks of the bytes of its stretch of the file, in order.
enum Check {
    /// The next `len` bytes are the stretch's next `len` expected bytes.
    Equal(usize),
    /// The next `len` bytes have this RFC 6962 leaf hash.
    Hash(usize, [u8; 32]),
}

/// Consecutive pieces of a published file, from `start` on: what each must be.
#[derive(Default)]
struct Stretch {
    start: u64,
    /// How many bytes the checks cover.
    len: usize,
    checks: Vec<Check>,
    /// The bytes the [`Check::Equal`]s expect, one after another.
    expected: Vec<u8>,
}

/// Threads that read a published file stretch by stretch and check each piece of it, as
/// [`StretchReaders::equal`] and [`StretchReaders::hash`] describe them in file order: the
/// thread that describes them reads none of it. Every byte of the file is read once, by one
/// reader, into that reader's own buffer (a stretch is a few hundred kilobytes: the buffer stays
/// in the processor's cache while its pieces are hashed or compared).
struct StretchReaders<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    file: Arc<std::fs::File>,
    count: usize,
    /// Bounded: the describing thread waits when the readers fall behind.
    senders: Vec<mpsc::SyncSender<Stretch>>,
    threads: Vec<std::thread::ScopedJoinHandle<'scope, ()>>,
    next: usize,
    stretch: Stretch,
    /// Where the next piece starts in the file.
    at: u64,
    /// Set by a reader that found a piece other than described (or the file cut short).
    differs: Arc<AtomicBool>,
}

impl<'scope, 'env> StretchReaders<'scope, 'env> {
    /// A stretch is sent once it covers this many bytes (about 190 stations of a 250,000-station
    /// snapshot).
    const STRETCH: usize = 256 << 10;

    /// `count` readers of `file` in `scope`, started when they are first sent a stretch.
    fn start(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        file: Arc<std::fs::File>,
        count: usize,
    ) -> StretchReaders<'scope, 'env> {
        StretchReaders {
            scope,
            file,
            count: count.max(1),
            senders: Vec::new(),
            threads: Vec::new(),
            next: 0,
            stretch: Stretch::default(),
            at: 0,
            differs: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The next bytes of the file must be `bytes`: `false` if a reader has already found a
    /// difference (the answer comes with [`StretchReaders::finish`]).
    fn equal(&mut self, bytes: &[u8]) -> bool {
        self.stretch.expected.extend_from_slice(bytes);
        self.add(Check::Equal(bytes.len()), bytes.len())
    }

    /// The next `len` bytes of the file must have the RFC 6962 leaf hash `expected`.
    fn hash(&mut self, len: usize, expected: [u8; 32]) -> bool {
        self.add(Check::Hash(len, expected), len)
    }

    /// The next `len` bytes of the file were found by the [`Ahead`] thread to be the piece they
    /// must be (its pinned length and hash): not read again. What was described before them
    /// is sent as a stretch of its own; the next stretch starts after them.
    fn covered(&mut self, len: usize) -> bool {
        if !self.stretch.checks.is_empty() {
            self.send();
        }
        self.at += len as u64;
        self.stretch.start = self.at;
        !self.differs.load(Ordering::Relaxed)
    }

    fn add(&mut self, check: Check, len: usize) -> bool {
        self.stretch.checks.push(check);
        self.stretch.len += len;
        self.at += len as u64;
        if self.stretch.len >= Self::STRETCH {
            self.send();
        }
        !self.differs.load(Ordering::Relaxed)
    }

    fn send(&mut self) {
        if self.threads.is_empty() {
            for _ in 0..self.count {
                let (sender, receiver) = mpsc::sync_channel::<Stretch>(4);
                let (file, differs) = (self.file.clone(), self.differs.clone());
                self.threads.push(self.scope.spawn(move || {
                    let mut buffer = Vec::new();
                    for stretch in receiver {
                        if !differs.load(Ordering::Relaxed) && !stretch.holds(&file, &mut buffer) {
                            differs.store(true, Ordering::Relaxed);
                        }
                    }
                }));
                self.senders.push(sender);
            }
        }
        let start = self.at - self.stretch.len as u64;
        let stretch = std::mem::replace(
            &mut self.stretch,
            Stretch { start: self.at, checks: Vec::with_capacity(512), ..Stretch::default() },
        );
        debug_assert_eq!(stretch.start, start);
        let sender = &self.senders[self.next % self.senders.len()];
        self.next += 1;
        // A reader only stops when its sender is dropped.
        sender.send(stretch).expect("a reader is running");
    }

    /// Waits for every stretch: `true` if every piece was as described and the file ends
    /// where the last one does.
    fn finish(mut self) -> bool {
        if !self.stretch.checks.is_empty() {
            self.send();
        }
        self.senders.clear();
        let all_ran = self.threads.drain(..).all(|thread| thread.join().is_ok());
        let mut beyond = [0u8; 1];
        let ends = matches!(read_at(&self.file, &mut beyond, self.at), Ok(0));
        all_ran && ends && !self.differs.load(Ordering::Relaxed)
    }
}

impl Stretch {
    /// Reads the stretch from `file` into `buffer` and checks each piece.
    fn holds(&self, file: &std::fs::File, buffer: &mut Vec<u8>) -> bool {
        if buffer.len() < self.len {
            buffer.resize(self.len, 0);
        }
        let bytes = &mut buffer[..self.len];
        let mut filled = 0;
        while filled < bytes.len() {
            match read_at(file, &mut bytes[filled..], self.start + filled as u64) {
                Ok(0) => return false,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        let (mut at, mut from) = (0, 0);
        for check in &self.checks {
            match *check {
                Check::Equal(len) => {
                    if bytes[at..at + len] != self.expected[from..from + len] {
                        return false;
                    }
                    from += len;
                    at += len;
                }
                Check::Hash(len, expected) => {
                    if leaf_hash(&bytes[at..at + len]).0 != expected {
                        return false;
                    }
                    at += len;
                }
            }
        }
        true
    }
}

/// Reads from `file` at `offset` (not moving a shared position): how many bytes were read.
#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// The next snapshot's unchanged stations, looked for and hashed on a thread of their own while
/// the resume and the pass run, before the snapshot is recomputed: a re-verify's cores are not
/// both busy all that time, and these hashes are most of the comparison's work (650 MB at
/// 250,000 stations). Where a station lies in the new file is known for sure only as the
/// recomputed snapshot is written, so this thread guesses: a station's object is the first
/// `{"abroad":` (its first member, keys being in canonical order) at or after the end of the
/// station before it, and it is taken to be there only if the bytes there have the length and
/// hash the pieces pin. [`compare_snapshot`] then skips exactly the stations it finds at the
/// place where it found them ([`Found::holds`]); every other byte is read and checked as before.
/// A guess that fails costs a hash, never a check: the bytes are checked there.
struct Ahead {
    /// The snapshot it looks in.
    size: u64,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Found>>,
}

/// What an [`Ahead`] thread found, with the file it read (the comparison reads that same file,
/// not the path opened again).
struct Found {
    size: u64,
    file: Arc<std::fs::File>,
    /// Per station of the pieces, contest by contest, where in the file its bytes were found
    /// with the length and hash the pieces give it (`u64::MAX`: not found).
    at: Vec<u64>,
    /// Per station found, the file's byte after it (the `,` between two stations, mostly).
    next: Vec<u8>,
    /// Per contest of the pieces, the index in `at` of its first station and how many it has.
    contests: Vec<(usize, usize)>,
}

impl Found {
    /// If station `station` of contest `contest` was found at `at` in the file with the length
    /// and hash of that station in the pieces, the file's byte after it; else `None`.
    fn holds(&self, contest: usize, station: usize, at: u64) -> Option<u8> {
        let &(first, n) = self.contests.get(contest)?;
        let found = station < n && at != u64::MAX && self.at[first + station] == at;
        found.then(|| self.next[first + station])
    }
}

impl Ahead {
    /// How a station's object starts in a snapshot (`snapshot::view`'s members in order).
    const MARKER: &'static [u8] = b"{\"abroad\":";

    /// Starts looking in the first snapshot after `seen` entries, up to `to`, found in `dir`
    /// (the one a resume compares with `pieces`); `None` if there is none.
    fn start(dir: &Path, seen: u64, to: u64, pieces: Pieces) -> Option<Ahead> {
        if seen >= to {
            return None;
        }
        let size = *snapshot_sizes_in(dir).range(seen + 1..=to).next()?;
        let file = std::fs::File::open(dir.join(format!("snapshot/{size}.json"))).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ahead".to_string())
            .spawn(move || look_ahead(size, Arc::new(file), &pieces, &stopped))
            .ok()?;
        Some(Ahead { size, stop, thread: Some(thread) })
    }

    /// Stops the thread and takes what it found so far (`None` for another snapshot than
    /// `size`).
    fn finish(mut self, size: u64) -> Option<Found> {
        self.stop.store(true, Ordering::Relaxed);
        let found = self.thread.take()?.join().ok()?;
        (found.size == size && self.size == size).then_some(found)
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The [`Ahead`] thread: walks `file` and `pieces` together, as [`Ahead`] describes, until told
/// to stop, the pieces run out, or too many guesses fail (pieces of another layout).
fn look_ahead(size: u64, file: Arc<std::fs::File>, pieces: &Pieces, stop: &AtomicBool) -> Found {
    let mut contests = Vec::with_capacity(pieces.contests.len());
    let mut total = 0;
    for &(_, n) in &pieces.contests {
        contests.push((total, n));
        total += n;
    }
    let (at, next) = (vec![u64::MAX; total], vec![0; total]);
    let mut found = Found { size, file, at, next, contests };
    let mut window = Window::new(&found.file, Window::STEP);
    let (mut from, mut tried, mut missed) = (0u64, 0usize, 0usize);
    'all: for (contest, &(first, n)) in found.contests.iter().enumerate() {
        for station in 0..n {
            if stop.load(Ordering::Relaxed) || missed > 64 + tried / 8 {
                break 'all;
            }
            let Some((len, hash)) = pieces.get(contest, station) else { break 'all };
            let len = len as usize;
            // Tried at the next marker, and if it is not there, at the one after (the first
            // may start no station at all); if not there either, the station's bytes changed,
            // and the next station is looked for from that second marker on.
            let mut markers = 0;
            let placed = loop {
                let Some(start) = window.find(from, Ahead::MARKER) else { break 'all };
                // The station and the byte after it (a snapshot never ends with a station).
                let bytes = window.from(start, len + 1);
                if bytes.len() <= len {
                    break 'all;
                }
                tried += 1;
                if leaf_hash(&bytes[..len]).0 == hash {
                    break Some((start, bytes[len]));
                }
                missed += 1;
                markers += 1;
                if markers == 2 {
                    from = start;
                    break None;
                }
                from = start + 1;
            };
            if let Some((start, next)) = placed {
                found.at[first + station] = start;
                found.next[first + station] = next;
                from = start + len as u64;
            }
        }
    }
    found
}

/// A file read forwards a little at a time ([`Window::STEP`]), by [`Window::from`] and
/// [`Window::find`].
struct Window<'f> {
    file: &'f std::fs::File,
    /// How many bytes a read asks for at least ([`Window::STEP`] but in tests).
    step: usize,
    buffer: Vec<u8>,
    /// `buffer[start..end]` holds the file's bytes from `at` on.
    at: u64,
    start: usize,
    end: usize,
    /// The file ended (or could not be read) at `at + end - start`.
    ended: bool,
}

impl<'f> Window<'f> {
    /// A read's length (about a hundred stations at 250,000): the bytes are still in the
    /// processor's cache when they are hashed, as in a [`StretchReaders`] thread's buffer.
    const STEP: usize = 128 << 10;

    fn new(file: &'f std::fs::File, step: usize) -> Window<'f> {
        Window { file, step, buffer: Vec::new(), at: 0, start: 0, end: 0, ended: false }
    }

    /// The file's bytes from `from` (not before the last `from` asked) on: at least `len` of
    /// them, fewer only if the file ends first.
    fn from(&mut self, from: u64, len: usize) -> &[u8] {
        debug_assert!(from >= self.at, "read forwards");
        let held = (self.end - self.start) as u64;
        if from > self.at + held {
            // Past what is held: start afresh there.
            (self.at, self.start, self.end, self.ended) = (from, 0, 0, false);
        } else {
            self.start += (from - self.at) as usize;
            self.at = from;
        }
        while self.end - self.start < len && !self.ended {
            if self.buffer.len() - self.start < len.max(self.step) {
                self.buffer.copy_within(self.start..self.end, 0);
                (self.end, self.start) = (self.end - self.start, 0);
                let wanted = len.max(self.step) + self.step;
                if self.buffer.len() < wanted {
                    self.buffer.resize(wanted, 0);
                }
            }
            let offset = self.at + (self.end - self.start) as u64;
            match read_at(self.file, &mut self.buffer[self.end..], offset) {
                Ok(0) => self.ended = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.ended = true,
            }
        }
        &self.buffer[self.start..self.end]
    }

    /// Where `marker` next occurs at or after `from`; `None` if it does not.
    fn find(&mut self, mut from: u64, marker: &[u8]) -> Option<u64> {
        loop {
            let bytes = self.from(from, marker.len());
            if bytes.len() < marker.len() {
                return None;
            }
            // From `resume` on, a marker would run past what is held: looked at again with
            // more bytes after it.
            let (mut i, mut resume) = (0, bytes.len() + 1 - marker.len());
            while let Some(k) = bytes[i..].iter().position(|&b| b == marker[0]) {
                let at = i + k;
                if bytes.len() - at < marker.len() {
                    resume = at;
                    break;
                }
                if bytes[at..].starts_with(marker) {
                    return Some(from + at as u64);
                }
                i = at + 1;
            }
            from += resume as u64;
        }
    }
}

/// Recomputes `snapshot/<size>.json` and compares it byte for byte with the published one. With
/// the [`Pieces`] of the previous snapshot, only the stations that entries since name are
/// recomputed; every other station's bytes in the published file must have the length and
/// SHA-256 they had there. Every total, outcome and list outside the stations is recomputed. On
/// success `pieces` describes this snapshot.
#[allow(clippy::too_many_arguments)]
fn compare_snapshot(
    reader: &FnReader,
    dir: Option<&Path>,
    replay: &mut Replay,
    pieces: &mut Option<Pieces>,
    ahead: &mut Option<Ahead>,
    delta: Option<&mut Delta>,
    size: u64,
    root: Hash,
) -> Result<(), String> {
    // A tally loaded with only some records of its base is made whole before any station
    // outside them is recomputed: without pieces here, or to locate a difference below.
    let mut delta = delta;
    if pieces.is_none() {
        if let Some(delta) = delta.as_deref_mut() {
            whole_replay(replay, delta)?;
        }
    }
    let path = format!("snapshot/{size}.json");
    let missing = || format!("{path}: missing (every checkpoint needs its snapshot)");
    let open = |dir: &Path| match std::fs::File::open(dir.join(&path)) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
        Err(e) => Err(format!("{path}: cannot read: {e}")),
    };
    // What the [`Ahead`] thread found in this snapshot (it stops here whichever is compared).
    let found = ahead.take().and_then(|ahead| ahead.finish(size));
    let before = pieces.take();
    let recompute = if before.is_some() { Recompute::Touched } else { Recompute::All };
    let mut after = PiecesBuilder::new(size, before);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let (finished, holds) = match dir.filter(|_| recompute == Recompute::Touched) {
        // A resume from a directory: the stations no new entry names are most of the file, and
        // this thread does not read them. It walks the pieces the replay writes, keeping count
        // of where each lies in the file, and hands them to readers on the other cores in
        // stretches of consecutive pieces (each read there with one positioned read into a
        // buffer of the reader's own, still in its cache when hashed or compared): every byte
        // of the file is still read once and checked against what is recomputed or pinned.
        Some(dir) => {
            let file = match &found {
                Some(found) => found.file.clone(),
                None => Arc::new(open(dir)?),
            };
            std::thread::scope(|scope| {
                let mut readers = StretchReaders::start(scope, file, threads);
                // Where the last station the [`Ahead`] thread found ends, and the byte it read
                // there: a one-byte piece there (the `,` before the next station) that is that
                // byte needs no stretch of its own between two stations found.
                let mut after_found: Option<(u64, u8)> = None;
                let finished =
                    replay.write_snapshot_pieces(root.0, recompute, &mut |piece| match piece {
                        Piece::Bytes(bytes) => match after_found.take() {
                            Some((at, next)) if at == readers.at && bytes == [next] => {
                                readers.covered(1)
                            }
                            _ => readers.equal(bytes),
                        },
                        Piece::Station { contest, station, bytes } => {
                            let (len, hash) = match bytes {
                                Some(bytes) => {
                                    if !readers.equal(bytes) {
                                        return false;
                                    }
                                    (bytes.len() as u32, leaf_hash(bytes).0)
                                }
                                None => {
                                    let Some((len, hash)) = after.previous(contest, station) else {
                                        return false;
                                    };
                                    let at = readers.at;
                                    let held =
                                        found.as_ref().and_then(|f| f.holds(contest, station, at));
                                    let going = match held {
                                        Some(next) => {
                                            after_found = Some((at + u64::from(len), next));
                                            readers.covered(len as usize)
                                        }
                                        None => readers.hash(len as usize, hash),
                                    };
                                    if !going {
                                        return false;
                                    }
                                    (len, hash)
                                }
                            };
                            after.push(contest, station, len, &hash)
                        }
                    });
                (finished, readers.finish())
            })
        }
        // Otherwise (over HTTP, or every station recomputed) this thread reads the file in step
        // with the pieces the replay writes, a megabyte at a time, each piece compared or hashed
        // where it lies in the buffer: neither document is held whole (250,000 stations make
        // 650 MB). A difference is then located on the whole files.
        None => {
            let source: Box<dyn Read> = match dir {
                Some(dir) => Box::new(open(dir)?),
                None => Box::new(std::io::Cursor::new(
                    reader
                        .read(&path)
                        .map_err(|e| format!("{path}: cannot read: {e}"))?
                        .ok_or_else(missing)?,
                )),
            };
            let mut published = Chunked::new(source);
            // The untouched stations' hashes are checked by hashers on the other cores while
            // this thread reads on and compares what it recomputed; every byte of the file is
            // still checked once.
            let (finished, hashes_hold) = std::thread::scope(|scope| {
                let mut hashers = Hashers::start(scope, threads);
                let finished =
                    replay.write_snapshot_pieces(root.0, recompute, &mut |piece| match piece {
                        Piece::Bytes(bytes) => published.equal(bytes),
                        Piece::Station { contest, station, bytes } => {
                            let (len, hash) = match bytes {
                                Some(bytes) => {
                                    if !published.equal(bytes) {
                                        return false;
                                    }
                                    (bytes.len() as u32, leaf_hash(bytes).0)
                                }
                                None => {
                                    let Some((len, hash)) = after.previous(contest, station) else {
                                        return false;
                                    };
                                    if !published.leaf_hash_is(len as usize, hash, &mut hashers) {
                                        return false;
                                    }
                                    (len, hash)
                                }
                            };
                            after.push(contest, station, len, &hash)
                        }
                    });
                (finished, hashers.finish())
            });
            (finished, hashes_hold && published.at_end())
        }
    };
    let finished = finished.map_err(|e| format!("{path}: {e}"))?;
    if finished && holds {
        *pieces = Some(after.finish());
        replay.forget_touched();
        return Ok(());
    }
    // Locate the difference on the whole documents.
    if let Some(delta) = delta {
        whole_replay(replay, delta)?;
    }
    let published =
        reader.read(&path).map_err(|e| format!("{path}: cannot read: {e}"))?.ok_or_else(missing)?;
    let recomputed = replay.snapshot(root.0).map_err(|e| format!("{path}: {e}"))?;
    if published == recomputed {
        // The pieces kept from before did not describe the previous snapshot (a state file from
        // another publication): this one is right, the next is compared in full.
        replay.forget_touched();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of pieces of varied lengths, some across the boundaries where [`Chunked`] reads
    /// the next part of the file, and each piece's length and leaf hash.
    fn pieces() -> (Vec<u8>, Vec<(usize, [u8; 32])>) {
        let (mut file, mut pieces, mut x) = (Vec::new(), Vec::new(), 7u64);
        while file.len() < 3 * CHUNK + CHUNK / 2 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 1 + (x >> 33) as usize % 60_000;
            let piece: Vec<u8> = (0..len).map(|i| (i as u64 ^ x) as u8).collect();
            pieces.push((len, leaf_hash(&piece).0));
            file.extend_from_slice(&piece);
        }
        (file, pieces)
    }

    /// Whether `file` is `pieces` whole, checked as a resumed verify checks untouched stations.
    fn holds(file: Vec<u8>, pieces: &[(usize, [u8; 32])]) -> bool {
        std::thread::scope(|scope| {
            let mut hashers = Hashers::start(scope, 2);
            let mut published = Chunked::new(Box::new(std::io::Cursor::new(file)));
            let each =
                pieces.iter().all(|&(len, hash)| published.leaf_hash_is(len, hash, &mut hashers));
            let hashes_hold = hashers.finish();
            each && hashes_hold && published.at_end()
        })
    }

    #[test]
    fn every_byte_of_the_pieces_is_checked_whether_they_lie_in_one_read_or_across_two() {
        let (file, pieces) = pieces();
        assert!(holds(file.clone(), &pieces), "the intact file holds");
        // The start of each piece, to find one inside a read and one across a boundary.
        let starts: Vec<usize> =
            pieces.iter().scan(0, |at, &(len, _)| Some(std::mem::replace(at, *at + len))).collect();
        let across = (0..pieces.len())
            .find(|&i| starts[i] / CHUNK != (starts[i] + pieces[i].0 - 1) / CHUNK)
            .expect("a piece across a boundary");
        let inside = across + 1;
        for (what, at) in [
            ("the first byte", 0),
            ("a byte of a piece inside one read", starts[inside] + pieces[inside].0 / 2),
            ("the last byte of a piece across two reads", starts[across] + pieces[across].0 - 1),
            ("the first byte of a piece across two reads", starts[across]),
            ("the last byte", file.len() - 1),
        ] {
            let mut edited = file.clone();
            edited[at] ^= 1;
            assert!(!holds(edited, &pieces), "{what} edited is caught");
        }
        let mut longer = file.clone();
        longer.push(b' ');
        assert!(!holds(longer, &pieces), "a byte appended is caught");
        assert!(!holds(file[..file.len() - 1].to_vec(), &pieces), "a file cut short is caught");
    }

    /// Whether `file` is `pieces` whole, as a resume from a directory checks a snapshot: every
    /// third piece compared with bytes recomputed, the others against their leaf hash.
    fn holds_read_in_stretches(
        file: &[u8],
        pieces: &[(usize, [u8; 32])],
        recomputed: &[u8],
    ) -> bool {
        let mut on_disk = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut on_disk, file).unwrap();
        let file = Arc::new(on_disk.reopen().unwrap());
        std::thread::scope(|scope| {
            let mut readers = StretchReaders::start(scope, file, 2);
            let mut at = 0;
            let each = pieces.iter().enumerate().all(|(i, &(len, hash))| {
                at += len;
                match i % 3 {
                    0 => readers.equal(&recomputed[at - len..at]),
                    _ => readers.hash(len, hash),
                }
            });
            readers.finish() && each
        })
    }

    #[test]
    fn every_byte_is_checked_by_the_readers_of_stretches_whatever_stretch_it_lies_in() {
        let (file, pieces) = pieces();
        assert!(holds_read_in_stretches(&file, &pieces, &file), "the intact file holds");
        let starts: Vec<usize> =
            pieces.iter().scan(0, |at, &(len, _)| Some(std::mem::replace(at, *at + len))).collect();
        // A piece that ends a stretch (the first to reach its length), and one hashed, one
        // compared, after it.
        let mut covered = 0;
        let ends = (0..pieces.len())
            .find(|&i| {
                covered += pieces[i].0;
                covered >= StretchReaders::STRETCH
            })
            .expect("more than a stretch");
        let compared = (ends + 1..).find(|i| i % 3 == 0).unwrap();
        let hashed = (ends + 1..).find(|i| i % 3 != 0).unwrap();
        for (what, at) in [
            ("the first byte", 0),
            ("the last byte of a stretch", starts[ends] + pieces[ends].0 - 1),
            ("the first byte of the next stretch", starts[ends + 1]),
            ("a byte of a piece compared", starts[compared] + pieces[compared].0 / 2),
            ("a byte of a piece hashed", starts[hashed] + pieces[hashed].0 / 2),
            ("the last byte", file.len() - 1),
        ] {
            let mut edited = file.clone();
            edited[at] ^= 1;
            assert!(!holds_read_in_stretches(&edited, &pieces, &file), "{what} edited is caught");
            // The published file intact, the recomputed bytes other: caught where compared.
            if at == starts[compared] + pieces[compared].0 / 2 {
                assert!(!holds_read_in_stretches(&file, &pieces, &edited), "{what} recomputed");
            }
        }
        let mut longer = file.clone();
        longer.push(b' ');
        assert!(!holds_read_in_stretches(&longer, &pieces, &file), "a byte appended is caught");
        let shorter = &file[..file.len() - 1];
        assert!(!holds_read_in_stretches(shorter, &pieces, &file), "a file cut short is caught");
    }

    /// `last_seq` reads and writes as the map it was (`BTreeMap<String, u64>`): in the order of
    /// the ids, one per id, the last given kept.
    #[test]
    fn tiles_checked_in_batches_are_every_tile_of_the_tree_once_and_the_edge_alone_is_kept() {
        let leaves: Vec<Hash> =
            (0..70_000u64).map(|i| sverka_tlog::leaf_hash(&i.to_be_bytes())).collect();
        let whole = append_leaves(&MemoryTiles::new(), 0, &leaves).unwrap();
        let tiles: BTreeMap<Tile, Vec<u8>> = whole.tiles().iter().cloned().collect();
        // From 1,000 leaves on (a resumed pass), in batches that end inside tiles and on them.
        let from = 1_000u64;
        let (mut edge, mut size) = (MemoryTiles::new(), 0u64);
        let first = append_leaves(&MemoryTiles::new(), 0, &leaves[..from as usize]).unwrap();
        for (tile, bytes) in first.into_tiles().into_iter().filter(|(t, _)| !t.is_full()) {
            edge.insert_all([(tile, bytes)]);
        }
        size += from;
        let mut compared = Vec::new();
        for batch in [1usize, 255, 300, 65_536 - 1_556, 2_000, 0, 2_464] {
            let chunk = &leaves[size as usize..size as usize + batch];
            let (next, root) = append_checked(&edge, size, chunk, |tile, bytes| {
                assert_eq!(tiles.get(tile).map(Vec::as_slice), Some(bytes), "{}", tile.path());
                compared.push(*tile);
                Ok::<(), ()>(())
            })
            .unwrap();
            size += batch as u64;
            assert_eq!(root, sverka_tlog::merkle::root(&leaves[..size as usize]));
            let held: Vec<Tile> =
                partial_tiles(size).into_iter().filter(|t| edge_holds(&next, t)).collect();
            assert_eq!(held, partial_tiles(size), "the right edge at {size}");
            edge = next;
        }
        assert_eq!(size, 70_000);
        assert_eq!(edge.len(), partial_tiles(size).len(), "nothing but the right edge held");
        for tile in partial_tiles(size) {
            assert_eq!(edge.read_tile(&tile).ok(), tiles.get(&tile).cloned(), "{}", tile.path());
            compared.push(tile);
        }
        compared.sort();
        let mut expected = sverka_tlog::tile::new_tiles(from, size);
        expected.sort();
        assert_eq!(compared, expected, "every tile new since {from} compared once");
    }

    fn edge_holds(edge: &MemoryTiles, tile: &Tile) -> bool {
        edge.read_tile(tile).is_ok()
    }

    #[test]
    fn last_seqs_read_and_write_as_a_map_of_ids_in_order() {
        let text = r#"{"m-2":7,"a":1,"m-10":3,"a":4,"b":2}"#;
        let map: BTreeMap<String, u64> = serde_json::from_str(text).unwrap();
        let seqs: LastSeqs = serde_json::from_str(text).unwrap();
        let expected: Vec<(Cow<str>, u64)> =
            map.clone().into_iter().map(|(id, seq)| (Cow::Owned(id), seq)).collect();
        assert_eq!(seqs.0, expected);
        assert_eq!(serde_json::to_string(&seqs).unwrap(), serde_json::to_string(&map).unwrap());
        let in_order = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::from_str::<LastSeqs>(&in_order).unwrap(), seqs);
        assert_eq!(serde_json::to_string(&LastSeqs::default()).unwrap(), "{}");
        assert!(serde_json::from_str::<LastSeqs>(r#"{"a":-1}"#).is_err());
        assert!(serde_json::from_str::<LastSeqs>("[1]").is_err());
        // An id written with an escape is read as the id it spells (copied, not borrowed).
        let escaped: LastSeqs = serde_json::from_str(r#"{"a\u0062":5,"c":6}"#).unwrap();
        assert_eq!(escaped.0, vec![(Cow::Borrowed("ab"), 5), (Cow::Borrowed("c"), 6)]);
        assert!(
            matches!(escaped.0[0].0, Cow::Owned(_)) && matches!(escaped.0[1].0, Cow::Borrowed(_))
        );
    }

    /// A snapshot-like file (two contests' station lists among other members) and its pieces:
    /// the file, and per contest each station's bytes.
    fn listed(stations: &[Vec<String>]) -> Vec<u8> {
        let mut file = b"{\"contests\":[".to_vec();
        for (c, list) in stations.iter().enumerate() {
            if c > 0 {
                file.push(b',');
            }
            file.extend_from_slice(b"{\"id\":\"c\",\"levels\":[{\"abroad\":true}],\"stations\":[");
            file.extend_from_slice(list.join(",").as_bytes());
            file.extend_from_slice(b"]}");
        }
        file.extend_from_slice(b"]}");
        file
    }

    fn station(contest: usize, k: usize, votes: usize) -> String {
        format!("{{\"abroad\":false,\"history\":[{{\"current\":{k}}}],\"id\":\"{contest}-{k}\",\"votes\":{votes}}}")
    }

    fn pieces_of(stations: &[Vec<String>]) -> Pieces {
        let mut builder = PiecesBuilder::new(7, None);
        for (c, list) in stations.iter().enumerate() {
            for (s, bytes) in list.iter().enumerate() {
                assert!(builder.push(c, s, bytes.len() as u32, &leaf_hash(bytes.as_bytes()).0));
            }
        }
        builder.finish()
    }

    /// What [`look_ahead`] finds in `file` for `pieces`: per contest, per station, where.
    fn looked(file: &[u8], pieces: &Pieces, stop: bool) -> Vec<Vec<Option<(u64, u8)>>> {
        let mut on_disk = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut on_disk, file).unwrap();
        let opened = Arc::new(on_disk.reopen().unwrap());
        let found = look_ahead(7, opened, pieces, &AtomicBool::new(stop));
        let at = |c: usize, s: usize| found.holds(c, s, found.at[found.contests[c].0 + s]);
        (found.contests.iter().enumerate())
            .map(|(c, &(first, n))| {
                (0..n).map(|s| at(c, s).map(|next| (found.at[first + s], next))).collect()
            })
            .collect()
    }

    /// Where each station of `stations` lies in `file` (found by its bytes), and the byte after.
    fn places(file: &[u8], stations: &[Vec<String>]) -> Vec<Vec<Option<(u64, u8)>>> {
        let mut from = 0;
        (stations.iter())
            .map(|list| {
                (list.iter())
                    .map(|bytes| {
                        let k =
                            file[from..].windows(bytes.len()).position(|w| w == bytes.as_bytes());
                        let at = from + k.unwrap();
                        from = at + bytes.len();
                        Some((at as u64, file[from]))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn stations_are_found_ahead_only_where_their_bytes_are_what_the_pieces_pin() {
        let stations: Vec<Vec<String>> =
            (0..2).map(|c| (0..40).map(|k| station(c, k, k * k * 37 % 1000)).collect()).collect();
        let pieces = pieces_of(&stations);
        // The first marker of each contest (in its levels) starts no station.
        let file = listed(&stations);
        assert_eq!(looked(&file, &pieces, false), places(&file, &stations), "all found");
        assert!(looked(&file, &pieces, true).iter().flatten().all(Option::is_none), "stopped");

        // A station whose bytes changed (longer, or same length): not found; every other
        // station is, where it now lies.
        let mut edited = stations.clone();
        edited[0][3] = station(0, 3, 999_999);
        edited[0][4] = station(0, 4, 999);
        edited[1][0] = station(1, 0, 123);
        let file = listed(&edited);
        let mut expected = places(&file, &edited);
        (expected[0][3], expected[0][4], expected[1][0]) = (None, None, None);
        assert_eq!(looked(&file, &pieces, false), expected, "edited");

        // A station dropped from the list: the stations after it are not where the pieces
        // place them, and none is taken for another.
        let mut dropped = stations.clone();
        dropped[0].remove(5);
        let file = listed(&dropped);
        let found = looked(&file, &pieces, false);
        let expected = places(&file, &dropped);
        assert_eq!(found[0][..5], expected[0][..5]);
        for (c, list) in found.iter().enumerate() {
            for (s, place) in list.iter().enumerate().filter(|(_, p)| p.is_some()) {
                let (at, _) = place.unwrap();
                let bytes = &stations[c][s];
                assert_eq!(&file[at as usize..at as usize + bytes.len()], bytes.as_bytes());
            }
        }

        // Pieces of another layout altogether: it gives up, having found nothing.
        let other: Vec<Vec<String>> =
            vec![(0..400).map(|k| station(5, k, 1)).collect(), Vec::new()];
        let file = listed(&other);
        assert!(looked(&file, &pieces, false).iter().flatten().all(Option::is_none));
    }

    #[test]
    fn the_window_finds_every_marker_and_gives_every_byte_whatever_its_step() {
        let stations: Vec<Vec<String>> =
            (0..3).map(|c| (0..25).map(|k| station(c, k, k)).collect()).collect();
        let file = listed(&stations);
        let marker = Ahead::MARKER;
        let expected: Vec<u64> =
            (0..file.len()).filter(|&i| file[i..].starts_with(marker)).map(|i| i as u64).collect();
        let mut on_disk = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut on_disk, &file).unwrap();
        let opened = on_disk.reopen().unwrap();
        for step in [1, 2, 3, 7, 10, 11, 64, 1000, 1 << 20] {
            let mut window = Window::new(&opened, step);
            let (mut found, mut from) = (Vec::new(), 0);
            while let Some(at) = window.find(from, marker) {
                // The bytes from there on, as many as asked, are the file's.
                let len = 37.min(file.len() - at as usize);
                assert_eq!(&window.from(at, len)[..len], &file[at as usize..at as usize + len]);
                found.push(at);
                from = at + 1;
            }
            assert_eq!(found, expected, "step {step}");
            assert_eq!(window.from(file.len() as u64 - 3, 10), &file[file.len() - 3..]);
        }
    }

    #[test]
    fn bytes_covered_ahead_are_not_read_again_and_every_other_byte_still_is() {
        let (file, pieces) = pieces();
        let check = |published: &[u8], covered: &dyn Fn(usize) -> bool| {
            let mut on_disk = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut on_disk, published).unwrap();
            let opened = Arc::new(on_disk.reopen().unwrap());
            std::thread::scope(|scope| {
                let mut readers = StretchReaders::start(scope, opened, 2);
                let mut at = 0;
                let each = pieces.iter().enumerate().all(|(i, &(len, hash))| {
                    at += len;
                    match (covered(i), i % 3) {
                        (true, _) => readers.covered(len),
                        (false, 0) => readers.equal(&file[at - len..at]),
                        (false, _) => readers.hash(len, hash),
                    }
                });
                readers.finish() && each
            })
        };
        let starts: Vec<usize> =
            pieces.iter().scan(0, |at, &(len, _)| Some(std::mem::replace(at, *at + len))).collect();
        // Every other piece covered, then a long run of them, then none.
        let covered = |i: usize| i % 2 == 1 || (20..60).contains(&i);
        assert!(check(&file, &covered), "the intact file holds");
        for i in [0, 1, 2, 3, 19, 20, 40, 59, 60, 61, pieces.len() - 1] {
            let mut edited = file.clone();
            edited[starts[i] + pieces[i].0 / 2] ^= 1;
            // What was found ahead is not read again; everything else is checked.
            assert_eq!(check(&edited, &covered), covered(i), "piece {i}");
        }
        let mut longer = file.clone();
        longer.push(b' ');
        assert!(!check(&longer, &covered), "a byte appended is caught");
        assert!(!check(&file[..file.len() - 1], &|i| i + 1 < pieces.len()), "cut short");
    }

    /// The layout `--state` keeps (docs/formats.md §11, "Pieces"), spelled out.
    /// Pieces built, what `previous()` gave before each push, and whether they were written in
    /// place to the end.
    type Built = (Pieces, Vec<Option<(u32, [u8; 32])>>, bool);

    /// The pieces of `layout` (per contest, each station's length and hash byte) built over
    /// `previous`.
    fn built(layout: &[Vec<(u32, u8)>], previous: Option<Pieces>) -> Built {
        let mut builder = PiecesBuilder::new(8, previous);
        let mut seen = Vec::new();
        for (contest, stations) in layout.iter().enumerate() {
            for (station, &(len, k)) in stations.iter().enumerate() {
                seen.push(builder.previous(contest, station));
                assert!(builder.push(contest, station, len, &[k; 32]));
            }
        }
        let in_place = builder.in_place;
        (builder.finish(), seen, in_place)
    }

    #[test]
    fn pieces_written_over_the_previous_ones_are_those_written_afresh() {
        let before = vec![vec![(10, 1), (11, 2), (12, 3)], vec![], vec![(20, 4), (21, 5)]];
        let (previous, _, _) = built(&before, None);
        let held = |contest: usize, station: usize| {
            let piece = before.get(contest).and_then(|stations| stations.get(station));
            piece.map(|&(len, k)| (len, [k; 32]))
        };
        // (layout, written in place to the end)
        let cases = [
            (vec![vec![(10, 9), (11, 2), (13, 3)], vec![], vec![(20, 4), (22, 8)]], true),
            (vec![vec![(10, 1), (11, 2), (12, 3), (14, 6)], vec![], vec![(20, 4), (21, 5)]], false),
            (vec![vec![(10, 1), (11, 2)], vec![], vec![(20, 4), (21, 5)]], false),
            (vec![vec![(10, 1), (11, 2), (12, 3)], vec![(30, 7)], vec![(20, 4), (21, 5)]], false),
            (vec![before[0].clone(), vec![], before[2].clone(), vec![(40, 1)]], false),
            (vec![vec![(10, 1), (11, 2), (12, 3)]], true),
        ];
        // A copy of the previous pieces' bytes (a clone shares them).
        let unshared = || Pieces { bytes: Arc::new(previous.bytes.to_vec()), ..previous.clone() };
        for (layout, in_place) in cases {
            let (over, seen, was_in_place) = built(&layout, Some(unshared()));
            let (afresh, _, _) = built(&layout, None);
            assert_eq!(over, afresh, "{layout:?}");
            assert_eq!(was_in_place, in_place, "{layout:?}");
            // Pieces still shared (with an [`Ahead`] thread) are not written over: the same
            // pieces, in a buffer of their own.
            let (shared, _, was_in_place) = built(&layout, Some(previous.clone()));
            assert_eq!(shared, afresh, "{layout:?}");
            assert!(!was_in_place, "{layout:?}");
            // Each previous piece read is the previous snapshot's, whether or not the new ones
            // were written over them until then.
            let wanted: Vec<_> = (layout.iter().enumerate())
                .flat_map(|(contest, stations)| (0..stations.len()).map(move |s| (contest, s)))
                .map(|(contest, station)| held(contest, station))
                .collect();
            assert_eq!(seen, wanted, "{layout:?}");
        }
    }

    #[test]
    fn pieces_are_kept_in_the_state_layout_and_read_back_where_they_lie() {
        let hash = |k: u8| [k; 32];
        let mut builder = PiecesBuilder::new(42, None);
        // Contest 0 has no stations listed; contest 1 has two, contest 2 one.
        assert!(builder.push(1, 0, 10, &hash(1)));
        assert!(builder.push(1, 1, 11, &hash(2)));
        assert!(!builder.push(1, 3, 12, &hash(3)), "a station skipped is refused");
        assert!(builder.push(2, 0, 700, &hash(4)));
        assert!(!builder.push(1, 2, 12, &hash(3)), "an earlier contest is refused");
        let pieces = builder.finish();
        let mut expected = Vec::new();
        expected.extend_from_slice(&42u64.to_le_bytes());
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&0u64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        for (len, k) in [(10u32, 1u8), (11, 2)] {
            expected.extend_from_slice(&len.to_le_bytes());
            expected.extend_from_slice(&hash(k));
        }
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&700u32.to_le_bytes());
        expected.extend_from_slice(&hash(4));
        assert_eq!(*pieces.bytes, expected);
        let read = Pieces::from_bytes(expected.clone()).expect("well formed").expect("some");
        assert_eq!(read, pieces);
        assert_eq!(read.size, 42);
        assert_eq!(read.get(1, 1), Some((11, hash(2))));
        assert_eq!(read.get(2, 0), Some((700, hash(4))));
        assert_eq!(read.get(0, 0), None);
        assert_eq!(read.get(1, 2), None);
        assert_eq!(read.get(3, 0), None);
        assert_eq!(Pieces::from_bytes(Vec::new()).expect("empty is none"), None);
        assert!(Pieces::from_bytes(expected[..expected.len() - 1].to_vec()).is_err(), "cut short");
        let mut longer = expected;
        longer.push(0);
        assert!(Pieces::from_bytes(longer).is_err(), "a byte too many");
    }
}
