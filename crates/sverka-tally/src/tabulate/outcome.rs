//! From totals to outcomes: the party-list race (thresholds → seats → candidates) and the
//! single-member races (winner, failure, or no results yet), each with its outlook.
//!
//! The rules themselves live in [`crate::seats`]; this file only feeds them the totals of one view
//! and maps the election definition onto their types:
//! - the national threshold base is the contest's (`took_part`, `valid` or `registered`, summed
//!   over the stations counted in the view; "against all" and invalid ballots are in `took_part`);
//! - the regional threshold is tested in each region the contest lists, on that region's base;
//! - open-list seats go to candidates by national preference votes, with the contest's
//!   `women_min_share` rounded up (the only reading under which the women's share is never below
//!   it; see [`crate::seats::candidates`]).

use sverka_model::election::Sex;
use sverka_model::election::{
    Election, Method as ModelMethod, PartyListContest, SingleMemberContest, ThresholdBase,
};
use sverka_model::{Contest, ContestKind};

use super::sensitivity::{
    base_slot, seats_decided, DistrictOutlook, InPlay, ListOutlook, PartyOutlook, SeatsOutlook,
    ThresholdCase, ThresholdOutlook,
};
use super::{ContestIndex, Level, LevelTotals, Proportion, View};
use crate::seats::{
    allocate, assign_candidates, decide_district, Allocation, AllocationConfig, Candidate,
    CandidateId, DistrictId, DistrictOutcome, DistrictVotes, ElectedBy, Fraction, LotSeed, Method,
    PartyId, PartyVotes, Region, RegionId, RegionalThreshold, Rounding, SeatCount, TieBreak,
    WomenRule,
};

/// The outcome of one contest in one view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    PartyList(Box<ListOutcome>),
    SingleMember(Box<DistrictResult>),
}

/// Where the party-list race stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStatus {
    /// No station counted in this view yet.
    NoResults,
    /// Stations counted, but no list passes the thresholds: no seats (a reported outcome).
    NoListPassed,
    /// Seats allocated.
    Allocated,
    /// The numbers cannot be allocated (e.g. a base below the votes: inconsistent protocols).
    Error(String),
}

/// One region of the regional threshold, for one party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionThreshold {
    pub region: String,
    pub votes: u64,
    /// The region's base (same kind as the contest's regional threshold).
    pub base: u64,
    pub share: Proportion,
    pub passes: bool,
}

/// One elected list candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectedCandidate {
    pub candidate: String,
    pub votes: u64,
    /// Elected on a seat the women rule reserved.
    pub women_rule: bool,
}

/// One party in the party-list race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyResult {
    pub party: String,
    pub votes: u64,
    /// Votes over the national threshold base.
    pub share: Proportion,
    pub passes_national: bool,
    pub regions: Vec<RegionThreshold>,
    pub qualified: bool,
    pub seats: u32,
    /// The fewest votes to gain (positive) or lose (negative) to flip the national threshold,
    /// base fixed and base moving with them ([`crate::seats::ThresholdMargin`]).
    pub flip_fixed_base: Option<i128>,
    pub flip_base_moves: Option<i128>,
    pub elected: Vec<ElectedCandidate>,
    /// Seats the list could not fill (too few candidates).
    pub unfilled: u32,
}

/// The party-list race in one view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOutcome {
    pub status: ListStatus,
    pub base_kind: ThresholdBase,
    /// The national base: voters who took part, valid ballots or registered voters (counted).
    pub threshold_base: u64,
    /// The national threshold, exactly (`num/den`).
    pub threshold: (u64, u64),
    pub regional_threshold: Option<(u64, u64)>,
    pub seats: u32,
    /// Parties in ballot order.
    pub parties: Vec<PartyResult>,
    /// The allocation as the seats module returned it (quota, seat margin, ties).
    pub allocation: Option<Allocation>,
    /// Lots drawn among candidates.
    pub candidate_ties: Vec<TieBreak>,
    pub outlook: ListOutlook,
}

/// A single-member race in one view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictResult {
    pub district: String,
    /// `None`: no station counted yet.
    pub outcome: Option<DistrictOutcome>,
    pub outlook: DistrictOutlook,
}

