//! The audit workflow, pure: from an audit's steps in the log (`sverka_model::audit`) and the tally
//! the manifest was taken from, everything an audit board and an observer need: the manifest and
//! its hash, the sample (recomputed from the seed, and checked against the draws the log records),
//! the risk (measured ALPHA p-value) of every assertion after the hand counts so far, and the
//! decision: confirmed, keep counting, next round, or a full hand count.
//!
//! Kind: batch-level comparison with polling stations as batches ([`crate::comparison`]): draw a
//! ballot uniformly with replacement from the manifest and hand-count its whole station
//! ([`crate::sampler::pps_station_draws`], cryptorandom's SHA-256 from the seed's digits), so
//! station `p` is drawn with probability `n_p / N`; the value of a drawn station for an assertion
//! is `B_p = (1 − ω̄_p/u)/(2 − v/u)`, and ALPHA (`t = 1/2`, sampling with replacement, the
//! truncated shrinkage estimator with `η₀ = (1 + u_B)/2`, SHANGRLA's defaults) gives its p-value.
//! The p-value uses the draws in draw order up to the first one not yet hand-counted, so which
//! stations were counted first cannot change it.
//!
//! **The manifest** (`sverka-audit-manifest/v1`, docs/formats.md §6) lists every station with a
//! reported count in the audited view at log size `as_of`: its ballots (the form's "took part",
//! the 2021 threshold base; at least valid + invalid), its votes per option, its invalid ballots,
//! and `unreturned` = ballots − valid − invalid (issued but not in the box). Unreturned ballots are
//! in the threshold base and vote for no one; an audit board cannot count them, so the hand
//! count's invalid kind adds the reported `unreturned` unchanged.
//!
//! Supported contests: party lists with a national threshold on "took part" and Hare, D'Hondt or
//! Sainte-Laguë seats (the 2021 race), with the assertions of
//! [`crate::contest::list_contest_assertions`] and regional threshold assertions; and
//! single-member districts, plurality with "against all" as one more candidate (SHANGRLA
//! `make_plurality_assertions`: the reported winner, or "against all" when the district failed,
//! against every other option). Anything else is refused with the reason.
//!
//! **Corrections.** A `hand_count_correction` replaces a station's hand count from its place in
//! the log on; the count it replaces stays in the log and in [`AuditStatus::corrections`].

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};
use sverka_model::audit::{
    parse_risk_limit, AuditDecision, AuditDefinition, AuditDraw, AuditManifest, AuditRisk,
    AuditStep, HandCount, ReportedView,
};
use sverka_model::election::{ContestKind, Election, ThresholdBase};
use sverka_tally::seats::{DistrictOutcome, FailureReason};
use sverka_tally::tabulate::{ListStatus, Outcome, ResultsConfig, Tally, View};

use crate::alpha::{AlphaTest, Estimator};
use crate::assertion::{Assertion, AssertionKind, Assorter, BallotKind, KindCounts};
use crate::comparison::ComparisonAssorter;
use crate::contest::{list_contest_assertions, plurality_assertions, ListContest, SeatMethod};
use crate::escalation::{decide, Decision, RiskLimit};
use crate::sample_size::comparison_sample_size;
use crate::sampler::{pps_station_draws, Sha256Prng};

/// The format name of the manifest document.
pub const MANIFEST_FORMAT: &str = "sverka-audit-manifest/v1";

/// Why an audit cannot be evaluated; each names what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error("audit {0:?} is not defined in the log")]
    NotDefined(String),
    #[error("audit {audit:?}: contest {contest:?} is not a contest of this election")]
    UnknownContest { audit: String, contest: String },
    #[error("audit {audit:?}: contest {contest:?} cannot be audited: {reason}")]
    Unsupported { audit: String, contest: String, reason: String },
    #[error("audit {audit:?}: the risk limit {value:?} is not a decimal in (0, 1)")]
    RiskLimit { audit: String, value: String },
    #[error("audit {audit:?}: no station has a reported count in the audited view")]
    EmptyManifest { audit: String },
    #[error(
        "audit {audit:?}: the manifest in entry {entry} commits to {committed}, but the log's \
         first {as_of} entries give {computed}"
    )]
    ManifestMismatch { audit: String, entry: u64, as_of: u64, committed: String, computed: String },
    #[error(
        "audit {audit:?}: the manifest in entry {entry} says {what} {committed}, the log gives \
         {computed}"
    )]
    ManifestCount { audit: String, entry: u64, what: &'static str, committed: u64, computed: u64 },
    #[error(
        "audit {audit:?}: draw {position} (round {round}, entry {entry}) is station {recorded:?}, \
         but the seed and the manifest give {computed:?}"
    )]
    DrawMismatch {
        audit: String,
        entry: u64,
        round: u64,
        position: u64,
        recorded: String,
        computed: String,
    },
    #[error("audit {audit:?}: the hand count of station {station:?} (entry {entry}): {reason}")]
    HandCount { audit: String, entry: u64, station: String, reason: String },
    #[error("audit {audit:?}: {detail}")]
    Statistics { audit: String, detail: String },
}

/// One station of the manifest: its reported numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    pub station: String,
    /// Ballots of the station: "took part", at least valid + invalid.
    pub ballots: u64,
    /// Votes per option, in the manifest's option order.
    pub votes: Vec<u64>,
    pub invalid: u64,
    /// Issued but not in the box: `ballots − valid − invalid`.
    pub unreturned: u64,
    /// The station's region (from the election definition; not part of the document).
    pub region: String,
}

/// One party's reported regional threshold results: `(region, passes)` per region.
type RegionPasses = Vec<(String, bool)>;

/// The reported outcome an audit checks.
#[derive(Debug, Clone, PartialEq)]
enum ReportedOutcome {
    /// A party-list race: seats per party (ballot order), the method, the national threshold, and
    /// the regional threshold's share with each party's reported pass or fail per region.
    List {
        seats: Vec<u32>,
        method: SeatMethod,
        threshold: f64,
        regional: Option<(f64, Vec<RegionPasses>)>,
    },
    /// A single-member district: the winner, or "against all" when the district failed.
    District { winner: BallotKind },
}

/// The manifest of an audit: the stations and their reported counts, and the reported outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub audit: String,
    pub contest: String,
    pub reported: ReportedView,
    pub as_of: u64,
    /// Party (or candidate) ids in ballot order, then `against_all` when the contest has it.
    pub options: Vec<String>,
    pub rows: Vec<ManifestRow>,
    outcome: ReportedOutcome,
    has_against_all: bool,
}

impl Manifest {
    /// All ballots on the manifest.
    pub fn ballots(&self) -> u64 {
        self.rows.iter().map(|r| r.ballots).sum()
    }

