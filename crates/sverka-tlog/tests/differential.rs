//! Differential tests against independent implementations from crates.io (dev-dependencies only):
//! `tlog_tiles` 0.2 (Cloudflare's port of Go's `sumdb/tlog`: tiles, stored hashes, proofs,
//! checkpoints) and `signed_note` 0.2 (port of Go's `sumdb/note`). Paths, tile contents, roots,
//! proofs, checkpoints, keys and note signatures must agree.
//!
//! `tlog_tiles` uses the sumdb path layout `tile/<H>/<L>/<N>` with the height in the path and
//! `data` for entries; tlog-tiles drops the fixed height 8 and says `entries`. We translate.

use std::cell::RefCell;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sverka_tlog::merkle::{consistency_proof, inclusion_proof, root, MemoryTree};
use sverka_tlog::note::{
    Ed25519Signer, Ed25519Verifier, Note, NoteSigner, NoteVerifier, VerifierSet,
};
use sverka_tlog::tile::{
    new_tiles, split_stored_hash_index, stored_hash_count, stored_hash_index, tile_for_stored_hash,
    EntryBundle, Tile,
};
use sverka_tlog::{append_leaves, leaf_hash, Checkpoint, Hash, MemoryTiles, TileHashSource};

fn theirs(hash: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(hash.0)
}

fn ours(hash: &tlog_tiles::Hash) -> Hash {
    Hash(hash.0)
}

fn their_tile(tile: &Tile) -> tlog_tiles::Tile {
    tlog_tiles::Tile::new(8, tile.level(), tile.index(), u32::from(tile.width()), false)
}

/// Stored hashes built with `tlog_tiles::stored_hashes`, readable as a `tlog_tiles::HashReader`.
struct StoredHashes(RefCell<Vec<tlog_tiles::Hash>>);

impl tlog_tiles::HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let stored = self.0.borrow();
        Ok(indexes.iter().map(|&i| stored[i as usize]).collect())
    }
}

fn entries(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
}

fn their_stored_hashes(entries: &[Vec<u8>]) -> StoredHashes {
    let reader = StoredHashes(RefCell::new(Vec::new()));
    for (n, data) in entries.iter().enumerate() {
        let new = tlog_tiles::stored_hashes(n as u64, data, &reader).expect("stored hashes");
        reader.0.borrow_mut().extend(new);
    }
    reader
}

#[test]
fn tile_paths_agree_and_parse_the_same() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for _ in 0..2000 {
        let level = rng.gen_range(0..4u8);
        let index = match rng.gen_range(0..3) {
            0 => rng.gen_range(0..1000),
            1 => rng.gen_range(0..10_000_000),
            // Tiles whose first leaf is at or past 2^64 are rejected by design.
            _ => rng.gen_range(0..(1u64 << (56 - 8 * u32::from(level)))),
        };
        let width = if rng.gen_bool(0.5) { 256 } else { rng.gen_range(1..256u16) };
        let tile = Tile::new(level, index, width).unwrap();
        let their_path = their_tile(&tile).path();
        assert_eq!(their_path.replacen("tile/8/", "tile/", 1), tile.path());
        assert_eq!(tlog_tiles::Tile::from_path(&their_path).unwrap(), their_tile(&tile));
        assert_eq!(Tile::from_path(&tile.path()).unwrap(), tile);

        let bundle = EntryBundle::new(index, width).unwrap();
        let mut their_data = their_tile(&tile);
        their_data =
            tlog_tiles::Tile::new(8, 0, their_data.level_index(), their_data.width(), true);
        assert_eq!(their_data.path().replacen("tile/8/data/", "tile/entries/", 1), bundle.path());
    }
}

#[test]
fn new_tiles_agree() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for _ in 0..500 {
        let old = rng.gen_range(0..200_000u64);
        let new = old + rng.gen_range(0..100_000u64);
        let mine: Vec<Tile> = new_tiles(old, new);
        let mut theirs: Vec<(u8, u64, u32)> = tlog_tiles::Tile::new_tiles(8, old, new)
            .iter()
            .map(|t| (t.level(), t.level_index(), t.width()))
            .collect();
        theirs.sort();
        let mut mine: Vec<(u8, u64, u32)> =
            mine.iter().map(|t| (t.level(), t.index(), u32::from(t.width()))).collect();
        mine.sort();
        assert_eq!(mine, theirs, "{old} -> {new}");
    }
}

