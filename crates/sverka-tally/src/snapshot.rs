//! The snapshot: [`Results`] as published beside checkpoint N (`snapshot/<N>.json`), format
//! `sverka-snapshot/v1`.
//!
//! The bytes are RFC 8785 canonical JSON (via [`sverka_model::canonical`]): members sorted, no
//! spaces, integers only. The same results give the same bytes on every machine, so anyone who
//! recomputes the tally from the log can compare files byte for byte.
//!
//! # Format `sverka-snapshot/v1`
//!
//! ```text
//! {"format": "sverka-snapshot/v1",
//!  "checkpoint": {"size": N, "root": "<64 lower-case hex>"},   the log checkpoint it is computed from
//!  "election": "<id>",
//!  "entries": {"applied", "protocols", "annulments", "other"},  counts of distinct log entries
//!  "disputed": ["<station>", ...],                              the stations the outlook set aside
//!  "contests": [CONTEST, ...],                                   in the election's order
//!  "corrections": [{"station", "contest", "source", "signer"?, "replaced", "by",
//!                   "kind": "explicit" | "implicit", "reason"?}],
//!  "annulments": [{"index", "station", "contest" (null: all), "reason"}],
//!  "ignored":  [{"index", "code", "message"}],
//!  "warnings": [{"index", "code", "message"}]}
//!
//! CONTEST = {"id", "kind": "party_list" | "single_member",
//!   "options": [ids in ballot order, "against_all" last], "lines": [form line ids],
//!   "progress": {"machine" | "manual" | "observer" | "recount": {"stations", "registered"},
//!                "of": {"stations", "registered"}},
//!   "official": VIEW, "preliminary": VIEW,
//!   "stations": [STATION, ...]}                                   (omitted when not computed)
//!
//! VIEW  = {"levels": [LEVEL, ...], "outcome": LIST_OUTCOME | DISTRICT_OUTCOME}
//! LEVEL = {"level": "nation" | "abroad" | "region" | "district", "id"?,
//!   "stations", "registered", "stations_counted", "registered_counted",
//!   "stations_annulled", "registered_annulled",
//!   "took_part", "valid", "invalid", "against_all", "turnout": SHARE,
//!   "votes": {option: n}, "lines": {line: n}, "preferences"?: {party: {candidate: n}}}
//! SHARE = {"num", "den", "bp"}
//! ```
//!
//! **Shares.** Never floats: `num` and `den` are the exact integers (turnout = took part over the
//! registered voters of the counted stations; a party's share = votes over the threshold base);
//! `bp` is basis points (1/100 of a percent) rounded **half up**,
//! `bp = floor((20000·num + den) / (2·den))`, `null` when `den` is 0. Thresholds are decided on
//! `num`/`den`, never on `bp`. Exact rationals that are not shares (quotas, quotients,
//! remainders) are strings `"n"` or `"n/d"` in lowest terms.
//!
//! LIST_OUTCOME and DISTRICT_OUTCOME are documented beside [`list_outcome`] and
//! [`district_outcome`]. A change to any of this is a new format version.

use std::sync::mpsc;

use serde_json::{json, Map, Value};
use sverka_model::canonical::{self, CanonicalError};
use sverka_model::election::ThresholdBase;

use crate::seats::{DistrictOutcome, FailureReason, SeatMargin, TieBreak};
use crate::tabulate::{
    ContestResults, CorrectionKind, DistrictResult, InPlay, LevelTotals, ListOutcome, ListStatus,
    Outcome, Proportion, Results, StationCounts, StationResult, ThresholdOutlook, ViewResults,
};

/// The format name written in every snapshot.
pub const FORMAT: &str = "sverka-snapshot/v1";

/// The log checkpoint a snapshot is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The number of entries (`N`).
    pub size: u64,
    /// The Merkle tree hash of those entries.
    pub root: [u8; 32],
}

/// Why a snapshot could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// A number outside what canonical JSON carries exactly (a total over 2^53 − 1).
    #[error("snapshot: {0}")]
    Canonical(#[from] CanonicalError),
}

/// The canonical bytes of the snapshot of `results` at `checkpoint`: the bytes of
/// [`snapshot_value`] canonicalised, written piece by piece so that the document never exists as
/// one value tree (a station list of 250,000 stations as `Value`s takes gigabytes).
pub fn snapshot_json(results: &Results, checkpoint: &Checkpoint) -> Result<Vec<u8>, SnapshotError> {
    let mut all = Vec::with_capacity(1 << 16);
    write_snapshot(results, checkpoint, &mut |piece| {
        all.extend_from_slice(piece);
        true
    })?;
    Ok(all)
}

