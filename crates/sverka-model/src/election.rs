//! The election definition (`election.toml`): geography, contests, parties and candidates, the
//! protocol forms with their control relations, the electoral rules and the registered keys.
//!
//! [`Election::from_toml`] parses and validates a definition and reports *every* problem it finds,
//! each with the file, line and column it is about. The validated [`Election`] is read-only and indexed
//! for lookups by id.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::form::Relation;
use crate::names::{is_valid_id, Names, Role};

mod cache;
pub use cache::{CacheError, CACHE_FORMAT};

/// An exact non-negative decimal below one, such as a threshold written `"0.05"` (= 1/20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Share {
    pub num: u64,
    pub den: u64,
}

impl Share {
    /// Parses a decimal `0.xxx` (up to 18 digits after the point) exactly; `0` and `1` parse too.
    pub fn parse(text: &str) -> Option<Share> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || int.len() > 1 {
            return None;
        }
        if frac.len() > 18 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if text.contains('.') && frac.is_empty() {
            return None;
        }
        let den = 10u64.pow(frac.len() as u32);
        let num = int.parse::<u64>().ok()? * den
            + if frac.is_empty() { 0 } else { frac.parse::<u64>().ok()? };
        Some(Share { num, den })
    }

    /// Whether `votes ≥ share × base`, exactly.
    pub fn reached(&self, votes: u64, base: u64) -> bool {
        u128::from(votes) * u128::from(self.den) >= u128::from(self.num) * u128::from(base)
    }

    /// The decimal as written, e.g. `0.05`.
    pub fn to_decimal(&self) -> String {
        let digits = self.den.to_string().len() - 1;
        if digits == 0 {
            return self.num.to_string();
        }
        format!("{}.{:0width$}", self.num / self.den, self.num % self.den, width = digits)
    }
}

/// The base a threshold is a share of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdBase {
    /// Voters who took part (ballots issued): the 2021 Kyrgyz base.
    TookPart,
    /// Valid ballots.
    Valid,
    /// Registered voters.
    Registered,
}

