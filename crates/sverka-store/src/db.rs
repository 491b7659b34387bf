//! The store's SQL, one small function per statement, on any connection or transaction (a
//! `rusqlite::Transaction` derefs to a `Connection`). Every other module goes through these.

use std::ops::Range;

use rusqlite::{params, Connection, OptionalExtension};
use sverka_tlog::builder::TileReader;
use sverka_tlog::tile::{Tile, TILE_WIDTH};
use sverka_tlog::Hash;

use crate::error::StoreError;

pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([key, value])?;
    Ok(())
}

/// `tree_size` from `meta`: how many entries the stored tiles cover.
pub(crate) fn tile_size(conn: &Connection) -> Result<u64, StoreError> {
    match meta_get(conn, "tree_size")? {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta tree_size {text:?} is not a number"))),
    }
}

fn hash_from_blob(blob: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
    Hash::from_slice(&blob).ok_or_else(|| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// A new entry row.
pub(crate) struct EntryRow<'a> {
    pub idx: u64,
    pub leaf_hash: Hash,
    pub bytes: &'a [u8],
    pub signer: &'a str,
    pub seq: u64,
    pub kind: &'a str,
    /// Station, contest and source of a protocol entry.
    pub protocol: Option<(&'a str, &'a str, &'a str)>,
}

pub(crate) fn insert_entry(conn: &Connection, row: &EntryRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO entries (idx, leaf_hash, bytes, signer, seq, kind, station, contest, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        row.idx as i64,
        &row.leaf_hash.0[..],
        row.bytes,
        row.signer,
        row.seq as i64,
        row.kind,
        row.protocol.map(|p| p.0),
        row.protocol.map(|p| p.1),
        row.protocol.map(|p| p.2),
    ])?;
    Ok(())
}

/// The bytes of the latest protocol entry of a station, contest and source.
pub(crate) fn latest_protocol(
    conn: &Connection,
    station: &str,
    contest: &str,
    source: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT bytes FROM entries WHERE station = ?1 AND contest = ?2 AND source = ?3
             ORDER BY idx DESC LIMIT 1",
        )?
        .query_row([station, contest, source], |row| row.get(0))
        .optional()?)
}

pub(crate) fn entry_count(conn: &Connection) -> Result<u64, StoreError> {
    let max: Option<i64> = conn.query_row("SELECT MAX(idx) FROM entries", [], |row| row.get(0))?;
    Ok(max.map_or(0, |m| m as u64 + 1))
}

/// The index of the entry with this leaf hash.
pub(crate) fn find_leaf(conn: &Connection, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
    let idx: Option<i64> = conn
        .prepare_cached("SELECT idx FROM entries WHERE leaf_hash = ?1")?
        .query_row([&leaf_hash.0[..]], |row| row.get(0))
        .optional()?;
    Ok(idx.map(|i| i as u64))
}

pub(crate) fn entry(conn: &Connection, idx: u64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT bytes FROM entries WHERE idx = ?1")?
        .query_row([idx as i64], |row| row.get(0))
        .optional()?)
}

/// Entries `range`, in order; errors if any is missing.
pub(crate) fn entries(conn: &Connection, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
    let rows = statement.query_map([range.start as i64, range.end as i64], |row| row.get(0))?;
    let entries = rows.collect::<Result<Vec<Vec<u8>>, _>>()?;
    if entries.len() as u64 != range.end.saturating_sub(range.start) {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")));
    }
    Ok(entries)
}

/// Leaf hashes of entries `range`, in order.
pub(crate) fn leaf_hashes(conn: &Connection, range: Range<u64>) -> Result<Vec<Hash>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT leaf_hash FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    let rows = statement.query_map([range.start as i64, range.end as i64], |row| row.get(0))?;
    let mut hashes = Vec::new();
    for blob in rows {
        hashes.push(hash_from_blob(blob?, "a leaf hash")?);
    }
    if hashes.len() as u64 != range.end.saturating_sub(range.start) {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")));
    }
    Ok(hashes)
}

