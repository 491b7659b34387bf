//! Keys, roles and replay protection (issue 4, "Keys and roles"): which key may sign what, folded
//! as pure state over the accepted entries of the log.
//!
//! [`KeyRegistry::from_election`] starts from the keys of `election.toml`;
//! [`KeyRegistry::check`] (or [`KeyRegistry::check_candidate`], for a submission whose signature
//! was verified on another thread: a [`Candidate`]) decides whether a submission's signer may sign it (and whether a key
//! registration or revocation makes sense); [`KeyRegistry::apply`] folds an accepted submission
//! in. Replaying the log's entries through `apply` rebuilds the same registry, so the registry
//! at entry N is a pure function of the log's first N entries, like everything published.
//!
//! The rules:
//!
//! - a `machine` protocol only from the device key registered for that station;
//! - a `manual` protocol only from an operator key of the station's district commission;
//! - an `observer` copy only from an observer key (any station);
//! - `recount` protocols, annulments, key registrations and revocations, the election entry and
//!   the steps of an audit only from CEC admin keys;
//! - an audit's steps in their order ([`crate::audit::AuditBook`], `E7xx`);
//! - a revoked key signs nothing any more; a key id is never reused;
//! - each signer's `seq` must be above the last one accepted from it (replays and reordered
//!   old submissions are refused). Resending the very same bytes is answered by the store with
//!   the first receipt before this check (DESIGN.md "a receipt means durable").
//!
//! Refusals are [`Finding`]s with the `E1xx` codes of [`crate::validate::RULES`].

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use crate::audit::AuditBook;
use crate::election::{Election, KeyRecord};
use crate::names::{Role, Source};
use crate::submission::{Body, Decoded, Refuted, Submission, Verified};
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
    /// The audits so far, for the order of their steps (`E7xx`).
    audits: AuditBook,
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
            audits: AuditBook::new(election),
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
        self.check_key_entry(submission)?;
        self.check_audit_step(submission)
    }

    /// Whether an audit step may follow the audit's earlier steps ([`AuditBook::check`]): a
    /// defined audit, the seed after the manifest, the next round, hand counts of sampled
    /// stations only.
    pub fn check_audit_step(&self, submission: &Submission) -> Result<(), Finding> {
        match &submission.payload.body {
            Body::Audit(step) => self.audits.check(step),
            _ => Ok(()),
        }
    }

    /// The audits folded so far.
    pub fn audits(&self) -> &AuditBook {
        &self.audits
    }

    /// The public key registered under `id` (revoked or not). Keys never change and ids are never
    /// reused, so a signature verified under this key on another thread stays valid for `id`.
    pub fn verifying_key(&self, id: &str) -> Option<&VerifyingKey> {
        self.keys.get(id).map(|k| &k.verifying_key)
    }

    /// Every registered key id with its public key (revoked ones too).
    pub fn verifying_keys(&self) -> impl Iterator<Item = (&str, &VerifyingKey)> {
        self.keys.iter().map(|(id, key)| (id.as_str(), &key.verifying_key))
    }

    /// [`KeyRegistry::check`] for a submission whose signature may already have been checked on
    /// another thread: the same rules and codes, but a [`Candidate::Verified`] or
    /// [`Candidate::Refuted`] under the signer's registered key costs no Ed25519 operation here.
    pub fn check_candidate(&self, candidate: &Candidate) -> Result<(), Finding> {
        let submission = candidate.submission();
        let signature_ok = |key: &VerifyingKey| match candidate {
            Candidate::Verified(verified) => verified.key() == key || submission.verify(key),
            Candidate::Refuted(refuted) => refuted.key() != key && submission.verify(key),
            Candidate::Unchecked(_) => submission.verify(key),
        };
        self.check_signer_with(submission, signature_ok)?;
        self.check_key_entry(submission)?;
        self.check_audit_step(submission)
    }

    /// Whether the signer may sign this submission: right election (`E101`), a registered
    /// (`E102`) and unrevoked (`E103`) key, a signature that verifies (`E104`), the role for what
    /// is signed (`E106` to `E109`), and a sequence number above the signer's last (`E105`).
    pub fn check_signer(&self, submission: &Submission) -> Result<(), Finding> {
        self.check_signer_with(submission, |key| submission.verify(key))
    }

    /// [`KeyRegistry::check_signer`] with the signature check (under the registered key) given.
    fn check_signer_with(
        &self,
        submission: &Submission,
        signature_ok: impl FnOnce(&VerifyingKey) -> bool,
    ) -> Result<(), Finding> {
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
        if !signature_ok(&key.verifying_key) {
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
            Body::Audit(_) => return admin_only("audit"),
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
            Body::Audit(step) => self.audits.apply(step),
            _ => {}
        }
    }
}

