//! The two SQL backends behind one small interface: [`Conn`] is a connection to the embedded
//! SQLite file of a data directory or to a PostgreSQL server, and every statement of the store
//! (`crate::db`) is written once against it, with `?1`-style placeholders that the PostgreSQL side
//! turns into `$1`. Where the dialects differ the caller picks the text by [`Conn::dialect`].
//!
//! Values cross the boundary as four types only ([`Param`] in, [`Value`] out): 64-bit integers,
//! text, bytes and NULL. Every integer column of the PostgreSQL schema is `bigint` and every byte
//! column `bytea`, so nothing is narrowed on the way.
//!
//! Transactions are explicit statements (`BEGIN IMMEDIATE` on SQLite, so the write lock is taken
//! up front; `BEGIN ISOLATION LEVEL READ COMMITTED` on PostgreSQL, where the sequencer's lease and
//! row locks order the writers): [`Conn::begin`] returns a [`Tx`] that rolls back when dropped
//! without [`Tx::commit`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use postgres::types::{ToSql, Type};

use crate::error::StoreError;

/// Where a store's database is.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file of a data directory (`DIR/sverka.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL server: a `postgres://` or `postgresql://` URL (or a libpq key=value string).
    Postgres(String),
}

impl Database {
    /// Parses a `--database` value: a PostgreSQL URL, or a path to a SQLite file.
    pub fn parse(text: &str) -> Result<Database, StoreError> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Database::Postgres(text.to_string()));
        }
        if text.contains("host=") || text.contains("dbname=") {
            return Ok(Database::Postgres(text.to_string()));
        }
        Err(StoreError::BadDatabase(format!(
            "{text:?} is not a PostgreSQL URL (postgres://user@host/dbname); the embedded store needs no --database"
        )))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

/// Shows a URL without its password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Database::Postgres(url) => write!(f, "{}", redact(url)),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" ");
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Which SQL a statement must be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}
impl From<u64> for Param<'_> {
    fn from(value: u64) -> Self {
        Param::Int(value as i64)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(value)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(value)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Blob(value)
    }
}
impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(value: &'a Vec<u8>) -> Self {
        Param::Blob(value)
    }
}
impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

/// A column value read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One result row.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

fn wrong_type(column: usize, want: &str, got: &Value) -> StoreError {
    StoreError::Corrupt(format!("column {column}: expected {want}, found {got:?}"))
}

impl Row {
    /// The row's values as parameters (to copy it into another database).
    pub fn as_params(&self) -> Vec<Param<'_>> {
        self.0
            .iter()
            .map(|value| match value {
                Value::Null => Param::Null,
                Value::Int(v) => Param::Int(*v),
                Value::Text(v) => Param::Text(v),
                Value::Blob(v) => Param::Blob(v),
            })
            .collect()
    }
    pub fn int(&self, column: usize) -> Result<i64, StoreError> {
        match &self.0[column] {
            Value::Int(value) => Ok(*value),
            other => Err(wrong_type(column, "an integer", other)),
        }
    }
    pub fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        match &self.0[column] {
            Value::Null => Ok(None),
            _ => self.int(column).map(Some),
        }
    }
    pub fn text(&mut self, column: usize) -> Result<String, StoreError> {
        match std::mem::replace(&mut self.0[column], Value::Null) {
            Value::Text(value) => Ok(value),
            other => Err(wrong_type(column, "text", &other)),
        }
    }
    pub fn blob(&mut self, column: usize) -> Result<Vec<u8>, StoreError> {
        match std::mem::replace(&mut self.0[column], Value::Null) {
            Value::Blob(value) => Ok(value),
            other => Err(wrong_type(column, "bytes", &other)),
        }
    }
}

/// A PostgreSQL connection with its prepared statements.
pub(crate) struct PgConn {
    /// `None` only while it is dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

/// A database connection: see the module documentation.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

/// `?1` → `$1` (the store's statements have no `?` inside string literals).
fn to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// How long a PostgreSQL connection waits to be made.
const PG_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Conn {
    /// Opens a connection; SQLite connections get the store's pragmas (`crate::schema::configure`).
    pub fn open(database: &Database) -> Result<Conn, StoreError> {
        match database {
            Database::Sqlite(path) => Conn::open_sqlite(path),
            Database::Postgres(url) => Conn::open_pg(url),
        }
    }

    pub fn open_sqlite(path: &Path) -> Result<Conn, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        crate::schema::configure(&conn)?;
        Ok(Conn::Sqlite(conn))
    }

