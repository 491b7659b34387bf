//! Seat allocation in exact arithmetic: pure, deterministic, no I/O, no floating point.
//!
//! Code map:
//! - [`types`]: validated ids, [`SeatCount`], the [`PartyVotes`] table and the bounds
//!   ([`MAX_VOTES`] = 2^53 − 1, [`MAX_SEATS`] = 65 535) that keep every product in `u128`;
//! - [`fraction`]: [`Fraction`], a share read exactly from its decimal text, and [`Ratio`];
//! - [`threshold`]: national and regional thresholds ([`RegionalThreshold`]), each party's
//!   [`Standing`] and [`ThresholdMargin`];
//! - [`methods`]: Hare and Droop largest remainder, D'Hondt and Sainte-Laguë ([`Method`]);
//! - [`lot`]: drawing of lots from a public [`LotSeed`], reported as [`TieBreak`]s;
//! - [`allocate`](mod@allocate): [`allocate()`] = thresholds → method → margins ([`Allocation`]);
//! - [`candidates`]: a party's seats to its candidates ([`assign_candidates`], women rule);
//! - [`district`]: single-member districts ([`decide_district`], "against all");
//! - [`json`]: the `sverka allocate` contract ([`allocate_json`]).
//!
//! **Invariant:** nothing here reads a clock, a file, a random source or a float; the same
//! input gives the same output byte for byte, whatever order parties are listed in.

pub mod allocate;
pub mod candidates;
pub mod district;
pub mod fraction;
pub mod json;
pub mod lot;
pub mod methods;
pub mod threshold;
pub mod types;

pub use allocate::{allocate, Allocation, AllocationConfig, AllocationError, SeatMargin};
pub use candidates::{
    assign_candidates, Candidate, CandidateError, Elected, ElectedBy, ListAssignment, Rounding,
    WomenRule,
};
pub use district::{decide_district, DistrictError, DistrictOutcome, DistrictVotes, FailureReason};
pub use fraction::{Fraction, FractionError, Ratio};
pub use json::{allocate_json, AllocateError};
pub use lot::{LotSeed, SeedError, Ticket, TieBreak};
pub use methods::{Method, MethodError};
pub use threshold::{Region, RegionError, RegionalThreshold, Standing, ThresholdMargin};
pub use types::{
    CandidateId, DistrictId, IdError, PartyId, PartyVotes, RegionId, SeatCount, SeatCountError,
    VotesError, MAX_SEATS, MAX_VOTES,
};
