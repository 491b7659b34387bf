//! Keys, roles and replay protection (issue 4, "Keys and roles"): which key may sign what, folded
//! as pure state over the accepted entries of the log.
//!
//! [`KeyRegistry::from_election`] starts from the keys of `election.toml`;
//! [`KeyRegistry::check`] decides whether a submission's signer may sign it (and whether a key
//! registration or revocation makes sense); [`KeyRegistry::apply`] folds an accepted submission
//! in. Replaying the log's entries through `apply` rebuilds the same registry, so the registry
//! at entry N is a pure function of the log's first N entries, like everything published.
//!
//! The rules:
//!
//! - a `machine` protocol only from the device key registered for that station;
//! - a `manual` protocol only from an operator key of the station's district commission;
//! - an `observer` copy only from an observer key (any station);
//! - `recount` protocols, annulments, key registrations and revocations, and the election entry
//!   only from CEC admin keys;
//! - a revoked key signs nothing any more; a key id is never reused;
//! - each signer's `seq` must be above the last one accepted from it (replays and reordered
//!   old submissions are refused). Resending the very same bytes is answered by the store with
//!   the first receipt before this check (DESIGN.md "a receipt means durable").
//!
//! Refusals are [`Finding`]s with the `E1xx` codes of [`crate::validate::RULES`].

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use crate::election::{Election, KeyRecord};
use crate::names::{Role, Source};
use crate::submission::{Body, Submission};
use crate::validate::Finding;

/// A registered key and what the log has said about it since.
#[derive(Clone, Debug)]
struct Registered {
    record: KeyRecord,
    verifying_key: VerifyingKey,
    revoked: bool,
    /// The highest `seq` accepted from this key.
    last_seq: Option<u64>,
}

/// Who may sign what, as of some entry of the log.
#[derive(Clone, Debug)]
pub struct KeyRegistry {
    election_id: String,
    keys: HashMap<String, Registered>,
    /// Registered public keys (raw bytes) to their key id: one public key, one id.
    public_keys: HashMap<[u8; 32], String>,
    /// The district of every station, for the operator rule.
    station_district: HashMap<String, String>,
}

impl KeyRegistry {
    /// The registry before the first entry: the keys of the definition.
    pub fn from_election(election: &Election) -> KeyRegistry {
        let mut registry = KeyRegistry {
            election_id: election.id.clone(),
            keys: HashMap::new(),
            public_keys: HashMap::new(),
            station_district: election
                .stations
                .iter()
                .map(|s| (s.id.clone(), s.district.clone()))
                .collect(),
        };
        for record in &election.keys {
            registry.register(record);
        }
        registry
    }

    fn register(&mut self, record: &KeyRecord) {
        let Some(verifying_key) = crate::keys::decode_public_key(&record.public_key) else {
            return;
        };
        if self.keys.contains_key(&record.id)
            || self.public_keys.contains_key(verifying_key.as_bytes())
        {
            return;
        }
        self.public_keys.insert(*verifying_key.as_bytes(), record.id.clone());
        self.keys.insert(
            record.id.clone(),
            Registered { record: record.clone(), verifying_key, revoked: false, last_seq: None },
        );
    }

    /// The record of a registered key (revoked or not).
    pub fn key(&self, id: &str) -> Option<&KeyRecord> {
        self.keys.get(id).map(|k| &k.record)
    }

    /// Whether a key has been revoked.
    pub fn is_revoked(&self, id: &str) -> bool {
        self.keys.get(id).is_some_and(|k| k.revoked)
    }

    /// The highest sequence number accepted from a key.
    pub fn last_seq(&self, id: &str) -> Option<u64> {
        self.keys.get(id).and_then(|k| k.last_seq)
    }

    /// All checks of this module: [`KeyRegistry::check_signer`], then
    /// [`KeyRegistry::check_key_entry`].
    pub fn check(&self, submission: &Submission) -> Result<(), Finding> {
        self.check_signer(submission)?;
        self.check_key_entry(submission)
    }

