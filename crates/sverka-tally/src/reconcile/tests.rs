//! Reconciliation of the tiny example election (3 parties, 10 Hare seats, 5 % of took part
//! nationally and 0.5 % in the north; district d1's race), every expected number worked out by
//! hand in the comments, and property tests: the classification is symmetric, and no count the
//! sources allow changes an outcome the analysis calls safe.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sverka_model::election::Election;
use sverka_model::{Body, Payload, Protocol, Source, Submission};

use super::*;
use crate::seats::DistrictOutcome;

use Source::{Machine, Manual, Observer, Recount};

fn tiny() -> Election {
    let text = include_str!("../../../../examples/tiny/election.toml");
    Election::from_toml("tiny/election.toml", text).unwrap()
}

/// A list or district protocol with consistent lines (valid = sum of votes, took part issued in
/// the room), signed with one fixed key: the tally does not check signatures.
#[derive(Clone, Debug)]
struct P {
    station: &'static str,
    contest: &'static str,
    source: Source,
    signer: &'static str,
    took_part: u64,
    votes: Vec<(&'static str, u64)>,
}

fn list(station: &'static str, source: Source, took_part: u64, votes: &[(&'static str, u64)]) -> P {
    P { station, contest: "list", source, signer: "k", took_part, votes: votes.to_vec() }
}

fn lst(station: &'static str, source: Source, sun: u64, river: u64, mountain: u64) -> P {
    let votes = [("sun", sun), ("river", river), ("mountain", mountain), ("against_all", 0)];
    list(station, source, sun + river + mountain, &votes)
}

impl P {
    fn signer(mut self, signer: &'static str) -> P {
        self.signer = signer;
        self
    }

    fn sign(&self, election: &Election, seq: u64) -> Submission {
        let valid: u64 = self.votes.iter().map(|(_, v)| v).sum();
        let registered = election.station(self.station).map_or(0, |s| s.registered);
        let lines: BTreeMap<String, u64> = [
            ("registered", registered),
            ("ballots_received", self.took_part),
            ("issued_in_room", self.took_part),
            ("in_stationary_boxes", valid),
            ("invalid", self.took_part - valid),
            ("valid", valid),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let protocol = Protocol {
            station: self.station.to_string(),
            contest: self.contest.to_string(),
            source: self.source,
            lines,
            votes: self.votes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        };
        let payload = Payload {
            v: 1,
            election: election.id.clone(),
            signer: self.signer.to_string(),
            seq,
            time: None,
            body: Body::Protocol(protocol),
        };
        payload.sign(&SigningKey::from_bytes(&[7; 32]))
    }
}

fn tally_of(election: &Election, protocols: &[P]) -> Tally {
    let mut tally = Tally::new(election);
    for (i, p) in protocols.iter().enumerate() {
        tally.apply(i as u64 + 1, &p.sign(election, i as u64));
    }
    tally
}

fn run(protocols: &[P], tolerance: Option<u64>) -> Reconciliation {
    let election = tiny();
    let tally = tally_of(&election, protocols);
    let mut config = Config::for_election(&election);
    if let Some(t) = tolerance {
        config.tolerance = t;
    }
    reconcile(&election, &tally, &config)
}

fn contest<'a>(r: &'a Reconciliation, id: &str) -> &'a ContestReconciliation {
    r.contests.iter().find(|c| c.contest == id).unwrap()
}

fn station<'a>(c: &'a ContestReconciliation, id: &str) -> &'a StationReconciliation {
    c.stations.iter().find(|s| s.station == id).unwrap_or_else(|| panic!("station {id} not listed"))
}

/// Every list station counted by hand, far from any margin: sun 600, river 300, mountain 150 of
/// 1050 nationally (mountain 14.3 % > 5 %); Hare 10 seats: quotas 5.71, 2.86, 1.43 → 5 + 2 + 1,
/// remainders .71, .86, .43 → the two remainder seats to river and sun: 6, 3, 1.
fn calm_night() -> Vec<P> {
    vec![
        lst("1001", Manual, 200, 100, 50),
        lst("1002", Manual, 200, 100, 50),
        lst("1003", Manual, 100, 50, 25),
        lst("9001", Manual, 100, 50, 25),
    ]
}

#[test]
fn a_machine_misread_is_listed_line_by_line() {
    let mut night = calm_night();
    // The box at 1001 read one sun ballot as river: sun 199, river 101 (valid unchanged).
    night.push(lst("1001", Machine, 199, 101, 50));
    let r = run(&night, None);
    let list = contest(&r, "list");
    let s = station(list, "1001");
    assert_eq!(s.class, Class::Discrepancy);
    assert_eq!(s.counted, Some((Manual, 1)));
    assert_eq!(s.pairs.len(), 1);
    let pair = &s.pairs[0];
    assert_eq!((pair.a.source, pair.b.source), (Machine, Manual));
    let fields: Vec<(&str, u64, u64)> =
        pair.lines.iter().map(|l| (l.field.as_str(), l.a, l.b)).collect();
    assert_eq!(fields, vec![("votes.sun", 199, 200), ("votes.river", 101, 100)]);
    assert_eq!(s.spread, 2);
    // Stations without a machine count: one side missing.
    assert_eq!(station(list, "1002").class, Class::Missing);
    let nation = &list.totals[0].1;
    assert_eq!((nation.stations, nation.unreported), (6, 2));
    assert_eq!((nation.discrepancy, nation.missing, nation.matched), (1, 3, 0));
    assert_eq!((nation.pairs_discrepant, nation.lines_discrepant), (1, 2));
    // One vote either way cannot move a 14 % party or a seat: proven no, nothing to recount.
    assert_eq!(list.outcome.answer, Answer::No);
    assert!(list.outcome.recount.is_empty());
}

