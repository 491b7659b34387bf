//! Ingest through the HTTP API (issue 4, "Speed"): a real server on a loopback port, a real SQLite
//! data directory on disk (WAL, `synchronous=FULL`: every receipt is durable), the store and server
//! configured as `sverka serve` configures them, and signed submissions from the simulated 2021
//! night (`sverka_model::simulate`, as `sverka simulate` writes them).
//!
//! It measures, in one run:
//!
//! 1. the raw Ed25519 rate: `verify_strict` of single signatures (message and key ready), on every
//!    core at once: the ceiling for anything that verifies each submission; and the CPU time one
//!    submission costs on one core in each step of `Store::prepare` (hash, decode, verify);
//! 2. **batches**: the 2021 election rescaled to `SVERKA_BENCH_STATIONS` stations (default
//!    20,000), every submission POSTed to `/api/v1/submissions/batch` in batches of
//!    `SVERKA_BENCH_BATCH` (default 500) JSON lines by `SVERKA_BENCH_CLIENTS` (default 4)
//!    concurrent clients; each client sends the submissions of its own signers in night order (a
//!    signer's sequence numbers must arrive in order). Goal ≥ 20,000 protocols/s, and ≥ 0.6 × the
//!    raw verify rate. The same batches are also fed to `Store::submit_batch` from as many threads,
//!    without HTTP or a server, to separate the store's share from the server's;
//! 3. **scanners**: the 2021 night as is (2,494 stations); every scanner that reports starts at a
//!    time drawn from a front-loaded spread over `SVERKA_BENCH_WINDOW_SECS` (default 60) seconds
//!    (density falling linearly to zero at the end of the window: half the scanners start in the
//!    first 18 s) and POSTs its protocols one at a time to `/api/v1/submissions`, each after the
//!    previous receipt; the latency of each POST (request sent to receipt read) is recorded. Goal
//!    p99 ≤ 50 ms.
//!
//! Every rate is reported twice: wall clock, and from the process's CPU time (`/proc/self/stat`),
//! which says what two idle cores would do when other work shares the machine (the ratio to the
//! raw verify rate is given both ways).
//!
//! Run: `cargo bench -p sverka-server --bench ingest` (about three minutes);
//! `SVERKA_BENCH_PARTS=store,http,scanners` (the default) picks which of the three to run. Figures go to
//! BENCHMARKS.md with the machine; the client runs in the same process, on the same cores, as the
//! server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use sverka_model::registry::KeyRegistry;
use sverka_model::simulate::{Config as SimConfig, Night};
use sverka_model::{Body, Election, Source, Submission};

