//! The sequencer: the only writer of the log.
//!
//! [`Writer`] holds the write connection, the admission [`State`], the tree size and root, and the
//! log key. [`Writer::append_batch`] is one group commit: admit each submission in order, insert the
//! accepted entries (with their leaf hashes) and the quarantine rows, integrate the new leaves into
//! tiles, and commit, all in one SQLite transaction; only after the commit returns are receipts
//! handed out. [`Writer::sign_checkpoint`] signs the current tree through the compare-and-swap
//! record. [`Writer::load`] is crash recovery: it rebuilds whatever a crash left unfinished from
//! the entries, checks the tiles against the last signed root, and refolds the admission state
//! ([`Writer::recover_log`] is its first two steps alone, for a writer that only signs).
//!
//! [`run`] is the thread around it: it drains the job queue into batches (up to
//! `Config::max_batch` submissions per transaction), and after an error rolls back, answers the
//! batch's waiters with the error, and reloads everything from the database (errors are split by
//! recovery: the batch fails, the log does not). A bulk load's jobs (`sverka import`) are staged
//! one after the other in one transaction of up to [`BULK_COMMIT_SUBMISSIONS`] and answered
//! when it commits ([`Bulk`]).
//!
//! On PostgreSQL the thread sequences only while its node holds the lease (`crate::nodes`): it
//! polls for the lease, and once it holds it, recovers with [`Writer::load`], signs the tree it
//! found if a previous holder left it unsigned, and adds the other nodes' pending submissions to
//! its batches. Every write transaction checks the fencing token first; any error of the leader
//! makes it step down, and it recovers by taking the lease again. While it does not hold the
//! lease it forwards its node's submissions (`crate::nodes::Forwarder`) and answers checkpoint
//! requests with the latest signed checkpoint in the database.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use sverka_model::registry::{Candidate, PublicKeys};
use sverka_model::submission::{Annulment, FORMAT_VERSION};
use sverka_model::validate::{Finding, ProtocolContext, ProtocolPrecheck};
use sverka_model::{Body, Election, Payload, Protocol, Source, Submission};
use sverka_tlog::note::{Ed25519Signer, NoteSigner};
use sverka_tlog::{append_leaves, root_from_tiles, Checkpoint, Hash};

use crate::admission::{admit_candidate_prechecked, Rejection, State, LOG_SIGNER};
use crate::db::{self, DbTiles, EntryRow};
use crate::error::{StoreError, SubmitError};
use crate::fault::FaultPoint;
use crate::nodes::{self, Forwarder};
use crate::sql::{Conn, Database, Dialect};
use crate::store::{BulkGate, BulkTicket, CheckpointPolicy, Config, Receipt, SignedCheckpoint};

/// A submission ready for the sequencer: hashed, decoded and its signature verified on the
/// submitting thread (see [`KeyDirectory`]).
pub(crate) struct Prepared {
    pub bytes: Vec<u8>,
    pub sender: String,
    pub leaf_hash: Hash,
    pub decoded: Result<Candidate, Finding>,
    /// The protocol checks that need only the election, done on the submitting thread
    /// (`sverka_model::validate::precheck_submission`); `None`: done in admission.
    pub precheck: Option<ProtocolPrecheck>,
    /// The `pending` row it came from, when another node received it (PostgreSQL).
    pub pending: Option<i64>,
}

/// Every registered key id with its public key, shared between the sequencer (which replaces it
/// after each batch that registers keys, and after every reload) and the submitting threads (which
/// read it to verify signatures in parallel before queueing). A [`PublicKeys`] snapshot of the
/// registry: raw key bytes shared with the election, each key decompressed when asked for. Ids are
/// never reused and a key never changes, so a stale snapshot at worst lacks a key, and the
/// registry then verifies on the sequencer thread. Revocations are the registry's business.
#[derive(Clone, Default)]
pub(crate) struct KeyDirectory(Arc<RwLock<Option<PublicKeys>>>);

impl KeyDirectory {
    /// The key registered under `signer`, if the sequencer has published it.
    pub(crate) fn get(&self, signer: &str) -> Option<VerifyingKey> {
        let keys = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.as_ref()?.verifying_key(signer)
    }

    /// Takes the keys of `state`'s registry.
    fn publish(&self, state: &State) {
        let keys = state.registry().public_keys();
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(keys);
    }
}

/// What the sequencer thread is asked to do.
pub(crate) enum Job {
    /// `keep`: the submissions go back with the answers ([`Answered`]); else the sequencer's
    /// helper thread frees them, so that a caller that does not want them (`sverka import`) can
    /// queue its next batch at once instead of freeing thousands of decoded protocols first.
    ///
    /// `bulk`: part of a bulk load (`sverka import`, see [`Bulk`]): on SQLite it may wait in an open
    /// transaction for the jobs after it and be answered when that commits.
    Submit {
        items: Vec<Prepared>,
        reply: Sender<Answered>,
        keep: bool,
        bulk: Option<BulkTicket>,
    },
    Checkpoint {
        reply: Sender<Result<SignedCheckpoint, StoreError>>,
    },
}

/// The sequencer's answer to a [`Job::Submit`]: one outcome per submission, in order, and, if the
/// job asked to keep them, the submissions given back (empty when they were forwarded to another
/// node), so that the caller can keep what it decoded (the server's live results fold the accepted
/// ones) instead of cloning it before queueing, and frees the rest on its own thread instead of
/// the sequencer's.
pub(crate) struct Answered {
    pub answers: Vec<Result<Receipt, SubmitError>>,
    pub items: Vec<Prepared>,
}

/// The kind column of an entry row.
fn kind_of(body: &Body) -> &'static str {
    match body {
        Body::Protocol(_) => "protocol",
        Body::Annulment(_) => "annulment",
        Body::KeyRegistration(_) => "key_registration",
        Body::KeyRevocation(_) => "key_revocation",
        Body::Election(_) => "election",
        Body::Audit(_) => "audit",
    }
}

/// The sequencer connection's page cache (SQLite), in KiB: SQLite's default is 2 MiB.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// Submissions of bulk jobs ([`Job::Submit`] with `bulk`) staged in one transaction before it
/// commits: sixteen of `sverka import`'s batches of 4,096. See [`Bulk`].
pub const BULK_COMMIT_SUBMISSIONS: usize = 65_536;

/// The sequencer connection's page cache while it stages bulk jobs, in KiB: room for every page
/// one bulk transaction dirties (see [`Bulk`]), so that none is spilled to the WAL before the
/// commit and written again by it.
const BULK_CACHE_KIB: u32 = 768 * 1024;

/// How long an open bulk transaction waits for the next bulk job before it commits.
const BULK_IDLE: Duration = Duration::from_secs(1);

/// Bulk jobs staged in the write transaction left open on the sequencer's connection (SQLite):
/// `sverka import` queues its batches as bulk jobs without waiting for their answers, and the
/// sequencer admits and inserts each as it comes but commits only once
/// [`BULK_COMMIT_SUBMISSIONS`] are staged, when a job that is not bulk (or a checkpoint request)
/// comes, when none comes for [`BULK_IDLE`], or when the store closes; only then are the staged
/// jobs answered, so every receipt still stands for a durable commit, and a crash before the
/// commit loses nothing that was answered (the import run again adds what is missing, once).
///
/// Why: each commit writes every page it dirtied to the WAL, and the checkpoint writes it again
/// to the database. The three `entries` indexes (leaf hashes, signers, stations) are inserted at
/// random places, so once they have more pages than a commit has entries (about 250,000
/// stations) a commit of 8,192 dirtied about one page of each index per entry; a commit of
/// 65,536 dirties each such page once for several entries.
#[derive(Default)]
pub(crate) struct Bulk {
    /// The gate of the staged jobs' store: told if the transaction fails.
    gate: Option<Arc<BulkGate>>,
    /// Submissions staged.
    submissions: usize,
    /// New entries staged.
    entries: usize,
    /// Each staged job's reply and outcomes, answered once the transaction commits.
    answers: Vec<(Sender<Answered>, Outcomes)>,
}

/// One outcome per submission of a batch, in order.
type Outcomes = Vec<Result<Receipt, Rejection>>;

/// The log's writer: see the module documentation.
pub(crate) struct Writer {
    conn: Conn,
    /// Where `conn` goes (to reconnect after a PostgreSQL session ends).
    database: Database,
    /// The fencing token of the lease while this writer holds it (PostgreSQL); SQLite needs none
    /// (one process holds the data directory's write lock).
    token: Option<i64>,
    state: State,
    /// Whether `state` is still the state after entry 0 (as [`Writer::open`] built it), so the
    /// first [`Writer::load`] folds into it instead of building the key registry a second time.
    genesis_state: bool,
    /// Entries in the log (= leaves covered by the stored tiles, after [`Writer::load`]).
    size: u64,
    /// The tree head of `size` leaves.
    root: Hash,
    signer: Ed25519Signer,
    origin: String,
    pub(crate) config: Config,
    /// The keys the submitting threads verify under; updated here.
    directory: KeyDirectory,
    /// The latest machine and hand counts per station and contest, for the comparison of the two.
    counts: LatestCounts,
    /// Wakes the WAL checkpointer after a commit (SQLite, while [`run`] runs; see
    /// [`WalCheckpointer`]). Without it SQLite checkpoints inside the commit, as it does by default.
    wal: Option<WalWake>,
    /// Why the last reload after an error failed, while it has not yet succeeded (SQLite): a
    /// transient failure, such as a full disk, that the next job retries instead of stopping the
    /// sequencer for good.
    stale: Option<String>,
    /// The bulk transaction open on the connection, if any (SQLite).
    bulk: Option<Bulk>,
    /// Whether the connection has the bulk page cache ([`BULK_CACHE_KIB`]).
    bulk_cache: bool,
    /// What the log holds, as filters, while bulk transactions stage (SQLite); `None` outside
    /// them and after anything else appended or a reload (see [`LogFilter`]).
    filter: Option<LogFilter>,
}

/// What the log holds, as two Bloom filters, for bulk transactions: its leaf hashes, and the
/// station, contest and source of its protocols. A submission whose leaf hash the first does not
/// hold is not in the log, so its lookup in the `UNIQUE` index is skipped (an import of new lines
/// looked each one up only to find nothing: 17 % of the sequencer thread's samples at 2 million
/// lines); a protocol whose other counting source the second does not hold for its station and
/// contest has none in the log, so that lookup is skipped too (most of the other 9 %). A filter
/// can only answer "maybe" wrongly, never "no": everything the log holds is put in when it is
/// built, and every entry staged after that; what a rolled-back transaction staged stays in (a
/// lookup too many), and a writer that appends in any other way or reloads drops the filters.
/// 16 bits per entry, four bits each in one cache line, give about 0.4 % lookups that find
/// nothing.
struct LogFilter {
    leaves: Bloom,
    protocols: Bloom,
}

