//! Seeded Monte Carlo checks of the audit's two promises (issue 7):
//! - a correct reported outcome is confirmed with probability at least 1 − α when the sample may grow
//!   large enough;
//! - a wrong reported outcome is confirmed in at most an α share of simulated audits.
//!
//! Slack: with 1,000 audits and a true confirmation rate p ≤ α = 0.05, the count is Binomial(1000, p);
//! P(count > 50 + 3·√(1000·0.05·0.95) ≈ 71) < 0.002, so the tests allow at most 71 wrong confirmations.
//! (ALPHA's rate is far below α near the null, so the observed counts are much smaller.) The seeds are
//! fixed, so the tests are deterministic.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sverka_audit::alpha::{AlphaTest, Estimator};
use sverka_audit::comparison::ComparisonAssorter;
use sverka_audit::contest::{list_contest_assertions, ListContest, SeatMethod};
use sverka_audit::{AssertionKind, Assorter, BallotKind, KindCounts};

const ALPHA: f64 = 0.05;
const AUDITS: usize = 1000;
const MAX_WRONG_CONFIRMATIONS: usize = 71;

/// The threshold-pass assorter of option 0 at 5% for a contest with `n_options` options.
fn threshold_assorter(reported: &KindCounts) -> Assorter {
    let n = reported.n_options();
    let mut seats = vec![0; n];
    seats[0] = 1;
    seats[1] = 1;
    let contest = ListContest::new(reported.clone(), seats, SeatMethod::Hare, 0.05).unwrap();
    let set = list_contest_assertions(&contest).unwrap();
    set.into_iter()
        .find(|a| matches!(a.kind(), AssertionKind::ThresholdPass { option: 0, .. }))
        .unwrap()
        .assorter()
        .clone()
}

/// Ballots of a population in kind order.
fn ballots(counts: &KindCounts) -> Vec<BallotKind> {
    let n = counts.n_options();
    let mut out = Vec::new();
    for (idx, c) in counts.as_slice().iter().enumerate() {
        let kind = match idx {
            i if i < n => BallotKind::Option(i),
            i if i == n => BallotKind::AgainstAll,
            _ => BallotKind::Invalid,
        };
        out.extend(std::iter::repeat_n(kind, *c as usize));
    }
    out
}

/// A ballot-polling audit of `truth` against the assorter, at most `max_draws` without replacement.
fn polling_confirms(
    rng: &mut ChaCha20Rng,
    pop: &mut [BallotKind],
    assorter: &Assorter,
    eta: f64,
    max_draws: usize,
) -> bool {
    let (sample, _) = pop.partial_shuffle(rng, max_draws);
    let x: Vec<f64> = sample.iter().map(|k| assorter.value(*k)).collect();
    let test = AlphaTest::new(
        assorter.upper_bound(),
        Some(pop.len() as u64),
        0.5,
        Estimator::shrink_trunc(eta),
    )
    .unwrap();
    test.p_values(&x).unwrap().history.iter().any(|p| *p <= ALPHA)
}

#[test]
fn polling_confirms_a_correct_threshold_outcome_with_probability_at_least_one_minus_alpha() {
    // option 0 truly has 7% of 50,000 ballots; the reported counts are the truth
    let truth = KindCounts::new(&[3_500, 30_000, 12_000], 2_000, 2_500);
    let assorter = threshold_assorter(&truth);
    let eta = assorter.mean(&truth).unwrap();
    let mut pop = ballots(&truth);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let confirmed =
        (0..200).filter(|_| polling_confirms(&mut rng, &mut pop, &assorter, eta, 6_000)).count();
    assert!(confirmed as f64 >= (1.0 - ALPHA) * 200.0, "confirmed {confirmed} of 200");
}

#[test]
fn polling_confirms_a_wrong_threshold_outcome_in_at_most_alpha_of_audits() {
    // reported: option 0 passes with 5.4%; truth: 4.95%, below the threshold
    let reported = KindCounts::new(&[2_700, 30_000, 12_275], 2_025, 3_000);
    let truth = KindCounts::new(&[2_475, 30_000, 12_500], 2_025, 3_000);
    assert_eq!(reported.total(), truth.total());
    let assorter = threshold_assorter(&reported);
    assert!(assorter.margin(&truth).unwrap() < 0.0, "the planted outcome is wrong");
    let eta = assorter.mean(&reported).unwrap();
    let mut pop = ballots(&truth);
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let confirmed =
        (0..AUDITS).filter(|_| polling_confirms(&mut rng, &mut pop, &assorter, eta, 1_500)).count();
    assert!(
        confirmed <= MAX_WRONG_CONFIRMATIONS,
        "wrong outcome confirmed {confirmed} of {AUDITS}"
    );
}

