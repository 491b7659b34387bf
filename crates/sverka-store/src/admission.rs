//! Admission: may this submission enter the log?
//!
//! [`admit`] is a pure function of the [`State`] folded from the log so far and one decoded
//! [`Submission`]; the sequencer calls it for each submission of a batch, in order, and folds every
//! accepted one into the state with [`State::apply`] before admitting the next. It checks what
//! authenticates a submission: the election id, a registered and not revoked key, the Ed25519
//! signature, the per-signer sequence number, and the key's role for what the body is (issue 4,
//! "Keys and roles"). Protocol arithmetic (control relations, turnout) is `sverka-model`'s full
//! validation and plugs in at [`admit`]'s last step, returning its warnings and errors as
//! [`Problem`]s.
//!
//! Every rejection carries stable codes (`E1xx`: the bytes are not a well-formed submission;
//! `E2xx`: the submission is not authentic or not allowed), a message a clerk understands and the
//! field it is about. The codes are stored in the quarantine and are part of the published API.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sverka_model::election::KeyRecord;
use sverka_model::submission::DecodeError;
use sverka_model::{Body, Election, Role, Source, Submission};

/// The signer id of the log's own key. It signs exactly one submission: the log's first entry,
/// the election definition written by `Store::init`. No registered key may use this id, and no
/// later submission may be signed by it.
pub const LOG_SIGNER: &str = "log";

