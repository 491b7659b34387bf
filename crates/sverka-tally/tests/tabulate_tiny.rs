//! Tabulation of the tiny example election, every expected number computed by hand in the
//! comments: which protocol counts (corrections, implicit corrections, recount over manual,
//! annulments), the official and preliminary views side by side, totals per level, thresholds,
//! Hare seats, the women rule, single-member outcomes, progress and sensitivity.

mod tabulate_fixture;

use sverka_model::Source;
use sverka_tally::seats::DistrictOutcome;
use sverka_tally::tabulate::{
    Applied, CorrectionKind, IgnoreReason, Level, ListOutcome, ListStatus, Outcome, Proportion,
    Results, ResultsConfig, SeatsOutlook, Tally, View,
};
use tabulate_fixture::*;

use Source::{Machine, Manual, Observer, Recount};

/// The base night:
/// - 1001 manual: sun 300, river 200, mountain 50, against 30; invalid 20; took part 600.
/// - 1002 manual: sun 100, river 250, mountain 20, against 10; invalid 10; took part 400.
/// - 9001 manual (abroad): sun 500, river 100, mountain 10, against 40; invalid 50; took part 700.
/// - 1003 machine only: sun 400, river 300, mountain 100, against 0; took part 800.
/// - 1001 machine: sun 310, river 190, mountain 50, against 30 (differs from the hand count).
fn base_night() -> Vec<P> {
    vec![
        list(
            "1001",
            Manual,
            600,
            20,
            &[("sun", 300), ("river", 200), ("mountain", 50), ("against_all", 30)],
        )
        .preferences(&[
            ("river", "river-1", 100),
            ("river", "river-2", 10),
            ("river", "river-3", 90),
            ("river", "river-4", 5),
            ("river", "river-5", 80),
        ]),
        list(
            "1002",
            Manual,
            400,
            10,
            &[("sun", 100), ("river", 250), ("mountain", 20), ("against_all", 10)],
        ),
        list(
            "9001",
            Manual,
            700,
            50,
            &[("sun", 500), ("river", 100), ("mountain", 10), ("against_all", 40)],
        ),
        list(
            "1003",
            Machine,
            800,
            0,
            &[("sun", 400), ("river", 300), ("mountain", 100), ("against_all", 0)],
        ),
        list(
            "1001",
            Machine,
            600,
            20,
            &[("sun", 310), ("river", 190), ("mountain", 50), ("against_all", 30)],
        ),
    ]
}

fn tabulate(entries: &[(u64, sverka_model::Submission)]) -> Results {
    let election = tiny();
    let mut tally = Tally::new(&election);
    for (index, submission) in entries {
        tally.apply(*index, submission);
    }
    tally.results(&election)
}

fn list_outcome(results: &Results, view: View) -> &ListOutcome {
    match &results.contest("list").unwrap().view(view).outcome {
        Outcome::PartyList(list) => list,
        other => panic!("not a list outcome: {other:?}"),
    }
}

fn seats(outcome: &ListOutcome) -> Vec<(&str, u32)> {
    outcome.parties.iter().map(|p| (p.party.as_str(), p.seats)).collect()
}

