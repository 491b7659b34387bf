//! One allocation: thresholds, then the method on the qualified parties, then the margins.
//!
//! [`allocate`] is the entry point the tabulation and `allocate_json` both call. It is pure
//! and deterministic: the same votes and config give the same [`Allocation`], whatever order
//! the parties were listed in.

use std::collections::{BTreeMap, BTreeSet};

use super::fraction::{Fraction, Ratio};
use super::lot::{LotSeed, TieBreak};
use super::methods::{apportion, Apportionment, Boundary, Contender, Method};
use super::threshold::{RegionalThreshold, Standing, ThresholdMargin};
use super::types::{PartyId, PartyVotes, RegionId, SeatCount, MAX_VOTES};

/// What to allocate and under which rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationConfig {
    /// The apportionment method.
    pub method: Method,
    /// The house size.
    pub seats: SeatCount,
    /// The national threshold as a share of `threshold_base` ([`Fraction::ZERO`] for none).
    pub threshold: Fraction,
    /// The national base: voters who took part (Kyrgyz rule; includes "against all" and
    /// invalid ballots). `None`: the sum of the votes.
    pub threshold_base: Option<u64>,
    /// A threshold to pass in every listed region, if any.
    pub regional: Option<RegionalThreshold>,
    /// The public seed for lots.
    pub seed: LotSeed,
}

impl AllocationConfig {
    /// A config with no threshold, no regions and the empty seed.
    pub fn new(method: Method, seats: SeatCount) -> Self {
        Self {
            method,
            seats,
            threshold: Fraction::ZERO,
            threshold_base: None,
            regional: None,
            seed: LotSeed::default(),
        }
    }
}

/// Inputs that cannot be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// The base is below the votes it should contain.
    #[error("threshold_base ({base}) is less than the sum of the votes ({total})")]
    BaseBelowVotes {
        /// The base given.
        base: u64,
        /// The sum of the votes.
        total: u64,
    },
    /// The base is over [`MAX_VOTES`].
    #[error("threshold_base ({0}) exceeds the maximum of {MAX_VOTES}")]
    BaseTooLarge(u64),
    /// A region listed twice.
    #[error("region {0} is listed twice")]
    DuplicateRegion(RegionId),
    /// A region names a party that is not in the national votes.
    #[error("region {region} has votes for {party}, which is not in the national votes")]
    UnknownPartyInRegion {
        /// The region.
        region: RegionId,
        /// The party.
        party: PartyId,
    },
    /// No parties at all.
    #[error("votes must list at least one party")]
    NoParties,
}

/// How close the last seat was (absent when no seat or no challenger is left to compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatMargin {
    /// Divisor methods. The last seat went to `last` at quotient `votes / divisor`; the best
    /// quotient of any other party was `runner_up`'s. Qualification and the other parties'
    /// votes are held fixed.
    Divisor {
        /// The party that won the last seat.
        last: PartyId,
        /// Its quotient for that seat.
        last_quotient: Ratio,
        /// The other party with the highest next quotient.
        runner_up: PartyId,
        /// That quotient.
        runner_up_quotient: Ratio,
        /// Votes `runner_up` must gain to beat `last_quotient` outright:
        /// `floor(v_last · d_runner / d_last) − v_runner + 1`.
        runner_up_needs: u64,
        /// Votes `last` must lose to fall below `runner_up_quotient` (then the seat moves):
        /// `v_last − ceil(v_runner · d_last / d_runner) + 1`.
        last_can_lose: u64,
    },
    /// Largest remainder methods. The smallest remainder that won a seat and the largest that
    /// did not, in votes, with the quota held fixed.
    Remainder {
        /// The party whose remainder won the last seat.
        last: PartyId,
        /// Its remainder, in votes.
        last_remainder: Ratio,
        /// The party with the largest remainder that won no remainder seat.
        runner_up: PartyId,
        /// Its remainder, in votes.
        runner_up_remainder: Ratio,
        /// `last_remainder − runner_up_remainder` (zero when a lot decided).
        gap: Ratio,
        /// `floor(gap) + 1`: votes `runner_up` would need with the quota held fixed. (A gain
        /// also raises the Hare quota, so the true figure can differ slightly.)
        runner_up_needs_quota_fixed: u128,
    },
}

/// The result of [`allocate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    method: Method,
    house_size: u32,
    threshold_base: u64,
    seats: BTreeMap<PartyId, u32>,
    standings: BTreeMap<PartyId, Standing>,
    ties: Vec<TieBreak>,
    quota: Option<Ratio>,
    threshold_margins: Vec<ThresholdMargin>,
    seat_margin: Option<SeatMargin>,
}

impl Allocation {
    /// The method used.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The house size asked for.
    pub fn house_size(&self) -> u32 {
        self.house_size
    }

    /// The national threshold base used.
    pub fn threshold_base(&self) -> u64 {
        self.threshold_base
    }

    /// Seats per party, every party of the input (0 for none), sorted by id.
    pub fn seats(&self) -> &BTreeMap<PartyId, u32> {
        &self.seats
    }

    /// The seats of one party (0 if unknown).
    pub fn seats_of(&self, party: &PartyId) -> u32 {
        self.seats.get(party).copied().unwrap_or(0)
    }

    /// The seats given: the house size when any party qualified, else 0.
    pub fn seats_awarded(&self) -> u32 {
        self.seats.values().sum()
    }

    /// The qualified parties, sorted by id; empty when none passed (then no seats are given).
    pub fn qualified(&self) -> Vec<&PartyId> {
        self.standings.iter().filter(|(_, s)| s.qualified()).map(|(p, _)| p).collect()
    }

