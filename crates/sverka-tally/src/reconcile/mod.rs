//! Reconciliation (issue 7, "сверка"): every source against every other at every station, line by
//! line of the form, and whether the differences together could change an outcome.
//!
//! # What is compared
//!
//! For each station and contest, the current protocol of every source the tally holds
//! ([`Tally::current_protocols`]): `machine`, `manual`, each `observer` copy (one per signing key)
//! and `recount`. Every pair of them is compared on every form line and every option's votes
//! (fields named `lines.<id>` and `votes.<option>`, as in `defects.json`); the derived "took part"
//! number is not a line of the form and is not compared (it is used for the threshold base below).
//! Preference votes are not compared. A line is classified as:
//!
//! - [`Class::Match`]: the same number;
//! - [`Class::WithinTolerance`]: differing by at most the tolerance ([`Config::tolerance`], by
//!   default the election's `rules.machine_manual_tolerance`, itself 0 when the election sets none);
//! - [`Class::Discrepancy`]: differing by more.
//!
//! A pair is as bad as its worst line. When exactly one of `machine` and `manual` has reported, the
//! pair `machine`–`manual` is [`Class::Missing`] (observer copies and recounts are optional, so their
//! absence is not "missing"). A station is as bad as its worst pair (`discrepancy` > `missing` >
//! `within_tolerance` > `match`); annulled stations are left out. The classification is symmetric:
//! comparing `a` with `b` gives the class of comparing `b` with `a`.
//!
//! # Could the discrepancies change an outcome?
//!
//! See [`worst`]: the model, the exact recomputation and the recount set.
//!
//! # Impact
//!
//! Each station with a discrepancy gets an exact [`Ratio`]: the largest share of an outcome's margin
//! that its spread alone could use up (`≥ 1`: the station alone could flip it). For a threshold
//! (national, and each region of a regional threshold the station is in), with share `n/d` in
//! lowest terms, the
//! party's votes `v` and base `B` in the preliminary view: a passing party's slack is
//! `d·v − n·B`; the station can take `d·(c − lo) + n·(hi_B − c_B)` of it and flips it alone iff
//! that exceeds the slack, so the ratio is `push / (slack + 1)`; a failing party's deficit is
//! `n·B − d·v` and the ratio `(d·(hi − c) + n·(c_B − lo_B)) / deficit`. For the last seat (the
//! allocation's [`SeatMargin`]) it is the votes the station could move from the last seat's party
//! to the runner-up over the votes that seat is won by, with the quota held fixed: a first-order
//! estimate that ranks stations; the yes/no answer never uses it. For a single-member race, the
//! votes it could move from the winner to the best-placed other option over the winner's lead.
//! Stations are ranked by impact, then by spread, then by id.

pub mod export;
#[cfg(test)]
mod tests;
pub mod worst;

use std::collections::BTreeMap;

use sverka_model::election::{Election, ThresholdBase};
use sverka_model::{ContestKind, Source};

use crate::seats::{Ratio, SeatMargin};
use crate::tabulate::{
    ContestResults, Level, LevelTotals, Outcome, Results, StationCounts, StationResult, Tally, View,
};

pub use worst::{Answer, OutcomeQuestion, SeatRisk, ThresholdRisk};

/// The view whose counted numbers the reconciliation takes as "as counted": recount, else manual,
/// else machine (once every station has its hand count this is the official view).
pub const VIEW: View = View::Preliminary;

/// How to reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest difference on one line that still counts as the same count.
    pub tolerance: u64,
}

impl Config {
    /// The election's own tolerance (`rules.machine_manual_tolerance`, 0 when it sets none).
    pub fn for_election(election: &Election) -> Config {
        Config { tolerance: election.rules.machine_manual_tolerance }
    }
}

/// How two numbers, two protocols or a station compare, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Match,
    WithinTolerance,
    /// One of `machine` and `manual` has not reported.
    Missing,
    Discrepancy,
}

impl Class {
    /// `match`, `within_tolerance`, `missing`, `discrepancy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Match => "match",
            Class::WithinTolerance => "within_tolerance",
            Class::Missing => "missing",
            Class::Discrepancy => "discrepancy",
        }
    }

    /// The class of two numbers.
    pub fn of(a: u64, b: u64, tolerance: u64) -> Class {
        match a.abs_diff(b) {
            0 => Class::Match,
            d if d <= tolerance => Class::WithinTolerance,
            _ => Class::Discrepancy,
        }
    }
}

