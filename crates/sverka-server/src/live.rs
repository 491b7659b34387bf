//! The live results: a background task that, after each checkpoint, folds the entries it covers
//! into a [`Tally`], computes the results and the snapshot once, and publishes them as one
//! [`Published`] value that every request reads from memory.
//!
//! The fold is incremental (each entry is applied once); results are recomputed only when the
//! signed checkpoint grows, at most once per `Config::checkpoint_interval` counted from the start
//! of the previous recomputation, and at most half the time (after a recomputation that took `d`
//! the next starts `2d` after its start at the earliest), so a burst of submissions costs one
//! recomputation, not one per submission, and a slow one does not keep a core busy. Within a
//! recomputation only the stations that entries since the last one name are computed again; the
//! other stations' results are cloned ([`Follower`]).
//!
//! The snapshot bytes (`/api/v1/results`, megabytes for a national election) are not written at
//! each checkpoint but when first asked for ([`snapshot_of`]): once per checkpoint however many
//! readers ask, re-encoding only the stations whose results changed since the bytes were last
//! written ([`StationBytes`]); a checkpoint whose snapshot nobody asks for costs none. Snapshots
//! of earlier checkpoints (`/snapshot/<N>.json`) are kept for the most recent ones written and
//! recomputed from the log on demand for the others: `snapshot(N) = tabulate(entries[0..N])`.
//!
//! Entries that came in through the API are not read back from the log: [`submit`] keeps the
//! bytes of those the store appended, which wait in [`Handover`] under their log index until the
//! fold takes them (what `Store::prepare` decoded of them is freed on the request thread as soon
//! as the store has answered). Entries appended any other way (`sverka import`, another node) are
//! read from the log. Either way an entry is folded as `sverka results` folds it
//! (`sverka_store::snapshot`): a protocol in the plain canonical form (nearly every entry) is read
//! in place as a [`ProtocolView`] of its bytes ([`Replay::apply_view`]), without the typed parse's
//! strings and maps; anything else is decoded (`Submission::decode`) and folded with
//! [`Replay::apply_decoded`]. Both give the tally of the decoded entry: an entry is appended only
//! if `Submission::decode` of its bytes succeeds, and whenever a view is given the typed parse of
//! the same bytes holds the same values (`sverka_model::protocol_view`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use sverka_model::protocol_view::ProtocolView;
use sverka_model::{Body, Election, Submission};
use sverka_store::{Incoming, Receipt, SignedCheckpoint, Store, StoreError, SubmitError};
use sverka_tally::changes::Changes;
use sverka_tally::replay::{Replay, ReplayError};
use sverka_tally::snapshot::{write_snapshot_with, Checkpoint, Piece};
use sverka_tally::tabulate::{Results, ResultsConfig};

use crate::problem::Problem;
use crate::AppState;

/// Entries read from the store per call while catching up.
const READ_CHUNK: u64 = 4096;
/// Rendered pages kept per published result.
const MAX_CACHED_PAGES: usize = 50_000;
/// Pages rendered ahead for a new result at most: those readers asked for under the one before.
const MAX_WARMED_PAGES: usize = 512;
/// Submissions' bytes kept for the fold at most (a few seconds of ingest at full speed; past it,
/// entries are read from the log instead, so a stalled fold cannot hold memory without bound).
const MAX_HANDED_OVER: usize = 65_536;

/// One rendered page and its ETag.
#[derive(Clone)]
pub struct CachedPage {
    pub html: Bytes,
    pub etag: String,
}

