//! Outcome sensitivity (issue 5, item 4): can the ballots still in play change who passes a
//! threshold, any seat, or a district's winner?
//!
//! **Ballots in play** are those of the stations not yet counted in the view (annulled stations
//! are out for good, so not in play) and of the **disputed** stations the caller names, whose
//! counted votes are set aside. Each such station can add at most its registered voters plus the
//! election's `ballots_over_registered` allowance; `W` is their sum. The analysis asks whether any
//! way of casting up to `W` further ballots, on top of the undisputed counted votes, changes the
//! outcome. Every "decided" below is a proof within that model; "open" means the bound cannot rule
//! a change out (it may still be unlikely).
//!
//! - **Thresholds** (took part or valid base; `v` votes of the party, `B` the base, `t = n/d`):
//!   the party can end below iff `v < t·(B + W)` (all further ballots for others); it can end
//!   above iff `v + W ≥ t·(B + W)` (all for it). With a registered-voters base the base grows by
//!   exactly the registered voters in play, `R`: below iff `v < t·(B + R)`, above iff
//!   `v + W ≥ t·(B + R)`. `ballots_to_flip` is the fewest further ballots that would flip it.
//! - **Seats**, when every party's qualification is decided: the allocation stays as it is if
//!   every party's final position is pinned:
//!   - divisor methods: the best possible next quotient `(v_j + W) / D(s_j)` of any party stays
//!     below the worst possible last quotient `v_i / D(s_i − 1)` of every other party;
//!   - largest remainder: each party's final quota count `q'_k` lies in a known interval
//!     (Hare: `[S·v_k/(V+W), S·(v_k+W)/(V+W)]`; Droop: `[v_k/Q_max, (v_k+W)/Q_min]`), and one cut
//!     `λ ∈ [0, 1)` gives every party its present seats: `s_k − 1 + λ < q'_k ≤ s_k + λ` (a
//!     largest-remainder allocation is exactly "round each `q'_k` up past the cut `λ`").
//! - **Districts**: the winner stays if it leads every other candidate by more than `W` (and
//!   "against all" by at least `W` where it can fail the race); a failure stays if "against all"
//!   leads every candidate by more than `W`.

use sverka_model::election::ThresholdBase;

use crate::seats::Method;

/// The ballots in play for one contest and view, nation-wide and per region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPlay {
    /// Stations not counted in this view and not annulled.
    pub outstanding_stations: u64,
    pub outstanding_registered: u64,
    /// Their registered voters plus the allowance per station.
    pub outstanding_ballots: u64,
    /// Disputed stations that are counted in this view.
    pub disputed_stations: u64,
    pub disputed_registered: u64,
    pub disputed_ballots: u64,
    pub(crate) disputed_votes: Vec<u64>,
    /// `[took_part, valid, registered]` of the disputed stations.
    pub(crate) disputed_base: [u64; 3],
    /// Per region of the election (same order).
    pub(crate) regions: Vec<RegionInPlay>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct RegionInPlay {
    pub registered: u64,
    pub ballots: u64,
    pub disputed_votes: Vec<u64>,
    pub disputed_base: [u64; 3],
}

impl InPlay {
    pub(crate) fn new(n_options: usize, n_regions: usize) -> Self {
        let region = RegionInPlay { disputed_votes: vec![0; n_options], ..Default::default() };
        InPlay {
            outstanding_stations: 0,
            outstanding_registered: 0,
            outstanding_ballots: 0,
            disputed_stations: 0,
            disputed_registered: 0,
            disputed_ballots: 0,
            disputed_votes: vec![0; n_options],
            disputed_base: [0; 3],
            regions: vec![region; n_regions],
        }
    }

    pub(crate) fn add_outstanding(
        &mut self,
        region: usize,
        stations: u64,
        registered: u64,
        ballots: u64,
    ) {
        self.outstanding_stations += stations;
        self.outstanding_registered += registered;
        self.outstanding_ballots += ballots;
        if let Some(r) = self.regions.get_mut(region) {
            r.registered += registered;
            r.ballots += ballots;
        }
    }

    pub(crate) fn add_disputed(
        &mut self,
        region: usize,
        registered: u64,
        ballots: u64,
        votes: &[u64],
        base: [u64; 3],
    ) {
        self.disputed_stations += 1;
        self.disputed_registered += registered;
        self.disputed_ballots += ballots;
        add_into(&mut self.disputed_votes, votes);
        add_into(&mut self.disputed_base, &base);
        if let Some(r) = self.regions.get_mut(region) {
            r.registered += registered;
            r.ballots += ballots;
            add_into(&mut r.disputed_votes, votes);
            add_into(&mut r.disputed_base, &base);
        }
    }

