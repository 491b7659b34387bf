//! The store's cached election: entry 0's definition kept as a `sverka-election-cache/v1` file
//! (`Election::to_cache`, docs/formats.md §11) beside the database, so that opening a data
//! directory (`results`, `publish`, `serve`, `import`) does not read, hash and parse the
//! definition again: opening the 250,000-station store took 1.3–1.7 s with the parse of its 58 MB
//! `election.toml`, 0.4 s with the cache, and at a million stations (233 MB) the cache saves
//! `results` about 4 CPU-seconds (BENCHMARKS.md, "Session 15 (H2)").
//!
//! The cache is only as good as whoever can write it (`Election::from_cache` checks that the
//! bytes are a well-formed cache of the named definition, not the rules of a definition), so it is
//! pinned as entry 0 is, by the log key: `DIR/election.cache` is used only when the database's
//! `meta` row `election_cache` names the cache format, the SHA-256 of entry 0's definition and
//! the SHA-256 of the file's bytes, all three as found, with the log key's Ed25519 signature over
//! them ([`pin_message`]), checked with the key entry 0's signature is checked with. So whoever
//! could not make the store read another election before (write its database or its directory,
//! but not hold `keys/log.key`) cannot now either. Anything else (no row, another format or
//! definition, a bad signature, a file missing, changed or refused) and the definition is read
//! and parsed from its blob as before: a wrong cache costs time, never a wrong election.
//!
//! Written by `sverka init` (into the directory it builds) and, on SQLite, by every open that may
//! write and found no usable cache (a store made before the cache existed gets one on its next
//! `import`, `serve` or `publish`): the file first (written beside, synced, renamed, the directory
//! synced), then the pin. A crash in between leaves a pin that does not match, so a parse.
//! On PostgreSQL the pin is shared and each node's directory holds its own file (the bytes are a
//! function of the election, so equal on every node); only `init` (before the move) writes it.

use std::fs;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use sverka_model::election::CACHE_FORMAT;
use sverka_model::hashing::{HashingReader, HashingWriter};
use sverka_model::{Body, Election, Submission};
use sverka_tlog::note::{Ed25519Signer, NoteSigner};

use crate::admission::LOG_SIGNER;
use crate::db;
use crate::error::StoreError;
use crate::sequencer;
use crate::sql::Conn;
use crate::store::sync_dir;

/// The cache's file in the data directory.
pub const CACHE_FILE: &str = "election.cache";
/// Where the cache is written before it is renamed to [`CACHE_FILE`].
const CACHE_TMP: &str = "election.cache.tmp";
/// The `meta` key of the pin: `<format> <definition SHA-256> <cache SHA-256> <signature>`, the
/// digests and the log key's signature over [`pin_message`] in lower-case hex.
pub(crate) const PIN_KEY: &str = "election_cache";

/// Whether an open that parsed the definition writes the cache for the next one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refill<'k> {
    /// The store may write (SQLite, opened to write): cache what was parsed, pinned with this
    /// log key.
    With(&'k Ed25519Signer),
    /// Read only, or PostgreSQL: leave the directory and the database as they are.
    No,
}

/// The election that entry 0 defines, checked to be signed by `log_key`: the pinned cache in
/// `dir` if it is good (see the module documentation), otherwise the definition parsed
/// (`sequencer::read_election`) and, with [`Refill::Yes`], cached for the next open.
pub(crate) fn read_election(
    dir: &Path,
    conn: &Conn,
    election_file: &str,
    log_key: &VerifyingKey,
    refill: Refill<'_>,
) -> Result<Election, StoreError> {
    let entry0 =
        db::entry(conn, 0)?.ok_or_else(|| StoreError::Corrupt("the log is empty".into()))?;
    let definition = signed_definition(&entry0, log_key);
    if let Some(definition) = &definition {
        if let Ok(election) = cached(dir, conn, definition, log_key) {
            return Ok(election);
        }
    }
    let election = sequencer::read_election(conn, election_file, log_key)?;
    if let (Refill::With(signer), Some(definition)) = (refill, &definition) {
        // The cache only saves time: a directory or database that refuses it (full disk,
        // permissions) must not keep the store from opening; the next open parses again.
        let _ = write(dir, conn, &election, definition, signer);
    }
    Ok(election)
}

