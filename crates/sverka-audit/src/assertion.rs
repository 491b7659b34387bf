//! Assertions and assorters as weight vectors over ballot kinds.
//!
//! SHANGRLA (Stark 2020, "Sets of half-average nulls generate risk-limiting audits: SHANGRLA", §2)
//! reduces an audit to a set of *assertions* "the mean of assorter `A` over the ballots exceeds 1/2",
//! where an assorter maps each ballot to `[0, u]`. For the contests sverka handles, a ballot has exactly
//! one *kind* (a vote for one party or candidate, "against all", or invalid/blank), so an assorter is a
//! weight per kind and its mean over a tally is a dot product.
//!
//! Every assertion here starts life as a *linear assertion* `Σ_b g(kind(b)) > 0` and is turned into an
//! assorter by the affine map of Blom, Budurushi, Rivest, Stark, Stuckey, Teague and Vukcevic
//! ("Assertion-based approaches to auditing complex elections, with application to party-list
//! proportional elections", E-Vote-ID 2021, §3): with `a = −min g > 0`,
//! `A(b) = (g(b) + a) / (2a)`, `u = (max g + a) / (2a)`, so that `mean A > 1/2 ⟺ Σ g > 0`.

/// What a ballot card says in one contest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BallotKind {
    /// A valid vote for option (party list or candidate) number `i`, counted from 0.
    Option(usize),
    /// A vote "against all": counts among those who took part, wins nothing.
    AgainstAll,
    /// Invalid or blank: in the base of the threshold (took part) but a vote for no one.
    Invalid,
}

/// A count of ballots per kind: options `0..n`, then "against all", then invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCounts {
    counts: Vec<u64>,
}

impl KindCounts {
    /// Counts for `options.len()` options plus "against all" and invalid ballots.
    pub fn new(options: &[u64], against_all: u64, invalid: u64) -> Self {
        let mut counts = options.to_vec();
        counts.push(against_all);
        counts.push(invalid);
        Self { counts }
    }

    /// All zeros for `n_options` options.
    pub fn zeros(n_options: usize) -> Self {
        Self { counts: vec![0; n_options + 2] }
    }

    /// The number of options (parties or candidates).
    pub fn n_options(&self) -> usize {
        self.counts.len() - 2
    }

    /// The position of `kind` in the weight and count vectors.
    pub fn index_of(n_options: usize, kind: BallotKind) -> usize {
        match kind {
            BallotKind::Option(i) => i,
            BallotKind::AgainstAll => n_options,
            BallotKind::Invalid => n_options + 1,
        }
    }

    /// The count of one kind.
    pub fn get(&self, kind: BallotKind) -> u64 {
        self.counts[Self::index_of(self.n_options(), kind)]
    }

    /// Adds `n` ballots of `kind`.
    pub fn add(&mut self, kind: BallotKind, n: u64) {
        let idx = Self::index_of(self.n_options(), kind);
        self.counts[idx] += n;
    }

    /// The counts in vector order (options, against all, invalid).
    pub fn as_slice(&self) -> &[u64] {
        &self.counts
    }

    /// All ballots: the base of the threshold ("took part", 2021 rules).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Why a linear assertion has no assorter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssertionError {
    /// `g ≥ 0` for every kind: the assertion holds for any non-empty set of ballots with a positive term.
    #[error("linear assertion has no negative coefficient: it needs no audit")]
    NoNegativeCoefficient,
    /// A coefficient is not finite.
    #[error("linear assertion coefficient is not finite")]
    NotFinite,
    /// Counts and weights are over different numbers of options.
    #[error("counts have {counts} kinds but the assorter has {weights}")]
    LengthMismatch { counts: usize, weights: usize },
    /// No ballots at all.
    #[error("no ballots")]
    Empty,
}

/// An assorter: a weight in `[0, u]` per ballot kind and the upper bound `u`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assorter {
    weights: Vec<f64>,
    upper_bound: f64,
}