/// [`snapshot_json`]'s bytes handed to `sink` in pieces of about a megabyte, in order, so a caller
/// can write or compare a snapshot of any size without holding it. `sink` returns `false` to stop
/// early (the rest is not computed); the result is then `Ok(false)`.
pub fn write_snapshot(
    results: &Results,
    checkpoint: &Checkpoint,
    sink: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool, SnapshotError> {
    let stations: Vec<usize> = results.contests.iter().map(|c| c.stations.len()).collect();
    let mut station = |c: usize, j: usize, keys: &StationKeys<'_>, out: &mut Vec<u8>| {
        write_station(keys, &results.contests[c].stations[j], out).map(|()| true)
    };
    write_in_pieces(results, checkpoint, &stations, &mut station, sink)
}

/// [`write_snapshot`] of `results` whose station lists are not filled: `stations[c]` stations
/// are listed for contest `c`, and each is computed by `station(c, j)` when its turn comes
/// (once, contest by contest, in order) and dropped once written, so the station lists of
/// every contest are never held at once (at a million stations they were 1.4 GB). The bytes
/// are [`write_snapshot`]'s of the results with those lists filled.
///
/// # Panics
/// If `station` gives no result for a station it is asked for.
pub fn write_snapshot_computing(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    station: &mut dyn FnMut(usize, usize) -> Option<StationResult>,
    sink: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool, SnapshotError> {
    let mut station = |c: usize, j: usize, keys: &StationKeys<'_>, out: &mut Vec<u8>| {
        let result = station(c, j).expect("every listed station has a result");
        write_station(keys, &result, out).map(|()| true)
    };
    write_in_pieces(results, checkpoint, stations, &mut station, sink)
}

/// Stations (positions in the election) looked at per block by
/// [`write_snapshot_computing_ahead`]: a block holds those of them listed in its contest.
const STATIONS_AHEAD: usize = 1024;

