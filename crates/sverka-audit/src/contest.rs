//! The full assertion set for a reported outcome.
//!
//! A list contest (2021 rules: one nationwide list race, threshold on the voters who took part, seats by
//! Hare largest remainder among passing lists) is confirmed when, for the reported tallies:
//! 1. every list is on the reported side of the threshold (Blom et al. 2021, §4, threshold assertions:
//!    `v_p − t·N > 0` or `t·N − v_p > 0`, every ballot in the base `N`),
//! 2. every pair of passing lists is in the reported seat order:
//!    - Hare largest remainder (Blom et al. 2021, §4, Hamilton): for `A` with `a ≥ 1` seats and any other
//!      passing `B` with `b` seats, `v_A − (a−1)·V/S > v_B − b·V/S`, where `V` is the passing lists'
//!      votes (itself a sum over ballots, so the assertion stays linear);
//!    - divisor methods (Blom et al. 2021, §4, D'Hondt and Sainte-Laguë): `v_A / d(a) > v_B / d(b+1)`,
//!      i.e. `d(b+1)·v_A − d(a)·v_B > 0`, with `d(k) = k` (D'Hondt) or `2k − 1` (Sainte-Laguë),
//! 3. the leading list beats "against all" (otherwise the race fails and is re-run).
//!
//! A single-member district is a plurality contest with "against all" as one more candidate
//! (SHANGRLA `make_plurality_assertions`: winner vs each loser, `g = 1[w] − 1[l]`).

use crate::assertion::{
    Assertion, AssertionError, AssertionKind, Assorter, BallotKind, KindCounts,
};

/// The seat method of a list contest, as far as it can be audited with linear assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatMethod {
    /// Largest remainder with the Hare quota `V / S`.
    Hare,
    /// Highest averages, divisors 1, 2, 3, ….
    DHondt,
    /// Highest averages, divisors 1, 3, 5, ….
    SainteLague,
}

impl SeatMethod {
    /// The divisor of the `k`-th seat (k ≥ 1) for divisor methods.
    fn divisor(self, k: u32) -> f64 {
        match self {
            SeatMethod::DHondt => f64::from(k),
            SeatMethod::SainteLague => f64::from(2 * k - 1),
            SeatMethod::Hare => f64::NAN,
        }
    }
}

impl TryFrom<sverka_tally::seats::Method> for SeatMethod {
    type Error = ContestError;

    fn try_from(method: sverka_tally::seats::Method) -> Result<Self, ContestError> {
        use sverka_tally::seats::Method;
        match method {
            Method::Hare => Ok(SeatMethod::Hare),
            Method::DHondt => Ok(SeatMethod::DHondt),
            Method::SainteLague => Ok(SeatMethod::SainteLague),
            // floor(V/(S+1)) + 1 is not linear in the ballots: no assertion set of this form
            Method::Droop => Err(ContestError::UnsupportedMethod("droop")),
        }
    }
}

/// Why an assertion set cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContestError {
    #[error("seat method {0} cannot be audited with linear assertions")]
    UnsupportedMethod(&'static str),
    #[error("{votes} vote totals but {seats} seat counts")]
    LengthMismatch { votes: usize, seats: usize },
    #[error("threshold must be in (0, 1), got {0}")]
    BadThreshold(f64),
    #[error("option {0} has seats but is below the threshold")]
    SeatsBelowThreshold(usize),
    #[error("no seats were reported")]
    NoSeats,
    #[error("no ballots")]
    Empty,
    #[error("assertion: {0}")]
    Assertion(#[from] AssertionError),
}

/// A reported list-contest outcome in plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ListContest {
    counts: KindCounts,
    seats: Vec<u32>,
    method: SeatMethod,
    threshold: f64,
}

impl ListContest {
    /// Validates that seat counts match the lists and that no list below the threshold holds seats.
    pub fn new(
        counts: KindCounts,
        seats: Vec<u32>,
        method: SeatMethod,
        threshold: f64,
    ) -> Result<Self, ContestError> {
        if counts.n_options() != seats.len() {
            return Err(ContestError::LengthMismatch {
                votes: counts.n_options(),
                seats: seats.len(),
            });
        }
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(ContestError::BadThreshold(threshold));
        }
        if counts.total() == 0 {
            return Err(ContestError::Empty);
        }
        if seats.iter().sum::<u32>() == 0 {
            return Err(ContestError::NoSeats);
        }
        let contest = Self { counts, seats, method, threshold };
        if let Some(p) =
            (0..contest.seats.len()).find(|&p| contest.seats[p] > 0 && !contest.passes(p))
        {
            return Err(ContestError::SeatsBelowThreshold(p));
        }
        Ok(contest)
    }

    /// Reported tallies.
    pub fn counts(&self) -> &KindCounts {
        &self.counts
    }

    /// Reported seats per list.
    pub fn seats(&self) -> &[u32] {
        &self.seats
    }

    /// Whether list `p` reached the threshold on the reported tallies (`v_p ≥ t·N`).
    pub fn passes(&self, p: usize) -> bool {
        self.counts.get(BallotKind::Option(p)) as f64 >= self.threshold * self.counts.total() as f64
    }

    fn n_kinds(&self) -> usize {
        self.counts.as_slice().len()
    }

    fn house_size(&self) -> u32 {
        self.seats.iter().sum()
    }
}

