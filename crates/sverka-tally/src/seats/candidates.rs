//! Open lists: which of a party's candidates take the seats the party won.
//!
//! Kyrgyz rule (law No. 68 of 2 July 2011 as amended 26 August 2021; see
//! `data/kyrgyzstan-2021.md`): candidates are ranked by their preference votes; at least 30 %
//! of a party's seats go first to its women candidates with the most votes, the rest to the
//! remaining candidates (women and men) with the most votes.
//!
//! How "at least 30 %" rounds is not settled by the sources at hand, so it is configurable
//! ([`WomenRule`]): [`Rounding::Up`] (the default, [`WomenRule::KYRGYZ_2021`]) is the only
//! reading under which the women's share is never below 30 % (4 seats → 2 women, 1.2 rounded
//! up); [`Rounding::Down`] gives 1. With fewer women candidates than reserved seats, every
//! woman is elected and the other reserved seats go by votes.
//!
//! Ranking: more votes first; equal votes by list position (lower first; candidates without a
//! position after those with one); still equal (same votes, no positions) by lot, reported.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::fraction::Fraction;
use super::lot::{select_best, LotSeed, TieBreak};
use super::types::{CandidateId, PartyId, MAX_SEATS, MAX_VOTES};

/// Rounding of a share of seats to whole seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Up (ceiling): 30 % of 4 seats is 2.
    Up,
    /// Down (floor): 30 % of 4 seats is 1.
    Down,
}

/// The women rule: `share` of a party's seats, rounded by `rounding`, go first to women.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WomenRule {
    /// The share of the party's seats reserved.
    pub share: Fraction,
    /// How the reserved seats are rounded.
    pub rounding: Rounding,
}

impl WomenRule {
    /// 30 %, rounded up (the rounding is unconfirmed; see the module doc).
    pub const KYRGYZ_2021: WomenRule =
        WomenRule { share: Fraction::THREE_TENTHS, rounding: Rounding::Up };

    /// The number of seats reserved for women out of `seats`.
    pub fn reserved(self, seats: u32) -> u32 {
        let n = u128::from(seats);
        let reserved = match self.rounding {
            Rounding::Up => self.share.of_ceil(n),
            Rounding::Down => self.share.of_floor(n),
        };
        u32::try_from(reserved).unwrap_or(seats)
    }
}

/// One candidate of an open list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    id: CandidateId,
    position: Option<u32>,
    woman: bool,
    votes: u64,
}

impl Candidate {
    /// A candidate with their list position (if the list is ordered), whether the women rule
    /// counts them, and their preference votes.
    pub fn new(id: CandidateId, position: Option<u32>, woman: bool, votes: u64) -> Self {
        Self { id, position, woman, votes }
    }

    /// The candidate id.
    pub fn id(&self) -> &CandidateId {
        &self.id
    }

    /// The list position, if any.
    pub fn position(&self) -> Option<u32> {
        self.position
    }

    /// Whether the women rule counts this candidate.
    pub fn woman(&self) -> bool {
        self.woman
    }

    /// Preference votes.
    pub fn votes(&self) -> u64 {
        self.votes
    }
}

/// Why a list could not be assigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    /// The same candidate twice.
    #[error("candidate {0} is listed twice")]
    DuplicateCandidate(CandidateId),
    /// Two candidates at one list position.
    #[error("list position {0} is given to two candidates")]
    DuplicatePosition(u32),
    /// Votes over [`MAX_VOTES`].
    #[error("votes for candidate {0} exceed the maximum of {MAX_VOTES}")]
    TooManyVotes(CandidateId),
    /// More seats than any house.
    #[error("a party cannot win more than {MAX_SEATS} seats, got {0}")]
    TooManySeats(u32),
}

/// Why a candidate was elected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElectedBy {
    /// A seat reserved for women.
    WomenRule,
    /// The candidate's votes among the remaining candidates.
    Votes,
}

/// One elected candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elected {
    candidate: CandidateId,
    votes: u64,
    by: ElectedBy,
}

