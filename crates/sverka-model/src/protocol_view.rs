//! A protocol read straight from a stored entry's bytes, borrowing them: no `String` per id and
//! no map per count list, for the replay behind `sverka results` and `sverka publish` (issue 10).
//!
//! [`ProtocolView::parse`] reads only the plain canonical form that admitted protocols have:
//! `{"payload":{…},"signature":"…"}` with no whitespace, strings without escapes or control
//! characters, integers without sign, fraction or exponent, each member once, and the ids of
//! `lines`, `votes` and each party's `preferences` in strictly increasing byte order (the order
//! of a `BTreeMap<String, _>`). It gives `None` for anything else, including every entry that is
//! not a protocol: the caller then parses the bytes into a [`crate::Submission`] with
//! `serde_json`, which accepts, refuses or reads them as it always did. So whenever a view is
//! given, the typed parse of the same bytes succeeds and holds the same values: the counts in the
//! same order, as the same numbers (pinned by `sverka-tally/tests/protocol_view.rs`).
//!
//! [`SignedView::parse`] is the stricter read `sverka verify` makes of every published protocol:
//! a view only of bytes that are exactly the canonical encoding (RFC 8785) of what they hold, as
//! `Submission::decode_signed` requires — payload members in sorted order, no `null` or empty
//! `preferences` for what the encoding leaves out, integers within ±(2^53 − 1), ids in the order
//! of their UTF-16 code units as well as of their bytes — of the current format version, with a
//! signature that is base64 of 64 bytes. So whenever it gives a view, `decode_signed` of the same
//! bytes succeeds with the same values and the same signed message (pinned by
//! `tests/signed_view.rs` and the fuzz target `protocol_view`); for anything else it gives `None`
//! and the caller decodes typed, which accepts or refuses (naming the problem) as before.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::names::{CorrectionReason, Source};
use crate::submission::{
    Body, Decoded, Payload, FORMAT_VERSION, MAX_SUBMISSION_BYTES, SIGNATURE_CONTEXT,
};

/// A protocol entry's payload, borrowed from the entry's bytes. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolView<'a> {
    pub v: u32,
    pub election: &'a str,
    pub signer: &'a str,
    pub seq: u64,
    pub station: &'a str,
    pub contest: &'a str,
    pub source: Source,
    /// The log index of the entry this one corrects, and why.
    pub supersedes: Option<(u64, CorrectionReason)>,
    pub lines: CountsView<'a>,
    pub votes: CountsView<'a>,
    pub preferences: PreferencesView<'a>,
    /// The SHA-256 (hex) of the scanned paper protocol, when the entry names one.
    pub scan_sha256: Option<&'a str>,
}

/// A protocol entry exactly as `Submission::decode_signed` accepts it: see the module
/// documentation and [`SignedView::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedView<'a> {
    pub protocol: ProtocolView<'a>,
    /// The payload's bytes: the signature covers [`SIGNATURE_CONTEXT`] followed by these.
    pub payload: &'a [u8],
    /// The signature's 64 bytes.
    pub signature: [u8; 64],
}

/// Where the parts of a [`SignedView`] lie in its entry's bytes, with the numbers it read: enough
/// to make the same view of the same bytes again without reading them again
/// ([`SignedView::at`]). `sverka verify`'s workers read each entry and send these back with the
/// bytes to the main thread, which folds the view in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewSpans {
    /// The entry's length (a check that the view is made again of the same bytes).
    entry_len: usize,
    v: u32,
    seq: u64,
    source: Source,
    supersedes: Option<(u64, CorrectionReason)>,
    election: Span,
    signer: Span,
    station: Span,
    contest: Span,
    lines: Span,
    votes: Span,
    preferences: Span,
    scan_sha256: Option<Span>,
    payload: Span,
    signature: [u8; 64],
}

