//! Feeds the seeds of the `batch` fuzz target (`fuzz/seeds/batch/`) through the same checks as
//! the target, on stable Rust in every `cargo test`: `seed-ok-…` bodies split into items that are
//! slices of the body, `seed-err-…` bodies are refused.

use std::path::PathBuf;

use sverka_model::batch::split;

#[test]
fn batch_corpus() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "seeds", "batch"].iter().collect();
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let data = std::fs::read(&path).unwrap();
        let result = split(&data);
        if let Ok(items) = &result {
            assert!(!items.is_empty(), "{name}");
            let body = data.as_ptr_range();
            for item in items {
                let range = item.as_ptr_range();
                assert!(body.start <= range.start && range.end <= body.end, "{name}");
                assert!(!item.is_empty() && !item.iter().all(u8::is_ascii_whitespace), "{name}");
            }
        }
        if name.starts_with("seed-ok-") {
            assert!(result.is_ok(), "{name} was refused: {result:?}");
            seeds += 1;
        } else if name.starts_with("seed-err-") {
            assert!(result.is_err(), "{name} was accepted");
            seeds += 1;
        }
    }
    assert!(seeds >= 6, "the batch seeds are there");
}

#[test]
fn two_submissions_split_into_their_exact_bytes() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "seeds"].iter().collect();
    let lines = std::fs::read(dir.join("batch/seed-ok-two-submissions-as-lines")).unwrap();
    let array = std::fs::read(dir.join("batch/seed-ok-two-submissions-as-array")).unwrap();
    let from_lines = split(&lines).unwrap();
    assert_eq!(from_lines.len(), 2);
    assert_eq!(split(&array).unwrap(), from_lines, "the array's items are the lines' bytes");
}
