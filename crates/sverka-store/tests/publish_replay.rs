//! The stored log's replay (`snapshot::replay_to`, behind `sverka results` and `sverka publish`'s
//! snapshot), which parses each entry straight from the database's row and reads the log a chunk
//! at a time: at every size, across the chunks, its snapshot is the one a replay of the same
//! entries one by one (`snapshot_of_entries`: each fully decoded, then folded) gives.

mod common;

use common::*;
use sverka_model::Source;
use sverka_store::snapshot::{replay_to, replay_to_with, Fold, SnapshotError};
use sverka_store::{Config, Store, StoreError};
use sverka_tally::replay::{snapshot_of_entries, Recompute, Replay, ReplayError};
use sverka_tally::snapshot::Piece;
use sverka_tally::tabulate::station_part;

/// Entries 1.. of a night: three observers' protocols for station 1001 (each one's later
/// protocols replacing its earlier ones), an annulment, and the two machines' protocols.
fn fill(store: &Store) {
    let mut bytes = Vec::new();
    for seq in 1..=1_400u64 {
        for n in 0..3 {
            bytes.push(observer_protocol(n, seq));
        }
        if seq == 700 {
            bytes.push(admin_annulment(1, 400));
        }
    }
    for (seq, (id, seed), station) in [(1, MACHINE_1001, "1001"), (1, MACHINE_1002, "1002")] {
        bytes.push(signed(id, &key(seed), seq, protocol_body(station, Source::Machine, 120)));
    }
    for answer in store.submit_batch(bytes) {
        answer.unwrap();
    }
}

fn the_replay_is_that_of_each_entry_in_turn_at_every_size(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    fill(&store);
    let size = store.checkpoint_now().unwrap().size;
    assert_eq!(size, 1 + 4_200 + 1 + 2);
    let entries = store.entries(0..size).unwrap();
    let definition = election_toml();
    let root = [7u8; 32];
    // One entry, two, a few more, around the database reads' 4,096 (entries 1 to 4,096 are
    // the first read), and every entry.
    for n in [1, 2, 64, 65, 66, 129, 4_096, 4_097, 4_098, size - 1, size] {
        let expected =
            snapshot_of_entries(&entries[..n as usize], definition.as_bytes(), root).unwrap();
        let replay = replay_to(&store, n).unwrap();
        assert_eq!(replay.size(), n);
        assert_eq!(replay.snapshot(root).unwrap(), expected, "replay of {n} entries");
        // Folded on one thread, and split by station over two (1001 and 1002 in different
        // parts).
        assert_ne!(station_part(b"1001"), station_part(b"1002"));
        for fold in [Fold::One, Fold::Split] {
            let replay = replay_to_with(&store, n, fold).unwrap();
            assert_eq!(replay.size(), n);
            let snapshot = replay.snapshot(root).unwrap();
            assert_eq!(snapshot, expected, "replay of {n} entries, {fold:?}");
        }
    }
}

fn a_replay_past_the_stored_log_or_of_nothing_is_refused(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    fill(&store);
    let size = store.checkpoint_now().unwrap().size;
    let past = replay_to(&store, size + 1);
    assert!(matches!(past, Err(SnapshotError::Store(StoreError::OutOfRange(_)))), "{past:?}");
    let nothing = replay_to(&store, 0);
    assert!(matches!(nothing, Err(SnapshotError::Replay(ReplayError::NoElection))), "{nothing:?}");
}

/// The snapshot's bytes as `write_snapshot_pieces` hands them on, and how many stations came
/// without bytes (left to the caller's previous pieces).
fn pieces(replay: &Replay, recompute: Recompute) -> (Vec<u8>, usize) {
    let (mut all, mut left) = (Vec::new(), 0);
    let finished = replay
        .write_snapshot_pieces([7; 32], recompute, &mut |piece| {
            match piece {
                Piece::Bytes(bytes) | Piece::Station { bytes: Some(bytes), .. } => {
                    all.extend_from_slice(bytes)
                }
                Piece::Station { bytes: None, .. } => left += 1,
            }
            true
        })
        .unwrap();
    assert!(finished);
    (all, left)
}

/// `replay_to` notes no touched stations (`sverka results` and `publish` write the snapshot
/// whole): until `forget_touched`, every station counts as touched and is recomputed.
fn before_forget_touched_every_station_is_recomputed(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    fill(&store);
    let size = store.checkpoint_now().unwrap().size;
    let mut replay = replay_to(&store, size).unwrap();
    let whole = replay.snapshot([7; 32]).unwrap();
    assert_eq!(replay.touched(), replay.election().stations.len());
    assert_eq!(pieces(&replay, Recompute::Touched), (whole.clone(), 0));
    replay.forget_touched();
    assert_eq!(replay.touched(), 0);
    let (_, left) = pieces(&replay, Recompute::Touched);
    assert!(left > 0, "after forget_touched the untouched stations come without bytes");
    assert_eq!(pieces(&replay, Recompute::All), (whole, 0));
}

both_backends!(
    the_replay_is_that_of_each_entry_in_turn_at_every_size,
    a_replay_past_the_stored_log_or_of_nothing_is_refused,
    before_forget_touched_every_station_is_recomputed,
);
