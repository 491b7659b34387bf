//! What an operator relies on (issue 10, operations): `/metrics` in the Prometheus text format
//! with the ingest counters, queue, checkpoint age, rejections by code and latency per route;
//! `/healthz` and `/readyz`; a request id on every answer and in the log line of that request,
//! and no private key in the log; and SIGTERM during ingest: the server stops taking
//! connections, answers the requests in flight, exits 0, and every receipt it sent is durable.

mod fault_common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_common::{agent, init, json, metric, night, Server};

#[test]
fn metrics_readiness_request_ids_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (night, lines) = night(4, 30);
    init(&data, &night);
    let server = Server::start(&data, &dir.path().join("serve.log"));
    let agent = agent(Duration::from_secs(10));
    let url = format!("{}/api/v1/submissions", server.base);

    let ready = agent.get(format!("{}/readyz", server.base)).call().unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(agent.get(format!("{}/healthz", server.base)).call().unwrap().status(), 200);

    let mut accepted = 0;
    for line in &lines {
        let status = agent.post(&url).send(&line[..]).unwrap().status().as_u16();
        accepted += u32::from(status == 201);
    }
    // A submission that is not canonical JSON: E004, counted by its code.
    let mut bent = lines[0].clone();
    bent.push(b'\n');
    let response =
        agent.post(&url).header("x-request-id", "scanner-42.retry-1").send(&bent[..]).unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers().get("x-request-id").unwrap(), "scanner-42.retry-1");
    // An id that is not a short token is replaced by the server's own.
    let response = agent
        .get(format!("{}/checkpoint", server.base))
        .header("x-request-id", "a b\"c")
        .call()
        .unwrap();
    let own = response
        .headers()
        .get("x-request-id")
        .expect("every answer has an id")
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(own, "a b\"c");
    assert!(!own.is_empty());

    // The checkpoint and the results catch up within a few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = agent
            .get(format!("{}/metrics", server.base))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        if metric(&text, "sverka_unpublished_entries") == Some(0.0) {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "results never caught up:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(accepted > 0);
    assert_eq!(
        metric(&text, "sverka_submissions_total{outcome=\"accepted\"}"),
        Some(f64::from(accepted))
    );
    assert_eq!(metric(&text, "sverka_log_size"), Some(f64::from(accepted) + 1.0));
    assert_eq!(metric(&text, "sverka_published_size"), Some(f64::from(accepted) + 1.0));
    assert_eq!(metric(&text, "sverka_submission_rejections_total{code=\"E004\"}"), Some(1.0));
    assert_eq!(metric(&text, "sverka_http_problems_total{code=\"E004\"}"), Some(1.0));
    assert_eq!(metric(&text, "sverka_submission_queue_depth"), Some(0.0));
    assert_eq!(metric(&text, "sverka_ready"), Some(1.0));
    assert!(metric(&text, "sverka_checkpoint_age_seconds").is_some_and(|age| age >= 0.0));
    let route = "route=\"/api/v1/submissions\",method=\"POST\"";
    let posts = lines.len() as f64 + 1.0;
    assert_eq!(
        metric(&text, &format!("sverka_http_request_duration_seconds_count{{{route}}}")),
        Some(posts)
    );
    assert_eq!(
        metric(
            &text,
            &format!("sverka_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}")
        ),
        Some(posts)
    );
    assert_eq!(
        metric(&text, "sverka_http_responses_total{route=\"/api/v1/submissions\",method=\"POST\",status=\"400\"}"),
        Some(1.0)
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').expect("`series value`");
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    // Unknown paths share one label, so scanning cannot grow the metrics.
    agent.get(format!("{}/no/such/{}", server.base, "x".repeat(40))).call().unwrap();
    let text = agent
        .get(format!("{}/metrics", server.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(text.contains("route=\"unmatched\""));
    assert!(!text.contains("xxxxxxxx"));

    // The log: one line per request carrying its id; no private key anywhere in it.
    let mut server = server;
    assert!(server.terminate(Duration::from_secs(30)).success());
    let log = server.log_text();
    assert!(
        log.lines().any(|l| l.contains("scanner-42.retry-1")
            && l.contains("status=400")
            && l.contains("E004")),
        "{log}"
    );
    for entry in std::fs::read_dir(data.join("keys")).unwrap() {
        let secret = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!log.contains(secret.trim()), "a private key is in the log");
    }
}

#[test]
fn sigterm_during_ingest_answers_requests_in_flight_exits_0_and_keeps_every_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (night, lines) = night(9, 80);
    init(&data, &night);
    let mut server = Server::start(&data, &dir.path().join("serve.log"));
    let receipts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let senders: Vec<_> = (0..4)
        .map(|worker| {
            let mine: Vec<Vec<u8>> = lines.iter().skip(worker).step_by(4).cloned().collect();
            let (url, receipts) = (format!("{}/api/v1/submissions", server.base), receipts.clone());
            std::thread::spawn(move || {
                let agent = agent(Duration::from_secs(20));
                for line in mine {
                    let Ok(response) = agent.post(&url).send(&line[..]) else { return };
                    let status = response.status().as_u16();
                    if status == 200 || status == 201 {
                        let receipt = json(response);
                        let leaf = receipt["leaf_hash"].as_str().unwrap().to_string();
                        receipts.lock().unwrap().insert(leaf, receipt["index"].as_u64().unwrap());
                    }
                }
            })
        })
        .collect();
    while receipts.lock().unwrap().len() < lines.len() / 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "SIGTERM during ingest: {status}\n{}", server.log_text());
    for sender in senders {
        sender.join().unwrap();
    }
    let after = std::net::TcpStream::connect(("127.0.0.1", server.port));
    assert!(after.is_err(), "nothing listens after the exit");
    let held = receipts.lock().unwrap().clone();
    let store = sverka_store::Store::open(&data).unwrap();
    for (leaf, index) in &held {
        let hash = sverka_tlog::Hash::from_hex(leaf).unwrap();
        let found = store.receipt(&hash).unwrap().unwrap_or_else(|| panic!("receipt {index} lost"));
        assert_eq!(found.index, *index);
    }
}
