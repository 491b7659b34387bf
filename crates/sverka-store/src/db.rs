//! The store's SQL, one small function per statement, on any connection or transaction of either
//! backend (`crate::sql`: a [`Tx`](crate::sql::Tx) derefs to a [`Conn`]). Every other module goes
//! through these. Statements are written in the SQL both SQLite and PostgreSQL accept (`ON
//! CONFLICT … DO NOTHING`/`DO UPDATE`); where they differ the text is chosen by dialect.

use std::ops::Range;

use sverka_tlog::builder::TileReader;
use sverka_tlog::tile::{Tile, TILE_WIDTH};
use sverka_tlog::Hash;

use crate::error::StoreError;
use crate::sql::{Conn, Dialect, Param};

pub(crate) fn meta_get(conn: &Conn, key: &str) -> Result<Option<String>, StoreError> {
    conn.query_opt("SELECT value FROM meta WHERE key = ?1", &[key.into()])?
        .map(|mut row| row.text(0))
        .transpose()
}

pub(crate) fn meta_set(conn: &Conn, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[key.into(), value.into()],
    )?;
    Ok(())
}

/// `tree_size` from `meta`: how many entries the stored tiles cover.
pub(crate) fn tile_size(conn: &Conn) -> Result<u64, StoreError> {
    match meta_get(conn, "tree_size")? {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta tree_size {text:?} is not a number"))),
    }
}

pub(crate) fn hash_from_blob(blob: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
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

pub(crate) fn insert_entry(conn: &Conn, row: &EntryRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO entries (idx, leaf_hash, bytes, signer, seq, kind, station, contest, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            row.idx.into(),
            Param::Blob(&row.leaf_hash.0[..]),
            row.bytes.into(),
            row.signer.into(),
            row.seq.into(),
            row.kind.into(),
            row.protocol.map(|p| p.0).into(),
            row.protocol.map(|p| p.1).into(),
            row.protocol.map(|p| p.2).into(),
        ],
    )?;
    Ok(())
}

/// The bytes of the latest protocol entry of a station, contest and source.
pub(crate) fn latest_protocol(
    conn: &Conn,
    station: &str,
    contest: &str,
    source: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_opt(
        "SELECT bytes FROM entries WHERE station = ?1 AND contest = ?2 AND source = ?3
         ORDER BY idx DESC LIMIT 1",
        &[station.into(), contest.into(), source.into()],
    )?
    .map(|mut row| row.blob(0))
    .transpose()
}

pub(crate) fn entry_count(conn: &Conn) -> Result<u64, StoreError> {
    let max = conn.query_one("SELECT MAX(idx) FROM entries", &[])?.opt_int(0)?;
    Ok(max.map_or(0, |m| m as u64 + 1))
}

/// The index of the entry with this leaf hash.
pub(crate) fn find_leaf(conn: &Conn, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
    let row = conn.query_opt(
        "SELECT idx FROM entries WHERE leaf_hash = ?1",
        &[Param::Blob(&leaf_hash.0[..])],
    )?;
    row.map(|row| row.int(0).map(|i| i as u64)).transpose()
}

/// Hands every leaf hash the log holds to `f`, in the order of their index (SQLite reads the
/// `UNIQUE` index alone, not the entries); returns how many there were.
pub(crate) fn each_leaf_hash(conn: &Conn, f: impl FnMut(&[u8])) -> Result<u64, StoreError> {
    let mut f = f;
    conn.for_each_blob("SELECT leaf_hash FROM entries ORDER BY leaf_hash", &[], |bytes| {
        f(bytes);
        Ok(())
    })
}

/// The key of a protocol's station, contest and source in [`each_protocol_key`]: the three
/// joined by the unit separator (should names hold it, two triples may share a key: a filter of
/// keys then answers "maybe" for both, never "no" for either).
pub(crate) fn protocol_key(station: &str, contest: &str, source: &str) -> Vec<u8> {
    [station, contest, source].join("\u{1f}").into_bytes()
}

