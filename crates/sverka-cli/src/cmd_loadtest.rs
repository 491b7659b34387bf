//! `sverka loadtest URL --night DIR [--scanners N] [--readers M] …`: election night against a
//! running server, as a load test. It drives N scanner clients and M readers at once and reports
//! throughput, latency percentiles, errors and lost acknowledgements.
//!
//! - **Scanners** are the first N scanners (`machine` keys) of the simulated night in `DIR` (the
//!   night `sverka simulate` wrote and whose `election.toml` the server was initialised with). Each
//!   has its own connection and sends its protocols one after the other, byte for byte the lines of
//!   `submissions.jsonl`. Their start times spread over `--window` seconds with a density falling
//!   linearly to zero, as boxes report after poll close (half of them in the first 29 %). Every
//!   request has a timeout; a timeout, a network error, `503`, `429` or `408` is retried with the
//!   same bytes after an exponential backoff with full jitter (at least the server's
//!   `Retry-After`), so a retry of a submission that did land is answered `200` with its first
//!   receipt. A share of the accepted ones (`--resend-share`) is sent once more, as a modem that
//!   lost the answer would, and must get the same receipt back.
//! - **Readers** each watch one page (the national page, a region's or a district's results, a
//!   station's page) and poll it every `--read-interval` milliseconds (±50 %), with
//!   `If-None-Match` as a browser or a news site's poller would, until the scanners are done.
//! - **Lost acknowledgements**: at the end every receipt is checked against the log: the server's
//!   checkpoint, verified with its `log.vkey`, must cover the receipt's index; the entry there must
//!   have the receipt's leaf hash, which must be the leaf hash of the bytes sent; and the Merkle root
//!   of all the log's entries must be the checkpoint's root. A receipt that fails any of these is a
//!   lost acknowledgement.
//!
//! Exit status 0 when there were no errors and no lost acknowledgements, 1 otherwise.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sverka_model::submission::{Body, Submission};
use sverka_tlog::tile::new_entry_bundles;
use sverka_tlog::{
    leaf_hash, merkle, parse_bundle, Checkpoint, Ed25519Verifier, Hash, PublicationReader,
    VerifierSet,
};

use crate::cmd_verify::reader_for;

