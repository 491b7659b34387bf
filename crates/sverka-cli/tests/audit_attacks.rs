//! Attacks on an audit that the log's own rules cannot see, caught by `sverka verify`
//! (`sverka_audit::verify`, issue 7): a `draw` entry whose stations are not what the seed and the
//! manifest give, and a `risk` entry that states a lower risk and a confirmation the hand counts do
//! not support. Both are signed by a real CEC admin key and pass admission (the order of the steps
//! is right); the observer's verifier recomputes the draws and the risks and names the entry.

use std::path::Path;
use std::process::Output;

use sverka_model::audit::{AuditDecision, AuditStep};
use sverka_model::{Body, Submission};

mod common;
use common::{audit, audit_status, hand_counts, imported_night, run, sverka, votes_arg, ADMIN};

/// Writes an audit step with `--out`, changes it with `edit`, signs it again with the admin key
/// (a real key: the forgery is the commission's own), and imports it into `dir`.
fn forge(cwd: &Path, dir: &str, args: &[&str], edit: impl Fn(&mut AuditStep)) {
    let file = cwd.join(format!("{}-{}.jsonl", dir, args[0]));
    let out_path = file.to_str().unwrap();
    audit(cwd, dir, &[args, &["--out", out_path]].concat());
    let honest = Submission::decode(std::fs::read(&file).unwrap().trim_ascii_end()).unwrap();
    let mut payload = honest.payload;
    let Body::Audit(step) = &mut payload.body else { panic!("an audit step") };
    edit(step);
    let text = std::fs::read_to_string(cwd.join(ADMIN)).unwrap();
    let key = sverka_model::keys::decode_private_key(&text).unwrap();
    let mut line = payload.sign(&key).to_bytes();
    line.push(b'\n');
    std::fs::write(&file, line).unwrap();
    sverka(&["import", dir, out_path], cwd);
}

fn verify(cwd: &Path, dir: &str) -> Output {
    let public = format!("{dir}-public");
    sverka(&["publish", dir, "--out", &public], cwd);
    run(&["verify", &public], cwd)
}

#[test]
fn a_tampered_draw_and_a_misstated_risk_are_caught_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    imported_night(cwd, 3, Some(60));
    let official = hand_counts(cwd);

    // an honest audit up to its first round's risk: verify recomputes it and passes
    audit(cwd, "data", &["define", "--audit", "a", "--contest", "list"]);
    audit(cwd, "data", &["manifest", "--audit", "a"]);
    let before_seed = cwd.join("before-seed");
    copy_dir(&cwd.join("data"), &before_seed);
    audit(cwd, "data", &["seed", "--audit", "a", "--seed", "4711"]);
    audit(cwd, "data", &["draw", "--audit", "a", "--sample-size", "6"]);
    let now = audit_status(cwd, "data", "a");
    for station in now["to_count"].as_array().unwrap() {
        let station = station.as_str().unwrap();
        let (votes, invalid) = &official[station];
        let (votes, invalid) = (votes_arg(votes), invalid.to_string());
        audit(
            cwd,
            "data",
            &[
                "record",
                "--audit",
                "a",
                "--station",
                station,
                "--votes",
                &votes,
                "--invalid",
                &invalid,
            ],
        );
    }
    audit(cwd, "data", &["risk", "--audit", "a"]);
    let honest = verify(cwd, "data");
    let summary = String::from_utf8_lossy(&honest.stdout);
    assert!(honest.status.success(), "{}", String::from_utf8_lossy(&honest.stderr));
    assert!(
        summary.contains("1 audit(s) recomputed") && summary.contains("1 stated risk"),
        "{summary}"
    );

    // a risk step claiming every risk is tiny and the outcome confirmed
    forge(cwd, "data", &["risk", "--audit", "a"], |step| {
        let AuditStep::Risk(risk) = step else { panic!("a risk step") };
        for r in &mut risk.risks {
            *r = "0.000000000001".into();
        }
        risk.decision = AuditDecision::Confirmed;
    });
    let caught = verify(cwd, "data");
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert_eq!(caught.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("audit steps: entry"), "{stderr}");
    assert!(stderr.contains("risk step states"), "{stderr}");

    // a draw whose first station is not the one the seed gives
    let dir = "before-seed";
    audit(cwd, dir, &["seed", "--audit", "a", "--seed", "4711"]);
    forge(cwd, dir, &["draw", "--audit", "a", "--sample-size", "6"], |step| {
        let AuditStep::Draw(draw) = step else { panic!("a draw step") };
        let other = official.keys().find(|s| **s != draw.draws[0]).unwrap();
        draw.draws[0] = other.clone();
    });
    let caught = verify(cwd, dir);
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert_eq!(caught.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("draw 1 (round 1"), "{stderr}");
    assert!(stderr.contains("but the seed and the manifest give"), "{stderr}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