    /// `W`: every ballot that could still be cast or recast.
    pub fn ballots_in_play(&self) -> u64 {
        self.outstanding_ballots + self.disputed_ballots
    }

    /// Registered voters of the stations in play.
    pub fn registered_in_play(&self) -> u64 {
        self.outstanding_registered + self.disputed_registered
    }
}

fn add_into(sum: &mut [u64], values: &[u64]) {
    for (s, v) in sum.iter_mut().zip(values) {
        *s += v;
    }
}

pub(crate) fn base_slot(base: ThresholdBase) -> usize {
    match base {
        ThresholdBase::TookPart => 0,
        ThresholdBase::Valid => 1,
        ThresholdBase::Registered => 2,
    }
}

/// Where one party stands against one threshold, given the ballots in play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdOutlook {
    /// Whether it passes on the votes counted so far (disputed included).
    pub passes: bool,
    /// Whether no way of casting the ballots in play can flip it.
    pub decided: bool,
    /// The fewest further ballots that would flip it (for a party passing now: ballots for
    /// others; failing: ballots for it), on the undisputed votes. `None`: nothing can flip it.
    pub ballots_to_flip: Option<u64>,
}

/// Inputs of one threshold test, undisputed.
pub(crate) struct ThresholdCase {
    pub votes: u64,
    pub base: u64,
    pub num: u64,
    pub den: u64,
    pub registered_base: bool,
    /// `W`, and `R` (registered voters in play).
    pub ballots: u64,
    pub registered: u64,
}

impl ThresholdOutlook {
    pub(crate) fn assess(passes: bool, case: &ThresholdCase) -> Self {
        let (v, b, n, d) = (
            u128::from(case.votes),
            u128::from(case.base),
            u128::from(case.num),
            u128::from(case.den),
        );
        let (w, r) = (u128::from(case.ballots), u128::from(case.registered));
        let to_u64 = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
        if passes {
            // Falls iff v·d < n·(B + y): the fewest base growth y = floor(v·d / n) − B + 1.
            if n == 0 {
                return ThresholdOutlook { passes, decided: true, ballots_to_flip: None };
            }
            let y = (v * d / n + 1).saturating_sub(b);
            let growth_max = if case.registered_base { r } else { w };
            ThresholdOutlook { passes, decided: y > growth_max, ballots_to_flip: Some(to_u64(y)) }
        } else {
            let y = if case.registered_base {
                (n * (b + r)).div_ceil(d).saturating_sub(v)
            } else {
                // v + y ≥ t·(B + y) ⇔ y·(d − n) ≥ n·B − d·v.
                (n * b).saturating_sub(d * v).div_ceil(d - n)
            };
            let y = if v + y == 0 { 1 } else { y };
            ThresholdOutlook { passes, decided: y > w, ballots_to_flip: Some(to_u64(y)) }
        }
    }
}

/// One party's outlook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyOutlook {
    pub party: String,
    pub national: ThresholdOutlook,
    /// Per region of the regional threshold, in the contest's order.
    pub regions: Vec<(String, ThresholdOutlook)>,
}

impl PartyOutlook {
    /// Whether the party's qualification can no longer change.
    pub fn qualification_decided(&self) -> bool {
        self.national.decided && self.regions.iter().all(|(_, o)| o.decided)
    }
}

/// Whether the seat allocation can still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatsOutlook {
    /// Nothing counted yet.
    NoResults,
    /// No way of casting the ballots in play changes any party's seats.
    Decided,
    /// Some party's qualification can still change, so seats can too.
    QualificationOpen,
    /// Qualification is decided, but the ballots in play could move a seat.
    Open,
}

impl SeatsOutlook {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatsOutlook::NoResults => "no_results",
            SeatsOutlook::Decided => "decided",
            SeatsOutlook::QualificationOpen => "qualification_open",
            SeatsOutlook::Open => "open",
        }
    }
}

/// The outlook of a party-list race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOutlook {
    pub in_play: InPlay,
    pub parties: Vec<PartyOutlook>,
    pub seats: SeatsOutlook,
}

/// The outlook of a single-member race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictOutlook {
    pub in_play: InPlay,
    /// Whether the winner (or the failure) can no longer change.
    pub decided: bool,
}

