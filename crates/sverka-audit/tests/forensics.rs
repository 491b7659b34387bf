//! Forensics on the simulated 2021 night (sverka-model's simulator, replayed through the tally as
//! the server would): with no planted fraud each test's false flags stay within its nominal rate;
//! with planted ballot stuffing and planted round numbers the planted stations rank at the top and
//! the fingerprint grows its comet tail.

use std::sync::OnceLock;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sverka_audit::forensics::{analyse, Config, Counts, Input, SourceCounts, Station};
use sverka_model::election::Election;
use sverka_model::simulate::{self, Defect, DefectKind, Night, Profile};
use sverka_model::{Source, Submission};
use sverka_tally::tabulate::{Tally, View};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

/// The simulated 2021 night for `seed` (1, 2 or 3), tallied, as forensics input (preliminary
/// view), with the simulator's planted defects; computed once per test binary.
fn night(seed: u64) -> (Input, Vec<Defect>) {
    static NIGHTS: [OnceLock<(Input, Vec<Defect>)>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    NIGHTS[seed as usize - 1].get_or_init(|| simulate_night(seed)).clone()
}

fn simulate_night(seed: u64) -> (Input, Vec<Defect>) {
    let profile =
        Profile::from_toml("simulate.toml", &read("kyrgyzstan-2021/simulate.toml")).unwrap();
    let config =
        simulate::Config { seed, profile: Some(profile), threads: 2, ..Default::default() };
    let night =
        Night::new("kyrgyzstan-2021/election.toml", &read("kyrgyzstan-2021/election.toml"), config)
            .unwrap_or_else(|e| panic!("{e}"));
    let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
    let mut tally = Tally::new(&election);
    let submissions = night.submissions();
    for (i, line) in submissions.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        tally.apply(i as u64 + 1, &Submission::decode(line).unwrap());
    }
    let input = Input::from_tally(&election, &tally, "list", View::Preliminary).unwrap();
    (input, night.defects().to_vec())
}

/// Ballot stuffing: the station's turnout pushed to `turnout_permille` with every extra ballot for
/// option `party`; every protocol of the station counts the stuffed box.
fn stuff(station: &mut Station, party: usize, turnout_permille: u64) {
    let took_part = (station.registered * turnout_permille).div_ceil(1000);
    let extra = took_part.saturating_sub(station.counts.took_part);
    station.counts.took_part += extra;
    station.counts.votes[party] += extra;
    let counts = station.counts.clone();
    for source in &mut station.sources {
        source.counts = counts.clone();
    }
}

/// A written-in result: turnout exactly the count for `turnout` %, `share` % of it for `party`,
/// the other options scaled to fill the rest (invalid ballots kept).
fn write_in(station: &mut Station, party: usize, turnout: u64, share: u64) {
    let took_part = (station.registered * turnout + 50) / 100;
    let leader = (took_part * share + 50) / 100;
    let invalid = station.counts.took_part - station.counts.votes.iter().sum::<u64>();
    let others: u64 =
        station.counts.votes.iter().enumerate().filter(|(i, _)| *i != party).map(|x| x.1).sum();
    let rest = took_part - invalid - leader;
    let mut given = 0;
    for (i, v) in station.counts.votes.iter_mut().enumerate() {
        if i != party {
            *v = *v * rest / others.max(1);
            given += *v;
        }
    }
    station.counts.votes[party] = leader;
    let first_other = usize::from(party == 0);
    station.counts.votes[first_other] += rest - given;
    station.counts.took_part = took_part;
    let counts = station.counts.clone();
    for source in &mut station.sources {
        source.counts = counts.clone();
    }
}

fn leader_index(input: &Input) -> usize {
    let totals: Vec<u64> = (0..input.options.len())
        .map(|o| input.stations.iter().map(|s| s.counts.votes[o]).sum())
        .collect();
    (0..totals.len()).max_by_key(|&o| totals[o]).unwrap()
}

/// Plants stuffing at 3 % of the stations and written-in round numbers at 1 %, chosen by a seeded
/// RNG among stations of at least 600 voters (so that a round share of took part is itself a
/// reason: at 70 % turnout, 20 / took part < 0.05); returns the planted station ids.
fn plant_fraud(input: &mut Input, seed: u64) -> (Vec<String>, Vec<String>) {
    let party = leader_index(input);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> =
        (0..input.stations.len()).filter(|&i| input.stations[i].registered >= 600).collect();
    order.shuffle(&mut rng);
    let n_stuffed = input.stations.len() * 3 / 100;
    let n_round = input.stations.len() / 100;
    let mut stuffed = Vec::new();
    for &i in &order[..n_stuffed] {
        stuff(&mut input.stations[i], party, rng.gen_range(900..=980));
        stuffed.push(input.stations[i].id.clone());
    }
    let mut round = Vec::new();
    for &i in &order[n_stuffed..n_stuffed + n_round] {
        let turnout = [70, 75, 80, 85][rng.gen_range(0..4)];
        let share = [60, 65, 70][rng.gen_range(0..3)];
        write_in(&mut input.stations[i], party, turnout, share);
        round.push(input.stations[i].id.clone());
    }
    (stuffed, round)
}

