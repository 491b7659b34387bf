//! The reconciliation as published: `sverka-reconciliation/v1` JSON and its CSV.
//!
//! # Format `sverka-reconciliation/v1`
//!
//! RFC 8785 canonical JSON (members sorted, no spaces, integers only), documented in
//! `docs/formats.md`:
//!
//! ```text
//! {"format": "sverka-reconciliation/v1",
//!  "checkpoint": {"size", "root"} | null,       the log checkpoint it is computed from
//!  "election", "view": "preliminary", "tolerance": n,
//!  "district": "<id>" | null,                     set when only one district's stations are listed
//!  "answer": "no" | "possibly" | "yes",           the worst over the contests
//!  "contests": [CONTEST, ...]}                    in the election's order
//!
//! CONTEST = {"id", "answer", "stations_in_doubt",
//!   "thresholds": [{"party", "qualified_now"}],            parties whose qualification could flip
//!   "seats": [{"party", "now", "low", "high"}],            parties whose seats could change
//!   "winner": {"now": id | null, "could_be": [id | "failed"]} | null,   single-member races
//!   "recount": [station, ...], "recount_minimal": bool,    the stations whose recount settles it
//!   "note": text | null,
//!   "totals": [{"level": "nation" | "region" | "district", "id"?, "stations", "unreported",
//!               "match", "within_tolerance", "missing", "discrepancy", "settled",
//!               "pairs_discrepant", "lines_discrepant"}],
//!   "stations": [STATION, ...]}                            not a plain match, ranked by impact
//!
//! STATION = {"rank" (1-based, over the contest), "station", "district", "region", "class",
//!   "settled", "counted": {"source", "entry"} | null,
//!   "sources": [{"source", "signer"?, "entry"}], "spread",
//!   "impact": "n" | "n/d", "impact_bp", "impact_on",
//!   "pairs": [{"a", "b", "a_entry", "b_entry", "class", "matched",
//!              "lines": [{"field", "a", "b", "difference", "class"}]}]}
//! ```
//!
//! Sources are labelled `machine`, `manual`, `recount` or `observer:<key id>`. `impact_bp` is the
//! impact in basis points rounded half up (`floor((20000·n + d) / (2·d))`), capped at 2^53 − 1; the
//! exact value is `impact`. A change to any of this is a new format version.
//!
//! # CSV
//!
//! One row per contest × station × pair × line with a discrepancy beyond tolerance, and one row
//! (empty `field`) per pair where one side is missing, stations ranked as in the JSON:
//!
//! ```text
//! contest,rank,station,district,region,impact_bp,a,a_entry,b,b_entry,class,field,a_value,b_value,difference
//! ```

use std::fmt::Write as _;

use serde_json::{json, Value};
use sverka_model::canonical::{self, CanonicalError};

use super::{Class, ContestReconciliation, Reconciliation, StationReconciliation, Totals, VIEW};
use crate::seats::Ratio;
use crate::snapshot::Checkpoint;
use crate::tabulate::Level;

/// The format name.
pub const FORMAT: &str = "sverka-reconciliation/v1";

/// The header of [`reconciliation_csv`].
pub const CSV_HEADER: &str = "contest,rank,station,district,region,impact_bp,a,a_entry,b,b_entry,class,field,a_value,b_value,difference";

const MAX_JSON_INT: u128 = (1 << 53) - 1;

/// Basis points of a ratio, rounded half up, capped at 2^53 − 1.
pub fn impact_bp(ratio: Ratio) -> u64 {
    let (n, d) = (ratio.numerator(), ratio.denominator());
    let bp = n.saturating_mul(20_000).saturating_add(d) / (2 * d);
    u64::try_from(bp.min(MAX_JSON_INT)).unwrap_or(u64::MAX)
}

/// The canonical JSON bytes; `district` restricts the stations and totals listed to one district
/// (the answers stay nation-wide).
pub fn reconciliation_json(
    reconciliation: &Reconciliation,
    checkpoint: Option<&Checkpoint>,
    district: Option<&str>,
) -> Result<Vec<u8>, CanonicalError> {
    canonical::value_to_vec(&reconciliation_value(reconciliation, checkpoint, district))
}

/// The JSON value of [`reconciliation_json`].
pub fn reconciliation_value(
    reconciliation: &Reconciliation,
    checkpoint: Option<&Checkpoint>,
    district: Option<&str>,
) -> Value {
    let checkpoint = checkpoint.map(|c| {
        let root: String = c.root.iter().map(|b| format!("{b:02x}")).collect();
        json!({"size": c.size, "root": root})
    });
    json!({
        "format": FORMAT,
        "checkpoint": checkpoint,
        "election": reconciliation.election,
        "view": VIEW.as_str(),
        "tolerance": reconciliation.tolerance,
        "district": district,
        "answer": reconciliation.answer().as_str(),
        "contests": reconciliation
            .contests
            .iter()
            .map(|c| contest_value(c, district))
            .collect::<Vec<_>>(),
    })
}