/// Seat allocation methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Hare,
    Droop,
    Dhondt,
    SainteLague,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Region {
    pub id: String,
    pub name: Names,
    pub abroad: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct District {
    pub id: String,
    pub name: Names,
    pub region: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Station {
    pub id: String,
    pub name: String,
    pub district: String,
    pub region: String,
    pub registered: u64,
    pub abroad: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FormLine {
    pub id: String,
    pub name: Names,
}

/// A protocol form: its lines, which of them mean what, and its control relations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Form {
    pub id: String,
    pub lines: Vec<FormLine>,
    /// The line holding the registered voters.
    pub registered: String,
    /// The line holding the valid ballots.
    pub valid: String,
    /// The line holding the invalid ballots.
    pub invalid: String,
    /// "Took part": ballots issued, as an expression over lines.
    pub took_part: crate::form::LinearExpr,
    pub relations: Vec<Relation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Position on the party list, or the ballot number in a single-member race.
    pub position: u32,
    pub sex: Sex,
    /// The nominating party in a single-member race, if any.
    pub party: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Party {
    pub id: String,
    pub ballot_number: u32,
    pub name: Names,
    pub candidates: Vec<Candidate>,
    /// The party's colour on the results site, `#rrggbb` (lower case); the site picks one by
    /// ballot position when it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Threshold {
    pub share: Share,
    pub base: ThresholdBase,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionalThreshold {
    pub share: Share,
    pub base: ThresholdBase,
    pub regions: Vec<String>,
}

/// A party-list race decided by proportional rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartyListContest {
    pub seats: u32,
    pub method: Method,
    pub threshold: Threshold,
    pub regional_threshold: Option<RegionalThreshold>,
    /// The minimum share of a party's seats that goes first to its women candidates, if the rule applies.
    pub women_min_share: Option<Share>,
    pub parties: Vec<Party>,
}

/// A single-member district race decided by plurality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SingleMemberContest {
    pub district: String,
    pub candidates: Vec<Candidate>,
    /// The race fails (and is re-run) when "against all" beats the leader.
    pub fails_if_against_all_leads: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ContestKind {
    PartyList(PartyListContest),
    SingleMember(SingleMemberContest),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Contest {
    pub id: String,
    pub name: Names,
    pub form: String,
    pub against_all: bool,
    pub kind: ContestKind,
}

/// The option id under which "against all" votes are recorded in a protocol.
pub const AGAINST_ALL: &str = "against_all";

impl Contest {
    /// The ids of the vote lines a protocol of this contest carries, in ballot order, "against all" last.
    pub fn option_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = match &self.kind {
            ContestKind::PartyList(list) => list.parties.iter().map(|p| p.id.as_str()).collect(),
            ContestKind::SingleMember(smd) => {
                smd.candidates.iter().map(|c| c.id.as_str()).collect()
            }
        };
        if self.against_all {
            ids.push(AGAINST_ALL);
        }
        ids
    }

    /// Which stations vote in this contest.
    pub fn covers(&self, station: &Station) -> bool {
        match &self.kind {
            ContestKind::PartyList(_) => true,
            ContestKind::SingleMember(smd) => station.district == smd.district && !station.abroad,
        }
    }
}

/// A registered public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub id: String,
    pub role: Role,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// The station a `machine` key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    /// The district commission an `operator` key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// Tolerances and limits that validation applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rules {
    /// Ballots may exceed registered voters by at most this many (voters added on the day).
    pub ballots_over_registered: u64,
    /// A turnout above this share is a warning.
    pub turnout_warning: Share,
    /// A machine/manual difference above this many votes on any line is a warning.
    pub machine_manual_tolerance: u64,
}

/// Positions of ids in a vector that holds them, found by hash (open addressing, linear probing,
/// over `u32` slots). A `HashMap<String, usize>` keeps a copy of every id: with its allocation
/// about 100 bytes an entry, 100 MB for a million stations or keys. This keeps at most 8 bytes an
/// entry; the ids stay where they are, and every call is given `id_at` to read them there.
/// Nothing is ever removed (ids are never reused). The ids come from the definition, not from
/// submitters, so a plain FNV-1a hash is enough.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IdIndex {
    /// A position, or [`IdIndex::EMPTY`]; the length is zero or a power of two.
    slots: Vec<u32>,
    len: usize,
}

impl IdIndex {
    const EMPTY: u32 = u32::MAX;

    fn hash(id: &[u8]) -> usize {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in id {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        (hash ^ (hash >> 29)) as usize
    }

    /// The position whose id (`id_at(position)`) is `id`.
    pub(crate) fn get<'a>(&self, id: &[u8], id_at: impl Fn(u32) -> &'a [u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = IdIndex::hash(id) & mask;
        loop {
            match self.slots[at] {
                IdIndex::EMPTY => return None,
                position if id_at(position) == id => return Some(position),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// An index that takes `n` ids without growing (with as many slots as [`IdIndex::insert`]
    /// grows to for them).
    pub(crate) fn with_capacity(n: usize) -> IdIndex {
        let slots = match n {
            0 => Vec::new(),
            n => vec![IdIndex::EMPTY; n.saturating_mul(2).next_power_of_two().max(16)],
        };
        IdIndex { slots, len: 0 }
    }

    /// Adds `position` under its id `id_at(position)`; `Err` with the position already there
    /// when another one has the same id.
    pub(crate) fn insert<'a>(
        &mut self,
        position: u32,
        id_at: impl Fn(u32) -> &'a [u8],
    ) -> Result<(), u32> {
        let id = id_at(position);
        if (self.len + 1) * 2 > self.slots.len() {
            if let Some(existing) = self.get(id, &id_at) {
                return Err(existing);
            }
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![IdIndex::EMPTY; (old.len() * 2).max(16)];
            for position in old.into_iter().filter(|&p| p != IdIndex::EMPTY) {
                self.place(position, &id_at);
            }
        }
        // One probe (one hash) finds an equal id or the empty slot `get` would stop at, where
        // the position goes.
        let mask = self.slots.len() - 1;
        let mut at = IdIndex::hash(id) & mask;
        loop {
            match self.slots[at] {
                IdIndex::EMPTY => break,
                existing if id_at(existing) == id => return Err(existing),
                _ => at = (at + 1) & mask,
            }
        }
        self.slots[at] = position;
        self.len += 1;
        Ok(())
    }

    fn place<'a>(&mut self, position: u32, id_at: &impl Fn(u32) -> &'a [u8]) {
        let mask = self.slots.len() - 1;
        let mut at = IdIndex::hash(id_at(position)) & mask;
        while self.slots[at] != IdIndex::EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = position;
    }
}

/// A validated election definition. Two are equal when every field and every index by id is
/// (the indexes are built from the fields, so an election and its cache's, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    pub id: String,
    pub name: Names,
    pub date: String,
    /// The public seed from which ties are decided by lot.
    pub tie_seed: String,
    /// The tlog origin line of this election's log.
    pub log_origin: String,
    pub rules: Rules,
    pub regions: Vec<Region>,
    pub districts: Vec<District>,
    pub stations: Vec<Station>,
    pub forms: Vec<Form>,
    pub contests: Vec<Contest>,
    pub keys: Vec<KeyRecord>,
    region_idx: HashMap<String, usize>,
    district_idx: HashMap<String, usize>,
    /// Station ids to positions in `stations`, without a copy of the ids (see [`IdIndex`]).
    station_idx: IdIndex,
    form_idx: HashMap<String, usize>,
    contest_idx: HashMap<String, usize>,
}

impl Election {
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.region_idx.get(id).map(|&i| &self.regions[i])
    }
    pub fn district(&self, id: &str) -> Option<&District> {
        self.district_idx.get(id).map(|&i| &self.districts[i])
    }
    pub fn station(&self, id: &str) -> Option<&Station> {
        self.station_index(id).map(|i| &self.stations[i])
    }
    /// The position of a station in [`Election::stations`].
    pub fn station_index(&self, id: &str) -> Option<usize> {
        let id_at = |i: u32| self.stations[i as usize].id.as_bytes();
        self.station_idx.get(id.as_bytes(), id_at).map(|i| i as usize)
    }
    pub fn form(&self, id: &str) -> Option<&Form> {
        self.form_idx.get(id).map(|&i| &self.forms[i])
    }
    pub fn contest(&self, id: &str) -> Option<&Contest> {
        self.contest_idx.get(id).map(|&i| &self.contests[i])
    }
    /// The position of a contest in [`Election::contests`].
    pub fn contest_index(&self, id: &str) -> Option<usize> {
        self.contest_idx.get(id).copied()
    }
    /// The form of a contest (always present in a validated election).
    pub fn form_of(&self, contest: &Contest) -> &Form {
        self.form(&contest.form).expect("validated election: every contest names a form")
    }
    /// The registered voters of the whole election.
    pub fn registered_total(&self) -> u64 {
        self.stations.iter().map(|s| s.registered).sum()
    }

    /// Which contests each station votes in ([`Contest::covers`]), by position, computed once:
    /// no string comparison per contest and station. See [`Coverage`].
    pub fn coverage(&self) -> Coverage {
        // List 0: a station abroad; list 1 + d: a station at home in district d.
        let mut lists = vec![self.covering("", true)];
        lists.extend(self.districts.iter().map(|d| self.covering(&d.id, false)));
        let mut unknown: HashMap<&str, u32> = HashMap::new();
        let mut station_list = Vec::with_capacity(self.stations.len());
        for station in &self.stations {
            let list = if station.abroad {
                0
            } else if let Some(&d) = self.district_idx.get(&station.district) {
                1 + d as u32
            } else {
                *unknown.entry(station.district.as_str()).or_insert_with(|| {
                    lists.push(self.covering(&station.district, false));
                    (lists.len() - 1) as u32
                })
            };
            station_list.push(list);
        }
        Coverage { lists, station_list }
    }

    /// The positions of the contests that cover a station of `district`, abroad or not, in order.
    fn covering(&self, district: &str, abroad: bool) -> Box<[u32]> {
        let station = Station {
            id: String::new(),
            name: String::new(),
            district: district.to_string(),
            region: String::new(),
            registered: 0,
            abroad,
        };
        (0..self.contests.len() as u32)
            .filter(|&c| self.contests[c as usize].covers(&station))
            .collect()
    }
}

/// Which contests each station of an [`Election`] votes in, by position ([`Election::coverage`]):
/// whether a contest covers a station depends only on the station's district and whether it is
/// abroad, so the contests are listed once per district (and once for abroad) and each station
/// names its list.
#[derive(Clone, Debug)]
pub struct Coverage {
    lists: Vec<Box<[u32]>>,
    /// The list of each station, in station order.
    station_list: Vec<u32>,
}

impl Coverage {
    /// The positions in [`Election::contests`] of the contests station `s` (its position in
    /// [`Election::stations`]) votes in, in the election's order: those whose
    /// [`Contest::covers`] is true.
    ///
    /// # Panics
    /// If `s` is out of range.
    pub fn of(&self, s: usize) -> &[u32] {
        &self.lists[self.station_list[s] as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// One problem in a definition file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Every problem found in a definition file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

struct Collector<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<DefinitionError>,
    /// Whether each public key is decompressed to a curve point (see
    /// [`Election::from_toml_trusted_keys`]).
    key_points: bool,
}

impl Collector<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(DefinitionError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        });
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// The file as a tree of located values

/// `election.toml` as TOML values that each know the bytes they were written at, so that every
/// problem, even an unknown key or a value of the wrong type, can be reported where it is and the
/// reading can go on to find the next one.
mod tree {
    use std::fmt;
    use std::ops::Range;

    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

    // The `toml` deserializer hands out the location of any value, table or key that asks for it
    // through the protocol of `serde_spanned::Spanned` (these names). A deserializer that does not
    // know it gives plain values, which are then located at their parent.
    const SPANNED: &str = "$__serde_spanned_private_Spanned";
    const SPANNED_START: &str = "$__serde_spanned_private_start";
    const SPANNED_FIELDS: &[&str] =
        &[SPANNED_START, "$__serde_spanned_private_end", "$__serde_spanned_private_value"];
    // How `toml` passes a date or time through `deserialize_any`.
    const DATETIME: &str = "$__toml_private_datetime";

    /// A TOML value and where it was written.
    #[derive(Debug, PartialEq)]
    pub(super) struct Node {
        pub span: Range<usize>,
        pub value: Value,
    }

    #[derive(Debug, PartialEq)]
    pub(super) enum Value {
        String(String),
        Integer(i64),
        /// A float; its text as written is in the file at the node's span.
        Float,
        Boolean(bool),
        /// An unquoted TOML date or time.
        Datetime,
        Array(Vec<Node>),
        Table(Vec<(Key, Node)>),
    }

    /// A key of a table and where it was written.
    #[derive(Debug, PartialEq)]
    pub(super) struct Key {
        pub span: Range<usize>,
        pub name: String,
    }

    impl Value {
        /// What this value is, for messages: "a string", "an integer", ...
        pub fn kind(&self) -> &'static str {
            match self {
                Value::String(_) => "a string",
                Value::Integer(_) => "an integer",
                Value::Float => "a float",
                Value::Boolean(_) => "true/false",
                Value::Datetime => "an unquoted date",
                Value::Array(_) => "an array",
                Value::Table(_) => "a table",
            }
        }
    }

    /// Parses TOML text; a syntax error (which stops any TOML parser) is the only error.
    pub(super) fn parse(text: &str) -> Result<Node, toml::de::Error> {
        let Plain(mut root) = toml::from_str(text)?;
        root.locate(0..0);
        Ok(root)
    }

    impl Node {
        fn bare(value: Value) -> Node {
            Node { span: usize::MAX..usize::MAX, value }
        }

        /// Gives every value its parent's location where the deserializer gave none.
        fn locate(&mut self, parent: Range<usize>) {
            if self.span.start == usize::MAX {
                self.span = parent;
            }
            match &mut self.value {
                Value::Array(items) => items.iter_mut().for_each(|i| i.locate(self.span.clone())),
                Value::Table(entries) => {
                    for (key, value) in entries {
                        if key.span.start == usize::MAX {
                            key.span = self.span.clone();
                        }
                        value.locate(key.span.clone());
                    }
                }
                _ => {}
            }
        }
    }

    struct NodeVisitor;

    impl<'de> Visitor<'de> for NodeVisitor {
        type Value = Node;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a TOML value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
            Ok(Node::bare(Value::Boolean(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
            Ok(Node::bare(Value::Integer(v)))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
            Ok(Node::bare(Value::Integer(i64::try_from(v).map_err(E::custom)?)))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
            Ok(Node::bare(Value::Float))
        }
        fn visit_str<E>(self, v: &str) -> Result<Node, E> {
            Ok(Node::bare(Value::String(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Node, E> {
            Ok(Node::bare(Value::String(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Node>()? {
                items.push(item);
            }
            Ok(Node::bare(Value::Array(items)))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
            let Some(first) = map.next_key::<Key>()? else {
                return Ok(Node::bare(Value::Table(Vec::new())));
            };
            if first.name == SPANNED_START {
                let start: usize = map.next_value()?;
                map.next_key::<Key>()?.ok_or_else(|| A::Error::custom("span without end"))?;
                let end: usize = map.next_value()?;
                map.next_key::<Key>()?.ok_or_else(|| A::Error::custom("span without value"))?;
                let Plain(mut node) = map.next_value()?;
                node.span = start..end;
                return Ok(node);
            }
            if first.name == DATETIME {
                let Plain(_) = map.next_value()?;
                return Ok(Node::bare(Value::Datetime));
            }
            let mut entries = vec![(first, map.next_value::<Node>()?)];
            while let Some(key) = map.next_key::<Key>()? {
                let value = map.next_value::<Node>()?;
                entries.push((key, value));
            }
            Ok(Node::bare(Value::Table(entries)))
        }
    }

    /// A value read without asking for its location.
    struct Plain(Node);

    impl<'de> Deserialize<'de> for Plain {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Plain, D::Error> {
            d.deserialize_any(NodeVisitor).map(Plain)
        }
    }

    impl<'de> Deserialize<'de> for Node {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
            d.deserialize_struct(SPANNED, SPANNED_FIELDS, NodeVisitor)
        }
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a TOML key")
                }
                fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                    Ok(Key { span: usize::MAX..usize::MAX, name: v.to_string() })
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
                    fn next<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
                        map.next_key::<String>()?.map(drop).ok_or_else(|| A::Error::custom("key"))
                    }
                    next(&mut map)?;
                    let start: usize = map.next_value()?;
                    next(&mut map)?;
                    let end: usize = map.next_value()?;
                    next(&mut map)?;
                    let name: String = map.next_value()?;
                    Ok(Key { span: start..end, name })
                }
            }
            d.deserialize_struct(SPANNED, SPANNED_FIELDS, KeyVisitor)
        }
    }
}

use tree::{Node, Value};

// ---------------------------------------------------------------------------------------------
// The many small tables, read without the `toml` crate

/// The `[[stations]]` and `[[keys]]` tables of a large definition, read by hand.
///
/// A million-station definition is two million small tables of `key = value` lines. Read through
/// `toml` (whose `toml_edit` document keeps every token's decor and span) into the located tree,
/// they took about 50 s and 6 GB. When every such table is written plainly — bare keys, basic
/// strings with TOML 1.0 escapes, decimal integers, `true`/`false`, comments, blank lines — they
/// are cut out of the text, the rest is read by `toml`, and each cut table becomes a located
/// [`Node`] (exactly the node `toml` would have given: header, key and value spans, values) only
/// when it is validated, then dropped. Anything else — a multi-line string anywhere, a literal
/// string, a float, an inline table, a dotted or quoted key, a `[[stations]]` inside an array —
/// makes [`split`] return `None`, and the whole file is read by `toml` as before, so a file means
/// the same and gets the same messages either way (tests in `tests/definitions.rs` and below).
mod cut {
    use std::ops::Range;

    use super::tree::{Key, Node, Value};

    /// The arrays of tables this reader cuts out.
    pub(super) const CUT: [&str; 2] = ["stations", "keys"];

    /// A definition with its plain `[[stations]]` and `[[keys]]` tables cut out.
    pub(super) struct Split {
        /// The text without the cut tables, for `toml`.
        pub rest: String,
        /// `(offset in rest, offset in the file)` where each stretch of `rest` starts.
        pub segments: Vec<(usize, usize)>,
        /// The cut tables of `stations` and `keys` (in [`CUT`] order), as byte ranges of the file
        /// from the header's `[[` to the end of the table's last line.
        pub tables: [Vec<Range<usize>>; 2],
    }

    impl Split {
        /// Moves every span of a node read from `rest` to where it is in the file.
        pub fn relocate(&self, node: &mut Node) {
            node.span = self.span(node.span.clone());
            match &mut node.value {
                Value::Array(items) => items.iter_mut().for_each(|item| self.relocate(item)),
                Value::Table(entries) => {
                    for (key, value) in entries {
                        key.span = self.span(key.span.clone());
                        self.relocate(value);
                    }
                }
                _ => {}
            }
        }

        pub fn span(&self, span: Range<usize>) -> Range<usize> {
            let start = self.offset(span.start);
            let end = if span.end > span.start { self.offset(span.end - 1) + 1 } else { start };
            start..end
        }

        fn offset(&self, in_rest: usize) -> usize {
            let i = self.segments.partition_point(|&(r, _)| r <= in_rest).saturating_sub(1);
            let (r, o) = self.segments.get(i).copied().unwrap_or((0, 0));
            o + (in_rest - r)
        }
    }

    /// Cuts the plain `[[stations]]` and `[[keys]]` tables out of `text`; `None` when there are
    /// none or when anything in the file is outside what this reader knows to read exactly.
    pub(super) fn split(text: &str) -> Option<Split> {
        if text.contains("\"\"\"") || text.contains("'''") {
            return None;
        }
        let mut split =
            Split { rest: String::new(), segments: Vec::new(), tables: [Vec::new(), Vec::new()] };
        let mut depth = 0usize; // `[` of multi-line arrays still open in the kept text
        let mut kept_from = 0; // where the stretch being kept started
        let mut table: Option<(usize, usize)> = None; // the cut table being read: (array, start)
        let mut keys: Vec<&str> = Vec::new(); // its keys so far
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let trimmed = line.trim_start_matches([' ', '\t']);
            let header = start + (line.len() - trimmed.len());
            if let Some((which, table_start)) = table {
                if !trimmed.starts_with('[') {
                    plain_line(line, &mut keys)?;
                    continue;
                }
                split.tables[which].push(table_start..start);
                table = None;
                kept_from = start;
            }
            if depth == 0 && trimmed.starts_with('[') {
                if let Some(which) = cut_header(trimmed) {
                    keep(&mut split, text, kept_from..start);
                    table = Some((which, header));
                    keys.clear();
                    continue;
                }
            }
            depth = bracket_depth(line, depth)?;
        }
        match table {
            Some((which, table_start)) => split.tables[which].push(table_start..text.len()),
            None => keep(&mut split, text, kept_from..text.len()),
        }
        if split.tables.iter().all(Vec::is_empty) || depth != 0 {
            return None;
        }
        Some(split)
    }

    fn keep(split: &mut Split, text: &str, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        split.segments.push((split.rest.len(), range.start));
        split.rest.push_str(&text[range]);
    }

    /// Which cut array a header line opens: exactly `[[stations]]` or `[[keys]]`, then spaces
    /// and a comment at most.
    fn cut_header(trimmed: &str) -> Option<usize> {
        CUT.iter().position(|name| {
            trimmed
                .strip_prefix("[[")
                .and_then(|t| t.strip_prefix(name))
                .and_then(|t| t.strip_prefix("]]"))
                .is_some_and(|t| line_end(t.as_bytes(), 0).is_some())
        })
    }

    /// Checks one body line of a cut table (blank, comment, or `key = value` with a key not
    /// written before in the table).
    fn plain_line<'t>(line: &'t str, keys: &mut Vec<&'t str>) -> Option<()> {
        let bytes = line.as_bytes();
        let at = skip_spaces(bytes, 0);
        if line_end(bytes, at).is_some() {
            return Some(());
        }
        let mut key = 0..0;
        key_value(bytes, at, &mut |k, _| key = k)?;
        let key = &line[key];
        if keys.contains(&key) {
            return None;
        }
        keys.push(key);
        Some(())
    }

    /// Reads `key = value` at `at`, handing the key's and the value's span (relative to `bytes`)
    /// to `found`; returns the value.
    fn key_value(
        bytes: &[u8],
        at: usize,
        found: &mut dyn FnMut(Range<usize>, Range<usize>),
    ) -> Option<Value> {
        let key_end = at + bytes[at..].iter().take_while(|b| is_bare(**b)).count();
        if key_end == at {
            return None;
        }
        let eq = skip_spaces(bytes, key_end);
        if bytes.get(eq) != Some(&b'=') {
            return None;
        }
        let value_start = skip_spaces(bytes, eq + 1);
        let (value, value_end) = value(bytes, value_start)?;
        line_end(bytes, value_end)?;
        found(at..key_end, value_start..value_end);
        Some(value)
    }

    fn is_bare(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
    }

    fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        at
    }

    /// `Some` if from `at` there are only spaces, an optional comment and the line's end.
    fn line_end(bytes: &[u8], at: usize) -> Option<()> {
        let at = skip_spaces(bytes, at);
        match &bytes[at..] {
            [] | [b'\n'] | [b'\r', b'\n'] => Some(()),
            [b'#', comment @ ..] => {
                let comment = comment.strip_suffix(b"\n").unwrap_or(comment);
                let comment = comment.strip_suffix(b"\r").unwrap_or(comment);
                comment.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)).then_some(())
            }
            _ => None,
        }
    }

    /// A basic string, a decimal integer or a boolean at `at`, and where it ends.
    fn value(bytes: &[u8], at: usize) -> Option<(Value, usize)> {
        match bytes.get(at)? {
            b'"' => basic_string(bytes, at + 1).map(|(s, end)| (Value::String(s), end)),
            b't' if bytes[at..].starts_with(b"true") => Some((Value::Boolean(true), at + 4)),
            b'f' if bytes[at..].starts_with(b"false") => Some((Value::Boolean(false), at + 5)),
            b'-' | b'0'..=b'9' => {
                let digits_from = at + usize::from(bytes[at] == b'-');
                let digits = bytes[digits_from..].iter().take_while(|b| b.is_ascii_digit()).count();
                let end = digits_from + digits;
                let leading_zero = digits > 1 && bytes[digits_from] == b'0';
                if digits == 0 || leading_zero {
                    return None;
                }
                let text = std::str::from_utf8(&bytes[at..end]).ok()?;
                Some((Value::Integer(text.parse().ok()?), end))
            }
            _ => None,
        }
    }

    /// The rest of a basic string whose opening quote is just before `at` (TOML 1.0 §String:
    /// escapes `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`, no control characters but tab).
    fn basic_string(bytes: &[u8], mut at: usize) -> Option<(String, usize)> {
        let mut out = String::new();
        let mut plain_from = at;
        loop {
            match *bytes.get(at)? {
                b'"' => {
                    out.push_str(std::str::from_utf8(&bytes[plain_from..at]).ok()?);
                    return Some((out, at + 1));
                }
                b'\\' => {
                    out.push_str(std::str::from_utf8(&bytes[plain_from..at]).ok()?);
                    let (ch, len) = escape(&bytes[at + 1..])?;
                    out.push(ch);
                    at += 1 + len;
                    plain_from = at;
                }
                b if b == b'\t' || (b >= 0x20 && b != 0x7f) => at += 1,
                _ => return None,
            }
        }
    }

    fn escape(bytes: &[u8]) -> Option<(char, usize)> {
        let simple = match *bytes.first()? {
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'"' => '"',
            b'\\' => '\\',
            b'u' => return hex_char(bytes.get(1..5)?).map(|c| (c, 5)),
            b'U' => return hex_char(bytes.get(1..9)?).map(|c| (c, 9)),
            _ => return None,
        };
        Some((simple, 1))
    }

    fn hex_char(digits: &[u8]) -> Option<char> {
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        char::from_u32(u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?)
    }

    /// The depth of open `[` after a kept line (strings and comments skipped); `None` on a
    /// string that does not end on its line.
    fn bracket_depth(line: &str, mut depth: usize) -> Option<usize> {
        let bytes = line.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'#' => break,
                b'"' => at = basic_string(bytes, at + 1)?.1,
                b'\'' => at += 2 + bytes[at + 1..].iter().position(|&b| b == b'\'')?,
                b'[' => {
                    depth += 1;
                    at += 1;
                }
                b']' => {
                    depth = depth.saturating_sub(1);
                    at += 1;
                }
                _ => at += 1,
            }
        }
        Some(depth)
    }

    /// The located node of one cut table that [`split`] accepted, as `toml` gives it: the table
    /// at its header, each key and value at its token.
    pub(super) fn node(text: &str, table: &Range<usize>) -> Node {
        let body = &text[table.clone()];
        let header_end = body.find("]]").map_or(0, |i| i + 2);
        let mut entries: Vec<(Key, Node)> = Vec::new();
        let mut offset = table.start;
        for (i, line) in body.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            if i == 0 {
                continue; // the header
            }
            let bytes = line.as_bytes();
            let at = skip_spaces(bytes, 0);
            let mut spans = (0..0, 0..0);
            // `split` checked every line: blank or a comment, or a `key = value` not seen before.
            let Some(value) = key_value(bytes, at, &mut |k, v| spans = (k, v)) else { continue };
            let (key, value_span) = spans;
            let name = line[key.clone()].to_string();
            let key = Key { span: start + key.start..start + key.end, name };
            let value_span = start + value_span.start..start + value_span.end;
            entries.push((key, Node { span: value_span, value }));
        }
        // `toml` spans a table from its header to the end of its last value.
        let end = entries.last().map_or(table.start + header_end, |(_, value)| value.span.end);
        Node { span: table.start..end, value: Value::Table(entries) }
    }
}

