//! Fuzzes the checkpoint parser: arbitrary bytes as checkpoint text never panic, and whatever
//! parses prints back to exactly the same text; also opens them as signed notes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::note::VerifierSet;
use sverka_tlog::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::parse(text) {
            assert_eq!(checkpoint.to_text(), text);
        }
    }
    let _ = Checkpoint::open(data, &VerifierSet::new());
});