#[test]
fn official_and_preliminary_side_by_side() {
    let election = tiny();
    let results = tabulate(&log(&election, &base_night()));
    let list = results.contest("list").unwrap();
    assert_eq!(list.options, ["sun", "river", "mountain", "against_all"]);

    // Official: the hand counts of 1001, 1002, 9001.
    let official = list.official.nation();
    assert_eq!(official.stations, 6);
    assert_eq!(official.registered, 1200 + 900 + 1500 + 400 + 2500 + 800);
    assert_eq!(official.stations_counted, 3);
    assert_eq!(official.registered_counted, 1200 + 900 + 2500);
    assert_eq!(official.votes, [900, 550, 80, 80]);
    assert_eq!(official.took_part, 1700);
    assert_eq!(official.invalid, 80);
    assert_eq!(official.valid, 1610);
    assert_eq!(official.against_all, 80);
    // 1700 / 4600 = 36.9565…% → 3696 basis points, half up.
    assert_eq!(official.turnout, Proportion::new(1700, 4600));
    assert_eq!(official.turnout.basis_points(), Some(3696));
    assert_eq!(official.turnout.display(), "36.96%");

    // Preliminary adds 1003's machine count (1001's machine count is not used: manual exists).
    let preliminary = list.preliminary.nation();
    assert_eq!(preliminary.stations_counted, 4);
    assert_eq!(preliminary.votes, [1300, 850, 180, 80]);
    assert_eq!(preliminary.took_part, 2500);

    // Levels: abroad = 9001 only; north = 1001 + 1002 officially; district d2 = the abroad stations.
    let abroad = list.official.level(&Level::Abroad).unwrap();
    assert_eq!((abroad.stations, abroad.registered, abroad.stations_counted), (2, 3300, 1));
    assert_eq!(abroad.votes, [500, 100, 10, 40]);
    let north = list.official.level(&Level::Region("north".into())).unwrap();
    assert_eq!(north.votes, [400, 450, 70, 40]);
    assert_eq!(north.took_part, 1000);
    let d1 = list.preliminary.level(&Level::District("d1".into())).unwrap();
    assert_eq!(d1.votes, [800, 750, 170, 40]);
    let kinds: Vec<&str> = list.official.levels.iter().map(|l| l.level.kind()).collect();
    assert_eq!(kinds, ["nation", "abroad", "region", "region", "district", "district"]);
}

#[test]
fn thresholds_and_hare_seats_per_view() {
    let election = tiny();
    let results = tabulate(&log(&election, &base_night()));

    // Official: 5 % of 1700 took part = 85; mountain's 80 fails (80·20 = 1600 < 1700).
    // Qualified: sun 900 + river 550 = 1450; quota 145; 900/145 = 6 r 30, 550/145 = 3 r 115;
    // the tenth seat to the larger remainder: river. Sun 6, river 4.
    let official = list_outcome(&results, View::Official);
    assert_eq!(official.status, ListStatus::Allocated);
    assert_eq!(official.threshold_base, 1700);
    assert_eq!(seats(official), [("sun", 6), ("river", 4), ("mountain", 0)]);
    let mountain = &official.parties[2];
    assert!(!mountain.passes_national && !mountain.qualified);
    assert_eq!(mountain.share.display(), "4.71%"); // 80/1700 = 4.7058…%
    assert_eq!(mountain.flip_fixed_base, Some(5)); // needs 85
                                                   // Regional (north, 0.5 % of 1000 = 5): everyone passes there.
    assert!(official.parties.iter().all(|p| p.regions.iter().all(|r| r.passes)));

    // Preliminary: 5 % of 2500 = 125; mountain 180 passes; in north (took part 1800, 0.5 % = 9)
    // it has 170. Quota 2330/10 = 233: sun 5 r 135, river 3 r 151, mountain 0 r 180; the two
    // remaining seats to mountain (180) and river (151). Sun 5, river 4, mountain 1.
    let preliminary = list_outcome(&results, View::Preliminary);
    assert_eq!(seats(preliminary), [("sun", 5), ("river", 4), ("mountain", 1)]);
}

#[test]
fn women_rule_moves_a_seat() {
    let election = tiny();
    let results = tabulate(&log(&election, &base_night()));
    // River wins 4 official seats. 30 % of 4 = 1.2, rounded up: 2 seats go first to its women
    // with the most votes (river-2: 10, river-4: 5), the other 2 by votes (river-1: 100,
    // river-3: 90). River-5 (80 votes) is not elected although both women had fewer votes.
    let river = &list_outcome(&results, View::Official).parties[1];
    let elected: Vec<(&str, u64, bool)> =
        river.elected.iter().map(|e| (e.candidate.as_str(), e.votes, e.women_rule)).collect();
    assert_eq!(
        elected,
        [
            ("river-2", 10, true),
            ("river-4", 5, true),
            ("river-1", 100, false),
            ("river-3", 90, false)
        ]
    );
    assert_eq!(river.unfilled, 0);
}