/// Consecutive stations' bytes of one contest, computed on one of
/// [`write_snapshot_computing_ahead`]'s threads: the `i`-th is `bytes[ends[i - 1]..ends[i]]`
/// (from 0 for the first).
#[derive(Default)]
struct StationBlock {
    contest: usize,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// [`write_snapshot_computing`], the stations computed and written out as bytes on `threads`
/// threads of their own (at least one) while this one writes the snapshot's other parts and
/// hands everything to `sink` (at a million stations the stations are nearly all of a
/// snapshot's two and a half gigabytes). Contest by contest, the election's `all` stations are
/// cut into blocks of [`STATIONS_AHEAD`] positions, and block `b` goes to thread `b % threads`,
/// each thread staying up to a few blocks ahead; this thread takes the blocks back in order.
/// `station(c, s)` is the result of the station at position `s` in contest `c`, `None` when
/// the contest does not list it; it is asked once for every position of every contest that
/// lists stations (`stations[c] > 0`), from any of the threads. The same bytes as
/// [`write_snapshot_computing`] with the listed stations in the election's order.
///
/// # Panics
/// If `station` gives more or fewer results for a contest than `stations` lists.
pub fn write_snapshot_computing_ahead(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    all: usize,
    threads: usize,
    station: &(dyn Fn(usize, usize) -> Option<StationResult> + Sync),
    sink: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool, SnapshotError> {
    let threads = threads.max(1);
    // Block `b`: contest and positions.
    let blocks = || {
        let listing = stations.iter().enumerate().filter(|(_, &n)| n > 0);
        listing.flat_map(move |(c, _)| {
            (0..all).step_by(STATIONS_AHEAD).map(move |s| (c, s..all.min(s + STATIONS_AHEAD)))
        })
    };
    std::thread::scope(|scope| {
        let mut ahead = Vec::with_capacity(threads);
        let mut back = Vec::with_capacity(threads);
        for t in 0..threads {
            // Blocks computed and not yet written (a bounded queue: the thread stays a few
            // blocks ahead), and the written ones going back to be filled again.
            let (ahead_tx, ahead_rx) =
                mpsc::sync_channel::<Result<StationBlock, CanonicalError>>(2);
            let (back_tx, back_rx) = mpsc::channel::<StationBlock>();
            ahead.push(ahead_rx);
            back.push(back_tx);
            std::thread::Builder::new()
                .name("sverka-snapshot-stations".into())
                .spawn_scoped(scope, move || {
                    let mut keys: Option<(usize, StationKeys<'_>)> = None;
                    for (c, positions) in blocks().skip(t).step_by(threads) {
                        if keys.as_ref().is_none_or(|(k, _)| *k != c) {
                            keys = Some((c, StationKeys::of(&results.contests[c])));
                        }
                        let (_, keys) = keys.as_ref().expect("just set");
                        let mut block = back_rx.try_recv().unwrap_or_default();
                        block.contest = c;
                        block.bytes.clear();
                        block.ends.clear();
                        for s in positions {
                            let Some(result) = station(c, s) else { continue };
                            if let Err(e) = write_station(keys, &result, &mut block.bytes) {
                                let _ = ahead_tx.send(Err(e));
                                return;
                            }
                            block.ends.push(block.bytes.len());
                        }
                        // The writing side stopped (its sink did, or it failed): so do we.
                        if ahead_tx.send(Ok(block)).is_err() {
                            return;
                        }
                    }
                })
                .expect("a thread for the snapshot's stations");
        }
        // The block being written, the thread it came from, where its next station starts, and
        // the next block's number.
        let mut current = StationBlock::default();
        let (mut from_thread, mut next, mut from, mut block) = (0, 0, 0, 0);
        let mut write = |c: usize, _: usize, _: &StationKeys<'_>, out: &mut Vec<u8>| {
            while next == current.ends.len() {
                let t = block % threads;
                block += 1;
                let filled = ahead[t].recv().expect("every listed station has a result")?;
                let written = std::mem::replace(&mut current, filled);
                // The computing side may have finished: then the buffer is dropped here.
                let _ = back[from_thread].send(written);
                (from_thread, next, from) = (t, 0, 0);
            }
            assert_eq!(current.contest, c, "as many stations as listed in each contest");
            out.extend_from_slice(&current.bytes[from..current.ends[next]]);
            from = current.ends[next];
            next += 1;
            Ok(true)
        };
        write_in_pieces(results, checkpoint, stations, &mut write, sink)
    })
}

/// [`write_pieces`] with every station given, handed to `sink` a megabyte at a time.
fn write_in_pieces(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    station: &mut WriteStation<'_>,
    sink: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool, SnapshotError> {
    const PIECE: usize = 1 << 20;
    let mut pending = Vec::with_capacity(PIECE + (1 << 16));
    let open = write_pieces(results, checkpoint, stations, station, &mut |piece| {
        let bytes = match piece {
            Piece::Bytes(bytes) | Piece::Station { bytes: Some(bytes), .. } => bytes,
            Piece::Station { bytes: None, .. } => unreachable!("every station is given"),
        };
        pending.extend_from_slice(bytes);
        if pending.len() < PIECE {
            return true;
        }
        let open = sink(&pending);
        pending.clear();
        open
    })?;
    Ok(open && sink(&pending))
}

/// A part of a snapshot's bytes as [`write_snapshot_with`] hands it on.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes between stations.
    Bytes(&'a [u8]),
    /// The `station`-th entry of contest `contest`'s `stations` list (the comma before it is in
    /// the [`Piece::Bytes`] before): its bytes, or `None` where the caller gave no
    /// [`StationResult`] for it and must know the bytes another way (from an earlier snapshot).
    Station { contest: usize, station: usize, bytes: Option<&'a [u8]> },
}

/// The snapshot of `results` at `checkpoint` as [`Piece`]s in order, with `stations[c]` stations
/// listed for contest `c` (a contest with none has no `stations` member) and the `j`-th taken
/// from `station(c, j)`: `results`' own station lists need not be filled, so a caller that knows
/// which stations changed since an earlier snapshot recomputes only those. With every station
/// given, the bytes are [`snapshot_json`]'s. `sink` returns `false` to stop (then `Ok(false)`).
pub fn write_snapshot_with<'r>(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    station: &dyn Fn(usize, usize) -> Option<&'r StationResult>,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<bool, SnapshotError> {
    let mut write = |c: usize, j: usize, keys: &StationKeys<'_>, out: &mut Vec<u8>| {
        station(c, j).map(|s| write_station(keys, s, out)).transpose().map(|s| s.is_some())
    };
    write_pieces(results, checkpoint, stations, &mut write, sink)
}

/// [`write_snapshot_with`] with each station's result computed when its turn comes and dropped
/// once its bytes are written (`station(c, j)` is called once per station, contest by contest,
/// in order), so the station lists of every contest are never held at once: at a million
/// stations they were 1.4 GB.
pub fn write_snapshot_stations(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    station: &mut dyn FnMut(usize, usize) -> Option<StationResult>,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<bool, SnapshotError> {
    let mut write = |c: usize, j: usize, keys: &StationKeys<'_>, out: &mut Vec<u8>| {
        station(c, j).map(|s| write_station(keys, &s, out)).transpose().map(|s| s.is_some())
    };
    write_pieces(results, checkpoint, stations, &mut write, sink)
}

/// Writes station `(c, j)`'s bytes into the buffer it is given, with the contest's member
/// order; `Ok(false)` when the caller has no result for it.
type WriteStation<'w> =
    dyn FnMut(usize, usize, &StationKeys<'_>, &mut Vec<u8>) -> Result<bool, CanonicalError> + 'w;

/// What [`write_snapshot_with`] and [`write_snapshot_stations`] share.
fn write_pieces(
    results: &Results,
    checkpoint: &Checkpoint,
    stations: &[usize],
    station: &mut WriteStation<'_>,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<bool, SnapshotError> {
    let mut open = true;
    let mut out = Vec::with_capacity(1 << 16);
    let mut one = Vec::with_capacity(1 << 12);
    write_object(&head(results, checkpoint), "contests", &mut out, |out| {
        out.push(b'[');
        for (i, c) in results.contests.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let head = contest_head(c);
            let n = stations.get(i).copied().unwrap_or(0);
            if n == 0 {
                canonical::extend_with_value(&head, out)?;
                continue;
            }
            let keys = StationKeys::of(c);
            write_object(&head, "stations", out, |out| {
                out.push(b'[');
                for j in 0..n {
                    if j > 0 {
                        out.push(b',');
                    }
                    open = sink(Piece::Bytes(out));
                    out.clear();
                    one.clear();
                    let given = station(i, j, &keys, &mut one)?;
                    let bytes = given.then_some(one.as_slice());
                    open = open && sink(Piece::Station { contest: i, station: j, bytes });
                    if !open {
                        return Ok(());
                    }
                }
                out.push(b']');
                Ok(())
            })?;
            if !open {
                return Ok(());
            }
        }
        out.push(b']');
        Ok(())
    })?;
    Ok(open && sink(Piece::Bytes(&out)))
}

/// Writes the object `members` plus one more member, `name`, whose value `write` appends, all in
/// canonical (RFC 8785) member order.
fn write_object(
    members: &Value,
    name: &str,
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), CanonicalError>,
) -> Result<(), CanonicalError> {
    let map = members.as_object().expect("snapshot parts are objects");
    let mut names: Vec<&str> = map.keys().map(String::as_str).chain([name]).collect();
    names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let mut write = Some(write);
    out.push(b'{');
    for (i, key) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        canonical::extend_with_value(&Value::String(key.to_string()), out)?;
        out.push(b':');
        match map.get(key) {
            Some(value) if key != name => canonical::extend_with_value(value, out)?,
            _ => (write.take().expect("one extra member"))(out)?,
        }
    }
    out.push(b'}');
    Ok(())
}

/// The snapshot as a JSON value (what [`snapshot_json`] writes, canonicalised).
pub fn snapshot_value(results: &Results, checkpoint: &Checkpoint) -> Value {
    let mut v = head(results, checkpoint);
    v["contests"] = results.contests.iter().map(contest).collect();
    v
}

/// Every member of the snapshot but `contests`.
fn head(results: &Results, checkpoint: &Checkpoint) -> Value {
    json!({
        "format": FORMAT,
        "checkpoint": {"size": checkpoint.size, "root": hex(&checkpoint.root)},
        "election": results.election,
        "entries": {
            "applied": results.entries,
            "protocols": results.protocols,
            "annulments": results.annulments_applied,
            "other": results.other_entries,
        },
        "disputed": results.disputed,
        "corrections": results.corrections.iter().map(|c| {
            let mut v = json!({
                "station": c.station, "contest": c.contest, "source": c.source.as_str(),
                "replaced": c.replaced, "by": c.by,
            });
            if let Some(signer) = &c.signer {
                v["signer"] = json!(signer);
            }
            match c.kind {
                CorrectionKind::Explicit(reason) => {
                    v["kind"] = json!("explicit");
                    v["reason"] = serde_json::to_value(reason.0).unwrap_or(Value::Null);
                }
                CorrectionKind::Implicit => v["kind"] = json!("implicit"),
            }
            v
        }).collect::<Vec<_>>(),
        "annulments": results.annulments.iter().map(|a| json!({
            "index": a.index, "station": a.station, "contest": a.contest, "reason": a.reason,
        })).collect::<Vec<_>>(),
        "ignored": results.ignored.iter().map(|i| json!({
            "index": i.index, "code": i.reason.code(), "message": i.reason.to_string(),
        })).collect::<Vec<_>>(),
        "warnings": results.warnings.iter().map(|w| json!({
            "index": w.index, "code": w.code, "message": w.message,
        })).collect::<Vec<_>>(),
    })
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn share(p: &Proportion) -> Value {
    json!({"num": p.num, "den": p.den, "bp": p.basis_points()})
}

fn keyed(ids: &[String], values: &[u64]) -> Value {
    Value::Object(ids.iter().zip(values).map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn contest(c: &ContestResults) -> Value {
    let mut v = contest_head(c);
    if !c.stations.is_empty() {
        v["stations"] = c.stations.iter().map(|s| station(c, s)).collect();
    }
    v
}

/// Every member of a contest but `stations`.
fn contest_head(c: &ContestResults) -> Value {
    let kind = match c.official.outcome {
        Outcome::PartyList(_) => "party_list",
        Outcome::SingleMember(_) => "single_member",
    };
    let mut progress = Map::new();
    for p in &c.progress {
        progress.insert(
            p.source.as_str().into(),
            json!({"stations": p.stations, "registered": p.registered}),
        );
    }
    if let Some(p) = c.progress.first() {
        progress
            .insert("of".into(), json!({"stations": p.of_stations, "registered": p.of_registered}));
    }
    json!({
        "id": c.contest,
        "kind": kind,
        "options": c.options,
        "lines": c.lines,
        "progress": progress,
        "official": view(c, &c.official),
        "preliminary": view(c, &c.preliminary),
    })
}

fn view(c: &ContestResults, v: &ViewResults) -> Value {
    let outcome = match &v.outcome {
        Outcome::PartyList(list) => list_outcome(list),
        Outcome::SingleMember(district) => district_outcome(district),
    };
    json!({"levels": v.levels.iter().map(|l| level(c, l)).collect::<Vec<_>>(), "outcome": outcome})
}

fn level(c: &ContestResults, l: &LevelTotals) -> Value {
    let mut v = json!({
        "level": l.level.kind(),
        "stations": l.stations,
        "registered": l.registered,
        "stations_counted": l.stations_counted,
        "registered_counted": l.registered_counted,
        "stations_annulled": l.stations_annulled,
        "registered_annulled": l.registered_annulled,
        "took_part": l.took_part,
        "valid": l.valid,
        "invalid": l.invalid,
        "against_all": l.against_all,
        "turnout": share(&l.turnout),
        "votes": keyed(&c.options, &l.votes),
        "lines": keyed(&c.lines, &l.lines),
    });
    if let Some(id) = l.level.id() {
        v["id"] = json!(id);
    }
    if !c.candidates.is_empty() && l.level.kind() == "nation" {
        let mut by_party: Map<String, Value> = Map::new();
        for ((party, candidate), votes) in c.candidates.iter().zip(&l.preferences) {
            let entry = by_party.entry(party.clone()).or_insert_with(|| json!({}));
            entry[candidate] = json!(votes);
        }
        v["preferences"] = Value::Object(by_party);
    }
    v
}

/// The order in which a contest's `votes` and `lines` members are written: the canonical
/// (UTF-16) order of the option and line ids, each id once with the position of its last
/// occurrence (as the JSON object [`keyed`] builds keeps the last value of a repeated id).
/// Worked out once per contest instead of once per station.
struct StationKeys<'c> {
    options: Vec<(&'c str, Vec<usize>)>,
    lines: Vec<(&'c str, Vec<usize>)>,
}

impl<'c> StationKeys<'c> {
    fn of(c: &'c ContestResults) -> StationKeys<'c> {
        StationKeys { options: key_order(&c.options), lines: key_order(&c.lines) }
    }
}

/// `ids` sorted canonically, each distinct id with the positions it has in `ids` (ascending).
fn key_order(ids: &[String]) -> Vec<(&str, Vec<usize>)> {
    let mut order: Vec<(&str, Vec<usize>)> = Vec::with_capacity(ids.len());
    let mut positions: Vec<usize> = (0..ids.len()).collect();
    positions.sort_by(|&a, &b| ids[a].encode_utf16().cmp(ids[b].encode_utf16()).then(a.cmp(&b)));
    for p in positions {
        match order.last_mut() {
            Some((id, at)) if *id == ids[p] => at.push(p),
            _ => order.push((&ids[p], vec![p])),
        }
    }
    order
}

/// Appends the canonical bytes of [`station`]'s value for `s`, written directly (no
/// `serde_json::Value` per station: that was a quarter of `sverka results`' CPU at 25,000
/// stations). `tests/snapshot_station_bytes.rs` holds the two to the same bytes.
fn write_station(
    keys: &StationKeys<'_>,
    s: &StationResult,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    out.extend_from_slice(b"{\"abroad\":");
    out.extend_from_slice(if s.abroad { b"true" } else { b"false" });
    out.extend_from_slice(b",\"annulled_by\":");
    write_ints(&s.annulled_by, out)?;
    out.extend_from_slice(b",\"district\":");
    canonical::write_string(&s.district, out);
    out.extend_from_slice(b",\"history\":[");
    for (i, h) in s.slots.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"current\":");
        match h.current {
            Some(index) => write_int(index, out)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"entries\":");
        write_ints(&h.entries, out)?;
        if let Some(signer) = &h.signer {
            out.extend_from_slice(b",\"signer\":");
            canonical::write_string(signer, out);
        }
        out.extend_from_slice(b",\"source\":");
        canonical::write_string(h.source.as_str(), out);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"id\":");
    canonical::write_string(&s.station, out);
    out.extend_from_slice(b",\"official\":");
    write_counts(keys, &s.official, out)?;
    out.extend_from_slice(b",\"preliminary\":");
    write_counts(keys, &s.preliminary, out)?;
    out.extend_from_slice(b",\"region\":");
    canonical::write_string(&s.region, out);
    out.extend_from_slice(b",\"registered\":");
    write_int(s.registered, out)?;
    out.push(b'}');
    Ok(())
}

/// A station's `official` or `preliminary` member (see [`write_station`]).
fn write_counts(
    keys: &StationKeys<'_>,
    counts: &Option<StationCounts>,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    let Some(k) = counts else {
        out.extend_from_slice(b"null");
        return Ok(());
    };
    out.extend_from_slice(b"{\"against_all\":");
    write_int(k.against_all, out)?;
    out.extend_from_slice(b",\"index\":");
    write_int(k.index, out)?;
    out.extend_from_slice(b",\"invalid\":");
    write_int(k.invalid, out)?;
    out.extend_from_slice(b",\"lines\":");
    write_keyed(&keys.lines, &k.lines, out)?;
    out.extend_from_slice(b",\"source\":");
    canonical::write_string(k.source.as_str(), out);
    out.extend_from_slice(b",\"took_part\":");
    write_int(k.took_part, out)?;
    out.extend_from_slice(b",\"valid\":");
    write_int(k.valid, out)?;
    out.extend_from_slice(b",\"votes\":");
    write_keyed(&keys.options, &k.votes, out)?;
    out.push(b'}');
    Ok(())
}

/// [`keyed`]'s object written directly, members in `order` (see [`key_order`]).
fn write_keyed(
    order: &[(&str, Vec<usize>)],
    values: &[u64],
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    out.push(b'{');
    let mut first = true;
    for (id, positions) in order {
        // `keyed` zips ids with values: an id past the values' end is not a member.
        let Some(&p) = positions.iter().rev().find(|&&p| p < values.len()) else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        canonical::write_string(id, out);
        out.push(b':');
        write_int(values[p], out)?;
    }
    out.push(b'}');
    Ok(())
}

/// An integer as RFC 8785 writes it, refused (as the `Value` path refuses it) beyond 2^53 − 1.
fn write_int(n: u64, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
    if n > MAX_SAFE_INTEGER {
        return Err(CanonicalError::OutOfRange(n.to_string()));
    }
    canonical::write_u64(n, out);
    Ok(())
}

/// An array of integers, each as [`write_int`] writes it.
fn write_ints(ns: &[u64], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    out.push(b'[');
    for (i, &n) in ns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_int(n, out)?;
    }
    out.push(b']');
    Ok(())
}

fn station(c: &ContestResults, s: &StationResult) -> Value {
    let counts = |counts: &Option<StationCounts>| match counts {
        None => Value::Null,
        Some(k) => json!({
            "source": k.source.as_str(), "index": k.index, "took_part": k.took_part,
            "valid": k.valid, "invalid": k.invalid, "against_all": k.against_all,
            "votes": keyed(&c.options, &k.votes), "lines": keyed(&c.lines, &k.lines),
        }),
    };
    json!({
        "id": s.station,
        "district": s.district,
        "region": s.region,
        "abroad": s.abroad,
        "registered": s.registered,
        "annulled_by": s.annulled_by,
        "official": counts(&s.official),
        "preliminary": counts(&s.preliminary),
        "history": s.slots.iter().map(|h| {
            let mut v = json!({"source": h.source.as_str(), "entries": h.entries, "current": h.current});
            if let Some(signer) = &h.signer {
                v["signer"] = json!(signer);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

fn base_name(base: ThresholdBase) -> &'static str {
    match base {
        ThresholdBase::TookPart => "took_part",
        ThresholdBase::Valid => "valid",
        ThresholdBase::Registered => "registered",
    }
}

/// ```text
/// LIST_OUTCOME = {"status": "no_results" | "no_list_passed" | "allocated" | "error", "error"?,
///   "seats", "threshold": {"num", "den", "base": "took_part" | "valid" | "registered"},
///   "threshold_base", "regional_threshold": {"num", "den"} | null,
///   "method"?, "quota"?: "n/d", "seat_margin"?: SEAT_MARGIN, "ties": [TIE],
///   "parties": [{"party", "votes", "share": SHARE, "passes_national", "qualified", "seats",
///                "regions": [{"region", "votes", "base", "share", "passes"}],
///                "flip_fixed_base"?, "flip_base_moves"?,
///                "elected": [{"candidate", "votes", "women_rule"}], "unfilled"}],
///   "outlook": {"in_play": IN_PLAY, "seats": "no_results" | "decided" | "qualification_open" | "open",
///               "parties": [{"party", "national": OUTLOOK, "regions": [{"region", ...OUTLOOK}]}]}}
/// OUTLOOK  = {"passes", "decided", "ballots_to_flip" (null: nothing can flip it)}
/// IN_PLAY  = {"outstanding": {"stations", "registered", "ballots"},
///             "disputed": {"stations", "registered", "ballots"}, "ballots": W}
/// SEAT_MARGIN = {"kind": "divisor", "last", "last_quotient", "runner_up", "runner_up_quotient",
///                "runner_up_needs", "last_can_lose"}
///             | {"kind": "remainder", "last", "last_remainder", "runner_up",
///                "runner_up_remainder", "gap", "runner_up_needs_quota_fixed"}
/// TIE = {"context", "places", "tied": [...], "winners": [...], "tickets": [{"id", "ticket"}]}
/// ```
pub fn list_outcome(o: &ListOutcome) -> Value {
    let status = match &o.status {
        ListStatus::NoResults => "no_results",
        ListStatus::NoListPassed => "no_list_passed",
        ListStatus::Allocated => "allocated",
        ListStatus::Error(_) => "error",
    };
    let mut ties: Vec<Value> = Vec::new();
    let mut v = json!({
        "status": status,
        "seats": o.seats,
        "threshold": {"num": o.threshold.0, "den": o.threshold.1, "base": base_name(o.base_kind)},
        "threshold_base": o.threshold_base,
        "regional_threshold": o.regional_threshold.map(|(num, den)| json!({"num": num, "den": den})),
        "parties": o.parties.iter().map(|p| {
            let mut v = json!({
                "party": p.party, "votes": p.votes, "share": share(&p.share),
                "passes_national": p.passes_national, "qualified": p.qualified, "seats": p.seats,
                "regions": p.regions.iter().map(|r| json!({
                    "region": r.region, "votes": r.votes, "base": r.base,
                    "share": share(&r.share), "passes": r.passes,
                })).collect::<Vec<_>>(),
                "elected": p.elected.iter().map(|e| json!({
                    "candidate": e.candidate, "votes": e.votes, "women_rule": e.women_rule,
                })).collect::<Vec<_>>(),
                "unfilled": p.unfilled,
            });
            if let Some(flip) = p.flip_fixed_base {
                v["flip_fixed_base"] = json!(i64::try_from(flip).unwrap_or(i64::MAX));
            }
            if let Some(flip) = p.flip_base_moves {
                v["flip_base_moves"] = json!(i64::try_from(flip).unwrap_or(i64::MAX));
            }
            v
        }).collect::<Vec<_>>(),
        "outlook": {
            "in_play": in_play(&o.outlook.in_play),
            "seats": o.outlook.seats.as_str(),
            "parties": o.outlook.parties.iter().map(|p| json!({
                "party": p.party,
                "national": outlook(&p.national),
                "regions": p.regions.iter().map(|(region, o)| {
                    let mut v = outlook(o);
                    v["region"] = json!(region);
                    v
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        },
    });
    if let ListStatus::Error(message) = &o.status {
        v["error"] = json!(message);
    }
    if let Some(allocation) = &o.allocation {
        v["method"] = json!(allocation.method().name());
        if let Some(quota) = allocation.quota() {
            v["quota"] = json!(quota.to_string());
        }
        if let Some(margin) = allocation.seat_margin() {
            v["seat_margin"] = seat_margin(margin);
        }
        ties.extend(allocation.ties().iter().map(tie));
    }
    ties.extend(o.candidate_ties.iter().map(tie));
    v["ties"] = Value::Array(ties);
    v
}

fn outlook(o: &ThresholdOutlook) -> Value {
    json!({"passes": o.passes, "decided": o.decided, "ballots_to_flip": o.ballots_to_flip})
}

fn in_play(p: &InPlay) -> Value {
    json!({
        "outstanding": {
            "stations": p.outstanding_stations,
            "registered": p.outstanding_registered,
            "ballots": p.outstanding_ballots,
        },
        "disputed": {
            "stations": p.disputed_stations,
            "registered": p.disputed_registered,
            "ballots": p.disputed_ballots,
        },
        "ballots": p.ballots_in_play(),
    })
}

fn int(x: u128) -> Value {
    json!(u64::try_from(x).unwrap_or(u64::MAX))
}

fn seat_margin(m: &SeatMargin) -> Value {
    match m {
        SeatMargin::Divisor {
            last,
            last_quotient,
            runner_up,
            runner_up_quotient,
            runner_up_needs,
            last_can_lose,
        } => {
            json!({
                "kind": "divisor", "last": last.as_str(), "last_quotient": last_quotient.to_string(),
                "runner_up": runner_up.as_str(), "runner_up_quotient": runner_up_quotient.to_string(),
                "runner_up_needs": runner_up_needs, "last_can_lose": last_can_lose,
            })
        }
        SeatMargin::Remainder {
            last,
            last_remainder,
            runner_up,
            runner_up_remainder,
            gap,
            runner_up_needs_quota_fixed,
        } => json!({
            "kind": "remainder", "last": last.as_str(), "last_remainder": last_remainder.to_string(),
            "runner_up": runner_up.as_str(), "runner_up_remainder": runner_up_remainder.to_string(),
            "gap": gap.to_string(), "runner_up_needs_quota_fixed": int(*runner_up_needs_quota_fixed),
        }),
    }
}

fn tie(t: &TieBreak) -> Value {
    json!({
        "context": t.context(),
        "places": t.places(),
        "tied": t.tied(),
        "winners": t.winners(),
        "tickets": t.tickets().iter().map(|k| json!({"id": k.id(), "ticket": k.ticket_hex()})).collect::<Vec<_>>(),
    })
}

/// ```text
/// DISTRICT_OUTCOME = {"district", "status": "no_results" | "elected" | "failed",
///   elected: "winner", "votes", "lead", "lead_over_against_all", "tie": TIE | null;
///   failed:  "reason": "against_all_ahead" | "no_votes", "leader_votes", "against_all";
///   "outlook": {"in_play": IN_PLAY, "decided"}}
/// ```
pub fn district_outcome(d: &DistrictResult) -> Value {
    let mut v = match &d.outcome {
        None => json!({"status": "no_results"}),
        Some(DistrictOutcome::Elected { winner, votes, lead, lead_over_against_all, tie: lot }) => {
            json!({
                "status": "elected", "winner": winner.as_str(), "votes": votes, "lead": lead,
                "lead_over_against_all": lead_over_against_all, "tie": lot.as_ref().map(tie),
            })
        }
        Some(DistrictOutcome::Failed { reason, leader_votes, against_all }) => json!({
            "status": "failed",
            "reason": match reason {
                FailureReason::AgainstAllAhead => "against_all_ahead",
                FailureReason::NoVotes => "no_votes",
            },
            "leader_votes": leader_votes, "against_all": against_all,
        }),
    };
    v["district"] = json!(d.district);
    v["outlook"] = json!({"in_play": in_play(&d.outlook.in_play), "decided": d.outlook.decided});
    v
}
