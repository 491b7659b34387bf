//! [`Store`]: a data directory (`sverka.db`, `keys/log.key`) and the handle to it.
//!
//! A `Store` is cheap to clone (an `Arc`) and may be used from any number of threads. Submissions
//! are hashed, decoded and signature-checked on the calling thread, then queued to the single
//! sequencer thread (see the `sequencer` module), which answers once the batch holding them is
//! durable. Reads go to a small pool of connections and never block the sequencer (WAL on SQLite).
//!
//! Layout of a data directory:
//!
//! ```text
//! DIR/sverka.db       SQLite (WAL, synchronous=FULL); schema in `crate::schema`
//! DIR/database        instead of sverka.db: the PostgreSQL URL of a shared store, mode 0600
//! DIR/keys/log.key    the log's signing key, signed-note format PRIVATE+KEY+<origin>+<id>+<key>, mode 0600
//! DIR/election.cache the election of entry 0, decoded (sverka-election-cache/v1), pinned in meta
//!                     by the log key's signature (`crate::election_cache`); only saves a parse
//! ```
//!
//! On PostgreSQL several nodes (each with a copy of the data directory: the key and the URL) share
//! one log; `crate::nodes` says how one of them sequences and the others forward to it.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sverka_model::registry::Candidate;
use sverka_model::submission::{ElectionDefinition, FORMAT_VERSION, MAX_SUBMISSION_BYTES};
use sverka_model::validate::precheck_submission;
use sverka_model::{Body, Election, Payload, Submission};
use sverka_tlog::bundle::BundleError;
use sverka_tlog::note::Ed25519Signer;
use sverka_tlog::tile::{tile_at, Tile, TilePath, TILE_HEIGHT, TILE_WIDTH};
use sverka_tlog::{parse_path, Hash, TileHashSource};

use crate::admission::{Problem, State, LOG_SIGNER};
use crate::db::{self, DbTiles};
use crate::election_cache::{self, Refill};
use crate::error::{StoreError, SubmitError};
use crate::fault::FaultPlan;
use crate::nodes::Forwarder;
use crate::sequencer::{self, Answered, Job, KeyDirectory, Prepared, Recovery, Runtime, Writer};
use crate::sql::{Conn, Database, Dialect};

/// The database file inside a data directory.
pub const DB_FILE: &str = "sverka.db";
/// The file that names a data directory's PostgreSQL database instead (one line: the URL).
pub const DATABASE_FILE: &str = "database";
/// The log key file inside a data directory.
pub const LOG_KEY_FILE: &str = "keys/log.key";

/// When the sequencer signs checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointPolicy {
    /// After every committed batch (and on open, if the log grew since the last one).
    EveryBatch,
    /// At most this often, when the log has grown (and on open).
    Interval(Duration),
    /// Only when [`Store::checkpoint_now`] asks.
    Manual,
}

/// Signed-checkpoint observer: called with every note right after it is signed, before it is
/// recorded (tests keep a record of everything the log key ever signed).
pub type CheckpointObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// How a store runs.
#[derive(Clone)]
pub struct Config {
    /// When checkpoints are signed.
    pub checkpoint: CheckpointPolicy,
    /// The most submissions one transaction takes (more queued work waits for the next batch).
    pub max_batch: usize,
    /// Injected failures (tests only; the default injects none).
    pub faults: FaultPlan,
    /// Called with each checkpoint note as soon as it is signed.
    pub on_checkpoint_signed: Option<CheckpointObserver>,
    /// The database: `None` is the data directory's own (its `sverka.db`, or the PostgreSQL URL in
    /// its `database` file). `Store::init_with` with a PostgreSQL URL puts the new log there.
    pub database: Option<Database>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            checkpoint: CheckpointPolicy::EveryBatch,
            max_batch: 4096,
            faults: FaultPlan::none(),
            on_checkpoint_signed: None,
            database: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("checkpoint", &self.checkpoint)
            .field("max_batch", &self.max_batch)
            .field("faults", &self.faults)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// What a submitter gets once its submission is durable: where it is in the log. The HTTP layer
/// answers `201` when `new`, `200` when the same bytes were already in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub index: u64,
    #[serde(serialize_with = "hex_hash")]
    pub leaf_hash: Hash,
    pub new: bool,
    /// Warnings of the accepted submission (empty for a repeat).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
}

fn hex_hash<S: serde::Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hash.to_hex())
}

/// A receipt looked up later, with its inclusion proof once a signed checkpoint covers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryReceipt {
    pub index: u64,
    pub leaf_hash: Hash,
    /// The latest signed checkpoint, if it covers the entry.
    pub checkpoint: Option<SignedCheckpoint>,
    /// The inclusion proof in `checkpoint` (RFC 9162 §2.1.3), empty when not covered.
    pub proof: Vec<Hash>,
}

/// A checkpoint signed by the log key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note (C2SP tlog-checkpoint in signed-note), as served at `/checkpoint`.
    pub note: String,
}

/// A submission as it arrives: its bytes and a note on who sent it (kept in the quarantine).
#[derive(Clone, Debug)]
pub struct Incoming {
    pub bytes: Vec<u8>,
    /// Free text: `"import night/submissions.jsonl:17"`, `"http 10.0.0.5"`.
    pub sender: String,
}

/// The bytes of each submission of a batch, given back by [`Store::submit_prepared_keeping`].
pub type KeptBytes = Vec<Option<Vec<u8>>>;

pub use crate::sequencer::BULK_COMMIT_SUBMISSIONS;

/// Bulk jobs queued and not yet taken by the sequencer: [`Store::submit_prepared_bulk`] waits
/// while [`BulkGate::QUEUED`] are.
#[derive(Default)]
pub(crate) struct BulkGate {
    queued: Mutex<usize>,
    taken: std::sync::Condvar,
    /// Why a bulk batch failed to be stored, once one has: every later bulk batch is refused
    /// (see [`Store::submit_prepared_bulk`]).
    failure: Mutex<Option<String>>,
}

impl BulkGate {
    /// Bulk jobs that may wait in the queue at once.
    const QUEUED: usize = 1;

