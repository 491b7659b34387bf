//! The election definition (`election.toml`): geography, contests, parties and candidates, the
//! protocol forms with their control relations, the electoral rules and the registered keys.
//!
//! [`Election::from_toml`] parses and validates a definition and reports *every* problem it finds,
//! each with the file, line and column it is about. The validated [`Election`] is read-only and indexed
//! for lookups by id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::form::Relation;
use crate::names::{is_valid_id, Names, Role};

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

/// A validated election definition.
#[derive(Clone, Debug)]
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
    station_idx: HashMap<String, usize>,
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
        self.station_idx.get(id).map(|&i| &self.stations[i])
    }
    /// The position of a station in [`Election::stations`].
    pub fn station_index(&self, id: &str) -> Option<usize> {
        self.station_idx.get(id).copied()
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
// The file as written

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElection {
    id: S<String>,
    name: Names,
    date: String,
    tie_seed: S<String>,
    #[serde(default)]
    log_origin: Option<S<String>>,
    #[serde(default)]
    rules: Option<RawRules>,
    #[serde(default)]
    regions: Vec<S<RawRegion>>,
    #[serde(default)]
    districts: Vec<S<RawDistrict>>,
    #[serde(default)]
    stations: Vec<S<RawStation>>,
    #[serde(default)]
    forms: Vec<S<RawForm>>,
    #[serde(default)]
    contests: Vec<S<RawContest>>,
    #[serde(default)]
    keys: Vec<S<KeyRecord>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    ballots_over_registered: Option<u64>,
    #[serde(default)]
    turnout_warning: Option<S<String>>,
    #[serde(default)]
    machine_manual_tolerance: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    id: S<String>,
    name: Names,
    #[serde(default)]
    abroad: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
    id: S<String>,
    name: Names,
    region: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    id: S<String>,
    name: String,
    district: S<String>,
    #[serde(default)]
    region: Option<S<String>>,
    registered: S<i64>,
    #[serde(default)]
    abroad: Option<S<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    id: S<String>,
    lines: Vec<S<RawLine>>,
    registered: S<String>,
    valid: S<String>,
    invalid: S<String>,
    took_part: S<String>,
    #[serde(default)]
    relations: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: S<String>,
    name: Names,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContest {
    id: S<String>,
    kind: S<String>,
    name: Names,
    form: S<String>,
    #[serde(default)]
    against_all: bool,
    // party_list
    #[serde(default)]
    seats: Option<S<i64>>,
    #[serde(default)]
    method: Option<S<Method>>,
    #[serde(default)]
    threshold: Option<S<RawThreshold>>,
    #[serde(default)]
    regional_threshold: Option<S<RawRegionalThreshold>>,
    #[serde(default)]
    women_min_share: Option<S<String>>,
    #[serde(default)]
    parties: Vec<S<RawParty>>,
    // single_member
    #[serde(default)]
    district: Option<S<String>>,
    #[serde(default)]
    candidates: Vec<S<RawCandidate>>,
    #[serde(default)]
    fails_if_against_all_leads: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    share: S<String>,
    base: ThresholdBase,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegionalThreshold {
    share: S<String>,
    base: ThresholdBase,
    regions: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    id: S<String>,
    ballot_number: S<u32>,
    name: Names,
    #[serde(default)]
    candidates: Vec<S<RawCandidate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    id: S<String>,
    name: String,
    position: S<u32>,
    sex: Sex,
    #[serde(default)]
    party: Option<S<String>>,
}

// ---------------------------------------------------------------------------------------------
// Validation

impl Election {
    /// Parses and validates a definition. `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Election, DefinitionErrors> {
        let mut c = Collector { file, text, errors: Vec::new() };
        let raw: RawElection = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                c.at(span, e.message().trim_end_matches('\n').to_string());
                return Err(DefinitionErrors(c.errors));
            }
        };
        let election = build(&mut c, raw);
        if c.errors.is_empty() {
            Ok(election)
        } else {
            Err(DefinitionErrors(c.errors))
        }
    }
}

