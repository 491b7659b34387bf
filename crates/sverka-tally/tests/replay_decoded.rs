//! `Replay::start_decoded` / `Replay::apply_decoded` take entries their caller has already decoded
//! (the observers' verify and the server's live task decode each entry once for their own checks):
//! the snapshots they give must be byte for byte those of `Replay::start` / `Replay::apply` on the
//! entries' bytes, and they refuse what `apply` refuses.

mod common;

use sverka_model::Submission;
use sverka_tally::replay::{Replay, ReplayError};

/// Entry 0 (the election definition signed by the log key), the definition, and a simulated
/// night's entries after it.
fn log() -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let night = common::night_log(7, 200);
    (night.entry0.to_bytes(), night.definition, night.entries)
}

#[test]
fn decoded_entries_give_the_same_snapshots_as_their_bytes() {
    let (entry0, definition, entries) = log();
    let mut from_bytes = Replay::start(&entry0, &definition).unwrap();
    let mut from_decoded =
        Replay::start_decoded(&Submission::decode(&entry0).unwrap(), &definition).unwrap();
    let points = [0, 1, entries.len() / 2, entries.len()];
    let mut applied = 0;
    for upto in points {
        while applied < upto {
            let index = applied as u64 + 1;
            from_bytes.apply(index, &entries[applied]).unwrap();
            let decoded = Submission::decode(&entries[applied]).unwrap();
            from_decoded.apply_decoded(index, &decoded).unwrap();
            applied += 1;
        }
        assert_eq!(from_decoded.size(), applied as u64 + 1);
        let root = [applied as u8; 32];
        let a = from_bytes.snapshot(root).unwrap();
        let b = from_decoded.snapshot(root).unwrap();
        assert!(a == b, "after {applied} entries the snapshots differ");
    }
    let parsed: serde_json::Value =
        serde_json::from_slice(&from_decoded.snapshot([0; 32]).unwrap()).unwrap();
    assert_eq!(parsed["checkpoint"]["size"], entries.len() as u64 + 1);
}

#[test]
fn decoded_entries_are_refused_out_of_order_or_as_a_second_election() {
    let (entry0, definition, entries) = log();
    let genesis = Submission::decode(&entry0).unwrap();
    let mut replay = Replay::start_decoded(&genesis, &definition).unwrap();
    let first = Submission::decode(&entries[0]).unwrap();
    assert!(matches!(
        replay.apply_decoded(2, &first),
        Err(ReplayError::OutOfOrder { expected: 1, got: 2 })
    ));
    assert!(matches!(
        replay.apply_decoded(1, &genesis),
        Err(ReplayError::SecondElection { index: 1 })
    ));
    assert_eq!(replay.size(), 1, "a refused entry is not folded in");
    assert!(matches!(Replay::start_decoded(&first, &definition), Err(ReplayError::NoElection)));
    let mut other = definition.clone();
    other.extend_from_slice(b"\n# edited\n");
    assert!(matches!(
        Replay::start_decoded(&genesis, &other),
        Err(ReplayError::DefinitionMismatch)
    ));
}