#[test]
fn stored_hash_arithmetic_agrees() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for _ in 0..5000 {
        let index = match rng.gen_range(0..2) {
            0 => rng.gen_range(0..100_000u64),
            _ => rng.gen_range(0..(1u64 << 50)),
        };
        let (level, n) = split_stored_hash_index(index);
        assert_eq!((level, n), tlog_tiles::split_stored_hash_index(index));
        assert_eq!(stored_hash_index(level, n), Some(tlog_tiles::stored_hash_index(level, n)));
        let size = index + 1;
        assert_eq!(stored_hash_count(size), tlog_tiles::stored_hash_count(size));
        let (tile, _) = tile_for_stored_hash(index);
        let their = tlog_tiles::Tile::from_index(8, index);
        assert_eq!(
            (tile.level(), tile.index(), u32::from(tile.width())),
            (their.level(), their.level_index(), their.width()),
            "stored hash {index}"
        );
    }
}

#[test]
fn tiles_roots_and_proofs_agree_with_tlog_tiles() {
    let size = 70_000u64;
    let entries = entries(size);
    let stored = their_stored_hashes(&entries);
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    for (i, leaf) in leaves.iter().enumerate().step_by(997) {
        assert_eq!(theirs(leaf), tlog_tiles::record_hash(&entries[i]));
    }

    let mut tiles = MemoryTiles::new();
    let mut built = 0u64;
    for batch in [1u64, 2, 300, 4000, 61_000, 4697] {
        let chunk = &leaves[built as usize..(built + batch) as usize];
        let outcome = append_leaves(&tiles, built, chunk).unwrap();
        built = outcome.size();
        assert_eq!(
            theirs(&outcome.root()),
            tlog_tiles::tree_hash(built, &stored).unwrap(),
            "root at {built}"
        );
        tiles.insert_all(outcome.into_tiles());
    }
    assert_eq!(built, size);

    for tile in new_tiles(0, size) {
        let their_bytes = their_tile(&tile).read_data(&stored).unwrap();
        assert!(tiles.get(&tile) == Some(&their_bytes[..]), "tile {tile} differs");
    }

    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut tree = MemoryTree::from_leaf_hashes(&leaves);
    for _ in 0..300 {
        let t = rng.gen_range(1..=size);
        let n = rng.gen_range(0..t);
        let head = tlog_tiles::tree_hash(t, &stored).unwrap();
        assert_eq!(ours(&head), tree.root_at(t).unwrap());
        assert_eq!(ours(&head), root(&leaves[..t as usize]));

        let their_record: Vec<Hash> =
            tlog_tiles::prove_record(t, n, &stored).unwrap().iter().map(ours).collect();
        assert_eq!(inclusion_proof(&mut tree, n, t).unwrap(), their_record);
        let mut source = TileHashSource::new(&tiles, t);
        let from_tiles = source.inclusion_proof(n).unwrap();
        assert_eq!(from_tiles, their_record);
        let as_theirs: Vec<tlog_tiles::Hash> = from_tiles.iter().map(theirs).collect();
        tlog_tiles::check_record(&as_theirs, t, head, n, theirs(&leaves[n as usize])).unwrap();

        let old = rng.gen_range(1..=t);
        let their_tree: Vec<Hash> =
            tlog_tiles::prove_tree(t, old, &stored).unwrap().iter().map(ours).collect();
        assert_eq!(consistency_proof(&mut tree, old, t).unwrap(), their_tree);
        assert_eq!(source.consistency_proof(old).unwrap(), their_tree);
        let old_head = tlog_tiles::tree_hash(old, &stored).unwrap();
        let as_theirs: Vec<tlog_tiles::Hash> = their_tree.iter().map(theirs).collect();
        tlog_tiles::check_tree(&as_theirs, t, head, old, old_head).unwrap();
    }
}