    /// Where each party stands against the thresholds.
    pub fn standings(&self) -> &BTreeMap<PartyId, Standing> {
        &self.standings
    }

    /// Every lot drawn, in the order drawn.
    pub fn ties(&self) -> &[TieBreak] {
        &self.ties
    }

    /// The quota (largest remainder methods, when any party qualified).
    pub fn quota(&self) -> Option<Ratio> {
        self.quota
    }

    /// Each party's distance from the national threshold, sorted by party id.
    pub fn threshold_margins(&self) -> &[ThresholdMargin] {
        &self.threshold_margins
    }

    /// How close the last seat was.
    pub fn seat_margin(&self) -> Option<&SeatMargin> {
        self.seat_margin.as_ref()
    }
}

/// Allocates `config.seats` among the parties of `votes` that pass the thresholds.
///
/// "Against all" must not be in `votes` (the type refuses it); count it in `threshold_base`.
/// When no party qualifies (or nobody voted) every party gets 0 seats and `qualified()` is
/// empty: that is an outcome, not an error.
pub fn allocate(
    votes: &PartyVotes,
    config: &AllocationConfig,
) -> Result<Allocation, AllocationError> {
    let base = check_inputs(votes, config)?;
    let standings: BTreeMap<PartyId, Standing> = votes
        .iter()
        .map(|(party, n_votes)| {
            let standing =
                Standing::assess(party, n_votes, config.threshold, base, config.regional.as_ref());
            (party.clone(), standing)
        })
        .collect();
    let threshold_margins = votes
        .iter()
        .map(|(party, n_votes)| ThresholdMargin::compute(party, n_votes, config.threshold, base))
        .collect();
    let qualified: Vec<(&PartyId, u64)> =
        votes.iter().filter(|(p, _)| standings[*p].qualified()).collect();
    let mut seats: BTreeMap<PartyId, u32> = votes.iter().map(|(p, _)| (p.clone(), 0)).collect();
    let mut allocation = Allocation {
        method: config.method,
        house_size: config.seats.get(),
        threshold_base: base,
        seats: BTreeMap::new(),
        standings,
        ties: Vec::new(),
        quota: None,
        threshold_margins,
        seat_margin: None,
    };
    if !qualified.is_empty() {
        let contenders: Vec<Contender<'_>> =
            qualified.iter().map(|(p, v)| Contender { id: p.as_str(), votes: *v }).collect();
        let result = apportion(config.method, config.seats.get(), &contenders, &config.seed);
        for (i, (party, _)) in qualified.iter().enumerate() {
            seats.insert((*party).clone(), result.seats[i]);
        }
        allocation.seat_margin = seat_margin(&qualified, &result);
        allocation.quota = result.quota;
        allocation.ties = result.ties;
    }
    allocation.seats = seats;
    Ok(allocation)
}

/// Validates what the types alone cannot, and returns the national base.
fn check_inputs(votes: &PartyVotes, config: &AllocationConfig) -> Result<u64, AllocationError> {
    if votes.is_empty() {
        return Err(AllocationError::NoParties);
    }
    let base = config.threshold_base.unwrap_or(votes.total());
    if base > MAX_VOTES {
        return Err(AllocationError::BaseTooLarge(base));
    }
    if base < votes.total() {
        return Err(AllocationError::BaseBelowVotes { base, total: votes.total() });
    }
    let Some(regional) = &config.regional else { return Ok(base) };
    let mut seen = BTreeSet::new();
    for region in &regional.regions {
        if !seen.insert(region.id()) {
            return Err(AllocationError::DuplicateRegion(region.id().clone()));
        }
        if let Some((party, _)) = region.votes().iter().find(|(p, _)| !votes.contains(p)) {
            return Err(AllocationError::UnknownPartyInRegion {
                region: region.id().clone(),
                party: party.clone(),
            });
        }
    }
    Ok(base)
}

fn seat_margin(qualified: &[(&PartyId, u64)], result: &Apportionment) -> Option<SeatMargin> {
    match result.boundary.as_ref()? {
        Boundary::Divisor { last: (l, d_last), runner_up } => {
            let (r, d_runner) = (*runner_up)?;
            let (v_last, v_runner) = (u128::from(qualified[*l].1), u128::from(qualified[r].1));
            let (d_last, d_runner) = (u128::from(*d_last), u128::from(d_runner));
            let runner_up_needs = v_last * d_runner / d_last + 1 - v_runner;
            let last_can_lose = v_last + 1 - (v_runner * d_last).div_ceil(d_runner);
            Some(SeatMargin::Divisor {
                last: qualified[*l].0.clone(),
                last_quotient: Ratio::new(v_last, d_last),
                runner_up: qualified[r].0.clone(),
                runner_up_quotient: Ratio::new(v_runner, d_runner),
                runner_up_needs: u64::try_from(runner_up_needs).unwrap_or(u64::MAX),
                last_can_lose: u64::try_from(last_can_lose).unwrap_or(u64::MAX),
            })
        }
        Boundary::Remainder { last, runner_up } => {
            let ((l, rem_last), (r, rem_runner)) = ((*last)?, (*runner_up)?);
            let gap = Ratio::new(rem_last - rem_runner, result.quota_den);
            Some(SeatMargin::Remainder {
                last: qualified[l].0.clone(),
                last_remainder: Ratio::new(rem_last, result.quota_den),
                runner_up: qualified[r].0.clone(),
                runner_up_remainder: Ratio::new(rem_runner, result.quota_den),
                gap,
                runner_up_needs_quota_fixed: gap.floor() + 1,
            })
        }
    }
}