/// Every assertion that together confirm the reported outcome of `contest`.
pub fn list_contest_assertions(contest: &ListContest) -> Result<Vec<Assertion>, ContestError> {
    let n = contest.counts.n_options();
    let mut out = Vec::new();
    for p in 0..n {
        out.push(threshold_assertion(contest, p)?);
    }
    let passing: Vec<usize> = (0..n).filter(|&p| contest.passes(p)).collect();
    for &winner in &passing {
        if contest.seats[winner] == 0 {
            continue;
        }
        for &loser in passing.iter().filter(|&&l| l != winner) {
            out.push(seat_assertion(contest, &passing, winner, loser)?);
        }
    }
    if let Some(leader) =
        (0..n).max_by_key(|&p| (contest.counts.get(BallotKind::Option(p)), std::cmp::Reverse(p)))
    {
        out.push(plurality_pair(
            contest.n_kinds(),
            BallotKind::Option(leader),
            BallotKind::AgainstAll,
        )?);
    }
    Ok(out)
}

/// Threshold assertion for list `p`: pass `v_p − t·N > 0`, or fail `t·N − v_p > 0` (every ballot in `N`).
fn threshold_assertion(contest: &ListContest, p: usize) -> Result<Assertion, ContestError> {
    let t = contest.threshold;
    let pass = contest.passes(p);
    let mut g = vec![if pass { -t } else { t }; contest.n_kinds()];
    g[p] = if pass { 1.0 - t } else { t - 1.0 };
    let kind = if pass {
        AssertionKind::ThresholdPass { option: p, threshold: t }
    } else {
        AssertionKind::ThresholdFail { option: p, threshold: t }
    };
    Ok(Assertion::new(kind, Assorter::from_linear(&g)?))
}

fn seat_assertion(
    contest: &ListContest,
    passing: &[usize],
    w: usize,
    l: usize,
) -> Result<Assertion, ContestError> {
    let (sw, sl) = (contest.seats[w], contest.seats[l]);
    let mut g = vec![0.0; contest.n_kinds()];
    let kind = match contest.method {
        SeatMethod::Hare => {
            // v_w − v_l − (s_w − 1 − s_l)·V/S > 0, V = Σ_{passing} v
            let d = (f64::from(sw) - 1.0 - f64::from(sl)) / f64::from(contest.house_size());
            for &p in passing {
                g[p] = -d;
            }
            g[w] = 1.0 - d;
            g[l] = -1.0 - d;
            AssertionKind::LargestRemainder {
                winner: w,
                winner_seats: sw,
                loser: l,
                loser_seats: sl,
            }
        }
        method => {
            // d(s_l + 1)·v_w − d(s_w)·v_l > 0
            g[w] = method.divisor(sl + 1);
            g[l] = -method.divisor(sw);
            let divisor_step = if method == SeatMethod::DHondt { 1 } else { 2 };
            AssertionKind::HighestAverages {
                divisor_step,
                winner: w,
                winner_seats: sw,
                loser: l,
                loser_seats: sl,
            }
        }
    };
    Ok(Assertion::new(kind, Assorter::from_linear(&g)?))
}

fn plurality_pair(
    n_kinds: usize,
    winner: BallotKind,
    loser: BallotKind,
) -> Result<Assertion, ContestError> {
    let mut g = vec![0.0; n_kinds];
    g[KindCounts::index_of(n_kinds - 2, winner)] = 1.0;
    g[KindCounts::index_of(n_kinds - 2, loser)] = -1.0;
    Ok(Assertion::new(AssertionKind::Plurality { winner, loser }, Assorter::from_linear(&g)?))
}

/// Plurality assertions of a single-member district: the reported winner (a candidate, or "against all"
/// when the race failed) against every other candidate and "against all" (SHANGRLA
/// `Assertion.make_plurality_assertions`; Stark 2020 §2.1).
pub fn plurality_assertions(
    counts: &KindCounts,
    winner: BallotKind,
) -> Result<Vec<Assertion>, ContestError> {
    let n_kinds = counts.as_slice().len();
    let mut rivals: Vec<BallotKind> = (0..counts.n_options()).map(BallotKind::Option).collect();
    rivals.push(BallotKind::AgainstAll);
    rivals
        .into_iter()
        .filter(|&k| k != winner)
        .map(|loser| plurality_pair(n_kinds, winner, loser))
        .collect()
}
