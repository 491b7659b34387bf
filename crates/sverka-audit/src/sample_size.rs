//! Sample sizes before an audit starts (SHANGRLA `NonnegMean.sample_size` with `reps = None` and
//! `Assertion.find_sample_size`): build the sequence of values the audit would see if the assumptions
//! held, run the test on it, and report the first draw at which the p-value reaches the risk limit.
//!
//! - Ballot polling: the reported tallies are assumed right; values are interleaved evenly, starting
//!   with a small one (SHANGRLA `Assertion.interleave_values`).
//! - Comparison: every value is `B(0)` except overstatements of 1/2 (`B(1/2)`, SHANGRLA's
//!   `make_overstatement(overs=1/2)`, a one-vote overstatement of a plurality assorter) at every `⌊1/r₁⌋`-th draw
//!   and two-vote overstatements `0` at every `⌊1/r₂⌋`-th draw, both starting with the first draw.

use crate::alpha::{AlphaTest, TestError};
use crate::comparison::ComparisonAssorter;
use crate::escalation::RiskLimit;

/// The first draw (1-based) at which the test's p-value is at most α when the data are `x`, extended
/// to the population size `N` by repeating each value `⌈N/len(x)⌉` times (numpy `repeat`, as SHANGRLA
/// does); `N` when never. Sampling with replacement uses `x` as it is and returns `None` if it never
/// crosses.
pub fn sample_size_from_data(
    test: &AlphaTest,
    x: &[f64],
    alpha: RiskLimit,
) -> Result<Option<u64>, TestError> {
    if x.is_empty() {
        return Err(TestError::Empty);
    }
    let pop: Vec<f64> = match test.population() {
        Some(n) => {
            let reps = (n as usize).div_ceil(x.len());
            x.iter().flat_map(|v| std::iter::repeat_n(*v, reps)).take(n as usize).collect()
        }
        None => x.to_vec(),
    };
    let crossed = test.first_crossing(&pop, alpha.get())?.map(|i| i as u64);
    Ok(match test.population() {
        Some(n) => Some(crossed.unwrap_or(n)),
        None => crossed,
    })
}

/// `n_small` copies of `small`, `n_med` of `med`, `n_big` of `big`, interleaved as evenly as possible,
/// starting with a small value if there is one (SHANGRLA `Assertion.interleave_values`).
pub fn interleave_values(
    n_small: usize,
    n_med: usize,
    n_big: usize,
    small: f64,
    med: f64,
    big: f64,
) -> Vec<f64> {
    let n = n_small + n_med + n_big;
    let mut x = vec![0.0; n];
    if n == 0 {
        return x;
    }
    let frac = |count: usize, used: usize| count.saturating_sub(used) as f64 / count as f64;
    let (mut i_small, mut i_med, mut i_big) = (0, 0, 0);
    let mut r_small = if n_small > 0 { 1.0 } else { 0.0 };
    let mut r_med = if n_med > 0 { 1.0 } else { 0.0 };
    let mut r_big = 1.0;
    if n_small > 0 {
        x[0] = small;
        i_small = 1;
        r_small = frac(n_small, i_small);
    } else if n_med > 0 {
        x[0] = med;
        i_med = 1;
        r_med = frac(n_med, i_med);
    } else {
        x[0] = big;
        i_big = 1;
        r_big = frac(n_big, i_big);
    }
    for slot in x.iter_mut().skip(1) {
        if r_small > r_big && r_med <= r_small {
            *slot = small;
            i_small += 1;
            r_small = frac(n_small, i_small);
        } else if (r_small > r_big && r_med > r_small) || (r_small <= r_big && r_med > r_big) {
            *slot = med;
            i_med += 1;
            r_med = frac(n_med, i_med);
        } else {
            *slot = big;
            i_big += 1;
            r_big = frac(n_big, i_big);
        }
    }
    x
}

/// Ballot-polling sample size for an assorter taking the values 0 (on `n_zero` ballots), 1/2 (on
/// `n_half`) and `u` (on `n_big`), assuming the reported tallies are right.
pub fn polling_sample_size(
    test: &AlphaTest,
    n_zero: u64,
    n_half: u64,
    n_big: u64,
    alpha: RiskLimit,
) -> Result<u64, TestError> {
    let x = interleave_values(
        n_zero as usize,
        n_half as usize,
        n_big as usize,
        0.0,
        0.5,
        test.upper_bound(),
    );
    Ok(sample_size_from_data(test, &x, alpha)?.unwrap_or(n_zero + n_half + n_big))
}

/// The assumed comparison data: `len` values `B(0)`, with `B(1/2)` every `⌊1/rate_1⌋` draws and `0`
/// every `⌊1/rate_2⌋` draws (rates of one- and two-vote overstatements; 0 = none).
pub fn comparison_data(cmp: &ComparisonAssorter, len: usize, rate_1: f64, rate_2: f64) -> Vec<f64> {
    let mut x = vec![cmp.value(0.0); len];
    let small = cmp.value(0.5);
    for (rate, value) in [(rate_1, small), (rate_2, 0.0)] {
        if rate > 0.0 {
            let step = ((1.0 / rate) as usize).max(1);
            x.iter_mut().step_by(step).for_each(|v| *v = value);
        }
    }
    x
}

/// Comparison sample size: ballot level (`test` without replacement over `N` ballots) or batch level
/// (`test` with replacement; `max_draws` bounds the search and is returned if it never crosses).
pub fn comparison_sample_size(
    test: &AlphaTest,
    cmp: &ComparisonAssorter,
    rates: (f64, f64),
    max_draws: u64,
    alpha: RiskLimit,
) -> Result<u64, TestError> {
    let len = test.population().unwrap_or(max_draws) as usize;
    if len == 0 {
        return Err(TestError::Empty);
    }
    if len < 2 && matches!(test.estimator(), crate::alpha::Estimator::ShrinkTrunc { .. }) {
        return Err(TestError::TooFewForShrinkage);
    }
    // the values of `comparison_data(cmp, len, ..)`, made one at a time (`N` of them without
    // replacement, so SHANGRLA's repetition to the population size is the identity)
    let (big, small) = (cmp.value(0.0), cmp.value(0.5));
    let step = |rate: f64| (rate > 0.0).then(|| ((1.0 / rate) as usize).max(1));
    let (step_1, step_2) = (step(rates.0), step(rates.1));
    let value = |i: usize| {
        if step_2.is_some_and(|s| i.is_multiple_of(s)) {
            0.0
        } else if step_1.is_some_and(|s| i.is_multiple_of(s)) {
            small
        } else {
            big
        }
    };
    if let Some(v) = [big, small].into_iter().find(|v| !(*v >= 0.0 && *v <= test.upper_bound())) {
        return Err(TestError::OutOfRange(v));
    }
    let crossed = test.first_crossing_of(len, value, alpha.get()).map(|i| i as u64);
    Ok(crossed.unwrap_or(test.population().unwrap_or(max_draws)))
}
