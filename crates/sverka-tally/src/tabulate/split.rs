//! A whole log's fold split by station over two threads ([`Tally::split`]).
//!
//! Everything a protocol or an annulment changes belongs to its station (its records, the
//! station's annulments) or is a list the results sort (warnings, ignored entries, annulments)
//! or a count; so two [`TallyPart`]s, each folding the entries of the stations
//! [`station_part`] gives it, in log order, and reading the tally only for its definitions,
//! hold between them what one fold holds. [`Tally::absorb`] puts them together: each
//! station's records moved in from the part that folded them, the lists merged in log order,
//! the counts added, the observers' keys numbered in the order one fold would have met them.
//! The units' sums are left deferred ([`Tally::defer_sums`]) and computed once afterwards.
//!
//! Which part an entry goes to is decided from its bytes before it is parsed ([`entry_part`],
//! the reader's job); the part checks it against the station its parse finds and folds nothing
//! of an entry that is not its own: the caller folds such entries into the whole tally after
//! [`Tally::absorb`] (the tally does not depend on the order of its entries: see the module
//! documentation of [`crate::tabulate`]), so what [`entry_part`] finds never changes a result.

use std::hash::Hasher;

use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::{Annulment, Body, Submission};
use sverka_model::Source;

use super::{
    insert_version, same_id, Applied, FastMap, FxHasher, IgnoreReason, Ignored, ProtocolFields,
    Record, Tally, Warning,
};

/// How many parts [`Tally::split`] makes.
pub const PARTS: usize = 2;

/// Which part of a split fold folds the entries naming station `id` (its bytes as the entry
/// holds them): a hash of the id, so each part has about half the stations at every stage of
/// the night, whatever order the stations report in.
pub fn station_part(id: &[u8]) -> usize {
    let mut hasher = FxHasher::default();
    hasher.write(id);
    (hasher.finish() % PARTS as u64) as usize
}

/// The part that folds the entry `entry` (its stored bytes), found without parsing it: that of
/// the string after the entry's first `"station":"` (the protocol's or annulment's station in
/// the canonical form; in JSON a `"` right after `station` ends a string, so the pattern is
/// never inside one), part 0 for an entry without one. A wrong guess costs time, not
/// correctness: the part refuses the entry and it is folded after the parts
/// ([`TallyPart::apply_view`]).
pub fn entry_part(entry: &[u8]) -> usize {
    station_in(entry).map_or(0, station_part)
}

/// The bytes of the string after the first `"station":"` of `entry`.
fn station_in(entry: &[u8]) -> Option<&[u8]> {
    const KEY: [u8; 11] = *b"\"station\":\"";
    // Where the key starts, if at `at`.
    let key_at = |at: usize| {
        let id = entry.get(at + KEY.len()..)?;
        let key: [u8; 11] = entry[at..at + KEY.len()].try_into().ok()?;
        (key == KEY).then_some(id)
    };
    let id = |id: &'_ [u8]| -> Option<usize> { id.iter().position(|&b| b == b'"') };
    // The quotes found eight bytes at a time (a word's bytes equal to `"` have their high bit
    // set in `found`; a byte above one that is may be set too: each is checked).
    let mut at = 0;
    while let Some(bytes) = entry.get(at..at + 8) {
        let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let x = word ^ 0x2222_2222_2222_2222;
        let mut found = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080;
        while found != 0 {
            let quote = at + (found.trailing_zeros() / 8) as usize;
            if entry.get(quote + 1) == Some(&b's') {
                if let Some(rest) = key_at(quote) {
                    return id(rest).map(|end| &rest[..end]);
                }
            }
            found &= found - 1;
        }
        at += 8;
    }
    (at..entry.len()).find_map(key_at).and_then(|rest| id(rest).map(|end| &rest[..end]))
}

/// What one part of a split fold folded, owned ([`TallyPart::finish`]), for [`Tally::absorb`].
#[derive(Debug)]
pub struct PartFold {
    /// As the tally's records; only this part's stations' are set.
    records: Vec<Option<Box<Record>>>,
    station_annulled: FastMap<u32, Vec<u64>>,
    /// The observers' keys this part met, in that order, each with the index of the first entry
    /// of theirs it folded: a slot's `signer` `i` (from 1) is `signers[i - 1]` until absorbed.
    signers: Vec<(u64, String)>,
    signer_idx: FastMap<String, u32>,
    /// Records where this part made an observer's slot (repeats possible).
    observer_records: Vec<usize>,
    /// The indices folded (not those refused), increasing.
    applied: Vec<u64>,
    protocols: u64,
    annulments_applied: u64,
    other_entries: u64,
    annulments: Vec<(u64, u32, Option<u16>, String)>,
    ignored: Vec<Ignored>,
    warnings: Vec<Warning>,
}

/// One part of a fold split by station ([`Tally::split`]): folds the entries of the stations
/// [`station_part`] gives it, reading the tally only for its definitions.
#[derive(Debug)]
pub struct TallyPart<'t> {
    tally: &'t Tally,
    part: usize,
    fold: PartFold,
}