/// A decoded submission and what is known of its signature before the registry sees it. The
/// store verifies signatures on the submitting threads, in parallel, under the key the signer had
/// when the submission arrived ([`Candidate::new`]); the single sequencer thread then only checks
/// that this was the signer's registered key ([`KeyRegistry::check_candidate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// The signature verified under this key.
    Verified(Verified),
    /// The signature did not verify under this key.
    Refuted(Refuted),
    /// No key was known for the signer yet (say, it is registered by an entry still in flight):
    /// the registry verifies it when it checks it.
    Unchecked(Submission),
}

impl Candidate {
    /// Verifies `submission` under `key`, the signer's registered key as far as the caller knows;
    /// with no key, leaves it to the registry.
    pub fn new(submission: Submission, key: Option<&VerifyingKey>) -> Candidate {
        match key {
            None => Candidate::Unchecked(submission),
            Some(key) => match submission.verify_under(key) {
                Ok(verified) => Candidate::Verified(verified),
                Err(refuted) => Candidate::Refuted(refuted),
            },
        }
    }

    /// [`Candidate::new`] for a submission decoded with [`Submission::decode_signed`]: the
    /// signature is checked against the message cut from its bytes, with no second encoding.
    pub fn from_decoded(decoded: Decoded, key: Option<&VerifyingKey>) -> Candidate {
        match key {
            None => Candidate::Unchecked(decoded.into_submission()),
            Some(key) => match decoded.verify_under(key) {
                Ok(verified) => Candidate::Verified(verified),
                Err(refuted) => Candidate::Refuted(refuted),
            },
        }
    }

    pub fn submission(&self) -> &Submission {
        match self {
            Candidate::Verified(verified) => verified.submission(),
            Candidate::Refuted(refuted) => refuted.submission(),
            Candidate::Unchecked(submission) => submission,
        }
    }

