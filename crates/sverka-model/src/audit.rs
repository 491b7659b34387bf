//! The risk-limiting audit workflow as log entries (issue 7): every step of an audit is a signed
//! submission of `type` `audit`, so the audit is as public and as tamper-evident as the results it
//! checks. The mathematics (assertions, the sampler, ALPHA) is `sverka-audit`'s; this module only
//! says what each step records, in which order steps may come, and keeps that order as a fold over
//! the log ([`AuditBook`]). The format is docs/formats.md §1.3 (`audit`) and §6.
//!
//! The steps of one audit, each an entry signed by a CEC admin key, in this order:
//!
//! 1. `define`: the audit's id, the contest, the risk limit (an exact decimal such as `"0.05"`),
//!    the kind (`batch_comparison`: polling stations are the batches) and which reported view
//!    it checks (`official` or `preliminary`);
//! 2. `manifest`: the stations and their reported counts, committed by the SHA-256 of the
//!    `sverka-audit-manifest/v1` document computed from the log's first `as_of` entries (anyone
//!    recomputes it from the log);
//! 3. `seed`: the public random seed (e.g. dice digits), accepted only once the manifest is in the
//!    log, so the seed cannot have been chosen knowing the manifest;
//! 4. `draw`, one per round: the stations drawn in that round, in draw order, which anyone
//!    recomputes from the seed and the manifest;
//! 5. `hand_count`, one per sampled station: what the audit board counted by hand;
//!    `hand_count_correction`: a later count of a station already counted, with its reason (the
//!    count it replaces stays in the log, and the risk is recomputed from the newest count);
//! 6. `risk`, once every sampled station is counted: the risk of every assertion and the decision
//!    (`confirmed`, `escalate`, `full_hand_count`) the commission states.
//!
//! The risk of every assertion and the decision are a pure function of these entries and the log,
//! computed by `sverka_audit::workflow`. The `risk` step records what the commission states, at a
//! known place in the log; `sverka verify` recomputes it (`sverka_audit::verify`) and fails on a
//! stated risk or decision the data do not support, as on a draw the seed does not give.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::election::{Election, Share};
use crate::names::is_valid_id;
use crate::validate::Finding;

/// The most decimal digits a seed may have.
pub const MAX_SEED_DIGITS: usize = 64;

/// One step of an audit: the members beside `"type": "audit"`, told apart by `step`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum AuditStep {
    Define(AuditDefinition),
    Manifest(AuditManifest),
    Seed(AuditSeed),
    Draw(AuditDraw),
    HandCount(HandCount),
    HandCountCorrection(HandCountCorrection),
    Risk(AuditRisk),
}

/// What kind of audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Batch-level comparison: polling stations are the batches, drawn with probability
    /// proportional to their ballots, each compared with its hand count.
    BatchComparison,
}

/// Which reported results an audit checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedView {
    /// Recount, else the commission's hand count: the result with legal force.
    Official,
    /// Recount, else hand count, else machine: election night's result.
    Preliminary,
}

/// `define`: starts an audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDefinition {
    /// The audit's id, unique in the log; every later step names it.
    pub audit: String,
    /// The contest audited.
    pub contest: String,
    /// The risk limit: an exact decimal in (0, 1), e.g. `"0.05"`.
    pub risk_limit: String,
    pub kind: AuditKind,
    pub reported: ReportedView,
}

/// `manifest`: the stations and their reported counts, committed by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditManifest {
    pub audit: String,
    /// The reported counts are those of the log's first `as_of` entries.
    pub as_of: u64,
    /// Stations on the manifest (those with reported counts in the audited view).
    pub stations: u64,
    /// Ballots on the manifest, all stations together.
    pub ballots: u64,
    /// SHA-256 (lower-case hex) of the `sverka-audit-manifest/v1` document.
    pub manifest_sha256: String,
}

/// `seed`: the public random seed, committed after the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSeed {
    pub audit: String,
    /// Decimal digits (1 to [`MAX_SEED_DIGITS`]), e.g. twenty rolls of a ten-sided die.
    pub seed: String,
}