#[derive(clap::Args)]
pub struct Args {
    /// The server, e.g. http://127.0.0.1:8080, running the election of --night
    url: String,
    /// The simulated night (`sverka simulate … --out DIR`) whose election.toml the server runs
    #[arg(long)]
    night: PathBuf,
    /// Scanner clients: the first N scanners of the night, each sending its own protocols
    #[arg(long, default_value_t = 100)]
    scanners: usize,
    /// Readers polling the results while the scanners report
    #[arg(long, default_value_t = 0)]
    readers: usize,
    /// Seconds over which the scanners start (density falling linearly to zero)
    #[arg(long, default_value_t = 60.0)]
    window: f64,
    /// Milliseconds between two polls of one reader (each wait is drawn within ±50 % of it)
    #[arg(long, default_value_t = 1000)]
    read_interval: u64,
    /// Milliseconds one request may take before the client gives up on it and retries
    #[arg(long, default_value_t = 5000)]
    timeout: u64,
    /// Retries of one submission before the scanner gives up (an error)
    #[arg(long, default_value_t = 8)]
    retries: u32,
    /// Share of accepted submissions sent once more with the same bytes (a lost answer)
    #[arg(long, default_value_t = 0.02)]
    resend_share: f64,
    /// Seed of the start times, jitter and readers' pages
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads of the client (default: one per core)
    #[arg(long)]
    threads: Option<usize>,
    /// The report as text or as one JSON object
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let window_ok = args.window.is_finite() && args.window >= 0.0;
    if !window_ok || !(0.0..=1.0).contains(&args.resend_share) || args.timeout == 0 {
        eprintln!(
            "sverka loadtest: --window must be ≥ 0, --resend-share within [0, 1], --timeout > 0"
        );
        return Ok(ExitCode::from(2));
    }
    let base = args.url.trim_end_matches('/').to_string();
    let night = load_night(&args.night, args.scanners)?;
    if night.scanners.len() < args.scanners {
        eprintln!(
            "sverka loadtest: the night has {} scanners that report; running with all of them",
            night.scanners.len()
        );
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.enable_all().build()?;
    let run = runtime.block_on(drive(&args, &base, &night))?;
    let acks = check_receipts(&base, &run.receipts)?;
    let report = Report::new(&args, &night, &run, acks);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", report.text(&base)),
    }
    Ok(if report.errors == 0 && report.acknowledgements.lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the load test sends and reads.
struct NightPlan {
    /// Each scanner's lines in file order (the order of the night).
    scanners: Vec<Vec<Vec<u8>>>,
    /// Pages a reader may watch.
    pages: Vec<String>,
}

/// The first `n` scanners of `dir/submissions.jsonl` (in the order they first report) and the
/// pages of `dir/election.toml`.
fn load_night(dir: &std::path::Path, n: usize) -> anyhow::Result<NightPlan> {
    let path = dir.join("submissions.jsonl");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut order: Vec<String> = Vec::new();
    let mut lines: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    let mut stations = Vec::new();
    for (number, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let submission = Submission::decode(line)
            .with_context(|| format!("{}:{}: not a submission", path.display(), number + 1))?;
        let Body::Protocol(protocol) = &submission.payload.body else { continue };
        if protocol.source != sverka_model::names::Source::Machine {
            continue;
        }
        let signer = &submission.payload.signer;
        if !lines.contains_key(signer) {
            if order.len() == n {
                continue;
            }
            order.push(signer.clone());
            stations.push(protocol.station.clone());
        }
        lines.entry(signer.clone()).or_default().push(line.to_vec());
    }
    let scanners = order.iter().map(|s| lines.remove(s).unwrap_or_default()).collect();
    let election_path = dir.join("election.toml");
    let election_text = std::fs::read_to_string(&election_path)
        .with_context(|| format!("reading {}", election_path.display()))?;
    let election =
        sverka_model::Election::from_toml(&election_path.display().to_string(), &election_text)?;
    let mut pages = vec!["/".to_string(), "/?lang=ru".to_string(), "/?lang=en".to_string()];
    pages.extend(election.regions.iter().map(|r| format!("/api/v1/results/region/{}", r.id)));
    pages.extend(election.districts.iter().map(|d| format!("/api/v1/results/district/{}", d.id)));
    pages.extend(stations.iter().take(200).map(|s| format!("/station/{s}")));
    Ok(NightPlan { scanners, pages })
}

/// What the scanners and readers saw.
#[derive(Default)]
struct Run {
    /// Each accepted submission's receipt and the bytes sent.
    receipts: Vec<SentReceipt>,
    /// Milliseconds of every submission request that got an answer.
    submit_ms: Vec<f64>,
    /// Milliseconds from a submission's first try to its receipt, retries included.
    receipt_ms: Vec<f64>,
    read_ms: Vec<f64>,
    counts: Counts,
    /// From the first scanner's start to the last receipt.
    submit_seconds: f64,
    read_seconds: f64,
    /// The first few errors, for the report.
    examples: Vec<String>,
}

#[derive(Default, Clone, Serialize)]
struct Counts {
    protocols: u64,
    created: u64,
    repeated: u64,
    resent: u64,
    resent_mismatch: u64,
    rejected: u64,
    gave_up: u64,
    retries: u64,
    timeouts: u64,
    network_errors: u64,
    busy_503: u64,
    limited_429: u64,
    other_status: u64,
    bad_receipts: u64,
    reads: u64,
    reads_ok: u64,
    reads_not_modified: u64,
    read_errors: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        let Counts {
            protocols,
            created,
            repeated,
            resent,
            resent_mismatch,
            rejected,
            gave_up,
            retries,
            timeouts,
            network_errors,
            busy_503,
            limited_429,
            other_status,
            bad_receipts,
            reads,
            reads_ok,
            reads_not_modified,
            read_errors,
        } = other;
        self.protocols += protocols;
        self.created += created;
        self.repeated += repeated;
        self.resent += resent;
        self.resent_mismatch += resent_mismatch;
        self.rejected += rejected;
        self.gave_up += gave_up;
        self.retries += retries;
        self.timeouts += timeouts;
        self.network_errors += network_errors;
        self.busy_503 += busy_503;
        self.limited_429 += limited_429;
        self.other_status += other_status;
        self.bad_receipts += bad_receipts;
        self.reads += reads;
        self.reads_ok += reads_ok;
        self.reads_not_modified += reads_not_modified;
        self.read_errors += read_errors;
    }
}

#[derive(Clone)]
struct SentReceipt {
    index: u64,
    leaf_hash: Hash,
    bytes: Arc<Vec<u8>>,
}

/// What one client (scanner or reader) recorded.
#[derive(Default)]
struct ClientLog {
    receipts: Vec<SentReceipt>,
    submit_ms: Vec<f64>,
    receipt_ms: Vec<f64>,
    read_ms: Vec<f64>,
    counts: Counts,
    examples: Vec<String>,
    last_receipt: Option<Instant>,
}

impl ClientLog {
    fn error(&mut self, what: String) {
        if self.examples.len() < 3 {
            self.examples.push(what);
        }
    }
}

/// The settings every scanner shares.
struct ScannerConfig {
    url: String,
    timeout: Duration,
    retries: u32,
    resend_share: f64,
}

async fn drive(args: &Args, base: &str, night: &NightPlan) -> anyhow::Result<Run> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let config = Arc::new(ScannerConfig {
        url: format!("{base}/api/v1/submissions"),
        timeout: Duration::from_millis(args.timeout),
        retries: args.retries,
        resend_share: args.resend_share,
    });
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..args.readers {
        let page = format!("{base}{}", night.pages[rng.gen_range(0..night.pages.len())]);
        let (done, seed, interval) = (done.clone(), rng.gen::<u64>(), args.read_interval);
        readers.push(tokio::spawn(read_loop(page, interval, seed, done)));
    }
    let n = night.scanners.len().max(1) as f64;
    let mut scanners = Vec::new();
    for (rank, lines) in night.scanners.iter().enumerate() {
        // Inverse of F(t) = 1 − (1 − t/W)², the density falling linearly from poll close.
        let u = ((rank as f64 + rng.gen::<f64>()) / n).min(1.0);
        let at = Duration::from_secs_f64(args.window * (1.0 - (1.0 - u).sqrt()));
        let lines: Vec<Arc<Vec<u8>>> = lines.iter().map(|l| Arc::new(l.clone())).collect();
        let (config, seed) = (config.clone(), rng.gen::<u64>());
        scanners.push(tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(start + at)).await;
            scanner(&config, lines, seed).await
        }));
    }
    let mut run = Run::default();
    let mut last_receipt = start;
    for scanner in scanners {
        let log = scanner.await.context("a scanner task failed")?;
        last_receipt = last_receipt.max(log.last_receipt.unwrap_or(start));
        merge(&mut run, log);
    }
    run.submit_seconds = last_receipt.duration_since(start).as_secs_f64();
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        let log = reader.await.context("a reader task failed")?;
        merge(&mut run, log);
    }
    run.read_seconds = start.elapsed().as_secs_f64();
    Ok(run)
}