    /// The canonical bytes of the `sverka-audit-manifest/v1` document (RFC 8785).
    pub fn to_bytes(&self) -> Vec<u8> {
        let stations: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "station": r.station, "ballots": r.ballots, "votes": r.votes,
                    "invalid": r.invalid, "unreturned": r.unreturned,
                })
            })
            .collect();
        let document = serde_json::json!({
            "format": MANIFEST_FORMAT,
            "audit": self.audit,
            "contest": self.contest,
            "reported": view_name(self.reported),
            "as_of": self.as_of,
            "options": self.options,
            "stations": stations,
        });
        sverka_model::canonical::value_to_vec(&document).expect("counts are below 2^53")
    }

    /// SHA-256 (lower-case hex) of [`Manifest::to_bytes`]: what the `manifest` step commits to.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.to_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The `manifest` step committing to this manifest.
    pub fn step(&self) -> AuditManifest {
        AuditManifest {
            audit: self.audit.clone(),
            as_of: self.as_of,
            stations: self.rows.len() as u64,
            ballots: self.ballots(),
            manifest_sha256: self.sha256(),
        }
    }

    /// Parties or candidates: the options but "against all".
    fn n_parties(&self) -> usize {
        self.options.len() - usize::from(self.has_against_all)
    }

    /// The reported counts of a row as ballot kinds.
    fn reported_kinds(&self, row: &ManifestRow) -> KindCounts {
        let n = self.n_parties();
        let against_all = if self.has_against_all { row.votes[n] } else { 0 };
        KindCounts::new(&row.votes[..n], against_all, row.invalid + row.unreturned)
    }

    fn national(&self) -> KindCounts {
        let mut total = KindCounts::zeros(self.n_parties());
        for row in &self.rows {
            let kinds = self.reported_kinds(row);
            for (i, count) in kinds.as_slice().iter().enumerate() {
                let kind = match i {
                    i if i < self.n_parties() => BallotKind::Option(i),
                    i if i == self.n_parties() => BallotKind::AgainstAll,
                    _ => BallotKind::Invalid,
                };
                total.add(kind, *count);
            }
        }
        total
    }
}

fn view_name(view: ReportedView) -> &'static str {
    match view {
        ReportedView::Official => "official",
        ReportedView::Preliminary => "preliminary",
    }
}

/// The manifest of `define`'s audit from `tally`, the tally of the log's first `as_of` entries.
pub fn build_manifest(
    election: &Election,
    tally: &Tally,
    define: &AuditDefinition,
    as_of: u64,
) -> Result<Manifest, WorkflowError> {
    let audit = define.audit.clone();
    let unsupported = |reason: &str| WorkflowError::Unsupported {
        audit: audit.clone(),
        contest: define.contest.clone(),
        reason: reason.to_string(),
    };
    let contest = election.contest(&define.contest).ok_or_else(|| {
        WorkflowError::UnknownContest { audit: audit.clone(), contest: define.contest.clone() }
    })?;
    let view = match define.reported {
        ReportedView::Official => View::Official,
        ReportedView::Preliminary => View::Preliminary,
    };
    let results =
        tally.results_with(election, &ResultsConfig { stations: true, ..Default::default() });
    let contest_results = results.contest(&define.contest).ok_or_else(|| {
        WorkflowError::UnknownContest { audit: audit.clone(), contest: define.contest.clone() }
    })?;
    let reported = &contest_results.view(view).outcome;
    let outcome = match (&contest.kind, reported) {
        (ContestKind::PartyList(list), Outcome::PartyList(outcome)) => {
            list_outcome(list, outcome).map_err(|reason| unsupported(&reason))?
        }
        (ContestKind::SingleMember(_), Outcome::SingleMember(district)) => {
            district_outcome(district.outcome.as_ref(), &contest_results.options)
                .map_err(|reason| unsupported(&reason))?
        }
        _ => return Err(unsupported("the reported outcome is not of the contest's kind")),
    };
    let rows: Vec<ManifestRow> = contest_results
        .stations
        .iter()
        .filter(|s| s.annulled_by.is_empty())
        .filter_map(|s| {
            let counts = match view {
                View::Official => s.official.as_ref(),
                View::Preliminary => s.preliminary.as_ref(),
            }?;
            let ballots = counts.took_part.max(counts.valid + counts.invalid);
            Some(ManifestRow {
                region: s.region.clone(),
                station: s.station.clone(),
                ballots,
                votes: counts.votes.clone(),
                invalid: counts.invalid,
                unreturned: ballots - counts.valid - counts.invalid,
            })
        })
        .filter(|row| row.ballots > 0)
        .collect();
    if rows.is_empty() {
        return Err(WorkflowError::EmptyManifest { audit });
    }
    Ok(Manifest {
        audit,
        contest: define.contest.clone(),
        reported: define.reported,
        as_of,
        options: contest_results.options.clone(),
        rows,
        outcome,
        has_against_all: contest.against_all,
    })
}

/// The reported outcome of a list race, or why it cannot be audited.
fn list_outcome(
    list: &sverka_model::election::PartyListContest,
    outcome: &sverka_tally::tabulate::ListOutcome,
) -> Result<ReportedOutcome, String> {
    if list.threshold.base != ThresholdBase::TookPart || list.threshold.share.num == 0 {
        return Err("the audit needs a national threshold on the voters who took part".into());
    }
    if list.regional_threshold.as_ref().is_some_and(|r| r.base != ThresholdBase::TookPart) {
        return Err("the audit needs a regional threshold on the voters who took part".into());
    }
    let method = SeatMethod::try_from(list.method.into_tally()).map_err(|e| e.to_string())?;
    if outcome.status != ListStatus::Allocated {
        return Err("no seats are reported in the audited view yet".into());
    }
    if outcome.parties.iter().any(|p| p.passes_national && !p.qualified) {
        return Err("a list passes the national threshold but not a regional one; its seat \
                    assertions are not built yet"
            .into());
    }
    let regional = list.regional_threshold.as_ref().map(|r| {
        let share = r.share.num as f64 / r.share.den as f64;
        let per_party = outcome
            .parties
            .iter()
            .map(|p| p.regions.iter().map(|t| (t.region.clone(), t.passes)).collect())
            .collect();
        (share, per_party)
    });
    let share = &list.threshold.share;
    Ok(ReportedOutcome::List {
        seats: outcome.parties.iter().map(|p| p.seats).collect(),
        method,
        threshold: share.num as f64 / share.den as f64,
        regional,
    })
}

/// The reported winner of a single-member district (`against_all` when it failed that way), or
/// why it cannot be audited: a tie has no margin to confirm by sampling.
fn district_outcome(
    outcome: Option<&DistrictOutcome>,
    options: &[String],
) -> Result<ReportedOutcome, String> {
    match outcome {
        None => Err("no station of the district is counted in the audited view yet".into()),
        Some(DistrictOutcome::Elected { winner, tie, lead, lead_over_against_all, .. }) => {
            if tie.is_some() || *lead == 0 {
                return Err("the first place is tied (decided by lot): a tie cannot be \
                            confirmed by sampling, count every station"
                    .into());
            }
            if *lead_over_against_all == 0 {
                return Err("the winner and \"against all\" are tied: a tie cannot be \
                            confirmed by sampling, count every station"
                    .into());
            }
            let index = options
                .iter()
                .position(|o| o == winner.as_str())
                .ok_or_else(|| format!("the winner {} is not an option", winner.as_str()))?;
            Ok(ReportedOutcome::District { winner: BallotKind::Option(index) })
        }
        Some(DistrictOutcome::Failed { reason: FailureReason::AgainstAllAhead, .. }) => {
            Ok(ReportedOutcome::District { winner: BallotKind::AgainstAll })
        }
        Some(DistrictOutcome::Failed { reason: FailureReason::NoVotes, .. }) => {
            Err("no candidate has a vote: there is no outcome to confirm".into())
        }
    }
}