/// `draw`: the stations drawn in one round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDraw {
    pub audit: String,
    /// 1 for the first round, then 2, 3, …
    pub round: u64,
    /// Draws so far, this round's included.
    pub sample_size: u64,
    /// The station of each draw of this round, in draw order (a station may be drawn again).
    pub draws: Vec<String>,
}

/// `hand_count`: what the audit board counted by hand at one sampled station.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandCount {
    pub audit: String,
    pub station: String,
    /// Every vote option of the contest ("against all" included), option id → ballots.
    pub votes: BTreeMap<String, u64>,
    /// Invalid and blank ballots.
    pub invalid: u64,
}

/// `hand_count_correction`: a new hand count of a station already counted, replacing the count
/// the risk uses from here on; the count it replaces stays in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandCountCorrection {
    pub audit: String,
    pub station: String,
    /// Every vote option of the contest ("against all" included), option id → ballots.
    pub votes: BTreeMap<String, u64>,
    /// Invalid and blank ballots.
    pub invalid: u64,
    /// Why the count is corrected, in words: "ballots of a second box found, board decision 7".
    pub reason: String,
}

/// The decision a `risk` step states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditDecision {
    /// Every assertion's risk is at most the risk limit: the reported outcome stands.
    Confirmed,
    /// Not confirmed: another round is drawn.
    Escalate,
    /// Not confirmed, and sampling would cost more than counting: every station is hand-counted.
    FullHandCount,
}

/// `risk`: the risk of every assertion once every sampled station is counted, and the decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRisk {
    pub audit: String,
    /// The last round drawn (all its stations counted).
    pub round: u64,
    /// The risk (ALPHA p-value) of each assertion, in the order `sverka audit status` lists them,
    /// as a decimal with at most [`MAX_RISK_DECIMALS`] digits after the point, e.g. `"0.0312500000"`.
    pub risks: Vec<String>,
    pub decision: AuditDecision,
}

/// The most digits after the decimal point a stated risk may have.
pub const MAX_RISK_DECIMALS: usize = 12;

/// A stated risk as a number, if it is a decimal in `[0, 1]` with at most [`MAX_RISK_DECIMALS`]
/// digits after the point.
pub fn parse_risk(text: &str) -> Option<f64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (text, ""),
    };
    let digits = fraction.bytes().all(|b| b.is_ascii_digit());
    if !(whole == "0" || whole == "1") || !digits || fraction.len() > MAX_RISK_DECIMALS {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (value <= 1.0).then_some(value)
}

impl AuditStep {
    /// The id of the audit the step belongs to.
    pub fn audit(&self) -> &str {
        match self {
            AuditStep::Define(s) => &s.audit,
            AuditStep::Manifest(s) => &s.audit,
            AuditStep::Seed(s) => &s.audit,
            AuditStep::Draw(s) => &s.audit,
            AuditStep::HandCount(s) => &s.audit,
            AuditStep::HandCountCorrection(s) => &s.audit,
            AuditStep::Risk(s) => &s.audit,
        }
    }

    /// The step's name as the format writes it.
    pub fn name(&self) -> &'static str {
        match self {
            AuditStep::Define(_) => "define",
            AuditStep::Manifest(_) => "manifest",
            AuditStep::Seed(_) => "seed",
            AuditStep::Draw(_) => "draw",
            AuditStep::HandCount(_) => "hand_count",
            AuditStep::HandCountCorrection(_) => "hand_count_correction",
            AuditStep::Risk(_) => "risk",
        }
    }
}

/// The risk limit of a definition as an exact share strictly between 0 and 1.
pub fn parse_risk_limit(text: &str) -> Option<Share> {
    Share::parse(text).filter(|share| share.num > 0 && share.num < share.den)
}