impl LogFilter {
    /// Room for this many entries past the log's at the time it is built (16 MiB for each
    /// filter of an empty log); beyond that a filter answers "maybe" more often, never wrongly
    /// "no".
    const HEADROOM: u64 = 1 << 22;

    /// The filters of the log on `conn`, of `size` entries.
    fn build(conn: &Conn, size: u64) -> Result<LogFilter, StoreError> {
        let entries = size.saturating_add(Self::HEADROOM);
        let mut filter = LogFilter { leaves: Bloom::new(entries), protocols: Bloom::new(entries) };
        let mut wrong = None;
        db::each_leaf_hash(conn, |bytes| match <[u8; 32]>::try_from(bytes) {
            Ok(hash) => filter.leaves.insert(Bloom::of_hash(&Hash(hash))),
            Err(_) => wrong = Some(bytes.len()),
        })?;
        if let Some(length) = wrong {
            return Err(StoreError::Corrupt(format!("a leaf hash of {length} bytes")));
        }
        db::each_protocol_key(conn, |key| filter.protocols.insert(Bloom::of_key(key)))?;
        Ok(filter)
    }

    /// Whether `hash` may be in the log (`false`: it is not).
    fn may_hold_leaf(&self, hash: &Hash) -> bool {
        self.leaves.may_hold(Bloom::of_hash(hash))
    }

    /// Whether the log may hold a protocol of `station`, `contest` and `source` (`false`: none).
    fn may_hold_protocol(&self, station: &str, contest: &str, source: Source) -> bool {
        self.protocols.may_hold(Bloom::of_key(&db::protocol_key(station, contest, source.as_str())))
    }

    /// Notes a staged entry.
    fn insert(&mut self, hash: &Hash, submission: &Submission) {
        self.leaves.insert(Bloom::of_hash(hash));
        if let Body::Protocol(p) = &submission.payload.body {
            let key = db::protocol_key(&p.station, &p.contest, p.source.as_str());
            self.protocols.insert(Bloom::of_key(&key));
        }
    }
}

/// A blocked Bloom filter: four bits per item, all in one 64-byte line (one cache miss a lookup,
/// not four), items given as four 64-bit words (the first picks the line).
struct Bloom {
    lines: Vec<Line>,
}

#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Line([u64; 8]);

impl Bloom {
    /// Bits per entry a filter is sized for.
    const BITS_PER_ENTRY: u64 = 16;

    /// A filter for `entries` entries: a power of two lines.
    fn new(entries: u64) -> Bloom {
        let lines = (entries.saturating_mul(Self::BITS_PER_ENTRY) / 512).next_power_of_two();
        Bloom { lines: vec![Line::default(); usize::try_from(lines).expect("a filter fits")] }
    }

    /// The item's line and its four bits there (word, bit).
    fn place(&self, words: [u64; 4]) -> (usize, [(usize, u64); 4]) {
        let line = (words[0] & (self.lines.len() as u64 - 1)) as usize;
        let bit = |w: u64| ((w >> 6 & 7) as usize, 1u64 << (w & 63));
        let (a, b) = (words[1], words[2]);
        (line, [bit(a), bit(a >> 9), bit(b), bit(b >> 9)])
    }

    fn insert(&mut self, words: [u64; 4]) {
        let (line, bits) = self.place(words);
        for (word, bit) in bits {
            self.lines[line].0[word] |= bit;
        }
    }

    fn may_hold(&self, words: [u64; 4]) -> bool {
        let (line, bits) = self.place(words);
        bits.iter().all(|&(word, bit)| self.lines[line].0[word] & bit != 0)
    }

    /// A leaf hash's words: its own bytes (SHA-256 outputs).
    fn of_hash(hash: &Hash) -> [u64; 4] {
        let word =
            |i: usize| u64::from_le_bytes(hash.0[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        [word(0), word(1), word(2), word(3)]
    }

    /// A key's words: SHA-256 of it (keys are station and contest names, chosen by the election).
    fn of_key(key: &[u8]) -> [u64; 4] {
        Self::of_hash(&sverka_tlog::leaf_hash(key))
    }
}

/// Whether the tiles of a tree of `size` leaves are all readable.
fn tiles_complete(conn: &Conn, size: u64) -> bool {
    root_from_tiles(&DbTiles(conn), size).is_ok()
}

/// What [`Writer::open`] recovers on SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The log and the admission state ([`Writer::load`]): a writer that sequences.
    Full,
    /// The log only ([`Writer::recover_log`]): a writer that signs the tree it finds and appends
    /// nothing (`Store::open_for_publish`). Its admission state stays the state after entry 0,
    /// so it must never be handed a batch.
    LogOnly,
}

impl Writer {
    /// Opens the writer on `database` for `election` (entry 0's, see [`read_election`]). On
    /// SQLite it recovers at once (see [`Recovery`]); on PostgreSQL it recovers when it takes the
    /// lease.
    pub(crate) fn open(
        database: &Database,
        election: Arc<Election>,
        signer: Ed25519Signer,
        config: Config,
        directory: KeyDirectory,
        recovery: Recovery,
    ) -> Result<Writer, StoreError> {
        let conn = Conn::open(database)?;
        if conn.dialect() == Dialect::Sqlite {
            // Every batch inserts into the entries' indexes at random places (leaf hashes,
            // signers, stations); with SQLite's default 2 MiB cache the sequencer re-read their
            // pages from the file and spilled dirty pages to the WAL in the middle of a batch.
            conn.batch(&format!("PRAGMA cache_size = -{}", WRITER_CACHE_KIB))?;
        }
        let origin = signer.name().to_string();
        let genesis = State::new(election, *signer.verifier().public_key());
        let sqlite = conn.dialect() == Dialect::Sqlite;
        let mut writer = Writer {
            conn,
            database: database.clone(),
            token: None,
            state: genesis,
            genesis_state: true,
            size: 0,
            root: sverka_tlog::EMPTY_ROOT,
            signer,
            origin,
            config,
            directory,
            counts: LatestCounts::default(),
            wal: None,
            stale: None,
            bulk: None,
            bulk_cache: false,
            filter: None,
        };
        match recovery {
            _ if !sqlite => {}
            Recovery::Full => writer.load()?,
            Recovery::LogOnly => writer.recover_log()?,
        }
        Ok(writer)
    }

    /// An empty database's writer, used once by `Store::init` to write the log's first entry.
    pub(crate) fn for_genesis(
        conn: Conn,
        state: State,
        signer: Ed25519Signer,
        config: Config,
    ) -> Result<Writer, StoreError> {
        let origin = signer.name().to_string();
        let database = Database::Sqlite(Default::default());
        Ok(Writer {
            conn,
            database,
            token: None,
            state,
            genesis_state: true,
            size: 0,
            root: sverka_tlog::EMPTY_ROOT,
            signer,
            origin,
            config,
            directory: KeyDirectory::default(),
            counts: LatestCounts::default(),
            wal: None,
            stale: None,
            bulk: None,
            bulk_cache: false,
            filter: None,
        })
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Whether this writer may write now: always on SQLite, with the lease on PostgreSQL.
    pub(crate) fn may_write(&self) -> bool {
        self.conn.dialect() == Dialect::Sqlite || self.token.is_some()
    }

    /// Starts a write transaction, fenced by the lease's token on PostgreSQL.
    fn begin(&self) -> Result<crate::sql::Tx<'_>, StoreError> {
        begin_fenced(&self.conn, self.token)
    }

    /// Tries to take the lease (PostgreSQL), reconnecting first if the session ended. Returns
    /// whether this writer holds it; the caller then recovers with [`Writer::load`].
    pub(crate) fn try_lead(&mut self, holder: &str) -> Result<bool, StoreError> {
        if self.token.is_some() {
            return Ok(true);
        }
        if self.conn.is_closed() {
            self.conn = Conn::open(&self.database)?;
        }
        self.token = nodes::try_lead(&self.conn, holder)?;
        Ok(self.token.is_some())
    }

    /// Gives the lease up (PostgreSQL).
    pub(crate) fn step_down(&mut self) {
        self.token = None;
        nodes::step_down(&self.conn);
    }

    /// The latest signed checkpoint in the database.
    pub(crate) fn latest_signed(&self) -> Result<SignedCheckpoint, StoreError> {
        let (size, root, note) = db::signed_checkpoint(&self.conn, false)?
            .ok_or_else(|| StoreError::Corrupt("no checkpoint was ever signed".into()))?;
        Ok(SignedCheckpoint { size, root, note })
    }

    /// Crash recovery, idempotent: [`Writer::recover_log`], then refolds the admission state from
    /// the entries. Entry 0 never changes, so the election [`Writer::open`] was given (read and
    /// checked against entry 0) is reused, not read again: at a million stations that is seconds
    /// of CPU, and a second definition in memory while the first is still held.
    pub(crate) fn load(&mut self) -> Result<(), StoreError> {
        self.filter = None;
        self.recover_log()?;
        self.counts.clear();
        if !self.genesis_state {
            let log_key = *self.state.log_key();
            self.state = State::new(self.state.election().clone(), log_key);
        }
        // From here on the state is being folded: a later load starts from a fresh one.
        self.genesis_state = false;
        refold_state(&self.conn, &mut self.state)?;
        self.directory.publish(&self.state);
        Ok(())
    }

