//! The fuzz seeds (`fuzz/seeds/allocate_json/`) through `allocate_json` on stable: none
//! panics, `seed-ok-…` seeds are accepted with the house filled or empty, `seed-err-…` seeds are
//! refused with a message.

use sverka_tally::seats::allocate_json;

#[path = "../../sverka-tlog/tests/seed_corpus/mod.rs"]
mod seed_corpus;
use seed_corpus::check_seeds;

#[test]
fn fuzz_seeds_run_without_panic() {
    let promised = check_seeds(env!("CARGO_MANIFEST_DIR"), "allocate_json", |seed| {
        let (name, bytes) = (&seed.name, &seed.data);
        let result = std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(|s| allocate_json(s).map_err(|e| e.to_string()));
        match (&result, seed.promise()) {
            (Ok(out), Some(true)) => {
                let out: serde_json::Value = serde_json::from_str(out).unwrap();
                let request: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                let given: u64 =
                    out["seats"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
                let qualified = !out["qualified"].as_array().unwrap().is_empty();
                assert_eq!(
                    given,
                    if qualified { request["seats"].as_u64().unwrap() } else { 0 },
                    "{name}"
                );
            }
            (Err(message), Some(false)) => {
                assert!(!message.is_empty() && !message.ends_with('.'), "{name}: {message}");
            }
            (Err(message), Some(true)) => panic!("{name}: {message}"),
            _ => {}
        }
        result.is_ok()
    });
    assert!(promised >= 15, "the committed seeds are there");
}