/// Everything computed from one checkpoint.
pub struct Published {
    /// The checkpoint published before this one and its results: the default "from" of
    /// `/changes` (what changed since the page a reader saw last).
    pub previous: Option<(SignedCheckpoint, Arc<Results>)>,
    /// Changes between checkpoints computed while this result was current, by (from, to).
    changes: Mutex<HashMap<(u64, u64), Arc<Changes>>>,
    /// The snapshot of `results` with every station, as a JSON value: what the per-level read
    /// API cuts its answers from (computed on first use).
    full: OnceLock<Option<serde_json::Value>>,
    /// The checkpoint the results were computed from (`None` only before the first fold).
    pub checkpoint: Option<SignedCheckpoint>,
    /// The snapshot JSON served by `/api/v1/results` and its entity tag (quoted), written on
    /// first use ([`snapshot_of`]).
    snapshot: tokio::sync::OnceCell<(Bytes, String)>,
    /// What the snapshot bytes are written from (`None` before the first fold).
    source: Option<Source>,
    /// The tally's results, every station included, for the pages.
    pub results: Option<Arc<Results>>,
    /// Pages rendered from these results, by path, language and view.
    pages: Mutex<HashMap<String, CachedPage>>,
}

impl Published {
    /// Before the first fold: no checkpoint, no results, and the snapshot `{}`.
    pub fn empty(_election: &Election) -> Published {
        let snapshot = Bytes::from_static(b"{}");
        let etag = etag_of(0, &snapshot);
        Published {
            previous: None,
            changes: Mutex::new(HashMap::new()),
            full: OnceLock::new(),
            checkpoint: None,
            snapshot: tokio::sync::OnceCell::new_with(Some((snapshot, etag))),
            source: None,
            results: None,
            pages: Mutex::new(HashMap::new()),
        }
    }

