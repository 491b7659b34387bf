//! `sverka verify` as an observer runs it on a real publication of the tiny election: it accepts
//! what the commission published and names the file when anything was changed afterwards.

use std::path::Path;
use std::process::{Command, Output};

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

/// Simulates, ingests and publishes the tiny election in a temp dir.
fn published() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let election = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
    let cwd = dir.path();
    ok(sverka(&["simulate", "--election", &election, "--seed", "7", "--out", "night"], cwd));
    ok(sverka(&["init", "data", "--election", "night/election.toml"], cwd));
    ok(sverka(&["import", "data", "night/submissions.jsonl"], cwd));
    ok(sverka(&["publish", "data", "--out", "public"], cwd));
    dir
}

fn failure(output: Output) -> String {
    assert_eq!(output.status.code(), Some(1), "verify must exit 1 on a failure");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn only_snapshot(public: &Path) -> std::path::PathBuf {
    let mut snapshots: Vec<_> =
        std::fs::read_dir(public.join("snapshot")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(snapshots.len(), 1);
    snapshots.pop().unwrap()
}

#[test]
fn an_honest_publication_verifies_and_every_snapshot_is_recomputed() {
    let dir = published();
    let out = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(out.contains("signature by the log key: ok"), "{out}");
    assert!(out.contains("recomputed from the entries and byte-identical"), "{out}");
    assert!(out.starts_with("log sverka.example/tiny"), "{out}");
    // A second run with the remembered state checks consistency with the first.
    let again = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(again.contains("consistent with the checkpoint of size"), "{again}");
}

#[test]
fn a_changed_number_in_the_published_results_is_caught() {
    let dir = published();
    let snapshot = only_snapshot(&dir.path().join("public"));
    let text = std::fs::read_to_string(&snapshot).unwrap();
    // Give the leading party's national total one more vote: the 2021 "display" failure.
    let marker = "\"valid\":";
    let at = text.find(marker).expect("a valid total") + marker.len();
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    let bumped: u64 = text[at..end].parse::<u64>().unwrap() + 1;
    let forged = format!("{}{bumped}{}", &text[..at], &text[end..]);
    std::fs::write(&snapshot, forged).unwrap();
    let err = failure(sverka(&["verify", "public"], dir.path()));
    let name = snapshot.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains(&format!("snapshot/{name}")), "{err}");
    assert!(err.contains("differs from the results recomputed from the log"), "{err}");
}

#[test]
fn a_rewritten_entry_is_caught_at_its_tile() {
    let dir = published();
    let bundle_dir = dir.path().join("public/tile/entries");
    let bundle = std::fs::read_dir(&bundle_dir).unwrap().next().unwrap().unwrap().path();
    let bundle = if bundle.is_dir() {
        std::fs::read_dir(&bundle).unwrap().next().unwrap().unwrap().path()
    } else {
        bundle
    };
    let mut bytes = std::fs::read(&bundle).unwrap();
    // Inside the first protocol's JSON, turn one digit into another.
    let digit = bytes.iter().rposition(|b| b.is_ascii_digit()).unwrap();
    bytes[digit] = if bytes[digit] == b'1' { b'2' } else { b'1' };
    std::fs::write(&bundle, bytes).unwrap();
    let err = failure(sverka(&["verify", "public"], dir.path()));
    assert!(err.contains("tile/0/"), "the failure names the hash tile: {err}");
}

#[test]
fn a_publication_signed_by_another_key_is_refused() {
    let dir = published();
    let state = dir.path().join("observer.json");
    ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    // The observer pinned the log key; a different key in the publication is a failure.
    let mut pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    pinned["vkey"] =
        "sverka.example/tiny+00000000+AQ8hu6kbgXFyuBQT8smqpPkSSVXshdiLcOtu5Hu9NlAO".into();
    std::fs::write(&state, serde_json::to_vec(&pinned).unwrap()).unwrap();
    let err = failure(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains("log key changed"), "{err}");
}
