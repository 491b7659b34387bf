//! The report's published forms: `sverka-forensics/v1` JSON (docs/formats.md) and the CSV of
//! flagged stations. Keys are written in a fixed order; floats as serde_json writes them (shortest
//! round-trip form), non-finite ones as `null`.

use serde_json::{json, Map, Value};

use super::fingerprint::{TAIL_SHARE_PERCENT, TAIL_TURNOUT_PERCENT};
use super::sources::{DistrictDeviations, MIN_SCALE};
use super::{Report, StationFlag, CAVEATS, FORMAT};

fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn option_number(x: Option<f64>) -> Value {
    x.map_or(Value::Null, number)
}

fn deviations_json(districts: &[DistrictDeviations]) -> Value {
    Value::Array(
        districts
            .iter()
            .map(|d| {
                let stations: Vec<Value> = d
                    .stations
                    .iter()
                    .map(|s| {
                        let mut o = Map::new();
                        o.insert("station".into(), json!(s.station));
                        if let Some(signer) = &s.signer {
                            o.insert("signer".into(), json!(signer));
                        }
                        o.insert("votes_differing".into(), json!(s.votes_differing));
                        o.insert("took_part_difference".into(), json!(s.took_part_difference));
                        o.insert("share".into(), number(s.share));
                        o.insert("robust_z".into(), number(s.robust_z));
                        o.insert("p_value".into(), number(s.p_value));
                        o.insert("outlier".into(), json!(s.outlier));
                        Value::Object(o)
                    })
                    .collect();
                json!({"district": d.district, "compared": d.compared, "stations": stations})
            })
            .collect(),
    )
}

fn flag_json(flag: &StationFlag) -> Value {
    let reasons: Vec<Value> = flag
        .reasons
        .iter()
        .map(|r| {
            json!({"code": r.code, "value": number(r.value), "p_value": number(r.p_value),
                   "message": r.message})
        })
        .collect();
    json!({
        "rank": flag.rank,
        "station": flag.station,
        "district": flag.district,
        "score": number(flag.score),
        "pattern_p_value": number(flag.pattern_p_value),
        "reasons": reasons,
    })
}

impl Report {
    /// The report as a JSON value (see docs/formats.md, `sverka-forensics/v1`).
    pub fn to_json_value(&self) -> Value {
        let f = &self.fingerprint;
        let mut cells = Vec::new();
        for (t, row) in f.weights.iter().enumerate() {
            for (s, &w) in row.iter().enumerate() {
                if w > 0 {
                    cells.push(json!([t, s, w]));
                }
            }
        }
        let correlations: Vec<Value> = self
            .correlations
            .iter()
            .map(|c| {
                json!({"option": c.option, "share": number(c.share), "r": option_number(c.r),
                       "slope": option_number(c.slope)})
            })
            .collect();
        let rounds: Vec<Value> = self
            .round_numbers
            .iter()
            .map(|r| {
                json!({"variable": r.variable, "grid": r.grid, "stations": r.stations,
                       "observed": r.observed, "expected": number(r.expected),
                       "null_sd": number(r.null_sd), "p_value": number(r.p_value),
                       "flagged": r.flagged})
            })
            .collect();
        let digits: Vec<Value> = self
            .digits
            .iter()
            .map(|d| {
                json!({"test": d.test, "counts": d.counts, "min_count": super::digits::MIN_COUNT,
                       "observed": d.observed, "reference": d.reference.map(number),
                       "chi_square": number(d.chi_square), "df": 9,
                       "p_value_asymptotic": number(d.p_value_asymptotic),
                       "p_value": number(d.p_value), "flagged": d.flagged})
            })
            .collect();
        let c = &self.config;
        json!({
            "format": FORMAT,
            "election": self.election,
            "checkpoint": self.checkpoint.as_ref().map(|c| json!({"size": c.size, "root": c.root})),
            "contest": self.contest,
            "view": self.view,
            "seed": c.seed,
            "simulations": c.simulations,
            "alpha_election": c.alpha_election,
            "alpha_station": c.alpha_station,
            "min_registered": c.min_registered,
            "outlier_z": c.outlier_z,
            "stations": self.stations,
            "leader": self.leader,
            "fingerprint": {
                "bins": super::fingerprint::BINS,
                "weight": "took_part",
                "total": f.total,
                "tail": {"turnout_min_percent": TAIL_TURNOUT_PERCENT,
                         "share_min_percent": TAIL_SHARE_PERCENT,
                         "weight": f.tail, "fraction": number(f.tail_fraction())},
                "cells": cells,
            },
            "correlations": correlations,
            "round_numbers": rounds,
            "digits": digits,
            "sources": {
                "min_scale": MIN_SCALE,
                "machine_manual": deviations_json(&self.machine_manual),
                "observer": deviations_json(&self.observer),
            },
            "flagged": self.flagged.iter().map(flag_json).collect::<Vec<_>>(),
            "caveats": CAVEATS,
        })
    }

    /// The report as `sverka-forensics/v1` JSON text (pretty-printed, ending in a newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_json_value())
            .expect("a JSON value always serialises");
        text.push('\n');
        text
    }

    /// The flagged stations as CSV: `rank,station,district,score,pattern_p_value,reasons` with
    /// the reason codes joined by `;` (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("rank,station,district,score,pattern_p_value,reasons\n");
        for flag in &self.flagged {
            let reasons: Vec<&str> = flag.reasons.iter().map(|r| r.code).collect();
            out.push_str(&format!(
                "{},{},{},{:.3},{:e},{}\n",
                flag.rank,
                csv_field(&flag.station),
                csv_field(&flag.district),
                flag.score,
                flag.pattern_p_value,
                reasons.join(";")
            ));
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
