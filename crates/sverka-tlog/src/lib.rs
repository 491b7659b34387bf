//! The verifiable log's protocol layer: RFC 6962/9162 Merkle hashing and proofs, C2SP tlog-tiles
//! paths and tiles, C2SP tlog-checkpoint, signed-note and tlog-cosignature.
//!
//! Pure: no I/O beyond the bytes it is given, no async, no SQL, and no dependency on the rest of
//! sverka. Callers read and write tiles; this crate says which tiles, with which bytes.
//!
//! Specifications implemented (cited beside the code):
//!
//! | module | specification |
//! |---|---|
//! | [`hash`] | RFC 6962 §2.1 / RFC 9162 §2.1.1 leaf and node hashes |
//! | [`merkle`] | RFC 9162 §2.1.1 tree head, §2.1.3 inclusion proofs, §2.1.4 consistency proofs |
//! | [`tile`] | C2SP tlog-tiles v1.0.0: tile and entry bundle paths, which tiles exist, tile contents |
//! | [`bundle`] | C2SP tlog-tiles v1.0.0 §"Log entries": entry bundles |
//! | [`builder`] | tlog-tiles applied: appending to a tiled tree, heads and proofs from tiles |
//! | [`publication`] | tlog-tiles applied: checking a whole static publication, as an observer does |
//! | [`note`] | C2SP signed-note v1.0.0 with Ed25519 (type 0x01) keys |
//! | [`checkpoint`] | C2SP tlog-checkpoint v1.0.0 |
//! | [`cosignature`] | C2SP tlog-cosignature v1 (`cosignature/v1`), Ed25519 type 0x04 only |
//! | [`policy`] | C2SP tlog-policy: log keys, witnesses, groups, quorum; evaluation on a note |
//! | [`proof`] | C2SP tlog-proof@v1: an entry's offline inclusion proof with its checkpoint |
//!
//! Code map for the callers:
//!
//! - the store appends with [`builder::append_leaves`] (reads only the right-edge tiles, returns
//!   the tiles to write and the new root) and [`bundle::append_to_bundles`], then signs
//!   [`checkpoint::Checkpoint::sign`] with a [`note::Ed25519Signer`];
//! - the server answers proofs from tiles with [`builder::TileHashSource`];
//! - the verifier opens checkpoints with [`checkpoint::Checkpoint::open`], recomputes heads with
//!   [`builder::root_from_tiles`] or [`merkle::root`], checks proofs with
//!   [`merkle::verify_inclusion`] and [`merkle::verify_consistency`], and witnesses with
//!   [`cosignature::CosignatureVerifier`].

pub mod builder;
pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
pub mod hash;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod publication;
pub mod tile;
pub mod witness;

pub use builder::{
    append_leaves, consistency_proof_from_tiles, inclusion_proof_from_tiles, root_from_tiles,
    AppendOutcome, MemoryTiles, TileHashSource, TileReadError, TileReader,
};
pub use bundle::{append_to_bundles, encode_bundle, parse_bundle, BundleError};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosignature::{CosignatureError, CosignatureVerifier, Cosigner};
pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT, HASH_SIZE};
pub use merkle::{verify_consistency, verify_inclusion, MemoryTree, ProofError, ProveError};
pub use note::{
    Ed25519Signer, Ed25519Verifier, KeyError, Note, NoteError, NoteSignature, VerifierSet,
};
pub use publication::{
    verify_publication, Expectation, PublicationError, PublicationReader, VerifiedLog,
};
pub use tile::{parse_path, EntryBundle, Tile, TileError, TilePath};
