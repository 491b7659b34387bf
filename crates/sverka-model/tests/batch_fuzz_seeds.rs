//! Feeds the seeds of the `batch` fuzz target (`fuzz/seeds/batch/`) through the same checks as
//! the target, on stable Rust in every `cargo test`: `seed-ok-…` bodies split into items that are
//! slices of the body, `seed-err-…` bodies are refused.

use sverka_model::batch::split;

#[path = "../../sverka-tlog/tests/seed_corpus/mod.rs"]
mod seed_corpus;
use seed_corpus::{check_seeds, seeds};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn batch_corpus() {
    let promised = check_seeds(CRATE, "batch", |seed| {
        let (name, data) = (&seed.name, &seed.data);
        let result = split(data);
        if let Ok(items) = &result {
            assert!(!items.is_empty(), "{name}");
            let body = data.as_ptr_range();
            for item in items {
                let range = item.as_ptr_range();
                assert!(body.start <= range.start && range.end <= body.end, "{name}");
                assert!(!item.is_empty() && !item.iter().all(u8::is_ascii_whitespace), "{name}");
            }
        }
        result.is_ok()
    });
    assert!(promised >= 6, "the batch seeds are there");
}

#[test]
fn two_submissions_split_into_their_exact_bytes() {
    let seeds = seeds(CRATE, "batch");
    let seed = |name: &str| &seeds.iter().find(|s| s.name == name).expect(name).data;
    let lines = seed("seed-ok-two-submissions-as-lines");
    let array = seed("seed-ok-two-submissions-as-array");
    let from_lines = split(lines).unwrap();
    assert_eq!(from_lines.len(), 2);
    assert_eq!(split(array).unwrap(), from_lines, "the array's items are the lines' bytes");
}
