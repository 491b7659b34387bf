//! Receipts: a new submission gets its index and leaf hash once durable; the same bytes again get
//! the same receipt with `new: false` and add nothing; a receipt looked up later carries an
//! inclusion proof in the signed checkpoint.

mod common;

use common::*;
use sverka_model::{Body, Source, Submission};
use sverka_store::{Config, Store, StoreError, SubmitError};

fn init_writes_the_election_as_entry_zero_and_signs_checkpoint_one(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = backend.init(&dir, Config::default());
    assert_eq!(store.tree_size().unwrap(), 1);
    let checkpoint = store.checkpoint().unwrap();
    assert_eq!(open_checkpoint(&checkpoint.note, store.verifier_key()).0, 1);
    assert!(checkpoint.note.starts_with("sverka.example/tiny\n1\n"));
    let entry = Submission::decode(&store.entry(0).unwrap().unwrap()).unwrap();
    assert_eq!(entry.payload.signer, "log");
    let Body::Election(definition) = &entry.payload.body else {
        panic!("entry 0 is not the election")
    };
    let blob = store.blob(&definition.definition_sha256).unwrap().expect("election.toml blob");
    assert_eq!(blob, election_toml().into_bytes());
    assert_eq!(store.election().id, "tiny");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keys/log.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the log key is readable by its owner only");
    }
}

fn init_refuses_an_existing_directory_and_a_bad_election(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    drop(backend.init(&dir, Config::default()));
    let again = Store::init(&dir, &election_toml(), "election.toml");
    assert!(matches!(again, Err(StoreError::NotEmpty(_))));
    let other = temp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        Store::init(&other, &election_toml(), "e.toml"),
        Err(StoreError::NotEmpty(_))
    ));
    assert_eq!(std::fs::read_to_string(other.join("notes.txt")).unwrap(), "mine");
    let bad = temp.path().join("bad");
    let result = Store::init(&bad, "id = 3", "bad.toml");
    assert!(matches!(result, Err(StoreError::Election(ref m)) if m.contains("bad.toml")));
    assert!(!bad.exists(), "a failed init leaves nothing behind");
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(backend.another().init(&empty, Config::default()).tree_size().unwrap(), 1);
}

fn the_same_bytes_twice_get_the_same_receipt_and_add_nothing(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let bytes = signed(
        MACHINE_1001.0,
        &key(MACHINE_1001.1),
        1,
        protocol_body("1001", Source::Machine, 250),
    );
    let first = store.submit(bytes.clone()).unwrap();
    assert_eq!((first.index, first.new), (1, true));
    assert_eq!(first.leaf_hash, sverka_tlog::leaf_hash(&bytes));
    let second = store.submit(bytes.clone()).unwrap();
    assert_eq!((second.index, second.leaf_hash, second.new), (1, first.leaf_hash, false));
    assert_eq!(store.tree_size().unwrap(), 2);
    // Twice in one batch: one entry, the second answer says so.
    let other = observer_protocol(0, 1);
    let answers = store.submit_batch(vec![other.clone(), other.clone(), bytes]);
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!((answers[0].index, answers[0].new), (2, true));
    assert_eq!((answers[1].index, answers[1].new), (2, false));
    assert_eq!((answers[2].index, answers[2].new), (1, false));
    assert_eq!(store.tree_size().unwrap(), 3);
    assert_eq!(store.quarantine_count().unwrap(), 0);
}

fn a_receipt_carries_an_inclusion_proof_once_a_checkpoint_covers_it(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let config = Config { checkpoint: sverka_store::CheckpointPolicy::Manual, ..Config::default() };
    let store = backend.init(&temp.path().join("data"), config);
    let receipt = store.submit(observer_protocol(1, 1)).unwrap();
    let before = store.receipt(&receipt.leaf_hash).unwrap().unwrap();
    assert_eq!(before.index, receipt.index);
    assert!(before.checkpoint.is_none(), "checkpoint 1 does not cover entry 1");
    let checkpoint = store.checkpoint_now().unwrap();
    assert_eq!(checkpoint.size, 2);
    let after = store.receipt(&receipt.leaf_hash).unwrap().unwrap();
    let covering = after.checkpoint.unwrap();
    assert_eq!(covering, checkpoint);
    sverka_tlog::verify_inclusion(&receipt.leaf_hash, 1, 2, &after.proof, &checkpoint.root)
        .unwrap();
    assert!(store.receipt(&sverka_tlog::leaf_hash(b"never sent")).unwrap().is_none());
}

fn receipts_survive_a_reopen_and_resubmission_after_it_is_still_a_repeat(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = backend.init(&dir, Config::default());
    let bytes: Vec<Vec<u8>> = (1..=300).map(|seq| observer_protocol(2, seq)).collect();
    let receipts: Vec<_> =
        store.submit_batch(bytes.clone()).into_iter().map(Result::unwrap).collect();
    drop(store);
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.tree_size().unwrap(), 301);
    let again = store.submit(bytes[10].clone()).unwrap();
    assert_eq!((again.index, again.new), (receipts[10].index, false));
    // The sequence number was refolded from the log: an older seq with new bytes is a replay.
    let replay = signed("obs-2", &observer(2).1, 5, protocol_body("1002", Source::Observer, 1));
    match store.submit(replay) {
        Err(SubmitError::Rejected(rejection)) => assert_eq!(rejection.codes(), ["E105"]),
        other => panic!("expected a replay rejection, got {other:?}"),
    }
    let acknowledged: Vec<_> = receipts.into_iter().zip(bytes).collect();
    assert_log_sound(&store, &acknowledged);
}

fn with_an_interval_policy_the_sequencer_signs_on_its_own_once_the_interval_passes(
    backend: &Backend,
) {
    let temp = tempfile::tempdir().unwrap();
    let every = std::time::Duration::from_millis(100);
    let config =
        Config { checkpoint: sverka_store::CheckpointPolicy::Interval(every), ..Config::default() };
    let store = backend.init(&temp.path().join("data"), config);
    store.submit(observer_protocol(3, 1)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.checkpoint().unwrap().size < 2 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint was signed within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(store.checkpoint_history().unwrap().len(), 2);
}

both_backends!(
    init_writes_the_election_as_entry_zero_and_signs_checkpoint_one,
    init_refuses_an_existing_directory_and_a_bad_election,
    the_same_bytes_twice_get_the_same_receipt_and_add_nothing,
    a_receipt_carries_an_inclusion_proof_once_a_checkpoint_covers_it,
    receipts_survive_a_reopen_and_resubmission_after_it_is_still_a_repeat,
    with_an_interval_policy_the_sequencer_signs_on_its_own_once_the_interval_passes,
);
