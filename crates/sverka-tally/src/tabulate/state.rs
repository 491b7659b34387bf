//! A [`Tally`]'s state as bytes (`sverka-tally-state/v2`), so a verifier can stop after N entries
//! and fold in entry N + 1 later without replaying the first N (`sverka verify --state`).
//!
//! Only what [`Tally::apply`] changes is written; what [`Tally::new`] derives from the election
//! (station and contest indexes) is rebuilt from the election on load, and the counts of stations
//! and contests are checked against it. The layout (docs/formats.md, "`sverka verify --state`"):
//! the line `sverka-tally-state/v2\n`, then integers as unsigned LEB128 (7 bits a byte, low
//! first, the shortest form only; most counts fit in one or two bytes), bytes as themselves, lists
//! as a length and their items, strings as a list of UTF-8 bytes, the applied-index bitset as
//! little-endian `u64` words, in the order [`Tally::save_state`] writes them. Loading
//! [`Tally::save_state`]'s bytes gives a tally whose every later result is the one the saved tally
//! would give. (`v1` wrote every integer at its full width: 348 MB for 250,000 stations.)

use sverka_model::names::CorrectionReason;
use sverka_model::Source;

use super::{
    Counts, IgnoreReason, Ignored, Record, Slot, SlotCounts, Tally, UnitAgg, Version, ViewAgg,
    Warning, EMPTY_RECORD,
};
use sverka_model::election::Election;

/// The first line of the bytes.
pub const TALLY_STATE_FORMAT: &str = "sverka-tally-state/v2";

/// Why saved tally bytes cannot be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TallyStateError {
    #[error("not a {TALLY_STATE_FORMAT} tally state (first line {0:?})")]
    Format(String),
    #[error("tally state: the bytes end early")]
    Truncated,
    #[error("tally state: {0}")]
    Invalid(String),
    #[error("tally state: saved for {what} {saved}, but the election has {actual}")]
    Mismatch { what: &'static str, saved: String, actual: String },
}

/// A tally state's bytes that [`Tally::check_state`] checked as far as it can without the
/// election.
#[derive(Debug)]
pub struct CheckedState {
    bytes: Vec<u8>,
    election_id: String,
    n_stations: u64,
    /// Where each record starts, then where the records end.
    records: Vec<usize>,
    /// Per record, whether it has no corrections (left in the bytes, decoded when used).
    lazy: Vec<bool>,
}

impl CheckedState {
    /// The length of the bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The offset [`ScannedState::compact`] gives a record it did not keep: [`decode_record`] and
/// [`Tally::save_state_to`] refuse (panic) rather than read anything in its place.
const UNKEPT: usize = usize::MAX;

/// How many bytes [`scan_state`] reads at a time (its window grows only for a record, or a
/// header, longer than a quarter of this).
pub const SCAN_WINDOW: usize = 1 << 20;

/// A tally state's bytes checked as they were read by [`scan_state`], none of them kept but its
/// part after the records (contests' sums, signers, applied indices, lists: small): where each
/// record lies in the bytes and whether it has corrections. [`ScannedState::compact`] then
/// reads again only the records a caller needs, into a [`CheckedState`] that holds only those.
#[derive(Debug)]
pub struct ScannedState {
    election_id: String,
    n_stations: u64,
    /// Where each record starts in the bytes, then where the records end.
    records: Vec<usize>,
    /// Per record, whether it has no corrections.
    lazy: Vec<bool>,
    /// The bytes after the records.
    tail: Vec<u8>,
}

impl ScannedState {
    /// How many records (station-contests) the state has.
    pub fn n_records(&self) -> usize {
        self.lazy.len()
    }

    /// Where record `r` starts in the bytes.
    pub fn record_start(&self, r: usize) -> usize {
        self.records[r]
    }

    /// Where the records end in the bytes (the tail after them is kept).
    pub fn records_end(&self) -> usize {
        self.records[self.lazy.len()]
    }