impl Elected {
    /// The candidate.
    pub fn candidate(&self) -> &CandidateId {
        &self.candidate
    }

    /// Their votes.
    pub fn votes(&self) -> u64 {
        self.votes
    }

    /// Why they were elected.
    pub fn by(&self) -> ElectedBy {
        self.by
    }
}

/// A party's seats given to its candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAssignment {
    party: PartyId,
    seats: u32,
    reserved_for_women: u32,
    elected: Vec<Elected>,
    ties: Vec<TieBreak>,
}

impl ListAssignment {
    /// The party.
    pub fn party(&self) -> &PartyId {
        &self.party
    }

    /// The seats the party won.
    pub fn seats(&self) -> u32 {
        self.seats
    }

    /// Seats reserved for women by the rule (0 when off).
    pub fn reserved_for_women(&self) -> u32 {
        self.reserved_for_women
    }

    /// The elected, women-rule seats first, each phase in rank order.
    pub fn elected(&self) -> &[Elected] {
        &self.elected
    }

    /// Seats left empty because the list ran out of candidates.
    pub fn unfilled(&self) -> u32 {
        self.seats - self.elected.len() as u32
    }

    /// Every lot drawn.
    pub fn ties(&self) -> &[TieBreak] {
        &self.ties
    }
}

/// Gives `seats` of `party` to its `candidates` by preference votes, with the women rule when
/// `women_rule` is set; lots are drawn from `seed` in the contexts `candidates <party> women`
/// and `candidates <party> votes`.
pub fn assign_candidates(
    party: &PartyId,
    seats: u32,
    candidates: &[Candidate],
    women_rule: Option<WomenRule>,
    seed: &LotSeed,
) -> Result<ListAssignment, CandidateError> {
    check_list(seats, candidates)?;
    let reserved = women_rule.map_or(0, |rule| rule.reserved(seats));
    let women: Vec<&Candidate> = candidates.iter().filter(|c| c.woman).collect();
    let mut ties = Vec::new();
    let mut elected = Vec::new();
    let women_context = format!("candidates {party} women");
    let (chosen, lot) =
        select_best(&women, reserved as usize, rank, |c| c.id.as_str(), seed, &women_context);
    ties.extend(lot);
    elected.extend(chosen.iter().map(|&i| Elected {
        candidate: women[i].id.clone(),
        votes: women[i].votes,
        by: ElectedBy::WomenRule,
    }));
    let taken: BTreeSet<&CandidateId> = elected.iter().map(|e| &e.candidate).collect();
    let rest: Vec<&Candidate> = candidates.iter().filter(|c| !taken.contains(&c.id)).collect();
    let open = seats as usize - elected.len();
    let votes_context = format!("candidates {party} votes");
    let (chosen, lot) = select_best(&rest, open, rank, |c| c.id.as_str(), seed, &votes_context);
    ties.extend(lot);
    elected.extend(chosen.iter().map(|&i| Elected {
        candidate: rest[i].id.clone(),
        votes: rest[i].votes,
        by: ElectedBy::Votes,
    }));
    Ok(ListAssignment { party: party.clone(), seats, reserved_for_women: reserved, elected, ties })
}

/// More votes first, then lower list position, then those with a position.
fn rank(a: &&Candidate, b: &&Candidate) -> Ordering {
    b.votes.cmp(&a.votes).then_with(|| match (a.position, b.position) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    })
}

fn check_list(seats: u32, candidates: &[Candidate]) -> Result<(), CandidateError> {
    if seats > MAX_SEATS {
        return Err(CandidateError::TooManySeats(seats));
    }
    let mut ids = BTreeSet::new();
    let mut positions = BTreeSet::new();
    for c in candidates {
        if !ids.insert(&c.id) {
            return Err(CandidateError::DuplicateCandidate(c.id.clone()));
        }
        if let Some(pos) = c.position {
            if !positions.insert(pos) {
                return Err(CandidateError::DuplicatePosition(pos));
            }
        }
        if c.votes > MAX_VOTES {
            return Err(CandidateError::TooManyVotes(c.id.clone()));
        }
    }
    Ok(())
}
