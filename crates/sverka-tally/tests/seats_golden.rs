//! Golden cases for `sverka_tally::seats`, each verified by hand in its comment: the Kyrgyz
//! 2021 final, a case that tells the four methods apart, a regional threshold, lots, the women
//! rule, districts failing on "against all", and the degenerate outcomes.

use sverka_tally::seats::{
    allocate, allocate_json, assign_candidates, decide_district, AllocationConfig, Candidate,
    CandidateId, DistrictId, DistrictOutcome, DistrictVotes, FailureReason, Fraction, LotSeed,
    Method, PartyId, PartyVotes, Ratio, Region, RegionId, RegionalThreshold, Rounding, SeatCount,
    SeatMargin, WomenRule,
};

fn party(id: &str) -> PartyId {
    PartyId::new(id).unwrap()
}

fn votes(entries: &[(&str, u64)]) -> PartyVotes {
    PartyVotes::new(entries.iter().map(|&(p, v)| (party(p), v))).unwrap()
}

fn seats_of(json: &str) -> serde_json::Value {
    let out: serde_json::Value = serde_json::from_str(json).unwrap();
    out["seats"].clone()
}

/// The CEC final of 15 December 2021 (`data/kyrgyzstan-2021.md`). The six passing lists are the
/// published figures; the final votes of the 15 failing lists are unconfirmed, so the three
/// listed here are illustrative values below 5 % of 1,281,622 (64,081.1), which is all that
/// matters: with the base given, failing lists do not move the quota.
///
/// Hand check (the facts file's Hare check): passing votes 813,687; quota 813,687/54 =
/// 15,068.28; quota seats 14+11+9+7+5+5 = 51; remainders (in quotas) Butun .988, Ata-Jurt .733,
/// Ishenim .579, Yntymak .358, Yiman Nuru .244, Alliance .098 → the 3 remaining seats go to
/// Butun, Ata-Jurt, Ishenim: 15/12/9/7/6/5.
const KYRGYZ_2021: &str = r#"{"seats":54,"method":"hare","threshold":0.05,"threshold_base":1281622,
  "votes":{"ata-jurt":222005,"ishenim":174470,"yntymak":141009,"alliance":106955,"butun":90223,
           "yiman-nuru":79025,"ata-meken":44000,"el-umutu":57000,"social-democrats":41000}}"#;

#[test]
fn kyrgyz_2021_final_gives_15_12_9_7_6_5() {
    let out = allocate_json(KYRGYZ_2021).unwrap();
    assert_eq!(
        out,
        r#"{"qualified":["alliance","ata-jurt","butun","ishenim","yiman-nuru","yntymak"],"seats":{"alliance":7,"ata-jurt":15,"ata-meken":0,"butun":6,"el-umutu":0,"ishenim":12,"social-democrats":0,"yiman-nuru":5,"yntymak":9},"ties":[]}"#
    );
}

#[test]
fn kyrgyz_2021_margins() {
    let v = votes(&[
        ("ata-jurt", 222_005),
        ("ishenim", 174_470),
        ("yntymak", 141_009),
        ("alliance", 106_955),
        ("butun", 90_223),
        ("yiman-nuru", 79_025),
        ("el-umutu", 57_000),
    ]);
    let mut config = AllocationConfig::new(Method::Hare, SeatCount::new(54).unwrap());
    config.threshold = "0.05".parse().unwrap();
    config.threshold_base = Some(1_281_622);
    let result = allocate(&v, &config).unwrap();
    assert_eq!(result.quota(), Some(Ratio::new(813_687, 54)));
    // 5 % of 1,281,622 = 64,081.1: 64,082 votes pass. Yiman Nuru could lose 79,025 − 64,082 + 1.
    let yiman =
        result.threshold_margins().iter().find(|m| m.party().as_str() == "yiman-nuru").unwrap();
    assert_eq!(yiman.min_votes_fixed_base(), 64_082);
    assert_eq!(yiman.flip_fixed_base(), -14_944);
    let el_umutu =
        result.threshold_margins().iter().find(|m| m.party().as_str() == "el-umutu").unwrap();
    assert_eq!(el_umutu.flip_fixed_base(), 7_082);
    // Base moves too: 57,000 + x >= (1,281,622 + x)/20 ⇔ 19x >= 1,281,622 − 1,140,000 = 141,622
    // ⇔ x >= 7,453.8 → 7,454.
    assert_eq!(el_umutu.flip_base_moves(), 7_454);
    // Last remainder seat: Ishenim (remainder 470,823/54 votes) over Yntymak (291,303/54):
    // gap 179,520/54 = 29,920/9 = 3,324.4 votes with the quota held fixed.
    match result.seat_margin().unwrap() {
        SeatMargin::Remainder { last, runner_up, gap, runner_up_needs_quota_fixed, .. } => {
            assert_eq!(last.as_str(), "ishenim");
            assert_eq!(runner_up.as_str(), "yntymak");
            assert_eq!(*gap, Ratio::new(29_920, 9));
            assert_eq!(*runner_up_needs_quota_fixed, 3_325);
        }
        other => panic!("expected a remainder margin, got {other:?}"),
    }
}

