//! Tabulation: accepted log entries → live tallies → [`Results`], as a pure, incremental fold.
//!
//! [`Tally::new`] indexes an election; [`Tally::apply`] folds in one log entry (its index and its
//! submission); [`Tally::results`] adds everything up, allocates seats and says how close each
//! outcome is. `snapshot(N) = results(apply(entries[0..N]))` (DESIGN.md, "Invariant: results are
//! a pure function of the log").
//!
//! # Which protocol counts
//!
//! Protocols are kept per station, per contest, per **slot**: one slot per source (`machine`,
//! `manual`, `recount`), and one per signing key for `observer` copies (each party's copy is its
//! own). Within a slot:
//!
//! - the entry with the highest log index is the slot's current version. A later protocol with
//!   `supersedes` naming the earlier one is an **explicit correction**; a later protocol without it
//!   replaces the earlier one too and is reported as an **implicit correction** (the log is
//!   append-only and the newest word of a source is its word; hiding the change would be worse);
//! - a `supersedes` naming an entry of another slot of the same station and contest (a recount
//!   replacing the hand count) takes that slot's current version out if it is the one named. A
//!   slot whose current version was named this way has no current version (older versions do not
//!   come back). A `supersedes` naming no protocol of the same station and contest changes nothing
//!   and is reported as a warning (`tally.supersedes_unknown`).
//!
//! Annulments take a station (all contests, or one) out of **both** views, whatever their order in
//! the log: the log has no entry that restores an annulled station.
//!
//! # Views
//!
//! - **official**: the `recount` version if there is one, else the `manual` one; a station with
//!   neither is not yet counted (DESIGN.md: the machine data has no legal force);
//! - **preliminary**: `recount`, else `manual`, else `machine`.
//!
//! `observer` copies never count; they are kept for reconciliation and reported as progress.
//!
//! # Architecture invariant: order independence
//!
//! Every rule above depends only on the *set* of (index, entry) pairs applied, never on the order
//! of the calls, so tabulating the log in another order gives the same [`Results`]; lists in the
//! results are sorted. Applying the same index twice is a no-op.
//!
//! # Arithmetic
//!
//! Integers only. One protocol line is at most [`MAX_STATION_COUNT`] (no polling station has four
//! billion voters; a larger number is refused, not wrapped), so sums over millions of stations fit
//! `u64`. Per-district sums are kept up to date on every `apply` (subtract the station's old
//! contribution, add its new one), so `apply` costs the size of one protocol and `results` the
//! number of districts, not stations.

mod outcome;
mod sensitivity;
mod split;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use sverka_model::election::{Election, Form};
use sverka_model::form::Term;
use sverka_model::names::CorrectionReason;
use sverka_model::protocol_view::{CountsView, ProtocolView};
use sverka_model::submission::{Annulment, Body, Protocol, Submission};
use sverka_model::{ContestKind, Source};

pub use outcome::{
    DistrictResult, ElectedCandidate, ListOutcome, ListStatus, Outcome, PartyResult,
    RegionThreshold,
};
pub use sensitivity::{
    DistrictOutlook, InPlay, ListOutlook, PartyOutlook, SeatsOutlook, ThresholdOutlook,
};
pub use split::{entry_part, station_part, PartFold, TallyPart, PARTS};

/// FxHash (the hasher of rustc) with a MurmurHash3 finaliser: quick on short ids and integers. Every key hashed here is an id of
/// the election definition, a registered signer or a log index, none chosen by an attacker, so
/// the tally needs no protection against engineered collisions.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        // The Fx rounds leave the low bits depending on the first bytes only ("s123456" and
        // "s199999" would share buckets); MurmurHash3's fmix64 spreads every bit over all.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The largest value one protocol line may carry: 2^32 − 1.
pub const MAX_STATION_COUNT: u64 = u32::MAX as u64;

/// Which protocols a result is made of (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// Recount, else manual. The result with legal force.
    Official,
    /// Recount, else manual, else machine. Election night's best estimate.
    Preliminary,
}

impl View {
    /// Both views, official first.
    pub const ALL: [View; 2] = [View::Official, View::Preliminary];

    /// `official` or `preliminary`.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Official => "official",
            View::Preliminary => "preliminary",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }

    /// The sources this view reads, most authoritative first.
    fn precedence(self) -> &'static [Source] {
        match self {
            View::Official => &[Source::Recount, Source::Manual],
            View::Preliminary => &[Source::Recount, Source::Manual, Source::Machine],
        }
    }
}

fn source_slot(source: Source) -> usize {
    match source {
        Source::Machine => 0,
        Source::Manual => 1,
        Source::Observer => 2,
        Source::Recount => 3,
    }
}

/// What [`Tally::apply`] did with an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A protocol, now held in its slot (current or not, depending on its index).
    Protocol,
    /// An annulment.
    Annulment,
    /// An entry with no results in it (election definition, key registration or revocation).
    NotResults,
    /// This index was applied before; nothing changed.
    Duplicate,
    /// Not counted, for the reason given (also listed in [`Results::ignored`]).
    Ignored(IgnoreReason),
}

/// Why an entry could not be tabulated. Entries reach the tally only after validation, so any of
/// these means the validator and the tally disagree: it is reported, never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum IgnoreReason {
    #[error("entry is for election {0:?}, not this one")]
    WrongElection(String),
    #[error("unknown station {0:?}")]
    UnknownStation(String),
    #[error("unknown contest {0:?}")]
    UnknownContest(String),
    #[error("station {station:?} does not vote in contest {contest:?}")]
    NotInContest { station: String, contest: String },
    #[error("line {line:?} is {value}, above the limit of {MAX_STATION_COUNT} for one station")]
    CountTooLarge { line: String, value: u64 },
}

impl IgnoreReason {
    /// A stable code for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            IgnoreReason::WrongElection(_) => "tally.wrong_election",
            IgnoreReason::UnknownStation(_) => "tally.unknown_station",
            IgnoreReason::UnknownContest(_) => "tally.unknown_contest",
            IgnoreReason::NotInContest { .. } => "tally.not_in_contest",
            IgnoreReason::CountTooLarge { .. } => "tally.count_too_large",
        }
    }
}

/// Something counted but worth a look, with a stable code, e.g. a vote line for an option the
/// contest does not have (the line is not counted).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The log index of the entry it is about.
    pub index: u64,
    /// `tally.unknown_line`, `tally.unknown_option`, `tally.unknown_candidate`,
    /// `tally.negative_took_part`, `tally.supersedes_unknown`, `tally.supersedes_later`.
    pub code: &'static str,
    pub message: String,
}

/// An entry that was not counted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ignored {
    pub index: u64,
    pub reason: IgnoreReason,
}

/// How one protocol replaced another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CorrectionKind {
    /// The later entry named the earlier one in `supersedes`, with a reason.
    Explicit(CorrectionReasonOrd),
    /// The later entry of the same slot did not name the earlier one.
    Implicit,
}

/// [`CorrectionReason`] with an order, so corrections sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorrectionReasonOrd(pub CorrectionReason);

impl PartialOrd for CorrectionReasonOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CorrectionReasonOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0 as u8).cmp(&(other.0 as u8))
    }
}

/// One protocol replaced by a later one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Correction {
    pub station: String,
    pub contest: String,
    /// The source of the replacing entry.
    pub source: Source,
    /// The observer key, for observer copies.
    pub signer: Option<String>,
    /// The log index of the replaced entry.
    pub replaced: u64,
    /// The log index of the replacing entry.
    pub by: u64,
    pub kind: CorrectionKind,
}

/// An annulment as applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AnnulmentRecord {
    pub index: u64,
    pub station: String,
    /// `None`: every contest of the station.
    pub contest: Option<String>,
    pub reason: String,
}

/// An exact proportion `num / den`, with a display rounded to basis points.
///
/// Rounding (documented in the snapshot format): `bp = floor((20000·num + den) / (2·den))`, i.e.
/// 1/100 of a percent, **half up**; the display is `bp` as a percentage with two decimals
/// (`"34.61%"`). Comparisons that decide anything (thresholds) never use the rounded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Proportion {
    pub num: u64,
    pub den: u64,
}

impl Proportion {
    pub fn new(num: u64, den: u64) -> Self {
        Proportion { num, den }
    }

    /// Basis points (1/10 000), rounded half up; `None` when `den` is 0.
    pub fn basis_points(&self) -> Option<u64> {
        if self.den == 0 {
            return None;
        }
        let (num, den) = (u128::from(self.num), u128::from(self.den));
        let bp = (20_000 * num + den) / (2 * den);
        Some(u64::try_from(bp).unwrap_or(u64::MAX))
    }

    /// `"34.61%"`, or `"n/a"` when `den` is 0.
    pub fn display(&self) -> String {
        match self.basis_points() {
            Some(bp) => format!("{}.{:02}%", bp / 100, bp % 100),
            None => "n/a".to_string(),
        }
    }
}

/// A unit results are added up over.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Every station of the contest.
    Nation,
    /// The stations abroad (DESIGN.md: "totals per district, region, abroad and nation").
    Abroad,
    Region(String),
    District(String),
}

impl Level {
    /// `nation`, `abroad`, `region`, `district`.
    pub fn kind(&self) -> &'static str {
        match self {
            Level::Nation => "nation",
            Level::Abroad => "abroad",
            Level::Region(_) => "region",
            Level::District(_) => "district",
        }
    }

    /// The region or district id.
    pub fn id(&self) -> Option<&str> {
        match self {
            Level::Region(id) | Level::District(id) => Some(id),
            _ => None,
        }
    }
}