/// The SHA-256 of the definition that `entry0` names, if it is an `election` body signed by the
/// log key (otherwise `None`, and `sequencer::read_election` says what is wrong).
fn signed_definition(entry0: &[u8], log_key: &VerifyingKey) -> Option<[u8; 32]> {
    let submission = Submission::decode(entry0).ok()?;
    if submission.payload.signer != LOG_SIGNER || !submission.verify(log_key) {
        return None;
    }
    let Body::Election(definition) = &submission.payload.body else {
        return None;
    };
    sha256_from_hex(&definition.definition_sha256)
}

/// The cached election of the definition whose SHA-256 is `definition`, pinned by `log_key`, or
/// why there is none.
pub(crate) fn cached(
    dir: &Path,
    conn: &Conn,
    definition: &[u8; 32],
    log_key: &VerifyingKey,
) -> Result<Election, String> {
    let pin = db::meta_get(conn, PIN_KEY)
        .map_err(|e| format!("the pin cannot be read: {e}"))?
        .ok_or("no cache is pinned")?;
    let (format, pinned_definition, pinned_cache, signature) =
        match pin.split(' ').collect::<Vec<_>>()[..] {
            [format, definition, cache, signature] => (format, definition, cache, signature),
            _ => return Err(format!("the pin {pin:?} is malformed")),
        };
    let signature = signature_from_hex(signature).ok_or("the pin's signature is malformed")?;
    let message = pin_message(format, pinned_definition, pinned_cache);
    if !sverka_model::keys::verify(log_key, message.as_bytes(), &signature) {
        return Err("the pin is not signed by the log key".into());
    }
    if format != CACHE_FORMAT {
        return Err(format!("the pinned cache is {format}, not {CACHE_FORMAT}"));
    }
    if pinned_definition != hex(definition) {
        return Err("the pinned cache is of another definition".into());
    }
    // Decoded as it is read and hashed, a megabyte at a time (never held whole: some 125 MB of
    // fresh pages at a million stations); the rest of the file, if the decoding stopped early,
    // is hashed too, and the election is used only if the whole file is the pinned one.
    let path = dir.join(CACHE_FILE);
    let unreadable = |e: std::io::Error| format!("{} cannot be read: {e}", path.display());
    let file = fs::File::open(&path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let len = usize::try_from(len).map_err(|_| format!("the cache is {len} bytes long"))?;
    let mut source = HashingReader::new(file);
    let election = Election::from_cache_reader(&mut source, len, definition);
    if hex(&source.finish().map_err(unreadable)?) != pinned_cache {
        return Err(format!("{} is not the pinned cache", path.display()));
    }
    election.map_err(|e| format!("the cache is refused: {e}"))
}

/// What the log key signs to pin a cache: a line naming what this is, then the cache format and
/// the two digests (hex), a line each. No checkpoint (whose second line is a tree size in
/// decimal) or submission (canonical JSON) has these bytes.
fn pin_message(format: &str, definition: &str, cache: &str) -> String {
    format!("sverka-store election cache pin\n{format}\n{definition}\n{cache}\n")
}

/// Writes `election`'s cache (of the definition whose SHA-256 is `definition`) to `dir` and pins
/// it in the database with `signer` (the log key): streamed into [`CACHE_TMP`] while hashed,
/// synced, renamed to [`CACHE_FILE`], the directory synced, and only then the pin set.
pub(crate) fn write(
    dir: &Path,
    conn: &Conn,
    election: &Election,
    definition: &[u8; 32],
    signer: &Ed25519Signer,
) -> Result<(), StoreError> {
    let tmp = dir.join(CACHE_TMP);
    let io = |source| StoreError::io(&tmp, source);
    let file = fs::File::create(&tmp).map_err(io)?;
    let mut out = HashingWriter::new(file);
    election.write_cache(definition, &mut out).map_err(io)?;
    let (file, cache) = out.finish();
    file.sync_all().map_err(io)?;
    let cache = hex(&cache);
    let path = dir.join(CACHE_FILE);
    fs::rename(&tmp, &path).map_err(|source| StoreError::io(&path, source))?;
    sync_dir(dir)?;
    let definition = hex(definition);
    let signature = hex(&signer.sign(pin_message(CACHE_FORMAT, &definition, &cache).as_bytes()));
    db::meta_set(conn, PIN_KEY, &format!("{CACHE_FORMAT} {definition} {cache} {signature}"))
}

/// Lower-case hex, as the pin writes digests.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 32 bytes of a SHA-256 written in lower-case hex (as entry 0 names its definition).
fn sha256_from_hex(text: &str) -> Option<[u8; 32]> {
    from_hex(text)
}

/// The 64 bytes of an Ed25519 signature written in lower-case hex.
fn signature_from_hex(text: &str) -> Option<[u8; 64]> {
    from_hex(text)
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::store::{Store, DB_FILE, LOG_KEY_FILE};

    fn tiny() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny/election.toml");
        fs::read_to_string(root).expect("examples/tiny/election.toml")
    }

    fn parsed(text: &str) -> Election {
        Election::from_toml("election.toml", text).expect("the tiny election")
    }

    /// A data directory for the tiny election: its path (the tempdir kept alive by the caller).
    fn init(tmp: &tempfile::TempDir) -> PathBuf {
        let dir = tmp.path().join("data");
        drop(Store::init(&dir, &tiny(), "election.toml").expect("init"));
        dir
    }

    fn conn(dir: &Path) -> Conn {
        Conn::open_sqlite(&dir.join(DB_FILE)).expect("sverka.db")
    }

    fn definition() -> [u8; 32] {
        Sha256::digest(tiny().as_bytes()).into()
    }

    /// The election every kind of open gives: read-only, to write, to publish.
    fn opened(dir: &Path) -> [Election; 3] {
        let read_only =
            Store::open_read_only(dir).expect("open_read_only").election().as_ref().clone();
        let write = Store::open(dir).expect("open").election().as_ref().clone();
        let publish =
            Store::open_for_publish(dir).expect("open_for_publish").election().as_ref().clone();
        [read_only, write, publish]
    }

    /// The data directory's log key.
    fn log_signer(dir: &Path) -> Ed25519Signer {
        let text = fs::read_to_string(dir.join(LOG_KEY_FILE)).expect("keys/log.key");
        Ed25519Signer::from_skey(text.trim()).expect("the log key")
    }

    fn log_key(dir: &Path) -> VerifyingKey {
        *log_signer(dir).verifier().public_key()
    }

    /// [`cached`] in `dir` of the tiny election's definition, under the log key.
    fn cached_here(dir: &Path) -> Result<Election, String> {
        cached(dir, &conn(dir), &definition(), &log_key(dir))
    }

    /// Puts `bytes` in place as the cache and pins them with `signer`, as [`write`] would.
    fn pinned_with(
        dir: &Path,
        bytes: &[u8],
        format: &str,
        definition: &[u8; 32],
        signer: &Ed25519Signer,
    ) {
        fs::write(dir.join(CACHE_FILE), bytes).expect("write the cache");
        let (definition, cache) = (hex(definition), hex(&Sha256::digest(bytes)));
        let signature = hex(&signer.sign(pin_message(format, &definition, &cache).as_bytes()));
        let pin = format!("{format} {definition} {cache} {signature}");
        db::meta_set(&conn(dir), PIN_KEY, &pin).expect("pin");
    }

    /// [`pinned_with`] the data directory's own log key.
    fn pinned_cache_of(dir: &Path, bytes: &[u8], format: &str, definition: &[u8; 32]) {
        pinned_with(dir, bytes, format, definition, &log_signer(dir));
    }

    #[test]
    fn init_writes_a_pinned_cache_that_every_open_uses() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        assert!(dir.join(CACHE_FILE).is_file());
        assert!(!dir.join(CACHE_TMP).exists());
        assert_eq!(cached_here(&dir), Ok(parsed(&tiny())));
        // The cache file is read, not the definition: a cache of another definition's election
        // under this definition's name, pinned by the log key, would be believed (which is why
        // only the log key pins).
        let other = tiny().replace("Tiny election", "Another election");
        let bytes = parsed(&other).to_cache(&definition());
        pinned_cache_of(&dir, &bytes, CACHE_FORMAT, &definition());
        for election in opened(&dir) {
            assert_eq!(election.name, parsed(&other).name);
        }
    }

    #[test]
    fn a_cache_pinned_by_another_key_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        let other = tiny().replace("Tiny election", "Another election");
        let bytes = parsed(&other).to_cache(&definition());
        let stranger = Ed25519Signer::from_seed("sverka.example/tiny", &[7; 32]).unwrap();
        pinned_with(&dir, &bytes, CACHE_FORMAT, &definition(), &stranger);
        assert_eq!(cached_here(&dir), Err("the pin is not signed by the log key".into()));
        for election in opened(&dir) {
            assert_eq!(election, parsed(&tiny()));
        }
        // The open to write put the right cache back, pinned by the log key.
        assert_eq!(cached_here(&dir), Ok(parsed(&tiny())));
    }

    #[test]
    fn a_changed_cache_file_is_not_used_and_the_next_open_to_write_replaces_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        let mut bytes = fs::read(dir.join(CACHE_FILE)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(dir.join(CACHE_FILE), &bytes).unwrap();
        assert!(cached_here(&dir).is_err());
        let read_only = Store::open_read_only(&dir).unwrap().election().as_ref().clone();
        assert_eq!(read_only, parsed(&tiny()));
        assert!(cached_here(&dir).is_err(), "read-only writes nothing");
        assert_eq!(Store::open(&dir).unwrap().election().as_ref(), &parsed(&tiny()));
        assert_eq!(cached_here(&dir), Ok(parsed(&tiny())));
    }

    #[test]
    fn a_cache_of_another_definition_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        let other = tiny().replace("Tiny election", "Another election");
        let other_sha: [u8; 32] = Sha256::digest(other.as_bytes()).into();
        let bytes = parsed(&other).to_cache(&other_sha);
        // Pinned as this definition's cache (the file's own header names the other one) ...
        pinned_cache_of(&dir, &bytes, CACHE_FORMAT, &definition());
        assert!(cached_here(&dir).unwrap_err().contains("refused"));
        for election in opened(&dir) {
            assert_eq!(election, parsed(&tiny()));
        }
        // ... and pinned as the other definition's.
        pinned_cache_of(&dir, &bytes, CACHE_FORMAT, &other_sha);
        assert!(cached_here(&dir).unwrap_err().contains("another"));
        assert_eq!(opened(&dir)[0], parsed(&tiny()));
    }

    #[test]
    fn a_cache_of_another_format_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        let v1 = parsed(&tiny()).to_cache(&definition());
        let mut v0 = b"sverka-election-cache/v0".to_vec();
        v0.extend_from_slice(&v1[CACHE_FORMAT.len()..]);
        pinned_cache_of(&dir, &v0, "sverka-election-cache/v0", &definition());
        assert!(cached_here(&dir).unwrap_err().contains("v0"));
        assert_eq!(opened(&dir)[0], parsed(&tiny()));
        pinned_cache_of(&dir, &v0, CACHE_FORMAT, &definition());
        assert!(cached_here(&dir).unwrap_err().contains("refused"));
        for election in opened(&dir) {
            assert_eq!(election, parsed(&tiny()));
        }
    }

    #[test]
    fn a_store_without_a_cache_opens_and_gets_one_on_its_next_open_to_write() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(&tmp);
        fs::remove_file(dir.join(CACHE_FILE)).unwrap();
        conn(&dir).execute("DELETE FROM meta WHERE key = ?1", &[PIN_KEY.into()]).unwrap();
        assert_eq!(cached_here(&dir), Err("no cache is pinned".into()));
        let read_only = Store::open_read_only(&dir).unwrap().election().as_ref().clone();
        assert_eq!(read_only, parsed(&tiny()));
        assert!(!dir.join(CACHE_FILE).exists(), "read-only writes nothing");
        let publish = Store::open_for_publish(&dir).unwrap().election().as_ref().clone();
        assert_eq!(publish, parsed(&tiny()));
        assert_eq!(cached_here(&dir), Ok(parsed(&tiny())));
    }
}
