//! Writes only the `election.toml` that `sverka simulate --seed SEED --stations N` would write
//! (the same plan, keys derived the same way, no submission signed): a large definition for the
//! load benchmarks in BENCHMARKS.md without simulating the whole night.
//!
//! `cargo run --release -p sverka-model --example write_definition -- ELECTION SEED STATIONS OUT`
//! (with `simulate.toml` beside ELECTION read as `sverka simulate` reads it).

use std::path::Path;

use sverka_model::simulate::{Config, Night, Profile};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [election, seed, stations, out] = args.as_slice() else {
        panic!("usage: write_definition ELECTION SEED STATIONS OUT");
    };
    let text = std::fs::read_to_string(election).expect("readable election");
    let beside = Path::new(election).parent().unwrap_or(Path::new(".")).join("simulate.toml");
    let profile = std::fs::read_to_string(&beside).ok().map(|profile| {
        Profile::from_toml(&beside.display().to_string(), &profile).expect("valid simulate.toml")
    });
    let config = Config {
        seed: seed.parse().expect("SEED is a number"),
        stations: Some(stations.parse().expect("STATIONS is a number")),
        profile,
        ..Config::default()
    };
    let night = Night::new(election, &text, config).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out, night.election_toml()).expect("writable OUT");
}
