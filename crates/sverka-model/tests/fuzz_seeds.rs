//! Feeds the fuzz seeds of `fuzz/seeds/{submission,election_toml}/` through the checks of the
//! cargo-fuzz targets on stable Rust, so every `cargo test` runs them: `seed-ok-…` files are
//! accepted, `seed-err-…` files refused, with the same invariants the targets assert (the two
//! submission decoders agree and accepted bytes are canonical; every election.toml error is
//! located inside the file). A crash the fuzzer finds is added here as `seed-err-…` with its fix.

use std::path::PathBuf;

use sverka_model::validate::decode_submission;
use sverka_model::{Election, Submission};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "seeds", target].iter().collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            (name, std::fs::read(&path).expect("readable seed"))
        })
        .collect();
    files.sort();
    assert!(files.iter().any(|(n, _)| n.starts_with("seed-ok-")), "{target}: no ok seed");
    assert!(files.iter().any(|(n, _)| n.starts_with("seed-err-")), "{target}: no err seed");
    files
}

fn expect(name: &str, accepted: bool) {
    if name.starts_with("seed-ok-") {
        assert!(accepted, "{name} was refused");
    } else if name.starts_with("seed-err-") {
        assert!(!accepted, "{name} was accepted");
    }
}

#[test]
fn submission_seeds() {
    for (name, data) in seeds("submission") {
        let plain = Submission::decode(&data);
        let named = decode_submission(&data);
        assert_eq!(plain.is_ok(), named.is_ok(), "{name}: the decoders disagree");
        if let (Ok(plain), Ok(named)) = (&plain, &named) {
            assert_eq!(plain, named, "{name}");
            assert_eq!(named.to_bytes(), data, "{name}: accepted bytes are canonical");
        }
        if let Err(finding) = &named {
            assert!(finding.is_error(), "{name}");
            assert!(finding.rule().code.starts_with("E0"), "{name}: {}", finding.rule().code);
        }
        expect(&name, named.is_ok());
    }
}

#[test]
fn election_toml_seeds() {
    for (name, data) in seeds("election_toml") {
        let text = String::from_utf8(data).expect("seeds are UTF-8");
        let parsed = Election::from_toml("election.toml", &text);
        if let Err(errors) = &parsed {
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(!errors.0.is_empty(), "{name}");
            for error in &errors.0 {
                assert!(error.line >= 1 && error.line <= lines.len(), "{name}: {error}");
                let width = lines[error.line - 1].chars().count();
                assert!(error.column >= 1 && error.column <= width + 1, "{name}: {error}");
            }
        }
        expect(&name, parsed.is_ok());
    }
}