    pub fn open_pg(url: &str) -> Result<Conn, StoreError> {
        let mut config: postgres::Config =
            url.parse().map_err(|e| StoreError::BadDatabase(format!("{}: {e}", redact(url))))?;
        config.connect_timeout(PG_CONNECT_TIMEOUT);
        config.application_name("sverka");
        // A dead peer (a node whose machine vanished) is noticed within about half a minute, so
        // its session (and its sequencer lease) ends.
        config.keepalives(true);
        config.keepalives_idle(std::time::Duration::from_secs(10));
        let client = blocking(|| config.connect(postgres::NoTls)).map_err(|e| {
            StoreError::Postgres { what: format!("connecting to {}", redact(url)), source: e }
        })?;
        let conn = PgConn { client: RefCell::new(Some(client)), statements: RefCell::default() };
        let conn = Conn::Pg(Box::new(conn));
        conn.batch("SET synchronous_commit = on; SET client_min_messages = warning")?;
        Ok(conn)
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    /// Runs statements without parameters or results.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Conn::Pg(pg) => blocking(|| pg.client().batch_execute(sql)).map_err(pg_error(sql)),
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let changed = statement.execute(rusqlite::params_from_iter(params.iter()))?;
                Ok(changed as u64)
            }
            Conn::Pg(pg) => pg.with_statement(sql, |client, statement| {
                let boxed = pg_params(statement, params);
                let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
                client.execute(statement, &refs)
            }),
        }
    }

    /// Runs one query; returns its rows.
    pub fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<Row>, StoreError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let columns = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for column in 0..columns {
                        values.push(sqlite_value(row.get_ref(column)?));
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            Conn::Pg(pg) => {
                let rows = pg.with_statement(sql, |client, statement| {
                    let boxed = pg_params(statement, params);
                    let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
                    client.query(statement, &refs)
                })?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// Hands the first column of each row of `sql`, bytes, to `f` in order and returns how many
    /// rows there were. On SQLite the bytes are borrowed from the driver, not copied into a row
    /// first (an entry bundle is built straight from them).
    pub fn for_each_blob(
        &self,
        sql: &str,
        params: &[Param],
        mut f: impl FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                let mut count = 0;
                while let Some(row) = rows.next()? {
                    match row.get_ref(0)? {
                        rusqlite::types::ValueRef::Blob(bytes) => f(bytes)?,
                        other => return Err(wrong_type(0, "bytes", &sqlite_value(other))),
                    }
                    count += 1;
                }
                Ok(count)
            }
            Conn::Pg(_) => {
                let rows = self.query(sql, params)?;
                let count = rows.len() as u64;
                for mut row in rows {
                    f(&row.blob(0)?)?;
                }
                Ok(count)
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Param]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row of a query that always returns one (an aggregate).
    pub fn query_one(&self, sql: &str, params: &[Param]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
    }

    /// Starts a write transaction.
    pub fn begin(&self) -> Result<Tx<'_>, StoreError> {
        match self {
            Conn::Sqlite(_) => self.batch("BEGIN IMMEDIATE")?,
            Conn::Pg(_) => self.batch("BEGIN ISOLATION LEVEL READ COMMITTED")?,
        }
        Ok(Tx { conn: self, done: false })
    }

    /// Whether a PostgreSQL connection is closed (the server went away); SQLite never is.
    pub fn is_closed(&self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Pg(pg) => pg.client.borrow().as_ref().is_none_or(postgres::Client::is_closed),
        }
    }
}

/// Runs blocking PostgreSQL work: the synchronous client drives its own runtime, which may not be
/// entered from a thread of another one (the server's), so there it runs under `block_in_place`.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let client = self.client.get_mut().take();
        blocking(move || drop(client));
    }
}