/// Bytes `start..start + len` of an entry (an empty part is `0..0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Where `part`, a slice of `entry`, lies in it.
    fn of(entry: &[u8], part: &[u8]) -> Span {
        if part.is_empty() {
            return Span { start: 0, len: 0 };
        }
        let start = (part.as_ptr() as usize).wrapping_sub(entry.as_ptr() as usize);
        debug_assert!(start + part.len() <= entry.len(), "a part of the entry");
        // Entries are at most MAX_SUBMISSION_BYTES long.
        Span { start: start as u32, len: part.len() as u32 }
    }

    fn get(self, entry: &[u8]) -> Option<&[u8]> {
        let start = self.start as usize;
        entry.get(start..start + self.len as usize)
    }

    fn text(self, entry: &[u8]) -> Option<&str> {
        std::str::from_utf8(self.get(entry)?).ok()
    }
}

/// The largest integer the canonical encoding writes (RFC 8785 via I-JSON, RFC 7493 §2.2).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

impl<'a> SignedView<'a> {
    /// The protocol in `entry` when `Submission::decode_signed(entry)` accepts it and its bytes
    /// are a protocol (see the module documentation); `None` for anything else, which the caller
    /// decodes typed.
    pub fn parse(entry: &'a [u8]) -> Option<SignedView<'a>> {
        if entry.len() > MAX_SUBMISSION_BYTES {
            return None;
        }
        let mut p = Parser { bytes: entry, at: 0, canonical: true };
        p.literal(b"{\"payload\":")?;
        let start = p.at;
        let protocol = p.payload()?;
        let payload = &entry[start..p.at];
        p.literal(b",\"signature\":")?;
        let signature = p.string()?;
        p.byte(b'}')?;
        if p.at != entry.len() || protocol.v != FORMAT_VERSION {
            return None;
        }
        let signature = STANDARD.decode(signature).ok()?.try_into().ok()?;
        Some(SignedView { protocol, payload, signature })
    }

    /// Where this view's parts lie in `entry`, the bytes it was read from
    /// ([`SignedView::at`] makes it again).
    pub fn spans(&self, entry: &[u8]) -> ViewSpans {
        let protocol = &self.protocol;
        let span = |part: &[u8]| Span::of(entry, part);
        ViewSpans {
            entry_len: entry.len(),
            v: protocol.v,
            seq: protocol.seq,
            source: protocol.source,
            supersedes: protocol.supersedes,
            election: span(protocol.election.as_bytes()),
            signer: span(protocol.signer.as_bytes()),
            station: span(protocol.station.as_bytes()),
            contest: span(protocol.contest.as_bytes()),
            lines: span(protocol.lines.inner),
            votes: span(protocol.votes.inner),
            preferences: span(protocol.preferences.inner),
            scan_sha256: protocol.scan_sha256.map(|scan| span(scan.as_bytes())),
            payload: span(self.payload),
            signature: self.signature,
        }
    }

    /// The view `spans` were taken from, made again of `entry`, the same bytes, without reading
    /// them again (only the ids' UTF-8 is checked again). `None` if `entry` is not as long as
    /// the bytes the spans were taken from. Given other bytes of that length, the view's
    /// counts may not read (their iterators panic): `entry` must be the bytes the view was
    /// read from.
    pub fn at(entry: &'a [u8], spans: &ViewSpans) -> Option<SignedView<'a>> {
        if entry.len() != spans.entry_len {
            return None;
        }
        let protocol = ProtocolView {
            v: spans.v,
            election: spans.election.text(entry)?,
            signer: spans.signer.text(entry)?,
            seq: spans.seq,
            station: spans.station.text(entry)?,
            contest: spans.contest.text(entry)?,
            source: spans.source,
            supersedes: spans.supersedes,
            lines: CountsView { inner: spans.lines.get(entry)? },
            votes: CountsView { inner: spans.votes.get(entry)? },
            preferences: PreferencesView { inner: spans.preferences.get(entry)? },
            scan_sha256: match spans.scan_sha256 {
                Some(scan) => Some(scan.text(entry)?),
                None => None,
            },
        };
        let payload = spans.payload.get(entry)?;
        Some(SignedView { protocol, payload, signature: spans.signature })
    }

    /// The message the signature covers: [`SIGNATURE_CONTEXT`] followed by the payload's bytes.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(SIGNATURE_CONTEXT.len() + self.payload.len());
        message.extend_from_slice(SIGNATURE_CONTEXT);
        message.extend_from_slice(self.payload);
        message
    }

    /// The first thing in which this view and `decoded`, what `Submission::decode_signed` made
    /// of the same bytes, differ (a member of the payload, `message` or `signature`); `None`
    /// when they agree (what `sverka verify` relies on; checked by the tests and the fuzz target
    /// `protocol_view`).
    pub fn differs_from(&self, decoded: &Decoded) -> Option<&'static str> {
        let submission = decoded.submission();
        self.protocol.differs_from(&submission.payload).or_else(|| {
            if decoded.signing_message() != self.signing_message().as_slice() {
                Some("message")
            } else if submission.signature_bytes().ok() != Some(self.signature) {
                Some("signature")
            } else {
                None
            }
        })
    }
}

