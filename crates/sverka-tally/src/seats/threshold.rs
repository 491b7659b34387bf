//! Thresholds: who may take part in the allocation, and by how many votes each party clears
//! or misses the national threshold.
//!
//! A party qualifies when it has at least one vote, and
//! - nationally: `votes >= threshold × base`, tested as `votes × den >= num × base`
//!   (equality qualifies); the base is the number of voters who took part when the caller
//!   gives it (Kyrgyz law No. 68 of 2 July 2011 as amended 26 August 2021: shares of those
//!   who took part, so "against all" and invalid ballots are in the base), else the sum of
//!   the votes;
//! - regionally, when configured: the same test against each listed region's own base, in
//!   every listed region (Kyrgyz 2021: 0.5 % in each unit; which units is unconfirmed, so the
//!   caller lists them).
//!
//! A list with no votes never qualifies: there is nothing to be proportional to, and it keeps
//! "no votes at all" an outcome (nobody qualifies) instead of a division by zero.

use super::fraction::Fraction;
use super::types::{PartyId, PartyVotes, RegionId};

/// One region of a regional threshold: its base (voters who took part there) and its votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    id: RegionId,
    base: u64,
    votes: PartyVotes,
}

/// A region whose votes exceed its base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("region {region}: its votes ({total}) exceed its threshold base ({base})")]
pub struct RegionError {
    /// The region.
    pub region: RegionId,
    /// Its base.
    pub base: u64,
    /// The sum of its votes.
    pub total: u64,
}

impl Region {
    /// A region with its base; a party missing from `votes` has 0 votes there.
    pub fn new(id: RegionId, base: u64, votes: PartyVotes) -> Result<Self, RegionError> {
        if votes.total() > base {
            return Err(RegionError { region: id, base, total: votes.total() });
        }
        Ok(Self { id, base, votes })
    }

    /// The region id.
    pub fn id(&self) -> &RegionId {
        &self.id
    }

    /// The region's threshold base.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The votes cast in the region, per party.
    pub fn votes(&self) -> &PartyVotes {
        &self.votes
    }

    /// Whether `party` reaches `share` of this region's base.
    pub fn passes(&self, party: &PartyId, share: Fraction) -> bool {
        let n_votes = self.votes.get(party).unwrap_or(0);
        share.reached_by(u128::from(n_votes), u128::from(self.base))
    }
}

/// A threshold every party must pass in each of the listed regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionalThreshold {
    /// The share of each region's base a party needs there.
    pub share: Fraction,
    /// The regions where it applies (distinct ids).
    pub regions: Vec<Region>,
}

/// Where a party stands against the thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    has_votes: bool,
    passes_national: bool,
    failed_regions: Vec<RegionId>,
}

impl Standing {
    pub(crate) fn assess(
        party: &PartyId,
        n_votes: u64,
        national: Fraction,
        base: u64,
        regional: Option<&RegionalThreshold>,
    ) -> Self {
        let failed_regions = regional
            .map(|r| {
                r.regions
                    .iter()
                    .filter(|reg| !reg.passes(party, r.share))
                    .map(|reg| reg.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            has_votes: n_votes > 0,
            passes_national: national.reached_by(u128::from(n_votes), u128::from(base)),
            failed_regions,
        }
    }

    /// Whether the party takes part in the allocation.
    pub fn qualified(&self) -> bool {
        self.has_votes && self.passes_national && self.failed_regions.is_empty()
    }

    /// Whether it has at least one vote.
    pub fn has_votes(&self) -> bool {
        self.has_votes
    }

    /// Whether it reaches the national threshold (equality passes).
    pub fn passes_national(&self) -> bool {
        self.passes_national
    }

    /// The regions where it misses the regional threshold (sorted).
    pub fn failed_regions(&self) -> &[RegionId] {
        &self.failed_regions
    }
}

/// How far a party is from flipping its national qualification, in votes.
///
/// Signed: a positive flip is the fewest votes the party must **gain** to pass, a negative flip
/// is the fewest it must **lose** to fail. Two versions:
/// - `flip_fixed_base`: the base is held fixed (votes move between parties, or from invalid
///   ballots, without changing how many took part);
/// - `flip_base_moves`: every vote gained or lost also adds to or removes from the base (voters
///   who turn out for, or stay home instead of voting for, this party). When the base is the
///   sum of the votes, this is the natural reading.
///
/// Qualification also needs at least one vote, so a loss never needs more than all its votes.
/// Regional thresholds are not part of this margin; see [`Standing::failed_regions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdMargin {
    party: PartyId,
    votes: u64,
    passes_national: bool,
    min_votes_fixed_base: u128,
    flip_fixed_base: i128,
    flip_base_moves: i128,
}

impl ThresholdMargin {
    pub(crate) fn compute(party: &PartyId, n_votes: u64, share: Fraction, base: u64) -> Self {
        let v = u128::from(n_votes);
        let base = u128::from(base);
        let min_votes = share.min_part(base).max(1);
        let passes = v >= min_votes;
        let flip_fixed_base =
            if passes { -to_i128(v - min_votes + 1) } else { to_i128(min_votes - v) };
        Self {
            party: party.clone(),
            votes: n_votes,
            passes_national: passes,
            min_votes_fixed_base: min_votes,
            flip_fixed_base,
            flip_base_moves: flip_with_moving_base(v, share, base, passes),
        }
    }

