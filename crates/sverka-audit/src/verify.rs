//! An observer's check of every audit in a log (`sverka verify`): from the log's audit steps and
//! the tally of each manifest's `as_of` entries, recompute each manifest and its hash, every draw
//! from the seed, and, at each `risk` step, the risk of every assertion and the decision from the
//! steps before it; report the first mismatch in log order.
//!
//! A `risk` step's risks are decimals with 12 digits after the point ([`crate::workflow::format_risk`]);
//! a stated risk agrees with the recomputed one when they differ by at most [`RISK_TOLERANCE`]
//! (rounding, and floating-point sums that a later release may order differently), and the decision
//! must be the same word.

use std::collections::{BTreeMap, BTreeSet};

use sverka_model::audit::{parse_risk, AuditDecision, AuditRisk, AuditStep};
use sverka_model::election::Election;
use sverka_tally::tabulate::Tally;

use crate::workflow::{evaluate, AuditStatus, Stage, WorkflowError};

/// How far a stated risk may be from the recomputed one.
pub const RISK_TOLERANCE: f64 = 1e-9;

/// What the check found wrong: the entry and, in words, what differs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("entry {entry}: {detail}")]
pub struct AuditMismatch {
    /// The log entry at fault (the first, in log order).
    pub entry: u64,
    pub detail: String,
}

/// What the check recomputed, for the verifier's summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditsChecked {
    /// Audits in the log.
    pub audits: usize,
    /// Draws recomputed from the seeds.
    pub draws: u64,
    /// Hand counts and corrections used.
    pub hand_counts: u64,
    /// `risk` steps recomputed.
    pub statements: u64,
    /// Each audit's stage at the end of the log: `(audit, stage code)`.
    pub stages: Vec<(String, &'static str)>,
}

/// The log sizes whose tallies [`check_audits`] needs: every manifest's `as_of`.
pub fn manifest_sizes(steps: &[(u64, AuditStep)]) -> BTreeSet<u64> {
    steps
        .iter()
        .filter_map(|(_, s)| match s {
            AuditStep::Manifest(m) => Some(m.as_of),
            _ => None,
        })
        .collect()
}

/// Checks every audit of `steps` (the log's audit steps with their entries, in log order);
/// `tallies` holds the tally of the log's first `n` entries for every `n` of [`manifest_sizes`].
pub fn check_audits(
    election: &Election,
    steps: &[(u64, AuditStep)],
    tallies: &BTreeMap<u64, Tally>,
) -> Result<AuditsChecked, AuditMismatch> {
    let mut ids: Vec<(u64, &str)> = Vec::new();
    for (entry, step) in steps {
        if !ids.iter().any(|(_, id)| *id == step.audit()) {
            ids.push((*entry, step.audit()));
        }
    }
    let mut checked = AuditsChecked { audits: ids.len(), ..Default::default() };
    let mut first: Option<AuditMismatch> = None;
    for (defined_at, audit) in ids {
        match check_one(election, steps, tallies, audit, defined_at) {
            Ok(status) => {
                checked.draws += status.draws.len() as u64;
                checked.hand_counts += (status.hand_counts.len() + status.corrections.len()) as u64;
                checked.statements += status.statements.len() as u64;
                checked.stages.push((audit.to_string(), status.stage.code()));
            }
            Err(mismatch) => {
                if first.as_ref().is_none_or(|f| mismatch.entry < f.entry) {
                    first = Some(mismatch);
                }
            }
        }
    }
    match first {
        Some(mismatch) => Err(mismatch),
        None => Ok(checked),
    }
}

/// One audit: its status at each `risk` step against what the step states, then at the end.
fn check_one(
    election: &Election,
    steps: &[(u64, AuditStep)],
    tallies: &BTreeMap<u64, Tally>,
    audit: &str,
    defined_at: u64,
) -> Result<AuditStatus, AuditMismatch> {
    let own: Vec<(u64, AuditStep)> =
        steps.iter().filter(|(_, s)| s.audit() == audit).cloned().collect();
    let tally = own.iter().find_map(|(_, s)| match s {
        AuditStep::Manifest(m) => tallies.get(&m.as_of),
        _ => None,
    });
    let at = |n: usize| {
        evaluate(election, tally, audit, &own[..n]).map_err(|e| AuditMismatch {
            entry: entry_of(&e).unwrap_or(defined_at),
            detail: e.to_string(),
        })
    };
    for (position, (entry, step)) in own.iter().enumerate() {
        if let AuditStep::Risk(stated) = step {
            let status = at(position)?;
            compare(&status, stated).map_err(|detail| AuditMismatch {
                entry: *entry,
                detail: format!("audit {audit:?}: {detail}"),
            })?;
        }
    }
    at(own.len())
}

/// The entry a workflow error is about, where it names one.
fn entry_of(error: &WorkflowError) -> Option<u64> {
    match error {
        WorkflowError::ManifestMismatch { entry, .. }
        | WorkflowError::ManifestCount { entry, .. }
        | WorkflowError::DrawMismatch { entry, .. }
        | WorkflowError::HandCount { entry, .. } => Some(*entry),
        _ => None,
    }
}

/// What a `risk` step states against the status recomputed from the steps before it.
fn compare(status: &AuditStatus, stated: &AuditRisk) -> Result<(), String> {
    let decision = match status.stage {
        Stage::Confirmed => Some(AuditDecision::Confirmed),
        Stage::Escalate { .. } => Some(AuditDecision::Escalate),
        Stage::FullHandCount => Some(AuditDecision::FullHandCount),
        _ => None,
    };
    if decision != Some(stated.decision) {
        return Err(format!(
            "the risk step states the decision {:?}, but the log before it gives the stage {}",
            stated.decision,
            status.stage.code()
        ));
    }
    if status.rounds.last().map(|&(r, _)| r) != Some(stated.round) {
        return Err(format!(
            "the risk step names round {}, not the last round drawn",
            stated.round
        ));
    }
    if stated.risks.len() != status.assertions.len() {
        return Err(format!(
            "the risk step states {} risks, but the audit has {} assertions",
            stated.risks.len(),
            status.assertions.len()
        ));
    }
    for (i, (text, assertion)) in stated.risks.iter().zip(&status.assertions).enumerate() {
        let value =
            parse_risk(text).ok_or_else(|| format!("risk {} ({text:?}) is not a risk", i + 1))?;
        if (value - assertion.p_value).abs() > RISK_TOLERANCE || value.is_nan() {
            return Err(format!(
                "the risk step states risk {text} for assertion {} ({}), but the hand counts \
                 give {:.12}",
                i + 1,
                assertion.claim,
                assertion.p_value
            ));
        }
    }
    Ok(())
}
