//! Single-member districts: plurality, with "against all".
//!
//! Kyrgyz law No. 68 of 2 July 2011 as amended 26 August 2021 (`data/kyrgyzstan-2021.md`): the
//! candidate with the most votes wins; if "against all" gets **more** votes than the leading
//! candidate the election in the district fails and is re-run (2021: Sverdlovsky and
//! Pervomaisky in Bishkek). Equal to the leader does not fail. A tie for first place is
//! decided by lot (context `district <id>`), reported. A district where nobody voted for any
//! candidate fails too: a lot among candidates with no votes would elect someone nobody chose.

use std::collections::BTreeSet;

use super::lot::{select_best, LotSeed, TieBreak};
use super::types::{CandidateId, DistrictId, MAX_VOTES};

/// The votes of one district: per candidate, and against all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictVotes {
    candidates: Vec<(CandidateId, u64)>,
    against_all: u64,
}

/// Why a district's votes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistrictError {
    /// The same candidate twice.
    #[error("candidate {0} is listed twice")]
    DuplicateCandidate(CandidateId),
    /// A count over [`MAX_VOTES`].
    #[error("a vote count exceeds the maximum of {MAX_VOTES}")]
    TooManyVotes,
}

impl DistrictVotes {
    /// Validates the votes; candidate order does not matter.
    pub fn new(
        candidates: Vec<(CandidateId, u64)>,
        against_all: u64,
    ) -> Result<Self, DistrictError> {
        let mut seen = BTreeSet::new();
        for (id, n_votes) in &candidates {
            if !seen.insert(id) {
                return Err(DistrictError::DuplicateCandidate(id.clone()));
            }
            if *n_votes > MAX_VOTES {
                return Err(DistrictError::TooManyVotes);
            }
        }
        if against_all > MAX_VOTES {
            return Err(DistrictError::TooManyVotes);
        }
        Ok(Self { candidates, against_all })
    }

    /// Candidates and their votes, as given.
    pub fn candidates(&self) -> &[(CandidateId, u64)] {
        &self.candidates
    }

    /// Votes against all.
    pub fn against_all(&self) -> u64 {
        self.against_all
    }
}

/// Why a district election failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// "Against all" got more votes than the leading candidate.
    AgainstAllAhead,
    /// No candidate got a vote.
    NoVotes,
}

/// The outcome of a district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistrictOutcome {
    /// A candidate won.
    Elected {
        /// The winner.
        winner: CandidateId,
        /// Their votes.
        votes: u64,
        /// Votes over the runner-up (0 when a lot decided; `votes` when alone).
        lead: u64,
        /// Votes over "against all": against all fails the district with `lead_over_against_all + 1` more.
        lead_over_against_all: u64,
        /// The lot, when the first place was tied.
        tie: Option<TieBreak>,
    },
    /// The election failed and is re-run.
    Failed {
        /// Why.
        reason: FailureReason,
        /// The leading candidate's votes (0 if none).
        leader_votes: u64,
        /// Votes against all.
        against_all: u64,
    },
}

/// Decides `district` by plurality; lots are drawn from `seed`.
pub fn decide_district(
    district: &DistrictId,
    votes: &DistrictVotes,
    seed: &LotSeed,
) -> DistrictOutcome {
    let leader_votes = votes.candidates.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let against_all = votes.against_all;
    if leader_votes == 0 {
        return DistrictOutcome::Failed {
            reason: FailureReason::NoVotes,
            leader_votes,
            against_all,
        };
    }
    if against_all > leader_votes {
        return DistrictOutcome::Failed {
            reason: FailureReason::AgainstAllAhead,
            leader_votes,
            against_all,
        };
    }
    let context = format!("district {district}");
    let (chosen, tie) =
        select_best(&votes.candidates, 1, |a, b| b.1.cmp(&a.1), |c| c.0.as_str(), seed, &context);
    let (winner, n_votes) = votes.candidates[chosen[0]].clone();
    let runner_up = votes
        .candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen[0])
        .map(|(_, c)| c.1)
        .max()
        .unwrap_or(0);
    DistrictOutcome::Elected {
        winner,
        votes: n_votes,
        lead: n_votes - runner_up,
        lead_over_against_all: n_votes - against_all,
        tie,
    }
}
