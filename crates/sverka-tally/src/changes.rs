//! What changed between two checkpoints (issue 6, "What changed"): which stations came in (per
//! source), which protocols were corrected or annulled and why (reason, signer, time, entry
//! index), how the national shares moved, and **every decrease of a published total** with the
//! stations and entries that caused it.
//!
//! Pure: [`changes`] reads the results at the two checkpoints (computed with
//! [`ResultsConfig::stations`](crate::tabulate::ResultsConfig) so they list every station) and the
//! log entries between them, and nothing else. A published total only moves when a station's
//! counted protocol moves, so each decrease is explained station by station: the station's own
//! numbers before and after, and the entries of the range that touched it.
//!
//! # Format `sverka-changes/v1`
//!
//! [`changes_json`] writes RFC 8785 canonical JSON (members sorted, no spaces, integers only):
//!
//! ```text
//! {"format": "sverka-changes/v1", "election": "<id>",
//!  "from": {"size", "root"}, "to": {"size", "root"},              the two checkpoints (root: hex)
//!  "arrivals":    [{"index", "signer", "time", "station", "contest", "source"}],
//!  "corrections": [{"index", "signer", "time", "station", "contest", "source", "replaced",
//!                   "reason": "keying_error" | "recount" | "court_order" | "late_protocol"
//!                           | "commission_decision" | "implicit"}],
//!  "annulments":  [{"index", "signer", "time", "station", "contest" (null: every contest), "reason"}],
//!  "shares":      [{"contest", "view", "option", "before": SHARE, "after": SHARE}],
//!  "decreases":   [{"contest", "view", "level", "id", "total", "option", "before", "after",
//!                   "stations": [{"station", "before", "after",
//!                                 "causes": [{"index", "kind", "reason"}]}]}]}
//! SHARE = {"num", "den", "bp"}   as in sverka-snapshot/v1 (votes over the national threshold base)
//! ```
//!
//! - Every list is in log order (`index`); `time` is the submission's own time or `null`.
//! - `arrivals`: protocols of the range that replace nothing. `corrections`: protocols that replace
//!   an earlier one, named (`reason` from its `supersedes`) or not (`"implicit"`: a later protocol
//!   of the same source and signer). Entries the tally ignored appear in none of the lists.
//! - `shares`: every option of every party-list contest, both views, nation-wide.
//! - `decreases`: every (contest, view, level, total) whose value went down; `level` is
//!   `nation`, `abroad`, `region` or `district` (`id` null for the first two); `total` is
//!   `votes` (with `option`), `took_part`, `valid`, `invalid` or `stations_counted` (`option`
//!   null). `stations` lists the stations whose own number went down, each with the entries of the
//!   range that touched it: `kind` `arrival` (reason `"precedence"`: a source that outranks the
//!   one counted before, e.g. a hand count over the scanner's), `correction` (its reason) or
//!   `annulment` (its reason, free text).
//!
//! A change to any of this is a new format version.

use std::collections::HashMap;

use serde_json::{json, Value};
use sverka_model::canonical::{self, CanonicalError};
use sverka_model::names::CorrectionReason;
use sverka_model::{Body, Source, Submission};

use crate::snapshot::{hex, Checkpoint};
use crate::tabulate::{
    ContestResults, CorrectionKind, Level, LevelTotals, Outcome, Proportion, Results,
    StationCounts, StationResult, View,
};

/// The format name written in every changes document.
pub const FORMAT: &str = "sverka-changes/v1";

/// Which entry, who signed it, and when they said it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub index: u64,
    pub signer: String,
    pub time: Option<String>,
}

/// A protocol that came in and replaced nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub stamp: Stamp,
    pub station: String,
    pub contest: String,
    pub source: Source,
}

/// A protocol that replaced an earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrected {
    pub stamp: Stamp,
    pub station: String,
    pub contest: String,
    pub source: Source,
    /// The log index of the protocol it replaced.
    pub replaced: u64,
    /// The reason it gave; `None`: it did not name what it replaced (a later protocol of the same
    /// source and signer).
    pub reason: Option<CorrectionReason>,
}

/// An annulment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annulled {
    pub stamp: Stamp,
    pub station: String,
    /// `None`: every contest of the station.
    pub contest: Option<String>,
    pub reason: String,
}

/// How one option's national share moved in one view of a party-list contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareMove {
    pub contest: String,
    pub view: View,
    pub option: String,
    /// Votes over the national threshold base, before and after.
    pub before: Proportion,
    pub after: Proportion,
}