/// Hands the [`protocol_key`] of every protocol entry of the log to `f` (SQLite reads the
/// `entries_by_protocol` index alone); returns how many there were.
pub(crate) fn each_protocol_key(conn: &Conn, f: impl FnMut(&[u8])) -> Result<u64, StoreError> {
    let mut f = f;
    conn.for_each_blob(
        "SELECT CAST(station || char(31) || contest || char(31) || source AS BLOB) FROM entries
         WHERE source IS NOT NULL AND station IS NOT NULL AND contest IS NOT NULL
         ORDER BY station, contest, source, idx",
        &[],
        |bytes| {
            f(bytes);
            Ok(())
        },
    )
}

pub(crate) fn entry(conn: &Conn, idx: u64) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_opt("SELECT bytes FROM entries WHERE idx = ?1", &[idx.into()])?
        .map(|mut row| row.blob(0))
        .transpose()
}

/// Entries `range`, in order; errors if any is missing.
pub(crate) fn entries(conn: &Conn, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = conn.query(
        "SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        &[range.start.into(), range.end.into()],
    )?;
    let entries = rows.into_iter().map(|mut row| row.blob(0)).collect::<Result<Vec<_>, _>>()?;
    if entries.len() as u64 != range.end.saturating_sub(range.start) {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")));
    }
    Ok(entries)
}

/// Entries `range` as an entry bundle (tlog-tiles: each entry's length in two big-endian bytes,
/// then its bytes), appended to `out` straight from the rows. `range` must hold 1 to 256 entries.
pub(crate) fn entry_bundle(
    conn: &Conn,
    range: Range<u64>,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let count = range.end.saturating_sub(range.start);
    if count == 0 || count > u64::from(TILE_WIDTH) {
        return Err(StoreError::Corrupt(format!("a bundle of entries {range:?}")));
    }
    let mut index = range.start;
    let rows = conn.for_each_blob(
        "SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        &[range.start.into(), range.end.into()],
        |bytes| {
            let len = u16::try_from(bytes.len()).map_err(|_| {
                StoreError::Corrupt(format!(
                    "entry {index} is {} bytes, more than a bundle holds (65535)",
                    bytes.len()
                ))
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
            index += 1;
            Ok(())
        },
    )?;
    if rows != count {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")));
    }
    Ok(())
}

/// Leaf hashes of entries `range`, in order.
pub(crate) fn leaf_hashes(conn: &Conn, range: Range<u64>) -> Result<Vec<Hash>, StoreError> {
    let rows = conn.query(
        "SELECT leaf_hash FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        &[range.start.into(), range.end.into()],
    )?;
    let mut hashes = Vec::with_capacity(rows.len());
    for mut row in rows {
        hashes.push(hash_from_blob(row.blob(0)?, "a leaf hash")?);
    }
    if hashes.len() as u64 != range.end.saturating_sub(range.start) {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")));
    }
    Ok(hashes)
}

/// The stored bytes of the tile at `tile`'s coordinate, at least `tile.width()` hashes wide: the
/// full tile if it exists, else the partial one if it is wide enough.
pub(crate) fn tile_bytes(conn: &Conn, tile: &Tile) -> Result<Option<Vec<u8>>, StoreError> {
    let full = Tile::full(tile.level(), tile.index()).expect("coordinate of a valid tile");
    let path = full.path();
    if let Some(mut row) =
        conn.query_opt("SELECT data FROM tiles WHERE path = ?1", &[(&path).into()])?
    {
        return row.blob(0).map(Some);
    }
    let partial = conn.query_opt(
        "SELECT width, data FROM partial_tiles WHERE level = ?1 AND idx = ?2",
        &[i64::from(tile.level()).into(), tile.index().into()],
    )?;
    let Some(mut row) = partial else {
        return Ok(None);
    };
    let width = row.int(0)?;
    if width < i64::from(tile.width()) {
        return Ok(None);
    }
    row.blob(1).map(Some)
}

/// Reads tiles from the database for `sverka-tlog`'s builder and proofs.
pub(crate) struct DbTiles<'c>(pub &'c Conn);

impl TileReader for DbTiles<'_> {
    type Error = StoreError;

    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, StoreError> {
        tile_bytes(self.0, tile)?
            .ok_or_else(|| StoreError::Corrupt(format!("tile {} is missing", tile.path())))
    }
}