pub(super) fn decide(
    election: &Election,
    contest: &Contest,
    index: &ContestIndex,
    levels: &[LevelTotals],
    in_play: &InPlay,
    _view: View,
) -> Outcome {
    let seed = LotSeed::new(&election.tie_seed).unwrap_or_default();
    match &contest.kind {
        ContestKind::PartyList(list) => {
            Outcome::PartyList(Box::new(party_list(election, list, index, levels, in_play, &seed)))
        }
        ContestKind::SingleMember(smd) => {
            Outcome::SingleMember(Box::new(single_member(smd, index, &levels[0], in_play, &seed)))
        }
    }
}

fn base_of(totals: &LevelTotals, base: ThresholdBase) -> u64 {
    match base {
        ThresholdBase::TookPart => totals.took_part,
        ThresholdBase::Valid => totals.valid,
        ThresholdBase::Registered => totals.registered_counted,
    }
}

fn method_of(method: ModelMethod) -> Method {
    match method {
        ModelMethod::Hare => Method::Hare,
        ModelMethod::Droop => Method::Droop,
        ModelMethod::Dhondt => Method::DHondt,
        ModelMethod::SainteLague => Method::SainteLague,
    }
}

fn party_votes(
    list: &PartyListContest,
    votes: &[u64],
    minus: Option<&[u64]>,
) -> Result<PartyVotes, String> {
    let entries = list
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = PartyId::new(&p.id).map_err(|e| e.to_string())?;
            Ok((id, votes[i] - minus.map_or(0, |m| m[i])))
        })
        .collect::<Result<Vec<_>, String>>()?;
    PartyVotes::new(entries).map_err(|e| e.to_string())
}

fn party_list(
    election: &Election,
    list: &PartyListContest,
    index: &ContestIndex,
    levels: &[LevelTotals],
    in_play: &InPlay,
    seed: &LotSeed,
) -> ListOutcome {
    let nation = &levels[0];
    let base_kind = list.threshold.base;
    let threshold_base = base_of(nation, base_kind);
    let threshold = (list.threshold.share.num, list.threshold.share.den);
    let region_levels: Vec<(&str, Option<&LevelTotals>)> = list
        .regional_threshold
        .iter()
        .flat_map(|r| r.regions.iter())
        .map(|id| (id.as_str(), levels.iter().find(|l| l.level == Level::Region(id.clone()))))
        .collect();
    let mut outcome = ListOutcome {
        status: ListStatus::NoResults,
        base_kind,
        threshold_base,
        threshold,
        regional_threshold: list.regional_threshold.as_ref().map(|r| (r.share.num, r.share.den)),
        seats: list.seats,
        parties: Vec::new(),
        allocation: None,
        candidate_ties: Vec::new(),
        outlook: ListOutlook {
            in_play: in_play.clone(),
            parties: Vec::new(),
            seats: SeatsOutlook::NoResults,
        },
    };
    outcome.parties = list
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| PartyResult {
            party: p.id.clone(),
            votes: nation.votes[i],
            share: Proportion::new(nation.votes[i], threshold_base),
            passes_national: false,
            regions: region_results(list, &region_levels, i),
            qualified: false,
            seats: 0,
            flip_fixed_base: None,
            flip_base_moves: None,
            elected: Vec::new(),
            unfilled: 0,
        })
        .collect();
    if nation.stations_counted == 0 {
        return outcome;
    }
    let allocation = match allocate_list(list, nation, &region_levels, seed) {
        Ok(allocation) => allocation,
        Err(message) => {
            outcome.status = ListStatus::Error(message);
            return outcome;
        }
    };
    fill_parties(&mut outcome, list, index, nation, &allocation, seed);
    outcome.status = if allocation.qualified().is_empty() {
        ListStatus::NoListPassed
    } else {
        ListStatus::Allocated
    };
    outcome.outlook = list_outlook(election, list, &outcome, nation, &region_levels, in_play);
    outcome.allocation = Some(allocation);
    outcome
}

fn region_results(
    list: &PartyListContest,
    region_levels: &[(&str, Option<&LevelTotals>)],
    party: usize,
) -> Vec<RegionThreshold> {
    let Some(regional) = &list.regional_threshold else { return Vec::new() };
    region_levels
        .iter()
        .map(|(id, totals)| {
            let votes = totals.map_or(0, |t| t.votes[party]);
            let base = totals.map_or(0, |t| base_of(t, regional.base));
            RegionThreshold {
                region: id.to_string(),
                votes,
                base,
                share: Proportion::new(votes, base),
                passes: votes > 0 && regional.share.reached(votes, base),
            }
        })
        .collect()
}