const SEEDS: [u64; 3] = [1, 2, 3];

fn config(seed: u64) -> Config {
    // 199 simulations keep the tests quick; p-values still resolve 0.005.
    Config { seed, simulations: 199, ..Config::default() }
}

#[test]
fn honest_nights_flag_no_more_than_the_nominal_rates() {
    let (mut stations, mut pattern_flags) = (0usize, 0usize);
    let (mut election_tests, mut election_flags) = (0usize, 0usize);
    for seed in SEEDS {
        let (input, _) = night(seed);
        let config = config(seed);
        let report = analyse(&input, &config).unwrap();
        stations += input.stations.len();
        pattern_flags +=
            report.flagged.iter().filter(|f| f.pattern_p_value < config.alpha_station).count();
        for flagged in report.round_numbers.iter().map(|r| r.flagged) {
            election_tests += 1;
            election_flags += usize::from(flagged);
        }
        for flagged in report.digits.iter().map(|d| d.flagged) {
            election_tests += 1;
            election_flags += usize::from(flagged);
        }
        // No comet: next to no voters at ≥ 80 % turnout with the leader at ≥ 50 %.
        assert!(report.fingerprint.tail_fraction() < 0.005, "seed {seed}: honest comet tail");
    }
    let station_rate = pattern_flags as f64 / stations as f64;
    assert!(
        station_rate <= Config::default().alpha_station,
        "{pattern_flags} of {stations} honest stations flagged for their result pattern"
    );
    let election_rate = election_flags as f64 / election_tests as f64;
    assert!(
        election_rate <= Config::default().alpha_election,
        "{election_flags} of {election_tests} election-wide tests flagged honest nights"
    );
}

#[test]
fn textbook_digit_p_values_reject_honest_counts_and_the_simulated_ones_do_not() {
    // The caveat of Deckert et al. made concrete: honest simulated counts are far from the uniform
    // last digit and from 2BL by the textbook χ² test; the smoothed-null p-value is not fooled.
    let (input, _) = night(1);
    let report = analyse(&input, &config(1)).unwrap();
    let last = report.digits.iter().find(|d| d.test == "last_digit").unwrap();
    assert!(last.p_value_asymptotic < 1e-6, "textbook p {}", last.p_value_asymptotic);
    assert!(!last.flagged, "simulated p {}", last.p_value);
}

#[test]
fn planted_stuffing_and_round_numbers_rank_at_the_top_with_a_comet_tail() {
    for seed in [1, 2] {
        let (mut input, _) = night(seed);
        let honest_tail = analyse(&input, &config(seed)).unwrap().fingerprint.tail_fraction();
        let (stuffed, round) = plant_fraud(&mut input, seed + 100);
        let report = analyse(&input, &config(seed)).unwrap();
        let planted = stuffed.len() + round.len();
        let top: Vec<&str> = report.flagged[..planted].iter().map(|f| f.station.as_str()).collect();
        let planted_in_top =
            top.iter().filter(|s| stuffed.iter().chain(&round).any(|p| p == *s)).count();
        assert_eq!(planted_in_top, planted, "seed {seed}: the top {planted} ranks: {top:?}");
        for flag in &report.flagged[..planted] {
            let codes: Vec<&str> = flag.reasons.iter().map(|r| r.code).collect();
            assert!(codes.contains(&"high_turnout"), "{}: {codes:?}", flag.station);
            if round.contains(&flag.station) {
                assert!(codes.contains(&"round_turnout"), "{}: {codes:?}", flag.station);
                assert!(codes.contains(&"round_leader_share"), "{}: {codes:?}", flag.station);
            }
        }
        let turnout_5 = report
            .round_numbers
            .iter()
            .find(|r| r.variable == "turnout" && r.grid == "multiple_of_5")
            .unwrap();
        assert!(turnout_5.flagged, "seed {seed}: {turnout_5:?}");
        // The comet tail: ~3 % of stations at 90 %+ turnout hold several % of all voters.
        let tail = report.fingerprint.tail_fraction();
        assert!(tail > 0.05 && honest_tail < 0.005, "seed {seed}: tail {honest_tail} → {tail}");
        assert!(report.fingerprint.mass_above(90, 50) > 0);
    }
}