#[test]
fn explicit_correction_supersedes() {
    let election = tiny();
    let mut night = base_night();
    // Entry 6 corrects entry 2 (1002 manual): river 250 → 260.
    night.push(
        list(
            "1002",
            Manual,
            400,
            10,
            &[("sun", 100), ("river", 260), ("mountain", 20), ("against_all", 10)],
        )
        .supersedes(2),
    );
    let results = tabulate(&log(&election, &night));
    let official = results.contest("list").unwrap().official.nation();
    assert_eq!(official.votes, [900, 560, 80, 80]);
    assert_eq!(results.corrections.len(), 1);
    let correction = &results.corrections[0];
    assert_eq!((correction.station.as_str(), correction.replaced, correction.by), ("1002", 2, 6));
    assert!(matches!(correction.kind, CorrectionKind::Explicit(_)));
    let station =
        results.contest("list").unwrap().stations.iter().find(|s| s.station == "1002").unwrap();
    assert_eq!(station.official.as_ref().unwrap().index, 6);
    assert_eq!(station.slots[0].entries, [2, 6]);
}

#[test]
fn later_entry_without_supersedes_is_an_implicit_correction() {
    let election = tiny();
    let mut night = base_night();
    // Entry 6: a second manual protocol of 9001, naming nothing: it replaces entry 3.
    night.push(list(
        "9001",
        Manual,
        700,
        50,
        &[("sun", 450), ("river", 150), ("mountain", 10), ("against_all", 40)],
    ));
    let results = tabulate(&log(&election, &night));
    assert_eq!(results.contest("list").unwrap().official.nation().votes, [850, 600, 80, 80]);
    assert_eq!(results.corrections.len(), 1);
    assert_eq!(results.corrections[0].kind, CorrectionKind::Implicit);
    assert_eq!((results.corrections[0].replaced, results.corrections[0].by), (3, 6));
}

#[test]
fn annulment_removes_a_station_from_both_views() {
    let election = tiny();
    let mut entries = log(&election, &base_night());
    entries.push((6, annul(&election, "1002", None)));
    let results = tabulate(&entries);
    let list = results.contest("list").unwrap();
    // Without 1002: sun 800, river 300, mountain 60, against 70; took part 1300.
    assert_eq!(list.official.nation().votes, [800, 300, 60, 70]);
    assert_eq!(list.official.nation().took_part, 1300);
    assert_eq!(list.official.nation().stations_annulled, 1);
    assert_eq!(list.official.nation().registered_annulled, 900);
    assert_eq!(list.preliminary.nation().votes, [1200, 600, 160, 70]);
    assert_eq!(results.annulments.len(), 1);
    assert_eq!(results.annulments[0].station, "1002");
    // The annulment also applies to district d1's race, where 1002 had no protocol yet: a
    // protocol arriving after the annulment does not count either.
    let mut later = entries.clone();
    later.push((7, district("1002", Manual, 400, 0, &[("d1-a", 400)]).sign(&election, 99)));
    let results = tabulate(&later);
    assert_eq!(results.contest("smd-d1").unwrap().official.nation().stations_counted, 0);
}

#[test]
fn annulment_of_one_contest_leaves_the_others() {
    let election = tiny();
    let mut night = base_night();
    night.push(district("1001", Manual, 600, 0, &[("d1-a", 300), ("d1-b", 250), ("d1-c", 50)]));
    let mut entries = log(&election, &night);
    entries.push((7, annul(&election, "1001", Some("list"))));
    let results = tabulate(&entries);
    assert_eq!(results.contest("list").unwrap().official.nation().stations_counted, 2);
    assert_eq!(results.contest("smd-d1").unwrap().official.nation().stations_counted, 1);
}

