//! Invariants of the fold (STYLE.md rule 14): tabulating the log in another order gives the same
//! results and the same snapshot bytes; applying an entry twice changes nothing; the live tally at
//! any prefix equals a fresh tabulation of that prefix.

mod tabulate_fixture;

use proptest::prelude::*;
use sverka_model::Source;
use sverka_tally::snapshot::{snapshot_json, Checkpoint};
use sverka_tally::tabulate::{Results, Tally};
use tabulate_fixture::*;

const STATIONS: [&str; 6] = ["1001", "1002", "1003", "1004", "9001", "9002"];
const SOURCES: [Source; 4] = [Source::Machine, Source::Manual, Source::Observer, Source::Recount];
const PARTIES: [&str; 4] = ["sun", "river", "mountain", "against_all"];
const CANDIDATES: [&str; 4] = ["d1-a", "d1-b", "d1-c", "against_all"];
const SIGNERS: [&str; 2] = ["obs-a", "obs-b"];

/// One generated entry: a protocol or an annulment.
#[derive(Clone, Debug)]
enum Entry {
    Protocol {
        station: usize,
        smd: bool,
        source: usize,
        signer: usize,
        votes: [u64; 4],
        supersedes: Option<u64>,
    },
    Annul {
        station: usize,
        list_only: bool,
    },
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        8 => (0..6usize, any::<bool>(), 0..4usize, 0..2usize, [0..400u64, 0..400u64, 0..400u64, 0..50u64], proptest::option::of(1..30u64))
            .prop_map(|(station, smd, source, signer, votes, supersedes)| Entry::Protocol {
                station, smd: smd && station < 4, source, signer, votes, supersedes
            }),
        1 => (0..6usize, any::<bool>()).prop_map(|(station, list_only)| Entry::Annul { station, list_only }),
    ]
}

fn submissions(entries: &[Entry]) -> Vec<(u64, sverka_model::Submission)> {
    let election = tiny();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let index = i as u64 + 1;
            let submission = match e {
                Entry::Protocol { station, smd, source, signer, votes, supersedes } => {
                    let names = if *smd { CANDIDATES } else { PARTIES };
                    let votes: Vec<(&'static str, u64)> =
                        names.iter().copied().zip(votes.iter().copied()).collect();
                    let took_part = votes.iter().map(|(_, v)| v).sum::<u64>() + 5;
                    let make = if *smd { district } else { list };
                    let mut p = make(STATIONS[*station], SOURCES[*source], took_part, 5, &votes)
                        .signer(SIGNERS[*signer]);
                    // Only earlier entries can be named (the validator refuses anything else).
                    if let Some(named) = supersedes.filter(|n| *n < index) {
                        p = p.supersedes(named);
                    }
                    p.sign(&election, index)
                }
                Entry::Annul { station, list_only } => {
                    annul(&election, STATIONS[*station], list_only.then_some("list"))
                }
            };
            (index, submission)
        })
        .collect()
}

fn tabulate(log: &[(u64, sverka_model::Submission)], order: &[usize]) -> Results {
    let election = tiny();
    let mut tally = Tally::new(&election);
    for &i in order {
        tally.apply(log[i].0, &log[i].1);
    }
    tally.results(&election)
}

const CHECKPOINT: Checkpoint = Checkpoint { size: 31, root: [9; 32] };

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_order_gives_the_same_results(
        entries in proptest::collection::vec(entry(), 0..30),
        seed in any::<u64>(),
    ) {
        let log = submissions(&entries);
        let in_order: Vec<usize> = (0..log.len()).collect();
        let mut shuffled = in_order.clone();
        // A Fisher–Yates shuffle driven by the generated seed (xorshift).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = tabulate(&log, &in_order);
        let b = tabulate(&log, &shuffled);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(snapshot_json(&a, &CHECKPOINT).unwrap(), snapshot_json(&b, &CHECKPOINT).unwrap());

        // Replaying every entry a second time changes nothing.
        let twice: Vec<usize> = in_order.iter().chain(shuffled.iter()).copied().collect();
        prop_assert_eq!(&tabulate(&log, &twice), &a);
    }

    #[test]
    fn every_prefix_of_the_live_tally_is_a_fresh_tabulation(
        entries in proptest::collection::vec(entry(), 1..16),
    ) {
        let election = tiny();
        let log = submissions(&entries);
        let mut live = Tally::new(&election);
        for (k, (index, submission)) in log.iter().enumerate() {
            live.apply(*index, submission);
            let prefix: Vec<usize> = (0..=k).collect();
            prop_assert_eq!(live.results(&election), tabulate(&log, &prefix));
        }
    }
}
