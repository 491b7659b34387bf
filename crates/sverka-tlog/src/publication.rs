//! Verifying a whole static publication of a log, as an observer does: the signed checkpoint, every
//! entry bundle, every hash tile, and consistency with a checkpoint seen earlier.
//!
//! The check is total rather than sampled: every entry bundle is read and re-hashed, the complete set
//! of tiles for the checkpoint's size is rebuilt from those leaves ([`crate::append_leaves`] from an
//! empty tree), and each published tile must equal its rebuilt bytes (C2SP tlog-tiles v1.0.0,
//! §"Merkle Tree" and §"Log Entries"). The rebuilt head must equal the signed root. A previously seen
//! checkpoint `(m, root_m)` must be the head of the first `m` leaves, which is what an RFC 9162 §2.1.4
//! consistency proof would show, computed here directly from the leaves.
//!
//! With a witness [`Policy`] (C2SP tlog-policy), the checkpoint's cosignatures must meet its quorum
//! before anything else is read.
//!
//! Reading is abstracted by [`PublicationReader`] so the same code checks a directory or a URL.

use std::fmt;

use crate::builder::{append_leaves, MemoryTiles};
use crate::bundle::{parse_bundle, BundleError};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{leaf_hash, Hash};
use crate::merkle;
use crate::note::{Note, VerifierSet};
use crate::policy::{Policy, PolicyOutcome};
use crate::tile::{new_entry_bundles, TILE_WIDTH};

/// Reads a file of the publication by its path relative to the publication root
/// (`checkpoint`, `tile/0/000`, `tile/entries/000.p/5`, ...). `Ok(None)` means "not there".
pub trait PublicationReader {
    type Error: fmt::Display;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// The first thing found wrong with a publication; each names the file it is about.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublicationError {
    #[error("{path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: missing")]
    Missing { path: String },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("checkpoint: origin is {found:?}, expected {expected:?}")]
    Origin { found: String, expected: String },
    #[error("{path}: {error}")]
    Bundle { path: String, error: BundleError },
    #[error("{path}: holds {found} entries, expected {expected}")]
    BundleWidth { path: String, found: usize, expected: usize },
    #[error("{path}: hash {hash_index} does not match the tile rebuilt from the entries{}", entry_note(.path, *.hash_index))]
    TileMismatch { path: String, hash_index: usize },
    #[error("{path}: is {found} bytes, expected {expected} ({} hashes): a truncated or wrong-width tile", .expected / 32)]
    TileLength { path: String, found: usize, expected: usize },
    #[error("checkpoint: the witness quorum {quorum:?} is not met: {}", quorum_summary(.outcome))]
    Quorum { quorum: String, outcome: PolicyOutcome },
    #[error("checkpoint: root {signed} is not the head of the published entries ({computed})")]
    RootMismatch { signed: Hash, computed: Hash },
    #[error("checkpoint: size {now} is smaller than the size {seen} seen before: the log was rolled back")]
    RolledBack { seen: u64, now: u64 },
    #[error("checkpoint: the first {seen} entries now hash to {now}, but {before} was seen before: history was rewritten")]
    Inconsistent { seen: u64, before: Hash, now: Hash },
}

/// For a level-0 tile, which entry (and bundle) a hash index stands for.
fn entry_note(path: &str, hash_index: usize) -> String {
    let Some(rest) = path.strip_prefix("tile/0/") else {
        return String::new();
    };
    let Ok(tile) = crate::tile::Tile::from_path(path) else {
        return String::new();
    };
    let entry = tile.index() * u64::from(TILE_WIDTH) + hash_index as u64;
    format!(" (entry {entry}, in tile/entries/{rest})")
}

/// Who cosigned, who is missing, whose cosignature is bad.
fn quorum_summary(outcome: &PolicyOutcome) -> String {
    let list =
        |names: Vec<&str>| if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let mut text =
        format!("cosigned by {}; missing: {}", list(outcome.verified()), list(outcome.missing()));
    for (name, error) in outcome.bad() {
        text.push_str(&format!("; bad cosignature from {name}: {error}"));
    }
    text
}

