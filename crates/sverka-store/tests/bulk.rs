//! Bulk loads (`Store::submit_prepared_bulk`, what `sverka import` queues): the sequencer stages
//! consecutive bulk batches in one SQLite transaction and answers them when it commits. What a
//! user could notice: the log and every answer are those of one commit per batch (repeats,
//! warnings that compare with an entry staged earlier in the same transaction, rejections); a
//! failure rolls back and answers every batch of the transaction, and sending the same lines
//! again lands each exactly once; once a bulk batch could not be stored, no later one is (so a
//! rerun lands every line, even a signer's whose later lines came after the failure); a
//! checkpoint request commits what is staged; a server's ordinary batch after a bulk load is
//! its own commit.

mod common;

use common::*;
use sverka_model::{Body, Source};
use sverka_store::{
    CheckpointPolicy, Config, FaultAction, FaultPlan, FaultPoint, Incoming, Receipt, Store,
    SubmitError,
};

/// Six batches of 40 observer protocols, an observer per batch (so that a batch refused by a
/// failure can land later: a signer's sequence numbers only go up); with `repeats`, each batch
/// but the first repeats a line of the batch before it.
fn observer_night(repeats: bool) -> Vec<Vec<Vec<u8>>> {
    let mut batches: Vec<Vec<Vec<u8>>> =
        (0..6u8).map(|b| (1..=40).map(|i| observer_protocol(b, i)).collect()).collect();
    for b in (1..batches.len()).filter(|_| repeats) {
        let repeat = batches[b - 1][7].clone();
        batches[b].push(repeat);
    }
    batches
}

/// The lines of a small night, in batches: [`observer_night`] with repeats, the machine count of station 1001
/// in the third batch and its hand count (30 votes apart: warning W104) in the fourth, and a
/// submission reusing a sequence number (refused) in the fifth.
fn night() -> Vec<Vec<Vec<u8>>> {
    let mut batches = observer_night(true);
    let machine = key(MACHINE_1001.1);
    let operator = key(OPERATOR_D1.1);
    batches[2].push(signed(
        MACHINE_1001.0,
        &machine,
        1,
        protocol_body("1001", Source::Machine, 100),
    ));
    batches[3].push(signed(OPERATOR_D1.0, &operator, 1, protocol_body("1001", Source::Manual, 70)));
    let reused = Body::Annulment(sverka_model::submission::Annulment {
        station: "1002".into(),
        contest: None,
        reason: "the same sequence number again".into(),
    });
    batches[4].push(signed(MACHINE_1001.0, &machine, 1, reused));
    batches
}

fn incoming(batch: &[Vec<u8>]) -> Vec<Incoming> {
    batch.iter().map(|bytes| Incoming { bytes: bytes.clone(), sender: "test".into() }).collect()
}

/// An answer as a user sees it (index, new or repeat, warning codes; or the refusal's codes).
fn shown(answer: &Result<Receipt, SubmitError>) -> String {
    match answer {
        Ok(receipt) => {
            let codes: Vec<&str> = receipt.warnings.iter().map(|w| w.code.as_str()).collect();
            format!("{} new={} {codes:?}", receipt.index, receipt.new)
        }
        Err(SubmitError::Rejected(rejection)) => format!("refused {:?}", rejection.codes()),
        Err(SubmitError::Store(error)) => format!("store error: {error}"),
    }
}

/// Queues every batch as a bulk batch without waiting, then asks for a checkpoint and collects
/// the answers in order.
fn bulk_load(store: &Store, batches: &[Vec<Vec<u8>>]) -> Vec<Result<Receipt, SubmitError>> {
    let pending: Vec<_> = batches
        .iter()
        .map(|batch| store.submit_prepared_bulk(store.prepare(incoming(batch))))
        .collect();
    let checkpoint = store.checkpoint_now().expect("a checkpoint");
    let answers: Vec<_> = pending.into_iter().flat_map(|p| p.wait()).collect();
    assert_eq!(checkpoint.size, store.tree_size().unwrap(), "the checkpoint covers every commit");
    answers
}