/// The stored bytes of the tile at `tile`'s coordinate, at least `tile.width()` hashes wide: the
/// full tile if it exists, else the partial one if it is wide enough.
pub(crate) fn tile_bytes(conn: &Connection, tile: &Tile) -> Result<Option<Vec<u8>>, StoreError> {
    let full = Tile::full(tile.level(), tile.index()).expect("coordinate of a valid tile");
    let data: Option<Vec<u8>> = conn
        .prepare_cached("SELECT data FROM tiles WHERE path = ?1")?
        .query_row([full.path()], |row| row.get(0))
        .optional()?;
    if data.is_some() {
        return Ok(data);
    }
    let partial: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT width, data FROM partial_tiles WHERE level = ?1 AND idx = ?2")?
        .query_row(params![tile.level(), tile.index() as i64], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(partial.filter(|(width, _)| *width >= i64::from(tile.width())).map(|(_, data)| data))
}

/// Reads tiles from the database for `sverka-tlog`'s builder and proofs.
pub(crate) struct DbTiles<'c>(pub &'c Connection);

impl TileReader for DbTiles<'_> {
    type Error = StoreError;

    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, StoreError> {
        tile_bytes(self.0, tile)?
            .ok_or_else(|| StoreError::Corrupt(format!("tile {} is missing", tile.path())))
    }
}

/// Stores tiles returned by the builder: full tiles once (an existing full tile must have the same
/// bytes), partial tiles replacing the narrower one at their coordinate.
pub(crate) fn write_tiles(conn: &Connection, tiles: &[(Tile, Vec<u8>)]) -> Result<(), StoreError> {
    for (tile, data) in tiles {
        if tile.width() == TILE_WIDTH {
            let inserted = conn
                .prepare_cached("INSERT OR IGNORE INTO tiles (path, data) VALUES (?1, ?2)")?
                .execute(params![tile.path(), data])?;
            if inserted == 0 {
                let existing: Vec<u8> = conn
                    .prepare_cached("SELECT data FROM tiles WHERE path = ?1")?
                    .query_row([tile.path()], |row| row.get(0))?;
                if &existing != data {
                    return Err(StoreError::Corrupt(format!(
                        "full tile {} is stored with different content",
                        tile.path()
                    )));
                }
            }
            conn.prepare_cached("DELETE FROM partial_tiles WHERE level = ?1 AND idx = ?2")?
                .execute(params![tile.level(), tile.index() as i64])?;
        } else {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO partial_tiles (level, idx, width, data) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![tile.level(), tile.index() as i64, tile.width(), data])?;
        }
    }
    Ok(())
}

/// The compare-and-swap record: the last signed `(size, root, note)`.
pub(crate) fn signed_checkpoint(
    conn: &Connection,
) -> Result<Option<(u64, Hash, String)>, StoreError> {
    let row: Option<(i64, Vec<u8>, String)> = conn
        .prepare_cached("SELECT size, root, note FROM checkpoint WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    row.map(|(size, root, note)| Ok((size as u64, hash_from_blob(root, "the signed root")?, note)))
        .transpose()
}

/// Replaces the record `(old_size, old_root)` by a new signed checkpoint and appends it to the
/// history. Returns false, changing nothing, if the record is no longer `(old_size, old_root)`.
pub(crate) fn swap_checkpoint(
    conn: &Connection,
    old: Option<(u64, Hash)>,
    new: (u64, Hash, &str),
    signed_at: &str,
) -> Result<bool, StoreError> {
    let (size, root, note) = new;
    let changed = match old {
        None => conn.execute(
            "INSERT OR IGNORE INTO checkpoint (id, size, root, note) VALUES (1, ?1, ?2, ?3)",
            params![size as i64, &root.0[..], note],
        )?,
        Some((old_size, old_root)) => conn.execute(
            "UPDATE checkpoint SET size = ?1, root = ?2, note = ?3 WHERE id = 1 AND size = ?4 AND root = ?5",
            params![size as i64, &root.0[..], note, old_size as i64, &old_root.0[..]],
        )?,
    };
    if changed != 1 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO signed_checkpoints (size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4)",
        params![size as i64, &root.0[..], note, signed_at],
    )?;
    Ok(true)
}

pub(crate) fn insert_quarantine(
    conn: &Connection,
    received_at: &str,
    sender: &str,
    bytes: &[u8],
    codes_json: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO quarantine (received_at, sender, bytes, codes) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![received_at, sender, bytes, codes_json])?;
    Ok(())
}
