//! Benchmarks (divan) for the log's hot paths, on a 1,000,000-entry tree held in memory:
//! inclusion proofs served from tiles (goal ≤ 20 µs), building every tile and the root from
//! scratch (goal ≤ 10 s), appending a 256-entry batch to the right edge, and verification.
//!
//! Run: `cargo bench -p sverka-tlog --bench tiles`.

use std::sync::OnceLock;

use divan::{black_box, Bencher};
use sverka_tlog::merkle::verify_inclusion;
use sverka_tlog::note::{Ed25519Signer, VerifierSet};
use sverka_tlog::{
    append_leaves, inclusion_proof_from_tiles, leaf_hash, Checkpoint, Hash, MemoryTiles,
    TileHashSource,
};

const SIZE: u64 = 1_000_000;

fn main() {
    divan::main();
}

fn entry(i: u64) -> Vec<u8> {
    format!("{{\"entry\":{i},\"payload\":\"a protocol entry of typical size would be longer\"}}")
        .into_bytes()
}

struct Log {
    leaves: Vec<Hash>,
    tiles: MemoryTiles,
    root: Hash,
}

fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let leaves: Vec<Hash> = (0..SIZE).map(|i| leaf_hash(&entry(i))).collect();
        let outcome = append_leaves(&MemoryTiles::new(), 0, &leaves).expect("build");
        let root = outcome.root();
        let mut tiles = MemoryTiles::new();
        tiles.insert_all(outcome.into_tiles());
        Log { leaves, tiles, root }
    })
}

/// Pseudo-random leaf indices, the same every run.
fn indices() -> impl FnMut() -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % SIZE
    }
}

/// One proof with nothing cached: reads (copies) every tile it needs and hashes them.
#[divan::bench]
fn inclusion_proof_from_tiles_cold(bencher: Bencher) {
    let log = log();
    let mut next = indices();
    bencher
        .with_inputs(&mut next)
        .bench_local_values(|index| inclusion_proof_from_tiles(&log.tiles, index, SIZE).unwrap());
}

/// Proofs through one long-lived source whose cache already holds every tile of the tree, as a
/// server answering many requests would keep it.
#[divan::bench]
fn inclusion_proof_from_tiles_warm(bencher: Bencher) {
    let log = log();
    let mut next = indices();
    let mut source = TileHashSource::new(&log.tiles, SIZE);
    for index in (0..SIZE).step_by(256) {
        source.inclusion_proof(index).unwrap();
    }
    bencher
        .with_inputs(&mut next)
        .bench_local_values(|index| source.inclusion_proof(index).unwrap());
}

/// One RFC 6962 interior node hash (two SHA-256 blocks): the unit every other figure is made of.
#[divan::bench]
fn node_hash(bencher: Bencher) {
    let (left, right) = (leaf_hash(b"left"), leaf_hash(b"right"));
    bencher.bench_local(|| sverka_tlog::node_hash(black_box(&left), black_box(&right)));
}

#[divan::bench]
fn verify_inclusion_proof(bencher: Bencher) {
    let log = log();
    let index = 123_457;
    let proof = inclusion_proof_from_tiles(&log.tiles, index, SIZE).unwrap();
    let leaf = log.leaves[index as usize];
    bencher.bench_local(|| verify_inclusion(black_box(&leaf), index, SIZE, &proof, &log.root));
}

/// Everything from scratch: hash 1,000,000 entries, build every tile, compute the root.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn build_tiles_and_root_1m_from_scratch() -> Hash {
    let leaves: Vec<Hash> = (0..SIZE).map(|i| leaf_hash(&entry(i))).collect();
    let outcome = append_leaves(&MemoryTiles::new(), 0, &leaves).unwrap();
    assert_eq!(outcome.tiles().len(), 3906 + 1 + 15 + 1 + 1);
    outcome.root()
}

/// A batch of 256 new leaves on a 1,000,000-entry tree: reads and writes only the right edge.
#[divan::bench]
fn append_256_to_1m(bencher: Bencher) {
    let log = log();
    let batch: Vec<Hash> = (SIZE..SIZE + 256).map(|i| leaf_hash(&entry(i))).collect();
    bencher.bench_local(|| append_leaves(&log.tiles, SIZE, black_box(&batch)).unwrap());
}

#[divan::bench]
fn open_signed_checkpoint(bencher: Bencher) {
    let signer = Ed25519Signer::from_seed("sverka.example/log", &[3; 32]).unwrap();
    let known = VerifierSet::with(vec![Box::new(signer.verifier())]).unwrap();
    let note = Checkpoint::new("sverka.example/log", SIZE, log().root)
        .unwrap()
        .sign(&signer)
        .unwrap()
        .to_bytes();
    bencher.bench_local(|| Checkpoint::open(black_box(&note), &known).unwrap());
}
