//! sverka-tally: from accepted protocols to results: tabulation, seat allocation in exact
//! arithmetic, thresholds, assignment of a list's seats to its candidates, margins, and
//! reconciliation between sources.
//!
//! Pure: no I/O, no async, and no floating point in anything that decides who gets a seat.
//!
//! - [`seats`]: seat allocation (Hare, Droop, D'Hondt, Sainte-Laguë), national and regional
//!   thresholds, drawing of lots from a public seed, open-list candidate assignment with the
//!   women rule, single-member districts, margins, and the `sverka allocate` JSON contract.
//! - [`tabulate`]: the fold from log entries to [`tabulate::Results`]: which protocol counts,
//!   official and preliminary views, totals per level, seats, outcomes and their sensitivity.
//! - [`reconcile`]: every source against every other per station, and whether the
//!   discrepancies could change an outcome (`sverka-reconciliation/v1`).
//! - [`snapshot`]: the results as `sverka-snapshot/v1` canonical JSON, naming their checkpoint.
//! - [`changes`]: what changed between two checkpoints (`sverka-changes/v1`).

pub mod changes;
pub mod export;
pub mod reconcile;
pub mod replay;
pub mod seats;
pub mod snapshot;
pub mod tabulate;
