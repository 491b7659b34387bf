//! The RFC 6962 / RFC 9162 Merkle tree over leaf hashes: the tree head of a list (RFC 9162 §2.1.1),
//! inclusion proofs (§2.1.3) and consistency proofs (§2.1.4), generated from any [`HashSource`] and
//! verified with exactly the algorithms of §2.1.3.2 and §2.1.4.2.
//!
//! Proof generation only ever asks its source for hashes of *perfect* subtrees (2^h leaves starting
//! at a multiple of 2^h), which is what both an in-memory tree ([`MemoryTree`]) and static tiles
//! (`crate::builder::TileHashSource`) can answer cheaply.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// The tree head `MTH(D[0:n])` of a list of leaf hashes (RFC 9162 §2.1.1).
///
/// Hashing adjacent pairs left to right and carrying an odd last node up unchanged builds exactly
/// the tree of §2.1.1, whose left subtree is always the largest power of two smaller than `n`.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    if leaf_hashes.is_empty() {
        return EMPTY_ROOT;
    }
    let mut level: Vec<Hash> = leaf_hashes.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [left, right] => next.push(node_hash(left, right)),
                [single] => next.push(*single),
                _ => unreachable!("chunks(2) yields one or two items"),
            }
        }
        level = next;
    }
    level[0]
}

/// Combines the hashes of consecutive perfect subtrees of strictly decreasing size, left to right,
/// into the hash of the range they cover: `node(h0, node(h1, … node(h_{k-1}, h_k)))`.
///
/// This is RFC 9162 §2.1.1 applied to a range whose start is aligned to the largest of them; an
/// empty list is the empty tree.
pub fn fold_right_edge(subtree_hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = subtree_hashes.split_last() else {
        return EMPTY_ROOT;
    };
    rest.iter().rev().fold(*last, |acc, left| node_hash(left, &acc))
}

/// Anything that can answer "what is the hash of the perfect subtree of `2^height` leaves that
/// starts at leaf `index << height`?" for the tree a proof is generated in.
pub trait HashSource {
    /// Why a hash could not be produced (a missing tile, a storage error).
    type Error;

