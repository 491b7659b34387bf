//! The per-station anomaly summary: every signal that concerns one station, combined, with the
//! reason each station is listed.
//!
//! Result-pattern signals, each a p-value under "this station is like the others of its district":
//! - `high_turnout`: the robust z-score of turnout within the district (scale floored at one
//!   percentage point), p = P(Z ≥ z);
//! - `high_leader_share`: the same for the leader's share;
//! - `round_turnout`, `round_leader_share`: the value is the count nearest a round percentage
//!   (see `rounds`); p = 20 / denominator for a multiple of 5, 100 / denominator for another
//!   integer (the chance of landing there for a smooth distribution), 1 otherwise.
//!
//! A station is **flagged** when Fisher's combination of these four p-values is below
//! [`Config::alpha_station`] — the nominal false-flag rate per station — or when any of its source
//! comparisons differ (a fact; see `sources`). The list is ranked by −log₁₀ of Fisher's combination
//! of all its p-values (patterns and source-deviation sizes), largest first. Reasons list every
//! signal with p < 0.05 and every source difference.

use std::collections::{BTreeMap, HashMap};

use super::rounds::round_percent;
use super::sources::DistrictDeviations;
use super::stats::{fisher_combine, normal_sf, Robust};
use super::{Config, Input};

/// Robust scales of turnout and share are floored at one percentage point.
const MIN_SCALE: f64 = 0.01;
/// A signal is named as a reason when its own p-value is below this.
const REASON_P: f64 = 0.05;

/// Why a station is listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// `high_turnout`, `high_leader_share`, `round_turnout`, `round_leader_share`,
    /// `machine_manual_deviation` or `observer_mismatch`.
    pub code: &'static str,
    /// The number the reason is about: turnout or share in percent, or votes differing.
    pub value: f64,
    /// The signal's own p-value.
    pub p_value: f64,
    /// The reason in English, with its numbers.
    pub message: String,
}

