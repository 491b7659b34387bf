//! Fuzzes the `election.toml` parser and validator (`Election::from_toml`): arbitrary text never
//! panics, and every error it reports is located inside the text (a line that exists, a column
//! within that line, a message that says something).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_model::Election;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(errors) = Election::from_toml("election.toml", text) {
        assert!(!errors.0.is_empty(), "a refusal names at least one problem");
        let lines: Vec<&str> = text.split('\n').collect();
        for error in &errors.0 {
            assert!(!error.message.trim().is_empty(), "{error}");
            assert!(error.line >= 1 && error.line <= lines.len(), "{error}");
            let width = lines[error.line - 1].chars().count();
            assert!(error.column >= 1 && error.column <= width + 1, "{error}");
        }
    }
});
