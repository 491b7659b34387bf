//! The vote model: how many voters take part at each station, how the ballots split over the form's
//! lines, and how the votes split over parties, candidates and "against all".
//!
//! National targets (turnout, party shares of took part) come from the [`Profile`]; regions get their
//! own turnout and party shares around the national ones (a multiplicative factor per region and
//! option, then iterative proportional fitting so the turnout-weighted regional shares add back up to
//! the national targets exactly); every station varies again around its region. Counts are integers
//! from the start: floats only ever decide weights, and largest-remainder rounding turns them into
//! counts that add up exactly.
//!
//! Each number is a pure function of (seed, station, contest): the machine, manual and observer
//! protocols of one station recompute the same numbers independently, in any order, on any thread.

use std::collections::BTreeMap;

use crate::election::{Contest, ContestKind, Election, Form};
use crate::form::{LinearExpr, Relation};

use super::geography::SimStation;
use super::profile::Profile;
use super::rng::{apportion, Streams};
use super::SimulateError;

/// What a form line means, as far as the simulator fills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    Registered,
    BallotsReceived,
    IssuedEarly,
    IssuedInRoom,
    IssuedOutside,
    Cancelled,
    InPortable,
    InStationary,
    Invalid,
    Valid,
    Lost,
    Unaccounted,
}

/// The line ids the simulator knows how to fill besides the form's registered/valid/invalid lines
/// (the Russian-analogue form of the examples).
const KNOWN_LINES: [(&str, LineKind); 9] = [
    ("ballots_received", LineKind::BallotsReceived),
    ("issued_early", LineKind::IssuedEarly),
    ("issued_in_room", LineKind::IssuedInRoom),
    ("issued_outside", LineKind::IssuedOutside),
    ("cancelled", LineKind::Cancelled),
    ("in_portable_boxes", LineKind::InPortable),
    ("in_stationary_boxes", LineKind::InStationary),
    ("lost", LineKind::Lost),
    ("unaccounted", LineKind::Unaccounted),
];

/// A protocol form as the simulator uses it.
#[derive(Clone, Debug)]
pub(crate) struct SimForm {
    pub line_ids: Vec<String>,
    pub kinds: Vec<LineKind>,
    pub relations: Vec<Relation>,
    pub took_part: LinearExpr,
}

