//! The HTTP contract over real loopback HTTP: receipts, idempotent resubmission, rejections as
//! problem+json with their codes and no trace in the log, batches, limits, results with ETags, the
//! static publication's cache headers, and receipts with inclusion proofs.

mod common;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_submission_gets_201_and_the_same_bytes_again_get_200_with_the_same_receipt() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let line = night.lines[0].clone();

    let first =
        client.post(server.url("/api/v1/submissions")).body(line.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["index"], 1, "entry 0 is the election definition");
    assert_eq!(first["leaf_hash"].as_str().unwrap(), sverka_tlog::leaf_hash(&line).to_hex());

    let again = client.post(server.url("/api/v1/submissions")).body(line).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(server.store.tree_size().unwrap(), 2, "the repeat added nothing");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bytes_get_400_problem_json_with_their_code_and_leave_the_log_alone() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let before = server.store.tree_size().unwrap();

    let response = client
        .post(server.url("/api/v1/submissions"))
        .body("{\"payload\": nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "E002");
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["type"], "urn:sverka:problem:E002");
    assert!(problem["title"].is_string() && problem["detail"].is_string());
    let finding = &problem["findings"][0];
    assert_eq!(finding["code"], "E002");
    assert!(finding["message"].as_str().unwrap().contains("JSON"));
    for lang in ["ky", "ru", "en"] {
        let message = finding["messages"][lang].as_str().unwrap();
        assert!(message.contains("JSON") && !message.contains("{detail}"), "{lang}: {message}");
    }

    // Not canonical: the same submission with a space added.
    let mut spaced = night.lines[0].clone();
    spaced.insert(1, b' ');
    let response =
        client.post(server.url("/api/v1/submissions")).body(spaced).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "E004");

    assert_eq!(server.store.tree_size().unwrap(), before, "nothing appended");
    let quarantine: Value =
        client.get(server.url("/api/v1/quarantine")).send().await.unwrap().json().await.unwrap();
    let codes: Vec<&str> =
        quarantine.as_array().unwrap().iter().map(|r| r["codes"][0].as_str().unwrap()).collect();
    assert_eq!(codes, ["E002", "E004"], "both kept in quarantine with their codes");
    assert_eq!(quarantine[0]["text"], "{\"payload\": nope");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_with_their_own_codes() {
    let night = common::night(1, None);
    let config = sverka_server::Config { max_batch_items: 3, ..common::test_config() };
    let server = common::start(&night.election_toml, config).await;
    // No connection reuse: the server answers 413 before reading an oversized body and closes the
    // connection, and a pooled connection would race that close.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();

    let huge = vec![b'x'; 70 * 1024];
    let response = client.post(server.url("/api/v1/submissions")).body(huge).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H001");

    let four = night.lines[..4].join(&b'\n');
    let response = client.post(server.url(common::BATCH)).body(four).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H004");

    let response = client.post(server.url(common::BATCH)).body("[1,").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H005");

    let response = client.get(server.url("/api/v1/receipts/nothex")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H008");

    let response = client.get(server.url("/no/such/route")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H006");
    assert_eq!(server.store.tree_size().unwrap(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let night = common::night(1, None);
    let config = sverka_server::Config { max_pending_submissions: 1, ..common::test_config() };
    let server = common::start(&night.election_toml, config).await;
    let client = reqwest::Client::new();
    // Many concurrent batches against one permit: some must be turned away, none may fail otherwise.
    let body = night.lines.join(&b'\n');
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url, body) = (client.clone(), server.url(common::BATCH), body.clone());
        tasks.push(tokio::spawn(async move { client.post(url).body(body).send().await.unwrap() }));
    }
    let mut busy = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status() {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()[RETRY_AFTER], "1");
                assert_eq!(response.json::<Value>().await.unwrap()["code"], "H003");
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "16 concurrent batches through one permit: at least one must be told to retry"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answer_per_item_and_the_publication_carries_cache_headers() {
    // 120 stations: enough entries for a full tile of 256 hashes.
    let night = common::night(2, Some(120));
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    assert!(night.lines.len() > 300, "{} lines", night.lines.len());

    let mut jsonl = night.lines.join(&b'\n');
    jsonl.extend_from_slice(b"\nnot json\n");
    let request = client
        .post(server.url(common::BATCH))
        .header(CONTENT_TYPE, "application/jsonl")
        .body(jsonl);
    let results = common::batch_results(request).await;
    assert_eq!(results.len(), night.lines.len() + 1);
    assert_eq!(results.last().unwrap()["status"], 400);
    assert_eq!(results.last().unwrap()["problem"]["code"], "E002");
    let created = results.iter().filter(|r| r["status"] == 201).count() as u64;
    assert!(created > 256);

    // The same batch as a JSON array: every accepted item is now a 200 with the same receipt.
    let array = format!(
        "[{}]",
        night.lines.iter().map(|l| String::from_utf8_lossy(l)).collect::<Vec<_>>().join(",")
    );
    let again = common::batch_results(client.post(server.url(common::BATCH)).body(array)).await;
    assert_eq!(again.len(), results.len() - 1);
    for (first, second) in results.iter().zip(&again) {
        if first["status"] == 201 {
            assert_eq!(second["status"], 200);
            assert_eq!(second["receipt"]["index"], first["receipt"]["index"]);
            assert_eq!(second["receipt"]["leaf_hash"], first["receipt"]["leaf_hash"]);
            assert!(second["receipt"].get("warnings").is_none(), "warnings come with the 201 only");
        }
    }

    let size = 1 + created;
    server.results_at_least(&client, size).await;
    let checkpoint = client.get(server.url("/checkpoint")).send().await.unwrap();
    assert_eq!(checkpoint.status(), StatusCode::OK);
    assert_eq!(checkpoint.headers()[CACHE_CONTROL], "no-cache");
    let note = checkpoint.text().await.unwrap();
    assert!(note.lines().nth(1) == Some(size.to_string().as_str()), "{note}");

    let full = client.get(server.url("/tile/0/000")).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(full.bytes().await.unwrap().len(), 256 * 32);
    let bundle = client.get(server.url("/tile/entries/000")).send().await.unwrap();
    assert_eq!(bundle.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    let partial_width = size % 256;
    let partial =
        client.get(server.url(&format!("/tile/0/001.p/{partial_width}"))).send().await.unwrap();
    assert_eq!(partial.status(), StatusCode::OK);
    assert_eq!(partial.headers()[CACHE_CONTROL], "public, max-age=60");
    let missing = client.get(server.url("/tile/0/999")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let vkey = client.get(server.url("/log.vkey")).send().await.unwrap().text().await.unwrap();
    assert!(vkey.starts_with("sverka.example/tiny+"), "{vkey}");

    let snapshot = client.get(server.url(&format!("/snapshot/{size}.json"))).send().await.unwrap();
    assert_eq!(snapshot.status(), StatusCode::OK);
    assert_eq!(snapshot.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    let snapshot: Value = snapshot.json().await.unwrap();
    assert_eq!(common::checkpoint_size(&snapshot), Some(size));
    let first = client.get(server.url("/snapshot/1.json")).send().await.unwrap();
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "the checkpoint signed at init has its snapshot too"
    );
    assert_eq!(
        client.get(server.url("/snapshot/2.json")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_carry_an_etag_and_answer_304_and_receipts_gain_an_inclusion_proof() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let receipt: Value = client
        .post(server.url("/api/v1/submissions"))
        .body(night.lines[0].clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let snapshot = server.results_at_least(&client, 2).await;
    assert_eq!(
        snapshot.pointer("/checkpoint/root").and_then(Value::as_str).map(str::len),
        Some(64)
    );

    let response = client.get(server.url("/api/v1/results")).send().await.unwrap();
    let etag = response.headers()[ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"2-"), "{etag}");
    let cached = client
        .get(server.url("/api/v1/results"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert!(cached.bytes().await.unwrap().is_empty());

    let leaf = receipt["leaf_hash"].as_str().unwrap();
    let found: Value = client
        .get(server.url(&format!("/api/v1/receipts/{leaf}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["index"], 1);
    assert_eq!(found["checkpoint"]["size"], 2);
    let proof: Vec<sverka_tlog::Hash> = found["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| sverka_tlog::Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    let root = sverka_tlog::Hash::from_hex(found["checkpoint"]["root"].as_str().unwrap()).unwrap();
    let leaf_hash = sverka_tlog::Hash::from_hex(leaf).unwrap();
    assert!(
        sverka_tlog::verify_inclusion(&leaf_hash, 1, 2, &proof, &root).is_ok(),
        "the proof verifies"
    );
    let unknown = client
        .get(server.url(&format!("/api/v1/receipts/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_announces_checkpoints() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let mut events = client.get(server.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(events.headers()[CONTENT_TYPE], "text/event-stream");
    let first = String::from_utf8(events.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("event: checkpoint") && first.contains("\"size\":1"), "{first}");
    client
        .post(server.url("/api/v1/submissions"))
        .body(night.lines[0].clone())
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("\"size\":2") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(events);
    server.stop().await;
}

/// Two lines of the night signed by the same key (an operator's hand counts), in night order.
fn same_signer_pair(lines: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let signer = |line: &[u8]| -> String {
        let value: Value = serde_json::from_slice(line).unwrap();
        value["payload"]["signer"].as_str().unwrap().to_string()
    };
    for (i, first) in lines.iter().enumerate() {
        if let Some(second) = lines[i + 1..].iter().find(|l| signer(l) == signer(first)) {
            return (first.clone(), second.clone());
        }
    }
    panic!("no key signs two lines of the night");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_address_and_per_key_answer_429_with_their_own_codes() {
    let night = common::night(1, None);
    let slow = |burst| Some(sverka_server::limits::RateLimit::new(0.001, burst).unwrap());
    let config = sverka_server::Config { rate_per_ip: slow(3), ..common::test_config() };
    let server = common::start(&night.election_toml, config).await;
    let client = reqwest::Client::new();
    for line in &night.lines[..3] {
        let response =
            client.post(server.url("/api/v1/submissions")).body(line.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response =
        client.post(server.url(common::BATCH)).body(night.lines[3].clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "1000", "one token every 1000 s");
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "H009");
    assert_eq!(server.store.tree_size().unwrap(), 4, "the refused request appended nothing");
    server.stop().await;

    let config = sverka_server::Config { rate_per_key: slow(1), ..common::test_config() };
    let server = common::start(&night.election_toml, config).await;
    let (first, second) = same_signer_pair(&night.lines);
    // Forgeries naming the key (a signature that does not verify) do not use up its allowance.
    let mut forged: Value = serde_json::from_slice(&first).unwrap();
    forged["signature"] = Value::String(signature_of_zeros());
    let forged = serde_json::to_vec(&forged).unwrap();
    for _ in 0..3 {
        let response = client
            .post(server.url("/api/v1/submissions"))
            .body(forged.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "E104");
    }
    let response = client.post(server.url("/api/v1/submissions")).body(first).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "the key's one token was still there");
    let response =
        client.post(server.url("/api/v1/submissions")).body(second.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "1000");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "H010");
    let batch = common::batch_results(client.post(server.url(common::BATCH)).body(second)).await;
    assert_eq!(batch[0]["status"], 429);
    assert_eq!(batch[0]["problem"]["code"], "H010");
    assert_eq!(server.store.tree_size().unwrap(), 2);
    assert_eq!(server.store.quarantine_count().unwrap(), 3, "only the forgeries are quarantined");
    server.stop().await;
}

/// Base64 of 64 zero bytes: a well-formed signature that verifies for nothing.
fn signature_of_zeros() -> String {
    "A".repeat(86) + "=="
}

/// `(station, contest, source)` of a protocol line.
fn about(line: &[u8]) -> (String, String, String) {
    let value: Value = serde_json::from_slice(line).unwrap();
    let field = |name: &str| value["payload"][name].as_str().unwrap_or_default().to_string();
    (field("station"), field("contest"), field("source"))
}

/// Issue 4, "Done when": a simulated 2021 night POSTed line by line in night order (machines,
/// then hand counts, then observers' copies), every line sent twice. Each planted broken control
/// relation is refused with E401 (both times), each planted machine/hand-count mismatch is
/// accepted with W104 on the hand count, and everything else lands exactly once: the second
/// sending of an accepted line gets the same receipt and appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2021_night_over_http_with_every_line_sent_twice_lands_exactly_once() {
    use sverka_model::simulate::{Config as SimConfig, DefectKind, Night};
    let config = SimConfig {
        seed: 3,
        stations: Some(120),
        observer_discrepancy_count: 1,
        broken_relation_count: 2,
        ..SimConfig::default()
    };
    let night = Night::new("election.toml", common::KYRGYZSTAN_2021, config).unwrap();
    let lines = common::lines_of(&night);
    let broken: Vec<u64> = night
        .defects()
        .iter()
        .filter(|d| d.kind == DefectKind::ControlRelationBroken)
        .filter_map(|d| d.line)
        .collect();
    let mismatched: Vec<(String, String)> = night
        .defects()
        .iter()
        .filter(|d| d.kind == DefectKind::MachineManualMismatch)
        .map(|d| (d.station.clone(), d.contest.clone()))
        .collect();
    assert!(broken.len() == 2 && !mismatched.is_empty(), "the night plants both kinds");
    let sources: Vec<String> = lines.iter().map(|l| about(l).2).collect();
    let last_machine = sources.iter().rposition(|s| s == "machine").unwrap();
    let first_manual = sources.iter().position(|s| s == "manual").unwrap();
    let first_observer = sources.iter().position(|s| s == "observer").unwrap();
    assert!(last_machine < first_manual && first_manual < first_observer, "night order");

    let server = common::start(&night.election_toml(), common::test_config()).await;
    let client = reqwest::Client::new();
    let mut accepted = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let number = i as u64 + 1;
        let post = || client.post(server.url("/api/v1/submissions")).body(line.clone()).send();
        let first = post().await.unwrap();
        let first_status = first.status();
        let first: Value = first.json().await.unwrap();
        let second = post().await.unwrap();
        let second_status = second.status();
        let second: Value = second.json().await.unwrap();
        let (station, contest, source) = about(line);
        if broken.contains(&number) {
            assert_eq!(first_status, StatusCode::UNPROCESSABLE_ENTITY, "line {number}: {first}");
            assert_eq!(first["code"], "E401", "line {number}");
            assert_eq!(second["code"], "E401", "line {number}, sent again");
            continue;
        }
        assert_eq!(first_status, StatusCode::CREATED, "line {number}: {first}");
        assert_eq!(second_status, StatusCode::OK, "line {number} again: {second}");
        assert_eq!(
            (&second["index"], &second["leaf_hash"]),
            (&first["index"], &first["leaf_hash"]),
            "line {number}: the same receipt"
        );
        accepted += 1;
        assert_eq!(first["index"], accepted, "line {number}: appended once, in order");
        let w104 =
            first["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w["code"] == "W104"));
        let planted = source == "manual" && mismatched.contains(&(station, contest));
        assert_eq!(w104, planted, "line {number}: W104 exactly on the planted mismatches");
    }
    assert_eq!(server.store.tree_size().unwrap(), 1 + accepted);
    assert_eq!(server.store.quarantine_count().unwrap(), 2 * broken.len() as u64);
    let snapshot = server.results_at_least(&client, 1 + accepted).await;
    assert_eq!(common::checkpoint_size(&snapshot), Some(1 + accepted));
    server.stop().await;
}

/// The server's own codes are published: each has its row in docs/formats.md §3.5 and is named
/// in the OpenAPI document's problem description, and they are numbered without gaps.
#[test]
fn every_server_code_is_documented() {
    let formats = include_str!("../../../docs/formats.md");
    let section = formats.split("### 3.5").nth(1).expect("docs/formats.md has §3.5");
    let document: Value = serde_json::from_str(sverka_server::api::OPENAPI_JSON).unwrap();
    let described = document["components"]["schemas"]["Problem"]["description"]
        .as_str()
        .expect("the Problem schema says what its codes are");
    for (i, code) in sverka_server::problem::codes::ALL.iter().enumerate() {
        assert_eq!(*code, format!("H{:03}", i + 1), "codes are numbered in order");
        assert!(section.contains(&format!("| `{code}` |")), "{code} has no row in formats.md §3.5");
        assert!(described.contains(code), "{code} is not named in openapi.json's Problem");
    }
}
