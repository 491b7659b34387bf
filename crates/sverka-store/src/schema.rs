//! The schemas of both backends, their versions and their migrations: the SQLite file of a data
//! directory (`sverka.db`) and a PostgreSQL database shared by several nodes.
//!
//! SQLite, version 1 (tables; every one `STRICT`):
//!
//! | table | holds | written |
//! |---|---|---|
//! | `meta(key, value)` | `schema_version`, `election_file`, `log_origin`, `log_public_key`, `tree_size` (how many entries the tiles cover), `election_cache` (the pin of `DIR/election.cache`: format, definition and cache SHA-256, the log key's signature; `crate::election_cache`) | on init; `tree_size` by each batch; `election_cache` by init and by an open that may write and found no usable cache |
//! | `entries(idx, leaf_hash, bytes, signer, seq, kind, station, contest, source)` | the log: entry `idx` is `bytes`; the other columns are copied from the bytes for indexed lookups (admission state, the other counting source of a protocol) | appended by the sequencer; never updated or deleted (triggers) |
//! | `tiles(path, data)` | full hash tiles by tlog-tiles path | inserted once; never updated or deleted (triggers) |
//! | `partial_tiles(level, idx, width, data)` | the right edge: one growing partial tile per level | replaced by each batch; deleted when the full tile exists |
//! | `checkpoint(id = 1, size, root, note)` | the compare-and-swap record: the last signed checkpoint | `UPDATE … WHERE size = old AND root = old` only |
//! | `signed_checkpoints(size, root, note, signed_at)` | every checkpoint ever signed, one per size | appended; never updated or deleted (triggers) |
//! | `quarantine(id, received_at, sender, bytes, codes)` | rejected submissions and why (`codes` is JSON: a list of problems) | appended |
//! | `blobs(sha256, bytes)` | scans and other content-addressed files | inserted once |
//!
//! PostgreSQL, version 1: the same tables and columns (`bigint` for integers, `bytea` for bytes),
//! the same rules (a trigger function refuses `UPDATE`, `DELETE` and `TRUNCATE` on `entries`,
//! `tiles` and `signed_checkpoints`), and what several nodes need:
//!
//! | table | holds | written |
//! |---|---|---|
//! | `sequencer(id = 1, token, holder, since)` | the sequencer lease's fencing token: the node that took the lease last and when | `token + 1` by each node that takes the lease (while it holds the advisory lock); every write transaction of the sequencer locks the row `FOR SHARE` and checks its token |
//! | `pending(id, leaf_hash, bytes, sender, created_at)` | submissions received by a node that is not the sequencer, waiting for it | inserted by any node; deleted by the sequencer in the transaction that decides them |
//! | `pending_outcomes(id, outcome, decided_at)` | the sequencer's answer to each pending submission (JSON: a receipt or a rejection), committed with its entry | inserted by the sequencer; read and deleted by the node that waits |
//!
//! Version 2 (both backends) replaces the partial index `entries_by_kind` with one that also
//! holds audit steps, the index of the one query that reads entries by kind (the sequencer's
//! refold of the admission state on every open that writes, which scanned the whole table,
//! entries' bytes included, when the index left audit steps out). Nothing else changed, so a
//! store opened only to read ([`crate::Store::open_read_only`]) reads version 1 as it is.
//!
//! A migration takes the schema from version `n - 1` to `n` in one transaction (on PostgreSQL
//! under an advisory lock, so two nodes starting together do not both run it); opening a database
//! newer than this code is an error, never a silent downgrade. The versions of the two backends
//! are counted separately.

use rusqlite::Connection;

use crate::error::StoreError;
use crate::sql::{Conn, Dialect};

/// The SQLite schema version this code writes.
pub const SCHEMA_VERSION: u32 = 2;
/// The PostgreSQL schema version this code writes.
pub const PG_SCHEMA_VERSION: u32 = 2;
/// The oldest schema version (of either backend) that this code reads without migrating it:
/// the versions since then changed indexes only.
pub const READABLE_FROM: u32 = 1;

/// The advisory lock key (`pg_advisory_xact_lock`) that serialises migrations.
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x7376_6572_6b61_0001;

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

