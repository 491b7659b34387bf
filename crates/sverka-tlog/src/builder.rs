//! Working from static tiles (C2SP tlog-tiles v1): appending a batch of leaf hashes to a tiled tree
//! while touching only its right edge, the tree head of any size, and inclusion and consistency
//! proofs, all computed from tile contents read through a [`TileReader`].
//!
//! Nothing here does I/O itself: the caller's reader fetches tile bytes (from files, a database or
//! HTTP) and the caller writes whatever [`append_leaves`] returns.

use std::collections::{BTreeMap, HashMap};

use crate::hash::{node_hash, Hash, HASH_SIZE};
use crate::merkle::{self, fold_right_edge, HashSource, ProveError};
use crate::tile::{
    encode_hash_tile, hashes_at_level, new_tiles, partial_tiles, perfect_root, subtree_location,
    tile_at, tile_levels, Tile, TILE_HEIGHT, TILE_WIDTH,
};

/// Reads the content of a hash tile.
///
/// For a partial tile the reader may return a wider version of the same tile (for example the full
/// tile once it exists, since tlog-tiles lets logs delete partial tiles): only the first
/// `tile.width()` hashes are used. Fewer bytes, or a length that is not whole hashes, is an error.
pub trait TileReader {
    /// Why a tile could not be read (missing, storage failure).
    type Error;

    /// The bytes of `tile`.
    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, Self::Error>;
}

impl<F, E> TileReader for F
where
    F: Fn(&Tile) -> Result<Vec<u8>, E>,
{
    type Error = E;

    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, E> {
        self(tile)
    }
}

/// Why tile-based work failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileReadError<E> {
    /// The reader failed for this tile.
    #[error("reading tile {path} failed")]
    Read {
        path: String,
        #[source]
        source: E,
    },
    /// The reader returned bytes that cannot be this tile.
    #[error("tile {path} has {len} bytes, expected {expected}")]
    BadLength { path: String, len: usize, expected: usize },
    /// A hash outside the tree was asked for (a bug in the caller's sizes).
    #[error("subtree {index} of height {height} is outside a tree of size {size}")]
    OutsideTree { height: u8, index: u64, size: u64 },
    /// The batch would grow the tree past 2^64 − 1 leaves.
    #[error("tree size would overflow")]
    SizeOverflow,
}

/// Reads `tile` and returns its first `tile.width()` hashes.
fn read_hashes<R: TileReader>(
    reader: &R,
    tile: &Tile,
) -> Result<Vec<Hash>, TileReadError<R::Error>> {
    let bytes = reader
        .read_tile(tile)
        .map_err(|source| TileReadError::Read { path: tile.path(), source })?;
    let max = usize::from(TILE_WIDTH) * HASH_SIZE;
    if bytes.len() < tile.byte_len() || bytes.len() % HASH_SIZE != 0 || bytes.len() > max {
        return Err(TileReadError::BadLength {
            path: tile.path(),
            len: bytes.len(),
            expected: tile.byte_len(),
        });
    }
    Ok(bytes[..tile.byte_len()]
        .chunks_exact(HASH_SIZE)
        .map(|chunk| Hash(chunk.try_into().expect("chunks_exact")))
        .collect())
}

/// The right edge of a tiled tree: the hashes of each level's partial tile, lowest level first.
struct RightEdge {
    levels: Vec<Vec<Hash>>,
}

impl RightEdge {
    fn read<R: TileReader>(reader: &R, size: u64) -> Result<RightEdge, TileReadError<R::Error>> {
        let mut levels = vec![Vec::new(); usize::from(tile_levels(size))];
        for tile in partial_tiles(size) {
            levels[usize::from(tile.level())] = read_hashes(reader, &tile)?;
        }
        Ok(RightEdge { levels })
    }

    /// The tree head: each level's partial tile splits into perfect subtrees by the binary digits
    /// of its width; these, highest level first, are the tree's maximal perfect subtrees.
    fn root(&self) -> Hash {
        let mut parts = Vec::with_capacity(64);
        for hashes in self.levels.iter().rev() {
            let mut start = 0;
            for bit in (0..TILE_HEIGHT).rev() {
                let len = 1usize << bit;
                if hashes.len() & len != 0 {
                    parts.push(perfect_root(&hashes[start..start + len]));
                    start += len;
                }
            }
        }
        fold_right_edge(&parts)
    }
}