/// Totals of one contest, one view, one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelTotals {
    pub level: Level,
    /// Stations of the contest in the unit.
    pub stations: u64,
    /// Registered voters of those stations (from the election definition).
    pub registered: u64,
    /// Stations counted in this view (annulled ones never are).
    pub stations_counted: u64,
    pub registered_counted: u64,
    /// Stations annulled (for this contest or entirely).
    pub stations_annulled: u64,
    pub registered_annulled: u64,
    /// Voters who took part: the form's `took_part` expression, summed.
    pub took_part: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Votes against all (0 when the contest has no such line).
    pub against_all: u64,
    /// Votes per option, in [`ContestResults::options`] order ("against all" last, if any).
    pub votes: Vec<u64>,
    /// Every form line summed, in [`ContestResults::lines`] order.
    pub lines: Vec<u64>,
    /// Turnout: `took_part / registered_counted` (the stations counted so far).
    pub turnout: Proportion,
    /// Preference votes per candidate, in [`ContestResults::candidates`] order (party lists).
    pub preferences: Vec<u64>,
}

/// How far one source has reported, for one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceProgress {
    pub source: Source,
    /// Stations with a current protocol of this source (for observers: at least one copy).
    pub stations: u64,
    pub registered: u64,
    /// Out of: every station of the contest.
    pub of_stations: u64,
    pub of_registered: u64,
}

/// One station's numbers, as one protocol gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationCounts {
    /// The source whose protocol this is.
    pub source: Source,
    /// Its log index.
    pub index: u64,
    pub took_part: u64,
    pub valid: u64,
    pub invalid: u64,
    pub against_all: u64,
    /// Per option, in [`ContestResults::options`] order.
    pub votes: Vec<u64>,
    /// Per form line, in [`ContestResults::lines`] order.
    pub lines: Vec<u64>,
}

/// One slot's history at one station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotHistory {
    pub source: Source,
    pub signer: Option<String>,
    /// Every entry of the slot, oldest first.
    pub entries: Vec<u64>,
    /// The current version, `None` when a `supersedes` from another slot took it out.
    pub current: Option<u64>,
}

/// One station in one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationResult {
    pub station: String,
    pub district: String,
    pub region: String,
    pub abroad: bool,
    pub registered: u64,
    /// The annulments that take this station out of this contest.
    pub annulled_by: Vec<u64>,
    pub slots: Vec<SlotHistory>,
    pub official: Option<StationCounts>,
    pub preliminary: Option<StationCounts>,
}

/// One view of one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewResults {
    pub view: View,
    /// Nation first, then abroad (when the contest has stations abroad), the regions and the
    /// districts, each in the election's order.
    pub levels: Vec<LevelTotals>,
    pub outcome: Outcome,
}

impl ViewResults {
    /// The totals of one unit.
    pub fn level(&self, level: &Level) -> Option<&LevelTotals> {
        self.levels.iter().find(|l| &l.level == level)
    }

    /// The nation-wide totals.
    pub fn nation(&self) -> &LevelTotals {
        &self.levels[0]
    }
}

/// One contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContestResults {
    pub contest: String,
    /// Option ids in ballot order, `against_all` last when the contest has it.
    pub options: Vec<String>,
    /// Form line ids, in the form's order.
    pub lines: Vec<String>,
    /// `(party, candidate)` of every list candidate, party by party in ballot order (party lists).
    pub candidates: Vec<(String, String)>,
    pub progress: Vec<SourceProgress>,
    pub official: ViewResults,
    pub preliminary: ViewResults,
    /// Per station, in the election's order (empty unless asked for, see [`ResultsConfig`]).
    pub stations: Vec<StationResult>,
}

impl ContestResults {
    pub fn view(&self, view: View) -> &ViewResults {
        match view {
            View::Official => &self.official,
            View::Preliminary => &self.preliminary,
        }
    }
}

/// Everything [`Tally::results`] computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Results {
    pub election: String,
    /// Distinct log indices applied.
    pub entries: u64,
    /// Of which protocols, annulments, and entries without results.
    pub protocols: u64,
    pub annulments_applied: u64,
    pub other_entries: u64,
    /// The stations taken as disputed (the input, resolved and sorted).
    pub disputed: Vec<String>,
    pub contests: Vec<ContestResults>,
    pub corrections: Vec<Correction>,
    pub annulments: Vec<AnnulmentRecord>,
    pub ignored: Vec<Ignored>,
    pub warnings: Vec<Warning>,
}

impl Results {
    pub fn contest(&self, id: &str) -> Option<&ContestResults> {
        self.contests.iter().find(|c| c.contest == id)
    }
}

/// What [`Tally::results_with`] should add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultsConfig {
    /// Station ids whose counted protocols are disputed (between sources, in quarantine, in
    /// court): the sensitivity analysis sets their votes aside and treats their voters as in play.
    /// Unknown ids are reported as warnings.
    pub disputed: Vec<String>,
    /// Whether to list every station ([`ContestResults::stations`]).
    pub stations: bool,
}

// ---------------------------------------------------------------------------------------------
// The tally's state

/// One version's numbers: `[form lines…, options…, took_part]`, and sparse preference votes.
#[derive(Clone, Debug, Default)]
struct Counts {
    values: Values,
    preferences: Preferences,
}

/// A version's numbers, each stored as LEB128 bytes: one byte a number below 128, two below
/// 16,384 (most counts at a station), instead of four (a slot of a party-list contest has some
/// twenty numbers; at a million stations that is ~0.3 GB less). The bytes are the numbers
/// exactly as the saved state writes them (`state::write_record`), so saving and loading copy
/// them whole.
#[derive(Clone, Debug, Default)]
struct Values(Box<[u8]>);

impl Values {
    fn from_u32s(values: &[u32]) -> Values {
        Values::from_numbers(values.iter().copied())
    }

    /// The numbers, encoded at their exact size (one pass to size, one to write).
    fn from_numbers(numbers: impl Iterator<Item = u32> + Clone) -> Values {
        let size = numbers.clone().map(|v| state::leb128_len(v.into())).sum();
        let mut bytes = Vec::with_capacity(size);
        for v in numbers {
            state::push_leb128(&mut bytes, v.into());
        }
        debug_assert_eq!(bytes.len(), size);
        Values(bytes.into_boxed_slice())
    }

    /// Numbers already encoded (and checked to be 32-bit numbers in shortest form).
    fn from_encoded(bytes: &[u8]) -> Values {
        Values(bytes.into())
    }

    fn encoded(&self) -> &[u8] {
        &self.0
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let mut input = state::In(&self.0);
        std::iter::from_fn(move || {
            if input.is_empty() {
                return None;
            }
            Some(input.u32().expect("written by from_u32s or checked when loaded"))
        })
    }

    /// How many numbers.
    fn len(&self) -> usize {
        self.0.iter().filter(|&&byte| byte < 0x80).count()
    }

    fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

/// Preference votes as `(candidate position, votes)` pairs, in the order they were added: the
/// pairs' numbers one after another as [`Values`] (two to four bytes a pair instead of eight; a
/// protocol of an open-list election carries dozens of pairs, ~0.4 GB less at a million
/// stations), which is also how the saved state writes them (`state::write_record`).
#[derive(Clone, Debug, Default)]
struct Preferences(Values);

impl Preferences {
    fn from_pairs(pairs: &[(u32, u32)]) -> Preferences {
        Preferences(Values::from_numbers(pairs.iter().flat_map(|&(a, b)| [a, b])))
    }

    /// Pairs already encoded (and checked to be pairs of 32-bit numbers in shortest form).
    fn from_encoded(bytes: &[u8]) -> Preferences {
        Preferences(Values::from_encoded(bytes))
    }

    fn encoded(&self) -> &[u8] {
        self.0.encoded()
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut numbers = self.0.iter();
        std::iter::from_fn(move || {
            Some((numbers.next()?, numbers.next().expect("numbers in pairs")))
        })
    }

    /// How many pairs.
    fn len(&self) -> usize {
        self.0.len() / 2
    }

    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

#[derive(Clone, Debug)]
struct Version {
    index: u64,
    supersedes: Option<(u64, CorrectionReason)>,
}

#[derive(Clone, Debug)]
struct Slot {
    source: Source,
    /// Interned observer key id (observers only; 0 otherwise).
    signer: u32,
    /// Every version, sorted by index; the last is the slot's newest.
    versions: Versions,
    /// The numbers of the newest version.
    counts: SlotCounts,
}

/// A slot's versions, sorted by index. Most slots have one, held in place instead of in an
/// allocation of its own (at a million stations some four million slots: ~0.1 GB less).
#[derive(Clone, Debug)]
enum Versions {
    One(Version),
    /// None yet, or two or more.
    Many(Vec<Version>),
}

impl Versions {
    fn new() -> Versions {
        Versions::Many(Vec::new())
    }