/// A conversion the workflow needs from the model's seat method to the tally's.
trait IntoTally {
    fn into_tally(self) -> sverka_tally::seats::Method;
}

impl IntoTally for sverka_model::election::Method {
    fn into_tally(self) -> sverka_tally::seats::Method {
        use sverka_model::election::Method as M;
        use sverka_tally::seats::Method as T;
        match self {
            M::Hare => T::Hare,
            M::Droop => T::Droop,
            M::Dhondt => T::DHondt,
            M::SainteLague => T::SainteLague,
        }
    }
}

/// The stations of draws `from..to` (0-based) of the sample: [`pps_station_draws`] from the seed's
/// digits over the manifest's ballots, in manifest order. The first `k` draws of a longer sample
/// are the `k` draws of a shorter one, so rounds extend the sample.
pub fn draws(manifest: &Manifest, seed: &str, from: u64, to: u64) -> Vec<String> {
    let sizes: Vec<u64> = manifest.rows.iter().map(|r| r.ballots).collect();
    let all = pps_station_draws(&mut Sha256Prng::new(seed), &sizes, to);
    all[from as usize..].iter().map(|&p| manifest.rows[p].station.clone()).collect()
}

/// One assertion's standing.
#[derive(Debug, Clone, PartialEq)]
pub struct AssertionRisk {
    /// What it claims, in words with the party ids.
    pub claim: String,
    /// The reported assorter margin `v`.
    pub margin: f64,
    /// The measured risk: the ALPHA p-value on the hand-counted draws (1 with fewer than two).
    pub p_value: f64,
    /// Draws before any hand count that this sample-size estimate expects to need.
    pub estimated_draws: u64,
    pub confirmed: bool,
}

/// Where the audit stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Defined; the manifest is next (`sverka audit manifest`).
    NeedsManifest,
    /// The manifest is in the log; the seed is next.
    NeedsSeed,
    /// The seed is in the log; draw the first round of this many draws.
    NeedsDraw { sample_size: u64 },
    /// Sampled stations still to be hand-counted (distinct, in draw order).
    Counting { stations: Vec<String> },
    /// Every assertion's risk is at most the risk limit: the reported outcome is confirmed.
    Confirmed,
    /// Not yet confirmed: draw another round, up to this many draws in all.
    Escalate { sample_size: u64 },
    /// Sampling would cost more than counting everything: count every station by hand.
    FullHandCount,
}

impl Stage {
    /// The stage as one word: `needs_manifest`, `needs_seed`, `needs_draw`, `counting`,
    /// `confirmed`, `escalate`, `full_hand_count`.
    pub fn code(&self) -> &'static str {
        match self {
            Stage::NeedsManifest => "needs_manifest",
            Stage::NeedsSeed => "needs_seed",
            Stage::NeedsDraw { .. } => "needs_draw",
            Stage::Counting { .. } => "counting",
            Stage::Confirmed => "confirmed",
            Stage::Escalate { .. } => "escalate",
            Stage::FullHandCount => "full_hand_count",
        }
    }
}

/// Everything `sverka audit status` and the audit page show.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditStatus {
    pub audit: String,
    pub contest: String,
    pub risk_limit: String,
    pub manifest: Option<Manifest>,
    pub seed: Option<String>,
    /// Rounds drawn: (round, sample size after it).
    pub rounds: Vec<(u64, u64)>,
    /// The largest risk of any assertion at the end of each round whose draws are all
    /// hand-counted: (round, that risk).
    pub round_risks: Vec<(u64, f64)>,
    /// Every draw so far, in order, and whether its station is hand-counted.
    pub draws: Vec<(String, bool)>,
    /// Stations hand-counted, with the log entry of the count in use (the newest correction, else
    /// the hand count).
    pub hand_counts: BTreeMap<String, u64>,
    /// Every correction of a hand count, in log order.
    pub corrections: Vec<CorrectionRecord>,
    /// Every `risk` step of the audit, in log order: `(entry, what it states)`.
    pub statements: Vec<(u64, AuditRisk)>,
    /// Every step of this audit in the log, in log order: `(entry, step)`; what the page lists.
    pub log: Vec<(u64, AuditStep)>,
    /// The hand counts in use that differ from the station's reported count, in manifest order:
    /// what the audit found (a planted or real discrepancy shows here).
    pub differences: Vec<CountDifference>,
    /// Draws used by the p-values (the counted prefix).
    pub draws_used: u64,
    pub assertions: Vec<AssertionRisk>,
    pub stage: Stage,
}

/// A correction of a hand count as the status shows it: the count it replaced stays visible.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionRecord {
    pub station: String,
    /// The log entry of the correction.
    pub entry: u64,
    /// The log entry of the count it replaces (the hand count or an earlier correction).
    pub replaces: u64,
    /// The replaced count: votes in the manifest's option order, then invalid ballots.
    pub old: (Vec<u64>, u64),
    /// The new count, the same way.
    pub new: (Vec<u64>, u64),
    pub reason: String,
}

/// A station whose hand count in use differs from its reported count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountDifference {
    pub station: String,
    /// The log entry of the hand count in use (the hand count or its newest correction).
    pub entry: u64,
    /// Each line that differs: `(option id or "invalid", reported, hand-counted)`, in manifest
    /// option order, then invalid.
    pub lines: Vec<(String, u64, u64)>,
}

/// The steps of one audit, found in log order: `(entry index, step)`.
pub fn steps_of(audit: &str, steps: &[(u64, AuditStep)]) -> Vec<(u64, AuditStep)> {
    steps.iter().filter(|(_, s)| s.audit() == audit).cloned().collect()
}

