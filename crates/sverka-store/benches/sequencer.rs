//! Benchmarks (divan) of the embedded store, on the data directory's real SQLite file (WAL,
//! `synchronous=FULL`, so every batch is fsynced):
//!
//! - `durable_batch_256x1kib_sequencing`: one batch of 256 signed submissions of about 1 KiB,
//!   already decoded and signature-verified (`Store::prepare`, outside the timing): what the
//!   sequencer thread does, admission without Ed25519 (keys, roles, sequence numbers, dedup
//!   lookups), insert, tiles, commit with fsync. Goal ≥ 50,000 entries/s.
//! - `durable_batch_256x1kib_with_checkpoint`: the same plus signing and recording a checkpoint
//!   after the batch (the default `CheckpointPolicy::EveryBatch`).
//! - `durable_batch_256x1kib_end_to_end`: `Store::submit_batch`, decoding and Ed25519 verification
//!   (spread over the cores by `Store::prepare`) included.
//! - `admission_256_verified`: `admit_candidate` alone for 256 submissions whose signatures were
//!   verified beforehand, in memory: what the sequencer thread spends on admission, so the
//!   durable write path is the difference.
//! - `admission_256_verifying`: `admit` for the same, verifying each signature on the way (what
//!   the sequencer thread spent before verification moved to the submitting threads).
//! - `tiles_and_checkpoint_1m`: opening a store whose 1,000,000 entries have no tiles yet (the
//!   crash-recovery path): read the leaf hashes, build and store every tile, sign checkpoint
//!   1,000,000. Goal ≤ 10 s.
//!
//! Run: `cargo bench -p sverka-store --bench sequencer`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use divan::counter::ItemsCount;
use divan::Bencher;
use ed25519_dalek::SigningKey;
use sverka_model::registry::Candidate;
use sverka_model::submission::Annulment;
use sverka_model::{Body, Payload};
use sverka_store::admission::admit_candidate;
use sverka_store::{CheckpointPolicy, Config, Incoming, Store};

fn main() {
    divan::main();
}

const BATCH: u64 = 256;

fn admin() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn election_toml() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny/election.toml");
    let mut text = std::fs::read_to_string(path).expect("examples/tiny/election.toml");
    let public = sverka_model::keys::encode_public_key(&admin().verifying_key());
    text.push_str(&format!(
        "\n[[keys]]\nid = \"cec-1\"\nrole = \"admin\"\npublic_key = \"{public}\"\n"
    ));
    text
}

/// A ~1 KiB signed annulment with sequence number `seq`.
fn submission(seq: u64) -> Vec<u8> {
    let payload = Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: "cec-1".into(),
        seq,
        time: None,
        body: Body::Annulment(Annulment {
            station: "1003".into(),
            contest: None,
            reason: format!("decision {seq}: {}", "x".repeat(860)),
        }),
    };
    payload.sign(&admin()).to_bytes()
}

struct Bench {
    _temp: tempfile::TempDir,
    store: Store,
    next_seq: AtomicU64,
}

impl Bench {
    fn new(policy: CheckpointPolicy) -> Bench {
        let temp = tempfile::tempdir_in(bench_dir()).expect("temp dir");
        let config = Config { checkpoint: policy, ..Config::default() };
        let store = Store::init_with(&temp.path().join("data"), &election_toml(), "e.toml", config)
            .expect("init");
        Bench { _temp: temp, store, next_seq: AtomicU64::new(1) }
    }

    fn next_batch(&self) -> Vec<Incoming> {
        let first = self.next_seq.fetch_add(BATCH, Ordering::Relaxed);
        (first..first + BATCH)
            .map(|seq| Incoming { bytes: submission(seq), sender: "bench".into() })
            .collect()
    }
}