/// A published total of a level.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Total {
    /// The votes of one option.
    Votes(String),
    TookPart,
    Valid,
    Invalid,
    StationsCounted,
}

impl Total {
    /// `votes`, `took_part`, `valid`, `invalid`, `stations_counted`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Total::Votes(_) => "votes",
            Total::TookPart => "took_part",
            Total::Valid => "valid",
            Total::Invalid => "invalid",
            Total::StationsCounted => "stations_counted",
        }
    }

    fn of_level(&self, totals: &LevelTotals, options: &[String]) -> u64 {
        match self {
            Total::Votes(option) => options
                .iter()
                .position(|o| o == option)
                .and_then(|i| totals.votes.get(i).copied())
                .unwrap_or(0),
            Total::TookPart => totals.took_part,
            Total::Valid => totals.valid,
            Total::Invalid => totals.invalid,
            Total::StationsCounted => totals.stations_counted,
        }
    }

    /// The station's share of this total (0 when it is not counted in the view).
    fn of_station(&self, counts: Option<&StationCounts>, options: &[String]) -> u64 {
        let Some(counts) = counts else { return 0 };
        match self {
            Total::Votes(option) => options
                .iter()
                .position(|o| o == option)
                .and_then(|i| counts.votes.get(i).copied())
                .unwrap_or(0),
            Total::TookPart => counts.took_part,
            Total::Valid => counts.valid,
            Total::Invalid => counts.invalid,
            Total::StationsCounted => 1,
        }
    }
}

/// What kind of entry touched a station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CauseKind {
    /// A protocol that replaced nothing (it can still outrank the source counted before).
    Arrival,
    /// A correction, with its reason (`None`: implicit).
    Correction(Option<CorrectionReason>),
    /// An annulment, with its reason.
    Annulment(String),
}

/// One entry of the range that touched a station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub index: u64,
    pub kind: CauseKind,
}

/// One station's part in a decrease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationDecrease {
    pub station: String,
    pub before: u64,
    pub after: u64,
    /// The entries of the range that touched the station in this contest, in log order.
    pub causes: Vec<Cause>,
}

/// A published total that went down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrease {
    pub contest: String,
    pub view: View,
    pub level: Level,
    pub total: Total,
    pub before: u64,
    pub after: u64,
    /// The stations whose own number went down, in the election's order.
    pub stations: Vec<StationDecrease>,
}

/// Everything that changed from one checkpoint to a later one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    pub election: String,
    pub from: Checkpoint,
    pub to: Checkpoint,
    pub arrivals: Vec<Arrival>,
    pub corrections: Vec<Corrected>,
    pub annulments: Vec<Annulled>,
    pub shares: Vec<ShareMove>,
    pub decreases: Vec<Decrease>,
}

/// The changes from `before` (the results at checkpoint `from`) to `after` (at `to`), given the
/// log entries `from.size..to.size` as `(index, submission)` in log order. Both results must list
/// their stations (`ResultsConfig::stations`); without them, decreases name no stations.
pub fn changes(
    before: &Results,
    after: &Results,
    entries: &[(u64, Submission)],
    from: Checkpoint,
    to: Checkpoint,
) -> Changes {
    let ignored: std::collections::HashSet<u64> = after.ignored.iter().map(|i| i.index).collect();
    let implicit: HashMap<u64, u64> = after
        .corrections
        .iter()
        .filter(|c| c.kind == CorrectionKind::Implicit)
        .map(|c| (c.by, c.replaced))
        .collect();
    let mut out = Changes {
        election: after.election.clone(),
        from,
        to,
        arrivals: Vec::new(),
        corrections: Vec::new(),
        annulments: Vec::new(),
        shares: share_moves(before, after),
        decreases: Vec::new(),
    };
    // (station, contest or None for every contest) → the entries that touched it.
    let mut touched: HashMap<(&str, Option<&str>), Vec<Cause>> = HashMap::new();
    for (index, submission) in entries {
        if ignored.contains(index) {
            continue;
        }
        let stamp = Stamp {
            index: *index,
            signer: submission.payload.signer.clone(),
            time: submission.payload.time.clone(),
        };
        match &submission.payload.body {
            Body::Protocol(protocol) => {
                let replaced = protocol
                    .supersedes
                    .as_ref()
                    .map(|s| (s.index, Some(s.reason)))
                    .or_else(|| implicit.get(index).map(|&r| (r, None)));
                let kind = match replaced {
                    Some((replaced, reason)) => {
                        out.corrections.push(Corrected {
                            stamp,
                            station: protocol.station.clone(),
                            contest: protocol.contest.clone(),
                            source: protocol.source,
                            replaced,
                            reason,
                        });
                        CauseKind::Correction(reason)
                    }
                    None => {
                        out.arrivals.push(Arrival {
                            stamp,
                            station: protocol.station.clone(),
                            contest: protocol.contest.clone(),
                            source: protocol.source,
                        });
                        CauseKind::Arrival
                    }
                };
                touched
                    .entry((&protocol.station, Some(&protocol.contest)))
                    .or_default()
                    .push(Cause { index: *index, kind });
            }
            Body::Annulment(annulment) => {
                out.annulments.push(Annulled {
                    stamp,
                    station: annulment.station.clone(),
                    contest: annulment.contest.clone(),
                    reason: annulment.reason.clone(),
                });
                touched
                    .entry((&annulment.station, annulment.contest.as_deref()))
                    .or_default()
                    .push(Cause {
                        index: *index,
                        kind: CauseKind::Annulment(annulment.reason.clone()),
                    });
            }
            _ => {}
        }
    }
    for contest in &after.contests {
        let Some(earlier) = before.contest(&contest.contest) else { continue };
        for view in View::ALL {
            decreases(&mut out.decreases, earlier, contest, view, &touched);
        }
    }
    out
}

