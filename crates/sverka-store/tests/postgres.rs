//! What only the PostgreSQL store has: its append-only rules enforced by the server, several nodes
//! on one log (one sequencer, the others forwarding), the fencing of a deposed sequencer, moving a
//! SQLite data directory into PostgreSQL, and versioned migrations. The server comes from
//! `SVERKA_TEST_POSTGRES` (see `common`); without it these tests say they were skipped, and fail
//! under CI.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use sverka_store::{CheckpointPolicy, Config, Database, Store, StoreError, SubmitError};

fn url(backend: &Backend) -> &str {
    match backend {
        Backend::Postgres(url) => url,
        Backend::Sqlite => unreachable!("PostgreSQL tests only"),
    }
}

fn client(backend: &Backend) -> postgres::Client {
    postgres::Client::connect(url(backend), postgres::NoTls).expect("connect")
}

/// A second node: a copy of the first one's data directory (its key and `database` file).
fn copy_node(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("keys")).unwrap();
    for file in ["database", "keys/log.key"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_server_refuses_to_change_or_remove_entries_tiles_and_signed_checkpoints() {
    let Some(backend) = Backend::postgres() else { return };
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    for n in 0..300 {
        store.submit(observer_protocol(1, n + 1)).unwrap();
    }
    let mut client = client(&backend);
    for statement in [
        "UPDATE entries SET bytes = 'x' WHERE idx = 1",
        "DELETE FROM entries WHERE idx = 1",
        "TRUNCATE entries",
        "UPDATE tiles SET data = 'x'",
        "DELETE FROM tiles",
        "UPDATE signed_checkpoints SET note = 'x'",
        "DELETE FROM signed_checkpoints",
        "TRUNCATE signed_checkpoints",
    ] {
        let error = client.batch_execute(statement).expect_err(statement);
        let message = error.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(
            message.contains("append-only")
                || message.contains("immutable")
                || message.contains("history"),
            "{statement}: {message}"
        );
    }
    assert_eq!(store.tree_size().unwrap(), 301);
    assert_log_sound(&store, &[]);
}

#[test]
fn two_nodes_share_one_log_and_the_second_takes_over_when_the_first_closes() {
    let Some(backend) = Backend::postgres() else { return };
    let temp = tempfile::tempdir().unwrap();
    let notes = SignedNotes::default();
    let config = Config { on_checkpoint_signed: Some(notes.hook()), ..Config::default() };
    let first = backend.init(&temp.path().join("a"), config.clone());
    copy_node(&temp.path().join("a"), &temp.path().join("b"));
    let second = Store::open_with(&temp.path().join("b"), config).unwrap();
    assert!(first.is_sequencer(), "the first node took the lease");
    assert!(!second.is_sequencer(), "one sequencer at a time");

    // Submissions through either node land in the one log, each once.
    let mut acknowledged = Vec::new();
    for seq in 1..=20u64 {
        let node = if seq % 2 == 0 { &first } else { &second };
        let bytes = observer_protocol(2, seq);
        let receipt = node.submit(bytes.clone()).unwrap();
        assert!(receipt.new);
        acknowledged.push((receipt, bytes));
    }
    let repeat = second.submit(acknowledged[3].1.clone()).unwrap();
    assert_eq!((repeat.index, repeat.new), (acknowledged[3].0.index, false));
    // A rejection comes back through the queue with its code, and is quarantined once.
    let replay = signed(
        "obs-2",
        &observer(2).1,
        3,
        protocol_body("1002", sverka_model::Source::Observer, 1),
    );
    match second.submit(replay) {
        Err(SubmitError::Rejected(rejection)) => assert_eq!(rejection.codes(), ["E105"]),
        other => panic!("expected a replay rejection, got {other:?}"),
    }
    assert_eq!(second.quarantine_count().unwrap(), 1);
    assert_eq!(second.tree_size().unwrap(), 21);

    // The first node goes away; the second takes the lease, and signs what it finds.
    drop(first);
    wait_until("the second node taking over", || second.is_sequencer());
    let bytes = observer_protocol(2, 21);
    let receipt = second.submit(bytes.clone()).unwrap();
    acknowledged.push((receipt, bytes));
    let checkpoint = second.checkpoint_now().unwrap();
    assert_eq!(checkpoint.size, 22);
    assert_log_sound(&second, &acknowledged);
    assert_one_root_per_size(&notes.all(), second.verifier_key());
}

#[test]
fn a_deposed_sequencer_writes_nothing_and_its_node_recovers_by_taking_the_lease_again() {
    let Some(backend) = Backend::postgres() else { return };
    let temp = tempfile::tempdir().unwrap();
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = backend.init(&temp.path().join("data"), config);
    store.submit(observer_protocol(3, 1)).unwrap();
    // Another node's lease (as if this one's had ended): the fencing token moves on.
    let mut client = client(&backend);
    client.batch_execute("UPDATE sequencer SET token = token + 1, holder = 'elsewhere'").unwrap();
    let refused = store.submit(observer_protocol(3, 2));
    assert!(matches!(refused, Err(SubmitError::Store(_))), "got {refused:?}");
    let size: i64 = client.query_one("SELECT COUNT(*) FROM entries", &[]).unwrap().get(0);
    assert_eq!(size, 2, "the fenced batch wrote nothing");
    // Still holding the advisory lock, it gives it up and takes it again with a new token.
    wait_until("the node leading again", || store.is_sequencer());
    let receipt = store.submit(observer_protocol(3, 2)).unwrap();
    assert_eq!((receipt.index, receipt.new), (2, true));
    let holder: String = client.query_one("SELECT holder FROM sequencer", &[]).unwrap().get(0);
    assert_ne!(holder, "elsewhere");
}

#[test]
fn a_sqlite_data_directory_moves_into_postgresql_with_the_same_log() {
    let Some(backend) = Backend::postgres() else { return };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = Backend::Sqlite.init(&dir, Config::default());
    let bytes: Vec<Vec<u8>> = (1..=40).map(|seq| observer_protocol(4, seq)).collect();
    let receipts: Vec<_> =
        store.submit_batch(bytes.clone()).into_iter().map(Result::unwrap).collect();
    let bad = signed(
        "obs-4",
        &observer(4).1,
        1,
        protocol_body("1001", sverka_model::Source::Observer, 2),
    );
    assert!(store.submit(bad).is_err());
    let before = (
        store.checkpoint().unwrap(),
        store.checkpoint_history().unwrap(),
        store.entries(0..41).unwrap(),
    );
    drop(store);

    let moved = sverka_store::move_to_postgres(&dir, url(&backend)).unwrap();
    assert!(moved.rows.contains(&("entries", 41)));
    assert!(!dir.join("sverka.db").exists(), "the log lives in one place only");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.database(), &Database::Postgres(url(&backend).to_string()));
    let after = (
        store.checkpoint().unwrap(),
        store.checkpoint_history().unwrap(),
        store.entries(0..41).unwrap(),
    );
    assert_eq!(after, before);
    assert_eq!(store.quarantine_count().unwrap(), 1);
    let acknowledged: Vec<_> = receipts.into_iter().zip(bytes).collect();
    let next = store.submit(observer_protocol(4, 41)).unwrap();
    assert_eq!(next.index, 41);
    assert_eq!(store.quarantine(&Default::default()).unwrap().len(), 1);
    let again = store.submit(acknowledged[0].1.clone()).unwrap();
    assert_eq!((again.index, again.new), (acknowledged[0].0.index, false));
    assert_log_sound(&store, &acknowledged);

    // A database that holds a log takes no other.
    let other = temp.path().join("other");
    drop(Backend::Sqlite.init(&other, Config::default()));
    let refused = sverka_store::move_to_postgres(&other, url(&backend));
    assert!(matches!(refused, Err(StoreError::BadDatabase(ref m)) if m.contains("already holds")));
    assert!(other.join("sverka.db").exists(), "a refused move changes nothing");
}

#[test]
fn migrations_are_versioned_and_a_newer_schema_is_refused() {
    let Some(backend) = Backend::postgres() else { return };
    let database = Database::Postgres(url(&backend).to_string());
    let first = sverka_store::migrate_database(&database).unwrap();
    assert_eq!((first.from, first.to), (0, sverka_store::schema::PG_SCHEMA_VERSION));
    let again = sverka_store::migrate_database(&database).unwrap();
    assert_eq!((again.from, again.to), (first.to, first.to));
    let mut client = client(&backend);
    client.batch_execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'").unwrap();
    match sverka_store::migrate_database(&database) {
        Err(StoreError::SchemaTooNew { found: 99, supported }) => assert_eq!(supported, first.to),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}