/// The result of [`append_leaves`]: the tiles to write and the new tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Every tile that exists for the new size and not for the old one, with its bytes: completed
    /// full tiles and the new right-edge partial tiles (lowest level first, then by index).
    tiles: Vec<(Tile, Vec<u8>)>,
    /// The new tree size.
    size: u64,
    /// The new tree head.
    root: Hash,
}

impl AppendOutcome {
    /// The tiles to write, with their contents.
    pub fn tiles(&self) -> &[(Tile, Vec<u8>)] {
        &self.tiles
    }

    /// Takes the tiles to write.
    pub fn into_tiles(self) -> Vec<(Tile, Vec<u8>)> {
        self.tiles
    }

    /// The tree size after the append.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head after the append.
    pub fn root(&self) -> Hash {
        self.root
    }
}

/// Appends `leaf_hashes` to the tiled tree of `old_size` leaves.
///
/// Reads only the old right-edge partial tiles (at most one per level) and hashes only what the new
/// leaves complete, so the cost is proportional to the batch, not the tree. Returns the tiles to
/// write (exactly [`new_tiles`]`(old_size, new_size)`, each with its content per tlog-tiles
/// §"Merkle Tree") and the new head. An empty batch writes nothing.
pub fn append_leaves<R: TileReader>(
    reader: &R,
    old_size: u64,
    leaf_hashes: &[Hash],
) -> Result<AppendOutcome, TileReadError<R::Error>> {
    let new_size =
        old_size.checked_add(leaf_hashes.len() as u64).ok_or(TileReadError::SizeOverflow)?;
    let mut edge = RightEdge::read(reader, old_size)?;
    edge.levels.resize(usize::from(tile_levels(new_size)), Vec::new());
    let mut full_tiles: Vec<(Tile, Vec<u8>)> = Vec::new();
    let mut counts: Vec<u64> =
        (0..tile_levels(new_size)).map(|level| hashes_at_level(old_size, level)).collect();
    for leaf in leaf_hashes {
        push_hash(&mut edge.levels, &mut counts, &mut full_tiles, 0, *leaf);
    }
    let partials = partial_tiles(new_size)
        .into_iter()
        .filter(|tile| {
            hashes_at_level(old_size, tile.level()) != hashes_at_level(new_size, tile.level())
        })
        .map(|tile| {
            let content = encode_hash_tile(&edge.levels[usize::from(tile.level())]);
            (tile, content)
        });
    let mut tiles: Vec<(Tile, Vec<u8>)> = full_tiles.into_iter().chain(partials).collect();
    tiles.sort_by_key(|(tile, _)| (tile.level(), tile.index()));
    debug_assert_eq!(
        tiles.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        new_tiles(old_size, new_size)
    );
    Ok(AppendOutcome { tiles, size: new_size, root: edge.root() })
}

/// Adds one hash at tile level `level`; when that completes a tile, records it and carries the
/// tile's head up to the next level.
fn push_hash(
    levels: &mut [Vec<Hash>],
    counts: &mut [u64],
    full_tiles: &mut Vec<(Tile, Vec<u8>)>,
    level: usize,
    hash: Hash,
) {
    let mut level = level;
    let mut hash = hash;
    loop {
        let open = &mut levels[level];
        open.push(hash);
        counts[level] += 1;
        if open.len() < usize::from(TILE_WIDTH) {
            return;
        }
        let index = (counts[level] >> TILE_HEIGHT) - 1;
        let tile = Tile::full(level as u8, index).expect("index of a tile inside a u64 tree");
        hash = perfect_root_in_place(open);
        full_tiles.push((tile, encode_hash_tile(open)));
        open.clear();
        level += 1;
    }
}