    pub fn into_submission(self) -> Submission {
        match self {
            Candidate::Verified(verified) => verified.into_submission(),
            Candidate::Refuted(refuted) => refuted.into_submission(),
            Candidate::Unchecked(submission) => submission,
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

#[cfg(test)]
mod tests {
    //! The signature checked once, on the submitting thread: a [`Candidate`] is worth only the key
    //! it was checked under, so a signature that verified under some other key is refused exactly
    //! as [`KeyRegistry::check`] refuses it.

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::submission::{Annulment, Payload, FORMAT_VERSION};

    const TINY: &str = include_str!("../tests/data/tiny.toml");

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// The tiny election with admin `cec` (seed 4) and observer `obs` (seed 7).
    fn registry() -> KeyRegistry {
        let public = |seed| crate::keys::encode_public_key(&key(seed).verifying_key());
        let keys = format!(
            "\n[[keys]]\nid = \"cec\"\nrole = \"admin\"\npublic_key = \"{}\"\n\
             \n[[keys]]\nid = \"obs\"\nrole = \"observer\"\npublic_key = \"{}\"\n",
            public(4),
            public(7)
        );
        let election = Election::from_toml("election.toml", &format!("{TINY}{keys}")).unwrap();
        KeyRegistry::from_election(&election)
    }

    /// An annulment claiming signer `cec`, signed by the key of `seed`.
    fn annulment_signed_by(seed: u8) -> Submission {
        let registry = registry();
        Payload {
            v: FORMAT_VERSION,
            election: registry.election_id.clone(),
            signer: "cec".into(),
            seq: 1,
            time: None,
            body: Body::Annulment(Annulment {
                station: "1001".into(),
                contest: None,
                reason: "CEC decision No. 1".into(),
            }),
        }
        .sign(&key(seed))
    }

    fn code(result: Result<(), Finding>) -> Option<&'static str> {
        result.err().map(|finding| finding.code)
    }

    #[test]
    fn a_signature_verified_under_the_registered_key_is_admitted() {
        let registry = registry();
        let good = annulment_signed_by(4);
        let candidate = Candidate::new(good.clone(), registry.verifying_key("cec"));
        assert!(matches!(candidate, Candidate::Verified(_)));
        assert_eq!(code(registry.check_candidate(&candidate)), None);
        assert_eq!(code(registry.check(&good)), None);
    }

    #[test]
    fn a_signature_verified_under_another_key_is_refused_e104() {
        let registry = registry();
        // Signed by the observer's key but claiming the admin: it verifies under the observer's
        // key, which is not the one registered for "cec".
        let forged = annulment_signed_by(7);
        let candidate = Candidate::new(forged.clone(), Some(&key(7).verifying_key()));
        assert!(matches!(candidate, Candidate::Verified(_)));
        assert_eq!(code(registry.check_candidate(&candidate)), Some("E104"));
        assert_eq!(code(registry.check(&forged)), Some("E104"));
    }

    #[test]
    fn a_refuted_signature_is_refused_only_if_refuted_under_the_registered_key() {
        let registry = registry();
        let forged = annulment_signed_by(7);
        let refuted = Candidate::new(forged, registry.verifying_key("cec"));
        assert!(matches!(refuted, Candidate::Refuted(_)));
        assert_eq!(code(registry.check_candidate(&refuted)), Some("E104"));
        // A good signature refuted under a stale or wrong key is checked again, and admitted.
        let good = Candidate::new(annulment_signed_by(4), Some(&key(7).verifying_key()));
        assert!(matches!(good, Candidate::Refuted(_)));
        assert_eq!(code(registry.check_candidate(&good)), None);
    }

    #[test]
    fn an_unchecked_candidate_gets_the_same_answers_as_check() {
        let registry = registry();
        for seed in [4, 7] {
            let submission = annulment_signed_by(seed);
            let unchecked = Candidate::Unchecked(submission.clone());
            assert_eq!(
                code(registry.check_candidate(&unchecked)),
                code(registry.check(&submission)),
                "seed {seed}"
            );
        }
        assert_eq!(code(registry.check(&annulment_signed_by(7))), Some("E104"));
    }

    #[test]
    fn a_revoked_key_is_refused_e103_before_its_signature_is_looked_at() {
        let mut registry = registry();
        registry.keys.get_mut("cec").unwrap().revoked = true;
        let verified = Candidate::new(annulment_signed_by(4), Some(&key(4).verifying_key()));
        assert_eq!(code(registry.check_candidate(&verified)), Some("E103"));
    }

    #[test]
    fn a_malleated_signature_is_refused() {
        // S + ℓ (the group order) satisfies the verification equation but is not the canonical
        // encoding of S; RFC 8032 §5.1.7 and `verify_strict` refuse it, so one submission keeps
        // one byte string.
        const ELL: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let registry = registry();
        let good = annulment_signed_by(4);
        let mut signature = good.signature_bytes().unwrap();
        let mut carry = 0u16;
        for (byte, add) in signature[32..].iter_mut().zip(ELL) {
            let sum = u16::from(*byte) + u16::from(add) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        use base64::Engine;
        let malleated = Submission {
            payload: good.payload.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        };
        assert!(!malleated.verify(registry.verifying_key("cec").unwrap()));
        let candidate = Candidate::new(malleated, registry.verifying_key("cec"));
        assert_eq!(code(registry.check_candidate(&candidate)), Some("E104"));
    }
}
