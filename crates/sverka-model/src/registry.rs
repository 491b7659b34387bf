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
use std::fmt;
use std::sync::{Arc, Mutex};

use ed25519_dalek::VerifyingKey;

use crate::audit::AuditBook;
use crate::election::{Election, IdIndex, KeyRecord};
use crate::names::{Role, Source};
use crate::protocol_view::SignedView;
use crate::submission::{Body, Decoded, Refuted, Submission, Verified};
use crate::validate::Finding;

/// What the log has said about a registered key since.
#[derive(Clone, Copy, Debug, Default)]
struct KeyState {
    revoked: bool,
    /// The highest `seq` accepted from this key.
    last_seq: Option<u64>,
}

/// The keys of the definition, indexed where they are (in [`Election::keys`]) and kept as their
/// 32 raw bytes: a million keys cost about 50 MB here instead of a gigabyte of maps holding a
/// copy of every record and a decompressed curve point (an `EdwardsPoint`) per key.
struct ElectionKeys {
    election: Arc<Election>,
    /// Key ids to positions in `election.keys` (only the keys registered: see [`ElectionKeys::new`]).
    by_id: IdIndex,
    /// The public key of each position, its 32 raw bytes.
    raw: Vec<[u8; 32]>,
    /// Raw public keys to positions.
    by_key: IdIndex,
}

impl ElectionKeys {
    /// Every key of the definition whose public key is base64 of 32 bytes, with an id and a
    /// public key not seen before (all of them, in a definition `Election::from_toml` read).
    fn new(election: Arc<Election>) -> ElectionKeys {
        let mut raw = Vec::with_capacity(election.keys.len());
        // Made for every key: growing would hash and place each one again at every doubling.
        let n = election.keys.len();
        let (mut by_id, mut by_key) = (IdIndex::with_capacity(n), IdIndex::with_capacity(n));
        for (position, record) in election.keys.iter().enumerate() {
            let bytes = crate::keys::decode_public_key_bytes(&record.public_key);
            raw.push(bytes.unwrap_or_default());
            let Ok(position) = u32::try_from(position) else { break };
            let id_at = |i: u32| election.keys[i as usize].id.as_bytes();
            let key_at = |i: u32| raw[i as usize].as_slice();
            // A key whose id or public key is taken is left out of both indexes; `insert`
            // itself finds an id taken (one probe of each index instead of two).
            if bytes.is_none()
                || by_key.get(&raw[position as usize], key_at).is_some()
                || by_id.insert(position, id_at).is_err()
            {
                continue;
            }
            let _ = by_key.insert(position, key_at);
        }
        ElectionKeys { election, by_id, raw, by_key }
    }

    fn position(&self, id: &str) -> Option<usize> {
        let id_at = |i: u32| self.election.keys[i as usize].id.as_bytes();
        self.by_id.get(id.as_bytes(), id_at).map(|i| i as usize)
    }

    fn position_of_key(&self, raw: &[u8; 32]) -> Option<usize> {
        self.by_key.get(raw, |i| self.raw[i as usize].as_slice()).map(|i| i as usize)
    }
}

/// A key registered by an entry of the log (few: replacement scanners and the like).
#[derive(Clone, Debug)]
struct AddedKey {
    record: KeyRecord,
    raw: [u8; 32],
}

/// The keys registered by entries of the log, by id and by raw public key.
#[derive(Clone, Debug, Default)]
struct AddedKeys {
    by_id: HashMap<String, AddedKey>,
    by_key: HashMap<[u8; 32], String>,
}

/// Decompressed public keys by their raw bytes, shared by a registry, its clones and every
/// [`PublicKeys`] taken from them. Bounded: when full it starts again, so the keys that sign
/// often (operators, observers, admins) stay decompressed and a million scanner keys that sign
/// twice each do not all stay in memory (an `EdwardsPoint` is 160 bytes).
#[derive(Default)]
struct Decompressed(Mutex<HashMap<[u8; 32], VerifyingKey>>);

impl Decompressed {
    const CAPACITY: usize = 1 << 16;

    /// The key of these bytes, `None` when they are not a point of the curve.
    fn get(&self, raw: &[u8; 32]) -> Option<VerifyingKey> {
        let lock = || self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = lock().get(raw) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(raw).ok()?;
        let mut cache = lock();
        if cache.len() >= Decompressed::CAPACITY {
            cache.clear();
        }
        cache.insert(*raw, key);
        Some(key)
    }
}

