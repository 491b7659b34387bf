//! The live results task folds each entry once and keeps its tally between checkpoints; what it
//! publishes must still be, byte for byte, the snapshot a full replay of the log from entry 0
//! computes (`sverka_tally::replay`, what `sverka publish` and `sverka verify` use).

mod common;

use std::time::Duration;

use serde_json::Value;
use sverka_tally::replay::{snapshot_of_entries, Replay};

/// Polls `/api/v1/results` until it names a checkpoint of at least `size` entries; returns its
/// exact bytes.
async fn results_bytes_at_least(
    server: &common::TestServer,
    client: &reqwest::Client,
    size: u64,
) -> Vec<u8> {
    for _ in 0..500 {
        let bytes = client
            .get(server.url("/api/v1/results"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        if common::checkpoint_size(&value).is_some_and(|s| s >= size) {
            return bytes;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("results never reached checkpoint size {size}");
}

/// Polls the region answer of `region` until it names a checkpoint of at least `size` entries:
/// the results are published, without asking for the whole snapshot.
async fn published_at_least(
    server: &common::TestServer,
    client: &reqwest::Client,
    region: &str,
    size: u64,
) {
    for _ in 0..500 {
        let url = server.url(&format!("/api/v1/results/region/{region}"));
        let response = client.get(url).send().await.unwrap();
        if response.status().is_success() {
            let value: Value = response.json().await.unwrap();
            if common::checkpoint_size(&value).is_some_and(|s| s >= size) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("results never reached checkpoint size {size}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_published_snapshot_equals_a_full_replay_of_its_checkpoint() {
    published_snapshots_equal_full_replays(None, 4, false).await;
}

/// In small batches each checkpoint names only some of the stations, so the live task computes
/// only those again and reuses the other stations' results, and the snapshot re-encodes only the
/// stations changed since the snapshot written before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_recomputed_for_the_changed_stations_only_equal_full_replays() {
    published_snapshots_equal_full_replays(Some(120), 16, false).await;
}

/// The snapshot is written only when asked for: after checkpoints nobody asked it of, the bytes
/// re-encode the stations changed in all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_asked_for_after_unasked_checkpoints_equal_full_replays() {
    published_snapshots_equal_full_replays(Some(120), 16, true).await;
}

/// Sends a simulated night (rescaled to `stations`) in `parts` batches (the second straight into
/// the store) and compares, after each (with `skip`, after every third only, waiting for the
/// others' results to be published without asking for the snapshot), the published snapshot with
/// a full replay of the log to its checkpoint.
async fn published_snapshots_equal_full_replays(stations: Option<u64>, parts: usize, skip: bool) {
    let night = common::night(7, stations);
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let region = election.regions[0].id.clone();
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let chunks: Vec<&[Vec<u8>]> = night.lines.chunks(night.lines.len().div_ceil(parts)).collect();
    assert!(chunks.len() >= 3, "the night is sent in several batches, so several checkpoints");
    let mut compared = Vec::new();
    for (number, chunk) in chunks.into_iter().enumerate() {
        if number == 1 {
            // As `sverka import` appends: straight into the store, so the live task reads and
            // decodes these entries from the log (it notices them within its 5 s poll) instead
            // of taking them from the API already decoded.
            let answers = server.store.submit_batch(chunk.to_vec());
            assert!(answers.iter().any(|a| a.as_ref().is_ok_and(|r| r.new)), "appended some");
        } else {
            let body = chunk.join(&b'\n');
            let response = client
                .post(server.url("/api/v1/submissions/batch"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "batch answered {}", response.status());
        }
        let target = server.store.tree_size().unwrap();
        if skip && number % 3 != 2 {
            published_at_least(&server, &client, &region, target).await;
            continue;
        }
        compared.push(published_equals_replay(&server, &client, target).await);
    }
    compared.dedup();
    assert!(compared.len() >= 3, "compared at several checkpoints: {compared:?}");
    server.stop().await;
}

/// The published snapshot once it names a checkpoint of at least `target` entries, checked to
/// name the signed root and compared byte for byte with a full replay of the log to that
/// checkpoint; returns the checkpoint's size.
async fn published_equals_replay(
    server: &common::TestServer,
    client: &reqwest::Client,
    target: u64,
) -> u64 {
    let published = results_bytes_at_least(server, client, target).await;
    let value: Value = serde_json::from_slice(&published).unwrap();
    let size = common::checkpoint_size(&value).unwrap();
    let signed = (server.store.checkpoint_history().unwrap().into_iter())
        .find(|c| c.size == size)
        .expect("the published checkpoint was signed");
    assert_eq!(value["checkpoint"]["root"], signed.root.to_hex(), "names the signed root");
    let entries = server.store.entries(0..size).unwrap();
    let definition = server
        .store
        .blob(&Replay::definition_sha256(&entries[0]).unwrap())
        .unwrap()
        .expect("the definition blob");
    let replayed = snapshot_of_entries(&entries, &definition, *signed.root.as_bytes()).unwrap();
    assert!(
        published == replayed,
        "checkpoint {size}: the live snapshot differs from a full replay"
    );
    size
}

/// Protocols are folded from their bytes read in place; an entry that is not a protocol (here an
/// annulment, sent through the API between two batches of protocols) is decoded and folded the
/// typed way, and what is published is still what a full replay computes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annulment_among_protocols_is_folded_as_a_full_replay_folds_it() {
    let night = common::night(8, None);
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let (first, second) = night.lines.split_at(night.lines.len() / 2);
    common::submit_batch(&server, &client, first).await;
    let before = published_equals_replay(&server, &client, server.store.tree_size().unwrap()).await;
    let station = (first.iter())
        .map(|line| sverka_model::Submission::decode(line).unwrap())
        .find_map(|s| match s.payload.body {
            sverka_model::Body::Protocol(p) => Some(p.station),
            _ => None,
        })
        .unwrap();
    let (_, annulment) =
        common::annulment_by_admin(8, &election.id, &station, "CEC decision No. 7");
    let bytes = annulment.to_bytes();
    assert!(
        sverka_model::protocol_view::ProtocolView::parse(&bytes).is_none(),
        "an annulment is not read in place"
    );
    let mut lines = vec![bytes];
    lines.extend_from_slice(second);
    let receipts = common::submit_batch(&server, &client, &lines).await;
    assert!(receipts[0].is_some(), "the annulment was appended");
    let after = published_equals_replay(&server, &client, server.store.tree_size().unwrap()).await;
    assert!(after > before + 1, "the annulment and more protocols were folded in");
    let value: Value =
        serde_json::from_slice(&results_bytes_at_least(&server, &client, after).await).unwrap();
    assert!(value.to_string().contains("CEC decision No. 7"), "the annulment is in the results");
    server.stop().await;
}