    fn new(
        checkpoint: SignedCheckpoint,
        source: Source,
        previous: Option<(SignedCheckpoint, Arc<Results>)>,
    ) -> Published {
        Published {
            previous,
            changes: Mutex::new(HashMap::new()),
            full: OnceLock::new(),
            checkpoint: Some(checkpoint),
            snapshot: tokio::sync::OnceCell::new(),
            results: Some(source.results.clone()),
            source: Some(source),
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// Writes the snapshot bytes (`sverka-snapshot/v1`: exactly what `Replay::snapshot` writes
    /// for the checkpoint), encoding again only the stations whose results differ from those of
    /// the bytes `source.cache` holds. Blocking.
    fn write_snapshot(&self) -> Result<Bytes, FollowError> {
        let (Some(checkpoint), Some(source)) = (&self.checkpoint, &self.source) else {
            return Ok(Bytes::from_static(b"{}"));
        };
        let at = Checkpoint { size: checkpoint.size, root: *checkpoint.root.as_bytes() };
        let (results, positions) = (&source.results, &source.positions);
        let counts: Vec<usize> = positions.iter().map(Vec::len).collect();
        let mut cache = lock(&source.cache.inner);
        let mut snapshot = Vec::with_capacity(cache.snapshot_len.max(1 << 16));
        // The stations whose bytes differ from the cached ones (`None`: not known, all).
        let changed = (cache.bytes.as_ref())
            .and_then(|(generation, _)| cache.changed_between(*generation, source.generation));
        let station = |c: usize, j: usize| match &changed {
            Some(changed) if !changed.contains(&positions[c][j]) => None,
            _ => Some(&results.contests[c].stations[j]),
        };
        let newer =
            (cache.bytes.as_ref()).is_none_or(|(generation, _)| *generation <= source.generation);
        if newer {
            // The usual case, the newest result asked for: its station bytes replace the cached
            // ones, the unchanged moved over.
            let mut old = cache.bytes.take().map(|(_, bytes)| bytes).unwrap_or_default();
            let mut fresh: PerStation = counts.iter().map(|&n| Vec::with_capacity(n)).collect();
            write_snapshot_with(results, &at, &counts, &station, &mut |piece| {
                match piece {
                    Piece::Bytes(bytes) => snapshot.extend_from_slice(bytes),
                    Piece::Station { contest, bytes: Some(bytes), .. } => {
                        snapshot.extend_from_slice(bytes);
                        fresh[contest].push(bytes.into());
                    }
                    Piece::Station { contest, station, bytes: None } => {
                        let bytes = std::mem::take(&mut old[contest][station]);
                        snapshot.extend_from_slice(&bytes);
                        fresh[contest].push(bytes);
                    }
                }
                true
            })
            .map_err(ReplayError::from)?;
            cache.bytes = Some((source.generation, fresh));
        } else {
            // An older result asked for after a newer one: its unchanged stations are copied
            // from the newer one's bytes, which stay cached.
            let cached = cache.bytes.as_ref().map(|(_, bytes)| bytes);
            write_snapshot_with(results, &at, &counts, &station, &mut |piece| {
                match piece {
                    Piece::Bytes(bytes) | Piece::Station { bytes: Some(bytes), .. } => {
                        snapshot.extend_from_slice(bytes)
                    }
                    Piece::Station { contest, station, bytes: None } => {
                        let cached = cached.expect("stations are reused only from cached bytes");
                        snapshot.extend_from_slice(&cached[contest][station]);
                    }
                }
                true
            })
            .map_err(ReplayError::from)?;
        }
        cache.snapshot_len = snapshot.len();
        Ok(Bytes::from(snapshot))
    }

    /// The size of the checkpoint (0 before the first fold).
    pub fn size(&self) -> u64 {
        self.checkpoint.as_ref().map_or(0, |c| c.size)
    }

    /// The root hash of the checkpoint, hex (empty before the first fold).
    pub fn root_hex(&self) -> String {
        self.checkpoint.as_ref().map_or_else(String::new, |c| c.root.to_hex())
    }

    /// The snapshot of these results with every station (`sverka-snapshot/v1` as a JSON value),
    /// `None` before the first fold.
    pub fn full_snapshot(&self) -> Option<&serde_json::Value> {
        self.full
            .get_or_init(|| {
                let checkpoint = self.checkpoint.as_ref()?;
                let results = self.results.as_ref()?;
                let at = Checkpoint { size: checkpoint.size, root: *checkpoint.root.as_bytes() };
                Some(sverka_tally::snapshot::snapshot_value(results, &at))
            })
            .as_ref()
    }

    /// The page cached under `key`, if rendered already.
    pub fn page(&self, key: &str) -> Option<CachedPage> {
        lock(&self.pages).get(key).cloned()
    }

    /// The keys of the pages rendered so far (at most `limit`).
    pub fn page_keys(&self, limit: usize) -> Vec<String> {
        lock(&self.pages).keys().take(limit).cloned().collect()
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
    /// The station positions (in the election) by id, filled when entry 0 is read.
    station_index: HashMap<String, u32>,
    /// The stations that entries folded in since `last` name (protocols, annulments): a
    /// station's results depend on the entries naming it only, so every other station's result
    /// is that of `last`.
    touched: HashSet<u32>,
    /// What the last publication computed, reused for the stations no entry since names.
    last: Option<Computed>,
    /// The station bytes of the snapshots written of this follower's results.
    bytes: Arc<StationBytes>,
}

/// The results of one publication with every station.
struct Computed {
    results: Arc<Results>,
    /// `positions[c][j]`: the election position of the `j`-th station contest `c` lists.
    positions: Arc<Vec<Vec<u32>>>,
}

/// What a publication's snapshot bytes are written from.
struct Source {
    results: Arc<Results>,
    positions: Arc<Vec<Vec<u32>>>,
    /// The publication's number in `cache`.
    generation: u64,
    cache: Arc<StationBytes>,
}

/// Publications kept track of in [`StationBytes`]: a snapshot asked for this many publications
/// after (or before) the last one written is encoded in full.
const GENERATIONS_KEPT: usize = 256;

/// The snapshot bytes of each station as last written, shared by the publications of one
/// [`Follower`] (numbered `1, 2, …`), and which stations each publication changed: a station's
/// bytes are the same in two publications unless a publication between them (or the later one)
/// changed it.
#[derive(Default)]
pub(crate) struct StationBytes {
    inner: Mutex<StationBytesInner>,
}

#[derive(Default)]
struct StationBytesInner {
    /// The number of the last publication.
    generation: u64,
    /// `(g, changed)` for recent publications `g`, in order: the stations (election positions)
    /// whose results may differ from publication `g - 1`'s; `None` for all of them (the results
    /// were computed in full).
    changed: VecDeque<(u64, Option<HashSet<u32>>)>,
    /// The publication whose snapshot was written last and `bytes[c][j]`: the `j`-th station of
    /// contest `c` in it.
    bytes: Option<(u64, PerStation)>,
    /// The length of the snapshot written last (to size the next one's buffer).
    snapshot_len: usize,
}

/// `bytes[c][j]`: the snapshot bytes of the `j`-th station contest `c` lists.
type PerStation = Vec<Vec<Box<[u8]>>>;

impl StationBytes {
    /// Numbers a new publication whose results differ from the previous one's in the stations
    /// `changed` only (`None`: in any).
    fn advance(&self, changed: Option<HashSet<u32>>) -> u64 {
        let mut inner = lock(&self.inner);
        inner.generation += 1;
        let generation = inner.generation;
        inner.changed.push_back((generation, changed));
        while inner.changed.len() > GENERATIONS_KEPT {
            inner.changed.pop_front();
        }
        generation
    }
}

impl StationBytesInner {
    /// The stations whose results may differ between publications `a` and `b`; `None` if that
    /// is not known (a full computation between them, or one too long ago).
    fn changed_between(&self, a: u64, b: u64) -> Option<HashSet<u32>> {
        let (first, last) = (a.min(b), a.max(b));
        let oldest = self.changed.front()?.0;
        let mut out = HashSet::new();
        for generation in first + 1..=last {
            let (g, changed) = self.changed.get(generation.checked_sub(oldest)? as usize)?;
            debug_assert_eq!(*g, generation);
            out.extend(changed.as_ref()?);
        }
        Some(out)
    }
}

impl Follower {
    pub fn new() -> Follower {
        Follower {
            replay: None,
            station_index: HashMap::new(),
            touched: HashSet::new(),
            last: None,
            bytes: Arc::default(),
        }
    }

    /// Entries folded so far.
    fn applied(&self) -> u64 {
        self.replay.as_ref().map_or(0, Replay::size)
    }

    fn start(&mut self, replay: Replay) {
        self.station_index = (replay.election().stations.iter().enumerate())
            .map(|(s, station)| (station.id.clone(), s as u32))
            .collect();
        self.replay = Some(replay);
    }

    /// Folds in entry `index` from its bytes (see the module documentation: a protocol in the
    /// plain canonical form read in place, anything else decoded) and notes the station it names.
    fn apply(&mut self, index: u64, bytes: &[u8]) -> Result<(), ReplayError> {
        let replay = self.replay.as_mut().ok_or(ReplayError::NoElection)?;
        if let Some(protocol) = ProtocolView::parse(bytes) {
            replay.apply_view(index, &protocol)?;
            self.touch(protocol.station);
            return Ok(());
        }
        let submission =
            Submission::decode(bytes).map_err(|error| ReplayError::Decode { index, error })?;
        replay.apply_decoded(index, &submission)?;
        match &submission.payload.body {
            Body::Protocol(protocol) => self.touch(&protocol.station),
            Body::Annulment(annulment) => self.touch(&annulment.station),
            _ => {}
        }
        Ok(())
    }

    /// Notes that an entry folded in names `station`.
    fn touch(&mut self, station: &str) {
        if let Some(&s) = self.station_index.get(station) {
            self.touched.insert(s);
        }
    }

    /// The results of everything folded (every station listed), and what their snapshot bytes
    /// are written from when asked for. Only the stations entries named since the last call are
    /// computed again; the national, regional and district totals and outcomes, corrections,
    /// annulments and warnings are computed in full. The snapshot bytes are those of
    /// `snapshot_json` of the full results (`tests/live_fold.rs` compares them with a replay
    /// from the log).
    fn publishable(&mut self) -> Result<Source, FollowError> {
        let replay = self.replay.as_ref().ok_or(ReplayError::NoElection)?;
        let election = replay.election();
        let touched = std::mem::take(&mut self.touched);
        let last = self.last.take().filter(|_| touched.len() * 2 < election.stations.len());
        let Some(last) = last else {
            let config = ResultsConfig { stations: true, ..ResultsConfig::default() };
            let results = Arc::new(replay.tally().results_with(election, &config));
            let positions: Arc<Vec<Vec<u32>>> = Arc::new(
                (results.contests.iter())
                    .map(|c| c.stations.iter().map(|s| self.station_index[&s.station]).collect())
                    .collect(),
            );
            self.last = Some(Computed { results: results.clone(), positions: positions.clone() });
            let generation = self.bytes.advance(None);
            return Ok(Source { results, positions, generation, cache: self.bytes.clone() });
        };
        let Computed { results: before, positions } = last;
        let config = ResultsConfig { stations: false, ..ResultsConfig::default() };
        let mut results = replay.tally().results_with(election, &config);
        for (c, contest) in results.contests.iter_mut().enumerate() {
            contest.stations = (positions[c].iter().enumerate())
                .map(|(j, &s)| {
                    if touched.contains(&s) {
                        (replay.tally().station_result(election, c, s as usize))
                            .expect("a station the contest listed before")
                    } else {
                        before.contests[c].stations[j].clone()
                    }
                })
                .collect();
        }
        drop(before);
        let results = Arc::new(results);
        self.last = Some(Computed { results: results.clone(), positions: positions.clone() });
        let generation = self.bytes.advance(Some(touched));
        Ok(Source { results, positions, generation, cache: self.bytes.clone() })
    }
}

impl Default for Follower {
    fn default() -> Follower {
        Follower::new()
    }
}

/// The bytes of submissions that came in through the API and the store appended, by log index,
/// waiting for the live fold (see the module documentation).
#[derive(Default)]
pub struct Handover {
    entries: Mutex<BTreeMap<u64, Vec<u8>>>,
}

impl Handover {
    /// Keeps the bytes of entry `index` for the fold, unless too many are waiting already.
    fn offer(&self, index: u64, bytes: Vec<u8>) {
        let mut entries = lock(&self.entries);
        if entries.len() < MAX_HANDED_OVER {
            entries.insert(index, bytes);
        }
    }

    /// Takes the entries waiting in `start..end`, and drops those below `start` (the fold passed
    /// them before they were offered).
    fn take(&self, start: u64, end: u64) -> BTreeMap<u64, Vec<u8>> {
        let mut entries = lock(&self.entries);
        let mut from_start = entries.split_off(&start);
        let after = from_start.split_off(&end);
        let stale = std::mem::replace(&mut *entries, after);
        drop(entries);
        drop(stale);
        from_start
    }

    /// How many entries are waiting.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Submits `items` to the store (blocking: call on the blocking pool) and hands the bytes of
/// those appended to the live fold, so it does not read them back from the log.
pub(crate) fn submit(state: &AppState, items: Vec<Incoming>) -> Vec<Result<Receipt, SubmitError>> {
    let store = state.store();
    let prepared = store.prepare(items);
    let (results, kept) = store.submit_prepared_keeping(prepared);
    let handover = state.handover();
    for (result, bytes) in results.iter().zip(kept) {
        if let (Ok(receipt), Some(bytes)) = (result, bytes) {
            if receipt.new {
                handover.offer(receipt.index, bytes);
            }
        }
    }
    results
}

/// Why the live results could not be brought up to a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Folds entries up to `size` into the replay, taking those waiting in `handover` (if given)
/// from there and reading the others from the log.
fn fold_to(
    store: &Store,
    follower: &mut Follower,
    size: u64,
    handover: Option<&Handover>,
) -> Result<(), FollowError> {
    while follower.applied() < size {
        let start = follower.applied();
        let end = size.min(start + READ_CHUNK);
        let handed = handover.map(|h| h.take(start, end)).unwrap_or_default();
        if follower.replay.is_some() && handed.len() as u64 == end - start {
            for (index, bytes) in &handed {
                follower.apply(*index, bytes)?;
            }
            continue;
        }
        // Some are not waiting: read the whole range from the log (the same bytes).
        drop(handed);
        let entries = store.entries(start..end)?;
        for (offset, bytes) in entries.iter().enumerate() {
            let index = start + offset as u64;
            if follower.replay.is_none() {
                // Entry 0: the store checked it against the definition it holds; share that.
                follower.start(Replay::from_election(store.election().clone()));
                continue;
            }
            follower.apply(index, bytes)?;
        }
    }
    Ok(())
}

/// The snapshot bytes of what `follower` has folded, naming `checkpoint`.
fn replayed_snapshot(
    follower: &Follower,
    checkpoint: &SignedCheckpoint,
) -> Result<Vec<u8>, FollowError> {
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
    fold_to(store, follower, checkpoint.size, Some(state.handover()))?;
    // The results `Replay::snapshot` computes, every station included, with only the stations
    // that changed since the last publication computed again; their snapshot bytes are written
    // when first asked for.
    let source = follower.publishable()?;
    let previous = current.checkpoint.clone().zip(current.results.clone());
    let published = Published::new(checkpoint, source, previous);
    // The pages readers polled under the previous checkpoint are rendered for this one before it
    // is published, here on the blocking pool: after a checkpoint the readers find them in memory
    // instead of all rendering the same page at once on the request threads.
    let keys = current.page_keys(MAX_WARMED_PAGES);
    crate::site::warm(state, &published, &keys);
    crate::read_api::warm(&published, &keys);
    Ok(Some(Arc::new(published)))
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

/// The live task: refreshes after new entries (and every few seconds regardless) until the server
/// shuts down. A refresh starts at least `Config::checkpoint_interval` after the start of the one
/// before, so a burst of submissions gathers into one checkpoint, and at least twice as long as
/// that one took, so that when a refresh is slow (a loaded machine, a large election) the task
/// leaves at least half the time to the requests instead of running back to back.
pub async fn follow(state: AppState, mut follower: Follower) {
    let mut shutdown = state.shutting_down();
    let interval = state.config().checkpoint_interval;
    let mut earliest = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            _ = state.new_entries() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep_until(earliest) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let started = Instant::now();
        follower = refresh(&state, follower).await;
        earliest = tokio::time::Instant::from_std(started) + interval.max(started.elapsed() * 2);
    }
}

fn remember_snapshot(state: &AppState, size: u64, snapshot: Bytes, etag: String) {
    let mut snapshots = lock(&state.inner.snapshots);
    snapshots.insert(size, (snapshot, etag));
    while snapshots.len() > state.config().snapshots_in_memory.max(1) {
        snapshots.pop_first();
    }
}

/// The snapshot bytes of `published` and their ETag, written on the first call (on the blocking
/// pool; callers at the same time wait for that one) and kept for `/snapshot/<N>.json` too.
pub async fn snapshot_of(
    state: &AppState,
    published: &Arc<Published>,
) -> Result<(Bytes, String), Problem> {
    let written = published
        .snapshot
        .get_or_try_init(|| async {
            let task = published.clone();
            let bytes = tokio::task::spawn_blocking(move || task.write_snapshot())
                .await
                .map_err(|_| Problem::internal())?
                .map_err(|error| {
                    eprintln!("sverka-server: snapshot {}: {error}", published.size());
                    Problem::internal()
                })?;
            let etag = etag_of(published.size(), &bytes);
            if published.checkpoint.is_some() {
                remember_snapshot(state, published.size(), bytes.clone(), etag.clone());
            }
            Ok::<_, Problem>((bytes, etag))
        })
        .await?;
    Ok(written.clone())
}

/// The snapshot of checkpoint `size` and its ETag, if the log signed a checkpoint of that size.
pub async fn snapshot_at(state: &AppState, size: u64) -> Result<Option<(Bytes, String)>, Problem> {
    if let Some(found) = lock(&state.inner.snapshots).get(&size) {
        return Ok(Some(found.clone()));
    }
    let published = state.published();
    if size > 0 && published.size() == size {
        return snapshot_of(state, &published).await.map(Some);
    }
    let task_state = state.clone();
    let computed = tokio::task::spawn_blocking(move || -> Result<Option<Bytes>, FollowError> {
        let store = task_state.store();
        let history = store.checkpoint_history()?;
        let Some(checkpoint) = history.into_iter().find(|c| c.size == size) else {
            return Ok(None);
        };
        let mut follower = Follower::new();
        fold_to(store, &mut follower, size, None)?;
        Ok(Some(Bytes::from(replayed_snapshot(&follower, &checkpoint)?)))
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

/// Why `/changes` cannot answer for the checkpoints asked.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("no signed checkpoint of size {0}; the log's checkpoints are listed at /checkpoint and in the snapshots")]
    NoSuchCheckpoint(u64),
    #[error("from ({from}) is after to ({to}): changes run forwards")]
    Backwards { from: u64, to: u64 },
    #[error("checkpoint {to} is not published yet (the latest is {latest})")]
    NotYet { to: u64, latest: u64 },
    #[error("no results are published yet")]
    NothingPublished,
    #[error("the server could not compute the changes")]
    Internal,
}

/// Replays the log to each of `sizes` (ascending) and returns the results there, with stations.
fn results_at_sizes(store: &Store, sizes: &[u64]) -> Result<Vec<Results>, FollowError> {
    let mut follower = Follower::new();
    let mut out = Vec::with_capacity(sizes.len());
    let config = ResultsConfig { stations: true, ..ResultsConfig::default() };
    for &size in sizes {
        fold_to(store, &mut follower, size, None)?;
        let replay = follower.replay.as_ref().ok_or(ReplayError::NoElection)?;
        out.push(replay.tally().results_with(replay.election(), &config));
    }
    Ok(out)
}

/// The decoded entries `from..to` (entries that do not decode are skipped: the replay has
/// already refused such a log).
fn entries_between(
    store: &Store,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Submission)>, FollowError> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = to.min(start + READ_CHUNK);
        for (offset, bytes) in store.entries(start..end)?.iter().enumerate() {
            if let Ok(submission) = Submission::decode(bytes) {
                out.push((start + offset as u64, submission));
            }
        }
        start = end;
    }
    Ok(out)
}

/// Only one replay for `/changes` at a time: a crowd asking for old ranges waits in line instead
/// of replaying the log once per request.
static CHANGES_GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The changes between checkpoints `from` and `to` (defaults: the checkpoint published before the
/// current one, and the current one), from the results of `published` when it has them and by
/// replaying the log otherwise. `snapshot(N) = tabulate(entries[0..N])` makes both the same.
pub async fn changes_between(
    state: &AppState,
    published: &Arc<Published>,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<Arc<Changes>, ChangesError> {
    let current = published.checkpoint.clone().ok_or(ChangesError::NothingPublished)?;
    let to = to.unwrap_or(current.size);
    let from = from.unwrap_or_else(|| match &published.previous {
        Some((previous, _)) if previous.size <= to => previous.size,
        _ => to,
    });
    if from > to {
        return Err(ChangesError::Backwards { from, to });
    }
    if from == 0 {
        // The log's first entry is the election itself; there are no results before it.
        return Err(ChangesError::NoSuchCheckpoint(0));
    }
    if to > current.size {
        return Err(ChangesError::NotYet { to, latest: current.size });
    }
    if let Some(found) = lock(&published.changes).get(&(from, to)) {
        return Ok(found.clone());
    }
    let _permit = CHANGES_GATE.acquire().await.map_err(|_| ChangesError::Internal)?;
    if let Some(found) = lock(&published.changes).get(&(from, to)) {
        return Ok(found.clone());
    }
    let task_state = state.clone();
    let task_published = published.clone();
    let computed = tokio::task::spawn_blocking(move || {
        compute_changes(&task_state, &task_published, &current, from, to)
    })
    .await
    .map_err(|_| ChangesError::Internal)??;
    let computed = Arc::new(computed);
    let mut cache = lock(&published.changes);
    if cache.len() < 64 {
        cache.insert((from, to), computed.clone());
    }
    Ok(computed)
}

fn compute_changes(
    state: &AppState,
    published: &Published,
    current: &SignedCheckpoint,
    from: u64,
    to: u64,
) -> Result<Changes, ChangesError> {
    let store = state.store();
    let internal = |error: FollowError| {
        eprintln!("sverka-server: changes {from}..{to}: {error}");
        ChangesError::Internal
    };
    let history = store.checkpoint_history().map_err(|e| internal(e.into()))?;
    let find = |size: u64| -> Result<SignedCheckpoint, ChangesError> {
        if size == current.size {
            return Ok(current.clone());
        }
        history.iter().find(|c| c.size == size).cloned().ok_or(ChangesError::NoSuchCheckpoint(size))
    };
    let (from_checkpoint, to_checkpoint) = (find(from)?, find(to)?);
    let known = |size: u64| -> Option<Arc<Results>> {
        if size == current.size {
            return published.results.clone();
        }
        match &published.previous {
            Some((previous, results)) if previous.size == size => Some(results.clone()),
            _ => None,
        }
    };
    let (before, after) = match (known(from), known(to)) {
        (Some(before), Some(after)) => (before, after),
        _ => {
            let mut replayed = results_at_sizes(store, &[from, to]).map_err(internal)?;
            let after = Arc::new(replayed.pop().ok_or(ChangesError::Internal)?);
            let before = Arc::new(replayed.pop().ok_or(ChangesError::Internal)?);
            (before, after)
        }
    };
    let entries = entries_between(store, from, to).map_err(internal)?;
    let checkpoint = |c: &SignedCheckpoint| Checkpoint { size: c.size, root: *c.root.as_bytes() };
    Ok(sverka_tally::changes::changes(
        &before,
        &after,
        &entries,
        checkpoint(&from_checkpoint),
        checkpoint(&to_checkpoint),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_is_encoded_again_if_any_publication_between_changed_it() {
        let bytes = StationBytes::default();
        let set = |stations: &[u32]| Some(stations.iter().copied().collect::<HashSet<u32>>());
        assert_eq!(bytes.advance(None), 1);
        assert_eq!(bytes.advance(set(&[4, 7])), 2);
        assert_eq!(bytes.advance(set(&[7, 9])), 3);
        assert_eq!(bytes.advance(None), 4);
        assert_eq!(bytes.advance(set(&[1])), 5);
        let inner = lock(&bytes.inner);
        let sorted = |set: Option<HashSet<u32>>| {
            set.map(|set| {
                std::collections::BTreeSet::from_iter(set).into_iter().collect::<Vec<_>>()
            })
        };
        assert_eq!(sorted(inner.changed_between(1, 1)), Some(vec![]), "the same publication");
        assert_eq!(sorted(inner.changed_between(1, 3)), Some(vec![4, 7, 9]));
        assert_eq!(sorted(inner.changed_between(3, 1)), Some(vec![4, 7, 9]), "either way round");
        assert_eq!(sorted(inner.changed_between(2, 3)), Some(vec![7, 9]));
        assert_eq!(inner.changed_between(3, 4), None, "4 computed every station again");
        assert_eq!(inner.changed_between(1, 5), None);
        assert_eq!(sorted(inner.changed_between(4, 5)), Some(vec![1]));
        drop(inner);
        for _ in 0..GENERATIONS_KEPT {
            bytes.advance(set(&[2]));
        }
        let inner = lock(&bytes.inner);
        assert_eq!(inner.changed_between(4, 6), None, "what publication 5 changed is forgotten");
        let last = inner.generation;
        assert_eq!(sorted(inner.changed_between(last - 3, last)), Some(vec![2]));
    }

    #[test]
    fn the_fold_takes_its_range_and_entries_it_passed_are_dropped() {
        let handover = Handover::default();
        for index in [3, 7, 8, 12] {
            handover.offer(index, format!("entry {index}").into_bytes());
        }
        let taken = handover.take(5, 10);
        assert_eq!(taken.keys().copied().collect::<Vec<_>>(), vec![7, 8]);
        assert_eq!(taken[&7], b"entry 7", "each under its own index");
        assert_eq!(handover.len(), 1, "3 was passed by the fold and dropped; 12 waits");
        assert_eq!(handover.take(10, 20).keys().copied().collect::<Vec<_>>(), vec![12]);
        assert!(handover.is_empty());
    }
}
