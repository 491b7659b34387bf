//! Fuzzes the offline receipt parser (C2SP tlog-proof, what `sverka receipt check` reads):
//! arbitrary bytes never panic, whatever parses prints back to the same bytes, and checking the
//! parsed proof against a log key never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::note::{Ed25519Verifier, VerifierSet};
use sverka_tlog::proof::TlogProof;

/// The log key of the receipt in `seeds/tlog_proof/seed-ok-receipt-entry-5`.
const LOG_VKEY: &str =
    "sverka.example/kg-2021+d58ae0df+AVgiyRRJzL0iYC65zXpyl/mFUdPdL2AD2tgmiVoI5X/G";

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = TlogProof::parse(data) {
        assert_eq!(proof.to_bytes(), data);
        let keys = VerifierSet::with(vec![Box::new(
            Ed25519Verifier::from_vkey(LOG_VKEY).expect("valid key"),
        )])
        .expect("one key");
        let entry = proof.extra.clone().unwrap_or_default();
        let _ = proof.verify_entry(&entry, &keys);
    }
});