/// The causes of a station's change in `contest`: entries for that contest and for every contest.
fn causes_of(
    touched: &HashMap<(&str, Option<&str>), Vec<Cause>>,
    station: &str,
    contest: &str,
) -> Vec<Cause> {
    let mut causes: Vec<Cause> = [Some(contest), None]
        .into_iter()
        .filter_map(|c| touched.get(&(station, c)))
        .flatten()
        .cloned()
        .collect();
    causes.sort_by_key(|c| c.index);
    causes
}

fn in_level(station: &StationResult, level: &Level) -> bool {
    match level {
        Level::Nation => true,
        Level::Abroad => station.abroad,
        Level::Region(id) => &station.region == id,
        Level::District(id) => &station.district == id,
    }
}

/// Every total of one contest and view that went down, at every level.
fn decreases(
    out: &mut Vec<Decrease>,
    before: &ContestResults,
    after: &ContestResults,
    view: View,
    touched: &HashMap<(&str, Option<&str>), Vec<Cause>>,
) {
    let counts = |station: &StationResult| -> Option<StationCounts> {
        match view {
            View::Official => station.official.clone(),
            View::Preliminary => station.preliminary.clone(),
        }
    };
    let earlier: HashMap<&str, &StationResult> =
        before.stations.iter().map(|s| (s.station.as_str(), s)).collect();
    // Only stations whose counted protocol changed can have moved a total.
    let moved: Vec<(&StationResult, Option<StationCounts>, Option<StationCounts>)> = after
        .stations
        .iter()
        .filter_map(|station| {
            let was = earlier.get(station.station.as_str()).and_then(|s| counts(s));
            let now = counts(station);
            (was != now).then_some((station, was, now))
        })
        .collect();
    let mut totals: Vec<Total> = after.options.iter().cloned().map(Total::Votes).collect();
    totals.extend([Total::TookPart, Total::Valid, Total::Invalid, Total::StationsCounted]);
    for level_after in &after.view(view).levels {
        let Some(level_before) = before.view(view).level(&level_after.level) else { continue };
        for total in &totals {
            let was = total.of_level(level_before, &before.options);
            let now = total.of_level(level_after, &after.options);
            if now >= was {
                continue;
            }
            let stations = moved
                .iter()
                .filter(|(station, _, _)| in_level(station, &level_after.level))
                .filter_map(|(station, was, now)| {
                    let was = total.of_station(was.as_ref(), &before.options);
                    let now = total.of_station(now.as_ref(), &after.options);
                    (now < was).then(|| StationDecrease {
                        station: station.station.clone(),
                        before: was,
                        after: now,
                        causes: causes_of(touched, &station.station, &after.contest),
                    })
                })
                .collect();
            out.push(Decrease {
                contest: after.contest.clone(),
                view,
                level: level_after.level.clone(),
                total: total.clone(),
                before: was,
                after: now,
                stations,
            });
        }
    }
}

