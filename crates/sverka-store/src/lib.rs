//! sverka's persistence: the embedded SQLite store behind a data directory, the **sequencer** that
//! turns signed submissions into log entries, the quarantine of rejected submissions, the tiles and
//! signed checkpoints of the log (C2SP tlog-tiles v1, tlog-checkpoint, signed-note), and the static
//! publication.
//!
//! What it deliberately does not do: HTTP (that is `sverka-server`, which calls [`Store`]), protocol
//! arithmetic or tabulation (that is `sverka-model` and `sverka-tally`), and Merkle hashing, tile
//! encoding, checkpoints or signed notes of its own (all of that is `sverka-tlog`).
//!
//! # Code map
//!
//! - [`store`]: [`Store`], the handle everyone uses: `init`, `open`, submissions, and the read API.
//! - [`sequencer`] (private module, documented here): one thread that drains the submission queue,
//!   admits each submission, appends the accepted ones with their leaf hashes, integrates them into
//!   tiles and commits (fsync) in one SQLite transaction, and only then answers the waiters
//!   (group commit). It signs checkpoints through the compare-and-swap record.
//! - [`admission`]: [`admit`], the pure decision "may this submission enter the log?" given the
//!   [`State`] folded from the log so far; the rules and their codes are `sverka-model`'s
//!   (`registry` for keys, roles, revocations and sequence numbers; `validate` for the rest).
//! - [`schema`]: the SQLite schema, its version and migrations.
//! - `election_cache` (private): the store's cached election, `DIR/election.cache` pinned by the
//!   log key's signature in `meta`, used by every open instead of parsing entry 0's definition.
//! - [`publish`]: the static publication (`checkpoint`, `log.vkey`, `tile/…`, `tile/entries/…`,
//!   `snapshot/<N>.json`, `blob/<sha256>`).
//! - [`fault`]: [`FaultPlan`], failure injection at every write step, for crash tests.
//!
//! # Architecture invariants kept here
//!
//! - **A receipt means durable.** A [`Receipt`] is returned only after the transaction holding its
//!   entry has committed with `synchronous=FULL`.
//! - **Nothing is updated in place.** SQLite triggers refuse `UPDATE` and `DELETE` on `entries`,
//!   full `tiles` and `signed_checkpoints`.
//! - **One root per size.** The log key signs a checkpoint only after checking the last signed
//!   `(size, root)` and replacing it by compare-and-swap; `signed_checkpoints` is keyed by size.
//! - **Rejected submissions leave only their quarantine row.**

mod db;
mod election_cache;
mod error;
mod nodes;
mod sequencer;
mod sql;
mod time;

pub mod admission;
pub mod cosigned;
pub mod fault;
pub mod publish;
pub mod schema;
pub mod snapshot;
pub mod store;
pub mod transfer;

pub use admission::{admit, Problem, Rejection, State, Warnings};
pub use cosigned::{Cosigned, CosignedCheckpoint};
pub use error::{StoreError, SubmitError};
pub use fault::{FaultAction, FaultPlan, FaultPoint};
pub use publish::{PublishOptions, PublishReport, SnapshotSource};
pub use schema::{migrate_database, Migrated};
pub use sql::Database;
pub use store::{
    CheckpointObserver, CheckpointPolicy, Config, EntryReceipt, Incoming, PreparedBatch,
    QuarantineFilter, QuarantineRecord, Receipt, SignedCheckpoint, Store,
};
pub use transfer::{move_to_postgres, Moved};