/// One listed station.
#[derive(Clone, Debug, PartialEq)]
pub struct StationFlag {
    /// 1 for the most anomalous.
    pub rank: usize,
    pub station: String,
    pub district: String,
    /// −log₁₀ of the combined p-value of every signal: the ranking key.
    pub score: f64,
    /// Fisher's combination of the four result-pattern p-values.
    pub pattern_p_value: f64,
    pub reasons: Vec<Reason>,
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Robust turnout and leader-share centres per district.
fn district_centres(input: &Input, leader: usize) -> HashMap<&str, (Robust, Robust)> {
    let mut values: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for s in input.stations.iter().filter(|s| s.registered > 0 && s.counts.took_part > 0) {
        let entry = values.entry(&s.district).or_default();
        entry.0.push(s.counts.took_part as f64 / s.registered as f64);
        entry.1.push(s.counts.votes[leader] as f64 / s.counts.took_part as f64);
    }
    values
        .into_iter()
        .filter_map(|(d, (t, s))| {
            Some((d, (Robust::of(&t, MIN_SCALE)?, Robust::of(&s, MIN_SCALE)?)))
        })
        .collect()
}

fn round_reason(code: &'static str, what: &str, num: u64, den: u64, min: u64) -> Reason {
    let k = if den >= min { round_percent(num, den) } else { None };
    let p_value = match k {
        Some(k) if k % 5 == 0 => (20.0 / den as f64).min(1.0),
        Some(_) => (100.0 / den as f64).min(1.0),
        None => 1.0,
    };
    let message = match k {
        Some(k) => format!("{what} {num} of {den} is exactly the count for {k}%"),
        None => String::new(),
    };
    Reason { code, value: k.map_or(f64::NAN, |k| k as f64), p_value, message }
}

/// The four result-pattern signals of one station.
fn pattern_signals(
    input: &Input,
    station: usize,
    leader: usize,
    centres: &HashMap<&str, (Robust, Robust)>,
    config: &Config,
) -> Vec<Reason> {
    let s = &input.stations[station];
    let c = &s.counts;
    let mut signals = Vec::new();
    if let (Some((turnout_centre, share_centre)), true) =
        (centres.get(s.district.as_str()), s.registered > 0 && c.took_part > 0)
    {
        let turnout = c.took_part as f64 / s.registered as f64;
        let share = c.votes[leader] as f64 / c.took_part as f64;
        for (code, what, value, centre) in [
            ("high_turnout", "turnout", turnout, turnout_centre),
            ("high_leader_share", "leader's share", share, share_centre),
        ] {
            let z = centre.z(value);
            signals.push(Reason {
                code,
                value: 100.0 * value,
                p_value: normal_sf(z),
                message: format!(
                    "{what} {} is {z:.1} robust SD above the district median {}",
                    percent(value),
                    percent(centre.median)
                ),
            });
        }
    }
    let min = config.min_registered;
    signals.push(round_reason("round_turnout", "took part", c.took_part, s.registered, min));
    signals.push(round_reason(
        "round_leader_share",
        "the leader's votes",
        c.votes[leader],
        c.took_part,
        min,
    ));
    signals
}

/// Source differences as reasons, per station id.
fn source_reasons<'a>(
    machine_manual: &'a [DistrictDeviations],
    observer: &'a [DistrictDeviations],
) -> HashMap<&'a str, Vec<Reason>> {
    let mut out: HashMap<&str, Vec<Reason>> = HashMap::new();
    for d in machine_manual.iter().flat_map(|d| &d.stations) {
        out.entry(d.station.as_str()).or_default().push(Reason {
            code: "machine_manual_deviation",
            value: d.votes_differing as f64,
            p_value: d.p_value,
            message: format!(
                "the scanner and the hand count differ by {} votes ({}; took part {:+}), robust z {:.1} in the district",
                d.votes_differing,
                percent(d.share),
                d.took_part_difference,
                d.robust_z
            ),
        });
    }
    for d in observer.iter().flat_map(|d| &d.stations) {
        out.entry(d.station.as_str()).or_default().push(Reason {
            code: "observer_mismatch",
            value: d.votes_differing as f64,
            p_value: d.p_value,
            message: format!(
                "observer copy of {} differs from the commission's protocol by {} votes ({}; took part {:+}), robust z {:.1} in the district",
                d.signer.as_deref().unwrap_or("?"),
                d.votes_differing,
                percent(d.share),
                d.took_part_difference,
                d.robust_z
            ),
        });
    }
    out
}

pub(super) fn flag_stations(
    input: &Input,
    leader: usize,
    config: &Config,
    machine_manual: &[DistrictDeviations],
    observer: &[DistrictDeviations],
) -> Vec<StationFlag> {
    let centres = district_centres(input, leader);
    let sources = source_reasons(machine_manual, observer);
    let mut flags = Vec::new();
    for (i, station) in input.stations.iter().enumerate() {
        let signals = pattern_signals(input, i, leader, &centres, config);
        let pattern_p: Vec<f64> = signals.iter().map(|r| r.p_value).collect();
        let pattern_p_value = fisher_combine(&pattern_p);
        let from_sources = sources.get(station.id.as_str());
        if pattern_p_value >= config.alpha_station && from_sources.is_none() {
            continue;
        }
        let mut all_p = pattern_p;
        let mut reasons: Vec<Reason> =
            signals.into_iter().filter(|r| r.p_value < REASON_P).collect();
        for reason in from_sources.into_iter().flatten() {
            all_p.push(reason.p_value);
            reasons.push(reason.clone());
        }
        let score = -fisher_combine(&all_p).max(1e-300).log10();
        flags.push(StationFlag {
            rank: 0,
            station: station.id.clone(),
            district: station.district.clone(),
            score,
            pattern_p_value,
            reasons,
        });
    }
    flags.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.station.cmp(&b.station)));
    for (rank, flag) in flags.iter_mut().enumerate() {
        flag.rank = rank + 1;
    }
    flags
}
