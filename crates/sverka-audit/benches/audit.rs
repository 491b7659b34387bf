//! Benchmarks of the audit mathematics at the scale of the 2021 list race: 2,500 stations, 1.5M ballots,
//! all 52 assertions of the reported outcome (21 threshold, 30 Hamilton, leader vs "against all").
//! Figures go to BENCHMARKS.md (rule 17); run with `cargo bench -p sverka-audit`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sverka_audit::alpha::{AlphaTest, Estimator};
use sverka_audit::comparison::ComparisonAssorter;
use sverka_audit::contest::{list_contest_assertions, ListContest, SeatMethod};
use sverka_audit::sample_size::comparison_sample_size;
use sverka_audit::sampler::pps_station_draws;
use sverka_audit::{Assertion, BallotKind, KindCounts, RiskLimit, Sha256Prng};

fn main() {
    divan::main();
}

/// National shares (CEC final for the six passing lists, ASU night shares for the rest; illustrative).
const SHARES: [f64; 21] = [
    3.48, 7.04, 8.35, 0.62, 6.17, 0.62, 0.95, 11.00, 13.61, 4.01, 1.54, 0.41, 0.44, 3.21, 0.46,
    0.96, 2.48, 4.46, 0.46, 0.71, 17.32,
];
const SEATS: [u32; 21] = [0, 6, 7, 0, 5, 0, 0, 9, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15];

struct Election {
    stations: Vec<KindCounts>,
    hand: Vec<KindCounts>,
    sizes: Vec<u64>,
    national: KindCounts,
    assertions: Vec<Assertion>,
}

fn election() -> Election {
    let mut rng = ChaCha20Rng::seed_from_u64(2021);
    let (mut stations, mut hand, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    let mut national = KindCounts::zeros(21);
    for _ in 0..2_500 {
        let n: u64 = rng.gen_range(300..900);
        let mut counts = KindCounts::zeros(21);
        for _ in 0..n {
            let r = rng.gen_range(0.0..100.0);
            let mut acc = 0.0;
            let mut kind = BallotKind::Invalid;
            for (i, s) in SHARES.iter().enumerate() {
                acc += s;
                if r < acc {
                    kind = BallotKind::Option(i);
                    break;
                }
            }
            if kind == BallotKind::Invalid && r < acc + 2.17 {
                kind = BallotKind::AgainstAll;
            }
            counts.add(kind, 1);
            national.add(kind, 1);
        }
        // 2% of stations: the hand count finds one Ata-Jurt ballot invalid
        let mut v = counts.as_slice().to_vec();
        if rng.gen_bool(0.02) && v[20] > 0 {
            v[20] -= 1;
            v[22] += 1;
        }
        hand.push(KindCounts::new(&v[..21], v[21], v[22]));
        stations.push(counts);
        sizes.push(n);
    }
    let contest =
        ListContest::new(national.clone(), SEATS.to_vec(), SeatMethod::Hare, 0.05).unwrap();
    let assertions = list_contest_assertions(&contest).unwrap();
    Election { stations, hand, sizes, national, assertions }
}

#[divan::bench]
fn assertion_set_2021(bencher: divan::Bencher) {
    let e = election();
    let contest =
        ListContest::new(e.national.clone(), SEATS.to_vec(), SeatMethod::Hare, 0.05).unwrap();
    bencher.bench(|| list_contest_assertions(divan::black_box(&contest)).unwrap().len());
}

/// Reported assorter totals of every assertion at every station (2,500 × 52 dot products).
#[divan::bench]
fn station_assorter_totals(bencher: divan::Bencher) {
    let e = election();
    bencher.bench(|| {
        let mut sum = 0.0;
        for a in &e.assertions {
            for s in &e.stations {
                sum += a.assorter().total(s).unwrap();
            }
        }
        sum
    });
}

/// One full batch-level round: 600 PPS station draws from the seed, then for each of the 52
/// assertions the comparison values of the drawn stations and the ALPHA p-value.
#[divan::bench]
fn batch_comparison_round(bencher: divan::Bencher) {
    let e = election();
    bencher.bench(|| {
        let draws = pps_station_draws(&mut Sha256Prng::new("20211128"), &e.sizes, 600);
        let mut worst: f64 = 0.0;
        for a in &e.assertions {
            let margin = a.assorter().margin(&e.national).unwrap();
            let cmp = ComparisonAssorter::new(a.assorter().clone(), margin).unwrap();
            let x: Vec<f64> = draws
                .iter()
                .map(|&p| cmp.batch_value(&e.stations[p], &e.hand[p], e.sizes[p]).unwrap())
                .collect();
            let u = cmp.upper_bound();
            let test =
                AlphaTest::new(u, None, 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0)).unwrap();
            worst = worst.max(test.p_values(&x).unwrap().p_value);
        }
        worst
    });
}