impl Tally {
    /// [`PARTS`] parts to fold the log's entries in, the `p`-th folding those of the stations
    /// with [`station_part`] `p`, on threads of their own; then [`Tally::absorb`] what they
    /// folded. `None` unless the sums are deferred ([`Tally::defer_sums`]) and nothing has
    /// been folded in yet (a whole log's fold, as `sverka results` and `sverka publish` replay).
    pub fn split(&self) -> Option<Vec<TallyPart<'_>>> {
        if !self.deferred || self.applied_count != 0 || !self.lazy.is_empty() {
            return None;
        }
        let parts = (0..PARTS).map(|part| TallyPart {
            tally: self,
            part,
            fold: PartFold {
                // Allocated zeroed: the pages of the other part's records stay untouched
                // until a record of this part shares one.
                records: vec![None; self.records.len()],
                station_annulled: FastMap::default(),
                signers: Vec::new(),
                signer_idx: FastMap::default(),
                observer_records: Vec::new(),
                applied: Vec::new(),
                protocols: 0,
                annulments_applied: 0,
                other_entries: 0,
                annulments: Vec::new(),
                ignored: Vec::new(),
                warnings: Vec::new(),
            },
        });
        Some(parts.collect())
    }

    /// Takes in what the parts of [`Tally::split`] folded, as if this tally had folded their
    /// entries itself in log order; returns how many of their indices were not applied
    /// before (each part's and the parts' indices are distinct for a log: fewer means a
    /// repeat, which one fold would have ignored as a [`Applied::Duplicate`]).
    ///
    /// # Panics
    /// If a record was folded into by this tally since the split, or by two parts.
    pub fn absorb(&mut self, parts: Vec<PartFold>) -> u64 {
        // Observers' keys numbered in the order of the first entry of each (one fold interns
        // a key at the first entry of it that it folds).
        let mut firsts: Vec<(u64, usize, usize)> = parts
            .iter()
            .enumerate()
            .flat_map(|(p, fold)| fold.signers.iter().enumerate().map(move |(i, s)| (s.0, p, i)))
            .collect();
        firsts.sort_unstable();
        let mut numbers: Vec<Vec<u32>> =
            parts.iter().map(|fold| vec![0; fold.signers.len() + 1]).collect();
        for (_, p, i) in firsts {
            numbers[p][i + 1] = self.intern(&parts[p].signers[i].1);
        }
        let mut fresh = 0;
        for (mut fold, numbers) in parts.into_iter().zip(numbers) {
            fold.observer_records.sort_unstable();
            fold.observer_records.dedup();
            for &r in &fold.observer_records {
                let rec = fold.records[r].as_mut().expect("an observer's slot was made");
                for slot in rec.slots.iter_mut().filter(|s| s.source == Source::Observer) {
                    slot.signer = numbers[slot.signer as usize];
                }
            }
            for (r, rec) in fold.records.into_iter().enumerate() {
                if let Some(rec) = rec {
                    assert!(self.records[r].is_none(), "record {r} folded into twice");
                    self.records[r] = Some(rec);
                }
            }
            for (station, annulled) in fold.station_annulled {
                self.station_annulled.entry(station).or_default().extend(annulled);
            }
            for index in fold.applied {
                fresh += u64::from(self.mark_applied(index));
            }
            self.protocols += fold.protocols;
            self.annulments_applied += fold.annulments_applied;
            self.other_entries += fold.other_entries;
            self.annulments.extend(fold.annulments);
            self.ignored.extend(fold.ignored);
            self.warnings.extend(fold.warnings);
        }
        self.sort_in_log_order();
        fresh
    }

    /// Puts the lists one fold fills in log order (stable: an entry's own warnings stay in
    /// their order), after entries were folded in out of it ([`Tally::absorb`]).
    pub fn sort_in_log_order(&mut self) {
        self.annulments.sort_by_key(|a| a.0);
        self.ignored.sort_by_key(|i| i.index);
        self.warnings.sort_by_key(|w| w.index);
        for annulled in self.station_annulled.values_mut() {
            annulled.sort_unstable();
        }
    }
}