/// Who produced a protocol: the source, and the key of an observer copy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceRef {
    pub source: Source,
    /// The observer's key id (observer copies only).
    pub signer: Option<String>,
}

impl SourceRef {
    /// `machine`, `manual`, `recount`, or `observer:<key id>`.
    pub fn label(&self) -> String {
        match &self.signer {
            Some(signer) => format!("{}:{signer}", self.source.as_str()),
            None => self.source.as_str().to_string(),
        }
    }
}

/// One line that is not the same in two protocols.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineDiff {
    /// `lines.<form line>` or `votes.<option>`.
    pub field: String,
    pub a: u64,
    pub b: u64,
    /// [`Class::WithinTolerance`] or [`Class::Discrepancy`].
    pub class: Class,
}

/// Two sources of one station compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairComparison {
    pub a: SourceRef,
    pub b: SourceRef,
    /// The log index of each side's protocol (`None`: that side has not reported).
    pub a_entry: Option<u64>,
    pub b_entry: Option<u64>,
    pub class: Class,
    /// Lines compared that match.
    pub matched: u64,
    /// The lines that differ, in form order (lines, then votes).
    pub lines: Vec<LineDiff>,
}

/// One station in one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationReconciliation {
    pub station: String,
    pub district: String,
    pub region: String,
    /// Every current protocol: who and its log index.
    pub sources: Vec<(SourceRef, u64)>,
    /// The protocol counted in the preliminary view.
    pub counted: Option<(Source, u64)>,
    /// The counted protocol is a recount: its discrepancies are settled.
    pub settled: bool,
    pub class: Class,
    pub pairs: Vec<PairComparison>,
    /// Σ over options of the highest minus the lowest count any source gives.
    pub spread: u64,
    /// See the module documentation; zero without a discrepancy.
    pub impact: Ratio,
    /// What the impact is about: `threshold:<party>`, `threshold:<party>@<region>`, `seat`,
    /// `winner`, or empty.
    pub impact_on: String,
    /// The per-option range `(lo, counted, hi)` and that of took part and valid ballots, used by
    /// the worst case ([`worst`]).
    pub(crate) range: Option<StationRange>,
}

/// The box one station's true numbers are assumed to lie in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StationRange {
    /// Per option, in the contest's option order.
    pub votes: Vec<(u64, u64, u64)>,
    pub took_part: (u64, u64, u64),
    pub valid: (u64, u64, u64),
}

/// Station counts by class in one unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Stations of the contest in the unit (annulled ones excluded).
    pub stations: u64,
    /// Stations with no protocol yet.
    pub unreported: u64,
    pub matched: u64,
    pub within_tolerance: u64,
    pub missing: u64,
    pub discrepancy: u64,
    /// Of the stations with a discrepancy, those settled by a recount.
    pub settled: u64,
    /// Pairs and lines beyond tolerance.
    pub pairs_discrepant: u64,
    pub lines_discrepant: u64,
}

impl Totals {
    fn add(&mut self, station: &StationReconciliation) {
        self.stations += 1;
        if station.sources.is_empty() {
            self.unreported += 1;
            return;
        }
        match station.class {
            Class::Match => self.matched += 1,
            Class::WithinTolerance => self.within_tolerance += 1,
            Class::Missing => self.missing += 1,
            Class::Discrepancy => self.discrepancy += 1,
        }
        self.settled += u64::from(station.settled && station.class == Class::Discrepancy);
        for pair in station.pairs.iter().filter(|p| p.class == Class::Discrepancy) {
            self.pairs_discrepant += 1;
            self.lines_discrepant +=
                pair.lines.iter().filter(|l| l.class == Class::Discrepancy).count() as u64;
        }
    }
}

/// One contest reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContestReconciliation {
    pub contest: String,
    /// Nation, then regions, then districts, in the election's order.
    pub totals: Vec<(Level, Totals)>,
    /// Every station that is not a plain match (or unreported), ranked by impact.
    pub stations: Vec<StationReconciliation>,
    pub outcome: OutcomeQuestion,
}

/// Everything [`reconcile`] computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    pub election: String,
    pub tolerance: u64,
    pub contests: Vec<ContestReconciliation>,
}

impl Reconciliation {
    /// Whether any contest's outcome could change (`yes`), might (`possibly`), or cannot (`no`).
    pub fn answer(&self) -> Answer {
        self.contests.iter().map(|c| c.outcome.answer).max().unwrap_or(Answer::No)
    }
}