/// Evaluates one audit from its steps (log order) and `reported`, the tally of the log's first
/// `as_of` entries of its manifest (`None` before there is a manifest).
pub fn evaluate(
    election: &Election,
    reported: Option<&Tally>,
    audit: &str,
    steps: &[(u64, AuditStep)],
) -> Result<AuditStatus, WorkflowError> {
    let steps = steps_of(audit, steps);
    let define = steps
        .iter()
        .find_map(|(_, s)| match s {
            AuditStep::Define(d) => Some(d.clone()),
            _ => None,
        })
        .ok_or_else(|| WorkflowError::NotDefined(audit.to_string()))?;
    let alpha = parse_risk_limit(&define.risk_limit)
        .and_then(|share| RiskLimit::new(share.num as f64 / share.den as f64).ok())
        .ok_or_else(|| WorkflowError::RiskLimit {
            audit: audit.to_string(),
            value: define.risk_limit.clone(),
        })?;
    let mut status = AuditStatus {
        audit: audit.to_string(),
        contest: define.contest.clone(),
        risk_limit: define.risk_limit.clone(),
        manifest: None,
        seed: None,
        rounds: Vec::new(),
        round_risks: Vec::new(),
        draws: Vec::new(),
        hand_counts: BTreeMap::new(),
        corrections: Vec::new(),
        statements: steps
            .iter()
            .filter_map(|(i, s)| match s {
                AuditStep::Risk(r) => Some((*i, r.clone())),
                _ => None,
            })
            .collect(),
        log: steps.clone(),
        differences: Vec::new(),
        draws_used: 0,
        assertions: Vec::new(),
        stage: Stage::NeedsManifest,
    };
    let Some((manifest_entry, committed)) = steps.iter().find_map(|(i, s)| match s {
        AuditStep::Manifest(m) => Some((*i, m.clone())),
        _ => None,
    }) else {
        return Ok(status);
    };
    let tally = reported.ok_or_else(|| WorkflowError::Statistics {
        audit: audit.to_string(),
        detail: "the reported tally of the manifest was not given".into(),
    })?;
    let manifest = build_manifest(election, tally, &define, committed.as_of)?;
    check_manifest(&manifest, manifest_entry, &committed)?;
    let assertions = assertions_of(&manifest)?;
    let comparisons = comparison_assorters(&manifest, &assertions)?;
    let n_stations = manifest.rows.len() as u64;
    let estimates = estimates(audit, &comparisons, n_stations, alpha)?;
    status.assertions = assertions
        .iter()
        .zip(&comparisons)
        .zip(&estimates)
        .map(|((a, c), &estimated_draws)| AssertionRisk {
            claim: claim(a.assertion.kind(), &manifest.options, a.region.as_deref()),
            margin: c.margin(),
            p_value: 1.0,
            estimated_draws,
            confirmed: false,
        })
        .collect();
    status.manifest = Some(manifest.clone());
    status.stage = Stage::NeedsSeed;
    let Some(seed) = steps.iter().find_map(|(_, s)| match s {
        AuditStep::Seed(seed) => Some(seed.seed.clone()),
        _ => None,
    }) else {
        return Ok(status);
    };
    status.seed = Some(seed.clone());
    let first_round = estimates.iter().copied().max().unwrap_or(1).clamp(1, n_stations);
    status.stage = Stage::NeedsDraw { sample_size: first_round };
    let recorded: Vec<(u64, &AuditDraw)> = steps
        .iter()
        .filter_map(|(i, s)| match s {
            AuditStep::Draw(d) => Some((*i, d)),
            _ => None,
        })
        .collect();
    if recorded.is_empty() {
        return Ok(status);
    }
    let total = recorded.last().map_or(0, |(_, d)| d.sample_size);
    let computed = draws(&manifest, &seed, 0, total);
    let mut position = 0u64;
    for (entry, draw) in &recorded {
        status.rounds.push((draw.round, draw.sample_size));
        for station in &draw.draws {
            let expected = computed.get(position as usize).cloned().unwrap_or_default();
            if *station != expected {
                return Err(WorkflowError::DrawMismatch {
                    audit: audit.to_string(),
                    entry: *entry,
                    round: draw.round,
                    position: position + 1,
                    recorded: station.clone(),
                    computed: expected,
                });
            }
            position += 1;
        }
    }
    let (counts, corrections) = counts_in_use(&steps, &manifest.options);
    status.corrections = corrections;
    let counts: HashMap<&str, (u64, &HandCount)> =
        counts.iter().map(|(station, (i, h))| (station.as_str(), (*i, h))).collect();
    status.hand_counts = counts.iter().map(|(s, (i, _))| (s.to_string(), *i)).collect();
    status.differences = differences(&manifest, &counts);
    status.draws = computed.iter().map(|s| (s.clone(), counts.contains_key(s.as_str()))).collect();
    let used = computed.iter().take_while(|s| counts.contains_key(s.as_str())).count();
    status.draws_used = used as u64;
    let rows: HashMap<&str, &ManifestRow> =
        manifest.rows.iter().map(|r| (r.station.as_str(), r)).collect();
    let mut values_of_draws = Vec::with_capacity(used);
    for station in &computed[..used] {
        let (entry, hand) = counts[station.as_str()];
        let row = rows[station.as_str()];
        values_of_draws.push((row, hand_kinds(&manifest, row, hand, audit, entry)?));
    }
    for ((risk, cmp), audited) in status.assertions.iter_mut().zip(&comparisons).zip(&assertions) {
        let x: Vec<f64> = values_of_draws
            .iter()
            .map(|(row, hand)| audited.batch_value(cmp, row, &manifest.reported_kinds(row), hand))
            .collect();
        risk.p_value = p_value(cmp, &x);
        risk.confirmed = risk.p_value <= alpha.get();
        for (r, &(round, size)) in status.rounds.iter().enumerate() {
            if size as usize > x.len() {
                break;
            }
            let p = p_value(cmp, &x[..size as usize]);
            match status.round_risks.get_mut(r) {
                Some((_, worst)) => *worst = worst.max(p),
                None => status.round_risks.push((round, p)),
            }
        }
    }
    let p_values: Vec<f64> = status.assertions.iter().map(|a| a.p_value).collect();
    let mut to_count: Vec<String> = Vec::new();
    for (station, counted) in &status.draws {
        if !counted && !to_count.contains(station) {
            to_count.push(station.clone());
        }
    }
    status.stage = if p_values.iter().all(|&p| p <= alpha.get()) {
        Stage::Confirmed
    } else if !to_count.is_empty() {
        Stage::Counting { stations: to_count }
    } else {
        let doubled: Vec<u64> = estimates.iter().map(|&e| e.max(2 * total)).collect();
        match decide(&p_values, alpha, total, n_stations, &doubled) {
            Decision::Confirmed => Stage::Confirmed,
            Decision::Escalate { next_sample_size, .. } => {
                Stage::Escalate { sample_size: next_sample_size }
            }
            Decision::FullHandCount { .. } => Stage::FullHandCount,
        }
    };
    Ok(status)
}

/// The hand count in use per station (the newest correction, else the hand count) with its
/// entry, and every correction with the count it replaced.
fn counts_in_use(
    steps: &[(u64, AuditStep)],
    options: &[String],
) -> (HashMap<String, (u64, HandCount)>, Vec<CorrectionRecord>) {
    let as_row = |h: &HandCount| {
        let votes = options.iter().map(|o| h.votes.get(o).copied().unwrap_or(0)).collect();
        (votes, h.invalid)
    };
    let mut counts: HashMap<String, (u64, HandCount)> = HashMap::new();
    let mut corrections = Vec::new();
    for (entry, step) in steps {
        match step {
            AuditStep::HandCount(h) => {
                counts.entry(h.station.clone()).or_insert((*entry, h.clone()));
            }
            AuditStep::HandCountCorrection(c) => {
                let Some((replaces, old)) = counts.get(&c.station) else { continue };
                let new = HandCount {
                    audit: c.audit.clone(),
                    station: c.station.clone(),
                    votes: c.votes.clone(),
                    invalid: c.invalid,
                };
                corrections.push(CorrectionRecord {
                    station: c.station.clone(),
                    entry: *entry,
                    replaces: *replaces,
                    old: as_row(old),
                    new: as_row(&new),
                    reason: c.reason.clone(),
                });
                counts.insert(c.station.clone(), (*entry, new));
            }
            _ => {}
        }
    }
    (counts, corrections)
}

/// The stations whose hand count in use differs from the manifest's reported count, in manifest
/// order.
fn differences(
    manifest: &Manifest,
    counts: &HashMap<&str, (u64, &HandCount)>,
) -> Vec<CountDifference> {
    let mut out = Vec::new();
    for row in &manifest.rows {
        let Some(&(entry, hand)) = counts.get(row.station.as_str()) else { continue };
        let mut lines: Vec<(String, u64, u64)> = manifest
            .options
            .iter()
            .zip(&row.votes)
            .map(|(option, &reported)| {
                (option.clone(), reported, hand.votes.get(option).copied().unwrap_or(0))
            })
            .collect();
        lines.push(("invalid".to_string(), row.invalid, hand.invalid));
        lines.retain(|(_, reported, counted)| reported != counted);
        if !lines.is_empty() {
            out.push(CountDifference { station: row.station.clone(), entry, lines });
        }
    }
    out
}

