//! Feeds the seeds of the `tlog_proof` and `tlog_policy` fuzz targets (`fuzz/seeds/<target>/`)
//! through the same checks as the targets, on stable Rust in every `cargo test`. Seeds named
//! `seed-ok-…` must be accepted and `seed-err-…` refused; other files only have to pass the checks.

use std::path::PathBuf;

use sverka_tlog::note::{Ed25519Verifier, Note, VerifierSet};
use sverka_tlog::policy::Policy;
use sverka_tlog::proof::TlogProof;

/// The log key of `seeds/tlog_proof/seed-ok-receipt-entry-5` (a `sverka demo` night).
const LOG_VKEY: &str =
    "sverka.example/kg-2021+d58ae0df+AVgiyRRJzL0iYC65zXpyl/mFUdPdL2AD2tgmiVoI5X/G";

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "seeds", target].iter().collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            (name, std::fs::read(&path).expect("readable seed"))
        })
        .collect();
    files.sort();
    assert!(files.iter().any(|(n, _)| n.starts_with("seed-ok-")), "{target}: no ok seed");
    assert!(files.iter().any(|(n, _)| n.starts_with("seed-err-")), "{target}: no err seed");
    files
}

fn expect(name: &str, accepted: bool) {
    if name.starts_with("seed-ok-") {
        assert!(accepted, "{name} was refused");
    } else if name.starts_with("seed-err-") {
        assert!(!accepted, "{name} was accepted");
    }
}

#[test]
fn tlog_proof_corpus() {
    let keys =
        VerifierSet::with(vec![Box::new(Ed25519Verifier::from_vkey(LOG_VKEY).unwrap())]).unwrap();
    for (name, data) in corpus("tlog_proof") {
        let parsed = TlogProof::parse(&data);
        if let Ok(proof) = &parsed {
            assert_eq!(proof.to_bytes(), data, "{name} prints back");
            let entry = proof.extra.clone().unwrap_or_default();
            let verified = proof.verify_entry(&entry, &keys);
            if name == "seed-ok-receipt-entry-5" {
                assert!(verified.is_ok(), "the demo's receipt verifies: {verified:?}");
            }
        }
        expect(&name, parsed.is_ok());
    }
}

#[test]
fn tlog_policy_corpus() {
    for (name, data) in corpus("tlog_policy") {
        let parsed = std::str::from_utf8(&data).ok().map(Policy::parse);
        if let Some(Ok(policy)) = &parsed {
            let mut names = policy.witness_names();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{name}: two witnesses share a name");
            let note = Note::parse(CHECKPOINT.as_bytes()).unwrap();
            let outcome = policy.evaluate(&note);
            if name == "seed-ok-two-of-two" {
                assert!(!outcome.quorum_met, "an uncosigned checkpoint does not meet 2 of 2");
            }
        }
        expect(&name, matches!(parsed, Some(Ok(_))));
    }
}

/// The checkpoint of the receipt seed, signed by the log key, without cosignatures.
const CHECKPOINT: &str = "sverka.example/kg-2021\n840\n2NSrHcG58P8rxNEMmfD5qcpKo8lm7fjNEfJQA5pWB24=\n\n\
— sverka.example/kg-2021 1Yrg3+sHH+2oozdCuLnw0yt0iyyvxeEvXxLjieUh95hz/UGV0mfIpLBYefCfJ0zL1SCMg1XsAR+LZvo8DKH3bCkfYgM=\n";
