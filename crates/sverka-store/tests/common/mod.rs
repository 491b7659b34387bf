//! Shared test fixtures: the tiny example election with keys registered for tests, signed
//! submissions, an independent check of the log's invariants after any crash, and the two
//! backends every store test runs on ([`Backend`], [`both_backends!`]): the embedded SQLite file,
//! and a fresh database on the PostgreSQL server named by `SVERKA_TEST_POSTGRES` (a URL, e.g.
//! `postgresql://sverka@%2Ftmp%2Fpg/postgres`; `.ci/run` starts a throwaway cluster and sets it).
//! Without that variable the PostgreSQL tests say they were skipped, unless
//! `SVERKA_REQUIRE_SHARED=1` or `CI` is set: then they fail.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use sverka_model::submission::{Annulment, KeyRegistration, KeyRevocation};
use sverka_model::{Body, Payload, Protocol, Source};
use sverka_store::{Config, Receipt, Store};
use sverka_tlog::Hash;

/// A deterministic key.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn public(key: &SigningKey) -> String {
    sverka_model::keys::encode_public_key(&key.verifying_key())
}

/// Keys registered in [`election_toml`]: `(id, seed)`.
pub const MACHINE_1001: (&str, u8) = ("m-1001", 1);
pub const MACHINE_1002: (&str, u8) = ("m-1002", 2);
pub const OPERATOR_D1: (&str, u8) = ("op-d1", 3);
pub const ADMIN: (&str, u8) = ("cec-1", 4);
/// Observer keys `obs-0` … `obs-15` have seeds 100 … 115.
pub const OBSERVERS: u8 = 16;

pub fn observer(n: u8) -> (String, SigningKey) {
    (format!("obs-{n}"), key(100 + n))
}

/// The tiny example with test keys appended.
pub fn election_toml() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny/election.toml");
    let mut text = std::fs::read_to_string(root).expect("examples/tiny/election.toml");
    let mut add = |id: &str, role: &str, seed: u8, place: &str| {
        text.push_str(&format!(
            "\n[[keys]]\nid = \"{id}\"\nrole = \"{role}\"\npublic_key = \"{}\"\n{place}",
            public(&key(seed))
        ));
    };
    add(MACHINE_1001.0, "machine", MACHINE_1001.1, "station = \"1001\"\n");
    add(MACHINE_1002.0, "machine", MACHINE_1002.1, "station = \"1002\"\n");
    add(OPERATOR_D1.0, "operator", OPERATOR_D1.1, "district = \"d1\"\n");
    add(ADMIN.0, "admin", ADMIN.1, "");
    for n in 0..OBSERVERS {
        add(&format!("obs-{n}"), "observer", 100 + n, "");
    }
    text
}

pub fn payload(signer: &str, seq: u64, body: Body) -> Payload {
    Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: signer.into(),
        seq,
        time: None,
        body,
    }
}

/// Registered voters of the tiny example's stations.
fn registered(station: &str) -> u64 {
    match station {
        "1001" => 1200,
        "1002" => 900,
        "1003" => 1500,
        "1004" => 400,
        "9001" => 2500,
        _ => 800,
    }
}

/// A protocol of `station` for the party-list contest that passes every control relation of the
/// tiny example's form, with `votes` (at most 300) for the first party.
pub fn protocol_body(station: &str, source: Source, votes: u64) -> Body {
    let options = [("sun", votes), ("river", 10), ("mountain", 5), ("against_all", 1)];
    let valid: u64 = options.iter().map(|(_, n)| n).sum();
    let invalid = 2;
    let issued = valid + invalid;
    let lines = [
        ("registered", registered(station)),
        ("ballots_received", 400),
        ("issued_early", 0),
        ("issued_in_room", issued),
        ("issued_outside", 0),
        ("cancelled", 400 - issued),
        ("in_portable_boxes", 0),
        ("in_stationary_boxes", issued),
        ("invalid", invalid),
        ("valid", valid),
        ("lost", 0),
        ("unaccounted", 0),
    ];
    Body::Protocol(Protocol {
        station: station.into(),
        contest: "list".into(),
        source,
        lines: lines.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        votes: options.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        preferences: BTreeMap::new(),
        supersedes: None,
        scan_sha256: None,
    })
}

/// A signed submission's bytes.
pub fn signed(signer: &str, key: &SigningKey, seq: u64, body: Body) -> Vec<u8> {
    payload(signer, seq, body).sign(key).to_bytes()
}

/// An observer's protocol: distinct for each `(n, seq)`.
pub fn observer_protocol(n: u8, seq: u64) -> Vec<u8> {
    let (id, key) = observer(n);
    signed(&id, &key, seq, protocol_body("1001", Source::Observer, seq % 300))
}

/// An annulment by the admin, padded to about `size` bytes with its reason.
pub fn admin_annulment(seq: u64, size: usize) -> Vec<u8> {
    let body = Body::Annulment(Annulment {
        station: "1003".into(),
        contest: None,
        reason: format!("decision {seq} {}", "x".repeat(size.saturating_sub(330))),
    });
    signed(ADMIN.0, &key(ADMIN.1), seq, body)
}

pub fn key_registration(seq: u64, record: sverka_model::election::KeyRecord) -> Vec<u8> {
    signed(ADMIN.0, &key(ADMIN.1), seq, Body::KeyRegistration(KeyRegistration { key: record }))
}

pub fn key_revocation(seq: u64, key_id: &str) -> Vec<u8> {
    let body = Body::KeyRevocation(KeyRevocation { key_id: key_id.into(), reason: "lost".into() });
    signed(ADMIN.0, &key(ADMIN.1), seq, body)
}

