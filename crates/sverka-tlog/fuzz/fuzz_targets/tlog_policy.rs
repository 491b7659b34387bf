//! Fuzzes the witness policy parser (C2SP tlog-policy, what `sverka verify --policy` reads):
//! arbitrary text never panics, an accepted policy's witnesses have distinct names, and
//! evaluating it against a signed checkpoint never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::note::Note;
use sverka_tlog::policy::Policy;

/// A checkpoint signed by the log key of the seeds (no cosignatures).
const CHECKPOINT: &str = "sverka.example/kg-2021\n\
840\n\
2NSrHcG58P8rxNEMmfD5qcpKo8lm7fjNEfJQA5pWB24=\n\
\n\
— sverka.example/kg-2021 1Yrg3+sHH+2oozdCuLnw0yt0iyyvxeEvXxLjieUh95hz/UGV0mfIpLBYefCfJ0zL1SCMg1XsAR+LZvo8DKH3bCkfYgM=\n\
";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::parse(text) {
        let mut names = policy.witness_names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "two witnesses share a name");
        let note = Note::parse(CHECKPOINT.as_bytes()).expect("the checkpoint is a note");
        let _ = policy.evaluate(&note);
        let _ = policy.log_verifiers();
    }
});
