//! Offline proofs of inclusion in the C2SP tlog-proof format (c2sp.org/tlog-proof@v1, §"Format"):
//! a header line, optional base64 extra data, the entry's index, the RFC 6962 §2.1.1 inclusion
//! proof one base64 hash per line, an empty line, and the checkpoint (a signed note, with any
//! witness cosignatures) verbatim.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>
//! index <decimal>
//! <base64 hash>
//! ...
//!
//! <checkpoint note>
//! ```
//!
//! The specification leaves the extra data's meaning to the application and warns that it is not
//! authenticated by the format. [`TlogProof::verify_entry`] authenticates the bytes it is given by
//! hashing them as a leaf and checking the inclusion proof against the signed root, so an
//! application that puts the entry itself in `extra` (sverka's receipts do) gets a self-contained
//! proof. Pure: parsing, printing and checking bytes it is given.

use base64::prelude::{Engine as _, BASE64_STANDARD};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{leaf_hash, Hash};
use crate::merkle::{verify_inclusion, ProofError};
use crate::note::{Note, VerifierSet};

/// The first line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion proof can need (a tree of at most 2^64 leaves).
const MAX_PROOF_HASHES: usize = 64;

/// Why a proof file was refused; format errors name the line (1-based).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlogProofError {
    #[error("line 1: not a tlog-proof (expected {TLOG_PROOF_HEADER:?})")]
    Header,
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
    #[error("no empty line before the checkpoint")]
    NoCheckpoint,
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("inclusion proof of entry {index} in checkpoint size {size}: {error}")]
    Inclusion { index: u64, size: u64, error: ProofError },
}

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The decoded extra data, if the proof has an `extra` line.
    pub extra: Option<Vec<u8>>,
    /// The entry's zero-based index in the log.
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up to the root's child.
    pub hashes: Vec<Hash>,
    /// The checkpoint note, byte for byte.
    pub checkpoint: Vec<u8>,
}