fn fraction(num: u64, den: u64) -> Result<Fraction, String> {
    Fraction::new(num, den).map_err(|e| format!("threshold: {e}"))
}

fn allocate_list(
    list: &PartyListContest,
    nation: &LevelTotals,
    region_levels: &[(&str, Option<&LevelTotals>)],
    seed: &LotSeed,
) -> Result<Allocation, String> {
    let votes = party_votes(list, &nation.votes, None)?;
    let seats = SeatCount::new(u64::from(list.seats)).map_err(|e| e.to_string())?;
    let mut config = AllocationConfig::new(method_of(list.method), seats);
    config.threshold = fraction(list.threshold.share.num, list.threshold.share.den)?;
    config.threshold_base = Some(base_of(nation, list.threshold.base));
    config.seed = seed.clone();
    if let Some(regional) = &list.regional_threshold {
        let mut regions = Vec::new();
        for (id, totals) in region_levels {
            let region_id = RegionId::new(id).map_err(|e| e.to_string())?;
            let (base, votes) = match totals {
                Some(t) => (base_of(t, regional.base), party_votes(list, &t.votes, None)?),
                None => (0, party_votes(list, &vec![0; list.parties.len()], None)?),
            };
            regions.push(Region::new(region_id, base, votes).map_err(|e| e.to_string())?);
        }
        config.regional = Some(RegionalThreshold {
            share: fraction(regional.share.num, regional.share.den)?,
            regions,
        });
    }
    allocate(&votes, &config).map_err(|e| e.to_string())
}

fn fill_parties(
    outcome: &mut ListOutcome,
    list: &PartyListContest,
    index: &ContestIndex,
    nation: &LevelTotals,
    allocation: &Allocation,
    seed: &LotSeed,
) {
    let women_rule = list.women_min_share.and_then(|share| {
        Fraction::new(share.num, share.den)
            .ok()
            .map(|share| WomenRule { share, rounding: Rounding::Up })
    });
    for (i, party) in list.parties.iter().enumerate() {
        let Ok(id) = PartyId::new(&party.id) else { continue };
        let result = &mut outcome.parties[i];
        if let Some(standing) = allocation.standings().get(&id) {
            result.passes_national = standing.passes_national();
            result.qualified = standing.qualified();
        }
        if let Some(margin) = allocation.threshold_margins().iter().find(|m| m.party() == &id) {
            result.flip_fixed_base = Some(margin.flip_fixed_base());
            result.flip_base_moves = Some(margin.flip_base_moves());
        }
        result.seats = allocation.seats_of(&id);
        if result.seats == 0 {
            continue;
        }
        let candidates: Vec<Candidate> = party
            .candidates
            .iter()
            .filter_map(|c| {
                let flat = index.candidate_idx.get(&party.id)?.get(&c.id)?;
                let votes = nation.preferences[*flat as usize];
                let id = CandidateId::new(&c.id).ok()?;
                Some(Candidate::new(id, Some(c.position), c.sex == Sex::Female, votes))
            })
            .collect();
        match assign_candidates(&id, result.seats, &candidates, women_rule, seed) {
            Ok(assignment) => {
                result.elected = assignment
                    .elected()
                    .iter()
                    .map(|e| ElectedCandidate {
                        candidate: e.candidate().to_string(),
                        votes: e.votes(),
                        women_rule: e.by() == ElectedBy::WomenRule,
                    })
                    .collect();
                result.unfilled = assignment.unfilled();
                outcome.candidate_ties.extend(assignment.ties().iter().cloned());
            }
            Err(_) => result.unfilled = result.seats,
        }
    }
}

fn list_outlook(
    election: &Election,
    list: &PartyListContest,
    outcome: &ListOutcome,
    nation: &LevelTotals,
    region_levels: &[(&str, Option<&LevelTotals>)],
    in_play: &InPlay,
) -> ListOutlook {
    let slot = base_slot(list.threshold.base);
    let national_base = base_of(nation, list.threshold.base) - in_play.disputed_base[slot];
    let parties: Vec<PartyOutlook> = outcome
        .parties
        .iter()
        .enumerate()
        .map(|(i, party)| {
            let case = ThresholdCase {
                votes: party.votes - in_play.disputed_votes[i],
                base: national_base,
                num: list.threshold.share.num,
                den: list.threshold.share.den,
                registered_base: list.threshold.base == ThresholdBase::Registered,
                ballots: in_play.ballots_in_play(),
                registered: in_play.registered_in_play(),
            };
            let national = ThresholdOutlook::assess(party.passes_national, &case);
            let regions = regional_outlooks(election, list, party, region_levels, in_play, i);
            PartyOutlook { party: party.party.clone(), national, regions }
        })
        .collect();
    let seats = if !parties.iter().all(PartyOutlook::qualification_decided) {
        SeatsOutlook::QualificationOpen
    } else {
        let qualified: Vec<(u64, u32)> = outcome
            .parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.qualified)
            .map(|(i, p)| (p.votes - in_play.disputed_votes[i], p.seats))
            .collect();
        let pinned = qualified.is_empty()
            || seats_decided(
                method_of(list.method),
                list.seats,
                &qualified,
                in_play.ballots_in_play(),
            );
        if pinned {
            SeatsOutlook::Decided
        } else {
            SeatsOutlook::Open
        }
    };
    ListOutlook { in_play: in_play.clone(), parties, seats }
}

