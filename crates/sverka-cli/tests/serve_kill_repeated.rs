//! `sverka serve` killed with SIGKILL at random moments of ingest, again and again (issue 10,
//! fault tests): after each kill and restart, every receipt sent before the kill names the same
//! entry at the same index, sending everything again adds each protocol once, and the publication
//! of the data directory passes `sverka verify`.
//!
//! `SVERKA_KILL_RUNS` (default 3) sets the number of runs and `SVERKA_KILL_SEED` the first seed;
//! BENCHMARKS.md reports 100 runs: `SVERKA_KILL_RUNS=100 cargo test -p sverka-cli --test
//! serve_kill_repeated -- --nocapture`.

mod fault_common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_common::{agent, init, json, metric, night, publish_and_verify, Server};
use rand::{Rng, SeedableRng};

/// Receipts received: leaf hash → index.
type Acknowledged = Arc<Mutex<BTreeMap<String, u64>>>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sends `lines` from 4 threads (one of them in batches of 5) until the server dies; every
/// receipt that arrives whole is recorded.
fn send_all(
    base: &str,
    lines: &[Vec<u8>],
    acknowledged: &Acknowledged,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..4)
        .map(|worker| {
            let mine: Vec<Vec<u8>> = lines.iter().skip(worker).step_by(4).cloned().collect();
            let (base, acknowledged) = (base.to_string(), acknowledged.clone());
            std::thread::spawn(move || {
                let agent = agent(Duration::from_secs(20));
                let record = |receipt: &serde_json::Value| {
                    let leaf = receipt["leaf_hash"].as_str().expect("leaf_hash").to_string();
                    let index = receipt["index"].as_u64().expect("index");
                    acknowledged.lock().unwrap().insert(leaf, index);
                };
                if worker == 3 {
                    for chunk in mine.chunks(5) {
                        let body = chunk.join(&b'\n');
                        let url = format!("{base}/api/v1/submissions/batch");
                        let Ok(response) = agent.post(url).send(&body[..]) else { return };
                        let Ok(text) = response.into_body().read_to_string() else { return };
                        let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
                        for item in answer["results"].as_array().expect("results") {
                            if matches!(item["status"].as_u64(), Some(200 | 201)) {
                                record(&item["receipt"]);
                            }
                        }
                    }
                } else {
                    for line in &mine {
                        let url = format!("{base}/api/v1/submissions");
                        let Ok(response) = agent.post(url).send(&line[..]) else { return };
                        if matches!(response.status().as_u16(), 200 | 201) {
                            let Ok(text) = response.into_body().read_to_string() else { return };
                            record(&serde_json::from_str(&text).unwrap());
                        }
                    }
                }
            })
        })
        .collect()
}

/// One run: ingest, SIGKILL after a random number of receipts (and a random pause), restart,
/// check, send everything again, stop with SIGTERM, publish and verify. Returns the receipts
/// held at the kill.
fn one_run(seed: u64, lines: &[Vec<u8>], night: &sverka_model::simulate::Night) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data, night);
    let mut server = Server::start(&data, &dir.path().join("serve-1.log"));
    let acknowledged: Acknowledged = Arc::default();
    let target = rng.gen_range(0..lines.len() * 9 / 10);
    let pause = Duration::from_micros(rng.gen_range(0..20_000));
    let senders = send_all(&server.base, lines, &acknowledged);
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < target && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(500));
    }
    std::thread::sleep(pause);
    server.kill();
    for sender in senders {
        sender.join().expect("sender thread");
    }
    let held = acknowledged.lock().unwrap().clone();
    assert!(held.len() < lines.len(), "seed {seed}: the kill came after the whole night");

    let mut server = Server::start(&data, &dir.path().join("serve-2.log"));
    let agent = agent(Duration::from_secs(20));
    for (leaf, index) in &held {
        let response = agent.get(format!("{}/api/v1/receipts/{leaf}", server.base)).call().unwrap();
        assert_eq!(
            response.status(),
            200,
            "seed {seed}: entry {index} ({leaf}) was acknowledged before the kill"
        );
        assert_eq!(json(response)["index"].as_u64(), Some(*index), "seed {seed}: {leaf} moved");
    }
    // Everything again: what was acknowledged answers 200 at its index, the rest lands once.
    let mut accepted = held.clone();
    for line in lines {
        let url = format!("{}/api/v1/submissions", server.base);
        let response = agent.post(url).send(&line[..]).unwrap();
        let status = response.status().as_u16();
        if status == 200 || status == 201 {
            let receipt = json(response);
            let leaf = receipt["leaf_hash"].as_str().unwrap().to_string();
            let index = receipt["index"].as_u64().unwrap();
            if let Some(before) = held.get(&leaf) {
                assert_eq!((status, index), (200, *before), "seed {seed}: resubmitted {leaf}");
            }
            accepted.insert(leaf, index);
        } else {
            assert!((400..500).contains(&status), "seed {seed}: resubmission answered {status}");
        }
    }
    let metrics = agent.get(format!("{}/metrics", server.base)).call().unwrap();
    let metrics = metrics.into_body().read_to_string().unwrap();
    let log_size = metric(&metrics, "sverka_log_size").expect("sverka_log_size") as usize;
    assert_eq!(
        log_size,
        accepted.len() + 1,
        "seed {seed}: the log holds the election and each accepted protocol once"
    );
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "seed {seed}: SIGTERM ended sverka serve with {status}");
    if let Err(failure) = publish_and_verify(&data, &dir.path().join("public")) {
        panic!("seed {seed}: {failure}");
    }
    held.len()
}

#[test]
fn sigkill_at_random_moments_loses_no_receipt_and_the_log_verifies_every_time() {
    let runs = env_u64("SVERKA_KILL_RUNS", 3);
    let first_seed = env_u64(
        "SVERKA_KILL_SEED",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    );
    let (night, lines) = night(11, 60);
    let started = Instant::now();
    let mut held = Vec::new();
    for run in 0..runs {
        let seed = first_seed + run;
        eprintln!("run {run}: SVERKA_KILL_SEED={seed}");
        held.push(one_run(seed, &lines, &night));
    }
    held.sort_unstable();
    eprintln!(
        "{runs} runs from seed {first_seed} in {:.0?}: {} submissions each; receipts held at the kill: min {}, median {}, max {}; none lost, every publication verified",
        started.elapsed(),
        lines.len(),
        held[0],
        held[held.len() / 2],
        held[held.len() - 1]
    );
}