#[test]
fn tolerance_decides_between_within_tolerance_and_discrepancy() {
    let mut night = calm_night();
    night.push(lst("1001", Machine, 190, 110, 50));
    let within = run(&night, Some(10));
    assert_eq!(station(contest(&within, "list"), "1001").class, Class::WithinTolerance);
    assert_eq!(within.contests[0].outcome.stations_in_doubt, 0);
    let beyond = run(&night, Some(9));
    assert_eq!(station(contest(&beyond, "list"), "1001").class, Class::Discrepancy);
}

#[test]
fn every_observer_copy_is_compared_with_every_other_source() {
    let mut night = calm_night();
    night.push(lst("1002", Machine, 200, 100, 50));
    night.push(lst("1002", Observer, 200, 100, 50).signer("observer-a"));
    night.push(lst("1002", Observer, 190, 110, 50).signer("observer-b"));
    let r = run(&night, None);
    let s = station(contest(&r, "list"), "1002");
    let pairs: Vec<(String, String, Class)> =
        s.pairs.iter().map(|p| (p.a.label(), p.b.label(), p.class)).collect();
    let d = Class::Discrepancy;
    assert_eq!(
        pairs,
        vec![
            ("machine".into(), "manual".into(), Class::Match),
            ("machine".into(), "observer:observer-a".into(), Class::Match),
            ("machine".into(), "observer:observer-b".into(), d),
            ("manual".into(), "observer:observer-a".into(), Class::Match),
            ("manual".into(), "observer:observer-b".into(), d),
            ("observer:observer-a".into(), "observer:observer-b".into(), d),
        ]
    );
}

/// Mountain at exactly 5 %: 100 of 2000 took part (n/d = 1/20: 20·100 ≥ 2000).
fn mountain_on_the_edge() -> Vec<P> {
    vec![
        lst("1001", Manual, 600, 300, 40),
        lst("1002", Manual, 500, 300, 30),
        lst("9001", Manual, 130, 70, 30),
    ]
}

#[test]
fn a_discrepancy_beyond_the_threshold_margin_could_change_the_outcome() {
    let mut night = mountain_on_the_edge();
    // The machine at 1002 gives mountain 1 vote less, sun 1 more (took part the same).
    night.push(lst("1002", Machine, 501, 300, 29));
    let r = run(&night, None);
    let list = contest(&r, "list");
    // Down(mountain): 99 of 2000 < 5 %: it could fail.
    assert_eq!(list.outcome.answer, Answer::Yes);
    assert_eq!(
        list.outcome.thresholds,
        vec![ThresholdRisk { party: "mountain".into(), qualified_now: true }]
    );
    assert_eq!(list.outcome.recount, vec!["1002".to_string()]);
    assert!(list.outcome.recount_minimal);
    // Slack 20·100 − 2000 = 0; the station can take 20·1: impact 20 / (0 + 1) = 20.
    let s = station(list, "1002");
    assert_eq!(s.impact, Ratio::from_integer(20));
    assert_eq!(s.impact_on, "threshold:mountain");
    assert_eq!(r.answer(), Answer::Yes);
}

#[test]
fn the_same_margin_with_a_discrepancy_that_helps_the_party_is_no() {
    let mut night = mountain_on_the_edge();
    // The machine gives mountain one vote more than the hand count: the hand count (counted) is
    // the worst case for mountain already, and 1 vote moves no Hare seat here: seats 6, 3, 1 on
    // quotas 6.15, 3.35, 0.50; over the box the highest quota excess is river's
    // 6700/1999 − 3 ≈ 0.352 and the lowest is mountain's 1000/2000 − 1 + 1 = 0.5, so one cut
    // (λ = 0.4) keeps every seat.
    night.push(lst("1002", Machine, 499, 300, 31));
    let r = run(&night, None);
    let list = contest(&r, "list");
    assert_eq!(list.outcome.answer, Answer::No);
    assert!(list.outcome.thresholds.is_empty() && list.outcome.seats.is_empty());
    assert!(list.outcome.recount.is_empty());
}

