//! A validated [`Election`] as bytes (`sverka-election-cache/v1`, docs/formats.md §11), so that a
//! program that read a definition once (`sverka verify --state`) can get the same `Election` back
//! without parsing the TOML again: at 250,000 stations the 58 MB `election.toml` takes about two
//! CPU-seconds to read, its cache a tenth of that.
//!
//! The cache names the SHA-256 of the definition it was read from, and [`Election::from_cache`]
//! refuses a cache of another definition. It checks that the bytes are a well-formed cache (every
//! length in bounds, every tag known, the ids of each kind unique, every contest's form present,
//! nothing after the end), not the rules of a definition: a cache is only as good as the program
//! that wrote it, so its caller must keep it where nobody else can write and pin its bytes (the
//! verifier's state names its SHA-256). The indexes by id are rebuilt, not stored.
//!
//! Layout: the line `sverka-election-cache/v1\n`, the definition's SHA-256 (32 bytes), then every
//! field of [`Election`] in declaration order: integers as unsigned LEB128 (shortest form only),
//! tags and booleans as one byte, a string as its length and UTF-8 bytes, a list as its count and
//! items, an `Option` as a byte 0 (none) or 1 and the value, a term's sign as `0x01` (+) or `0xff`
//! (−).

use std::collections::HashMap;

use super::{
    Candidate, Contest, ContestKind, District, Election, Form, FormLine, IdIndex, KeyRecord,
    Method, Party, PartyListContest, Region, RegionalThreshold, Rules, Sex, Share,
    SingleMemberContest, Station, Threshold, ThresholdBase,
};
use crate::form::{CmpOp, LinearExpr, Relation, Term};
use crate::names::{Names, Role};

/// The first line of a cache, naming its version.
pub const CACHE_FORMAT: &str = "sverka-election-cache/v1";

/// Why bytes are not the cache of the expected definition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("not a {CACHE_FORMAT} file")]
    Format,
    #[error("the cache is of another definition (SHA-256 {found})")]
    OtherDefinition { found: String },
    #[error("the cache is cut short or malformed at byte {at}")]
    Malformed { at: usize },
    #[error("the cache holds two {what} with the id {id:?}")]
    Duplicate { what: &'static str, id: String },
    #[error("contest {contest:?} names form {form:?}, which the cache does not hold")]
    UnknownForm { contest: String, form: String },
}

impl Election {
    /// This election as a `sverka-election-cache/v1` cache of the definition whose SHA-256 is
    /// `definition_sha256` (the bytes it was read from). Equal elections give equal bytes.
    pub fn to_cache(&self, definition_sha256: &[u8; 32]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(64 * (self.stations.len() + self.keys.len()));
        self.write_cache(definition_sha256, &mut bytes).expect("writing to memory does not fail");
        bytes
    }

    /// [`Election::to_cache`]'s bytes written to `sink` a megabyte at a time, never held whole
    /// (at 1,000,000 stations the cache is about 125 MB).
    pub fn write_cache(
        &self,
        definition_sha256: &[u8; 32],
        sink: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut w = Writer { buf: Vec::with_capacity(Writer::SPILL + 4096), sink, failed: None };
        w.buf.extend_from_slice(CACHE_FORMAT.as_bytes());
        w.buf.push(b'\n');
        w.buf.extend_from_slice(definition_sha256);
        // Every struct is taken apart field by field, so that a field added to the definition
        // fails to compile here until the cache writes it (and the version is raised).
        let Election {
            id,
            name,
            date,
            tie_seed,
            log_origin,
            rules,
            regions,
            districts,
            stations,
            forms,
            contests,
            keys,
            // Rebuilt from the lists by the reader.
            region_idx: _,
            district_idx: _,
            station_idx: _,
            form_idx: _,
            contest_idx: _,
        } = self;
        let Rules { ballots_over_registered, turnout_warning, machine_manual_tolerance } = rules;
        w.str(id);
        w.names(name);
        w.str(date);
        w.str(tie_seed);
        w.str(log_origin);
        w.uint(*ballots_over_registered);
        w.share(turnout_warning);
        w.uint(*machine_manual_tolerance);
        w.list(regions, |w, Region { id, name, abroad }| {
            w.str(id);
            w.names(name);
            w.flag(*abroad);
        });
        w.list(districts, |w, District { id, name, region }| {
            w.str(id);
            w.names(name);
            w.str(region);
        });
        w.list(stations, |w, Station { id, name, district, region, registered, abroad }| {
            w.str(id);
            w.str(name);
            w.str(district);
            w.str(region);
            w.uint(*registered);
            w.flag(*abroad);
        });
        w.list(forms, Writer::form);
        w.list(contests, Writer::contest);
        w.list(keys, |w, KeyRecord { id, role, public_key, station, district }| {
            w.str(id);
            w.tag(match role {
                Role::Machine => 0,
                Role::Operator => 1,
                Role::Observer => 2,
                Role::Admin => 3,
            });
            w.str(public_key);
            w.option(station.as_deref(), Writer::str);
            w.option(district.as_deref(), Writer::str);
        });
        w.finish()
    }