fn check_id(c: &mut Collector, id: &S<String>, what: &str) {
    if !is_valid_id(id.get_ref()) {
        c.at(
            id.span(),
            format!(
                "{what} id {:?} is not valid: use 1 to 64 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit",
                id.get_ref()
            ),
        );
    }
}

/// Records an id, reporting a duplicate; returns its index map.
fn index_ids<'a>(
    c: &mut Collector,
    ids: impl Iterator<Item = &'a S<String>>,
    what: &str,
) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for (i, id) in ids.enumerate() {
        check_id(c, id, what);
        if map.insert(id.get_ref().clone(), i).is_some() {
            c.at(id.span(), format!("duplicate {what} id {:?}", id.get_ref()));
        }
    }
    map
}

fn parse_share(c: &mut Collector, text: &S<String>, what: &str) -> Share {
    match Share::parse(text.get_ref()) {
        Some(share) if share.num < share.den => share,
        Some(_) => {
            c.at(text.span(), format!("{what} {:?} is outside [0, 1)", text.get_ref()));
            Share { num: 0, den: 1 }
        }
        None => {
            c.at(
                text.span(),
                format!("{what} {:?} is not a decimal such as \"0.05\"", text.get_ref()),
            );
            Share { num: 0, den: 1 }
        }
    }
}

fn build(c: &mut Collector, raw: RawElection) -> Election {
    check_id(c, &raw.id, "election");
    let region_idx = index_ids(c, raw.regions.iter().map(|r| &r.get_ref().id), "region");
    let district_idx = index_ids(c, raw.districts.iter().map(|d| &d.get_ref().id), "district");
    let station_idx = index_ids(c, raw.stations.iter().map(|s| &s.get_ref().id), "station");
    let form_idx = index_ids(c, raw.forms.iter().map(|f| &f.get_ref().id), "form");
    let contest_idx = index_ids(c, raw.contests.iter().map(|k| &k.get_ref().id), "contest");

    if raw.stations.is_empty() {
        c.at(0..0, "the election has no polling stations");
    }
    if raw.contests.is_empty() {
        c.at(0..0, "the election has no contests");
    }
    if raw.tie_seed.get_ref().trim().is_empty() {
        c.at(raw.tie_seed.span(), "tie_seed is empty: ties must be decided from a public seed");
    }

    let regions: Vec<Region> = raw
        .regions
        .into_iter()
        .map(|r| {
            let r = r.into_inner();
            Region { id: r.id.into_inner(), name: r.name, abroad: r.abroad }
        })
        .collect();

    let districts: Vec<District> = raw
        .districts
        .into_iter()
        .map(|d| {
            let d = d.into_inner();
            if !region_idx.contains_key(d.region.get_ref()) {
                c.at(d.region.span(), format!("unknown region {:?}", d.region.get_ref()));
            }
            District { id: d.id.into_inner(), name: d.name, region: d.region.into_inner() }
        })
        .collect();

    let stations =
        build_stations(c, raw.stations, &regions, &region_idx, &districts, &district_idx);
    let forms: Vec<Form> = raw.forms.into_iter().map(|f| build_form(c, f.into_inner())).collect();
    let contests: Vec<Contest> = raw
        .contests
        .into_iter()
        .map(|k| build_contest(c, k, &form_idx, &district_idx, &region_idx))
        .collect();
    let keys = build_keys(c, raw.keys, &station_idx, &district_idx);

    let rules = match raw.rules {
        None => Rules {
            ballots_over_registered: 0,
            turnout_warning: Share { num: 95, den: 100 },
            machine_manual_tolerance: 0,
        },
        Some(r) => Rules {
            ballots_over_registered: r.ballots_over_registered.unwrap_or(0),
            turnout_warning: r
                .turnout_warning
                .map(|t| parse_share(c, &t, "turnout_warning"))
                .unwrap_or(Share { num: 95, den: 100 }),
            machine_manual_tolerance: r.machine_manual_tolerance.unwrap_or(0),
        },
    };

    let id = raw.id.into_inner();
    let log_origin = match raw.log_origin {
        Some(origin) => {
            let text = origin.get_ref();
            if text.is_empty() || text.contains('\n') || text.chars().any(char::is_whitespace) {
                c.at(
                    origin.span(),
                    "log_origin must be one line with no spaces, e.g. \"cec.example/kg-2021\"",
                );
            }
            origin.into_inner()
        }
        None => format!("sverka/{id}"),
    };

    Election {
        id,
        name: raw.name,
        date: raw.date,
        tie_seed: raw.tie_seed.into_inner(),
        log_origin,
        rules,
        regions,
        districts,
        stations,
        forms,
        contests,
        keys,
        region_idx,
        district_idx,
        station_idx,
        form_idx,
        contest_idx,
    }
}

