//! `sverka demo [--listen ADDR] [--stations N] [--seed S] [--speed X] [--data DIR]`: election night
//! on one machine, no setup. It simulates the night (the 2021 Kyrgyz election, embedded in the
//! binary), creates an embedded store in a temporary directory (or `--data DIR`), starts the server
//! and replays every submission through the real HTTP API in compressed time — scanners first along
//! their reporting curve, then the hand counts, then the observers' copies, in the order and at the
//! relative times `sverka simulate` gives them, a few sent twice as a flaky modem would — while the
//! site updates live. It prints where to look and serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sverka_model::simulate::{Config as SimConfig, DefectKind, Night};

/// The 2021 election, embedded so the binary works from any directory.
const KYRGYZSTAN_2021: &str = include_str!("../../../examples/kyrgyzstan-2021/election.toml");
/// The tiny example, used when the store cannot hold the 2021 definition in its first entry.
const TINY: &str = include_str!("../../../examples/tiny/election.toml");
/// How long the replay takes at `--speed 1`.
const NIGHT_SECONDS: f64 = 180.0;
/// Concurrent senders (scanners and operators on their modems).
const SENDERS: usize = 16;

#[derive(clap::Args)]
pub struct Args {
    /// The address to serve on (loopback unless told otherwise)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Rescale the geography to this many stations
    #[arg(long)]
    stations: Option<u64>,
    /// The simulation seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replay speed: 2 plays the night twice as fast (the night takes about 3 minutes at 1)
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Keep the data directory here (must not exist or be empty) instead of a temporary one
    #[arg(long)]
    data: Option<PathBuf>,
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
    let lines = split_lines(&night.submissions());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let state = sverka_server::AppState::new(store, sverka_server::Config::default());
    let server =
        runtime.spawn(sverka_server::run(listener, state, crate::cmd_serve::shutdown_signal()));
    print_guide(address, &night, &data, lines.len());
    let base = format!("http://{address}");
    let replay = std::thread::spawn(move || replay(&base, lines, args.speed));
    let served = runtime.block_on(server);
    let _ = replay.join();
    served.context("server task")?.context("serving")?;
    eprintln!("sverka demo: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Simulates the night and creates the store; falls back to the tiny election when the store
/// cannot hold the 2021 definition (with every generated key) in the log's first entry.
fn prepare(args: &Args, data: &std::path::Path) -> anyhow::Result<(Night, sverka_store::Store)> {
    let config = SimConfig { seed: args.seed, stations: args.stations, ..SimConfig::default() };
    eprintln!("sverka demo: simulating the 2021 night (seed {})…", args.seed);
    let night = Night::new("kyrgyzstan-2021/election.toml", KYRGYZSTAN_2021, config.clone())
        .context("simulating")?;
    let store_config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    match sverka_store::Store::init_with(
        data,
        &night.election_toml(),
        "election.toml",
        store_config.clone(),
    ) {
        Ok(store) => return Ok((night, store)),
        Err(sverka_store::StoreError::Election(message))
            if message.contains("log entry holds at most") =>
        {
            eprintln!("sverka demo: the store cannot take the 2021 definition yet ({message});");
            eprintln!("             playing the tiny example election instead");
        }
        Err(error) => return Err(error).context("creating the store"),
    }
    let stations = args.stations.map(|n| n.min(120)).or(Some(120));
    let config =
        SimConfig { stations, observer_discrepancy_count: 3, broken_relation_count: 3, ..config };
    let night =
        Night::new("tiny/election.toml", TINY, config).context("simulating the tiny election")?;
    let store =
        sverka_store::Store::init_with(data, &night.election_toml(), "election.toml", store_config)
            .context("creating the store")?;
    Ok((night, store))
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn print_guide(address: SocketAddr, night: &Night, data: &std::path::Path, submissions: usize) {
    let base = format!("http://{address}");
    let summary = night.summary();
    println!();
    println!("  sverka demo: {summary}");
    println!("  data directory: {}", data.display());
    println!();
    println!("  Open {base}/  and watch the night unfold ({submissions} submissions over about {NIGHT_SECONDS:.0} s / speed):");
    println!("    {base}/?lang=en                the national page: reporting, turnout, shares against the 5% line, seats");
    println!("    {base}/?view=official&lang=ru  the official (hand count) view, in Russian");
    let defect = |kind: DefectKind| {
        night.defects().iter().find(|d| d.kind == kind).map(|d| d.station.clone())
    };
    if let Some(station) = defect(DefectKind::MachineManualMismatch) {
        println!("    {base}/station/{station}?lang=en   a scanner that disagrees with the hand count, highlighted");
    }
    if let Some(station) = defect(DefectKind::ObserverMismatch) {
        println!("    {base}/station/{station}?lang=en   an observer's copy that differs");
    }
    println!("    {base}/api/v1/quarantine       hand counts refused for a broken control relation (corrected later)");
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
    retried: AtomicU64,
    failed: AtomicU64,
}

/// Sends every line to `base` at its compressed time, with retries on 503 and network errors.
fn replay(base: &str, lines: Vec<Vec<u8>>, speed: f64) {
    let times: Vec<f64> = lines.iter().map(|l| line_time(l).unwrap_or(0.0)).collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let span = (times.iter().copied().fold(0.0, f64::max) - first).max(1.0);
    let scale = NIGHT_SECONDS / speed / span;
    // One queue per sender, each signer's lines always in the same queue and in file order: a
    // signer's sequence numbers must arrive in order (a later one first makes the earlier a replay).
    let mut queues: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); SENDERS];
    for (i, line) in lines.into_iter().enumerate() {
        let signer = signer_of(&line);
        let hash =
            signer.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        queues[hash % SENDERS].push((i, line));
    }
    let times = Arc::new(times);
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let url = format!("{base}/api/v1/submissions");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let workers: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let (times, tally, url, agent) =
                (times.clone(), tally.clone(), url.clone(), agent.clone());
            std::thread::spawn(move || {
                for (i, line) in queue {
                    let due = Duration::from_secs_f64(((times[i] - first).max(0.0)) * scale);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    send(&agent, &url, &line, &tally);
                    // About one modem in fifty loses the answer and sends the same bytes again.
                    if i % 50 == 7 {
                        tally.retried.fetch_add(1, Ordering::Relaxed);
                        send(&agent, &url, &line, &tally);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    println!(
        "  replay done in {:.0} s: {} accepted, {} repeats answered with their receipt, {} rejected into quarantine, {} resent on purpose, {} gave up",
        start.elapsed().as_secs_f64(),
        tally.created.load(Ordering::Relaxed),
        tally.repeated.load(Ordering::Relaxed),
        tally.rejected.load(Ordering::Relaxed),
        tally.retried.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    println!("  the site keeps serving the final results; Ctrl-C stops it.");
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

/// POSTs one submission, retrying with backoff on 503, 429, 408 and network errors.
fn send(agent: &ureq::Agent, url: &str, line: &[u8], tally: &Tally) {
    for attempt in 0..8u32 {
        if let Ok(response) = agent.post(url).header("content-type", "application/json").send(line)
        {
            let counter = match response.status().as_u16() {
                201 => Some(&tally.created),
                200 => Some(&tally.repeated),
                // A timeout or a rate limit (429 with Retry-After): the modem tries again later.
                408 | 429 => None,
                400..=499 => Some(&tally.rejected),
                _ => None,
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100 << attempt.min(5)));
    }
    tally.failed.fetch_add(1, Ordering::Relaxed);
}
