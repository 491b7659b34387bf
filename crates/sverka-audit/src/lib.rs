//! sverka-audit: the mathematics of risk-limiting audits (issue 7), pure and deterministic.
//!
//! Code map:
//! - [`assertion`]: ballot kinds, linear assertions and their assorters (weight vectors over ballot kinds,
//!   so assorter means and margins are dot products), after SHANGRLA (Stark 2020) and Blom et al.
//!   (E-Vote-ID 2021).
//! - [`contest`]: the full assertion set for a reported outcome: list contests (threshold, Hamilton,
//!   D'Hondt, Sainte-Laguë) and single-member plurality districts with "against all" as a candidate.
//! - [`alpha`]: the ALPHA supermartingale test (Stark 2023) with its estimators, and Kaplan–Markov.
//! - [`comparison`]: overstatement assorters for ballot-level and batch-level (polling stations as
//!   batches, sampled with probability proportional to size = error bound) comparison audits.
//! - [`sample_size`]: sample sizes before an audit starts, for a risk limit and assumed error rates.
//! - [`escalation`]: the stopping and escalation rule, ending in a full hand count.
//! - [`sampler`]: the normative seeded SHA-256 sampler (cryptorandom's `SHA256`, as SHANGRLA uses it).
//! - [`workflow`]: the audit workflow from its log entries: manifest and its hash, the sample checked
//!   against the seed, each assertion's risk after the hand counts, and the decision.
//! - [`verify`]: an observer's check of every audit in a log: manifests, draws from the seeds, and
//!   the risks and decisions the `risk` steps state, recomputed; the first mismatch named.
//! - [`forensics`]: election forensics (issue 11): fingerprints, round numbers, digits, source
//!   deviations and a per-station anomaly list; flags for human review, never proof.
//!
//! What this crate deliberately does not do: no I/O, no clock, no HTTP. The audit's log entries are
//! `sverka_model::audit`'s; [`workflow`] reads them and the tally, and the CLI and the site show what
//! it computes. Statistics use `f64`; who gets a seat is never decided here.

pub mod alpha;
pub mod assertion;
pub mod comparison;
pub mod contest;
pub mod escalation;
pub mod forensics;
pub mod sample_size;
pub mod sampler;
pub mod verify;
pub mod workflow;

pub use alpha::{AlphaTest, Estimator, TestError};
pub use assertion::{Assertion, AssertionError, AssertionKind, Assorter, BallotKind, KindCounts};
pub use contest::{
    list_contest_assertions, plurality_assertions, ContestError, ListContest, SeatMethod,
};
pub use escalation::{Decision, RiskLimit, RiskLimitError};
pub use sampler::Sha256Prng;