impl SimForm {
    fn new(form: &Form) -> Result<SimForm, SimulateError> {
        let kinds = form
            .lines
            .iter()
            .map(|line| {
                let id = line.id.as_str();
                if id == form.registered {
                    return Ok(LineKind::Registered);
                }
                if id == form.valid {
                    return Ok(LineKind::Valid);
                }
                if id == form.invalid {
                    return Ok(LineKind::Invalid);
                }
                KNOWN_LINES.iter().find(|(known, _)| *known == id).map(|(_, k)| *k).ok_or_else(
                    || SimulateError::UnsupportedForm {
                        form: form.id.clone(),
                        message: format!(
                            "line {id:?} is not one the simulator can fill (it fills the form's registered, valid and invalid lines and {})",
                            KNOWN_LINES.map(|(id, _)| id).join(", ")
                        ),
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimForm {
            line_ids: form.lines.iter().map(|l| l.id.clone()).collect(),
            kinds,
            relations: form.relations.clone(),
            took_part: form.took_part.clone(),
        })
    }

    /// The lines of a protocol by id, as [`Relation::check`] reads them.
    pub(crate) fn lines_map(&self, numbers: &Numbers) -> BTreeMap<String, u64> {
        self.line_ids.iter().cloned().zip(numbers.lines.iter().copied()).collect()
    }

    /// The relations that fail on these numbers.
    pub(crate) fn failing(&self, numbers: &Numbers) -> Vec<&Relation> {
        let lines = self.lines_map(numbers);
        let sum: u64 = numbers.votes.iter().sum();
        self.relations.iter().filter(|r| !r.check(&lines, sum).0).collect()
    }
}

/// One protocol's numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Numbers {
    /// In form line order.
    pub lines: Vec<u64>,
    /// In the contest's option order ([`Contest::option_ids`]).
    pub votes: Vec<u64>,
    /// Per party (list contests, when asked for), per candidate in list order; empty otherwise.
    pub preferences: Vec<Vec<u64>>,
}

/// One party's candidates as preference votes see them.
#[derive(Clone, Debug)]
pub(crate) struct PartyPreferences {
    /// The party's position among the contest's options.
    pub option: usize,
    pub candidate_ids: Vec<String>,
    /// Per region, each candidate's pull: falls with the square of the list position (most voters
    /// mark a leader), five times stronger in the candidate's home region.
    weights_by_region: Vec<Vec<f64>>,
}

#[derive(Clone, Debug)]
pub(crate) enum SimKind {
    /// Shares of took part per region: options then "invalid" last.
    PartyList { region_shares: Vec<Vec<f64>>, parties: Vec<PartyPreferences> },
    /// Shares of took part in the district: options then "invalid" last.
    SingleMember { shares: Vec<f64> },
}

/// A contest as the simulator uses it.
#[derive(Clone, Debug)]
pub(crate) struct SimContest {
    pub id: String,
    /// Index into [`Model::forms`].
    pub form: usize,
    pub options: Vec<String>,
    pub kind: SimKind,
}

/// The model of one simulated election.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    streams: Streams,
    pub forms: Vec<SimForm>,
    pub contests: Vec<SimContest>,
    /// Per district, the positions in `contests` of its single-member races.
    district_contests: Vec<Vec<u16>>,
    /// The positions in `contests` of the party-list races (every station votes in them).
    list_contests: Vec<u16>,
    /// Took part / registered per region.
    region_turnout: Vec<f64>,
}

impl Model {
    pub(crate) fn new(
        election: &Election,
        stations: &[SimStation],
        profile: &Profile,
        streams: &Streams,
    ) -> Result<Model, SimulateError> {
        check_profile_ids(election, profile)?;
        let forms: Vec<SimForm> =
            election.forms.iter().map(SimForm::new).collect::<Result<_, _>>()?;
        let region_turnout = region_turnout(election, stations, profile, streams);
        let mut region_weight = vec![0.0; election.regions.len()];
        for s in stations {
            region_weight[s.region as usize] +=
                s.registered as f64 * region_turnout[s.region as usize];
        }
        let mut contests = Vec::new();
        let mut district_contests = vec![Vec::new(); election.districts.len()];
        let mut list_contests = Vec::new();
        for (index, contest) in election.contests.iter().enumerate() {
            let form = election.forms.iter().position(|f| f.id == contest.form).expect("validated");
            let kind = match &contest.kind {
                ContestKind::PartyList(list) => {
                    list_contests.push(contests.len() as u16);
                    let targets = list_targets(contest, profile, streams);
                    SimKind::PartyList {
                        region_shares: fit_regions(&targets, &region_weight, streams, index),
                        parties: list
                            .parties
                            .iter()
                            .enumerate()
                            .map(|(option, party)| {
                                party_preferences(option, party, election.regions.len(), streams)
                            })
                            .collect(),
                    }
                }
                ContestKind::SingleMember(smd) => {
                    let district = election
                        .districts
                        .iter()
                        .position(|d| d.id == smd.district)
                        .expect("validated");
                    district_contests[district].push(contests.len() as u16);
                    SimKind::SingleMember {
                        shares: district_targets(contest, &smd.district, profile, streams, index),
                    }
                }
            };
            contests.push(SimContest {
                id: contest.id.clone(),
                form,
                options: contest.option_ids().iter().map(|s| s.to_string()).collect(),
                kind,
            });
        }
        Ok(Model {
            streams: streams.clone(),
            forms,
            contests,
            district_contests,
            list_contests,
            region_turnout,
        })
    }

    /// The positions in [`Model::contests`] of the races a station votes in, in contest order.
    pub(crate) fn contests_of(&self, station: &SimStation) -> Vec<u16> {
        let mut out = self.list_contests.clone();
        if !station.abroad {
            out.extend_from_slice(&self.district_contests[station.district as usize]);
        }
        out.sort_unstable();
        out
    }

    /// Voters who took part at a station (the party-list ballots issued).
    fn took_part(&self, station_index: u32, station: &SimStation) -> u64 {
        let mut rng = self.streams.stream("turnout", u64::from(station_index));
        let turnout =
            (self.region_turnout[station.region as usize] * rng.factor(0.15, 0.2)).min(0.97);
        ((station.registered as f64 * turnout + 0.5) as u64).min(station.registered)
    }