/// What a verified publication holds.
#[derive(Debug)]
pub struct VerifiedLog {
    pub checkpoint: Checkpoint,
    /// The signed note, with any cosignatures it carries.
    pub note: Note,
    /// The witness policy's verdict on the note, when a policy was given.
    pub witnesses: Option<PolicyOutcome>,
    /// Leaf hashes of every entry, in log order.
    pub leaf_hashes: Vec<Hash>,
    /// How many tiles were checked.
    pub tiles_checked: usize,
}

/// What the verifier is told to expect.
#[derive(Debug)]
pub struct Expectation<'a> {
    /// The log's key(s); a checkpoint not signed by one of them is rejected.
    pub log_keys: &'a VerifierSet,
    /// The origin line the checkpoint must carry, if pinned.
    pub origin: Option<&'a str>,
    /// A checkpoint `(size, root)` seen before, with which this one must be consistent.
    pub previous: Option<(u64, Hash)>,
    /// Which witnesses must have cosigned the checkpoint, if any.
    pub policy: Option<&'a Policy>,
}

fn read<R: PublicationReader>(reader: &R, path: &str) -> Result<Vec<u8>, PublicationError> {
    match reader.read(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(PublicationError::Missing { path: path.to_string() }),
        Err(e) => Err(PublicationError::Read { path: path.to_string(), reason: e.to_string() }),
    }
}