    /// Whether the signer may sign this submission: right election (`E101`), a registered
    /// (`E102`) and unrevoked (`E103`) key, a signature that verifies (`E104`), the role for what
    /// is signed (`E106` to `E109`), and a sequence number above the signer's last (`E105`).
    pub fn check_signer(&self, submission: &Submission) -> Result<(), Finding> {
        let payload = &submission.payload;
        if payload.election != self.election_id {
            return Err(Finding::new("E101")
                .with("got", &payload.election)
                .with("expected", &self.election_id));
        }
        let signer = &payload.signer;
        let Some(key) = self.keys.get(signer) else {
            return Err(Finding::new("E102").with("signer", signer));
        };
        if key.revoked {
            return Err(Finding::new("E103").with("signer", signer));
        }
        if !submission.verify(&key.verifying_key) {
            return Err(Finding::new("E104").with("signer", signer));
        }
        self.check_role(&key.record, &payload.body)?;
        if let Some(last) = key.last_seq.filter(|&last| payload.seq <= last) {
            return Err(Finding::new("E105")
                .with("seq", payload.seq)
                .with("signer", signer)
                .with("last", last));
        }
        Ok(())
    }

    fn check_role(&self, key: &KeyRecord, body: &Body) -> Result<(), Finding> {
        let role = role_name(key.role);
        let signer = &key.id;
        let admin_only = |kind: &str| {
            if key.role == Role::Admin {
                Ok(())
            } else {
                Err(Finding::new("E109")
                    .with("type", kind)
                    .with("signer", signer)
                    .with("role", role))
            }
        };
        let protocol = match body {
            Body::Protocol(protocol) => protocol,
            Body::Annulment(_) => return admin_only("annulment"),
            Body::KeyRegistration(_) => return admin_only("key_registration"),
            Body::KeyRevocation(_) => return admin_only("key_revocation"),
            Body::Election(_) => return admin_only("election"),
        };
        let station = &protocol.station;
        match protocol.source {
            Source::Machine => {
                let own = key.role == Role::Machine && key.station.as_ref() == Some(station);
                if !own {
                    return Err(Finding::new("E106")
                        .with("station", station)
                        .with("signer", signer));
                }
            }
            Source::Manual => {
                let Some(district) = self.station_district.get(station) else {
                    return Err(Finding::new("E201").with("station", station));
                };
                let own = key.role == Role::Operator && key.district.as_ref() == Some(district);
                if !own {
                    return Err(Finding::new("E107")
                        .with("station", station)
                        .with("district", district)
                        .with("signer", signer));
                }
            }
            Source::Observer if key.role != Role::Observer => {
                return Err(Finding::new("E108").with("signer", signer).with("role", role));
            }
            Source::Observer => {}
            Source::Recount => return admin_only("recount"),
        }
        Ok(())
    }

    /// Whether a key registration or revocation makes sense given the keys so far: a new id
    /// (`E110`) and a new public key (`E114`); a registered, unrevoked key to revoke (`E111`).
    /// The checks that need only the election (a usable public key, a binding that fits the
    /// role) are [`crate::validate::check_key_record`]'s.
    pub fn check_key_entry(&self, submission: &Submission) -> Result<(), Finding> {
        match &submission.payload.body {
            Body::KeyRegistration(registration) => {
                let record = &registration.key;
                if self.keys.contains_key(&record.id) {
                    return Err(Finding::new("E110").with("key", &record.id));
                }
                let Some(verifying_key) = crate::keys::decode_public_key(&record.public_key) else {
                    return Err(Finding::new("E112").with("key", &record.id));
                };
                if let Some(other) = self.public_keys.get(verifying_key.as_bytes()) {
                    return Err(Finding::new("E114").with("key", &record.id).with("other", other));
                }
                Ok(())
            }
            Body::KeyRevocation(revocation) => match self.keys.get(&revocation.key_id) {
                Some(key) if !key.revoked => Ok(()),
                _ => Err(Finding::new("E111").with("key", &revocation.key_id)),
            },
            _ => Ok(()),
        }
    }

    /// Folds in a submission the log has accepted: the signer's last sequence number, and the key
    /// a registration adds or a revocation ends. Call it only after [`KeyRegistry::check`] passed
    /// and the entry is in the log.
    pub fn apply(&mut self, submission: &Submission) {
        let payload = &submission.payload;
        if let Some(key) = self.keys.get_mut(&payload.signer) {
            key.last_seq = Some(key.last_seq.map_or(payload.seq, |last| last.max(payload.seq)));
        }
        match &payload.body {
            Body::KeyRegistration(registration) => self.register(&registration.key),
            Body::KeyRevocation(revocation) => {
                if let Some(key) = self.keys.get_mut(&revocation.key_id) {
                    key.revoked = true;
                }
            }
            _ => {}
        }
    }
}

/// A role as the format writes it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Machine => "machine",
        Role::Operator => "operator",
        Role::Observer => "observer",
        Role::Admin => "admin",
    }
}