/// A JSON object of counts (`{"id":n,…}`), checked when the view was made: ids plain strings in
/// strictly increasing byte order, values integers that fit `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountsView<'a> {
    /// The bytes between the braces.
    inner: &'a [u8],
}

/// `preferences`: a JSON object of party id → [`CountsView`], parties in strictly increasing
/// byte order (empty when the member is absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreferencesView<'a> {
    /// The bytes between the braces.
    inner: &'a [u8],
}

impl<'a> CountsView<'a> {
    /// `(id, value)` in the order of the bytes (increasing byte order of the ids).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u64)> + Clone {
        self.iter_raw().map(|(id, value)| {
            (std::str::from_utf8(id).expect("checked when the view was made"), value)
        })
    }

    /// [`CountsView::iter`] with the ids as their bytes (UTF-8, checked when the view was made;
    /// not checked again), for readers that compare them as bytes.
    pub fn iter_raw(&self) -> CountsIter<'a> {
        CountsIter { rest: self.inner }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<'a> PreferencesView<'a> {
    /// `(party, its counts)` in the order of the bytes (increasing byte order of the parties).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, CountsView<'a>)> + Clone {
        self.iter_raw().map(|(party, counts)| {
            (std::str::from_utf8(party).expect("checked when the view was made"), counts)
        })
    }

    /// [`PreferencesView::iter`] with the parties as their bytes (see [`CountsView::iter_raw`]).
    pub fn iter_raw(&self) -> PreferencesIter<'a> {
        PreferencesIter { rest: self.inner }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The members of a [`CountsView`] (ids as bytes), read again from bytes already checked.
#[derive(Clone, Debug)]
pub struct CountsIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for CountsIter<'a> {
    type Item = (&'a [u8], u64);
    fn next(&mut self) -> Option<(&'a [u8], u64)> {
        if self.rest.is_empty() {
            return None;
        }
        let mut p = Parser { bytes: self.rest, at: 0, canonical: false };
        let member = p.raw_string().and_then(|id| {
            p.byte(b':')?;
            Some((id, p.number()?))
        });
        let member = member.expect("checked when the view was made");
        // Past the `,` between members (there is none after the last).
        self.rest = self.rest.get(p.at + 1..).unwrap_or_default();
        Some(member)
    }
}

/// The members of a [`PreferencesView`] (parties as bytes), read again from bytes already
/// checked.
#[derive(Clone, Debug)]
pub struct PreferencesIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for PreferencesIter<'a> {
    type Item = (&'a [u8], CountsView<'a>);
    fn next(&mut self) -> Option<(&'a [u8], CountsView<'a>)> {
        if self.rest.is_empty() {
            return None;
        }
        let mut p = Parser { bytes: self.rest, at: 0, canonical: false };
        let member = p.raw_string().and_then(|party| {
            p.byte(b':')?;
            Some((party, p.counts()?))
        });
        let member = member.expect("checked when the view was made");
        self.rest = self.rest.get(p.at + 1..).unwrap_or_default();
        Some(member)
    }
}

