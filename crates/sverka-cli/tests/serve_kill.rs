//! `sverka serve` killed with SIGKILL while submissions are in flight loses nothing it had
//! acknowledged: after a restart on the same data directory, every receipt received before the
//! kill names an entry of the log at the same index (DESIGN.md "a receipt means durable").

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sverka_model::simulate::{Config as SimConfig, Night};

const TINY: &str = include_str!("../../../examples/tiny/election.toml");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Starts `sverka serve DIR` and waits until it answers.
fn serve(data: &Path) -> (Child, String) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .arg("serve")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sverka serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if agent().get(format!("{base}/healthz")).call().is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("sverka serve did not come up");
}

fn json(response: ureq::http::Response<ureq::Body>) -> serde_json::Value {
    serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap()
}

#[test]
fn sigkill_during_ingest_loses_no_acknowledged_submission() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = SimConfig {
        seed: 5,
        stations: Some(80),
        observer_discrepancy_count: 1,
        broken_relation_count: 1,
        ..SimConfig::default()
    };
    let night = Night::new("election.toml", TINY, config).unwrap();
    drop(sverka_store::Store::init(&data, &night.election_toml(), "election.toml").unwrap());
    let lines: Vec<Vec<u8>> = night.submission_lines();

    let (mut child, base) = serve(&data);
    let receipts: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let senders: Vec<_> = (0..4)
        .map(|worker| {
            let (lines, receipts, url) =
                (lines.clone(), receipts.clone(), format!("{base}/api/v1/submissions"));
            std::thread::spawn(move || {
                let agent = agent();
                for line in lines.iter().skip(worker).step_by(4) {
                    let Ok(response) = agent.post(&url).send(&line[..]) else { return };
                    if matches!(response.status().as_u16(), 200 | 201) {
                        let receipt = json(response);
                        let leaf = receipt["leaf_hash"].as_str().unwrap().to_string();
                        receipts.lock().unwrap().push((leaf, receipt["index"].as_u64().unwrap()));
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while receipts.lock().unwrap().len() < lines.len() / 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for sender in senders {
        sender.join().unwrap();
    }
    let acknowledged = receipts.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < lines.len(),
        "killed mid-ingest: {} of {}",
        acknowledged.len(),
        lines.len()
    );

    let (mut child, base) = serve(&data);
    let agent = agent();
    for (leaf, index) in &acknowledged {
        let response = agent.get(format!("{base}/api/v1/receipts/{leaf}")).call().unwrap();
        assert_eq!(
            response.status(),
            200,
            "entry {index} ({leaf}) was acknowledged before the kill"
        );
        assert_eq!(json(response)["index"].as_u64(), Some(*index));
    }
    // Everything sent again: acknowledged ones answer 200 with their index, the rest land now.
    for line in &lines {
        let response = agent.post(format!("{base}/api/v1/submissions")).send(&line[..]).unwrap();
        let status = response.status().as_u16();
        if status == 200 || status == 201 {
            let receipt = json(response);
            let leaf = receipt["leaf_hash"].as_str().unwrap();
            if let Some((_, index)) = acknowledged.iter().find(|(l, _)| l == leaf) {
                assert_eq!(status, 200);
                assert_eq!(receipt["index"].as_u64(), Some(*index));
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