/// The head of a full tile's 256 hashes, hashing in a stack buffer.
fn perfect_root_in_place(hashes: &[Hash]) -> Hash {
    let mut buffer = [Hash::default(); TILE_WIDTH as usize / 2];
    for (slot, pair) in buffer.iter_mut().zip(hashes.chunks_exact(2)) {
        *slot = node_hash(&pair[0], &pair[1]);
    }
    let mut len = hashes.len() / 2;
    while len > 1 {
        for i in 0..len / 2 {
            buffer[i] = node_hash(&buffer[2 * i], &buffer[2 * i + 1]);
        }
        len /= 2;
    }
    buffer[0]
}

/// The head of the tree of `size` leaves, from its partial tiles (tlog-tiles §"Partial Tiles").
pub fn root_from_tiles<R: TileReader>(
    reader: &R,
    size: u64,
) -> Result<Hash, TileReadError<R::Error>> {
    Ok(RightEdge::read(reader, size)?.root())
}

/// All 511 node hashes of one tile: the tile's hashes and every level above them inside the tile.
#[derive(Debug, Clone)]
struct ExpandedTile {
    /// `rows[r][i]` is the head of tile hashes `[i·2^r, (i+1)·2^r)`, for the complete groups only.
    rows: Vec<Vec<Hash>>,
}

impl ExpandedTile {
    fn new(hashes: Vec<Hash>) -> ExpandedTile {
        let mut rows = Vec::with_capacity(usize::from(TILE_HEIGHT) + 1);
        rows.push(hashes);
        while let Some(last) = rows.last() {
            if last.len() < 2 {
                break;
            }
            let next = last.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
            rows.push(next);
        }
        ExpandedTile { rows }
    }

    fn head(&self, inner_height: u8, start: usize) -> Option<Hash> {
        self.rows.get(usize::from(inner_height))?.get(start >> inner_height).copied()
    }
}

/// A [`HashSource`] over the tiles of a tree of a given size, for proofs served from static tiles.
///
/// Each tile it reads is expanded once (255 node hashes for a full tile) and kept, so the source can
/// be reused for many proofs against the same or a larger tree; [`TileHashSource::at_size`] moves it
/// to another tree size and keeps the full tiles, which never change.
pub struct TileHashSource<'r, R> {
    /// Where tile bytes come from.
    reader: &'r R,
    /// The tree size proofs are computed for; decides which tiles are partial.
    size: u64,
    /// Expanded tiles read so far, by exact coordinate and width.
    cache: HashMap<Tile, ExpandedTile>,
    /// Cache bound: past this many tiles the cache is cleared.
    max_cached_tiles: usize,
}

impl<'r, R: TileReader> TileHashSource<'r, R> {
    /// A source for the tree of `size` leaves; caches up to 4,096 expanded tiles (about 64 MiB).
    pub fn new(reader: &'r R, size: u64) -> TileHashSource<'r, R> {
        TileHashSource::with_cache_capacity(reader, size, 4096)
    }

    /// A source that keeps at most `max_cached_tiles` expanded tiles (16 KiB each); when full, the
    /// cache is emptied and refilled. A cold proof costs about 255 node hashes per tile level.
    pub fn with_cache_capacity(
        reader: &'r R,
        size: u64,
        max_cached_tiles: usize,
    ) -> TileHashSource<'r, R> {
        TileHashSource {
            reader,
            size,
            cache: HashMap::new(),
            max_cached_tiles: max_cached_tiles.max(1),
        }
    }

    /// The same source for another tree size, keeping the cached full tiles.
    pub fn at_size(mut self, size: u64) -> TileHashSource<'r, R> {
        self.cache.retain(|tile, _| tile.is_full());
        self.size = size;
        self
    }

    /// The tree size this source answers for.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The head of this source's tree.
    pub fn root(&mut self) -> Result<Hash, TileReadError<R::Error>> {
        root_from_tiles(self.reader, self.size)
    }

    /// The inclusion proof of leaf `index` in this source's tree (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(
        &mut self,
        index: u64,
    ) -> Result<Vec<Hash>, ProveError<TileReadError<R::Error>>> {
        let size = self.size;
        merkle::inclusion_proof(self, index, size)
    }

    /// The consistency proof from the tree of `old_size` leaves to this source's tree
    /// (RFC 9162 §2.1.4.1).
    pub fn consistency_proof(
        &mut self,
        old_size: u64,
    ) -> Result<Vec<Hash>, ProveError<TileReadError<R::Error>>> {
        let size = self.size;
        merkle::consistency_proof(self, old_size, size)
    }
}

