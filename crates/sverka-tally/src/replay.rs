//! Replaying a log: the one function from log entries to a published snapshot, shared by the server,
//! `sverka publish` and the observers' `sverka verify`, so there is no second "display" computation
//! that could disagree with the data (the 2021 failure). `snapshot(N) = tabulate(entries[0..N])`.
//!
//! Entry 0 is the election definition (`Body::Election`); every later entry is folded into a
//! [`Tally`] in log order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sverka_model::election::Election;
use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::{Body, DecodeError, Submission};

use crate::snapshot::{
    write_snapshot_computing_ahead, write_snapshot_stations, write_snapshot_with, Checkpoint,
    Piece, SnapshotError,
};
use crate::tabulate::state::TallyStateError;
use crate::tabulate::{Applied, PartFold, ResultsConfig, StationResult, Tally, TallyPart};

/// Why a log cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("entry {index}: {error}")]
    Decode { index: u64, error: DecodeError },
    #[error("entry 0 is not the election definition")]
    NoElection,
    #[error("entry 0: the election definition does not validate: {0}")]
    Election(String),
    #[error("entry 0: the election definition file does not match the SHA-256 the log commits to")]
    DefinitionMismatch,
    #[error("entry {index}: a second election definition")]
    SecondElection { index: u64 },
    #[error("entries must be replayed in order: expected {expected}, got {got}")]
    OutOfOrder { expected: u64, got: u64 },
    #[error("entry {index} does not parse: {error}")]
    Unreadable { index: u64, error: String },
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    State(#[from] TallyStateError),
}

/// A log being replayed entry by entry.
#[derive(Debug)]
pub struct Replay {
    /// Shared (with the key registry of `sverka verify`, say): a million stations' definition
    /// is not copied.
    election: Arc<Election>,
    tally: Tally,
    /// How many entries have been folded in (entry 0 included).
    size: u64,
    /// The station ids that entries folded in since [`Replay::forget_touched`] name: protocols
    /// and annulments. A station's part of a snapshot depends on the entries naming it only
    /// ([`Tally::station_result`]), so the others are as they were. `None` until the first
    /// [`Replay::forget_touched`]: every station counts as touched then, and nothing is noted
    /// (a replay that is only written whole, as `sverka results` and `sverka publish` do, would
    /// otherwise hold every station's id twice: some 70 MB at a million stations).
    touched: Option<HashSet<String>>,
}

/// Which stations [`Replay::write_snapshot_pieces`] recomputes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recompute {
    /// Every station.
    All,
    /// Only those that entries folded in since [`Replay::forget_touched`] name (every station
    /// if it was never called); the others are handed on as [`Piece::Station`] without bytes.
    Touched,
}

impl Replay {
    /// The SHA-256 (hex) of the election definition that entry 0 commits to; the definition itself
    /// is published as `blob/<sha256>`.
    pub fn definition_sha256(entry0: &[u8]) -> Result<String, ReplayError> {
        let submission =
            Submission::decode(entry0).map_err(|error| ReplayError::Decode { index: 0, error })?;
        match submission.payload.body {
            Body::Election(definition) => Ok(definition.definition_sha256),
            _ => Err(ReplayError::NoElection),
        }
    }

    /// Starts from the log's first entry and the `election.toml` bytes it commits to.
    pub fn start(entry0: &[u8], definition: &[u8]) -> Result<Replay, ReplayError> {
        let submission =
            Submission::decode(entry0).map_err(|error| ReplayError::Decode { index: 0, error })?;
        Replay::start_decoded(&submission, definition)
    }

    /// [`Replay::start`] from entry 0 already decoded (by `Submission::decode` of its bytes), so a
    /// caller that needs the decoded entry for its own checks does not decode it twice.
    pub fn start_decoded(entry0: &Submission, definition: &[u8]) -> Result<Replay, ReplayError> {
        let Body::Election(committed) = &entry0.payload.body else {
            return Err(ReplayError::NoElection);
        };
        if !committed.matches(definition) {
            return Err(ReplayError::DefinitionMismatch);
        }
        let election = Arc::new(parse_definition(definition)?);
        let tally = Tally::new(&election);
        Ok(Replay { election, tally, size: 1, touched: None })
    }