    /// Inserts `version` at `at` (so that they stay sorted), allocating for exactly as many as
    /// there are.
    fn insert(&mut self, at: usize, version: Version) {
        match self {
            Versions::Many(versions) if versions.is_empty() => *self = Versions::One(version),
            Versions::Many(versions) => {
                versions.reserve_exact(1);
                versions.insert(at, version);
            }
            Versions::One(first) => {
                let mut versions = Vec::with_capacity(2);
                versions.push(first.clone());
                versions.insert(at, version);
                *self = Versions::Many(versions);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Versions::One(_) => 0,
            Versions::Many(versions) => versions.capacity() * std::mem::size_of::<Version>(),
        }
    }
}

impl std::ops::Deref for Versions {
    type Target = [Version];
    fn deref(&self) -> &[Version] {
        match self {
            Versions::One(version) => std::slice::from_ref(version),
            Versions::Many(versions) => versions,
        }
    }
}

impl From<Vec<Version>> for Versions {
    fn from(mut versions: Vec<Version>) -> Versions {
        match versions.len() {
            1 => Versions::One(versions.pop().expect("one")),
            _ => Versions::Many(versions),
        }
    }
}

/// A slot's numbers: decoded, or still where [`Tally::load_state`] found them in the saved
/// bytes ([`Tally::saved`], `[at, end)`), checked there and decoded only when used: a resumed
/// verifier folds in a few thousand entries and recomputes a few thousand stations, so most
/// slots' numbers are never looked at (one allocation each, and the memory, saved).
#[derive(Clone, Debug)]
enum SlotCounts {
    Decoded(Counts),
    Saved { at: usize, end: usize },
}

impl SlotCounts {
    /// The numbers, decoded from `saved` (the tally's [`Tally::saved`]) if need be.
    fn get<'a>(&'a self, saved: &[u8]) -> std::borrow::Cow<'a, Counts> {
        match self {
            SlotCounts::Decoded(counts) => std::borrow::Cow::Borrowed(counts),
            SlotCounts::Saved { at, end } => std::borrow::Cow::Owned(
                state::decode_counts(&saved[*at..*end])
                    .expect("checked when the saved state was loaded"),
            ),
        }
    }
}

/// One station in one contest.
#[derive(Clone, Debug, Default)]
struct Record {
    slots: Vec<Slot>,
    /// Indices named by a `supersedes` of an entry of this station and contest.
    superseded: Vec<u64>,
    /// Contest-specific annulments.
    annulled: Vec<u64>,
}

/// A station-contest nothing has been folded into: what a `None` of [`Tally::records`] stands for.
static EMPTY_RECORD: Record =
    Record { slots: Vec::new(), superseded: Vec::new(), annulled: Vec::new() };

impl Record {
    fn current(&self, slot: &Slot) -> Option<u64> {
        let newest = slot.versions.last()?.index;
        (!self.superseded.contains(&newest)).then_some(newest)
    }

    fn chosen(&self, view: View, station_annulled: bool) -> Option<&Slot> {
        if station_annulled || !self.annulled.is_empty() {
            return None;
        }
        view.precedence().iter().find_map(|&source| {
            self.slots.iter().find(|s| s.source == source && self.current(s).is_some())
        })
    }

    fn has_current(&self, source: Source) -> bool {
        self.slots.iter().any(|s| s.source == source && self.current(s).is_some())
    }
}

/// Sums over the stations of one unit, one view.
#[derive(Clone, Debug, Default)]
struct ViewAgg {
    stations: u64,
    registered: u64,
    values: Vec<u64>,
    preferences: Vec<u64>,
}

/// Sums over the stations of one unit (a district, or the contest's stations abroad).
#[derive(Clone, Debug, Default)]
struct UnitAgg {
    stations: u64,
    registered: u64,
    views: [ViewAgg; 2],
    /// Per source slot: stations and registered voters with a current protocol.
    sources: [(u64, u64); 4],
    annulled: (u64, u64),
}

/// The compiled `took_part` expression.
#[derive(Clone, Debug)]
enum CompiledTerm {
    Line(usize),
    SumOptions,
    Const(u64),
}

#[derive(Clone, Debug)]
struct ContestIndex {
    id: String,
    party_list: bool,
    options: Vec<String>,
    option_idx: FastMap<String, usize>,
    against_all: Option<usize>,
    lines: Vec<String>,
    valid_line: usize,
    invalid_line: usize,
    took_part: Vec<(i8, CompiledTerm)>,
    candidates: Vec<(String, String)>,
    /// party → candidate → position in `candidates`.
    candidate_idx: FastMap<String, FastMap<String, u32>>,
    /// The form's lines, `option_idx` and `candidate_idx` as lists sorted by id (byte order): a
    /// protocol's counts come in that order, so [`read_counts`] finds each a step or two after
    /// the one before ([`SortedIds`]) instead of hashing it.
    lines_sorted: Vec<(String, usize)>,
    options_sorted: Vec<(String, usize)>,
    candidates_sorted: Vec<(String, Vec<(String, u32)>)>,
    /// Election district index → position in `units` (u32::MAX: not in this contest).
    district_unit: Vec<u32>,
    /// The election districts of the contest, in the election's order.
    districts: Vec<usize>,
    /// One per district of `districts`, then one for the stations abroad.
    units: Vec<UnitAgg>,
}

impl ContestIndex {
    fn width(&self) -> usize {
        self.lines.len() + self.options.len() + 1
    }

    fn abroad_unit(&self) -> usize {
        self.units.len() - 1
    }
}

#[derive(Clone, Debug)]
struct StationInfo {
    district: u32,
    registered: u64,
    abroad: bool,
    /// Records of this station: `records[first..first + n]`, one per contest it votes in.
    first: u32,
    n: u16,
}

/// The live tally of one election. See the module documentation.
#[derive(Clone, Debug)]
pub struct Tally {
    election_id: String,
    n_stations: usize,
    station_idx: FastMap<Box<str>, u32>,
    stations: Vec<StationInfo>,
    contests: Vec<ContestIndex>,
    contest_idx: FastMap<String, usize>,
    /// One per station-contest; `None` while nothing was folded into it, or while it is still
    /// in [`Tally::saved`] (8 zero bytes each, allocated zeroed: the pages of records never used
    /// are never touched).
    records: Vec<Option<Box<Record>>>,
    record_contest: Vec<u16>,
    station_annulled: FastMap<u32, Vec<u64>>,
    /// The bytes [`Tally::load_state`] read, which [`SlotCounts::Saved`] point into (empty for a
    /// tally not loaded from a state).
    saved: std::sync::Arc<Vec<u8>>,
    /// Records [`Tally::load_state`] checked but left in [`Tally::saved`] (record `r`'s bytes are
    /// `saved[saved_records[r]..saved_records[r + 1]]` while `lazy[r]`), decoded when first used;
    /// only records without corrections (no slot with two versions, nothing superseded) are left
    /// there, so [`Tally::corrections`] can pass them by. Both empty for a tally not loaded.
    saved_records: Vec<usize>,
    lazy: Vec<bool>,
    signers: Vec<String>,
    signer_idx: FastMap<String, u32>,
    /// Log indices applied: a bitset for the dense indices a log has, a set beyond it.
    applied_bits: Vec<u64>,
    applied_sparse: HashSet<u64, BuildHasherDefault<FxHasher>>,
    applied_count: u64,
    protocols: u64,
    annulments_applied: u64,
    other_entries: u64,
    annulments: Vec<(u64, u32, Option<u16>, String)>,
    ignored: Vec<Ignored>,
    warnings: Vec<Warning>,
    /// While set ([`Tally::defer_sums`]), folding entries in leaves the units' sums alone;
    /// [`Tally::settle_sums`] computes them.
    deferred: bool,
}

impl Tally {
    /// An empty tally of `election`.
    ///
    /// # Panics
    /// If the election has more than 65 535 contests (it indexes them in 16 bits).
    pub fn new(election: &Election) -> Tally {
        assert!(election.contests.len() <= usize::from(u16::MAX), "too many contests");
        // Which contests each station votes in, by position (no string comparisons per contest
        // and station), and so which districts each contest has stations in.
        let coverage = election.coverage();
        let district_pos: HashMap<&str, u32> =
            election.districts.iter().enumerate().map(|(i, d)| (d.id.as_str(), i as u32)).collect();
        let station_district: Vec<Option<u32>> = election
            .stations
            .iter()
            .map(|station| district_pos.get(station.district.as_str()).copied())
            .collect();
        let mut covered = vec![vec![false; election.districts.len()]; election.contests.len()];
        for (s, district) in station_district.iter().enumerate() {
            if let Some(d) = *district {
                for &c in coverage.of(s) {
                    covered[c as usize][d as usize] = true;
                }
            }
        }
        let contests: Vec<ContestIndex> = election
            .contests
            .iter()
            .zip(&covered)
            .map(|(c, covered)| index_contest(election, c, covered))
            .collect();
        let contest_idx = contests.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        let mut tally = Tally {
            election_id: election.id.clone(),
            n_stations: election.stations.len(),
            station_idx: FastMap::with_capacity_and_hasher(
                election.stations.len(),
                Default::default(),
            ),
            stations: Vec::with_capacity(election.stations.len()),
            contests,
            contest_idx,
            records: Vec::new(),
            record_contest: Vec::new(),
            station_annulled: FastMap::default(),
            saved: Default::default(),
            saved_records: Vec::new(),
            lazy: Vec::new(),
            signers: vec![String::new()],
            signer_idx: FastMap::default(),
            applied_bits: Vec::new(),
            applied_sparse: HashSet::default(),
            applied_count: 0,
            protocols: 0,
            annulments_applied: 0,
            other_entries: 0,
            annulments: Vec::new(),
            ignored: Vec::new(),
            warnings: Vec::new(),
            deferred: false,
        };
        let n_records = (0..election.stations.len()).map(|s| coverage.of(s).len()).sum();
        tally.records = vec![None; n_records];
        tally.record_contest.reserve_exact(n_records);
        for (s, station) in election.stations.iter().enumerate() {
            let district = station_district[s].unwrap_or(0);
            let first = tally.record_contest.len() as u32;
            let mut n = 0u16;
            for &c in coverage.of(s) {
                let c = c as usize;
                tally.record_contest.push(c as u16);
                n += 1;
                let index = &mut tally.contests[c];
                let unit = index.district_unit[district as usize] as usize;
                for u in
                    [Some(unit), station.abroad.then(|| index.abroad_unit())].into_iter().flatten()
                {
                    index.units[u].stations += 1;
                    index.units[u].registered += station.registered;
                }
            }
            tally.station_idx.insert(station.id.as_str().into(), s as u32);
            tally.stations.push(StationInfo {
                district,
                registered: station.registered,
                abroad: station.abroad,
                first,
                n,
            });
        }
        tally
    }