/// Stations: reported counts, true counts and manifest sizes.
struct Stations {
    reported: Vec<KindCounts>,
    truth: Vec<KindCounts>,
    sizes: Vec<u64>,
}

impl Stations {
    /// 300 stations of 400–800 ballots; `planted` stations report `shift` ballots of option 1 as option 0.
    fn new(rng: &mut ChaCha20Rng, p0: f64, planted: usize, shift: u64) -> Self {
        let (mut reported, mut truth, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..300 {
            let n: u64 = rng.gen_range(400..800);
            let o0 = (n as f64 * p0).round() as u64;
            let o2 = n / 5;
            let aa = n / 40;
            let inv = n / 50;
            let o1 = n - o0 - o2 - aa - inv;
            let t = KindCounts::new(&[o0, o1, o2], aa, inv);
            let moved = if s < planted { shift.min(o1) } else { 0 };
            reported.push(KindCounts::new(&[o0 + moved, o1 - moved, o2], aa, inv));
            truth.push(t);
            sizes.push(n);
        }
        Self { reported, truth, sizes }
    }

    fn totals(list: &[KindCounts]) -> KindCounts {
        let mut total = KindCounts::zeros(list[0].n_options());
        for c in list {
            for (i, v) in c.as_slice().iter().enumerate() {
                let kind = match i {
                    i if i < c.n_options() => BallotKind::Option(i),
                    i if i == c.n_options() => BallotKind::AgainstAll,
                    _ => BallotKind::Invalid,
                };
                total.add(kind, *v);
            }
        }
        total
    }
}

/// A batch-level comparison audit: stations drawn PPS with replacement, at most `max_draws`.
fn batch_confirms(
    rng: &mut ChaCha20Rng,
    st: &Stations,
    cmp: &ComparisonAssorter,
    max_draws: usize,
) -> bool {
    let total: u64 = st.sizes.iter().sum();
    let cumulative: Vec<u64> = st
        .sizes
        .iter()
        .scan(0, |acc, s| {
            *acc += s;
            Some(*acc)
        })
        .collect();
    let x: Vec<f64> = (0..max_draws)
        .map(|_| {
            let ballot = rng.gen_range(1..=total);
            let p = cumulative.partition_point(|&c| c < ballot);
            cmp.batch_value(&st.reported[p], &st.truth[p], st.sizes[p]).unwrap()
        })
        .collect();
    let u = cmp.upper_bound();
    let test = AlphaTest::new(u, None, 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0)).unwrap();
    test.p_values(&x).unwrap().history.iter().any(|p| *p <= ALPHA)
}

fn station_comparison(st: &Stations) -> ComparisonAssorter {
    let reported = Stations::totals(&st.reported);
    let assorter = threshold_assorter(&reported);
    let margin = assorter.margin(&reported).unwrap();
    ComparisonAssorter::new(assorter, margin).unwrap()
}

#[test]
fn batch_comparison_confirms_a_correct_outcome_with_no_discrepancies() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let st = Stations::new(&mut rng, 0.062, 0, 0);
    let cmp = station_comparison(&st);
    let confirmed = (0..200).filter(|_| batch_confirms(&mut rng, &st, &cmp, 2_000)).count();
    assert!(confirmed as f64 >= (1.0 - ALPHA) * 200.0, "confirmed {confirmed} of 200");
}

#[test]
fn batch_comparison_confirms_a_planted_wrong_outcome_in_at_most_alpha_of_audits() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    // truth 4.9% for option 0; 60 of 300 stations report 12 ballots of option 1 as option 0 (≈ 5.3%)
    let st = Stations::new(&mut rng, 0.049, 60, 12);
    let truth = Stations::totals(&st.truth);
    let cmp = station_comparison(&st);
    let reported = Stations::totals(&st.reported);
    let assorter = threshold_assorter(&reported);
    assert!(assorter.margin(&reported).unwrap() > 0.0, "reported: passes");
    assert!(assorter.margin(&truth).unwrap() < 0.0, "truth: fails");
    let confirmed = (0..AUDITS).filter(|_| batch_confirms(&mut rng, &st, &cmp, 2_000)).count();
    assert!(
        confirmed <= MAX_WRONG_CONFIRMATIONS,
        "wrong outcome confirmed {confirmed} of {AUDITS}"
    );
}
