//! Moving a data directory's log from its SQLite file into an empty PostgreSQL database
//! (`sverka migrate DIR --database URL`, and `Store::init_with` with a PostgreSQL URL, which builds
//! the first entry in SQLite and moves it).
//!
//! Every row of every table is copied as it is, in one PostgreSQL transaction under the migration
//! lock, so the log, its tiles, its signed checkpoints and the quarantine are the same bytes on
//! both sides, and a failed move leaves the PostgreSQL database as it was. Only then is the data
//! directory pointed at PostgreSQL (`DIR/database`) and its `sverka.db` removed: from that moment
//! on the directory's log lives in one place only.

use std::fs;
use std::path::Path;

use crate::error::StoreError;
use crate::schema::PG_MIGRATION_LOCK;
use crate::sql::{Conn, Param};
use crate::store::{write_database_file, DB_FILE};

/// The tables and columns copied, in an order that keeps every check satisfied.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    ("entries", "idx, leaf_hash, bytes, signer, seq, kind, station, contest, source"),
    ("tiles", "path, data"),
    ("partial_tiles", "level, idx, width, data"),
    ("checkpoint", "id, size, root, note"),
    ("signed_checkpoints", "size, root, note, signed_at"),
    ("quarantine", "id, received_at, sender, bytes, codes"),
    ("blobs", "sha256, bytes"),
];

/// Rows read from SQLite per statement.
const CHUNK: i64 = 2000;

/// What a move copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Rows per table, in [`TABLES`] order.
    pub rows: Vec<(&'static str, u64)>,
}

/// Copies `dir`'s SQLite log into the PostgreSQL database at `url`, which must hold no log yet,
/// then points `dir` at it (`DIR/database`) and removes `dir/sverka.db`. Returns what was copied.
/// No store may have `dir` open meanwhile.
pub fn move_to_postgres(dir: &Path, url: &str) -> Result<Moved, StoreError> {
    let sqlite_path = dir.join(DB_FILE);
    if !sqlite_path.is_file() {
        return Err(StoreError::NotADataDir(dir.to_path_buf()));
    }
    let sqlite = Conn::open_sqlite(&sqlite_path)?;
    crate::schema::migrate(&sqlite)?;
    let pg = Conn::open_pg(url)?;
    crate::schema::migrate(&pg)?;
    let tx = pg.begin()?;
    tx.execute("SELECT pg_advisory_xact_lock(?1)", &[PG_MIGRATION_LOCK.into()])?;
    let holds_log = tx.query_one("SELECT COUNT(*) FROM entries", &[])?.int(0)? > 0
        || crate::db::meta_get(&tx, "log_verifier_key")?.is_some();
    if holds_log {
        return Err(StoreError::BadDatabase(format!(
            "{} already holds a sverka log; a log is moved only into an empty database",
            crate::sql::redact(url)
        )));
    }
    let mut moved = Moved::default();
    for (table, columns) in TABLES {
        let count = copy_table(&sqlite, &tx, table, columns)?;
        moved.rows.push((table, count));
    }
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('quarantine', 'id'), GREATEST(1, (SELECT COALESCE(MAX(id), 0) FROM quarantine)), (SELECT COUNT(*) > 0 FROM quarantine))",
        &[],
    )?;
    tx.commit()?;
    drop(sqlite);
    write_database_file(dir, url)?;
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("{DB_FILE}{suffix}"));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
    }
    crate::store::sync_dir(dir)?;
    Ok(moved)
}

/// Copies one table, chunk by chunk in rowid order; returns the rows copied.
fn copy_table(from: &Conn, to: &Conn, table: &str, columns: &str) -> Result<u64, StoreError> {
    let count = columns.split(',').count();
    let placeholders: Vec<String> = (1..=count).map(|n| format!("?{n}")).collect();
    let overriding = if table == "quarantine" { " OVERRIDING SYSTEM VALUE" } else { "" };
    let insert =
        format!("INSERT INTO {table} ({columns}){overriding} VALUES ({})", placeholders.join(", "));
    let select =
        format!("SELECT rowid, {columns} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2");
    let mut after = i64::MIN;
    let mut copied = 0u64;
    loop {
        let rows = from.query(&select, &[after.into(), CHUNK.into()])?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = last.int(0)?;
        for row in &rows {
            let params = row.as_params();
            if table == "meta"
                && params[1..].first().is_some_and(|p| matches!(p, Param::Text("schema_version")))
            {
                continue;
            }
            to.execute(&insert, &params[1..])?;
            copied += 1;
        }
    }
}
