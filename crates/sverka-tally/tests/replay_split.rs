//! A whole log's fold split by station over two threads (`Replay::split` / `Replay::join`,
//! what `sverka results` and `sverka publish` replay with) gives the snapshot of the fold of
//! the entries one by one, byte for byte, on a night with corrections, annulments (of a
//! station, of one contest, of an unknown station) and observers' copies: with the entries
//! routed as the store's reader routes them (`entry_part`), and then the same saved state too
//! (the observers' keys numbered alike), and routed wrongly on purpose (every entry to one
//! part, or by index), when the parts refuse the others' stations and the join folds those.
//! Indices repeated, missing or out of order are refused.

mod common;

use sverka_model::Source;
use sverka_tally::replay::{Replay, ReplayError, ReplayPartDone};
use sverka_tally::tabulate::{entry_part, PARTS};

/// Entry 0, the definition, and a simulated night's entries with three annulments put in.
fn log() -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let night = common::night_log(13, 300);
    let (election, mut entries) = (&night.election, night.entries.clone());
    let annul = |station: &str, contest: Option<&str>| {
        night.annulment(station, contest, "CEC decision No. 2").to_bytes()
    };
    let n = entries.len();
    entries.insert(n / 2, annul(&election.stations[5].id, None));
    entries.insert(n / 3, annul(&election.stations[8].id, Some(&election.contests[0].id)));
    entries.insert(n / 4, annul("no-such-station", None));
    (night.entry0.to_bytes(), night.definition, entries)
}

/// The replay of `entries` one by one.
fn one_by_one(entry0: &[u8], definition: &[u8], entries: &[Vec<u8>]) -> Replay {
    let mut replay = Replay::start(entry0, definition).unwrap();
    for (i, entry) in entries.iter().enumerate() {
        replay.apply(i as u64 + 1, entry).unwrap();
    }
    replay
}

/// Part `route(i, entry)` is given entry `i + 1`; what the parts folded, each on a thread.
fn fold_parts(
    replay: &Replay,
    entries: &[Vec<u8>],
    route: fn(usize, &[u8]) -> usize,
) -> Result<Vec<ReplayPartDone>, ReplayError> {
    let parts = replay.split().expect("a fresh replay with its sums deferred splits");
    assert_eq!(parts.len(), PARTS);
    std::thread::scope(|scope| {
        let folding: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(p, mut part)| {
                scope.spawn(move || {
                    for (i, entry) in entries.iter().enumerate() {
                        if route(i, entry) == p {
                            part.apply_stored(i as u64 + 1, entry)?;
                        }
                    }
                    Ok(part.finish())
                })
            })
            .collect();
        folding.into_iter().map(|f| f.join().unwrap()).collect()
    })
}

fn split(
    entry0: &[u8],
    definition: &[u8],
    entries: &[Vec<u8>],
    route: fn(usize, &[u8]) -> usize,
) -> Replay {
    let mut replay = Replay::start(entry0, definition).unwrap();
    replay.defer_sums();
    let parts = fold_parts(&replay, entries, route).unwrap();
    replay.join(parts).unwrap();
    replay.settle_sums();
    replay
}

#[test]
fn the_split_fold_gives_the_snapshot_of_the_fold_one_by_one() {
    let (entry0, definition, entries) = log();
    let expected = one_by_one(&entry0, &definition, &entries);
    let results = expected.tally().results(expected.election());
    assert!(!results.corrections.is_empty(), "the night has corrections");
    assert_eq!(results.annulments.len(), 2, "two annulments apply");
    assert_eq!(results.ignored.len(), 1, "the unknown station's is ignored");
    let observed = |c: &sverka_tally::tabulate::ContestResults| {
        c.progress.iter().find(|p| p.source == Source::Observer).unwrap().stations
    };
    assert!(results.contests.iter().any(|c| observed(c) > 0), "observers' copies");
    let root = [3; 32];
    let snapshot = expected.snapshot(root).unwrap();
    let state = expected.save_state();

    let routed = split(&entry0, &definition, &entries, |_, entry| entry_part(entry));
    assert_eq!(routed.size(), entries.len() as u64 + 1);
    assert!(routed.snapshot(root).unwrap() == snapshot, "routed by station: the snapshot");
    assert!(routed.save_state() == state, "routed by station: the saved state");

    let wrongly: [fn(usize, &[u8]) -> usize; 3] = [|_, _| 0, |_, _| PARTS - 1, |i, _| i % PARTS];
    for (n, route) in wrongly.into_iter().enumerate() {
        let replay = split(&entry0, &definition, &entries, route);
        assert_eq!(replay.size(), entries.len() as u64 + 1);
        assert!(replay.snapshot(root).unwrap() == snapshot, "routing {n}: the snapshot");
    }
    // Both parts get entries when routed by station.
    let first = entries.iter().filter(|e| entry_part(e) == 0).count();
    assert!(first > entries.len() / 3 && first < entries.len() * 2 / 3, "{first}");
}

#[test]
fn indices_repeated_missing_or_out_of_order_are_refused() {
    let (entry0, definition, entries) = log();
    let start = || {
        let mut replay = Replay::start(&entry0, &definition).unwrap();
        replay.defer_sums();
        replay
    };
    // Entry 1 given to its part and, again, to the other one (which refuses it for the join).
    let mut replay = start();
    let mut twice = fold_parts(&replay, &entries, |_, entry| entry_part(entry)).unwrap();
    let mut other = replay.split().unwrap().remove(1 - entry_part(&entries[0]));
    other.apply_stored(1, &entries[0]).unwrap();
    twice.push(other.finish());
    assert!(matches!(replay.join(twice), Err(ReplayError::OutOfOrder { .. })));
    // Entry 2 given to no part.
    let mut replay = start();
    let parts = fold_parts(&replay, &entries, |i, entry| match i {
        1 => PARTS,
        _ => entry_part(entry),
    })
    .unwrap();
    assert!(matches!(replay.join(parts), Err(ReplayError::OutOfOrder { .. })));
    // Out of order within a part, or before the split's size.
    let replay = start();
    let mut part = replay.split().unwrap().pop().unwrap();
    part.apply_stored(3, &entries[2]).unwrap();
    let late = part.apply_stored(2, &entries[1]);
    assert!(matches!(late, Err(ReplayError::OutOfOrder { expected: 4, got: 2 })), "{late:?}");
    let mut part = replay.split().unwrap().pop().unwrap();
    let zero = part.apply_stored(0, &entry0);
    assert!(matches!(zero, Err(ReplayError::OutOfOrder { expected: 1, got: 0 })), "{zero:?}");
    // Only a fresh replay with its sums deferred splits.
    let fresh = Replay::start(&entry0, &definition).unwrap();
    assert!(fresh.split().is_none(), "sums kept entry by entry");
    let mut folded = start();
    folded.apply(1, &entries[0]).unwrap();
    assert!(folded.split().is_none(), "an entry folded in already");
}
