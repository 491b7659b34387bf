//! Admission: may this submission enter the log?
//!
//! [`admit`] (and [`admit_candidate`], for a submission whose signature was already checked on
//! the submitting thread) is a pure function of the [`State`] folded from the log so far, one decoded
//! [`Submission`], and what the log holds that its checks need ([`ProtocolContext`]: the entry a
//! correction supersedes, the other counting source of the same station and contest). The
//! sequencer calls it for each submission of a batch, in order, and folds every accepted one into
//! the state with [`State::apply`] before admitting the next.
//!
//! The rules themselves are `sverka-model`'s, so the store, the server and the observers'
//! verifier apply the same ones with the same stable codes:
//! [`sverka_model::registry::KeyRegistry::check`] (election, registered and unrevoked key,
//! signature, role, per-signer sequence number, key entries: `E1xx`) and then
//! [`sverka_model::validate::validate_submission`] (station and contest, the protocol's shape and
//! arithmetic, corrections, annulments: `E2xx`–`E6xx`, and the `W1xx` warnings). Decoding problems
//! (`E0xx`) come from [`sverka_model::validate::decode_submission`] before admission.
//!
//! The store adds one rule of its own: the signer id `"log"` belongs to the log key, which signs
//! only entry 0 (see `Store::init`), so no key may be registered under it (`E110`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sverka_model::registry::{Candidate, KeyRegistry};
use sverka_model::validate::{
    validate_submission_prechecked, Finding, ProtocolContext, ProtocolPrecheck,
};
use sverka_model::{Body, Election, Submission};

/// The signer id of the log's own key. It signs exactly one submission: the log's first entry,
/// the election definition written by `Store::init`.
pub const LOG_SIGNER: &str = "log";

/// One finding about a submission, as stored in the quarantine and returned to senders: the rule's
/// stable code, its English message, the form line it is about and the values the message names
/// (so the message can be shown in Kyrgyz or Russian with `sverka_model::validate::rule`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable code, e.g. `E104`.
    pub code: String,
    /// What is wrong, in English words a clerk understands.
    pub message: String,
    /// The form line or vote option it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// The values the rule's message template names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl From<&Finding> for Problem {
    fn from(finding: &Finding) -> Problem {
        Problem {
            code: finding.code.to_string(),
            message: finding.message("en"),
            line: finding.line.clone(),
            params: finding.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line {
            Some(line) => write!(f, "{} ({line}): {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// Warnings of an accepted submission (accepted, shown, carried into the published record).
pub type Warnings = Vec<Problem>;

/// Why a submission was refused: at least one problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Rejection {
    pub problems: Vec<Problem>,
}

impl Rejection {
    /// The codes of the problems, in order.
    pub fn codes(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.code.as_str()).collect()
    }

    /// The rejection of one finding (a decoding or registry problem).
    pub fn from_finding(finding: &Finding) -> Rejection {
        Rejection { problems: vec![Problem::from(finding)] }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// What admission needs to know about the log so far: the election (entry 0), the log key that
/// signed it, and the key registry (keys, revocations, per-signer sequence numbers). It is a fold
/// over the entries ([`State::apply`]), so it can always be rebuilt from the log alone.
#[derive(Clone, Debug)]
pub struct State {
    election: Arc<Election>,
    /// The log's own key: it signed entry 0.
    log_key: VerifyingKey,
    registry: KeyRegistry,
}

impl State {
    /// The state after the log's first entry (the election definition signed by `log_key`).
    pub fn new(election: Arc<Election>, log_key: VerifyingKey) -> State {
        let registry = KeyRegistry::new(election.clone());
        State { election, log_key, registry }
    }

    pub fn election(&self) -> &Arc<Election> {
        &self.election
    }

    pub fn log_key(&self) -> &VerifyingKey {
        &self.log_key
    }

    pub fn registry(&self) -> &KeyRegistry {
        &self.registry
    }

    /// Folds an accepted submission into the state.
    pub fn apply(&mut self, submission: &Submission) {
        self.registry.apply(submission);
    }
}

/// Decides whether `submission` may be appended after the log that `state` describes; returns the
/// warnings of an accepted one. See the module documentation for the rules.
pub fn admit(
    state: &State,
    submission: &Submission,
    context: &ProtocolContext,
) -> Result<Warnings, Rejection> {
    admit_with(state, submission, context, None, || state.registry.check(submission))
}

/// [`admit`] for a submission whose signature was verified (or refuted) on the submitting thread
/// ([`Candidate::new`], done by `Store::prepare`): the same rules, codes and order, without an
/// Ed25519 operation when the key it was checked under is still the signer's registered key.
pub fn admit_candidate(
    state: &State,
    candidate: &Candidate,
    context: &ProtocolContext,
) -> Result<Warnings, Rejection> {
    admit_candidate_prechecked(state, candidate, context, None)
}

/// [`admit_candidate`] with the protocol checks that need only the election done beforehand
/// (`sverka_model::validate::precheck_submission` of the state's election, on the submitting
/// thread): the same verdict, findings and order.
pub fn admit_candidate_prechecked(
    state: &State,
    candidate: &Candidate,
    context: &ProtocolContext,
    precheck: Option<&ProtocolPrecheck>,
) -> Result<Warnings, Rejection> {
    let submission = candidate.submission();
    admit_with(state, submission, context, precheck, || state.registry.check_candidate(candidate))
}

fn admit_with(
    state: &State,
    submission: &Submission,
    context: &ProtocolContext,
    precheck: Option<&ProtocolPrecheck>,
    registry_check: impl FnOnce() -> Result<(), Finding>,
) -> Result<Warnings, Rejection> {
    if let Body::KeyRegistration(registration) = &submission.payload.body {
        if registration.key.id == LOG_SIGNER {
            return Err(Rejection::from_finding(&Finding::new("E110").with("key", LOG_SIGNER)));
        }
    }
    registry_check().map_err(|finding| Rejection::from_finding(&finding))?;
    let findings =
        validate_submission_prechecked(&state.election, &submission.payload, context, precheck);
    let (errors, warnings): (Vec<&Finding>, Vec<&Finding>) =
        findings.iter().partition(|finding| finding.is_error());
    if !errors.is_empty() {
        return Err(Rejection { problems: findings.iter().map(Problem::from).collect() });
    }
    Ok(warnings.into_iter().map(Problem::from).collect())
}