impl<'a> ProtocolView<'a> {
    /// The protocol in `entry`, when the entry is a protocol in the plain canonical form (see
    /// the module documentation); `None` for anything else, which the caller parses typed.
    pub fn parse(entry: &'a [u8]) -> Option<ProtocolView<'a>> {
        let mut p = Parser { bytes: entry, at: 0, canonical: false };
        p.literal(b"{\"payload\":")?;
        let view = p.payload()?;
        p.literal(b",\"signature\":")?;
        p.string()?;
        p.byte(b'}')?;
        (p.at == entry.len()).then_some(view)
    }

    /// The first member in which this view and `payload`, the typed parse of the same bytes,
    /// differ; `None` when the view holds what the typed parse holds, counts in the same order
    /// (what the replay relies on; checked by the tests and the fuzz target `protocol_view`).
    pub fn differs_from(&self, payload: &Payload) -> Option<&'static str> {
        let Body::Protocol(protocol) = &payload.body else { return Some("type") };
        let same = |view: CountsView<'_>, typed: &BTreeMap<String, u64>| {
            view.iter().eq(typed.iter().map(|(id, value)| (id.as_str(), *value)))
        };
        let preferences = self.preferences.iter().count() == protocol.preferences.len()
            && self.preferences.iter().zip(&protocol.preferences).all(
                |((party, counts), (typed_party, typed_counts))| {
                    party == typed_party && same(counts, typed_counts)
                },
            );
        let supersedes = protocol.supersedes.as_ref().map(|s| (s.index, s.reason));
        [
            ("v", self.v == payload.v),
            ("election", self.election == payload.election),
            ("signer", self.signer == payload.signer),
            ("seq", self.seq == payload.seq),
            ("station", self.station == protocol.station),
            ("contest", self.contest == protocol.contest),
            ("source", self.source == protocol.source),
            ("supersedes", self.supersedes == supersedes),
            ("lines", same(self.lines, &protocol.lines)),
            ("votes", same(self.votes, &protocol.votes)),
            ("preferences", preferences),
            ("scan_sha256", self.scan_sha256 == protocol.scan_sha256.as_deref()),
        ]
        .into_iter()
        .find(|(_, agrees)| !agrees)
        .map(|(member, _)| member)
    }
}

/// The members [`Parser::payload`] reads, one bit each, to refuse a second one.
const V: u16 = 1;
const ELECTION: u16 = 1 << 1;
const SIGNER: u16 = 1 << 2;
const SEQ: u16 = 1 << 3;
const TIME: u16 = 1 << 4;
const TYPE: u16 = 1 << 5;
const STATION: u16 = 1 << 6;
const CONTEST: u16 = 1 << 7;
const SOURCE: u16 = 1 << 8;
const LINES: u16 = 1 << 9;
const VOTES: u16 = 1 << 10;
const PREFERENCES: u16 = 1 << 11;
const SUPERSEDES: u16 = 1 << 12;
const SCAN_SHA256: u16 = 1 << 13;
/// What a protocol payload must have.
const REQUIRED: u16 =
    V | ELECTION | SIGNER | SEQ | TYPE | STATION | CONTEST | SOURCE | LINES | VOTES;

