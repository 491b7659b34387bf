//! sverka's data model: the election definition and its validation, protocol forms and their
//! control relations, the signed submission and its canonical bytes, and the entry types of the log.
//!
//! Pure: no I/O, no async. Files are read by the caller and handed in as text or bytes.

pub mod audit;
pub mod batch;
pub mod canonical;
pub mod election;
pub mod form;
pub mod hashing;
pub mod keys;
pub mod names;
pub mod protocol_view;
pub mod registry;
pub mod sigcheck;
pub mod simulate;
pub mod submission;
pub mod validate;

pub use election::{Contest, ContestKind, Election, Station, AGAINST_ALL};
pub use names::{CorrectionReason, Names, Role, Source};
pub use submission::{Body, Payload, Protocol, Submission};
