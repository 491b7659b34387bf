//! The fuzz seeds (`fuzz/seeds/allocate_json/`) through `allocate_json` on stable: none
//! panics, `ok-*` seeds are accepted with the house filled or empty, `err-*` seeds are refused.

use std::fs;
use std::path::Path;

use sverka_tally::seats::allocate_json;

#[test]
fn fuzz_seeds_run_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/allocate_json");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(&path).unwrap();
        let result = std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|s| allocate_json(s).map_err(|e| e.to_string()));
        if name.starts_with("ok-") {
            let out = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let out: serde_json::Value = serde_json::from_str(&out).unwrap();
            let request: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let given: u64 =
                out["seats"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
            let qualified = !out["qualified"].as_array().unwrap().is_empty();
            assert_eq!(
                given,
                if qualified { request["seats"].as_u64().unwrap() } else { 0 },
                "{name}"
            );
        } else if name.starts_with("err-") {
            let message = result.expect_err(&name);
            assert!(!message.is_empty() && !message.ends_with('.'), "{name}: {message}");
        }
        seen += 1;
    }
    assert!(seen >= 15, "expected the committed seeds in {}", dir.display());
}
