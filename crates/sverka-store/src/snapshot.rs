//! Snapshots from the stored log: `snapshot(N) = tabulate(entries[0..N])`, computed by
//! `sverka_tally::replay` — the same function the server's live results and `sverka verify` use, so
//! a published snapshot is exactly what any observer recomputes.
//!
//! [`replay_to`] reads the entries' rows on a thread of its own (`sverka-replay-read`: SQLite's
//! page reads, a tenth of a replay's time) and hands them over as raw bytes, a thousand
//! entries in one buffer, to the calling thread, which parses and folds them. Only bytes cross
//! between the cores, in buffers that go back to the reader to be filled again: parsed entries,
//! trees of small allocations written on one core and freed on the other, were measured as a
//! loss in session 12 (BENCHMARKS.md).

use std::ops::Range;
use std::sync::mpsc;

use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::Submission;
use sverka_tally::replay::{Replay, ReplayError};

use crate::db;
use crate::error::StoreError;
use crate::publish::SnapshotSource;
use crate::store::{SignedCheckpoint, Store};

/// Entries read from the database per query while replaying.
const READ_CHUNK: u64 = 4096;

/// Entries handed from the reading thread to the folding one at a time: some 1.2 MB of a
/// million stations' protocols, a few such buffers in flight.
const HAND_OVER: usize = 1024;

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
/// against entry 0 there), shared, not parsed a second time. A second thread reads the entries
/// [`READ_CHUNK`] at a time and hands them over [`HAND_OVER`] at a time as [`Batch`]es; this one
/// parses each entry from the batch's bytes and folds it in, in log order, while the next batch
/// is read.
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
    std::thread::scope(|scope| {
        // Batches read and not yet folded (two: the reader stays one batch ahead of the fold
        // with one waiting), and the folded ones going back to be filled again.
        let (read_tx, read_rx) = mpsc::sync_channel::<Result<Batch, StoreError>>(2);
        let (done_tx, done_rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("sverka-replay-read".into())
            .spawn_scoped(scope, move || read_batches(store, 1..size, &read_tx, &done_rx))
            .map_err(|e| StoreError::io(store.dir(), e))?;
        // Leaving this loop early (a failed fold) drops `read_rx`: the reader stops at its
        // next batch.
        for batch in read_rx {
            let batch = batch?;
            fold_batch(&batch, &mut replay)?;
            // The reader may have finished: then the buffer is dropped here.
            let _ = done_tx.send(batch);
        }
        Ok::<(), SnapshotError>(())
    })?;
    if replay.size() != size {
        return Err(StoreError::Corrupt(format!("entries 1..{size} are not all stored")).into());
    }
    replay.settle_sums();
    Ok(replay)
}

/// Consecutive entries' bytes, read by [`read_batches`] and folded by [`fold_batch`]: entry
/// `start + i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Default)]
struct Batch {
    start: u64,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn entries(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (self.start..)
            .zip(starts.zip(&self.ends))
            .map(|(index, (from, &to))| (index, &self.bytes[from..to]))
    }
}

/// Reads entries `range` [`READ_CHUNK`] at a time and sends them on `read` in batches of
/// [`HAND_OVER`] entries, in order, reusing the batches that come back on `done`; stops after
/// sending an error, or when the folding side hangs up.
fn read_batches(
    store: &Store,
    range: Range<u64>,
    read: &mpsc::SyncSender<Result<Batch, StoreError>>,
    done: &mpsc::Receiver<Batch>,
) {
    let empty = |start: u64| {
        let mut batch = done.try_recv().unwrap_or_default();
        batch.start = start;
        batch.bytes.clear();
        batch.ends.clear();
        batch
    };
    let mut batch = empty(range.start);
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + READ_CHUNK);
        let mut index = start;
        // Whether the folding side hung up: the read then stops.
        let mut gone = false;
        let rows = store.with_reader(|conn| {
            conn.for_each_blob(
                "SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                &[start.into(), end.into()],
                |bytes| {
                    batch.bytes.extend_from_slice(bytes);
                    batch.ends.push(batch.bytes.len());
                    index += 1;
                    if batch.ends.len() == HAND_OVER {
                        let full = std::mem::replace(&mut batch, empty(index));
                        gone = read.send(Ok(full)).is_err();
                    }
                    match gone {
                        true => Err(StoreError::Stopped("the replay stopped".into())),
                        false => Ok(()),
                    }
                },
            )
        });
        let read_all = match rows {
            _ if gone => return,
            Ok(rows) if rows == end - start => Ok(()),
            Ok(_) => {
                Err(StoreError::Corrupt(format!("entries {:?} are not all stored", start..end)))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = read_all {
            let _ = read.send(Err(e));
            return;
        }
        start = end;
    }
    if !batch.ends.is_empty() {
        let _ = read.send(Ok(batch));
    }
}

/// Folds each entry of `batch` into `replay`, in order.
fn fold_batch(batch: &Batch, replay: &mut Replay) -> Result<(), SnapshotError> {
    for (index, bytes) in batch.entries() {
        // Every stored entry was decoded strictly (canonical bytes, signature under its
        // registered key) when it was admitted, and its bytes are under the signed tree: one
        // parse is enough here, not Submission::decode's second, canonical encoding.
        // (`sverka verify` replays the published entries with the full check.)
        // A protocol in the plain canonical form (nearly every entry) is read in place,
        // without the typed parse's strings and maps; anything else is parsed typed.
        let folded = match ProtocolView::parse(bytes) {
            Some(protocol) => replay.apply_view(index, &protocol),
            None => {
                let submission: Submission = serde_json::from_slice(bytes).map_err(|e| {
                    StoreError::Corrupt(format!("log entry {index} does not parse: {e}"))
                })?;
                replay.apply_decoded(index, &submission)
            }
        };
        if folded.is_err() {
            return Err(StoreError::Corrupt(format!("log entry {index} does not fold")).into());
        }
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