    /// The log's part of crash recovery, idempotent: completes the tiles for entries a crash left
    /// unintegrated (or rebuilds them all if any is missing), and checks that the tiles reproduce
    /// the last signed root. Leaves the admission state alone.
    pub(crate) fn recover_log(&mut self) -> Result<(), StoreError> {
        let entries = db::entry_count(&self.conn)?;
        let mut tiled = db::tile_size(&self.conn)?;
        if tiled > entries {
            return Err(StoreError::Corrupt(format!(
                "tiles cover {tiled} entries but only {entries} are stored"
            )));
        }
        if !tiles_complete(&self.conn, tiled) {
            let tx = self.begin()?;
            tx.execute("DELETE FROM partial_tiles", &[])?;
            db::meta_set(&tx, "tree_size", "0")?;
            tx.commit()?;
            tiled = 0;
        }
        const CHUNK: u64 = 1 << 16;
        while tiled < entries {
            let end = entries.min(tiled + CHUNK);
            let tx = self.begin()?;
            let leaves = db::leaf_hashes(&tx, tiled..end)?;
            let outcome = append_leaves(&DbTiles(&tx), tiled, &leaves).map_err(tile_error)?;
            db::write_tiles(&tx, outcome.tiles())?;
            db::meta_set(&tx, "tree_size", &end.to_string())?;
            tx.commit()?;
            tiled = end;
        }
        self.size = entries;
        self.root = root_from_tiles(&DbTiles(&self.conn), entries).map_err(tile_error)?;
        if let Some((signed_size, signed_root, _)) = db::signed_checkpoint(&self.conn, false)? {
            if signed_size > entries {
                return Err(StoreError::Corrupt(format!(
                    "checkpoint {signed_size} was signed but only {entries} entries are stored"
                )));
            }
            let root = root_from_tiles(&DbTiles(&self.conn), signed_size).map_err(tile_error)?;
            if root != signed_root {
                return Err(StoreError::Corrupt(format!(
                    "the tiles give root {root} at size {signed_size}, but {signed_root} was signed"
                )));
            }
        }
        Ok(())
    }

    /// Writes the log's first entry (the election definition signed by the log key) into an empty
    /// database, integrates it and signs checkpoint 1.
    pub(crate) fn append_genesis(
        &mut self,
        bytes: Vec<u8>,
    ) -> Result<SignedCheckpoint, StoreError> {
        let leaf_hash = sverka_tlog::leaf_hash(&bytes);
        let tx = self.begin()?;
        if db::entry_count(&tx)? != 0 {
            return Err(StoreError::Corrupt("the log is not empty".into()));
        }
        let row = EntryRow {
            idx: 0,
            leaf_hash,
            bytes: &bytes,
            signer: LOG_SIGNER,
            seq: 1,
            kind: "election",
            protocol: None,
        };
        db::insert_entry(&tx, &row)?;
        let outcome = append_leaves(&DbTiles(&tx), 0, &[leaf_hash]).map_err(tile_error)?;
        db::write_tiles(&tx, outcome.tiles())?;
        db::meta_set(&tx, "tree_size", "1")?;
        tx.commit()?;
        self.size = 1;
        self.root = outcome.root();
        self.sign_checkpoint()
    }

    /// One group commit; see the module documentation. Returns one outcome per item, in order.
    pub(crate) fn append_batch(&mut self, items: &[&Prepared]) -> Result<Outcomes, StoreError> {
        // Appended without the filter: a later bulk transaction builds it again.
        self.filter = None;
        begin_fenced(&self.conn, self.token)?.keep_open();
        let appended = self.stage(items).and_then(|(outcomes, entries)| {
            self.commit_open(entries)?;
            Ok(outcomes)
        });
        if appended.is_err() {
            self.rollback_open();
        }
        appended
    }

    /// Starts a bulk transaction ([`Bulk`]): a write transaction left open on the connection,
    /// with the connection's page cache grown to [`BULK_CACHE_KIB`].
    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        if !self.bulk_cache {
            self.conn.batch(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))?;
            self.bulk_cache = true;
        }
        begin_fenced(&self.conn, self.token)?.keep_open();
        if self.filter.is_none() && self.conn.dialect() == Dialect::Sqlite {
            self.filter = Some(LogFilter::build(&self.conn, self.size)?);
        }
        self.bulk = Some(Bulk::default());
        Ok(())
    }

    /// Gives the connection its usual page cache back after bulk transactions, before a
    /// transaction that is not one (a server's batch).
    fn end_bulk_cache(&mut self) -> Result<(), StoreError> {
        if self.bulk_cache {
            self.conn.batch(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))?;
            self.bulk_cache = false;
        }
        Ok(())
    }

    /// Commits the transaction open on the connection, which added `entries` new entries: sets
    /// the WAL backstop for it, commits, wakes the WAL checkpointer. A failed `COMMIT` is left to
    /// the caller to roll back ([`Writer::rollback_open`]).
    fn commit_open(&mut self, entries: usize) -> Result<(), StoreError> {
        self.set_wal_backstop(&self.conn, entries)?;
        self.conn.batch("COMMIT")?;
        self.wake_wal_checkpointer(entries);
        self.config.faults.check(FaultPoint::AfterCommit)
    }

    /// Rolls back the transaction open on the connection, if any (a failed `COMMIT`, SQLite's
    /// `SQLITE_FULL`, may leave it open, holding the write lock and keeping checkpoints from
    /// copying the WAL back); the caller then reloads the writer from the database.
    fn rollback_open(&mut self) {
        let _ = self.conn.batch("ROLLBACK");
    }

    /// Admits `items` in order and writes the accepted entries, the quarantine rows and the tiles
    /// inside the write transaction open on the connection, without committing; the writer's
    /// size, root, admission state and kept counts already include them. Returns one outcome
    /// per item, in order, and the number of new entries. On an error the caller rolls back and
    /// reloads the writer (as after a failed commit).
    fn stage(&mut self, items: &[&Prepared]) -> Result<(Outcomes, usize), StoreError> {
        let received_at = crate::time::now_rfc3339();
        let faults = self.config.faults.clone();
        let tx = &self.conn;
        let mut outcomes = Vec::with_capacity(items.len());
        let mut new_leaves: Vec<Hash> = Vec::new();
        let mut accepted: Vec<(usize, &Submission)> = Vec::new();
        let mut registers_keys = false;
        let mut rejected: Vec<(usize, String)> = Vec::new();
        let mut in_batch: HashMap<Hash, u64> = HashMap::new();
        let mut protocols_in_batch = ProtocolsInBatch::new();
        for (position, item) in items.iter().enumerate() {
            let known = match in_batch.get(&item.leaf_hash) {
                Some(&index) => Some(index),
                None if self.filter.as_ref().is_some_and(|f| !f.may_hold_leaf(&item.leaf_hash)) => {
                    None
                }
                None => db::find_leaf(tx, &item.leaf_hash)?,
            };
            if let Some(index) = known {
                let receipt =
                    Receipt { index, leaf_hash: item.leaf_hash, new: false, warnings: Vec::new() };
                outcomes.push(Ok(receipt));
                continue;
            }
            let verdict = match &item.decoded {
                Err(finding) => Err(Rejection::from_finding(finding)),
                Ok(candidate) => {
                    let submission = candidate.submission();
                    let superseded = superseded_protocol(tx, self.size, &accepted, submission)?;
                    let other = other_source_protocol(
                        tx,
                        &accepted,
                        &protocols_in_batch,
                        &mut self.counts,
                        self.filter.as_ref(),
                        submission,
                    )?;
                    let context = ProtocolContext {
                        superseded: superseded.as_ref(),
                        other_source: other.as_deref(),
                    };
                    admit_candidate_prechecked(
                        &self.state,
                        candidate,
                        &context,
                        item.precheck.as_ref(),
                    )
                }
            };
            match verdict {
                Ok(warnings) => {
                    let submission =
                        item.decoded.as_ref().expect("admitted, so decoded").submission();
                    let index = self.size + new_leaves.len() as u64;
                    self.state.apply(submission);
                    registers_keys |= matches!(submission.payload.body, Body::KeyRegistration(_));
                    in_batch.insert(item.leaf_hash, index);
                    if let Some(filter) = &mut self.filter {
                        filter.insert(&item.leaf_hash, submission);
                    }
                    new_leaves.push(item.leaf_hash);
                    if let Body::Protocol(p) = &submission.payload.body {
                        protocols_in_batch.insert(p, accepted.len());
                    }
                    accepted.push((position, submission));
                    outcomes.push(Ok(Receipt {
                        index,
                        leaf_hash: item.leaf_hash,
                        new: true,
                        warnings,
                    }));
                }
                Err(rejection) => {
                    let codes = serde_json::to_string(&rejection.problems)
                        .expect("problems serialise to JSON");
                    rejected.push((position, codes));
                    outcomes.push(Err(rejection));
                }
            }
        }
        faults.check(FaultPoint::BeforeInsert)?;
        for (offset, (position, submission)) in accepted.iter().enumerate() {
            let item = &items[*position];
            db::insert_entry(
                tx,
                &EntryRow {
                    idx: self.size + offset as u64,
                    leaf_hash: item.leaf_hash,
                    bytes: &item.bytes,
                    signer: &submission.payload.signer,
                    seq: submission.payload.seq,
                    kind: kind_of(&submission.payload.body),
                    protocol: match &submission.payload.body {
                        Body::Protocol(p) => Some((&p.station, &p.contest, p.source.as_str())),
                        _ => None,
                    },
                },
            )?;
        }
        for (position, codes) in &rejected {
            let item = &items[*position];
            db::insert_quarantine(tx, &received_at, &item.sender, &item.bytes, codes)?;
        }
        for (item, outcome) in items.iter().zip(&outcomes) {
            if let Some(id) = item.pending {
                nodes::decide(tx, id, outcome, &received_at)?;
            }
        }
        faults.check(FaultPoint::AfterInsert)?;
        let outcome = append_leaves(&DbTiles(tx), self.size, &new_leaves).map_err(tile_error)?;
        db::write_tiles(tx, outcome.tiles())?;
        db::meta_set(tx, "tree_size", &outcome.size().to_string())?;
        faults.check(FaultPoint::AfterTiles)?;
        for (_, submission) in &accepted {
            self.counts.committed(submission);
        }
        self.size = outcome.size();
        self.root = outcome.root();
        if registers_keys {
            self.directory.publish(&self.state);
        }
        Ok((outcomes, new_leaves.len()))
    }

    /// Signs the current tree if it is not signed yet, through the compare-and-swap record: the
    /// last signed `(size, root)` is read and checked first (a smaller size whose root the tiles
    /// still reproduce), then replaced only if it is still the same. Signatures are deterministic
    /// (Ed25519, and the note has no timestamp), so signing the same tree again after a crash gives
    /// byte-identical notes.
    pub(crate) fn sign_checkpoint(&mut self) -> Result<SignedCheckpoint, StoreError> {
        let (size, root) = (self.size, self.root);
        let tx = self.begin()?;
        let signed = db::signed_checkpoint(&tx, true)?;
        if tx.dialect() == Dialect::Postgres {
            // Several nodes share the log: sign only the tree the database holds.
            let stored = db::tile_size(&tx)?;
            let stored_root = root_from_tiles(&DbTiles(&tx), size).map_err(tile_error)?;
            if stored != size || stored_root != root {
                return Err(StoreError::Corrupt(format!(
                    "this sequencer has size {size} but the database holds {stored}: another sequencer wrote"
                )));
            }
        }
        let conflict = |signed_size: u64, signed_root: &Hash| StoreError::CheckpointConflict {
            size,
            root: root.to_base64(),
            signed_size,
            signed_root: signed_root.to_base64(),
        };
        if let Some((signed_size, signed_root, note)) = &signed {
            if *signed_size == size && *signed_root == root {
                return Ok(SignedCheckpoint { size, root, note: note.clone() });
            }
            if *signed_size >= size {
                return Err(conflict(*signed_size, signed_root));
            }
            let old_root = root_from_tiles(&DbTiles(&tx), *signed_size).map_err(tile_error)?;
            if old_root != *signed_root {
                return Err(conflict(*signed_size, signed_root));
            }
        }
        let note = Checkpoint::new(&self.origin, size, root)
            .and_then(|checkpoint| checkpoint.sign(&self.signer as &dyn NoteSigner))
            .map_err(|e| StoreError::Corrupt(format!("signing the checkpoint: {e}")))?;
        let note = String::from_utf8(note.to_bytes()).expect("notes are UTF-8 text");
        if let Some(observer) = &self.config.on_checkpoint_signed {
            observer(&note);
        }
        self.config.faults.check(FaultPoint::AfterSign)?;
        let old = signed.as_ref().map(|(s, r, _)| (*s, *r));
        if !db::swap_checkpoint(&tx, old, (size, root, &note), &crate::time::now_rfc3339())? {
            return Err(StoreError::Corrupt(
                "the checkpoint record changed while signing: another sequencer is running".into(),
            ));
        }
        tx.commit()?;
        self.wake_wal_checkpointer(0);
        Ok(SignedCheckpoint { size, root, note })
    }

    /// Tells the WAL checkpointer that the WAL grew by a commit of `entries` new entries: it
    /// checkpoints at most every [`WAL_CHECKPOINT_EVERY`], so that many commits make one
    /// checkpoint, or at once when [`WAL_CHECKPOINT_ENTRIES`] entries have been committed since
    /// its last one (see [`WalCheckpointer`]).
    fn wake_wal_checkpointer(&self, entries: usize) {
        if let Some(wal) = &self.wal {
            wal.pending.fetch_add(entries, Ordering::AcqRel);
            let _ = wal.wake.try_send(());
        }
    }

    /// Sets the backstop for the commit of a batch of `entries` new entries (see
    /// [`wal_backstop_pages`], for the entries the WAL holds since the checkpointer's last
    /// checkpoint and these; after a large batch it falls back by an eighth per commit, so
    /// single submissions between batches do not each copy the WAL a batch left), on the
    /// sequencer's connection inside its transaction `tx`; nothing without the WAL checkpointer
    /// (SQLite's default then stays).
    fn set_wal_backstop(&self, tx: &Conn, entries: usize) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else { return Ok(()) };
        let old = wal.backstop.load(Ordering::Relaxed);
        let held = wal_held_entries(entries, wal.pending.load(Ordering::Acquire));
        let pages = wal_backstop_pages(held, entries).max(old - old / 8).max(WAL_BACKSTOP_PAGES);
        if pages != old {
            // The WAL file is cut back to `journal_size_limit` when it starts over: as long as
            // the backstop, so that back-to-back import commits reuse the file's blocks instead
            // of truncating it to 64 MiB and growing it again each time.
            let limit = (u64::from(pages) * 4096).max(crate::schema::WAL_SIZE_LIMIT);
            tx.batch(&format!(
                "PRAGMA wal_autocheckpoint = {pages}; PRAGMA journal_size_limit = {limit}"
            ))?;
            wal.backstop.store(pages, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the current tree is already covered by the signed checkpoint.
    pub(crate) fn signed_is_current(&self) -> Result<bool, StoreError> {
        Ok(db::signed_checkpoint(&self.conn, false)?.is_some_and(|(size, _, _)| size == self.size))
    }
}

/// A write transaction on `conn`, fenced by `token` on PostgreSQL (no token: not the sequencer).
fn begin_fenced(conn: &Conn, token: Option<i64>) -> Result<crate::sql::Tx<'_>, StoreError> {
    let tx = conn.begin()?;
    if tx.dialect() == Dialect::Postgres {
        nodes::fence(&tx, token.ok_or(StoreError::NotSequencer)?)?;
    }
    Ok(tx)
}