/// The allocator of the `sverka` binary (`crates/sverka-cli/src/main.rs`), so that the server
/// measured here allocates as `sverka serve` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KYRGYZSTAN_2021: &str = include_str!("../../../examples/kyrgyzstan-2021/election.toml");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stations = env_number("SVERKA_BENCH_STATIONS", 20_000);
    let batch = env_number("SVERKA_BENCH_BATCH", 500) as usize;
    let clients = env_number("SVERKA_BENCH_CLIENTS", 4) as usize;
    let window = Duration::from_secs(env_number("SVERKA_BENCH_WINDOW_SECS", 60));
    let parts =
        std::env::var("SVERKA_BENCH_PARTS").unwrap_or_else(|_| "store,http,scanners".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    println!("ingest benchmark: {cores} cores");

    let night = simulate(Some(stations));
    println!(
        "simulated the 2021 election rescaled to {stations} stations: {} submissions",
        night.lines.len()
    );
    let verify = raw_verify_rate(&night, cores, Duration::from_secs(3));
    println!(
        "raw Ed25519 verify_strict on {cores} cores: {:.0} signatures/s wall; {:.1} µs of CPU each, so {:.0}/s on {cores} idle cores",
        verify.per_second,
        verify.cpu_each * 1e6,
        cores as f64 / verify.cpu_each
    );
    let [hash, decode, verify_one] = per_submission_costs(&night);
    println!(
        "one submission, CPU time on one core: leaf hash {hash:.1} µs, decode (canonical, one pass) {decode:.1} µs, Ed25519 check {verify_one:.1} µs"
    );
    let report = |what: &str, outcome: &BatchOutcome| {
        let wall_rate = outcome.accepted as f64 / outcome.elapsed.as_secs_f64();
        let cpu_each = outcome.cpu / outcome.accepted as f64;
        println!(
            "{what}: {} submissions in {:.2} s: {} accepted, {} already in the log, {} refused; {wall_rate:.0} protocols/s wall ({:.2} × the raw verify rate); {:.1} µs of CPU each, so {:.0}/s on {cores} idle cores ({:.2} ×)",
            outcome.accepted + outcome.repeated + outcome.refused,
            outcome.elapsed.as_secs_f64(),
            outcome.accepted,
            outcome.repeated,
            outcome.refused,
            wall_rate / verify.per_second,
            cpu_each * 1e6,
            cores as f64 / cpu_each,
            verify.cpu_each / cpu_each,
        );
        println!(
            "  of which the sequencer thread (serial): {:.1} µs of CPU each, so at most {:.0}/s; its WAL checkpointer {:.1} µs each",
            outcome.sequencer / outcome.accepted as f64 * 1e6,
            outcome.accepted as f64 / outcome.sequencer,
            outcome.checkpointer / outcome.accepted as f64 * 1e6,
        );
        println!(
            "  bytes the process wrote (WAL, database file): {:.1} KiB per protocol",
            outcome.written as f64 / outcome.accepted as f64 / 1024.0,
        );
    };
    if part("store") {
        let store_only = store_batches(&night, batch, clients);
        report(
            &format!("Store::submit_batch, batches of {batch} from {clients} threads (no HTTP)"),
            &store_only,
        );
    }
    if part("http") {
        let batches = ingest_batches(&night, batch, clients);
        report(&format!("HTTP, batches of {batch} by {clients} clients"), &batches);
    }
    if !part("scanners") {
        return;
    }
    let night = simulate(None);
    let latency = scanners(&night, window);
    println!(
        "{} scanners, {} single POSTs over {:.1} s ({} accepted, {} other answers): latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latency.scanners,
        latency.millis.len(),
        latency.elapsed.as_secs_f64(),
        latency.accepted,
        latency.millis.len() as u64 - latency.accepted,
        percentile(&latency.millis, 0.50),
        percentile(&latency.millis, 0.90),
        percentile(&latency.millis, 0.99),
        percentile(&latency.millis, 1.0),
    );
}

/// A simulated night: the election with its keys, and every submission line in night order.
struct SimulatedNight {
    election_toml: String,
    lines: Vec<Vec<u8>>,
    decoded: Vec<Submission>,
}

fn simulate(stations: Option<u64>) -> SimulatedNight {
    let config = SimConfig { seed: 1, stations, ..SimConfig::default() };
    let night = Night::new("election.toml", KYRGYZSTAN_2021, config).expect("the 2021 night");
    let lines: Vec<Vec<u8>> = night
        .submissions()
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let decoded = lines.iter().map(|line| Submission::decode(line).expect("decodes")).collect();
    SimulatedNight { election_toml: night.election_toml(), lines, decoded }
}

struct VerifyRate {
    per_second: f64,
    /// Process CPU seconds per signature.
    cpu_each: f64,
}

/// `verify_strict` of ready single signatures on `threads` threads for about `duration`.
fn raw_verify_rate(night: &SimulatedNight, threads: usize, duration: Duration) -> VerifyRate {
    let election = Election::from_toml("election.toml", &night.election_toml).expect("election");
    let registry = KeyRegistry::from_election(&election);
    let work: Vec<(VerifyingKey, Vec<u8>, Signature)> = night
        .decoded
        .iter()
        .take(4096)
        .map(|submission| {
            let key = registry.verifying_key(&submission.payload.signer).expect("registered");
            let signature = Signature::from_bytes(&submission.signature_bytes().expect("64 bytes"));
            (key, submission.payload.signing_message(), signature)
        })
        .collect();
    let done = AtomicU64::new(0);
    let cpu = process_cpu();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for offset in 0..threads {
            let (work, done) = (&work, &done);
            scope.spawn(move || {
                let mut count = 0u64;
                let mut i = offset * work.len() / threads;
                while start.elapsed() < duration {
                    for _ in 0..64 {
                        let (key, message, signature) = &work[i % work.len()];
                        assert!(key.verify_strict(message, signature).is_ok());
                        i += 1;
                        count += 1;
                    }
                }
                done.fetch_add(count, Ordering::Relaxed);
            });
        }
    });
    let count = done.load(Ordering::Relaxed) as f64;
    VerifyRate {
        per_second: count / start.elapsed().as_secs_f64(),
        cpu_each: (process_cpu() - cpu) / count,
    }
}