    /// The true numbers of one station's protocol for one contest (position in `contests`).
    pub(crate) fn numbers(
        &self,
        station_index: u32,
        station: &SimStation,
        contest: u16,
        with_preferences: bool,
    ) -> Numbers {
        let sim = &self.contests[contest as usize];
        let stream = u64::from(station_index) * self.contests.len() as u64 + u64::from(contest);
        let mut rng = self.streams.stream("count", stream);
        let mut took_part = self.took_part(station_index, station);
        let base = match &sim.kind {
            SimKind::PartyList { region_shares, .. } => &region_shares[station.region as usize],
            SimKind::SingleMember { shares, .. } => {
                // A few voters take only the party-list ballot.
                took_part -= rng.below(3).min(took_part);
                shares
            }
        };
        let registered = station.registered;
        let received = registered + (registered as f64 * 0.02 * rng.uniform()) as u64;
        let early = (took_part as f64 * 0.006 * rng.uniform()) as u64;
        let outside =
            ((took_part as f64 * (0.01 + 0.04 * rng.uniform())) as u64).min(took_part - early);
        let in_room = took_part - early - outside;
        let lost = u64::from(received > took_part && rng.chance(0.003));
        let unaccounted = u64::from(rng.chance(0.002));
        let cancelled = received - took_part - lost + unaccounted;
        // Now and then a voter walks off with the ballot: issued, never in a box.
        let taken = if in_room > 0 && rng.chance(0.15) { 1 + rng.below(in_room.min(3)) } else { 0 };
        let in_boxes = took_part - taken;

        let weights: Vec<f64> = base.iter().map(|s| s * rng.factor(0.2, 0.05)).collect();
        let mut counts = Vec::with_capacity(weights.len());
        apportion(in_boxes, &weights, &mut counts);
        let invalid = counts.pop().expect("the invalid category");
        let valid: u64 = counts.iter().sum();

        let form = &self.forms[sim.form];
        let lines = form
            .kinds
            .iter()
            .map(|kind| match kind {
                LineKind::Registered => registered,
                LineKind::BallotsReceived => received,
                LineKind::IssuedEarly => early,
                LineKind::IssuedInRoom => in_room,
                LineKind::IssuedOutside => outside,
                LineKind::Cancelled => cancelled,
                LineKind::InPortable => outside,
                LineKind::InStationary => early + in_room - taken,
                LineKind::Invalid => invalid,
                LineKind::Valid => valid,
                LineKind::Lost => lost,
                LineKind::Unaccounted => unaccounted,
            })
            .collect();
        let preferences = match &sim.kind {
            SimKind::PartyList { parties, .. } if with_preferences => {
                self.preferences(stream, station, parties, &counts)
            }
            _ => Vec::new(),
        };
        Numbers { lines, votes: counts, preferences }
    }

    /// Preference votes: most of a party's voters mark one of its candidates, mostly near the top of
    /// the list and mostly candidates from their own region. At most the party's votes.
    fn preferences(
        &self,
        stream: u64,
        station: &SimStation,
        parties: &[PartyPreferences],
        votes: &[u64],
    ) -> Vec<Vec<u64>> {
        let mut rng = self.streams.stream("preferences", stream);
        let marking = 0.55 + 0.3 * rng.uniform();
        let mut weights = Vec::new();
        parties
            .iter()
            .map(|party| {
                let marks = (votes[party.option] as f64 * marking) as u64;
                let mut out = Vec::with_capacity(party.candidate_ids.len());
                if marks == 0 {
                    out.resize(party.candidate_ids.len(), 0);
                    return out;
                }
                weights.clear();
                for pulls in party.weights_by_region[station.region as usize].chunks(4) {
                    let jitter = rng.coarse4();
                    weights.extend(pulls.iter().zip(jitter).map(|(w, j)| w * (0.6 + 0.8 * j)));
                }
                apportion(marks, &weights, &mut out);
                out
            })
            .collect()
    }
}

fn check_profile_ids(election: &Election, profile: &Profile) -> Result<(), SimulateError> {
    let parties: Vec<&str> = election
        .contests
        .iter()
        .filter_map(|c| match &c.kind {
            ContestKind::PartyList(list) => Some(list.parties.iter().map(|p| p.id.as_str())),
            ContestKind::SingleMember(_) => None,
        })
        .flatten()
        .collect();
    let unknown = |what: &str, id: &str| {
        SimulateError::Profile(format!("{what} {id:?} is not in the election definition"))
    };
    if let Some(id) = profile.parties.keys().find(|id| !parties.contains(&id.as_str())) {
        return Err(unknown("party", id));
    }
    if let Some(id) = profile.region_turnout.keys().find(|id| election.region(id).is_none()) {
        return Err(unknown("region", id));
    }
    if let Some(id) = profile.district_against_all.keys().find(|id| election.district(id).is_none())
    {
        return Err(unknown("district", id));
    }
    Ok(())
}

/// Took part / registered per region: the profile's relative factors (or a random spread), scaled so
/// that the registered-weighted national turnout is the target.
fn region_turnout(
    election: &Election,
    stations: &[SimStation],
    profile: &Profile,
    streams: &Streams,
) -> Vec<f64> {
    let national = profile.turnout.unwrap_or(0.55);
    let factors: Vec<f64> = election
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| match profile.region_turnout.get(&r.id) {
            Some(f) => *f,
            None => streams.stream("region-turnout", i as u64).factor(0.12, 0.5),
        })
        .collect();
    let mut registered = vec![0.0; factors.len()];
    for s in stations {
        registered[s.region as usize] += s.registered as f64;
    }
    let total: f64 = registered.iter().sum();
    let weighted: f64 = registered.iter().zip(&factors).map(|(r, f)| r * f).sum();
    let scale = if weighted > 0.0 { national * total / weighted } else { national };
    factors.iter().map(|f| (f * scale).min(0.95)).collect()
}