#[test]
fn a_bulk_load_gives_the_log_and_the_answers_of_one_commit_per_batch() {
    let batches = night();
    let temp = tempfile::tempdir().unwrap();
    let one_by_one = init(&temp.path().join("a"), Config::default());
    let mut expected = Vec::new();
    for batch in &batches {
        expected.extend(one_by_one.submit_batch(batch.clone()));
    }
    let bulk = init(&temp.path().join("b"), Config::default());
    let answers = bulk_load(&bulk, &batches);
    let shown_all = |answers: &[Result<Receipt, SubmitError>]| -> Vec<String> {
        answers.iter().map(shown).collect()
    };
    assert_eq!(shown_all(&answers), shown_all(&expected));
    assert!(shown_all(&answers).iter().any(|a| a.contains("W104")), "the hand count's warning");
    assert_eq!(answers.iter().filter(|a| matches!(a, Ok(r) if !r.new)).count(), 5, "repeats");
    assert_eq!(answers.iter().filter(|a| a.is_err()).count(), 1, "the reused sequence number");
    let size = bulk.tree_size().unwrap();
    assert_eq!(size, one_by_one.tree_size().unwrap());
    assert_eq!(size, 1 + 6 * 40 + 2);
    // Entry 0 holds each store's own log key; every entry after it is the same bytes.
    assert_eq!(bulk.entries(1..size).unwrap(), one_by_one.entries(1..size).unwrap());
    let acknowledged: Vec<(Receipt, Vec<u8>)> = answers
        .iter()
        .zip(batches.iter().flatten())
        .filter_map(|(answer, bytes)| Some((answer.as_ref().ok()?.clone(), bytes.clone())))
        .collect();
    assert_log_sound(&bulk, &acknowledged);
    assert_eq!(bulk.quarantine_count().unwrap(), 1, "the refusal is quarantined");
}

/// A failure while a batch is staged rolls the whole transaction back: every batch in it, and
/// every bulk batch after it, is answered with the store's error and none of it is in the log;
/// the same lines sent again (on the store opened anew) land each exactly once.
#[test]
fn a_failed_bulk_transaction_answers_all_its_batches_and_a_rerun_lands_each_line_once() {
    // The third batch staged fails before or after its inserts (batches 1-3 are one
    // transaction, rolled back; 4-6 are refused unstored); or the one commit of all six
    // batches fails after it is made (answered with the error all the same, and in the log).
    let cases = [
        (FaultPoint::BeforeInsert, 3, 6),
        (FaultPoint::AfterTiles, 3, 6),
        (FaultPoint::AfterCommit, 1, 6),
    ];
    for (point, occurrence, failed_batches) in cases {
        let batches = observer_night(false);
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        let faults = FaultPlan::at(point, occurrence, FaultAction::Fail);
        let store = init(&dir, Config { faults, ..Config::default() });
        let answers = bulk_load(&store, &batches);
        let failed = answers.iter().filter(|a| matches!(a, Err(SubmitError::Store(_)))).count();
        let lines: usize = batches[..failed_batches].iter().map(Vec::len).sum();
        assert_eq!(failed, lines, "{point:?}: every batch of the transaction fails");
        let acknowledged: Vec<(Receipt, Vec<u8>)> = answers
            .iter()
            .zip(batches.iter().flatten())
            .filter_map(|(answer, bytes)| Some((answer.as_ref().ok()?.clone(), bytes.clone())))
            .collect();
        if point != FaultPoint::AfterCommit {
            // Rolled back, and nothing after it stored: no line is in the log.
            assert_eq!(store.tree_size().unwrap(), 1, "{point:?}: only entry 0");
        }
        drop(store);
        let store = Store::open(&dir).expect("reopen");
        assert_log_sound(&store, &acknowledged);
        let again = bulk_load(&store, &batches);
        assert!(again.iter().all(|a| a.is_ok()), "{point:?}: every line is taken");
        for (answer, bytes) in again.iter().zip(batches.iter().flatten()) {
            if let Ok(receipt) = answer {
                let first = acknowledged.iter().find(|(_, b)| b == bytes);
                if let Some((before, _)) = first {
                    assert_eq!((receipt.index, receipt.new), (before.index, false), "{point:?}");
                }
            }
        }
        assert_eq!(store.tree_size().unwrap(), 1 + 6 * 40, "{point:?}: each line once");
        let acknowledged: Vec<(Receipt, Vec<u8>)> = again
            .iter()
            .zip(batches.iter().flatten())
            .filter_map(|(answer, bytes)| Some((answer.as_ref().ok()?.clone(), bytes.clone())))
            .collect();
        assert_log_sound(&store, &acknowledged);
    }
}