    /// The election [`Election::to_cache`] wrote, if `bytes` are a well-formed cache of the
    /// definition whose SHA-256 is `definition_sha256`. See the module documentation for what
    /// is checked and what is trusted.
    pub fn from_cache(bytes: &[u8], definition_sha256: &[u8; 32]) -> Result<Election, CacheError> {
        Election::from_cache_reader(&mut &bytes[..], bytes.len(), definition_sha256)
    }

    /// [`Election::from_cache`] of the `len` bytes `source` gives, read a megabyte at a time and
    /// decoded as they come (the cache is never held whole: at 250,000 stations it is 31 MB of
    /// fresh pages a resumed `sverka verify` need not touch). The same checks and errors; a
    /// source that ends before `len` bytes is a cache cut short, one with bytes after them a
    /// malformed one (`Malformed` at `len`). A read error ends the source here, so it is
    /// reported as a cache cut short: a caller that must tell the two apart (and hash what it
    /// read) wraps `source`.
    pub fn from_cache_reader(
        source: &mut dyn std::io::Read,
        len: usize,
        definition_sha256: &[u8; 32],
    ) -> Result<Election, CacheError> {
        let header = CACHE_FORMAT.len() + 1;
        let mut r = Reader { source, window: Vec::new(), window_at: 0, at: 0, len };
        // As much of the header as there is (a shorter cache is refused as `Format` below).
        r.fill((header + 32).min(len));
        let bytes = &r.window[..];
        let rest = bytes.strip_prefix(CACHE_FORMAT.as_bytes()).ok_or(CacheError::Format)?;
        if rest.first() != Some(&b'\n') {
            return Err(CacheError::Format);
        }
        let found = bytes.get(header..header + 32).ok_or(CacheError::Format)?;
        if found != definition_sha256 {
            let found = found.iter().map(|b| format!("{b:02x}")).collect();
            return Err(CacheError::OtherDefinition { found });
        }
        r.at = header + 32;
        let election = r.election()?;
        if r.at != len {
            return Err(CacheError::Malformed { at: r.at });
        }
        // Nothing after the `len` bytes.
        let mut more = [0u8; 1];
        if matches!(std::io::Read::read(r.source, &mut more), Ok(n) if n > 0) {
            return Err(CacheError::Malformed { at: len });
        }
        Ok(election)
    }
}

/// The cache's bytes on their way to a sink: gathered in `buf`, handed over a megabyte at a time
/// (between the items of a list), the first error kept and returned by [`Writer::finish`].
struct Writer<'s> {
    buf: Vec<u8>,
    sink: &'s mut dyn std::io::Write,
    failed: Option<std::io::Error>,
}