    /// Starts after entry 0 from a definition the caller has already parsed and checked against
    /// entry 0 (the store's own, say), shared rather than parsed again: at a million stations a
    /// second parse costs a gigabyte and a quarter of a minute.
    pub fn from_election(election: Arc<Election>) -> Replay {
        let tally = Tally::new(&election);
        Replay { election, tally, size: 1, touched: None }
    }

    /// Folds in the next entry.
    pub fn apply(&mut self, index: u64, entry: &[u8]) -> Result<(), ReplayError> {
        if index != self.size {
            return Err(ReplayError::OutOfOrder { expected: self.size, got: index });
        }
        let submission =
            Submission::decode(entry).map_err(|error| ReplayError::Decode { index, error })?;
        self.apply_decoded(index, &submission)
    }

    /// Folds in the next entry, already decoded (by `Submission::decode` of the entry's bytes, as
    /// [`Replay::apply`] does): for callers that decode each entry once for their own checks
    /// (signer, registry) and fold the same value in. The results are those of [`Replay::apply`]
    /// on the entry's bytes.
    pub fn apply_decoded(
        &mut self,
        index: u64,
        submission: &Submission,
    ) -> Result<(), ReplayError> {
        if index != self.size {
            return Err(ReplayError::OutOfOrder { expected: self.size, got: index });
        }
        if matches!(submission.payload.body, Body::Election(_)) {
            return Err(ReplayError::SecondElection { index });
        }
        match &submission.payload.body {
            Body::Protocol(protocol) => self.touch(&protocol.station),
            Body::Annulment(annulment) => self.touch(&annulment.station),
            _ => {}
        }
        self.tally.apply(index, submission);
        self.size += 1;
        Ok(())
    }

    /// [`Replay::apply_decoded`] of a protocol entry read as a [`ProtocolView`] of its bytes
    /// (`ProtocolView::parse`; entries it gives `None` for are parsed typed and folded in with
    /// `apply_decoded`): the same results as `apply_decoded` of the typed parse of those bytes.
    pub fn apply_view(
        &mut self,
        index: u64,
        protocol: &ProtocolView<'_>,
    ) -> Result<(), ReplayError> {
        if index != self.size {
            return Err(ReplayError::OutOfOrder { expected: self.size, got: index });
        }
        self.touch(protocol.station);
        self.tally.apply_view(index, protocol);
        self.size += 1;
        Ok(())
    }

