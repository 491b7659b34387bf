//! Feeds the fuzz seed corpus (`fuzz/seeds/<target>/`) through the same checks as the cargo-fuzz
//! targets, so CI exercises them on stable Rust. Hand-written seeds are named `seed-ok-…` or
//! `seed-err-…` and must parse or be rejected accordingly; any other file (inputs libFuzzer added
//! locally) only has to not panic and round-trip.

use std::path::{Path, PathBuf};

use sverka_tlog::bundle::{encode_bundle, parse_bundle};
use sverka_tlog::note::{Ed25519Verifier, Note, VerifierSet};
use sverka_tlog::tile::{parse_path, TilePath};
use sverka_tlog::Checkpoint;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "seeds", target].iter().collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = file_name(&path);
            (name, std::fs::read(&path).expect("readable corpus file"))
        })
        .collect();
    files.sort();
    assert!(files.iter().any(|(name, _)| name.starts_with("seed-ok-")), "{target} has no ok seed");
    assert!(
        files.iter().any(|(name, _)| name.starts_with("seed-err-")),
        "{target} has no err seed"
    );
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned()
}

/// Checks the verdict a seed's name promises.
fn expect(name: &str, accepted: bool) {
    if name.starts_with("seed-ok-") {
        assert!(accepted, "{name} was rejected");
    } else if name.starts_with("seed-err-") {
        assert!(!accepted, "{name} was accepted");
    }
}

#[test]
fn checkpoint_corpus() {
    for (name, data) in corpus("checkpoint") {
        let as_text = std::str::from_utf8(&data).ok().and_then(|t| Checkpoint::parse(t).ok());
        if let Some(checkpoint) = &as_text {
            assert_eq!(checkpoint.to_text().as_bytes(), &data[..], "{name}");
        }
        let as_note = Note::parse(&data).ok().and_then(|n| Checkpoint::parse(n.text()).ok());
        let _ = Checkpoint::open(&data, &VerifierSet::new());
        expect(&name, as_text.is_some() || as_note.is_some());
    }
}

#[test]
fn note_corpus() {
    let known = VerifierSet::with(vec![Box::new(
        Ed25519Verifier::from_vkey(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap(),
    )])
    .unwrap();
    for (name, data) in corpus("note") {
        let parsed = Note::parse(&data);
        if let Ok(note) = &parsed {
            assert_eq!(note.to_bytes(), data, "{name}");
            let verified = note.verify(&known);
            if name == "seed-ok-peter-neumann" {
                assert!(verified.is_ok(), "the Peter Neumann note must verify");
            }
        }
        expect(&name, parsed.is_ok());
    }
}

#[test]
fn tile_path_corpus() {
    for (name, data) in corpus("tile_path") {
        let parsed = std::str::from_utf8(&data).ok().map(|path| (path, parse_path(path)));
        match &parsed {
            Some((path, Ok(TilePath::Hash(tile)))) => assert_eq!(&tile.path(), path),
            Some((path, Ok(TilePath::Entries(bundle)))) => assert_eq!(&bundle.path(), path),
            _ => {}
        }
        expect(&name, matches!(parsed, Some((_, Ok(_)))));
    }
}

#[test]
fn entry_bundle_corpus() {
    for (name, data) in corpus("entry_bundle") {
        let parsed = parse_bundle(&data);
        if let Ok(entries) = &parsed {
            assert_eq!(encode_bundle(entries).unwrap(), data, "{name}");
        }
        expect(&name, parsed.is_ok());
    }
}