/// Votes a 9,400, b 5,800, c 2,700, d 1,900 (V = 19,800), 5 seats, no threshold.
/// - Hare: quota 19,800/5 = 3,960. a 2 (rem 1,480), b 1 (rem 1,840), c 0 (rem 2,700),
///   d 0 (rem 1,900); 2 left → c, d. **2/1/1/1**.
/// - Droop: quota floor(19,800/6)+1 = 3,301. a 2 (rem 2,798), b 1 (rem 2,499), c 0 (rem 2,700),
///   d 0 (rem 1,900); 2 left → a, c. **3/1/1/0**.
/// - D'Hondt: quotients a 9,400, 4,700, 3,133.3; b 5,800, 2,900; c 2,700; d 1,900. Top five:
///   9,400a 5,800b 4,700a 3,133.3a 2,900b. **3/2/0/0** (next: c 2,700).
/// - Sainte-Laguë: a 9,400, 3,133.3, 1,880; b 5,800, 1,933.3; c 2,700, 900; d 1,900. Top five:
///   9,400a 5,800b 3,133.3a 2,700c 1,933.3b. **2/2/1/0** (next: d 1,900).
#[test]
fn four_methods_give_four_answers() {
    let cases = [
        ("hare", [2, 1, 1, 1]),
        ("droop", [3, 1, 1, 0]),
        ("dhondt", [3, 2, 0, 0]),
        ("sainte-lague", [2, 2, 1, 0]),
    ];
    for (method, expected) in cases {
        let input = format!(
            r#"{{"seats":5,"method":"{method}","votes":{{"a":9400,"b":5800,"c":2700,"d":1900}}}}"#
        );
        let seats = seats_of(&allocate_json(&input).unwrap());
        let got: Vec<u64> =
            ["a", "b", "c", "d"].iter().map(|p| seats[p].as_u64().unwrap()).collect();
        assert_eq!(got, expected, "{method}");
    }
}

/// D'Hondt margins on the case above: the last seat (b, 5,800/2 = 2,900) against c's 2,700/1.
/// c needs floor(5,800·1/2) − 2,700 + 1 = 201 votes; b would have to lose 5,800 − 2·2,700 + 1 = 401.
#[test]
fn dhondt_margin_names_the_runner_up_and_the_votes_it_needs() {
    let v = votes(&[("a", 9400), ("b", 5800), ("c", 2700), ("d", 1900)]);
    let config = AllocationConfig::new(Method::DHondt, SeatCount::new(5).unwrap());
    let result = allocate(&v, &config).unwrap();
    match result.seat_margin().unwrap() {
        SeatMargin::Divisor {
            last,
            last_quotient,
            runner_up,
            runner_up_quotient,
            runner_up_needs,
            last_can_lose,
        } => {
            assert_eq!((last.as_str(), *last_quotient), ("b", Ratio::new(2900, 1)));
            assert_eq!((runner_up.as_str(), *runner_up_quotient), ("c", Ratio::new(2700, 1)));
            assert_eq!((*runner_up_needs, *last_can_lose), (201, 401));
        }
        other => panic!("expected a divisor margin, got {other:?}"),
    }
    // And it is right: with 201 more votes c takes b's second seat; with 200 it does not.
    let more =
        allocate(&votes(&[("a", 9400), ("b", 5800), ("c", 2901), ("d", 1900)]), &config).unwrap();
    assert_eq!((more.seats_of(&party("b")), more.seats_of(&party("c"))), (1, 1));
    let fewer =
        allocate(&votes(&[("a", 9400), ("b", 5800), ("c", 2900), ("d", 1900)]), &config).unwrap();
    assert_eq!(fewer.ties().len(), 1, "2,900 = 2,900 is a tie for the last seat, decided by lot");
}

