//! What a reader (a browser, a poller, a CDN) notices of how the live results are cached: every
//! live page and API answer (the snapshot, the per-unit answers, the reconciliation page and
//! answer, the default "what changed") has a strong `ETag`, is answered `304 Not Modified` with no
//! body to a matching `If-None-Match`, says `Cache-Control: public, max-age=1,
//! stale-while-revalidate=5`; an API answer is exactly the slice of the snapshot it names; and a
//! page rendered ahead of a checkpoint for the readers who polled it (station pages included) is
//! byte for byte the page a server that never saw those readers renders for that checkpoint.

mod common;

use std::path::Path;
use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::{json, Value};

const LIVE_CACHE: &str = "public, max-age=1, stale-while-revalidate=5";

/// A server over the data directory `data` (opened, not initialised).
struct Served {
    base: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(data: &Path) -> Served {
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store = sverka_store::Store::open_with(data, store_config).expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = sverka_server::AppState::new(store, common::test_config());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(sverka_server::run(listener, state, async move {
        let _ = stopped.await;
    }));
    Served { base, shutdown, handle }
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.expect("server task").expect("server");
    }

    /// Sends `lines` in one batch; the number accepted.
    async fn submit(&self, client: &reqwest::Client, lines: &[Vec<u8>]) -> u64 {
        let answer: Value = client
            .post(self.url("/api/v1/submissions/batch"))
            .body(lines.join(&b'\n'))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["results"].as_array().unwrap().iter().filter(|r| r["status"] == 201).count() as u64
    }

