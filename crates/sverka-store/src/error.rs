//! The store's errors, split by what the caller can do about them (STYLE.md, after sunlight and
//! azul): a [`SubmitError::Rejected`] is about the submission and is final; a
//! [`SubmitError::Store`] is about the store and the same bytes may be sent again (resubmitting is
//! always safe: identical bytes already in the log return their receipt).

use std::path::PathBuf;

use crate::admission::Rejection;
use crate::fault::FaultPoint;

/// A failure of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A PostgreSQL statement or connection failed; `what` names the statement.
    #[error("postgresql: {what}: {source}")]
    Postgres {
        what: String,
        #[source]
        source: postgres::Error,
    },
    /// A `--database` value or a data directory's `database` file that cannot be used.
    #[error("database: {0}")]
    BadDatabase(String),
    /// This node is not the sequencer (another node holds the lease); the submission was not
    /// taken here.
    #[error("this node is not the sequencer")]
    NotSequencer,
    #[error("{0} exists and is not empty; sverka init never writes into an existing directory")]
    NotEmpty(PathBuf),
    #[error("{0} is not a sverka data directory (no sverka.db)")]
    NotADataDir(PathBuf),
    #[error("election definition: {0}")]
    Election(String),
    #[error("the database has schema version {found}; this sverka reads up to {supported}")]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("the log key file {0} is not base64 of a 32-byte Ed25519 seed")]
    BadKeyFile(PathBuf),
    /// Stored data contradicts itself (a tile that does not hash to the signed root, a gap in the
    /// entries). Nothing is signed or published from such a store.
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    /// The log would sign a second root for a size it already signed, or a smaller size.
    #[error(
        "refusing to sign size {size} with root {root}: the last signed checkpoint is size {signed_size} with root {signed_root}"
    )]
    CheckpointConflict { size: u64, root: String, signed_size: u64, signed_root: String },
    /// An injected failure (tests only; see [`crate::FaultPlan`]).
    #[error("injected failure at {0:?}")]
    Injected(FaultPoint),
    /// The batch holding this submission was not committed; nothing of it is stored.
    #[error("the batch was not stored: {0}")]
    Batch(String),
    /// The sequencer is not running (the store is shutting down or failed to recover).
    #[error("the sequencer is not running: {0}")]
    Stopped(String),
    /// Publication found a file that differs from what the log says it must be.
    #[error("{path} exists with different content: refusing to rewrite published history")]
    PublishedConflict { path: PathBuf },
    /// A read asked for something outside the log (an index or size beyond it).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// The snapshot hook failed.
    #[error("snapshot for size {size}: {message}")]
    Snapshot { size: u64, message: String },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.into(), source }
    }
}

/// Why a submission got no receipt.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The submission was refused and quarantined; sending the same bytes again gives the same
    /// answer.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The store could not take it now; nothing of it is stored unless it was already in the log.
    #[error(transparent)]
    Store(StoreError),
}
