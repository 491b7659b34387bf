//! `sverka demo [--listen ADDR] [--stations N] [--seed S] [--speed X] [--data DIR]`: election night
//! on one machine, no setup. It simulates the night (the 2021 Kyrgyz election and its national
//! targets, turnout and the parties' shares, embedded in the binary), creates an embedded store in a temporary directory (or `--data DIR`), starts the server
//! and replays every submission through the real HTTP API in compressed time — scanners first along
//! their reporting curve, then the hand counts, then the observers' copies, in the order and at the
//! relative times `sverka simulate` gives them — while the site updates live.
//!
//! On top of the simulated night, as in 2021:
//!
//! - flaky modems: about one scanner message in sixty times out on its first try and is sent again
//!   after a backoff with jitter, and about one in fifty loses its answer and sends the same bytes
//!   again (answered `200` with the first receipt, nothing appended);
//! - keying errors: a few district operators key a hand count with two parties' votes swapped (the
//!   control relations still hold, so it is accepted), and correct it after the night with a
//!   correction entry (`supersedes`, reason `keying_error`) signed by the same operator;
//! - recounts: the CEC recounts stations whose observer copy differed (a `recount` protocol,
//!   reason `recount`, one by court order), signed by a CEC admin key;
//! - annulments: the CEC annuls a station (an `annulment` entry, admin key).
//!
//! Every one of these is a real signed entry through `POST /api/v1/submissions`, signed by the key
//! the simulation registered for that role. The demo prints where to look, each correction, recount
//! and annulment as it is sent, and serves until Ctrl-C (or, with `--exit-when-done`, until the
//! night has been replayed).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use sverka_model::names::{CorrectionReason, Source};
use sverka_model::simulate::{Config as SimConfig, DefectKind, Night, Profile};
use sverka_model::submission::{Annulment, Body, Payload, Protocol, Submission, Supersedes};

/// The 2021 election, embedded so the binary works from any directory.
const KYRGYZSTAN_2021: &str = include_str!("../../../examples/kyrgyzstan-2021/election.toml");
/// Its national targets (turnout 34.61 %, the parties' shares), the profile `sverka simulate` reads
/// beside the election: the demo's night has the 2021 night's shape, several parties near 5 %.
const KYRGYZSTAN_2021_TARGETS: &str =
    include_str!("../../../examples/kyrgyzstan-2021/simulate.toml");
/// How long the replay of the night takes at `--speed 1`.
const NIGHT_SECONDS: f64 = 180.0;
/// How long the corrections, recounts and annulments after the night take at `--speed 1`.
const AFTERMATH_SECONDS: f64 = 30.0;
/// Concurrent senders (scanners and operators on their modems).
const SENDERS: usize = 16;
/// Hand counts keyed with two parties swapped, corrected after the night.
const KEYING_ERRORS: usize = 4;
/// Stations the CEC recounts (the first by court order).
const RECOUNTS: usize = 3;
/// Stations the CEC annuls.
const ANNULMENTS: usize = 2;