fn build_stations(
    c: &mut Collector,
    raw: Vec<S<RawStation>>,
    regions: &[Region],
    region_idx: &HashMap<String, usize>,
    districts: &[District],
    district_idx: &HashMap<String, usize>,
) -> Vec<Station> {
    raw.into_iter()
        .map(|s| {
            let s = s.into_inner();
            let district = district_idx.get(s.district.get_ref()).map(|&i| &districts[i]);
            if district.is_none() {
                c.at(s.district.span(), format!("unknown district {:?}", s.district.get_ref()));
            }
            let region_id = district.map(|d| d.region.clone()).unwrap_or_default();
            if let Some(written) = &s.region {
                if district.is_some() && written.get_ref() != &region_id {
                    c.at(
                        written.span(),
                        format!(
                            "station {:?} says region {:?} but its district {:?} is in region {:?}",
                            s.id.get_ref(),
                            written.get_ref(),
                            s.district.get_ref(),
                            region_id
                        ),
                    );
                }
            }
            let region_abroad =
                region_idx.get(&region_id).map(|&i| regions[i].abroad).unwrap_or(false);
            let registered = *s.registered.get_ref();
            if registered < 0 {
                c.at(s.registered.span(), format!("registered voters {registered} is negative"));
            }
            Station {
                id: s.id.into_inner(),
                name: s.name,
                district: s.district.into_inner(),
                region: region_id,
                registered: registered.max(0) as u64,
                abroad: s.abroad.map(Spanned::into_inner).unwrap_or(region_abroad),
            }
        })
        .collect()
}

fn build_form(c: &mut Collector, f: RawForm) -> Form {
    let line_ids = index_ids(c, f.lines.iter().map(|l| &l.get_ref().id), "form line");
    let known_line = |c: &mut Collector, id: &S<String>, what: &str| {
        if !line_ids.contains_key(id.get_ref()) {
            c.at(id.span(), format!("{what} names unknown form line {:?}", id.get_ref()));
        }
    };
    known_line(c, &f.registered, "registered");
    known_line(c, &f.valid, "valid");
    known_line(c, &f.invalid, "invalid");
    let took_part = match crate::form::LinearExpr::parse(f.took_part.get_ref()) {
        Ok(expr) => {
            for line in expr.lines() {
                if !line_ids.contains_key(line) {
                    c.at(f.took_part.span(), format!("took_part names unknown form line {line:?}"));
                }
            }
            expr
        }
        Err(e) => {
            c.at(f.took_part.span(), format!("took_part: {e}"));
            crate::form::LinearExpr { terms: Vec::new() }
        }
    };
    let relations = f
        .relations
        .iter()
        .filter_map(|text| match Relation::parse(text.get_ref()) {
            Ok(relation) => {
                for line in relation.lines() {
                    if !line_ids.contains_key(line) {
                        c.at(text.span(), format!("relation names unknown form line {line:?}"));
                    }
                }
                Some(relation)
            }
            Err(e) => {
                c.at(text.span(), format!("relation: {e}"));
                None
            }
        })
        .collect();
    Form {
        id: f.id.into_inner(),
        lines: f
            .lines
            .into_iter()
            .map(|l| {
                let l = l.into_inner();
                FormLine { id: l.id.into_inner(), name: l.name }
            })
            .collect(),
        registered: f.registered.into_inner(),
        valid: f.valid.into_inner(),
        invalid: f.invalid.into_inner(),
        took_part,
        relations,
    }
}

