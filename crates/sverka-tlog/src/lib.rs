//! The verifiable log's protocol layer: RFC 6962/9162 Merkle hashing and proofs, C2SP tlog-tiles paths
//! and tiles, C2SP tlog-checkpoint, signed-note and tlog-cosignature.
//!
//! Pure: no I/O beyond the bytes it is given, no async, no SQL, and no dependency on the rest of sverka.

pub mod hash;

pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT};
