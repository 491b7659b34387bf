//! Agreement with SHANGRLA and cryptorandom, run beside sverka (never copied): margins, assorter means,
//! ALPHA and Kaplan–Markov p-values, comparison assorter values and sample sizes to 1e-12 relative;
//! sampler outputs bit for bit. Vectors: `tests/data/shangrla_vectors.json`, made by
//! `tests/data/gen_vectors.py` (provenance in `tests/data/README.md`).

use serde_json::Value;
use sverka_audit::alpha::{kaplan_markov, AlphaTest, Estimator};
use sverka_audit::comparison::ComparisonAssorter;
use sverka_audit::contest::{
    list_contest_assertions, plurality_assertions, ListContest, SeatMethod,
};
use sverka_audit::sample_size::{comparison_sample_size, polling_sample_size};
use sverka_audit::{AssertionKind, Assorter, BallotKind, KindCounts, RiskLimit, Sha256Prng};

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/shangrla_vectors.json")).expect("valid JSON")
}

fn close(ours: f64, theirs: f64, what: &str) {
    let scale = ours.abs().max(theirs.abs());
    assert!(
        ours == theirs || (ours - theirs).abs() <= 1e-12 * scale,
        "{what}: sverka {ours:e} vs SHANGRLA {theirs:e} (relative {:e})",
        (ours - theirs).abs() / scale
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("u64")).collect()
}

fn kind_name(kind: BallotKind) -> String {
    match kind {
        BallotKind::Option(i) => format!("o{i}"),
        BallotKind::AgainstAll => "against_all".into(),
        BallotKind::Invalid => "invalid".into(),
    }
}

fn kind_from_name(name: &str) -> BallotKind {
    match name {
        "against_all" => BallotKind::AgainstAll,
        "invalid" => BallotKind::Invalid,
        o => BallotKind::Option(o[1..].parse().expect("o<number>")),
    }
}

fn key(kind: &AssertionKind) -> String {
    match kind {
        AssertionKind::ThresholdPass { option, .. } => format!("threshold_pass:{option}"),
        AssertionKind::ThresholdFail { option, .. } => format!("threshold_fail:{option}"),
        AssertionKind::LargestRemainder { winner, loser, .. } => format!("hare:{winner}>{loser}"),
        AssertionKind::HighestAverages { divisor_step, winner, loser, .. } => {
            let method = if *divisor_step == 1 { "dhondt" } else { "sainte-lague" };
            format!("{method}:{winner}>{loser}")
        }
        AssertionKind::Plurality { winner, loser } => {
            format!("plurality:{}>{}", kind_name(*winner), kind_name(*loser))
        }
    }
}

fn counts_of(c: &Value) -> KindCounts {
    KindCounts::new(
        &u64s(&c["options"]),
        c["against_all"].as_u64().unwrap(),
        c["invalid"].as_u64().unwrap(),
    )
}

fn estimator(name: &str, params: &Value) -> Estimator {
    let eta = f(&params["eta"]);
    match name {
        "fixed" => Estimator::Fixed { eta },
        _ => Estimator::ShrinkTrunc {
            eta,
            d: params.get("d").map_or(100.0, f),
            f: params.get("f").map_or(0.0, f),
            c: params.get("c").map(f),
            minsd: params.get("minsd").map_or(1e-6, f),
        },
    }
}