/// The checks of a step that need only the election (`validate::validate_submission` calls it):
/// ids, the risk limit, the contest, the seed's digits, the manifest hash, stations that exist.
pub fn check_step(election: &Election, step: &AuditStep) -> Vec<Finding> {
    let mut findings = Vec::new();
    if !is_valid_id(step.audit()) {
        findings.push(Finding::new("E712").with("audit", step.audit()));
    }
    match step {
        AuditStep::Define(define) => {
            if parse_risk_limit(&define.risk_limit).is_none() {
                findings.push(Finding::new("E703").with("value", &define.risk_limit));
            }
            if election.contest(&define.contest).is_none() {
                findings.push(Finding::new("E202").with("contest", &define.contest));
            }
        }
        AuditStep::Manifest(manifest) => {
            let hash = &manifest.manifest_sha256;
            let is_hex = hash.len() == 64
                && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !is_hex {
                findings.push(Finding::new("E501").with("value", hash));
            }
        }
        AuditStep::Seed(seed) => {
            let digits = &seed.seed;
            if digits.is_empty()
                || digits.len() > MAX_SEED_DIGITS
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                findings.push(Finding::new("E707").with("value", digits));
            }
        }
        AuditStep::Draw(draw) => {
            for station in &draw.draws {
                if election.station(station).is_none() {
                    findings.push(Finding::new("E201").with("station", station));
                }
            }
        }
        AuditStep::HandCount(count) => {
            if election.station(&count.station).is_none() {
                findings.push(Finding::new("E201").with("station", &count.station));
            }
        }
        AuditStep::HandCountCorrection(correction) => {
            if election.station(&correction.station).is_none() {
                findings.push(Finding::new("E201").with("station", &correction.station));
            }
            if correction.reason.trim().is_empty() {
                findings.push(Finding::new("E714").with("station", &correction.station));
            }
        }
        AuditStep::Risk(risk) => {
            if let Some(bad) = risk.risks.iter().find(|r| parse_risk(r).is_none()) {
                findings.push(Finding::new("E717").with("value", bad));
            }
        }
    }
    findings
}

/// One audit as the log has it so far.
#[derive(Clone, Debug)]
struct AuditProgress {
    contest: String,
    /// The contest's vote options, for the hand counts.
    options: Vec<String>,
    manifest: bool,
    seed: bool,
    rounds: u64,
    sample_size: u64,
    sampled: HashSet<String>,
    counted: HashSet<String>,
}

/// The audits of a log, folded entry by entry, for the checks that depend on earlier steps:
/// ids (`E701`, `E702`), order (`E704`–`E706`), rounds (`E708`, `E709`) and hand counts (`E710`, `E711`). Kept by
/// [`crate::registry::KeyRegistry`], which folds every accepted entry, so the same checks run
/// in admission and in `sverka verify`.
#[derive(Clone, Debug, Default)]
pub struct AuditBook {
    /// Option ids of every contest, by contest id.
    contest_options: HashMap<String, Vec<String>>,
    audits: HashMap<String, AuditProgress>,
}

impl AuditBook {
    /// No audits yet, for `election`.
    pub fn new(election: &Election) -> AuditBook {
        let contest_options = election
            .contests
            .iter()
            .map(|c| (c.id.clone(), c.option_ids().into_iter().map(str::to_string).collect()))
            .collect();
        AuditBook { contest_options, audits: HashMap::new() }
    }

    /// Whether `step` may follow the steps folded so far; the first problem found.
    pub fn check(&self, step: &AuditStep) -> Result<(), Finding> {
        let audit = step.audit();
        let progress = match (step, self.audits.get(audit)) {
            (AuditStep::Define(_), Some(_)) => {
                return Err(Finding::new("E702").with("audit", audit));
            }
            (AuditStep::Define(_), None) => return Ok(()),
            (_, None) => return Err(Finding::new("E701").with("audit", audit)),
            (_, Some(progress)) => progress,
        };
        match step {
            AuditStep::Define(_) => Ok(()),
            AuditStep::Manifest(_) if progress.manifest => {
                Err(Finding::new("E704").with("audit", audit).with("step", "manifest"))
            }
            AuditStep::Manifest(_) => Ok(()),
            AuditStep::Seed(_) if !progress.manifest => {
                Err(Finding::new("E705").with("audit", audit))
            }
            AuditStep::Seed(_) if progress.seed => {
                Err(Finding::new("E704").with("audit", audit).with("step", "seed"))
            }
            AuditStep::Seed(_) => Ok(()),
            AuditStep::Draw(_) if !progress.seed => Err(Finding::new("E706").with("audit", audit)),
            AuditStep::Draw(draw) => check_draw(audit, progress, draw),
            AuditStep::HandCount(count) => check_hand_count(audit, progress, count),
            AuditStep::HandCountCorrection(correction) => {
                if !progress.counted.contains(&correction.station) {
                    return Err(Finding::new("E713")
                        .with("station", &correction.station)
                        .with("audit", audit));
                }
                check_options(progress, &correction.votes)
            }
            AuditStep::Risk(risk) => check_risk(audit, progress, risk),
        }
    }