/// A decimal without leading zeroes (tlog-proof §"Format": "no leading zeroes unless 0").
fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = text == "0" || (!text.starts_with('0') && !text.is_empty());
    if !canonical || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl TlogProof {
    /// Parses a proof file.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, TlogProofError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| TlogProofError::Syntax { line: 1, reason: "not UTF-8 text" })?;
        let (head, checkpoint) = text.split_once("\n\n").ok_or(TlogProofError::NoCheckpoint)?;
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l)).peekable();
        if lines.next().map(|(_, l)| l) != Some(TLOG_PROOF_HEADER) {
            return Err(TlogProofError::Header);
        }
        let mut extra = None;
        if let Some((line, rest)) =
            lines.peek().and_then(|&(n, l)| Some((n, l.strip_prefix("extra ")?)))
        {
            extra = Some(BASE64_STANDARD.decode(rest).map_err(|_| TlogProofError::Syntax {
                line,
                reason: "extra data is not base64",
            })?);
            lines.next();
        }
        let (line, index_line) = lines.next().unwrap_or((2, ""));
        let index = index_line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(TlogProofError::Syntax { line, reason: "expected `index <decimal>`" })?;
        let mut hashes = Vec::new();
        for (line, hash) in lines {
            let hash = Hash::from_base64(hash)
                .ok_or(TlogProofError::Syntax { line, reason: "not a base64 SHA-256 hash" })?;
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::Syntax { line, reason: "more than 64 proof hashes" });
            }
            hashes.push(hash);
        }
        Ok(TlogProof { extra, index, hashes, checkpoint: checkpoint.as_bytes().to_vec() })
    }

    /// The proof file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", BASE64_STANDARD.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            out.push_str(&hash.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    /// Opens the checkpoint with the log's keys and checks that `entry` is leaf `index` of the
    /// signed tree. Returns the checkpoint and its note (for a witness policy).
    pub fn verify_entry(
        &self,
        entry: &[u8],
        log_keys: &VerifierSet,
    ) -> Result<(Checkpoint, Note), TlogProofError> {
        let (checkpoint, note) = Checkpoint::open(&self.checkpoint, log_keys)?;
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size(),
            &self.hashes,
            &checkpoint.root(),
        )
        .map_err(|error| TlogProofError::Inclusion {
            index: self.index,
            size: checkpoint.size(),
            error,
        })?;
        Ok((checkpoint, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{inclusion_proof, MemoryTree};
    use crate::note::Ed25519Signer;

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed("example.com/fancylog", &[3; 32]).unwrap()
    }

    fn keys() -> VerifierSet {
        VerifierSet::with(vec![Box::new(signer().verifier())]).unwrap()
    }

    /// A proof of entry `index` of a 7-entry log, its entry in `extra`.
    fn proof_of(index: u64) -> (TlogProof, Vec<u8>) {
        let entries: Vec<Vec<u8>> = (0..7).map(|i| format!("entry {i}").into_bytes()).collect();
        let tree =
            MemoryTree::from_leaf_hashes(&entries.iter().map(|e| leaf_hash(e)).collect::<Vec<_>>());
        let hashes = inclusion_proof(&mut tree.clone(), index, 7).unwrap();
        let checkpoint = Checkpoint::new("example.com/fancylog", 7, tree.root()).unwrap();
        let note = checkpoint.sign(&signer()).unwrap();
        let entry = entries[index as usize].clone();
        let proof =
            TlogProof { extra: Some(entry.clone()), index, hashes, checkpoint: note.to_bytes() };
        (proof, entry)
    }

    #[test]
    fn the_layout_is_the_specification_s() {
        let (proof, _) = proof_of(2);
        let bytes = proof.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
        assert_eq!(lines[1], format!("extra {}", BASE64_STANDARD.encode(b"entry 2")));
        assert_eq!(lines[2], "index 2");
        // 7 leaves: entry 2's proof is its sibling 3, the subtree 0..2, and the subtree 4..7.
        assert_eq!(proof.hashes.len(), 3);
        assert_eq!(lines[6], "");
        assert_eq!(lines[7], "example.com/fancylog");
        assert_eq!(TlogProof::parse(&bytes).unwrap(), proof);
    }

    #[test]
    fn every_entry_verifies_and_another_entry_does_not() {
        for index in 0..7 {
            let (proof, entry) = proof_of(index);
            let parsed = TlogProof::parse(&proof.to_bytes()).unwrap();
            let (checkpoint, _) = parsed.verify_entry(&entry, &keys()).unwrap();
            assert_eq!(checkpoint.size(), 7);
            assert!(matches!(
                parsed.verify_entry(b"entry 99", &keys()),
                Err(TlogProofError::Inclusion { .. })
            ));
        }
    }

    #[test]
    fn a_proof_without_extra_data_parses() {
        let (mut proof, entry) = proof_of(6);
        proof.extra = None;
        let parsed = TlogProof::parse(&proof.to_bytes()).unwrap();
        assert_eq!(parsed.extra, None);
        assert!(parsed.verify_entry(&entry, &keys()).is_ok());
    }

    #[test]
    fn malformed_proofs_name_their_line() {
        let (proof, _) = proof_of(1);
        let good = String::from_utf8(proof.to_bytes()).unwrap();
        let cases = [
            (good.replacen("tlog-proof@v1", "tlog-proof@v2", 1), TlogProofError::Header),
            (
                good.replacen("index 1", "index 01", 1),
                TlogProofError::Syntax { line: 3, reason: "expected `index <decimal>`" },
            ),
            (
                good.replacen("index 1\n", "index 1\nnot-a-hash\n", 1),
                TlogProofError::Syntax { line: 4, reason: "not a base64 SHA-256 hash" },
            ),
            (good.replace("\n\n", "\n"), TlogProofError::NoCheckpoint),
        ];
        for (text, expected) in cases {
            assert_eq!(TlogProof::parse(text.as_bytes()).unwrap_err(), expected, "{text}");
        }
        let other_key = Ed25519Signer::from_seed("example.com/fancylog", &[4; 32]).unwrap();
        let other = VerifierSet::with(vec![Box::new(other_key.verifier())]).unwrap();
        assert!(matches!(
            TlogProof::parse(good.as_bytes()).unwrap().verify_entry(b"entry 1", &other),
            Err(TlogProofError::Checkpoint(_))
        ));
    }
}