#[test]
fn assertion_sets_margins_and_means_agree_with_shangrla() {
    let v = vectors();
    let mut checked = 0;
    for (name, c) in v["contests"].as_object().unwrap() {
        let counts = counts_of(c);
        let ours = if name == "district" {
            let winner = kind_from_name(c["winner"].as_str().unwrap());
            plurality_assertions(&counts, winner).unwrap()
        } else {
            let method = match c["method"].as_str().unwrap() {
                "hare" => SeatMethod::Hare,
                "dhondt" => SeatMethod::DHondt,
                _ => SeatMethod::SainteLague,
            };
            let seats = u64s(&c["seats"]).into_iter().map(|s| s as u32).collect();
            let contest =
                ListContest::new(counts.clone(), seats, method, f(&c["threshold"])).unwrap();
            list_contest_assertions(&contest).unwrap()
        };
        let theirs: Vec<&Value> = v["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["contest"] == name.as_str())
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{name}: same number of assertions");
        for t in theirs {
            let k = t["key"].as_str().unwrap();
            let a = ours
                .iter()
                .find(|a| key(a.kind()) == k)
                .unwrap_or_else(|| panic!("{name} {k} missing"));
            let what = format!("{name} {k}");
            close(a.assorter().upper_bound(), f(&t["upper_bound"]), &format!("{what} u"));
            close(a.assorter().mean(&counts).unwrap(), f(&t["mean"]), &format!("{what} mean"));
            close(
                a.assorter().margin(&counts).unwrap(),
                f(&t["margin"]),
                &format!("{what} margin"),
            );
            checked += 1;
        }
    }
    assert!(checked >= 90, "checked {checked}");
}

#[test]
fn kyrgyzstan_2021_set_is_threshold_hamilton_and_against_all() {
    let v = vectors();
    let c = &v["contests"]["kg2021"];
    let seats: Vec<u32> = u64s(&c["seats"]).into_iter().map(|s| s as u32).collect();
    let contest = ListContest::new(counts_of(c), seats, SeatMethod::Hare, 0.05).unwrap();
    let set = list_contest_assertions(&contest).unwrap();
    let count = |pred: fn(&AssertionKind) -> bool| set.iter().filter(|a| pred(a.kind())).count();
    assert_eq!(count(|k| matches!(k, AssertionKind::ThresholdPass { .. })), 6);
    assert_eq!(count(|k| matches!(k, AssertionKind::ThresholdFail { .. })), 15);
    assert_eq!(count(|k| matches!(k, AssertionKind::LargestRemainder { .. })), 30);
    assert_eq!(set.len(), 52);
    // the reported outcome holds on the reported totals: every margin is positive
    assert!(set.iter().all(|a| a.assorter().margin(contest.counts()).unwrap() > 0.0));
}

#[test]
fn alpha_p_values_agree_with_shangrla() {
    let v = vectors();
    let cases = v["alpha"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let est = estimator(case["estimator"].as_str().unwrap(), &case["params"]);
        let n = case["N"].as_u64();
        let test = AlphaTest::new(f(&case["u"]), n, f(&case["t"]), est).unwrap();
        let x: Vec<f64> = case["x"].as_array().unwrap().iter().map(f).collect();
        let ours = test.p_values(&x).unwrap();
        close(ours.p_value, f(&case["p"]), &format!("{name} p"));
        for (i, (o, t)) in ours.history.iter().zip(case["history"].as_array().unwrap()).enumerate()
        {
            close(*o, f(t), &format!("{name} history[{i}]"));
        }
    }
}

#[test]
fn kaplan_markov_agrees_with_shangrla() {
    let v = vectors();
    for case in v["kaplan_markov"].as_array().unwrap() {
        let x: Vec<f64> = case["x"].as_array().unwrap().iter().map(f).collect();
        let ours = kaplan_markov(&x, f(&case["t"]), f(&case["g"])).unwrap();
        close(ours.p_value, f(&case["p"]), case["name"].as_str().unwrap());
        for (o, t) in ours.history.iter().zip(case["history"].as_array().unwrap()) {
            close(*o, f(t), "kaplan-markov history");
        }
    }
}

#[test]
fn comparison_assorter_values_agree_with_shangrla() {
    let v = vectors();
    let c = &v["contests"]["district"];
    let counts = counts_of(c);
    let set = plurality_assertions(&counts, BallotKind::Option(0)).unwrap();
    let cmp_rec = &v["ballot_comparison"];
    let a = set.iter().find(|a| key(a.kind()) == cmp_rec["key"].as_str().unwrap()).unwrap();
    let margin = a.assorter().margin(&counts).unwrap();
    let cmp = ComparisonAssorter::new(a.assorter().clone(), margin).unwrap();
    close(cmp.upper_bound(), f(&cmp_rec["u"]), "comparison u");
    let pairs = cmp_rec["pairs"].as_array().unwrap();
    for (pair, want) in pairs.iter().zip(cmp_rec["values"].as_array().unwrap()) {
        let reported = kind_from_name(pair[0].as_str().unwrap());
        let hand = kind_from_name(pair[1].as_str().unwrap());
        close(cmp.ballot_value(reported, Some(hand)), f(want), "ballot comparison value");
    }
    let batch = &v["batch_comparison"];
    for (o, want) in
        batch["omegas"].as_array().unwrap().iter().zip(batch["values"].as_array().unwrap())
    {
        close(cmp.value(f(o)), f(want), "batch comparison value");
    }
}

#[test]
fn sample_sizes_agree_with_shangrla() {
    let v = vectors();
    let alpha = RiskLimit::new(0.05).unwrap();
    for case in v["sample_sizes"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let est = estimator(case["estimator"].as_str().unwrap(), &case["params"]);
        let n = case["N"].as_u64().unwrap();
        let ours = if case["kind"] == "polling" {
            let test = AlphaTest::new(f(&case["u"]), Some(n), 0.5, est).unwrap();
            let g = |k: &str| case[k].as_u64().unwrap();
            polling_sample_size(&test, g("n_zero"), g("n_half"), g("n_big"), alpha).unwrap()
        } else {
            let u = f(&case["assorter_u"]);
            let cmp =
                ComparisonAssorter::new(Assorter::from_weights(Vec::new(), u), f(&case["margin"]))
                    .unwrap();
            let test = AlphaTest::new(cmp.upper_bound(), Some(n), 0.5, est).unwrap();
            let rates = (f(&case["rate_1"]), f(&case["rate_2"]));
            comparison_sample_size(&test, &cmp, rates, n, alpha).unwrap()
        };
        assert_eq!(ours, case["size"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn sampler_streams_are_identical_to_cryptorandom() {
    let v = vectors();
    for s in v["sampler"].as_array().unwrap() {
        let seed = s["seed"].as_str().unwrap();
        let mut r = Sha256Prng::new(seed);
        for h in s["hashes"].as_array().unwrap() {
            assert_eq!(hex(&r.next_hash()), h.as_str().unwrap(), "seed {seed}");
        }
        let mut r = Sha256Prng::new(seed);
        for b in u64s(&s["random_bits"]) {
            assert_eq!(r.random().to_bits(), b, "random() seed {seed}");
        }
        let mut r = Sha256Prng::new(seed);
        for x in u64s(&s["randint_trunc_1_1001"]) {
            assert_eq!(r.randint_trunc(1, 1001), x);
        }
        let mut r = Sha256Prng::new(seed);
        for x in u64s(&s["randint_1_1001"]) {
            assert_eq!(r.randint(1, 1001), x);
        }
        let mut r = Sha256Prng::new(seed);
        let ks = u64s(&s["getrandbits"]["ks"]);
        for (k, want) in ks.iter().zip(s["getrandbits"]["values"].as_array().unwrap()) {
            let want: u64 = want.as_str().unwrap().parse().unwrap();
            assert_eq!(r.getrandbits(*k as u32), want, "getrandbits({k}) seed {seed}");
        }
        for (field, n, k, replace) in [
            ("sample_wo_1500000_40", 1_500_000, 40, false),
            ("sample_w_1500000_40", 1_500_000, 40, true),
            ("sample_wo_10_10", 10, 10, false),
        ] {
            let ours = Sha256Prng::new(seed).sample_by_index(n, k, replace);
            assert_eq!(ours, u64s(&s[field]), "{field} seed {seed}");
        }
        let nums = Sha256Prng::new(seed).sample_numbers(6);
        let want: Vec<&str> =
            s["sample_nums"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(nums.iter().map(|n| hex(n)).collect::<Vec<_>>(), want);
    }
}

/// The vectors published in cryptorandom's own test suite (`cryptorandom/tests/test_cryptorandom.py`).
#[test]
fn sampler_reproduces_cryptorandom_published_vectors() {
    let seed = "12345678901234567890";
    let mut r = Sha256Prng::new(seed);
    r.next_hash();
    assert_eq!(
        hex(&r.next_hash()),
        "310d959ce65476647a3ec93074beff0aa6d720949207daf915712fd574635165"
    );
    let mut r = Sha256Prng::new(seed);
    let five: Vec<u64> = (0..5).map(|_| r.randint_trunc(1, 1001)).collect();
    assert_eq!(five, [876, 766, 536, 423, 164]);
    assert_eq!(Sha256Prng::new(seed).randbelow(5), 3);
    // bits are consumed from the least significant end of the first digest
    let first = Sha256Prng::new(seed).next_hash();
    let low64 = u64::from_be_bytes(first[24..32].try_into().unwrap());
    let mut r = Sha256Prng::new(seed);
    assert_eq!(r.getrandbits(10), low64 & 0x3ff);
    assert_eq!(r.getrandbits(20), (low64 >> 10) & 0xf_ffff);
    assert_eq!(r.getrandbits(30), (low64 >> 30) & 0x3fff_ffff);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