/// A value read from the file and where it was written.
#[derive(Clone, Debug)]
struct At<T> {
    span: Range<usize>,
    value: T,
}

impl<T> At<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> At<U> {
        At { span: self.span, value: f(self.value) }
    }
}

/// One table of the file being read: reports unknown keys when opened, and missing fields and
/// values of the wrong type as they are asked for.
struct Table<'n> {
    span: Range<usize>,
    entries: &'n [(tree::Key, Node)],
    /// What the table is, for messages: `station "1002"`.
    what: String,
}

impl<'n> Table<'n> {
    /// Opens `node` as a table of `kind` (named by its `id` in messages, when it has one) that may
    /// hold only the `allowed` keys.
    fn open(c: &mut Collector, node: &'n Node, kind: &str, allowed: &[&str]) -> Option<Table<'n>> {
        let Value::Table(entries) = &node.value else {
            c.at(node.span.clone(), format!("{kind} must be a table, not {}", node.value.kind()));
            return None;
        };
        let id = entries.iter().find_map(|(k, v)| match &v.value {
            Value::String(id) if k.name == "id" && allowed.contains(&"id") => Some(id),
            _ => None,
        });
        let what = match id {
            Some(id) => format!("{kind} {id:?}"),
            None => kind.to_string(),
        };
        let what = what.as_str();
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                c.at(key.span.clone(), unknown_key(&key.name, what, allowed));
            }
        }
        Some(Table { span: node.span.clone(), entries, what: what.to_string() })
    }

    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k.span.clone())
    }

    fn field(&self, c: &mut Collector, key: &str, required: bool) -> Option<&'n Node> {
        let node = self.get(key);
        if node.is_none() && required {
            c.at(self.span.start..self.span.start, format!("{} has no `{key}`", self.what));
        }
        node
    }

    fn wrong_type(&self, c: &mut Collector, key: &str, node: &Node, expected: &str) {
        let found = node.value.kind();
        c.at(
            node.span.clone(),
            format!("`{key}` of {} must be {expected}, not {found}", self.what),
        );
    }

    fn string(&self, c: &mut Collector, key: &str, required: bool) -> Option<At<String>> {
        let node = self.field(c, key, required)?;
        match &node.value {
            Value::String(s) => Some(At { span: node.span.clone(), value: s.clone() }),
            _ => {
                self.wrong_type(c, key, node, "a quoted string");
                None
            }
        }
    }

    fn integer(&self, c: &mut Collector, key: &str, required: bool) -> Option<At<i64>> {
        let node = self.field(c, key, required)?;
        match &node.value {
            Value::Integer(i) => Some(At { span: node.span.clone(), value: *i }),
            _ => {
                self.wrong_type(c, key, node, "a whole number");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    fn count(
        &self,
        c: &mut Collector,
        key: &str,
        required: bool,
        min: i64,
        max: i64,
    ) -> Option<At<u64>> {
        let n = self.integer(c, key, required)?;
        if n.value < min || n.value > max {
            let (what, value) = (&self.what, n.value);
            let message = if value < 0 && min >= 0 {
                format!("`{key}` of {what} is {value}, which is negative")
            } else {
                format!("`{key}` of {what} is {value}; it must be between {min} and {max}")
            };
            c.at(n.span, message);
            return None;
        }
        Some(n.map(|v| v as u64))
    }

    fn boolean(&self, c: &mut Collector, key: &str) -> Option<At<bool>> {
        let node = self.field(c, key, false)?;
        match &node.value {
            Value::Boolean(b) => Some(At { span: node.span.clone(), value: *b }),
            _ => {
                self.wrong_type(c, key, node, "true or false");
                None
            }
        }
    }

    fn array(&self, c: &mut Collector, key: &str, required: bool) -> &'n [Node] {
        match self.field(c, key, required) {
            None => &[],
            Some(Node { value: Value::Array(items), .. }) => items,
            Some(node) => {
                self.wrong_type(c, key, node, "an array");
                &[]
            }
        }
    }

    fn table(
        &self,
        c: &mut Collector,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<Table<'n>> {
        let node = self.field(c, key, required)?;
        Table::open(c, node, &format!("`{key}` of {}", self.what), allowed)
    }

    /// One of a few words, e.g. a method or a role.
    fn word<T: Copy>(
        &self,
        c: &mut Collector,
        key: &str,
        required: bool,
        choices: &[(&str, T)],
    ) -> Option<At<T>> {
        let text = self.string(c, key, required)?;
        match choices.iter().find(|(word, _)| *word == text.value) {
            Some((_, value)) => Some(At { span: text.span, value: *value }),
            None => {
                let words: Vec<String> = choices.iter().map(|(w, _)| format!("{w:?}")).collect();
                c.at(
                    text.span,
                    format!(
                        "`{key}` of {} is {:?}; use one of {}",
                        self.what,
                        text.value,
                        words.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// A name in ky, ru and en.
    fn names(&self, c: &mut Collector, key: &str) -> Names {
        let Some(t) = self.table(c, key, true, &["ky", "ru", "en"]) else {
            return Names::default();
        };
        let mut lang = |l: &str| t.string(c, l, true).map(|s| s.value).unwrap_or_default();
        Names { ky: lang("ky"), ru: lang("ru"), en: lang("en") }
    }

    /// An exact decimal share written as a quoted decimal, in `[0, 1)` (or `(0, 1]` for limits).
    fn share(
        &self,
        c: &mut Collector,
        key: &str,
        required: bool,
        range: ShareRange,
    ) -> Option<At<Share>> {
        let node = self.field(c, key, required)?;
        let what = &self.what;
        let text = match &node.value {
            Value::String(s) => s.clone(),
            Value::Float | Value::Integer(_) => {
                let written = c.text.get(node.span.clone()).unwrap_or("").to_string();
                c.at(
                    node.span.clone(),
                    format!(
                        "`{key}` of {what} is the TOML number {written}; write it as a quoted \
                         decimal, {key} = \"{written}\", so that it is exact (a float cannot hold \
                         most decimals exactly, and thresholds are compared exactly)"
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(c, key, node, "a quoted decimal such as \"0.05\"");
                return None;
            }
        };
        let span = node.span.clone();
        let Some(share) = Share::parse(&text) else {
            c.at(span, format!("`{key}` of {what} is {text:?}, not a decimal such as \"0.05\""));
            return None;
        };
        let inside = match range {
            ShareRange::BelowOne => share.num < share.den,
            ShareRange::AboveZeroUpToOne => share.num > 0 && share.num <= share.den,
        };
        if !inside {
            c.at(span, format!("`{key}` of {what} is {text}, outside {}", range.describe()));
            return None;
        }
        Some(At { span, value: share })
    }
}

#[derive(Clone, Copy)]
enum ShareRange {
    /// `[0, 1)`: thresholds and quotas.
    BelowOne,
    /// `(0, 1]`: limits such as the turnout warning.
    AboveZeroUpToOne,
}

impl ShareRange {
    fn describe(self) -> &'static str {
        match self {
            ShareRange::BelowOne => "[0, 1)",
            ShareRange::AboveZeroUpToOne => "(0, 1]",
        }
    }
}

fn unknown_key(key: &str, what: &str, allowed: &[&str]) -> String {
    let close = allowed.iter().min_by_key(|a| edit_distance(key, a)).copied();
    match close {
        Some(close) if edit_distance(key, close) <= 2 => {
            format!("unknown key `{key}` in {what}; did you mean `{close}`?")
        }
        _ => format!("unknown key `{key}` in {what}; expected one of: {}", allowed.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Validation

impl Election {
    /// Parses and validates a definition; `file` names it in errors. Every problem found is
    /// reported, in the order of the file.
    pub fn from_toml(file: &str, text: &str) -> Result<Election, DefinitionErrors> {
        Election::read(file, text, cut::split(text), true)
    }

    /// [`Election::from_toml`] for a definition this program has read with `from_toml` before
    /// (the same bytes, say the blob a data directory or `sverka verify --state` names by its
    /// SHA-256): every check but one, the decompression of each public key to a curve point
    /// (about 10 µs a key, 10 CPU-seconds at a million stations). Each key is still checked to
    /// be base64 of 32 bytes and unique; a key that is not a curve point is then refused where it
    /// is used ([`crate::registry::KeyRegistry`] treats its id as not registered, `E102`).
    pub fn from_toml_trusted_keys(file: &str, text: &str) -> Result<Election, DefinitionErrors> {
        Election::read(file, text, cut::split(text), false)
    }

    /// [`Election::from_toml`] reading the whole file with `toml`, for the tests that compare.
    #[cfg(test)]
    fn from_toml_whole(file: &str, text: &str) -> Result<Election, DefinitionErrors> {
        Election::read(file, text, None, true)
    }

    fn read(
        file: &str,
        text: &str,
        split: Option<cut::Split>,
        key_points: bool,
    ) -> Result<Election, DefinitionErrors> {
        let mut c = Collector { file, text, errors: Vec::new(), key_points };
        let (root, split) = match split.and_then(read_rest) {
            Some((root, split)) => (root, Some(split)),
            None => match tree::parse(text) {
                Ok(root) => (root, None),
                Err(e) => {
                    let span = e.span().unwrap_or(0..0);
                    c.at(span, format!("not valid TOML: {}", e.message().trim_end_matches('\n')));
                    return Err(DefinitionErrors(c.errors));
                }
            },
        };
        let election = build(&mut c, &root, split.as_ref());
        if c.errors.is_empty() {
            if let Some(election) = election {
                return Ok(election);
            }
            c.at(0..0, "the definition could not be read");
        }
        let mut errors = c.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        Err(DefinitionErrors(errors))
    }
}

/// The file without its cut tables, read by `toml` and located in the whole file; `None` (read
/// the whole file instead) when it is not valid TOML or defines a cut array some other way too.
fn read_rest(split: cut::Split) -> Option<(Node, cut::Split)> {
    let mut root = tree::parse(&split.rest).ok()?;
    let Value::Table(entries) = &mut root.value else { return None };
    let defined_twice = entries.iter().any(|(key, _)| {
        cut::CUT
            .iter()
            .zip(&split.tables)
            .any(|(name, tables)| key.name == *name && !tables.is_empty())
    });
    if defined_twice {
        return None;
    }
    for (key, value) in entries.iter_mut() {
        key.span = split.span(key.span.clone());
        split.relocate(value);
    }
    Some((root, split))
}

/// An array of tables: in the tree, or cut out of the text by [`cut`] and located one at a time.
enum Tables<'n> {
    Tree(&'n [Node]),
    Cut(&'n str, &'n [Range<usize>]),
}

impl<'n> Tables<'n> {
    /// The array `key` of `t`, or the tables cut out for it.
    fn of(
        c: &mut Collector<'n>,
        t: &Table<'n>,
        key: &str,
        required: bool,
        split: Option<&'n cut::Split>,
    ) -> Tables<'n> {
        let which = cut::CUT.iter().position(|name| *name == key);
        match (split, which) {
            (Some(split), Some(which)) if !split.tables[which].is_empty() => {
                Tables::Cut(c.text, &split.tables[which])
            }
            _ => Tables::Tree(t.array(c, key, required)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Tables::Tree(nodes) => nodes.is_empty(),
            Tables::Cut(_, tables) => tables.is_empty(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&Node)) {
        match self {
            Tables::Tree(nodes) => nodes.iter().for_each(f),
            Tables::Cut(text, tables) => tables.iter().for_each(|t| f(&cut::node(text, t))),
        }
    }
}

fn check_id(c: &mut Collector, id: &At<String>, what: &str) {
    if !is_valid_id(&id.value) {
        c.at(
            id.span.clone(),
            format!(
                "{what} id {:?} is not valid: use 1 to 64 of a-z, 0-9, '-', '_' and '.', starting \
                 with a letter or digit",
                id.value
            ),
        );
    }
}

/// Ids seen so far of one kind, reporting duplicates.
struct Ids {
    what: &'static str,
    seen: HashMap<String, usize>,
}

impl Ids {
    fn new(what: &'static str) -> Ids {
        Ids { what, seen: HashMap::new() }
    }

    /// Checks and records an id; `false` if it is invalid or a duplicate.
    fn add(&mut self, c: &mut Collector, id: &At<String>, index: usize) -> bool {
        check_id(c, id, self.what);
        if self.seen.contains_key(&id.value) {
            c.at(id.span.clone(), format!("duplicate {} id {:?}", self.what, id.value));
            return false;
        }
        self.seen.insert(id.value.clone(), index);
        is_valid_id(&id.value)
    }
}

const ELECTION_KEYS: &[&str] = &[
    "id",
    "name",
    "date",
    "tie_seed",
    "log_origin",
    "rules",
    "regions",
    "districts",
    "stations",
    "forms",
    "contests",
    "keys",
];
const RULES_KEYS: &[&str] =
    &["ballots_over_registered", "turnout_warning", "machine_manual_tolerance"];
const REGION_KEYS: &[&str] = &["id", "name", "abroad"];
const DISTRICT_KEYS: &[&str] = &["id", "name", "region"];
const STATION_KEYS: &[&str] = &["id", "name", "district", "region", "registered", "abroad"];
const FORM_KEYS: &[&str] =
    &["id", "lines", "registered", "valid", "invalid", "took_part", "relations"];
const LINE_KEYS: &[&str] = &["id", "name"];
const CONTEST_KEYS: &[&str] = &[
    "id",
    "kind",
    "name",
    "form",
    "against_all",
    "seats",
    "method",
    "threshold",
    "regional_threshold",
    "women_min_share",
    "parties",
    "district",
    "candidates",
    "fails_if_against_all_leads",
];
const PARTY_LIST_ONLY: &[&str] =
    &["seats", "method", "threshold", "regional_threshold", "women_min_share", "parties"];
const SINGLE_MEMBER_ONLY: &[&str] = &["district", "candidates", "fails_if_against_all_leads"];
const THRESHOLD_KEYS: &[&str] = &["share", "base"];
const REGIONAL_THRESHOLD_KEYS: &[&str] = &["share", "base", "regions"];
const PARTY_KEYS: &[&str] = &["id", "ballot_number", "name", "candidates", "color"];
const LIST_CANDIDATE_KEYS: &[&str] = &["id", "name", "position", "sex"];
const DISTRICT_CANDIDATE_KEYS: &[&str] = &["id", "name", "position", "sex", "party"];
const KEY_KEYS: &[&str] = &["id", "role", "public_key", "station", "district"];

/// The largest count a protocol or a register may hold: 2^53 − 1, exact in every JSON reader.
const MAX_COUNT: i64 = (1 << 53) - 1;

const METHODS: &[(&str, Method)] = &[
    ("hare", Method::Hare),
    ("droop", Method::Droop),
    ("dhondt", Method::Dhondt),
    ("sainte-lague", Method::SainteLague),
];
const BASES: &[(&str, ThresholdBase)] = &[
    ("took_part", ThresholdBase::TookPart),
    ("valid", ThresholdBase::Valid),
    ("registered", ThresholdBase::Registered),
];
const SEXES: &[(&str, Sex)] = &[("female", Sex::Female), ("male", Sex::Male)];
const ROLES: &[(&str, Role)] = &[
    ("machine", Role::Machine),
    ("operator", Role::Operator),
    ("observer", Role::Observer),
    ("admin", Role::Admin),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    PartyList,
    SingleMember,
}
const KINDS: &[(&str, Kind)] =
    &[("party_list", Kind::PartyList), ("single_member", Kind::SingleMember)];

/// The geography read so far, for the checks of what refers to it.
struct Geography {
    regions: Vec<Region>,
    region_idx: HashMap<String, usize>,
    districts: Vec<District>,
    district_idx: HashMap<String, usize>,
    stations: Vec<Station>,
    station_idx: IdIndex,
}

impl Geography {
    fn region(&self, id: &str) -> Option<&Region> {
        self.region_idx.get(id).map(|&i| &self.regions[i])
    }

    fn station(&self, id: &str) -> Option<&Station> {
        let id_at = |i: u32| self.stations[i as usize].id.as_bytes();
        self.station_idx.get(id.as_bytes(), id_at).map(|i| &self.stations[i as usize])
    }
}

fn build<'n>(
    c: &mut Collector<'n>,
    root: &'n Node,
    split: Option<&'n cut::Split>,
) -> Option<Election> {
    let t = Table::open(c, root, "the election", ELECTION_KEYS)?;
    let id = t.string(c, "id", true);
    if let Some(id) = &id {
        check_id(c, id, "election");
    }
    let name = t.names(c, "name");
    let date = t.string(c, "date", true);
    if let Some(date) = &date {
        if !is_iso_date(&date.value) {
            c.at(
                date.span.clone(),
                format!("date {:?} is not a date such as \"2021-11-28\"", date.value),
            );
        }
    }
    let tie_seed = t.string(c, "tie_seed", true);
    if let Some(seed) = &tie_seed {
        if seed.value.trim().is_empty() {
            c.at(seed.span.clone(), "tie_seed is empty: ties must be decided from a public seed");
        }
    }
    let log_origin = t.string(c, "log_origin", false);
    if let Some(origin) = &log_origin {
        if origin.value.is_empty() || origin.value.chars().any(char::is_whitespace) {
            c.at(
                origin.span.clone(),
                "log_origin must be one line with no spaces, e.g. \"cec.example/kg-2021\"",
            );
        }
    }
    let rules = build_rules(c, &t);
    let geo = build_geography(c, &t, split);
    let (forms, form_idx) = build_forms(c, &t);
    let (contests, contest_idx) = build_contests(c, &t, &geo, &forms, &form_idx);
    let key_tables = Tables::of(c, &t, "keys", false, split);
    let keys = build_keys(c, &key_tables, &geo);

    let id = id?.value;
    Some(Election {
        log_origin: log_origin.map(|o| o.value).unwrap_or_else(|| format!("sverka/{id}")),
        id,
        name,
        date: date?.value,
        tie_seed: tie_seed?.value,
        rules,
        regions: geo.regions,
        districts: geo.districts,
        stations: geo.stations,
        forms,
        contests,
        keys,
        region_idx: geo.region_idx,
        district_idx: geo.district_idx,
        station_idx: geo.station_idx,
        form_idx,
        contest_idx,
    })
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else { return false };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return false;
    }
    let (month, day): (u32, u32) = (month.parse().unwrap_or(0), day.parse().unwrap_or(0));
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn build_rules(c: &mut Collector, t: &Table) -> Rules {
    let mut rules = Rules {
        ballots_over_registered: 0,
        turnout_warning: Share { num: 95, den: 100 },
        machine_manual_tolerance: 0,
    };
    let Some(r) = t.table(c, "rules", false, RULES_KEYS) else { return rules };
    if let Some(n) = r.count(c, "ballots_over_registered", false, 0, MAX_COUNT) {
        rules.ballots_over_registered = n.value;
    }
    if let Some(share) = r.share(c, "turnout_warning", false, ShareRange::AboveZeroUpToOne) {
        rules.turnout_warning = share.value;
    }
    if let Some(n) = r.count(c, "machine_manual_tolerance", false, 0, MAX_COUNT) {
        rules.machine_manual_tolerance = n.value;
    }
    rules
}

fn build_geography<'n>(
    c: &mut Collector<'n>,
    t: &Table<'n>,
    split: Option<&'n cut::Split>,
) -> Geography {
    let mut geo = Geography {
        regions: Vec::new(),
        region_idx: HashMap::new(),
        districts: Vec::new(),
        district_idx: HashMap::new(),
        stations: Vec::new(),
        station_idx: IdIndex::default(),
    };
    let mut ids = Ids::new("region");
    for node in t.array(c, "regions", false) {
        let Some(r) = Table::open(c, node, "region", REGION_KEYS) else { continue };
        let id = r.string(c, "id", true);
        let name = r.names(c, "name");
        let abroad = r.boolean(c, "abroad").is_some_and(|a| a.value);
        if let Some(id) = id.filter(|id| ids.add(c, id, geo.regions.len())) {
            geo.regions.push(Region { id: id.value, name, abroad });
        }
    }
    geo.region_idx = ids.seen;

    let mut ids = Ids::new("district");
    for node in t.array(c, "districts", false) {
        let Some(d) = Table::open(c, node, "district", DISTRICT_KEYS) else { continue };
        let id = d.string(c, "id", true);
        let name = d.names(c, "name");
        let region = d.string(c, "region", true);
        if let Some(region) = &region {
            if !geo.region_idx.contains_key(&region.value) {
                c.at(region.span.clone(), format!("unknown region {:?}", region.value));
            }
        }
        if let (Some(id), Some(region)) = (id, region) {
            if ids.add(c, &id, geo.districts.len()) {
                geo.districts.push(District { id: id.value, name, region: region.value });
            }
        }
    }
    geo.district_idx = ids.seen;

    let station_tables = Tables::of(c, t, "stations", true, split);
    if station_tables.is_empty() {
        if let Some(span) = t.key_span("stations") {
            c.at(span, "the election has no polling stations");
        }
    }
    // Not `Ids`: a million stations' ids are indexed where they are, not copied into a map.
    station_tables.for_each(|node| {
        let Some((id, station)) = build_station(c, node, &geo) else { return };
        check_id(c, &id, "station");
        if geo.station(&id.value).is_some() {
            c.at(id.span.clone(), format!("duplicate station id {:?}", id.value));
            return;
        }
        let Ok(position) = u32::try_from(geo.stations.len()) else { return };
        if is_valid_id(&id.value) {
            geo.stations.push(station);
            let stations = &geo.stations;
            let added = geo.station_idx.insert(position, |i| stations[i as usize].id.as_bytes());
            debug_assert!(added.is_ok(), "checked above");
        }
    });
    geo
}

fn build_station(c: &mut Collector, node: &Node, geo: &Geography) -> Option<(At<String>, Station)> {
    let s = Table::open(c, node, "station", STATION_KEYS)?;
    let id = s.string(c, "id", true);
    let name = s.string(c, "name", true);
    let district_ref = s.string(c, "district", true);
    let district = district_ref.as_ref().and_then(|d| {
        let found = geo.district_idx.get(&d.value).map(|&i| &geo.districts[i]);
        if found.is_none() {
            c.at(d.span.clone(), format!("unknown district {:?}", d.value));
        }
        found
    });
    let region_id = district.map(|d| d.region.clone()).unwrap_or_default();
    if let (Some(written), Some(district)) = (s.string(c, "region", false), district) {
        if written.value != district.region {
            c.at(
                written.span,
                format!(
                    "{} says region {:?} but its district {:?} is in region {:?}",
                    s.what, written.value, district.id, district.region
                ),
            );
        }
    }
    let registered = s.count(c, "registered", true, 0, MAX_COUNT);
    let region_abroad = geo.region(&region_id).is_some_and(|r| r.abroad);
    let abroad = s.boolean(c, "abroad").map_or(region_abroad, |a| a.value);
    let station = Station {
        id: id.as_ref()?.value.clone(),
        name: name?.value,
        district: district?.id.clone(),
        region: region_id,
        registered: registered?.value,
        abroad,
    };
    Some((id?, station))
}

fn build_forms(c: &mut Collector, t: &Table) -> (Vec<Form>, HashMap<String, usize>) {
    let mut forms = Vec::new();
    let mut ids = Ids::new("form");
    for node in t.array(c, "forms", true) {
        if let Some((id, form)) = build_form(c, node) {
            if ids.add(c, &id, forms.len()) {
                forms.push(form);
            }
        }
    }
    (forms, ids.seen)
}

fn build_form(c: &mut Collector, node: &Node) -> Option<(At<String>, Form)> {
    let f = Table::open(c, node, "form", FORM_KEYS)?;
    let id = f.string(c, "id", true);
    let line_nodes = f.array(c, "lines", true);
    if line_nodes.is_empty() {
        if let Some(span) = f.key_span("lines") {
            c.at(span, format!("{} has no lines", f.what));
        }
    }
    let mut line_ids = Ids::new("form line");
    let mut lines = Vec::new();
    for node in line_nodes {
        let Some(l) = Table::open(c, node, "line", LINE_KEYS) else {
            continue;
        };
        let line_id = l.string(c, "id", true);
        let name = l.names(c, "name");
        if let Some(line_id) = line_id.filter(|i| line_ids.add(c, i, lines.len())) {
            lines.push(FormLine { id: line_id.value, name });
        }
    }
    let known = |c: &mut Collector, line: &str, span: &Range<usize>, what: &str| {
        if !line_ids.seen.contains_key(line) {
            c.at(span.clone(), format!("{what} names {line:?}, which is not a line of this form"));
        }
    };
    let named_line = |c: &mut Collector, key: &str| {
        let line = f.string(c, key, true)?;
        known(c, &line.value, &line.span, &format!("`{key}`"));
        Some(line.value)
    };
    let registered = named_line(c, "registered");
    let valid = named_line(c, "valid");
    let invalid = named_line(c, "invalid");
    let took_part = f.string(c, "took_part", true).and_then(|text| {
        match crate::form::LinearExpr::parse(&text.value) {
            Ok(expr) => {
                expr.lines().for_each(|line| known(c, line, &text.span, "`took_part`"));
                Some(expr)
            }
            Err(e) => {
                c.at(text.span, format!("`took_part`: {e}"));
                None
            }
        }
    });
    let mut relations = Vec::new();
    for node in f.array(c, "relations", false) {
        let Value::String(text) = &node.value else {
            c.at(
                node.span.clone(),
                format!("a relation must be a quoted string, not {}", node.value.kind()),
            );
            continue;
        };
        match Relation::parse(text) {
            Ok(relation) => {
                relation.lines().for_each(|line| known(c, line, &node.span, "relation"));
                relations.push(relation);
            }
            Err(e) => c.at(node.span.clone(), format!("relation: {e}")),
        }
    }
    let form = Form {
        id: id.as_ref()?.value.clone(),
        lines,
        registered: registered?,
        valid: valid?,
        invalid: invalid?,
        took_part: took_part?,
        relations,
    };
    Some((id?, form))
}

/// A contest as read, with where the parts that other checks refer to were written. The parts are
/// kept even when the contest itself has errors, so that the checks across contests do not report
/// follow-on errors (a candidate's party "unknown" because its list has a bad threshold).
struct ContestRead {
    contest: Option<Contest>,
    id: Option<At<String>>,
    kind: Option<Kind>,
    form: Option<At<String>>,
    /// The vote options and where each is defined (for "against all": the `against_all` flag).
    options: Vec<At<String>>,
    /// Parties named by single-member candidates.
    candidate_parties: Vec<At<String>>,
    /// The district of a single-member contest.
    district: Option<At<String>>,
}

fn build_contests(
    c: &mut Collector,
    t: &Table,
    geo: &Geography,
    forms: &[Form],
    form_idx: &HashMap<String, usize>,
) -> (Vec<Contest>, HashMap<String, usize>) {
    let nodes = t.array(c, "contests", true);
    if nodes.is_empty() {
        if let Some(span) = t.key_span("contests") {
            c.at(span, "the election has no contests");
        }
    }
    let read: Vec<ContestRead> = nodes.iter().filter_map(|n| build_contest(c, n, geo)).collect();
    let list_parties: BTreeSet<&str> = read
        .iter()
        .filter(|r| r.kind == Some(Kind::PartyList))
        .flat_map(|r| r.options.iter().map(|o| o.value.as_str()))
        .collect();
    let mut district_contests: HashMap<&str, &str> = HashMap::new();
    let districts_with_stations: BTreeSet<&str> =
        geo.stations.iter().filter(|s| !s.abroad).map(|s| s.district.as_str()).collect();
    for r in &read {
        let contest_id = r.id.as_ref().map_or("", |id| id.value.as_str());
        if let Some(form_ref) = &r.form {
            match form_idx.get(&form_ref.value).map(|&i| &forms[i]) {
                None => c.at(form_ref.span.clone(), format!("unknown form {:?}", form_ref.value)),
                Some(form) => check_contest_form(c, r, contest_id, form_ref, form),
            }
        }
        for party in &r.candidate_parties {
            if !list_parties.contains(party.value.as_str()) {
                c.at(
                    party.span.clone(),
                    format!("unknown party {:?}: no party_list contest has it", party.value),
                );
            }
        }
        if let Some(district) = &r.district {
            let has_stations = districts_with_stations.contains(district.value.as_str());
            check_contest_district(
                c,
                district,
                contest_id,
                geo,
                has_stations,
                &mut district_contests,
            );
        }
    }
    let mut ids = Ids::new("contest");
    let mut contests = Vec::new();
    for r in read {
        let (Some(id), Some(contest)) = (r.id, r.contest) else { continue };
        if ids.add(c, &id, contests.len()) {
            contests.push(contest);
        }
    }
    (contests, ids.seen)
}

/// One single-member contest per district, and a district that has stations in the country.
fn check_contest_district<'a>(
    c: &mut Collector,
    district: &'a At<String>,
    contest_id: &'a str,
    geo: &Geography,
    has_stations: bool,
    district_contests: &mut HashMap<&'a str, &'a str>,
) {
    if let Some(other) = district_contests.insert(&district.value, contest_id) {
        c.at(
            district.span.clone(),
            format!("district {:?} already has single-member contest {other:?}", district.value),
        );
    }
    let Some(&i) = geo.district_idx.get(&district.value) else { return };
    let abroad = geo.region(&geo.districts[i].region).is_some_and(|r| r.abroad);
    if !abroad && !has_stations {
        c.at(
            district.span.clone(),
            format!("district {:?} has no polling stations in the country", district.value),
        );
    }
}

/// A contest's votes are recorded beside its form's lines: the two must not share an id, and the
/// form must check the votes against its lines.
fn check_contest_form(
    c: &mut Collector,
    r: &ContestRead,
    contest_id: &str,
    form_ref: &At<String>,
    form: &Form,
) {
    for option in &r.options {
        if form.lines.iter().any(|l| l.id == option.value) {
            c.at(
                option.span.clone(),
                format!(
                    "vote option {:?} of contest {contest_id:?} has the id of a line of form {:?}; \
                     relations could not tell them apart",
                    option.value, form.id
                ),
            );
        }
    }
    if !form.relations.iter().any(Relation::uses_sum_options) {
        c.at(
            form_ref.span.clone(),
            format!(
                "form {:?} has no control relation over the votes, such as \"{} = sum(options)\"; \
                 the votes of contest {contest_id:?} would never be checked",
                form.id, form.valid
            ),
        );
    }
}

fn build_contest(c: &mut Collector, node: &Node, geo: &Geography) -> Option<ContestRead> {
    let t = Table::open(c, node, "contest", CONTEST_KEYS)?;
    let id = t.string(c, "id", true);
    let kind = t.word(c, "kind", true, KINDS).map(|k| k.value);
    let name = t.names(c, "name");
    let form = t.string(c, "form", true);
    let against_all = t.boolean(c, "against_all");
    let mut read = ContestRead {
        contest: None,
        id,
        kind,
        form,
        options: Vec::new(),
        candidate_parties: Vec::new(),
        district: None,
    };
    let contest_kind = match kind {
        None => None,
        Some(Kind::PartyList) => {
            only_for(c, &t, SINGLE_MEMBER_ONLY, "single_member");
            build_party_list(c, &t, geo, &mut read.options).map(ContestKind::PartyList)
        }
        Some(Kind::SingleMember) => {
            only_for(c, &t, PARTY_LIST_ONLY, "party_list");
            let parts = SingleMemberRead {
                against_all: against_all.as_ref(),
                options: &mut read.options,
                candidate_parties: &mut read.candidate_parties,
                district: &mut read.district,
            };
            build_single_member(c, &t, geo, parts).map(ContestKind::SingleMember)
        }
    };
    if let Some(flag) = against_all.as_ref().filter(|a| a.value) {
        read.options.push(At { span: flag.span.clone(), value: AGAINST_ALL.to_string() });
    }
    if let (Some(id), Some(form), Some(kind)) = (&read.id, &read.form, contest_kind) {
        read.contest = Some(Contest {
            id: id.value.clone(),
            name,
            form: form.value.clone(),
            against_all: against_all.is_some_and(|a| a.value),
            kind,
        });
    }
    Some(read)
}

/// Reports keys that belong to the other kind of contest.
fn only_for(c: &mut Collector, t: &Table, keys: &[&str], kind: &str) {
    for key in keys {
        if let Some(span) = t.key_span(key) {
            c.at(span, format!("`{key}` is only for {kind} contests, and {} is not one", t.what));
        }
    }
}

fn build_party_list(
    c: &mut Collector,
    t: &Table,
    geo: &Geography,
    options: &mut Vec<At<String>>,
) -> Option<PartyListContest> {
    let seats = t.count(c, "seats", true, 1, 100_000);
    let method = t.word(c, "method", true, METHODS);
    let threshold = match t.table(c, "threshold", false, THRESHOLD_KEYS) {
        None if t.get("threshold").is_none() => {
            Some(Threshold { share: Share { num: 0, den: 1 }, base: ThresholdBase::TookPart })
        }
        None => None,
        Some(th) => {
            let share = th.share(c, "share", true, ShareRange::BelowOne);
            let base = th.word(c, "base", true, BASES);
            share.zip(base).map(|(share, base)| Threshold { share: share.value, base: base.value })
        }
    };
    let regional_threshold = match t.table(c, "regional_threshold", false, REGIONAL_THRESHOLD_KEYS)
    {
        None => None,
        Some(th) => build_regional_threshold(c, &th, geo),
    };
    let women_min_share = t.share(c, "women_min_share", false, ShareRange::BelowOne);

    let party_nodes = t.array(c, "parties", true);
    if party_nodes.is_empty() {
        if let Some(span) = t.key_span("parties") {
            c.at(span, format!("{} has no parties", t.what));
        }
    }
    let mut party_ids = Ids::new("party");
    let mut candidate_ids = Ids::new("candidate");
    let mut ballot_numbers = BTreeSet::new();
    let mut parties = Vec::new();
    for node in party_nodes {
        let Some((id, party)) = build_party(c, node, &mut candidate_ids, &mut ballot_numbers)
        else {
            continue;
        };
        if id.value == AGAINST_ALL {
            c.at(id.span.clone(), "\"against_all\" is reserved for the against-all line");
        }
        if party_ids.add(c, &id, parties.len()) {
            options.push(id);
            parties.push(party);
        }
    }
    Some(PartyListContest {
        seats: seats?.value as u32,
        method: method?.value,
        threshold: threshold?,
        regional_threshold: match t.get("regional_threshold") {
            None => None,
            Some(_) => Some(regional_threshold?),
        },
        women_min_share: match t.get("women_min_share") {
            None => None,
            Some(_) => Some(women_min_share?.value),
        },
        parties,
    })
}

fn build_regional_threshold(
    c: &mut Collector,
    th: &Table,
    geo: &Geography,
) -> Option<RegionalThreshold> {
    let share = th.share(c, "share", true, ShareRange::BelowOne);
    let base = th.word(c, "base", true, BASES);
    let mut regions = Vec::new();
    for node in th.array(c, "regions", true) {
        let Value::String(region) = &node.value else {
            c.at(
                node.span.clone(),
                format!("a region id must be a quoted string, not {}", node.value.kind()),
            );
            continue;
        };
        if !geo.region_idx.contains_key(region) {
            c.at(node.span.clone(), format!("unknown region {region:?}"));
        } else if regions.contains(region) {
            c.at(node.span.clone(), format!("region {region:?} is listed twice"));
        }
        regions.push(region.clone());
    }
    if regions.is_empty() {
        if let Some(node) = th.get("regions") {
            c.at(
                node.span.clone(),
                "a regional threshold must list the regions it applies to; remove \
                 `regional_threshold` if there is none",
            );
        }
    }
    Some(RegionalThreshold { share: share?.value, base: base?.value, regions })
}

fn build_party(
    c: &mut Collector,
    node: &Node,
    candidate_ids: &mut Ids,
    ballot_numbers: &mut BTreeSet<u64>,
) -> Option<(At<String>, Party)> {
    let p = Table::open(c, node, "party", PARTY_KEYS)?;
    let id = p.string(c, "id", true);
    let ballot_number = p.count(c, "ballot_number", true, 1, i64::from(u32::MAX));
    if let Some(n) = &ballot_number {
        if !ballot_numbers.insert(n.value) {
            c.at(n.span.clone(), format!("duplicate ballot number {}", n.value));
        }
    }
    let name = p.names(c, "name");
    let color = p.string(c, "color", false).and_then(|color| {
        let hex = color.value.strip_prefix('#').unwrap_or("");
        if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(color.value.to_ascii_lowercase())
        } else {
            let message = format!(
                "`color` of {} is {:?}; write it as `#` and six hex digits, e.g. \"#1f77b4\"",
                p.what, color.value
            );
            c.at(color.span, message);
            None
        }
    });
    let mut positions = BTreeSet::new();
    let mut candidates = Vec::new();
    for node in p.array(c, "candidates", false) {
        let Some(k) = build_candidate(c, node, "candidate", LIST_CANDIDATE_KEYS, &mut positions)
        else {
            continue;
        };
        if candidate_ids.add(c, &k.0, candidates.len()) {
            candidates.push(Candidate { party: id.as_ref().map(|i| i.value.clone()), ..k.1 });
        }
    }
    let party = Party {
        id: id.as_ref()?.value.clone(),
        ballot_number: ballot_number?.value as u32,
        name,
        candidates,
        color,
    };
    Some((id?, party))
}

/// A candidate; `positions` are those already taken on the same list or ballot.
fn build_candidate(
    c: &mut Collector,
    node: &Node,
    kind: &str,
    allowed: &[&str],
    positions: &mut BTreeSet<u64>,
) -> Option<(At<String>, Candidate, Option<At<String>>)> {
    let k = Table::open(c, node, kind, allowed)?;
    let id = k.string(c, "id", true);
    if let Some(id) = &id {
        if id.value == AGAINST_ALL {
            c.at(id.span.clone(), "\"against_all\" is reserved for the against-all line");
        }
    }
    let name = k.string(c, "name", true);
    let position = k.count(c, "position", true, 1, i64::from(u32::MAX));
    if let Some(p) = &position {
        if !positions.insert(p.value) {
            c.at(
                p.span.clone(),
                format!("duplicate position {} on the same list or ballot", p.value),
            );
        }
    }
    let sex = k.word(c, "sex", true, SEXES);
    let party = k.string(c, "party", false);
    let candidate = Candidate {
        id: id.as_ref()?.value.clone(),
        name: name?.value,
        position: position?.value as u32,
        sex: sex?.value,
        party: party.as_ref().map(|p| p.value.clone()),
    };
    Some((id?, candidate, party))
}

/// What reading a single-member contest tells the checks across contests.
struct SingleMemberRead<'a> {
    against_all: Option<&'a At<bool>>,
    options: &'a mut Vec<At<String>>,
    candidate_parties: &'a mut Vec<At<String>>,
    district: &'a mut Option<At<String>>,
}

fn build_single_member(
    c: &mut Collector,
    t: &Table,
    geo: &Geography,
    read: SingleMemberRead,
) -> Option<SingleMemberContest> {
    let SingleMemberRead { against_all, options, candidate_parties, district: district_out } = read;
    let district = t.string(c, "district", true);
    district_out.clone_from(&district);
    if let Some(d) = &district {
        match geo.district_idx.get(&d.value).map(|&i| &geo.districts[i]) {
            None => c.at(d.span.clone(), format!("unknown district {:?}", d.value)),
            Some(found) => {
                if geo.region(&found.region).is_some_and(|r| r.abroad) {
                    c.at(
                        d.span.clone(),
                        format!(
                            "district {:?} is abroad (its region {:?} has abroad = true); \
                             single-member contests are held only in the country",
                            d.value, found.region
                        ),
                    );
                }
            }
        }
    }
    let nodes = t.array(c, "candidates", true);
    if nodes.is_empty() {
        if let Some(span) = t.key_span("candidates") {
            c.at(span, format!("{} has no candidates", t.what));
        }
    }
    let mut ids = Ids::new("candidate");
    let mut positions = BTreeSet::new();
    let mut candidates = Vec::new();
    for node in nodes {
        let Some((id, candidate, party)) =
            build_candidate(c, node, "candidate", DISTRICT_CANDIDATE_KEYS, &mut positions)
        else {
            continue;
        };
        candidate_parties.extend(party);
        if ids.add(c, &id, candidates.len()) {
            options.push(id);
            candidates.push(candidate);
        }
    }
    let against_all_on = against_all.is_some_and(|a| a.value);
    let fails = t.boolean(c, "fails_if_against_all_leads");
    if let Some(f) = fails.as_ref().filter(|f| f.value && !against_all_on) {
        c.at(
            f.span.clone(),
            format!(
                "{} has no \"against all\" line (against_all = true), so it cannot fail by it",
                t.what
            ),
        );
    }
    Some(SingleMemberContest {
        district: district?.value,
        candidates,
        fails_if_against_all_leads: fails.map_or(against_all_on, |f| f.value),
    })
}

fn build_keys(c: &mut Collector, tables: &Tables, geo: &Geography) -> Vec<KeyRecord> {
    // Ids and public keys are indexed where they are, in `keys`, not copied into maps.
    let mut keys: Vec<KeyRecord> = Vec::new();
    let (mut ids, mut public_keys) = (IdIndex::default(), IdIndex::default());
    tables.for_each(|node| {
        let Some(k) = Table::open(c, node, "key", KEY_KEYS) else { return };
        let id = k.string(c, "id", true);
        let role = k.word(c, "role", true, ROLES);
        let public_key = k.string(c, "public_key", true);
        let public_key_at = |i: u32| keys[i as usize].public_key.as_bytes();
        let mut public_key_ok = false;
        if let Some(pk) = &public_key {
            let usable = match c.key_points {
                true => crate::keys::decode_public_key(&pk.value).is_some(),
                false => crate::keys::decode_public_key_bytes(&pk.value).is_some(),
            };
            if !usable {
                c.at(
                    pk.span.clone(),
                    format!("`public_key` of {} is not base64 of a 32-byte Ed25519 key", k.what),
                );
            } else if let Some(other) = public_keys.get(pk.value.as_bytes(), public_key_at) {
                let other = &keys[other as usize].id;
                c.at(
                    pk.span.clone(),
                    format!("{} has the same public key as key {other:?}", k.what),
                );
            } else {
                public_key_ok = true;
            }
        }
        let station = k.string(c, "station", false);
        let district = k.string(c, "district", false);
        if let Some(role) = &role {
            check_key_binding(c, &k, role, station.as_ref(), district.as_ref(), geo);
        }
        let (Some(id), Some(role), Some(public_key)) = (id, role, public_key) else { return };
        check_id(c, &id, "key");
        let id_at = |i: u32| keys[i as usize].id.as_bytes();
        if ids.get(id.value.as_bytes(), id_at).is_some() {
            c.at(id.span.clone(), format!("duplicate key id {:?}", id.value));
            return;
        }
        let Ok(position) = u32::try_from(keys.len()) else { return };
        if !is_valid_id(&id.value) || !public_key_ok {
            return;
        }
        keys.push(KeyRecord {
            id: id.value,
            role: role.value,
            public_key: public_key.value,
            station: station.map(|s| s.value),
            district: district.map(|d| d.value),
        });
        let added = ids.insert(position, |i| keys[i as usize].id.as_bytes());
        let also = public_keys.insert(position, |i| keys[i as usize].public_key.as_bytes());
        debug_assert!(added.is_ok() && also.is_ok(), "checked above");
    });
    keys
}

/// A machine key belongs to a station, an operator key to a district, the others to neither.
fn check_key_binding(
    c: &mut Collector,
    k: &Table,
    role: &At<Role>,
    station: Option<&At<String>>,
    district: Option<&At<String>>,
    geo: &Geography,
) {
    let what = &k.what;
    let (wants_station, wants_district) = match role.value {
        Role::Machine => (true, false),
        Role::Operator => (false, true),
        Role::Observer | Role::Admin => (false, false),
    };
    let role_name = match role.value {
        Role::Machine => "a machine key: it belongs to a station",
        Role::Operator => "an operator key: it belongs to a district",
        Role::Observer => "an observer key: it belongs to no station or district",
        Role::Admin => "an admin key: it belongs to no station or district",
    };
    match (wants_station, station) {
        (true, None) => c.at(
            role.span.clone(),
            format!("{what} is a machine key and needs the `station` it belongs to"),
        ),
        (true, Some(s)) if geo.station(&s.value).is_none() => {
            c.at(s.span.clone(), format!("unknown station {:?}", s.value))
        }
        (false, Some(s)) => c.at(s.span.clone(), format!("{what} is {role_name}, not a station")),
        _ => {}
    }
    match (wants_district, district) {
        (true, None) => c.at(
            role.span.clone(),
            format!(
                "{what} is an operator key and needs the `district` whose commission it belongs to"
            ),
        ),
        (true, Some(d)) if !geo.district_idx.contains_key(&d.value) => {
            c.at(d.span.clone(), format!("unknown district {:?}", d.value))
        }
        (false, Some(d)) => c.at(d.span.clone(), format!("{what} is {role_name}, not a district")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    //! The cut reader against `toml`: the same located nodes where it reads a file, and no
    //! reading at all (so `toml` reads the whole file) where it cannot be sure.

    use proptest::prelude::*;

    use super::tree::{self, Node, Value};
    use super::{cut, read_rest, Election};

    /// The located tree of the whole file by `toml`, and the same assembled from the cut reader
    /// (the cut tables put back in as arrays), or `None` when the cut reader declines.
    fn both(text: &str) -> (Node, Option<Node>) {
        let whole = tree::parse(text).expect("test input is valid TOML");
        let Some((mut rest, split)) = cut::split(text).and_then(read_rest) else {
            return (whole, None);
        };
        let Value::Table(entries) = &mut rest.value else { panic!("root is a table") };
        for (name, tables) in cut::CUT.iter().zip(&split.tables) {
            if tables.is_empty() {
                continue;
            }
            let nodes: Vec<Node> = tables.iter().map(|t| cut::node(text, t)).collect();
            entries.push((
                tree::Key { span: 0..0, name: name.to_string() },
                Node { span: 0..0, value: Value::Array(nodes) },
            ));
        }
        (whole, Some(rest))
    }

    /// The root's members by name, without the spans of the arrays' own keys (an array of
    /// tables has no one place in the file) and in name order.
    fn members(root: Node) -> Vec<(String, Node)> {
        let Value::Table(entries) = root.value else { panic!("root is a table") };
        let mut members: Vec<(String, Node)> = entries
            .into_iter()
            .map(|(key, mut value)| {
                if matches!(value.value, Value::Array(_)) {
                    value.span = 0..0;
                }
                (key.name, value)
            })
            .collect();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members
    }

    fn assert_same(text: &str) {
        let (whole, cut) = both(text);
        let cut = cut.unwrap_or_else(|| panic!("the cut reader declined:\n{text}"));
        assert_eq!(members(whole), members(cut), "{text}");
    }

    fn declines(text: &str) -> bool {
        cut::split(text).and_then(read_rest).is_none()
    }

    const HEAD: &str = "id = \"e\"\ndate = \"2021-11-28\"\n[rules]\nballots_over_registered = 1\n";

    #[test]
    fn reads_the_examples_as_toml_does() {
        for file in
            ["../../examples/kyrgyzstan-2021/election.toml", "../../examples/tiny/election.toml"]
        {
            let text = std::fs::read_to_string(file).unwrap();
            assert_same(&text);
        }
    }

    #[test]
    fn reads_comments_escapes_indents_and_crlf_as_toml_does() {
        let text = format!(
            "{HEAD}[[stations]] # first\n  id = \"1\"   # the id\nname = \"a \\\"b\\\" \\u00e9\\U0001F600 \\t\\\\\"\r\n\n\
             # a comment\n\tregistered = -0\nabroad = true\n[[keys]]\nid=\"k\"\nrole = \"machine\"\n\
             [forms.x]\na = [\n  1,\n  2, # ]\n]\n  [[stations]]\nid = \"2\"\nregistered = 9223372036854775807\n\
             abroad = false"
        );
        assert_same(&text);
    }

    #[test]
    fn declines_what_it_cannot_read_exactly() {
        let cases = [
            "[[stations]]\nid = 'literal'\n",
            "[[stations]]\nid = \"1\"\nregistered = 1.5\n",
            "[[stations]]\nid = \"1\"\nregistered = 1_000\n",
            "[[stations]]\nid = \"1\"\nregistered = 0x10\n",
            "[[stations]]\nid = \"1\"\nregistered = 01\n",
            "[[stations]]\nname.ky = \"x\"\n",
            "[[stations]]\n\"id\" = \"1\"\n",
            "[[stations]]\nname = { ky = \"x\" }\n",
            "[[stations]]\nid = \"1\"\nid = \"2\"\n",
            "[[stations]]\nid = \"a\\zb\"\n",
            "[[stations]]\nid = \"1\"\n[[ stations ]]\nid = \"2\"\n",
            "stations = []\n[[keys]]\nid = \"1\"\n[[stations]]\nid = \"2\"\n",
            "[[stations]]\nid = \"1\"\n[stations.x]\na = 1\n",
            "x = \"\"\"\n[[stations]]\nid = \"1\"\n\"\"\"\n",
            "x = [\n[[stations]]\nid = \"1\"\n[1]]\n",
            "[[stations]]\nid = \"1\" # bell \u{7}\n",
            "[[stations]]\nid = \"1\"\rregistered = 2\n",
            "id = \"no cut tables\"\n",
        ];
        for text in cases {
            assert!(declines(text), "{text}");
        }
    }

    #[test]
    fn a_definition_gets_the_same_messages_either_way() {
        let text = std::fs::read_to_string("../../examples/tiny/election.toml").unwrap();
        let broken = text
            .replacen("registered = ", "registered = -", 1)
            .replacen("district = \"d1\"", "district = \"d9\"\nregion = \"abroad\"\nfoo = 1", 1)
            + "\n[[keys]]\nid = \"k\"\nrole = \"machine\"\npublic_key = \"AAAA\"\nstation = \"nope\"\n";
        let cut = Election::from_toml("e.toml", &broken).unwrap_err();
        let whole = super::Election::from_toml_whole("e.toml", &broken).unwrap_err();
        assert!(cut.0.len() >= 4, "{cut}");
        assert_eq!(cut, whole);
    }

    fn value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\"([ -~]|[\\\\][btnfr\"\\\\]|[\\\\]u00[0-7][0-9a-f]|é|ж|😀|\t){0,12}\"",
            "-?(0|[1-9][0-9]{0,18})",
            Just("true".to_string()),
            Just("false".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn reads_any_plain_tables_as_toml_does(
            tables in proptest::collection::vec(
                (any::<bool>(), proptest::collection::btree_map("[a-z_-]{1,8}", value_text(), 0..6),
                 "( |\t){0,2}", "( # [ -~]{0,5})?"),
                1..6,
            )
        ) {
            let mut text = String::from(HEAD);
            for (station, fields, indent, comment) in &tables {
                let name = if *station { "stations" } else { "keys" };
                text.push_str(&format!("{indent}[[{name}]]{comment}\n"));
                for (key, value) in fields {
                    text.push_str(&format!("{indent}{key} = {value}{comment}\n"));
                }
            }
            // Some generated strings are not valid TOML (an integer past i64); `toml` and the
            // cut reader must agree on those too: both refuse. A file with `"""` or `'''`
            // anywhere (a comment may hold one) is left to `toml` whole: a multi-line string
            // could hide a header line.
            let triple = text.contains("\"\"\"") || text.contains("'''");
            match tree::parse(&text) {
                Ok(_) if triple => prop_assert!(declines(&text)),
                Ok(_) => assert_same(&text),
                Err(_) => prop_assert!(declines(&text)),
            }
        }
    }

    #[test]
    fn the_id_index_finds_every_id_and_refuses_a_second_one() {
        let ids: Vec<String> = (0..10_000).map(|n| format!("{:04}-{:03}", n / 7, n % 7)).collect();
        let id_at = |i: u32| ids[i as usize].as_bytes();
        let mut index = super::IdIndex::default();
        for position in 0..ids.len() as u32 {
            assert_eq!(index.insert(position, id_at), Ok(()));
        }
        for (position, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id.as_bytes(), id_at), Some(position as u32));
        }
        assert_eq!(index.get(b"9999-999", id_at), None);
        assert_eq!(index.get(b"", id_at), None);
        let again: Vec<String> = vec![ids[0].clone(), ids[4321].clone()];
        let again_at = |i: u32| {
            if i < 10_000 {
                ids[i as usize].as_bytes()
            } else {
                again[(i - 10_000) as usize].as_bytes()
            }
        };
        assert_eq!(index.insert(10_001, again_at), Err(4321));
        // Made for as many ids, the index never grows, is as large as the one that grew, and
        // finds and refuses the same.
        let mut sized = super::IdIndex::with_capacity(ids.len());
        let slots = sized.slots.len();
        for position in 0..ids.len() as u32 {
            assert_eq!(sized.insert(position, id_at), Ok(()));
        }
        assert_eq!((sized.slots.len(), sized.len), (slots, ids.len()), "grew");
        assert_eq!(slots, index.slots.len());
        for (position, id) in ids.iter().enumerate() {
            assert_eq!(sized.get(id.as_bytes(), id_at), Some(position as u32));
        }
        assert_eq!(sized.insert(10_000, again_at), Err(0));
        assert_eq!(sized.get(b"9999-999", id_at), None);
    }

    /// [`Election::coverage`] lists, for every station, exactly the contests whose `covers` is
    /// true, in order: a station abroad (party lists only), stations at home in every district,
    /// and a station whose district is not in the definition (its list made apart).
    #[test]
    fn coverage_is_covers_by_position() {
        for file in
            ["../../examples/kyrgyzstan-2021/election.toml", "../../examples/tiny/election.toml"]
        {
            let text = std::fs::read_to_string(file).unwrap();
            let mut election = Election::from_toml(file, &text).unwrap();
            let mut stray = election.stations[0].clone();
            stray.abroad = false;
            stray.district = "no-such-district".to_string();
            election.stations.push(stray);
            assert!(election.stations.iter().any(|s| s.abroad), "{file} has a station abroad");
            let coverage = election.coverage();
            let mut single_member = 0;
            for (s, station) in election.stations.iter().enumerate() {
                let expected: Vec<u32> = (0..election.contests.len() as u32)
                    .filter(|&c| election.contests[c as usize].covers(station))
                    .collect();
                assert_eq!(coverage.of(s), expected.as_slice(), "{file}: station {}", station.id);
                single_member += expected
                    .iter()
                    .filter(|&&c| {
                        matches!(
                            election.contests[c as usize].kind,
                            super::ContestKind::SingleMember(_)
                        )
                    })
                    .count();
            }
            assert!(single_member > 0, "{file}: some station votes in a single-member contest");
            assert!(coverage.of(election.stations.len() - 1).len() < election.contests.len());
        }
    }
}
