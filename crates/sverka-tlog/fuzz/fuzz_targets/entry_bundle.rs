//! Fuzzes the entry bundle parser: arbitrary bytes never panic, and every accepted bundle
//! re-encodes to exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::bundle::{encode_bundle, parse_bundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_bundle(data) {
        assert!(!entries.is_empty() && entries.len() <= 256);
        assert_eq!(encode_bundle(&entries).expect("parsed entries re-encode"), data);
    }
});
