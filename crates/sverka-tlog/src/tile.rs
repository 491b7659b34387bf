//! C2SP tlog-tiles v1 coordinates: hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles
//! `tile/entries/<N>[.p/<W>]`, their strict path encoding, which of them exist for a tree size,
//! hash tile contents, and the mapping between Merkle tree nodes and the tile hashes that hold them.
//!
//! Tiles have height 8 (tlog-tiles §"Merkle Tree"): a full tile holds 256 hashes, and the `i`-th
//! hash of tile `N` at level `L` is `MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L])`.

use std::fmt;
use std::ops::Range;

use crate::hash::{node_hash, Hash, HASH_SIZE};

/// Tree levels spanned by one tile (tlog-tiles §"Merkle Tree": fixed at 8).
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, and entries in a full entry bundle.
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;
/// The highest tile level a path may name (tlog-tiles: "between 0 and 63").
pub const MAX_TILE_LEVEL: u8 = 63;

/// Why a tile coordinate or path was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TileError {
    /// Level above 63.
    #[error("tile level {0} is above 63")]
    LevelTooHigh(u8),
    /// Width 0 or above 256.
    #[error("tile width {0} is not between 1 and 256")]
    BadWidth(u16),
    /// The tile would reach past leaf index 2^64.
    #[error("tile index {index} at level {level} is beyond the largest possible tree")]
    IndexTooLarge { level: u8, index: u64 },
    /// The path does not follow the tlog-tiles grammar; `reason` says where it fails.
    #[error("malformed tile path {path:?}: {reason}")]
    BadPath { path: String, reason: &'static str },
    /// A hash tile's bytes are not `width` hashes.
    #[error("tile {path} has {len} bytes, expected {expected}")]
    BadContentLength { path: String, len: usize, expected: usize },
}

/// A hash tile: level `L`, index `N` within the level, and width `W` (1..=256, 256 is full).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// An entry bundle: index `N` and width `W` (1..=256 entries), the entries behind level-0 tile `N`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryBundle {
    index: u64,
    width: u16,
}

/// What a parsed tlog-tiles path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hash(Tile),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(EntryBundle),
}

/// `n · 2^shift`, or u64::MAX if that does not fit.
fn saturating_shl(n: u64, shift: u32) -> u64 {
    if n == 0 {
        0
    } else if shift >= 64 || n.leading_zeros() < shift {
        u64::MAX
    } else {
        n << shift
    }
}

fn check_width(width: u16) -> Result<(), TileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TileError::BadWidth(width));
    }
    Ok(())
}

/// Whether the first leaf of tile `index` at `level` (`index·256^(level+1)`) fits in a u64 tree.
fn index_in_range(level: u8, index: u64) -> bool {
    let shift = u32::from(TILE_HEIGHT) * (u32::from(level) + 1);
    index == 0 || (shift < 64 && index < (1u64 << (64 - shift)))
}

impl Tile {
    /// A tile coordinate; level at most 63, width 1..=256, and a first leaf below 2^64.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::LevelTooHigh(level));
        }
        check_width(width)?;
        if !index_in_range(level, index) {
            return Err(TileError::IndexTooLarge { level, index });
        }
        Ok(Tile { level, index, width })
    }

    /// The full (256-wide) tile at this coordinate.
    pub fn full(level: u8, index: u64) -> Result<Tile, TileError> {
        Tile::new(level, index, TILE_WIDTH)
    }

    /// The tile level `L` (0 holds leaf hashes).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The index `N` within the level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes `W`.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a full tile (256 hashes).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The same coordinate at full width.
    pub fn to_full(&self) -> Tile {
        Tile { width: TILE_WIDTH, ..*self }
    }

    /// The number of bytes of this tile's content (`width · 32`).
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The leaves `[start, end)` the hashes in this tile span, saturating at 2^64 − 1.
    pub fn leaf_range(&self) -> Range<u64> {
        let shift = u32::from(TILE_HEIGHT) * u32::from(self.level);
        let first_hash = self.index << TILE_HEIGHT; // cannot overflow: checked in `new`
        let start = saturating_shl(first_hash, shift);
        let end = first_hash
            .checked_add(u64::from(self.width))
            .map_or(u64::MAX, |n| saturating_shl(n, shift));
        start..end
    }

    /// The tlog-tiles path `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, encode_index_and_width(self.index, self.width))
    }

    /// Parses a hash tile path strictly; an entry bundle path is an error here.
    pub fn from_path(path: &str) -> Result<Tile, TileError> {
        match parse_path(path)? {
            TilePath::Hash(tile) => Ok(tile),
            TilePath::Entries(_) => Err(bad_path(path, "an entry bundle, not a hash tile")),
        }
    }

    /// The entry bundle beside this level-0 tile; `None` for higher levels.
    pub fn entry_bundle(&self) -> Option<EntryBundle> {
        (self.level == 0).then_some(EntryBundle { index: self.index, width: self.width })
    }
}