fn merge(run: &mut Run, log: ClientLog) {
    run.receipts.extend(log.receipts);
    run.submit_ms.extend(log.submit_ms);
    run.receipt_ms.extend(log.receipt_ms);
    run.read_ms.extend(log.read_ms);
    run.counts.add(&log.counts);
    for example in log.examples {
        if run.examples.len() < 10 {
            run.examples.push(example);
        }
    }
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(1)
        .build()
        .expect("a plain HTTP client builds")
}

/// One scanner: its own connection, its protocols in order.
async fn scanner(config: &ScannerConfig, lines: Vec<Arc<Vec<u8>>>, seed: u64) -> ClientLog {
    let client = client(config.timeout);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = ClientLog::default();
    for bytes in lines {
        log.counts.protocols += 1;
        let first_try = Instant::now();
        let Some(receipt) = submit(&client, config, &bytes, &mut rng, &mut log).await else {
            continue;
        };
        log.receipt_ms.push(first_try.elapsed().as_secs_f64() * 1e3);
        log.last_receipt = Some(Instant::now());
        if rng.gen::<f64>() < config.resend_share {
            log.counts.resent += 1;
            let again = submit(&client, config, &bytes, &mut rng, &mut log).await;
            let same = again.as_ref().is_some_and(|r| {
                r.index == receipt.index && r.leaf_hash == receipt.leaf_hash && !r.new
            });
            if !same {
                log.counts.resent_mismatch += 1;
                log.error(format!(
                    "entry {} sent again: expected 200 with the same receipt, got {:?}",
                    receipt.index,
                    again.map(|r| (r.new, r.index))
                ));
            }
        }
        log.receipts.push(SentReceipt {
            index: receipt.index,
            leaf_hash: receipt.leaf_hash,
            bytes,
        });
    }
    log
}