    /// Waits until fewer than [`BulkGate::QUEUED`] bulk jobs are queued; the ticket counts the
    /// next one until it is dropped (by the sequencer, when it has taken the job).
    fn enter(self: &Arc<Self>) -> BulkTicket {
        let mut queued = self.queued.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *queued >= Self::QUEUED {
            queued = self.taken.wait(queued).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *queued += 1;
        BulkTicket(self.clone())
    }

    /// Records that a bulk batch could not be stored (the first reason is kept).
    pub(crate) fn fail(&self, reason: &str) {
        let mut failure = self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failure.get_or_insert_with(|| reason.to_owned());
    }

    /// Why an earlier bulk batch could not be stored, if one could not.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// A bulk job's place in the queue ([`BulkGate`]): dropped once the sequencer has taken the job
/// (staged it, answered it, or dropped it unanswered when the store closes).
pub(crate) struct BulkTicket(Arc<BulkGate>);

impl BulkTicket {
    /// The gate of the store the job was queued on.
    pub(crate) fn gate(&self) -> Arc<BulkGate> {
        self.0.clone()
    }
}

impl Drop for BulkTicket {
    fn drop(&mut self) {
        let mut queued = self.0.queued.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *queued = queued.saturating_sub(1);
        self.0.taken.notify_all();
    }
}

/// The answers to a batch queued by [`Store::submit_prepared_bulk`].
pub struct Pending(Waiting);

enum Waiting {
    Ready(Vec<Result<Receipt, SubmitError>>),
    Queued { answer: mpsc::Receiver<Answered>, count: usize, why: &'static str },
}

impl Pending {
    /// Waits for the batch's transaction to commit (or fail): one answer per submission, in
    /// order, as [`Store::submit_prepared`] gives them.
    pub fn wait(self) -> Vec<Result<Receipt, SubmitError>> {
        match self.0 {
            Waiting::Ready(answers) => answers,
            Waiting::Queued { answer, count, why } => match answer.recv() {
                Ok(Answered { answers, .. }) if answers.len() == count => answers,
                _ => (0..count)
                    .map(|_| Err(SubmitError::Store(StoreError::Stopped(why.into()))))
                    .collect(),
            },
        }
    }
}

/// Submissions decoded and signature-checked by [`Store::prepare`], ready for
/// [`Store::submit_prepared`] (lets a server verify on its request threads, and a benchmark time
/// the sequencing path alone).
pub struct PreparedBatch(Vec<Prepared>);

impl std::fmt::Debug for PreparedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreparedBatch({} submissions)", self.0.len())
    }
}

impl PreparedBatch {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each submission as decoded here, in order (`None` for bytes that did not decode).
    pub fn submissions(&self) -> impl Iterator<Item = Option<&Submission>> {
        self.0.iter().map(|prepared| prepared.decoded.as_ref().ok().map(Candidate::submission))
    }
}

/// One quarantined submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuarantineRecord {
    pub id: u64,
    pub received_at: String,
    pub sender: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub problems: Vec<Problem>,
}

/// Which quarantine records to list.
#[derive(Clone, Debug, Default)]
pub struct QuarantineFilter {
    /// Only records with a problem of this code.
    pub code: Option<String>,
    /// Only records with an id above this (paging).
    pub after_id: Option<u64>,
    /// At most this many (all when `None`).
    pub limit: Option<usize>,
}

/// A data directory, open. See the module documentation.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.dir.display())
    }
}

struct Inner {
    dir: PathBuf,
    database: Database,
    election: Arc<Election>,
    origin: String,
    verifier_key: String,
    /// Idle read connections.
    readers: Mutex<Vec<Conn>>,
    /// Opened by [`Store::open_read_only`]: read connections are read-only, nothing is written.
    read_only: bool,
    /// A read-only store's SQLite connections open the file to write (and write nothing: `PRAGMA
    /// query_only`), so the last one to close removes the `-wal` and `-shm` files (see
    /// [`Store::open_read_only`]).
    quiet_readers: bool,
    /// Opened by [`Store::open_for_publish`]: no sequencer; the tree was signed on open.
    publish_only: bool,
    /// Whether this node's sequencer thread sequences now (always on SQLite).
    leading: Arc<AtomicBool>,
    /// Hands submissions to another node's sequencer (PostgreSQL).
    forwarder: Option<Arc<Forwarder>>,
    /// The sequencer's queue; `None` once shutting down.
    jobs: Mutex<Option<Sender<Job>>>,
    sequencer: Mutex<Option<JoinHandle<()>>>,
    /// Injected failures for the publication (the sequencer has its own copy).
    faults: FaultPlan,
    /// Registered keys, kept by the sequencer, so [`Store::prepare`] can verify signatures on the
    /// submitting threads.
    directory: KeyDirectory,
    /// Calls of [`Store::prepare`] running now (each splits its batch only while there are fewer
    /// than the machine's cores).
    preparing: AtomicUsize,
    /// Bulk jobs queued and not yet taken by the sequencer ([`Store::submit_prepared_bulk`]).
    bulk_queue: Arc<BulkGate>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.jobs).take();
        if let Some(handle) = lock(&self.sequencer).take() {
            let _ = handle.join();
        }
    }
}

/// One running [`Store::prepare`], counted in [`Inner::preparing`] until dropped.
struct Preparing<'a> {
    count: &'a AtomicUsize,
    /// How many other calls were running when this one began.
    others: usize,
}

impl<'a> Preparing<'a> {
    fn enter(count: &'a AtomicUsize) -> Preparing<'a> {
        Preparing { count, others: count.fetch_add(1, Ordering::AcqRel) }
    }
}

impl Drop for Preparing<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::io(path, source)
}

/// Writes a new file with `content`, mode 0600 on Unix, and syncs it.
fn write_secret_file(path: &Path, content: &str) -> Result<(), StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(content.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Syncs a directory so the names created in it survive a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    fs::File::open(path).and_then(|dir| dir.sync_all()).map_err(io(path))
}