/// Whether the allocation `parties = [(undisputed votes, seats)]` (the qualified parties) is
/// pinned when up to `w` further ballots are cast (see the module documentation).
pub(crate) fn seats_decided(method: Method, house: u32, parties: &[(u64, u32)], w: u64) -> bool {
    let w = i128::from(w);
    let house = i128::from(house);
    let v_total: i128 = parties.iter().map(|(v, _)| i128::from(*v)).sum();
    let as_i = |(v, s): &(u64, u32)| (i128::from(*v), i128::from(*s));
    match method {
        Method::Hare => {
            let den = v_total + w;
            if den == 0 {
                return false;
            }
            // Scaled by den: lo_k = S·v_k, hi_k = S·(v_k + W).
            let bounds = parties.iter().map(as_i).map(|(v, s)| (house * v, house * (v + w), s));
            cut_exists(bounds, den)
        }
        Method::Droop => {
            let q_min = v_total / (house + 1) + 1;
            let q_max = (v_total + w) / (house + 1) + 1;
            let scale = q_min * q_max;
            let bounds = parties.iter().map(as_i).map(|(v, s)| (v * q_min, (v + w) * q_max, s));
            cut_exists(bounds, scale)
        }
        Method::DHondt | Method::SainteLague => {
            let divisor = |held: i128| match method {
                Method::SainteLague => 2 * held + 1,
                _ => held + 1,
            };
            parties.iter().map(as_i).enumerate().all(|(i, (v_i, s_i))| {
                s_i == 0
                    || parties.iter().map(as_i).enumerate().all(|(j, (v_j, s_j))| {
                        // j's best next quotient < i's worst last quotient.
                        i == j || (v_j + w) * divisor(s_i - 1) < v_i * divisor(s_j)
                    })
            })
        }
    }
}

/// Whether a cut `λ ∈ [0, 1)` exists with `hi_k ≤ s_k + λ` and `lo_k > s_k − 1 + λ` for every
/// party, all quantities scaled by `scale` (`bounds` = `(lo·scale, hi·scale, s)`).
fn cut_exists(bounds: impl Iterator<Item = (i128, i128, i128)>, scale: i128) -> bool {
    let mut lower = 0i128;
    let mut upper = scale;
    for (lo, hi, s) in bounds {
        lower = lower.max(hi - s * scale);
        upper = upper.min(lo - (s - 1) * scale);
    }
    lower < upper
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(votes: u64, base: u64, ballots: u64) -> ThresholdCase {
        ThresholdCase {
            votes,
            base,
            num: 1,
            den: 20,
            registered_base: false,
            ballots,
            registered: ballots,
        }
    }

    #[test]
    fn threshold_flip_counts_are_exact() {
        // 60 of 1000 at 5 %: falls once the base passes 1200, i.e. 201 further ballots for others.
        let o = ThresholdOutlook::assess(true, &case(60, 1000, 200));
        assert_eq!(o.ballots_to_flip, Some(201));
        assert!(o.decided);
        assert!(!ThresholdOutlook::assess(true, &case(60, 1000, 201)).decided);
        // 40 of 1000: needs y with 40 + y ≥ (1000 + y)/20 ⇔ 19y ≥ 200 ⇔ y = 11.
        let o = ThresholdOutlook::assess(false, &case(40, 1000, 10));
        assert_eq!(o.ballots_to_flip, Some(11));
        assert!(o.decided);
        assert!(!ThresholdOutlook::assess(false, &case(40, 1000, 11)).decided);
    }

    #[test]
    fn divisor_seats_pinned_only_beyond_the_gap() {
        // D'Hondt, 2 seats, 100 vs 40: seats 2–0; party b's next quotient 40 < a's last 50.
        assert!(seats_decided(Method::DHondt, 2, &[(100, 2), (40, 0)], 9));
        assert!(!seats_decided(Method::DHondt, 2, &[(100, 2), (40, 0)], 10));
    }

    #[test]
    fn hare_seats_pinned_only_beyond_the_gap() {
        // Hare, 2 seats, 60 vs 40: quotas 1.2 and 0.8, seats 1–1.
        assert!(seats_decided(Method::Hare, 2, &[(60, 1), (40, 1)], 0));
        // With 100 more ballots for a: 160/200·2 = 1.6 vs 0.4 → seats 2–0.
        assert!(!seats_decided(Method::Hare, 2, &[(60, 1), (40, 1)], 100));
    }
}