struct Answer {
    index: u64,
    leaf_hash: Hash,
    /// `201` (true) or `200` (false).
    new: bool,
}

/// POSTs `bytes` until it is acknowledged, refused, or the retries are spent.
async fn submit(
    client: &reqwest::Client,
    config: &ScannerConfig,
    bytes: &Arc<Vec<u8>>,
    rng: &mut StdRng,
    log: &mut ClientLog,
) -> Option<Answer> {
    for attempt in 0..=config.retries {
        if attempt > 0 {
            log.counts.retries += 1;
        }
        let sent = Instant::now();
        let result = client
            .post(&config.url)
            .header("content-type", "application/json")
            .body(bytes.as_ref().clone())
            .send()
            .await;
        let mut retry_after = None;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body = response.bytes().await;
                log.submit_ms.push(sent.elapsed().as_secs_f64() * 1e3);
                match (status, body) {
                    (200 | 201, Ok(body)) => return answer(status, &body, bytes, log),
                    (503, _) => log.counts.busy_503 += 1,
                    (429, _) => log.counts.limited_429 += 1,
                    (408, _) => log.counts.timeouts += 1,
                    (400..=499, body) => {
                        log.counts.rejected += 1;
                        let body = body.map(|b| String::from_utf8_lossy(&b).into_owned());
                        log.error(format!("refused ({status}): {}", body.unwrap_or_default()));
                        return None;
                    }
                    _ => log.counts.other_status += 1,
                }
            }
            Err(error) if error.is_timeout() => log.counts.timeouts += 1,
            Err(_) => log.counts.network_errors += 1,
        }
        // Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"), capped at 5 s,
        // and never sooner than the server's Retry-After.
        let cap = 100.0 * f64::from(1u32 << attempt.min(6));
        let wait = rng.gen::<f64>() * cap.min(5000.0);
        let wait = wait.max(retry_after.unwrap_or(0) as f64 * 1000.0);
        tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
    }
    log.counts.gave_up += 1;
    log.error(format!("gave up after {} retries", config.retries));
    None
}

/// The receipt in a `201`/`200` answer, checked against the bytes sent.
fn answer(status: u16, body: &[u8], bytes: &[u8], log: &mut ClientLog) -> Option<Answer> {
    let parsed: Option<(u64, Hash)> =
        serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
            Some((v.get("index")?.as_u64()?, Hash::from_hex(v.get("leaf_hash")?.as_str()?)?))
        });
    match parsed {
        Some((index, leaf)) if leaf == leaf_hash(bytes) => {
            if status == 201 {
                log.counts.created += 1;
            } else {
                log.counts.repeated += 1;
            }
            Some(Answer { index, leaf_hash: leaf, new: status == 201 })
        }
        _ => {
            log.counts.bad_receipts += 1;
            log.error(format!(
                "receipt that does not name the leaf hash of the bytes sent: {}",
                String::from_utf8_lossy(body)
            ));
            None
        }
    }
}