/// Refuses anything but a missing path or an empty directory.
fn check_new_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => match entries.count() {
            0 => Ok(()),
            _ => Err(StoreError::NotEmpty(dir.to_path_buf())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() => Err(StoreError::NotEmpty(dir.to_path_buf())),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

impl Store {
    /// Creates a data directory for the election defined by `election_toml` (`file_name` names it
    /// in error messages) with the default [`Config`]. See [`Store::init_with`].
    pub fn init(dir: &Path, election_toml: &str, file_name: &str) -> Result<Store, StoreError> {
        Store::init_with(dir, election_toml, file_name, Config::default())
    }

    /// Creates a data directory: refuses an existing non-empty `dir`; validates the election;
    /// generates the log key (`keys/log.key`, mode 0600); creates `sverka.db`; and writes the log's
    /// first entry, the election definition, and signs checkpoint 1.
    ///
    /// The first entry is the one submission not signed by a registered key: its `signer` is
    /// `"log"` ([`crate::admission::LOG_SIGNER`]) and it is signed by the log key itself, whose
    /// public half is published as `log.vkey`. Admission refuses every later submission by
    /// `"log"` and every later `election` body.
    ///
    /// Everything is built in a temporary sibling directory and renamed into place, so a failed
    /// init leaves nothing behind.
    pub fn init_with(
        dir: &Path,
        election_toml: &str,
        file_name: &str,
        config: Config,
    ) -> Result<Store, StoreError> {
        let election = Election::from_toml(file_name, election_toml)
            .map_err(|e| StoreError::Election(e.to_string()))?;
        check_new_dir(dir)?;
        let key = sverka_model::keys::generate_private_key(&mut rand::rngs::OsRng);
        let signer = Ed25519Signer::new(&election.log_origin, key.clone())
            .map_err(|e| StoreError::Election(format!("log_origin: {e}")))?;
        let genesis = genesis_bytes(&election, election_toml, &key)?;
        let election = Arc::new(election);
        let staging = staging_dir(dir)?;
        let built = build_data_dir(
            &staging,
            file_name,
            election.clone(),
            signer,
            genesis,
            election_toml.as_bytes(),
            &config,
        );
        let built = built.and_then(|()| match &config.database {
            Some(Database::Postgres(url)) => {
                crate::transfer::move_to_postgres(&staging, url).map(drop)
            }
            _ => Ok(()),
        });
        if let Err(error) = built {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
        if dir.exists() {
            fs::remove_dir(dir).map_err(io(dir))?;
        }
        fs::rename(&staging, dir).map_err(io(dir))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        // The election just written as entry 0 is the one parsed above: not parsed again.
        Store::open_inner(dir, config, Some(election))
    }

    /// Opens a data directory with the default [`Config`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, Config::default())
    }

    /// Opens a data directory: migrates the schema, recovers from any crash (see
    /// `Writer::load`), starts the sequencer, and signs a checkpoint if the log grew since the last
    /// one (unless the policy is [`CheckpointPolicy::Manual`]). On PostgreSQL the node becomes the
    /// sequencer if no other node is (and recovers and signs as above), and otherwise forwards.
    pub fn open_with(dir: &Path, config: Config) -> Result<Store, StoreError> {
        Store::open_inner(dir, config, None)
    }

    /// Opens a data directory to publish it (`sverka publish`): migrates the schema, recovers
    /// the log from any crash (the tiles of every committed entry, checked against the last
    /// signed root, as [`Store::open`] does) and signs the tree if the log grew since the last
    /// checkpoint; but it does not refold the admission state from the entries and starts no
    /// sequencer, so it accepts no submission ([`Store::checkpoint_now`] returns the checkpoint
    /// signed on open). On PostgreSQL it is [`Store::open`].
    pub fn open_for_publish(dir: &Path) -> Result<Store, StoreError> {
        let database = data_dir_database(dir)?;
        if database.is_postgres() {
            return Store::open(dir);
        }
        let config = Config::default();
        let (conn, signer, verifier_key, election_file) = open_log(dir, &database)?;
        let log_key = *signer.verifier().public_key();
        let election = election_cache::read_election(
            dir,
            &conn,
            &election_file,
            &log_key,
            Refill::With(&signer),
        )?;
        let directory = KeyDirectory::default();
        let mut writer = Writer::open(
            &database,
            Arc::new(election),
            signer,
            config,
            directory,
            Recovery::LogOnly,
        )?;
        if !writer.signed_is_current()? {
            writer.sign_checkpoint()?;
        }
        let election = writer.state().election().clone();
        drop(writer);
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                database,
                origin: election.log_origin.clone(),
                election,
                verifier_key,
                readers: Mutex::new(vec![conn]),
                read_only: false,
                quiet_readers: false,
                publish_only: true,
                leading: Arc::new(AtomicBool::new(false)),
                forwarder: None,
                jobs: Mutex::new(None),
                sequencer: Mutex::new(None),
                faults: FaultPlan::default(),
                directory: KeyDirectory::default(),
                preparing: AtomicUsize::new(0),
                bulk_queue: Arc::default(),
            }),
        })
    }

    /// [`Store::open_with`], with the election of entry 0 when the caller has just written it.
    fn open_inner(
        dir: &Path,
        config: Config,
        election: Option<Arc<Election>>,
    ) -> Result<Store, StoreError> {
        let database = match &config.database {
            Some(database) => database.clone(),
            None => data_dir_database(dir)?,
        };
        if database.is_postgres() && dir.join(DB_FILE).is_file() {
            return Err(StoreError::BadDatabase(format!(
                "{} holds its own SQLite log ({DB_FILE}); move it into PostgreSQL with `sverka migrate {} --database URL` first",
                dir.display(),
                dir.display()
            )));
        }
        let (conn, signer, verifier_key, election_file) = open_log(dir, &database)?;
        let election = match election {
            Some(election) => election,
            None => Arc::new(election_cache::read_election(
                dir,
                &conn,
                &election_file,
                signer.verifier().public_key(),
                if database.is_postgres() { Refill::No } else { Refill::With(&signer) },
            )?),
        };
        let faults = config.faults.clone();
        let directory = KeyDirectory::default();
        let mut writer =
            Writer::open(&database, election, signer, config, directory.clone(), Recovery::Full)?;
        let holder = node_name();
        if database.is_postgres() && writer.try_lead(&holder)? {
            writer.load()?;
        }
        // Sign before anyone can read: a reader of a freshly opened store sees every committed entry
        // under a signed checkpoint (a crash after a commit leaves it unsigned), never a checkpoint
        // that is about to be overtaken while it compares it with the history.
        if writer.may_write()
            && writer.config.checkpoint != CheckpointPolicy::Manual
            && !writer.signed_is_current()?
        {
            writer.sign_checkpoint()?;
        }
        let election = writer.state().election().clone();
        let leading = Arc::new(AtomicBool::new(writer.may_write()));
        let forwarder = database.is_postgres().then(|| Arc::new(Forwarder::new(database.clone())));
        let runtime = Runtime {
            leading: leading.clone(),
            forwarder: forwarder.clone(),
            holder,
            directory: directory.clone(),
        };
        let (sender, receiver) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("sverka-sequencer".into())
            .spawn(move || sequencer::run(writer, receiver, runtime))
            .map_err(io(dir))?;
        let store = Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                database,
                origin: election.log_origin.clone(),
                election,
                verifier_key,
                readers: Mutex::new(vec![conn]),
                read_only: false,
                quiet_readers: false,
                publish_only: false,
                leading,
                forwarder,
                jobs: Mutex::new(Some(sender)),
                sequencer: Mutex::new(Some(handle)),
                faults,
                directory,
                preparing: AtomicUsize::new(0),
                bulk_queue: Arc::default(),
            }),
        };
        Ok(store)
    }

    /// Opens a data directory to read it only, for the commands that only read (`sverka
    /// results`, `reconcile`, `forensics`): no schema migration, no crash recovery, no
    /// sequencer thread, no checkpoint signed, and the log key file is not read. SQLite's
    /// connections write no row (`PRAGMA query_only`; see below for how the file is opened),
    /// PostgreSQL's are in a session whose transactions are read-only. The log reads as far as
    /// its latest signed checkpoint ([`Store::checkpoint`]); submissions and
    /// [`Store::checkpoint_now`] are refused.
    /// The database must have the schema version this code writes (open it once with a command
    /// that writes, `sverka migrate` or `sverka serve`, to bring an older one up).
    ///
    /// SQLite's write-ahead log needs `sverka.db-shm` and `sverka.db-wal` beside the database,
    /// which a reader creates (empty) if they are missing, and which only a connection that may
    /// write removes as the last one closes. So where they are missing and the database and its
    /// directory may be written, the store's connections open the file to write and `PRAGMA
    /// query_only` keeps them from writing a row: the files go when the store closes, as they do
    /// after a store opened to write. Otherwise its connections are read-only
    /// (`SQLITE_OPEN_READ_ONLY`), and in a directory it may not write to, with no `sverka.db-wal`
    /// there (so no connection has the database open), the database is read as immutable.
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let database = data_dir_database(dir)?;
        let (conn, quiet_readers) = match &database {
            Database::Sqlite(path) => match open_sqlite_quietly(path, true)? {
                Some(conn) => (conn, true),
                None => (open_sqlite_read_only(path)?, false),
            },
            Database::Postgres(_) => (open_reader(&database, true)?, false),
        };
        check_schema_current(&conn)?;
        let verifier_key = db::meta_get(&conn, "log_verifier_key")?
            .ok_or_else(|| StoreError::Corrupt("no log verifier key is recorded".into()))?;
        let verifier = sverka_tlog::note::Ed25519Verifier::from_vkey(&verifier_key)
            .map_err(|e| StoreError::Corrupt(format!("the recorded log verifier key: {e}")))?;
        let election_file = db::meta_get(&conn, "election_file")?.unwrap_or_default();
        let log_key = verifier.public_key();
        let election =
            election_cache::read_election(dir, &conn, &election_file, log_key, Refill::No)?;
        let store = Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                database,
                origin: election.log_origin.clone(),
                election: Arc::new(election),
                verifier_key,
                readers: Mutex::new(vec![conn]),
                read_only: true,
                quiet_readers,
                publish_only: false,
                leading: Arc::new(AtomicBool::new(false)),
                forwarder: None,
                jobs: Mutex::new(None),
                sequencer: Mutex::new(None),
                faults: FaultPlan::default(),
                directory: KeyDirectory::default(),
                preparing: AtomicUsize::new(0),
                bulk_queue: Arc::default(),
            }),
        };
        Ok(store)
    }

    /// Whether the store was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The database this store works on.
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    /// Whether this node sequences now: always on SQLite; on PostgreSQL, while it holds the lease.
    pub fn is_sequencer(&self) -> bool {
        self.inner.leading.load(Ordering::SeqCst)
    }

    // -----------------------------------------------------------------------------------------
    // Submissions

    /// Submits one submission and waits until it is durable (or refused).
    pub fn submit(&self, bytes: Vec<u8>) -> Result<Receipt, SubmitError> {
        self.submit_from(bytes, "")
    }

    /// [`Store::submit`] with a note on the sender, kept if it is quarantined.
    pub fn submit_from(&self, bytes: Vec<u8>, sender: &str) -> Result<Receipt, SubmitError> {
        let incoming = Incoming { bytes, sender: sender.to_string() };
        self.submit_incoming(vec![incoming]).pop().expect("one answer per submission")
    }

    /// Submits many; one answer per submission, in order. They may share a transaction with
    /// submissions from other threads.
    pub fn submit_batch(&self, items: Vec<Vec<u8>>) -> Vec<Result<Receipt, SubmitError>> {
        let items = items.into_iter().map(|bytes| Incoming { bytes, sender: String::new() });
        self.submit_incoming(items.collect())
    }

    /// [`Store::submit_batch`] with sender notes.
    pub fn submit_incoming(&self, items: Vec<Incoming>) -> Vec<Result<Receipt, SubmitError>> {
        self.submit_prepared(self.prepare(items))
    }

    /// Hashes, decodes and verifies the Ed25519 signature (once, strictly, under the signer's
    /// registered key) on the calling thread, without the database, and makes a protocol's
    /// checks that need only the election (`validate::precheck_submission`); a large batch is
    /// split over the machine's cores while fewer calls than cores run at once (its first part
    /// on the calling thread). The sequencer thread then only checks keys, roles, sequence
    /// numbers and what in the protocol needs the log (a correction's superseded entry, the other
    /// counting source), and writes.
    ///
    /// When as many batches as cores are being prepared at once (several clients), each is
    /// prepared on its own calling thread: splitting it would add no parallelism, only threads
    /// started per part (two per batch of the HTTP ingest benchmark's four clients on two cores),
    /// each with a fresh allocator heap for the submissions it decodes.
    pub fn prepare(&self, items: Vec<Incoming>) -> PreparedBatch {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let directory = &self.inner.directory;
        let election = &*self.inner.election;
        let preparing = Preparing::enter(&self.inner.preparing);
        if items.len() < 64 || threads == 1 || preparing.others + 1 >= threads {
            return PreparedBatch(prepare_many(items, directory, election));
        }
        let parts = threads - preparing.others;
        let chunk = items.len().div_ceil(parts);
        let mut items = items;
        let mut chunks = Vec::new();
        while items.len() > chunk {
            let rest = items.split_off(chunk);
            chunks.push(std::mem::replace(&mut items, rest));
        }
        chunks.push(items);
        let mut chunks = chunks.into_iter();
        let first = chunks.next().expect("a batch of 64 or more has a first part");
        let prepared = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .map(|chunk| scope.spawn(move || prepare_many(chunk, directory, election)))
                .collect();
            let mut prepared = prepare_many(first, directory, election);
            for handle in handles {
                prepared.extend(handle.join().expect("prepare thread"));
            }
            prepared
        });
        PreparedBatch(prepared)
    }

    /// Queues prepared submissions to the sequencer and waits for their answers.
    pub fn submit_prepared(&self, batch: PreparedBatch) -> Vec<Result<Receipt, SubmitError>> {
        self.queue(batch, false).0
    }

    /// [`Store::submit_prepared`], also giving back the bytes of each submission, in order
    /// (`None` where they were not given back: forwarded by the sequencer thread after all): the
    /// server's live results fold the accepted ones from these bytes without copying them. What
    /// [`Store::prepare`] decoded is freed here, on the calling thread, as soon as the answers are
    /// in (not held until the live results fold the entries, and freed there).
    pub fn submit_prepared_keeping(
        &self,
        batch: PreparedBatch,
    ) -> (Vec<Result<Receipt, SubmitError>>, KeptBytes) {
        self.queue(batch, true)
    }

    /// Queues `batch` to the sequencer (or forwards it to another node's) and waits for the
    /// answers; with `keep`, the submissions come back too and their bytes are given back (see
    /// [`Store::submit_prepared_keeping`]), else the sequencer's helper thread frees them.
    fn queue(
        &self,
        batch: PreparedBatch,
        keep: bool,
    ) -> (Vec<Result<Receipt, SubmitError>>, KeptBytes) {
        let count = batch.0.len();
        if count == 0 {
            return (Vec::new(), Vec::new());
        }
        let kept = |items: Vec<Prepared>| -> KeptBytes {
            if !keep {
                return Vec::new();
            }
            items.into_iter().map(|p| Some(p.bytes)).collect()
        };
        if let Some(forwarder) = self.inner.forwarder.as_ref().filter(|_| !self.is_sequencer()) {
            let copies = if keep {
                batch.0.iter().map(|p| Some(p.bytes.clone())).collect()
            } else {
                Vec::new()
            };
            return (forwarder.forward(batch.0), copies);
        }
        let why = self.closed_reason();
        let stopped = || {
            (0..count).map(|_| Err(SubmitError::Store(StoreError::Stopped(why.into())))).collect()
        };
        let (reply, answer) = mpsc::channel();
        let Some(jobs) = lock(&self.inner.jobs).clone() else {
            return (stopped(), kept(batch.0));
        };
        if let Err(unsent) = jobs.send(Job::Submit { items: batch.0, reply, keep, bulk: None }) {
            let Job::Submit { items, .. } = unsent.0 else { unreachable!("a submit job was sent") };
            return (stopped(), kept(items));
        }
        let none = || if keep { vec![None; count] } else { Vec::new() };
        match answer.recv() {
            Ok(Answered { answers, items }) if items.len() == count => (answers, kept(items)),
            // Forwarded by the sequencer thread after all: the decoded copies are gone.
            Ok(Answered { answers, .. }) => (answers, none()),
            Err(_) => (stopped(), none()),
        }
    }

    /// Queues `batch` as part of a bulk load (`sverka import`) and returns at once; the answers
    /// come from [`Pending::wait`]. On SQLite the sequencer stages consecutive bulk batches in one
    /// transaction and commits it once [`BULK_COMMIT_SUBMISSIONS`] submissions are staged, when
    /// anything else is asked of it (a batch that is not bulk, [`Store::checkpoint_now`]), or when
    /// no bulk batch came for a second: each commit writes the index pages it dirtied once for
    /// many more entries. The answers, as those of [`Store::submit_prepared`], are given only once
    /// the transaction that holds them has committed, so a caller that waits for a batch's answers
    /// before queueing the next one waits for that second: queue up to
    /// `BULK_COMMIT_SUBMISSIONS` submissions ahead, or ask for a checkpoint. The submissions
    /// are freed on the sequencer's helper thread. On PostgreSQL each batch is its own transaction.
    ///
    /// Returns once the sequencer has taken the bulk batch queued before this one, if any (so
    /// that batches prepared faster than they are written, as while a large transaction
    /// commits, wait in the caller's hands instead of piling up decoded in the queue).
    ///
    /// A bulk load stops at its first failure: once a bulk batch could not be stored (a full
    /// disk, say), every later bulk batch on this store is answered with a store error and
    /// nothing of it is stored, so that no later line commits ahead of the lost ones (a later
    /// submission of the same signer would make a lost one a replay when the load is run
    /// again). Run the load again on a store opened anew.
    pub fn submit_prepared_bulk(&self, batch: PreparedBatch) -> Pending {
        let count = batch.0.len();
        let ready = |answers| Pending(Waiting::Ready(answers));
        if count == 0 {
            return ready(Vec::new());
        }
        if self.inner.forwarder.as_ref().is_some_and(|_| !self.is_sequencer()) {
            return ready(self.submit_prepared(batch));
        }
        let why = self.closed_reason();
        let stopped = |count: usize| -> Vec<Result<Receipt, SubmitError>> {
            (0..count).map(|_| Err(SubmitError::Store(StoreError::Stopped(why.into())))).collect()
        };
        let Some(jobs) = lock(&self.inner.jobs).clone() else {
            return ready(stopped(count));
        };
        let ticket = self.inner.bulk_queue.enter();
        let (reply, answer) = mpsc::channel();
        let job = Job::Submit { items: batch.0, reply, keep: false, bulk: Some(ticket) };
        if jobs.send(job).is_err() {
            return ready(stopped(count));
        }
        Pending(Waiting::Queued { answer, count, why })
    }

    /// Why a bulk batch on this store could not be stored, once one could not (see
    /// [`Store::submit_prepared_bulk`]): known as soon as the sequencer meets the failure, before
    /// the answers of the batches in flight come, so that a bulk load can stop reading its input.
    pub fn bulk_failure(&self) -> Option<String> {
        self.inner.bulk_queue.failure()
    }

    /// Asks the sequencer to sign the current tree now (a no-op if it is signed) and returns the
    /// latest signed checkpoint.
    pub fn checkpoint_now(&self) -> Result<SignedCheckpoint, StoreError> {
        if self.inner.publish_only {
            // Signed on open; nothing is appended through this store.
            return self.checkpoint();
        }
        let (reply, answer) = mpsc::channel();
        let jobs = lock(&self.inner.jobs)
            .clone()
            .ok_or_else(|| StoreError::Stopped(self.closed_reason().into()))?;
        jobs.send(Job::Checkpoint { reply })
            .map_err(|_| StoreError::Stopped("the sequencer has stopped".into()))?;
        answer.recv().map_err(|_| StoreError::Stopped("the sequencer has stopped".into()))?
    }

    /// Why the sequencer's queue is gone.
    fn closed_reason(&self) -> &'static str {
        match (self.inner.read_only, self.inner.publish_only) {
            (true, _) => "the store is open read-only",
            (_, true) => "the store is open to publish only",
            _ => "store is closing",
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    /// Runs `f` on a pooled read connection.
    fn read<T>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = lock(&self.inner.readers).pop();
        let conn = match pooled.filter(|conn| !conn.is_closed()) {
            Some(conn) => conn,
            None => match &self.inner.database {
                // The store's first connection made the -wal file: every later one may remove
                // it too, whichever closes last.
                Database::Sqlite(path) if self.inner.quiet_readers => {
                    open_sqlite_quietly(path, false)?
                        .map_or_else(|| open_sqlite_read_only(path), Ok)?
                }
                database => open_reader(database, self.inner.read_only)?,
            },
        };
        let result = f(&conn);
        let mut readers = lock(&self.inner.readers);
        if readers.len() < 8 && !conn.is_closed() {
            readers.push(conn);
        }
        result
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The election, as defined by the log's first entry.
    pub fn election(&self) -> &Arc<Election> {
        &self.inner.election
    }

    /// The log's origin line (and the key name of its checkpoints).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The log's signed-note verifier key, `<origin>+<key id>+<key>` (published as `log.vkey`).
    pub fn verifier_key(&self) -> &str {
        &self.inner.verifier_key
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Result<SignedCheckpoint, StoreError> {
        self.read(|conn| {
            let (size, root, note) = db::signed_checkpoint(conn, false)?
                .ok_or_else(|| StoreError::Corrupt("no checkpoint was ever signed".into()))?;
            Ok(SignedCheckpoint { size, root, note })
        })
    }

    /// Every checkpoint the log has signed, by size.
    pub fn checkpoint_history(&self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.read(|conn| {
            let rows =
                conn.query("SELECT size, root, note FROM signed_checkpoints ORDER BY size", &[])?;
            let mut history = Vec::with_capacity(rows.len());
            for mut row in rows {
                let size = row.int(0)? as u64;
                let root = db::hash_from_blob(row.blob(1)?, "a signed root")?;
                history.push(SignedCheckpoint { size, root, note: row.text(2)? });
            }
            Ok(history)
        })
    }

    /// The number of entries in the log (committed and integrated into tiles; the latest signed
    /// checkpoint may be smaller).
    pub fn tree_size(&self) -> Result<u64, StoreError> {
        self.read(db::tile_size)
    }

    /// The bytes of entry `index`.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| db::entry(conn, index))
    }

    /// The bytes of entries `range`, in order; the range must be inside the log.
    pub fn entries(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|conn| {
            let size = db::tile_size(conn)?;
            if range.start > range.end || range.end > size {
                return Err(StoreError::OutOfRange(format!(
                    "entries {range:?} in a log of {size}"
                )));
            }
            db::entries(conn, range)
        })
    }

    /// The content served at a tlog-tiles path (`tile/<L>/<N>[.p/<W>]` or
    /// `tile/entries/<N>[.p/<W>]`), or `None` if the log has no such tile.
    pub fn read_tile(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match parse_path(path) {
            Err(_) => Ok(None),
            Ok(TilePath::Hash(tile)) => self.hash_tile(&tile),
            Ok(TilePath::Entries(bundle)) => self.entry_bundle(bundle.index(), bundle.width()),
        }
    }

    /// The hashes of `tile`, if the log is large enough to have it.
    pub fn hash_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| hash_tile_at(conn, tile, db::tile_size(conn)?))
    }

    /// Entry bundle `n` of `width` entries (tlog-tiles §"Log entries"), if the log has it.
    pub fn entry_bundle(&self, n: u64, width: u16) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| entry_bundle_at(conn, n, width, db::tile_size(conn)?))
    }

    /// Quarantined submissions, oldest first.
    pub fn quarantine(
        &self,
        filter: &QuarantineFilter,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        self.read(|conn| {
            let needle = filter.code.as_ref().map(|code| {
                serde_json::to_string(&serde_json::json!({ "code": code }))
                    .expect("json")
                    .trim_matches(|c| c == '{' || c == '}')
                    .to_string()
            });
            let sql = match conn.dialect() {
                Dialect::Sqlite => {
                    "SELECT id, received_at, sender, bytes, codes FROM quarantine
                     WHERE id > ?1 AND (?2 IS NULL OR instr(codes, ?2) > 0)
                     ORDER BY id LIMIT ?3"
                }
                Dialect::Postgres => {
                    "SELECT id, received_at, sender, bytes, codes FROM quarantine
                     WHERE id > ?1 AND (?2::text IS NULL OR strpos(codes, ?2) > 0)
                     ORDER BY id LIMIT ?3"
                }
            };
            let limit = filter.limit.map_or(i64::MAX, |l| l as i64);
            let after = filter.after_id.map_or(0, |a| a as i64);
            let rows = conn.query(sql, &[after.into(), needle.as_ref().into(), limit.into()])?;
            let mut records = Vec::new();
            for mut row in rows {
                let (id, received_at, sender, bytes, codes) =
                    (row.int(0)?, row.text(1)?, row.text(2)?, row.blob(3)?, row.text(4)?);
                let problems = serde_json::from_str(&codes).map_err(|e| {
                    StoreError::Corrupt(format!("quarantine {id}: codes are not JSON: {e}"))
                })?;
                records.push(QuarantineRecord {
                    id: id as u64,
                    received_at,
                    sender,
                    bytes,
                    problems,
                });
            }
            Ok(records)
        })
    }

    /// How many submissions are in quarantine.
    pub fn quarantine_count(&self) -> Result<u64, StoreError> {
        self.read(|conn| Ok(conn.query_one("SELECT COUNT(*) FROM quarantine", &[])?.int(0)? as u64))
    }

    /// The receipt of the entry with this leaf hash, with its inclusion proof in the latest signed
    /// checkpoint if that covers it.
    pub fn receipt(&self, leaf_hash: &Hash) -> Result<Option<EntryReceipt>, StoreError> {
        self.read(|conn| {
            let Some(index) = db::find_leaf(conn, leaf_hash)? else {
                return Ok(None);
            };
            let signed = db::signed_checkpoint(conn, false)?;
            let covered = signed.filter(|(size, _, _)| index < *size);
            let (checkpoint, proof) = match covered {
                None => (None, Vec::new()),
                Some((size, root, note)) => {
                    let proof = inclusion_proof_in(conn, index, size)?;
                    (Some(SignedCheckpoint { size, root, note }), proof)
                }
            };
            Ok(Some(EntryReceipt { index, leaf_hash: *leaf_hash, checkpoint, proof }))
        })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (RFC 9162 §2.1.3).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.read(|conn| {
            check_size(conn, size)?;
            inclusion_proof_in(conn, index, size)
        })
    }

    /// The consistency proof from the tree of `old_size` entries to that of `new_size`
    /// (RFC 9162 §2.1.4).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        self.read(|conn| {
            check_size(conn, new_size)?;
            TileHashSource::new(&DbTiles(conn), new_size)
                .consistency_proof(old_size)
                .map_err(|e| StoreError::OutOfRange(e.to_string()))
        })
    }

    /// Stores a blob (a scan) by its SHA-256 and returns the lower-case hex digest. Blobs are
    /// content-addressed, so storing the same bytes twice is a no-op.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = hex_sha256(bytes);
        self.read(|conn| db::put_blob(conn, &digest, bytes))?;
        Ok(digest)
    }

    /// A blob by its SHA-256 hex digest.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| db::blob(conn, sha256))
    }

    /// The digests of all blobs.
    pub fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let rows = conn.query("SELECT sha256 FROM blobs ORDER BY sha256", &[])?;
            rows.into_iter().map(|mut row| row.text(0)).collect()
        })
    }

    pub(crate) fn faults(&self) -> &FaultPlan {
        &self.inner.faults
    }

    /// Runs `f` on a read connection (for the publication, which reads many tiles).
    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(f)
    }
}