#[derive(clap::Args)]
pub struct Args {
    /// The address to serve on (loopback unless told otherwise; port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Rescale the geography to this many stations
    #[arg(long)]
    stations: Option<u64>,
    /// The simulation seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replay speed: 2 plays the night twice as fast (the night takes about 3.5 minutes at 1)
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Keep the data directory here (must not exist or be empty) instead of a temporary one
    #[arg(long)]
    data: Option<PathBuf>,
    /// Stop the server once the night and what follows it have been replayed (for scripts)
    #[arg(long)]
    exit_when_done: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        eprintln!("sverka demo: --speed must be a positive number");
        return Ok(ExitCode::from(2));
    }
    let temp = tempfile::Builder::new()
        .prefix("sverka-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let data = args.data.clone().unwrap_or_else(|| temp.path().join("data"));
    let (night, store) = prepare(&args, &data)?;
    let mut lines = split_lines(&night.submissions());
    let aftermath = Aftermath::plan(&night, &mut lines)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let state = sverka_server::AppState::new(store, sverka_server::Config::default());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let exit_when_done = args.exit_when_done;
    let shutdown = async move {
        let replayed = async {
            if exit_when_done && done_rx.await.is_ok() {
                // Let the last checkpoint be signed and folded before stopping.
                tokio::time::sleep(Duration::from_secs(2)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = crate::cmd_serve::shutdown_signal() => {}
            () = replayed => {}
        }
    };
    let server = runtime.spawn(sverka_server::run(listener, state, shutdown));
    print_guide(address, &night, &data, lines.len(), &aftermath);
    let base = format!("http://{address}");
    let speed = args.speed;
    let replay = std::thread::spawn(move || {
        let agent = agent();
        let receipts = replay(&agent, &base, &lines, speed);
        let ok = aftermath.send(&agent, &base, &receipts, speed);
        println!("  the site keeps serving the final results; Ctrl-C stops it.");
        let _ = done_tx.send(());
        ok
    });
    let served = runtime.block_on(server);
    let replayed = replay.join().unwrap_or(false);
    served.context("server task")?.context("serving")?;
    eprintln!("sverka demo: stopped");
    if exit_when_done && !replayed {
        eprintln!("sverka demo: some of the night could not be sent (see above)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Simulates the night and creates the store.
fn prepare(args: &Args, data: &std::path::Path) -> anyhow::Result<(Night, sverka_store::Store)> {
    let profile = Profile::from_toml("kyrgyzstan-2021/simulate.toml", KYRGYZSTAN_2021_TARGETS)
        .context("reading the embedded national targets")?;
    let config = SimConfig {
        seed: args.seed,
        stations: args.stations,
        profile: Some(profile),
        ..SimConfig::default()
    };
    eprintln!("sverka demo: simulating the 2021 night (seed {})…", args.seed);
    let night = Night::new("kyrgyzstan-2021/election.toml", KYRGYZSTAN_2021, config)
        .context("simulating")?;
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store =
        sverka_store::Store::init_with(data, &night.election_toml(), "election.toml", store_config)
            .context("creating the store")?;
    Ok((night, store))
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn print_guide(
    address: SocketAddr,
    night: &Night,
    data: &std::path::Path,
    submissions: usize,
    aftermath: &Aftermath,
) {
    let base = format!("http://{address}");
    let summary = night.summary();
    println!();
    println!("  sverka demo: {summary}");
    println!("  data directory: {}", data.display());
    println!();
    println!("  Open {base}/?lang=en and watch the night unfold: {submissions} submissions over about {NIGHT_SECONDS:.0} s / speed,");
    println!("  then {} corrections, recounts and annulments. The pages follow each new checkpoint by themselves.", aftermath.len());
    println!("    {base}/?lang=en                the nation: stations reporting, turnout, shares against the 5% line, seats");
    println!("    {base}/?view=official&lang=ru  the official view (hand counts, recounts) in Russian; the default is preliminary");
    let defect = |kind: DefectKind| {
        night.defects().iter().find(|d| d.kind == kind).map(|d| d.station.clone())
    };
    if let Some(station) = defect(DefectKind::MachineManualMismatch) {
        println!(
            "    {base}/station/{station}?lang=en   a scanner that disagrees with the hand count"
        );
    }
    if let Some(station) = aftermath.recounts.first().map(|r| &r.station) {
        println!("    {base}/station/{station}?lang=en   an observer's copy that differed, then the CEC's recount");
    }
    println!("    {base}/changes?lang=en         what changed since the previous checkpoint: corrections, annulments, decreases");
    println!("    {base}/reconciliation?lang=en  every source against every other; could the differences change a seat?");
    println!("    {base}/forensics?lang=en       statistical flags (never proof)");
    println!("    {base}/api/v1/quarantine       refused submissions (hand counts with a broken control relation, corrected later)");
    println!("    {base}/api/v1/results          the snapshot JSON; {base}/checkpoint the signed checkpoint");
    println!("    sverka verify {base}   recompute everything as an observer would");
    println!();
    println!("  Ctrl-C stops the server.");
    println!();
}

/// The simulated time of a submission line in seconds (from its `time`, `YYYY-MM-DDTHH:MM:SS…`).
fn line_time(line: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(line).ok()?;
    let at = text.find("\"time\":\"")? + 8;
    let stamp = text.get(at..at + 19)?;
    let day: f64 = stamp.get(8..10)?.parse().ok()?;
    let hours: f64 = stamp.get(11..13)?.parse().ok()?;
    let minutes: f64 = stamp.get(14..16)?.parse().ok()?;
    let seconds: f64 = stamp.get(17..19)?.parse().ok()?;
    Some(((day * 24.0 + hours) * 60.0 + minutes) * 60.0 + seconds)
}

/// What the replay saw, for the summary line.
#[derive(Default)]
struct Tally {
    created: AtomicU64,
    repeated: AtomicU64,
    rejected: AtomicU64,
    resent: AtomicU64,
    timed_out: AtomicU64,
    failed: AtomicU64,
}

/// How one submission ended.
enum Sent {
    /// `201` or `200`, with the receipt's log index.
    Accepted(u64),
    /// A `4xx` rejection (quarantined by the server).
    Rejected(String),
    /// No answer after every retry.
    GaveUp,
}

/// Sends every line to `base` at its compressed time, retrying as a modem would; returns the log
/// index of each line that was accepted.
fn replay(agent: &ureq::Agent, base: &str, lines: &[Vec<u8>], speed: f64) -> Vec<Option<u64>> {
    let times: Vec<f64> = lines.iter().map(|l| line_time(l).unwrap_or(0.0)).collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let span = (times.iter().copied().fold(0.0, f64::max) - first).max(1.0);
    let scale = NIGHT_SECONDS / speed / span;
    // One queue per sender, each signer's lines always in the same queue and in file order: a
    // signer's sequence numbers must arrive in order (a later one first makes the earlier a replay).
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); SENDERS];
    for (i, line) in lines.iter().enumerate() {
        let signer = signer_of(line);
        let hash =
            signer.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        queues[hash % SENDERS].push(i);
    }
    let tally = Tally::default();
    let receipts = Mutex::new(vec![None; lines.len()]);
    let start = Instant::now();
    let url = format!("{base}/api/v1/submissions");
    std::thread::scope(|scope| {
        for queue in queues {
            let (times, tally, url, receipts) = (&times, &tally, &url, &receipts);
            scope.spawn(move || {
                for i in queue {
                    let due = Duration::from_secs_f64(((times[i] - first).max(0.0)) * scale);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let line = &lines[i];
                    let flaky = line_is_machine(line) && i % 61 == 13;
                    let sent = send(agent, url, line, tally, flaky);
                    // About one modem in fifty loses the answer and sends the same bytes again.
                    if matches!(sent, Sent::Accepted(_)) && i % 50 == 7 {
                        tally.resent.fetch_add(1, Ordering::Relaxed);
                        send(agent, url, line, tally, false);
                    }
                    if let Sent::Accepted(index) = sent {
                        receipts.lock().expect("receipts")[i] = Some(index);
                    }
                }
            });
        }
    });
    println!(
        "  night replayed in {:.0} s: {} accepted, {} repeats answered with their first receipt ({} resent on purpose), {} first tries timed out and were retried, {} rejected into quarantine, {} gave up",
        start.elapsed().as_secs_f64(),
        tally.created.load(Ordering::Relaxed),
        tally.repeated.load(Ordering::Relaxed),
        tally.resent.load(Ordering::Relaxed),
        tally.timed_out.load(Ordering::Relaxed),
        tally.rejected.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    receipts.into_inner().expect("receipts")
}

/// The `signer` of a submission line.
fn signer_of(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.split("\"signer\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

fn line_is_machine(line: &[u8]) -> bool {
    line.windows(20).any(|w| w == b"\"source\":\"machine\",")
}

/// POSTs one submission, retrying with exponential backoff and jitter on 503, 429, 408 and
/// network errors. A `flaky` modem gives up on its first try after a few milliseconds, as a
/// dropped line would, and sends the same bytes again.
fn send(agent: &ureq::Agent, url: &str, line: &[u8], tally: &Tally, flaky: bool) -> Sent {
    for attempt in 0..10u32 {
        let mut request = agent.post(url).header("content-type", "application/json");
        if flaky && attempt == 0 {
            request = request.config().timeout_global(Some(Duration::from_millis(2))).build();
        }
        match request.send(line) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                match status {
                    201 | 200 => {
                        let counter = if status == 201 { &tally.created } else { &tally.repeated };
                        counter.fetch_add(1, Ordering::Relaxed);
                        if let Some(index) = receipt_index(&body) {
                            return Sent::Accepted(index);
                        }
                    }
                    // A timeout or a rate limit (429 with Retry-After): the modem tries again later.
                    408 | 429 => {}
                    400..=499 => {
                        tally.rejected.fetch_add(1, Ordering::Relaxed);
                        return Sent::Rejected(body);
                    }
                    _ => {}
                }
            }
            Err(_) if flaky && attempt == 0 => {
                tally.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        let backoff = 50u64 << attempt.min(6);
        let jitter = rand::random::<u64>() % backoff;
        std::thread::sleep(Duration::from_millis(backoff / 2 + jitter));
    }
    tally.failed.fetch_add(1, Ordering::Relaxed);
    Sent::GaveUp
}

fn receipt_index(body: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body).ok()?.get("index")?.as_u64()
}

/// What happens after the night: corrections of keying errors, recounts and annulments, each a
/// submission signed by the key of the role that may sign it.
struct Aftermath {
    /// Hand counts keyed wrongly in the night (line replaced), corrected afterwards.
    keying_errors: Vec<KeyingError>,
    recounts: Vec<Recount>,
    annulments: Vec<String>,
    /// The signing keys of operators and admins.
    keys: HashMap<String, SigningKey>,
    /// The next `seq` of each signer after the night.
    next_seq: HashMap<String, u64>,
    election: String,
    /// The `time` written on the aftermath's submissions (the night's last).
    time: Option<String>,
}

struct KeyingError {
    /// The line of the night that now carries the wrong protocol.
    line: usize,
    /// The protocol as it should have been keyed.
    correct: Protocol,
    signer: String,
    swapped: (String, String),
}

struct Recount {
    station: String,
    /// The line of the hand count the recount replaces.
    line: usize,
    protocol: Protocol,
    reason: CorrectionReason,
}

impl Aftermath {
    /// Chooses the keying errors, recounts and annulments, and puts the keying errors into
    /// `lines` (re-signed by the same operator with the same `seq`).
    fn plan(night: &Night, lines: &mut [Vec<u8>]) -> anyhow::Result<Aftermath> {
        let decoded: Vec<Submission> = lines
            .iter()
            .map(|l| Submission::decode(l))
            .collect::<Result<_, _>>()
            .context("decoding the simulated night")?;
        let mut keys = HashMap::new();
        for file in night.key_files() {
            let Some(id) = file.path.strip_prefix("keys/").and_then(|p| p.strip_suffix(".key"))
            else {
                continue;
            };
            if let Some(key) = sverka_model::keys::decode_private_key(&file.contents) {
                keys.insert(id.to_string(), key);
            }
        }
        let mut next_seq: HashMap<String, u64> = HashMap::new();
        for s in &decoded {
            let next = next_seq.entry(s.payload.signer.clone()).or_insert(1);
            *next = (*next).max(s.payload.seq + 1);
        }
        let mut plan = Aftermath {
            keying_errors: Vec::new(),
            recounts: Vec::new(),
            annulments: Vec::new(),
            keys,
            next_seq,
            election: night.summary().election,
            time: decoded.last().and_then(|s| s.payload.time.clone()),
        };
        plan.choose(night, &decoded);
        for error in &plan.keying_errors {
            let original = &decoded[error.line];
            let mut protocol = error.correct.clone();
            let (a, b) = &error.swapped;
            let (va, vb) = (protocol.votes[a], protocol.votes[b]);
            protocol.votes.insert(a.clone(), vb);
            protocol.votes.insert(b.clone(), va);
            let payload = Payload { body: Body::Protocol(protocol), ..original.payload.clone() };
            let key = plan.key(&error.signer)?;
            lines[error.line] = payload.sign(key).to_bytes();
        }
        Ok(plan)
    }

    /// Picks the stations: hand counts of stations with no planted defect for the keying errors,
    /// stations whose observer copy differed for the recounts (then any others), and two more
    /// for the annulments; a station is used once.
    fn choose(&mut self, night: &Night, decoded: &[Submission]) {
        let defective: HashSet<&str> = night.defects().iter().map(|d| d.station.as_str()).collect();
        let manual: Vec<(usize, &Protocol)> = decoded
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.payload.body {
                Body::Protocol(p) if p.source == Source::Manual => Some((i, p)),
                _ => None,
            })
            .collect();
        let mut used: HashSet<String> = HashSet::new();
        let step = (manual.len() / (KEYING_ERRORS + 1)).max(1);
        for &(i, protocol) in manual.iter().skip(step / 2).step_by(step) {
            if self.keying_errors.len() == KEYING_ERRORS {
                break;
            }
            if defective.contains(protocol.station.as_str()) || used.contains(&protocol.station) {
                continue;
            }
            let Some(swapped) = swappable(protocol) else { continue };
            used.insert(protocol.station.clone());
            self.keying_errors.push(KeyingError {
                line: i,
                correct: protocol.clone(),
                signer: decoded[i].payload.signer.clone(),
                swapped,
            });
        }
        let observed = night
            .defects()
            .iter()
            .filter(|d| d.kind == DefectKind::ObserverMismatch)
            .map(|d| (d.station.as_str(), d.contest.as_str()));
        let others = manual.iter().rev().map(|(_, p)| (p.station.as_str(), p.contest.as_str()));
        for (station, contest) in observed.chain(others) {
            if self.recounts.len() == RECOUNTS {
                break;
            }
            if used.contains(station) {
                continue;
            }
            // The hand count of the race the observer's copy disagreed with.
            let Some(&(line, protocol)) =
                manual.iter().find(|(_, p)| p.station == station && p.contest == contest)
            else {
                continue;
            };
            used.insert(station.to_string());
            let reason = if self.recounts.is_empty() {
                CorrectionReason::CourtOrder
            } else {
                CorrectionReason::Recount
            };
            self.recounts.push(Recount {
                station: station.to_string(),
                line,
                protocol: recounted(protocol),
                reason,
            });
        }
        for (_, protocol) in manual.iter().skip(manual.len() / 3) {
            if self.annulments.len() == ANNULMENTS {
                break;
            }
            if !defective.contains(protocol.station.as_str())
                && used.insert(protocol.station.clone())
            {
                self.annulments.push(protocol.station.clone());
            }
        }
    }

    fn len(&self) -> usize {
        self.keying_errors.len() + self.recounts.len() + self.annulments.len()
    }

    fn key(&self, id: &str) -> anyhow::Result<&SigningKey> {
        self.keys.get(id).with_context(|| format!("the simulation wrote no private key for {id}"))
    }

    /// The first admin key (`admin-1`, …) of the simulated election.
    fn admin(&self, n: usize) -> anyhow::Result<String> {
        let mut admins: Vec<&String> =
            self.keys.keys().filter(|id| id.starts_with("admin-")).collect();
        admins.sort();
        admins
            .get(n % admins.len().max(1))
            .map(|id| (*id).clone())
            .context("the simulated election has no CEC admin key")
    }

    /// Signs `body` as `signer` with its next sequence number.
    fn sign(&mut self, signer: &str, body: Body) -> anyhow::Result<Vec<u8>> {
        let seq = self.next_seq.entry(signer.to_string()).or_insert(1);
        let payload = Payload {
            v: sverka_model::submission::FORMAT_VERSION,
            election: self.election.clone(),
            signer: signer.to_string(),
            seq: *seq,
            time: self.time.clone(),
            body,
        };
        *seq += 1;
        Ok(payload.sign(self.key(signer)?).to_bytes())
    }

    /// Sends the corrections, recounts and annulments, spread over [`AFTERMATH_SECONDS`] / speed,
    /// printing each; whether all of them were accepted.
    fn send(
        mut self,
        agent: &ureq::Agent,
        base: &str,
        receipts: &[Option<u64>],
        speed: f64,
    ) -> bool {
        match self.send_all(agent, base, receipts, speed) {
            Ok(all) => all,
            Err(error) => {
                println!("  after the night: {error:#}");
                false
            }
        }
    }

    fn send_all(
        &mut self,
        agent: &ureq::Agent,
        base: &str,
        receipts: &[Option<u64>],
        speed: f64,
    ) -> anyhow::Result<bool> {
        let pause = Duration::from_secs_f64(AFTERMATH_SECONDS / speed / self.len().max(1) as f64);
        let url = format!("{base}/api/v1/submissions");
        let tally = Tally::default();
        let mut all = true;
        println!("  after the night: corrections, recounts and annulments");
        let mut report = |what: String, sent: Sent| match sent {
            Sent::Accepted(index) => println!("    entry {index}: {what}"),
            Sent::Rejected(body) => {
                all = false;
                println!("    refused: {what}: {body}");
            }
            Sent::GaveUp => {
                all = false;
                println!("    not sent (no answer): {what}");
            }
        };
        for error in std::mem::take(&mut self.keying_errors) {
            std::thread::sleep(pause);
            let Some(index) = receipts[error.line] else {
                report(
                    format!("correction of line {} (never accepted)", error.line + 1),
                    Sent::GaveUp,
                );
                continue;
            };
            let station = error.correct.station.clone();
            let contest = error.correct.contest.clone();
            let supersedes = Supersedes { index, reason: CorrectionReason::KeyingError };
            let body = Body::Protocol(Protocol { supersedes: Some(supersedes), ..error.correct });
            let bytes = self.sign(&error.signer, body)?;
            let (a, b) = &error.swapped;
            report(
                format!("{} corrects entry {index} (station {station}, {contest}: the votes of {a} and {b} were keyed swapped) — {base}/station/{station}?lang=en", error.signer),
                send(agent, &url, &bytes, &tally, false),
            );
        }
        for recount in std::mem::take(&mut self.recounts) {
            std::thread::sleep(pause);
            let Some(index) = receipts[recount.line] else {
                report(
                    format!(
                        "recount of station {} (its hand count was never accepted)",
                        recount.station
                    ),
                    Sent::GaveUp,
                );
                continue;
            };
            let admin = self.admin(0)?;
            let supersedes = Supersedes { index, reason: recount.reason };
            let body =
                Body::Protocol(Protocol { supersedes: Some(supersedes), ..recount.protocol });
            let bytes = self.sign(&admin, body)?;
            let why = match recount.reason {
                CorrectionReason::CourtOrder => "recount ordered by a court",
                _ => "CEC recount",
            };
            report(
                format!("{admin}: {why} of station {} replaces hand count {index} — {base}/station/{}?lang=en", recount.station, recount.station),
                send(agent, &url, &bytes, &tally, false),
            );
        }
        for (n, station) in std::mem::take(&mut self.annulments).into_iter().enumerate() {
            std::thread::sleep(pause);
            let admin = self.admin(1)?;
            let reason = format!(
                "CEC decision No. {} (simulated): results of station {station} annulled for violations found by the territorial commission",
                41 + n
            );
            let body =
                Body::Annulment(Annulment { station: station.clone(), contest: None, reason });
            let bytes = self.sign(&admin, body)?;
            report(
                format!("{admin} annuls station {station} — {base}/changes?lang=en"),
                send(agent, &url, &bytes, &tally, false),
            );
        }
        Ok(all)
    }
}

/// The two options with the most votes, when they differ (swapping equal counts changes nothing).
fn top_two(votes: &BTreeMap<String, u64>) -> Option<(String, String)> {
    let mut ranked: Vec<(&String, &u64)> =
        votes.iter().filter(|(id, _)| id.as_str() != "against_all").collect();
    ranked.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    match ranked.as_slice() {
        [(a, va), (b, vb), ..] if va != vb => Some(((*a).clone(), (*b).clone())),
        _ => None,
    }
}

/// Two options whose votes a clerk could key swapped with every control relation still holding:
/// adjacent in the ranking, different counts, and each list's preference votes (open lists) no
/// more than the votes it would get.
fn swappable(protocol: &Protocol) -> Option<(String, String)> {
    let mut ranked: Vec<(&String, u64)> = protocol
        .votes
        .iter()
        .filter(|(id, _)| id.as_str() != "against_all")
        .map(|(id, v)| (id, *v))
        .collect();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let preferences =
        |id: &String| protocol.preferences.get(id).map_or(0, |p| p.values().sum::<u64>());
    ranked.windows(2).find_map(|pair| {
        let ((a, va), (b, vb)) = (pair[0], pair[1]);
        (va != vb && preferences(a) <= vb && preferences(b) <= va).then(|| (a.clone(), b.clone()))
    })
}

/// A recount of `manual`: `source` recount, and up to 3 ballots the hand count had called invalid
/// found valid for the leading option (the control relations still hold: in the boxes = valid +
/// invalid, valid = the sum of the options).
fn recounted(manual: &Protocol) -> Protocol {
    let mut protocol = Protocol { source: Source::Recount, supersedes: None, ..manual.clone() };
    let leader = top_two(&protocol.votes).map(|(a, _)| a);
    let moved = protocol.lines.get("invalid").copied().unwrap_or(0).min(3);
    if let (Some(leader), true, true) = (leader, moved > 0, protocol.lines.contains_key("valid")) {
        *protocol.lines.get_mut("invalid").expect("checked") -= moved;
        *protocol.lines.get_mut("valid").expect("checked") += moved;
        *protocol.votes.get_mut(&leader).expect("an option of the protocol") += moved;
    }
    protocol
}