/// Every registered public key (revoked ones too) by key id, as of when it was taken from a
/// [`KeyRegistry`] ([`KeyRegistry::public_keys`]): cheap to clone and to send to other threads,
/// which verify signatures under these keys while the registry goes on folding entries. Keys
/// never change and ids are never reused, so a snapshot at worst lacks a key registered after it
/// was taken. A key is decompressed when it is asked for, through a small shared cache.
#[derive(Clone)]
pub struct PublicKeys {
    election: Arc<ElectionKeys>,
    added: Arc<AddedKeys>,
    cache: Arc<Decompressed>,
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeys")
            .field("election_keys", &self.election.election.keys.len())
            .field("added", &self.added.by_id.len())
            .finish_non_exhaustive()
    }
}

impl PublicKeys {
    /// The raw 32 bytes of the key registered under `id`.
    pub fn bytes(&self, id: &str) -> Option<[u8; 32]> {
        match self.election.position(id) {
            Some(position) => Some(self.election.raw[position]),
            None => self.added.by_id.get(id).map(|key| key.raw),
        }
    }

    /// The key registered under `id`, decompressed; `None` also when its bytes are not a curve
    /// point (possible only in a definition read with [`Election::from_toml_trusted_keys`]).
    pub fn verifying_key(&self, id: &str) -> Option<VerifyingKey> {
        self.cache.get(&self.bytes(id)?)
    }

    /// The record of the key registered under `id`.
    fn record(&self, id: &str) -> Option<&KeyRecord> {
        match self.election.position(id) {
            Some(position) => Some(&self.election.election.keys[position]),
            None => self.added.by_id.get(id).map(|key| &key.record),
        }
    }

    /// The id the public key `raw` is registered under.
    fn id_of_key(&self, raw: &[u8; 32]) -> Option<&str> {
        match self.election.position_of_key(raw) {
            Some(position) => Some(&self.election.election.keys[position].id),
            None => self.added.by_key.get(raw).map(String::as_str),
        }
    }
}

/// What [`KeyRegistry::check_signer`] reads of a submission, from its typed parse
/// ([`Signing::of`]) or from a [`SignedView`] of its bytes: one check for both.
struct Signing<'s> {
    election: &'s str,
    signer: &'s str,
    seq: u64,
    signs: Signs<'s>,
}