    /// Waits until the results name a checkpoint of exactly `size` entries; returns the snapshot.
    async fn results_at(&self, client: &reqwest::Client, size: u64) -> Value {
        for _ in 0..500 {
            let snapshot: Value =
                client.get(self.url("/api/v1/results")).send().await.unwrap().json().await.unwrap();
            if common::checkpoint_size(&snapshot) == Some(size) {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("results never reached checkpoint size {size}");
    }
}

/// The answer of `/api/v1/results/{kind}/{id}` as the format (docs/formats.md) defines it, cut by
/// hand from the full snapshot `/api/v1/results` serves.
fn expected_answer(snapshot: &Value, kind: &str, id: &str) -> Value {
    let mut contests = Vec::new();
    for contest in snapshot["contests"].as_array().unwrap() {
        if kind == "station" {
            let Some(station) =
                contest["stations"].as_array().and_then(|all| all.iter().find(|s| s["id"] == id))
            else {
                continue;
            };
            contests.push(json!({"id": contest["id"], "kind": contest["kind"],
                "options": contest["options"], "lines": contest["lines"], "station": station}));
        } else {
            let level = |view: &str| {
                contest[view]["levels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["level"] == kind && l["id"] == id)
                    .cloned()
            };
            let (Some(official), Some(preliminary)) = (level("official"), level("preliminary"))
            else {
                continue;
            };
            contests.push(json!({"id": contest["id"], "kind": contest["kind"],
                "options": contest["options"], "official": official, "preliminary": preliminary}));
        }
    }
    let mut answer = json!({"checkpoint": snapshot["checkpoint"], "election": snapshot["election"],
        "contests": contests});
    if kind == "station" {
        answer["format"] = json!("sverka-station/v1");
        answer["station"] = json!(id);
    } else {
        answer["format"] = json!("sverka-level/v1");
        answer["level"] = json!(kind);
        answer["id"] = json!(id);
    }
    answer
}

/// GETs `path`; (status, ETag, Cache-Control, body).
async fn get(
    client: &reqwest::Client,
    url: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, String, String, Vec<u8>) {
    let mut request = client.get(url);
    if let Some(tag) = if_none_match {
        request = request.header(IF_NONE_MATCH, tag);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    };
    let (etag, cache) = (header(ETAG), header(CACHE_CONTROL));
    let status = response.status();
    (status, etag, cache, response.bytes().await.unwrap().to_vec())
}

/// What a reader polls: three pages and three API answers of one region, district and station,
/// the whole snapshot, and the reconciliation page and answer.
fn watched(election: &sverka_model::Election, station: &str) -> Vec<String> {
    let station = election.station(station).unwrap();
    vec![
        "/?lang=en".to_string(),
        format!("/district/{}?lang=ru", station.district),
        format!("/station/{}?lang=ky", station.id),
        format!("/api/v1/results/region/{}", station.region),
        format!("/api/v1/results/district/{}", station.district),
        format!("/api/v1/results/station/{}", station.id),
        "/api/v1/results".to_string(),
        "/reconciliation?lang=en".to_string(),
        "/api/v1/reconciliation".to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answers_have_strong_etags_304s_cache_headers_and_equal_a_fresh_rendering() {
    let night = common::night(5, None);
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    sverka_store::Store::init_with(&data, &night.election_toml, "election.toml", store_config)
        .expect("init");
    let client = reqwest::Client::new();
    let half = night.lines.len() / 2;
    // A station whose protocols come in the second half: its page changes between the checkpoints.
    let late = night.lines[half..]
        .iter()
        .find_map(|line| match sverka_model::Submission::decode(line).ok()?.payload.body {
            sverka_model::Body::Protocol(p) => Some(p.station),
            _ => None,
        })
        .expect("a protocol in the second half");
    let paths = watched(&election, &late);

    let first = serve(&data).await;
    let accepted = first.submit(&client, &night.lines[..half]).await;
    let before = first.results_at(&client, 1 + accepted).await;
    let mut old_tags = Vec::new();
    for path in &paths {
        let (status, etag, cache, body) = get(&client, &first.url(path), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{path}: a strong ETag, {etag}");
        assert_eq!(cache, LIVE_CACHE, "{path}");
        let (again, again_tag, again_cache, empty) =
            get(&client, &first.url(path), Some(&etag)).await;
        assert_eq!(again, StatusCode::NOT_MODIFIED, "{path}: the same ETag again is 304");
        assert!(empty.is_empty(), "{path}: a 304 has no body");
        assert_eq!((again_tag, again_cache), (etag.clone(), LIVE_CACHE.to_string()), "{path}");
        let listed = format!("\"other\", {etag}");
        assert_eq!(get(&client, &first.url(path), Some(&listed)).await.0, StatusCode::NOT_MODIFIED);
        if let Some(rest) = path.strip_prefix("/api/v1/results/") {
            let (kind, id) = rest.split_once('/').unwrap();
            let answer: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer, expected_answer(&before, kind, id), "{path}");
        }
        old_tags.push(etag);
    }
    // "What changed since the last checkpoint" moves with every checkpoint as the results do.
    let (status, etag, cache, _) = get(&client, &first.url("/changes?lang=en"), None).await;
    assert_eq!(status, StatusCode::OK, "/changes");
    assert!(etag.starts_with('"'), "/changes: a strong ETag, {etag}");
    assert_eq!(cache, LIVE_CACHE, "/changes");

    // The second half: the pages polled above are rendered for the new checkpoint before it is
    // published; each is new (a new ETag, answered 200 to the old one).
    let more = first.submit(&client, &night.lines[half..]).await;
    let size = 1 + accepted + more;
    let after = first.results_at(&client, size).await;
    let mut warmed = Vec::new();
    for (path, old) in paths.iter().zip(&old_tags) {
        let (status, etag, cache, body) = get(&client, &first.url(path), Some(old)).await;
        assert_eq!(status, StatusCode::OK, "{path}: changed, so the old ETag gets the new page");
        assert_ne!(&etag, old, "{path}");
        assert_eq!(cache, LIVE_CACHE, "{path}");
        if let Some(rest) = path.strip_prefix("/api/v1/results/") {
            let (kind, id) = rest.split_once('/').unwrap();
            let answer: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer, expected_answer(&after, kind, id), "{path}");
            assert_eq!(answer["checkpoint"]["size"], size);
        } else if path == "/api/v1/results" {
            let snapshot: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(snapshot, after, "{path}: the new checkpoint's snapshot");
        } else if path.contains("reconciliation") {
            let text = String::from_utf8(body.clone()).unwrap();
            assert!(text.contains(&size.to_string()), "{path} names checkpoint {size}");
        } else {
            let html = String::from_utf8(body.clone()).unwrap();
            assert!(html.contains(&format!("data-checkpoint-size=\"{size}\"")), "{path}");
        }
        warmed.push((etag, body));
    }
    first.stop().await;

    // A server that never saw those readers renders each page on request from the same log: the
    // same bytes and the same ETag.
    let fresh = serve(&data).await;
    assert_eq!(fresh.results_at(&client, size).await, after, "the same checkpoint's snapshot");
    for (path, (etag, body)) in paths.iter().zip(&warmed) {
        let (status, fresh_tag, _, fresh_body) = get(&client, &fresh.url(path), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            fresh_body == *body,
            "{path}: the page rendered ahead differs from a fresh rendering:\n{}\n---\n{}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&fresh_body)
        );
        assert_eq!(&fresh_tag, etag, "{path}: same bytes, same ETag");
    }
    fresh.stop().await;
}