impl Writer<'_> {
    /// How many bytes are gathered before they are handed to the sink.
    const SPILL: usize = 1 << 20;

    fn spill(&mut self) {
        if self.buf.len() >= Writer::SPILL {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.sink.write_all(&self.buf) {
                self.failed = Some(e);
            }
        }
        self.buf.clear();
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.hand_over();
        self.failed.map_or(Ok(()), Err)
    }

    fn uint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn tag(&mut self, tag: u8) {
        self.buf.push(tag);
    }

    fn flag(&mut self, flag: bool) {
        self.buf.push(u8::from(flag));
    }

    fn str(&mut self, text: &str) {
        self.uint(text.len() as u64);
        self.buf.extend_from_slice(text.as_bytes());
    }

    fn names(&mut self, Names { ky, ru, en }: &Names) {
        self.str(ky);
        self.str(ru);
        self.str(en);
    }

    fn share(&mut self, Share { num, den }: &Share) {
        self.uint(*num);
        self.uint(*den);
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.uint(items.len() as u64);
        for item in items {
            each(self, item);
            self.spill();
        }
    }

    fn option<T: ?Sized>(&mut self, value: Option<&T>, each: impl FnOnce(&mut Self, &T)) {
        match value {
            None => self.tag(0),
            Some(value) => {
                self.tag(1);
                each(self, value);
            }
        }
    }

    fn base(&mut self, base: ThresholdBase) {
        self.tag(match base {
            ThresholdBase::TookPart => 0,
            ThresholdBase::Valid => 1,
            ThresholdBase::Registered => 2,
        });
    }

    fn expr(&mut self, LinearExpr { terms }: &LinearExpr) {
        self.list(terms, |w, (sign, term)| {
            w.tag(*sign as u8);
            match term {
                Term::Line(id) => {
                    w.tag(0);
                    w.str(id);
                }
                Term::SumOptions => w.tag(1),
                Term::Const(value) => {
                    w.tag(2);
                    w.uint(*value);
                }
            }
        });
    }

    fn form(&mut self, form: &Form) {
        let Form { id, lines, registered, valid, invalid, took_part, relations } = form;
        self.str(id);
        self.list(lines, |w, FormLine { id, name }| {
            w.str(id);
            w.names(name);
        });
        self.str(registered);
        self.str(valid);
        self.str(invalid);
        self.expr(took_part);
        self.list(relations, |w, Relation { text, lhs, op, rhs }| {
            w.str(text);
            w.expr(lhs);
            w.tag(match op {
                CmpOp::Eq => 0,
                CmpOp::Ge => 1,
                CmpOp::Le => 2,
            });
            w.expr(rhs);
        });
    }

    fn candidate(&mut self, candidate: &Candidate) {
        let Candidate { id, name, position, sex, party } = candidate;
        self.str(id);
        self.str(name);
        self.uint(u64::from(*position));
        self.tag(match sex {
            Sex::Female => 0,
            Sex::Male => 1,
        });
        self.option(party.as_deref(), Writer::str);
    }

    fn contest(&mut self, contest: &Contest) {
        let Contest { id, name, form, against_all, kind } = contest;
        self.str(id);
        self.names(name);
        self.str(form);
        self.flag(*against_all);
        match kind {
            ContestKind::PartyList(list) => {
                let PartyListContest {
                    seats,
                    method,
                    threshold,
                    regional_threshold,
                    women_min_share,
                    parties,
                } = list;
                let Threshold { share, base } = threshold;
                self.tag(0);
                self.uint(u64::from(*seats));
                self.tag(match method {
                    Method::Hare => 0,
                    Method::Droop => 1,
                    Method::Dhondt => 2,
                    Method::SainteLague => 3,
                });
                self.share(share);
                self.base(*base);
                self.option(regional_threshold.as_ref(), |w, t| {
                    let RegionalThreshold { share, base, regions } = t;
                    w.share(share);
                    w.base(*base);
                    w.list(regions, |w, region| w.str(region));
                });
                self.option(women_min_share.as_ref(), Writer::share);
                self.list(parties, |w, party| {
                    let Party { id, ballot_number, name, candidates, color } = party;
                    w.str(id);
                    w.uint(u64::from(*ballot_number));
                    w.names(name);
                    w.list(candidates, Writer::candidate);
                    w.option(color.as_deref(), Writer::str);
                });
            }
            ContestKind::SingleMember(smd) => {
                let SingleMemberContest { district, candidates, fails_if_against_all_leads } = smd;
                self.tag(1);
                self.str(district);
                self.list(candidates, Writer::candidate);
                self.flag(*fails_if_against_all_leads);
            }
        }
    }
}

