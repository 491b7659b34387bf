//! What the sequencer keeps in memory to go faster must not change what a clerk sees: a hand count
//! is compared (`W104`) with the latest machine count of its station, whether that count came in
//! the same batch, in an earlier one, was corrected since, or was written before the store was
//! reopened; and on SQLite the write-ahead log is copied into the database file while the store
//! runs (the sequencer's commits no longer do it themselves).

mod common;

use common::{key, protocol_body, signed, Backend, MACHINE_1001, MACHINE_1002, OPERATOR_D1};
use sverka_model::submission::Supersedes;
use sverka_model::{Body, CorrectionReason, Source};
use sverka_store::{Config, Receipt, Store};

fn warnings(receipt: &Receipt) -> Vec<String> {
    receipt.warnings.iter().map(|w| w.code.clone()).collect()
}

fn machine(station: &str, votes: u64) -> Body {
    protocol_body(station, Source::Machine, votes)
}

fn a_hand_count_is_compared_with_the_latest_machine_count(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let config = backend.config(Config::default());
    let store = common::init(&dir, config.clone());
    let m1001 = |seq, body| signed(MACHINE_1001.0, &key(MACHINE_1001.1), seq, body);
    let m1002 = |seq, body| signed(MACHINE_1002.0, &key(MACHINE_1002.1), seq, body);
    let hand = |seq, station: &str, votes| {
        let body = protocol_body(station, Source::Manual, votes);
        signed(OPERATOR_D1.0, &key(OPERATOR_D1.1), seq, body)
    };

    // Station 1001: the machine says 100, then corrects itself to 150; the hand count of 150
    // agrees with the correction, so no W104 (a comparison with the first count would warn).
    let first = store.submit(m1001(1, machine("1001", 100))).unwrap();
    assert!(warnings(&first).is_empty());
    let Body::Protocol(mut corrected) = machine("1001", 150) else { unreachable!() };
    corrected.supersedes =
        Some(Supersedes { index: first.index, reason: CorrectionReason::KeyingError });
    let correction = store.submit(m1001(2, Body::Protocol(corrected))).unwrap();
    assert!(correction.new, "the correction is accepted");
    let agreeing = store.submit(hand(1, "1001", 150)).unwrap();
    assert!(agreeing.new);
    assert!(!warnings(&agreeing).contains(&"W104".to_string()), "{:?}", warnings(&agreeing));

    // Station 1002: the machine count goes in, the store is closed and opened again, and a hand
    // count one vote off is compared with the count read from the log.
    assert!(store.submit(m1002(1, machine("1002", 100))).unwrap().new);
    drop(store);
    let store = Store::open_with(&dir, config).unwrap();
    let off_by_one = store.submit(hand(2, "1002", 101)).unwrap();
    assert!(off_by_one.new);
    let w104: Vec<_> = off_by_one.warnings.iter().filter(|w| w.code == "W104").collect();
    assert!(!w104.is_empty(), "{:?}", warnings(&off_by_one));

    // In one batch: a machine count and the hand count that disagrees with it.
    let batch = vec![m1002(2, machine("1002", 120)), hand(3, "1002", 100)];
    let outcomes: Vec<Receipt> =
        store.submit_batch(batch).into_iter().map(|outcome| outcome.unwrap()).collect();
    assert!(outcomes.iter().all(|receipt| receipt.new));
    assert!(warnings(&outcomes[1]).contains(&"W104".to_string()), "{:?}", outcomes[1].warnings);

    // In one batch: station 1001's machine count corrected twice (300, then 160), and a corrected
    // hand count of 160: it is compared with the batch's latest machine count, not its first.
    let correct = |station: &str, source: Source, votes: u64, index: u64| {
        let Body::Protocol(mut protocol) = protocol_body(station, source, votes) else {
            unreachable!()
        };
        protocol.supersedes = Some(Supersedes { index, reason: CorrectionReason::KeyingError });
        Body::Protocol(protocol)
    };
    let first_in_batch = store.tree_size().unwrap();
    let batch = vec![
        m1001(3, correct("1001", Source::Machine, 300, correction.index)),
        m1001(4, correct("1001", Source::Machine, 160, first_in_batch)),
        signed(
            OPERATOR_D1.0,
            &key(OPERATOR_D1.1),
            4,
            correct("1001", Source::Manual, 160, agreeing.index),
        ),
    ];
    let outcomes: Vec<Receipt> =
        store.submit_batch(batch).into_iter().map(|outcome| outcome.unwrap()).collect();
    assert!(outcomes.iter().all(|receipt| receipt.new));
    assert_eq!(outcomes[0].index, first_in_batch);
    assert!(warnings(&outcomes[0]).contains(&"W104".to_string()), "{:?}", outcomes[0].warnings);
    assert!(!warnings(&outcomes[2]).contains(&"W104".to_string()), "{:?}", outcomes[2].warnings);
}

both_backends!(a_hand_count_is_compared_with_the_latest_machine_count);

/// On SQLite the entries reach `sverka.db` itself while the store is open: the WAL is checkpointed
/// off the commit path, not left to grow until the store closes.
#[test]
fn the_wal_is_copied_into_the_database_file_while_the_store_runs() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = common::init(&dir, Config::default());
    let database = dir.join("sverka.db");
    let before = std::fs::metadata(&database).unwrap().len();
    for round in 0..4u64 {
        let batch = (0..common::OBSERVERS)
            .map(|n| common::observer_protocol(n, round + 1))
            .collect::<Vec<_>>();
        for outcome in store.submit_batch(batch) {
            assert!(outcome.unwrap().new);
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut after = before;
    while after <= before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = std::fs::metadata(&database).unwrap().len();
    }
    assert!(
        after > before,
        "sverka.db is still {before} bytes with 64 entries committed: nothing was checkpointed"
    );
    assert_eq!(store.tree_size().unwrap(), 65);
}