impl fmt::Debug for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tile({})", self.path())
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl EntryBundle {
    /// A bundle coordinate; width 1..=256 and a first entry below 2^64.
    pub fn new(index: u64, width: u16) -> Result<EntryBundle, TileError> {
        check_width(width)?;
        if !index_in_range(0, index) {
            return Err(TileError::IndexTooLarge { level: 0, index });
        }
        Ok(EntryBundle { index, width })
    }

    /// The index `N`.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of entries `W`.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a full bundle (256 entries).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The log index of the first entry in the bundle.
    pub fn first_entry(&self) -> u64 {
        self.index << TILE_HEIGHT
    }

    /// The level-0 hash tile that holds these entries' leaf hashes.
    pub fn hash_tile(&self) -> Tile {
        Tile { level: 0, index: self.index, width: self.width }
    }

    /// The tlog-tiles path `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/entries/{}", encode_index_and_width(self.index, self.width))
    }

    /// Parses an entry bundle path strictly; a hash tile path is an error here.
    pub fn from_path(path: &str) -> Result<EntryBundle, TileError> {
        match parse_path(path)? {
            TilePath::Entries(bundle) => Ok(bundle),
            TilePath::Hash(_) => Err(bad_path(path, "a hash tile, not an entry bundle")),
        }
    }
}

impl fmt::Debug for EntryBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryBundle({})", self.path())
    }
}

impl fmt::Display for EntryBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// `<N>[.p/<W>]`: N as zero-padded 3-digit elements, all but the last prefixed `x`
/// (tlog-tiles §"Merkle Tree": 1234067 is `x001/x234/067`).
fn encode_index_and_width(index: u64, width: u16) -> String {
    let mut groups = vec![index % 1000];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut out = String::with_capacity(4 * groups.len() + 6);
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{group:03}/"));
        } else {
            out.push_str(&format!("{group:03}"));
        }
    }
    if width != TILE_WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
    out
}

fn bad_path(path: &str, reason: &'static str) -> TileError {
    // Keep error values small even for hostile input.
    let shown: String = path.chars().take(80).collect();
    TileError::BadPath { path: shown, reason }
}

/// Longest well-formed path: `tile/entries/` + 7 index elements + `.p/255`.
const MAX_PATH_LEN: usize = 64;

