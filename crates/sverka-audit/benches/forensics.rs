//! Benchmark of election forensics on the simulated 2021 night (2,494 stations, 22 options, the
//! list race, preliminary view): the whole analysis with the defaults (1,000 simulated data sets per
//! null distribution: four round-number tests share one set, the two digit tests one each), and its
//! parts. Figures go to BENCHMARKS.md (rule 17); run with
//! `cargo bench -p sverka-audit --bench forensics`.

use std::sync::OnceLock;

use sverka_audit::forensics::{analyse, Config, Input};
use sverka_model::election::Election;
use sverka_model::simulate::{self, Night, Profile};
use sverka_model::Submission;
use sverka_tally::tabulate::{Tally, View};

fn main() {
    divan::main();
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

fn night() -> &'static Input {
    static INPUT: OnceLock<Input> = OnceLock::new();
    INPUT.get_or_init(|| {
        let profile =
            Profile::from_toml("simulate.toml", &read("kyrgyzstan-2021/simulate.toml")).unwrap();
        let config = simulate::Config { seed: 1, profile: Some(profile), ..Default::default() };
        let text = read("kyrgyzstan-2021/election.toml");
        let night = Night::new("election.toml", &text, config).unwrap();
        let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
        let mut tally = Tally::new(&election);
        let submissions = night.submissions();
        for (i, line) in submissions.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            tally.apply(i as u64 + 1, &Submission::decode(line).unwrap());
        }
        Input::from_tally(&election, &tally, "list", View::Preliminary).unwrap()
    })
}

/// The whole analysis, as `sverka forensics` runs it by default.
#[divan::bench(sample_count = 5)]
fn analyse_2021_night_1000_simulations() -> usize {
    analyse(night(), &Config::default()).unwrap().flagged.len()
}

/// The same with 200 simulations (the site's setting).
#[divan::bench(sample_count = 5)]
fn analyse_2021_night_200_simulations() -> usize {
    analyse(night(), &Config { simulations: 200, ..Config::default() }).unwrap().flagged.len()
}

/// The report as JSON.
#[divan::bench(sample_count = 10)]
fn json_2021_night() -> usize {
    let report = analyse(night(), &Config { simulations: 19, ..Config::default() }).unwrap();
    divan::black_box(&report);
    report.to_json().len()
}
