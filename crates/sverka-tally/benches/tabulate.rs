//! Benchmarks (divan) for tabulation (issue 5, "Speed"), on synthetic elections built here:
//!
//! - `kyrgyz_size`: 2,494 stations (59 abroad), 9 regions + abroad, 36 districts; a 54-seat Hare
//!   list race with 21 parties and "against all" plus 36 single-member races; every station's
//!   machine and manual list protocols and its district protocol (~7,300 entries): fold them into
//!   a fresh tally, then results with seats, candidates, district winners and the outlook. Goal
//!   ≤ 100 ms.
//! - `incremental_apply`: one more protocol (a correction) into that live tally. Goal ≤ 50 µs.
//! - `million_stations`: 1,000,000 stations in 1,000 districts, one list race with 29 parties and
//!   "against all" (30 options): fold one manual protocol per station, then results. Goal ≤ 10 s
//!   and ≤ 2 GiB; the tally's heap estimate ([`Tally::heap_bytes`]) and the process's peak
//!   resident set (which includes parsing the 1M-station election.toml) are printed.
//!
//! Submissions are not signed (the tally never looks at signatures). Run:
//! `cargo bench -p sverka-tally --bench tabulate`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use divan::{black_box, Bencher};
use sverka_model::election::Election;
use sverka_model::submission::Supersedes;
use sverka_model::{Body, CorrectionReason, Payload, Protocol, Source, Submission};
use sverka_tally::tabulate::{ResultsConfig, Tally};

fn main() {
    divan::main();
}

const LINES: [&str; 12] = [
    "registered",
    "ballots_received",
    "issued_early",
    "issued_in_room",
    "issued_outside",
    "cancelled",
    "in_portable_boxes",
    "in_stationary_boxes",
    "invalid",
    "valid",
    "lost",
    "unaccounted",
];

/// A deterministic pseudo-random stream (xorshift64*), so every run tabulates the same numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

/// The election definition: `stations` stations over `districts` districts in 9 regions (plus
/// 59 stations abroad when `abroad`), `parties` lists of 5 candidates, and single-member races.
fn election_toml(
    stations: usize,
    districts: usize,
    parties: usize,
    smd: bool,
    abroad: bool,
) -> String {
    let mut t = String::with_capacity(stations * 90 + 100_000);
    t.push_str("id = \"bench\"\nname = { ky = \"b\", ru = \"b\", en = \"Bench\" }\ndate = \"2021-11-28\"\ntie_seed = \"bench-seed\"\n\n");
    t.push_str("[rules]\nballots_over_registered = 10\n\n");
    for r in 0..9 {
        let _ = writeln!(t, "[[regions]]\nid = \"r{r}\"\nname = {{ ky = \"r\", ru = \"r\", en = \"Region {r}\" }}\n");
    }
    if abroad {
        t.push_str("[[regions]]\nid = \"abroad\"\nname = { ky = \"a\", ru = \"a\", en = \"Abroad\" }\nabroad = true\n\n");
        t.push_str("[[districts]]\nid = \"dx\"\nregion = \"abroad\"\nname = { ky = \"x\", ru = \"x\", en = \"Abroad\" }\n\n");
    }
    for d in 0..districts {
        let _ = writeln!(t, "[[districts]]\nid = \"d{d}\"\nregion = \"r{}\"\nname = {{ ky = \"d\", ru = \"d\", en = \"District {d}\" }}\n", d % 9);
    }
    let home = if abroad { stations - 59 } else { stations };
    for s in 0..stations {
        let district = if s < home { format!("d{}", s % districts) } else { "dx".to_string() };
        let _ = writeln!(t, "[[stations]]\nid = \"s{s}\"\nname = \"Station {s}\"\ndistrict = \"{district}\"\nregistered = {}\n", 1000 + s % 1000);
    }
    t.push_str("[[forms]]\nid = \"protocol\"\nregistered = \"registered\"\nvalid = \"valid\"\ninvalid = \"invalid\"\n");
    t.push_str("took_part = \"issued_early + issued_in_room + issued_outside\"\n");
    t.push_str("relations = [\"in_portable_boxes + in_stationary_boxes = valid + invalid\", \"valid = sum(options)\"]\nlines = [\n");
    for line in LINES {
        let _ = writeln!(
            t,
            "  {{ id = \"{line}\", name = {{ ky = \"l\", ru = \"l\", en = \"{line}\" }} }},"
        );
    }
    t.push_str("]\n\n[[contests]]\nid = \"list\"\nkind = \"party_list\"\nname = { ky = \"l\", ru = \"l\", en = \"Lists\" }\n");
    t.push_str("form = \"protocol\"\nagainst_all = true\nseats = 54\nmethod = \"hare\"\n");
    t.push_str("threshold = { share = \"0.05\", base = \"took_part\" }\n");
    t.push_str("regional_threshold = { share = \"0.005\", base = \"took_part\", regions = [\"r0\", \"r1\", \"r2\", \"r3\", \"r4\", \"r5\", \"r6\", \"r7\", \"r8\"] }\n");
    t.push_str("women_min_share = \"0.3\"\n\n");
    for p in 0..parties {
        let _ = writeln!(t, "[[contests.parties]]\nid = \"p{p}\"\nballot_number = {}\nname = {{ ky = \"p\", ru = \"p\", en = \"Party {p}\" }}\ncandidates = [", p + 1);
        for c in 0..5 {
            let sex = if c % 2 == 0 { "male" } else { "female" };
            let _ = writeln!(
                t,
                "  {{ id = \"p{p}-{c}\", name = \"C {c}\", position = {}, sex = \"{sex}\" }},",
                c + 1
            );
        }
        t.push_str("]\n\n");
    }
    if smd {
        for d in 0..districts {
            let _ = writeln!(t, "[[contests]]\nid = \"smd-d{d}\"\nkind = \"single_member\"\nname = {{ ky = \"s\", ru = \"s\", en = \"District {d}\" }}\nform = \"protocol\"\ndistrict = \"d{d}\"\nagainst_all = true\ncandidates = [");
            for c in 0..4 {
                let _ = writeln!(
                    t,
                    "  {{ id = \"d{d}-c{c}\", name = \"C {c}\", position = {}, sex = \"male\" }},",
                    c + 1
                );
            }
            t.push_str("]\n\n");
        }
    }
    t
}

