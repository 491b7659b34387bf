//! `Replay::write_snapshot` computes the stations' bytes on a second thread, a block of stations
//! at a time, while the calling thread writes the rest of the document and hands it on
//! (`snapshot::write_snapshot_computing_ahead`). Over a night of 2,494 stations (blocks of 1,024:
//! three blocks, the last one partial, in each of the two contests that list them all) the bytes
//! must be those of the one-thread path (`snapshot_json` of the results with every station
//! listed), whatever the pieces' sizes; and a sink that stops early gets a prefix of them and
//! `Ok(false)`, with the second thread stopped rather than left waiting.

use ed25519_dalek::SigningKey;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{ElectionDefinition, FORMAT_VERSION};
use sverka_model::{Body, Payload, Submission};
use sverka_tally::replay::Replay;
use sverka_tally::snapshot::{snapshot_json, Checkpoint};

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