/// Parses a decimal with no sign and no leading zeros ("0" itself is fine).
fn parse_decimal(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// Parses exactly three ASCII digits.
fn parse_group(text: &str) -> Option<u64> {
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a tlog-tiles path (tlog-tiles §"Merkle Tree" and §"Log entries") strictly: the level has
/// no leading zeros and is at most 63, every index element is three digits with `x` on all but the
/// last and no superfluous leading `x000/`, the index fits in a u64, and a `.p/<W>` width is 1..=255
/// with no leading zeros. Anything else is an error; no input panics.
pub fn parse_path(path: &str) -> Result<TilePath, TileError> {
    if path.len() > MAX_PATH_LEN {
        return Err(bad_path(path, "too long"));
    }
    let rest =
        path.strip_prefix("tile/").ok_or_else(|| bad_path(path, "does not start with tile/"))?;
    let (kind, rest) = rest.split_once('/').ok_or_else(|| bad_path(path, "no index"))?;
    let (index_text, width) = match rest.split_once(".p/") {
        Some((index_text, width_text)) => {
            let width = parse_decimal(width_text)
                .filter(|w| (1..u64::from(TILE_WIDTH)).contains(w))
                .ok_or_else(|| bad_path(path, "partial width is not 1 to 255"))?;
            (index_text, width as u16)
        }
        None => (rest, TILE_WIDTH),
    };
    let index = parse_index(path, index_text)?;
    if kind == "entries" {
        return EntryBundle::new(index, width).map(TilePath::Entries);
    }
    let level = parse_decimal(kind)
        .filter(|l| *l <= u64::from(MAX_TILE_LEVEL))
        .ok_or_else(|| bad_path(path, "level is not 0 to 63 without leading zeros"))?;
    Tile::new(level as u8, index, width)
        .map(TilePath::Hash)
        .map_err(|_| bad_path(path, "index too large for its level"))
}

fn parse_index(path: &str, text: &str) -> Result<u64, TileError> {
    let elements: Vec<&str> = text.split('/').collect();
    let (last, prefixed) = elements.split_last().expect("split yields at least one");
    let mut index: u64 = 0;
    for (i, element) in prefixed.iter().enumerate() {
        let group = element
            .strip_prefix('x')
            .and_then(parse_group)
            .ok_or_else(|| bad_path(path, "index element is not x followed by three digits"))?;
        if i == 0 && group == 0 {
            return Err(bad_path(path, "index has a leading x000 element"));
        }
        if i >= 6 {
            return Err(bad_path(path, "index does not fit in 64 bits"));
        }
        index = index * 1000 + group; // at most 6 groups: below 10^18, cannot overflow
    }
    let group = parse_group(last)
        .ok_or_else(|| bad_path(path, "last index element is not three digits"))?;
    index
        .checked_mul(1000)
        .and_then(|v| v.checked_add(group))
        .ok_or_else(|| bad_path(path, "index does not fit in 64 bits"))
}

/// The number of tile levels a tree of `size` leaves has (0 for the empty tree).
pub fn tile_levels(size: u64) -> u8 {
    (0..=MAX_TILE_LEVEL)
        .find(|level| hashes_at_level(size, *level) == 0)
        .unwrap_or(MAX_TILE_LEVEL + 1)
}

/// The hashes at tile level `level` in a tree of `size` leaves: `floor(size / 256^level)`.
pub fn hashes_at_level(size: u64, level: u8) -> u64 {
    size.checked_shr(u32::from(TILE_HEIGHT) * u32::from(level)).unwrap_or(0)
}

/// The tile at `(level, index)` as it exists in a tree of `size` leaves: full, partial with the
/// width tlog-tiles §"Partial Tiles" gives, or `None` if the tree has no hashes there yet.
pub fn tile_at(level: u8, index: u64, size: u64) -> Option<Tile> {
    let count = hashes_at_level(size, level);
    let first = index.checked_mul(u64::from(TILE_WIDTH))?;
    if first >= count {
        return None;
    }
    let width = (count - first).min(u64::from(TILE_WIDTH)) as u16;
    Tile::new(level, index, width).ok()
}

/// The partial tiles of a tree of `size` leaves, lowest level first (tlog-tiles §"Partial Tiles":
/// level `l` has `floor(size / 256^l) mod 256` hashes, and empty tiles do not exist).
pub fn partial_tiles(size: u64) -> Vec<Tile> {
    (0..tile_levels(size))
        .filter_map(|level| {
            let count = hashes_at_level(size, level);
            let width = (count % u64::from(TILE_WIDTH)) as u16;
            (width > 0).then_some(Tile { level, index: count >> TILE_HEIGHT, width })
        })
        .collect()
}

/// The tiles that exist for a tree of `new_size` leaves but not for one of `old_size`: full tiles
/// completed in between and the new right-edge partial tiles, lowest level first. With
/// `old_size = 0` these are all the tiles of the tree.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    if new_size <= old_size {
        return tiles;
    }
    for level in 0..tile_levels(new_size) {
        let old_count = hashes_at_level(old_size, level);
        let new_count = hashes_at_level(new_size, level);
        if old_count == new_count {
            continue;
        }
        for index in (old_count >> TILE_HEIGHT)..(new_count >> TILE_HEIGHT) {
            tiles.push(Tile { level, index, width: TILE_WIDTH });
        }
        let width = (new_count % u64::from(TILE_WIDTH)) as u16;
        if width > 0 {
            tiles.push(Tile { level, index: new_count >> TILE_HEIGHT, width });
        }
    }
    tiles
}

