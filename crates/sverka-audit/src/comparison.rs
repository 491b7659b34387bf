//! Comparison audits: overstatement assorters at ballot level and at batch (polling station) level.
//!
//! For an assorter `A` with upper bound `u` and reported assorter margin `v = 2ā_reported − 1`, a ballot
//! whose reported value exceeds its hand-counted value by the overstatement `ω` gets the comparison
//! assorter value `B = (1 − ω/u) / (2 − v/u)` in `[0, 2/(2 − v/u)]` (Stark 2020, SHANGRLA §3.2;
//! SHANGRLA `Assertion.overstatement_assorter`). The outcome is right if the mean of `B` exceeds 1/2.
//!
//! **Batch level, polling stations as batches** (chosen approach; SHANGRLA §3.4 "batch-level comparison",
//! with PPS sampling as in PPEB, Aslam, Popa and Rivest 2008, and MACRO, Stark 2008): draw a ballot
//! uniformly (with replacement) from the manifest and hand-count its whole station, i.e. sample
//! station `p` with probability `n_p / N`, proportional to its error bound `u·n_p`. The value of a
//! drawn station is `B_p = (1 − ω̄_p/u) / (2 − v/u)` with `ω̄_p = (A_reported(p) − A_hand(p)) / n_p` the
//! mean overstatement per ballot; under PPS its expectation is the population mean of `B`, so the same
//! ALPHA test applies with sampling *with* replacement (`population = None`) and upper bound
//! `2/(2 − v/u)`.

use crate::assertion::{AssertionError, Assorter, BallotKind, KindCounts};

/// Why a comparison value cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComparisonError {
    #[error(
        "reported assorter margin {0} is not in (0, 1]·u: the reported outcome is not supported"
    )]
    BadMargin(f64),
    #[error("hand count of a station has {hand} ballots but its manifest has {manifest}")]
    MoreBallotsThanManifest { hand: u64, manifest: u64 },
    #[error("station with no ballots on its manifest")]
    EmptyStation,
    #[error("assorter: {0}")]
    Assorter(#[from] AssertionError),
}

/// The comparison assorter of one assertion, fixed by its reported margin.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonAssorter {
    assorter: Assorter,
    margin: f64,
}

impl ComparisonAssorter {
    /// Builds from the assorter and the *reported* margin `v` (must be positive: the reported outcome).
    pub fn new(assorter: Assorter, reported_margin: f64) -> Result<Self, ComparisonError> {
        if !(reported_margin > 0.0 && reported_margin <= assorter.upper_bound()) {
            return Err(ComparisonError::BadMargin(reported_margin));
        }
        Ok(Self { assorter, margin: reported_margin })
    }

    /// The reported assorter margin `v`.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    /// `B(ω) = (1 − ω/u)/(2 − v/u)` (SHANGRLA `overstatement_assorter`, `make_overstatement`).
    pub fn value(&self, overstatement: f64) -> f64 {
        let u = self.assorter.upper_bound();
        (1.0 - overstatement / u) / (2.0 - self.margin / u)
    }

    /// The upper bound `2/(2 − v/u)` of `B`, the `u` of the test.
    pub fn upper_bound(&self) -> f64 {
        2.0 / (2.0 - self.margin / self.assorter.upper_bound())
    }

    /// Ballot level: the reported kind against the hand-read kind (`None`: card not found, treated as
    /// the worst case `A = 0`, SHANGRLA's phantom/“no contest” rule with `use_style`).
    pub fn ballot_value(&self, reported: BallotKind, hand: Option<BallotKind>) -> f64 {
        let hand_value = hand.map_or(0.0, |k| self.assorter.value(k));
        self.value(self.assorter.value(reported) - hand_value)
    }

    /// Batch level: a station's reported counts against its hand count, over `manifest` ballots.
    /// Ballots on the manifest but missing from the hand count count as `A = 0` (worst case).
    pub fn batch_value(
        &self,
        reported: &KindCounts,
        hand: &KindCounts,
        manifest: u64,
    ) -> Result<f64, ComparisonError> {
        if manifest == 0 {
            return Err(ComparisonError::EmptyStation);
        }
        if hand.total() > manifest || reported.total() > manifest {
            return Err(ComparisonError::MoreBallotsThanManifest {
                hand: hand.total().max(reported.total()),
                manifest,
            });
        }
        let over = self.assorter.total(reported)? - self.assorter.total(hand)?;
        Ok(self.value(over / manifest as f64))
    }
}