fn build_candidates(c: &mut Collector, raw: Vec<S<RawCandidate>>, what: &str) -> Vec<Candidate> {
    index_ids(c, raw.iter().map(|k| &k.get_ref().id), "candidate");
    let mut positions = BTreeSet::new();
    raw.into_iter()
        .map(|k| {
            let k = k.into_inner();
            if !positions.insert(*k.position.get_ref()) {
                c.at(k.position.span(), format!("duplicate {what} {}", k.position.get_ref()));
            }
            Candidate {
                id: k.id.into_inner(),
                name: k.name,
                position: k.position.into_inner(),
                sex: k.sex,
                party: k.party.map(Spanned::into_inner),
            }
        })
        .collect()
}

fn build_contest(
    c: &mut Collector,
    k: S<RawContest>,
    form_idx: &HashMap<String, usize>,
    district_idx: &HashMap<String, usize>,
    region_idx: &HashMap<String, usize>,
) -> Contest {
    let span = k.span();
    let k = k.into_inner();
    if !form_idx.contains_key(k.form.get_ref()) {
        c.at(k.form.span(), format!("unknown form {:?}", k.form.get_ref()));
    }
    let kind = match k.kind.get_ref().as_str() {
        "party_list" => ContestKind::PartyList(build_party_list(c, &k, span, region_idx)),
        "single_member" => {
            let district = match &k.district {
                Some(d) => {
                    if !district_idx.contains_key(d.get_ref()) {
                        c.at(d.span(), format!("unknown district {:?}", d.get_ref()));
                    }
                    d.get_ref().clone()
                }
                None => {
                    c.at(span.clone(), "a single_member contest needs a district");
                    String::new()
                }
            };
            if k.candidates.is_empty() {
                c.at(span, "a single_member contest needs at least one candidate");
            }
            ContestKind::SingleMember(SingleMemberContest {
                district,
                candidates: build_candidates(c, k.candidates, "ballot number"),
                fails_if_against_all_leads: k.fails_if_against_all_leads.unwrap_or(k.against_all),
            })
        }
        other => {
            c.at(
                k.kind.span(),
                format!("unknown contest kind {other:?}: use \"party_list\" or \"single_member\""),
            );
            ContestKind::SingleMember(SingleMemberContest {
                district: String::new(),
                candidates: Vec::new(),
                fails_if_against_all_leads: false,
            })
        }
    };
    Contest {
        id: k.id.into_inner(),
        name: k.name,
        form: k.form.into_inner(),
        against_all: k.against_all,
        kind,
    }
}