/// Hashes, decodes and verifies one submission.
pub(crate) fn prepare_one(incoming: Incoming, directory: &KeyDirectory) -> Prepared {
    let leaf_hash = sverka_tlog::leaf_hash(&incoming.bytes);
    // The canonical bytes of a well-formed submission decode in one pass; anything else goes the
    // reporting way, which names the first problem with its code.
    let decoded = match Submission::decode_signed(&incoming.bytes) {
        Ok(decoded) => {
            let key = directory.get(&decoded.submission().payload.signer);
            Ok(Candidate::from_decoded(decoded, key.as_ref()))
        }
        Err(_) => decode_reporting(&incoming.bytes, directory),
    };
    Prepared {
        bytes: incoming.bytes,
        sender: incoming.sender,
        leaf_hash,
        decoded,
        precheck: None,
        pending: None,
    }
}

/// [`prepare_one`] of each item, in order, the signatures of those that decode in one pass checked
/// together (`Candidate::from_decoded_each`: the same verdicts as one by one, with one field
/// inversion for all of them instead of one each), and the protocol checks that need only
/// `election` made.
fn prepare_many(
    items: Vec<Incoming>,
    directory: &KeyDirectory,
    election: &Election,
) -> Vec<Prepared> {
    // An item that does not decode in one pass carries what the reporting way made of it.
    let decoded = items
        .iter()
        .map(|incoming| match Submission::decode_signed(&incoming.bytes) {
            Ok(decoded) => {
                let key = directory.get(&decoded.submission().payload.signer);
                Ok((decoded, key))
            }
            Err(_) => Err(Box::new(decode_reporting(&incoming.bytes, directory))),
        })
        .collect();
    items
        .into_iter()
        .zip(Candidate::from_decoded_each(decoded))
        .map(|(incoming, decoded)| {
            let decoded = decoded.map_or_else(|reported| *reported, Ok);
            let precheck = (decoded.as_ref().ok()).and_then(|candidate| {
                precheck_submission(election, &candidate.submission().payload)
            });
            Prepared {
                leaf_hash: sverka_tlog::leaf_hash(&incoming.bytes),
                bytes: incoming.bytes,
                sender: incoming.sender,
                decoded,
                precheck,
                pending: None,
            }
        })
        .collect()
}