/// Verifies everything under the checkpoint. `on_entry(index, bytes)` sees every entry in order
/// (for re-tabulation); `progress(done, total)` is called after each entry bundle.
pub fn verify_publication<R: PublicationReader>(
    reader: &R,
    expect: &Expectation<'_>,
    on_entry: &mut dyn FnMut(u64, &[u8]),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifiedLog, PublicationError> {
    let checkpoint_bytes = read(reader, "checkpoint")?;
    let (checkpoint, note) = Checkpoint::open(&checkpoint_bytes, expect.log_keys)?;
    if let Some(origin) = expect.origin {
        if checkpoint.origin() != origin {
            return Err(PublicationError::Origin {
                found: checkpoint.origin().to_string(),
                expected: origin.to_string(),
            });
        }
    }
    let witnesses = expect.policy.map(|policy| policy.evaluate(&note));
    if let Some(outcome) = witnesses.as_ref().filter(|o| !o.quorum_met) {
        return Err(PublicationError::Quorum {
            quorum: outcome.quorum.clone(),
            outcome: outcome.clone(),
        });
    }
    let size = checkpoint.size();
    let mut leaf_hashes = Vec::with_capacity(size as usize);
    for bundle in new_entry_bundles(0, size) {
        let path = bundle.path();
        let bytes = read(reader, &path)?;
        let entries = parse_bundle(&bytes)
            .map_err(|error| PublicationError::Bundle { path: path.clone(), error })?;
        if entries.len() != usize::from(bundle.width()) {
            return Err(PublicationError::BundleWidth {
                path,
                found: entries.len(),
                expected: usize::from(bundle.width()),
            });
        }
        for entry in entries {
            on_entry(leaf_hashes.len() as u64, entry);
            leaf_hashes.push(leaf_hash(entry));
        }
        progress(leaf_hashes.len() as u64, size);
    }
    let rebuilt = append_leaves(&MemoryTiles::new(), 0, &leaf_hashes)
        .expect("an empty tile store needs no reads");
    for (tile, expected) in rebuilt.tiles() {
        let path = tile.path();
        let published = read(reader, &path)?;
        compare_tile(path, &published, expected)?;
    }
    if rebuilt.root() != checkpoint.root() {
        return Err(PublicationError::RootMismatch {
            signed: checkpoint.root(),
            computed: rebuilt.root(),
        });
    }
    if let Some((seen, before)) = expect.previous {
        if seen > size {
            return Err(PublicationError::RolledBack { seen, now: size });
        }
        let now = merkle::root(&leaf_hashes[..seen as usize]);
        if now != before {
            return Err(PublicationError::Inconsistent { seen, before, now });
        }
    }
    Ok(VerifiedLog {
        checkpoint,
        note,
        witnesses,
        leaf_hashes,
        tiles_checked: rebuilt.tiles().len(),
    })
}

/// Compares a published tile with the one rebuilt from the entries: a different length, or the
/// index of the first hash that differs, named with the tile's path.
pub fn compare_tile(
    path: String,
    published: &[u8],
    expected: &[u8],
) -> Result<(), PublicationError> {
    if published.len() != expected.len() {
        return Err(PublicationError::TileLength {
            path,
            found: published.len(),
            expected: expected.len(),
        });
    }
    if published != expected {
        let hash_index = published
            .chunks(32)
            .zip(expected.chunks(32))
            .position(|(a, b)| a != b)
            .unwrap_or(published.len().min(expected.len()) / 32);
        return Err(PublicationError::TileMismatch { path, hash_index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bundle::encode_bundle;
    use crate::note::Ed25519Signer;

    struct Files(BTreeMap<String, Vec<u8>>);

    impl PublicationReader for Files {
        type Error = std::convert::Infallible;
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error> {
            Ok(self.0.get(path).cloned())
        }
    }

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed("sverka.example/test", &[9; 32]).unwrap()
    }

    /// A publication of `entries`, laid out as `sverka publish` lays it out.
    fn publish(entries: &[Vec<u8>]) -> Files {
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let built = append_leaves(&MemoryTiles::new(), 0, &leaves).unwrap();
        let mut files = BTreeMap::new();
        for (tile, bytes) in built.tiles() {
            files.insert(tile.path(), bytes.clone());
        }
        for bundle in new_entry_bundles(0, entries.len() as u64) {
            let start = bundle.first_entry() as usize;
            let slice = &entries[start..start + usize::from(bundle.width())];
            files.insert(bundle.path(), encode_bundle(slice).unwrap());
        }
        let checkpoint = Checkpoint::new("sverka.example/test", entries.len() as u64, built.root());
        let note = checkpoint.unwrap().sign(&signer()).unwrap();
        files.insert("checkpoint".into(), note.to_bytes());
        Files(files)
    }

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    fn check(
        files: &Files,
        previous: Option<(u64, Hash)>,
    ) -> Result<VerifiedLog, PublicationError> {
        let keys = VerifierSet::with(vec![Box::new(signer().verifier())]).unwrap();
        let expect = Expectation {
            log_keys: &keys,
            origin: Some("sverka.example/test"),
            previous,
            policy: None,
        };
        verify_publication(files, &expect, &mut |_, _| {}, &mut |_, _| {})
    }

    #[test]
    fn an_honest_publication_verifies_and_hands_over_every_entry() {
        let all = entries(600);
        let files = publish(&all);
        let keys = VerifierSet::with(vec![Box::new(signer().verifier())]).unwrap();
        let expect = Expectation { log_keys: &keys, origin: None, previous: None, policy: None };
        let mut seen = Vec::new();
        let log = verify_publication(
            &files,
            &expect,
            &mut |i, e| seen.push((i, e.to_vec())),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(log.checkpoint.size(), 600);
        assert_eq!(seen.len(), 600);
        assert_eq!(seen[599], (599, b"entry 599".to_vec()));
        // 600 leaves: level-0 tiles 0, 1 full and 2.p/88; level-1 tile 0.p/2.
        assert_eq!(log.tiles_checked, 4);
    }

    #[test]
    fn a_rewritten_entry_is_caught_at_its_tile() {
        let mut files = publish(&entries(300));
        let mut forged = entries(300);
        forged[7] = b"entry 7, rewritten".to_vec();
        let bundle = encode_bundle(&forged[..256]).unwrap();
        files.0.insert("tile/entries/000".into(), bundle);
        assert_eq!(
            check(&files, None).unwrap_err(),
            PublicationError::TileMismatch { path: "tile/0/000".into(), hash_index: 7 }
        );
        assert!(check(&files, None)
            .unwrap_err()
            .to_string()
            .contains("entry 7, in tile/entries/000"));
    }

    #[test]
    fn a_dropped_entry_is_caught() {
        let mut files = publish(&entries(10));
        let bundle = encode_bundle(&entries(9)).unwrap();
        files.0.insert("tile/entries/000.p/10".into(), bundle);
        assert!(matches!(check(&files, None), Err(PublicationError::BundleWidth { found: 9, .. })));
    }

    #[test]
    fn a_consistent_republication_is_accepted_and_a_rewrite_is_not() {
        let first = publish(&entries(100));
        let seen = check(&first, None).unwrap().checkpoint;
        let grown = publish(&entries(250));
        assert!(check(&grown, Some((seen.size(), seen.root()))).is_ok());
        let mut rewritten = entries(250);
        rewritten[3] = b"other".to_vec();
        let forked = publish(&rewritten);
        assert!(matches!(
            check(&forked, Some((seen.size(), seen.root()))),
            Err(PublicationError::Inconsistent { seen: 100, .. })
        ));
        assert!(matches!(
            check(&first, Some((250, seen.root()))),
            Err(PublicationError::RolledBack { seen: 250, now: 100 })
        ));
    }

    #[test]
    fn a_checkpoint_from_another_key_is_refused() {
        let mut files = publish(&entries(5));
        let other = Ed25519Signer::from_seed("sverka.example/test", &[8; 32]).unwrap();
        let checkpoint =
            Checkpoint::parse(Note::parse(&files.0["checkpoint"]).unwrap().text()).unwrap();
        files.0.insert("checkpoint".into(), checkpoint.sign(&other).unwrap().to_bytes());
        assert!(matches!(check(&files, None), Err(PublicationError::Checkpoint(_))));
    }

    #[test]
    fn a_missing_tile_is_named() {
        let mut files = publish(&entries(3));
        files.0.remove("tile/0/000.p/3");
        assert_eq!(
            check(&files, None).unwrap_err(),
            PublicationError::Missing { path: "tile/0/000.p/3".into() }
        );
    }

    #[test]
    fn a_truncated_tile_is_named_with_its_length() {
        let mut files = publish(&entries(300));
        let tile = files.0.get_mut("tile/0/001.p/44").unwrap();
        tile.truncate(43 * 32 + 5);
        assert_eq!(
            check(&files, None).unwrap_err(),
            PublicationError::TileLength {
                path: "tile/0/001.p/44".into(),
                found: 43 * 32 + 5,
                expected: 44 * 32
            }
        );
    }

    #[test]
    fn a_checkpoint_short_of_its_witness_quorum_is_refused_before_any_tile_is_read() {
        use crate::cosignature::Cosigner;
        let mut files = publish(&entries(20));
        let w1 = Cosigner::from_seed("w1.example", &[21; 32]).unwrap();
        let w2 = Cosigner::from_seed("w2.example", &[22; 32]).unwrap();
        let policy =
            Policy::k_of(&[], &[&w1.verifier().to_vkey(), &w2.verifier().to_vkey()], 2).unwrap();
        let mut note = Note::parse(&files.0["checkpoint"]).unwrap();
        let checkpoint = Checkpoint::parse(note.text()).unwrap();
        note.add_signature(w1.cosign(&checkpoint, 1_700_000_000).unwrap()).unwrap();
        files.0.insert("checkpoint".into(), note.to_bytes());
        files.0.remove("tile/0/000.p/20");
        let keys = VerifierSet::with(vec![Box::new(signer().verifier())]).unwrap();
        let expect =
            Expectation { log_keys: &keys, origin: None, previous: None, policy: Some(&policy) };
        let error =
            verify_publication(&files, &expect, &mut |_, _| {}, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            "checkpoint: the witness quorum \"flags\" is not met: cosigned by w1.example; missing: w2.example"
        );
        note.add_signature(w2.cosign(&checkpoint, 1_700_000_001).unwrap()).unwrap();
        files.0.insert("checkpoint".into(), note.to_bytes());
        // The quorum is met now, and the missing tile is the next thing found.
        assert_eq!(
            verify_publication(&files, &expect, &mut |_, _| {}, &mut |_, _| {}).unwrap_err(),
            PublicationError::Missing { path: "tile/0/000.p/20".into() }
        );
    }
}