    /// Folds in log entry `index`. Cost: the size of one protocol (plus a hash lookup per line).
    pub fn apply(&mut self, index: u64, submission: &Submission) -> Applied {
        if !self.mark_applied(index) {
            return Applied::Duplicate;
        }
        let payload = &submission.payload;
        let body_has_results = matches!(payload.body, Body::Protocol(_) | Body::Annulment(_));
        if body_has_results && payload.election != self.election_id {
            return self.ignore(index, IgnoreReason::WrongElection(payload.election.clone()));
        }
        match &payload.body {
            Body::Protocol(protocol) => self.apply_protocol(index, &payload.signer, protocol),
            Body::Annulment(annulment) => self.apply_annulment(index, annulment),
            _ => {
                self.other_entries += 1;
                Applied::NotResults
            }
        }
    }

    /// [`Tally::apply`] of a protocol entry read as a [`ProtocolView`] of its bytes: the same
    /// [`Applied`], warnings, ignore reasons and results as `apply` of the typed parse of those
    /// bytes, without building the parse's strings and maps.
    pub fn apply_view(&mut self, index: u64, protocol: &ProtocolView<'_>) -> Applied {
        if !self.mark_applied(index) {
            return Applied::Duplicate;
        }
        if !same_id(protocol.election.as_bytes(), self.election_id.as_bytes()) {
            return self.ignore(index, IgnoreReason::WrongElection(protocol.election.into()));
        }
        self.apply_protocol(index, protocol.signer, protocol)
    }

    /// Stops keeping the units' sums up to date as entries are folded in, until
    /// [`Tally::settle_sums`]: a replay of a whole log then adds each station-contest's
    /// contribution once at the end, instead of taking it out and putting it back at every
    /// protocol. The sums are a function of the records alone, so the settled ones are those
    /// kept up to date. [`Tally::results`] refuses (panics) while deferred, and the saved state
    /// ([`Tally::save_state`]) and [`Replay`](crate::replay::Replay)'s snapshots need settled
    /// sums too.
    pub fn defer_sums(&mut self) {
        self.deferred = true;
    }

    /// Computes the units' sums from the records, if [`Tally::defer_sums`] stopped keeping them:
    /// half the stations on a thread of its own (`sverka-tally-sums`) when there is a second
    /// core, the two halves' sums then added.
    pub fn settle_sums(&mut self) {
        if !self.deferred {
            return;
        }
        self.deferred = false;
        for index in &mut self.contests {
            for unit in &mut index.units {
                for view in &mut unit.views {
                    view.stations = 0;
                    view.registered = 0;
                    view.values.iter_mut().for_each(|v| *v = 0);
                    view.preferences.iter_mut().for_each(|v| *v = 0);
                }
                unit.sources = Default::default();
                unit.annulled = (0, 0);
            }
        }
        if !self.lazy.is_empty() {
            // Records still in the saved bytes are decoded as they are added (`account`).
            for station in 0..self.stations.len() {
                let (first, n) = (self.stations[station].first as usize, self.stations[station].n);
                for record in first..first + usize::from(n) {
                    self.account(station as u32, record, true);
                }
            }
            return;
        }
        // The stations' contributions added up in two halves, the second on a thread of its
        // own when there is a core for it, then the halves added (integers: the same sums).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = self.stations.len();
        let this = &*self;
        let halves = match cores {
            1 => vec![this.sums_of(0..n)],
            _ => std::thread::scope(|scope| {
                let second = std::thread::Builder::new()
                    .name("sverka-tally-sums".into())
                    .spawn_scoped(scope, || this.sums_of(n / 2..n));
                let first = this.sums_of(0..n / 2);
                let second = match second {
                    Ok(second) => second.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    // No thread to be had: the second half here too.
                    Err(_) => this.sums_of(n / 2..n),
                };
                vec![first, second]
            }),
        };
        for half in halves {
            for (index, units) in self.contests.iter_mut().zip(half) {
                for (total, unit) in index.units.iter_mut().zip(&units) {
                    add_sums(total, unit);
                }
            }
        }
    }

    /// The units' sums (views, sources, annulled; not the units' own stations and registered
    /// voters) of `stations`' records alone, per contest, per unit. Every record decoded.
    fn sums_of(&self, stations: std::ops::Range<usize>) -> Vec<Vec<UnitAgg>> {
        let mut sums: Vec<Vec<UnitAgg>> = self
            .contests
            .iter()
            .map(|index| index.units.iter().map(|_| empty_unit(index)).collect())
            .collect();
        for station in stations {
            let (first, n) = (self.stations[station].first as usize, self.stations[station].n);
            for record in first..first + usize::from(n) {
                let units = &mut sums[usize::from(self.record_contest[record])];
                self.account_into(units, station as u32, record, true);
            }
        }
        sums
    }

    /// Whether the units' sums are being kept ([`Tally::defer_sums`]).
    pub fn sums_settled(&self) -> bool {
        !self.deferred
    }

    /// Records `index` as applied; `false` if it already was.
    fn mark_applied(&mut self, index: u64) -> bool {
        const DENSE_LIMIT: u64 = 1 << 32;
        let fresh = if index < DENSE_LIMIT {
            let (word, bit) = ((index / 64) as usize, index % 64);
            if word >= self.applied_bits.len() {
                self.applied_bits.resize((word + 1).next_power_of_two(), 0);
            }
            let fresh = self.applied_bits[word] & (1 << bit) == 0;
            self.applied_bits[word] |= 1 << bit;
            fresh
        } else {
            self.applied_sparse.insert(index)
        };
        self.applied_count += u64::from(fresh);
        fresh
    }

