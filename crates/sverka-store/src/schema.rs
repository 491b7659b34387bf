//! The SQLite schema of a data directory's `sverka.db`, its version and its migrations.
//!
//! Version 1 (tables; every one `STRICT`):
//!
//! | table | holds | written |
//! |---|---|---|
//! | `meta(key, value)` | `schema_version`, `election_file`, `log_origin`, `log_public_key`, `tree_size` (how many entries the tiles cover) | on init; `tree_size` by each batch |
//! | `entries(idx, leaf_hash, bytes, signer, seq, kind, station, contest, source)` | the log: entry `idx` is `bytes`; the other columns are copied from the bytes for indexed lookups (admission state, the other counting source of a protocol) | appended by the sequencer; never updated or deleted (triggers) |
//! | `tiles(path, data)` | full hash tiles by tlog-tiles path | inserted once; never updated or deleted (triggers) |
//! | `partial_tiles(level, idx, width, data)` | the right edge: one growing partial tile per level | replaced by each batch; deleted when the full tile exists |
//! | `checkpoint(id = 1, size, root, note)` | the compare-and-swap record: the last signed checkpoint | `UPDATE … WHERE size = old AND root = old` only |
//! | `signed_checkpoints(size, root, note, signed_at)` | every checkpoint ever signed, one per size | appended; never updated or deleted (triggers) |
//! | `quarantine(id, received_at, sender, bytes, codes)` | rejected submissions and why (`codes` is JSON: a list of problems) | appended |
//! | `blobs(sha256, bytes)` | scans and other content-addressed files | inserted once |
//!
//! A migration is a function from version `n` to `n + 1`, run in one transaction; opening a
//! database newer than this code is an error, never a silent downgrade.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = 1;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE entries (
    idx       INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL UNIQUE,
    bytes     BLOB NOT NULL,
    signer    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    station   TEXT,
    contest   TEXT,
    source    TEXT
) STRICT;
CREATE INDEX entries_by_signer ON entries (signer, seq);
CREATE INDEX entries_by_protocol ON entries (station, contest, source, idx) WHERE source IS NOT NULL;
CREATE INDEX entries_by_kind ON entries (kind) WHERE kind IN ('key_registration', 'key_revocation');
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'log entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'log entries are append-only'); END;

CREATE TABLE tiles (
    path TEXT PRIMARY KEY,
    data BLOB NOT NULL
) STRICT;
CREATE TRIGGER tiles_no_update BEFORE UPDATE ON tiles
    BEGIN SELECT RAISE(ABORT, 'full tiles are immutable'); END;
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
    BEGIN SELECT RAISE(ABORT, 'full tiles are immutable'); END;

CREATE TABLE partial_tiles (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 255),
    data  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT;

CREATE TABLE checkpoint (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL
) STRICT;

CREATE TABLE signed_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL
) STRICT;
CREATE TRIGGER signed_checkpoints_no_update BEFORE UPDATE ON signed_checkpoints
    BEGIN SELECT RAISE(ABORT, 'signed checkpoints are history'); END;
CREATE TRIGGER signed_checkpoints_no_delete BEFORE DELETE ON signed_checkpoints
    BEGIN SELECT RAISE(ABORT, 'signed checkpoints are history'); END;

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    sender      TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    codes       TEXT NOT NULL
) STRICT;

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    bytes  BLOB NOT NULL
) STRICT;
"#;

/// One migration: the SQL that takes the schema from `version - 1` to `version`.
struct Migration {
    version: u32,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration { version: 1, sql: V1 }];

/// Sets the connection up as the store needs it: WAL, `synchronous=FULL` (a commit is on stable
/// storage before it returns), foreign keys, and a busy timeout for concurrent readers.
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

/// The schema version of an open database (0 for an empty one).
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return Ok(0);
    }
    let text: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |row| row.get(0))
        .optional()?;
    text.map_or(Ok(0), |t| {
        t.parse().map_err(|_| StoreError::Corrupt(format!("schema_version {t:?} is not a number")))
    })
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
            [migration.version.to_string()],
        )?;
        tx.commit()?;
    }
    Ok(())
}