fn tile_error<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Corrupt(format!("tiles: {error}"))
}

/// The election that entry 0 defines, checked to be signed by `log_key`.
pub(crate) fn read_election(
    conn: &Conn,
    election_file: &str,
    log_key: &VerifyingKey,
) -> Result<Election, StoreError> {
    let bytes =
        db::entry(conn, 0)?.ok_or_else(|| StoreError::Corrupt("the log is empty".into()))?;
    election_from_entry(conn, &bytes, election_file, log_key)
}

/// Decodes the log's first entry: an `election` body signed by the log key (signer `"log"`).
pub(crate) fn election_from_entry(
    conn: &Conn,
    bytes: &[u8],
    election_file: &str,
    log_key: &VerifyingKey,
) -> Result<Election, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("entry 0: {why}"));
    let submission = Submission::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    if submission.payload.signer != LOG_SIGNER || !submission.verify(log_key) {
        return Err(corrupt("not signed by this log's key".into()));
    }
    let Body::Election(definition) = &submission.payload.body else {
        return Err(corrupt("not the election definition".into()));
    };
    let text = db::blob(conn, &definition.definition_sha256)?;
    let text = text.ok_or_else(|| corrupt("the election definition blob is missing".into()))?;
    if !definition.matches(&text) {
        return Err(corrupt("the election definition blob does not match its hash".into()));
    }
    let text = String::from_utf8(text).map_err(|_| corrupt("election.toml is not UTF-8".into()))?;
    // `sverka init` read this definition with `from_toml` before it wrote it, and its hash is
    // checked above: every check but the costly decompression of each public key.
    Election::from_toml_trusted_keys(election_file, &text)
        .map_err(|e| StoreError::Election(e.to_string()))
}

/// The entries whose bodies the admission state folds, in log order: found through the partial
/// index `entries_by_kind` (schema version 2), whose condition this query's repeats word for word
/// so that SQLite uses it instead of reading every entry's bytes.
pub(crate) const KEYS_AND_AUDITS: &str = "SELECT idx, bytes FROM entries WHERE kind IN ('key_registration', 'key_revocation', 'audit') ORDER BY idx";

/// Folds the stored entries into the state without decoding all of them: every key registration
/// and revocation and every audit step (whose order the registry checks) in log order (found by the indexed `kind` column), then each signer's highest
/// sequence number (from the indexed `signer`/`seq` columns), folded as a body-less step.
fn refold_state(conn: &Conn, state: &mut State) -> Result<(), StoreError> {
    let rows = conn.query(KEYS_AND_AUDITS, &[])?;
    for mut row in rows {
        let (idx, bytes) = (row.int(0)?, row.blob(1)?);
        let submission = Submission::decode(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("entry {idx} does not decode: {e}")))?;
        state.apply(&submission);
    }
    let rows =
        conn.query("SELECT signer, MAX(seq) FROM entries WHERE idx > 0 GROUP BY signer", &[])?;
    for mut row in rows {
        let (signer, seq) = (row.text(0)?, row.int(1)?);
        state.apply(&sequence_step(state.election(), signer, seq as u64));
    }
    Ok(())
}

/// A stand-in submission that carries only "`signer` reached `seq`": what
/// `KeyRegistry::apply` folds from a body that registers or revokes no key.
fn sequence_step(election: &Election, signer: String, seq: u64) -> Submission {
    let body =
        Body::Annulment(Annulment { station: String::new(), contest: None, reason: String::new() });
    let payload =
        Payload { v: FORMAT_VERSION, election: election.id.clone(), signer, seq, time: None, body };
    Submission { payload, signature: String::new() }
}

/// The protocol of a logged entry (or of one accepted earlier in this batch).
fn logged_protocol(
    conn: &Conn,
    size: u64,
    batch: &[(usize, &Submission)],
    index: u64,
) -> Result<Option<Protocol>, StoreError> {
    let as_protocol = |submission: &Submission| match &submission.payload.body {
        Body::Protocol(protocol) => Some(protocol.clone()),
        _ => None,
    };
    if index >= size {
        let offset = usize::try_from(index - size).unwrap_or(usize::MAX);
        return Ok(batch.get(offset).and_then(|(_, submission)| as_protocol(submission)));
    }
    let Some(bytes) = db::entry(conn, index)? else {
        return Ok(None);
    };
    Ok(Submission::decode(&bytes).ok().as_ref().and_then(as_protocol))
}

/// The protocol a correction supersedes, if it names one the log holds.
fn superseded_protocol(
    conn: &Conn,
    size: u64,
    batch: &[(usize, &Submission)],
    submission: &Submission,
) -> Result<Option<Protocol>, StoreError> {
    match &submission.payload.body {
        Body::Protocol(Protocol { supersedes: Some(supersedes), .. }) => {
            logged_protocol(conn, size, batch, supersedes.index)
        }
        _ => Ok(None),
    }
}

/// The latest protocol of each station, contest and source accepted so far in one batch: its
/// position in the batch's accepted list. A batch holds up to `Config::max_batch` submissions;
/// looking each protocol's other counting source up here instead of scanning the accepted list
/// keeps a batch linear in its length.
struct ProtocolsInBatch<'a>(HashMap<(&'a str, &'a str, Source), usize>);

impl<'a> ProtocolsInBatch<'a> {
    fn new() -> ProtocolsInBatch<'a> {
        ProtocolsInBatch(HashMap::new())
    }

    /// Notes that `protocol` is accepted at `position` (later ones replace earlier ones).
    fn insert(&mut self, protocol: &'a Protocol, position: usize) {
        self.0.insert((&protocol.station, &protocol.contest, protocol.source), position);
    }

    /// The position of the latest protocol of `station`, `contest` and `source` accepted so far.
    fn latest(&self, station: &str, contest: &str, source: Source) -> Option<usize> {
        self.0.get(&(station, contest, source)).copied()
    }
}