    /// Parts to fold the rest of a whole log in on threads of their own, split by station
    /// ([`Tally::split`]: part `p` folds the entries [`crate::tabulate::entry_part`] gives `p`,
    /// each part its entries in log order); then [`Replay::join`] them. `None` unless the sums
    /// are deferred ([`Replay::defer_sums`]), nothing but entry 0 has been folded in and
    /// [`Replay::forget_touched`] was never called.
    pub fn split(&self) -> Option<Vec<ReplayPart<'_>>> {
        if self.size != 1 || self.touched.is_some() {
            return None;
        }
        let parts = self.tally.split()?;
        let parts = parts.into_iter().map(|tally| ReplayPart {
            tally,
            from: self.size,
            next: self.size,
            entries: 0,
            refused: Vec::new(),
        });
        Some(parts.collect())
    }

    /// Takes in what the parts of [`Replay::split`] folded: the replay is then that of every
    /// entry they were given, which must be entries `size..size + n` (`n` in all), each given
    /// to one part; the entries a part refused (a station not its own) are folded in here, in
    /// log order. The results are those of folding the entries in one by one; only the
    /// numbering of observers' keys in [`Replay::save_state`]'s bytes may differ, and only
    /// if a part refused an observer's protocol (never for a store's entries: see
    /// [`crate::tabulate::entry_part`]).
    pub fn join(&mut self, parts: Vec<ReplayPartDone>) -> Result<(), ReplayError> {
        let from = self.size;
        let entries: u64 = parts.iter().map(|part| part.entries).sum();
        let last = parts.iter().filter(|part| part.entries > 0).map(|part| part.next - 1).max();
        let mut refused = Vec::new();
        let folds = parts
            .into_iter()
            .map(|part| {
                refused.extend(part.refused);
                part.fold
            })
            .collect();
        let mut fresh = self.tally.absorb(folds);
        refused.sort_unstable_by_key(|(index, _)| *index);
        let any_refused = !refused.is_empty();
        for (index, entry) in refused {
            let applied = match ProtocolView::parse(&entry) {
                Some(protocol) => self.tally.apply_view(index, &protocol),
                None => self.tally.apply(index, &parse_stored(index, &entry)?),
            };
            fresh += u64::from(applied != Applied::Duplicate);
        }
        if any_refused {
            self.tally.sort_in_log_order();
        }
        // Every index at least `from` (checked as they came) and `entries` distinct ones up to
        // `last`: exactly `from..from + entries`.
        if fresh != entries || last.is_some_and(|last| last + 1 != from + entries) {
            let got = last.map_or(from, |last| last + 1);
            return Err(ReplayError::OutOfOrder { expected: from + entries, got });
        }
        self.size = from + entries;
        Ok(())
    }

    /// [`Tally::defer_sums`]: for a replay folding a whole log in before anything is asked of
    /// it (`sverka results`, `sverka publish`); [`Replay::settle_sums`] before asking.
    pub fn defer_sums(&mut self) {
        self.tally.defer_sums();
    }

    /// [`Tally::settle_sums`].
    pub fn settle_sums(&mut self) {
        self.tally.settle_sums();
    }

    fn touch(&mut self, station: &str) {
        if let Some(touched) = &mut self.touched {
            if !touched.contains(station) {
                touched.insert(station.to_string());
            }
        }
    }

    /// Starts counting touched stations afresh (see [`Recompute::Touched`]): a caller that has
    /// the pieces of the snapshot at the current size calls it. Until it is first called, every
    /// station counts as touched.
    pub fn forget_touched(&mut self) {
        match &mut self.touched {
            Some(touched) => touched.clear(),
            None => self.touched = Some(HashSet::new()),
        }
    }

    /// How many stations entries folded in since [`Replay::forget_touched`] name (every station
    /// of the election if it was never called).
    pub fn touched(&self) -> usize {
        self.touched.as_ref().map_or(self.election.stations.len(), HashSet::len)
    }

    /// The state of the replay after its entries, to continue later with [`Replay::resume`]
    /// (the tally's `sverka-tally-state/v2` bytes; the election is not in them).
    pub fn save_state(&self) -> Vec<u8> {
        assert!(self.tally.sums_settled(), "state saved while the sums are deferred");
        self.tally.save_state()
    }

    /// [`Replay::save_state`]'s bytes written to `sink` piece by piece (never held whole);
    /// returns how many were written.
    pub fn save_state_to(&self, sink: &mut dyn std::io::Write) -> std::io::Result<u64> {
        assert!(self.tally.sums_settled(), "state saved while the sums are deferred");
        self.tally.save_state_to(sink)
    }

    /// Continues a replay of `size` entries whose state [`Replay::save_state`] wrote, with the
    /// `election.toml` bytes its entry 0 committed to (the caller checks that commitment: the
    /// bytes' SHA-256 is the definition's `blob/<sha256>` name). Folding entries `size`, `size +
    /// 1`, ... in gives the snapshots a replay from entry 0 gives.
    pub fn resume(definition: &[u8], size: u64, state: &[u8]) -> Result<Replay, ReplayError> {
        let election = Arc::new(parse_definition(definition)?);
        let tally = Tally::load_state(&election, state)?;
        Ok(Replay { election, tally, size, touched: None })
    }

    /// [`Replay::resume`] for a definition this program found valid before, in the run that
    /// saved the state (`sverka verify --state` keeps its SHA-256): read with
    /// `Election::from_toml_trusted_keys`, which skips decompressing each public key (a key that
    /// is not a curve point then signs nothing). The caller checks the bytes are the ones the
    /// state names.
    ///
    /// `state` is kept: its slots' numbers are decoded only when used
    /// ([`Tally::load_state_owned`]).
    pub fn resume_trusted(
        definition: &[u8],
        size: u64,
        state: Vec<u8>,
    ) -> Result<Replay, ReplayError> {
        let text = std::str::from_utf8(definition)
            .map_err(|_| ReplayError::Election("election.toml is not UTF-8".into()))?;
        let election = Election::from_toml_trusted_keys("election.toml", text)
            .map_err(|e| ReplayError::Election(e.to_string()))?;
        Replay::resume_election(Arc::new(election), size, state)
    }

    /// [`Replay::resume_trusted`] with the definition already read: the same `Election` its
    /// bytes give (`sverka verify --state` keeps it as a cache, `Election::from_cache`, pinned
    /// by its hash and the definition's). The caller vouches that it is that definition's.
    pub fn resume_election(
        election: Arc<Election>,
        size: u64,
        state: impl Into<crate::tabulate::state::StateBytes>,
    ) -> Result<Replay, ReplayError> {
        let tally = Tally::load_state_owned(&election, state)?;
        Ok(Replay { election, tally, size, touched: None })
    }

    /// The number of entries replayed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn election(&self) -> &Election {
        &self.election
    }

    /// The election, shared.
    pub fn shared_election(&self) -> Arc<Election> {
        Arc::clone(&self.election)
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// [`Replay::snapshot`]'s bytes handed to `sink` piece by piece (see
    /// [`crate::snapshot::write_snapshot`]): `Ok(false)` if `sink` stopped it.
    ///
    /// Each station's result is computed when its turn comes and dropped once written, so the
    /// station lists of every contest are never held at once; the stations are computed and
    /// written out on threads of their own (one per core, up to four), blocks ahead of this one
    /// ([`crate::snapshot::write_snapshot_computing_ahead`]).
    pub fn write_snapshot(
        &self,
        root: [u8; 32],
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<bool, ReplayError> {
        let checkpoint = Checkpoint { size: self.size, root };
        let config = ResultsConfig { disputed: Vec::new(), stations: false };
        let results = self.tally.results_with(&self.election, &config);
        let stations = self.tally.listed_stations();
        let all = self.election.stations.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let station = |c: usize, s: usize| self.tally.station_result(&self.election, c, s);
        Ok(write_snapshot_computing_ahead(
            &results,
            &checkpoint,
            &stations,
            all,
            threads,
            &station,
            sink,
        )?)
    }

    /// `station(c, j)`: the `j`-th station result of contest `c`, for callers that ask for
    /// them contest by contest, in order (each contest keeps where its last one was).
    fn station_results_in_order(&self) -> impl FnMut(usize, usize) -> Option<StationResult> + '_ {
        let mut next = vec![0; self.election.contests.len()];
        move |c, _| {
            while next[c] < self.election.stations.len() {
                let s = next[c];
                next[c] += 1;
                if let Some(result) = self.tally.station_result(&self.election, c, s) {
                    return Some(result);
                }
            }
            None
        }
    }

    /// The snapshot of everything replayed so far as [`Piece`]s (see
    /// [`crate::snapshot::write_snapshot_with`]): with [`Recompute::Touched`], only the stations
    /// that entries since [`Replay::forget_touched`] name are recomputed, the rest handed on
    /// without bytes, and the national, regional and district totals, outcomes, corrections,
    /// annulments and warnings recomputed in full. `Ok(false)` if `sink` stopped it.
    pub fn write_snapshot_pieces(
        &self,
        root: [u8; 32],
        recompute: Recompute,
        sink: &mut dyn FnMut(Piece<'_>) -> bool,
    ) -> Result<bool, ReplayError> {
        let checkpoint = Checkpoint { size: self.size, root };
        let config = ResultsConfig { disputed: Vec::new(), stations: false };
        let results = self.tally.results_with(&self.election, &config);
        let touched_ids = match (&self.touched, recompute) {
            (Some(touched), Recompute::Touched) => touched,
            _ => {
                let stations = self.tally.listed_stations();
                let mut station = self.station_results_in_order();
                return Ok(write_snapshot_stations(
                    &results,
                    &checkpoint,
                    &stations,
                    &mut station,
                    sink,
                )?);
            }
        };
        // Each contest lists the stations that vote in it in the election's order: a touched
        // station's place in contest c is how many stations before it vote in c.
        let mut touched = vec![false; self.election.stations.len()];
        for id in touched_ids {
            if let Some(s) = self.election.station_index(id) {
                touched[s] = true;
            }
        }
        let mut stations = vec![0; self.election.contests.len()];
        let mut recomputed = HashMap::new();
        for (s, &touched) in touched.iter().enumerate() {
            for c in self.tally.station_contests(s) {
                if touched {
                    let result = self.tally.station_result(&self.election, c, s);
                    let result = result.expect("the contest covers the station");
                    recomputed.insert((c, stations[c]), result);
                }
                stations[c] += 1;
            }
        }
        let station = |c: usize, j: usize| recomputed.get(&(c, j));
        Ok(write_snapshot_with(&results, &checkpoint, &stations, &station, sink)?)
    }

    /// The snapshot of everything replayed so far, naming `root` as the head of these entries.
    pub fn snapshot(&self, root: [u8; 32]) -> Result<Vec<u8>, ReplayError> {
        let mut all = Vec::with_capacity(1 << 16);
        self.write_snapshot(root, &mut |piece| {
            all.extend_from_slice(piece);
            true
        })?;
        Ok(all)
    }
}

/// One part of a replay split by station ([`Replay::split`]), to be moved to a thread of its
/// own: folds the entries it is given, in log order, those of its own stations; keeps the others
/// for [`Replay::join`].
#[derive(Debug)]
pub struct ReplayPart<'r> {
    tally: TallyPart<'r>,
    /// The replay's size when it was split: the first index a part may be given.
    from: u64,
    /// The least index this part may be given next.
    next: u64,
    entries: u64,
    refused: Vec<(u64, Vec<u8>)>,
}

