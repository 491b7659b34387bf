//! Digit tests of vote counts (every option's count at every station, counts of at least
//! [`MIN_COUNT`]):
//!
//! - **last digit** against the uniform distribution (Beber & Scacco, "What the numbers say",
//!   Political Analysis 20(2), 2012): people inventing numbers favour some final digits;
//! - **second digit** against the second-digit Benford law, 2BL: P(d) = Σₖ₌₁⁹ log₁₀(1 + 1/(10k + d))
//!   (Mebane, "Election forensics: vote counts and Benford's law", 2006).
//!
//! Each test reports Pearson's χ² against its reference law with the textbook p-value
//! Q(9/2, χ²/2) (regularized upper incomplete gamma, 9 degrees of freedom). **That p-value is not the
//! one we flag on**: honest counts are not Benford (Deckert, Myagkov & Ordeshook, Political Analysis
//! 19(3), 2011) and their digits depend on how large stations and parties are. The flagged p-value is
//! by simulation: each data set redraws every count ~ Binomial(took part, observed share) — the same
//! magnitudes, smoothed at the scale of single votes — and computes the same χ²; the p-value is
//! `(1 + #{simulated χ² ≥ observed}) / (1 + simulations)`. It asks: are these digits further from
//! the law than digits of counts of the same sizes would be?

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::stats::{binomial, chi_square_sf};
use super::{Config, Input};

/// Counts below this are left out (a count below 10 has no second digit, and small counts'
/// last digits are far from uniform).
pub const MIN_COUNT: u64 = 10;

/// One digit test.
#[derive(Clone, Debug, PartialEq)]
pub struct DigitTest {
    /// `last_digit` or `second_digit`.
    pub test: &'static str,
    /// Counts tested.
    pub counts: u64,
    /// How many counts end in (or have as second digit) 0, 1, …, 9.
    pub observed: [u64; 10],
    /// The reference law's probabilities of 0, 1, …, 9.
    pub reference: [f64; 10],
    pub chi_square: f64,
    /// Q(9/2, χ²/2): the textbook p-value, shown for comparison, not flagged on.
    pub p_value_asymptotic: f64,
    /// The p-value by simulation (see the module documentation); flagged on.
    pub p_value: f64,
    pub flagged: bool,
}

/// The second-digit Benford law.
pub fn benford_second_digit() -> [f64; 10] {
    let mut p = [0.0; 10];
    for (d, slot) in p.iter_mut().enumerate() {
        *slot = (1..=9).map(|k| (1.0 + 1.0 / (10.0 * k as f64 + d as f64)).log10()).sum();
    }
    p
}

fn last_digit(v: u64) -> usize {
    (v % 10) as usize
}

fn second_digit(mut v: u64) -> usize {
    while v >= 100 {
        v /= 10;
    }
    (v % 10) as usize
}

fn chi_square(observed: &[u64; 10], reference: &[f64; 10]) -> f64 {
    let n: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(reference)
        .map(|(&o, &p)| {
            let e = n as f64 * p;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Last-digit and second-digit histograms of the counts ≥ [`MIN_COUNT`] among `values`.
fn histograms(values: impl Iterator<Item = u64>) -> [[u64; 10]; 2] {
    let mut h = [[0u64; 10]; 2];
    for v in values.filter(|&v| v >= MIN_COUNT) {
        h[0][last_digit(v)] += 1;
        h[1][second_digit(v)] += 1;
    }
    h
}

pub(super) fn digit_tests(input: &Input, config: &Config) -> Vec<DigitTest> {
    let names = ["last_digit", "second_digit"];
    let references = [[0.1; 10], benford_second_digit()];
    let counts: Vec<(u64, u64)> = input
        .stations
        .iter()
        .flat_map(|s| s.counts.votes.iter().map(move |&v| (v, s.counts.took_part)))
        .collect();
    let observed = histograms(counts.iter().map(|c| c.0));
    let statistics = [0, 1].map(|t| chi_square(&observed[t], &references[t]));
    // Both tests read the same simulated data sets (one stream), which halves the draws.
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(2);
    let mut at_least = [0u32; 2];
    for _ in 0..config.simulations {
        let simulated = histograms(counts.iter().map(|&(v, took_part)| {
            binomial(&mut rng, took_part, v as f64 / took_part.max(1) as f64)
        }));
        for t in 0..2 {
            at_least[t] += u32::from(chi_square(&simulated[t], &references[t]) >= statistics[t]);
        }
    }
    (0..2)
        .map(|t| {
            let p_value = f64::from(1 + at_least[t]) / f64::from(1 + config.simulations);
            DigitTest {
                test: names[t],
                counts: observed[t].iter().sum(),
                observed: observed[t],
                reference: references[t],
                chi_square: statistics[t],
                p_value_asymptotic: chi_square_sf(statistics[t], 9.0),
                p_value,
                flagged: p_value < config.alpha_election,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benford_second_digit_law_sums_to_one_and_matches_mebane() {
        let p = benford_second_digit();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Mebane (2006), table 1: 0.120 for 0, 0.085 for 9.
        assert!((p[0] - 0.11968).abs() < 1e-4);
        assert!((p[9] - 0.08500).abs() < 1e-4);
    }

    #[test]
    fn digits_are_read_from_the_right_places() {
        assert_eq!(second_digit(12), 2);
        assert_eq!(second_digit(3_456), 4);
        assert_eq!(last_digit(3_456), 6);
    }
}
