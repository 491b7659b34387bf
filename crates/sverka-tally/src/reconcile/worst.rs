//! "Could all the discrepancies together change who passes the threshold or any seat?", answered
//! in exact integer arithmetic, and the stations whose recount would settle it.
//!
//! # The model
//!
//! The counted numbers are those of the preliminary view (recount, else manual, else machine). At a
//! station **in doubt** (a discrepancy beyond tolerance between two of its sources, and not settled
//! by a recount) the true count of each option, of the voters who took part and of the valid
//! ballots is assumed to lie between the lowest and the highest value any of its sources gives
//! (every line independently: a box, which contains every mix of the copies). Everywhere else the
//! counted numbers stand. Stations whose sources differ only within the tolerance are taken as
//! agreeing.
//!
//! # The answer
//!
//! For every option `p`, two corners of the box are recomputed through the same allocation
//! ([`crate::seats::allocate`], thresholds included, or [`crate::seats::decide_district`]) as the
//! results: **up(p)**, where `p` takes its highest value at every station in doubt, every other
//! option its lowest and the bases (took part, valid) their lowest; and **down(p)**, the mirror.
//!
//! - **Thresholds** are exact: a party's pass (national and regional) is monotone in its own votes
//!   and in the base, so down(p) is the worst case for a passing party and up(p) the best for a
//!   failing one. (A base below the parties' votes in a corner is raised to their sum.)
//! - **Seats**: a change of any party's seats in up(p) or down(p) is a witness (`yes`). When no
//!   party's qualification can change: divisor methods (D'Hondt, Sainte-Laguë) are monotone (more
//!   votes for `p` and fewer for the others never cost `p` a seat), so those corners bound every
//!   party's seats and `no` is exact. Largest remainder methods are not monotone (the population
//!   paradox); there `no` needs a proof: every party's quota count `q_k` over the box lies in an
//!   interval, and one cut `λ ∈ [0, 1)` with `s_k − 1 + λ < q_k ≤ s_k + λ` for all of them pins the
//!   allocation (see `tabulate/sensitivity.rs`). Without a witness or a proof the answer is
//!   `possibly`.
//! - **Single-member races**: up(x) for every candidate and "against all" is the best case for `x`
//!   against the winner, so the answer is exact.
//!
//! # Settling it
//!
//! Recounting a station takes it out of doubt (its count becomes known). The stations to recount:
//! with at most [`EXACT_LIMIT`] stations in doubt, the smallest set, found by trying every set in
//! order of size (`recount_minimal` is then true); beyond that, the shortest prefix of the stations
//! ranked by impact that settles it (binary search: the answer only improves as the box shrinks),
//! then every station that is not needed dropped again. That set settles it but is only an upper
//! bound on the smallest (`recount_minimal` false).

use sverka_model::election::{Election, PartyListContest, SingleMemberContest, ThresholdBase};
use sverka_model::{Contest, ContestKind};

use super::{StationRange, StationReconciliation};
use crate::seats::{
    allocate, decide_district, Allocation, AllocationConfig, CandidateId, DistrictId,
    DistrictOutcome, DistrictVotes, Fraction, LotSeed, Method, PartyId, PartyVotes, Region,
    RegionId, RegionalThreshold, SeatCount,
};
use crate::tabulate::{Level, ViewResults};

/// With at most this many stations in doubt, the recount set is the proven smallest.
pub const EXACT_LIMIT: usize = 12;

/// Whether the discrepancies could change an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Answer {
    /// Proven: no way the true counts lie in the model changes it.
    No,
    /// Neither proven nor shown (largest remainder only).
    Possibly,
    /// A corner of the model changes it (the witness is reported).
    Yes,
}

impl Answer {
    /// `no`, `possibly`, `yes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::No => "no",
            Answer::Possibly => "possibly",
            Answer::Yes => "yes",
        }
    }
}

/// A party whose qualification could flip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdRisk {
    pub party: String,
    /// Whether it qualifies as counted (it could fail), or not (it could pass).
    pub qualified_now: bool,
}

/// A party whose seats could change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatRisk {
    pub party: String,
    pub seats_now: u32,
    /// Its seats in down(p) and up(p).
    pub seats_low: u32,
    pub seats_high: u32,
}

