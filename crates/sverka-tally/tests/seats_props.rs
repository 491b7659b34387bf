//! Properties of seat allocation that must hold for every input: the house is filled whenever
//! a list qualifies, divisor methods are vote-monotone, the order of the input does not
//! matter, Hare stays within the quota, and the reported divisor margin is exact.

use proptest::prelude::*;
use sverka_tally::seats::{
    allocate, allocate_json, AllocationConfig, Fraction, LotSeed, Method, PartyId, PartyVotes,
    SeatCount, SeatMargin,
};

const METHODS: [Method; 4] = [Method::Hare, Method::Droop, Method::DHondt, Method::SainteLague];
const THRESHOLDS: [&str; 5] = ["0", "0.05", "0.1", "0.005", "0.3"];

fn party_votes(counts: &[u64]) -> PartyVotes {
    PartyVotes::new(
        counts.iter().enumerate().map(|(i, v)| (PartyId::new(&format!("p{i}")).unwrap(), *v)),
    )
    .unwrap()
}

fn config(method: Method, seats: u32, threshold: &str, base: Option<u64>) -> AllocationConfig {
    let mut config = AllocationConfig::new(method, SeatCount::new(u64::from(seats)).unwrap());
    config.threshold = threshold.parse::<Fraction>().unwrap();
    config.threshold_base = base;
    config.seed = LotSeed::new("proptest").unwrap();
    config
}

fn counts() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(0u64..20, 1..8),
        prop::collection::vec(0u64..1_000_000, 1..12),
        prop::collection::vec(0u64..1_000_000_000_000, 1..6),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn house_is_filled_whenever_a_list_qualifies(
        counts in counts(),
        seats in prop_oneof![1u32..20, 1u32..400, Just(65_535u32)],
        method in prop::sample::select(METHODS.to_vec()),
        threshold in prop::sample::select(THRESHOLDS.to_vec()),
        extra_base in prop::option::of(0u64..1_000_000),
    ) {
        let votes = party_votes(&counts);
        let base = extra_base.map(|extra| votes.total() + extra);
        let result = allocate(&votes, &config(method, seats, threshold, base)).unwrap();
        if result.qualified().is_empty() {
            prop_assert_eq!(result.seats_awarded(), 0);
        } else {
            prop_assert_eq!(result.seats_awarded(), seats);
        }
        for (party, won) in result.seats() {
            let standing = &result.standings()[party];
            prop_assert!(*won == 0 || standing.qualified(), "{} won {} without qualifying", party, won);
        }
    }

    #[test]
    fn divisor_methods_never_take_a_seat_from_a_party_that_gains_votes(
        counts in prop::collection::vec(0u64..100_000, 2..8),
        seats in 1u32..60,
        dhondt in any::<bool>(),
        threshold in prop::sample::select(THRESHOLDS.to_vec()),
        who in any::<prop::sample::Index>(),
        gain in 0u64..50_000,
        fixed_base in any::<bool>(),
    ) {
        let method = if dhondt { Method::DHondt } else { Method::SainteLague };
        let i = who.index(counts.len());
        let mut grown = counts.clone();
        grown[i] += gain;
        let base = fixed_base.then(|| grown.iter().sum::<u64>() + 1000);
        let before = allocate(&party_votes(&counts), &config(method, seats, threshold, base)).unwrap();
        let after = allocate(&party_votes(&grown), &config(method, seats, threshold, base)).unwrap();
        let p = PartyId::new(&format!("p{i}")).unwrap();
        prop_assert!(after.seats_of(&p) >= before.seats_of(&p), "{:?} → {:?}", before.seats(), after.seats());
    }

    #[test]
    fn input_order_does_not_matter(
        counts in counts(),
        seats in 1u32..100,
        method in prop::sample::select(METHODS.to_vec()),
        threshold in prop::sample::select(THRESHOLDS.to_vec()),
        rotate in any::<prop::sample::Index>(),
    ) {
        let entries: Vec<String> = counts.iter().enumerate().map(|(i, v)| format!(r#""p{i}":{v}"#)).collect();
        let mut rotated = entries.clone();
        rotated.rotate_left(rotate.index(entries.len()));
        let mut reversed = entries.clone();
        reversed.reverse();
        let json = |e: &[String]| {
            format!(r#"{{"seats":{seats},"method":"{}","threshold":"{threshold}","seed":"s","votes":{{{}}}}}"#, method.name(), e.join(","))
        };
        let reference = allocate_json(&json(&entries)).unwrap();
        prop_assert_eq!(&allocate_json(&json(&rotated)).unwrap(), &reference);
        prop_assert_eq!(&allocate_json(&json(&reversed)).unwrap(), &reference);
    }

    /// Hare gives every qualified list its exact quota v·S/V rounded down or up.
    #[test]
    fn hare_satisfies_the_quota_rule(counts in counts(), seats in 1u32..500) {
        let votes = party_votes(&counts);
        let result = allocate(&votes, &config(Method::Hare, seats, "0", None)).unwrap();
        let qualified_total: u128 = result.qualified().iter().map(|p| u128::from(votes.get(p).unwrap())).sum();
        for p in result.qualified() {
            let exact_num = u128::from(votes.get(p).unwrap()) * u128::from(seats);
            let lower = exact_num / qualified_total;
            let upper = exact_num.div_ceil(qualified_total);
            let won = u128::from(result.seats_of(p));
            prop_assert!(lower <= won && won <= upper, "{}: {} not in [{}, {}]", p, won, lower, upper);
        }
    }

    /// The divisor margin is exact: the runner-up with `runner_up_needs` more votes takes a seat,
    /// with one vote fewer it does not win one outright.
    #[test]
    fn divisor_margin_is_exact(
        counts in prop::collection::vec(1u64..10_000, 2..7),
        seats in 1u32..30,
        dhondt in any::<bool>(),
    ) {
        let method = if dhondt { Method::DHondt } else { Method::SainteLague };
        let cfg = config(method, seats, "0", None);
        let result = allocate(&party_votes(&counts), &cfg).unwrap();
        let Some(SeatMargin::Divisor { runner_up, runner_up_needs, .. }) = result.seat_margin() else {
            return Ok(());
        };
        let r: usize = runner_up.as_str()[1..].parse().unwrap();
        let with = |extra: u64| {
            let mut grown = counts.clone();
            grown[r] += extra;
            allocate(&party_votes(&grown), &cfg).unwrap()
        };
        let won = result.seats_of(runner_up);
        let enough = with(*runner_up_needs);
        prop_assert_eq!(enough.seats_of(runner_up), won + 1);
        prop_assert!(enough.ties().is_empty() || enough.ties().iter().all(|t| !t.tied().contains(&runner_up.as_str())));
        let short = with(runner_up_needs - 1);
        let short_won_outright = short.seats_of(runner_up) > won
            && short.ties().iter().all(|t| !t.tied().contains(&runner_up.as_str()));
        prop_assert!(!short_won_outright);
    }

    #[test]
    fn allocate_json_never_panics(input in ".{0,200}") {
        let _ = allocate_json(&input);
    }

    #[test]
    fn share_parsing_agrees_with_integer_arithmetic(num in 0u64..1_000_000, places in 6u32..=18) {
        let text = format!("0.{num:0width$}", width = places as usize);
        let share = Fraction::parse_decimal(&text).unwrap();
        // num / 10^places == share, by cross-multiplication.
        prop_assert_eq!(
            u128::from(share.numerator()) * 10u128.pow(places),
            u128::from(num) * u128::from(share.denominator())
        );
        prop_assert_eq!(Fraction::parse_decimal(&share.to_string()).unwrap(), share);
    }
}