/// The `risk` step stating the risks and the decision of `status` (every sampled station counted
/// and the stage confirmed, escalate or full hand count); `None` at any other stage.
pub fn risk_statement(status: &AuditStatus) -> Option<AuditRisk> {
    let decision = match status.stage {
        Stage::Confirmed => AuditDecision::Confirmed,
        Stage::Escalate { .. } => AuditDecision::Escalate,
        Stage::FullHandCount => AuditDecision::FullHandCount,
        _ => return None,
    };
    let &(round, _) = status.rounds.last()?;
    Some(AuditRisk {
        audit: status.audit.clone(),
        round,
        risks: status.assertions.iter().map(|a| format_risk(a.p_value)).collect(),
        decision,
    })
}

/// A risk as a `risk` step writes it: a decimal with 12 digits after the point.
pub fn format_risk(p: f64) -> String {
    format!("{:.12}", p.clamp(0.0, 1.0))
}

/// The next `draw` step of an audit in `status` (stage [`Stage::NeedsDraw`] or
/// [`Stage::Escalate`]), of `sample_size` draws in all (default: the stage's).
pub fn next_draw(status: &AuditStatus, sample_size: Option<u64>) -> Option<AuditDraw> {
    let target = match status.stage {
        Stage::NeedsDraw { sample_size: s } | Stage::Escalate { sample_size: s } => s,
        _ => return None,
    };
    let target = sample_size.unwrap_or(target);
    let (manifest, seed) = (status.manifest.as_ref()?, status.seed.as_ref()?);
    let so_far = status.rounds.last().map_or(0, |&(_, s)| s);
    if target <= so_far {
        return None;
    }
    Some(AuditDraw {
        audit: status.audit.clone(),
        round: status.rounds.last().map_or(1, |&(r, _)| r + 1),
        sample_size: target,
        draws: draws(manifest, seed, so_far, target),
    })
}

fn check_manifest(
    manifest: &Manifest,
    entry: u64,
    committed: &AuditManifest,
) -> Result<(), WorkflowError> {
    let audit = manifest.audit.clone();
    let computed = manifest.step();
    if computed.stations != committed.stations {
        return Err(WorkflowError::ManifestCount {
            audit,
            entry,
            what: "stations",
            committed: committed.stations,
            computed: computed.stations,
        });
    }
    if computed.ballots != committed.ballots {
        return Err(WorkflowError::ManifestCount {
            audit,
            entry,
            what: "ballots",
            committed: committed.ballots,
            computed: computed.ballots,
        });
    }
    if computed.manifest_sha256 != committed.manifest_sha256 {
        return Err(WorkflowError::ManifestMismatch {
            audit,
            entry,
            as_of: committed.as_of,
            committed: committed.manifest_sha256.clone(),
            computed: computed.manifest_sha256,
        });
    }
    Ok(())
}

/// An assertion and the region it is about (`None`: every ballot of the manifest).
struct Audited {
    assertion: Assertion,
    region: Option<String>,
}

impl Audited {
    /// `Σ_b A(b)` over one station's ballots: outside the assertion's region every ballot scores
    /// 1/2 (its linear weight is 0, and `A = (0 + a)/(2a)`).
    fn station_total(&self, row: &ManifestRow, kinds: &KindCounts) -> f64 {
        match &self.region {
            Some(region) if &row.region != region => kinds.total() as f64 / 2.0,
            _ => self.assertion.assorter().total(kinds).unwrap_or(f64::NAN),
        }
    }

    /// The batch comparison value of a station (`crate::comparison`, `B(ω̄_p)`); a hand count with
    /// more ballots than the manifest gives the worst value, 0.
    fn batch_value(
        &self,
        cmp: &ComparisonAssorter,
        row: &ManifestRow,
        reported: &KindCounts,
        hand: &KindCounts,
    ) -> f64 {
        if hand.total() > row.ballots {
            return 0.0;
        }
        let over = self.station_total(row, reported) - self.station_total(row, hand);
        cmp.value(over / row.ballots as f64).max(0.0)
    }
}

fn assertions_of(manifest: &Manifest) -> Result<Vec<Audited>, WorkflowError> {
    let statistics =
        |detail: String| WorkflowError::Statistics { audit: manifest.audit.clone(), detail };
    let (seats, method, threshold, regional) = match &manifest.outcome {
        ReportedOutcome::List { seats, method, threshold, regional } => {
            (seats, *method, *threshold, regional)
        }
        ReportedOutcome::District { winner } => {
            let national = manifest.national();
            let all = plurality_assertions(&national, *winner)
                .map_err(|e| statistics(format!("assertions: {e}")))?;
            // without an "against all" line nobody votes against all: nothing to assert
            return Ok(all
                .into_iter()
                .filter(|a| {
                    manifest.has_against_all
                        || !matches!(
                            a.kind(),
                            AssertionKind::Plurality { loser: BallotKind::AgainstAll, .. }
                        )
                })
                .map(|assertion| Audited { assertion, region: None })
                .collect());
        }
    };
    let contest = ListContest::new(manifest.national(), seats.clone(), method, threshold)
        .map_err(|e| statistics(format!("the reported outcome: {e}")))?;
    let national =
        list_contest_assertions(&contest).map_err(|e| statistics(format!("assertions: {e}")))?;
    let mut out: Vec<Audited> =
        national.into_iter().map(|assertion| Audited { assertion, region: None }).collect();
    let Some((share, per_party)) = regional else { return Ok(out) };
    let n_kinds = manifest.n_parties() + 2;
    for (party, regions) in per_party.iter().enumerate() {
        if seats[party] == 0 {
            continue; // below the national threshold: its national assertion settles it
        }
        for (region, passes) in regions {
            let (mine, others) =
                if *passes { (1.0 - share, -share) } else { (share - 1.0, *share) };
            let mut g = vec![others; n_kinds];
            g[party] = mine;
            let assorter = Assorter::from_linear(&g)
                .map_err(|e| statistics(format!("regional assertion: {e}")))?;
            let kind = if *passes {
                AssertionKind::ThresholdPass { option: party, threshold: *share }
            } else {
                AssertionKind::ThresholdFail { option: party, threshold: *share }
            };
            out.push(Audited {
                assertion: Assertion::new(kind, assorter),
                region: Some(region.clone()),
            });
        }
    }
    Ok(out)
}

/// The comparison assorter of each assertion, with its reported margin over the manifest.
fn comparison_assorters(
    manifest: &Manifest,
    assertions: &[Audited],
) -> Result<Vec<ComparisonAssorter>, WorkflowError> {
    let n = manifest.ballots() as f64;
    assertions
        .iter()
        .map(|a| {
            let total: f64 = manifest
                .rows
                .iter()
                .map(|row| a.station_total(row, &manifest.reported_kinds(row)))
                .sum();
            let margin = 2.0 * total / n - 1.0;
            ComparisonAssorter::new(a.assertion.assorter().clone(), margin).map_err(|e| {
                WorkflowError::Statistics {
                    audit: manifest.audit.clone(),
                    detail: format!("assertion {:?}: {e}", a.assertion.kind()),
                }
            })
        })
        .collect()
}