/// One reader: polls `page` with `If-None-Match` until `done`.
async fn read_loop(page: String, interval_ms: u64, seed: u64, done: Arc<AtomicBool>) -> ClientLog {
    let client = client(Duration::from_secs(10));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = ClientLog::default();
    let mut etag: Option<String> = None;
    // Readers do not all arrive at the same instant.
    let first = rng.gen::<f64>() * interval_ms as f64;
    tokio::time::sleep(Duration::from_secs_f64(first / 1000.0)).await;
    while !done.load(Ordering::Relaxed) {
        let mut request = client.get(&page);
        if let Some(tag) = &etag {
            request = request.header("if-none-match", tag.as_str());
        }
        let sent = Instant::now();
        log.counts.reads += 1;
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let tag = response.headers().get("etag").and_then(|v| v.to_str().ok());
                let tag = tag.map(str::to_string);
                let body = response.bytes().await;
                match (status, body) {
                    (200, Ok(_)) => {
                        log.counts.reads_ok += 1;
                        etag = tag.or(etag);
                    }
                    (304, Ok(_)) => log.counts.reads_not_modified += 1,
                    (status, _) => {
                        log.counts.read_errors += 1;
                        log.error(format!("GET {page}: status {status}"));
                    }
                }
                log.read_ms.push(sent.elapsed().as_secs_f64() * 1e3);
            }
            Err(error) => {
                log.counts.read_errors += 1;
                log.error(format!("GET {page}: {error}"));
            }
        }
        let wait = interval_ms as f64 * (0.5 + rng.gen::<f64>());
        tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
    }
    log
}

/// What the check of the receipts against the log found.
#[derive(Default, Serialize)]
struct Acknowledgements {
    checked: u64,
    lost: u64,
    checkpoint_size: u64,
    /// Why receipts were counted lost (the first few), or why the log could not be read.
    problems: Vec<String>,
}