impl TallyPart<'_> {
    /// [`Tally::apply_view`] for this part: `None` (and nothing folded) if the protocol's
    /// station is not this part's.
    pub fn apply_view(&mut self, index: u64, protocol: &ProtocolView<'_>) -> Option<Applied> {
        if !same_id(protocol.election.as_bytes(), self.tally.election_id.as_bytes()) {
            let reason = IgnoreReason::WrongElection(protocol.election.into());
            return Some(self.ignore(index, reason));
        }
        self.apply_protocol(index, protocol.signer, protocol)
    }

    /// [`Tally::apply`] for this part: `None` (and nothing folded) if the entry is a protocol
    /// or annulment of a station that is not this part's.
    pub fn apply(&mut self, index: u64, submission: &Submission) -> Option<Applied> {
        let payload = &submission.payload;
        let body_has_results = matches!(payload.body, Body::Protocol(_) | Body::Annulment(_));
        if body_has_results && payload.election != self.tally.election_id {
            let reason = IgnoreReason::WrongElection(payload.election.clone());
            return Some(self.ignore(index, reason));
        }
        match &payload.body {
            Body::Protocol(protocol) => self.apply_protocol(index, &payload.signer, protocol),
            Body::Annulment(annulment) => self.apply_annulment(index, annulment),
            _ => {
                self.fold.applied.push(index);
                self.fold.other_entries += 1;
                Some(Applied::NotResults)
            }
        }
    }

    /// What this part folded, for [`Tally::absorb`].
    pub fn finish(self) -> PartFold {
        self.fold
    }

    fn owns(&self, station: &str) -> bool {
        station_part(station.as_bytes()) == self.part
    }

    fn ignore(&mut self, index: u64, reason: IgnoreReason) -> Applied {
        self.fold.applied.push(index);
        self.fold.ignored.push(Ignored { index, reason: reason.clone() });
        Applied::Ignored(reason)
    }

    fn apply_protocol(
        &mut self,
        index: u64,
        signer: &str,
        protocol: &impl ProtocolFields,
    ) -> Option<Applied> {
        if !self.owns(protocol.station()) {
            return None;
        }
        let located = self.tally.locate_protocol(index, protocol, &mut self.fold.warnings);
        let (_, record, counts) = match located {
            Ok(located) => located,
            Err(reason) => return Some(self.ignore(index, reason)),
        };
        self.fold.applied.push(index);
        let source = protocol.source();
        let signer = if source == Source::Observer { self.intern(index, signer) } else { 0 };
        self.fold.protocols += 1;
        let rec = self.fold.records[record].get_or_insert_with(Default::default);
        let made = insert_version(rec, source, signer, index, counts, protocol.supersedes());
        if made && source == Source::Observer {
            self.fold.observer_records.push(record);
        }
        Some(Applied::Protocol)
    }

    fn apply_annulment(&mut self, index: u64, annulment: &Annulment) -> Option<Applied> {
        if !self.owns(&annulment.station) {
            return None;
        }
        let (station, contest, records) = match self.tally.locate_annulment(annulment) {
            Ok(located) => located,
            Err(reason) => return Some(self.ignore(index, reason)),
        };
        self.fold.applied.push(index);
        match contest {
            Some(_) => self.fold.records[records[0]]
                .get_or_insert_with(Default::default)
                .annulled
                .push(index),
            None => self.fold.station_annulled.entry(station).or_default().push(index),
        }
        self.fold.annulments_applied += 1;
        let contest = contest.map(|c| c as u16);
        self.fold.annulments.push((index, station, contest, annulment.reason.clone()));
        Some(Applied::Annulment)
    }

    /// This part's number (from 1) for an observer's key, first met at entry `index`.
    fn intern(&mut self, index: u64, signer: &str) -> u32 {
        if let Some(&i) = self.fold.signer_idx.get(signer) {
            return i;
        }
        self.fold.signers.push((index, signer.to_string()));
        let i = self.fold.signers.len() as u32;
        self.fold.signer_idx.insert(signer.to_string(), i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::{entry_part, station_in, station_part};

    #[test]
    fn the_station_is_found_in_the_canonical_bytes() {
        let entry = br#"{"payload":{"contest":"list","lines":{"valid":7},"signer":"m-1","source":"machine","station":"1000-030","time":"t"},"signature":"x"}"#;
        assert_eq!(station_in(entry), Some(&b"1000-030"[..]));
        assert_eq!(entry_part(entry), station_part(b"1000-030"));
        assert_eq!(station_in(br#"{"payload":{"type":"key"}}"#), None);
        assert_eq!(entry_part(br#"{"payload":{"type":"key"}}"#), 0);
        // A quote inside a string is escaped: `station\"` is not the key.
        let escaped = br#"{"reason":"a \"station\":\"x\" b","station":"s-2"}"#;
        assert_eq!(station_in(escaped), Some(&b"s-2"[..]));
        assert_eq!(station_in(br#"{"station":""#), None);
        // Wherever the key falls in the eight-byte words, and with quotes all around it.
        for pad in 0..24 {
            let mut entry = vec![b'"'; pad];
            entry.extend_from_slice(br#""station":"ab-1","x":"y"}"#);
            assert_eq!(station_in(&entry), Some(&b"ab-1"[..]), "{pad}");
            let short = &entry[..pad + 12];
            assert_eq!(station_in(short), None, "{pad}: no closing quote");
        }
    }

    #[test]
    fn stations_are_shared_between_the_parts() {
        let ids: Vec<String> =
            (0..10_000).map(|i| format!("{:04}-{:03}", i / 100, i % 100)).collect();
        let first = ids.iter().filter(|id| station_part(id.as_bytes()) == 0).count();
        assert!((4_500..=5_500).contains(&first), "{first} of 10,000 in part 0");
    }
}