/// The cache's bytes as they are decoded: `window` holds bytes `window_at..` of the cache, read
/// from `source` a megabyte at a time as decoding comes to them (what was decoded is dropped
/// before the next read, so only the item being decoded is ever held twice).
struct Reader<'s> {
    source: &'s mut dyn std::io::Read,
    window: Vec<u8>,
    window_at: usize,
    /// Where the next byte is in the cache.
    at: usize,
    /// The cache's length: nothing is read beyond it, and every count is bounded by what is
    /// left of it.
    len: usize,
}

type Read<T> = Result<T, CacheError>;

impl Reader<'_> {
    /// How many bytes a read asks for when the window runs out.
    const STEP: usize = 1 << 20;

    /// Makes the window hold bytes `at..at + n` (dropping those before `at`); `false` if the
    /// source ends first.
    fn fill(&mut self, n: usize) -> bool {
        let end = self.window_at + self.window.len();
        if self.at + n <= end {
            return true;
        }
        self.window.drain(..self.at - self.window_at);
        self.window_at = self.at;
        while self.window.len() < n {
            // A megabyte (or `n`), never past the cache's end: the source's bytes after it are
            // left for the check that there are none.
            let target = n.max(Reader::STEP).min(self.len.saturating_sub(self.window_at)).max(n);
            let want = (target - self.window.len()) as u64;
            let mut part = std::io::Read::take(&mut *self.source, want);
            match std::io::Read::read_to_end(&mut part, &mut self.window) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        true
    }

    fn malformed<T>(&self) -> Read<T> {
        Err(CacheError::Malformed { at: self.at })
    }

    /// Malformed at the byte just read.
    fn malformed_before<T>(&mut self) -> Read<T> {
        self.at -= 1;
        self.malformed()
    }

    #[inline]
    fn byte(&mut self) -> Read<u8> {
        if self.at - self.window_at >= self.window.len() && !(self.at < self.len && self.fill(1)) {
            return self.malformed();
        }
        let byte = self.window[self.at - self.window_at];
        self.at += 1;
        Ok(byte)
    }

    /// Unsigned LEB128, shortest form, at most 64 bits.
    fn uint(&mut self) -> Read<u64> {
        let start = self.at;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if (shift == 63 && bits > 1) || (byte == 0 && shift > 0) {
                self.at = start;
                return self.malformed();
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.at = start;
        self.malformed()
    }

    fn u32(&mut self) -> Read<u32> {
        let start = self.at;
        let value = self.uint()?;
        u32::try_from(value).or_else(|_| {
            self.at = start;
            self.malformed()
        })
    }

    /// A tag below `limit`.
    fn tag(&mut self, limit: u8) -> Read<u8> {
        let tag = self.byte()?;
        if tag >= limit {
            return self.malformed_before();
        }
        Ok(tag)
    }

    fn flag(&mut self) -> Read<bool> {
        Ok(self.tag(2)? == 1)
    }

    /// A count of items, each at least `min_len` bytes, that fits in what is left.
    fn count(&mut self, min_len: usize) -> Read<usize> {
        let start = self.at;
        let count = self.uint()?;
        let left = self.len.saturating_sub(self.at) as u64;
        if count.saturating_mul(min_len.max(1) as u64) > left {
            self.at = start;
            return self.malformed();
        }
        Ok(count as usize)
    }

    fn str(&mut self) -> Read<String> {
        let len = self.count(1)?;
        if !self.fill(len) {
            return self.malformed();
        }
        let from = self.at - self.window_at;
        let Ok(text) = std::str::from_utf8(&self.window[from..from + len]) else {
            return self.malformed();
        };
        let text = text.to_string();
        self.at += len;
        Ok(text)
    }

    fn names(&mut self) -> Read<Names> {
        Ok(Names { ky: self.str()?, ru: self.str()?, en: self.str()? })
    }

    fn share(&mut self) -> Read<Share> {
        Ok(Share { num: self.uint()?, den: self.uint()? })
    }

    fn list<T>(&mut self, mut each: impl FnMut(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        let count = self.count(1)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(each(self)?);
        }
        Ok(items)
    }

    fn option<T>(&mut self, each: impl FnOnce(&mut Self) -> Read<T>) -> Read<Option<T>> {
        match self.flag()? {
            false => Ok(None),
            true => each(self).map(Some),
        }
    }

    fn base(&mut self) -> Read<ThresholdBase> {
        Ok([ThresholdBase::TookPart, ThresholdBase::Valid, ThresholdBase::Registered]
            [usize::from(self.tag(3)?)])
    }

    fn expr(&mut self) -> Read<LinearExpr> {
        let terms = self.list(|r| {
            let sign = match r.byte()? {
                0x01 => 1,
                0xff => -1,
                _ => return r.malformed_before(),
            };
            let term = match r.tag(3)? {
                0 => Term::Line(r.str()?),
                1 => Term::SumOptions,
                _ => Term::Const(r.uint()?),
            };
            Ok((sign, term))
        })?;
        Ok(LinearExpr { terms })
    }

    fn form(&mut self) -> Read<Form> {
        Ok(Form {
            id: self.str()?,
            lines: self.list(|r| Ok(FormLine { id: r.str()?, name: r.names()? }))?,
            registered: self.str()?,
            valid: self.str()?,
            invalid: self.str()?,
            took_part: self.expr()?,
            relations: self.list(|r| {
                Ok(Relation {
                    text: r.str()?,
                    lhs: r.expr()?,
                    op: [CmpOp::Eq, CmpOp::Ge, CmpOp::Le][usize::from(r.tag(3)?)],
                    rhs: r.expr()?,
                })
            })?,
        })
    }

    fn candidate(&mut self) -> Read<Candidate> {
        Ok(Candidate {
            id: self.str()?,
            name: self.str()?,
            position: self.u32()?,
            sex: [Sex::Female, Sex::Male][usize::from(self.tag(2)?)],
            party: self.option(Reader::str)?,
        })
    }

    fn contest(&mut self) -> Read<Contest> {
        let (id, name, form, against_all) = (self.str()?, self.names()?, self.str()?, self.flag()?);
        let kind = match self.tag(2)? {
            0 => ContestKind::PartyList(PartyListContest {
                seats: self.u32()?,
                method: [Method::Hare, Method::Droop, Method::Dhondt, Method::SainteLague]
                    [usize::from(self.tag(4)?)],
                threshold: Threshold { share: self.share()?, base: self.base()? },
                regional_threshold: self.option(|r| {
                    Ok(RegionalThreshold {
                        share: r.share()?,
                        base: r.base()?,
                        regions: r.list(Reader::str)?,
                    })
                })?,
                women_min_share: self.option(Reader::share)?,
                parties: self.list(|r| {
                    Ok(Party {
                        id: r.str()?,
                        ballot_number: r.u32()?,
                        name: r.names()?,
                        candidates: r.list(Reader::candidate)?,
                        color: r.option(Reader::str)?,
                    })
                })?,
            }),
            _ => ContestKind::SingleMember(SingleMemberContest {
                district: self.str()?,
                candidates: self.list(Reader::candidate)?,
                fails_if_against_all_leads: self.flag()?,
            }),
        };
        Ok(Contest { id, name, form, against_all, kind })
    }

    fn election(&mut self) -> Read<Election> {
        let (id, name, date, tie_seed, log_origin) =
            (self.str()?, self.names()?, self.str()?, self.str()?, self.str()?);
        let rules = Rules {
            ballots_over_registered: self.uint()?,
            turnout_warning: self.share()?,
            machine_manual_tolerance: self.uint()?,
        };
        let regions =
            self.list(|r| Ok(Region { id: r.str()?, name: r.names()?, abroad: r.flag()? }))?;
        let districts =
            self.list(|r| Ok(District { id: r.str()?, name: r.names()?, region: r.str()? }))?;
        let stations = self.list(|r| {
            Ok(Station {
                id: r.str()?,
                name: r.str()?,
                district: r.str()?,
                region: r.str()?,
                registered: r.uint()?,
                abroad: r.flag()?,
            })
        })?;
        let forms = self.list(Reader::form)?;
        let contests = self.list(Reader::contest)?;
        let keys = self.list(|r| {
            Ok(KeyRecord {
                id: r.str()?,
                role: [Role::Machine, Role::Operator, Role::Observer, Role::Admin]
                    [usize::from(r.tag(4)?)],
                public_key: r.str()?,
                station: r.option(Reader::str)?,
                district: r.option(Reader::str)?,
            })
        })?;
        let mut station_idx = IdIndex::default();
        for position in 0..stations.len() as u32 {
            if station_idx.insert(position, |i| stations[i as usize].id.as_bytes()).is_err() {
                let id = stations[position as usize].id.clone();
                return Err(CacheError::Duplicate { what: "stations", id });
            }
        }
        let form_idx = index("forms", &forms, |f| &f.id)?;
        for contest in &contests {
            if !form_idx.contains_key(&contest.form) {
                let (contest, form) = (contest.id.clone(), contest.form.clone());
                return Err(CacheError::UnknownForm { contest, form });
            }
        }
        Ok(Election {
            region_idx: index("regions", &regions, |r| &r.id)?,
            district_idx: index("districts", &districts, |d| &d.id)?,
            station_idx,
            form_idx,
            contest_idx: index("contests", &contests, |c| &c.id)?,
            id,
            name,
            date,
            tie_seed,
            log_origin,
            rules,
            regions,
            districts,
            stations,
            forms,
            contests,
            keys,
        })
    }
}

/// Each item's id to its position; `Err` on an id given twice.
fn index<T>(
    what: &'static str,
    items: &[T],
    id: impl Fn(&T) -> &String,
) -> Read<HashMap<String, usize>> {
    let mut index = HashMap::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        if index.insert(id(item).clone(), position).is_some() {
            return Err(CacheError::Duplicate { what, id: id(item).clone() });
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{CacheError, Election};
    use crate::simulate::{Config, Night};

    fn example(name: &str) -> String {
        let path = format!("{}/../../examples/{name}/election.toml", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A definition with every kind of key, as `sverka simulate` writes it (the 2021 example
    /// rescaled to 3,000 stations).
    fn generated() -> String {
        let config = Config { seed: 3, stations: Some(3_000), threads: 1, ..Config::default() };
        let night = Night::new("election.toml", &example("kyrgyzstan-2021"), config)
            .unwrap_or_else(|e| panic!("{e}"));
        night.election_toml()
    }

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Its TOML read in full, and its cache read back.
    fn both(text: &str) -> (Election, Vec<u8>, Election) {
        let read = Election::from_toml("election.toml", text).unwrap_or_else(|e| panic!("{e}"));
        let hash = sha256(text.as_bytes());
        let cache = read.to_cache(&hash);
        let back = Election::from_cache(&cache, &hash).unwrap_or_else(|e| panic!("{e}"));
        (read, cache, back)
    }

    #[test]
    fn the_cache_gives_back_the_election_the_definition_gives() {
        for text in [example("tiny"), example("kyrgyzstan-2021"), generated()] {
            let (read, cache, back) = both(&text);
            assert!(read == back, "the election read back from its cache differs");
            assert_eq!(back.to_cache(&sha256(text.as_bytes())), cache, "not the same bytes again");
            // Lookups by id, which the cache rebuilds, find the same.
            for (i, station) in read.stations.iter().enumerate() {
                assert_eq!(back.station_index(&station.id), Some(i));
            }
            for contest in &read.contests {
                assert_eq!(back.contest(&contest.id), Some(contest));
                assert_eq!(back.form_of(contest), read.form_of(contest));
            }
            let trusted = Election::from_toml_trusted_keys("election.toml", &text).unwrap();
            assert!(trusted == read, "the trusted-keys reading differs");
        }
    }

    /// A sink that takes `room` bytes, then fails; it records the size of each write.
    struct Sink {
        room: usize,
        writes: Vec<usize>,
    }

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if bytes.len() > self.room {
                return Err(std::io::Error::other("disk full"));
            }
            self.room -= bytes.len();
            self.writes.push(bytes.len());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A cache of several megabytes (the 2021 example rescaled to 20,000 stations): the election
    /// read from its definition, its cache and the definition's SHA-256, made once for every test
    /// that needs more than one window's worth.
    fn big_cache() -> &'static (Election, Vec<u8>, [u8; 32]) {
        static BIG: std::sync::OnceLock<(Election, Vec<u8>, [u8; 32])> = std::sync::OnceLock::new();
        BIG.get_or_init(|| {
            let config =
                Config { seed: 5, stations: Some(20_000), threads: 1, ..Config::default() };
            let night = Night::new("election.toml", &example("kyrgyzstan-2021"), config)
                .unwrap_or_else(|e| panic!("{e}"));
            let text = night.election_toml();
            let (read, cache, _) = both(&text);
            (read, cache, sha256(text.as_bytes()))
        })
    }

    #[test]
    fn the_cache_is_written_a_megabyte_at_a_time_and_a_failed_write_is_reported() {
        let (read, cache, hash) = big_cache();
        let mut sink = Sink { room: usize::MAX, writes: Vec::new() };
        read.write_cache(hash, &mut sink).unwrap();
        assert_eq!(sink.writes.iter().sum::<usize>(), cache.len(), "the bytes of to_cache");
        assert!(
            sink.writes.len() > 2,
            "{} writes of a {}-byte cache",
            sink.writes.len(),
            cache.len()
        );
        assert!(
            sink.writes.iter().all(|&n| n < 2 << 20),
            "no write of the whole: {:?}",
            sink.writes
        );
        let mut full = Sink { room: cache.len() / 2, writes: Vec::new() };
        let error = read.write_cache(hash, &mut full).unwrap_err();
        assert_eq!(error.to_string(), "disk full");
    }

    /// A source that gives at most `step` bytes a read.
    struct Trickle<'b> {
        bytes: &'b [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_cache_read_from_a_source_in_small_reads_gives_what_its_bytes_give() {
        // A cache of several megabytes (more than one window), read a few bytes at a time and
        // in large reads: the election of `from_cache`; cut short, or with a byte after its
        // length, it is refused as malformed.
        let (read, cache, hash) = big_cache();
        assert!(cache.len() > 2 << 20, "{} bytes", cache.len());
        for step in [7, 4096, 3 << 20] {
            let mut source = Trickle { bytes: cache, step };
            let back = Election::from_cache_reader(&mut source, cache.len(), hash).unwrap();
            assert!(back == *read, "read {step} bytes at a time");
            assert!(source.bytes.is_empty(), "every byte read");
        }
        let cut = cache.len() - 1000;
        let mut short = Trickle { bytes: &cache[..cut], step: 4096 };
        assert!(matches!(
            Election::from_cache_reader(&mut short, cache.len(), hash),
            Err(CacheError::Malformed { .. })
        ));
        let mut longer = cache.clone();
        longer.push(0);
        let mut source = Trickle { bytes: &longer, step: 4096 };
        assert_eq!(
            Election::from_cache_reader(&mut source, cache.len(), hash),
            Err(CacheError::Malformed { at: cache.len() })
        );
    }

    #[test]
    fn a_cache_of_another_definition_is_refused() {
        let text = example("tiny");
        let (read, cache, _) = both(&text);
        let other = sha256(b"another definition");
        assert!(matches!(
            Election::from_cache(&cache, &other),
            Err(CacheError::OtherDefinition { .. })
        ));
        let mut renamed = cache.clone();
        renamed[..8].copy_from_slice(b"SVERKA-E");
        let hash = sha256(text.as_bytes());
        assert_eq!(Election::from_cache(&renamed, &hash), Err(CacheError::Format));
        assert_eq!(read.to_cache(&hash), cache);
    }

    #[test]
    fn a_cut_or_extended_cache_is_refused_and_no_byte_changed_makes_it_panic() {
        let text = example("tiny");
        let (read, cache, _) = both(&text);
        let hash = sha256(text.as_bytes());
        for len in 0..cache.len() {
            assert!(Election::from_cache(&cache[..len], &hash).is_err(), "cut at {len}");
        }
        let mut longer = cache.clone();
        longer.push(0);
        assert!(Election::from_cache(&longer, &hash).is_err());
        // A changed byte is refused or read as some other election, never a panic; the caller
        // pins the cache's hash, so a changed one is never read (cmd_verify.rs).
        for at in 0..cache.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut changed = cache.clone();
                changed[at] ^= flip;
                if let Ok(election) = Election::from_cache(&changed, &hash) {
                    assert!(election != read, "byte {at} ^ {flip:#x} changed nothing");
                }
            }
        }
    }
}