/// One finding about a submission: a stable code, a message for a clerk, and the field it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable code, e.g. `E203`.
    pub code: String,
    /// What is wrong, in words a clerk understands.
    pub message: String,
    /// The JSON path of the field it is about, when there is one (`payload.signer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    fn new(code: &str, field: Option<&str>, message: impl Into<String>) -> Problem {
        Problem { code: code.to_string(), message: message.into(), field: field.map(String::from) }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.code, field, self.message),
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
    fn one(code: &str, field: Option<&str>, message: impl Into<String>) -> Rejection {
        Rejection { problems: vec![Problem::new(code, field, message)] }
    }

    /// The codes of the problems, in order.
    pub fn codes(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.code.as_str()).collect()
    }

    /// The rejection of bytes that are not a well-formed submission.
    pub fn from_decode(error: &DecodeError) -> Rejection {
        let code = match error {
            DecodeError::TooLarge(_) => "E101",
            DecodeError::Json(_) => "E102",
            DecodeError::Schema(_) => "E103",
            DecodeError::NotCanonical => "E104",
            DecodeError::Number(_) => "E105",
            DecodeError::Version(_) => "E106",
            DecodeError::SignatureEncoding => "E107",
        };
        let field = match error {
            DecodeError::Version(_) => Some("payload.v"),
            DecodeError::SignatureEncoding => Some("signature"),
            _ => None,
        };
        Rejection::one(code, field, error.to_string())
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

/// A key as the log knows it now.
#[derive(Clone, Debug)]
pub struct KeyState {
    pub record: KeyRecord,
    pub public: VerifyingKey,
    /// Set by a `key_revocation` entry; a revoked key's later submissions are refused.
    pub revoked: bool,
}

/// What admission needs to know about the log so far: the election, the keys (registered in
/// `election.toml` or by `key_registration` entries, minus revocations) and the last sequence
/// number of every signer. It is a fold over the entries ([`State::apply`]), so it can always be
/// rebuilt from the log alone.
#[derive(Clone, Debug)]
pub struct State {
    election: Arc<Election>,
    /// The log's own key: it signed entry 0.
    log_key: VerifyingKey,
    keys: HashMap<String, KeyState>,
    /// Highest `seq` accepted per signer.
    last_seq: HashMap<String, u64>,
}

impl State {
    /// The state after the log's first entry (the election definition signed by `log_key`).
    pub fn new(election: Arc<Election>, log_key: VerifyingKey) -> State {
        let keys = election
            .keys
            .iter()
            .filter_map(|record| {
                let public = sverka_model::keys::decode_public_key(&record.public_key)?;
                Some((
                    record.id.clone(),
                    KeyState { record: record.clone(), public, revoked: false },
                ))
            })
            .collect();
        State { election, log_key, keys, last_seq: HashMap::new() }
    }

    pub fn election(&self) -> &Arc<Election> {
        &self.election
    }

    pub fn log_key(&self) -> &VerifyingKey {
        &self.log_key
    }

    /// The key registered under `id`, revoked or not.
    pub fn key(&self, id: &str) -> Option<&KeyState> {
        self.keys.get(id)
    }

    /// Every registered key's public half by id (revoked ones included: admission still refuses
    /// them, after checking their signature).
    pub fn public_keys(&self) -> HashMap<String, VerifyingKey> {
        self.keys.iter().map(|(id, key)| (id.clone(), key.public)).collect()
    }

    /// The highest sequence number accepted from `signer`.
    pub fn last_seq(&self, signer: &str) -> Option<u64> {
        self.last_seq.get(signer).copied()
    }

    /// Records that `signer` reached `seq` (used when the state is rebuilt from stored columns).
    pub fn note_seq(&mut self, signer: &str, seq: u64) {
        let last = self.last_seq.entry(signer.to_string()).or_insert(seq);
        *last = (*last).max(seq);
    }

    /// Folds an accepted submission into the state.
    pub fn apply(&mut self, submission: &Submission) {
        let payload = &submission.payload;
        self.note_seq(&payload.signer, payload.seq);
        match &payload.body {
            Body::KeyRegistration(registration) => {
                let record = registration.key.clone();
                if let Some(public) = sverka_model::keys::decode_public_key(&record.public_key) {
                    self.keys
                        .insert(record.id.clone(), KeyState { record, public, revoked: false });
                }
            }
            Body::KeyRevocation(revocation) => {
                if let Some(key) = self.keys.get_mut(&revocation.key_id) {
                    key.revoked = true;
                }
            }
            _ => {}
        }
    }
}

/// Decides whether `submission` may be appended after the log that `state` describes.
///
/// Checks, in order: the election id (`E201`), a known signer (`E202`, `E209` for the reserved
/// log signer), the signature (`E203`), revocation (`E204`), the sequence number (`E205`), and what
/// the signer's role allows for this body (`E206`–`E212`). Returns the warnings of an accepted
/// submission.
pub fn admit(state: &State, submission: &Submission) -> Result<Warnings, Rejection> {
    admit_checked(state, submission, None)
}

/// [`admit`], where the caller may already have verified the signature against the public key
/// `verified_with` (the sequencer verifies signatures on the submitting threads, in parallel, and
/// skips the check here when the registered key is still that one).
pub(crate) fn admit_checked(
    state: &State,
    submission: &Submission,
    verified_with: Option<&VerifyingKey>,
) -> Result<Warnings, Rejection> {
    let payload = &submission.payload;
    if payload.election != state.election.id {
        return Err(Rejection::one(
            "E201",
            Some("payload.election"),
            format!("this log is for election {:?}, not {:?}", state.election.id, payload.election),
        ));
    }
    let key = authenticate(state, submission, verified_with)?;
    if let Some(last) = state.last_seq(&payload.signer) {
        if payload.seq <= last {
            return Err(Rejection::one(
                "E205",
                Some("payload.seq"),
                format!(
                    "sequence number {} of key {:?} is not above its last accepted one ({last}): a replay or an old copy",
                    payload.seq, payload.signer
                ),
            ));
        }
    }
    check_role(state, key, submission)?;
    Ok(Vec::new())
}

/// The registered, not revoked key that signed the submission, with its signature checked.
fn authenticate<'s>(
    state: &'s State,
    submission: &Submission,
    verified_with: Option<&VerifyingKey>,
) -> Result<&'s KeyState, Rejection> {
    let signer = submission.payload.signer.as_str();
    if signer == LOG_SIGNER {
        return Err(Rejection::one(
            "E209",
            Some("payload.signer"),
            "the log key signs only the election definition at the start of the log",
        ));
    }
    let Some(key) = state.key(signer) else {
        return Err(Rejection::one(
            "E202",
            Some("payload.signer"),
            format!("key {signer:?} is not registered for this election"),
        ));
    };
    let verified = verified_with == Some(&key.public) || submission.verify(&key.public);
    if !verified {
        return Err(Rejection::one(
            "E203",
            Some("signature"),
            format!("the signature does not verify with the registered key {signer:?}"),
        ));
    }
    if key.revoked {
        return Err(Rejection::one(
            "E204",
            Some("payload.signer"),
            format!("key {signer:?} has been revoked"),
        ));
    }
    Ok(key)
}