fn build_party_list(
    c: &mut Collector,
    k: &RawContest,
    span: Range<usize>,
    region_idx: &HashMap<String, usize>,
) -> PartyListContest {
    let seats = match &k.seats {
        Some(s) if *s.get_ref() >= 1 && *s.get_ref() <= 100_000 => *s.get_ref() as u32,
        Some(s) => {
            c.at(s.span(), format!("seats {} must be between 1 and 100000", s.get_ref()));
            1
        }
        None => {
            c.at(span.clone(), "a party_list contest needs seats");
            1
        }
    };
    let method = match &k.method {
        Some(m) => *m.get_ref(),
        None => {
            c.at(
                span.clone(),
                "a party_list contest needs a method (hare, droop, dhondt, sainte-lague)",
            );
            Method::Hare
        }
    };
    let threshold = match &k.threshold {
        Some(t) => Threshold {
            share: parse_share(c, &t.get_ref().share, "threshold share"),
            base: t.get_ref().base,
        },
        None => Threshold { share: Share { num: 0, den: 1 }, base: ThresholdBase::TookPart },
    };
    let regional_threshold = k.regional_threshold.as_ref().map(|r| {
        let r = r.get_ref();
        for region in &r.regions {
            if !region_idx.contains_key(region.get_ref()) {
                c.at(region.span(), format!("unknown region {:?}", region.get_ref()));
            }
        }
        RegionalThreshold {
            share: parse_share(c, &r.share, "regional threshold share"),
            base: r.base,
            regions: r.regions.iter().map(|s| s.get_ref().clone()).collect(),
        }
    });
    let women_min_share = k.women_min_share.as_ref().map(|s| parse_share(c, s, "women_min_share"));
    if k.parties.is_empty() {
        c.at(span, "a party_list contest needs at least one party");
    }
    index_ids(c, k.parties.iter().map(|p| &p.get_ref().id), "party");
    let mut ballot_numbers = BTreeMap::new();
    let parties = k
        .parties
        .iter()
        .map(|p| {
            let p = p.get_ref();
            if ballot_numbers.insert(*p.ballot_number.get_ref(), ()).is_some() {
                c.at(
                    p.ballot_number.span(),
                    format!("duplicate ballot number {}", p.ballot_number.get_ref()),
                );
            }
            if p.id.get_ref() == AGAINST_ALL {
                c.at(p.id.span(), "\"against_all\" is reserved for the against-all line");
            }
            let candidates = p
                .candidates
                .iter()
                .map(|k| {
                    let k = k.get_ref();
                    Candidate {
                        id: k.id.get_ref().clone(),
                        name: k.name.clone(),
                        position: *k.position.get_ref(),
                        sex: k.sex,
                        party: Some(p.id.get_ref().clone()),
                    }
                })
                .collect();
            Party {
                id: p.id.get_ref().clone(),
                ballot_number: *p.ballot_number.get_ref(),
                name: p.name.clone(),
                candidates,
            }
        })
        .collect();
    PartyListContest { seats, method, threshold, regional_threshold, women_min_share, parties }
}

fn build_keys(
    c: &mut Collector,
    raw: Vec<S<KeyRecord>>,
    station_idx: &HashMap<String, usize>,
    district_idx: &HashMap<String, usize>,
) -> Vec<KeyRecord> {
    let mut seen = HashMap::new();
    raw.into_iter()
        .map(|k| {
            let span = k.span();
            let k = k.into_inner();
            if !is_valid_id(&k.id) {
                c.at(span.clone(), format!("key id {:?} is not valid", k.id));
            }
            if seen.insert(k.id.clone(), ()).is_some() {
                c.at(span.clone(), format!("duplicate key id {:?}", k.id));
            }
            if crate::keys::decode_public_key(&k.public_key).is_none() {
                c.at(span.clone(), format!("key {:?}: public_key is not base64 of 32 bytes", k.id));
            }
            match (k.role, &k.station, &k.district) {
                (Role::Machine, Some(s), None) if station_idx.contains_key(s) => {}
                (Role::Machine, Some(s), None) => {
                    c.at(span, format!("key {:?}: unknown station {s:?}", k.id))
                }
                (Role::Machine, _, _) => c.at(
                    span,
                    format!("key {:?}: a machine key needs a station and no district", k.id),
                ),
                (Role::Operator, None, Some(d)) if district_idx.contains_key(d) => {}
                (Role::Operator, None, Some(d)) => {
                    c.at(span, format!("key {:?}: unknown district {d:?}", k.id))
                }
                (Role::Operator, _, _) => c.at(
                    span,
                    format!("key {:?}: an operator key needs a district and no station", k.id),
                ),
                (Role::Observer | Role::Admin, None, None) => {}
                (_, _, _) => c.at(
                    span,
                    format!(
                        "key {:?}: observer and admin keys belong to no station or district",
                        k.id
                    ),
                ),
            }
            k
        })
        .collect()
}