/// Bytes that do not decode in one pass, decoded the reporting way, which names the first
/// problem with its code.
fn decode_reporting(
    bytes: &[u8],
    directory: &KeyDirectory,
) -> Result<Candidate, sverka_model::validate::Finding> {
    sverka_model::validate::decode_submission(bytes).map(|submission| {
        let key = directory.get(&submission.payload.signer);
        Candidate::new(submission, key.as_ref())
    })
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_size(conn: &Conn, size: u64) -> Result<(), StoreError> {
    let tree = db::tile_size(conn)?;
    if size > tree {
        return Err(StoreError::OutOfRange(format!("size {size} is beyond the log's {tree}")));
    }
    Ok(())
}

fn inclusion_proof_in(conn: &Conn, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
    TileHashSource::new(&DbTiles(conn), size)
        .inclusion_proof(index)
        .map_err(|e| StoreError::OutOfRange(e.to_string()))
}

/// The bytes of `tile` as it is in the tree of `size` leaves (a partial tile is cut from the wider
/// stored one), or `None` if that tree has no such tile.
pub(crate) fn hash_tile_at(
    conn: &Conn,
    tile: &Tile,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(existing) = tile_at(tile.level(), tile.index(), size) else {
        return Ok(None);
    };
    if tile.width() > existing.width() {
        return Ok(None);
    }
    let Some(mut bytes) = db::tile_bytes(conn, tile)? else {
        return Err(StoreError::Corrupt(format!("tile {} is missing", tile.path())));
    };
    bytes.truncate(tile.byte_len());
    Ok(Some(bytes))
}

/// Entry bundle `n` of `width` entries in a log of `size`, or `None` if it has no such bundle.
pub(crate) fn entry_bundle_at(
    conn: &Conn,
    n: u64,
    width: u16,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut bundle = Vec::new();
    let found = entry_bundle_into(conn, n, width, size, &mut bundle)?;
    Ok(found.then_some(bundle))
}

/// [`entry_bundle_at`] into `out` (cleared first; a publication reuses one buffer for every
/// bundle): whether the log has the bundle.
pub(crate) fn entry_bundle_into(
    conn: &Conn,
    n: u64,
    width: u16,
    size: u64,
    out: &mut Vec<u8>,
) -> Result<bool, StoreError> {
    out.clear();
    let Some(first) = n.checked_shl(u32::from(TILE_HEIGHT)).filter(|f| f >> TILE_HEIGHT == n)
    else {
        return Ok(false);
    };
    let end = first + u64::from(width);
    if width == 0 || end > size {
        return Ok(false);
    }
    if width > TILE_WIDTH {
        return Err(StoreError::Corrupt(format!("bundle {n}: {}", BundleError::TooManyEntries)));
    }
    db::entry_bundle(conn, first..end, out)?;
    Ok(true)
}

/// The log's first entry: the election definition, signed by the log key as signer `"log"`.
fn genesis_bytes(election: &Election, text: &str, key: &SigningKey) -> Result<Vec<u8>, StoreError> {
    let payload = Payload {
        v: FORMAT_VERSION,
        election: election.id.clone(),
        signer: LOG_SIGNER.to_string(),
        seq: 1,
        time: None,
        body: Body::Election(ElectionDefinition::of(text.as_bytes())),
    };
    let bytes = payload.sign(key).to_bytes();
    if bytes.len() > MAX_SUBMISSION_BYTES {
        return Err(StoreError::Election(format!(
            "the election definition makes a first log entry of {} bytes; a log entry holds at most {MAX_SUBMISSION_BYTES}",
            bytes.len()
        )));
    }
    Submission::decode(&bytes).map_err(|e| StoreError::Election(format!("first entry: {e}")))?;
    Ok(bytes)
}

/// A fresh sibling of `dir` to build a data directory in.
fn staging_dir(dir: &Path) -> Result<PathBuf, StoreError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join(format!(".{name}.init-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir(&staging).map_err(io(&staging))?;
    Ok(staging)
}

fn build_data_dir(
    dir: &Path,
    file_name: &str,
    election: Arc<Election>,
    signer: Ed25519Signer,
    genesis: Vec<u8>,
    definition: &[u8],
    config: &Config,
) -> Result<(), StoreError> {
    let keys = dir.join("keys");
    fs::create_dir(&keys).map_err(io(&keys))?;
    write_secret_file(&dir.join(LOG_KEY_FILE), &format!("{}\n", signer.to_skey()))?;
    sync_dir(&keys)?;
    let conn = Conn::open_sqlite(&dir.join(DB_FILE))?;
    crate::schema::migrate(&conn)?;
    db::meta_set(&conn, "election_file", file_name)?;
    db::meta_set(&conn, "log_origin", &election.log_origin)?;
    db::meta_set(&conn, "log_verifier_key", &signer.verifier().to_vkey())?;
    let state = State::new(election.clone(), *signer.verifier().public_key());
    let mut writer = Writer::for_genesis(conn, state, signer.clone(), config.clone())?;
    writer.append_genesis(genesis)?;
    drop(writer);
    let conn = Conn::open_sqlite(&dir.join(DB_FILE))?;
    db::put_blob(&conn, &sverka_model::submission::sha256_hex(definition), definition)?;
    let definition_sha256 = Sha256::digest(definition).into();
    election_cache::write(dir, &conn, &election, &definition_sha256, &signer)?;
    drop(conn);
    sync_dir(dir)
}

/// The first steps of opening a data directory to write: its database connected and migrated,
/// the log key read and checked against the database's, and the election's file name.
fn open_log(
    dir: &Path,
    database: &Database,
) -> Result<(Conn, Ed25519Signer, String, String), StoreError> {
    let conn = Conn::open(database)?;
    crate::schema::migrate(&conn)?;
    let key_path = dir.join(LOG_KEY_FILE);
    let key_text = fs::read_to_string(&key_path).map_err(io(&key_path))?;
    let signer = Ed25519Signer::from_skey(key_text.trim())
        .map_err(|_| StoreError::BadKeyFile(key_path.clone()))?;
    let verifier_key = signer.verifier().to_vkey();
    match db::meta_get(&conn, "log_verifier_key")? {
        Some(stored) if stored == verifier_key => {}
        None if database.is_postgres() => {
            return Err(StoreError::BadDatabase(format!(
                "{database} holds no sverka log; put one there with `sverka migrate DIR --database URL`"
            )))
        }
        _ => return Err(StoreError::BadKeyFile(key_path)),
    }
    let election_file = db::meta_get(&conn, "election_file")?.unwrap_or_default();
    Ok((conn, signer, verifier_key, election_file))
}

/// A connection for reads: [`Conn::open`]'s, or with `read_only` one that cannot write (see
/// [`Store::open_read_only`]).
fn open_reader(database: &Database, read_only: bool) -> Result<Conn, StoreError> {
    match database {
        _ if !read_only => Conn::open(database),
        Database::Sqlite(path) => open_sqlite_read_only(path),
        Database::Postgres(url) => {
            let conn = Conn::open_pg(url)?;
            conn.batch("SET default_transaction_read_only = on")?;
            Ok(conn)
        }
    }
}

/// `path` opened read-only; as immutable if SQLite cannot make the files its write-ahead log
/// needs (a directory this process may not write to) and no `-wal` file is there.
fn open_sqlite_read_only(path: &Path) -> Result<Conn, StoreError> {
    use rusqlite::{ErrorCode, OpenFlags};
    let open = |immutable: bool| -> Result<rusqlite::Connection, rusqlite::Error> {
        let mut uri = url_path(path);
        uri.push_str(if immutable { "?mode=ro&immutable=1" } else { "?mode=ro" });
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(uri, flags)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "query_only", true)?;
        // The first read is where a missing -shm shows.
        conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(conn)
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let conn = match open(false) {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, ErrorCode::ReadOnly | ErrorCode::CannotOpen)
                && !Path::new(&wal).exists() =>
        {
            open(true)?
        }
        other => other?,
    };
    Ok(Conn::Sqlite(conn))
}

/// `path` opened to read only, but through a connection that may write the files (which
/// `PRAGMA query_only` keeps from writing a row), or `None` when the database or its directory
/// cannot be written. SQLite makes the `-wal` and `-shm` files of a WAL database for any
/// reader, and only a connection that may write removes them when the last one closes: so a
/// reader that finds them missing leaves none behind. With `first`, tried only when no `-wal`
/// file is there (an unfinished write-ahead log is left to the store that wrote it to recover);
/// a read-only store's later connections are opened the same way as its first.
fn open_sqlite_quietly(path: &Path, first: bool) -> Result<Option<Conn>, StoreError> {
    use rusqlite::{ErrorCode, OpenFlags};
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if first && Path::new(&wal).exists() {
        return Ok(None);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let open = || -> Result<Option<rusqlite::Connection>, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(url_path(path), flags)?;
        // SQLite opens a file it may not write read-only without saying so.
        if conn.is_readonly(rusqlite::DatabaseName::Main)? {
            return Ok(None);
        }
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "query_only", true)?;
        // The first read makes the -wal and -shm files: where a directory that may not be
        // written to shows.
        conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(Some(conn))
    };
    match open() {
        Ok(conn) => Ok(conn.map(Conn::Sqlite)),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// `file:` followed by `path` with the characters a URI gives meaning to percent-encoded.
fn url_path(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'?' | b'#' | b'%' | 0x80.. => uri.push_str(&format!("%{byte:02X}")),
            _ => uri.push(char::from(*byte)),
        }
    }
    uri
}

