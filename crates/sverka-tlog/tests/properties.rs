//! Property tests: for random tree sizes and indices every inclusion and consistency proof
//! verifies and every single-bit flip of a proof, leaf or root makes it fail; the tile builder
//! agrees with the naive root for random batch sequences; every single-bit flip of a note
//! signature or cosignature is rejected; the parsers never panic and round-trip what they print.

use std::sync::OnceLock;

use proptest::prelude::*;
use sverka_tlog::bundle::{encode_bundle, parse_bundle};
use sverka_tlog::cosignature::{CosignatureVerifier, Cosigner};
use sverka_tlog::merkle::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion, MemoryTree,
};
use sverka_tlog::note::{Ed25519Signer, Note, NoteSignature, VerifierSet};
use sverka_tlog::tile::{new_tiles, parse_path, EntryBundle, Tile, TilePath};
use sverka_tlog::{
    append_leaves, leaf_hash, root_from_tiles, Checkpoint, Hash, MemoryTiles, TileHashSource,
};

const MAX_LEAVES: u64 = 5000;

fn leaves() -> &'static [Hash] {
    static LEAVES: OnceLock<Vec<Hash>> = OnceLock::new();
    LEAVES.get_or_init(|| (0..MAX_LEAVES).map(|i| leaf_hash(&i.to_le_bytes())).collect())
}

fn tree() -> MemoryTree {
    static TREE: OnceLock<MemoryTree> = OnceLock::new();
    TREE.get_or_init(|| MemoryTree::from_leaf_hashes(leaves())).clone()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX_LEAVES).prop_flat_map(|size| (Just(size), 0..size))
}