/// Whether the station (or a unit) is within `district` (all when `None`).
fn in_district(district: Option<&str>, station: &StationReconciliation) -> bool {
    district.is_none_or(|d| station.district == d)
}

fn contest_value(contest: &ContestReconciliation, district: Option<&str>) -> Value {
    let question = &contest.outcome;
    let winner = (question.winner_now.is_some() || !question.winner_could_be.is_empty())
        .then(|| json!({"now": question.winner_now, "could_be": question.winner_could_be}));
    let totals: Vec<Value> = contest
        .totals
        .iter()
        .filter(|(level, _)| match district {
            None => true,
            Some(d) => level == &Level::District(d.to_string()),
        })
        .map(|(level, totals)| totals_value(level, totals))
        .collect();
    let stations: Vec<Value> = contest
        .stations
        .iter()
        .enumerate()
        .filter(|(_, s)| in_district(district, s))
        .map(|(rank, s)| station_value(rank + 1, s))
        .collect();
    json!({
        "id": contest.contest,
        "answer": question.answer.as_str(),
        "stations_in_doubt": question.stations_in_doubt,
        "thresholds": question
            .thresholds
            .iter()
            .map(|t| json!({"party": t.party, "qualified_now": t.qualified_now}))
            .collect::<Vec<_>>(),
        "seats": question
            .seats
            .iter()
            .map(|s| json!({"party": s.party, "now": s.seats_now, "low": s.seats_low, "high": s.seats_high}))
            .collect::<Vec<_>>(),
        "winner": winner,
        "recount": question.recount,
        "recount_minimal": question.recount_minimal,
        "note": question.note,
        "totals": totals,
        "stations": stations,
    })
}

fn totals_value(level: &Level, t: &Totals) -> Value {
    let mut value = json!({
        "level": level.kind(),
        "stations": t.stations,
        "unreported": t.unreported,
        "match": t.matched,
        "within_tolerance": t.within_tolerance,
        "missing": t.missing,
        "discrepancy": t.discrepancy,
        "settled": t.settled,
        "pairs_discrepant": t.pairs_discrepant,
        "lines_discrepant": t.lines_discrepant,
    });
    if let Some(id) = level.id() {
        value["id"] = json!(id);
    }
    value
}

fn station_value(rank: usize, s: &StationReconciliation) -> Value {
    let sources: Vec<Value> = s
        .sources
        .iter()
        .map(|(r, entry)| {
            let mut v = json!({"source": r.source.as_str(), "entry": entry});
            if let Some(signer) = &r.signer {
                v["signer"] = json!(signer);
            }
            v
        })
        .collect();
    let pairs: Vec<Value> = s
        .pairs
        .iter()
        .map(|p| {
            json!({
                "a": p.a.label(),
                "b": p.b.label(),
                "a_entry": p.a_entry,
                "b_entry": p.b_entry,
                "class": p.class.as_str(),
                "matched": p.matched,
                "lines": p.lines.iter().map(|l| json!({
                    "field": l.field,
                    "a": l.a,
                    "b": l.b,
                    "difference": l.a.abs_diff(l.b),
                    "class": l.class.as_str(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "rank": rank,
        "station": s.station,
        "district": s.district,
        "region": s.region,
        "class": s.class.as_str(),
        "settled": s.settled,
        "counted": s.counted.map(|(source, entry)| json!({"source": source.as_str(), "entry": entry})),
        "sources": sources,
        "spread": s.spread,
        "impact": s.impact.to_string(),
        "impact_bp": impact_bp(s.impact),
        "impact_on": s.impact_on,
        "pairs": pairs,
    })
}

/// One field, quoted when it must be (RFC 4180 §2).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The CSV (see the module documentation); `district` as in [`reconciliation_json`].
pub fn reconciliation_csv(reconciliation: &Reconciliation, district: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for contest in &reconciliation.contests {
        for (rank, s) in contest.stations.iter().enumerate() {
            if !in_district(district, s) {
                continue;
            }
            for pair in &s.pairs {
                let entry = |e: Option<u64>| e.map(|e| e.to_string()).unwrap_or_default();
                let prefix = [
                    contest.contest.clone(),
                    (rank + 1).to_string(),
                    s.station.clone(),
                    s.district.clone(),
                    s.region.clone(),
                    impact_bp(s.impact).to_string(),
                    pair.a.label(),
                    entry(pair.a_entry),
                    pair.b.label(),
                    entry(pair.b_entry),
                ];
                let mut row = |rest: [String; 5]| {
                    let fields: Vec<String> =
                        prefix.iter().chain(rest.iter()).map(|f| field(f)).collect();
                    let _ = write!(out, "{}\r\n", fields.join(","));
                };
                if pair.class == Class::Missing {
                    row([
                        Class::Missing.as_str().into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                    continue;
                }
                for line in pair.lines.iter().filter(|l| l.class == Class::Discrepancy) {
                    row([
                        Class::Discrepancy.as_str().into(),
                        line.field.clone(),
                        line.a.to_string(),
                        line.b.to_string(),
                        line.a.abs_diff(line.b).to_string(),
                    ]);
                }
            }
        }
    }
    out
}