/// Version 2 (both backends): `entries_by_kind` holds audit steps too (see the module doc).
const V2: &str = r#"
DROP INDEX entries_by_kind;
CREATE INDEX entries_by_kind ON entries (kind) WHERE kind IN ('key_registration', 'key_revocation', 'audit');
"#;

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, sql: V1 }, Migration { version: 2, sql: V2 }];

const PG_V1: &str = r#"
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE FUNCTION sverka_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END $$;

CREATE TABLE entries (
    idx       bigint PRIMARY KEY CHECK (idx >= 0),
    leaf_hash bytea NOT NULL UNIQUE,
    bytes     bytea NOT NULL,
    signer    text NOT NULL,
    seq       bigint NOT NULL,
    kind      text NOT NULL,
    station   text,
    contest   text,
    source    text
);
CREATE INDEX entries_by_signer ON entries (signer, seq);
CREATE INDEX entries_by_protocol ON entries (station, contest, source, idx) WHERE source IS NOT NULL;
CREATE INDEX entries_by_kind ON entries (kind) WHERE kind IN ('key_registration', 'key_revocation');
CREATE TRIGGER entries_no_change BEFORE UPDATE OR DELETE ON entries FOR EACH ROW
    EXECUTE FUNCTION sverka_refuse_change('log entries are append-only');
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries FOR EACH STATEMENT
    EXECUTE FUNCTION sverka_refuse_change('log entries are append-only');

CREATE TABLE tiles (
    path text PRIMARY KEY,
    data bytea NOT NULL
);
CREATE TRIGGER tiles_no_change BEFORE UPDATE OR DELETE ON tiles FOR EACH ROW
    EXECUTE FUNCTION sverka_refuse_change('full tiles are immutable');
CREATE TRIGGER tiles_no_truncate BEFORE TRUNCATE ON tiles FOR EACH STATEMENT
    EXECUTE FUNCTION sverka_refuse_change('full tiles are immutable');

CREATE TABLE partial_tiles (
    level bigint NOT NULL,
    idx   bigint NOT NULL,
    width bigint NOT NULL CHECK (width BETWEEN 1 AND 255),
    data  bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoint (
    id   bigint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL,
    root bytea NOT NULL,
    note text NOT NULL
);

CREATE TABLE signed_checkpoints (
    size      bigint PRIMARY KEY,
    root      bytea NOT NULL,
    note      text NOT NULL,
    signed_at text NOT NULL
);
CREATE TRIGGER signed_checkpoints_no_change BEFORE UPDATE OR DELETE ON signed_checkpoints
    FOR EACH ROW EXECUTE FUNCTION sverka_refuse_change('signed checkpoints are history');
CREATE TRIGGER signed_checkpoints_no_truncate BEFORE TRUNCATE ON signed_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION sverka_refuse_change('signed checkpoints are history');

CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at text NOT NULL,
    sender      text NOT NULL,
    bytes       bytea NOT NULL,
    codes       text NOT NULL
);

CREATE TABLE blobs (
    sha256 text PRIMARY KEY,
    bytes  bytea NOT NULL
);

CREATE TABLE sequencer (
    id     bigint PRIMARY KEY CHECK (id = 1),
    token  bigint NOT NULL,
    holder text NOT NULL,
    since  text NOT NULL
);
INSERT INTO sequencer (id, token, holder, since) VALUES (1, 0, '', '');

CREATE TABLE pending (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    leaf_hash  bytea NOT NULL,
    bytes      bytea NOT NULL,
    sender     text NOT NULL,
    created_at text NOT NULL
);

CREATE TABLE pending_outcomes (
    id         bigint PRIMARY KEY,
    outcome    text NOT NULL,
    decided_at text NOT NULL
);
"#;

const PG_MIGRATIONS: &[Migration] =
    &[Migration { version: 1, sql: PG_V1 }, Migration { version: 2, sql: V2 }];