fn protocol(
    election: &Election,
    rng: &mut Rng,
    station: usize,
    contest: &str,
    options: &[String],
    source: Source,
) -> Protocol {
    let registered = election.stations[station].registered;
    let mut votes = BTreeMap::new();
    let mut valid = 0;
    for (i, option) in options.iter().enumerate() {
        let weight = if i < 6 { 40 } else { 6 };
        let v = rng.next(weight);
        valid += v;
        votes.insert(option.clone(), v);
    }
    let invalid = rng.next(10);
    let took_part = (valid + invalid + rng.next(5)).min(registered + 10);
    let values =
        [registered, took_part + 20, 0, took_part, 0, 20, 0, valid + invalid, invalid, valid, 0, 0];
    let lines = LINES.iter().zip(values).map(|(k, v)| (k.to_string(), v)).collect();
    let mut preferences = BTreeMap::new();
    if contest == "list" {
        for option in options.iter().filter(|o| o.as_str() != "against_all").take(6) {
            let by_candidate = (0..5).map(|c| (format!("{option}-{c}"), rng.next(20))).collect();
            preferences.insert(option.clone(), by_candidate);
        }
    }
    Protocol {
        station: election.stations[station].id.clone(),
        contest: contest.to_string(),
        source,
        lines,
        votes,
        preferences,
        supersedes: None,
        scan_sha256: None,
    }
}

fn unsigned(election: &Election, seq: u64, protocol: Protocol) -> Submission {
    let payload = Payload {
        v: 1,
        election: election.id.clone(),
        signer: "bench".to_string(),
        seq,
        time: None,
        body: Body::Protocol(protocol),
    };
    Submission { payload, signature: String::new() }
}

struct Night {
    election: Election,
    entries: Vec<(u64, Submission)>,
}

fn kyrgyz_night() -> &'static Night {
    static NIGHT: OnceLock<Night> = OnceLock::new();
    NIGHT.get_or_init(|| {
        let text = election_toml(2494, 36, 21, true, true);
        let election = Election::from_toml("bench.toml", &text).expect("bench election");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut entries = Vec::new();
        for (s, station) in election.stations.iter().enumerate() {
            for contest in election.contests.iter().filter(|c| c.covers(station)) {
                let options: Vec<String> =
                    contest.option_ids().iter().map(|o| o.to_string()).collect();
                let sources: &[Source] = if contest.id == "list" {
                    &[Source::Machine, Source::Manual]
                } else {
                    &[Source::Manual]
                };
                for &source in sources {
                    let p = protocol(&election, &mut rng, s, &contest.id, &options, source);
                    let index = entries.len() as u64 + 1;
                    entries.push((index, unsigned(&election, index, p)));
                }
            }
        }
        Night { election, entries }
    })
}