impl Assorter {
    /// The assorter of the linear assertion `Σ_b g(kind(b)) > 0` (Blom et al. 2021, §3):
    /// `A = (g + a)/(2a)` with `a = −min g`, and `u = max A`.
    pub fn from_linear(g: &[f64]) -> Result<Self, AssertionError> {
        if g.iter().any(|x| !x.is_finite()) {
            return Err(AssertionError::NotFinite);
        }
        let a = -g.iter().copied().fold(f64::INFINITY, f64::min);
        if a <= 0.0 {
            return Err(AssertionError::NoNegativeCoefficient);
        }
        let weights: Vec<f64> = g.iter().map(|gk| (gk + a) / (2.0 * a)).collect();
        let upper_bound = weights.iter().copied().fold(0.0, f64::max);
        Ok(Self { weights, upper_bound })
    }

    /// An assorter given directly by its weights and bound (weights must lie in `[0, u]`).
    pub fn from_weights(weights: Vec<f64>, upper_bound: f64) -> Self {
        Self { weights, upper_bound }
    }

    /// The weight per kind, in [`KindCounts`] order.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The upper bound `u` of the assorter.
    pub fn upper_bound(&self) -> f64 {
        self.upper_bound
    }

    /// The value the assorter gives one ballot of `kind`.
    pub fn value(&self, kind: BallotKind) -> f64 {
        self.weights[KindCounts::index_of(self.weights.len() - 2, kind)]
    }

    /// `Σ_b A(b)`: the dot product of weights and counts.
    pub fn total(&self, counts: &KindCounts) -> Result<f64, AssertionError> {
        if counts.as_slice().len() != self.weights.len() {
            return Err(AssertionError::LengthMismatch {
                counts: counts.as_slice().len(),
                weights: self.weights.len(),
            });
        }
        Ok(self.weights.iter().zip(counts.as_slice()).map(|(w, c)| w * (*c as f64)).sum())
    }

    /// The assorter mean `ā` over the ballots counted in `counts`.
    pub fn mean(&self, counts: &KindCounts) -> Result<f64, AssertionError> {
        let n = counts.total();
        if n == 0 {
            return Err(AssertionError::Empty);
        }
        Ok(self.total(counts)? / n as f64)
    }

    /// The assorter margin `v = 2ā − 1` (SHANGRLA `Assertion.margin`); the assertion holds iff `v > 0`.
    pub fn margin(&self, counts: &KindCounts) -> Result<f64, AssertionError> {
        Ok(2.0 * self.mean(counts)? - 1.0)
    }
}

/// Which fact about the reported outcome an assertion checks.
#[derive(Debug, Clone, PartialEq)]
pub enum AssertionKind {
    /// Option `option` got more than `threshold` of all ballots (took part).
    ThresholdPass { option: usize, threshold: f64 },
    /// Option `option` got less than `threshold` of all ballots.
    ThresholdFail { option: usize, threshold: f64 },
    /// Largest remainder (Hare quota): `winner`'s `winner_seats`-th seat beats `loser`'s
    /// `(loser_seats + 1)`-th.
    LargestRemainder { winner: usize, winner_seats: u32, loser: usize, loser_seats: u32 },
    /// Highest averages: `v_w / d(s_w) > v_l / d(s_l + 1)`.
    HighestAverages {
        divisor_step: u32,
        winner: usize,
        winner_seats: u32,
        loser: usize,
        loser_seats: u32,
    },
    /// Plurality: `winner` got more votes than `loser` (either may be "against all").
    Plurality { winner: BallotKind, loser: BallotKind },
}

/// One assertion: what it claims and its assorter.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    kind: AssertionKind,
    assorter: Assorter,
}

impl Assertion {
    /// Pairs a claim with its assorter.
    pub fn new(kind: AssertionKind, assorter: Assorter) -> Self {
        Self { kind, assorter }
    }

    /// What the assertion claims.
    pub fn kind(&self) -> &AssertionKind {
        &self.kind
    }

    /// Its assorter.
    pub fn assorter(&self) -> &Assorter {
        &self.assorter
    }
}