/// A server on 127.0.0.1 over a fresh data directory, run as `sverka serve` runs it.
struct Server {
    base: String,
    store: sverka_store::Store,
    runtime: tokio::runtime::Runtime,
    shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// Where benchmark data directories live: under the target directory (a real disk, not tmpfs).
fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-ingest");
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn start_server(election_toml: &str) -> Server {
    let dir = tempfile::tempdir_in(bench_dir()).expect("temp dir");
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store = sverka_store::Store::init_with(
        &dir.path().join("data"),
        election_toml,
        "election.toml",
        store_config,
    )
    .expect("init");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("rt");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = sverka_server::AppState::new(store.clone(), sverka_server::Config::default());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = runtime.spawn(sverka_server::run(listener, state, async move {
        let _ = stopped.await;
    }));
    Server { base, store, runtime, shutdown, handle, _dir: dir }
}

impl Server {
    /// Stops the server; with `SVERKA_BENCH_KEEP=1` its data directory is kept and named.
    fn stop(self) {
        let _ = self.shutdown.send(());
        self.runtime.block_on(self.handle).expect("server task").expect("server");
        if std::env::var_os("SVERKA_BENCH_KEEP").is_some() {
            drop(self.store);
            println!("  kept the data directory {}", self._dir.keep().display());
        }
    }
}

/// A client runtime separate from the server's, as a sender's process would be.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("client runtime")
}

struct BatchOutcome {
    elapsed: Duration,
    /// Process CPU seconds spent meanwhile (server and client).
    cpu: f64,
    /// CPU seconds of the store's sequencer thread meanwhile (the serial part of ingest) and of
    /// its WAL checkpointer.
    sequencer: f64,
    checkpointer: f64,
    /// Bytes the process wrote meanwhile (`/proc/self/io` `wchar`: the WAL's frames, the
    /// checkpoints' copies into the database file).
    written: u64,
    accepted: u64,
    repeated: u64,
    refused: u64,
}

/// The names (as Linux shortens them to 15 bytes) of the store's sequencer thread and of its WAL
/// checkpointer (its helper that frees submissions is `sverka-seq-free`).
const SEQUENCER: &str = "sverka-sequence";
const CHECKPOINTER: &str = "sverka-wal-chec";

/// Splits the night's lines into `clients` streams by signer (each in night order) and each
/// stream into batches of `batch` submissions.
fn batch_streams(night: &SimulatedNight, batch: usize, clients: usize) -> Vec<Vec<Vec<Vec<u8>>>> {
    let mut streams: Vec<Vec<&[u8]>> = vec![Vec::new(); clients];
    let mut stream_of: HashMap<&str, usize> = HashMap::new();
    for (line, submission) in night.lines.iter().zip(&night.decoded) {
        let next = stream_of.len() % clients;
        let stream = *stream_of.entry(submission.payload.signer.as_str()).or_insert(next);
        streams[stream].push(line);
    }
    streams
        .into_iter()
        .map(|lines| {
            lines.chunks(batch).map(|chunk| chunk.iter().map(|l| l.to_vec()).collect()).collect()
        })
        .collect()
}

