//! `sverka simulate` with the real binary: it writes the four outputs, the same seed gives the same
//! bytes, it never overwrites, and what it writes is a valid election with verifiable submissions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sverka_model::election::Election;
use sverka_model::keys::decode_public_key;
use sverka_model::Submission;

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(path)
}

fn simulate(election: &Path, seed: u64, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka"))
        .arg("simulate")
        .arg("--election")
        .arg(election)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run sverka")
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn writes_the_night_and_the_same_seed_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = example("tiny/election.toml");
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    let first = simulate(&tiny, 1, &a, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let summary = String::from_utf8_lossy(&first.stdout);
    assert!(summary.contains("6 stations"), "{summary}");
    assert!(summary.contains("submissions.jsonl"), "{summary}");
    let written = files(&a);
    for name in ["election.toml", "submissions.jsonl", "defects.json", "keys/machines.keys"] {
        assert!(written.contains_key(name), "{name} missing: {:?}", written.keys());
    }
    assert!(written.contains_key("keys/admin-1.key"));

    // An empty existing directory is fine; the same seed gives byte-identical files.
    std::fs::create_dir(&b).unwrap();
    assert!(simulate(&tiny, 1, &b, &[]).status.success());
    assert!(files(&b) == written, "same seed, different files");
    assert!(simulate(&tiny, 2, &c, &[]).status.success());
    assert_ne!(files(&c)["submissions.jsonl"], written["submissions.jsonl"]);
    // No temporary directories are left beside the outputs.
    let left: Vec<_> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "{left:?}");
}

#[test]
fn output_is_a_valid_election_with_verifiable_submissions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("night");
    let run = simulate(&example("tiny/election.toml"), 5, &out, &["--stations", "30"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(out.join("election.toml")).unwrap();
    let election =
        Election::from_toml("night/election.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(election.stations.len(), 30);
    let keys: BTreeMap<&str, _> = election.keys.iter().map(|k| (k.id.as_str(), k)).collect();
    let lines = std::fs::read(out.join("submissions.jsonl")).unwrap();
    let mut n = 0;
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let s = Submission::decode(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let key = decode_public_key(&keys[s.payload.signer.as_str()].public_key).unwrap();
        assert!(s.verify(&key));
        n += 1;
    }
    let defects: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("defects.json")).unwrap()).unwrap();
    assert_eq!(defects["submissions"], n);
    assert!(String::from_utf8_lossy(&run.stdout).contains(&format!("{n} submissions")));
}

#[test]
fn refuses_a_non_empty_directory_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("night");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let run = simulate(&example("tiny/election.toml"), 1, &out, &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("not empty"));
    assert_eq!(files(&out).len(), 1);
    assert_eq!(std::fs::read_to_string(out.join("precious.txt")).unwrap(), "keep me");
}

#[test]
fn a_broken_definition_is_reported_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    let text = std::fs::read_to_string(example("tiny/election.toml")).unwrap();
    std::fs::write(
        &bad,
        text.replace(
            "district = \"d1\"\nregistered = 1200",
            "district = \"d9\"\nregistered = 1200",
        ),
    )
    .unwrap();
    let out = tmp.path().join("night");
    let run = simulate(&bad, 1, &out, &[]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("bad.toml:") && stderr.contains("d9"), "{stderr}");
    assert!(!out.exists(), "nothing written on error");
}
