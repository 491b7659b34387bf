//! Snapshots from the stored log: `snapshot(N) = tabulate(entries[0..N])`, computed by
//! `sverka_tally::replay` — the same function the server's live results and `sverka verify` use, so
//! a published snapshot is exactly what any observer recomputes.
//!
//! [`replay_to`] reads the entries' rows on a thread of its own (`sverka-replay-read`: SQLite's
//! page reads, a tenth of a replay's time) and hands them over as raw bytes, a thousand
//! entries in one buffer, to the threads that parse and fold them: on a machine with two cores
//! or more the fold is split by station (`Replay::split`), the reader sending each entry to the
//! part of the station it names (`sverka_tally::tabulate::entry_part`, read off the bytes), one
//! part folded on the calling thread and the other on `sverka-replay-fold`, then joined
//! (`Replay::join`); on one core the calling thread folds every entry. Only bytes cross
//! between the cores, in buffers that go back to the reader to be filled again: parsed entries,
//! trees of small allocations written on one core and freed on the other, were measured as a
//! loss in session 12 (BENCHMARKS.md). (A part's records, made on its thread, are moved into the
//! tally whole, not freed.)

use std::ops::Range;
use std::sync::mpsc;

use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::Submission;
use sverka_tally::replay::{Replay, ReplayError, ReplayPart, ReplayPartDone};
use sverka_tally::tabulate::entry_part;

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

/// How [`replay_to_with`] folds the entries in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// On the calling thread, one entry after another.
    One,
    /// Split by station over two threads (`Replay::split`): the calling one and
    /// `sverka-replay-fold`.
    Split,
}

/// Replays the first `size` entries of the stored log: [`replay_to_with`], the fold split by
/// station over two threads when the machine has two cores or more.
pub fn replay_to(store: &Store, size: u64) -> Result<Replay, SnapshotError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    replay_to_with(store, size, if cores > 1 { Fold::Split } else { Fold::One })
}

/// Replays the first `size` entries of the stored log, folding them in as `fold` says (the
/// snapshots are the same either way).
///
/// The replay starts from the store's own definition (read when the store was opened and checked
/// against entry 0 there), shared, not parsed a second time. A second thread reads the entries
/// [`READ_CHUNK`] at a time and hands them over [`HAND_OVER`] at a time as [`Batch`]es; the
/// folding thread (or, split, each of the two, the entries of its stations:
/// `sverka_tally::tabulate::entry_part` of each entry's bytes, decided by the reader) parses each
/// entry from the batch's bytes and folds it in, in log order, while the next batch is read.
pub fn replay_to_with(store: &Store, size: u64, fold: Fold) -> Result<Replay, SnapshotError> {
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
    match fold {
        Fold::One => fold_on_one_thread(store, size, &mut replay)?,
        Fold::Split => {
            let parts = replay.split().expect("a fresh replay with its sums deferred splits");
            let parts = fold_split(store, size, parts)?;
            replay.join(parts)?;
        }
    }
    if replay.size() != size {
        return Err(StoreError::Corrupt(format!("entries 1..{size} are not all stored")).into());
    }
    replay.settle_sums();
    Ok(replay)
}

fn fold_on_one_thread(store: &Store, size: u64, replay: &mut Replay) -> Result<(), SnapshotError> {
    std::thread::scope(|scope| {
        // Batches read and not yet folded (two: the reader stays one batch ahead of the fold
        // with one waiting), and the folded ones going back to be filled again.
        let (read_tx, read_rx) = mpsc::sync_channel::<Result<Batch, StoreError>>(2);
        let (done_tx, done_rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("sverka-replay-read".into())
            .spawn_scoped(scope, move || read_batches(store, 1..size, &[read_tx], &done_rx))
            .map_err(|e| StoreError::io(store.dir(), e))?;
        // Leaving this loop early (a failed fold) drops `read_rx`: the reader stops at its
        // next batch.
        for batch in read_rx {
            let batch = batch?;
            fold_batch(&batch, replay)?;
            // The reader may have finished: then the buffer is dropped here.
            let _ = done_tx.send(batch);
        }
        Ok(())
    })
}

/// Reads entries `1..size` and folds them into `parts` (two: this thread folds the first's, a
/// thread of its own the second's); what they folded, for `Replay::join`.
fn fold_split(
    store: &Store,
    size: u64,
    parts: Vec<ReplayPart<'_>>,
) -> Result<Vec<ReplayPartDone>, SnapshotError> {
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<Batch>();
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in &parts {
            let (read_tx, read_rx) = mpsc::sync_channel::<Result<Batch, StoreError>>(2);
            senders.push(read_tx);
            receivers.push(read_rx);
        }
        std::thread::Builder::new()
            .name("sverka-replay-read".into())
            .spawn_scoped(scope, move || read_batches(store, 1..size, &senders, &done_rx))
            .map_err(|e| StoreError::io(store.dir(), e))?;
        let mut others = Vec::new();
        let mut parts = parts.into_iter().zip(receivers);
        let (first, first_rx) = parts.next().expect("a split has parts");
        for (part, read_rx) in parts {
            let done_tx = done_tx.clone();
            let folding = std::thread::Builder::new()
                .name("sverka-replay-fold".into())
                .spawn_scoped(scope, move || fold_part(part, read_rx, &done_tx))
                .map_err(|e| StoreError::io(store.dir(), e))?;
            others.push(folding);
        }
        // A part that fails drops its receiver: the reader stops at its next batch for it, and
        // the other parts' batches end with it.
        let first = fold_part(first, first_rx, &done_tx);
        let mut done = vec![first?];
        for folding in others {
            let part = folding.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            done.push(part?);
        }
        Ok(done)
    })
}

