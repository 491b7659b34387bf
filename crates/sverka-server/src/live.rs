//! The live results: a background task that, after each checkpoint, folds the entries it covers
//! into a [`Tally`], computes the results and the snapshot once, and publishes them as one
//! [`Published`] value that every request reads from memory.
//!
//! The fold is incremental (each entry is applied once); results are recomputed only when the
//! signed checkpoint grows, and at most once per `Config::checkpoint_interval`, so a burst of
//! submissions costs one recomputation, not one per submission. Snapshots of earlier checkpoints
//! (`/snapshot/<N>.json`) are kept for the most recent ones and recomputed from the log on demand
//! for older ones: `snapshot(N) = tabulate(entries[0..N])`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use sverka_model::Election;
use sverka_store::{SignedCheckpoint, Store, StoreError};
use sverka_tally::replay::{Replay, ReplayError};
use sverka_tally::tabulate::{Results, ResultsConfig};

use crate::problem::Problem;
use crate::AppState;

/// Entries read from the store per call while catching up.
const READ_CHUNK: u64 = 4096;
/// Rendered pages kept per published result.
const MAX_CACHED_PAGES: usize = 50_000;

/// One rendered page and its ETag.
#[derive(Clone)]
pub struct CachedPage {
    pub html: Bytes,
    pub etag: String,
}

/// Everything computed from one checkpoint.
pub struct Published {
    /// The checkpoint the results were computed from (`None` only before the first fold).
    pub checkpoint: Option<SignedCheckpoint>,
    /// The snapshot JSON served by `/api/v1/results`.
    pub snapshot: Bytes,
    /// Its entity tag (quoted).
    pub etag: String,
    /// The tally's results, every station included, for the pages.
    pub results: Option<Arc<Results>>,
    /// Pages rendered from these results, by path, language and view.
    pages: Mutex<HashMap<String, CachedPage>>,
}

impl Published {
    /// Before the first fold: no checkpoint, no results.
    pub fn empty(_election: &Election) -> Published {
        Published::new(None, Bytes::from_static(b"{}"), None)
    }

    fn new(
        checkpoint: Option<SignedCheckpoint>,
        snapshot: Bytes,
        results: Option<Arc<Results>>,
    ) -> Published {
        let etag = etag_of(checkpoint.as_ref().map_or(0, |c| c.size), &snapshot);
        Published { checkpoint, snapshot, etag, results, pages: Mutex::new(HashMap::new()) }
    }

    /// The size of the checkpoint (0 before the first fold).
    pub fn size(&self) -> u64 {
        self.checkpoint.as_ref().map_or(0, |c| c.size)
    }

    /// The root hash of the checkpoint, hex (empty before the first fold).
    pub fn root_hex(&self) -> String {
        self.checkpoint.as_ref().map_or_else(String::new, |c| c.root.to_hex())
    }

    /// The page cached under `key`, if rendered already.
    pub fn page(&self, key: &str) -> Option<CachedPage> {
        lock(&self.pages).get(key).cloned()
    }

    /// Caches a rendered page and returns it with its ETag.
    pub fn store_page(&self, key: String, html: String) -> CachedPage {
        let html = Bytes::from(html);
        let page = CachedPage { etag: etag_of(self.size(), &html), html };
        let mut pages = lock(&self.pages);
        if pages.len() < MAX_CACHED_PAGES {
            pages.insert(key, page.clone());
        }
        page
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A strong entity tag naming the checkpoint size and the content.
pub fn etag_of(size: u64, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{size}-{}\"", hex::encode(&digest[..12]))
}

/// The tally folded from the log so far (through `sverka_tally::replay`, the one function from log
/// entries to a snapshot that `sverka publish` and `sverka verify` use too).
pub struct Follower {
    /// `None` until entry 0 (the election definition) has been read.
    replay: Option<Replay>,
}

impl Follower {
    pub fn new() -> Follower {
        Follower { replay: None }
    }