#[divan::bench(sample_count = 20)]
fn kyrgyz_size(bencher: Bencher) {
    let night = kyrgyz_night();
    bencher.bench(|| {
        let mut tally = Tally::new(&night.election);
        for (index, submission) in &night.entries {
            tally.apply(*index, submission);
        }
        let results = tally.results_with(&night.election, &ResultsConfig::default());
        black_box(results)
    });
}

#[divan::bench(sample_count = 20)]
fn kyrgyz_size_with_station_listing(bencher: Bencher) {
    let night = kyrgyz_night();
    let mut tally = Tally::new(&night.election);
    for (index, submission) in &night.entries {
        tally.apply(*index, submission);
    }
    bencher.bench(|| black_box(tally.results(&night.election)));
}

#[divan::bench(sample_count = 200, sample_size = 10)]
fn incremental_apply(bencher: Bencher) {
    let night = kyrgyz_night();
    let mut tally = Tally::new(&night.election);
    for (index, submission) in &night.entries {
        tally.apply(*index, submission);
    }
    let mut next = night.entries.len() as u64 + 1;
    let mut rng = Rng(7);
    let options: Vec<String> =
        night.election.contests[0].option_ids().iter().map(|o| o.to_string()).collect();
    bencher
        .with_inputs(|| {
            let station = rng.next(2494) as usize;
            let mut p =
                protocol(&night.election, &mut rng, station, "list", &options, Source::Manual);
            p.supersedes = Some(Supersedes { index: 1, reason: CorrectionReason::KeyingError });
            next += 1;
            (next, unsigned(&night.election, next, p))
        })
        .bench_local_refs(|(index, submission)| tally.apply(*index, submission));
}

/// CPU time of this thread (user + system), from `/proc/thread-self/stat`, in seconds: on a
/// shared 2-core machine the wall clock also measures everyone else's compilers.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[divan::bench(sample_count = 1, sample_size = 1)]
fn million_stations(bencher: Bencher) {
    const STATIONS: usize = 1_000_000;
    let text = election_toml(STATIONS, 1000, 29, false, false);
    let election = Election::from_toml("million.toml", &text).expect("million election");
    drop(text);
    let options: Vec<String> =
        election.contests[0].option_ids().iter().map(|o| o.to_string()).collect();
    assert_eq!(options.len(), 30);
    // One protocol per station, built in blocks so the submissions never all sit in memory;
    // only `apply` and `results` are inside the timed region's accounting below.
    bencher.bench_local(|| {
        let mut rng = Rng(42);
        let mut tally = Tally::new(&election);
        let mut apply_time = std::time::Duration::ZERO;
        let mut apply_cpu = 0.0;
        let block = 10_000;
        for start in (0..STATIONS).step_by(block) {
            let submissions: Vec<Submission> = (start..start + block)
                .map(|s| {
                    let p = protocol(&election, &mut rng, s, "list", &options, Source::Manual);
                    unsigned(&election, s as u64, p)
                })
                .collect();
            let (t, cpu) = (std::time::Instant::now(), thread_cpu_seconds());
            for (i, submission) in submissions.iter().enumerate() {
                tally.apply((start + i) as u64 + 1, submission);
            }
            apply_time += t.elapsed();
            apply_cpu += thread_cpu_seconds() - cpu;
        }
        let tally_bytes = tally.heap_bytes();
        let (t, cpu) = (std::time::Instant::now(), thread_cpu_seconds());
        let results = tally.results_with(&election, &ResultsConfig::default());
        let results_time = t.elapsed();
        let results_cpu = thread_cpu_seconds() - cpu;
        eprintln!(
            "million_stations: apply {:.2} s wall / {:.2} s CPU ({:.2} µs CPU per protocol), results {:.3} s wall / {:.2} s CPU, tally heap ≈ {} MiB, process peak RSS {} MiB (election parse included)",
            apply_time.as_secs_f64(),
            apply_cpu,
            apply_cpu * 1e6 / STATIONS as f64,
            results_time.as_secs_f64(),
            results_cpu,
            tally_bytes / (1 << 20),
            peak_resident_bytes() / (1 << 20),
        );
        black_box(results)
    });
}
