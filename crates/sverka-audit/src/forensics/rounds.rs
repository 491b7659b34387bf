//! Round-number peaks (Kobak, Shpilkin & Pshenichnikov, "Integer percentages as electoral
//! falsification fingerprints", Ann. Appl. Stat. 10(1), 2016): results written in by hand tend to
//! land on round percentages of turnout and of the leader's share. We count the stations whose
//! turnout (took part of registered) or leader share (leader's votes of took part) is a round
//! percentage and compare the count with its distribution under a smooth null model.
//!
//! **Hit.** A station hits percentage k (0 < k < 100) when its count is the one nearest k % of its
//! denominator: `count = round(k × den / 100)`, exactly the number someone aiming at k % would
//! write. 0 % and 100 % are left out (they are natural at tiny or closed stations), and so are
//! denominators below [`Config::min_registered`]. For a smooth distribution a station hits an
//! integer with probability about 100 / den and a multiple of 5 with about 20 / den.
//!
//! **Null model** (as Kobak et al., §3): binomial resampling. Each simulated data set keeps every
//! station's registered voters and redraws took part ~ Binomial(registered, observed turnout), then
//! the leader's votes ~ Binomial(took part, observed leader share). This smooths every station's
//! result at the scale of single voters (which is what removes written-in round numbers) while
//! keeping turnout and share distributions at every coarser scale. The p-value is
//! `(1 + #{simulated counts ≥ observed}) / (1 + simulations)`, so it is never zero.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::stats::binomial;
use super::{Config, Input};

/// One round-number test.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundNumberTest {
    /// `turnout` or `leader_share`.
    pub variable: &'static str,
    /// `integer` or `multiple_of_5` (percent).
    pub grid: &'static str,
    /// Stations whose value hits the grid.
    pub observed: u64,
    /// Stations the test looked at (denominator large enough).
    pub stations: u64,
    /// Mean and standard deviation of the count over the simulated data sets.
    pub expected: f64,
    pub null_sd: f64,
    pub p_value: f64,
    /// `p_value < alpha_election`.
    pub flagged: bool,
}

/// The round percentage `num / den` hits, if any: `Some(k)` when `num` is the count nearest k %
/// of `den` for some 0 < k < 100 (exact integer arithmetic).
pub fn round_percent(num: u64, den: u64) -> Option<u64> {
    if den == 0 || num == 0 || num >= den {
        return None;
    }
    let (num, den) = (u128::from(num), u128::from(den));
    let k = (200 * num + den) / (2 * den);
    let target = (k * den + 50) / 100;
    (target == num && k > 0 && k < 100).then_some(k as u64)
}

/// The four statistics, in report order: turnout integer, turnout ×5, share integer, share ×5.
const TESTS: [(&str, &str); 4] = [
    ("turnout", "integer"),
    ("turnout", "multiple_of_5"),
    ("leader_share", "integer"),
    ("leader_share", "multiple_of_5"),
];

/// Adds one station's hits to `counts` (in [`TESTS`] order) and its looked-at tallies to `seen`.
fn count_hits(
    registered: u64,
    took_part: u64,
    leader: u64,
    min: u64,
    counts: &mut [u64; 4],
    seen: &mut [u64; 2],
) {
    if registered >= min {
        seen[0] += 1;
        if let Some(k) = round_percent(took_part, registered) {
            counts[0] += 1;
            counts[1] += u64::from(k % 5 == 0);
        }
    }
    if took_part >= min {
        seen[1] += 1;
        if let Some(k) = round_percent(leader, took_part) {
            counts[2] += 1;
            counts[3] += u64::from(k % 5 == 0);
        }
    }
}

pub(super) fn round_number_tests(
    input: &Input,
    leader: usize,
    config: &Config,
) -> Vec<RoundNumberTest> {
    let min = config.min_registered;
    let mut observed = [0u64; 4];
    let mut seen = [0u64; 2];
    for s in &input.stations {
        let c = &s.counts;
        count_hits(s.registered, c.took_part, c.votes[leader], min, &mut observed, &mut seen);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(1);
    let n = config.simulations as usize;
    let mut simulated: Vec<[u64; 4]> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut counts = [0u64; 4];
        let mut ignored = [0u64; 2];
        for s in &input.stations {
            let c = &s.counts;
            let turnout = c.took_part.min(s.registered) as f64 / s.registered.max(1) as f64;
            let took_part = binomial(&mut rng, s.registered, turnout);
            let share = c.votes[leader] as f64 / c.took_part.max(1) as f64;
            let votes = binomial(&mut rng, took_part, share);
            count_hits(s.registered, took_part, votes, min, &mut counts, &mut ignored);
        }
        simulated.push(counts);
    }
    TESTS
        .iter()
        .enumerate()
        .map(|(i, &(variable, grid))| {
            let values: Vec<f64> = simulated.iter().map(|c| c[i] as f64).collect();
            let expected = values.iter().sum::<f64>() / n as f64;
            let variance =
                values.iter().map(|v| (v - expected).powi(2)).sum::<f64>() / (n as f64 - 1.0);
            let at_least = simulated.iter().filter(|c| c[i] >= observed[i]).count();
            let p_value = (1 + at_least) as f64 / (1 + n) as f64;
            RoundNumberTest {
                variable,
                grid,
                observed: observed[i],
                stations: seen[i / 2],
                expected,
                null_sd: variance.sqrt(),
                p_value,
                flagged: p_value < config.alpha_election,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::round_percent;

    #[test]
    fn the_count_nearest_a_round_percentage_hits_it() {
        assert_eq!(round_percent(750, 1000), Some(75));
        assert_eq!(round_percent(751, 1000), None);
        // 1,234 registered: 80 % is 987.2 voters, so 987 is the written-in 80 %.
        assert_eq!(round_percent(987, 1234), Some(80));
        assert_eq!(round_percent(988, 1234), None);
        assert_eq!(round_percent(0, 1234), None);
        assert_eq!(round_percent(1234, 1234), None);
    }
}
