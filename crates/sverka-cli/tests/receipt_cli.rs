//! `sverka receipt` as a commission member uses it: take a station's entry home as one
//! c2sp.org/tlog-proof@v1 file, check it offline later, and check that a later publication still
//! holds it; a tampered receipt, a wrong key and a forked later publication are refused.

use std::path::Path;
use std::process::{Command, Output};

use sverka_model::submission::{Body, Submission};

fn sverka(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap()
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn failed(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    stderr
}

/// The tiny night published once without its last 5 submissions (`public`), then in full twice:
/// honestly (`later`) and from a copy of the data dir, with the same log key, that left out one of
/// the first submissions (`forked`: another history under the same key).
fn published() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let election = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
    ok(sverka(&["simulate", "--election", &election, "--seed", "7", "--out", "night"], cwd));
    let text = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, last) = lines.split_at(lines.len() - 5);
    std::fs::write(cwd.join("part1.jsonl"), first.join("\n") + "\n").unwrap();
    std::fs::write(cwd.join("part2.jsonl"), last.join("\n") + "\n").unwrap();
    let fork: Vec<&str> =
        lines.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| *l).collect();
    std::fs::write(cwd.join("fork.jsonl"), fork.join("\n") + "\n").unwrap();
    ok(sverka(&["init", "data", "--election", "night/election.toml"], cwd));
    let copy = Command::new("cp").args(["-r", "data", "data-fork"]).current_dir(cwd).status();
    assert!(copy.unwrap().success());
    ok(sverka(&["import", "data", "part1.jsonl"], cwd));
    ok(sverka(&["publish", "data", "--out", "public"], cwd));
    ok(sverka(&["import", "data", "part2.jsonl"], cwd));
    ok(sverka(&["publish", "data", "--out", "later"], cwd));
    ok(sverka(&["import", "data-fork", "fork.jsonl"], cwd));
    ok(sverka(&["publish", "data-fork", "--out", "forked"], cwd));
    dir
}

fn vkey(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("public/log.vkey")).unwrap().trim().to_string()
}

/// A station with a protocol in the first publication, from the night's first protocol line.
fn a_station(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("night/submissions.jsonl")).unwrap();
    text.lines()
        .find_map(|line| match Submission::decode(line.as_bytes()).unwrap().payload.body {
            Body::Protocol(p) => Some(p.station),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_station_receipt_checks_offline_and_against_a_later_publication() {
    let dir = published();
    let cwd = dir.path();
    let station = a_station(cwd);
    let out = ok(sverka(
        &["receipt", "get", "public", "--station", &station, "--out", "mine.tlog-proof"],
        cwd,
    ));
    assert!(out.contains("wrote mine.tlog-proof: entry"), "{out}");
    let receipt = std::fs::read_to_string(cwd.join("mine.tlog-proof")).unwrap();
    assert!(receipt.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{receipt}");
    assert!(receipt.contains("\n\nsverka.example/tiny\n"), "{receipt}");

    // Offline: only the file and the log's key.
    std::fs::remove_dir_all(cwd.join("public")).unwrap();
    let key = vkey_of(cwd);
    let out = ok(sverka(&["receipt", "check", "mine.tlog-proof", "--key", &key], cwd));
    assert!(out.contains(&format!("protocol of station {station}")), "{out}");
    assert!(out.contains("OK: the receipt holds"), "{out}");

    let out = ok(sverka(
        &["receipt", "check", "mine.tlog-proof", "--key", &key, "--against", "later"],
        cwd,
    ));
    assert!(out.contains("is consistent with the receipt's"), "{out}");

    let err = failed(sverka(
        &["receipt", "check", "mine.tlog-proof", "--key", &key, "--against", "forked"],
        cwd,
    ));
    assert!(err.contains("forked: the log at size"), "{err}");
    assert!(err.contains("history was rewritten"), "{err}");
}

fn vkey_of(cwd: &Path) -> String {
    std::fs::read_to_string(cwd.join("later/log.vkey")).unwrap().trim().to_string()
}

#[test]
fn receipts_by_index_and_by_leaf_are_the_same_file_and_a_tampered_one_is_refused() {
    let dir = published();
    let cwd = dir.path();
    ok(sverka(&["receipt", "get", "public", "--index", "3", "--out", "by-index"], cwd));
    let receipt = std::fs::read_to_string(cwd.join("by-index")).unwrap();
    // The leaf hash of entry 3, computed from the entry in the receipt (RFC 6962: SHA-256(0 ‖ e)).
    let extra = receipt.lines().nth(1).unwrap().strip_prefix("extra ").unwrap();
    let entry = sverka_base64(extra);
    let leaf = sverka_tlog::leaf_hash(&entry).to_hex();
    ok(sverka(&["receipt", "get", "public", "--leaf", &leaf, "--out", "by-leaf"], cwd));
    assert_eq!(std::fs::read(cwd.join("by-leaf")).unwrap(), receipt.as_bytes());

    // Another entry's bytes in the same receipt: the proof no longer leads to the signed root.
    let mut lines: Vec<String> = receipt.split('\n').map(str::to_string).collect();
    let other = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let other = other.lines().last().unwrap();
    lines[1] = format!("extra {}", base64_of(other.as_bytes()));
    std::fs::write(cwd.join("tampered"), lines.join("\n")).unwrap();
    let key = vkey(cwd);
    let err = failed(sverka(&["receipt", "check", "tampered", "--key", &key], cwd));
    assert!(err.contains("tampered: inclusion proof of entry 3"), "{err}");

    let stranger = "sverka.example/tiny+00000000+AQ8hu6kbgXFyuBQT8smqpPkSSVXshdiLcOtu5Hu9NlAO";
    let err = failed(sverka(&["receipt", "check", "by-index", "--key", stranger], cwd));
    assert!(err.contains("verifier key"), "{err}");
}

/// Standard base64, through the tlog crate's own hash helpers would not do for arbitrary lengths,
/// so through the proof format itself: a proof with this extra data, parsed back.
fn sverka_base64(text: &str) -> Vec<u8> {
    let proof = format!("c2sp.org/tlog-proof@v1\nextra {text}\nindex 0\n\nx\n");
    sverka_tlog::proof::TlogProof::parse(proof.as_bytes()).unwrap().extra.unwrap()
}

fn base64_of(bytes: &[u8]) -> String {
    let proof = sverka_tlog::proof::TlogProof {
        extra: Some(bytes.to_vec()),
        index: 0,
        hashes: vec![],
        checkpoint: vec![],
    };
    let text = String::from_utf8(proof.to_bytes()).unwrap();
    text.lines().nth(1).unwrap().strip_prefix("extra ").unwrap().to_string()
}