    /// An estimate of the heap memory the tally holds, in bytes (capacities times element sizes;
    /// allocator overhead not included).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let slot_bytes = |slot: &Slot| {
            let counts = match &slot.counts {
                SlotCounts::Decoded(counts) => {
                    counts.values.heap_bytes() + counts.preferences.heap_bytes()
                }
                SlotCounts::Saved { .. } => 0,
            };
            slot.versions.heap_bytes() + counts
        };
        let records: usize = self
            .records
            .iter()
            .flatten()
            .map(|r| {
                size_of::<Record>()
                    + r.slots.capacity() * size_of::<Slot>()
                    + r.slots.iter().map(slot_bytes).sum::<usize>()
                    + (r.superseded.capacity() + r.annulled.capacity()) * size_of::<u64>()
            })
            .sum();
        let station_ids: usize = self.station_idx.keys().map(|k| k.len()).sum();
        records
            + self.saved.capacity()
            + self.saved_records.capacity() * size_of::<usize>()
            + self.lazy.capacity()
            + self.records.capacity() * size_of::<Option<Box<Record>>>()
            + self.record_contest.capacity() * size_of::<u16>()
            + self.stations.capacity() * size_of::<StationInfo>()
            + self.station_idx.capacity() * (size_of::<(Box<str>, u32)>() + 1)
            + station_ids
            + self.applied_bits.capacity() * size_of::<u64>()
            + self.applied_sparse.capacity() * (size_of::<u64>() + 1)
            + self
                .contests
                .iter()
                .map(|c| c.units.len() * (2 * c.width() + 2 * c.candidates.len()) * 8)
                .sum::<usize>()
    }

    /// The current protocol of every source at one station in one contest (one per observer copy,
    /// with its signer), for analyses that compare sources (forensics). Empty for an unknown
    /// station or contest, or a station the contest does not cover. Annulments are not applied here.
    pub fn current_protocols(
        &self,
        station: &str,
        contest: &str,
    ) -> Vec<(Option<String>, StationCounts)> {
        let (Some(&s), Some(&c)) = (self.station_idx.get(station), self.contest_idx.get(contest))
        else {
            return Vec::new();
        };
        let Some(record) = self.record_of(s, c) else { return Vec::new() };
        let rec = self.record(record);
        rec.slots
            .iter()
            .filter(|slot| rec.current(slot).is_some())
            .map(|slot| {
                let signer = (slot.source == Source::Observer)
                    .then(|| self.signers[slot.signer as usize].clone());
                (signer, station_counts(&self.contests[c], &rec, slot, &self.saved))
            })
            .collect()
    }

    fn ignore(&mut self, index: u64, reason: IgnoreReason) -> Applied {
        self.ignored.push(Ignored { index, reason: reason.clone() });
        Applied::Ignored(reason)
    }

    fn record_of(&self, station: u32, contest: usize) -> Option<usize> {
        let info = &self.stations[station as usize];
        let range = info.first as usize..info.first as usize + usize::from(info.n);
        range.into_iter().find(|&r| usize::from(self.record_contest[r]) == contest)
    }

    /// Record `r`, decoded from [`Tally::saved`] if it is still there.
    fn record(&self, r: usize) -> std::borrow::Cow<'_, Record> {
        if self.lazy.get(r).copied().unwrap_or(false) {
            std::borrow::Cow::Owned(state::decode_record(&self.saved, self.saved_records[r]))
        } else {
            std::borrow::Cow::Borrowed(self.records[r].as_deref().unwrap_or(&EMPTY_RECORD))
        }
    }

    /// Decodes record `r` into [`Tally::records`] if it is still in [`Tally::saved`].
    fn materialize(&mut self, r: usize) {
        if self.lazy.get(r).copied().unwrap_or(false) {
            self.records[r] =
                Some(Box::new(state::decode_record(&self.saved, self.saved_records[r])));
            self.lazy[r] = false;
        }
    }

    fn apply_protocol(
        &mut self,
        index: u64,
        signer: &str,
        protocol: &impl ProtocolFields,
    ) -> Applied {
        let mut warnings = std::mem::take(&mut self.warnings);
        let located = self.locate_protocol(index, protocol, &mut warnings);
        self.warnings = warnings;
        let (station, record, counts) = match located {
            Ok(located) => located,
            Err(reason) => return self.ignore(index, reason),
        };
        let source = protocol.source();
        let signer = if source == Source::Observer { self.intern(signer) } else { 0 };
        self.protocols += 1;
        if !self.deferred {
            self.account(station, record, false);
        }
        // With the sums deferred nothing above has read the record: one still in the saved
        // state is decoded now, or `settle_sums` would decode the saved one over this change.
        self.materialize(record);
        let rec = self.records[record].get_or_insert_with(Default::default);
        insert_version(rec, source, signer, index, counts, protocol.supersedes());
        if !self.deferred {
            self.account(station, record, true);
        }
        Applied::Protocol
    }

    /// What folding protocol entry `index` in needs that only reads the tally: its station, its
    /// record and its numbers, or why it is ignored; the protocol's warnings go to `warnings`
    /// (shared by [`Tally::apply_protocol`] and a [`TallyPart`]'s fold, so both fold alike).
    fn locate_protocol(
        &self,
        index: u64,
        protocol: &impl ProtocolFields,
        warnings: &mut Vec<Warning>,
    ) -> Result<(u32, usize, Counts), IgnoreReason> {
        let Some(&station) = self.station_idx.get(protocol.station()) else {
            return Err(IgnoreReason::UnknownStation(protocol.station().into()));
        };
        let Some(&contest) = self.contest_idx.get(protocol.contest()) else {
            return Err(IgnoreReason::UnknownContest(protocol.contest().into()));
        };
        let Some(record) = self.record_of(station, contest) else {
            return Err(IgnoreReason::NotInContest {
                station: protocol.station().into(),
                contest: protocol.contest().into(),
            });
        };
        let counts = read_counts(&self.contests[contest], index, protocol, warnings)?;
        if let Some((named, _)) = protocol.supersedes() {
            if named >= index {
                warnings.push(Warning {
                    index,
                    code: "tally.supersedes_later",
                    message: format!(
                        "entry {index} supersedes entry {named}, which is not earlier"
                    ),
                });
            }
        }
        Ok((station, record, counts))
    }

    fn apply_annulment(&mut self, index: u64, annulment: &Annulment) -> Applied {
        let (station, contest, records) = match self.locate_annulment(annulment) {
            Ok(located) => located,
            Err(reason) => return self.ignore(index, reason),
        };
        if !self.deferred {
            for &r in &records {
                self.account(station, r, false);
            }
        }
        match contest {
            Some(_) => {
                self.materialize(records[0]);
                self.records[records[0]].get_or_insert_with(Default::default).annulled.push(index)
            }
            None => self.station_annulled.entry(station).or_default().push(index),
        }
        if !self.deferred {
            for &r in &records {
                self.account(station, r, true);
            }
        }
        self.annulments_applied += 1;
        self.annulments.push((index, station, contest.map(|c| c as u16), annulment.reason.clone()));
        Applied::Annulment
    }

    /// What an annulment takes out: its station, its contest (`None`: every contest of the
    /// station) and the records it touches, or why it is ignored.
    fn locate_annulment(
        &self,
        annulment: &Annulment,
    ) -> Result<(u32, Option<usize>, Vec<usize>), IgnoreReason> {
        let Some(&station) = self.station_idx.get(annulment.station.as_str()) else {
            return Err(IgnoreReason::UnknownStation(annulment.station.clone()));
        };
        let contest = match &annulment.contest {
            None => None,
            Some(id) => match self.contest_idx.get(id) {
                Some(&c) => Some(c),
                None => return Err(IgnoreReason::UnknownContest(id.clone())),
            },
        };
        let records: Vec<usize> = match contest {
            Some(c) => match self.record_of(station, c) {
                Some(r) => vec![r],
                None => {
                    return Err(IgnoreReason::NotInContest {
                        station: annulment.station.clone(),
                        contest: self.contests[c].id.clone(),
                    });
                }
            },
            None => {
                let info = &self.stations[station as usize];
                (info.first as usize..info.first as usize + usize::from(info.n)).collect()
            }
        };
        Ok((station, contest, records))
    }

    fn intern(&mut self, signer: &str) -> u32 {
        if let Some(&i) = self.signer_idx.get(signer) {
            return i;
        }
        let i = self.signers.len() as u32;
        self.signers.push(signer.to_string());
        self.signer_idx.insert(signer.to_string(), i);
        i
    }

    /// Adds (`add`) or removes a station-contest's contribution to its units' sums.
    fn account(&mut self, station: u32, record: usize, add: bool) {
        self.materialize(record);
        let contest = usize::from(self.record_contest[record]);
        let mut units = std::mem::take(&mut self.contests[contest].units);
        self.account_into(&mut units, station, record, add);
        self.contests[contest].units = units;
    }

    /// [`Tally::account`] into `units`, those of the record's contest (or sums shaped as
    /// them), for a record not in the saved bytes.
    fn account_into(&self, units: &mut [UnitAgg], station: u32, record: usize, add: bool) {
        let info = &self.stations[station as usize];
        let station_annulled = self.station_annulled.contains_key(&station);
        let rec = self.records[record].as_deref().unwrap_or(&EMPTY_RECORD);
        let index = &self.contests[usize::from(self.record_contest[record])];
        let district_unit = index.district_unit[info.district as usize] as usize;
        // The last unit is the stations abroad (`ContestIndex::abroad_unit`).
        let abroad_unit = info.abroad.then(|| units.len() - 1);
        for unit in [Some(district_unit), abroad_unit].into_iter().flatten() {
            let agg = &mut units[unit];
            for view in View::ALL {
                if let Some(slot) = rec.chosen(view, station_annulled) {
                    let counts = slot.counts.get(&self.saved);
                    add_counts(&mut agg.views[view.slot()], &counts, info.registered, add);
                }
            }
            for source in Source::ALL {
                if rec.has_current(source) {
                    let entry = &mut agg.sources[source_slot(source)];
                    bump(&mut entry.0, 1, add);
                    bump(&mut entry.1, info.registered, add);
                }
            }
            if station_annulled || !rec.annulled.is_empty() {
                bump(&mut agg.annulled.0, 1, add);
                bump(&mut agg.annulled.1, info.registered, add);
            }
        }
    }

    /// Results with every station listed and nothing disputed.
    ///
    /// # Panics
    /// If `election` is not the election this tally was made for.
    pub fn results(&self, election: &Election) -> Results {
        self.results_with(election, &ResultsConfig { disputed: Vec::new(), stations: true })
    }

    /// Results, with the disputed stations and the level of detail of `config`.
    ///
    /// # Panics
    /// If `election` is not the election this tally was made for.
    pub fn results_with(&self, election: &Election, config: &ResultsConfig) -> Results {
        assert!(!self.deferred, "results asked while the sums are deferred (settle_sums first)");
        assert!(
            election.id == self.election_id && election.stations.len() == self.n_stations,
            "results asked with another election than the tally was made for"
        );
        let mut warnings = self.warnings.clone();
        let mut disputed: Vec<u32> = Vec::new();
        for id in &config.disputed {
            match self.station_idx.get(id.as_str()) {
                Some(&s) => disputed.push(s),
                None => warnings.push(Warning {
                    index: 0,
                    code: "tally.unknown_disputed_station",
                    message: format!("disputed station {id:?} is not in the election"),
                }),
            }
        }
        disputed.sort_unstable();
        disputed.dedup();
        let contests = (0..self.contests.len())
            .map(|c| self.contest_results(election, c, &disputed, config.stations))
            .collect();
        let (corrections, superseding_warnings) = self.corrections(election);
        warnings.extend(superseding_warnings);
        warnings.sort();
        let mut ignored = self.ignored.clone();
        ignored.sort();
        let mut annulments: Vec<AnnulmentRecord> = self
            .annulments
            .iter()
            .map(|(index, station, contest, reason)| AnnulmentRecord {
                index: *index,
                station: election.stations[*station as usize].id.clone(),
                contest: contest.map(|c| self.contests[usize::from(c)].id.clone()),
                reason: reason.clone(),
            })
            .collect();
        annulments.sort();
        Results {
            election: self.election_id.clone(),
            entries: self.applied_count,
            protocols: self.protocols,
            annulments_applied: self.annulments_applied,
            other_entries: self.other_entries,
            disputed: disputed.iter().map(|&s| election.stations[s as usize].id.clone()).collect(),
            contests,
            corrections,
            annulments,
            ignored,
            warnings,
        }
    }

    fn contest_results(
        &self,
        election: &Election,
        c: usize,
        disputed: &[u32],
        with_stations: bool,
    ) -> ContestResults {
        let index = &self.contests[c];
        let contest = &election.contests[c];
        let all = self.sum_units(index, |_| true);
        let progress = Source::ALL
            .iter()
            .map(|&source| {
                let (stations, registered) = all.sources[source_slot(source)];
                SourceProgress {
                    source,
                    stations,
                    registered,
                    of_stations: all.stations,
                    of_registered: all.registered,
                }
            })
            .collect();
        let view_results = |view: View| {
            let levels = self.levels(election, index, view);
            let in_play = self.in_play(election, c, view, disputed);
            let outcome = outcome::decide(election, contest, index, &levels, &in_play, view);
            ViewResults { view, levels, outcome }
        };
        ContestResults {
            contest: index.id.clone(),
            options: index.options.clone(),
            lines: index.lines.clone(),
            candidates: index.candidates.clone(),
            progress,
            official: view_results(View::Official),
            preliminary: view_results(View::Preliminary),
            stations: if with_stations { self.station_results(election, c) } else { Vec::new() },
        }
    }

    fn sum_units(&self, index: &ContestIndex, include: impl Fn(usize) -> bool) -> UnitAgg {
        let mut total = empty_unit(index);
        for (u, unit) in index.units[..index.units.len() - 1].iter().enumerate() {
            if include(u) {
                merge_unit(&mut total, unit);
            }
        }
        total
    }

    fn levels(&self, election: &Election, index: &ContestIndex, view: View) -> Vec<LevelTotals> {
        let mut levels =
            vec![level_totals(index, Level::Nation, &self.sum_units(index, |_| true), view)];
        let abroad = &index.units[index.abroad_unit()];
        if abroad.stations > 0 {
            levels.push(level_totals(index, Level::Abroad, abroad, view));
        }
        for region in &election.regions {
            let in_region = |u: usize| election.districts[index.districts[u]].region == region.id;
            if !(0..index.districts.len()).any(in_region) {
                continue;
            }
            let sum = self.sum_units(index, in_region);
            levels.push(level_totals(index, Level::Region(region.id.clone()), &sum, view));
        }
        for (u, &d) in index.districts.iter().enumerate() {
            let level = Level::District(election.districts[d].id.clone());
            levels.push(level_totals(index, level, &index.units[u], view));
        }
        levels
    }

    /// The votes and voters still in play for `view`: per region and nation-wide.
    fn in_play(&self, election: &Election, c: usize, view: View, disputed: &[u32]) -> InPlay {
        let index = &self.contests[c];
        let allowance = election.rules.ballots_over_registered;
        let mut in_play = InPlay::new(index.options.len(), election.regions.len());
        for (u, &d) in index.districts.iter().enumerate() {
            let unit = &index.units[u];
            let view_agg = &unit.views[view.slot()];
            let stations = unit.stations - view_agg.stations - unit.annulled.0;
            let registered = unit.registered - view_agg.registered - unit.annulled.1;
            let region_id = &election.districts[d].region;
            let region = election.regions.iter().position(|r| &r.id == region_id).unwrap_or(0);
            in_play.add_outstanding(
                region,
                stations,
                registered,
                registered + stations * allowance,
            );
        }
        for &s in disputed {
            let Some(record) = self.record_of(s, c) else { continue };
            let info = &self.stations[s as usize];
            let station_annulled = self.station_annulled.contains_key(&s);
            let rec = self.record(record);
            let Some(slot) = rec.chosen(view, station_annulled) else { continue };
            let district = &election.districts[info.district as usize];
            let region = election.regions.iter().position(|r| r.id == district.region).unwrap_or(0);
            let counts = slot.counts.get(&self.saved);
            let votes = option_values(index, &counts);
            in_play.add_disputed(
                region,
                info.registered,
                info.registered + allowance,
                &votes,
                base_values(index, &counts, info.registered),
            );
        }
        in_play
    }

    /// How many stations each contest lists ([`ContestResults::stations`]' lengths), in the
    /// election's order, without computing them.
    pub fn listed_stations(&self) -> Vec<usize> {
        let mut listed = vec![0; self.contests.len()];
        for &contest in &self.record_contest {
            listed[usize::from(contest)] += 1;
        }
        listed
    }

    /// The positions of the contests station `s` (its position in the election) votes in, in the
    /// election's order.
    ///
    /// # Panics
    /// If `s` is out of range.
    pub fn station_contests(&self, s: usize) -> impl Iterator<Item = usize> + '_ {
        let info = &self.stations[s];
        let first = info.first as usize;
        self.record_contest[first..first + usize::from(info.n)].iter().map(|&c| usize::from(c))
    }

    fn station_results(&self, election: &Election, c: usize) -> Vec<StationResult> {
        (0..election.stations.len()).filter_map(|s| self.station_result(election, c, s)).collect()
    }

    /// Station `s` (its position in the election) in contest `c`, as
    /// [`ContestResults::stations`] lists it; `None` when the station does not vote in it. It
    /// depends on the entries naming that station only.
    ///
    /// # Panics
    /// If `election` is not the election this tally was made for, or `s` or `c` is out of range.
    pub fn station_result(&self, election: &Election, c: usize, s: usize) -> Option<StationResult> {
        let station = &election.stations[s];
        let index = &self.contests[c];
        let record = self.record_of(s as u32, c)?;
        let rec = self.record(record);
        let rec = &*rec;
        let mut annulled_by = rec.annulled.clone();
        let station_annulled = match self.station_annulled.get(&(s as u32)) {
            Some(list) => {
                annulled_by.extend(list);
                true
            }
            None => false,
        };
        annulled_by.sort_unstable();
        let counts = |view: View| {
            rec.chosen(view, station_annulled)
                .map(|slot| station_counts(index, rec, slot, &self.saved))
        };
        let mut slots: Vec<SlotHistory> = rec
            .slots
            .iter()
            .map(|slot| SlotHistory {
                source: slot.source,
                signer: (slot.source == Source::Observer)
                    .then(|| self.signers[slot.signer as usize].clone()),
                entries: slot.versions.iter().map(|v| v.index).collect(),
                current: rec.current(slot),
            })
            .collect();
        slots.sort_by(|a, b| (a.source, &a.signer).cmp(&(b.source, &b.signer)));
        Some(StationResult {
            station: station.id.clone(),
            district: station.district.clone(),
            region: station.region.clone(),
            abroad: station.abroad,
            registered: station.registered,
            annulled_by,
            slots,
            official: counts(View::Official),
            preliminary: counts(View::Preliminary),
        })
    }

    /// Every replacement of one protocol by another, and warnings for `supersedes` that named
    /// nothing of their station and contest.
    fn corrections(&self, election: &Election) -> (Vec<Correction>, Vec<Warning>) {
        let mut corrections = Vec::new();
        let mut warnings = Vec::new();
        for (r, rec) in self.records.iter().enumerate() {
            // Nothing folded in, or still in the saved bytes, which only records without
            // corrections are (see `Tally::lazy`).
            let Some(rec) = rec else { continue };
            if rec.slots.iter().all(|s| s.versions.len() < 2) && rec.superseded.is_empty() {
                continue;
            }
            let s = self.stations.partition_point(|info| (info.first as usize) <= r) - 1;
            let station = election.stations[s].id.as_str();
            let contest = &self.contests[usize::from(self.record_contest[r])].id;
            let owner =
                |index: u64| rec.slots.iter().find(|s| s.versions.iter().any(|v| v.index == index));
            for slot in &rec.slots {
                let signer = (slot.source == Source::Observer)
                    .then(|| self.signers[slot.signer as usize].clone());
                for (i, version) in slot.versions.iter().enumerate() {
                    let named = version.supersedes.filter(|(n, _)| *n != version.index);
                    if let Some((n, reason)) = named {
                        if owner(n).is_some() {
                            corrections.push(Correction {
                                station: station.to_string(),
                                contest: contest.clone(),
                                source: slot.source,
                                signer: signer.clone(),
                                replaced: n,
                                by: version.index,
                                kind: CorrectionKind::Explicit(CorrectionReasonOrd(reason)),
                            });
                        } else {
                            warnings.push(Warning {
                                index: version.index,
                                code: "tally.supersedes_unknown",
                                message: format!(
                                    "entry {} supersedes entry {n}, which is no protocol of station {station:?} in contest {contest:?}",
                                    version.index
                                ),
                            });
                        }
                    }
                    let previous = i.checked_sub(1).map(|p| slot.versions[p].index);
                    if let Some(previous) = previous {
                        if named.map(|(n, _)| n) != Some(previous) {
                            corrections.push(Correction {
                                station: station.to_string(),
                                contest: contest.clone(),
                                source: slot.source,
                                signer: signer.clone(),
                                replaced: previous,
                                by: version.index,
                                kind: CorrectionKind::Implicit,
                            });
                        }
                    }
                }
            }
        }
        corrections.sort();
        warnings.sort();
        (corrections, warnings)
    }
}