/// Reconciles every station of every contest of the tally.
///
/// # Panics
/// If `election` is not the election the tally was made for.
pub fn reconcile(election: &Election, tally: &Tally, config: &Config) -> Reconciliation {
    let results = tally.results(election);
    reconcile_results(election, tally, &results, config)
}

/// As [`reconcile`], with the results already computed (with stations listed).
pub fn reconcile_results(
    election: &Election,
    tally: &Tally,
    results: &Results,
    config: &Config,
) -> Reconciliation {
    let contests = election
        .contests
        .iter()
        .zip(&results.contests)
        .map(|(contest, contest_results)| {
            let copies = |s: &StationResult| tally.current_protocols(&s.station, &contest.id);
            reconcile_contest(election, contest, contest_results, copies, config)
        })
        .collect();
    Reconciliation { election: election.id.clone(), tolerance: config.tolerance, contests }
}

fn reconcile_contest(
    election: &Election,
    contest: &sverka_model::Contest,
    results: &ContestResults,
    copies: impl Fn(&StationResult) -> Vec<(Option<String>, StationCounts)>,
    config: &Config,
) -> ContestReconciliation {
    let view = results.view(VIEW);
    let margins = Margins::of(contest, &view.levels, &view.outcome);
    let mut stations: Vec<StationReconciliation> = results
        .stations
        .iter()
        .filter(|s| s.annulled_by.is_empty())
        .map(|s| {
            let mut station = compare_station(results, s, copies(s), config);
            if let Some(range) = &station.range {
                (station.impact, station.impact_on) = margins.impact(&station.region, range);
            }
            station
        })
        .collect();
    let totals = totals(election, &stations);
    stations.retain(|s| !s.sources.is_empty() && s.class != Class::Match);
    stations.sort_by(|a, b| {
        b.impact.cmp(&a.impact).then(b.spread.cmp(&a.spread)).then(a.station.cmp(&b.station))
    });
    let outcome = worst::question(election, contest, view, &stations);
    ContestReconciliation { contest: contest.id.clone(), totals, stations, outcome }
}

fn totals(election: &Election, stations: &[StationReconciliation]) -> Vec<(Level, Totals)> {
    let mut nation = Totals::default();
    let mut regions: BTreeMap<&str, Totals> = BTreeMap::new();
    let mut districts: BTreeMap<&str, Totals> = BTreeMap::new();
    for station in stations {
        nation.add(station);
        regions.entry(station.region.as_str()).or_default().add(station);
        districts.entry(station.district.as_str()).or_default().add(station);
    }
    let mut out = vec![(Level::Nation, nation)];
    for region in &election.regions {
        if let Some(t) = regions.remove(region.id.as_str()) {
            out.push((Level::Region(region.id.clone()), t));
        }
    }
    for district in &election.districts {
        if let Some(t) = districts.remove(district.id.as_str()) {
            out.push((Level::District(district.id.clone()), t));
        }
    }
    out
}

/// Compares every pair of one station's current protocols.
fn compare_station(
    results: &ContestResults,
    station: &StationResult,
    copies: Vec<(Option<String>, StationCounts)>,
    config: &Config,
) -> StationReconciliation {
    let mut copies: Vec<(SourceRef, StationCounts)> = copies
        .into_iter()
        .map(|(signer, counts)| (SourceRef { source: counts.source, signer }, counts))
        .collect();
    copies.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pairs = Vec::new();
    for (i, (a, ca)) in copies.iter().enumerate() {
        for (b, cb) in &copies[i + 1..] {
            pairs.push(compare_pair(results, (a, ca), (b, cb), config.tolerance));
        }
    }
    let has = |source| copies.iter().any(|(r, _)| r.source == source);
    if has(Source::Machine) != has(Source::Manual) {
        let entry = |source| copies.iter().find(|(r, _)| r.source == source).map(|(_, c)| c.index);
        pairs.push(PairComparison {
            a: SourceRef { source: Source::Machine, signer: None },
            b: SourceRef { source: Source::Manual, signer: None },
            a_entry: entry(Source::Machine),
            b_entry: entry(Source::Manual),
            class: Class::Missing,
            matched: 0,
            lines: Vec::new(),
        });
    }
    let class = pairs.iter().map(|p| p.class).max().unwrap_or(Class::Missing);
    let counted = station.preliminary.as_ref().map(|c| (c.source, c.index));
    let settled = counted.is_some_and(|(source, _)| source == Source::Recount);
    let discrepant = class == Class::Discrepancy;
    let range = (discrepant && !settled && station.preliminary.is_some())
        .then(|| station_range(&copies, station.preliminary.as_ref().unwrap_or(&copies[0].1)));
    let spread = spread(&copies);
    StationReconciliation {
        station: station.station.clone(),
        district: station.district.clone(),
        region: station.region.clone(),
        sources: copies.iter().map(|(r, c)| (r.clone(), c.index)).collect(),
        counted,
        settled,
        class,
        pairs,
        spread,
        impact: Ratio::from_integer(0),
        impact_on: String::new(),
        range,
    }
}