/// The same batches straight into `Store::submit_batch` from `clients` threads: no HTTP, no
/// server (and so none of its live results task), for comparison.
fn store_batches(night: &SimulatedNight, batch: usize, clients: usize) -> BatchOutcome {
    let dir = tempfile::tempdir_in(bench_dir()).expect("temp dir");
    let config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store = sverka_store::Store::init_with(
        &dir.path().join("data"),
        &night.election_toml,
        "election.toml",
        config,
    )
    .expect("init");
    let streams = batch_streams(night, batch, clients);
    let (sequencer, checkpointer) = (threads_cpu(SEQUENCER), threads_cpu(CHECKPOINTER));
    let cpu = process_cpu();
    let written = process_written();
    let start = Instant::now();
    let counts: Vec<[u64; 3]> = std::thread::scope(|scope| {
        let handles: Vec<_> = streams
            .into_iter()
            .map(|batches| {
                let store = &store;
                scope.spawn(move || {
                    let mut counts = [0u64; 3];
                    for batch in batches {
                        for answer in store.submit_batch(batch) {
                            match answer {
                                Ok(receipt) if receipt.new => counts[0] += 1,
                                Ok(_) => counts[1] += 1,
                                Err(_) => counts[2] += 1,
                            }
                        }
                    }
                    counts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu;
    let written = process_written() - written;
    let sequencer = threads_cpu_since(SEQUENCER, &sequencer);
    let checkpointer = threads_cpu_since(CHECKPOINTER, &checkpointer);
    let sum = |i: usize| counts.iter().map(|c| c[i]).sum::<u64>();
    BatchOutcome {
        elapsed,
        cpu,
        sequencer,
        checkpointer,
        written,
        accepted: sum(0),
        repeated: sum(1),
        refused: sum(2),
    }
}

/// CPU seconds of each thread of this process whose name starts with `prefix`, by thread id
/// (`/proc/self/task/*/comm` and `schedstat`).
fn threads_cpu(prefix: &str) -> HashMap<u64, f64> {
    let mut found = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return found };
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.starts_with(prefix));
        let tid = task.file_name().to_str().and_then(|t| t.parse::<u64>().ok());
        let text = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        let ns = text.split_whitespace().next().and_then(|n| n.parse::<f64>().ok());
        if let (true, Some(tid), Some(ns)) = (named, tid, ns) {
            found.insert(tid, ns / 1e9);
        }
    }
    found
}

/// The CPU seconds that threads named `prefix…` spent between two [`threads_cpu`] readings
/// (threads that ended in between are not counted).
fn threads_cpu_since(prefix: &str, before: &HashMap<u64, f64>) -> f64 {
    threads_cpu(prefix).iter().map(|(tid, cpu)| cpu - before.get(tid).unwrap_or(&0.0)).sum()
}

/// CPU time of the calling thread (`/proc/thread-self/schedstat`, nanoseconds), in seconds.
fn thread_cpu() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    text.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0) / 1e9
}

/// CPU time of the whole process, every thread including those that ended (`/proc/self/stat`,
/// user + system, clock ticks of 1/100 s), in seconds.
/// Bytes the process has written (`/proc/self/io`, `wchar`: `write` and `pwrite` calls).
fn process_written() -> u64 {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = text.lines().find_map(|line| line.strip_prefix("wchar:"));
    field.and_then(|value| value.trim().parse().ok()).unwrap_or(0)
}

fn process_cpu() -> f64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// What one submission costs in CPU time on one core, by step of `Store::prepare`: the leaf
/// hash, decoding (`Submission::decode_signed`), the Ed25519 check (`Decoded::verify_under`).
fn per_submission_costs(night: &SimulatedNight) -> [f64; 3] {
    let election = Election::from_toml("election.toml", &night.election_toml).expect("election");
    let registry = KeyRegistry::from_election(&election);
    let lines = &night.lines[..night.lines.len().min(4000)];
    let per_line = |cpu: f64| cpu * 1e6 / lines.len() as f64;
    let start = thread_cpu();
    for line in lines {
        std::hint::black_box(sverka_tlog::leaf_hash(line));
    }
    let hash = per_line(thread_cpu() - start);
    let start = thread_cpu();
    let decoded: Vec<_> =
        lines.iter().map(|line| Submission::decode_signed(line).expect("decodes")).collect();
    let decode = per_line(thread_cpu() - start);
    let keys: Vec<VerifyingKey> = decoded
        .iter()
        .map(|d| registry.verifying_key(&d.submission().payload.signer).expect("registered"))
        .collect();
    let start = thread_cpu();
    for (decoded, key) in decoded.into_iter().zip(&keys) {
        assert!(decoded.verify_under(key).is_ok());
    }
    let verify = per_line(thread_cpu() - start);
    [hash, decode, verify]
}

fn ingest_batches(night: &SimulatedNight, batch: usize, clients: usize) -> BatchOutcome {
    let server = start_server(&night.election_toml);
    let streams: Vec<Vec<Vec<u8>>> = batch_streams(night, batch, clients)
        .into_iter()
        .map(|batches| batches.into_iter().map(|lines| lines.join(&b'\n')).collect())
        .collect();
    let url = format!("{}/api/v1/submissions/batch", server.base);
    let client = reqwest::Client::new();
    let (sequencer, checkpointer) = (threads_cpu(SEQUENCER), threads_cpu(CHECKPOINTER));
    let cpu = process_cpu();
    let written = process_written();
    let start = Instant::now();
    let counts = client_runtime().block_on(async {
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|bodies| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let mut counts = [0u64; 3];
                    for body in bodies {
                        let response = client.post(&url).body(body).send().await.expect("post");
                        assert!(response.status().is_success(), "batch: {}", response.status());
                        let answer: serde_json::Value = response.json().await.expect("json");
                        for item in answer["results"].as_array().expect("results") {
                            match item["status"].as_u64() {
                                Some(201) => counts[0] += 1,
                                Some(200) => counts[1] += 1,
                                _ => counts[2] += 1,
                            }
                        }
                    }
                    counts
                })
            })
            .collect();
        let mut total = [0u64; 3];
        for task in tasks {
            let counts = task.await.expect("client task");
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
        total
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu;
    let written = process_written() - written;
    let sequencer = threads_cpu_since(SEQUENCER, &sequencer);
    let checkpointer = threads_cpu_since(CHECKPOINTER, &checkpointer);
    let size = server.store.tree_size().expect("tree size");
    assert_eq!(size, 1 + counts[0], "every accepted submission is in the log");
    server.stop();
    BatchOutcome {
        elapsed,
        cpu,
        sequencer,
        checkpointer,
        written,
        accepted: counts[0],
        repeated: counts[1],
        refused: counts[2],
    }
}