fn regional_outlooks(
    election: &Election,
    list: &PartyListContest,
    party: &PartyResult,
    region_levels: &[(&str, Option<&LevelTotals>)],
    in_play: &InPlay,
    i: usize,
) -> Vec<(String, ThresholdOutlook)> {
    let Some(regional) = &list.regional_threshold else { return Vec::new() };
    let slot = base_slot(regional.base);
    region_levels
        .iter()
        .zip(&party.regions)
        .map(|((id, _), region)| {
            let r = election.regions.iter().position(|x| x.id == *id);
            let play = r.and_then(|r| in_play.regions.get(r)).cloned().unwrap_or_default();
            let disputed_votes = play.disputed_votes.get(i).copied().unwrap_or(0);
            let case = ThresholdCase {
                votes: region.votes - disputed_votes,
                base: region.base - play.disputed_base[slot],
                num: regional.share.num,
                den: regional.share.den,
                registered_base: regional.base == ThresholdBase::Registered,
                ballots: play.ballots,
                registered: play.registered,
            };
            (id.to_string(), ThresholdOutlook::assess(region.passes, &case))
        })
        .collect()
}

fn single_member(
    smd: &SingleMemberContest,
    index: &ContestIndex,
    nation: &LevelTotals,
    in_play: &InPlay,
    seed: &LotSeed,
) -> DistrictResult {
    let against_all = nation.against_all;
    let mut result = DistrictResult {
        district: smd.district.clone(),
        outcome: None,
        outlook: DistrictOutlook { in_play: in_play.clone(), decided: false },
    };
    if nation.stations_counted == 0 {
        return result;
    }
    let candidates: Vec<(CandidateId, u64)> = smd
        .candidates
        .iter()
        .filter_map(|c| {
            let i = *index.option_idx.get(&c.id)?;
            Some((CandidateId::new(&c.id).ok()?, nation.votes[i]))
        })
        .collect();
    let counted_against_all = if smd.fails_if_against_all_leads { against_all } else { 0 };
    let (Ok(votes), Ok(district)) = (
        DistrictVotes::new(candidates.clone(), counted_against_all),
        DistrictId::new(&smd.district),
    ) else {
        return result;
    };
    let outcome = decide_district(&district, &votes, seed);
    let w = in_play.ballots_in_play();
    let undisputed: Vec<(String, u64)> = candidates
        .iter()
        .map(|(id, v)| {
            let i = index.option_idx[id.as_str()];
            (id.to_string(), v - in_play.disputed_votes[i])
        })
        .collect();
    let aa = index.against_all.map_or(0, |a| against_all - in_play.disputed_votes[a]);
    result.outlook.decided = match &outcome {
        DistrictOutcome::Elected { winner, .. } => {
            let own = undisputed.iter().find(|(id, _)| id == winner.as_str()).map_or(0, |c| c.1);
            let others_pinned = undisputed
                .iter()
                .filter(|(id, _)| id != winner.as_str())
                .all(|(_, v)| u128::from(own) > u128::from(*v) + u128::from(w));
            let aa_pinned = !smd.fails_if_against_all_leads
                || u128::from(own) >= u128::from(aa) + u128::from(w);
            others_pinned && aa_pinned
        }
        DistrictOutcome::Failed { .. } => {
            let best = undisputed.iter().map(|(_, v)| *v).max().unwrap_or(0);
            smd.fails_if_against_all_leads && u128::from(aa) > u128::from(best) + u128::from(w)
                || (best == 0 && w == 0)
        }
    };
    result.outcome = Some(outcome);
    result
}