#[test]
fn a_recount_settles_the_station() {
    let mut night = mountain_on_the_edge();
    night.push(lst("1002", Machine, 501, 300, 29));
    night.push(lst("1002", Recount, 500, 300, 30));
    let r = run(&night, None);
    let list = contest(&r, "list");
    let s = station(list, "1002");
    assert!(s.settled);
    assert_eq!(s.class, Class::Discrepancy, "the machine still disagrees, and is still listed");
    assert_eq!(list.outcome.stations_in_doubt, 0);
    assert_eq!(list.outcome.answer, Answer::No);
}

#[test]
fn a_district_winner_within_reach_of_the_spread_could_change() {
    let district = |station, source, a: u64, b: u64| {
        let votes = [("d1-a", a), ("d1-b", b), ("d1-c", 0), ("against_all", 0)];
        P { contest: "smd-d1", ..list(station, source, a + b, &votes) }
    };
    // d1-a leads by 2 (102 to 100); the machine at 1001 has it 49–51 where the hand count says
    // 51–49: d1-b could win.
    let night = vec![
        district("1001", Manual, 51, 49),
        district("1001", Machine, 49, 51),
        district("1002", Manual, 51, 51),
    ];
    let r = run(&night, None);
    let smd = contest(&r, "smd-d1");
    assert_eq!(smd.outcome.winner_now.as_deref(), Some("d1-a"));
    assert_eq!(smd.outcome.winner_could_be, vec!["d1-b".to_string()]);
    assert_eq!(smd.outcome.answer, Answer::Yes);
    assert_eq!(smd.outcome.recount, vec!["1001".to_string()]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn classification_is_symmetric(a in 0u64..1000, b in 0u64..1000, tolerance in 0u64..50) {
        prop_assert_eq!(Class::of(a, b, tolerance), Class::of(b, a, tolerance));
        prop_assert_eq!(Class::of(a, b, tolerance) == Class::Match, a == b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The worst case is at least as bad as any real recount: whenever some choice of the copies
    /// (each station's truth being one of its sources) changes a party's qualification or seats,
    /// the answer is not "no". And the pair classes do not depend on which side is `a`.
    #[test]
    fn no_choice_of_copies_changes_an_outcome_called_safe(
        counts in proptest::collection::vec((0u64..200, 0u64..150, 0u64..40), 4),
        errors in proptest::collection::vec((-25i64..=25, -25i64..=25, -25i64..=25), 4),
        choice in proptest::collection::vec(any::<bool>(), 4),
    ) {
        let stations = ["1001", "1002", "1003", "9001"];
        let adjust = |v: u64, e: i64| v.saturating_add_signed(e);
        let mut night = Vec::new();
        for ((s, &(a, b, c)), &(x, y, z)) in stations.iter().zip(&counts).zip(&errors) {
            night.push(lst(s, Manual, a, b, c));
            night.push(lst(s, Machine, adjust(a, x), adjust(b, y), adjust(c, z)));
        }
        let r = run(&night, None);
        let list = contest(&r, "list");
        for s in &list.stations {
            for pair in &s.pairs {
                let flipped: Vec<Class> = pair.lines.iter().map(|l| Class::of(l.b, l.a, 0)).collect();
                let classes: Vec<Class> = pair.lines.iter().map(|l| l.class).collect();
                prop_assert_eq!(flipped, classes);
            }
        }
        // The truth: at each station, the manual or the machine count.
        let truth: Vec<P> = night
            .chunks(2)
            .zip(&choice)
            .map(|(pair, &machine)| P { source: Manual, ..pair[usize::from(machine)].clone() })
            .collect();
        let election = tiny();
        let counted = tally_of(&election, &night).results(&election);
        let real = tally_of(&election, &truth).results(&election);
        let seats = |results: &crate::tabulate::Results| match &results.contests[0].preliminary.outcome {
            crate::tabulate::Outcome::PartyList(o) => {
                o.parties.iter().map(|p| (p.qualified, p.seats)).collect::<Vec<_>>()
            }
            _ => unreachable!(),
        };
        if seats(&counted) != seats(&real) {
            prop_assert_ne!(list.outcome.answer, Answer::No, "{:?} vs {:?}", seats(&counted), seats(&real));
        }
        if list.outcome.answer == Answer::Yes {
            prop_assert!(!list.outcome.recount.is_empty());
        }
    }
}

#[test]
fn district_outcome_type_is_the_one_the_results_use() {
    // The single-member answer compares winners as decide_district names them.
    let election = tiny();
    let night = vec![P {
        contest: "smd-d1",
        ..list("1001", Manual, 10, &[("d1-a", 6), ("d1-b", 4), ("d1-c", 0), ("against_all", 0)])
    }];
    let tally = tally_of(&election, &night);
    let results = tally.results(&election);
    let crate::tabulate::Outcome::SingleMember(d) = &results.contests[1].preliminary.outcome else {
        panic!("district race expected")
    };
    assert!(
        matches!(&d.outcome, Some(DistrictOutcome::Elected { winner, .. }) if winner.as_str() == "d1-a")
    );
    let r = reconcile(&election, &tally, &Config::for_election(&election));
    assert_eq!(contest(&r, "smd-d1").outcome.winner_now.as_deref(), Some("d1-a"));
}