    /// The party.
    pub fn party(&self) -> &PartyId {
        &self.party
    }

    /// Its votes.
    pub fn votes(&self) -> u64 {
        self.votes
    }

    /// Whether it reaches the national threshold with at least one vote.
    pub fn passes_national(&self) -> bool {
        self.passes_national
    }

    /// The fewest votes that pass with the base fixed: `max(1, ceil(threshold × base))`.
    pub fn min_votes_fixed_base(&self) -> u128 {
        self.min_votes_fixed_base
    }

    /// Votes to gain (positive) or lose (negative) to flip, base fixed.
    pub fn flip_fixed_base(&self) -> i128 {
        self.flip_fixed_base
    }

    /// Votes to gain (positive) or lose (negative) to flip, when the base moves with them.
    pub fn flip_base_moves(&self) -> i128 {
        self.flip_base_moves
    }
}

/// With `x` votes added to both the party and the base, it passes iff
/// `(v + x) den >= num (base + x)`, i.e. `x (den − num) >= num·base − v·den` (`den > num`).
fn flip_with_moving_base(v: u128, share: Fraction, base: u128, passes: bool) -> i128 {
    let (num, den) = (u128::from(share.numerator()), u128::from(share.denominator()));
    let step = den - num;
    if passes {
        // Losing x: fails iff x (den − num) > v·den − num·base, or nothing is left (x = v).
        let slack = v * den - num * base;
        let x = (slack / step + 1).min(v);
        -to_i128(x)
    } else {
        let deficit = (num * base).saturating_sub(v * den);
        let x = deficit.div_ceil(step).max(1);
        to_i128(x)
    }
}

fn to_i128(x: u128) -> i128 {
    // Vote counts are below 2^53 and thresholds below 1, so every margin fits.
    i128::try_from(x).unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn margin(v: u64, share: &str, base: u64) -> ThresholdMargin {
        ThresholdMargin::compute(&PartyId::new("p").unwrap(), v, share.parse().unwrap(), base)
    }

    #[test]
    fn margins_at_five_percent_of_1000() {
        // 5 % of 1000 is exactly 50: 50 passes (equality), 49 does not.
        let at = margin(50, "0.05", 1000);
        assert!(at.passes_national());
        assert_eq!(at.flip_fixed_base(), -1);
        let below = margin(49, "0.05", 1000);
        assert_eq!(below.flip_fixed_base(), 1);
        // Base moves: 49 + x >= (1000 + x)/20 ⇔ 19x >= 20 ⇔ x >= 2 (51 of 1001: 5.09 %; 50 of 1001 fails).
        assert_eq!(below.flip_base_moves(), 2);
        // 60 of 1000: fixed base it can lose 10 and still pass; loses 11 to fail.
        let above = margin(60, "0.05", 1000);
        assert_eq!(above.flip_fixed_base(), -11);
        // Base moves: (60 − x)·20 < 1000 − x ⇔ 19x > 200 ⇔ x >= 11 (49 of 989 = 4.95 %).
        assert_eq!(above.flip_base_moves(), -11);
        assert_eq!(above.min_votes_fixed_base(), 50);
    }

    #[test]
    fn zero_threshold_needs_one_vote() {
        let zero = margin(0, "0", 10);
        assert!(!zero.passes_national());
        assert_eq!(zero.flip_fixed_base(), 1);
        assert_eq!(zero.flip_base_moves(), 1);
        let one = margin(3, "0", 10);
        assert_eq!(one.flip_fixed_base(), -3);
        assert_eq!(one.flip_base_moves(), -3);
    }

    #[test]
    fn kyrgyz_2021_margins() {
        // 5 % of 1,281,622 took part = 64,081.1 → 64,082 votes needed.
        let yiman_nuru = margin(79_025, "0.05", 1_281_622);
        assert_eq!(yiman_nuru.min_votes_fixed_base(), 64_082);
        assert_eq!(yiman_nuru.flip_fixed_base(), -(79_025 - 64_082 + 1));
    }
}