/// What a card-level comparison audit of the same reported outcome would cost, for a commission
/// weighing it against the batch-level audit: ballots to compare by hand against their cast vote
/// records, per assertion, sampling without replacement over the manifest's ballots, ALPHA as in
/// [`crate::sample_size`] with one-vote overstatements at `overstatement_rate` (SHANGRLA's
/// `find_sample_size`, as `benches/audit.rs` runs it). An estimate only: sverka records no cast
/// vote records, so it cannot run that audit.
pub fn card_level_estimates(
    status: &AuditStatus,
    overstatement_rate: f64,
) -> Result<Vec<u64>, WorkflowError> {
    let statistics =
        |detail: String| WorkflowError::Statistics { audit: status.audit.clone(), detail };
    let manifest =
        status.manifest.as_ref().ok_or_else(|| statistics("no manifest in the log yet".into()))?;
    let alpha = parse_risk_limit(&status.risk_limit)
        .and_then(|share| RiskLimit::new(share.num as f64 / share.den as f64).ok())
        .ok_or_else(|| statistics(format!("risk limit {:?}", status.risk_limit)))?;
    let n = manifest.ballots();
    let assertions = assertions_of(manifest)?;
    comparison_assorters(manifest, &assertions)?
        .iter()
        .map(|cmp| {
            let u = cmp.upper_bound();
            let test = AlphaTest::new(u, Some(n), 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0))
                .map_err(|e| statistics(format!("card-level test: {e}")))?;
            comparison_sample_size(&test, cmp, (overstatement_rate, 0.0), n, alpha)
                .map_err(|e| statistics(format!("card-level sample size: {e}")))
        })
        .collect()
}

fn test_for(cmp: &ComparisonAssorter) -> AlphaTest {
    let u = cmp.upper_bound();
    AlphaTest::new(u, None, 0.5, Estimator::shrink_trunc((1.0 + u) / 2.0))
        .expect("u = 2/(2 − v/u_A) > 1 for a positive margin")
}

/// Draws each assertion needs if every hand count matches (SHANGRLA's estimate with no
/// overstatements), at most the number of stations.
fn estimates(
    audit: &str,
    comparisons: &[ComparisonAssorter],
    n_stations: u64,
    alpha: RiskLimit,
) -> Result<Vec<u64>, WorkflowError> {
    comparisons
        .iter()
        .map(|cmp| {
            let max = n_stations.max(2);
            comparison_sample_size(&test_for(cmp), cmp, (0.0, 0.0), max, alpha)
                .map(|n| n.max(2))
                .map_err(|e| WorkflowError::Statistics {
                    audit: audit.to_string(),
                    detail: format!("sample size: {e}"),
                })
        })
        .collect()
}

fn p_value(cmp: &ComparisonAssorter, x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 1.0;
    }
    test_for(cmp).p_values(x).map_or(1.0, |p| p.p_value)
}

/// A hand count as ballot kinds; its invalid kind adds the station's reported unreturned ballots.
fn hand_kinds(
    manifest: &Manifest,
    row: &ManifestRow,
    hand: &HandCount,
    audit: &str,
    entry: u64,
) -> Result<KindCounts, WorkflowError> {
    let mut votes = Vec::with_capacity(manifest.options.len());
    for option in &manifest.options {
        let Some(&n) = hand.votes.get(option) else {
            return Err(WorkflowError::HandCount {
                audit: audit.to_string(),
                entry,
                station: row.station.clone(),
                reason: format!("no count for option {option:?}"),
            });
        };
        votes.push(n);
    }
    let n = manifest.n_parties();
    let against_all = if manifest.has_against_all { votes[n] } else { 0 };
    Ok(KindCounts::new(&votes[..n], against_all, hand.invalid + row.unreturned))
}

/// An assertion in words, with option ids.
fn claim(kind: &AssertionKind, options: &[String], region: Option<&str>) -> String {
    let base = claim_nationally(kind, options);
    match region {
        Some(region) => format!("{base} in region {region}"),
        None => base,
    }
}

fn claim_nationally(kind: &AssertionKind, options: &[String]) -> String {
    let name = |i: usize| options.get(i).cloned().unwrap_or_else(|| format!("option {i}"));
    let kind_name = |k: &BallotKind| match k {
        BallotKind::Option(i) => name(*i),
        BallotKind::AgainstAll => "against_all".to_string(),
        BallotKind::Invalid => "invalid".to_string(),
    };
    match kind {
        AssertionKind::ThresholdPass { option, threshold } => {
            format!("{} has at least {threshold} of the ballots", name(*option))
        }
        AssertionKind::ThresholdFail { option, threshold } => {
            format!("{} has less than {threshold} of the ballots", name(*option))
        }
        AssertionKind::LargestRemainder { winner, winner_seats, loser, loser_seats } => format!(
            "{}'s seat {winner_seats} beats {}'s seat {}",
            name(*winner),
            name(*loser),
            loser_seats + 1
        ),
        AssertionKind::HighestAverages { winner, winner_seats, loser, loser_seats, .. } => format!(
            "{}'s seat {winner_seats} beats {}'s seat {}",
            name(*winner),
            name(*loser),
            loser_seats + 1
        ),
        AssertionKind::Plurality { winner, loser } => {
            format!("{} has more votes than {}", kind_name(winner), kind_name(loser))
        }
    }
}

#[cfg(test)]
mod tests {
    //! The workflow on the tiny election with two stations reported: the manifest's bytes (written
    //! by hand from docs/formats.md §7.2), the stages in order, and a tampered manifest or draw
    //! named with its entry.

    use std::collections::BTreeMap;

    use sverka_model::audit::{AuditSeed, AuditStep, HandCountCorrection};
    use sverka_model::{Body, Payload, Protocol, Source, Submission};

    use super::*;

    const TINY: &str = include_str!("../../../examples/tiny/election.toml");

    fn protocol(station: &str, took_part: u64, votes: [u64; 4], invalid: u64) -> Submission {
        protocol_of(
            "list",
            ["sun", "river", "mountain", "against_all"],
            station,
            took_part,
            votes,
            invalid,
        )
    }