/// Whether `a < b` in byte order (short ids: a loop, not a call to `memcmp`).
fn below(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// Whether `a < b` in the order of their UTF-16 code units (RFC 8785 §3.2.3), which is their
/// byte order unless one holds a character from U+E000 on: then it is checked as UTF-16.
fn below_utf16(a: &[u8], b: &[u8]) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return below(a, b);
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => a.encode_utf16().lt(b.encode_utf16()),
        _ => false,
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Read only the canonical encoding ([`SignedView::parse`]).
    canonical: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.peek()? == expected).then(|| self.at += 1)
    }

    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        let end = self.at.checked_add(expected.len())?;
        (self.bytes.get(self.at..end)? == expected).then(|| self.at = end)
    }

    /// A string without escapes or control characters, as UTF-8.
    fn string(&mut self) -> Option<&'a str> {
        let text = self.raw_string()?;
        std::str::from_utf8(text).ok()
    }

    /// [`Parser::string`]'s bytes, checked to be UTF-8 (ASCII, the usual case, in the same
    /// pass that looks for the closing quote).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.byte(b'"')?;
        let start = self.at;
        let mut high = 0u8;
        let len = self.bytes[start..].iter().position(|&b| {
            high |= b;
            b == b'"' || b == b'\\' || b < 0x20
        })?;
        self.at = start + len;
        self.byte(b'"')?;
        let text = &self.bytes[start..start + len];
        if high >= 0x80 {
            std::str::from_utf8(text).ok()?;
        }
        Some(text)
    }

    /// An integer without sign, fraction, exponent or leading zero that fits `u64`. (What
    /// follows it is the caller's to check: `01` or `1.5` then fail there.)
    fn number(&mut self) -> Option<u64> {
        let first = self.peek().filter(u8::is_ascii_digit)?;
        self.at += 1;
        let mut value = u64::from(first - b'0');
        if value == 0 {
            return Some(0);
        }
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            value = value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        (!self.canonical || value <= MAX_SAFE_INTEGER).then_some(value)
    }

    /// `null`, where the typed parse reads `None`: never in the canonical encoding, which
    /// leaves such a member out.
    fn null(&mut self) -> Option<()> {
        if self.canonical && self.peek() == Some(b'n') {
            return None;
        }
        self.literal(b"null")
    }

    /// Whether the id `id` may follow `previous` in a map: increasing byte order (what the
    /// readers of a view rely on), and in the canonical read also increasing UTF-16 order.
    fn in_order(&self, previous: &[u8], id: &[u8]) -> bool {
        below(previous, id) && (!self.canonical || below_utf16(previous, id))
    }

    /// `{"id":n,…}` with ids in strictly increasing byte order.
    fn counts(&mut self) -> Option<CountsView<'a>> {
        self.byte(b'{')?;
        let start = self.at;
        if self.byte(b'}').is_some() {
            return Some(CountsView { inner: &self.bytes[start..start] });
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let id = self.raw_string()?;
            if previous.is_some_and(|previous| !self.in_order(previous, id)) {
                return None;
            }
            previous = Some(id);
            self.byte(b':')?;
            self.number()?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(CountsView { inner: &self.bytes[start..self.at - 1] });
                }
                _ => return None,
            }
        }
    }

    /// `{"party":{counts},…}` with parties in strictly increasing byte order.
    fn preferences(&mut self) -> Option<PreferencesView<'a>> {
        self.byte(b'{')?;
        let start = self.at;
        if self.byte(b'}').is_some() {
            // The canonical encoding leaves empty preferences out.
            return (!self.canonical)
                .then_some(PreferencesView { inner: &self.bytes[start..start] });
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let party = self.raw_string()?;
            if previous.is_some_and(|previous| !self.in_order(previous, party)) {
                return None;
            }
            previous = Some(party);
            self.byte(b':')?;
            self.counts()?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(PreferencesView { inner: &self.bytes[start..self.at - 1] });
                }
                _ => return None,
            }
        }
    }

    /// `{"index":n,"reason":"…"}`, or `null`.
    fn supersedes(&mut self) -> Option<Option<(u64, CorrectionReason)>> {
        if self.null().is_some() {
            return Some(None);
        }
        self.literal(b"{\"index\":")?;
        let index = self.number()?;
        self.literal(b",\"reason\":")?;
        let reason = match self.string()? {
            "keying_error" => CorrectionReason::KeyingError,
            "recount" => CorrectionReason::Recount,
            "court_order" => CorrectionReason::CourtOrder,
            "late_protocol" => CorrectionReason::LateProtocol,
            "commission_decision" => CorrectionReason::CommissionDecision,
            _ => return None,
        };
        self.byte(b'}')?;
        Some(Some((index, reason)))
    }

    /// A string, or `null`.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.null().is_some() {
            return Some(None);
        }
        Some(Some(self.string()?))
    }

    /// The payload object of a protocol, every member known and read once.
    fn payload(&mut self) -> Option<ProtocolView<'a>> {
        self.byte(b'{')?;
        let empty = CountsView { inner: &[] };
        let mut view = ProtocolView {
            v: 0,
            election: "",
            signer: "",
            seq: 0,
            station: "",
            contest: "",
            source: Source::Machine,
            supersedes: None,
            lines: empty,
            votes: empty,
            preferences: PreferencesView { inner: &[] },
            scan_sha256: None,
        };
        let mut seen = 0u16;
        let mut previous: &[u8] = b"";
        loop {
            let name = self.string()?;
            // Canonical: members in increasing order (their names are ASCII: byte order).
            if self.canonical && !below(previous, name.as_bytes()) {
                return None;
            }
            previous = name.as_bytes();
            self.byte(b':')?;
            let member = match name {
                "v" => {
                    view.v = u32::try_from(self.number()?).ok()?;
                    V
                }
                "election" => {
                    view.election = self.string()?;
                    ELECTION
                }
                "signer" => {
                    view.signer = self.string()?;
                    SIGNER
                }
                "seq" => {
                    view.seq = self.number()?;
                    SEQ
                }
                "time" => {
                    self.optional_string()?;
                    TIME
                }
                "type" => {
                    (self.string()? == "protocol").then_some(())?;
                    TYPE
                }
                "station" => {
                    view.station = self.string()?;
                    STATION
                }
                "contest" => {
                    view.contest = self.string()?;
                    CONTEST
                }
                "source" => {
                    view.source = match self.string()? {
                        "machine" => Source::Machine,
                        "manual" => Source::Manual,
                        "observer" => Source::Observer,
                        "recount" => Source::Recount,
                        _ => return None,
                    };
                    SOURCE
                }
                "lines" => {
                    view.lines = self.counts()?;
                    LINES
                }
                "votes" => {
                    view.votes = self.counts()?;
                    VOTES
                }
                "preferences" => {
                    view.preferences = self.preferences()?;
                    PREFERENCES
                }
                "supersedes" => {
                    view.supersedes = self.supersedes()?;
                    SUPERSEDES
                }
                "scan_sha256" => {
                    view.scan_sha256 = self.optional_string()?;
                    SCAN_SHA256
                }
                _ => return None,
            };
            if seen & member != 0 {
                return None;
            }
            seen |= member;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        (seen & REQUIRED == REQUIRED).then_some(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_back_in_order_with_their_values() {
        let entry = br#"{"payload":{"contest":"list","election":"e","lines":{"a":0,"b":18446744073709551615},"preferences":{"p":{"c1":3,"c2":0},"q":{}},"seq":9,"signer":"k","source":"observer","station":"1","supersedes":{"index":4,"reason":"keying_error"},"time":null,"type":"protocol","v":1,"votes":{}},"signature":"x"}"#;
        let view = ProtocolView::parse(entry).unwrap();
        assert_eq!(view.lines.iter().collect::<Vec<_>>(), [("a", 0), ("b", u64::MAX)]);
        assert!(view.votes.is_empty());
        let preferences: Vec<(&str, Vec<(&str, u64)>)> =
            view.preferences.iter().map(|(p, c)| (p, c.iter().collect())).collect();
        assert_eq!(preferences, [("p", vec![("c1", 3), ("c2", 0)]), ("q", vec![])]);
        assert_eq!(view.supersedes, Some((4, CorrectionReason::KeyingError)));
        assert_eq!((view.source, view.seq, view.v, view.station), (Source::Observer, 9, 1, "1"));
    }

    #[test]
    fn differs_from_names_the_first_member_the_typed_parse_holds_otherwise() {
        let entry = br#"{"payload":{"contest":"list","election":"e","lines":{"a":0,"b":7},"preferences":{"p":{"c1":3}},"seq":9,"signer":"k","source":"manual","station":"1","type":"protocol","v":1,"votes":{"p":3}},"signature":"x"}"#;
        let view = ProtocolView::parse(entry).unwrap();
        let typed: crate::Submission = serde_json::from_slice(entry).unwrap();
        assert_eq!(view.differs_from(&typed.payload), None);
        let edited = |edit: &dyn Fn(&mut crate::submission::Protocol)| {
            let mut payload = typed.payload.clone();
            let Body::Protocol(protocol) = &mut payload.body else { unreachable!() };
            edit(protocol);
            view.differs_from(&payload)
        };
        assert_eq!(edited(&|p| p.station = "2".into()), Some("station"));
        assert_eq!(edited(&|p| *p.lines.get_mut("b").unwrap() = 8), Some("lines"));
        assert_eq!(
            edited(&|p| {
                p.votes.remove("p");
            }),
            Some("votes")
        );
        assert_eq!(
            edited(&|p| {
                p.preferences.insert("q".into(), BTreeMap::new());
            }),
            Some("preferences")
        );
        assert_eq!(
            edited(&|p| *p.preferences.get_mut("p").unwrap().get_mut("c1").unwrap() = 4),
            Some("preferences")
        );
        let mut payload = typed.payload.clone();
        payload.seq = 10;
        assert_eq!(view.differs_from(&payload), Some("seq"));
    }

    #[test]
    fn anything_but_the_plain_form_is_left_to_the_typed_parse() {
        let good = r#"{"payload":{"contest":"c","election":"e","lines":{"a":1,"b":2},"seq":1,"signer":"k","source":"manual","station":"1","type":"protocol","v":1,"votes":{"x":3}},"signature":"s"}"#;
        assert!(ProtocolView::parse(good.as_bytes()).is_some());
        for (from, to) in [
            (r#""a":1,"b":2"#, r#""b":2,"a":1"#),
            (r#""a":1,"b":2"#, r#""a":1,"a":2"#),
            (r#""a":1,"b":2"#, r#""":1,"":2"#),
            (r#""a":1"#, r#""\u0061":1"#),
            (r#""a":1"#, r#""a":01"#),
            (r#""a":1"#, r#""a":1.0"#),
            (r#""a":1"#, r#""a":-1"#),
            (r#""a":1"#, r#""a":18446744073709551616"#),
            (r#""a":1"#, r#""a": 1"#),
            (r#""v":1"#, r#""v":4294967296"#),
            (r#""type":"protocol""#, r#""type":"annulment""#),
            (r#""source":"manual""#, r#""source":"Manual""#),
            (r#""contest":"c""#, r#""contest":null"#),
            (r#""contest":"c","#, ""),
            (r#""seq":1,"#, r#""seq":1,"seq":1,"#),
            (r#""seq":1,"#, r#""seq":1,"reason":"r","#),
            (r#""station":"1""#, "\"station\":\"1\u{1}\""),
            (r#""signature":"s"}"#, r#""signature":"s"} "#),
        ] {
            let bad = good.replacen(from, to, 1);
            assert_ne!(bad, good);
            assert_eq!(ProtocolView::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(ProtocolView::parse(b"{\"payload\":{\"v\":1}"), None);
        assert_eq!(ProtocolView::parse(&good.as_bytes()[..good.len() - 1]), None);
    }
}