#[test]
fn recount_overrides_manual_and_may_supersede_it() {
    let election = tiny();
    let mut night = base_night();
    // Entry 6: a recount of 1001 (no supersedes). It outranks the manual protocol in both views.
    night.push(list(
        "1001",
        Recount,
        600,
        20,
        &[("sun", 280), ("river", 220), ("mountain", 50), ("against_all", 30)],
    ));
    let results = tabulate(&log(&election, &night));
    let contest = results.contest("list").unwrap();
    assert_eq!(contest.official.nation().votes, [880, 570, 80, 80]);
    assert_eq!(contest.preliminary.nation().votes, [1280, 870, 180, 80]);
    let station = contest.stations.iter().find(|s| s.station == "1001").unwrap();
    assert_eq!(station.official.as_ref().unwrap().source, Recount);
    // The manual slot keeps its version (no supersedes named it).
    assert!(station.slots.iter().any(|s| s.source == Manual && s.current == Some(1)));

    // Same recount naming the manual entry: the manual slot loses its current version.
    let mut night2 = base_night();
    night2.push(
        list(
            "1001",
            Recount,
            600,
            20,
            &[("sun", 280), ("river", 220), ("mountain", 50), ("against_all", 30)],
        )
        .supersedes(1),
    );
    let results = tabulate(&log(&election, &night2));
    let contest = results.contest("list").unwrap();
    assert_eq!(contest.official.nation().votes, [880, 570, 80, 80]);
    let station = contest.stations.iter().find(|s| s.station == "1001").unwrap();
    assert!(station.slots.iter().any(|s| s.source == Manual && s.current.is_none()));
    let manual = contest.progress.iter().find(|p| p.source == Manual).unwrap();
    assert_eq!(manual.stations, 2); // 1002 and 9001; 1001's hand count was superseded
}

#[test]
fn observer_copies_never_count_but_show_as_progress() {
    let election = tiny();
    let mut night = base_night();
    night.push(list("1004", Observer, 300, 0, &[("sun", 300)]).signer("party-a"));
    night.push(list("1004", Observer, 300, 0, &[("river", 300)]).signer("party-b"));
    let results = tabulate(&log(&election, &night));
    let list = results.contest("list").unwrap();
    assert_eq!(list.preliminary.nation().stations_counted, 4);
    let observer = list.progress.iter().find(|p| p.source == Observer).unwrap();
    assert_eq!((observer.stations, observer.registered, observer.of_stations), (1, 400, 6));
    let machine = list.progress.iter().find(|p| p.source == Machine).unwrap();
    assert_eq!((machine.stations, machine.registered), (2, 2700));
    let station = list.stations.iter().find(|s| s.station == "1004").unwrap();
    assert_eq!(station.slots.len(), 2, "one slot per observer key");
    assert!(station.official.is_none() && station.preliminary.is_none());
}

#[test]
fn single_member_winner_failure_and_no_results() {
    let election = tiny();
    let none = tabulate(&[]);
    let Outcome::SingleMember(d1) = &none.contest("smd-d1").unwrap().official.outcome else {
        panic!()
    };
    assert!(d1.outcome.is_none(), "no results yet");
    assert_eq!(list_outcome(&none, View::Official).status, ListStatus::NoResults);

    // d1-a 300 + 100 = 400, d1-b 250 + 200 = 450, against all 100 + 50: d1-b wins by 50.
    let night = vec![
        district(
            "1001",
            Manual,
            700,
            0,
            &[("d1-a", 300), ("d1-b", 250), ("d1-c", 50), ("against_all", 100)],
        ),
        district(
            "1002",
            Manual,
            400,
            0,
            &[("d1-a", 100), ("d1-b", 200), ("d1-c", 50), ("against_all", 50)],
        ),
    ];
    let results = tabulate(&log(&election, &night));
    let Outcome::SingleMember(d1) = &results.contest("smd-d1").unwrap().official.outcome else {
        panic!()
    };
    match d1.outcome.as_ref().unwrap() {
        DistrictOutcome::Elected { winner, votes, lead, lead_over_against_all, tie } => {
            assert_eq!(
                (winner.as_str(), *votes, *lead, *lead_over_against_all),
                ("d1-b", 450, 50, 300)
            );
            assert!(tie.is_none());
        }
        other => panic!("{other:?}"),
    }
    // 1003 and 1004 (1900 registered) are out, so 50 votes of lead decide nothing yet.
    assert!(!d1.outlook.decided);

    // Against all 500 beats the leader's 300: the race fails.
    let night = vec![district(
        "1001",
        Manual,
        900,
        0,
        &[("d1-a", 300), ("d1-b", 100), ("against_all", 500)],
    )];
    let results = tabulate(&log(&election, &night));
    let Outcome::SingleMember(d1) = &results.contest("smd-d1").unwrap().official.outcome else {
        panic!()
    };
    assert!(matches!(
        d1.outcome,
        Some(DistrictOutcome::Failed { leader_votes: 300, against_all: 500, .. })
    ));
}

