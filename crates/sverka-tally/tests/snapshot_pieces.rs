//! `snapshot_json` writes the snapshot piece by piece (a 250,000-station document never exists as
//! one value tree); its bytes must be exactly the canonical bytes of `snapshot_value`, which the
//! read API and the pages cut from. Checked on a simulated 2021 night with every source, planted
//! discrepancies and rejected lines, at several points of the night.

use sverka_model::canonical::value_to_vec;
use sverka_model::simulate::{Config, Night};
use sverka_model::{Election, Submission};
use sverka_tally::snapshot::{snapshot_json, snapshot_value, Checkpoint};
use sverka_tally::tabulate::Tally;

#[test]
fn the_piecewise_snapshot_is_the_canonical_value_byte_for_byte() {
    let text = include_str!("../../../examples/kyrgyzstan-2021/election.toml");
    let config = Config { seed: 4, stations: Some(300), ..Config::default() };
    let night = Night::new("election.toml", text, config).expect("the 2021 example simulates");
    let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
    let submissions: Vec<Submission> = night
        .submissions()
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| Submission::decode(line).expect("simulated lines decode"))
        .collect();
    let mut tally = Tally::new(&election);
    let checkpoints = [0, 1, submissions.len() / 3, submissions.len()];
    let mut applied = 0;
    for (n, &upto) in checkpoints.iter().enumerate() {
        while applied < upto {
            tally.apply(applied as u64 + 1, &submissions[applied]);
            applied += 1;
        }
        let results = tally.results(&election);
        let checkpoint = Checkpoint { size: applied as u64 + 1, root: [n as u8; 32] };
        let pieces = snapshot_json(&results, &checkpoint).unwrap();
        let whole = value_to_vec(&snapshot_value(&results, &checkpoint)).unwrap();
        assert!(pieces == whole, "after {applied} submissions the two writings differ");
        let parsed: serde_json::Value = serde_json::from_slice(&pieces).unwrap();
        assert_eq!(parsed["checkpoint"]["size"], applied as u64 + 1);
        if applied == submissions.len() {
            let stations = parsed["contests"][0]["stations"].as_array().map_or(0, Vec::len);
            assert!(stations >= 300, "the station list is written ({stations} stations)");
        }
    }
}