/// What each role may sign (issue 4, "Keys and roles").
fn check_role(state: &State, key: &KeyState, submission: &Submission) -> Result<(), Rejection> {
    let role = key.record.role;
    let election = &state.election;
    match &submission.payload.body {
        Body::Protocol(protocol) => {
            let Some(station) = election.station(&protocol.station) else {
                return Err(Rejection::one(
                    "E210",
                    Some("payload.station"),
                    format!("station {:?} is not in this election", protocol.station),
                ));
            };
            if election.contest(&protocol.contest).is_none() {
                return Err(Rejection::one(
                    "E211",
                    Some("payload.contest"),
                    format!("contest {:?} is not in this election", protocol.contest),
                ));
            }
            let allowed = match protocol.source {
                Source::Machine => {
                    role == Role::Machine && key.record.station.as_deref() == Some(&station.id)
                }
                Source::Manual => {
                    role == Role::Operator
                        && key.record.district.as_deref() == Some(&station.district)
                }
                Source::Observer => role == Role::Observer,
                Source::Recount => role == Role::Admin,
            };
            if !allowed {
                return Err(wrong_role(
                    key,
                    &format!("{} protocols of station {:?}", protocol.source.as_str(), station.id),
                ));
            }
        }
        Body::Annulment(annulment) => {
            if election.station(&annulment.station).is_none() {
                return Err(Rejection::one(
                    "E210",
                    Some("payload.station"),
                    format!("station {:?} is not in this election", annulment.station),
                ));
            }
            require_admin(key, "annulments")?;
        }
        Body::KeyRegistration(registration) => {
            require_admin(key, "key registrations")?;
            check_registration(state, &registration.key)?;
        }
        Body::KeyRevocation(revocation) => {
            require_admin(key, "key revocations")?;
            match state.key(&revocation.key_id) {
                None => {
                    return Err(Rejection::one(
                        "E208",
                        Some("payload.key_id"),
                        format!(
                            "key {:?} is not registered, so it cannot be revoked",
                            revocation.key_id
                        ),
                    ))
                }
                Some(k) if k.revoked => {
                    return Err(Rejection::one(
                        "E208",
                        Some("payload.key_id"),
                        format!("key {:?} is already revoked", revocation.key_id),
                    ))
                }
                Some(_) => {}
            }
        }
        Body::Election(_) => {
            return Err(Rejection::one(
                "E212",
                Some("payload.type"),
                "the election definition is only the log's first entry, written by `sverka init`",
            ))
        }
    }
    Ok(())
}

fn require_admin(key: &KeyState, what: &str) -> Result<(), Rejection> {
    if key.record.role == Role::Admin {
        Ok(())
    } else {
        Err(wrong_role(key, what))
    }
}

fn wrong_role(key: &KeyState, what: &str) -> Rejection {
    Rejection::one(
        "E206",
        Some("payload.signer"),
        format!("key {:?} ({:?}) may not sign {what}", key.record.id, key.record.role),
    )
}

/// A new key must have a fresh, valid id, a valid public key and the station or district its role
/// needs.
fn check_registration(state: &State, record: &KeyRecord) -> Result<(), Rejection> {
    let field = Some("payload.key");
    let problem = |message: String| Err(Rejection::one("E207", field, message));
    if !sverka_model::names::is_valid_id(&record.id) || record.id == LOG_SIGNER {
        return problem(format!("key id {:?} is not a valid key id", record.id));
    }
    if state.key(&record.id).is_some() {
        return problem(format!("key id {:?} is already registered", record.id));
    }
    if sverka_model::keys::decode_public_key(&record.public_key).is_none() {
        return problem(format!("key {:?}: public_key is not base64 of 32 bytes", record.id));
    }
    let election = &state.election;
    let placed = match record.role {
        Role::Machine => {
            record.district.is_none()
                && record.station.as_deref().is_some_and(|s| election.station(s).is_some())
        }
        Role::Operator => {
            record.station.is_none()
                && record.district.as_deref().is_some_and(|d| election.district(d).is_some())
        }
        Role::Observer | Role::Admin => record.station.is_none() && record.district.is_none(),
    };
    if !placed {
        return problem(format!(
            "key {:?}: a machine key needs a known station, an operator key a known district, others neither",
            record.id
        ));
    }
    Ok(())
}