/// For a machine protocol the latest accepted hand count of the same station and contest, and the
/// reverse (issue 4's machine/manual tolerance warning): from this batch (`batch`, indexed by
/// `in_batch`), else from `counts`, else read and decoded from the log (and kept in `counts`).
fn other_source_protocol<'a>(
    conn: &Conn,
    batch: &'a [(usize, &Submission)],
    in_batch: &ProtocolsInBatch,
    counts: &mut LatestCounts,
    filter: Option<&LogFilter>,
    submission: &Submission,
) -> Result<Option<Cow<'a, Protocol>>, StoreError> {
    let Body::Protocol(protocol) = &submission.payload.body else {
        return Ok(None);
    };
    let other = match protocol.source {
        Source::Machine => Source::Manual,
        Source::Manual => Source::Machine,
        Source::Observer | Source::Recount => return Ok(None),
    };
    if let Some(position) = in_batch.latest(&protocol.station, &protocol.contest, other) {
        if let Some((_, earlier)) = batch.get(position) {
            if let Body::Protocol(p) = &earlier.payload.body {
                return Ok(Some(Cow::Borrowed(p)));
            }
        }
    }
    let (station, contest) = (protocol.station.as_str(), protocol.contest.as_str());
    if let Some(known) = counts.get(station, contest, other) {
        return Ok(known.map(Cow::Owned));
    }
    let logged = match filter {
        Some(filter) if !filter.may_hold_protocol(station, contest, other) => None,
        _ => db::latest_protocol(conn, station, contest, other.as_str())?.and_then(|bytes| {
            match Submission::decode(&bytes).ok()?.payload.body {
                Body::Protocol(p) => Some(p),
                _ => None,
            }
        }),
    };
    counts.insert(station, contest, other, logged.as_ref());
    Ok(logged.map(Cow::Owned))
}

/// The latest accepted machine and hand count of the stations and contests looked up or accepted
/// lately, so that comparing a hand count with the machine count (`W104`) does not read and decode
/// the machine count's entry from the log. Only what the comparison reads is kept (station,
/// contest, source, lines and votes), the numbers apart from their names, which are shared between
/// counts of the same form: about 0.5 KB a count on the 2021 form, at most
/// [`LatestCounts::CAPACITY`] counts (it is emptied when full). Only the sequencer writes the log,
/// so this is exact while it runs; [`Writer::load`] empties it.
///
/// Kept by station, then contest (a station has a contest or two), both sources together: a
/// lookup or an update copies no names, and a station's machine and hand counts share one entry
/// (each accepted machine count used to clone its station and contest names twice, for the lookup
/// of the hand count and for its own entry, and to hash them into a map of both sources' entries:
/// a seventh of the sequencer thread's time in the ingest profile).
#[derive(Default)]
struct LatestCounts {
    /// By station: each contest with its machine and hand count.
    stations: HashMap<String, Vec<(String, Sources)>>,
    /// The counts known (held, or known to be absent), at most [`LatestCounts::CAPACITY`].
    known: usize,
    /// The names of lines and votes of the counts kept, each list once, by a hash of its length
    /// and ends (looked up without copying the names of the count at hand).
    names: HashMap<u64, Vec<Arc<[String]>>>,
}

/// The machine and the hand count of one station and contest, as far as known.
#[derive(Default)]
struct Sources {
    machine: Known,
    manual: Known,
}

/// One count of [`Sources`].
#[derive(Default)]
enum Known {
    /// Not looked up in the log.
    #[default]
    Unknown,
    /// The log holds none.
    Absent,
    Count(Count),
}

impl Sources {
    fn of(&self, source: Source) -> Option<&Known> {
        match source {
            Source::Machine => Some(&self.machine),
            Source::Manual => Some(&self.manual),
            Source::Observer | Source::Recount => None,
        }
    }

    fn of_mut(&mut self, source: Source) -> Option<&mut Known> {
        match source {
            Source::Machine => Some(&mut self.machine),
            Source::Manual => Some(&mut self.manual),
            Source::Observer | Source::Recount => None,
        }
    }
}

/// One count as [`LatestCounts`] keeps it.
struct Count {
    line_names: Arc<[String]>,
    lines: Vec<u64>,
    vote_names: Arc<[String]>,
    votes: Vec<u64>,
}

impl LatestCounts {
    /// Every machine count of a 20,000-station night with two contests per station, and more.
    const CAPACITY: usize = 1 << 17;

    /// The count of `source` kept for `station` and `contest`: `Some(None)` if the log holds
    /// none, `None` if not known.
    fn get(&self, station: &str, contest: &str, source: Source) -> Option<Option<Protocol>> {
        let contests = self.stations.get(station)?;
        let (_, sources) = contests.iter().find(|(c, _)| c == contest)?;
        let count = match sources.of(source)? {
            Known::Unknown => return None,
            Known::Absent => return Some(None),
            Known::Count(count) => count,
        };
        let numbers = |names: &[String], values: &[u64]| {
            names.iter().cloned().zip(values.iter().copied()).collect()
        };
        Some(Some(Protocol {
            station: station.to_string(),
            contest: contest.to_string(),
            source,
            lines: numbers(&count.line_names, &count.lines),
            votes: numbers(&count.vote_names, &count.votes),
            preferences: Default::default(),
            supersedes: None,
            scan_sha256: None,
        }))
    }

    /// Keeps `protocol` as the latest count of `source` for `station` and `contest` (`None`: the
    /// log holds none). Only machine and hand counts are kept.
    fn insert(
        &mut self,
        station: &str,
        contest: &str,
        source: Source,
        protocol: Option<&Protocol>,
    ) {
        if !matches!(source, Source::Machine | Source::Manual) {
            return;
        }
        if self.known >= Self::CAPACITY && self.get_slot(station, contest, source).is_none() {
            self.clear();
        }
        let known = match protocol {
            None => Known::Absent,
            Some(p) => {
                let (line_names, lines) = self.split(&p.lines);
                let (vote_names, votes) = self.split(&p.votes);
                Known::Count(Count { line_names, lines, vote_names, votes })
            }
        };
        let contests = match self.stations.get_mut(station) {
            Some(contests) => contests,
            None => self.stations.entry(station.to_string()).or_default(),
        };
        let position = match contests.iter().position(|(c, _)| c == contest) {
            Some(position) => position,
            None => {
                contests.push((contest.to_string(), Sources::default()));
                contests.len() - 1
            }
        };
        let slot = contests[position].1.of_mut(source).expect("a machine or hand count");
        if matches!(slot, Known::Unknown) {
            self.known += 1;
        }
        *slot = known;
    }

    /// Whether a count of `source` for `station` and `contest` is known (held or absent).
    fn get_slot(&self, station: &str, contest: &str, source: Source) -> Option<()> {
        let contests = self.stations.get(station)?;
        let (_, sources) = contests.iter().find(|(c, _)| c == contest)?;
        match sources.of(source)? {
            Known::Unknown => None,
            Known::Absent | Known::Count(_) => Some(()),
        }
    }

    /// The names (shared) and the numbers of `map`.
    fn split(&mut self, map: &BTreeMap<String, u64>) -> (Arc<[String]>, Vec<u64>) {
        // Lists are told apart by their length and first and last names (the same form's lists
        // are equal); the comparison below decides.
        let mut hasher = std::hash::DefaultHasher::new();
        (map.len(), map.keys().next(), map.keys().next_back()).hash(&mut hasher);
        let lists = self.names.entry(hasher.finish()).or_default();
        let same = |list: &&Arc<[String]>| list.len() == map.len() && list.iter().eq(map.keys());
        let shared = match lists.iter().find(same) {
            Some(shared) => shared.clone(),
            None => {
                let shared: Arc<[String]> = map.keys().cloned().collect();
                lists.push(shared.clone());
                shared
            }
        };
        (shared, map.values().copied().collect())
    }

    /// Records a committed entry: a machine or hand count is now the latest of its kind.
    fn committed(&mut self, submission: &Submission) {
        if let Body::Protocol(p) = &submission.payload.body {
            self.insert(&p.station, &p.contest, p.source, Some(p));
        }
    }

    fn clear(&mut self) {
        self.stations.clear();
        self.known = 0;
        self.names.clear();
    }
}

/// How often at most the WAL checkpointer copies the WAL into the database file, unless
/// [`WAL_CHECKPOINT_ENTRIES`] came first.
const WAL_CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Entries committed since the last checkpoint after which the WAL checkpointer copies the WAL at
/// once instead of waiting out [`WAL_CHECKPOINT_EVERY`]: about four batch commits of 500. Each
/// batch dirties pages of the three `entries` indexes at random, mostly the same pages as the
/// batch before it; a checkpoint copies each page once however many commits wrote it, so one
/// checkpoint per four batches copies about half the pages one per batch did (at 20,000 stations:
/// 0.9 instead of 1.8 pages per entry).
const WAL_CHECKPOINT_ENTRIES: usize = 2000;

/// WAL pages allowed per entry the WAL holds, for the backstop: about four times what a batch
/// writes (up to ~4 pages per entry: the row, and a page of each of the three `entries` indexes
/// where the batch touches it at random).
const WAL_BACKSTOP_PAGES_PER_ENTRY: u32 = 16;

/// The largest backstop for commits of up to 1,024 new entries: 16,384 pages (64 MiB).
const WAL_BACKSTOP_MAX_PAGES: u32 = 16_384;

/// The largest backstop of all: 131,072 pages (512 MiB). A commit of more than 1,024 new entries
/// may leave [`WAL_BACKSTOP_PAGES_PER_ENTRY`] pages per entry of its own, so the cap is reached
/// by a commit of 8,192 (`sverka import`'s batch).
/// Once the `entries` indexes have more pages than a batch has entries (about 250,000 stations),
/// one such commit writes more than 64 MiB of WAL by itself (about 90 MiB at 2 million entries,
/// 100 MiB at 4 million): under the 64 MiB cap every import commit then copied the WAL back into
/// the database inside the commit, on the sequencer thread, and the WAL checkpointer sat idle.
const WAL_BACKSTOP_BULK_MAX_PAGES: u32 = 131_072;

/// A commit of at least this many new entries is a batch: its backstop counts the entries of the
/// batches before it that wait for a checkpoint (see [`wal_held_entries`]).
const WAL_BATCH_ENTRIES: usize = 64;

/// The entries the backstop of a commit of `entries` new entries allows for, when `pending`
/// entries were committed since the WAL checkpointer's last checkpoint: a batch's and those; a
/// small commit's own only, so that single submissions keep the backstop they had (SQLite's
/// 1,000 pages, or what is left of a batch's).
fn wal_held_entries(entries: usize, pending: usize) -> usize {
    if entries < WAL_BATCH_ENTRIES {
        entries
    } else {
        entries.saturating_add(pending)
    }
}