fn old_and_new() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX_LEAVES).prop_flat_map(|new| (1..=new, Just(new)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn inclusion_proofs_verify_and_every_bit_flip_fails((size, index) in size_and_index()) {
        let mut tree = tree();
        let leaf = leaves()[index as usize];
        let head = tree.root_at(size).unwrap();
        let proof = inclusion_proof(&mut tree, index, size).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &head).is_ok());
        for bit in 0..256 {
            prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &head).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&head, bit)).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &head).is_err());
            }
        }
        // Dropping or adding a hash breaks it too.
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(&leaf, index, size, &proof[1..], &head).is_err());
        }
        let mut longer = proof.clone();
        longer.push(head);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &head).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_every_bit_flip_fails((old, new) in old_and_new()) {
        let mut tree = tree();
        let old_head = tree.root_at(old).unwrap();
        let new_head = tree.root_at(new).unwrap();
        let proof = consistency_proof(&mut tree, old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &proof, &old_head, &new_head).is_ok());
        for bit in 0..256 {
            prop_assert!(verify_consistency(old, new, &proof, &flip(&old_head, bit), &new_head).is_err());
            prop_assert!(verify_consistency(old, new, &proof, &old_head, &flip(&new_head, bit)).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_consistency(old, new, &bad, &old_head, &new_head).is_err());
            }
        }
    }

    #[test]
    fn tile_builder_matches_the_naive_root(batches in prop::collection::vec(0..700u64, 1..12)) {
        let all = leaves();
        let mut store = MemoryTiles::new();
        let mut size = 0u64;
        let mut sizes = vec![0u64];
        for batch in batches {
            let batch = batch.min(MAX_LEAVES - size);
            let outcome = append_leaves(&store, size, &all[size as usize..(size + batch) as usize]).unwrap();
            size = outcome.size();
            sizes.push(size);
            prop_assert_eq!(outcome.root(), root(&all[..size as usize]));
            store.insert_all(outcome.into_tiles());
        }
        // Every checkpointed size still has its head in the tiles, and proofs from the tiles work.
        for &at in &sizes {
            prop_assert_eq!(root_from_tiles(&store, at).unwrap(), root(&all[..at as usize]));
        }
        let mut once = MemoryTiles::new();
        once.insert_all(append_leaves(&MemoryTiles::new(), 0, &all[..size as usize]).unwrap().into_tiles());
        for tile in new_tiles(0, size) {
            prop_assert!(store.get(&tile) == once.get(&tile), "tile {} differs", tile);
        }
        if size > 0 {
            let mut source = TileHashSource::new(&store, size);
            let head = root(&all[..size as usize]);
            for index in [0, size / 2, size - 1] {
                let proof = source.inclusion_proof(index).unwrap();
                prop_assert!(verify_inclusion(&all[index as usize], index, size, &proof, &head).is_ok());
            }
        }
    }

    #[test]
    fn tile_and_bundle_paths_round_trip(level in 0..8u8, index in any::<u64>(), width in 1..=256u16) {
        let index = index.checked_shr(8 * (u32::from(level) + 1)).unwrap_or(0);
        let tile = Tile::new(level, index, width).unwrap();
        prop_assert_eq!(parse_path(&tile.path()), Ok(TilePath::Hash(tile)));
        let bundle = EntryBundle::new(index, width).unwrap();
        prop_assert_eq!(parse_path(&bundle.path()), Ok(TilePath::Entries(bundle)));
    }

    #[test]
    fn path_parser_never_panics(path in "tile/(entries|[0-9]{1,3})(/x?[0-9]{1,4}){1,9}(\\.p/[0-9+]{1,4})?") {
        if let Ok(parsed) = parse_path(&path) {
            let printed = match parsed {
                TilePath::Hash(tile) => tile.path(),
                TilePath::Entries(bundle) => bundle.path(),
            };
            prop_assert_eq!(printed, path);
        }
    }

    #[test]
    fn bundles_round_trip_and_the_parser_never_panics(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..40),
        noise in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let bytes = encode_bundle(&entries).unwrap();
        let parsed: Vec<Vec<u8>> = parse_bundle(&bytes).unwrap().into_iter().map(<[u8]>::to_vec).collect();
        prop_assert_eq!(parsed, entries);
        if let Ok(parsed) = parse_bundle(&noise) {
            prop_assert_eq!(encode_bundle(&parsed).unwrap(), noise);
        }
    }

    #[test]
    fn note_and_checkpoint_parsers_never_panic(text in "[a-z0-9+/= \n—\\-]{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(note) = Note::parse(text.as_bytes()) {
            prop_assert_eq!(note.to_bytes(), text.as_bytes());
        }
        let _ = Note::parse(&bytes);
        if let Ok(checkpoint) = Checkpoint::parse(&text) {
            prop_assert_eq!(checkpoint.to_text(), text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn every_bit_flip_of_a_checkpoint_signature_is_rejected(seed in any::<[u8; 32]>(), size in any::<u64>()) {
        let signer = Ed25519Signer::from_seed("log.example", &seed).unwrap();
        let checkpoint = Checkpoint::new("log.example", size, leaf_hash(&seed)).unwrap();
        let note = checkpoint.sign(&signer).unwrap();
        let known = VerifierSet::with(vec![Box::new(signer.verifier())]).unwrap();
        prop_assert_eq!(&Checkpoint::open(&note.to_bytes(), &known).unwrap().0, &checkpoint);
        let line = &note.signatures()[0];
        for bit in 0..line.signature().len() * 8 {
            let mut bad = line.signature().to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            let mut forged = Note::new(note.text()).unwrap();
            forged.add_signature(NoteSignature::new(line.name(), line.key_id(), bad).unwrap()).unwrap();
            prop_assert!(Checkpoint::open(&forged.to_bytes(), &known).is_err());
        }
        // A changed size under the old signature is rejected too.
        let other = Checkpoint::new("log.example", size ^ 1, leaf_hash(&seed)).unwrap();
        let mut moved = Note::new(&other.to_text()).unwrap();
        moved.add_signature(line.clone()).unwrap();
        prop_assert!(Checkpoint::open(&moved.to_bytes(), &known).is_err());
    }

    #[test]
    fn every_bit_flip_of_a_cosignature_is_rejected(seed in any::<[u8; 32]>(), time in 0..=i64::MAX as u64) {
        let witness = Cosigner::from_seed("witness.example", &seed).unwrap();
        let verifier = CosignatureVerifier::from_vkey(&witness.verifier().to_vkey()).unwrap();
        let checkpoint = Checkpoint::new("log.example", 10, leaf_hash(&seed)).unwrap();
        let line = witness.cosign(&checkpoint, time).unwrap();
        prop_assert_eq!(verifier.verify(&checkpoint.to_text(), &line), Ok(time));
        for bit in 0..line.signature().len() * 8 {
            let mut bad = line.signature().to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            let forged = NoteSignature::new(line.name(), line.key_id(), bad).unwrap();
            prop_assert!(verifier.verify(&checkpoint.to_text(), &forged).is_err());
        }
    }
}
