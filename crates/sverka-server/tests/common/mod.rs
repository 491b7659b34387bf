//! Shared by the server's tests: a simulated night of an example election, a server on a loopback
//! port chosen by the OS, batches of submissions sent to it, and the numbers of a snapshot.

#![allow(dead_code)]

use std::time::Duration;

use sverka_model::simulate::{Config as SimConfig, Night};

/// The tiny example election of the repository.
pub const TINY: &str = include_str!("../../../../examples/tiny/election.toml");

/// The 2021 Kyrgyz parliamentary election as the repository models it.
pub const KYRGYZSTAN_2021: &str =
    include_str!("../../../../examples/kyrgyzstan-2021/election.toml");

/// A simulated night: the election with its keys, and every submission line in night order.
pub struct SimulatedNight {
    pub election_toml: String,
    pub lines: Vec<Vec<u8>>,
}

/// Simulates the tiny election, rescaled to `stations` stations when given.
pub fn night(seed: u64, stations: Option<u64>) -> SimulatedNight {
    night_of(TINY, seed, stations)
}

/// Simulates the election `toml`, rescaled to `stations` stations when given.
pub fn night_of(toml: &str, seed: u64, stations: Option<u64>) -> SimulatedNight {
    let config = SimConfig {
        seed,
        stations,
        observer_discrepancy_count: 1,
        broken_relation_count: 1,
        ..SimConfig::default()
    };
    let night = Night::new("election.toml", toml, config).expect("the election simulates");
    SimulatedNight { election_toml: night.election_toml(), lines: lines_of(&night) }
}

/// Every submission line of `night`, in night order.
pub fn lines_of(night: &Night) -> Vec<Vec<u8>> {
    night
        .submissions()
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A running server over a fresh data directory.
pub struct TestServer {
    pub base: String,
    pub store: sverka_store::Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Limits for tests: small, fast checkpoints.
pub fn test_config() -> sverka_server::Config {
    sverka_server::Config {
        checkpoint_interval: Duration::from_millis(20),
        ..sverka_server::Config::default()
    }
}

/// Initialises a data directory for `election_toml` and serves it on 127.0.0.1 (port 0).
pub async fn start(election_toml: &str, config: sverka_server::Config) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store = sverka_store::Store::init_with(&data, election_toml, "election.toml", store_config)
        .expect("init");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = sverka_server::AppState::new(store.clone(), config);
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(sverka_server::run(listener, state, async move {
        let _ = stopped.await;
    }));
    TestServer { base, store, shutdown: Some(shutdown), handle: Some(handle), _dir: dir }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server");
        }
    }

    /// Waits until `/api/v1/results` names a checkpoint of at least `size` entries; returns it.
    pub async fn results_at_least(&self, client: &reqwest::Client, size: u64) -> serde_json::Value {
        for _ in 0..500 {
            let snapshot: serde_json::Value =
                client.get(self.url("/api/v1/results")).send().await.unwrap().json().await.unwrap();
            if checkpoint_size(&snapshot).is_some_and(|s| s >= size) {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("results never reached checkpoint size {size}");
    }
}

/// The checkpoint size a snapshot names.
pub fn checkpoint_size(snapshot: &serde_json::Value) -> Option<u64> {
    snapshot.pointer("/checkpoint/size").and_then(serde_json::Value::as_u64)
}

/// The path of the batch endpoint.
pub const BATCH: &str = "/api/v1/submissions/batch";

/// Sends `request`, a `POST` to [`BATCH`], which must be answered 200; the answer's result of each
/// item, in the order of the items.
pub async fn batch_results(request: reqwest::RequestBuilder) -> Vec<serde_json::Value> {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "a batch is answered 200");
    let mut answer: serde_json::Value = response.json().await.unwrap();
    match answer["results"].take() {
        serde_json::Value::Array(results) => results,
        other => panic!("a batch answer lists its results: {other}"),
    }
}

/// Sends `lines` as one batch to the server at `base`; per line, the log index the receipt
/// names, or `None` when the line was refused.
pub async fn submit_batch_to(
    base: &str,
    client: &reqwest::Client,
    lines: &[Vec<u8>],
) -> Vec<Option<u64>> {
    let request = client.post(format!("{base}{BATCH}")).body(lines.join(&b'\n'));
    let results = batch_results(request).await;
    results
        .iter()
        .map(|r| (r["status"] == 201).then(|| r["receipt"]["index"].as_u64().unwrap()))
        .collect()
}

/// [`submit_batch_to`] the test server.
pub async fn submit_batch(
    server: &TestServer,
    client: &reqwest::Client,
    lines: &[Vec<u8>],
) -> Vec<Option<u64>> {
    submit_batch_to(&server.base, client, lines).await
}

/// The numbers of one unit (`level` `id`: a region, a district) in `view` (official,
/// preliminary) of the contest `contest_id` in a published snapshot.
pub fn unit_in_snapshot<'a>(
    snapshot: &'a serde_json::Value,
    contest_id: &serde_json::Value,
    view: &str,
    level: &str,
    id: &str,
) -> &'a serde_json::Value {
    let contests = snapshot["contests"].as_array().expect("a snapshot lists its contests");
    let contest = contests.iter().find(|c| &c["id"] == contest_id).expect("the contest");
    let levels = contest[view]["levels"].as_array().expect("a view lists its levels");
    levels.iter().find(|l| l["level"] == level && l["id"] == id).expect("the unit")
}

/// An annulment of `station` (every contest) for `reason`, signed by the first CEC admin key of the
/// tiny election's simulated night `seed` as its sequence number 1,000,000 (above any the night
/// uses; keys depend only on the seed and the key id); also the admin key's id.
pub fn annulment_by_admin(
    seed: u64,
    election: &str,
    station: &str,
    reason: &str,
) -> (String, sverka_model::Submission) {
    let config = SimConfig { seed, ..Default::default() };
    let files = Night::new("election.toml", TINY, config).unwrap().key_files();
    let file = (files.iter())
        .find(|f| f.path.trim_start_matches("keys/").starts_with("admin"))
        .expect("an admin key");
    let id = file.path.trim_start_matches("keys/").trim_end_matches(".key").to_string();
    let key = sverka_model::keys::decode_private_key(&file.contents).expect("a private key");
    let payload = sverka_model::Payload {
        v: 1,
        election: election.to_string(),
        signer: id.clone(),
        seq: 1_000_000,
        time: Some("2026-03-02T09:00:00+06:00".to_string()),
        body: sverka_model::Body::Annulment(sverka_model::submission::Annulment {
            station: station.to_string(),
            contest: None,
            reason: reason.to_string(),
        }),
    };
    (id, payload.sign(&key))
}
