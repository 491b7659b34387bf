//! The election fingerprint (Klimek, Yegorov, Hanel & Thurner, PNAS 2012): the 2D histogram of
//! stations by turnout (took part / registered) and the leader's share (leader's votes / took part),
//! each station weighted by its voters who took part, in 1-percentage-point cells. Honest elections
//! give one roughly round blob; ballot stuffing stretches a "comet tail" towards 100 % turnout and
//! 100 % leader share. Also each option's share-vs-turnout correlation across stations.

use super::stats::weighted_correlation;
use super::Input;

/// Cells per axis (1 percentage point each).
pub const BINS: usize = 100;
/// The comet-tail corner: turnout and leader share at or above these (percent).
pub const TAIL_TURNOUT_PERCENT: usize = 80;
pub const TAIL_SHARE_PERCENT: usize = 50;

/// The turnout × leader-share histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Fingerprint {
    /// `weights[t][s]`: voters who took part at stations with turnout in [t, t+1) % and leader
    /// share in [s, s+1) % (100 % falls in the last cell; turnout above 100 % is put there too).
    pub weights: Vec<Vec<u64>>,
    pub total: u64,
    /// Voters at turnout ≥ 80 % and leader share ≥ 50 %.
    pub tail: u64,
}

impl Fingerprint {
    /// The share of all voters in the comet-tail corner.
    pub fn tail_fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.tail as f64 / self.total as f64
        }
    }

    /// Voters in cells with turnout ≥ `turnout` % and leader share ≥ `share` %.
    pub fn mass_above(&self, turnout: usize, share: usize) -> u64 {
        self.weights[turnout.min(BINS)..]
            .iter()
            .map(|row| row[share.min(BINS)..].iter().sum::<u64>())
            .sum()
    }
}

/// Which 1 % cell `num / den` falls in (exact integer arithmetic; 0 for an empty denominator).
pub fn percent_cell(num: u64, den: u64) -> usize {
    if den == 0 {
        return 0;
    }
    let cell = (u128::from(num) * 100 / u128::from(den)) as usize;
    cell.min(BINS - 1)
}

pub(super) fn fingerprint(input: &Input, leader: usize) -> Fingerprint {
    let mut weights = vec![vec![0u64; BINS]; BINS];
    let (mut total, mut tail) = (0u64, 0u64);
    for station in &input.stations {
        let c = &station.counts;
        if station.registered == 0 || c.took_part == 0 {
            continue;
        }
        let t = percent_cell(c.took_part, station.registered);
        let s = percent_cell(c.votes[leader], c.took_part);
        weights[t][s] += c.took_part;
        total += c.took_part;
        if t >= TAIL_TURNOUT_PERCENT && s >= TAIL_SHARE_PERCENT {
            tail += c.took_part;
        }
    }
    Fingerprint { weights, total, tail }
}

/// One option's share of took part against turnout, across stations.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    pub option: String,
    /// The option's share of all who took part, over every station.
    pub share: f64,
    /// Pearson correlation of the station share with the station turnout, stations weighted by
    /// voters; `None` when there is no spread.
    pub r: Option<f64>,
    /// Weighted least-squares slope: share points per turnout point.
    pub slope: Option<f64>,
}

pub(super) fn correlations(input: &Input) -> Vec<Correlation> {
    let usable: Vec<_> =
        input.stations.iter().filter(|s| s.registered > 0 && s.counts.took_part > 0).collect();
    let turnout: Vec<f64> =
        usable.iter().map(|s| s.counts.took_part as f64 / s.registered as f64).collect();
    let weight: Vec<f64> = usable.iter().map(|s| s.counts.took_part as f64).collect();
    let total: f64 = weight.iter().sum();
    input
        .options
        .iter()
        .enumerate()
        .map(|(o, option)| {
            let share: Vec<f64> = usable
                .iter()
                .map(|s| s.counts.votes[o] as f64 / s.counts.took_part as f64)
                .collect();
            let votes: f64 = usable.iter().map(|s| s.counts.votes[o] as f64).sum();
            let fit = weighted_correlation(&turnout, &share, &weight);
            Correlation {
                option: option.clone(),
                share: if total > 0.0 { votes / total } else { 0.0 },
                r: fit.map(|f| f.0),
                slope: fit.map(|f| f.1),
            }
        })
        .collect()
}