/// What is signed, as far as the signer's role is concerned.
enum Signs<'s> {
    /// A station's protocol, from a source.
    Protocol { station: &'s str, source: Source },
    /// Something only CEC admin keys sign (the payload's `type`).
    AdminOnly(&'static str),
}

impl<'s> Signing<'s> {
    fn of(submission: &'s Submission) -> Signing<'s> {
        let payload = &submission.payload;
        let signs = match &payload.body {
            Body::Protocol(protocol) => {
                Signs::Protocol { station: &protocol.station, source: protocol.source }
            }
            Body::Annulment(_) => Signs::AdminOnly("annulment"),
            Body::KeyRegistration(_) => Signs::AdminOnly("key_registration"),
            Body::KeyRevocation(_) => Signs::AdminOnly("key_revocation"),
            Body::Election(_) => Signs::AdminOnly("election"),
            Body::Audit(_) => Signs::AdminOnly("audit"),
        };
        Signing { election: &payload.election, signer: &payload.signer, seq: payload.seq, signs }
    }
}

/// Who may sign what, as of some entry of the log.
#[derive(Clone)]
pub struct KeyRegistry {
    election_id: String,
    /// The registered keys: the definition's (shared with the [`Election`]) and the log's.
    keys: PublicKeys,
    /// What the log said about the definition's keys, by position in [`Election::keys`].
    election_states: Vec<KeyState>,
    /// What the log said about the keys it registered.
    added_states: HashMap<String, KeyState>,
    /// The audits so far, for the order of their steps (`E7xx`).
    audits: AuditBook,
}

impl fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRegistry")
            .field("election", &self.election_id)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl KeyRegistry {
    /// The registry before the first entry: the keys of the definition, shared with it (nothing
    /// per key is copied but its 32 raw bytes).
    pub fn new(election: Arc<Election>) -> KeyRegistry {
        let audits = AuditBook::new(&election);
        let election_states = vec![KeyState::default(); election.keys.len()];
        KeyRegistry {
            election_id: election.id.clone(),
            keys: PublicKeys {
                election: Arc::new(ElectionKeys::new(election)),
                added: Arc::default(),
                cache: Arc::default(),
            },
            election_states,
            added_states: HashMap::new(),
            audits,
        }
    }

    /// [`KeyRegistry::new`] for a borrowed election, which it copies: for small elections and
    /// tests; a large one should be shared ([`KeyRegistry::new`]).
    pub fn from_election(election: &Election) -> KeyRegistry {
        KeyRegistry::new(Arc::new(election.clone()))
    }

    /// A key registered by an entry of the log, unless its id or its public key is taken or it
    /// is not a key at all.
    fn register(&mut self, record: &KeyRecord) {
        let Some(key) = crate::keys::decode_public_key(&record.public_key) else {
            return;
        };
        let raw = key.to_bytes();
        if self.keys.bytes(&record.id).is_some() || self.keys.id_of_key(&raw).is_some() {
            return;
        }
        let added = Arc::make_mut(&mut self.keys.added);
        added.by_key.insert(raw, record.id.clone());
        added.by_id.insert(record.id.clone(), AddedKey { record: record.clone(), raw });
        self.added_states.insert(record.id.clone(), KeyState::default());
    }

    /// The record, the state and the raw public key of the key registered under `id`: what
    /// `record`, `state` and `bytes` of the id give, with one lookup of the id instead of three.
    fn registered(&self, id: &str) -> Option<(&KeyRecord, KeyState, [u8; 32])> {
        let election = &self.keys.election;
        match election.position(id) {
            Some(p) => Some((&election.election.keys[p], self.election_states[p], election.raw[p])),
            None => {
                let key = self.keys.added.by_id.get(id)?;
                Some((&key.record, *self.added_states.get(id)?, key.raw))
            }
        }
    }

    fn state(&self, id: &str) -> Option<KeyState> {
        match self.keys.election.position(id) {
            Some(position) => Some(self.election_states[position]),
            None => self.added_states.get(id).copied(),
        }
    }

    fn state_mut(&mut self, id: &str) -> Option<&mut KeyState> {
        match self.keys.election.position(id) {
            Some(position) => Some(&mut self.election_states[position]),
            None => self.added_states.get_mut(id),
        }
    }

    /// Notes `seq` as accepted from key `id` (its highest so far stays its [`KeyRegistry::last_seq`]),
    /// as [`KeyRegistry::apply`] does for every entry; nothing for a key not registered. How
    /// `sverka verify --state` restores the sequence numbers it saved, with no entry to apply.
    pub fn note_seq(&mut self, id: &str, seq: u64) {
        if let Some(key) = self.state_mut(id) {
            key.last_seq = Some(key.last_seq.map_or(seq, |last| last.max(seq)));
        }
    }

    /// The record of a registered key (revoked or not).
    pub fn key(&self, id: &str) -> Option<&KeyRecord> {
        self.keys.record(id)
    }

    /// Whether a key has been revoked.
    pub fn is_revoked(&self, id: &str) -> bool {
        self.state(id).is_some_and(|k| k.revoked)
    }

    /// The highest sequence number accepted from a key.
    pub fn last_seq(&self, id: &str) -> Option<u64> {
        self.state(id).and_then(|k| k.last_seq)
    }

    /// Every key that signed an accepted entry, with the highest sequence number accepted from
    /// it (definition keys in the definition's order, then the log's in no particular order).
    pub fn last_seqs(&self) -> impl Iterator<Item = (&str, u64)> {
        let election = &self.keys.election.election;
        let of_election = self.election_states.iter().zip(&election.keys);
        let of_election = of_election.filter_map(|(s, k)| Some((k.id.as_str(), s.last_seq?)));
        let of_log =
            self.added_states.iter().filter_map(|(id, s)| Some((id.as_str(), s.last_seq?)));
        of_election.chain(of_log)
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

    /// The raw 32 bytes of the public key registered under `id` (revoked or not), with no
    /// decompression. Keys never change and ids are never reused, so a signature verified under
    /// this key on another thread stays valid for `id`.
    pub fn public_key_bytes(&self, id: &str) -> Option<[u8; 32]> {
        self.keys.bytes(id)
    }

    /// The public key registered under `id` (revoked or not), decompressed (through a small
    /// cache shared with [`KeyRegistry::public_keys`]).
    pub fn verifying_key(&self, id: &str) -> Option<VerifyingKey> {
        self.keys.verifying_key(id)
    }

    /// Every registered key as of now, for other threads: see [`PublicKeys`].
    pub fn public_keys(&self) -> PublicKeys {
        self.keys.clone()
    }

    /// [`KeyRegistry::check`] for a submission whose signature may already have been checked on
    /// another thread: the same rules and codes, but a [`Candidate::Verified`] or
    /// [`Candidate::Refuted`] under the signer's registered key costs no Ed25519 operation (nor a
    /// decompression of the key) here.
    pub fn check_candidate(&self, candidate: &Candidate) -> Result<(), Finding> {
        let submission = candidate.submission();
        let signature_ok = |raw: &[u8; 32]| match candidate {
            Candidate::Verified(verified) if verified.key().as_bytes() == raw => Some(true),
            Candidate::Refuted(refuted) if refuted.key().as_bytes() == raw => Some(false),
            _ => self.keys.cache.get(raw).map(|key| submission.verify(&key)),
        };
        self.check_signer_with(&Signing::of(submission), signature_ok)?;
        self.check_key_entry(submission)?;
        self.check_audit_step(submission)
    }

    /// Whether the signer may sign this submission: right election (`E101`), a registered
    /// (`E102`) and unrevoked (`E103`) key, a signature that verifies (`E104`), the role for what
    /// is signed (`E106` to `E109`), and a sequence number above the signer's last (`E105`).
    pub fn check_signer(&self, submission: &Submission) -> Result<(), Finding> {
        self.check_signer_with(&Signing::of(submission), |raw| {
            self.keys.cache.get(raw).map(|key| submission.verify(&key))
        })
    }

    /// [`KeyRegistry::check_candidate`] of a protocol entry read as a [`SignedView`] of its bytes
    /// (`sverka verify`'s read of nearly every entry, with no typed parse): the same rules, codes
    /// and order as for the `Submission::decode_signed` of those bytes. `checked` is the verdict
    /// of its signature under a key with these raw bytes, checked on another thread (`None`:
    /// not checked); it counts only if that key is the signer's registered key, as in
    /// [`KeyRegistry::check_candidate`], else the signature is checked here.
    pub fn check_signed_view(
        &self,
        view: &SignedView<'_>,
        checked: Option<([u8; 32], bool)>,
    ) -> Result<(), Finding> {
        let protocol = &view.protocol;
        let signing = Signing {
            election: protocol.election,
            signer: protocol.signer,
            seq: protocol.seq,
            signs: Signs::Protocol { station: protocol.station, source: protocol.source },
        };
        // A protocol is neither a key entry nor an audit step: nothing more to check.
        self.check_signer_with(&signing, |raw| match checked {
            Some((key, verified)) if key == *raw => Some(verified),
            _ => self
                .keys
                .cache
                .get(raw)
                .map(|key| crate::keys::verify(&key, &view.signing_message(), &view.signature)),
        })
    }

    /// [`KeyRegistry::apply`] of a protocol read as a [`SignedView`]: the signer's last
    /// sequence number (all a protocol changes here).
    pub fn apply_signed_view(&mut self, view: &SignedView<'_>) {
        self.note_seq(view.protocol.signer, view.protocol.seq);
    }

    /// [`KeyRegistry::check_signer`] with the signature check under the registered key (given its
    /// raw bytes: `None` when they are not a curve point, which counts as not registered).
    fn check_signer_with(
        &self,
        signing: &Signing<'_>,
        signature_ok: impl FnOnce(&[u8; 32]) -> Option<bool>,
    ) -> Result<(), Finding> {
        if signing.election != self.election_id {
            return Err(Finding::new("E101")
                .with("got", signing.election)
                .with("expected", &self.election_id));
        }
        let signer = signing.signer;
        let Some((record, state, raw)) = self.registered(signer) else {
            return Err(Finding::new("E102").with("signer", signer));
        };
        if state.revoked {
            return Err(Finding::new("E103").with("signer", signer));
        }
        match signature_ok(&raw) {
            None => return Err(Finding::new("E102").with("signer", signer)),
            Some(false) => return Err(Finding::new("E104").with("signer", signer)),
            Some(true) => {}
        }
        self.check_role(record, &signing.signs)?;
        if let Some(last) = state.last_seq.filter(|&last| signing.seq <= last) {
            return Err(Finding::new("E105")
                .with("seq", signing.seq)
                .with("signer", signer)
                .with("last", last));
        }
        Ok(())
    }

    fn check_role(&self, key: &KeyRecord, signs: &Signs<'_>) -> Result<(), Finding> {
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
        let (station, source) = match *signs {
            Signs::Protocol { station, source } => (station, source),
            Signs::AdminOnly(kind) => return admin_only(kind),
        };
        match source {
            Source::Machine => {
                let own = key.role == Role::Machine && key.station.as_deref() == Some(station);
                if !own {
                    return Err(Finding::new("E106")
                        .with("station", station)
                        .with("signer", signer));
                }
            }
            Source::Manual => {
                let election = &self.keys.election.election;
                let Some(district) = election.station(station).map(|s| &s.district) else {
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
                if self.keys.bytes(&record.id).is_some() {
                    return Err(Finding::new("E110").with("key", &record.id));
                }
                let Some(verifying_key) = crate::keys::decode_public_key(&record.public_key) else {
                    return Err(Finding::new("E112").with("key", &record.id));
                };
                if let Some(other) = self.keys.id_of_key(verifying_key.as_bytes()) {
                    return Err(Finding::new("E114").with("key", &record.id).with("other", other));
                }
                Ok(())
            }
            Body::KeyRevocation(revocation) => match self.state(&revocation.key_id) {
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
        self.note_seq(&payload.signer, payload.seq);
        match &payload.body {
            Body::KeyRegistration(registration) => self.register(&registration.key),
            Body::KeyRevocation(revocation) => {
                if let Some(key) = self.state_mut(&revocation.key_id) {
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

    /// [`Candidate::from_decoded`] of each item that decoded, in order, the signatures checked
    /// together ([`Decoded::verify_all_under`]: the same verdicts as one by one, with one field
    /// inversion for all of them instead of one each); an item that did not decode keeps its error.
    pub fn from_decoded_each<E>(
        items: Vec<Result<(Decoded, Option<VerifyingKey>), E>>,
    ) -> Vec<Result<Candidate, E>> {
        let mut keyed = Vec::with_capacity(items.len());
        // In order: what an item already is (its error, or unchecked for want of a key), or
        // `None` when its verdict comes from `keyed`, in the same order.
        let mut settled: Vec<Option<Result<Candidate, E>>> = Vec::with_capacity(items.len());
        for item in items {
            settled.push(match item {
                Ok((decoded, Some(key))) => {
                    keyed.push((decoded, key));
                    None
                }
                Ok((decoded, None)) => Some(Ok(Candidate::Unchecked(decoded.into_submission()))),
                Err(e) => Some(Err(e)),
            });
        }
        let mut verdicts = Decoded::verify_all_under(keyed).into_iter();
        settled
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    Ok(match verdicts.next().expect("one verdict per keyed item") {
                        Ok(verified) => Candidate::Verified(verified),
                        Err(refuted) => Candidate::Refuted(refuted),
                    })
                })
            })
            .collect()
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

    /// `sverka verify --state` restores each signer's sequence number with `note_seq`: the
    /// registry then refuses a replay as if the entry had been applied.
    #[test]
    fn a_noted_sequence_number_counts_as_an_applied_entry() {
        let mut registry = registry();
        let entry = annulment_signed_by(4);
        assert_eq!(code(registry.check(&entry)), None);
        registry.note_seq("cec", 1);
        registry.note_seq("cec", 0);
        registry.note_seq("no-such-key", 5);
        assert_eq!(registry.last_seq("cec"), Some(1));
        assert_eq!(registry.last_seq("no-such-key"), None);
        assert_eq!(registry.last_seqs().collect::<Vec<_>>(), [("cec", 1)]);
        assert_eq!(code(registry.check(&entry)), Some("E105"));
        let mut applied = self::registry();
        applied.apply(&entry);
        assert_eq!(applied.last_seqs().collect::<Vec<_>>(), [("cec", 1)]);
    }

    #[test]
    fn a_signature_verified_under_the_registered_key_is_admitted() {
        let registry = registry();
        let good = annulment_signed_by(4);
        let candidate = Candidate::new(good.clone(), registry.verifying_key("cec").as_ref());
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
        let refuted = Candidate::new(forged, registry.verifying_key("cec").as_ref());
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
        registry.state_mut("cec").unwrap().revoked = true;
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
        assert!(!malleated.verify(&registry.verifying_key("cec").unwrap()));
        let candidate = Candidate::new(malleated, registry.verifying_key("cec").as_ref());
        assert_eq!(code(registry.check_candidate(&candidate)), Some("E104"));
    }

    /// The first 32 bytes (of the form `[n, 0, .., 0]`) that are not a point of the curve:
    /// base64 of 32 bytes, but no Ed25519 key.
    fn not_a_point() -> String {
        let raw = (0..=255u8)
            .map(|n| {
                let mut raw = [0u8; 32];
                raw[0] = n;
                raw
            })
            .find(|raw| VerifyingKey::from_bytes(raw).is_err())
            .expect("about half of all y coordinates are not on the curve");
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    #[test]
    fn a_key_decompressed_on_use_is_the_key_registered() {
        let registry = registry();
        for (id, seed) in [("cec", 4), ("obs", 7)] {
            let key = key(seed).verifying_key();
            assert_eq!(registry.verifying_key(id), Some(key), "{id}");
            assert_eq!(registry.public_key_bytes(id), Some(key.to_bytes()), "{id}");
            // Asked again (now from the cache), and from another thread through a snapshot.
            assert_eq!(registry.verifying_key(id), Some(key), "{id}");
            let keys = registry.public_keys();
            let id = id.to_string();
            let from_thread = std::thread::spawn(move || keys.verifying_key(&id)).join().unwrap();
            assert_eq!(from_thread, Some(key));
        }
        assert_eq!(registry.verifying_key("nobody"), None);
        assert_eq!(registry.public_key_bytes("nobody"), None);
    }

    #[test]
    fn a_key_registered_by_the_log_is_in_later_snapshots_only() {
        let mut registry = registry();
        let before = registry.public_keys();
        let new_key = key(9).verifying_key();
        let registration = Payload {
            v: FORMAT_VERSION,
            election: registry.election_id.clone(),
            signer: "cec".into(),
            seq: 1,
            time: None,
            body: Body::KeyRegistration(crate::submission::KeyRegistration {
                key: KeyRecord {
                    id: "obs-2".into(),
                    role: Role::Observer,
                    public_key: crate::keys::encode_public_key(&new_key),
                    station: None,
                    district: None,
                },
            }),
        }
        .sign(&key(4));
        assert_eq!(code(registry.check(&registration)), None);
        registry.apply(&registration);
        assert_eq!(registry.verifying_key("obs-2"), Some(new_key));
        assert_eq!(registry.public_keys().verifying_key("obs-2"), Some(new_key));
        assert_eq!(before.verifying_key("obs-2"), None);
        assert_eq!(registry.last_seq("cec"), Some(1));
        let seqs: Vec<(&str, u64)> = registry.last_seqs().collect();
        assert_eq!(seqs, [("cec", 1)]);
        // The same public key again, under another id, is refused (E114) like a definition key.
        let mut again = registration.payload.clone();
        again.seq = 2;
        if let Body::KeyRegistration(r) = &mut again.body {
            r.key.id = "obs-3".into();
        }
        assert_eq!(code(registry.check(&again.sign(&key(4)))), Some("E114"));
    }

    #[test]
    fn a_key_that_is_not_a_point_is_refused_at_load_and_unusable_when_trusted() {
        let text = format!(
            "{TINY}\n[[keys]]\nid = \"cec\"\nrole = \"admin\"\npublic_key = \"{}\"\n",
            not_a_point()
        );
        let errors = Election::from_toml("election.toml", &text).unwrap_err().0;
        let line = text.lines().position(|l| l.starts_with("public_key")).unwrap() + 1;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].column), (line, 14));
        assert_eq!(
            errors[0].message,
            "`public_key` of key \"cec\" is not base64 of a 32-byte Ed25519 key"
        );
        // Read as already checked, the key is taken as written, and its signer is refused as
        // not registered when it signs.
        let election = Election::from_toml_trusted_keys("election.toml", &text).unwrap();
        let registry = KeyRegistry::new(Arc::new(election));
        assert!(registry.public_key_bytes("cec").is_some());
        assert_eq!(registry.verifying_key("cec"), None);
        assert_eq!(code(registry.check(&annulment_signed_by(4))), Some("E102"));
    }
}
