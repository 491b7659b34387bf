//! `sverka results` as a journalist runs it: the same numbers as the publication, in JSON, CSV and
//! NIST's CDF.

use std::path::Path;
use std::process::{Command, Output};

fn sverka(args: &[&str], cwd: &Path) -> Output {
    let output =
        Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn results_match_the_publication_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let election = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
    sverka(&["simulate", "--election", &election, "--seed", "3", "--out", "night"], cwd);
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "night/submissions.jsonl"], cwd);
    sverka(&["publish", "data", "--out", "public"], cwd);

    let json = sverka(&["results", "data", "--format", "json"], cwd).stdout;
    let snapshot: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let size = snapshot["checkpoint"]["size"].as_u64().unwrap();
    let published = std::fs::read(cwd.join(format!("public/snapshot/{size}.json"))).unwrap();
    assert_eq!(json.strip_suffix(b"\n").unwrap(), published.as_slice());

    let csv =
        String::from_utf8(sverka(&["results", "data", "--format", "csv"], cwd).stdout).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("contest,view,level,unit,"));
    assert!(csv.lines().any(|l| l.starts_with("list,official,nation,")), "{csv}");
    let stations = sverka(&["results", "data", "--format", "csv", "--table", "stations"], cwd);
    let stations = String::from_utf8(stations.stdout).unwrap();
    assert!(stations.lines().any(|l| l.contains(",9001,") || l.contains("9001")), "{stations}");

    let cdf = sverka(&["results", "data", "--format", "cdf"], cwd).stdout;
    let cdf: serde_json::Value = serde_json::from_slice(&cdf).unwrap();
    assert_eq!(cdf["@type"], "ElectionResults.ElectionReport");
    let contests = cdf["Election"][0]["Contest"].as_array().unwrap();
    assert_eq!(contests.len(), 2, "the list race and the district race");
}