#[test]
fn sensitivity_counts_outstanding_and_disputed_stations() {
    let election = tiny();
    let entries = log(&election, &base_night());
    let mut tally = Tally::new(&election);
    for (index, submission) in &entries {
        tally.apply(*index, submission);
    }
    let results = tally.results(&election);
    let official = list_outcome(&results, View::Official);
    // Not counted officially: 1003 (1500), 1004 (400), 9002 (800) = 2700 registered; the
    // allowance is 10 ballots per station: 2730 ballots in play.
    let in_play = &official.outlook.in_play;
    assert_eq!((in_play.outstanding_stations, in_play.outstanding_registered), (3, 2700));
    assert_eq!(in_play.ballots_in_play(), 2730);
    // Sun: 900 of 1700; falls below 5 % only once the base passes 900·20 = 18000: 16301 more.
    let sun = &official.outlook.parties[0];
    assert_eq!(sun.national.ballots_to_flip, Some(16_301));
    assert!(sun.national.decided);
    // Mountain: 80 of 1700; y ≥ (1700 − 1600)/19 → 6 ballots for it would lift it over 5 %.
    let mountain = &official.outlook.parties[2];
    assert_eq!(mountain.national.ballots_to_flip, Some(6));
    assert!(!mountain.national.decided);
    assert_eq!(official.outlook.seats, SeatsOutlook::QualificationOpen);

    // Disputing 9001 sets its 700 took part and its votes aside and adds 2510 ballots in play.
    let config = ResultsConfig { disputed: vec!["9001".into(), "nowhere".into()], stations: false };
    let disputed = tally.results_with(&election, &config);
    let official = list_outcome(&disputed, View::Official);
    assert_eq!(official.outlook.in_play.disputed_stations, 1);
    assert_eq!(official.outlook.in_play.ballots_in_play(), 2730 + 2510);
    // Sun without 9001: 400 of 1000 → falls only once the base passes 8000: 7001 more.
    assert_eq!(official.outlook.parties[0].national.ballots_to_flip, Some(7001));
    assert_eq!(disputed.disputed, ["9001"]);
    assert!(disputed.warnings.iter().any(|w| w.code == "tally.unknown_disputed_station"));
}

#[test]
fn complete_count_decides_seats() {
    let election = tiny();
    let mut night = base_night();
    night.push(list("1003", Manual, 800, 0, &[("sun", 400), ("river", 300), ("mountain", 100)]));
    night.push(list("1004", Manual, 300, 0, &[("sun", 100), ("river", 100), ("mountain", 100)]));
    night.push(list("9002", Manual, 500, 0, &[("sun", 300), ("river", 100), ("mountain", 100)]));
    let results = tabulate(&log(&election, &night));
    let official = list_outcome(&results, View::Official);
    assert_eq!(official.outlook.in_play.ballots_in_play(), 0);
    assert_eq!(official.outlook.seats, SeatsOutlook::Decided);
    assert!(official.outlook.parties.iter().all(|p| p.qualification_decided()));
}

#[test]
fn ignored_entries_are_reported_and_duplicates_are_no_ops() {
    let election = tiny();
    let mut tally = Tally::new(&election);
    let good = list("1001", Manual, 600, 20, &[("sun", 300)]).sign(&election, 1);
    assert_eq!(tally.apply(1, &good), Applied::Protocol);
    assert_eq!(tally.apply(1, &good), Applied::Duplicate);
    let bad = list("7777", Manual, 1, 0, &[]).sign(&election, 2);
    assert_eq!(tally.apply(2, &bad), Applied::Ignored(IgnoreReason::UnknownStation("7777".into())));
    // 9001 is abroad: it does not vote in district d1's race.
    let abroad = district("9001", Manual, 1, 0, &[]).sign(&election, 3);
    assert!(matches!(tally.apply(3, &abroad), Applied::Ignored(IgnoreReason::NotInContest { .. })));
    let results = tally.results(&election);
    assert_eq!(results.entries, 3);
    assert_eq!(results.ignored.len(), 2);
    assert_eq!(results.contest("list").unwrap().official.nation().votes, [300, 0, 0, 0]);
}