struct Latency {
    scanners: usize,
    millis: Vec<f64>,
    accepted: u64,
    elapsed: Duration,
}

/// splitmix64: a fixed, seedable spread of start times.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn scanners(night: &SimulatedNight, window: Duration) -> Latency {
    let mut by_scanner: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (line, submission) in night.lines.iter().zip(&night.decoded) {
        if let Body::Protocol(protocol) = &submission.payload.body {
            if protocol.source == Source::Machine {
                by_scanner.entry(submission.payload.signer.clone()).or_default().push(line.clone());
            }
        }
    }
    let mut scanners: Vec<(String, Vec<Vec<u8>>)> = by_scanner.into_iter().collect();
    scanners.sort();
    let mut seed = 2021;
    let starts: Vec<Duration> = scanners
        .iter()
        .map(|_| {
            let u = (splitmix64(&mut seed) >> 11) as f64 / (1u64 << 53) as f64;
            window.mul_f64(1.0 - (1.0 - u).sqrt())
        })
        .collect();
    let count = scanners.len();
    let server = start_server(&night.election_toml);
    let url = format!("{}/api/v1/submissions", server.base);
    let client = reqwest::Client::builder().pool_max_idle_per_host(4096).build().expect("client");
    let start = Instant::now();
    let results = client_runtime().block_on(async {
        let tasks: Vec<_> = scanners
            .into_iter()
            .zip(starts)
            .map(|((_, lines), at)| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(start + at)).await;
                    let mut answers = Vec::new();
                    for line in lines {
                        let sent = Instant::now();
                        let response = client.post(&url).body(line).send().await.expect("post");
                        let status = response.status().as_u16();
                        let _ = response.bytes().await.expect("body");
                        answers.push((sent.elapsed().as_secs_f64() * 1e3, status));
                    }
                    answers
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("scanner task"));
        }
        all
    });
    let elapsed = start.elapsed();
    server.stop();
    let accepted = results.iter().filter(|(_, status)| *status == 201).count() as u64;
    let mut millis: Vec<f64> = results.into_iter().map(|(ms, _)| ms).collect();
    millis.sort_by(f64::total_cmp);
    Latency { scanners: count, millis, accepted, elapsed }
}

/// The `q` quantile (nearest rank) of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