#[test]
fn source_differences_listed_are_exactly_the_planted_ones() {
    for seed in SEEDS {
        let (input, defects) = night(seed);
        let report = analyse(&input, &config(seed)).unwrap();
        let listed = |districts: &[sverka_audit::forensics::DistrictDeviations]| {
            let mut ids: Vec<String> =
                districts.iter().flat_map(|d| &d.stations).map(|s| s.station.clone()).collect();
            ids.sort();
            ids
        };
        let planted = |kind: DefectKind| {
            let mut ids: Vec<String> = defects
                .iter()
                .filter(|d| d.kind == kind && d.contest == "list")
                .map(|d| d.station.clone())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(listed(&report.machine_manual), planted(DefectKind::MachineManualMismatch));
        assert_eq!(listed(&report.observer), planted(DefectKind::ObserverMismatch));
        for district in report.machine_manual.iter().chain(&report.observer) {
            let z: Vec<f64> = district.stations.iter().map(|s| s.robust_z).collect();
            assert!(z.windows(2).all(|w| w[0] >= w[1]), "ranked by robust z: {z:?}");
        }
    }
}

#[test]
fn the_seed_is_in_the_report_and_the_same_seed_gives_the_same_bytes() {
    let (input, _) = night(1);
    let first = analyse(&input, &config(7)).unwrap().to_json();
    let again = analyse(&input, &config(7)).unwrap().to_json();
    assert_eq!(first, again);
    let value: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(value["seed"], 7);
    assert_eq!(value["format"], "sverka-forensics/v1");
}

/// Three stations whose every number is worked out by hand below.
fn tiny() -> Input {
    let counts = |took_part, votes: [u64; 2]| Counts { took_part, votes: votes.to_vec() };
    let station = |id: &str, registered, counted: Counts, machine: Counts| Station {
        id: id.into(),
        district: "d1".into(),
        registered,
        counts: counted.clone(),
        sources: vec![
            SourceCounts { source: Source::Machine, signer: None, counts: machine },
            SourceCounts { source: Source::Manual, signer: None, counts: counted },
        ],
    };
    Input {
        election: "tiny".into(),
        contest: "list".into(),
        view: "official".into(),
        options: vec!["p1".into(), "p2".into()],
        stations: vec![
            station("a", 1000, counts(500, [300, 200]), counts(500, [300, 200])),
            station("b", 1000, counts(400, [100, 300]), counts(400, [100, 300])),
            // The scanner moved 10 votes from p1 to p2: 20 votes differ, 5 % of 400.
            station("c", 800, counts(400, [260, 140]), counts(400, [250, 150])),
        ],
    }
}

#[test]
fn sverka_forensics_v1_is_pinned() {
    let report = analyse(&tiny(), &Config { simulations: 19, ..Config::default() }).unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "format",
        "election",
        "checkpoint",
        "contest",
        "view",
        "seed",
        "simulations",
        "alpha_election",
        "alpha_station",
        "min_registered",
        "outlier_z",
        "stations",
        "leader",
        "fingerprint",
        "correlations",
        "round_numbers",
        "digits",
        "sources",
        "flagged",
        "caveats",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(json["format"], "sverka-forensics/v1");
    assert_eq!(json["checkpoint"], serde_json::Value::Null);
    // p1 has 660 votes, p2 640.
    assert_eq!(json["leader"], "p1");
    // Turnout and p1's share in whole percent: a 50/60, b 40/25, c 50/65; weights = took part.
    assert_eq!(
        json["fingerprint"]["cells"],
        serde_json::json!([[40, 25, 400], [50, 60, 500], [50, 65, 400]])
    );
    assert_eq!(json["fingerprint"]["total"], 1300);
    // Every turnout and every share here is a multiple of 5 %.
    for test in json["round_numbers"].as_array().unwrap() {
        assert_eq!(test["observed"], 3, "{test}");
        assert_eq!(test["stations"], 3, "{test}");
    }
    let machine = &json["sources"]["machine_manual"][0];
    assert_eq!(machine["compared"], 3);
    assert_eq!(machine["stations"].as_array().unwrap().len(), 1);
    assert_eq!(machine["stations"][0]["station"], "c");
    assert_eq!(machine["stations"][0]["votes_differing"], 20);
    // District median 0, MAD 0, so the scale is the 1 % floor: z = 5 % / 1 % = 5.
    assert!((machine["stations"][0]["robust_z"].as_f64().unwrap() - 5.0).abs() < 1e-9);
    assert_eq!(machine["stations"][0]["outlier"], true);
    let flagged = json["flagged"].as_array().unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["station"], "c");
    // Its reasons: the scanner difference, and 400 of 800 is exactly 50 % (p = 20 / 800 < 0.05);
    // p1's 260 of 400 is exactly 65 %, but p = 20 / 400 = 0.05 is not below 0.05.
    let codes: Vec<&str> = flagged[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["round_turnout", "machine_manual_deviation"]);
    assert_eq!(
        report.to_csv().lines().next(),
        Some("rank,station,district,score,pattern_p_value,reasons")
    );
}

#[test]
fn bad_input_is_refused_with_the_station_named() {
    let mut input = tiny();
    input.stations[1].counts.votes.push(1);
    let error = analyse(&input, &Config::default()).unwrap_err();
    assert_eq!(error.to_string(), "station \"b\": 3 vote counts for 2 options");
    let error = analyse(&tiny(), &Config { simulations: 5, ..Config::default() }).unwrap_err();
    assert!(error.to_string().contains("simulations 5"), "{error}");
}