/// Where benchmark stores live: next to the target directory (a real disk, not tmpfs).
fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store");
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn run_prepared(bencher: Bencher, bench: &Bench) {
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| bench.store.prepare(bench.next_batch()))
        .bench_local_values(|batch| {
            for answer in bench.store.submit_prepared(batch) {
                assert!(answer.expect("accepted").new);
            }
        });
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn durable_batch_256x1kib_sequencing(bencher: Bencher) {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    run_prepared(bencher, BENCH.get_or_init(|| Bench::new(CheckpointPolicy::Manual)));
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn durable_batch_256x1kib_with_checkpoint(bencher: Bencher) {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    run_prepared(bencher, BENCH.get_or_init(|| Bench::new(CheckpointPolicy::EveryBatch)));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn durable_batch_256x1kib_end_to_end(bencher: Bencher) {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    let bench = BENCH.get_or_init(|| Bench::new(CheckpointPolicy::Manual));
    bencher.counter(ItemsCount::new(BATCH)).with_inputs(|| bench.next_batch()).bench_local_values(
        |batch| {
            for answer in bench.store.submit_incoming(batch) {
                assert!(answer.expect("accepted").new);
            }
        },
    );
}

fn admission_fixture() -> (sverka_store::State, Vec<sverka_model::Submission>) {
    let election = sverka_model::Election::from_toml("e.toml", &election_toml()).expect("election");
    let state = sverka_store::State::new(std::sync::Arc::new(election), admin().verifying_key());
    let submissions = (1..=BATCH)
        .map(|seq| sverka_model::Submission::decode(&submission(seq)).expect("decode"))
        .collect();
    (state, submissions)
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn admission_256_verified(bencher: Bencher) {
    let (state, submissions) = admission_fixture();
    let key = state.registry().verifying_key("cec-1");
    let candidates: Vec<Candidate> =
        submissions.into_iter().map(|s| Candidate::new(s, key.as_ref())).collect();
    let context = sverka_model::validate::ProtocolContext::default();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        for candidate in &candidates {
            admit_candidate(&state, candidate, &context).expect("admitted");
        }
    });
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn admission_256_verifying(bencher: Bencher) {
    let (state, submissions) = admission_fixture();
    let context = sverka_model::validate::ProtocolContext::default();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        for submission in &submissions {
            sverka_store::admit(&state, submission, &context).expect("admitted");
        }
    });
}

const LARGE: u64 = 1_000_000;

/// A data directory whose entries 1..1,000,000 were inserted without tiles (as if a crash had
/// come after their commit but before any tile was built), made once and copied per sample.
fn untiled_template() -> &'static PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = bench_dir().join("untiled-1m");
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
        drop(Store::init_with(&dir, &election_toml(), "e.toml", config).expect("init"));
        let mut conn = rusqlite::Connection::open(dir.join("sverka.db")).expect("db");
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO entries (idx, leaf_hash, bytes, signer, seq, kind)
                     VALUES (?1, ?2, ?3, 'bench', ?1, 'protocol')",
                )
                .expect("prepare");
            for idx in 1..LARGE {
                let bytes = format!("{{\"entry\":{idx},\"note\":\"{}\"}}", "p".repeat(100));
                let leaf = sverka_tlog::leaf_hash(bytes.as_bytes());
                insert
                    .execute(rusqlite::params![idx as i64, &leaf.0[..], bytes.as_bytes()])
                    .expect("row");
            }
        }
        tx.commit().expect("commit");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").expect("checkpoint");
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn tiles_and_checkpoint_1m(bencher: Bencher) {
    let template = untiled_template();
    bencher
        .with_inputs(|| {
            let temp = tempfile::tempdir_in(bench_dir()).expect("temp");
            copy_dir(template, &temp.path().join("data"));
            temp
        })
        .bench_local_values(|temp| {
            let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
            let store = Store::open_with(&temp.path().join("data"), config).expect("open");
            assert_eq!(store.checkpoint_now().expect("sign").size, LARGE);
            temp
        });
}