/// Refuses a database whose schema this code cannot read without migrating it (a read-only
/// store cannot migrate): newer than the version it writes, or older than
/// [`crate::schema::READABLE_FROM`].
fn check_schema_current(conn: &Conn) -> Result<(), StoreError> {
    let supported = match conn.dialect() {
        crate::sql::Dialect::Sqlite => crate::schema::SCHEMA_VERSION,
        crate::sql::Dialect::Postgres => crate::schema::PG_SCHEMA_VERSION,
    };
    let found = crate::schema::version(conn)?;
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    if found < crate::schema::READABLE_FROM {
        return Err(StoreError::BadDatabase(format!(
            "schema version {found}, older than this sverka's {supported}; open the store once with a command that writes (`sverka migrate` or `sverka serve`) to bring it up"
        )));
    }
    Ok(())
}

/// The database of a data directory: its `sverka.db`, or the PostgreSQL URL in its `database`.
fn data_dir_database(dir: &Path) -> Result<Database, StoreError> {
    let sqlite = dir.join(DB_FILE);
    if sqlite.is_file() {
        return Ok(Database::Sqlite(sqlite));
    }
    let file = dir.join(DATABASE_FILE);
    match fs::read_to_string(&file) {
        Ok(text) => Database::parse(text.trim())
            .map_err(|e| StoreError::BadDatabase(format!("{}: {e}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(StoreError::NotADataDir(dir.to_path_buf()))
        }
        Err(e) => Err(StoreError::io(file, e)),
    }
}

/// Writes `DIR/database` (the URL may hold a password: mode 0600).
pub(crate) fn write_database_file(dir: &Path, url: &str) -> Result<(), StoreError> {
    let path = dir.join(DATABASE_FILE);
    let temporary = dir.join(".database.tmp");
    let _ = fs::remove_file(&temporary);
    write_secret_file(&temporary, &format!("{url}\n"))?;
    fs::rename(&temporary, &path).map_err(io(&path))?;
    sync_dir(dir)
}

/// A name for this node in the lease row: host, process and a random tag (two stores in one
/// process are two nodes).
fn node_name() -> String {
    let host = fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("{}:{}:{:08x}", host.trim(), std::process::id(), rand::random::<u32>())
}