    /// `MTH(D[index·2^height : (index+1)·2^height])`. Callers only ask for subtrees that lie
    /// entirely inside the tree the proof is about.
    fn perfect_subtree_hash(&mut self, height: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof could not be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProveError<E> {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof from a larger tree to a smaller one was asked for.
    #[error("old size {old_size} is larger than new size {new_size}")]
    SizesOutOfOrder { old_size: u64, new_size: u64 },
    /// The hash source failed.
    #[error("reading tree hashes failed")]
    Source(#[source] E),
}

/// `MTH(D[lo:hi])` for a range that is a node of some RFC 6962 tree (so `lo` is a multiple of the
/// largest power of two not exceeding `hi - lo`), from perfect subtree hashes.
fn range_hash<S: HashSource>(source: &mut S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let mut parts = Vec::with_capacity(64);
    let mut start = lo;
    let mut remaining = hi - lo;
    while remaining > 0 {
        let height = 63 - remaining.leading_zeros();
        parts.push(source.perfect_subtree_hash(height as u8, start >> height)?);
        start += 1 << height;
        remaining -= 1 << height;
    }
    Ok(fold_right_edge(&parts))
}

/// The largest power of two strictly smaller than `n` (RFC 9162 §2.1.1's `k`), for `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The inclusion proof `PATH(index, D[0:size])` of RFC 9162 §2.1.3.1, ordered from the leaf up.
pub fn inclusion_proof<S: HashSource>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    // Walk from the root down to the leaf; PATH lists the deepest sibling first, so reverse.
    let mut proof = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            proof.push(range_hash(source, lo + k, hi).map_err(ProveError::Source)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k).map_err(ProveError::Source)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof `PROOF(old_size, D[0:new_size])` of RFC 9162 §2.1.4.1 (`SUBPROOF` with
/// `b = true`). It is empty when `old_size` is 0 or equal to `new_size`.
pub fn consistency_proof<S: HashSource>(
    source: &mut S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if old_size > new_size {
        return Err(ProveError::SizesOutOfOrder { old_size, new_size });
    }
    let mut proof = Vec::with_capacity(64);
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    let (mut lo, mut hi) = (0u64, new_size);
    let mut m = old_size;
    let mut complete_subtree = true; // SUBPROOF's `b`
    loop {
        let n = hi - lo;
        if m == n {
            if !complete_subtree {
                proof.push(range_hash(source, lo, hi).map_err(ProveError::Source)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(source, lo + k, hi).map_err(ProveError::Source)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k).map_err(ProveError::Source)?);
            lo += k;
            m -= k;
            complete_subtree = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Why a proof did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum ProofError {
    /// The leaf index is not inside the tree (RFC 9162 §2.1.3.2 step 1).
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The first tree is larger than the second.
    #[error("old size {old_size} is larger than new size {new_size}")]
    SizesOutOfOrder { old_size: u64, new_size: u64 },
    /// The proof has too few or too many hashes for the sizes it claims to connect.
    #[error("proof has the wrong number of hashes")]
    WrongProofLength,
    /// The hashes do not recompute the expected root(s).
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with head `root`,
/// following RFC 9162 §2.1.3.2 step by step.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Steps 2 and 3.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        // 4a.
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        // 4b.
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // 4c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old_size` leaves with head `old_root` is a prefix of the tree of
/// `new_size` leaves with head `new_root`, following RFC 9162 §2.1.4.2 step by step.
///
/// The cases outside `0 < old_size < new_size`, which §2.1.4.2 leaves to the caller, are strict: equal
/// sizes need an empty proof and equal roots; an empty old tree needs an empty proof and the empty
/// tree's head ([`EMPTY_ROOT`]) as `old_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        let expected_old = if old_size == 0 { EMPTY_ROOT } else { *new_root };
        if *old_root != expected_old || (new_size == 0 && *new_root != EMPTY_ROOT) {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // Step 1.
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongProofLength);
    };
    // Step 2: when old_size is a power of two, its head is the implicit first element.
    let (seed, rest) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };
    // Step 3.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // Step 4.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*seed, *seed);
    // Step 6.
    for c in rest {
        // 6a.
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        // 6b.
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // 6c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A whole tree kept in memory as every perfect subtree hash, level by level: the reference
/// [`HashSource`] for tests and for verifiers that rebuild a log from its entries.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[h][i]` is the hash of the perfect subtree of `2^h` leaves starting at leaf `i·2^h`.
    levels: Vec<Vec<Hash>>,
}

/// A [`MemoryTree`] was asked for a subtree it does not (yet) hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
#[error("subtree {index} of height {height} is not in the tree")]
pub struct MissingSubtree {
    height: u8,
    index: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// A tree holding these leaf hashes.
    pub fn from_leaf_hashes(leaf_hashes: &[Hash]) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for hash in leaf_hashes {
            tree.push(*hash);
        }
        tree
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends one leaf hash, completing every perfect subtree it closes (amortised O(1)).
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut height = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let level = &mut self.levels[height];
            level.push(hash);
            if level.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            height += 1;
        }
    }

    /// The head of the current tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).expect("the current size is always held")
    }

    /// The head of the tree formed by the first `size` leaves, if `size` is not beyond the tree.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        let parts: Vec<Hash> = (0..64u8)
            .rev()
            .filter(|height| size >> height & 1 == 1)
            .map(|height| self.levels[height as usize][((size >> height) - 1) as usize])
            .collect();
        Some(fold_right_edge(&parts))
    }
}

impl HashSource for MemoryTree {
    type Error = MissingSubtree;

    fn perfect_subtree_hash(&mut self, height: u8, index: u64) -> Result<Hash, MissingSubtree> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(height as usize)?.get(i))
            .copied()
            .ok_or(MissingSubtree { height, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    /// RFC 9162 §2.1.1 written as its recursive definition, to check the iterative versions.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn root_matches_the_recursive_definition() {
        let all = leaves(70);
        let mut tree = MemoryTree::new();
        for n in 0..=70usize {
            assert_eq!(root(&all[..n]), mth(&all[..n]), "size {n}");
            assert_eq!(tree.root(), mth(&all[..n]), "memory tree size {n}");
            if n < 70 {
                tree.push(all[n]);
            }
        }
        for n in 0..=70 {
            assert_eq!(tree.root_at(n), Some(mth(&all[..n as usize])));
        }
        assert_eq!(tree.root_at(71), None);
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            root(&[]).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_up_to_size_40() {
        let all = leaves(40);
        let mut tree = MemoryTree::from_leaf_hashes(&all);
        for size in 1..=40u64 {
            let head = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&mut tree, index, size).unwrap();
                assert_eq!(
                    verify_inclusion(&all[index as usize], index, size, &proof, &head),
                    Ok(())
                );
            }
            for old in 0..=size {
                let proof = consistency_proof(&mut tree, old, size).unwrap();
                let old_head = tree.root_at(old).unwrap();
                assert_eq!(
                    verify_consistency(old, size, &proof, &old_head, &head),
                    Ok(()),
                    "{old} -> {size}"
                );
            }
        }
    }

    #[test]
    fn proof_generation_rejects_impossible_requests() {
        let mut tree = MemoryTree::from_leaf_hashes(&leaves(5));
        assert_eq!(
            inclusion_proof(&mut tree, 5, 5),
            Err(ProveError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_proof(&mut tree, 6, 5),
            Err(ProveError::SizesOutOfOrder { old_size: 6, new_size: 5 })
        );
        assert!(matches!(inclusion_proof(&mut tree, 3, 9), Err(ProveError::Source(_))));
    }

    #[test]
    fn huge_sizes_fail_cleanly() {
        let leaf = leaf_hash(b"x");
        let proof = vec![leaf; 64];
        assert!(verify_inclusion(&leaf, u64::MAX - 1, u64::MAX, &proof, &leaf).is_err());
        assert!(verify_inclusion(&leaf, 0, u64::MAX, &proof[..63], &leaf).is_err());
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &proof, &leaf, &leaf).is_err());
        assert!(verify_consistency(1, u64::MAX, &vec![leaf; 200], &leaf, &leaf).is_err());
    }

    #[test]
    fn consistency_from_the_empty_tree_needs_the_empty_root() {
        let head = root(&leaves(3));
        assert_eq!(verify_consistency(0, 3, &[], &EMPTY_ROOT, &head), Ok(()));
        assert_eq!(verify_consistency(0, 3, &[], &head, &head), Err(ProofError::RootMismatch));
        assert_eq!(
            verify_consistency(0, 3, &[head], &EMPTY_ROOT, &head),
            Err(ProofError::WrongProofLength)
        );
    }
}