impl PgConn {
    fn client(&self) -> std::cell::RefMut<'_, postgres::Client> {
        std::cell::RefMut::map(self.client.borrow_mut(), |c| c.as_mut().expect("an open client"))
    }

    fn with_statement<T>(
        &self,
        sql: &str,
        run: impl FnOnce(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self.client();
        let cached = self.statements.borrow().get(sql).cloned();
        let statement = match cached {
            Some(statement) => statement,
            None => {
                let statement =
                    blocking(|| client.prepare(&to_dollar(sql))).map_err(pg_error(sql))?;
                self.statements.borrow_mut().insert(sql.to_string(), statement.clone());
                statement
            }
        };
        blocking(|| run(&mut client, &statement)).map_err(pg_error(sql))
    }
}

fn pg_error(sql: &str) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
    move |source| {
        let first_line = sql.trim().lines().next().unwrap_or_default().trim();
        StoreError::Postgres { what: first_line.to_string(), source }
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Null => ValueRef::Null,
            Param::Int(value) => ValueRef::Integer(*value),
            Param::Text(value) => ValueRef::Text(value.as_bytes()),
            Param::Blob(value) => ValueRef::Blob(value),
        }))
    }
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(value) => Value::Int(value),
        ValueRef::Real(value) => Value::Int(value as i64),
        ValueRef::Text(value) => Value::Text(String::from_utf8_lossy(value).into_owned()),
        ValueRef::Blob(value) => Value::Blob(value.to_vec()),
    }
}

/// The parameters as the types the prepared statement expects.
fn pg_params<'a>(
    statement: &postgres::Statement,
    params: &[Param<'a>],
) -> Vec<Box<dyn ToSql + Sync + 'a>> {
    params
        .iter()
        .zip(statement.params())
        .map(|(param, ty)| -> Box<dyn ToSql + Sync + 'a> {
            match (*param, ty) {
                (Param::Int(v), &Type::INT4) => Box::new(v as i32),
                (Param::Int(v), &Type::INT2) => Box::new(v as i16),
                (Param::Int(v), _) => Box::new(v),
                (Param::Text(v), _) => Box::new(v),
                (Param::Blob(v), _) => Box::new(v),
                (Param::Null, &Type::INT8) => Box::new(None::<i64>),
                (Param::Null, &Type::BYTEA) => Box::new(None::<&[u8]>),
                (Param::Null, _) => Box::new(None::<&str>),
            }
        })
        .collect()
}

fn pg_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(index).map(|v| v.map_or(Value::Null, Value::Int))
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(index)
                .map(|v| v.map_or(Value::Null, |v| Value::Int(v.into())))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(index)
                .map(|v| v.map_or(Value::Null, |v| Value::Int(v.into())))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(index).map(|v| v.map_or(Value::Null, Value::Blob))
        } else {
            row.try_get::<_, Option<String>>(index).map(|v| v.map_or(Value::Null, Value::Text))
        };
        values.push(value.map_err(|source| StoreError::Postgres {
            what: format!("reading column {}", column.name()),
            source,
        })?);
    }
    Ok(Row(values))
}

/// A write transaction: see [`Conn::begin`]. Dereferences to its connection.
pub(crate) struct Tx<'c> {
    conn: &'c Conn,
    done: bool,
}

impl Tx<'_> {
    /// Commits; on PostgreSQL the commit is durable when this returns (`synchronous_commit`).
    /// A failed COMMIT (SQLite's `SQLITE_FULL` may leave the transaction open) is rolled back,
    /// so the connection never stays inside a transaction that holds the write lock and keeps
    /// checkpoints from copying the WAL back.
    pub fn commit(mut self) -> Result<(), StoreError> {
        let committed = self.conn.batch("COMMIT");
        self.done = committed.is_ok();
        committed
    }

    /// Leaves the transaction open on the connection (it is neither committed nor rolled back
    /// here): the sequencer's bulk transaction, which stays open across several jobs and is
    /// committed (or rolled back) later with plain `COMMIT` / `ROLLBACK` statements.
    pub fn keep_open(mut self) {
        self.done = true;
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