    /// A [`CheckedState`] of the records `keep` names and of every record with corrections
    /// (those are decoded when the state is loaded), in order, each read by `fetch(at, buffer)`
    /// — which must fill `buffer` with the bytes found at offset `at` when the state was
    /// scanned (the caller checks they are, by hash) — and of the part after the records. A
    /// tally loaded from it can fold in entries of the kept records' stations and give their
    /// results and every total; it refuses (panics) to decode any other record or to save
    /// itself ([`Tally::save_state_to`]). `keep` of every record gives a state whole.
    pub fn compact(
        self,
        keep: &dyn Fn(usize) -> bool,
        fetch: &mut dyn FnMut(usize, &mut [u8]) -> std::io::Result<()>,
    ) -> std::io::Result<CheckedState> {
        let ScannedState { election_id, n_stations, records, lazy, tail } = self;
        let mut bytes = Vec::new();
        let mut offsets = Vec::with_capacity(records.len());
        for (r, &plain) in lazy.iter().enumerate() {
            if plain && !keep(r) {
                offsets.push(UNKEPT);
                continue;
            }
            let (at, end) = (records[r], records[r + 1]);
            offsets.push(bytes.len());
            let start = bytes.len();
            bytes.resize(start + (end - at), 0);
            fetch(at, &mut bytes[start..])?;
        }
        offsets.push(bytes.len());
        bytes.extend_from_slice(&tail);
        Ok(CheckedState { bytes, election_id, n_stations, records: offsets, lazy })
    }
}

/// The bytes of [`scan_state`]'s source not yet checked, read a window at a time.
struct Scan<'r> {
    read: &'r mut dyn std::io::Read,
    /// Bytes read, from `start` on in the source; `buf[pos..]` not yet checked.
    buf: Vec<u8>,
    pos: usize,
    start: usize,
    /// The source's length (the bounds on lists are those of the whole bytes).
    total: usize,
    eof: bool,
    /// How many bytes are read at a time ([`SCAN_WINDOW`]).
    window: usize,
}