/// The sequencer connection's backstop (`wal_autocheckpoint`) for a WAL that holds `entries`
/// entries (since the last checkpoint, the commit's included) after a commit of `batch` new
/// entries: [`WAL_BACKSTOP_PAGES`] (SQLite's default) for small commits, more for batches, so
/// that the WAL holds the batch commits between two checkpoints (up to
/// [`WAL_CHECKPOINT_ENTRIES`] and one more batch) before the sequencer checkpoints inside one;
/// at most [`WAL_BACKSTOP_MAX_PAGES`], or room for [`WAL_BACKSTOP_PAGES_PER_ENTRY`] pages per
/// entry of a larger commit up to [`WAL_BACKSTOP_BULK_MAX_PAGES`]. A batch
/// commit writes more than 1,000 pages (its entries, and the pages of the three indexes its
/// entries fall into); with SQLite's 1,000 every such commit copied itself back into the database
/// file on the sequencer thread (a fifth of that thread's time in the HTTP ingest profile), as
/// the WAL checkpointer cannot have copied a commit before the sequencer's next one begins. The
/// WAL stays bounded by a few commits' worth of what the largest recent commit wrote itself.
fn wal_backstop_pages(entries: usize, batch: usize) -> u32 {
    let pages = |entries: usize| {
        u32::try_from(entries).unwrap_or(u32::MAX).saturating_mul(WAL_BACKSTOP_PAGES_PER_ENTRY)
    };
    let cap = pages(batch).clamp(WAL_BACKSTOP_MAX_PAGES, WAL_BACKSTOP_BULK_MAX_PAGES);
    pages(entries).clamp(WAL_BACKSTOP_PAGES, cap)
}

/// The sequencer's end of the WAL checkpointer: see [`WalCheckpointer`].
struct WalWake {
    /// Wakes the checkpointer after a commit.
    wake: SyncSender<()>,
    /// Entries committed since the checkpointer began its last checkpoint: past
    /// [`WAL_CHECKPOINT_ENTRIES`] it checkpoints without waiting out [`WAL_CHECKPOINT_EVERY`].
    pending: Arc<AtomicUsize>,
    /// The backstop the sequencer's connection has now (pages).
    backstop: AtomicU32,
}

/// SQLite's WAL checkpoints on a thread and connection of their own. By default SQLite copies the
/// WAL back into the database file inside the commit that grows it past 1,000 pages, on the
/// sequencer thread: more than half of the commit's time in the ingest profile. While the
/// sequencer runs, this thread runs a `PASSIVE` checkpoint after commits, at most every
/// [`WAL_CHECKPOINT_EVERY`] or once [`WAL_CHECKPOINT_ENTRIES`] entries were committed since its
/// last one, concurrently with the sequencer's next transactions (a WAL database allows one
/// writer and one checkpointer at once; a checkpoint never changes what a commit made durable).
///
/// The sequencer's own connection keeps SQLite's checkpoint inside the commit only as a backstop,
/// past [`WAL_BACKSTOP_PAGES`] after small commits and past [`wal_backstop_pages`] while batches
/// wait for a checkpoint (at most 64 MiB, or 512 MiB after a commit of 8,192 entries or more,
/// [`WAL_BACKSTOP_BULK_MAX_PAGES`]): single-protocol commits can write thousands of WAL
/// pages within one interval, and a WAL that grows to fill the disk can never be copied back (the
/// database file cannot grow for the checkpoint), so a full disk would not recover when space
/// returns. Batches leave at most [`WAL_CHECKPOINT_ENTRIES`] and one batch more in the WAL before
/// a checkpoint starts (about 20 MiB at 500 a batch), under the same 64 MiB cap a single batch of
/// 1,024 entries or more had before. The WAL starts over only when a write begins after a
/// checkpoint copied all of it; while the sequencer commits large batches back to back the
/// checkpointer is often still copying the last one, so the WAL grows towards the backstop and
/// the sequencer then copies what is left inside a commit.
struct WalCheckpointer;

/// WAL pages (4 KiB each) past which the sequencer checkpoints inside its commit (SQLite's
/// default for `wal_autocheckpoint`).
const WAL_BACKSTOP_PAGES: u32 = 1000;

impl WalCheckpointer {
    /// Starts the thread and gives `writer` the channel that wakes it; `None` (and SQLite's own
    /// checkpoints inside commits) if the thread or its connection cannot be had.
    fn start(writer: &mut Writer) -> Option<std::thread::JoinHandle<()>> {
        let conn = match Conn::open(&writer.database) {
            Ok(conn) => conn,
            Err(error) => {
                eprintln!("sverka-store: WAL checkpoints stay inside commits: {error}");
                return None;
            }
        };
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let pending = Arc::new(AtomicUsize::new(0));
        let committed = pending.clone();
        let thread = std::thread::Builder::new()
            .name("sverka-wal-checkpoint".into())
            .spawn(move || WalCheckpointer::run(&conn, &woken, &committed));
        let thread = match thread {
            Ok(thread) => thread,
            Err(error) => {
                eprintln!("sverka-store: WAL checkpoints stay inside commits: {error}");
                return None;
            }
        };
        let backstop = format!("PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}");
        if let Err(error) = writer.conn.batch(&backstop) {
            eprintln!("sverka-store: WAL checkpoints stay inside commits: {error}");
            drop(wake);
            let _ = thread.join();
            return None;
        }
        writer.wal = Some(WalWake { wake, pending, backstop: AtomicU32::new(WAL_BACKSTOP_PAGES) });
        Some(thread)
    }

    /// Until the sequencer drops its end of `woken`: waits for a commit, at least
    /// [`WAL_CHECKPOINT_EVERY`] after the last checkpoint unless `pending` (entries committed
    /// since) reaches [`WAL_CHECKPOINT_ENTRIES`], and checkpoints.
    fn run(conn: &Conn, woken: &Receiver<()>, pending: &AtomicUsize) {
        let mut reported = false;
        let mut last: Option<Instant> = None;
        while woken.recv().is_ok() {
            if let Some(last) = last {
                let due = last + WAL_CHECKPOINT_EVERY;
                while let Some(wait) = due.checked_duration_since(Instant::now()) {
                    if pending.load(Ordering::Acquire) >= WAL_CHECKPOINT_ENTRIES {
                        break;
                    }
                    if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(wait) {
                        return;
                    }
                }
            }
            pending.store(0, Ordering::Release);
            if let Err(error) = conn.batch("PRAGMA wal_checkpoint(PASSIVE)") {
                if !reported {
                    eprintln!(
                        "sverka-store: WAL checkpoint: {error} (retried after the next commit)"
                    );
                    reported = true;
                }
            }
            last = Some(Instant::now());
        }
    }
}

/// What the sequencer thread needs besides its writer.
pub(crate) struct Runtime {
    /// Whether this node sequences now (`Store::submit_prepared` forwards when it does not).
    pub leading: Arc<AtomicBool>,
    /// Hands this node's submissions to the sequencer while it is not it (PostgreSQL).
    pub forwarder: Option<Arc<Forwarder>>,
    /// This node's name in the lease row.
    pub holder: String,
    /// Registered keys, to check the signatures of other nodes' pending submissions.
    pub directory: KeyDirectory,
}

/// Why [`lead`] returned.
enum Ended {
    /// The store is closing.
    Closed,
    /// The lease is lost (or was given up after an error): recover by taking it again.
    Deposed,
}

/// The sequencer thread: see the module documentation.
pub(crate) fn run(mut writer: Writer, jobs: Receiver<Job>, runtime: Runtime) {
    let (trash, bin) = std::sync::mpsc::channel::<Vec<Prepared>>();
    let _ = std::thread::Builder::new()
        .name("sverka-seq-free".into())
        .spawn(move || bin.into_iter().for_each(drop));
    let mut failed: Option<String> = None;
    if writer.conn.dialect() == Dialect::Sqlite {
        let checkpointer = WalCheckpointer::start(&mut writer);
        lead(&mut writer, &jobs, &runtime, &mut failed, &trash);
        writer.wal = None;
        if let Some(checkpointer) = checkpointer {
            let _ = checkpointer.join();
        }
        return;
    }
    loop {
        let leads = failed.is_none() && (writer.may_write() || take_lease(&mut writer, &runtime));
        if leads {
            runtime.leading.store(true, Ordering::SeqCst);
            let ended = lead(&mut writer, &jobs, &runtime, &mut failed, &trash);
            runtime.leading.store(false, Ordering::SeqCst);
            writer.step_down();
            if matches!(ended, Ended::Closed) {
                return;
            }
        }
        if !follow(&mut writer, &jobs, &runtime) {
            return;
        }
    }
}

/// Takes the lease if it is free and recovers from the database; a node taking over from another
/// signs the tree it found at once (the previous sequencer may have died before signing it).
fn take_lease(writer: &mut Writer, runtime: &Runtime) -> bool {
    let taken = match writer.try_lead(&runtime.holder) {
        Ok(taken) => taken,
        Err(error) => {
            eprintln!("sverka-store: taking the sequencer lease: {error}");
            writer.step_down();
            return false;
        }
    };
    if !taken {
        return false;
    }
    let recovered = writer.load().and_then(|()| {
        if writer.signed_is_current()? {
            return Ok(());
        }
        writer.sign_checkpoint().map(drop)
    });
    if let Err(error) = recovered {
        eprintln!("sverka-store: took the sequencer lease but could not recover: {error}");
        writer.step_down();
        return false;
    }
    true
}

