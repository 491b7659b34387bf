//! `Replay::write_snapshot_pieces` with `Recompute::Touched` recomputes only the stations that
//! entries since `Replay::forget_touched` name, and hands the others on without bytes: with those
//! filled in from the previous snapshot's pieces, the document must be byte for byte the full
//! snapshot (`Replay::snapshot`), at every point of a simulated night with an annulment in it,
//! and far fewer stations are recomputed than listed. This is what lets `sverka verify --state`
//! check a 250,000-station snapshot after 2,500 new entries without re-serialising the nation.

mod common;

use std::collections::{HashMap, HashSet};

use sverka_model::{Body, Submission};
use sverka_tally::replay::{Recompute, Replay};
use sverka_tally::snapshot::Piece;

/// Entry 0, the definition, and the night's entries with an annulment of one station put in.
fn log() -> (Submission, Vec<u8>, Vec<Submission>) {
    let night = common::night_log(11, 200);
    let mut entries: Vec<Submission> =
        night.entries.iter().map(|line| Submission::decode(line).unwrap()).collect();
    let annulment = night.annulment(&night.election.stations[3].id, None, "CEC decision No. 1");
    let at = entries.len() * 3 / 4;
    entries.insert(at, annulment);
    (night.entry0, night.definition, entries)
}

/// Each station's bytes by (contest, position in its `stations` list).
type StationBytes = HashMap<(usize, usize), Vec<u8>>;

/// The snapshot as pieces, with the stations not recomputed filled in from `before`; the pieces
/// of this snapshot; and how many stations were recomputed.
fn assemble(
    replay: &Replay,
    recompute: Recompute,
    before: &StationBytes,
) -> (Vec<u8>, StationBytes, usize) {
    let (mut all, mut pieces, mut recomputed) = (Vec::new(), HashMap::new(), 0);
    let finished = replay
        .write_snapshot_pieces([7; 32], recompute, &mut |piece| {
            match piece {
                Piece::Bytes(bytes) => all.extend_from_slice(bytes),
                Piece::Station { contest, station, bytes } => {
                    let bytes = match bytes {
                        Some(bytes) => {
                            recomputed += 1;
                            bytes.to_vec()
                        }
                        None => before[&(contest, station)].clone(),
                    };
                    all.extend_from_slice(&bytes);
                    pieces.insert((contest, station), bytes);
                }
            }
            true
        })
        .unwrap();
    assert!(finished);
    (all, pieces, recomputed)
}

#[test]
fn recomputing_only_the_touched_stations_gives_the_full_snapshot_byte_for_byte() {
    let (entry0, definition, entries) = log();
    let election = sverka_model::Election::from_toml(
        "election.toml",
        std::str::from_utf8(&definition).unwrap(),
    )
    .unwrap();
    let mut replay = Replay::start_decoded(&entry0, &definition).unwrap();
    let (first, mut before, listed) = assemble(&replay, Recompute::All, &HashMap::new());
    assert_eq!(first, replay.snapshot([7; 32]).unwrap(), "all pieces are the snapshot");
    assert!(listed >= 200, "every station is listed ({listed})");
    replay.forget_touched();
    let step = entries.len() / 9;
    let mut applied = 0;
    while applied < entries.len() {
        let upto = (applied + step).min(entries.len());
        let mut named = HashSet::new();
        for (k, submission) in entries[applied..upto].iter().enumerate() {
            match &submission.payload.body {
                Body::Protocol(p) => named.insert(p.station.clone()),
                Body::Annulment(a) => named.insert(a.station.clone()),
                _ => false,
            };
            replay.apply_decoded((applied + k) as u64 + 1, submission).unwrap();
        }
        applied = upto;
        assert_eq!(replay.touched(), named.len(), "the stations the new entries name");
        let (pieces, now, recomputed) = assemble(&replay, Recompute::Touched, &before);
        let whole = replay.snapshot([7; 32]).unwrap();
        assert!(pieces == whole, "after {applied} entries the pieces differ from the snapshot");
        let expected: usize = election
            .contests
            .iter()
            .map(|c| {
                election.stations.iter().filter(|s| named.contains(&s.id) && c.covers(s)).count()
            })
            .sum();
        assert_eq!(recomputed, expected, "only the named stations are recomputed, per contest");
        assert!(recomputed < listed, "after {applied} entries");
        before = now;
        replay.forget_touched();
    }
    let parsed: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(parsed["entries"]["applied"], 0);
}
