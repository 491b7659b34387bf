//! What changed between two checkpoints (`sverka_tally::changes`), on the tiny example election:
//! arrivals, corrections and annulments with their reasons, share moves, and every decrease of a
//! published total explained station by station. The `sverka-changes/v1` bytes are pinned.

mod tabulate_fixture;

use sverka_model::Source::{Machine, Manual};
use sverka_model::Submission;
use sverka_tally::changes::{changes, changes_json, CauseKind, Changes, Total};
use sverka_tally::snapshot::Checkpoint;
use sverka_tally::tabulate::{Level, Results, ResultsConfig, Tally, View};
use tabulate_fixture::*;

/// The results after the first `size` entries of `log` (entry 0, the election, is implied).
fn results_at(log: &[(u64, Submission)], size: u64) -> Results {
    let election = tiny();
    let mut tally = Tally::new(&election);
    for (index, submission) in log.iter().filter(|(i, _)| *i < size) {
        tally.apply(*index, submission);
    }
    tally.results_with(&election, &ResultsConfig { stations: true, ..Default::default() })
}

fn between(log: &[(u64, Submission)], from: u64, to: u64) -> Changes {
    let range: Vec<(u64, Submission)> =
        log.iter().filter(|(i, _)| (from..to).contains(i)).cloned().collect();
    changes(
        &results_at(log, from),
        &results_at(log, to),
        &range,
        Checkpoint { size: from, root: [0; 32] },
        Checkpoint { size: to, root: [1; 32] },
    )
}

const SCANNER_1003: [(&str, u64); 4] =
    [("sun", 400), ("river", 300), ("mountain", 100), ("against_all", 0)];

#[test]
fn a_keying_correction_is_pinned_in_sverka_changes_v1() {
    let election = tiny();
    // Entry 1: 1003's scanner, 800 took part. Entry 2 corrects it (keying error): 10 votes move
    // from sun to river. Only the preliminary view counts scanners, so the only decreases are
    // sun's, at the nation, region north and district d1: 400 → 390. Shares are over the 800 who
    // took part (the threshold base): sun 50.00 % → 48.75 %, river 37.50 % → 38.75 %, mountain
    // 12.50 %; the official view has counted nothing (0/0, no basis points).
    let corrected = [("sun", 390), ("river", 310), ("mountain", 100), ("against_all", 0)];
    let log = log(
        &election,
        &[
            list("1003", Machine, 800, 0, &SCANNER_1003),
            list("1003", Machine, 800, 0, &corrected).supersedes(1),
        ],
    );
    let json = String::from_utf8(changes_json(&between(&log, 2, 3)).unwrap()).unwrap();
    let zero = "{\"bp\":null,\"den\":0,\"num\":0}";
    let share = |num: u64, bp: u64| format!("{{\"bp\":{bp},\"den\":800,\"num\":{num}}}");
    let mut shares = Vec::new();
    for option in ["sun", "river", "mountain", "against_all"] {
        shares.push(format!(
            "{{\"after\":{zero},\"before\":{zero},\"contest\":\"list\",\"option\":\"{option}\",\"view\":\"official\"}}"
        ));
    }
    for (option, before, after) in [
        ("sun", (400, 5000), (390, 4875)),
        ("river", (300, 3750), (310, 3875)),
        ("mountain", (100, 1250), (100, 1250)),
        ("against_all", (0, 0), (0, 0)),
    ] {
        shares.push(format!(
            "{{\"after\":{},\"before\":{},\"contest\":\"list\",\"option\":\"{option}\",\"view\":\"preliminary\"}}",
            share(after.0, after.1),
            share(before.0, before.1)
        ));
    }
    let station = "[{\"after\":390,\"before\":400,\"causes\":[{\"index\":2,\"kind\":\"correction\",\"reason\":\"keying_error\"}],\"station\":\"1003\"}]";
    let decrease = |level: &str, id: &str| {
        format!(
            "{{\"after\":390,\"before\":400,\"contest\":\"list\",\"id\":{id},\"level\":\"{level}\",\"option\":\"sun\",\"stations\":{station},\"total\":\"votes\",\"view\":\"preliminary\"}}"
        )
    };
    let expected = format!(
        "{{\"annulments\":[],\"arrivals\":[],\
         \"corrections\":[{{\"contest\":\"list\",\"index\":2,\"reason\":\"keying_error\",\"replaced\":1,\"signer\":\"k\",\"source\":\"machine\",\"station\":\"1003\",\"time\":null}}],\
         \"decreases\":[{},{},{}],\
         \"election\":\"tiny\",\"format\":\"sverka-changes/v1\",\
         \"from\":{{\"root\":\"{}\",\"size\":2}},\
         \"shares\":[{}],\
         \"to\":{{\"root\":\"{}\",\"size\":3}}}}",
        decrease("nation", "null"),
        decrease("region", "\"north\""),
        decrease("district", "\"d1\""),
        "00".repeat(32),
        shares.join(","),
        "01".repeat(32),
    );
    assert_eq!(json, expected);
}

