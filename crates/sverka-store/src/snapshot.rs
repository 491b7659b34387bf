//! Snapshots from the stored log: `snapshot(N) = tabulate(entries[0..N])`, computed by
//! `sverka_tally::replay` — the same function the server's live results and `sverka verify` use, so
//! a published snapshot is exactly what any observer recomputes.

use sverka_model::submission::Submission;
use sverka_tally::replay::{Replay, ReplayError};

use crate::error::StoreError;
use crate::publish::SnapshotSource;
use crate::store::{SignedCheckpoint, Store};

/// Entries read from the database per round trip while replaying.
const READ_CHUNK: u64 = 4096;

/// Why the stored log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Replays the first `size` entries of the stored log.
///
/// The replay starts from the store's own definition (read when the store was opened and checked
/// against entry 0 there), shared, not parsed a second time.
pub fn replay_to(store: &Store, size: u64) -> Result<Replay, SnapshotError> {
    if size == 0 {
        return Err(ReplayError::NoElection.into());
    }
    let mut replay = Replay::from_election(store.election().clone());
    let mut start = 1;
    while start < size {
        let end = size.min(start + READ_CHUNK);
        for (offset, bytes) in store.entries(start..end)?.iter().enumerate() {
            let index = start + offset as u64;
            // Every stored entry was decoded strictly (canonical bytes, signature under its
            // registered key) when it was admitted, and its bytes are under the signed tree: one
            // parse is enough here, not Submission::decode's second, canonical encoding. (`sverka
            // verify` replays the published entries with the full check.)
            let submission: Submission = serde_json::from_slice(bytes).map_err(|e| {
                StoreError::Corrupt(format!("log entry {index} does not parse: {e}"))
            })?;
            replay.apply_decoded(index, &submission)?;
        }
        start = end;
    }
    Ok(replay)
}

/// The [`SnapshotSource`] that `sverka publish` uses: a full replay up to the checkpoint.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaySnapshots;

impl SnapshotSource for ReplaySnapshots {
    fn snapshot(&self, store: &Store, checkpoint: &SignedCheckpoint) -> Result<Vec<u8>, String> {
        let replay = replay_to(store, checkpoint.size).map_err(|e| e.to_string())?;
        replay.snapshot(*checkpoint.root.as_bytes()).map_err(|e| e.to_string())
    }

    fn write_snapshot(
        &self,
        store: &Store,
        checkpoint: &SignedCheckpoint,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), String> {
        let replay = replay_to(store, checkpoint.size).map_err(|e| e.to_string())?;
        replay.write_snapshot(*checkpoint.root.as_bytes(), sink).map_err(|e| e.to_string())?;
        Ok(())
    }
}