/// Three lists pass 5 % nationally (base 10,000), but c has 10 votes in osh, whose base is 4,000:
/// 0.5 % of 4,000 = 20 > 10, so c is out. Hare on a + b = 7,000 votes: quota 700 → 6 and 4.
#[test]
fn regional_threshold_knocks_out_a_party() {
    let input = r#"{"seats":10,"method":"hare","threshold":"0.05","threshold_base":10000,
        "votes":{"a":4200,"b":2800,"c":1500},
        "regional_threshold":"0.005",
        "regions":{"bishkek":{"base":6000,"votes":{"a":2000,"b":1500,"c":1490}},
                   "osh":{"base":4000,"votes":{"a":2200,"b":1300,"c":10}}}}"#;
    let out = allocate_json(input).unwrap();
    assert_eq!(out, r#"{"qualified":["a","b"],"seats":{"a":6,"b":4,"c":0},"ties":[]}"#);

    // The same through the Rust API, with the standing naming the region.
    let region = |id: &str, base, v: &[(&str, u64)]| {
        Region::new(RegionId::new(id).unwrap(), base, votes(v)).unwrap()
    };
    let mut config = AllocationConfig::new(Method::Hare, SeatCount::new(10).unwrap());
    config.threshold = "0.05".parse().unwrap();
    config.threshold_base = Some(10_000);
    config.regional = Some(RegionalThreshold {
        share: "0.005".parse().unwrap(),
        regions: vec![
            region("bishkek", 6000, &[("a", 2000), ("b", 1500), ("c", 1490)]),
            region("osh", 4000, &[("a", 2200), ("b", 1300), ("c", 10)]),
        ],
    });
    let result = allocate(&votes(&[("a", 4200), ("b", 2800), ("c", 1500)]), &config).unwrap();
    let c = &result.standings()[&party("c")];
    assert!(c.passes_national());
    assert_eq!(c.failed_regions(), [RegionId::new("osh").unwrap()]);
    // Exactly at the regional threshold passes: 20 of 4,000 is 0.5 %.
    config.regional.as_mut().unwrap().regions[1] =
        region("osh", 4000, &[("a", 2200), ("b", 1300), ("c", 20)]);
    let result = allocate(&votes(&[("a", 4200), ("b", 2800), ("c", 1500)]), &config).unwrap();
    assert!(result.standings()[&party("c")].qualified());
}

/// a = b = 100, D'Hondt, 1 seat: a lot. Tickets SHA-256("2021-12-15\0dhondt seat 1\0a") =
/// 64224c2d… and (…\0b) = 7831b0d2…; the smaller wins: a. With c (04fb9394…) tied too, c wins.
#[test]
fn tie_decided_by_lot_is_reported() {
    let input = r#"{"seats":1,"method":"dhondt","seed":"2021-12-15","votes":{"a":100,"b":100}}"#;
    let out = allocate_json(input).unwrap();
    assert_eq!(
        out,
        r#"{"qualified":["a","b"],"seats":{"a":1,"b":0},"ties":[{"context":"dhondt seat 1","places":1,"tickets":[{"id":"a","ticket":"64224c2d34932e9adb7bc7c271470436097a9fa557e48e3c96cacb986758affc"},{"id":"b","ticket":"7831b0d2701fdf263e8a3d550750853b01aee06baef6c3b76711ee5c10ed5bf1"}],"tied":["a","b"],"winners":["a"]}]}"#
    );
    let three =
        r#"{"seats":1,"method":"dhondt","seed":"2021-12-15","votes":{"b":100,"a":100,"c":100}}"#;
    assert_eq!(seats_of(&allocate_json(three).unwrap())["c"], 1);
}

/// Hare, 3 seats, a = b = 10: quota 20/3, 1 quota seat each, equal remainders 10/3 for the
/// last seat: lot "hare remainder seats": a (a9427083…) before b (ac4cb85c…).
#[test]
fn remainder_tie_decided_by_lot() {
    let input = r#"{"seats":3,"method":"hare","seed":"2021-12-15","votes":{"a":10,"b":10}}"#;
    let out: serde_json::Value = serde_json::from_str(&allocate_json(input).unwrap()).unwrap();
    assert_eq!(out["seats"], serde_json::json!({"a": 2, "b": 1}));
    assert_eq!(out["ties"][0]["context"], "hare remainder seats");
    assert_eq!(out["ties"][0]["winners"], serde_json::json!(["a"]));
}

