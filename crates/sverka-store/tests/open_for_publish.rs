//! `Store::open_for_publish` (`sverka publish`): the log's part of crash recovery (tiles for every
//! committed entry, checked against the signed root) and a signature over what a crash left
//! committed but unsigned, without refolding the admission state and without a sequencer. What
//! it publishes is byte for byte what a store opened to write publishes, and a later full open
//! finds the log as it left it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use sverka_store::{CheckpointPolicy, Config, PublishOptions, Receipt, SignedCheckpoint, Store};

/// Every file under `dir` (relative path) with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A data directory as a crash leaves it: 300 protocols committed after entry 0 with no
/// checkpoint signed over them, and the right edge of the tiles (the partial tiles) lost.
/// Returns what was acknowledged and the checkpoint signed before the crash.
fn crashed_store(dir: &Path) -> (Vec<(Receipt, Vec<u8>)>, SignedCheckpoint) {
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = init(dir, config);
    let before = store.checkpoint().unwrap();
    let mut acknowledged = Vec::new();
    for batch in 0..3u64 {
        let bytes: Vec<Vec<u8>> =
            (1..=100).map(|i| observer_protocol(0, batch * 100 + i)).collect();
        for (answer, bytes) in store.submit_batch(bytes.clone()).into_iter().zip(bytes) {
            acknowledged.push((answer.expect("a valid protocol is accepted"), bytes));
        }
    }
    assert_eq!(store.tree_size().unwrap(), 301);
    assert_eq!(store.checkpoint().unwrap(), before, "nothing signed after entry 0");
    drop(store);
    let conn = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
    assert!(conn.execute("DELETE FROM partial_tiles", []).unwrap() > 0);
    (acknowledged, before)
}

#[test]
fn publishing_recovers_and_signs_the_log_and_writes_what_a_writing_store_writes() {
    let temp = tempfile::tempdir().unwrap();
    let crashed = temp.path().join("crashed");
    let (acknowledged, before) = crashed_store(&crashed);
    let (dir, other) = (temp.path().join("data"), temp.path().join("other"));
    copy_dir(&crashed, &dir);
    copy_dir(&crashed, &other);

    let store = Store::open_for_publish(&dir).unwrap();
    // The tiles were rebuilt and the committed entries signed before the open returned.
    let signed = store.checkpoint().unwrap();
    assert_eq!((signed.size, store.tree_size().unwrap()), (301, 301));
    assert_eq!(store.checkpoint_now().unwrap(), signed, "signed on open, nothing more to sign");
    let sizes: Vec<u64> = store.checkpoint_history().unwrap().iter().map(|c| c.size).collect();
    assert_eq!(sizes, [before.size, 301]);
    assert_log_sound(&store, &acknowledged);
    assert!(!store.is_sequencer() && !store.is_read_only());
    // It takes no submission: it never refolded the admission state.
    let refused = store.submit(observer_protocol(0, 301)).unwrap_err().to_string();
    assert!(refused.contains("publish only"), "{refused}");
    let out = temp.path().join("public");
    let report = store.publish(&out, &PublishOptions::default()).unwrap();
    assert_eq!(report.size, 301);
    drop(store);

    // A store opened to write, on the same crashed directory, signs the same checkpoint (Ed25519
    // is deterministic) and publishes the same files, byte for byte.
    let writing = Store::open(&other).unwrap();
    assert_eq!(writing.checkpoint().unwrap(), signed);
    let other_out = temp.path().join("other-public");
    writing.publish(&other_out, &PublishOptions::default()).unwrap();
    drop(writing);
    let published = files(&out);
    assert!(published.len() > 3, "tiles, bundles, log.vkey, blob and checkpoint");
    assert_eq!(published, files(&other_out));

    // Publishing again from a publishing open adds nothing and signs nothing.
    let store = Store::open_for_publish(&dir).unwrap();
    assert_eq!(store.checkpoint_history().unwrap().len(), 2);
    let again = store.publish(&out, &PublishOptions::default()).unwrap();
    assert_eq!((again.written, again.checkpoint_replaced), (0, false));
    drop(store);
    assert_eq!(files(&out), published);

    // A full open afterwards finds the log as it was signed and takes the next submission.
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.checkpoint().unwrap(), signed);
    let receipt = store.submit(observer_protocol(0, 301)).unwrap();
    assert_eq!((receipt.index, receipt.new), (301, true));
    // A protocol already in the log is a repeat, not a second entry.
    let (first, bytes) = &acknowledged[0];
    let repeat = store.submit(bytes.clone()).unwrap();
    assert_eq!((repeat.index, repeat.new), (first.index, false));
}

#[test]
fn publishing_refuses_a_data_directory_whose_tiles_contradict_the_signed_root() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let (_, _) = crashed_store(&dir);
    Store::open(&dir).unwrap();
    // The partial tile of level 0 (the last entries' leaf hashes) altered by hand: the root
    // recomputed from the tiles no longer matches the signed one.
    let conn = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
    let changed = conn
        .execute("UPDATE partial_tiles SET data = zeroblob(length(data)) WHERE level = 0", [])
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let refused = Store::open_for_publish(&dir).unwrap_err().to_string();
    assert!(refused.contains("was signed"), "{refused}");
    let out = temp.path().join("public");
    assert!(!out.exists(), "nothing published");
}