    fn protocol_of(
        contest: &str,
        names: [&str; 4],
        station: &str,
        took_part: u64,
        votes: [u64; 4],
        invalid: u64,
    ) -> Submission {
        let valid: u64 = votes.iter().sum();
        let lines: BTreeMap<String, u64> = [
            ("registered", 1000),
            ("ballots_received", took_part),
            ("issued_early", 0),
            ("issued_in_room", took_part),
            ("issued_outside", 0),
            ("cancelled", 0),
            ("in_portable_boxes", 0),
            ("in_stationary_boxes", valid + invalid),
            ("invalid", invalid),
            ("valid", valid),
            ("lost", 0),
            ("unaccounted", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let body = Body::Protocol(Protocol {
            station: station.into(),
            contest: contest.into(),
            source: Source::Manual,
            lines,
            votes: names.iter().zip(votes).map(|(k, v)| (k.to_string(), v)).collect(),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        });
        let payload = Payload {
            v: 1,
            election: "tiny".into(),
            signer: "op".into(),
            seq: 1,
            time: None,
            body,
        };
        Submission { payload, signature: String::new() }
    }

    fn setup() -> (Election, Tally) {
        let election = Election::from_toml("election.toml", TINY).unwrap();
        let mut tally = Tally::new(&election);
        tally.apply(1, &protocol("1001", 700, [400, 200, 60, 30], 5));
        tally.apply(2, &protocol("1002", 500, [100, 290, 50, 50], 10));
        (election, tally)
    }

    fn define() -> AuditDefinition {
        AuditDefinition {
            audit: "rla".into(),
            contest: "list".into(),
            risk_limit: "0.05".into(),
            kind: sverka_model::audit::AuditKind::BatchComparison,
            reported: ReportedView::Official,
        }
    }

    #[test]
    fn the_manifest_has_the_documented_bytes() {
        let (election, tally) = setup();
        let manifest = build_manifest(&election, &tally, &define(), 3).unwrap();
        let expected = concat!(
            r#"{"as_of":3,"audit":"rla","contest":"list","format":"sverka-audit-manifest/v1","#,
            r#""options":["sun","river","mountain","against_all"],"reported":"official","#,
            r#""stations":[{"ballots":700,"invalid":5,"station":"1001","unreturned":5,"#,
            r#""votes":[400,200,60,30]},{"ballots":500,"invalid":10,"station":"1002","#,
            r#""unreturned":0,"votes":[100,290,50,50]}]}"#
        );
        assert_eq!(String::from_utf8(manifest.to_bytes()).unwrap(), expected);
        assert_eq!(manifest.ballots(), 1200);
    }

    #[test]
    fn stages_follow_the_steps_and_tampering_is_named() {
        let (election, tally) = setup();
        let mut steps = vec![(3, AuditStep::Define(define()))];
        let status = evaluate(&election, None, "rla", &steps).unwrap();
        assert_eq!(status.stage, Stage::NeedsManifest);

        let manifest = build_manifest(&election, &tally, &define(), 3).unwrap();
        let mut forged = manifest.step();
        forged.manifest_sha256 = "00".repeat(32);
        let with_forged = [steps.clone(), vec![(4, AuditStep::Manifest(forged))]].concat();
        let error = evaluate(&election, Some(&tally), "rla", &with_forged).unwrap_err();
        assert!(matches!(error, WorkflowError::ManifestMismatch { entry: 4, .. }), "{error}");

        steps.push((4, AuditStep::Manifest(manifest.step())));
        let status = evaluate(&election, Some(&tally), "rla", &steps).unwrap();
        assert_eq!(status.stage, Stage::NeedsSeed);
        assert!(
            status.assertions.len() >= 4,
            "three thresholds, seat pairs, leader vs against all"
        );

        let seed = AuditSeed { audit: "rla".into(), seed: "20211128".into() };
        steps.push((5, AuditStep::Seed(seed)));
        let status = evaluate(&election, Some(&tally), "rla", &steps).unwrap();
        assert_eq!(status.stage, Stage::NeedsDraw { sample_size: 2 }, "at most the 2 stations");
        let draw = next_draw(&status, None).unwrap();
        assert_eq!((draw.round, draw.sample_size, draw.draws.len()), (1, 2, 2));

        let mut tampered = draw.clone();
        tampered.draws[0] = if draw.draws[0] == "1001" { "1002" } else { "1001" }.into();
        let with_tampered = [steps.clone(), vec![(6, AuditStep::Draw(tampered))]].concat();
        let error = evaluate(&election, Some(&tally), "rla", &with_tampered).unwrap_err();
        assert!(matches!(error, WorkflowError::DrawMismatch { entry: 6, position: 1, .. }));

        steps.push((6, AuditStep::Draw(draw.clone())));
        let status = evaluate(&election, Some(&tally), "rla", &steps).unwrap();
        let Stage::Counting { stations } = &status.stage else { panic!("{:?}", status.stage) };
        assert!(!stations.is_empty());
        // the hand counts agree with the protocols; two stations cannot reach 5 %
        let reported = [("1001", [400, 200, 60, 30], 5), ("1002", [100, 290, 50, 50], 10)];
        for (i, (station, votes, invalid)) in reported.iter().enumerate() {
            let names = ["sun", "river", "mountain", "against_all"];
            let count = HandCount {
                audit: "rla".into(),
                station: station.to_string(),
                votes: names.iter().zip(votes).map(|(k, v)| (k.to_string(), *v)).collect(),
                invalid: *invalid,
            };
            steps.push((7 + i as u64, AuditStep::HandCount(count)));
        }
        let status = evaluate(&election, Some(&tally), "rla", &steps).unwrap();
        assert_eq!(status.draws_used, 2);
        assert_eq!(status.stage, Stage::FullHandCount);
        assert_eq!(status.round_risks.len(), 1, "round 1 is fully counted");
        let worst = status.assertions.iter().map(|a| a.p_value).fold(0.0, f64::max);
        assert_eq!(status.round_risks[0], (1, worst));
        assert!(worst > 0.05);
    }

    const D1: [&str; 4] = ["d1-a", "d1-b", "d1-c", "against_all"];
    /// District 1's four stations: d1-a well ahead (reported).
    const D1_COUNTS: [(&str, [u64; 4], u64); 4] = [
        ("1001", [500, 100, 50, 40], 10),
        ("1002", [400, 120, 60, 10], 10),
        ("1003", [700, 200, 90, 0], 10),
        ("1004", [200, 50, 30, 10], 10),
    ];

    fn district_steps() -> (Election, Tally, Vec<(u64, AuditStep)>) {
        let election = Election::from_toml("election.toml", TINY).unwrap();
        let mut tally = Tally::new(&election);
        for (i, (station, votes, invalid)) in D1_COUNTS.iter().enumerate() {
            let took_part = votes.iter().sum::<u64>() + invalid;
            let p = protocol_of("smd-d1", D1, station, took_part, *votes, *invalid);
            tally.apply(1 + i as u64, &p);
        }
        let define = AuditDefinition { audit: "d1".into(), contest: "smd-d1".into(), ..define() };
        let manifest = build_manifest(&election, &tally, &define, 5).unwrap();
        let seed = AuditSeed { audit: "d1".into(), seed: "1234567890".into() };
        let steps = vec![
            (5, AuditStep::Define(define)),
            (6, AuditStep::Manifest(manifest.step())),
            (7, AuditStep::Seed(seed)),
        ];
        (election, tally, steps)
    }

    fn hand(station: &str, votes: [u64; 4], invalid: u64) -> HandCount {
        HandCount {
            audit: "d1".into(),
            station: station.into(),
            votes: D1.iter().zip(votes).map(|(k, v)| (k.to_string(), v)).collect(),
            invalid,
        }
    }

    #[test]
    fn a_district_is_audited_by_plurality_with_against_all_as_a_candidate() {
        let (election, tally, steps) = district_steps();
        let status = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
        let manifest = status.manifest.as_ref().unwrap();
        assert_eq!(manifest.options, D1);
        assert_eq!(manifest.rows.len(), 4);
        // winner d1-a against each other option; margin (v_w − v_l)/N over N = 700 + 600 + 1,000 + 300 = 2,600 ballots
        let claims: Vec<(&str, f64)> =
            status.assertions.iter().map(|a| (a.claim.as_str(), a.margin)).collect();
        let expected = [
            ("d1-a has more votes than d1-b", (1800.0 - 470.0) / 2600.0),
            ("d1-a has more votes than d1-c", (1800.0 - 230.0) / 2600.0),
            ("d1-a has more votes than against_all", (1800.0 - 60.0) / 2600.0),
        ];
        assert_eq!(claims.len(), expected.len());
        for ((claim, margin), (want_claim, want_margin)) in claims.iter().zip(expected) {
            assert_eq!(*claim, want_claim);
            assert!((margin - want_margin).abs() < 1e-12, "{claim}: {margin} vs {want_margin}");
        }
    }

    /// Runs the district audit's first round with every hand count equal to the protocol, except
    /// `changed`'s, which moves 400 of d1-a's ballots to d1-b.
    fn counted_district(changed: &str) -> (Election, Tally, Vec<(u64, AuditStep)>, AuditStatus) {
        let (election, tally, mut steps) = district_steps();
        let status = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
        let draw = next_draw(&status, Some(4)).unwrap();
        steps.push((8, AuditStep::Draw(draw.clone())));
        let mut entry = 9;
        let mut seen = Vec::new();
        for station in &draw.draws {
            if seen.contains(station) {
                continue;
            }
            seen.push(station.clone());
            let (_, mut votes, invalid) = *D1_COUNTS.iter().find(|c| c.0 == station).unwrap();
            if station == changed {
                votes[0] -= votes[0].min(400);
                votes[1] += 400;
            }
            steps.push((entry, AuditStep::HandCount(hand(station, votes, invalid))));
            entry += 1;
        }
        let status = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
        (election, tally, steps, status)
    }

    #[test]
    fn a_hand_count_that_differs_from_the_reported_count_is_listed_with_its_lines() {
        let (_, _, steps, right) = counted_district("none");
        assert!(right.differences.is_empty(), "{:?}", right.differences);
        let first = right.draws[0].0.clone();
        let (_, _, _, wrong) = counted_district(&first);
        let (_, votes, _) = *D1_COUNTS.iter().find(|c| c.0 == first).unwrap();
        assert_eq!(wrong.differences.len(), 1, "{:?}", wrong.differences);
        let found = &wrong.differences[0];
        assert_eq!(found.station, first);
        assert_eq!(found.entry, wrong.hand_counts[&first]);
        let moved = votes[0].min(400);
        let expected = vec![
            ("d1-a".to_string(), votes[0], votes[0] - moved),
            ("d1-b".to_string(), votes[1], votes[1] + moved),
        ];
        assert_eq!(found.lines, expected);
        // every step of the audit is kept with its entry, in log order
        let entries: Vec<u64> = wrong.log.iter().map(|(i, _)| *i).collect();
        assert_eq!(&entries[..4], &[5, 6, 7, 8]);
        assert_eq!(wrong.log.len(), steps.len());
    }

    #[test]
    fn card_level_estimates_need_fewer_ballots_for_wider_margins_and_never_more_than_all() {
        let (election, tally, steps) = district_steps();
        let status = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
        let cards = card_level_estimates(&status, 0.0).unwrap();
        assert_eq!(cards.len(), status.assertions.len());
        // margins (1,330, 1,570, 1,740 of 2,600 ballots): the widest needs the fewest ballots
        assert!(cards[0] >= cards[1] && cards[1] >= cards[2], "{cards:?}");
        assert!(cards.iter().all(|n| (1..2600).contains(n)), "{cards:?}");
        // misread ballots assumed: at least as many ballots
        let with_errors = card_level_estimates(&status, 0.01).unwrap();
        assert!(with_errors.iter().zip(&cards).all(|(e, c)| e >= c), "{with_errors:?}");
        let before_manifest = evaluate(&election, None, "d1", &steps[..1]).unwrap();
        assert!(card_level_estimates(&before_manifest, 0.0).is_err());
    }

    #[test]
    fn a_corrected_hand_count_replaces_the_old_one_which_stays_visible() {
        // the first station drawn gets a wrong hand count, then its correction
        let probe = {
            let (election, tally, steps) = district_steps();
            let status = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
            next_draw(&status, Some(4)).unwrap().draws[0].clone()
        };
        let (election, tally, mut steps, wrong) = counted_district(&probe);
        let (_, _, _, right) = counted_district("none");
        let worst = |s: &AuditStatus| s.assertions.iter().map(|a| a.p_value).fold(0.0, f64::max);
        assert!(worst(&wrong) > worst(&right), "the wrong count raises the risk");

        let (_, votes, invalid) = *D1_COUNTS.iter().find(|c| c.0 == probe).unwrap();
        let correction = HandCountCorrection {
            audit: "d1".into(),
            station: probe.clone(),
            votes: D1.iter().zip(votes).map(|(k, v)| (k.to_string(), v)).collect(),
            invalid,
            reason: "400 ballots were put on the wrong pile".into(),
        };
        let counted_at = wrong.hand_counts[&probe];
        steps.push((50, AuditStep::HandCountCorrection(correction)));
        let corrected = evaluate(&election, Some(&tally), "d1", &steps).unwrap();
        assert_eq!(corrected.hand_counts[&probe], 50, "the correction is the count in use");
        assert_eq!(corrected.corrections.len(), 1);
        let record = &corrected.corrections[0];
        assert_eq!((record.entry, record.replaces), (50, counted_at));
        assert_eq!(record.old.0[1], votes[1] + 400, "the old count is still shown");
        assert_eq!(record.new.0, votes.to_vec());
        assert_eq!(worst(&corrected), worst(&right), "the risk is recomputed from the correction");
    }

    #[test]
    fn stated_risks_are_recomputed_and_a_misstated_one_is_named() {
        use crate::verify::{check_audits, manifest_sizes};
        let (election, tally, mut steps, status) = counted_district("none");
        let statement = risk_statement(&status).expect("every sampled station is counted");
        assert_eq!(statement.risks.len(), 3);
        steps.push((60, AuditStep::Risk(statement.clone())));
        let tallies: std::collections::BTreeMap<u64, Tally> =
            manifest_sizes(&steps).into_iter().map(|n| (n, tally.clone())).collect();
        let checked = check_audits(&election, &steps, &tallies).unwrap();
        assert_eq!((checked.audits, checked.statements), (1, 1));

        let mut lowered = statement.clone();
        lowered.risks[0] = "0.000000000001".into();
        let mut forged = steps.clone();
        forged.last_mut().unwrap().1 = AuditStep::Risk(lowered);
        let error = check_audits(&election, &forged, &tallies).unwrap_err();
        assert_eq!(error.entry, 60, "{error}");
        assert!(error.detail.contains("assertion 1"), "{error}");

        let mut decided = statement.clone();
        decided.decision = match statement.decision {
            AuditDecision::Confirmed => AuditDecision::Escalate,
            _ => AuditDecision::Confirmed,
        };
        forged.last_mut().unwrap().1 = AuditStep::Risk(decided);
        let error = check_audits(&election, &forged, &tallies).unwrap_err();
        assert!(error.detail.contains("decision"), "{error}");

        // a draw entry that is not what the seed gives is the first mismatch, before the risk
        let mut tampered = steps.clone();
        let AuditStep::Draw(draw) = &mut tampered[3].1 else { panic!("entry 8 is the draw") };
        draw.draws[1] = if draw.draws[1] == "1001" { "1002" } else { "1001" }.into();
        let error = check_audits(&election, &tampered, &tallies).unwrap_err();
        assert_eq!(error.entry, 8, "{error}");
    }
}
