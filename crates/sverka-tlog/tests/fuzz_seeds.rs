//! Feeds the fuzz seed corpus (`fuzz/seeds/<target>/`) through the same checks as the cargo-fuzz
//! targets, so CI exercises them on stable Rust. Hand-written seeds are named `seed-ok-…` or
//! `seed-err-…` and must parse or be rejected accordingly; any other file (inputs libFuzzer added
//! locally) only has to not panic and round-trip.

use sverka_tlog::bundle::{encode_bundle, parse_bundle};
use sverka_tlog::note::{Ed25519Verifier, Note, VerifierSet};
use sverka_tlog::tile::{parse_path, TilePath};
use sverka_tlog::Checkpoint;

mod seed_corpus;
use seed_corpus::check_seeds;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn checkpoint_corpus() {
    check_seeds(CRATE, "checkpoint", |seed| {
        let (name, data) = (&seed.name, &seed.data);
        let as_text = std::str::from_utf8(data).ok().and_then(|t| Checkpoint::parse(t).ok());
        if let Some(checkpoint) = &as_text {
            assert_eq!(checkpoint.to_text().as_bytes(), &data[..], "{name}");
        }
        let as_note = Note::parse(data).ok().and_then(|n| Checkpoint::parse(n.text()).ok());
        let _ = Checkpoint::open(data, &VerifierSet::new());
        as_text.is_some() || as_note.is_some()
    });
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
    check_seeds(CRATE, "note", |seed| {
        let parsed = Note::parse(&seed.data);
        if let Ok(note) = &parsed {
            assert_eq!(note.to_bytes(), seed.data, "{}", seed.name);
            let verified = note.verify(&known);
            if seed.name == "seed-ok-peter-neumann" {
                assert!(verified.is_ok(), "the Peter Neumann note must verify");
            }
        }
        parsed.is_ok()
    });
}

#[test]
fn tile_path_corpus() {
    check_seeds(CRATE, "tile_path", |seed| {
        let parsed = std::str::from_utf8(&seed.data).ok().map(|path| (path, parse_path(path)));
        match &parsed {
            Some((path, Ok(TilePath::Hash(tile)))) => assert_eq!(&tile.path(), path),
            Some((path, Ok(TilePath::Entries(bundle)))) => assert_eq!(&bundle.path(), path),
            _ => {}
        }
        matches!(parsed, Some((_, Ok(_))))
    });
}

#[test]
fn entry_bundle_corpus() {
    check_seeds(CRATE, "entry_bundle", |seed| {
        let parsed = parse_bundle(&seed.data);
        if let Ok(entries) = &parsed {
            assert_eq!(encode_bundle(entries).unwrap(), seed.data, "{}", seed.name);
        }
        parsed.is_ok()
    });
}
