//! The snapshot writes each station's canonical bytes directly, without a `serde_json::Value`
//! per station; they must be exactly the canonical bytes of `snapshot_value`'s station (what
//! the read API and the pages cut from, and what the format was pinned by). Held on generated
//! station results: ids with quotes, backslashes, control characters and non-ASCII letters,
//! option and line ids in any order and repeated, missing counts, observer signers, and
//! integers at and past the 2^53 − 1 that canonical JSON carries (an error either way).

use proptest::prelude::*;
use sverka_model::canonical::value_to_vec;
use sverka_model::simulate::{Config, Night};
use sverka_model::{Election, Source, Submission};
use sverka_tally::snapshot::{snapshot_json, snapshot_value, Checkpoint, SnapshotError};
use sverka_tally::tabulate::{Results, SlotHistory, StationCounts, StationResult, Tally};

/// The results of a small simulated night of the tiny example, whose first contest's ids and
/// stations each case replaces.
fn base_results() -> Results {
    let text = include_str!("../../../examples/tiny/election.toml");
    let config = Config { seed: 2, ..Config::default() };
    let night = Night::new("election.toml", text, config).expect("the tiny example simulates");
    let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
    let mut tally = Tally::new(&election);
    let lines = night.submissions();
    let lines = lines.split(|&b| b == b'\n').filter(|line| !line.is_empty());
    for (i, line) in lines.enumerate() {
        tally.apply(i as u64 + 1, &Submission::decode(line).expect("simulated lines decode"));
    }
    tally.results(&election)
}

fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => prop::char::range('a', 'c'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => prop::char::range('\u{0}', '\u{1f}'),
        1 => Just('\u{7f}'),
        1 => Just('é'),
        1 => Just('\u{2028}'),
        1 => Just('😀'),
        1 => Just('\u{ff5e}'),
    ];
    prop::collection::vec(chars, 0..5).prop_map(|chars| chars.into_iter().collect())
}

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        40 => 0..1_000u64,
        2 => Just((1u64 << 53) - 1),
        1 => Just(1u64 << 53),
        1 => any::<u64>(),
    ]
}

fn numbers() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(number(), 0..6)
}

fn source() -> impl Strategy<Value = Source> {
    prop::sample::select(Source::ALL.to_vec())
}

fn counts() -> impl Strategy<Value = Option<StationCounts>> {
    let counts = (source(), number(), number(), number(), number(), number(), numbers(), numbers())
        .prop_map(|(source, index, took_part, valid, invalid, against_all, votes, lines)| {
            StationCounts { source, index, took_part, valid, invalid, against_all, votes, lines }
        });
    prop::option::of(counts)
}

fn slot() -> impl Strategy<Value = SlotHistory> {
    (source(), prop::option::of(text()), numbers(), prop::option::of(number())).prop_map(
        |(source, signer, entries, current)| SlotHistory { source, signer, entries, current },
    )
}

fn station() -> impl Strategy<Value = StationResult> {
    let place = (text(), text(), text(), any::<bool>(), number());
    let history = (numbers(), prop::collection::vec(slot(), 0..3), counts(), counts());
    (place, history).prop_map(
        |(
            (station, district, region, abroad, registered),
            (annulled_by, slots, official, preliminary),
        )| {
            StationResult {
                station,
                district,
                region,
                abroad,
                registered,
                annulled_by,
                slots,
                official,
                preliminary,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn direct_station_bytes_are_the_canonical_value_bytes(
        options in prop::collection::vec(text(), 0..5),
        lines in prop::collection::vec(text(), 0..5),
        stations in prop::collection::vec(station(), 1..4),
    ) {
        let mut results = base_results();
        let contest = &mut results.contests[0];
        contest.options = options;
        contest.lines = lines;
        contest.stations = stations;
        let checkpoint = Checkpoint { size: 9, root: [3; 32] };
        let direct = snapshot_json(&results, &checkpoint);
        let through_values = value_to_vec(&snapshot_value(&results, &checkpoint));
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        prop_assert_eq!(
            direct.as_deref().map(text).map_err(ToString::to_string),
            through_values.map(|b| text(&b)).map_err(|e| SnapshotError::from(e).to_string())
        );
        if let Ok(bytes) = &direct {
            let parsed: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            let listed = parsed["contests"][0]["stations"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(listed, results.contests[0].stations.len());
        }
    }
}
