//! `Store::open_read_only` on a data directory it may write to: it writes no row, signs nothing,
//! and leaves no `sverka.db-wal` or `sverka.db-shm` behind (SQLite makes them for any reader; a
//! read-only connection cannot remove them).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use sverka_store::{CheckpointPolicy, Config, Store};

/// The names and bytes of the files directly in `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

#[test]
fn a_read_only_open_of_a_writable_directory_leaves_no_write_ahead_log_files() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = init(&dir, config);
    let signed = store.checkpoint().unwrap();
    let answers = store.submit_batch((1..=20).map(|seq| observer_protocol(1, seq)).collect());
    assert!(answers.iter().all(Result::is_ok));
    drop(store);
    let before = files(&dir);
    assert!(before.contains_key("sverka.db"), "{:?}", before.keys());
    assert!(!before.contains_key("sverka.db-wal"), "a closed store removes its write-ahead log");

    let store = Store::open_read_only(&dir).unwrap();
    assert!(store.is_read_only());
    // It signs nothing: the latest signed checkpoint is still the one of entry 0.
    assert_eq!(store.checkpoint().unwrap(), signed);
    assert_eq!(store.entry(0).unwrap().map(|e| e.is_empty()), Some(false));
    // Several connections at once, as the snapshot thread and the log's files use.
    let (a, b) = (store.clone(), store.clone());
    std::thread::scope(|scope| {
        let one = scope.spawn(move || a.entries(0..21).unwrap().len());
        let two = scope.spawn(move || b.checkpoint_history().unwrap().len());
        assert_eq!((one.join().unwrap(), two.join().unwrap()), (21, 1));
    });
    let refused = store.submit(observer_protocol(1, 21)).unwrap_err().to_string();
    assert!(refused.contains("read-only"), "{refused}");
    assert!(store.put_blob(b"a scan").is_err(), "a read-only store writes no row");
    drop(store);
    assert_eq!(files(&dir), before, "the directory is as it was, with no -wal or -shm");

    // While a store that writes has the database open, its files are left to it.
    let writing = Store::open_with(
        &dir,
        Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() },
    )
    .unwrap();
    let reading = Store::open_read_only(&dir).unwrap();
    assert_eq!(reading.checkpoint().unwrap(), signed);
    drop(reading);
    assert!(dir.join("sverka.db-wal").exists(), "the writing store's log is still there");
    let receipt = writing.submit(observer_protocol(1, 21)).unwrap();
    assert_eq!(receipt.index, 21);
    drop(writing);
    assert!(!dir.join("sverka.db-wal").exists());
}

/// A data directory written by a sverka of schema version 1 (whose kind index left audit steps
/// out) is read as it is by a read-only open, and brought to the current version by the next
/// open that writes, its entries unchanged.
#[test]
fn a_version_1_directory_is_read_as_it_is_and_migrated_by_the_next_open_that_writes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = init(&dir, config.clone());
    assert!(store
        .submit_batch((1..=5).map(|seq| observer_protocol(1, seq)).collect())
        .iter()
        .all(Result::is_ok));
    let signed = store.checkpoint_now().unwrap();
    drop(store);
    let db = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
    db.execute_batch(
        "DROP INDEX entries_by_kind;
         CREATE INDEX entries_by_kind ON entries (kind) WHERE kind IN ('key_registration', 'key_revocation');
         UPDATE meta SET value = '1' WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(db);
    let schema_version = || {
        let db = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
        db.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };

    let reading = Store::open_read_only(&dir).unwrap();
    assert_eq!(reading.checkpoint().unwrap(), signed);
    assert_eq!(reading.entries(0..6).unwrap().len(), 6);
    drop(reading);
    assert_eq!(schema_version(), "1", "a read-only open migrates nothing");

    let writing = Store::open_with(&dir, config).unwrap();
    assert_eq!(writing.checkpoint().unwrap(), signed);
    assert_eq!(writing.submit(observer_protocol(1, 6)).unwrap().index, 6);
    drop(writing);
    assert_eq!(schema_version(), sverka_store::schema::SCHEMA_VERSION.to_string());
}