/// Checks every receipt against the server's log (see the module documentation).
fn check_receipts(base: &str, receipts: &[SentReceipt]) -> anyhow::Result<Acknowledgements> {
    let mut acks = Acknowledgements { checked: receipts.len() as u64, ..Default::default() };
    let Some(wanted) = receipts.iter().map(|r| r.index + 1).max() else { return Ok(acks) };
    let reader = reader_for(base).context("the URL must start with http:// or https://")?;
    let read = |path: &str| -> anyhow::Result<Vec<u8>> {
        reader
            .read(path)
            .map_err(|e| anyhow::anyhow!("{base}/{path}: {e}"))?
            .with_context(|| format!("{base}/{path}: not found"))
    };
    let vkey = String::from_utf8(read("log.vkey")?).context("log.vkey is not text")?;
    let verifier = Ed25519Verifier::from_vkey(vkey.trim()).context("the log's verifier key")?;
    let keys = VerifierSet::with(vec![Box::new(verifier)]).context("the log's verifier key")?;
    // The checkpoint follows the receipts within the server's checkpoint interval.
    let deadline = Instant::now() + Duration::from_secs(60);
    let checkpoint = loop {
        let (checkpoint, _) = Checkpoint::open(&read("checkpoint")?, &keys)
            .context("the checkpoint is not signed by the log's key")?;
        if checkpoint.size() >= wanted || Instant::now() > deadline {
            break checkpoint;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    acks.checkpoint_size = checkpoint.size();
    let mut leaves = Vec::with_capacity(checkpoint.size() as usize);
    for bundle in new_entry_bundles(0, checkpoint.size()) {
        let path = bundle.path();
        let bytes = read(&path)?;
        let entries =
            parse_bundle(&bytes).with_context(|| format!("{path}: not an entry bundle"))?;
        leaves.extend(entries.into_iter().map(leaf_hash));
    }
    leaves.truncate(checkpoint.size() as usize);
    if merkle::root(&leaves) != checkpoint.root() {
        bail!("the log's entries do not hash to the root of its signed checkpoint");
    }
    for receipt in receipts {
        let problem = match leaves.get(receipt.index as usize) {
            None => Some(format!(
                "entry {}: beyond the checkpoint ({} entries)",
                receipt.index,
                checkpoint.size()
            )),
            Some(leaf) if *leaf != receipt.leaf_hash => {
                Some(format!("entry {}: the log holds a different entry there", receipt.index))
            }
            Some(_) if leaf_hash(&receipt.bytes) != receipt.leaf_hash => {
                Some(format!("entry {}: the receipt names other bytes", receipt.index))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            acks.lost += 1;
            if acks.problems.len() < 10 {
                acks.problems.push(problem);
            }
        }
    }
    Ok(acks)
}

/// Latency percentiles in milliseconds.
#[derive(Serialize)]
struct Latency {
    count: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Latency {
    fn of(samples: &mut [f64]) -> Latency {
        samples.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample with at least q of the samples at or below it.
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = (q * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Latency {
            count: samples.len() as u64,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: samples.last().copied().unwrap_or(0.0),
        }
    }

    fn line(&self) -> String {
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms ({} samples)",
            self.p50, self.p90, self.p99, self.p999, self.max, self.count
        )
    }
}

/// The report, as printed (`--format json` prints this object).
#[derive(Serialize)]
struct Report {
    format: &'static str,
    scanners: u64,
    readers: u64,
    window_seconds: f64,
    read_interval_ms: u64,
    counts: Counts,
    /// Acknowledged protocols per second, from the first scanner's start to the last receipt.
    submissions_per_second: f64,
    reads_per_second: f64,
    /// Every submission request that got an answer.
    submit_latency: Latency,
    /// From a protocol's first try to its receipt, retries and backoff included.
    receipt_latency: Latency,
    read_latency: Latency,
    acknowledgements: Acknowledgements,
    /// Refusals, give-ups, wrong receipts, resends not answered with the same receipt, failed
    /// reads.
    errors: u64,
    error_examples: Vec<String>,
}

impl Report {
    fn new(args: &Args, night: &NightPlan, run: &Run, acks: Acknowledgements) -> Report {
        let c = &run.counts;
        let errors = c.rejected + c.gave_up + c.bad_receipts + c.resent_mismatch + c.read_errors;
        let per_second = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        Report {
            format: "sverka-loadtest/v1",
            scanners: night.scanners.len() as u64,
            readers: args.readers as u64,
            window_seconds: args.window,
            read_interval_ms: args.read_interval,
            counts: c.clone(),
            submissions_per_second: per_second(c.created + c.repeated, run.submit_seconds),
            reads_per_second: per_second(c.reads, run.read_seconds),
            submit_latency: Latency::of(&mut run.submit_ms.clone()),
            receipt_latency: Latency::of(&mut run.receipt_ms.clone()),
            read_latency: Latency::of(&mut run.read_ms.clone()),
            acknowledgements: acks,
            errors,
            error_examples: run.examples.clone(),
        }
    }

    fn text(&self, base: &str) -> String {
        let c = &self.counts;
        let a = &self.acknowledgements;
        let mut out = format!(
            "sverka loadtest {base}: {} scanners over {:.0} s, {} readers polling every {} ms\n",
            self.scanners, self.window_seconds, self.readers, self.read_interval_ms
        );
        out += &format!(
            "  submissions: {} protocols: {} accepted (201), {} answered 200 (already in the log), {} refused, {} given up\n",
            c.protocols, c.created, c.repeated, c.rejected, c.gave_up
        );
        out += &format!(
            "  retries: {} ({} timeouts, {} network errors, {} busy 503, {} rate-limited 429, {} other); {} resent on purpose, {} not answered with the same receipt\n",
            c.retries, c.timeouts, c.network_errors, c.busy_503, c.limited_429, c.other_status, c.resent, c.resent_mismatch
        );
        out += &format!(
            "  throughput: {:.1} acknowledged protocols/s, {:.1} reads/s\n",
            self.submissions_per_second, self.reads_per_second
        );
        out += &format!("  submission requests: {}\n", self.submit_latency.line());
        out += &format!("  first try to receipt: {}\n", self.receipt_latency.line());
        out += &format!(
            "  reads: {} ({} 200, {} 304 not modified, {} errors): {}\n",
            c.reads,
            c.reads_ok,
            c.reads_not_modified,
            c.read_errors,
            self.read_latency.line()
        );
        out += &format!(
            "  acknowledgements: {} receipts checked against the log (signed checkpoint of {} entries): {} lost\n",
            a.checked, a.checkpoint_size, a.lost
        );
        for problem in &a.problems {
            out += &format!("    lost: {problem}\n");
        }
        out += &format!("  errors: {}\n", self.errors);
        for example in &self.error_examples {
            out += &format!("    {example}\n");
        }
        out
    }
}