fn bump(value: &mut u64, by: u64, add: bool) {
    if add {
        *value += by;
    } else {
        *value -= by;
    }
}

fn add_counts(agg: &mut ViewAgg, counts: &Counts, registered: u64, add: bool) {
    bump(&mut agg.stations, 1, add);
    bump(&mut agg.registered, registered, add);
    for (sum, v) in agg.values.iter_mut().zip(counts.values.iter()) {
        bump(sum, u64::from(v), add);
    }
    for (i, v) in counts.preferences.iter() {
        bump(&mut agg.preferences[i as usize], u64::from(v), add);
    }
}

fn empty_unit(index: &ContestIndex) -> UnitAgg {
    let view = ViewAgg {
        stations: 0,
        registered: 0,
        values: vec![0; index.width()],
        preferences: vec![0; index.candidates.len()],
    };
    UnitAgg { views: [view.clone(), view], ..UnitAgg::default() }
}

/// Adds `unit` to `total`: its own stations and registered voters, and its sums ([`add_sums`]).
fn merge_unit(total: &mut UnitAgg, unit: &UnitAgg) {
    total.stations += unit.stations;
    total.registered += unit.registered;
    add_sums(total, unit);
}

/// Adds `part`'s sums of counted stations (views, sources, annulled) to `total`'s; the units'
/// own stations and registered voters are left.
fn add_sums(total: &mut UnitAgg, part: &UnitAgg) {
    for (t, u) in total.views.iter_mut().zip(part.views.iter()) {
        t.stations += u.stations;
        t.registered += u.registered;
        for (a, b) in t.values.iter_mut().zip(&u.values) {
            *a += b;
        }
        for (a, b) in t.preferences.iter_mut().zip(&u.preferences) {
            *a += b;
        }
    }
    for (t, u) in total.sources.iter_mut().zip(part.sources.iter()) {
        t.0 += u.0;
        t.1 += u.1;
    }
    total.annulled.0 += part.annulled.0;
    total.annulled.1 += part.annulled.1;
}