/// The answer for one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeQuestion {
    pub answer: Answer,
    /// Stations in doubt.
    pub stations_in_doubt: u64,
    pub thresholds: Vec<ThresholdRisk>,
    pub seats: Vec<SeatRisk>,
    /// Single-member races: the winner as counted (`None`: failed or nothing counted) and every
    /// other result a corner gives (`"failed"` for a failed race).
    pub winner_now: Option<String>,
    pub winner_could_be: Vec<String>,
    /// Stations whose recount would settle it (empty when the answer is `no`), ranked by impact.
    pub recount: Vec<String>,
    /// Whether `recount` is proven the smallest such set.
    pub recount_minimal: bool,
    /// Why the question could not be put (e.g. numbers that cannot be allocated), if so.
    pub note: Option<String>,
}

/// Counted totals of one unit, `[options…]` plus the bases.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    votes: Vec<u64>,
    took_part: u64,
    valid: u64,
    registered: u64,
}

/// The question for one contest, ready to be asked of any set of stations in doubt.
struct Case<'a> {
    contest: &'a Contest,
    seed: LotSeed,
    nation: Unit,
    /// The regions of the regional threshold (party lists), in the contest's order.
    regions: Vec<(String, Unit)>,
    /// Stations in doubt: their range and the position of their region in `regions`.
    doubt: Vec<(&'a StationRange, Option<usize>)>,
}

#[derive(Clone, Copy)]
enum Corner {
    /// The option at its highest, every other at its lowest, bases lowest.
    Up(usize),
    /// The mirror.
    Down(usize),
}

/// What one evaluation found.
struct Finding {
    answer: Answer,
    thresholds: Vec<ThresholdRisk>,
    seats: Vec<SeatRisk>,
    winner_now: Option<String>,
    winner_could_be: Vec<String>,
    note: Option<String>,
}

/// Asks the question of one contest; `stations` are ranked by impact.
pub(crate) fn question(
    election: &Election,
    contest: &Contest,
    view: &ViewResults,
    stations: &[StationReconciliation],
) -> OutcomeQuestion {
    let unit = |t: &crate::tabulate::LevelTotals| Unit {
        votes: t.votes.clone(),
        took_part: t.took_part,
        valid: t.valid,
        registered: t.registered_counted,
    };
    let regions: Vec<(String, Unit)> = match &contest.kind {
        ContestKind::PartyList(list) => list
            .regional_threshold
            .iter()
            .flat_map(|r| r.regions.iter())
            .map(|id| {
                let level = view.level(&Level::Region(id.clone()));
                let empty = Unit {
                    votes: vec![0; view.nation().votes.len()],
                    took_part: 0,
                    valid: 0,
                    registered: 0,
                };
                (id.clone(), level.map_or(empty, unit))
            })
            .collect(),
        ContestKind::SingleMember(_) => Vec::new(),
    };
    let doubt: Vec<(&StationRange, Option<usize>)> = stations
        .iter()
        .filter_map(|s| {
            let region = regions.iter().position(|(id, _)| *id == s.region);
            s.range.as_ref().map(|r| (r, region))
        })
        .collect();
    let case = Case {
        contest,
        seed: LotSeed::new(&election.tie_seed).unwrap_or_default(),
        nation: unit(view.nation()),
        regions,
        doubt,
    };
    let n = case.doubt.len();
    let all = vec![true; n];
    let finding = if view.nation().stations_counted == 0 {
        Finding::empty(Answer::No, Some("nothing counted yet".into()))
    } else {
        case.evaluate(&all)
    };
    let (recount, recount_minimal) =
        if finding.answer == Answer::No { (Vec::new(), true) } else { case.recount_set() };
    let in_doubt: Vec<&StationReconciliation> =
        stations.iter().filter(|s| s.range.is_some()).collect();
    OutcomeQuestion {
        answer: finding.answer,
        stations_in_doubt: n as u64,
        thresholds: finding.thresholds,
        seats: finding.seats,
        winner_now: finding.winner_now,
        winner_could_be: finding.winner_could_be,
        recount: recount.iter().map(|&i| in_doubt[i].station.clone()).collect(),
        recount_minimal,
        note: finding.note,
    }
}

impl Finding {
    fn empty(answer: Answer, note: Option<String>) -> Finding {
        Finding {
            answer,
            thresholds: Vec::new(),
            seats: Vec::new(),
            winner_now: None,
            winner_could_be: Vec::new(),
            note,
        }
    }
}

