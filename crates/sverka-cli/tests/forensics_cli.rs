//! `sverka forensics` as an analyst runs it on a data directory: the versioned JSON naming its
//! checkpoint and seed, the ranked CSV, the fingerprint as SVG and PNG, and clear refusals.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap()
}

fn sverka(args: &[&str], cwd: &Path) -> Output {
    let output = run(args, cwd);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn forensics_of_a_simulated_night_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let election =
        format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
    let night = ["simulate", "--election", &election, "--seed", "2", "--stations", "400"];
    sverka(&[&night[..], &["--out", "night"]].concat(), cwd);
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "night/submissions.jsonl"], cwd);

    let json = sverka(&["forensics", "data", "--seed", "5", "--simulations", "99"], cwd).stdout;
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["format"], "sverka-forensics/v1");
    assert_eq!(report["seed"], 5);
    assert_eq!(report["contest"], "list");
    assert!(report["checkpoint"]["size"].as_u64().unwrap() > 400, "{}", report["checkpoint"]);
    assert!(report["stations"].as_u64().unwrap() > 300, "most of 400 stations are counted");
    assert!(!report["fingerprint"]["cells"].as_array().unwrap().is_empty());
    let again = sverka(&["forensics", "data", "--seed", "5", "--simulations", "99"], cwd).stdout;
    assert_eq!(json, again, "same seed, same log: same bytes");

    let csv = sverka(&["forensics", "data", "--format", "csv", "--simulations", "99"], cwd).stdout;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().next(), Some("rank,station,district,score,pattern_p_value,reasons"));

    let svg = sverka(&["forensics", "data", "--format", "svg", "--simulations", "99"], cwd).stdout;
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", &svg[..80]);
    assert!(svg.contains("turnout, % of registered voters"));
    assert!(svg.trim_end().ends_with("</svg>"));

    let png_args = ["forensics", "data", "--format", "png", "--out", "fp.png"];
    sverka(&[&png_args[..], &["--simulations", "99"]].concat(), cwd);
    let png = std::fs::read(cwd.join("fp.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: 100 cells of 6 px plus a 10 px margin on each side.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 620);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 620);

    let refused = run(&["forensics", "data", "--format", "png"], cwd);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--out"));
    let unknown = run(&["forensics", "data", "--contest", "nope", "--simulations", "99"], cwd);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("\"nope\" is not in the election"));
}