#[test]
fn checkpoints_agree_with_tlog_tiles() {
    let root = leaf_hash(b"checkpoint");
    let checkpoint = Checkpoint::new("example.com/log", 123_456, root)
        .unwrap()
        .with_extensions(vec!["ext a".into(), "ext b".into()])
        .unwrap();
    let parsed = tlog_tiles::Checkpoint::from_bytes(checkpoint.to_text().as_bytes()).unwrap();
    assert_eq!(parsed.origin(), "example.com/log");
    assert_eq!(parsed.size(), 123_456);
    assert_eq!(ours(parsed.hash()), root);
    assert_eq!(parsed.extension(), "ext a\next b\n");
    assert_eq!(parsed.to_bytes(), checkpoint.to_text().into_bytes());

    let theirs = tlog_tiles::Checkpoint::new("o", 0, tlog_tiles::Hash(root.0), "").unwrap();
    let text = String::from_utf8(theirs.to_bytes()).unwrap();
    assert_eq!(Checkpoint::parse(&text).unwrap().to_text(), text);

    // Malformed texts both reject.
    let base64_root = root.to_base64();
    for bad in [
        format!("o\n01\n{base64_root}\n"),
        format!("o\n+1\n{base64_root}\n"),
        format!("o\n1\n{base64_root}"),
        format!("o\n1\n{}\n", &base64_root[..40]),
        format!("\n1\n{base64_root}\n"),
        format!("o\n1\n{base64_root}\n\n"),
        "o\n1\n".to_string(),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "we accepted {bad:?}");
        assert!(
            tlog_tiles::Checkpoint::from_bytes(bad.as_bytes()).is_err(),
            "they accepted {bad:?}"
        );
    }
}

#[test]
fn keys_and_note_signatures_agree_with_signed_note() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for name in ["example.com/log", "PeterNeumann", "witness.example/w1"] {
        let (their_skey, their_vkey) = signed_note::generate_key(&mut rng, name);
        let signer = Ed25519Signer::from_skey(&their_skey).unwrap();
        let verifier = Ed25519Verifier::from_vkey(&their_vkey).unwrap();
        assert_eq!(signer.to_skey(), their_skey);
        assert_eq!(verifier.to_vkey(), their_vkey);
        assert_eq!(signer.verifier(), verifier);

        let their_signer = signed_note::StandardSigner::new(&their_skey).unwrap();
        let their_verifier = signed_note::StandardVerifier::new(&their_vkey).unwrap();
        assert_eq!(signed_note::Signer::key_id(&their_signer), NoteSigner::key_id(&signer));

        let checkpoint = Checkpoint::new(name, 42, leaf_hash(name.as_bytes())).unwrap();
        // Our signature, their verification.
        let note = checkpoint.sign(&signer).unwrap();
        let their_note = signed_note::Note::from_bytes(&note.to_bytes()).unwrap();
        let (verified, _) = their_note
            .verify(&signed_note::VerifierList::new(vec![Box::new(their_verifier.clone())]))
            .unwrap();
        assert_eq!(verified.len(), 1);

        // Their signature, our verification; Ed25519 is deterministic, so bytes are equal too.
        let mut theirs = signed_note::Note::new(checkpoint.to_text().as_bytes(), &[]).unwrap();
        theirs.add_sigs(&[&their_signer]).unwrap();
        assert_eq!(theirs.to_bytes(), note.to_bytes());
        let known = VerifierSet::with(vec![Box::new(verifier.clone())]).unwrap();
        let (opened, _) = Checkpoint::open(&theirs.to_bytes(), &known).unwrap();
        assert_eq!(opened, checkpoint);
        assert!(NoteVerifier::verify(
            &verifier,
            checkpoint.to_text().as_bytes(),
            signed_note::Signer::sign(&their_signer, checkpoint.to_text().as_bytes())
                .unwrap()
                .as_slice()
        ));
    }
}

#[test]
fn note_parsing_agrees_with_signed_note_on_malformed_notes() {
    let good = "text\n\n— name AAAAAAE=\n";
    assert!(Note::parse(good.as_bytes()).is_ok());
    assert!(signed_note::Note::from_bytes(good.as_bytes()).is_ok());
    let bad: [&[u8]; 9] = [
        b"no signatures\n",
        b"text\n\n",
        "text\n\n— name AAAAAAE=".as_bytes(),
        b"text\n\n- name AAAAAAE=\n",
        "text\n\n— name AAAA\n".as_bytes(),
        "text\n\n— na+me AAAAAAE=\n".as_bytes(),
        "te\rxt\n\n— name AAAAAAE=\n".as_bytes(),
        b"\xff\n\n\xe2\x80\x94 name AAAAAAE=\n",
        "text\n\n— name AAAAAAE=\n\n".as_bytes(),
    ];
    for case in bad {
        let shown = String::from_utf8_lossy(case);
        assert!(Note::parse(case).is_err(), "we accepted {shown:?}");
        assert!(signed_note::Note::from_bytes(case).is_err(), "they accepted {shown:?}");
    }
}