impl<R: TileReader> HashSource for TileHashSource<'_, R> {
    type Error = TileReadError<R::Error>;

    fn perfect_subtree_hash(&mut self, height: u8, index: u64) -> Result<Hash, Self::Error> {
        let outside = TileReadError::OutsideTree { height, index, size: self.size };
        let (tile_level, tile_index, positions) = subtree_location(height, index);
        let Some(tile) = tile_at(tile_level, tile_index, self.size) else {
            return Err(outside);
        };
        if positions.end > usize::from(tile.width()) {
            return Err(outside);
        }
        if !self.cache.contains_key(&tile) {
            let hashes = read_hashes(self.reader, &tile)?;
            if self.cache.len() >= self.max_cached_tiles {
                self.cache.clear();
            }
            self.cache.insert(tile, ExpandedTile::new(hashes));
        }
        let inner_height = height % TILE_HEIGHT;
        self.cache[&tile].head(inner_height, positions.start).ok_or(outside)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, from tiles.
pub fn inclusion_proof_from_tiles<R: TileReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<TileReadError<R::Error>>> {
    TileHashSource::new(reader, size).inclusion_proof(index)
}

/// The consistency proof from `old_size` to `new_size` leaves, from the tiles of the larger tree.
pub fn consistency_proof_from_tiles<R: TileReader>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProveError<TileReadError<R::Error>>> {
    TileHashSource::new(reader, new_size).consistency_proof(old_size)
}

/// Tiles held in memory: what tests, benchmarks and a verifier that downloaded a log use.
///
/// Every tile written is kept under its exact coordinate and width; reading a partial tile that was
/// never written returns the narrowest wider version held (the full tile, or a later partial one),
/// as a log that deleted old partial tiles would serve.
#[derive(Debug, Clone, Default)]
pub struct MemoryTiles {
    tiles: BTreeMap<Tile, Vec<u8>>,
}

/// A [`MemoryTiles`] does not hold a requested tile.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("tile {0} is missing")]
pub struct MissingTile(pub String);

impl MemoryTiles {
    /// No tiles.
    pub fn new() -> MemoryTiles {
        MemoryTiles::default()
    }

    /// Stores tiles, replacing any with the same coordinate and width.
    pub fn insert_all<I: IntoIterator<Item = (Tile, Vec<u8>)>>(&mut self, tiles: I) {
        self.tiles.extend(tiles);
    }

    /// The bytes stored for exactly this tile.
    pub fn get(&self, tile: &Tile) -> Option<&[u8]> {
        self.tiles.get(tile).map(Vec::as_slice)
    }

    /// The number of tiles held.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

impl TileReader for MemoryTiles {
    type Error = MissingTile;

    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, MissingTile> {
        // `Tile` orders by level, index, then width: this range is the same coordinate, wider.
        self.tiles
            .range(*tile..=tile.to_full())
            .next()
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| MissingTile(tile.path()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::merkle::{root, verify_consistency, verify_inclusion, MemoryTree};
    use std::cell::RefCell;

    fn leaves(range: std::ops::Range<u64>) -> Vec<Hash> {
        range.map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn batches_give_the_same_tiles_and_root_as_one_big_append() {
        let all = leaves(0..70_000);
        let mut store = MemoryTiles::new();
        let mut size = 0u64;
        for batch in [1usize, 255, 1, 300, 65_000, 3_000, 1_443] {
            let chunk = &all[size as usize..size as usize + batch];
            let outcome = append_leaves(&store, size, chunk).unwrap();
            size = outcome.size();
            assert_eq!(outcome.root(), root(&all[..size as usize]));
            store.insert_all(outcome.into_tiles());
        }
        let mut once = MemoryTiles::new();
        once.insert_all(append_leaves(&once.clone(), 0, &all).unwrap().into_tiles());
        for tile in new_tiles(0, 70_000) {
            assert!(store.get(&tile).is_some(), "{tile} missing");
            assert!(store.get(&tile) == once.get(&tile), "{tile} differs");
        }
    }

    #[test]
    fn appending_reads_only_the_right_edge() {
        let all = leaves(0..1000);
        let mut store = MemoryTiles::new();
        store.insert_all(append_leaves(&store.clone(), 0, &all).unwrap().into_tiles());
        let reads = RefCell::new(Vec::new());
        let reader = |tile: &Tile| {
            reads.borrow_mut().push(*tile);
            store.read_tile(tile)
        };
        let outcome = append_leaves(&reader, 1000, &leaves(1000..1256)).unwrap();
        assert_eq!(
            *reads.borrow(),
            vec![Tile::new(0, 3, 232).unwrap(), Tile::new(1, 0, 3).unwrap()]
        );
        let paths: Vec<String> = outcome.tiles().iter().map(|(t, _)| t.path()).collect();
        assert_eq!(paths, ["tile/0/003", "tile/0/004.p/232", "tile/1/000.p/4"]);
    }

    #[test]
    fn appending_256_to_a_million_reads_three_tiles_and_writes_the_right_edge() {
        // A reader that serves any tile (zeros) and records what was asked: no tree needed.
        let reads = RefCell::new(Vec::new());
        let reader = |tile: &Tile| {
            reads.borrow_mut().push(*tile);
            Ok::<_, MissingTile>(vec![0u8; tile.byte_len()])
        };
        let outcome = append_leaves(&reader, 1_000_000, &leaves(0..256)).unwrap();
        assert_eq!(*reads.borrow(), partial_tiles(1_000_000));
        assert_eq!(reads.borrow().len(), 3);
        let written: Vec<Tile> = outcome.tiles().iter().map(|(t, _)| *t).collect();
        assert_eq!(written, new_tiles(1_000_000, 1_000_256));
        let paths: Vec<String> = written.iter().map(Tile::path).collect();
        assert_eq!(paths, ["tile/0/x003/906", "tile/0/x003/907.p/64", "tile/1/015.p/67"]);
    }

    #[test]
    fn proofs_from_tiles_match_the_memory_tree() {
        let all = leaves(0..70_000);
        let mut store = MemoryTiles::new();
        store.insert_all(append_leaves(&store.clone(), 0, &all).unwrap().into_tiles());
        let mut tree = MemoryTree::from_leaf_hashes(&all);
        let size = 70_000;
        let head = root_from_tiles(&store, size).unwrap();
        assert_eq!(head, tree.root());
        // A one-tile cache still answers correctly, re-reading as it goes.
        let mut tiny = TileHashSource::with_cache_capacity(&store, size, 1);
        let mut source = TileHashSource::new(&store, size);
        for index in [0, 1, 255, 256, 65_535, 65_536, 69_999] {
            assert_eq!(
                tiny.inclusion_proof(index).unwrap(),
                source.inclusion_proof(index).unwrap()
            );
            let proof = source.inclusion_proof(index).unwrap();
            assert_eq!(proof, merkle::inclusion_proof(&mut tree, index, size).unwrap());
            assert_eq!(verify_inclusion(&all[index as usize], index, size, &proof, &head), Ok(()));
        }
        for old in [1, 255, 256, 257, 65_536, 69_999, 70_000] {
            let proof = source.consistency_proof(old).unwrap();
            assert_eq!(proof, merkle::consistency_proof(&mut tree, old, size).unwrap());
            let old_head = root_from_tiles(&store, old).unwrap();
            assert_eq!(verify_consistency(old, size, &proof, &old_head, &head), Ok(()));
        }
    }

    #[test]
    fn short_or_ragged_tiles_are_errors() {
        let reader = |_: &Tile| Ok::<_, MissingTile>(vec![0u8; 33]);
        assert!(matches!(
            root_from_tiles(&reader, 1),
            Err(TileReadError::BadLength { len: 33, .. })
        ));
        let empty = MemoryTiles::new();
        assert!(matches!(append_leaves(&empty, 5, &leaves(0..1)), Err(TileReadError::Read { .. })));
    }
}