/// While another node sequences: forwards this node's submissions, answers checkpoint requests
/// from the database, for up to [`nodes::LEASE_POLL`]. Returns false when the store is closing.
fn follow(writer: &mut Writer, jobs: &Receiver<Job>, runtime: &Runtime) -> bool {
    let deadline = Instant::now() + nodes::LEASE_POLL;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return true;
        }
        match jobs.recv_timeout(wait) {
            Ok(Job::Submit { items, reply, .. }) => {
                let forwarder = runtime.forwarder.clone().expect("a forwarder on PostgreSQL");
                let _ =
                    std::thread::Builder::new().name("sverka-forward".into()).spawn(move || {
                        let answers = forwarder.forward(items);
                        reply.send(Answered { answers, items: Vec::new() })
                    });
            }
            Ok(Job::Checkpoint { reply }) => {
                if writer.conn.is_closed() {
                    if let Ok(conn) = Conn::open(&writer.database) {
                        writer.conn = conn;
                    }
                }
                let _ = reply.send(writer.latest_signed());
            }
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Other nodes' pending submissions, prepared like local ones (PostgreSQL leader only).
fn pending_job(writer: &mut Writer, runtime: &Runtime, limit: usize) -> Option<SubmitJob> {
    if writer.conn.dialect() != Dialect::Postgres || limit == 0 {
        return None;
    }
    let rows = match nodes::pending(&writer.conn, limit) {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("sverka-store: reading pending submissions: {error}");
            writer.step_down();
            return None;
        }
    };
    if rows.is_empty() {
        return None;
    }
    let items = rows
        .into_iter()
        .map(|(id, bytes, sender)| {
            let incoming = crate::store::Incoming { bytes, sender };
            let mut prepared = crate::store::prepare_one(incoming, &runtime.directory);
            prepared.pending = Some(id);
            prepared
        })
        .collect();
    // Nobody waits on this channel: the waiting nodes read `pending_outcomes`.
    let (reply, _) = std::sync::mpsc::channel();
    Some((items, reply, false))
}

/// Sequences while this writer may write: drains the job queue into batches, signs per the
/// policy. On PostgreSQL it also takes the other nodes' pending submissions, and returns
/// [`Ended::Deposed`] as soon as it has lost (or given up) the lease.
fn lead(
    writer: &mut Writer,
    jobs: &Receiver<Job>,
    runtime: &Runtime,
    failed: &mut Option<String>,
    trash: &Sender<Vec<Prepared>>,
) -> Ended {
    let policy = writer.config.checkpoint;
    let max_batch = writer.config.max_batch.max(1);
    let shared = writer.conn.dialect() == Dialect::Postgres;
    let mut last_signed = Instant::now();
    loop {
        if shared && (failed.is_some() || !writer.may_write()) {
            return Ended::Deposed;
        }
        let mut wait = match policy {
            CheckpointPolicy::Interval(every) => every.saturating_sub(last_signed.elapsed()),
            _ => Duration::from_secs(3600),
        };
        if shared {
            wait = wait.min(nodes::PENDING_POLL);
        }
        if writer.bulk.is_some() {
            wait = wait.min(BULK_IDLE);
        }
        let first = match jobs.recv_timeout(wait) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                finish_bulk(writer, failed);
                return Ended::Closed;
            }
        };
        let first = match first {
            Some(Job::Submit { items, reply, keep: false, bulk: Some(ticket) })
                if !shared && failed.is_none() && writer.stale.is_none() =>
            {
                stage_bulk(writer, (items, reply, ticket), failed, trash);
                continue;
            }
            other => other,
        };
        // Anything else commits the open bulk transaction first.
        finish_bulk(writer, failed);
        let mut submits = Vec::new();
        let mut checkpoints = Vec::new();
        // The gate of the bulk jobs among `submits`: told if they are not stored.
        let mut gate = None;
        let mut count = 0;
        let mut next = first;
        while let Some(job) = next.take() {
            match job {
                Job::Submit { items, reply, bulk: Some(ticket), .. }
                    if ticket.gate().failure().is_some() =>
                {
                    refuse_after_bulk_failure(&ticket.gate(), items, &reply, trash);
                }
                Job::Submit { items, reply, keep, bulk } => {
                    gate = gate.or(bulk.map(|ticket| ticket.gate()));
                    count += items.len();
                    submits.push((items, reply, keep));
                }
                Job::Checkpoint { reply } => checkpoints.push(reply),
            }
            if count < max_batch {
                next = jobs.try_recv().ok();
            }
        }
        let not_stored = |reason: &str| {
            if let Some(gate) = &gate {
                gate.fail(reason);
            }
        };
        if let Some(reason) = &failed {
            not_stored(reason);
            answer_failed(submits, checkpoints, || StoreError::Stopped(reason.clone()));
            continue;
        }
        if writer.stale.is_some() {
            reload(writer, failed);
            if let Some(reason) = &failed {
                not_stored(reason);
                answer_failed(submits, checkpoints, || StoreError::Stopped(reason.clone()));
                continue;
            }
            if let Some(reason) = &writer.stale {
                not_stored(reason);
                answer_failed(submits, checkpoints, || StoreError::Batch(reason.clone()));
                continue;
            }
        }
        if let Some(job) = pending_job(writer, runtime, max_batch.saturating_sub(count)) {
            submits.push(job);
        }
        if !submits.is_empty() {
            if let Err(reason) = run_batch(writer, submits, failed, trash) {
                not_stored(&reason);
            }
            if failed.is_none() && writer.may_write() && policy == CheckpointPolicy::EveryBatch {
                sign_or_fail(writer, failed);
            }
        }
        for reply in checkpoints {
            let result = match &failed {
                Some(reason) => Err(StoreError::Stopped(reason.clone())),
                None if !writer.may_write() => writer.latest_signed(),
                None => {
                    let result = writer.sign_checkpoint();
                    if let Err(error) = &result {
                        recover(writer, failed, error);
                    }
                    result
                }
            };
            let _ = reply.send(result);
        }
        if let CheckpointPolicy::Interval(every) = policy {
            if failed.is_none() && writer.may_write() && last_signed.elapsed() >= every {
                sign_or_fail(writer, failed);
                last_signed = Instant::now();
            }
        }
    }
}

/// A job's submissions, where to answer, and whether its submissions go back (see [`Job`]).
type SubmitJob = (Vec<Prepared>, Sender<Answered>, bool);

/// Answers each job with its outcomes, and with its submissions if it keeps them; the others (and
/// those of a job nobody waits for any more, or another node's pending job) go to `trash`, to be
/// freed on another thread.
fn answer_jobs(
    jobs: Vec<SubmitJob>,
    mut answers: impl Iterator<Item = Result<Receipt, SubmitError>>,
    trash: &Sender<Vec<Prepared>>,
) {
    for (items, reply, keep) in jobs {
        let mut answered =
            Answered { answers: answers.by_ref().take(items.len()).collect(), items };
        if !keep {
            let _ = trash.send(std::mem::take(&mut answered.items));
        }
        if let Err(unanswered) = reply.send(answered) {
            let _ = trash.send(unanswered.0.items);
        }
    }
}

/// Stages a bulk job in the open bulk transaction (beginning one if none is open), and commits
/// once [`BULK_COMMIT_SUBMISSIONS`] are staged (see [`Bulk`]). The job's submissions are freed at
/// once on the helper thread and its ticket dropped; its answers wait for the commit. On an
/// error every staged job is answered with it, the transaction is rolled back and the writer
/// reloaded.
fn stage_bulk(
    writer: &mut Writer,
    (items, reply, ticket): (Vec<Prepared>, Sender<Answered>, BulkTicket),
    failed: &mut Option<String>,
    trash: &Sender<Vec<Prepared>>,
) {
    let gate = ticket.gate();
    if gate.failure().is_some() {
        drop(ticket);
        return refuse_after_bulk_failure(&gate, items, &reply, trash);
    }
    let begun = match writer.bulk {
        Some(_) => Ok(()),
        None => writer.begin_bulk(),
    };
    let staged = begun.and_then(|()| {
        let refs: Vec<&Prepared> = items.iter().collect();
        writer.stage(&refs)
    });
    let count = items.len();
    let _ = trash.send(items);
    // Taken: the next bulk job may be queued (while this one's transaction commits, say).
    drop(ticket);
    match staged {
        Ok((outcomes, entries)) => {
            let bulk = writer.bulk.as_mut().expect("a bulk transaction is open");
            bulk.gate.get_or_insert(gate);
            bulk.submissions += outcomes.len();
            bulk.entries += entries;
            bulk.answers.push((reply, outcomes));
            if bulk.submissions >= BULK_COMMIT_SUBMISSIONS {
                finish_bulk(writer, failed);
            }
        }
        Err(error) => {
            let bulk = writer.bulk.take().unwrap_or_default();
            writer.rollback_open();
            gate.fail(&error.to_string());
            answer_bulk_failed(bulk, &error);
            let message = error.to_string();
            let answers = (0..count)
                .map(|_| Err(SubmitError::Store(StoreError::Batch(message.clone()))))
                .collect();
            let _ = reply.send(Answered { answers, items: Vec::new() });
            recover(writer, failed, &error);
        }
    }
}

/// Commits the open bulk transaction, if any, and answers its jobs; on an error they are
/// answered with it, and the writer is reloaded.
fn finish_bulk(writer: &mut Writer, failed: &mut Option<String>) {
    let Some(bulk) = writer.bulk.take() else { return };
    if let Err(error) = writer.commit_open(bulk.entries) {
        writer.rollback_open();
        if let Some(gate) = &bulk.gate {
            gate.fail(&error.to_string());
        }
        answer_bulk_failed(bulk, &error);
        recover(writer, failed, &error);
        return;
    }
    for (reply, outcomes) in bulk.answers {
        let answers = outcomes.into_iter().map(|o| o.map_err(SubmitError::Rejected)).collect();
        let _ = reply.send(Answered { answers, items: Vec::new() });
    }
    if writer.config.checkpoint == CheckpointPolicy::EveryBatch {
        sign_or_fail(writer, failed);
    }
}

/// Answers a bulk job that came after a bulk job that could not be stored (`gate`'s failure)
/// with a store error for each submission, storing none of them ([`Store::submit_prepared_bulk`]).
fn refuse_after_bulk_failure(
    gate: &BulkGate,
    items: Vec<Prepared>,
    reply: &Sender<Answered>,
    trash: &Sender<Vec<Prepared>>,
) {
    let reason = gate.failure().unwrap_or_default();
    let message = format!(
        "not stored: an earlier part of this bulk load could not be stored ({reason}), and \
         nothing after it is, so that no later line lands ahead of it; run the load again"
    );
    let answers =
        items.iter().map(|_| Err(SubmitError::Store(StoreError::Batch(message.clone())))).collect();
    let _ = trash.send(items);
    let _ = reply.send(Answered { answers, items: Vec::new() });
}

/// Answers every job of a bulk transaction that was rolled back with `error`, one answer per
/// submission.
fn answer_bulk_failed(bulk: Bulk, error: &StoreError) {
    let message = error.to_string();
    for (reply, outcomes) in bulk.answers {
        let answers = outcomes
            .iter()
            .map(|_| Err(SubmitError::Store(StoreError::Batch(message.clone()))))
            .collect();
        let _ = reply.send(Answered { answers, items: Vec::new() });
    }
}