fn level_totals(index: &ContestIndex, level: Level, unit: &UnitAgg, view: View) -> LevelTotals {
    let agg = &unit.views[view.slot()];
    let n_lines = index.lines.len();
    let n_options = index.options.len();
    let votes = agg.values[n_lines..n_lines + n_options].to_vec();
    let took_part = agg.values[n_lines + n_options];
    LevelTotals {
        level,
        stations: unit.stations,
        registered: unit.registered,
        stations_counted: agg.stations,
        registered_counted: agg.registered,
        stations_annulled: unit.annulled.0,
        registered_annulled: unit.annulled.1,
        took_part,
        valid: agg.values[index.valid_line],
        invalid: agg.values[index.invalid_line],
        against_all: index.against_all.map_or(0, |a| votes[a]),
        votes,
        lines: agg.values[..n_lines].to_vec(),
        turnout: Proportion::new(took_part, agg.registered),
        preferences: agg.preferences.clone(),
    }
}

fn option_values(index: &ContestIndex, counts: &Counts) -> Vec<u64> {
    let n_lines = index.lines.len();
    counts.values.iter().skip(n_lines).take(index.options.len()).map(u64::from).collect()
}

/// `[took_part, valid, registered]` of one station, the three possible threshold bases.
fn base_values(index: &ContestIndex, counts: &Counts, registered: u64) -> [u64; 3] {
    let values: Vec<u32> = counts.values.iter().collect();
    [u64::from(values[index.width() - 1]), u64::from(values[index.valid_line]), registered]
}

fn station_counts(index: &ContestIndex, rec: &Record, slot: &Slot, saved: &[u8]) -> StationCounts {
    let counts = slot.counts.get(saved);
    let values: Vec<u64> = counts.values.iter().map(u64::from).collect();
    let n_lines = index.lines.len();
    let votes = values[n_lines..n_lines + index.options.len()].to_vec();
    StationCounts {
        source: slot.source,
        index: rec.current(slot).unwrap_or(0),
        took_part: values[index.width() - 1],
        valid: values[index.valid_line],
        invalid: values[index.invalid_line],
        against_all: index.against_all.map_or(0, |a| votes[a]),
        votes,
        lines: values[..n_lines].to_vec(),
    }
}

/// The index of `contest`; `covered[d]`: whether it has a station in district `d`.
fn index_contest(
    election: &Election,
    contest: &sverka_model::Contest,
    covered: &[bool],
) -> ContestIndex {
    let form: &Form = election.form_of(contest);
    let options: Vec<String> = contest.option_ids().iter().map(|s| s.to_string()).collect();
    let option_idx = options.iter().enumerate().map(|(i, o)| (o.clone(), i)).collect();
    let against_all = options.iter().position(|o| o == sverka_model::AGAINST_ALL);
    let lines: Vec<String> = form.lines.iter().map(|l| l.id.clone()).collect();
    let line_idx: FastMap<String, usize> =
        lines.iter().enumerate().map(|(i, l)| (l.clone(), i)).collect();
    let took_part = form
        .took_part
        .terms
        .iter()
        .map(|(sign, term)| {
            let compiled = match term {
                Term::Line(id) => CompiledTerm::Line(line_idx.get(id).copied().unwrap_or(0)),
                Term::SumOptions => CompiledTerm::SumOptions,
                Term::Const(c) => CompiledTerm::Const(*c),
            };
            (*sign, compiled)
        })
        .collect();
    let mut candidates = Vec::new();
    let mut candidate_idx: FastMap<String, FastMap<String, u32>> = FastMap::default();
    if let ContestKind::PartyList(list) = &contest.kind {
        for party in &list.parties {
            for candidate in &party.candidates {
                candidate_idx
                    .entry(party.id.clone())
                    .or_default()
                    .insert(candidate.id.clone(), candidates.len() as u32);
                candidates.push((party.id.clone(), candidate.id.clone()));
            }
        }
    }
    let mut district_unit = vec![u32::MAX; election.districts.len()];
    let mut districts = Vec::new();
    for d in (0..election.districts.len()).filter(|&d| covered[d]) {
        district_unit[d] = districts.len() as u32;
        districts.push(d);
    }
    let lines_sorted = sorted_ids(&line_idx);
    let options_sorted = sorted_ids(&option_idx);
    let mut candidates_sorted: Vec<(String, Vec<(String, u32)>)> =
        candidate_idx.iter().map(|(party, m)| (party.clone(), sorted_ids(m))).collect();
    candidates_sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut index = ContestIndex {
        id: contest.id.clone(),
        party_list: matches!(contest.kind, ContestKind::PartyList(_)),
        options,
        option_idx,
        against_all,
        valid_line: line_idx.get(&form.valid).copied().unwrap_or(0),
        invalid_line: line_idx.get(&form.invalid).copied().unwrap_or(0),
        lines,
        took_part,
        candidates,
        candidate_idx,
        lines_sorted,
        options_sorted,
        candidates_sorted,
        district_unit,
        districts,
        units: Vec::new(),
    };
    let n_units = index.districts.len() + 1;
    index.units = vec![empty_unit(&index); n_units];
    index
}

/// `map`'s entries sorted by key (byte order).
fn sorted_ids<T: Copy>(map: &FastMap<String, T>) -> Vec<(String, T)> {
    let mut ids: Vec<(String, T)> = map.iter().map(|(id, &v)| (id.clone(), v)).collect();
    ids.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    ids
}

/// Looks ids up in a list sorted by id, for ids asked in strictly increasing order (as a
/// protocol's counts come): each lookup starts where the one before ended, so the usual
/// protocol (every id of the form, in order) costs one comparison per id. The answers are those
/// of a map lookup whatever the ids are; only the cost assumes their order.
struct SortedIds<'i, T> {
    ids: &'i [(String, T)],
    /// Where the next id's search starts: `ids[..at]` are below the last id asked for.
    at: usize,
}

impl<'i, T> SortedIds<'i, T> {
    fn new(ids: &'i [(String, T)]) -> Self {
        SortedIds { ids, at: 0 }
    }

    fn find(&mut self, id: &[u8]) -> Option<&'i T> {
        let rest = &self.ids[self.at..];
        // The usual case: the id after the last one found.
        if let Some((first, value)) = rest.first() {
            if same_id(first.as_bytes(), id) {
                self.at += 1;
                return Some(value);
            }
        }
        if self.at > 0 && !id_below(self.ids[self.at - 1].0.as_bytes(), id) {
            // Not above the last id asked for: search from the start.
            self.at = 0;
        }
        let rest = &self.ids[self.at..];
        let i = rest.partition_point(|(candidate, _)| id_below(candidate.as_bytes(), id));
        self.at += i;
        match rest.get(i) {
            Some((found, value)) if same_id(found.as_bytes(), id) => {
                self.at += 1;
                Some(value)
            }
            _ => None,
        }
    }
}

/// Whether ids `a` and `b` are the same bytes, without a call to `memcmp`, which costs more than
/// comparing the few bytes of a form's ids (a protocol's ids are compared some 30 times as it is
/// folded in): four or eight bytes at a time, the last four or eight overlapping the ones
/// before (an id of 4 to 8 bytes is two loads, one of 9 to 16 two words), shorter ids byte by
/// byte.
#[inline]
fn same_id(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let half = |s: &[u8], at: usize| u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]]);
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