/// National shares of took part for a party-list race: options (parties, then "against all") and
/// "invalid" last.
fn list_targets(contest: &Contest, profile: &Profile, streams: &Streams) -> Vec<f64> {
    let ContestKind::PartyList(list) = &contest.kind else { unreachable!("a party-list contest") };
    let against_all = if contest.against_all { profile.against_all.unwrap_or(0.02) } else { 0.0 };
    let mut shares: Vec<f64> = if profile.parties.is_empty() {
        // No profile: a few big parties and a long tail, in a seeded order.
        let n = list.parties.len();
        let order = streams.stream("default-shares", 0).sample(n, n);
        let mut weights = vec![0.0; n];
        for (rank, &party) in order.iter().enumerate() {
            weights[party as usize] = 1.0 / (rank as f64 + 1.5);
        }
        let sum: f64 = weights.iter().sum();
        weights.iter().map(|w| w / sum * (0.95 - against_all)).collect()
    } else {
        list.parties.iter().map(|p| profile.parties.get(&p.id).copied().unwrap_or(0.002)).collect()
    };
    if contest.against_all {
        shares.push(against_all);
    }
    let used: f64 = shares.iter().sum();
    if used > 0.99 {
        shares.iter_mut().for_each(|s| *s *= 0.99 / used);
    }
    let used: f64 = shares.iter().sum();
    shares.push(1.0 - used);
    shares
}

/// Regional shares around the national targets: a factor per region and option, then iterative
/// proportional fitting so that the regions, weighted by their expected took part, add up to the
/// targets again and every region's shares sum to one.
fn fit_regions(
    targets: &[f64],
    weights: &[f64],
    streams: &Streams,
    contest: usize,
) -> Vec<Vec<f64>> {
    let n_regions = weights.len();
    let last = targets.len() - 1;
    let mut shares: Vec<Vec<f64>> = (0..n_regions)
        .map(|r| {
            let mut rng = streams.stream("region-shares", (contest * 4096 + r) as u64);
            targets
                .iter()
                .enumerate()
                .map(|(o, t)| {
                    t * if o == last { rng.factor(0.2, 0.3) } else { rng.factor(0.35, 0.15) }
                })
                .collect()
        })
        .collect();
    let total_weight: f64 = weights.iter().sum();
    if total_weight <= 0.0 {
        return shares;
    }
    for _ in 0..60 {
        for (o, target) in targets.iter().enumerate() {
            let national: f64 =
                shares.iter().zip(weights).map(|(s, w)| s[o] * w).sum::<f64>() / total_weight;
            if national > 0.0 {
                shares.iter_mut().for_each(|s| s[o] *= target / national);
            }
        }
        for s in shares.iter_mut() {
            let sum: f64 = s.iter().sum();
            s.iter_mut().for_each(|x| *x /= sum);
        }
    }
    shares
}

/// Shares of took part in a single-member race: candidates (a leader or two and a tail), "against
/// all" (the profile's figure for the district, else a few percent), and about 3% invalid.
fn district_targets(
    contest: &Contest,
    district: &str,
    profile: &Profile,
    streams: &Streams,
    index: usize,
) -> Vec<f64> {
    let ContestKind::SingleMember(smd) = &contest.kind else { unreachable!("a district contest") };
    let mut rng = streams.stream("district-shares", index as u64);
    let against_all = if contest.against_all {
        profile.district_against_all.get(district).copied().unwrap_or(0.02 + 0.03 * rng.uniform())
    } else {
        0.0
    };
    let invalid = 0.03;
    let weights: Vec<f64> = smd
        .candidates
        .iter()
        .map(|_| {
            let u = rng.uniform();
            0.05 + u * u
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut shares: Vec<f64> =
        weights.iter().map(|w| w / sum * (1.0 - against_all - invalid)).collect();
    if contest.against_all {
        shares.push(against_all);
    }
    shares.push(invalid);
    shares
}

fn party_preferences(
    option: usize,
    party: &crate::election::Party,
    n_regions: usize,
    streams: &Streams,
) -> PartyPreferences {
    let mut rng = streams.stream("home-region", option as u64);
    let homes: Vec<u64> =
        party.candidates.iter().map(|_| rng.below(n_regions.max(1) as u64)).collect();
    let weights_by_region = (0..n_regions as u64)
        .map(|region| {
            party
                .candidates
                .iter()
                .zip(&homes)
                .map(|(c, home)| {
                    let position = f64::from(c.position.max(1));
                    let pull = 1.0 / (position * position);
                    if *home == region {
                        pull * 5.0
                    } else {
                        pull
                    }
                })
                .collect()
        })
        .collect();
    PartyPreferences {
        option,
        candidate_ids: party.candidates.iter().map(|c| c.id.clone()).collect(),
        weights_by_region,
    }
}