/// Every option's national share in both views of every party-list contest, before and after.
fn share_moves(before: &Results, after: &Results) -> Vec<ShareMove> {
    let mut moves = Vec::new();
    for contest in &after.contests {
        let earlier = before.contest(&contest.contest);
        for view in View::ALL {
            let Outcome::PartyList(list) = &contest.view(view).outcome else { continue };
            let nation = contest.view(view).nation();
            let (earlier_nation, earlier_base) = match earlier.map(|c| c.view(view)) {
                Some(v) => match &v.outcome {
                    Outcome::PartyList(l) => (Some(v.nation()), l.threshold_base),
                    Outcome::SingleMember(_) => (None, 0),
                },
                None => (None, 0),
            };
            for (i, option) in contest.options.iter().enumerate() {
                let was = earlier_nation.and_then(|n| n.votes.get(i).copied()).unwrap_or(0);
                moves.push(ShareMove {
                    contest: contest.contest.clone(),
                    view,
                    option: option.clone(),
                    before: Proportion::new(was, earlier_base),
                    after: Proportion::new(nation.votes[i], list.threshold_base),
                });
            }
        }
    }
    moves
}

fn reason_code(reason: Option<CorrectionReason>) -> String {
    reason
        .and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "implicit".to_string())
}

fn stamp_fields(stamp: &Stamp) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("index".into(), json!(stamp.index));
    map.insert("signer".into(), json!(stamp.signer));
    map.insert("time".into(), json!(stamp.time));
    map
}

fn with(mut map: serde_json::Map<String, Value>, more: Value) -> Value {
    if let Value::Object(more) = more {
        map.extend(more);
    }
    Value::Object(map)
}

fn share(p: &Proportion) -> Value {
    json!({"num": p.num, "den": p.den, "bp": p.basis_points()})
}

/// The cause as `{"index", "kind", "reason"}`.
pub fn cause_value(cause: &Cause) -> Value {
    let (kind, reason) = match &cause.kind {
        CauseKind::Arrival => ("arrival", "precedence".to_string()),
        CauseKind::Correction(reason) => ("correction", reason_code(*reason)),
        CauseKind::Annulment(reason) => ("annulment", reason.clone()),
    };
    json!({"index": cause.index, "kind": kind, "reason": reason})
}

/// The changes as a JSON value (what [`changes_json`] canonicalises).
pub fn changes_value(changes: &Changes) -> Value {
    let checkpoint = |c: &Checkpoint| json!({"size": c.size, "root": hex(&c.root)});
    let arrivals: Vec<Value> = changes
        .arrivals
        .iter()
        .map(|a| {
            with(
                stamp_fields(&a.stamp),
                json!({"station": a.station, "contest": a.contest, "source": a.source.as_str()}),
            )
        })
        .collect();
    let corrections: Vec<Value> = changes
        .corrections
        .iter()
        .map(|c| {
            with(
                stamp_fields(&c.stamp),
                json!({"station": c.station, "contest": c.contest, "source": c.source.as_str(),
                       "replaced": c.replaced, "reason": reason_code(c.reason)}),
            )
        })
        .collect();
    let annulments: Vec<Value> = changes
        .annulments
        .iter()
        .map(|a| {
            with(
                stamp_fields(&a.stamp),
                json!({"station": a.station, "contest": a.contest, "reason": a.reason}),
            )
        })
        .collect();
    let shares: Vec<Value> = changes
        .shares
        .iter()
        .map(|s| {
            json!({"contest": s.contest, "view": s.view.as_str(), "option": s.option,
                   "before": share(&s.before), "after": share(&s.after)})
        })
        .collect();
    let decreases: Vec<Value> = changes
        .decreases
        .iter()
        .map(|d| {
            let stations: Vec<Value> = d
                .stations
                .iter()
                .map(|s| {
                    json!({"station": s.station, "before": s.before, "after": s.after,
                           "causes": s.causes.iter().map(cause_value).collect::<Vec<_>>()})
                })
                .collect();
            let option = match &d.total {
                Total::Votes(option) => Some(option.as_str()),
                _ => None,
            };
            json!({"contest": d.contest, "view": d.view.as_str(), "level": d.level.kind(),
                   "id": d.level.id(), "total": d.total.as_str(), "option": option,
                   "before": d.before, "after": d.after, "stations": stations})
        })
        .collect();
    json!({
        "format": FORMAT,
        "election": changes.election,
        "from": checkpoint(&changes.from),
        "to": checkpoint(&changes.to),
        "arrivals": arrivals,
        "corrections": corrections,
        "annulments": annulments,
        "shares": shares,
        "decreases": decreases,
    })
}

/// The canonical bytes of `changes` in format `sverka-changes/v1`.
pub fn changes_json(changes: &Changes) -> Result<Vec<u8>, CanonicalError> {
    canonical::value_to_vec(&changes_value(changes))
}
