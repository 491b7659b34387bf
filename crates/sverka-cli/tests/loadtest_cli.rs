//! `sverka loadtest` against a real `sverka serve`: every protocol of the chosen scanners is
//! acknowledged once, resent bytes get the same receipt, readers are served, and every receipt is
//! found in the log (no lost acknowledgements). Run twice, the second run adds nothing: every
//! protocol is answered 200 with its first receipt.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sverka_model::names::Source;
use sverka_model::submission::{Body, Submission};

fn sverka(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(dir).output().unwrap()
}

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .args(["serve", "data", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ureq::get(format!("{base}/healthz")).call().is_ok() {
            return (server, base);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("sverka serve did not come up");
}

/// The protocols of the first `n` scanners of the night, counted from the file itself.
fn scanner_protocols(night: &Path, n: usize) -> usize {
    let text = std::fs::read(night.join("submissions.jsonl")).unwrap();
    let mut per_signer: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let s = Submission::decode(line).unwrap();
        if matches!(&s.payload.body, Body::Protocol(p) if p.source == Source::Machine) {
            if !per_signer.contains_key(&s.payload.signer) {
                order.push(s.payload.signer.clone());
            }
            *per_signer.entry(s.payload.signer).or_default() += 1;
        }
    }
    order.iter().take(n).map(|s| per_signer[s]).sum()
}

fn loadtest(dir: &Path, base: &str) -> serde_json::Value {
    let run = sverka(
        &[
            "loadtest",
            base,
            "--night",
            "night",
            "--scanners",
            "30",
            "--readers",
            "8",
            "--window",
            "2",
            "--read-interval",
            "100",
            "--resend-share",
            "0.3",
            "--format",
            "json",
        ],
        dir,
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "loadtest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn loadtest_reports_every_acknowledgement_found_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny/election.toml");
    let example = example.to_str().unwrap();
    let simulate = sverka(
        &["simulate", "--election", example, "--seed", "3", "--stations", "60", "--out", "night"],
        dir.path(),
    );
    assert!(simulate.status.success(), "{}", String::from_utf8_lossy(&simulate.stderr));
    let init = sverka(&["init", "data", "--election", "night/election.toml"], dir.path());
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let protocols = scanner_protocols(&dir.path().join("night"), 30) as u64;
    assert!(protocols >= 30);
    let (_server, base) = serve(dir.path());

    let first = loadtest(dir.path(), &base);
    assert_eq!(first["format"], "sverka-loadtest/v1");
    assert_eq!(first["scanners"], 30);
    assert_eq!(first["counts"]["protocols"], protocols);
    // Each protocol is answered once with its receipt (201, or 200 when a timed-out try had
    // landed), and each resend once more with 200.
    let answered = |run: &serde_json::Value, what: &str| run["counts"][what].as_u64().unwrap();
    assert_eq!(
        answered(&first, "created") + answered(&first, "repeated"),
        protocols + answered(&first, "resent")
    );
    assert!(answered(&first, "created") > 0);
    assert_eq!(first["errors"], 0, "{first:#}");
    assert!(first["counts"]["resent"].as_u64().unwrap() > 0, "some were sent twice on purpose");
    assert_eq!(first["counts"]["resent_mismatch"], 0);
    assert_eq!(first["acknowledgements"]["checked"], protocols);
    assert_eq!(first["acknowledgements"]["lost"], 0);
    // Entry 0 is the election; the checkpoint covers every acknowledged protocol.
    assert!(first["acknowledgements"]["checkpoint_size"].as_u64().unwrap() > protocols);
    assert!(first["counts"]["reads"].as_u64().unwrap() > 0);
    assert_eq!(first["counts"]["read_errors"], 0);
    assert!(first["submit_latency"]["count"].as_u64().unwrap() >= protocols);

    // The same scanners again: the same bytes, so nothing new, every receipt still in the log.
    let second = loadtest(dir.path(), &base);
    assert_eq!(second["counts"]["created"], 0);
    assert_eq!(
        second["counts"]["repeated"].as_u64().unwrap(),
        protocols + second["counts"]["resent"].as_u64().unwrap()
    );
    assert_eq!(second["acknowledgements"]["lost"], 0);
    assert_eq!(
        second["acknowledgements"]["checkpoint_size"],
        first["acknowledgements"]["checkpoint_size"]
    );
}