    /// Folds in an accepted step.
    pub fn apply(&mut self, step: &AuditStep) {
        let audit = step.audit();
        if let AuditStep::Define(define) = step {
            let options = self.contest_options.get(&define.contest).cloned().unwrap_or_default();
            self.audits.entry(audit.to_string()).or_insert(AuditProgress {
                contest: define.contest.clone(),
                options,
                manifest: false,
                seed: false,
                rounds: 0,
                sample_size: 0,
                sampled: HashSet::new(),
                counted: HashSet::new(),
            });
            return;
        }
        let Some(progress) = self.audits.get_mut(audit) else { return };
        match step {
            AuditStep::Define(_) => {}
            AuditStep::Manifest(_) => progress.manifest = true,
            AuditStep::Seed(_) => progress.seed = true,
            AuditStep::Draw(draw) => {
                progress.rounds = draw.round;
                progress.sample_size = draw.sample_size;
                progress.sampled.extend(draw.draws.iter().cloned());
            }
            AuditStep::HandCount(count) => {
                progress.counted.insert(count.station.clone());
            }
            AuditStep::HandCountCorrection(_) | AuditStep::Risk(_) => {}
        }
    }

    /// The contest of an audit, if it is defined.
    pub fn contest(&self, audit: &str) -> Option<&str> {
        self.audits.get(audit).map(|p| p.contest.as_str())
    }
}

fn check_draw(audit: &str, progress: &AuditProgress, draw: &AuditDraw) -> Result<(), Finding> {
    let expected = progress.rounds + 1;
    if draw.round != expected {
        return Err(Finding::new("E708")
            .with("audit", audit)
            .with("round", draw.round)
            .with("expected", expected));
    }
    let want = progress.sample_size + draw.draws.len() as u64;
    if draw.draws.is_empty() || draw.sample_size != want {
        return Err(Finding::new("E709")
            .with("audit", audit)
            .with("draws", draw.draws.len())
            .with("sample_size", draw.sample_size)
            .with("previous", progress.sample_size));
    }
    Ok(())
}

fn check_hand_count(
    audit: &str,
    progress: &AuditProgress,
    count: &HandCount,
) -> Result<(), Finding> {
    let station = &count.station;
    if !progress.sampled.contains(station) {
        return Err(Finding::new("E710").with("station", station).with("audit", audit));
    }
    if progress.counted.contains(station) {
        return Err(Finding::new("E711").with("station", station).with("audit", audit));
    }
    check_options(progress, &count.votes)
}

/// Every vote option of the audited contest and no other (`E303`, `E304`).
fn check_options(progress: &AuditProgress, votes: &BTreeMap<String, u64>) -> Result<(), Finding> {
    let known: BTreeSet<&str> = progress.options.iter().map(String::as_str).collect();
    let given: BTreeSet<&str> = votes.keys().map(String::as_str).collect();
    if let Some(missing) = known.difference(&given).next() {
        return Err(Finding::new("E303").on_line(*missing));
    }
    if let Some(extra) = given.difference(&known).next() {
        return Err(Finding::new("E304").on_line(*extra).with("contest", &progress.contest));
    }
    Ok(())
}

/// A `risk` step states the last round's risk (`E716`); an escalation only once every sampled
/// station is counted (`E715`).
fn check_risk(audit: &str, progress: &AuditProgress, risk: &AuditRisk) -> Result<(), Finding> {
    if progress.rounds == 0 || risk.round != progress.rounds {
        return Err(Finding::new("E716")
            .with("audit", audit)
            .with("round", risk.round)
            .with("expected", progress.rounds));
    }
    if risk.decision == AuditDecision::Confirmed {
        return Ok(()); // the risk of the counted prefix of the draws may already be low enough
    }
    let mut uncounted: Vec<&String> = progress.sampled.difference(&progress.counted).collect();
    uncounted.sort();
    if let Some(station) = uncounted.first() {
        return Err(Finding::new("E715").with("audit", audit).with("station", *station));
    }
    Ok(())
}
