//! `Replay::write_snapshot` computes the stations' bytes on threads of their own (one per core,
//! up to four), a block of stations at a time, while the calling thread writes the rest of the
//! document and hands it on (`snapshot::write_snapshot_computing_ahead`). Over a night of 2,494
//! stations (blocks of 1,024 positions: three, the last one partial, in each contest that lists
//! stations, dealt out in turn) the bytes must be those of the one-thread path (`snapshot_json`
//! of the results with every station listed), whatever the pieces' sizes and with one, two or
//! three threads; and a sink that stops early gets a prefix of them and `Ok(false)`, with the
//! other threads stopped rather than left waiting. A station function that gives fewer or more
//! stations than the contests list is a panic, not a shifted document.

use ed25519_dalek::SigningKey;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{ElectionDefinition, FORMAT_VERSION};
use sverka_model::{Body, Payload, Submission};
use sverka_tally::replay::Replay;
use sverka_tally::snapshot::{snapshot_json, write_snapshot_computing_ahead, Checkpoint};

/// The whole 2021 night (2,494 stations) replayed.
fn replayed_night() -> Replay {
    let text = include_str!("../../../examples/kyrgyzstan-2021/election.toml");
    let night = Night::new("election.toml", text, Config { seed: 5, ..Config::default() })
        .expect("the 2021 example simulates");
    let definition = night.election_toml().into_bytes();
    let key = SigningKey::from_bytes(&[9; 32]);
    let text = std::str::from_utf8(&definition).unwrap();
    let election_id = sverka_model::Election::from_toml("election.toml", text).unwrap().id;
    let entry0 = Payload {
        v: FORMAT_VERSION,
        election: election_id,
        signer: "log".into(),
        seq: 1,
        time: None,
        body: Body::Election(ElectionDefinition::of(&definition)),
    }
    .sign(&key);
    let mut replay = Replay::start_decoded(&entry0, &definition).unwrap();
    let submissions = night.submissions();
    let lines = submissions.split(|&b| b == b'\n').filter(|line| !line.is_empty());
    for (i, line) in lines.enumerate() {
        let submission = Submission::decode(line).unwrap();
        replay.apply_decoded(i as u64 + 1, &submission).unwrap();
    }
    replay
}

#[test]
fn the_stations_computed_ahead_give_the_one_thread_bytes_and_a_stop_is_clean() {
    let replay = replayed_night();
    let root = [7u8; 32];
    let results = replay.tally().results(replay.election());
    let listed: Vec<usize> = results.contests.iter().map(|c| c.stations.len()).collect();
    assert!(listed.iter().filter(|&&n| n > 2 * 1024).count() >= 1, "{listed:?}");
    let expected = snapshot_json(&results, &Checkpoint { size: replay.size(), root }).unwrap();

    let mut pieces = 0;
    let mut all = Vec::new();
    let finished = replay
        .write_snapshot(root, &mut |piece| {
            pieces += 1;
            all.extend_from_slice(piece);
            true
        })
        .unwrap();
    assert!(finished);
    assert!(pieces > 1, "handed on in pieces ({pieces}, {} bytes)", all.len());
    assert!(
        all == expected,
        "the same bytes as the one-thread path ({} vs {})",
        all.len(),
        expected.len()
    );
    assert_eq!(replay.snapshot(root).unwrap(), expected);

    // Stopped after the first piece: a prefix, `Ok(false)`, and the call returns.
    let mut first = Vec::new();
    let finished = replay
        .write_snapshot(root, &mut |piece| {
            first.extend_from_slice(piece);
            false
        })
        .unwrap();
    assert!(!finished);
    assert!(!first.is_empty() && first.len() < expected.len());
    assert_eq!(first[..], expected[..first.len()]);
}

#[test]
fn one_two_or_three_threads_give_the_same_bytes_and_stop_cleanly() {
    let replay = replayed_night();
    let checkpoint = Checkpoint { size: replay.size(), root: [5u8; 32] };
    let (tally, election) = (replay.tally(), replay.election());
    let results = tally.results(election);
    let expected = snapshot_json(&results, &checkpoint).unwrap();
    let listed = tally.listed_stations();
    let all = election.stations.len();
    let station = |c: usize, s: usize| tally.station_result(election, c, s);
    for threads in 1..=3 {
        let mut all_bytes = Vec::new();
        let finished = write_snapshot_computing_ahead(
            &results,
            &checkpoint,
            &listed,
            all,
            threads,
            &station,
            &mut |piece| {
                all_bytes.extend_from_slice(piece);
                true
            },
        )
        .unwrap();
        assert!(finished, "{threads} threads");
        assert!(all_bytes == expected, "{threads} threads: the one-thread path's bytes");

        let mut pieces = 0;
        let finished = write_snapshot_computing_ahead(
            &results,
            &checkpoint,
            &listed,
            all,
            threads,
            &station,
            &mut |_| {
                pieces += 1;
                pieces < 2
            },
        )
        .unwrap();
        assert!(!finished && pieces == 2, "{threads} threads: stopped at the second piece");
    }
}

#[test]
#[should_panic(expected = "as many stations as listed")]
fn a_station_missing_from_a_listed_contest_is_a_panic() {
    let replay = replayed_night();
    let checkpoint = Checkpoint { size: replay.size(), root: [5u8; 32] };
    let (tally, election) = (replay.tally(), replay.election());
    let results = tally.results(election);
    let listed = tally.listed_stations();
    let first = listed.iter().position(|&n| n > 0).unwrap();
    assert!(listed[first + 1..].iter().any(|&n| n > 0), "{listed:?}");
    // The first listing contest gives one station fewer than it lists: its last place would be
    // filled from the next contest's stations.
    let last = (0..election.stations.len())
        .rev()
        .find(|&s| tally.station_result(election, first, s).is_some())
        .unwrap();
    let station = |c: usize, s: usize| match (c, s) {
        (c, s) if c == first && s == last => None,
        (c, s) => tally.station_result(election, c, s),
    };
    let all = election.stations.len();
    let _ = write_snapshot_computing_ahead(
        &results,
        &checkpoint,
        &listed,
        all,
        2,
        &station,
        &mut |_| true,
    );
}
