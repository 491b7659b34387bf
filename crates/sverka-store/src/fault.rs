//! Failure injection at every write step, for crash-consistency tests (STYLE.md rule 15, after
//! redb's failing backend and azul's fault-injecting test storage).
//!
//! A [`FaultPlan`] names [`FaultPoint`]s, which occurrence of each to hit, and what to do there:
//! return an error ([`FaultAction::Fail`], the store rolls back and reloads its state, as after a
//! disk error) or end the process on the spot ([`FaultAction::Abort`], as a power cut; tests run it
//! in a child process). The default plan injects nothing and costs one atomic load per step.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::StoreError;

/// A write step of the sequencer or of publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// A batch is admitted; nothing is written yet.
    BeforeInsert,
    /// Entries and quarantine rows are inserted; tiles are not.
    AfterInsert,
    /// Tiles are written; the transaction is not committed.
    AfterTiles,
    /// The batch is committed; waiters are not answered and no checkpoint is signed.
    AfterCommit,
    /// A checkpoint is signed in memory; the compare-and-swap record is not updated.
    AfterSign,
    /// Publication wrote some tiles; the checkpoint file is not replaced.
    DuringPublish,
    /// The sequencer reloads its state from the database after an error (not in [`Self::ALL`]:
    /// it is reached only after another failure).
    Reload,
}

impl FaultPoint {
    pub const ALL: [FaultPoint; 6] = [
        FaultPoint::BeforeInsert,
        FaultPoint::AfterInsert,
        FaultPoint::AfterTiles,
        FaultPoint::AfterCommit,
        FaultPoint::AfterSign,
        FaultPoint::DuringPublish,
    ];
}

/// What happens at the fault point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Return [`StoreError::Injected`] from that step.
    Fail,
    /// `std::process::abort()`: no destructor, no rollback, no flush.
    Abort,
}

/// Where and when to inject failures. Cloning shares the occurrence counters.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Each target with how many times its point has been reached.
    targets: Vec<(FaultPoint, FaultAction, u64, Arc<AtomicU64>)>,
}

impl FaultPlan {
    /// No injected failures.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// Hit `point` on its `occurrence`-th arrival (1 = the first) with `action`; earlier and later
    /// arrivals pass.
    pub fn at(point: FaultPoint, occurrence: u64, action: FaultAction) -> FaultPlan {
        FaultPlan::none().and(point, occurrence, action)
    }

    /// This plan, and also `point` on its `occurrence`-th arrival.
    pub fn and(mut self, point: FaultPoint, occurrence: u64, action: FaultAction) -> FaultPlan {
        self.targets.push((point, action, occurrence, Arc::default()));
        self
    }

    /// Called by the store at each write step.
    pub(crate) fn check(&self, point: FaultPoint) -> Result<(), StoreError> {
        let mut hit = None;
        for (target, action, occurrence, reached) in &self.targets {
            // Every target of this point counts the arrival, hit or not.
            if *target == point && reached.fetch_add(1, Ordering::SeqCst) + 1 == *occurrence {
                hit = hit.or(Some(*action));
            }
        }
        match hit {
            None => Ok(()),
            Some(FaultAction::Fail) => Err(StoreError::Injected(point)),
            Some(FaultAction::Abort) => std::process::abort(),
        }
    }
}