#[test]
fn every_decrease_names_the_stations_and_entries_behind_it() {
    let election = tiny();
    let scanner_1001 = [("sun", 310), ("river", 190), ("mountain", 50), ("against_all", 30)];
    let hand_1001 = [("sun", 300), ("river", 200), ("mountain", 50), ("against_all", 30)];
    let hand_9001 = [("sun", 500), ("river", 100), ("mountain", 10), ("against_all", 40)];
    let mut log = log(
        &election,
        &[
            list("1001", Machine, 600, 20, &scanner_1001),
            list("9001", Manual, 700, 50, &hand_9001),
            list("1001", Manual, 600, 20, &hand_1001),
        ],
    );
    log.push((4, annul(&election, "9001", None)));
    // From checkpoint 3 (1001 by scanner, 9001 by hand) to 5: 1001's hand count comes in
    // (entry 3) and 9001 is annulled (entry 4).
    let found = between(&log, 3, 5);
    assert_eq!(found.arrivals.len(), 1);
    assert_eq!((found.arrivals[0].stamp.index, found.arrivals[0].source), (3, Manual));
    assert!(found.corrections.is_empty());
    assert_eq!(found.annulments.len(), 1);
    assert_eq!(found.annulments[0].stamp.index, 4);
    assert_eq!(found.annulments[0].stamp.signer, "cec");
    assert_eq!(found.annulments[0].reason, "CEC decision No. 1");
    assert_eq!(found.annulments[0].contest, None);

    let find = |view: View, level: Level, total: Total| {
        found
            .decreases
            .iter()
            .find(|d| d.contest == "list" && d.view == view && d.level == level && d.total == total)
    };
    // Preliminary, sun, nation: 310 (1001 scanner) + 500 (9001) = 810 → 300 (1001 by hand).
    let sun = find(View::Preliminary, Level::Nation, Total::Votes("sun".into())).unwrap();
    assert_eq!((sun.before, sun.after), (810, 300));
    let parts: Vec<_> = sun
        .stations
        .iter()
        .map(|s| (s.station.as_str(), s.before, s.after, s.causes.clone()))
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!((parts[0].0, parts[0].1, parts[0].2), ("1001", 310, 300));
    assert_eq!(parts[0].3.len(), 1);
    assert_eq!((parts[0].3[0].index, &parts[0].3[0].kind), (3, &CauseKind::Arrival));
    assert_eq!((parts[1].0, parts[1].1, parts[1].2), ("9001", 500, 0));
    assert_eq!(parts[1].3[0].kind, CauseKind::Annulment("CEC decision No. 1".into()));
    // Official, sun, nation: 500 (9001) → 300 (1001): only 9001 went down; 1001 went up.
    let official = find(View::Official, Level::Nation, Total::Votes("sun".into())).unwrap();
    assert_eq!((official.before, official.after), (500, 300));
    assert_eq!(official.stations.len(), 1);
    assert_eq!(official.stations[0].station, "9001");
    // Official stations counted: nation 1 → 1 is no decrease; abroad 1 → 0 is one.
    assert!(find(View::Official, Level::Nation, Total::StationsCounted).is_none());
    let abroad = find(View::Official, Level::Abroad, Total::StationsCounted).unwrap();
    assert_eq!((abroad.before, abroad.after), (1, 0));
    // River rose in the official nation total (100 from 9001 → 200 from 1001): not listed; in
    // the preliminary one it fell (190 + 100 → 200).
    assert!(find(View::Official, Level::Nation, Total::Votes("river".into())).is_none());
    let river = find(View::Preliminary, Level::Nation, Total::Votes("river".into())).unwrap();
    assert_eq!((river.before, river.after), (290, 200));
    assert_eq!(river.stations.len(), 1, "1001 went up (190 → 200): only 9001 is listed");
    for decrease in &found.decreases {
        assert!(decrease.after < decrease.before, "{decrease:?}");
        assert!(!decrease.stations.is_empty(), "{decrease:?}");
        let lost: u64 = decrease.stations.iter().map(|s| s.before - s.after).sum();
        assert!(lost >= decrease.before - decrease.after, "the stations explain the drop");
        assert!(decrease.stations.iter().all(|s| !s.causes.is_empty()), "{decrease:?}");
    }
    // No changes between a checkpoint and itself.
    let none = between(&log, 5, 5);
    assert!(none.arrivals.is_empty() && none.decreases.is_empty() && none.annulments.is_empty());
    assert!(none.shares.iter().all(|s| s.before == s.after));
}