    /// Entries folded so far.
    fn applied(&self) -> u64 {
        self.replay.as_ref().map_or(0, Replay::size)
    }
}

impl Default for Follower {
    fn default() -> Follower {
        Follower::new()
    }
}

/// Why the live results could not be brought up to a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Folds entries up to `size` into the replay.
fn fold_to(store: &Store, follower: &mut Follower, size: u64) -> Result<(), FollowError> {
    while follower.applied() < size {
        let start = follower.applied();
        let end = size.min(start + READ_CHUNK);
        let entries = store.entries(start..end)?;
        for (offset, bytes) in entries.iter().enumerate() {
            let index = start + offset as u64;
            match follower.replay.as_mut() {
                None => {
                    let sha256 = Replay::definition_sha256(bytes)?;
                    let definition = store.blob(&sha256)?.ok_or(ReplayError::DefinitionMismatch)?;
                    follower.replay = Some(Replay::start(bytes, &definition)?);
                }
                Some(replay) => replay.apply(index, bytes)?,
            }
        }
    }
    Ok(())
}

/// The snapshot bytes of what `follower` has folded, naming `checkpoint`.
fn snapshot_of(follower: &Follower, checkpoint: &SignedCheckpoint) -> Result<Vec<u8>, FollowError> {
    let replay = follower.replay.as_ref().ok_or(ReplayError::NoElection)?;
    Ok(replay.snapshot(*checkpoint.root.as_bytes())?)
}

/// Asks for a checkpoint of everything sequenced, and if it is newer than what is published,
/// folds up to it and publishes new results. Blocking: call on the blocking pool.
fn refresh_blocking(
    state: &AppState,
    follower: &mut Follower,
) -> Result<Option<Arc<Published>>, FollowError> {
    let store = state.store();
    let checkpoint = store.checkpoint_now()?;
    let current = state.published();
    if current.checkpoint.as_ref() == Some(&checkpoint) {
        return Ok(None);
    }
    fold_to(store, follower, checkpoint.size)?;
    let snapshot = Bytes::from(snapshot_of(follower, &checkpoint)?);
    let replay = follower.replay.as_ref().ok_or(ReplayError::NoElection)?;
    let config = ResultsConfig { stations: true, ..ResultsConfig::default() };
    let results = replay.tally().results_with(replay.election(), &config);
    remember_snapshot(state, checkpoint.size, snapshot.clone());
    Ok(Some(Arc::new(Published::new(Some(checkpoint), snapshot, Some(Arc::new(results))))))
}

/// Brings the published results up to the latest checkpoint.
pub async fn refresh(state: &AppState, follower: Follower) -> Follower {
    let task_state = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut follower = follower;
        let result = refresh_blocking(&task_state, &mut follower);
        (follower, result)
    })
    .await;
    match outcome {
        Ok((follower, Ok(Some(published)))) => {
            state.publish(published);
            follower
        }
        Ok((follower, Ok(None))) => follower,
        Ok((follower, Err(error))) => {
            eprintln!("sverka-server: results not refreshed: {error}");
            follower
        }
        Err(panic) => {
            eprintln!("sverka-server: the results task panicked: {panic}; starting the fold over");
            Follower::new()
        }
    }
}

/// The live task: refreshes after new entries (at most once per checkpoint interval, and every few
/// seconds regardless) until the server shuts down.
pub async fn follow(state: AppState, mut follower: Follower) {
    let mut shutdown = state.shutting_down();
    let interval = state.config().checkpoint_interval;
    loop {
        tokio::select! {
            _ = state.new_entries() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        // Let a burst of submissions gather into one checkpoint.
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        follower = refresh(&state, follower).await;
    }
}

fn remember_snapshot(state: &AppState, size: u64, snapshot: Bytes) {
    let etag = etag_of(size, &snapshot);
    let mut snapshots = lock(&state.inner.snapshots);
    snapshots.insert(size, (snapshot, etag));
    while snapshots.len() > state.config().snapshots_in_memory.max(1) {
        snapshots.pop_first();
    }
}

/// The snapshot of checkpoint `size` and its ETag, if the log signed a checkpoint of that size.
pub async fn snapshot_at(state: &AppState, size: u64) -> Result<Option<(Bytes, String)>, Problem> {
    if let Some(found) = lock(&state.inner.snapshots).get(&size) {
        return Ok(Some(found.clone()));
    }
    let task_state = state.clone();
    let computed = tokio::task::spawn_blocking(move || -> Result<Option<Bytes>, FollowError> {
        let store = task_state.store();
        let history = store.checkpoint_history()?;
        let Some(checkpoint) = history.into_iter().find(|c| c.size == size) else {
            return Ok(None);
        };
        let mut follower = Follower::new();
        fold_to(store, &mut follower, size)?;
        Ok(Some(Bytes::from(snapshot_of(&follower, &checkpoint)?)))
    })
    .await;
    match computed {
        Ok(Ok(Some(bytes))) => {
            let etag = etag_of(size, &bytes);
            let mut snapshots = lock(&state.inner.snapshots);
            if snapshots.len() < state.config().snapshots_in_memory.max(1) * 2 {
                snapshots.insert(size, (bytes.clone(), etag.clone()));
            }
            Ok(Some((bytes, etag)))
        }
        Ok(Ok(None)) => Ok(None),
        Ok(Err(error)) => {
            eprintln!("sverka-server: snapshot {size}: {error}");
            Err(Problem::internal())
        }
        Err(_) => Err(Problem::internal()),
    }
}

/// Snapshots kept in memory, by checkpoint size.
pub(crate) type SnapshotCache = Mutex<BTreeMap<u64, (Bytes, String)>>;
