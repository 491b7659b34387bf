//! The simulated 2021 night looks like 2021: computed from the signed submissions alone, the national
//! hand-count totals put the six parties that passed within 0.5 percentage points of their final
//! shares of took part, the others near their election-night machine shares, turnout near 34.6%, with
//! regions that differ.

use std::collections::BTreeMap;

use sverka_model::election::Election;
use sverka_model::simulate::{Config, Night, Profile};
use sverka_model::{Body, Source, Submission};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

/// Final % of took part (CEC, 15 December 2021) for the six that passed, machine shares on election
/// night for the others (../shared/data/kyrgyzstan-2021.md).
const SHARES: [(&str, f64); 21] = [
    ("ata-jurt", 17.32),
    ("ishenim", 13.61),
    ("yntymak", 11.00),
    ("alliance", 8.35),
    ("butun", 7.04),
    ("yiman-nuru", 6.17),
    ("ata-meken", 3.48),
    ("legalize", 0.62),
    ("kuchtuu-region", 0.62),
    ("bagyt", 0.95),
    ("azattyk", 4.01),
    ("mekenchil-el", 1.54),
    ("green", 0.41),
    ("zhashasyn", 0.44),
    ("social-democrats", 3.21),
    ("aruuzat", 0.46),
    ("patriots", 0.96),
    ("uluttar-birimdigi", 2.48),
    ("el-umutu", 4.46),
    ("ordo", 0.46),
    ("uluu-jurt", 0.71),
];

#[test]
fn kg2021_night_lands_on_the_2021_shares() {
    for seed in [1, 2] {
        check_night(seed);
    }
}

fn check_night(seed: u64) {
    let profile =
        Profile::from_toml("simulate.toml", &read("kyrgyzstan-2021/simulate.toml")).unwrap();
    let config = Config { seed, profile: Some(profile), threads: 2, ..Config::default() };
    let night =
        Night::new("kyrgyzstan-2021/election.toml", &read("kyrgyzstan-2021/election.toml"), config)
            .unwrap_or_else(|e| panic!("{e}"));
    let election = Election::from_toml("out", &night.election_toml()).unwrap();
    let broken: Vec<u64> = night
        .defects()
        .iter()
        .filter(|d| d.kind.as_str() == "control_relation_broken")
        .map(|d| d.line.unwrap())
        .collect();
    let form = election.form("protocol").unwrap();
    let mut votes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut took_part, mut registered) = (0i128, 0u64);
    let mut by_region: BTreeMap<String, (i128, u64)> = BTreeMap::new();
    let mut machine_stations = 0;
    for (i, line) in
        night.submissions().split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate()
    {
        let s = Submission::decode(line).unwrap();
        let Body::Protocol(p) = s.payload.body else { panic!() };
        if p.contest != "list" {
            continue;
        }
        if p.source == Source::Machine {
            machine_stations += 1;
        }
        if p.source != Source::Manual || broken.contains(&(i as u64 + 1)) {
            continue;
        }
        for (option, n) in &p.votes {
            *votes.entry(option.clone()).or_default() += n;
        }
        let t = form.took_part.eval(&p.lines, 0);
        took_part += t;
        registered += p.lines["registered"];
        let region = &election.station(&p.station).unwrap().region;
        let entry = by_region.entry(region.clone()).or_default();
        entry.0 += t;
        entry.1 += p.lines["registered"];
    }
    assert_eq!(registered, 3_703_420, "every station's hand count, once");
    let percent = |n: u64| n as f64 * 100.0 / took_part as f64;
    for (party, target) in SHARES {
        let got = percent(votes[party]);
        assert!((got - target).abs() <= 0.5, "{party}: {got:.2}% against {target}%");
    }
    let against_all = percent(votes["against_all"]);
    assert!((against_all - 2.17).abs() <= 0.5, "against all {against_all:.2}%");
    let turnout = took_part as f64 * 100.0 / registered as f64;
    assert!((turnout - 34.61).abs() <= 0.5, "turnout {turnout:.2}%");
    // About 10% of boxes never report.
    assert!((2_200..=2_290).contains(&machine_stations), "{machine_stations} boxes reported");
    // Regions differ: Bishkek votes less than Naryn, abroad least.
    let rate = |r: &str| by_region[r].0 as f64 / by_region[r].1 as f64;
    assert!(rate("bishkek") + 0.05 < rate("naryn"));
    assert!(rate("abroad") < rate("bishkek"));
}