/// One observer signs every line (sequence numbers 1 to 240, in six batches). The second bulk
/// transaction fails: had the batches after it been stored, the rerun would find the lost
/// lines' sequence numbers used up by later ones and refuse them as replays. Instead nothing
/// after the failure is stored, and the rerun lands every line, each once.
#[test]
fn nothing_after_a_failed_bulk_batch_is_stored_so_a_rerun_loses_no_line_to_a_replay() {
    let lines: Vec<Vec<u8>> = (1..=240).map(|seq| observer_protocol(0, seq)).collect();
    let batches: Vec<Vec<Vec<u8>>> = lines.chunks(40).map(<[Vec<u8>]>::to_vec).collect();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let faults = FaultPlan::at(FaultPoint::BeforeInsert, 3, FaultAction::Fail);
    let store = init(&dir, Config { faults, ..Config::default() });
    // Batches 1 and 2 are stored and committed first (a checkpoint commits what is staged).
    let first = bulk_load(&store, &batches[..2]);
    assert!(first.iter().all(Result::is_ok), "the first two batches are stored");
    let rest = bulk_load(&store, &batches[2..]);
    assert!(
        rest.iter().all(|a| matches!(a, Err(SubmitError::Store(_)))),
        "the failed batch and every one after it: {:?}",
        rest.iter().map(shown).collect::<std::collections::BTreeSet<_>>()
    );
    assert!(shown(&rest[100]).contains("earlier part of this bulk load"), "{}", shown(&rest[100]));
    assert_eq!(store.tree_size().unwrap(), 1 + 80, "nothing after the failure");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    let again = bulk_load(&store, &batches);
    let refused: Vec<String> = again.iter().filter(|a| a.is_err()).map(shown).collect();
    assert!(refused.is_empty(), "no line refused on the rerun: {refused:?}");
    assert_eq!(again.iter().filter(|a| matches!(a, Ok(r) if r.new)).count(), 160);
    assert_eq!(store.tree_size().unwrap(), 1 + 240, "each line once");
    let acknowledged: Vec<(Receipt, Vec<u8>)> = again
        .iter()
        .zip(&lines)
        .map(|(a, bytes)| (a.as_ref().unwrap().clone(), bytes.clone()))
        .collect();
    assert_log_sound(&store, &acknowledged);
}

/// A server's batch after bulk batches (the same store) commits the staged ones first and is
/// answered at once, as its own commit; with a signature per batch the bulk commit is signed.
#[test]
fn an_ordinary_batch_after_a_bulk_load_is_its_own_commit() {
    let batches = night();
    let temp = tempfile::tempdir().unwrap();
    let config = Config { checkpoint: CheckpointPolicy::EveryBatch, ..Config::default() };
    let store = init(&temp.path().join("data"), config);
    let pending: Vec<_> = batches[..3]
        .iter()
        .map(|batch| store.submit_prepared_bulk(store.prepare(incoming(batch))))
        .collect();
    let answers = store.submit_batch(batches[3].clone());
    assert!(answers.iter().all(|a| a.is_ok()));
    let staged: usize = batches[..3].iter().map(Vec::len).sum();
    let size = store.tree_size().unwrap();
    assert_eq!(size, 1 + 3 * 40 + 1 + 40 + 1, "the bulk batches were committed first");
    // Every batch signs (the policy): the bulk transaction's commit was signed before the
    // ordinary batch was taken (the ordinary batch's own signature follows its answers).
    assert!(store.checkpoint().unwrap().size > 3 * 40, "the bulk commit was signed");
    let bulk: Vec<_> = pending.into_iter().flat_map(|p| p.wait()).collect();
    assert_eq!(bulk.len(), staged);
    assert!(bulk.iter().all(|a| a.is_ok()));
}

/// On PostgreSQL bulk batches are committed one by one, with the same answers and log.
#[test]
fn on_postgresql_a_bulk_load_gives_the_same_answers() {
    let Some(backend) = Backend::postgres() else { return };
    let batches = night();
    let temp = tempfile::tempdir().unwrap();
    let sqlite = init(&temp.path().join("a"), Config::default());
    let expected: Vec<String> = batches
        .iter()
        .flat_map(|batch| sqlite.submit_batch(batch.clone()))
        .map(|answer| shown(&answer))
        .collect();
    let shared = backend.init(&temp.path().join("b"), Config::default());
    let answers: Vec<String> = bulk_load(&shared, &batches).iter().map(shown).collect();
    assert_eq!(answers, expected);
    let size = shared.tree_size().unwrap();
    assert_eq!(size, sqlite.tree_size().unwrap());
    assert_eq!(shared.entries(1..size).unwrap(), sqlite.entries(1..size).unwrap());
}
