//! Feeds the seeds of the `tlog_proof` and `tlog_policy` fuzz targets (`fuzz/seeds/<target>/`)
//! through the same checks as the targets, on stable Rust in every `cargo test`. Seeds named
//! `seed-ok-…` must be accepted and `seed-err-…` refused; other files only have to pass the checks.

use sverka_tlog::note::{Ed25519Verifier, Note, VerifierSet};
use sverka_tlog::policy::Policy;
use sverka_tlog::proof::TlogProof;

mod seed_corpus;
use seed_corpus::check_seeds;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// The log key of `seeds/tlog_proof/seed-ok-receipt-entry-5` (a `sverka demo` night).
const LOG_VKEY: &str =
    "sverka.example/kg-2021+d58ae0df+AVgiyRRJzL0iYC65zXpyl/mFUdPdL2AD2tgmiVoI5X/G";

#[test]
fn tlog_proof_corpus() {
    let keys =
        VerifierSet::with(vec![Box::new(Ed25519Verifier::from_vkey(LOG_VKEY).unwrap())]).unwrap();
    check_seeds(CRATE, "tlog_proof", |seed| {
        let parsed = TlogProof::parse(&seed.data);
        if let Ok(proof) = &parsed {
            assert_eq!(proof.to_bytes(), seed.data, "{} prints back", seed.name);
            let entry = proof.extra.clone().unwrap_or_default();
            let verified = proof.verify_entry(&entry, &keys);
            if seed.name == "seed-ok-receipt-entry-5" {
                assert!(verified.is_ok(), "the demo's receipt verifies: {verified:?}");
            }
        }
        parsed.is_ok()
    });
}

#[test]
fn tlog_policy_corpus() {
    check_seeds(CRATE, "tlog_policy", |seed| {
        let name = &seed.name;
        let parsed = std::str::from_utf8(&seed.data).ok().map(Policy::parse);
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
        matches!(parsed, Some(Ok(_)))
    });
}

/// The checkpoint of the receipt seed, signed by the log key, without cosignatures.
const CHECKPOINT: &str = "sverka.example/kg-2021\n840\n2NSrHcG58P8rxNEMmfD5qcpKo8lm7fjNEfJQA5pWB24=\n\n\
— sverka.example/kg-2021 1Yrg3+sHH+2oozdCuLnw0yt0iyyvxeEvXxLjieUh95hz/UGV0mfIpLBYefCfJ0zL1SCMg1XsAR+LZvo8DKH3bCkfYgM=\n";