/// Admits and commits the jobs' submissions as one batch and answers them; `Err` with the
/// reason if the batch could not be stored.
fn run_batch(
    writer: &mut Writer,
    submits: Vec<SubmitJob>,
    failed: &mut Option<String>,
    trash: &Sender<Vec<Prepared>>,
) -> Result<(), String> {
    if let Err(error) = writer.end_bulk_cache() {
        let message = error.to_string();
        let answers =
            std::iter::repeat_with(|| Err(SubmitError::Store(StoreError::Batch(message.clone()))));
        answer_jobs(submits, answers, trash);
        recover(writer, failed, &error);
        return Err(message);
    }
    // The jobs' submissions are admitted in place, in order (moving them into one list and back
    // copied and page-faulted a few MiB per batch on the sequencer thread).
    let items: Vec<&Prepared> = submits.iter().flat_map(|(items, _, _)| items).collect();
    let appended = writer.append_batch(&items);
    drop(items);
    // Freeing thousands of decoded protocols (maps of lines and votes) was a sixth of the
    // sequencer's time: the submissions go back to the threads that sent them (or to `trash`).
    match appended {
        Ok(outcomes) => {
            let answers = outcomes.into_iter().map(|o| o.map_err(SubmitError::Rejected));
            answer_jobs(submits, answers, trash);
            Ok(())
        }
        Err(error) => {
            let message = error.to_string();
            let answers = std::iter::repeat_with(|| {
                Err(SubmitError::Store(StoreError::Batch(message.clone())))
            });
            answer_jobs(submits, answers, trash);
            recover(writer, failed, &error);
            Err(message)
        }
    }
}

/// Signs per the policy; a failure reloads the writer (or stops it if it cannot recover).
fn sign_or_fail(writer: &mut Writer, failed: &mut Option<String>) {
    match writer.signed_is_current() {
        Ok(true) => return,
        Ok(false) => {}
        Err(error) => return recover(writer, failed, &error),
    }
    if let Err(error) = writer.sign_checkpoint() {
        recover(writer, failed, &error);
    }
}

/// After an error: reload from the database; a conflict of signed roots or a failed reload stops
/// the sequencer for good (every later job is answered with the reason).
fn recover(writer: &mut Writer, failed: &mut Option<String>, error: &StoreError) {
    if matches!(error, StoreError::CheckpointConflict { .. }) {
        *failed = Some(error.to_string());
        return;
    }
    if writer.conn.dialect() == Dialect::Postgres {
        // Another node may be sequencing now; recovery is taking the lease again and reloading.
        if !matches!(error, StoreError::NotSequencer) {
            eprintln!("sverka-store: the sequencer steps down after an error: {error}");
        }
        writer.step_down();
        return;
    }
    if let Err(reloading) = load_after_error(writer) {
        settle_reload(writer, failed, format!("{error}; then recovery failed"), reloading);
    }
}

/// Retries the reload that failed after an earlier error.
fn reload(writer: &mut Writer, failed: &mut Option<String>) {
    match load_after_error(writer) {
        Ok(()) => {
            eprintln!("sverka-store: the sequencer recovered");
            writer.stale = None;
        }
        Err(error) => settle_reload(writer, failed, "recovery failed again".into(), error),
    }
}

fn load_after_error(writer: &mut Writer) -> Result<(), StoreError> {
    writer.config.faults.check(FaultPoint::Reload)?;
    writer.load()
}

/// A failed reload: stored data that contradicts itself stops the sequencer for good (nothing
/// more is signed); anything else (a full disk, an I/O error) is retried before the next job,
/// whose submissions are refused with the reason until it succeeds.
fn settle_reload(
    writer: &mut Writer,
    failed: &mut Option<String>,
    context: String,
    error: StoreError,
) {
    let reason = format!("{context}: {error}");
    if matches!(error, StoreError::Corrupt(_) | StoreError::CheckpointConflict { .. }) {
        *failed = Some(reason);
    } else {
        if writer.stale.is_none() {
            eprintln!("sverka-store: {reason} (retried before the next submission)");
        }
        writer.stale = Some(reason);
    }
}

fn answer_failed(
    submits: Vec<SubmitJob>,
    checkpoints: Vec<Sender<Result<SignedCheckpoint, StoreError>>>,
    error: impl Fn() -> StoreError,
) {
    for (items, reply, _) in submits {
        let answers = items.iter().map(|_| Err(SubmitError::Store(error()))).collect();
        let _ = reply.send(Answered { answers, items });
    }
    for reply in checkpoints {
        let _ = reply.send(Err(error()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(station: &str, lines: &[(&str, u64)], votes: &[(&str, u64)]) -> Protocol {
        let map = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        Protocol {
            station: station.into(),
            contest: "national".into(),
            source: Source::Machine,
            lines: map(lines),
            votes: map(votes),
            preferences: Default::default(),
            supersedes: None,
            scan_sha256: None,
        }
    }

    /// A Bloom filter never says "not held" of what was put in, and says it of nearly everything
    /// else: sized for few entries and filled four times over, it still holds them all.
    #[test]
    fn a_bloom_filter_holds_everything_put_in() {
        let hash = |i: u32| Bloom::of_hash(&sverka_tlog::leaf_hash(&i.to_le_bytes()));
        let mut filter = Bloom::new(16_384);
        assert_eq!(filter.lines.len(), 512, "16 bits an entry");
        (0..16_384).for_each(|i| filter.insert(hash(i)));
        assert!((0..16_384).all(|i| filter.may_hold(hash(i))), "a hash put in is held");
        let others = (16_384..32_768).filter(|&i| filter.may_hold(hash(i))).count();
        assert!(others < 164, "under 1 % maybe (about 0.4 %), here {others} of 16,384");
        (16_384..65_536).for_each(|i| filter.insert(hash(i)));
        assert!((0..65_536).all(|i| filter.may_hold(hash(i))), "overfull, still held");
        let key =
            |i: u32| Bloom::of_key(&db::protocol_key(&format!("s{i}"), "national", "machine"));
        let mut keys = Bloom::new(1000);
        (0..1000).for_each(|i| keys.insert(key(i)));
        assert!((0..1000).all(|i| keys.may_hold(key(i))));
        assert!((1000..2000).filter(|&i| keys.may_hold(key(i))).count() < 20);
    }

    /// Name lists of the same length and the same first and last names share a hash in
    /// `LatestCounts::names`, but each count still reads back with its own names.
    #[test]
    fn kept_counts_read_back_with_their_own_names() {
        let first = count("S1", &[("a", 1), ("b", 2), ("z", 3)], &[("p1", 7), ("p9", 8)]);
        let second = count("S2", &[("a", 4), ("m", 5), ("z", 6)], &[("p1", 9), ("p9", 10)]);
        let same_form = count("S3", &[("a", 0), ("b", 0), ("z", 0)], &[("p1", 0), ("p9", 0)]);
        let mut counts = LatestCounts::default();
        for p in [&first, &second, &same_form] {
            counts.insert(&p.station, &p.contest, p.source, Some(p));
        }
        counts.insert("S4", "national", Source::Manual, None);
        for p in [&first, &second, &same_form] {
            assert_eq!(counts.get(&p.station, &p.contest, p.source), Some(Some(p.clone())));
        }
        assert_eq!(counts.get("S4", "national", Source::Manual), Some(None));
        assert_eq!(counts.get("S4", "national", Source::Machine), None, "not looked up");
        assert_eq!(counts.get("S5", "national", Source::Manual), None);
        assert_eq!(counts.get("S1", "other", Source::Machine), None);
        assert_eq!(counts.known, 4);
        let mut later = first.clone();
        later.source = Source::Manual;
        later.lines.insert("b".into(), 11);
        counts.insert(&later.station, &later.contest, later.source, Some(&later));
        assert_eq!(counts.get("S1", &first.contest, Source::Machine), Some(Some(first.clone())));
        assert_eq!(counts.get("S1", &first.contest, Source::Manual), Some(Some(later.clone())));
        counts.insert(&later.station, &later.contest, later.source, None);
        assert_eq!(counts.get("S1", &first.contest, Source::Manual), Some(None), "replaced");
        assert_eq!(counts.known, 5, "one more known, none twice");
        let key = |p: &Protocol| {
            let mut hasher = std::hash::DefaultHasher::new();
            (p.lines.len(), p.lines.keys().next(), p.lines.keys().next_back()).hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(key(&first), key(&second));
        assert_eq!(counts.names[&key(&first)].len(), 2, "the two line lists, the third shared");
    }

    /// Single submissions keep SQLite's 1,000-page backstop; a batch commit gets room for a few
    /// commits of its size, up to 64 MiB, or up to 512 MiB for a commit of 8,192 (an import's).
    #[test]
    fn wal_backstop_grows_with_the_batch_and_is_capped() {
        let own = |entries| wal_backstop_pages(entries, entries);
        assert_eq!(own(0), 1000);
        assert_eq!(own(1), 1000);
        assert_eq!(own(62), 1000);
        assert_eq!(own(63), 1008);
        assert_eq!(own(500), 8000);
        assert_eq!(own(1024), 16_384);
        assert_eq!(own(4096), 65_536);
        assert_eq!(own(8192), 131_072);
        assert_eq!(own(usize::MAX), 131_072);
        assert_eq!(wal_backstop_pages(usize::MAX, 1024), 16_384, "small batches keep 64 MiB");
    }

    /// A batch's backstop counts the batches that wait for the checkpointer (which copies after
    /// 2,000 entries): a batch of 500 alone gets 8,000 pages, after three others the 64 MiB cap;
    /// a single submission gets its own 1,000 pages whatever waits.
    #[test]
    fn a_batch_backstop_counts_the_batches_that_wait_for_a_checkpoint() {
        let backstop =
            |entries, pending| wal_backstop_pages(wal_held_entries(entries, pending), entries);
        assert_eq!(backstop(500, 0), 8000);
        assert_eq!(backstop(500, 500), 16_000);
        assert_eq!(backstop(500, 1500), 16_384);
        assert_eq!(backstop(64, 100), 2624);
        assert_eq!(backstop(1, 1500), 1000);
        assert_eq!(backstop(63, 1500), 1008);
        assert_eq!(backstop(8192, 8192), 131_072, "an import's batches: 512 MiB");
        assert_eq!(wal_held_entries(8192, usize::MAX), usize::MAX, "no overflow");
    }
}
