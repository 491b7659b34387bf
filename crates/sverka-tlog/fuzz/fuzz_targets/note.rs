//! Fuzzes the signed-note parser and verifier: arbitrary bytes never panic, whatever parses prints
//! back to the same bytes, and verification against a fixed key never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::note::{Ed25519Verifier, Note, VerifierSet};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(note.to_bytes(), data);
        let known = VerifierSet::with(vec![Box::new(
            Ed25519Verifier::from_vkey(PETER_VKEY).expect("valid key"),
        )])
        .expect("one key");
        let _ = note.verify(&known);
    }
});