impl Case<'_> {
    /// The answer with the stations of `active` in doubt (the others taken as counted).
    fn evaluate(&self, active: &[bool]) -> Finding {
        match &self.contest.kind {
            ContestKind::PartyList(list) => self.party_list(list, active),
            ContestKind::SingleMember(smd) => self.single_member(smd, active),
        }
    }

    fn answer(&self, active: &[bool]) -> Answer {
        if !active.iter().any(|&a| a) {
            return Answer::No;
        }
        self.evaluate(active).answer
    }

    /// A unit's totals at a corner: `unit` plus, for every active station of `region` (`None`:
    /// all), its corner value minus its counted value.
    fn corner(&self, unit: &Unit, region: Option<usize>, active: &[bool], corner: Corner) -> Unit {
        let mut votes: Vec<i128> = unit.votes.iter().map(|&v| i128::from(v)).collect();
        let (mut took_part, mut valid) = (i128::from(unit.took_part), i128::from(unit.valid));
        let pick = |(lo, c, hi): (u64, u64, u64), high: bool| {
            i128::from(if high { hi } else { lo }) - i128::from(c)
        };
        let (favoured, up) = match corner {
            Corner::Up(p) => (p, true),
            Corner::Down(p) => (p, false),
        };
        for ((range, station_region), _) in self.doubt.iter().zip(active).filter(|(_, &a)| a) {
            if region.is_some() && *station_region != region {
                continue;
            }
            for (o, v) in votes.iter_mut().enumerate() {
                *v += pick(range.votes[o], (o == favoured) == up);
            }
            took_part += pick(range.took_part, !up);
            valid += pick(range.valid, !up);
        }
        let to_u64 = |x: i128| u64::try_from(x.max(0)).unwrap_or(u64::MAX);
        Unit {
            votes: votes.into_iter().map(to_u64).collect(),
            took_part: to_u64(took_part),
            valid: to_u64(valid),
            registered: unit.registered,
        }
    }

    fn party_list(&self, list: &PartyListContest, active: &[bool]) -> Finding {
        let now = match allocate_units(list, &self.nation, &self.regions, &self.seed) {
            Ok(a) => a,
            Err(e) => return Finding::empty(Answer::Possibly, Some(e)),
        };
        let mut finding = Finding::empty(Answer::No, None);
        if !active.iter().any(|&a| a) {
            return finding;
        }
        let ids: Vec<PartyId> =
            list.parties.iter().filter_map(|p| PartyId::new(&p.id).ok()).collect();
        let qualified =
            |a: &Allocation, id: &PartyId| a.standings().get(id).is_some_and(|s| s.qualified());
        let mut bounds = Vec::new();
        for (p, id) in ids.iter().enumerate() {
            let at = |corner| {
                let nation = self.corner(&self.nation, None, active, corner);
                let regions: Vec<(String, Unit)> = self
                    .regions
                    .iter()
                    .enumerate()
                    .map(|(r, (rid, u))| (rid.clone(), self.corner(u, Some(r), active, corner)))
                    .collect();
                allocate_units(list, &nation, &regions, &self.seed).map(|a| (a, nation))
            };
            let ((up, up_nation), (down, down_nation)) =
                match (at(Corner::Up(p)), at(Corner::Down(p))) {
                    (Ok(up), Ok(down)) => (up, down),
                    (Err(e), _) | (_, Err(e)) => return Finding::empty(Answer::Possibly, Some(e)),
                };
            let qualified_now = qualified(&now, id);
            if (qualified_now && !qualified(&down, id)) || (!qualified_now && qualified(&up, id)) {
                finding.thresholds.push(ThresholdRisk { party: id.to_string(), qualified_now });
            }
            let (seats_now, seats_low, seats_high) =
                (now.seats_of(id), down.seats_of(id), up.seats_of(id));
            if seats_low < seats_now || seats_high > seats_now {
                finding.seats.push(SeatRisk {
                    party: id.to_string(),
                    seats_now,
                    seats_low,
                    seats_high,
                });
            }
            bounds.push((down_nation.votes[p], up_nation.votes[p], seats_now, qualified_now));
        }
        finding.answer = if !finding.thresholds.is_empty() || !finding.seats.is_empty() {
            Answer::Yes
        } else if now.method().is_divisor()
            || now.qualified().is_empty()
            || remainder_pinned(now.method(), now.house_size(), &bounds)
        {
            Answer::No
        } else {
            Answer::Possibly
        };
        finding
    }

    fn single_member(&self, smd: &SingleMemberContest, active: &[bool]) -> Finding {
        let options: Vec<&str> = self.contest.option_ids();
        let now = decide(smd, &options, &self.nation.votes, &self.seed);
        let key = |o: &Option<DistrictOutcome>| match o {
            Some(DistrictOutcome::Elected { winner, .. }) => Some(winner.to_string()),
            _ => None,
        };
        let mut finding = Finding::empty(Answer::No, None);
        finding.winner_now = key(&now);
        if !active.iter().any(|&a| a) {
            return finding;
        }
        for o in 0..options.len() {
            let corner = self.corner(&self.nation, None, active, Corner::Up(o));
            let other = decide(smd, &options, &corner.votes, &self.seed);
            if key(&other) != finding.winner_now {
                let label = key(&other).unwrap_or_else(|| "failed".into());
                if !finding.winner_could_be.contains(&label) {
                    finding.winner_could_be.push(label);
                }
            }
        }
        finding.winner_could_be.sort();
        if !finding.winner_could_be.is_empty() {
            finding.answer = Answer::Yes;
        }
        finding
    }

    /// The stations (positions in `doubt`) whose recount settles it, and whether the set is proven
    /// smallest. See the module documentation.
    fn recount_set(&self) -> (Vec<usize>, bool) {
        let n = self.doubt.len();
        let settles = |chosen: &[usize]| {
            let mut active = vec![true; n];
            for &i in chosen {
                active[i] = false;
            }
            self.answer(&active) == Answer::No
        };
        if n <= EXACT_LIMIT {
            for size in 1..=n {
                if let Some(set) = subsets(n, size).find(|set| settles(set)) {
                    return (set, true);
                }
            }
            return ((0..n).collect(), true);
        }
        // Shortest prefix by impact (stations are ranked already), then drop what is not needed.
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if settles(&(0..mid).collect::<Vec<_>>()) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let mut set: Vec<usize> = (0..lo).collect();
        for i in (0..lo).rev() {
            let without: Vec<usize> = set.iter().copied().filter(|&j| j != i).collect();
            if settles(&without) {
                set = without;
            }
        }
        (set, false)
    }
}