/// Folds the batches of `read` into `part`, handing each back on `done`.
fn fold_part(
    mut part: ReplayPart<'_>,
    read: mpsc::Receiver<Result<Batch, StoreError>>,
    done: &mpsc::Sender<Batch>,
) -> Result<ReplayPartDone, SnapshotError> {
    for batch in read {
        let batch = batch?;
        for (index, bytes) in batch.entries() {
            part.apply_stored(index, bytes).map_err(|e| not_folded(index, &e))?;
        }
        let _ = done.send(batch);
    }
    Ok(part.finish())
}

/// The error of a stored entry that does not fold.
fn not_folded(index: u64, error: &ReplayError) -> StoreError {
    match error {
        ReplayError::Unreadable { error, .. } => {
            StoreError::Corrupt(format!("log entry {index} does not parse: {error}"))
        }
        _ => StoreError::Corrupt(format!("log entry {index} does not fold")),
    }
}

/// Entries' bytes, read by [`read_batches`] and folded by [`fold_batch`] or [`fold_part`]: entry
/// `indices[i]` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Default)]
struct Batch {
    indices: Vec<u64>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn entries(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.indices
            .iter()
            .zip(starts.zip(&self.ends))
            .map(|(&index, (from, &to))| (index, &self.bytes[from..to]))
    }
}

/// Reads entries `range` [`READ_CHUNK`] at a time and sends them in batches of [`HAND_OVER`]
/// entries, in order, on `read`: all on `read[0]` if there is one, else each on
/// `read[entry_part(bytes)]`; reuses the batches that come back on `done`. Stops after sending
/// an error (on `read[0]`), or when a folding side hangs up.
fn read_batches(
    store: &Store,
    range: Range<u64>,
    read: &[mpsc::SyncSender<Result<Batch, StoreError>>],
    done: &mpsc::Receiver<Batch>,
) {
    let empty = || {
        let mut batch = done.try_recv().unwrap_or_default();
        batch.indices.clear();
        batch.bytes.clear();
        batch.ends.clear();
        batch
    };
    let mut batches: Vec<Batch> = read.iter().map(|_| empty()).collect();
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + READ_CHUNK);
        let mut index = start;
        // Whether a folding side hung up: the read then stops.
        let mut gone = false;
        let rows = store.with_reader(|conn| {
            conn.for_each_blob(
                "SELECT bytes FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                &[start.into(), end.into()],
                |bytes| {
                    let part = match read.len() {
                        1 => 0,
                        _ => entry_part(bytes),
                    };
                    let batch = &mut batches[part];
                    batch.indices.push(index);
                    batch.bytes.extend_from_slice(bytes);
                    batch.ends.push(batch.bytes.len());
                    index += 1;
                    if batch.ends.len() == HAND_OVER {
                        let full = std::mem::replace(batch, empty());
                        gone = read[part].send(Ok(full)).is_err();
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
            // To the first folding side (the calling thread's), which returns it; the others'
            // batches end when this returns.
            let _ = read[0].send(Err(e));
            return;
        }
        start = end;
    }
    for (batch, read) in batches.into_iter().zip(read) {
        if !batch.ends.is_empty() {
            let _ = read.send(Ok(batch));
        }
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

/// The [`SnapshotSource`] that `sverka publish` uses: a full replay up to the checkpoint, folded
/// on one thread ([`Fold::One`]): while it runs, `sverka-publish-log` and `sverka-publish-log-2`
/// write the tiles and bundles, so a split fold only competes with them for the second core (at
/// a million stations it cost 5-8 s of CPU more for no shorter publish: BENCHMARKS.md,
/// "Session 17 (H2)").
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaySnapshots;

impl SnapshotSource for ReplaySnapshots {
    fn snapshot(&self, store: &Store, checkpoint: &SignedCheckpoint) -> Result<Vec<u8>, String> {
        let replay =
            replay_to_with(store, checkpoint.size, Fold::One).map_err(|e| e.to_string())?;
        replay.snapshot(*checkpoint.root.as_bytes()).map_err(|e| e.to_string())
    }

    fn write_snapshot(
        &self,
        store: &Store,
        checkpoint: &SignedCheckpoint,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), String> {
        let replay =
            replay_to_with(store, checkpoint.size, Fold::One).map_err(|e| e.to_string())?;
        replay.write_snapshot(*checkpoint.root.as_bytes(), sink).map_err(|e| e.to_string())?;
        Ok(())
    }
}