/// The entry bundles that exist for `new_size` entries but not for `old_size`.
pub fn new_entry_bundles(old_size: u64, new_size: u64) -> Vec<EntryBundle> {
    new_tiles(old_size, new_size).into_iter().filter_map(|tile| tile.entry_bundle()).collect()
}

/// Hash tile content: the hashes concatenated (tlog-tiles §"Merkle Tree").
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for hash in hashes {
        out.extend_from_slice(&hash.0);
    }
    out
}

/// Splits a hash tile's bytes into its hashes; the length must be exactly `tile.width() · 32`.
pub fn decode_hash_tile(tile: &Tile, bytes: &[u8]) -> Result<Vec<Hash>, TileError> {
    if bytes.len() != tile.byte_len() {
        return Err(TileError::BadContentLength {
            path: tile.path(),
            len: bytes.len(),
            expected: tile.byte_len(),
        });
    }
    Ok(bytes
        .chunks_exact(HASH_SIZE)
        .map(|chunk| Hash(chunk.try_into().expect("chunks_exact")))
        .collect())
}

/// The head of a perfect subtree whose leaves are `hashes` (a power-of-two count, at least 1).
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
    }
    level[0]
}

/// Where the hash of the perfect subtree of `2^height` leaves starting at leaf `index·2^height` is
/// found in the tiles: at tile level `height / 8`, as the head of the `2^(height mod 8)` tile hashes
/// returned here (tile index, and positions within that tile).
pub fn subtree_location(height: u8, index: u64) -> (u8, u64, Range<usize>) {
    let tile_level = height / TILE_HEIGHT;
    let inner = height % TILE_HEIGHT;
    let first = u128::from(index) << inner; // position of the first hash at tile_level
    let tile_index = (first >> TILE_HEIGHT) as u64;
    let start = (first % u128::from(TILE_WIDTH)) as usize;
    (tile_level, tile_index, start..start + (1usize << inner))
}

/// The stored hash index of Go's `sumdb/tlog` (also used by `tlog_tiles`): the position of node
/// `(level, n)` when every node is stored in the order it is completed. `None` on overflow.
pub fn stored_hash_index(level: u8, n: u64) -> Option<u64> {
    let mut n = n;
    for _ in 0..level {
        n = n.checked_mul(2)?.checked_add(1)?;
    }
    let mut index: u64 = 0;
    while n > 0 {
        index = index.checked_add(n)?;
        n >>= 1;
    }
    index.checked_add(u64::from(level))
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of a stored hash index.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, n) lies in [2n - 64, 2n], so start at index/2 and walk.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n).unwrap_or(u64::MAX);
    while index_n > index {
        n -= 1;
        index_n = stored_hash_index(0, n).unwrap_or(u64::MAX);
    }
    loop {
        let next = index_n
            .checked_add(1 + u64::from((n + 1).trailing_zeros()))
            .filter(|next| *next <= index);
        let Some(next) = next else {
            break;
        };
        n += 1;
        index_n = next;
    }
    let level = (index - index_n) as u8;
    (level, n >> level)
}

/// The number of stored hashes for a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    // The last leaf's index, plus the interior nodes it completes, plus one.
    let mut count = stored_hash_index(0, size - 1).unwrap_or(u64::MAX);
    let mut i = size - 1;
    while i & 1 == 1 {
        count = count.saturating_add(1);
        i >>= 1;
    }
    count.saturating_add(1)
}