/// Equal quotients that all fit in the seats left are no tie: a = b = 100, 2 seats.
#[test]
fn equal_quotients_that_all_fit_need_no_lot() {
    let out =
        allocate_json(r#"{"seats":2,"method":"sainte-lague","votes":{"a":100,"b":100}}"#).unwrap();
    assert_eq!(out, r#"{"qualified":["a","b"],"seats":{"a":1,"b":1},"ties":[]}"#);
}

fn candidate(id: &str, position: u32, woman: bool, votes: u64) -> Candidate {
    Candidate::new(CandidateId::new(id).unwrap(), Some(position), woman, votes)
}

/// A party with 4 seats; by votes alone m1 m2 m3 w1 are elected. 30 % of 4 = 1.2:
/// rounded up, 2 seats go first to the women with the most votes (w1, w2), then m1, m2 by
/// votes: w2 takes m3's seat. Rounded down, 1 seat (w1) — the same four as by votes alone.
#[test]
fn women_rule_moves_a_seat() {
    let list = [
        candidate("m1", 1, false, 900),
        candidate("m2", 2, false, 800),
        candidate("m3", 3, false, 700),
        candidate("w1", 4, true, 600),
        candidate("m4", 5, false, 500),
        candidate("w2", 6, true, 400),
    ];
    let elected = |rule| {
        let a = assign_candidates(&party("p"), 4, &list, rule, &LotSeed::default()).unwrap();
        let mut ids: Vec<String> = a.elected().iter().map(|e| e.candidate().to_string()).collect();
        ids.sort();
        (ids, a.reserved_for_women())
    };
    assert_eq!(elected(None), (vec!["m1".into(), "m2".into(), "m3".into(), "w1".into()], 0));
    assert_eq!(
        elected(Some(WomenRule::KYRGYZ_2021)),
        (vec!["m1".into(), "m2".into(), "w1".into(), "w2".into()], 2)
    );
    let floor = WomenRule { share: Fraction::new(3, 10).unwrap(), rounding: Rounding::Down };
    assert_eq!(elected(Some(floor)), (vec!["m1".into(), "m2".into(), "m3".into(), "w1".into()], 1));
}

/// Equal votes go by list position; with no positions, by lot (reported).
#[test]
fn candidate_ties_by_position_then_lot() {
    let list = [candidate("x", 2, false, 500), candidate("y", 1, false, 500)];
    let a = assign_candidates(&party("p"), 1, &list, None, &LotSeed::default()).unwrap();
    assert_eq!(a.elected()[0].candidate().as_str(), "y");
    assert!(a.ties().is_empty());
    let unranked = [
        Candidate::new(CandidateId::new("x").unwrap(), None, false, 500),
        Candidate::new(CandidateId::new("y").unwrap(), None, false, 500),
    ];
    let a =
        assign_candidates(&party("p"), 1, &unranked, None, &LotSeed::new("s").unwrap()).unwrap();
    assert_eq!(a.ties().len(), 1);
    assert_eq!(a.ties()[0].context(), "candidates p votes");
    assert_eq!(a.elected()[0].candidate().as_str(), a.ties()[0].winners()[0]);
}

/// A list with fewer candidates than seats leaves seats unfilled rather than failing.
#[test]
fn short_list_leaves_seats_unfilled() {
    let list = [candidate("w1", 1, true, 10)];
    let a =
        assign_candidates(&party("p"), 3, &list, Some(WomenRule::KYRGYZ_2021), &LotSeed::default())
            .unwrap();
    assert_eq!((a.elected().len(), a.unfilled()), (1, 2));
}

fn district(entries: &[(&str, u64)], against_all: u64) -> DistrictVotes {
    DistrictVotes::new(
        entries.iter().map(|&(c, v)| (CandidateId::new(c).unwrap(), v)).collect(),
        against_all,
    )
    .unwrap()
}

/// As in Sverdlovsky and Pervomaisky (Bishkek, 2021): against all ahead of the leader fails
/// the district; equal to the leader does not.
#[test]
fn district_fails_when_against_all_leads() {
    let id = DistrictId::new("bishkek-sverdlovsky").unwrap();
    let seed = LotSeed::new("2021-12-15").unwrap();
    let failed = decide_district(&id, &district(&[("x", 3000), ("y", 2500)], 3001), &seed);
    assert_eq!(
        failed,
        DistrictOutcome::Failed {
            reason: FailureReason::AgainstAllAhead,
            leader_votes: 3000,
            against_all: 3001
        }
    );
    match decide_district(&id, &district(&[("x", 3000), ("y", 2500)], 3000), &seed) {
        DistrictOutcome::Elected { winner, lead, lead_over_against_all, tie, .. } => {
            assert_eq!((winner.as_str(), lead, lead_over_against_all, tie), ("x", 500, 0, None));
        }
        other => panic!("expected x elected, got {other:?}"),
    }
    let nobody = decide_district(&id, &district(&[("x", 0)], 0), &seed);
    assert!(matches!(nobody, DistrictOutcome::Failed { reason: FailureReason::NoVotes, .. }));
}

/// A tie for first is a lot: tickets for "district bishkek-sverdlovsky": x fc13cb74…,
/// y 28c6c923… → y.
#[test]
fn district_tie_for_first_is_a_lot() {
    let id = DistrictId::new("bishkek-sverdlovsky").unwrap();
    let seed = LotSeed::new("2021-12-15").unwrap();
    match decide_district(&id, &district(&[("x", 3000), ("y", 3000), ("z", 10)], 5), &seed) {
        DistrictOutcome::Elected { winner, lead, tie: Some(tie), .. } => {
            assert_eq!((winner.as_str(), lead), ("y", 0));
            assert_eq!(tie.tied(), ["x", "y"]);
            assert_eq!(tie.winners(), ["y"]);
        }
        other => panic!("expected a lot, got {other:?}"),
    }
}

#[test]
fn no_list_qualifying_is_an_outcome() {
    let input = r#"{"seats":54,"method":"hare","threshold":0.05,"threshold_base":1000000,"votes":{"a":40000,"b":10000}}"#;
    assert_eq!(
        allocate_json(input).unwrap(),
        r#"{"qualified":[],"seats":{"a":0,"b":0},"ties":[]}"#
    );
}

#[test]
fn zero_votes_is_an_outcome() {
    for method in ["hare", "droop", "dhondt", "sainte-lague"] {
        let input = format!(r#"{{"seats":3,"method":"{method}","votes":{{"a":0,"b":0}}}}"#);
        assert_eq!(
            allocate_json(&input).unwrap(),
            r#"{"qualified":[],"seats":{"a":0,"b":0},"ties":[]}"#
        );
    }
}

#[test]
fn party_exactly_at_the_threshold_qualifies() {
    // 5 % of 1,000 is 50: b with exactly 50 passes, c with 49 does not.
    let input = r#"{"seats":10,"method":"dhondt","threshold":0.05,"threshold_base":1000,"votes":{"a":900,"b":50,"c":49}}"#;
    let out: serde_json::Value = serde_json::from_str(&allocate_json(input).unwrap()).unwrap();
    assert_eq!(out["qualified"], serde_json::json!(["a", "b"]));
}

#[test]
fn seats_below_one_are_refused() {
    let err = allocate_json(r#"{"seats":0,"method":"hare","votes":{"a":1}}"#).unwrap_err();
    assert_eq!(err.to_string(), "seats must be a whole number from 1 to 65535, got 0");
    assert_eq!(err.code(), "allocate.seats");
}

/// The Droop quota with far fewer votes than seats: 3 votes, 10 seats. Quota floor(3/11)+1 = 1;
/// quota seats a 2, b 1; 7 left for 2 lists: 3 full rounds (a 5, b 4), then the last seat by
/// remainder — both 0, so a lot (reported).
#[test]
fn droop_with_few_votes_fills_the_house() {
    let out: serde_json::Value = serde_json::from_str(
        &allocate_json(r#"{"seats":10,"method":"droop","votes":{"a":2,"b":1}}"#).unwrap(),
    )
    .unwrap();
    let (a, b) = (out["seats"]["a"].as_u64().unwrap(), out["seats"]["b"].as_u64().unwrap());
    assert_eq!(a + b, 10);
    assert!((a, b) == (6, 4) || (a, b) == (5, 5));
    assert_eq!(out["ties"].as_array().unwrap().len(), 1);
}