fn compare_pair(
    results: &ContestResults,
    (a, ca): (&SourceRef, &StationCounts),
    (b, cb): (&SourceRef, &StationCounts),
    tolerance: u64,
) -> PairComparison {
    let fields = results
        .lines
        .iter()
        .zip(ca.lines.iter().zip(&cb.lines))
        .map(|(id, (x, y))| (format!("lines.{id}"), *x, *y))
        .chain(
            results
                .options
                .iter()
                .zip(ca.votes.iter().zip(&cb.votes))
                .map(|(id, (x, y))| (format!("votes.{id}"), *x, *y)),
        );
    let mut matched = 0;
    let mut lines = Vec::new();
    for (field, x, y) in fields {
        match Class::of(x, y, tolerance) {
            Class::Match => matched += 1,
            class => lines.push(LineDiff { field, a: x, b: y, class }),
        }
    }
    PairComparison {
        a: a.clone(),
        b: b.clone(),
        a_entry: Some(ca.index),
        b_entry: Some(cb.index),
        class: lines.iter().map(|l| l.class).max().unwrap_or(Class::Match),
        matched,
        lines,
    }
}

fn spread(copies: &[(SourceRef, StationCounts)]) -> u64 {
    let Some((_, first)) = copies.first() else { return 0 };
    (0..first.votes.len())
        .map(|o| {
            let values = copies.iter().map(|(_, c)| c.votes[o]);
            values.clone().max().unwrap_or(0) - values.min().unwrap_or(0)
        })
        .sum()
}

fn station_range(copies: &[(SourceRef, StationCounts)], counted: &StationCounts) -> StationRange {
    let range = |get: &dyn Fn(&StationCounts) -> u64| {
        let values = copies.iter().map(|(_, c)| get(c));
        (values.clone().min().unwrap_or(0), get(counted), values.max().unwrap_or(0))
    };
    StationRange {
        votes: (0..counted.votes.len()).map(|o| range(&|c: &StationCounts| c.votes[o])).collect(),
        took_part: range(&|c: &StationCounts| c.took_part),
        valid: range(&|c: &StationCounts| c.valid),
    }
}

/// The margins a station's impact is measured against.
struct Margins {
    /// `(party option, region or None, passes, n, d, v, B, base kind)`.
    thresholds: Vec<ThresholdTest>,
    /// `(last, runner-up, votes needed)` as option indices.
    seat: Option<(usize, usize, u64)>,
    /// Single-member: `(winner option, lead)`.
    winner: Option<(usize, u64)>,
}

struct ThresholdTest {
    party: usize,
    party_id: String,
    region: Option<String>,
    passes: bool,
    num: u128,
    den: u128,
    votes: u128,
    base: u128,
    base_kind: ThresholdBase,
}

