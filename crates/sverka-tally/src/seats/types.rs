//! The validated value types every allocation works on: identifiers, the house size, and a
//! party → votes table whose totals are known to fit the exact arithmetic.
//!
//! Bounds: every vote count, and every sum of them, is at most [`MAX_VOTES`] (2^53 − 1, the
//! largest integer a JSON reader using doubles still reads exactly); the house size is at most
//! [`MAX_SEATS`]. With these bounds every product the allocation forms fits in `u128`.

use std::collections::BTreeMap;
use std::fmt;

/// The largest vote count (and sum of vote counts) accepted: 2^53 − 1.
pub const MAX_VOTES: u64 = (1 << 53) - 1;

/// The largest house size accepted: 2^16 − 1.
pub const MAX_SEATS: u32 = u16::MAX as u32;

/// The longest identifier accepted, in bytes.
pub const MAX_ID_BYTES: usize = 200;

/// Party ids that mean "against all": that line counts among those who took part (so in a
/// threshold base) but never wins a seat, so it may not appear in a [`PartyVotes`] table.
pub const AGAINST_ALL_IDS: [&str; 2] = ["against_all", "against-all"];

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The empty string names nothing.
    #[error("{kind} id is empty")]
    Empty {
        /// Which kind of id ("party", "candidate", ...).
        kind: &'static str,
    },
    /// Longer than [`MAX_ID_BYTES`].
    #[error("{kind} id is longer than {MAX_ID_BYTES} bytes")]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
    },
    /// Control characters (including NUL, the separator in lot hashing) are not allowed.
    #[error("{kind} id {id:?} contains a control character")]
    ControlCharacter {
        /// Which kind of id.
        kind: &'static str,
        /// The rejected id.
        id: String,
    },
}

pub(crate) fn validate_id(kind: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if id.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong { kind });
    }
    if id.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { kind, id: id.to_owned() });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        ///
        /// Non-empty, at most [`MAX_ID_BYTES`] bytes, no control characters. Ordered bytewise,
        /// which is the order of every sorted list in a result.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier.
            pub fn new(id: &str) -> Result<Self, IdError> {
                validate_id($kind, id)?;
                Ok(Self(id.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A party (list) identifier, as the election definition spells it.
    PartyId,
    "party"
);
id_type!(
    /// A candidate identifier (open lists, single-member districts).
    CandidateId,
    "candidate"
);
id_type!(
    /// A region identifier (regional thresholds).
    RegionId,
    "region"
);
id_type!(
    /// A single-member district identifier.
    DistrictId,
    "district"
);

/// The number of seats to fill: 1 ..= [`MAX_SEATS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeatCount(u32);

/// A house size out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seats must be a whole number from 1 to {MAX_SEATS}, got {0}")]
pub struct SeatCountError(pub u64);

impl SeatCount {
    /// Validates a house size.
    pub fn new(seats: u64) -> Result<Self, SeatCountError> {
        match u32::try_from(seats) {
            Ok(s) if (1..=MAX_SEATS).contains(&s) => Ok(Self(s)),
            _ => Err(SeatCountError(seats)),
        }
    }

    /// The number of seats.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Why a vote table was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VotesError {
    /// The same party twice.
    #[error("party {0} is listed twice")]
    DuplicateParty(PartyId),
    /// One count over [`MAX_VOTES`].
    #[error("votes for {party} ({votes}) exceed the maximum of {MAX_VOTES}")]
    TooManyVotes {
        /// The party.
        party: PartyId,
        /// Its count.
        votes: u64,
    },
    /// The sum over [`MAX_VOTES`].
    #[error("the total of all votes exceeds the maximum of {MAX_VOTES}")]
    TotalTooLarge,
    /// "Against all" listed as a party.
    #[error("{0} cannot win seats: leave it out of the votes and count it in the threshold base")]
    AgainstAll(PartyId),
}

/// Votes per party (against all excluded), every party distinct, totals bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartyVotes {
    votes: BTreeMap<PartyId, u64>,
    total: u64,
}

impl PartyVotes {
    /// Builds the table; the order of `entries` does not matter.
    pub fn new(entries: impl IntoIterator<Item = (PartyId, u64)>) -> Result<Self, VotesError> {
        let mut votes = BTreeMap::new();
        let mut total: u64 = 0;
        for (party, n_votes) in entries {
            if AGAINST_ALL_IDS.contains(&party.as_str()) {
                return Err(VotesError::AgainstAll(party));
            }
            if n_votes > MAX_VOTES {
                return Err(VotesError::TooManyVotes { party, votes: n_votes });
            }
            total = total
                .checked_add(n_votes)
                .filter(|t| *t <= MAX_VOTES)
                .ok_or(VotesError::TotalTooLarge)?;
            if votes.contains_key(&party) {
                return Err(VotesError::DuplicateParty(party));
            }
            votes.insert(party, n_votes);
        }
        Ok(Self { votes, total })
    }

    /// Parties and their votes, sorted by party id.
    pub fn iter(&self) -> impl Iterator<Item = (&PartyId, u64)> + '_ {
        self.votes.iter().map(|(p, v)| (p, *v))
    }

    /// The votes of one party, if listed.
    pub fn get(&self, party: &PartyId) -> Option<u64> {
        self.votes.get(party).copied()
    }

    /// Whether the party is listed.
    pub fn contains(&self, party: &PartyId) -> bool {
        self.votes.contains_key(party)
    }

    /// The sum of all votes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The number of parties.
    pub fn len(&self) -> usize {
        self.votes.len()
    }

    /// Whether no party is listed.
    pub fn is_empty(&self) -> bool {
        self.votes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str) -> PartyId {
        PartyId::new(id).unwrap()
    }

    #[test]
    fn ids_reject_empty_long_and_control() {
        assert_eq!(PartyId::new(""), Err(IdError::Empty { kind: "party" }));
        assert!(matches!(PartyId::new(&"x".repeat(201)), Err(IdError::TooLong { .. })));
        assert!(matches!(PartyId::new("a\0b"), Err(IdError::ControlCharacter { .. })));
        assert_eq!(PartyId::new("ата-журт").unwrap().as_str(), "ата-журт");
    }

    #[test]
    fn seat_count_bounds() {
        assert!(SeatCount::new(0).is_err());
        assert_eq!(SeatCount::new(1).unwrap().get(), 1);
        assert_eq!(SeatCount::new(65535).unwrap().get(), 65535);
        assert_eq!(
            SeatCount::new(65536).unwrap_err().to_string(),
            "seats must be a whole number from 1 to 65535, got 65536"
        );
    }

    #[test]
    fn party_votes_rejects_duplicates_overflow_and_against_all() {
        assert_eq!(
            PartyVotes::new([(p("a"), 1), (p("a"), 2)]),
            Err(VotesError::DuplicateParty(p("a")))
        );
        assert!(matches!(
            PartyVotes::new([(p("a"), MAX_VOTES + 1)]),
            Err(VotesError::TooManyVotes { .. })
        ));
        assert_eq!(
            PartyVotes::new([(p("a"), MAX_VOTES), (p("b"), 1)]),
            Err(VotesError::TotalTooLarge)
        );
        assert_eq!(
            PartyVotes::new([(p("against_all"), 1)]),
            Err(VotesError::AgainstAll(p("against_all")))
        );
        let t = PartyVotes::new([(p("b"), 2), (p("a"), 3)]).unwrap();
        assert_eq!(t.total(), 5);
        assert_eq!(t.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