/// A new data directory for the test election (on SQLite).
pub fn init(dir: &Path, config: Config) -> Store {
    Store::init_with(dir, &election_toml(), "election.toml", config).expect("init")
}

/// The store a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// `DIR/sverka.db`.
    Sqlite,
    /// A database of its own on the test server: its URL.
    Postgres(String),
}

/// Database names made by this test process.
static DATABASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `url` with its database name replaced by `name` (URL or key=value form).
pub fn with_database_name(url: &str, name: &str) -> String {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return format!("{url} dbname={name}");
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").unwrap() + 3;
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

impl Backend {
    /// A fresh, empty database on the PostgreSQL server of `SVERKA_TEST_POSTGRES`; `None` (and a
    /// line saying the test was skipped) without it, a panic without it under CI.
    pub fn postgres() -> Option<Backend> {
        let Ok(server) = std::env::var("SVERKA_TEST_POSTGRES") else {
            let required = std::env::var("SVERKA_REQUIRE_SHARED").is_ok_and(|v| v == "1")
                || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(
                !required,
                "SVERKA_TEST_POSTGRES is not set: the PostgreSQL store tests need a server (.ci/run starts one)"
            );
            eprintln!("skipped: the PostgreSQL run of this test (SVERKA_TEST_POSTGRES is not set)");
            return None;
        };
        let name = format!(
            "sverka_test_{}_{}_{:08x}",
            std::process::id(),
            DATABASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            rand_tag()
        );
        let mut client = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to SVERKA_TEST_POSTGRES ({server}): {e}"));
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
        Some(Backend::Postgres(with_database_name(&server, &name)))
    }

    /// The same kind of backend with a database of its own (PostgreSQL holds one log per
    /// database).
    pub fn another(&self) -> Backend {
        match self {
            Backend::Sqlite => Backend::Sqlite,
            Backend::Postgres(_) => Backend::postgres().expect("a PostgreSQL server"),
        }
    }

    /// `config` on this backend.
    pub fn config(&self, config: Config) -> Config {
        match self {
            Backend::Sqlite => config,
            Backend::Postgres(url) => {
                Config { database: Some(sverka_store::Database::Postgres(url.clone())), ..config }
            }
        }
    }

    /// A new data directory for the test election on this backend.
    pub fn init(&self, dir: &Path, config: Config) -> Store {
        init(dir, self.config(config))
    }
}

fn rand_tag() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos(),
    );
    hasher.finish() as u32
}

/// Runs each named test function (`fn name(backend: &Backend)`) once per backend: as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::common::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(backend) = super::common::Backend::postgres() {
                    super::$name(&backend)
                }
            })*
        }
    };
}

/// Every checkpoint note the log key signed, as seen by the observer hook.
#[derive(Clone, Default)]
pub struct SignedNotes(pub Arc<Mutex<Vec<String>>>);

impl SignedNotes {
    pub fn hook(&self) -> sverka_store::CheckpointObserver {
        let notes = self.0.clone();
        Arc::new(move |note: &str| notes.lock().unwrap().push(note.to_string()))
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// `(size, root)` of a checkpoint note, verified with the log's verifier key (sverka-tlog).
pub fn open_checkpoint(note: &str, vkey: &str) -> (u64, Hash) {
    let verifier = sverka_tlog::note::Ed25519Verifier::from_vkey(vkey).expect("vkey");
    let known = sverka_tlog::note::VerifierSet::with(vec![Box::new(verifier)]).unwrap();
    let (checkpoint, _) = sverka_tlog::Checkpoint::open(note.as_bytes(), &known).expect("signed");
    (checkpoint.size(), checkpoint.root())
}

/// Asserts that no size was signed with two roots, over every note ever signed.
pub fn assert_one_root_per_size(notes: &[String], vkey: &str) {
    let mut roots: HashMap<u64, Hash> = HashMap::new();
    for note in notes {
        let (size, root) = open_checkpoint(note, vkey);
        let previous = roots.insert(size, root);
        assert!(previous.is_none() || previous == Some(root), "size {size} signed with two roots");
    }
}

/// The log's invariants, checked from the outside after a reopen: the signed checkpoint verifies,
/// the root recomputed from every leaf equals both the signed root (at its size) and the tiles'
/// root, every acknowledged receipt is at its index with its bytes, and no entry appears twice.
pub fn assert_log_sound(store: &Store, acknowledged: &[(Receipt, Vec<u8>)]) {
    let size = store.tree_size().unwrap();
    let entries = store.entries(0..size).unwrap();
    let leaves: Vec<Hash> = entries.iter().map(|e| sverka_tlog::leaf_hash(e)).collect();
    let mut seen = std::collections::HashSet::new();
    for leaf in &leaves {
        assert!(seen.insert(*leaf), "an entry appears twice");
    }
    let checkpoint = store.checkpoint().unwrap();
    let (signed_size, signed_root) = open_checkpoint(&checkpoint.note, store.verifier_key());
    assert!(signed_size <= size);
    assert_eq!(sverka_tlog::merkle::root(&leaves[..signed_size as usize]), signed_root);
    for (receipt, bytes) in acknowledged {
        let stored = store.entry(receipt.index).unwrap().expect("acknowledged entry is stored");
        assert_eq!(&stored, bytes, "entry {} is not what was acknowledged", receipt.index);
        assert_eq!(receipt.leaf_hash, sverka_tlog::leaf_hash(bytes));
    }
    for old in store.checkpoint_history().unwrap() {
        let proof = store.consistency_proof(old.size, signed_size).unwrap();
        sverka_tlog::verify_consistency(old.size, signed_size, &proof, &old.root, &signed_root)
            .expect("every signed checkpoint is consistent with the latest");
    }
}