/// What a [`ReplayPart`] folded ([`ReplayPart::finish`]), for [`Replay::join`].
#[derive(Debug)]
pub struct ReplayPartDone {
    fold: PartFold,
    next: u64,
    entries: u64,
    refused: Vec<(u64, Vec<u8>)>,
}

impl ReplayPart<'_> {
    /// Folds in stored entry `index` (its bytes; after every index given to this part before):
    /// read in place if it is a protocol in the plain canonical form, else parsed typed, once.
    /// For entries admitted by a store, which decoded them strictly (canonical bytes, signature
    /// under a registered key) when it took them in: not `Submission::decode`'s second,
    /// canonical encoding ([`Replay::apply`] has it).
    pub fn apply_stored(&mut self, index: u64, entry: &[u8]) -> Result<(), ReplayError> {
        if index < self.next {
            return Err(ReplayError::OutOfOrder { expected: self.next, got: index });
        }
        let folded = match ProtocolView::parse(entry) {
            Some(protocol) => self.tally.apply_view(index, &protocol),
            None => {
                let submission = parse_stored(index, entry)?;
                if matches!(submission.payload.body, Body::Election(_)) {
                    return Err(ReplayError::SecondElection { index });
                }
                self.tally.apply(index, &submission)
            }
        };
        if folded.is_none() {
            self.refused.push((index, entry.to_vec()));
        }
        self.next = index + 1;
        self.entries += 1;
        Ok(())
    }

    /// The first index this part may be given.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// What this part folded, for [`Replay::join`].
    pub fn finish(self) -> ReplayPartDone {
        ReplayPartDone {
            fold: self.tally.finish(),
            next: self.next,
            entries: self.entries,
            refused: self.refused,
        }
    }
}

/// A stored entry parsed typed, once (see [`ReplayPart::apply_stored`]).
fn parse_stored(index: u64, entry: &[u8]) -> Result<Submission, ReplayError> {
    serde_json::from_slice(entry)
        .map_err(|error| ReplayError::Unreadable { index, error: error.to_string() })
}

fn parse_definition(definition: &[u8]) -> Result<Election, ReplayError> {
    let text = std::str::from_utf8(definition)
        .map_err(|_| ReplayError::Election("election.toml is not UTF-8".into()))?;
    Election::from_toml("election.toml", text).map_err(|e| ReplayError::Election(e.to_string()))
}

/// The snapshot of a whole list of entries (entry 0 the election definition, committing to
/// `definition`).
pub fn snapshot_of_entries<E: AsRef<[u8]>>(
    entries: &[E],
    definition: &[u8],
    root: [u8; 32],
) -> Result<Vec<u8>, ReplayError> {
    let first = entries.first().ok_or(ReplayError::NoElection)?;
    let mut replay = Replay::start(first.as_ref(), definition)?;
    for (index, entry) in entries.iter().enumerate().skip(1) {
        replay.apply(index as u64, entry.as_ref())?;
    }
    replay.snapshot(root)
}