/// The size the WAL file is cut back to when it starts over (`journal_size_limit`), unless the
/// sequencer's backstop allows a larger WAL (`crate::sequencer`).
pub(crate) const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Sets the connection up as the store needs it: WAL, `synchronous=FULL` (a commit is on stable
/// storage before it returns), a WAL file cut back to 64 MiB when it restarts (so a burst does
/// not keep its disk space; the sequencer's connection allows as much as its WAL backstop after
/// commits of more than 1,024 entries, up to 512 MiB during an import), foreign keys, and a busy
/// timeout for concurrent readers.
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

/// The schema version of an open database (0 for an empty one).
pub(crate) fn version(conn: &Conn) -> Result<u32, StoreError> {
    let exists = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')"
        }
        Dialect::Postgres => "SELECT to_regclass('meta') IS NOT NULL",
    };
    if conn.query_one(exists, &[])?.int(0)? == 0 {
        return Ok(0);
    }
    let text = crate::db::meta_get(conn, "schema_version")?;
    text.map_or(Ok(0), |t| {
        t.parse().map_err(|_| StoreError::Corrupt(format!("schema_version {t:?} is not a number")))
    })
}

/// What [`migrate`] did: the version found and the version left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
}

/// Brings `database` to the schema version this code writes (`sverka migrate`).
pub fn migrate_database(database: &crate::sql::Database) -> Result<Migrated, StoreError> {
    migrate(&Conn::open(database)?)
}

/// Brings the database to the version this code writes, one migration per transaction.
pub(crate) fn migrate(conn: &Conn) -> Result<Migrated, StoreError> {
    let (migrations, supported) = match conn.dialect() {
        Dialect::Sqlite => (MIGRATIONS, SCHEMA_VERSION),
        Dialect::Postgres => (PG_MIGRATIONS, PG_SCHEMA_VERSION),
    };
    let mut found = version(conn)?;
    let from = found;
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    for migration in migrations.iter().filter(|m| m.version > from) {
        let tx = conn.begin()?;
        if tx.dialect() == Dialect::Postgres {
            tx.execute("SELECT pg_advisory_xact_lock(?1)", &[PG_MIGRATION_LOCK.into()])?;
            // Another node may have run it while this one waited for the lock.
            found = version(&tx)?;
            if found >= migration.version {
                continue;
            }
        }
        tx.batch(migration.sql)?;
        crate::db::meta_set(&tx, "schema_version", &migration.version.to_string())?;
        tx.commit()?;
        found = migration.version;
    }
    Ok(Migrated { from, to: found })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Database;

    /// The rows of SQLite's `EXPLAIN QUERY PLAN` for `sql`, their `detail` column.
    fn plan(path: &std::path::Path, sql: &str) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = statement.query_map([], |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn the_refold_on_open_searches_the_kind_index_instead_of_reading_every_entry() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("sverka.db");
        let migrated = migrate(&Conn::open(&Database::Sqlite(path.clone())).unwrap()).unwrap();
        assert_eq!((migrated.from, migrated.to), (0, SCHEMA_VERSION));
        let plan = plan(&path, crate::sequencer::KEYS_AND_AUDITS);
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX entries_by_kind")),
            "the refold reads entries by kind through the index: {plan:?}"
        );
        assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "no table scan: {plan:?}");
    }

    #[test]
    fn a_version_1_database_is_migrated_to_the_index_that_holds_audit_steps() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("sverka.db");
        let conn = Conn::open(&Database::Sqlite(path.clone())).unwrap();
        let tx = conn.begin().unwrap();
        tx.batch(V1).unwrap();
        crate::db::meta_set(&tx, "schema_version", "1").unwrap();
        tx.commit().unwrap();
        let before = plan(&path, crate::sequencer::KEYS_AND_AUDITS);
        assert!(before.iter().any(|step| step.starts_with("SCAN")), "version 1 scans: {before:?}");

        let migrated = migrate(&conn).unwrap();
        assert_eq!((migrated.from, migrated.to), (1, 2));
        assert_eq!(version(&conn).unwrap(), 2);
        let after = plan(&path, crate::sequencer::KEYS_AND_AUDITS);
        assert!(after.iter().any(|step| step.contains("USING INDEX entries_by_kind")), "{after:?}");
        assert_eq!(
            migrate(&conn).unwrap(),
            Migrated { from: 2, to: 2 },
            "a second run does nothing"
        );
    }
}
