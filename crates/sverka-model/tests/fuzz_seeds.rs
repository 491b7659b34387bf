//! Feeds the fuzz seeds of `fuzz/seeds/{submission,election_toml}/` through the checks of the
//! cargo-fuzz targets on stable Rust, so every `cargo test` runs them: `seed-ok-…` files are
//! accepted, `seed-err-…` files refused, with the same invariants the targets assert (the two
//! submission decoders agree and accepted bytes are canonical; every election.toml error is
//! located inside the file). A crash the fuzzer finds is added here as `seed-err-…` with its fix.

use sverka_model::validate::decode_submission;
use sverka_model::{Election, Submission};

#[path = "../../sverka-tlog/tests/seed_corpus/mod.rs"]
mod seed_corpus;
use seed_corpus::check_seeds;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn submission_seeds() {
    check_seeds(CRATE, "submission", |seed| {
        let (name, data) = (&seed.name, &seed.data);
        let plain = Submission::decode(data);
        let named = decode_submission(data);
        assert_eq!(plain.is_ok(), named.is_ok(), "{name}: the decoders disagree");
        if let (Ok(plain), Ok(named)) = (&plain, &named) {
            assert_eq!(plain, named, "{name}");
            assert_eq!(&named.to_bytes(), data, "{name}: accepted bytes are canonical");
        }
        if let Err(finding) = &named {
            assert!(finding.is_error(), "{name}");
            assert!(finding.rule().code.starts_with("E0"), "{name}: {}", finding.rule().code);
        }
        named.is_ok()
    });
}

#[test]
fn election_toml_seeds() {
    check_seeds(CRATE, "election_toml", |seed| {
        let name = &seed.name;
        let text = std::str::from_utf8(&seed.data).expect("seeds are UTF-8");
        let parsed = Election::from_toml("election.toml", text);
        if let Err(errors) = &parsed {
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(!errors.0.is_empty(), "{name}");
            for error in &errors.0 {
                assert!(error.line >= 1 && error.line <= lines.len(), "{name}: {error}");
                let width = lines[error.line - 1].chars().count();
                assert!(error.column >= 1 && error.column <= width + 1, "{name}: {error}");
            }
        }
        parsed.is_ok()
    });
}