/// The tile holding stored hash `index` and the byte range of the hashes inside that tile whose
/// subtree head it is, like Go's `tlog.TileForIndex` with height 8. The tile's width is the
/// narrowest that contains those hashes.
pub fn tile_for_stored_hash(index: u64) -> (Tile, Range<usize>) {
    let (level, n) = split_stored_hash_index(index);
    let (tile_level, tile_index, positions) = subtree_location(level, n);
    let tile = Tile { level: tile_level, index: tile_index, width: positions.end as u16 };
    (tile, positions.start * HASH_SIZE..positions.end * HASH_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(Tile::full(0, 1_234_067).unwrap().path(), "tile/0/x001/x234/067");
        assert_eq!(Tile::new(1, 5, 17).unwrap().path(), "tile/1/005.p/17");
        assert_eq!(
            EntryBundle::new(1_234_067, 8).unwrap().path(),
            "tile/entries/x001/x234/067.p/8"
        );
        assert_eq!(Tile::full(0, 0).unwrap().path(), "tile/0/000");
        assert_eq!(
            parse_path("tile/0/x001/x234/067").unwrap(),
            TilePath::Hash(Tile::full(0, 1_234_067).unwrap())
        );
    }

    #[test]
    fn size_70000_has_the_tiles_the_spec_lists() {
        // tlog-tiles §"Partial Tiles": 273 full level-0 tiles, a partial one of width 112, one full
        // level-1 tile, a partial one of width 17, and a partial level-2 tile of width 1.
        let tiles = new_tiles(0, 70_000);
        let full_0 = tiles.iter().filter(|t| t.level() == 0 && t.is_full()).count();
        assert_eq!(full_0, 273);
        assert_eq!(
            partial_tiles(70_000),
            vec![
                Tile::new(0, 273, 112).unwrap(),
                Tile::new(1, 1, 17).unwrap(),
                Tile::new(2, 0, 1).unwrap()
            ]
        );
        assert!(tiles.contains(&Tile::full(1, 0).unwrap()));
        assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
        assert_eq!(partial_tiles(256), vec![Tile::new(1, 0, 1).unwrap()]);
    }

    #[test]
    fn malformed_paths_are_errors() {
        for path in [
            "tile/00/000",
            "tile/64/000",
            "tile/0/1",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/y001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/+1",
            "tile/+1/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x018/x446/x744/x073/x709/x551/615",
            "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
            "tile/1/x072/x057/x594/x037/x927/936",
            "tile/entries/",
            "tile/entries/000.p/",
            "tile/0/000/",
            "tiles/0/000",
            "tile//000",
            "",
        ] {
            assert!(parse_path(path).is_err(), "{path:?} was accepted");
        }
        // The largest tiles whose first leaf is below 2^64.
        assert_eq!(
            Tile::from_path("tile/0/x072/x057/x594/x037/x927/935").unwrap(),
            Tile::full(0, (1 << 56) - 1).unwrap()
        );
        assert_eq!(
            Tile::from_path("tile/1/x281/x474/x976/x710/655.p/3").unwrap(),
            Tile::new(1, (1 << 48) - 1, 3).unwrap()
        );
        assert_eq!(
            EntryBundle::from_path("tile/entries/x072/x057/x594/x037/x927/935").unwrap(),
            EntryBundle::new((1 << 56) - 1, 256).unwrap()
        );
    }

    #[test]
    fn the_largest_trees_do_not_overflow() {
        assert_eq!(tile_levels(0), 0);
        assert_eq!(tile_levels(255), 1);
        assert_eq!(tile_levels(256), 2);
        assert_eq!(tile_levels(u64::MAX), 8);
        let edge = partial_tiles(u64::MAX);
        assert_eq!(edge.len(), 8);
        assert!(edge.iter().all(|t| t.width() == 255));
        assert_eq!(
            new_tiles(u64::MAX - 1, u64::MAX),
            vec![Tile::new(0, (1 << 56) - 1, 255).unwrap()]
        );
        assert_eq!(tile_at(7, 0, u64::MAX), Some(Tile::new(7, 0, 255).unwrap()));
        assert_eq!(tile_at(8, 0, u64::MAX), None);
        for index in [u64::MAX, u64::MAX - 1, u64::MAX / 2, 1 << 63] {
            let (level, n) = split_stored_hash_index(index);
            assert!(level < 64);
            assert!(stored_hash_index(level, n).is_none_or(|i| i <= index));
        }
        assert_eq!(stored_hash_count(u64::MAX), u64::MAX);
        assert_eq!(Tile::full(0, 0).unwrap().leaf_range(), 0..256);
        assert_eq!(Tile::new(2, 1, 3).unwrap().leaf_range(), (1 << 24)..(1 << 24) + 3 * 65536);
        assert_eq!(Tile::full(0, (1 << 56) - 1).unwrap().leaf_range().end, u64::MAX);
    }

    #[test]
    fn stored_hash_index_round_trips() {
        for index in 0..5000u64 {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), Some(index));
        }
        assert_eq!(stored_hash_count(1), 1);
        assert_eq!(stored_hash_count(2), 3);
        assert_eq!(stored_hash_count(3), 4);
        assert_eq!(stored_hash_count(4), 7);
    }
}