/// Whether id `a` is below id `b` in byte order (a loop, as [`same_id`]).
#[inline]
fn id_below(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// An id read as bytes, as text again (for a warning or a refusal: both kinds of protocol hold
/// UTF-8, so nothing is replaced).
fn text(id: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(id)
}

/// What [`Tally`] reads of a protocol: the typed [`Protocol`], or a [`ProtocolView`] of an
/// entry's bytes. Both give their counts in increasing byte order of the ids, without repeats
/// (a `BTreeMap`'s order; the view checks it when it is made), so both fold identically.
trait ProtocolFields {
    fn station(&self) -> &str;
    fn contest(&self) -> &str;
    fn source(&self) -> Source;
    fn supersedes(&self) -> Option<(u64, CorrectionReason)>;
    fn lines(&self) -> impl Iterator<Item = (&[u8], u64)>;
    fn votes(&self) -> impl Iterator<Item = (&[u8], u64)>;
    fn preferences(&self) -> impl Iterator<Item = (&[u8], impl Iterator<Item = (&[u8], u64)>)>;
}

impl ProtocolFields for Protocol {
    fn station(&self) -> &str {
        &self.station
    }
    fn contest(&self) -> &str {
        &self.contest
    }
    fn source(&self) -> Source {
        self.source
    }
    fn supersedes(&self) -> Option<(u64, CorrectionReason)> {
        self.supersedes.as_ref().map(|s| (s.index, s.reason))
    }
    fn lines(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.lines.iter().map(|(id, &value)| (id.as_bytes(), value))
    }
    fn votes(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.votes.iter().map(|(id, &value)| (id.as_bytes(), value))
    }
    fn preferences(&self) -> impl Iterator<Item = (&[u8], impl Iterator<Item = (&[u8], u64)>)> {
        self.preferences.iter().map(|(party, by_candidate)| {
            (party.as_bytes(), by_candidate.iter().map(|(id, &value)| (id.as_bytes(), value)))
        })
    }
}

impl ProtocolFields for ProtocolView<'_> {
    fn station(&self) -> &str {
        self.station
    }
    fn contest(&self) -> &str {
        self.contest
    }
    fn source(&self) -> Source {
        self.source
    }
    fn supersedes(&self) -> Option<(u64, CorrectionReason)> {
        self.supersedes
    }
    fn lines(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.lines.iter_raw()
    }
    fn votes(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.votes.iter_raw()
    }
    fn preferences(&self) -> impl Iterator<Item = (&[u8], impl Iterator<Item = (&[u8], u64)>)> {
        self.preferences
            .iter_raw()
            .map(|(party, counts): (&[u8], CountsView<'_>)| (party, counts.iter_raw()))
    }
}

/// Adds version `index` (with its numbers, `counts`) to the slot of `source` and `signer` in
/// `rec`, made if there is none; `true` if it was made.
fn insert_version(
    rec: &mut Record,
    source: Source,
    signer: u32,
    index: u64,
    counts: Counts,
    supersedes: Option<(u64, CorrectionReason)>,
) -> bool {
    let (slot, made) = match rec.slots.iter().position(|s| s.source == source && s.signer == signer)
    {
        Some(i) => (i, false),
        None => {
            // Exactly as many as there are (most records have one to three slots, each with
            // one version): a growing Vec's room for four costs ~0.5 GB at a million
            // stations.
            rec.slots.reserve_exact(1);
            rec.slots.push(Slot {
                source,
                signer,
                versions: Versions::new(),
                counts: SlotCounts::Decoded(Counts::default()),
            });
            (rec.slots.len() - 1, true)
        }
    };
    let slot = &mut rec.slots[slot];
    let at = slot.versions.partition_point(|v| v.index < index);
    if at == slot.versions.len() {
        slot.counts = SlotCounts::Decoded(counts);
    }
    slot.versions.insert(at, Version { index, supersedes });
    if let Some((named, _)) = supersedes {
        if named != index && !rec.superseded.contains(&named) {
            rec.superseded.push(named);
        }
    }
    made
}

/// Reads a protocol into the contest's layout; unknown lines, options and candidates are left
/// out with a warning; a value over [`MAX_STATION_COUNT`] refuses the protocol.
fn read_counts(
    index: &ContestIndex,
    entry: u64,
    protocol: &impl ProtocolFields,
    warnings: &mut Vec<Warning>,
) -> Result<Counts, IgnoreReason> {
    let width = index.width();
    let n_lines = index.lines.len();
    let mut values = vec![0u32; width];
    let mut warn = |code: &'static str, message: String| {
        warnings.push(Warning { index: entry, code, message });
    };
    let narrow = |line: &[u8], value: u64| {
        u32::try_from(value)
            .map_err(|_| IgnoreReason::CountTooLarge { line: text(line).into_owned(), value })
    };
    let mut lines = SortedIds::new(&index.lines_sorted);
    for (line, value) in protocol.lines() {
        match lines.find(line) {
            Some(&i) => values[i] = narrow(line, value)?,
            None => {
                let line = text(line);
                warn("tally.unknown_line", format!("form line {line:?} is not on the form"))
            }
        }
    }
    let mut sum_options = 0u64;
    let mut options = SortedIds::new(&index.options_sorted);
    for (option, value) in protocol.votes() {
        match options.find(option) {
            Some(&i) => {
                values[n_lines + i] = narrow(option, value)?;
                sum_options += value;
            }
            None => {
                let option = text(option);
                warn(
                    "tally.unknown_option",
                    format!(
                        "votes for {option:?}, which is not an option of contest {:?}",
                        index.id
                    ),
                )
            }
        }
    }
    let took_part: i128 = index
        .took_part
        .iter()
        .map(|(sign, term)| {
            let value = match term {
                CompiledTerm::Line(i) => u64::from(values[*i]),
                CompiledTerm::SumOptions => sum_options,
                CompiledTerm::Const(c) => *c,
            };
            i128::from(*sign) * i128::from(value)
        })
        .sum();
    if took_part < 0 {
        warn(
            "tally.negative_took_part",
            format!("took part evaluates to {took_part}; counted as 0"),
        );
    }
    let took_part = u64::try_from(took_part.max(0)).unwrap_or(u64::MAX);
    values[width - 1] = narrow(b"took_part", took_part)?;
    let mut preferences = Vec::new();
    let mut parties = SortedIds::new(&index.candidates_sorted);
    for (party, by_candidate) in protocol.preferences() {
        let list = parties.find(party).map_or(&[][..], Vec::as_slice);
        let mut candidates = SortedIds::new(list);
        for (candidate, value) in by_candidate {
            match candidates.find(candidate) {
                Some(&i) if index.party_list => {
                    if value > 0 {
                        preferences.push((i, narrow(candidate, value)?));
                    }
                }
                _ => {
                    let (candidate, party) = (text(candidate), text(party));
                    warn(
                        "tally.unknown_candidate",
                        format!(
                            "preference votes for {candidate:?} of {party:?}, not on that list"
                        ),
                    )
                }
            }
        }
    }
    Ok(Counts {
        values: Values::from_u32s(&values),
        preferences: Preferences::from_pairs(&preferences),
    })
}

#[cfg(test)]
mod tests {
    use super::{id_below, same_id, Preferences, SortedIds, Values, Version, Versions};
    use sverka_model::names::CorrectionReason;

    /// The byte loops compare as the slices' own `==` and `<` do, and `SortedIds` finds what a
    /// map finds, in any order of asking (a form's ids, their prefixes, longer ids, the empty id).
    #[test]
    fn ids_compare_and_are_found_as_by_the_slices_own_order() {
        let ids = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "bbcd",
            "abcde",
            "abcdf",
            "b",
            "ballots",
            "ballotz",
            "ballots_",
            "ballots_received",
            "ballots_receivee",
            "callots_received",
            "ballots_received_",
            "ballots_received_early",
            "ballots_received_earlz",
            "ballots_receivedXearly",
            "p01",
            "p02",
            "p10",
            "z\u{e9}",
        ];
        for a in ids {
            for b in ids {
                let (x, y) = (a.as_bytes(), b.as_bytes());
                assert_eq!(same_id(x, y), x == y, "{a:?} == {b:?}");
                assert_eq!(id_below(x, y), x < y, "{a:?} < {b:?}");
            }
        }
        let form: Vec<(String, usize)> = ["a", "abc", "ballots_received", "p01", "p10"]
            .iter()
            .map(|id| (id.to_string(), id.len()))
            .collect();
        let asked = ["a", "abc", "p01", "ab", "p10", "p10", "", "ballots_received", "z", "a"];
        let mut sorted = SortedIds::new(&form);
        for id in asked {
            let expected = form.iter().find(|(f, _)| f == id).map(|(_, n)| n);
            assert_eq!(sorted.find(id.as_bytes()), expected, "{id:?}");
        }
    }

    #[test]
    fn versions_stay_sorted_whichever_order_they_come_in_and_one_is_held_in_place() {
        let version = |index: u64| Version {
            index,
            supersedes: index.is_multiple_of(2).then_some((index + 1, CorrectionReason::Recount)),
        };
        for order in [[5u64, 9, 7], [9, 7, 5], [7, 5, 9], [5, 7, 9]] {
            let mut versions = Versions::new();
            assert!(versions.is_empty());
            for (n, &index) in order.iter().enumerate() {
                let at = versions.partition_point(|v| v.index < index);
                versions.insert(at, version(index));
                assert_eq!(versions.len(), n + 1);
                if n == 0 {
                    assert!(matches!(versions, Versions::One(_)), "one version in place");
                    assert_eq!(versions.heap_bytes(), 0);
                }
            }
            let indices: Vec<u64> = versions.iter().map(|v| v.index).collect();
            assert_eq!(indices, [5, 7, 9], "after {order:?}");
            assert_eq!(versions.last().map(|v| v.index), Some(9));
        }
        let one: Versions = vec![version(4)].into();
        assert!(
            matches!(one, Versions::One(ref v) if v.supersedes == Some((5, CorrectionReason::Recount)))
        );
        let two: Versions = vec![version(4), version(6)].into();
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn values_give_back_every_number_in_order() {
        let edges =
            [0, 1, 127, 128, 255, 16_383, 16_384, 2_097_151, 2_097_152, u32::MAX - 1, u32::MAX];
        let numbers: Vec<u32> = edges.iter().chain(&[5, 0, 900]).copied().collect();
        let packed = Values::from_u32s(&numbers);
        assert_eq!(packed.iter().collect::<Vec<_>>(), numbers);
        assert_eq!(packed.len(), numbers.len());
        assert_eq!(Values::from_u32s(&[3, 200, 0]).heap_bytes(), 4, "one byte a number below 128");
        assert_eq!(Values::from_u32s(&[]).iter().count(), 0);
    }

    #[test]
    fn preferences_give_back_every_pair_in_order() {
        let edges =
            [0, 1, 127, 128, 255, 16_383, 16_384, 2_097_151, 2_097_152, u32::MAX - 1, u32::MAX];
        let pairs: Vec<(u32, u32)> = edges
            .iter()
            .flat_map(|&a| edges.iter().map(move |&b| (a, b)))
            .chain([(7, 3), (2, 900), (7, 3)])
            .collect();
        let packed = Preferences::from_pairs(&pairs);
        assert_eq!(packed.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(packed.len(), pairs.len());
        let small = Preferences::from_pairs(&[(3, 40), (120, 2)]);
        assert_eq!(small.heap_bytes(), 4, "one byte a number below 128");
        assert_eq!(Preferences::default().iter().count(), 0);
        assert_eq!(Preferences::default().len(), 0);
    }

    #[test]
    fn a_numbers_size_is_the_bytes_written_for_it() {
        for shift in 0..64 {
            for v in [(1u64 << shift) - 1, 1 << shift, (1 << shift) + 1, u64::MAX] {
                let mut buf = Vec::new();
                super::state::push_leb128(&mut buf, v);
                assert_eq!(super::state::leb128_len(v), buf.len(), "{v}");
            }
        }
    }
}
