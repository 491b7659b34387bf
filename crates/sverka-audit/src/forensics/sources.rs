//! Comparing sources at one station: the scanner's count against the commission's hand count, and
//! every observer's copy against the commission's protocol (the recount's where there is one). A
//! difference is a fact, not a statistic; what the robust z-score adds is how unusual its size is
//! among the stations of the same district (Iglewicz & Hoaglin's modified z-score: distance from the
//! district median in units of 1.4826 × MAD, the scale floored at [`MIN_SCALE`] so that a district
//! where every other station agrees exactly does not turn a one-vote slip into infinity).

use std::collections::BTreeMap;

use sverka_model::Source;

use super::stats::{normal_sf, Robust};
use super::{Config, Counts, Input, Station};

/// The smallest scale of a district's deviations: 1 % of the ballots (honest scanners misread a few ballots in a hundred at worst).
pub const MIN_SCALE: f64 = 0.01;

/// One station's difference between two protocols.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceDeviation {
    pub station: String,
    pub district: String,
    /// The observer's key id (observer copies only).
    pub signer: Option<String>,
    /// Σ over options of |a − b|.
    pub votes_differing: u64,
    /// Took part (compared) − took part (reference).
    pub took_part_difference: i64,
    /// `votes_differing` / took part of the reference protocol.
    pub share: f64,
    /// Robust z-score of `share` within the district.
    pub robust_z: f64,
    /// P(Z ≥ robust_z) for a standard normal Z: the size's tail probability.
    pub p_value: f64,
    /// `robust_z ≥ outlier_z`.
    pub outlier: bool,
}

/// One district's differing stations, largest robust z first.
#[derive(Clone, Debug, PartialEq)]
pub struct DistrictDeviations {
    pub district: String,
    /// Stations with both protocols.
    pub compared: u64,
    /// Only the stations whose protocols differ.
    pub stations: Vec<SourceDeviation>,
}

fn protocol(station: &Station, source: Source) -> Option<&Counts> {
    station.sources.iter().find(|s| s.source == source).map(|s| &s.counts)
}

/// (votes differing, took-part difference, share of the reference's took part).
fn compare(a: &Counts, reference: &Counts) -> (u64, i64, f64) {
    let differing: u64 = a.votes.iter().zip(&reference.votes).map(|(x, y)| x.abs_diff(*y)).sum();
    let took_part = a.took_part as i64 - reference.took_part as i64;
    (differing, took_part, differing as f64 / reference.took_part.max(1) as f64)
}

struct Pair {
    station: usize,
    signer: Option<String>,
    differing: u64,
    took_part: i64,
    share: f64,
}

/// Ranks `pairs` per district; districts with the largest deviation first.
fn rank(input: &Input, pairs: Vec<Pair>, config: &Config) -> Vec<DistrictDeviations> {
    let mut by_district: BTreeMap<&str, Vec<Pair>> = BTreeMap::new();
    for pair in pairs {
        by_district.entry(&input.stations[pair.station].district).or_default().push(pair);
    }
    let mut out: Vec<DistrictDeviations> = by_district
        .into_iter()
        .map(|(district, pairs)| {
            let shares: Vec<f64> = pairs.iter().map(|p| p.share).collect();
            let robust = Robust::of(&shares, MIN_SCALE).expect("a district has pairs");
            let mut stations: Vec<SourceDeviation> = pairs
                .iter()
                .filter(|p| p.differing > 0 || p.took_part != 0)
                .map(|p| {
                    let z = robust.z(p.share);
                    SourceDeviation {
                        station: input.stations[p.station].id.clone(),
                        district: district.to_string(),
                        signer: p.signer.clone(),
                        votes_differing: p.differing,
                        took_part_difference: p.took_part,
                        share: p.share,
                        robust_z: z,
                        p_value: normal_sf(z),
                        outlier: z >= config.outlier_z,
                    }
                })
                .collect();
            stations.sort_by(|a, b| {
                b.robust_z.total_cmp(&a.robust_z).then_with(|| a.station.cmp(&b.station))
            });
            DistrictDeviations {
                district: district.to_string(),
                compared: pairs.len() as u64,
                stations,
            }
        })
        .collect();
    let top = |d: &DistrictDeviations| d.stations.first().map_or(f64::NEG_INFINITY, |s| s.robust_z);
    out.sort_by(|a, b| top(b).total_cmp(&top(a)).then_with(|| a.district.cmp(&b.district)));
    out
}

/// The scanner's count against the hand count, at every station that has both.
pub(super) fn machine_manual(input: &Input, config: &Config) -> Vec<DistrictDeviations> {
    let pairs = input
        .stations
        .iter()
        .enumerate()
        .filter_map(|(i, station)| {
            let machine = protocol(station, Source::Machine)?;
            let manual = protocol(station, Source::Manual)?;
            let (differing, took_part, share) = compare(machine, manual);
            Some(Pair { station: i, signer: None, differing, took_part, share })
        })
        .collect();
    rank(input, pairs, config)
}

/// Every observer copy against the commission's protocol (recount, else manual).
pub(super) fn observer(input: &Input, config: &Config) -> Vec<DistrictDeviations> {
    let mut pairs = Vec::new();
    for (i, station) in input.stations.iter().enumerate() {
        let Some(reference) =
            protocol(station, Source::Recount).or_else(|| protocol(station, Source::Manual))
        else {
            continue;
        };
        for copy in station.sources.iter().filter(|s| s.source == Source::Observer) {
            let (differing, took_part, share) = compare(&copy.counts, reference);
            pairs.push(Pair {
                station: i,
                signer: copy.signer.clone(),
                differing,
                took_part,
                share,
            });
        }
    }
    rank(input, pairs, config)
}