impl Scan<'_> {
    /// Moves what is not yet checked to the front and reads on until the window is full (twice
    /// as full as it was if `grow`) or the source ends.
    fn refill(&mut self, grow: bool) -> std::io::Result<()> {
        self.buf.drain(..self.pos);
        self.start += self.pos;
        self.pos = 0;
        let window = if grow { (2 * self.buf.len()).max(self.window) } else { self.window };
        while !self.eof && self.buf.len() < window {
            let have = self.buf.len();
            self.buf.resize(window, 0);
            match self.read.read(&mut self.buf[have..]) {
                Ok(0) => {
                    self.buf.truncate(have);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(have + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(have),
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The offset in the source of the next byte to check.
    fn at(&self) -> usize {
        self.start + self.pos
    }

    /// `check` of the bytes from the next one on, as it would give on the whole rest of the
    /// source: a check that succeeds on a prefix succeeds alike on more bytes (it reads only
    /// what it passes, and lists are bounded by the bytes left in the whole source), and one
    /// that fails is tried again on more bytes until the source has no more.
    fn check<T>(
        &mut self,
        check: &mut dyn FnMut(&mut In<'_>, usize) -> Result<T, TallyStateError>,
    ) -> std::io::Result<Result<T, TallyStateError>> {
        loop {
            if !self.eof && self.buf.len() - self.pos < self.window / 4 {
                self.refill(false)?;
            }
            let left = self.total.saturating_sub(self.at());
            let mut input = In(&self.buf[self.pos..]);
            match check(&mut input, left) {
                Ok(value) => {
                    self.pos = self.buf.len() - input.0.len();
                    return Ok(Ok(value));
                }
                Err(e) if self.eof => return Ok(Err(e)),
                Err(_) => self.refill(true)?,
            }
        }
    }
}

/// [`Tally::check_state`]'s checks of a state's bytes read from `read` (`total` bytes long)
/// [`SCAN_WINDOW`] bytes at a time, keeping of them only the part after the records: the same
/// result for the same bytes, but a [`ScannedState`]. The source is read to its end whatever is
/// found (so that a caller hashing it has the hash of every byte). `Err` only if reading fails.
pub fn scan_state(
    read: &mut dyn std::io::Read,
    total: usize,
) -> std::io::Result<Result<ScannedState, TallyStateError>> {
    scan_state_by(read, total, SCAN_WINDOW)
}

/// [`scan_state`] reading `window` bytes at a time (at least 64; tests use small windows so
/// that records lie across them).
pub fn scan_state_by(
    read: &mut dyn std::io::Read,
    total: usize,
    window: usize,
) -> std::io::Result<Result<ScannedState, TallyStateError>> {
    let window = window.max(64);
    let mut scan = Scan { read, buf: Vec::new(), pos: 0, start: 0, total, eof: false, window };
    let scanned = scan_records(&mut scan)?;
    let scanned = scanned.and_then(|(election_id, n_stations, records, lazy)| {
        if scan.at() > total {
            return Err(TallyStateError::Truncated);
        }
        Ok((election_id, n_stations, records, lazy))
    });
    let mut tail = Vec::new();
    if scanned.is_ok() {
        tail.extend_from_slice(&scan.buf[scan.pos..]);
    }
    // The rest is read (and hashed by the caller) whatever was found.
    loop {
        let mut chunk = [0u8; 1 << 16];
        match scan.read.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if scanned.is_ok() => tail.extend_from_slice(&chunk[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(scanned.map(|(election_id, n_stations, records, lazy)| ScannedState {
        election_id,
        n_stations,
        records,
        lazy,
        tail,
    }))
}

type Scanned = (String, u64, Vec<usize>, Vec<bool>);

/// The head line, the election id, the counts and every record, as [`Tally::check_state`]
/// checks them.
fn scan_records(scan: &mut Scan<'_>) -> std::io::Result<Result<Scanned, TallyStateError>> {
    scan.refill(false)?;
    let format = TALLY_STATE_FORMAT.as_bytes();
    if scan.buf.get(..=format.len()) != Some(&[format, b"\n"].concat()[..]) {
        // The first line, as much of it as is shown.
        let line = scan.buf.split(|&b| b == b'\n').next().unwrap_or_default();
        if line == format {
            // The head alone, without its newline.
            return Ok(Err(TallyStateError::Truncated));
        }
        let shown = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
        return Ok(Err(TallyStateError::Format(shown)));
    }
    scan.pos = format.len() + 1;
    let head = scan.check(&mut |input, left| {
        let before = input.0.len();
        let n = input.u64()?;
        if n > left.saturating_sub(before - input.0.len()) as u64 {
            return Err(TallyStateError::Truncated);
        }
        let id = String::from_utf8(input.take(n as usize)?.to_vec())
            .map_err(|_| TallyStateError::Invalid("a string is not UTF-8".into()))?;
        let n_stations = input.u64()?;
        let n = input.u64()?;
        if n > (left.saturating_sub(before - input.0.len()) / 3) as u64 {
            return Err(TallyStateError::Truncated);
        }
        Ok((id, n_stations, n as usize))
    })?;
    let (election_id, n_stations, n_records) = match head {
        Ok(head) => head,
        Err(e) => return Ok(Err(e)),
    };
    let mut records = Vec::with_capacity(n_records + 1);
    let mut lazy = Vec::with_capacity(n_records);
    for _ in 0..n_records {
        records.push(scan.at());
        match scan.check(&mut |input, _| check_record(input))? {
            Ok(plain) => lazy.push(plain),
            Err(e) => return Ok(Err(e)),
        }
    }
    records.push(scan.at());
    Ok(Ok((election_id, n_stations, records, lazy)))
}

/// What [`Tally::load_state_owned`] loads: a state's bytes, checked or not yet, and with them
/// perhaps the new tally they are loaded into, made ahead ([`NewTally`]).
#[derive(Debug)]
pub enum StateBytes {
    Unchecked(Vec<u8>),
    Checked(CheckedState),
    Ahead(CheckedState, Box<NewTally>),
}

/// [`Tally::new`] of an election, made ahead of loading a state into it (so a caller can make it
/// while another thread still reads and checks the state's bytes): used by
/// [`Tally::load_state_owned`] only for that very election (the one at the same address), else
/// a tally is made anew there.
#[derive(Debug)]
pub struct NewTally {
    tally: Tally,
    election: usize,
}

impl NewTally {
    pub fn new(election: &Election) -> Box<NewTally> {
        let election_at = election as *const Election as usize;
        Box::new(NewTally { tally: Tally::new(election), election: election_at })
    }

    /// The records (station-contests, numbered as a state's bytes order them) of the station at
    /// position `station` of the election: those a protocol or an annulment naming it may read
    /// or change. Empty for a position beyond the election's stations.
    pub fn station_records(&self, station: usize) -> std::ops::Range<usize> {
        match self.tally.stations.get(station) {
            Some(info) => info.first as usize..info.first as usize + usize::from(info.n),
            None => 0..0,
        }
    }
}

impl From<Vec<u8>> for StateBytes {
    fn from(bytes: Vec<u8>) -> StateBytes {
        StateBytes::Unchecked(bytes)
    }
}

impl From<CheckedState> for StateBytes {
    fn from(checked: CheckedState) -> StateBytes {
        StateBytes::Checked(checked)
    }
}

/// Every warning code [`Tally`] uses (a warning's code is a `&'static str`).
const WARNING_CODES: [&str; 7] = [
    "tally.supersedes_later",
    "tally.unknown_disputed_station",
    "tally.supersedes_unknown",
    "tally.unknown_line",
    "tally.unknown_option",
    "tally.negative_took_part",
    "tally.unknown_candidate",
];

const REASONS: [CorrectionReason; 5] = [
    CorrectionReason::KeyingError,
    CorrectionReason::Recount,
    CorrectionReason::CourtOrder,
    CorrectionReason::LateProtocol,
    CorrectionReason::CommissionDecision,
];

/// The bytes being written, handed to the sink a megabyte at a time ([`Out::spill`]) so a
/// large tally's state is never held whole.
struct Out<'w> {
    buf: Vec<u8>,
    sink: &'w mut dyn std::io::Write,
    written: u64,
}

impl Out<'_> {
    fn spill(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= 1 << 20 {
            self.finish()?;
        }
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.sink.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.u64(u64::from(v));
    }
    fn u32(&mut self, v: u32) {
        self.u64(u64::from(v));
    }
    /// Unsigned LEB128.
    fn u64(&mut self, v: u64) {
        push_leb128(&mut self.buf, v);
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn u64s(&mut self, v: &[u64]) {
        self.len(v.len());
        for &x in v {
            self.u64(x);
        }
    }
    fn pair(&mut self, (a, b): (u64, u64)) {
        self.u64(a);
        self.u64(b);
    }
}

/// Appends `v` as unsigned LEB128 in its shortest form ([`leb128_len`] bytes).
pub(super) fn push_leb128(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// How many bytes [`push_leb128`] writes for `v`.
pub(super) fn leb128_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(super) struct In<'a>(pub(super) &'a [u8]);

impl In<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn take(&mut self, n: usize) -> Result<&[u8], TallyStateError> {
        if self.0.len() < n {
            return Err(TallyStateError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, TallyStateError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, TallyStateError> {
        let v = self.u64()?;
        u16::try_from(v).map_err(|_| TallyStateError::Invalid(format!("{v} does not fit 16 bits")))
    }
    /// One-byte integers (most counts) read straight; anything else by [`In::u32_slow`].
    #[inline]
    pub(super) fn u32(&mut self) -> Result<u32, TallyStateError> {
        match self.0 {
            [b, rest @ ..] if *b < 0x80 => {
                self.0 = rest;
                Ok(u32::from(*b))
            }
            // Two bytes, the second not 0 (so the shortest form): at most 14 bits.
            [b0, b1, rest @ ..] if *b1 < 0x80 && *b1 != 0 => {
                self.0 = rest;
                Ok(u32::from(*b0 & 0x7f) | u32::from(*b1) << 7)
            }
            _ => self.u32_slow(),
        }
    }
    fn u32_slow(&mut self) -> Result<u32, TallyStateError> {
        let v = self.u64_slow()?;
        u32::try_from(v).map_err(|_| TallyStateError::Invalid(format!("{v} does not fit 32 bits")))
    }
    /// Passes `n` integers of 32 bits, checked as [`In::u32`] checks them; eight one-byte
    /// integers at a time where there are (most counts at a station are under 128).
    fn skip_u32s(&mut self, mut n: usize) -> Result<(), TallyStateError> {
        while n > 0 {
            if n >= 8 {
                if let Some(word) = self.0.get(..8) {
                    let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                    if word & 0x8080_8080_8080_8080 == 0 {
                        self.0 = &self.0[8..];
                        n -= 8;
                        continue;
                    }
                }
            }
            self.u32()?;
            n -= 1;
        }
        Ok(())
    }
    /// Unsigned LEB128 in its shortest form; one-byte integers read straight.
    #[inline]
    fn u64(&mut self) -> Result<u64, TallyStateError> {
        match self.0 {
            [b, rest @ ..] if *b < 0x80 => {
                self.0 = rest;
                Ok(u64::from(*b))
            }
            _ => self.u64_slow(),
        }
    }
    /// Unsigned LEB128 in its shortest form.
    fn u64_slow(&mut self) -> Result<u64, TallyStateError> {
        let mut v = 0u64;
        for k in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if k == 9 && bits > 1 {
                return Err(TallyStateError::Invalid("an integer over 64 bits".into()));
            }
            v |= bits << (7 * k);
            if byte & 0x80 == 0 {
                if byte == 0 && k > 0 {
                    return Err(TallyStateError::Invalid(
                        "an integer not in its shortest form".into(),
                    ));
                }
                return Ok(v);
            }
        }
        Err(TallyStateError::Invalid("an integer over 64 bits".into()))
    }
    /// A list length, bounded by the bytes left (each item takes at least `min` bytes).
    fn len(&mut self, min: usize) -> Result<usize, TallyStateError> {
        let n = self.u64()?;
        if n > (self.0.len() / min.max(1)) as u64 {
            return Err(TallyStateError::Truncated);
        }
        Ok(n as usize)
    }
    /// Little-endian `u64` words (the applied-index bitset: dense, so not LEB128).
    fn words(&mut self) -> Result<Vec<u64>, TallyStateError> {
        let n = self.len(8)?;
        let bytes = self.take(n * 8)?;
        Ok(bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8"))).collect())
    }
    fn str(&mut self) -> Result<String, TallyStateError> {
        let n = self.len(1)?;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| TallyStateError::Invalid("a string is not UTF-8".into()))
    }
    fn u64s(&mut self) -> Result<Vec<u64>, TallyStateError> {
        let n = self.len(1)?;
        (0..n).map(|_| self.u64()).collect()
    }
    fn pair(&mut self) -> Result<(u64, u64), TallyStateError> {
        Ok((self.u64()?, self.u64()?))
    }
}

fn source_byte(source: Source) -> u8 {
    super::source_slot(source) as u8
}

fn source_of(byte: u8) -> Result<Source, TallyStateError> {
    Source::ALL
        .into_iter()
        .find(|&s| source_byte(s) == byte)
        .ok_or_else(|| TallyStateError::Invalid(format!("source {byte}")))
}

fn reason_byte(reason: CorrectionReason) -> u8 {
    REASONS.iter().position(|&r| r == reason).expect("every reason is listed") as u8
}

fn reason_of(byte: u8) -> Result<CorrectionReason, TallyStateError> {
    REASONS
        .get(usize::from(byte))
        .copied()
        .ok_or_else(|| TallyStateError::Invalid(format!("correction reason {byte}")))
}

fn write_view(out: &mut Out<'_>, view: &ViewAgg) {
    out.u64(view.stations);
    out.u64(view.registered);
    out.u64s(&view.values);
    out.u64s(&view.preferences);
}

fn read_view(input: &mut In<'_>) -> Result<ViewAgg, TallyStateError> {
    Ok(ViewAgg {
        stations: input.u64()?,
        registered: input.u64()?,
        values: input.u64s()?,
        preferences: input.u64s()?,
    })
}

fn write_record(out: &mut Out<'_>, record: &Record, saved: &[u8]) {
    out.len(record.slots.len());
    for slot in &record.slots {
        out.u8(source_byte(slot.source));
        out.u32(slot.signer);
        out.len(slot.versions.len());
        for version in slot.versions.iter() {
            out.u64(version.index);
            match version.supersedes {
                None => out.u8(0),
                Some((index, reason)) => {
                    out.u8(1);
                    out.u64(index);
                    out.u8(reason_byte(reason));
                }
            }
        }
        match &slot.counts {
            // The bytes read were checked to be these very numbers' encoding.
            SlotCounts::Saved { at, end } => out.buf.extend_from_slice(&saved[*at..*end]),
            SlotCounts::Decoded(counts) => {
                out.len(counts.values.len());
                out.buf.extend_from_slice(counts.values.encoded());
                out.len(counts.preferences.len());
                out.buf.extend_from_slice(counts.preferences.encoded());
            }
        }
    }
    out.u64s(&record.superseded);
    out.u64s(&record.annulled);
}

/// A record; its slots' numbers are checked and left where they are (`SlotCounts::Saved`, at
/// offsets into the `total` bytes of which `input` is the rest).
fn read_record(input: &mut In<'_>, total: usize) -> Result<Record, TallyStateError> {
    let n_slots = input.len(5)?;
    let mut slots = Vec::with_capacity(n_slots);
    for _ in 0..n_slots {
        let source = source_of(input.u8()?)?;
        let signer = input.u32()?;
        let n_versions = input.len(2)?;
        let mut versions = Vec::with_capacity(n_versions);
        for _ in 0..n_versions {
            let index = input.u64()?;
            let supersedes = match input.u8()? {
                0 => None,
                1 => Some((input.u64()?, reason_of(input.u8()?)?)),
                other => return Err(TallyStateError::Invalid(format!("supersedes tag {other}"))),
            };
            versions.push(Version { index, supersedes });
        }
        let at = total - input.0.len();
        check_counts(input)?;
        let counts = SlotCounts::Saved { at, end: total - input.0.len() };
        slots.push(Slot { source, signer, versions: versions.into(), counts });
    }
    Ok(Record { slots, superseded: input.u64s()?, annulled: input.u64s()? })
}

/// Checks a record as [`read_record`] reads it (the same checks, in the same order), keeping
/// nothing; `true` if it has no corrections (no slot with two versions, nothing superseded).
fn check_record(input: &mut In<'_>) -> Result<bool, TallyStateError> {
    let n_slots = input.len(5)?;
    let mut plain = true;
    for _ in 0..n_slots {
        source_of(input.u8()?)?;
        input.u32()?;
        let n_versions = input.len(2)?;
        plain &= n_versions < 2;
        for _ in 0..n_versions {
            input.u64()?;
            match input.u8()? {
                0 => {}
                1 => {
                    input.u64()?;
                    reason_of(input.u8()?)?;
                }
                other => return Err(TallyStateError::Invalid(format!("supersedes tag {other}"))),
            }
        }
        check_counts(input)?;
    }
    for list in 0..2 {
        let n = input.len(1)?;
        plain &= list == 1 || n == 0;
        for _ in 0..n {
            input.u64()?;
        }
    }
    Ok(plain)
}

/// The record at `at` in `saved`, which [`check_record`] checked.
///
/// # Panics
/// If the record was not kept ([`ScannedState::compact`]).
pub(super) fn decode_record(saved: &[u8], at: usize) -> Record {
    assert!(at != UNKEPT, "a record of the loaded state that was not kept is needed");
    read_record(&mut In(&saved[at..]), saved.len())
        .expect("checked when the saved state was loaded")
}

/// Checks one slot's numbers as [`write_record`] writes them (each fits 32 bits, in its shortest
/// form), keeping nothing.
fn check_counts(input: &mut In<'_>) -> Result<(), TallyStateError> {
    let n_values = input.len(1)?;
    input.skip_u32s(n_values)?;
    let n_prefs = input.len(2)?;
    input.skip_u32s(2 * n_prefs)?;
    Ok(())
}

/// One slot's numbers from exactly the bytes [`check_counts`] checked.
pub(super) fn decode_counts(bytes: &[u8]) -> Result<Counts, TallyStateError> {
    let mut input = In(bytes);
    let n_values = input.len(1)?;
    let numbers = input.0;
    input.skip_u32s(n_values)?;
    let values = super::Values::from_encoded(&numbers[..numbers.len() - input.0.len()]);
    let n_prefs = input.len(2)?;
    let pairs = input.0;
    input.skip_u32s(2 * n_prefs)?;
    let preferences = super::Preferences::from_encoded(&pairs[..pairs.len() - input.0.len()]);
    if !input.0.is_empty() {
        return Err(TallyStateError::Invalid("bytes after a slot's numbers".into()));
    }
    Ok(Counts { values, preferences })
}

fn write_reason(out: &mut Out<'_>, reason: &IgnoreReason) {
    match reason {
        IgnoreReason::WrongElection(s) => {
            out.u8(0);
            out.str(s);
        }
        IgnoreReason::UnknownStation(s) => {
            out.u8(1);
            out.str(s);
        }
        IgnoreReason::UnknownContest(s) => {
            out.u8(2);
            out.str(s);
        }
        IgnoreReason::NotInContest { station, contest } => {
            out.u8(3);
            out.str(station);
            out.str(contest);
        }
        IgnoreReason::CountTooLarge { line, value } => {
            out.u8(4);
            out.str(line);
            out.u64(*value);
        }
    }
}

fn read_reason(input: &mut In<'_>) -> Result<IgnoreReason, TallyStateError> {
    Ok(match input.u8()? {
        0 => IgnoreReason::WrongElection(input.str()?),
        1 => IgnoreReason::UnknownStation(input.str()?),
        2 => IgnoreReason::UnknownContest(input.str()?),
        3 => IgnoreReason::NotInContest { station: input.str()?, contest: input.str()? },
        4 => IgnoreReason::CountTooLarge { line: input.str()?, value: input.u64()? },
        other => return Err(TallyStateError::Invalid(format!("ignore reason {other}"))),
    })
}

fn check(
    what: &'static str,
    saved: impl ToString,
    actual: impl ToString,
) -> Result<(), TallyStateError> {
    let (saved, actual) = (saved.to_string(), actual.to_string());
    if saved != actual {
        return Err(TallyStateError::Mismatch { what, saved, actual });
    }
    Ok(())
}

impl Tally {
    /// The tally's state as `sverka-tally-state/v2` bytes (see the module documentation).
    pub fn save_state(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.save_state_to(&mut bytes).expect("writing to memory does not fail");
        bytes
    }

    /// [`Tally::save_state`]'s bytes written to `sink` a megabyte at a time, never held whole;
    /// returns how many were written.
    ///
    /// # Panics
    /// If the tally was loaded from a state that kept only some records
    /// ([`ScannedState::compact`]).
    pub fn save_state_to(&self, sink: &mut dyn std::io::Write) -> std::io::Result<u64> {
        assert!(
            !self.saved_records.contains(&UNKEPT),
            "a tally loaded with only some of its records cannot be saved"
        );
        let mut out = Out { buf: Vec::with_capacity(2 << 20), sink, written: 0 };
        out.buf.extend_from_slice(TALLY_STATE_FORMAT.as_bytes());
        out.u8(b'\n');
        out.str(&self.election_id);
        out.len(self.n_stations);
        out.len(self.records.len());
        for (r, record) in self.records.iter().enumerate() {
            if self.lazy.get(r).copied().unwrap_or(false) {
                // Checked when loaded, so the very bytes `write_record` would write.
                let (at, end) = (self.saved_records[r], self.saved_records[r + 1]);
                out.buf.extend_from_slice(&self.saved[at..end]);
            } else {
                write_record(&mut out, record.as_deref().unwrap_or(&EMPTY_RECORD), &self.saved);
            }
            out.spill()?;
        }
        out.len(self.contests.len());
        for contest in &self.contests {
            out.len(contest.units.len());
            for unit in &contest.units {
                out.spill()?;
                out.u64(unit.stations);
                out.u64(unit.registered);
                for view in &unit.views {
                    write_view(&mut out, view);
                }
                for &pair in &unit.sources {
                    out.pair(pair);
                }
                out.pair(unit.annulled);
            }
        }
        let mut annulled: Vec<(&u32, &Vec<u64>)> = self.station_annulled.iter().collect();
        annulled.sort();
        out.len(annulled.len());
        for (station, indices) in annulled {
            out.u32(*station);
            out.u64s(indices);
        }
        out.len(self.signers.len());
        for signer in &self.signers {
            out.str(signer);
        }
        out.len(self.applied_bits.len());
        for word in &self.applied_bits {
            out.buf.extend_from_slice(&word.to_le_bytes());
        }
        let mut sparse: Vec<u64> = self.applied_sparse.iter().copied().collect();
        sparse.sort_unstable();
        out.u64s(&sparse);
        out.u64(self.applied_count);
        out.u64(self.protocols);
        out.u64(self.annulments_applied);
        out.u64(self.other_entries);
        out.len(self.annulments.len());
        for (index, station, contest, reason) in &self.annulments {
            out.u64(*index);
            out.u32(*station);
            match contest {
                None => out.u8(0),
                Some(c) => {
                    out.u8(1);
                    out.u16(*c);
                }
            }
            out.str(reason);
        }
        out.len(self.ignored.len());
        for ignored in &self.ignored {
            out.u64(ignored.index);
            write_reason(&mut out, &ignored.reason);
        }
        out.len(self.warnings.len());
        for warning in &self.warnings {
            out.u64(warning.index);
            out.str(warning.code);
            out.str(&warning.message);
            out.spill()?;
        }
        out.finish()?;
        Ok(out.written)
    }

    /// The tally of `election` whose state [`Tally::save_state`] wrote.
    pub fn load_state(election: &Election, bytes: &[u8]) -> Result<Tally, TallyStateError> {
        Tally::load_state_owned(election, bytes.to_vec())
    }

    /// [`Tally::load_state`] keeping `bytes`: each record is checked there, and one without
    /// corrections (most) is decoded only when used (folding in an entry of that station and
    /// contest, or its station result), its slots' numbers only when those are used, so loading
    /// allocates nothing per record but for the few with corrections. `bytes` may also be a
    /// [`CheckedState`] ([`Tally::check_state`] did the checks that need no election), with or
    /// without the [`NewTally`] of `election` to load it into.
    pub fn load_state_owned(
        election: &Election,
        bytes: impl Into<StateBytes>,
    ) -> Result<Tally, TallyStateError> {
        let (checked, ahead) = match bytes.into() {
            StateBytes::Unchecked(bytes) => (Tally::check_state(bytes)?, None),
            StateBytes::Checked(checked) => (checked, None),
            StateBytes::Ahead(checked, ahead) => (checked, Some(*ahead)),
        };
        let CheckedState { bytes, election_id, n_stations, records, lazy } = checked;
        let mut tally = match ahead {
            Some(ahead) if ahead.election == election as *const Election as usize => ahead.tally,
            _ => Tally::new(election),
        };
        check("election", election_id, &tally.election_id)?;
        check("stations", n_stations, tally.n_stations)?;
        check("station-contests", lazy.len(), tally.records.len())?;
        // Records with corrections are decoded now; the others stay in the bytes (`Tally::lazy`).
        for (r, &lazy) in lazy.iter().enumerate() {
            if !lazy {
                let record = read_record(&mut In(&bytes[records[r]..]), bytes.len())?;
                tally.records[r] = Some(Box::new(record));
            }
        }
        tally.read_state(&bytes, records[lazy.len()])?;
        (tally.saved_records, tally.lazy) = (records, lazy);
        tally.saved = std::sync::Arc::new(bytes);
        Ok(tally)
    }

    /// The checks of a state's bytes that need no election: its first line, and every record
    /// well formed. [`Tally::load_state_owned`] of the result compares the rest with the
    /// election and reads the rest (so a caller can check a large state on one thread while it
    /// reads the election on another).
    pub fn check_state(bytes: Vec<u8>) -> Result<CheckedState, TallyStateError> {
        let head = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        if head != TALLY_STATE_FORMAT.as_bytes() {
            let shown = String::from_utf8_lossy(&head[..head.len().min(40)]).into_owned();
            return Err(TallyStateError::Format(shown));
        }
        let mut input = In(&bytes[head.len() + 1..]);
        let election_id = input.str()?;
        let n_stations = input.u64()?;
        let n_records = input.len(3)?;
        let mut records = Vec::with_capacity(n_records + 1);
        let mut lazy = vec![false; n_records];
        for lazy in lazy.iter_mut() {
            records.push(bytes.len() - input.0.len());
            *lazy = check_record(&mut input)?;
        }
        records.push(bytes.len() - input.0.len());
        Ok(CheckedState { bytes, election_id, n_stations, records, lazy })
    }

    /// Reads the rest of `bytes`, from `at` (where the records end), into this new tally.
    fn read_state(&mut self, bytes: &[u8], at: usize) -> Result<(), TallyStateError> {
        let tally = self;
        let mut input = In(&bytes[at..]);
        check("contests", input.len(1)?, tally.contests.len())?;
        for contest in tally.contests.iter_mut() {
            check("units of a contest", input.len(1)?, contest.units.len())?;
            for unit in contest.units.iter_mut() {
                let stations = input.u64()?;
                let registered = input.u64()?;
                let views = [read_view(&mut input)?, read_view(&mut input)?];
                let mut sources = [(0, 0); 4];
                for pair in sources.iter_mut() {
                    *pair = input.pair()?;
                }
                let annulled = input.pair()?;
                *unit = UnitAgg { stations, registered, views, sources, annulled };
            }
        }
        let n_annulled = input.len(2)?;
        for _ in 0..n_annulled {
            let station = input.u32()?;
            if station as usize >= tally.n_stations {
                return Err(TallyStateError::Invalid(format!("station {station}")));
            }
            tally.station_annulled.insert(station, input.u64s()?);
        }
        let n_signers = input.len(1)?;
        tally.signers.clear();
        tally.signer_idx.clear();
        for i in 0..n_signers {
            let signer = input.str()?;
            if i > 0 {
                tally.signer_idx.insert(signer.clone(), i as u32);
            }
            tally.signers.push(signer);
        }
        tally.applied_bits = input.words()?;
        tally.applied_sparse = input.u64s()?.into_iter().collect();
        tally.applied_count = input.u64()?;
        tally.protocols = input.u64()?;
        tally.annulments_applied = input.u64()?;
        tally.other_entries = input.u64()?;
        let n = input.len(4)?;
        for _ in 0..n {
            let index = input.u64()?;
            let station = input.u32()?;
            let contest = match input.u8()? {
                0 => None,
                1 => Some(input.u16()?),
                other => return Err(TallyStateError::Invalid(format!("annulment tag {other}"))),
            };
            tally.annulments.push((index, station, contest, input.str()?));
        }
        let n = input.len(3)?;
        for _ in 0..n {
            let index = input.u64()?;
            tally.ignored.push(Ignored { index, reason: read_reason(&mut input)? });
        }
        let n = input.len(3)?;
        for _ in 0..n {
            let index = input.u64()?;
            let code = input.str()?;
            let code = WARNING_CODES
                .into_iter()
                .find(|&c| c == code)
                .ok_or_else(|| TallyStateError::Invalid(format!("warning code {code:?}")))?;
            tally.warnings.push(Warning { index, code, message: input.str()? });
        }
        if !input.0.is_empty() {
            return Err(TallyStateError::Invalid(format!("{} bytes after the end", input.0.len())));
        }
        Ok(())
    }
}
