//! Stopping and escalation (Stark 2020, SHANGRLA §1 and §4): the audit confirms the reported outcome as
//! soon as the p-value of *every* assertion is at most the risk limit; otherwise it samples more, and an
//! audit that cannot stop ends in a full hand count, whose result replaces the reported one.

/// A risk limit α in (0, 1).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RiskLimit(f64);

/// A risk limit out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("risk limit must be in (0, 1), got {0}")]
pub struct RiskLimitError(pub f64);

impl RiskLimit {
    /// Validates `0 < alpha < 1`.
    pub fn new(alpha: f64) -> Result<Self, RiskLimitError> {
        if alpha > 0.0 && alpha < 1.0 {
            Ok(Self(alpha))
        } else {
            Err(RiskLimitError(alpha))
        }
    }

    /// The value α.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// What the audit does after a round.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every assertion's p-value is at most α: the reported outcome stands.
    Confirmed,
    /// Some assertions are not yet confirmed: draw until the sample reaches `next_sample_size`.
    Escalate {
        /// Indexes of the assertions still open.
        open: Vec<usize>,
        /// The total sample size to reach next (never more than the population).
        next_sample_size: u64,
    },
    /// The sample has reached the whole population (or the audit chose to stop sampling): count by hand.
    FullHandCount { open: Vec<usize> },
}

/// The rule: `p_values[i]` is the current p-value of assertion `i`, `sample_size` the draws so far,
/// `population` the ballots (or, with replacement, the most draws the audit will make before counting
/// everything), `estimates[i]` a fresh sample-size estimate for each open assertion from the data so far.
/// The next size is the largest estimate, at least one more than now, at most the population.
pub fn decide(
    p_values: &[f64],
    risk_limit: RiskLimit,
    sample_size: u64,
    population: u64,
    estimates: &[u64],
) -> Decision {
    let open: Vec<usize> = (0..p_values.len())
        .filter(|&i| p_values[i].is_nan() || p_values[i] > risk_limit.get())
        .collect();
    if open.is_empty() {
        return Decision::Confirmed;
    }
    if sample_size >= population {
        return Decision::FullHandCount { open };
    }
    let wanted = open.iter().filter_map(|&i| estimates.get(i)).copied().max().unwrap_or(population);
    let next_sample_size = wanted.max(sample_size + 1).min(population);
    Decision::Escalate { open, next_sample_size }
}