/// Stores tiles returned by the builder: full tiles once (an existing full tile must have the same
/// bytes), partial tiles replacing the narrower one at their coordinate.
pub(crate) fn write_tiles(conn: &Conn, tiles: &[(Tile, Vec<u8>)]) -> Result<(), StoreError> {
    for (tile, data) in tiles {
        let level = i64::from(tile.level());
        if tile.width() == TILE_WIDTH {
            let path = tile.path();
            let inserted = conn.execute(
                "INSERT INTO tiles (path, data) VALUES (?1, ?2) ON CONFLICT (path) DO NOTHING",
                &[(&path).into(), data.into()],
            )?;
            if inserted == 0 {
                let existing = conn
                    .query_one("SELECT data FROM tiles WHERE path = ?1", &[(&path).into()])?
                    .blob(0)?;
                if &existing != data {
                    return Err(StoreError::Corrupt(format!(
                        "full tile {path} is stored with different content"
                    )));
                }
            }
            conn.execute(
                "DELETE FROM partial_tiles WHERE level = ?1 AND idx = ?2",
                &[level.into(), tile.index().into()],
            )?;
        } else {
            conn.execute(
                "INSERT INTO partial_tiles (level, idx, width, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data",
                &[level.into(), tile.index().into(), i64::from(tile.width()).into(), data.into()],
            )?;
        }
    }
    Ok(())
}

/// The compare-and-swap record: the last signed `(size, root, note)`. `for_update` locks the
/// record until the transaction ends (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the
/// only write lock).
pub(crate) fn signed_checkpoint(
    conn: &Conn,
    for_update: bool,
) -> Result<Option<(u64, Hash, String)>, StoreError> {
    let sql = match (conn.dialect(), for_update) {
        (Dialect::Postgres, true) => {
            "SELECT size, root, note FROM checkpoint WHERE id = 1 FOR UPDATE"
        }
        _ => "SELECT size, root, note FROM checkpoint WHERE id = 1",
    };
    let Some(mut row) = conn.query_opt(sql, &[])? else {
        return Ok(None);
    };
    let size = row.int(0)? as u64;
    let root = hash_from_blob(row.blob(1)?, "the signed root")?;
    Ok(Some((size, root, row.text(2)?)))
}

/// Replaces the record `(old_size, old_root)` by a new signed checkpoint and appends it to the
/// history. Returns false, changing nothing, if the record is no longer `(old_size, old_root)`.
pub(crate) fn swap_checkpoint(
    conn: &Conn,
    old: Option<(u64, Hash)>,
    new: (u64, Hash, &str),
    signed_at: &str,
) -> Result<bool, StoreError> {
    let (size, root, note) = new;
    let changed = match old {
        None => conn.execute(
            "INSERT INTO checkpoint (id, size, root, note) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO NOTHING",
            &[size.into(), Param::Blob(&root.0[..]), note.into()],
        )?,
        Some((old_size, old_root)) => conn.execute(
            "UPDATE checkpoint SET size = ?1, root = ?2, note = ?3 WHERE id = 1 AND size = ?4 AND root = ?5",
            &[
                size.into(),
                Param::Blob(&root.0[..]),
                note.into(),
                old_size.into(),
                Param::Blob(&old_root.0[..]),
            ],
        )?,
    };
    if changed != 1 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO signed_checkpoints (size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4)",
        &[size.into(), Param::Blob(&root.0[..]), note.into(), signed_at.into()],
    )?;
    Ok(true)
}

pub(crate) fn insert_quarantine(
    conn: &Conn,
    received_at: &str,
    sender: &str,
    bytes: &[u8],
    codes_json: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO quarantine (received_at, sender, bytes, codes) VALUES (?1, ?2, ?3, ?4)",
        &[received_at.into(), sender.into(), bytes.into(), codes_json.into()],
    )?;
    Ok(())
}

/// Stores a blob once (content-addressed: the same digest means the same bytes).
pub(crate) fn put_blob(conn: &Conn, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO blobs (sha256, bytes) VALUES (?1, ?2) ON CONFLICT (sha256) DO NOTHING",
        &[sha256.into(), bytes.into()],
    )?;
    Ok(())
}

pub(crate) fn blob(conn: &Conn, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_opt("SELECT bytes FROM blobs WHERE sha256 = ?1", &[sha256.into()])?
        .map(|mut row| row.blob(0))
        .transpose()
}