/// Card-level comparison sample sizes for all 52 assertions over the 1.5M-ballot population
/// (each builds the 1.5M assumed values and runs ALPHA over them, as SHANGRLA does).
#[divan::bench(sample_count = 3, sample_size = 1)]
fn card_level_sample_sizes(bencher: divan::Bencher) {
    let e = election();
    let n = e.national.total();
    let alpha = RiskLimit::new(0.05).unwrap();
    bencher.bench(|| {
        let mut total = 0;
        for a in &e.assertions {
            let margin = a.assorter().margin(&e.national).unwrap();
            let cmp = ComparisonAssorter::new(a.assorter().clone(), margin).unwrap();
            let u = cmp.upper_bound();
            let test =
                AlphaTest::new(u, Some(n), 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0)).unwrap();
            total += comparison_sample_size(&test, &cmp, (0.001, 0.0), n, alpha).unwrap();
        }
        total
    });
}

/// The 2021 list race as `tests/data/gen_vectors.py` (`kyrgyzstan_2021`) and
/// `benches/shangrla_card_level.py` build it: CEC final totals of the six passing lists, the other
/// lists and "against all" from the ASU night shares, 1,281,622 ballots, Hare 54 seats, 5%.
fn kyrgyzstan_2021() -> KindCounts {
    let took_part: u64 = 1_281_622;
    let finals =
        [(21, 222_005), (9, 174_470), (8, 141_009), (3, 106_955), (2, 90_223), (5, 79_025)];
    let share = |percent: f64| (percent / 100.0 * took_part as f64).round() as u64;
    let options: Vec<u64> = (1..=21)
        .map(|b| finals.iter().find(|f| f.0 == b).map_or_else(|| share(SHARES[b - 1]), |f| f.1))
        .collect();
    let against_all = share(2.17);
    let invalid = took_part - options.iter().sum::<u64>() - against_all;
    KindCounts::new(&options, against_all, invalid)
}

/// Card-level comparison sample sizes for the 52 assertions of the 2021 race over its 1,281,622
/// ballots, one-vote overstatement rate 0.001: the workload `benches/shangrla_card_level.py` times
/// in SHANGRLA (`Assertion.find_sample_size`) on the same machine.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn card_level_sample_sizes_kg2021(bencher: divan::Bencher) {
    let national = kyrgyzstan_2021();
    let contest =
        ListContest::new(national.clone(), SEATS.to_vec(), SeatMethod::Hare, 0.05).unwrap();
    let assertions = list_contest_assertions(&contest).unwrap();
    let n = national.total();
    let alpha = RiskLimit::new(0.05).unwrap();
    bencher.bench(|| {
        let mut total = 0;
        for a in &assertions {
            let margin = a.assorter().margin(&national).unwrap();
            let cmp = ComparisonAssorter::new(a.assorter().clone(), margin).unwrap();
            let u = cmp.upper_bound();
            let test =
                AlphaTest::new(u, Some(n), 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0)).unwrap();
            total += comparison_sample_size(&test, &cmp, (0.001, 0.0), n, alpha).unwrap();
        }
        total
    });
}