impl Margins {
    fn of(contest: &sverka_model::Contest, levels: &[LevelTotals], outcome: &Outcome) -> Margins {
        let mut margins = Margins { thresholds: Vec::new(), seat: None, winner: None };
        match (&contest.kind, outcome) {
            (ContestKind::PartyList(list), Outcome::PartyList(result)) => {
                if result.allocation.is_none() {
                    return margins;
                }
                let base_of = |t: &LevelTotals, kind| match kind {
                    ThresholdBase::TookPart => t.took_part,
                    ThresholdBase::Valid => t.valid,
                    ThresholdBase::Registered => t.registered_counted,
                };
                let mut add = |region: Option<String>, t: &LevelTotals, share: (u64, u64), kind| {
                    for (p, party) in list.parties.iter().enumerate() {
                        let (v, b) = (u128::from(t.votes[p]), u128::from(base_of(t, kind)));
                        let g = gcd(share.0, share.1).max(1);
                        let (n, d) = (u128::from(share.0 / g), u128::from(share.1 / g));
                        margins.thresholds.push(ThresholdTest {
                            party: p,
                            party_id: party.id.clone(),
                            region: region.clone(),
                            passes: v >= 1 && d * v >= n * b,
                            num: n,
                            den: d,
                            votes: v,
                            base: b,
                            base_kind: kind,
                        });
                    }
                };
                let share = (list.threshold.share.num, list.threshold.share.den);
                add(None, &levels[0], share, list.threshold.base);
                if let Some(regional) = &list.regional_threshold {
                    for id in &regional.regions {
                        let level = Level::Region(id.clone());
                        if let Some(t) = levels.iter().find(|l| l.level == level) {
                            let share = (regional.share.num, regional.share.den);
                            add(Some(id.clone()), t, share, regional.base);
                        }
                    }
                }
                margins.seat = seat_margin(list, result.allocation.as_ref());
            }
            (ContestKind::SingleMember(_), Outcome::SingleMember(result)) => {
                if let Some(crate::seats::DistrictOutcome::Elected { winner, lead, .. }) =
                    &result.outcome
                {
                    let options: Vec<&str> = contest.option_ids();
                    if let Some(w) = options.iter().position(|o| *o == winner.as_str()) {
                        margins.winner = Some((w, *lead));
                    }
                }
            }
            _ => {}
        }
        margins
    }

    /// The station's impact and what it is about.
    fn impact(&self, region: &str, range: &StationRange) -> (Ratio, String) {
        let mut best = (Ratio::from_integer(0), String::new());
        let mut consider = |ratio: Ratio, on: String| {
            if ratio > best.0 {
                best = (ratio, on);
            }
        };
        for t in &self.thresholds {
            if t.region.as_deref().is_some_and(|r| r != region) {
                continue;
            }
            let (lo, c, hi) = range.votes[t.party];
            let (b_lo, b_c, b_hi) = match t.base_kind {
                ThresholdBase::TookPart => range.took_part,
                ThresholdBase::Valid => range.valid,
                ThresholdBase::Registered => (0, 0, 0),
            };
            let wide = |x: u64| u128::from(x);
            let (push, needed) = if t.passes {
                let slack = t.den * t.votes - t.num * t.base;
                (t.den * wide(c - lo) + t.num * wide(b_hi - b_c), slack + 1)
            } else {
                let deficit = (t.num * t.base).saturating_sub(t.den * t.votes).max(1);
                (t.den * wide(hi - c) + t.num * wide(b_c - b_lo), deficit)
            };
            let on = match &t.region {
                Some(r) => format!("threshold:{}@{r}", t.party_id),
                None => format!("threshold:{}", t.party_id),
            };
            consider(Ratio::new(push, needed), on);
        }
        if let Some((last, runner, needed)) = self.seat {
            let push = (range.votes[last].1 - range.votes[last].0)
                + (range.votes[runner].2 - range.votes[runner].1);
            consider(Ratio::new(u128::from(push), u128::from(needed.max(1))), "seat".into());
        }
        if let Some((w, lead)) = self.winner {
            let gain = (0..range.votes.len())
                .filter(|&o| o != w)
                .map(|o| range.votes[o].2 - range.votes[o].1)
                .max()
                .unwrap_or(0);
            let push = range.votes[w].1 - range.votes[w].0 + gain;
            consider(Ratio::new(u128::from(push), u128::from(lead.max(1))), "winner".into());
        }
        best
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `(last seat's party, runner-up, votes the seat is won by)` as option indices.
fn seat_margin(
    list: &sverka_model::election::PartyListContest,
    allocation: Option<&crate::seats::Allocation>,
) -> Option<(usize, usize, u64)> {
    let position =
        |id: &crate::seats::PartyId| list.parties.iter().position(|p| p.id == id.as_str());
    match allocation?.seat_margin()? {
        SeatMargin::Divisor { last, runner_up, runner_up_needs, .. } => {
            Some((position(last)?, position(runner_up)?, *runner_up_needs))
        }
        SeatMargin::Remainder { last, runner_up, runner_up_needs_quota_fixed, .. } => Some((
            position(last)?,
            position(runner_up)?,
            u64::try_from(*runner_up_needs_quota_fixed).unwrap_or(u64::MAX),
        )),
    }
}
