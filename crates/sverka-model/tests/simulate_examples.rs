//! The 2021 example (`examples/kyrgyzstan-2021/`) says what the facts file says: its counts and sums,
//! its parties, seats and rules; and it is what `generate.py` writes.

use std::collections::BTreeSet;

use sverka_model::election::{ContestKind, Election, Method, Sex, ThresholdBase};

fn example_dir() -> String {
    format!("{}/../../examples/kyrgyzstan-2021", env!("CARGO_MANIFEST_DIR"))
}

fn kg2021() -> Election {
    let text = std::fs::read_to_string(format!("{}/election.toml", example_dir())).unwrap();
    Election::from_toml("examples/kyrgyzstan-2021/election.toml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kg2021_geography_matches_the_facts() {
    let e = kg2021();
    assert_eq!(e.id, "kg-2021");
    assert_eq!(e.log_origin, "sverka.example/kg-2021");
    assert_eq!(e.stations.len(), 2_494);
    assert_eq!(e.stations.iter().filter(|s| !s.abroad).count(), 2_435);
    assert_eq!(e.stations.iter().filter(|s| s.abroad).count(), 59);
    assert_eq!(e.registered_total(), 3_703_420);
    let in_country: u64 = e.stations.iter().filter(|s| !s.abroad).map(|s| s.registered).sum();
    assert_eq!(in_country, 3_619_292);

    let regions: BTreeSet<&str> = e.regions.iter().map(|r| r.id.as_str()).collect();
    let expected = [
        "batken",
        "chui",
        "issyk-kul",
        "jalal-abad",
        "naryn",
        "osh-oblast",
        "talas",
        "bishkek",
        "osh-city",
        "abroad",
    ];
    assert_eq!(regions, expected.into_iter().collect());
    assert!(e.region("abroad").unwrap().abroad);
    assert_eq!(e.regions.iter().filter(|r| r.abroad).count(), 1);
    // 36 districts in the country, each with stations, plus the one district abroad.
    assert_eq!(e.districts.len(), 37);
    for d in &e.districts {
        assert!(e.stations.iter().any(|s| s.district == d.id), "district {} has no station", d.id);
    }
}

#[test]
fn kg2021_races_match_the_facts() {
    let e = kg2021();
    let single: Vec<_> = e
        .contests
        .iter()
        .filter_map(|c| match &c.kind {
            ContestKind::SingleMember(smd) => Some((c, smd)),
            ContestKind::PartyList(_) => None,
        })
        .collect();
    assert_eq!(single.len(), 36);
    let districts: BTreeSet<&str> = single.iter().map(|(_, smd)| smd.district.as_str()).collect();
    assert_eq!(districts.len(), 36, "one race per district");
    for (c, smd) in &single {
        assert!(c.against_all);
        assert!((3..=8).contains(&smd.candidates.len()), "{}", c.id);
        assert!(!e.region(&e.district(&smd.district).unwrap().region).unwrap().abroad);
    }

    let lists: Vec<_> = e
        .contests
        .iter()
        .filter_map(|c| match &c.kind {
            ContestKind::PartyList(list) => Some((c, list)),
            ContestKind::SingleMember(_) => None,
        })
        .collect();
    assert_eq!(lists.len(), 1);
    let (contest, list) = lists[0];
    assert!(contest.against_all);
    assert_eq!(list.seats, 54);
    assert_eq!(list.method, Method::Hare);
    assert_eq!(list.threshold.share.to_decimal(), "0.05");
    assert_eq!(list.threshold.base, ThresholdBase::TookPart);
    let regional = list.regional_threshold.as_ref().expect("a regional threshold");
    assert_eq!(regional.share.to_decimal(), "0.005");
    assert_eq!(regional.regions.len(), 9);
    assert!(!regional.regions.iter().any(|r| r == "abroad"));
    assert_eq!(list.women_min_share.unwrap().to_decimal(), "0.3");

    assert_eq!(list.parties.len(), 21);
    let numbers: Vec<u32> = list.parties.iter().map(|p| p.ballot_number).collect();
    assert_eq!(numbers, (1..=21).collect::<Vec<_>>());
    let by_number = |n: u32| list.parties.iter().find(|p| p.ballot_number == n).unwrap();
    assert_eq!(by_number(21).name.en, "Ata-Jurt Kyrgyzstan");
    assert_eq!(by_number(21).name.ru, "Ата-Журт Кыргызстан");
    assert_eq!(by_number(9).name.ky, "Ишеним");
    for party in &list.parties {
        assert!(
            !party.name.ky.is_empty() && !party.name.ru.is_empty() && !party.name.en.is_empty()
        );
        let n = party.candidates.len();
        assert!((10..=60).contains(&n), "{} has {n} candidates", party.id);
        let women = party.candidates.iter().filter(|c| c.sex == Sex::Female).count();
        assert!(women * 10 >= n * 3, "{} has {women} women of {n}", party.id);
    }
}

#[test]
fn kg2021_form_is_the_tiny_one() {
    let e = kg2021();
    let tiny_text = std::fs::read_to_string(format!(
        "{}/../../examples/tiny/election.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let tiny = Election::from_toml("tiny", &tiny_text).unwrap();
    assert_eq!(e.forms, tiny.forms);
}

/// The committed files are exactly what `generate.py` writes (skipped where Python 3 is missing).
#[test]
fn kg2021_is_what_generate_py_writes() {
    let status = std::process::Command::new("python3")
        .arg(format!("{}/generate.py", example_dir()))
        .arg("--check")
        .status();
    match status {
        Ok(status) => assert!(status.success(), "run examples/kyrgyzstan-2021/generate.py"),
        Err(e) => eprintln!("skipped: python3 is not available ({e})"),
    }
}
