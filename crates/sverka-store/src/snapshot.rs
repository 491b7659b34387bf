//! Snapshots from the stored log: `snapshot(N) = tabulate(entries[0..N])`, computed by
//! `sverka_tally::replay` — the same function the server's live results and `sverka verify` use, so
//! a published snapshot is exactly what any observer recomputes.
//!
//! [`replay_to`] parses each entry straight from the database's row and folds it in at once, so
//! the entry being folded is still in the processor's caches. (Parsing on a second thread while
//! this one folds was measured and not kept: handing the parsed entries between cores cost more
//! CPU than it saved in wall time on a loaded two-core machine; BENCHMARKS.md, session 12.)

use std::ops::Range;

use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::Submission;
use sverka_tally::replay::{Replay, ReplayError};

use crate::db;
use crate::error::StoreError;
use crate::publish::SnapshotSource;
use crate::store::{SignedCheckpoint, Store};

/// Entries read from the database per query while replaying.
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
/// against entry 0 there), shared, not parsed a second time. The entries are read
/// [`READ_CHUNK`] at a time, each parsed from the row's bytes as the database hands them over
/// (not copied out first) and folded in before the next is read.
pub fn replay_to(store: &Store, size: u64) -> Result<Replay, SnapshotError> {
    if size == 0 {
        return Err(ReplayError::NoElection.into());
    }
    let stored = store.with_reader(db::tile_size)?;
    if size > stored {
        return Err(
            StoreError::OutOfRange(format!("entries 1..{size} in a log of {stored}")).into()
        );
    }
    let mut replay = Replay::from_election(store.election().clone());
    // Nothing is asked of the replay until the whole log is in: the units' sums are added up
    // once at the end, not kept up to date entry by entry.
    replay.defer_sums();
    let mut start = 1;
    while start < size {
        let end = size.min(start + READ_CHUNK);
        fold_entries(store, start..end, &mut replay)?;
        start = end;
    }
    replay.settle_sums();
    Ok(replay)
}

/// Reads entries `range` and folds each into `replay`, parsed straight from the database's row.
fn fold_entries(
    store: &Store,
    range: Range<u64>,
    replay: &mut Replay,
) -> Result<(), SnapshotError> {
    let mut index = range.start;
    // The fold's error, when it stopped the read.
    let mut folded = Ok(());
    let rows = store.with_reader(|conn| {
        conn.for_each_blob(
            "SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            &[range.start.into(), range.end.into()],
            |bytes| {
                // Every stored entry was decoded strictly (canonical bytes, signature under its
                // registered key) when it was admitted, and its bytes are under the signed tree:
                // one parse is enough here, not Submission::decode's second, canonical encoding.
                // (`sverka verify` replays the published entries with the full check.)
                // A protocol in the plain canonical form (nearly every entry) is read in place,
                // without the typed parse's strings and maps; anything else is parsed typed.
                folded = match ProtocolView::parse(bytes) {
                    Some(protocol) => replay.apply_view(index, &protocol),
                    None => {
                        let submission: Submission =
                            serde_json::from_slice(bytes).map_err(|e| {
                                StoreError::Corrupt(format!(
                                    "log entry {index} does not parse: {e}"
                                ))
                            })?;
                        replay.apply_decoded(index, &submission)
                    }
                };
                if folded.is_err() {
                    return Err(StoreError::Corrupt(format!("log entry {index} does not fold")));
                }
                index += 1;
                Ok(())
            },
        )
    });
    folded?;
    if rows? != range.end - range.start {
        return Err(StoreError::Corrupt(format!("entries {range:?} are not all stored")).into());
    }
    Ok(())
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