/// Every `size`-subset of `0..n`, in lexicographic order.
fn subsets(n: usize, size: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut next = Some((0..size).collect::<Vec<usize>>());
    std::iter::from_fn(move || {
        let current = next.take()?;
        let mut following = current.clone();
        let mut i = size;
        while i > 0 {
            i -= 1;
            if following[i] < n - size + i {
                following[i] += 1;
                for j in i + 1..size {
                    following[j] = following[j - 1] + 1;
                }
                next = Some(following);
                break;
            }
        }
        Some(current)
    })
}

fn base(unit: &Unit, kind: ThresholdBase, n_parties: usize) -> u64 {
    let parties: u64 = unit.votes[..n_parties].iter().sum();
    match kind {
        ThresholdBase::TookPart => unit.took_part.max(parties),
        ThresholdBase::Valid => unit.valid.max(parties),
        ThresholdBase::Registered => unit.registered,
    }
}

fn party_votes(list: &PartyListContest, unit: &Unit) -> Result<PartyVotes, String> {
    let entries = list
        .parties
        .iter()
        .zip(&unit.votes)
        .map(|(p, &v)| PartyId::new(&p.id).map(|id| (id, v)).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, String>>()?;
    PartyVotes::new(entries).map_err(|e| e.to_string())
}

/// The allocation of the party-list race on these totals, with its thresholds: the same rules as
/// the results (`tabulate/outcome.rs`).
fn allocate_units(
    list: &PartyListContest,
    nation: &Unit,
    regions: &[(String, Unit)],
    seed: &LotSeed,
) -> Result<Allocation, String> {
    let n_parties = list.parties.len();
    let seats = SeatCount::new(u64::from(list.seats)).map_err(|e| e.to_string())?;
    let method = match list.method {
        sverka_model::election::Method::Hare => Method::Hare,
        sverka_model::election::Method::Droop => Method::Droop,
        sverka_model::election::Method::Dhondt => Method::DHondt,
        sverka_model::election::Method::SainteLague => Method::SainteLague,
    };
    let fraction = |num, den| Fraction::new(num, den).map_err(|e| format!("threshold: {e}"));
    let mut config = AllocationConfig::new(method, seats);
    config.threshold = fraction(list.threshold.share.num, list.threshold.share.den)?;
    config.threshold_base = Some(base(nation, list.threshold.base, n_parties));
    config.seed = seed.clone();
    if let Some(regional) = &list.regional_threshold {
        let regions = regions
            .iter()
            .map(|(id, unit)| {
                let id = RegionId::new(id).map_err(|e| e.to_string())?;
                let base = base(unit, regional.base, n_parties);
                Region::new(id, base, party_votes(list, unit)?).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        config.regional = Some(RegionalThreshold {
            share: fraction(regional.share.num, regional.share.den)?,
            regions,
        });
    }
    allocate(&party_votes(list, nation)?, &config).map_err(|e| e.to_string())
}

fn decide(
    smd: &SingleMemberContest,
    options: &[&str],
    votes: &[u64],
    seed: &LotSeed,
) -> Option<DistrictOutcome> {
    let candidates: Vec<(CandidateId, u64)> = smd
        .candidates
        .iter()
        .filter_map(|c| {
            let i = options.iter().position(|o| *o == c.id)?;
            Some((CandidateId::new(&c.id).ok()?, votes[i]))
        })
        .collect();
    let against_all = options
        .iter()
        .position(|o| *o == sverka_model::AGAINST_ALL)
        .filter(|_| smd.fails_if_against_all_leads)
        .map_or(0, |a| votes[a]);
    let votes = DistrictVotes::new(candidates, against_all).ok()?;
    let district = DistrictId::new(&smd.district).ok()?;
    Some(decide_district(&district, &votes, seed))
}

/// Largest remainder: whether one cut `λ ∈ [0, 1)` keeps every qualified party's seats for every
/// quota count in its range. `bounds` = `(lowest votes, highest votes, seats, qualified)` per party.
fn remainder_pinned(method: Method, house: u32, bounds: &[(u64, u64, u32, bool)]) -> bool {
    let parties: Vec<(i128, i128, i128)> = bounds
        .iter()
        .filter(|b| b.3)
        .map(|&(lo, hi, s, _)| (i128::from(lo), i128::from(hi), i128::from(s)))
        .collect();
    let house = i128::from(house);
    let sum_lo: i128 = parties.iter().map(|p| p.0).sum();
    let sum_hi: i128 = parties.iter().map(|p| p.1).sum();
    // (num, den) of the lowest and highest quota count of each party, and its seats.
    type QuotaRange = ((i128, i128), (i128, i128), i128);
    let droop = |total: i128| total / (house + 1) + 1;
    let ranges: Vec<QuotaRange> = parties
        .iter()
        .map(|&(lo, hi, s)| {
            let worst_total = lo + (sum_hi - hi);
            let best_total = hi + (sum_lo - lo);
            match method {
                Method::Droop => ((lo, droop(worst_total)), (hi, droop(best_total)), s),
                _ => ((house * lo, worst_total), (house * hi, best_total), s),
            }
        })
        .collect();
    if ranges.iter().any(|(min, max, _)| min.1 <= 0 || max.1 <= 0) {
        return false;
    }
    // λ ≥ max(0, max_k (max q_k − s_k)) and λ < min(1, min_k (min q_k − s_k + 1)).
    let mut lower = (0i128, 1i128);
    let mut upper = (1i128, 1i128);
    let less = |a: (i128, i128), b: (i128, i128)| a.0 * b.1 < b.0 * a.1;
    for ((min_num, min_den), (max_num, max_den), s) in ranges {
        let floor_candidate = (max_num - s * max_den, max_den);
        if less(lower, floor_candidate) {
            lower = floor_candidate;
        }
        let ceiling_candidate = (min_num - (s - 1) * min_den, min_den);
        if less(ceiling_candidate, upper) {
            upper = ceiling_candidate;
        }
    }
    less(lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_come_in_order_and_cover_all() {
        let all: Vec<Vec<usize>> = subsets(4, 2).collect();
        assert_eq!(
            all,
            vec![vec![0, 1], vec![0, 2], vec![0, 3], vec![1, 2], vec![1, 3], vec![2, 3]]
        );
        assert_eq!(subsets(5, 5).count(), 1);
    }

    #[test]
    fn remainder_pinned_only_when_the_ranges_leave_a_cut() {
        // Hare, 2 seats, 60 vs 40 exactly: quotas 1.2 and 0.8, seats 1–1.
        assert!(remainder_pinned(Method::Hare, 2, &[(60, 60, 1, true), (40, 40, 1, true)]));
        // 60 could be 100 while 40 could be 0: a's quota reaches 2.
        assert!(!remainder_pinned(Method::Hare, 2, &[(60, 100, 1, true), (0, 40, 1, true)]));
        // A little doubt (a in 59..61, b in 39..41): a's quota stays in (1.16, 1.24), b's in
        // (0.76, 0.84); the cut 0.5 keeps 1–1.
        assert!(remainder_pinned(Method::Hare, 2, &[(59, 61, 1, true), (39, 41, 1, true)]));
    }
}
