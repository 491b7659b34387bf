//! The signed submission: what scanners, operators, observers and the CEC send, and what the log
//! stores byte for byte. Its format is documented in `docs/formats.md` and pinned by tests.
//!
//! A submission is RFC 8785 canonical JSON of `{"payload": {...}, "signature": "<base64>"}`. The
//! signature is Ed25519 over `"sverka/submission/v1\n" ‖ canonical(payload)`, by the key the payload
//! names in `signer`. The payload's `type` says what it is: a polling-station `protocol`, an
//! `annulment` of a station, a key `key_registration` or `key_revocation`, or the `election`
//! definition itself (the log's first entry).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::election::KeyRecord;
use crate::names::{CorrectionReason, Source};

/// The version of the submission format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Domain separation for submission signatures, so a signature made here means nothing elsewhere.
pub const SIGNATURE_CONTEXT: &[u8] = b"sverka/submission/v1\n";

/// The most bytes one submission (one log entry) may have: what a tlog-tiles entry bundle can frame.
pub const MAX_SUBMISSION_BYTES: usize = 65_535;

/// A signed submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub payload: Payload,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub signature: String,
}

/// What was signed.
///
/// `Serialize` is derived (the body's members beside the payload's, `type` naming the kind);
/// `Deserialize` is written by hand below (`PayloadMembers`) so that the body's members are read
/// straight into their typed places in the one pass over the map, instead of serde's `flatten`,
/// which buffered every member in a private tree first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payload {
    /// [`FORMAT_VERSION`].
    pub v: u32,
    pub election: String,
    /// The id of the registered key that signed.
    pub signer: String,
    /// Per-signer sequence number, strictly increasing; stops replays.
    pub seq: u64,
    /// When the signer produced it (RFC 3339), as the signer's clock says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(flatten)]
    pub body: Body,
}

/// The kinds of submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    Protocol(Protocol),
    Annulment(Annulment),
    KeyRegistration(KeyRegistration),
    KeyRevocation(KeyRevocation),
    Election(ElectionDefinition),
    /// One step of a risk-limiting audit ([`crate::audit`]), CEC admin keys only.
    Audit(crate::audit::AuditStep),
}

/// One polling station's results for one contest, from one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub station: String,
    pub contest: String,
    pub source: Source,
    /// The form's numbered lines by line id.
    pub lines: BTreeMap<String, u64>,
    /// Votes per option (party or candidate id, and `against_all`).
    pub votes: BTreeMap<String, u64>,
    /// Preference votes per candidate, per party (open lists).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preferences: BTreeMap<String, BTreeMap<String, u64>>,
    /// The entry this one corrects, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Supersedes>,
    /// SHA-256 (lower-case hex) of the scanned paper protocol, stored as a blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_sha256: Option<String>,
}

/// A reference to the entry a correction replaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supersedes {
    /// The log index of the superseded entry.
    pub index: u64,
    pub reason: CorrectionReason,
}

/// Removes a station from the official tally (all contests, or one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annulment {
    pub station: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contest: Option<String>,
    /// The decision, in words, e.g. "CEC decision No. 123 of 5 December".
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistration {
    pub key: KeyRecord,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocation {
    pub key_id: String,
    pub reason: String,
}

/// The election definition as the log's first entry, so the log describes its own election.
///
/// A real definition (2,494 stations, their keys) is far larger than a log entry may be
/// ([`MAX_SUBMISSION_BYTES`], the 16-bit length of a tlog-tiles entry bundle), so the entry commits
/// to the `election.toml` bytes by their SHA-256 and the file itself is published beside the log as
/// `blob/<sha256>`, like a protocol's scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionDefinition {
    /// SHA-256 (lower-case hex) of the `election.toml` bytes, verbatim.
    pub definition_sha256: String,
}

impl ElectionDefinition {
    /// The entry body committing to `definition`.
    pub fn of(definition: &[u8]) -> ElectionDefinition {
        ElectionDefinition { definition_sha256: sha256_hex(definition) }
    }

    /// Whether `definition` is the file this entry commits to.
    pub fn matches(&self, definition: &[u8]) -> bool {
        sha256_hex(definition) == self.definition_sha256
    }
}

/// Lower-case hex SHA-256, as blobs are named.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Why bytes are not a well-formed submission (before any election-specific validation).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("submission is {0} bytes; the limit is {MAX_SUBMISSION_BYTES}")]
    TooLarge(usize),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("does not match the submission schema: {0}")]
    Schema(String),
    #[error(
        "not canonical JSON (RFC 8785): re-encode it with sorted keys, no spaces and integers only"
    )]
    NotCanonical,
    #[error("number out of range: {0}")]
    Number(String),
    #[error("unsupported format version {0}; this server reads version {FORMAT_VERSION}")]
    Version(u32),
    #[error("signature is not base64 of 64 bytes")]
    SignatureEncoding,
}

impl Payload {
    /// The canonical bytes of the payload.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::to_vec(self).expect("payload fields are integers within the safe range")
    }

    /// The message the signer signs.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut message = SIGNATURE_CONTEXT.to_vec();
        message.extend_from_slice(&self.canonical_bytes());
        message
    }

    /// Signs into a submission.
    pub fn sign(self, key: &SigningKey) -> Submission {
        let signature = crate::keys::sign(key, &self.signing_message());
        Submission { payload: self, signature: STANDARD.encode(signature) }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a payload

/// The kinds of body, by their `type`, in the order of [`Body`]'s variants.
const KINDS: &[&str] =
    &["protocol", "annulment", "key_registration", "key_revocation", "election", "audit"];

/// The members of each kind of body (those of [`Protocol`], [`Annulment`], …), in declaration
/// order, as the derived decoders of those structs name them in their errors.
const PROTOCOL_MEMBERS: &[&str] =
    &["station", "contest", "source", "lines", "votes", "preferences", "supersedes", "scan_sha256"];
const ANNULMENT_MEMBERS: &[&str] = &["station", "contest", "reason"];
const KEY_REGISTRATION_MEMBERS: &[&str] = &["key"];
const KEY_REVOCATION_MEMBERS: &[&str] = &["key_id", "reason"];
const ELECTION_MEMBERS: &[&str] = &["definition_sha256"];

/// A payload member this decoder reads into a typed place: the payload's own, `type`, and every
/// member of a body kind other than `audit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    V,
    Election,
    Signer,
    Seq,
    Time,
    Type,
    Station,
    Contest,
    Source,
    Lines,
    Votes,
    Preferences,
    Supersedes,
    ScanSha256,
    Reason,
    Key,
    KeyId,
    DefinitionSha256,
}

impl Member {
    fn of(name: &str) -> Option<Member> {
        Some(match name {
            "v" => Member::V,
            "election" => Member::Election,
            "signer" => Member::Signer,
            "seq" => Member::Seq,
            "time" => Member::Time,
            "type" => Member::Type,
            "station" => Member::Station,
            "contest" => Member::Contest,
            "source" => Member::Source,
            "lines" => Member::Lines,
            "votes" => Member::Votes,
            "preferences" => Member::Preferences,
            "supersedes" => Member::Supersedes,
            "scan_sha256" => Member::ScanSha256,
            "reason" => Member::Reason,
            "key" => Member::Key,
            "key_id" => Member::KeyId,
            "definition_sha256" => Member::DefinitionSha256,
            _ => return None,
        })
    }
}

/// A member's name as read: one of ours, or another (an audit step's, or unknown), kept whole.
enum MemberName {
    Ours(Member),
    Other(String),
}

impl<'de> Deserialize<'de> for MemberName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl serde::de::Visitor<'_> for NameVisitor {
            type Value = MemberName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<MemberName, E> {
                Ok(Member::of(name)
                    .map_or_else(|| MemberName::Other(name.into()), MemberName::Ours))
            }
        }
        deserializer.deserialize_identifier(NameVisitor)
    }
}

/// The body's kind, read from `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Protocol,
    Annulment,
    KeyRegistration,
    KeyRevocation,
    Election,
    Audit,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl serde::de::Visitor<'_> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a submission type")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Kind, E> {
                Ok(match name {
                    "protocol" => Kind::Protocol,
                    "annulment" => Kind::Annulment,
                    "key_registration" => Kind::KeyRegistration,
                    "key_revocation" => Kind::KeyRevocation,
                    "election" => Kind::Election,
                    "audit" => Kind::Audit,
                    _ => return Err(E::unknown_variant(name, KINDS)),
                })
            }
        }
        deserializer.deserialize_identifier(KindVisitor)
    }
}

/// Every member of a payload, each in its typed place, filled in one pass over the map.
///
/// Members come sorted in canonical bytes, so `type` comes after most of the body's: a member is
/// read into its place whatever the kind turns out to be, and [`PayloadMembers::into_payload`]
/// then checks that the kind has every member it needs and none it does not know, as the derived
/// decoders of [`Body`]'s variants do. Names shared by kinds have one type in all of them
/// (`station`, `reason`: text; `contest`: text, or `null` where optional; `votes`: counts), so the
/// place does not depend on the kind. An `audit` body's members that no other kind has are kept as
/// JSON values and, with those above, handed to [`crate::audit::AuditStep`]'s own decoder.
#[derive(Default)]
struct PayloadMembers {
    v: Option<u32>,
    election: Option<String>,
    signer: Option<String>,
    seq: Option<u64>,
    /// `Some(None)` when present as `null`, so a second `time` is still a duplicate.
    time: Option<Option<String>>,
    kind: Option<Kind>,
    station: Option<String>,
    /// Optional in an annulment, so `null` is read here and refused for a protocol.
    contest: Option<Option<String>>,
    source: Option<Source>,
    lines: Option<BTreeMap<String, u64>>,
    votes: Option<BTreeMap<String, u64>>,
    preferences: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    supersedes: Option<Option<Supersedes>>,
    scan_sha256: Option<Option<String>>,
    reason: Option<String>,
    key: Option<KeyRecord>,
    key_id: Option<String>,
    definition_sha256: Option<String>,
    /// Members not named in [`Member`], in the order read: an audit step's, or unknown ones.
    others: Vec<(String, serde_json::Value)>,
}

/// The member read into `place`, or the derived decoders' refusal when it was missing.
fn required<T, E: serde::de::Error>(place: Option<T>, name: &'static str) -> Result<T, E> {
    place.ok_or_else(|| E::missing_field(name))
}

/// Reads the next value into `place`, refusing a second one as the derived decoders do.
fn read_into<'de, A, T>(
    map: &mut A,
    place: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error>
where
    A: serde::de::MapAccess<'de>,
    T: Deserialize<'de>,
{
    if place.is_some() {
        return Err(serde::de::Error::duplicate_field(name));
    }
    *place = Some(map.next_value()?);
    Ok(())
}

impl PayloadMembers {
    fn read<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<PayloadMembers, A::Error> {
        let mut m = PayloadMembers::default();
        while let Some(name) = map.next_key::<MemberName>()? {
            let member = match name {
                MemberName::Ours(member) => member,
                MemberName::Other(name) => {
                    let value = map.next_value()?;
                    m.others.push((name, value));
                    continue;
                }
            };
            match member {
                Member::V => read_into(&mut map, &mut m.v, "v")?,
                Member::Election => read_into(&mut map, &mut m.election, "election")?,
                Member::Signer => read_into(&mut map, &mut m.signer, "signer")?,
                Member::Seq => read_into(&mut map, &mut m.seq, "seq")?,
                Member::Time => read_into(&mut map, &mut m.time, "time")?,
                Member::Type => read_into(&mut map, &mut m.kind, "type")?,
                Member::Station => read_into(&mut map, &mut m.station, "station")?,
                Member::Contest => read_into(&mut map, &mut m.contest, "contest")?,
                Member::Source => read_into(&mut map, &mut m.source, "source")?,
                Member::Lines => read_into(&mut map, &mut m.lines, "lines")?,
                Member::Votes => read_into(&mut map, &mut m.votes, "votes")?,
                Member::Preferences => read_into(&mut map, &mut m.preferences, "preferences")?,
                Member::Supersedes => read_into(&mut map, &mut m.supersedes, "supersedes")?,
                Member::ScanSha256 => read_into(&mut map, &mut m.scan_sha256, "scan_sha256")?,
                Member::Reason => read_into(&mut map, &mut m.reason, "reason")?,
                Member::Key => read_into(&mut map, &mut m.key, "key")?,
                Member::KeyId => read_into(&mut map, &mut m.key_id, "key_id")?,
                Member::DefinitionSha256 => {
                    read_into(&mut map, &mut m.definition_sha256, "definition_sha256")?
                }
            }
        }
        Ok(m)
    }

    /// The names of the body's members present, ours in [`Member`] order, then the others.
    fn body_names(&self) -> impl Iterator<Item = &str> {
        let ours = [
            ("station", self.station.is_some()),
            ("contest", self.contest.is_some()),
            ("source", self.source.is_some()),
            ("lines", self.lines.is_some()),
            ("votes", self.votes.is_some()),
            ("preferences", self.preferences.is_some()),
            ("supersedes", self.supersedes.is_some()),
            ("scan_sha256", self.scan_sha256.is_some()),
            ("reason", self.reason.is_some()),
            ("key", self.key.is_some()),
            ("key_id", self.key_id.is_some()),
            ("definition_sha256", self.definition_sha256.is_some()),
        ];
        let ours = ours.into_iter().filter(|(_, present)| *present).map(|(name, _)| name);
        ours.chain(self.others.iter().map(|(name, _)| name.as_str()))
    }

    /// Refuses the first member present that a body of this kind does not have.
    fn only<E: serde::de::Error>(&self, members: &'static [&'static str]) -> Result<(), E> {
        match self.body_names().find(|name| !members.contains(name)) {
            Some(name) => Err(E::unknown_field(name, members)),
            None => Ok(()),
        }
    }

    /// The payload, once the map is read: the payload's members, then the body's kind, then its
    /// members, each refusal as the derived decoders word it.
    fn into_payload<E: serde::de::Error>(mut self) -> Result<Payload, E> {
        let v = required(self.v, "v")?;
        let election = required(self.election.take(), "election")?;
        let signer = required(self.signer.take(), "signer")?;
        let seq = required(self.seq, "seq")?;
        let time = self.time.take().flatten();
        let body = self.into_body()?;
        Ok(Payload { v, election, signer, seq, time, body })
    }

    fn into_body<E: serde::de::Error>(self) -> Result<Body, E> {
        let kind = required(self.kind, "type")?;
        Ok(match kind {
            Kind::Protocol => {
                self.only(PROTOCOL_MEMBERS)?;
                let contest = match required(self.contest, "contest")? {
                    Some(contest) => contest,
                    None => return Err(E::invalid_type(serde::de::Unexpected::Unit, &"a string")),
                };
                Body::Protocol(Protocol {
                    station: required(self.station, "station")?,
                    contest,
                    source: required(self.source, "source")?,
                    lines: required(self.lines, "lines")?,
                    votes: required(self.votes, "votes")?,
                    preferences: self.preferences.unwrap_or_default(),
                    supersedes: self.supersedes.flatten(),
                    scan_sha256: self.scan_sha256.flatten(),
                })
            }
            Kind::Annulment => {
                self.only(ANNULMENT_MEMBERS)?;
                Body::Annulment(Annulment {
                    station: required(self.station, "station")?,
                    contest: self.contest.flatten(),
                    reason: required(self.reason, "reason")?,
                })
            }
            Kind::KeyRegistration => {
                self.only(KEY_REGISTRATION_MEMBERS)?;
                Body::KeyRegistration(KeyRegistration { key: required(self.key, "key")? })
            }
            Kind::KeyRevocation => {
                self.only(KEY_REVOCATION_MEMBERS)?;
                Body::KeyRevocation(KeyRevocation {
                    key_id: required(self.key_id, "key_id")?,
                    reason: required(self.reason, "reason")?,
                })
            }
            Kind::Election => {
                self.only(ELECTION_MEMBERS)?;
                Body::Election(ElectionDefinition {
                    definition_sha256: required(self.definition_sha256, "definition_sha256")?,
                })
            }
            Kind::Audit => Body::Audit(self.into_audit_step()?),
        })
    }

    /// An audit step, from every body member present, by [`crate::audit::AuditStep`]'s own
    /// decoder (which refuses what none of its steps has).
    fn into_audit_step<E: serde::de::Error>(self) -> Result<crate::audit::AuditStep, E> {
        fn value<T: Serialize, E: serde::de::Error>(x: &T) -> Result<serde_json::Value, E> {
            serde_json::to_value(x).map_err(E::custom)
        }
        let mut members = serde_json::Map::new();
        let ours = [
            ("station", self.station.as_ref().map(value).transpose()?),
            ("contest", self.contest.as_ref().map(value).transpose()?),
            ("source", self.source.as_ref().map(value).transpose()?),
            ("lines", self.lines.as_ref().map(value).transpose()?),
            ("votes", self.votes.as_ref().map(value).transpose()?),
            ("preferences", self.preferences.as_ref().map(value).transpose()?),
            ("supersedes", self.supersedes.as_ref().map(value).transpose()?),
            ("scan_sha256", self.scan_sha256.as_ref().map(value).transpose()?),
            ("reason", self.reason.as_ref().map(value).transpose()?),
            ("key", self.key.as_ref().map(value).transpose()?),
            ("key_id", self.key_id.as_ref().map(value).transpose()?),
            ("definition_sha256", self.definition_sha256.as_ref().map(value).transpose()?),
        ];
        for (name, member) in ours {
            if let Some(member) = member {
                members.insert(name.into(), member);
            }
        }
        for (name, member) in self.others {
            if members.contains_key(&name) {
                return Err(E::custom(format_args!("duplicate field `{name}`")));
            }
            members.insert(name, member);
        }
        crate::audit::AuditStep::deserialize(serde_json::Value::Object(members)).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PayloadVisitor;
        impl<'de> serde::de::Visitor<'de> for PayloadVisitor {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a submission payload (a JSON object)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Payload, A::Error> {
                PayloadMembers::read(map)?.into_payload()
            }
        }
        deserializer.deserialize_map(PayloadVisitor)
    }
}

impl Submission {
    /// The canonical bytes: what is sent, and what the log stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical::to_vec(self).expect("submission fields are integers within the safe range")
    }

    /// Decodes bytes strictly: the schema must match, and the bytes must be exactly the canonical
    /// encoding (so one submission has one byte string, one leaf hash, one receipt).
    pub fn decode(bytes: &[u8]) -> Result<Submission, DecodeError> {
        Submission::decode_signed(bytes).map(Decoded::into_submission)
    }

    /// [`Submission::decode`], keeping the message the signature covers, cut from the bytes
    /// themselves (they are canonical, so the payload's canonical bytes are a slice of them): no
    /// second encoding to verify the signature.
    pub fn decode_signed(bytes: &[u8]) -> Result<Decoded, DecodeError> {
        if bytes.len() > MAX_SUBMISSION_BYTES {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        if let Some(decoded) = Submission::decode_canonical(bytes) {
            return Ok(decoded);
        }
        let submission = Submission::decode_reporting(bytes)?;
        let message = submission.payload.signing_message();
        Ok(Decoded { submission, message })
    }

    /// The common case in one parse and one pass over the bytes: bytes that deserialise and are
    /// exactly the canonical encoding of what they deserialise to ([`canonical::is_encoding_of`],
    /// which compares without encoding again). Canonical output has only integers in the safe
    /// range, so these bytes pass every check of [`Submission::decode_reporting`] as well;
    /// anything else is `None`, and that function names the problem.
    fn decode_canonical(bytes: &[u8]) -> Option<Decoded> {
        let submission: Submission = serde_json::from_slice(bytes).ok()?;
        if submission.payload.v != FORMAT_VERSION {
            return None;
        }
        if !canonical::is_encoding_of(&submission, bytes) {
            return None;
        }
        submission.signature_bytes().ok()?;
        // `{"payload":<canonical payload>,"signature":"<base64>"}`, keys in sorted order.
        let prefix = b"{\"payload\":".len();
        let suffix = b",\"signature\":\"\"}".len() + submission.signature.len();
        let payload = bytes.get(prefix..bytes.len().checked_sub(suffix)?)?;
        let mut message = Vec::with_capacity(SIGNATURE_CONTEXT.len() + payload.len());
        message.extend_from_slice(SIGNATURE_CONTEXT);
        message.extend_from_slice(payload);
        Some(Decoded { submission, message })
    }

    /// Decoding step by step, so a refusal names its first problem (number, schema, version,
    /// encoding, signature).
    fn decode_reporting(bytes: &[u8]) -> Result<Submission, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
        let canonical =
            canonical::value_to_vec(&value).map_err(|e| DecodeError::Number(e.to_string()))?;
        let submission: Submission =
            serde_json::from_value(value).map_err(|e| DecodeError::Schema(e.to_string()))?;
        if submission.payload.v != FORMAT_VERSION {
            return Err(DecodeError::Version(submission.payload.v));
        }
        if canonical != bytes || submission.to_bytes() != bytes {
            return Err(DecodeError::NotCanonical);
        }
        submission.signature_bytes()?;
        Ok(submission)
    }

    /// The 64 signature bytes.
    pub fn signature_bytes(&self) -> Result<[u8; 64], DecodeError> {
        let bytes = STANDARD.decode(&self.signature).map_err(|_| DecodeError::SignatureEncoding)?;
        bytes.try_into().map_err(|_| DecodeError::SignatureEncoding)
    }

    /// Whether the signature verifies under `key`: one Ed25519 check, `verify_strict` (RFC 8032
    /// §5.1.7 with the canonical-S check, and no small-order keys or `R`), which accepts nothing the
    /// plain check would refuse.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        match self.signature_bytes() {
            Ok(signature) => crate::keys::verify(key, &self.payload.signing_message(), &signature),
            Err(_) => false,
        }
    }

    /// Verifies the signature under `key`, once, and says so in the type: a [`Verified`] when it
    /// verifies, a [`Refuted`] when it does not. These are the only ways to make either, so code
    /// holding one (the sequencer) can skip the Ed25519 check that was done on another thread.
    #[allow(clippy::result_large_err)] // both variants carry the submission; nothing to box
    pub fn verify_under(self, key: &VerifyingKey) -> Result<Verified, Refuted> {
        if self.verify(key) {
            Ok(Verified { submission: self, key: *key })
        } else {
            Err(Refuted { submission: self, key: *key })
        }
    }
}

/// A submission decoded from its canonical bytes, with the message its signature covers
/// (`SIGNATURE_CONTEXT ‖ canonical(payload)`). Made only by [`Submission::decode_signed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    submission: Submission,
    message: Vec<u8>,
}

impl Decoded {
    pub fn submission(&self) -> &Submission {
        &self.submission
    }

    pub fn into_submission(self) -> Submission {
        self.submission
    }

    /// The signed message.
    pub fn signing_message(&self) -> &[u8] {
        &self.message
    }

    /// [`Decoded::verify_under`] of each `(decoded, key)`, in order, with the signatures checked
    /// together by [`crate::keys::verify_each`] (the same verdicts, one inversion for them all).
    #[allow(clippy::result_large_err)] // both variants carry the submission; nothing to box
    pub fn verify_all_under(items: Vec<(Decoded, VerifyingKey)>) -> Vec<Result<Verified, Refuted>> {
        let signatures: Vec<Option<[u8; 64]>> =
            items.iter().map(|(decoded, _)| decoded.submission.signature_bytes().ok()).collect();
        let checkable: Vec<(&VerifyingKey, &[u8], &[u8; 64])> = items
            .iter()
            .zip(&signatures)
            .filter_map(|((decoded, key), signature)| {
                Some((key, decoded.message.as_slice(), signature.as_ref()?))
            })
            .collect();
        let mut verdicts = crate::keys::verify_each(&checkable).into_iter();
        let valid: Vec<bool> = signatures
            .iter()
            .map(|signature| signature.is_some() && verdicts.next().expect("one per checkable"))
            .collect();
        items
            .into_iter()
            .zip(valid)
            .map(|((decoded, key), valid)| {
                if valid {
                    Ok(Verified { submission: decoded.submission, key })
                } else {
                    Err(Refuted { submission: decoded.submission, key })
                }
            })
            .collect()
    }

    /// [`Submission::verify_under`] without encoding the payload again.
    #[allow(clippy::result_large_err)] // both variants carry the submission; nothing to box
    pub fn verify_under(self, key: &VerifyingKey) -> Result<Verified, Refuted> {
        let valid = match self.submission.signature_bytes() {
            Ok(signature) => crate::keys::verify(key, &self.message, &signature),
            Err(_) => false,
        };
        if valid {
            Ok(Verified { submission: self.submission, key: *key })
        } else {
            Err(Refuted { submission: self.submission, key: *key })
        }
    }
}

/// A submission whose signature verified under [`Verified::key`]. Made only by
/// [`Submission::verify_under`]; whether that key is the signer's registered key is for the
/// registry to decide ([`crate::registry::KeyRegistry::check_candidate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    submission: Submission,
    key: VerifyingKey,
}

impl Verified {
    pub fn submission(&self) -> &Submission {
        &self.submission
    }

    /// The key the signature verified under.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn into_submission(self) -> Submission {
        self.submission
    }
}

/// A submission whose signature did not verify under [`Refuted::key`]. Made only by
/// [`Submission::verify_under`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refuted {
    submission: Submission,
    key: VerifyingKey,
}

impl Refuted {
    pub fn submission(&self) -> &Submission {
        &self.submission
    }

    /// The key the signature failed under.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn into_submission(self) -> Submission {
        self.submission
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(reason: &str) -> Submission {
        Payload {
            v: FORMAT_VERSION,
            election: "tiny".into(),
            signer: "cec".into(),
            seq: 7,
            time: Some("2021-11-28T20:00:00+06:00".into()),
            body: Body::Annulment(Annulment {
                station: "1001".into(),
                contest: None,
                reason: reason.into(),
            }),
        }
        .sign(&SigningKey::from_bytes(&[4; 32]))
    }

    #[test]
    fn the_message_cut_from_the_bytes_is_the_message_signed() {
        for reason in ["", "decision \"No. 1\" — ж, ё, ü", "\u{1}\\ \u{7f}"] {
            let submission = signed(reason);
            let decoded = Submission::decode_signed(&submission.to_bytes()).unwrap();
            assert_eq!(decoded.signing_message(), submission.payload.signing_message());
            assert_eq!(decoded.submission(), &submission);
            let key = SigningKey::from_bytes(&[4; 32]).verifying_key();
            assert!(decoded.verify_under(&key).is_ok());
        }
    }

    #[test]
    fn bytes_that_are_not_canonical_get_the_same_refusal_as_before() {
        let bytes = signed("x").to_bytes();
        let spaced = String::from_utf8(bytes.clone()).unwrap().replacen(':', ": ", 1);
        assert_eq!(Submission::decode(spaced.as_bytes()), Err(DecodeError::NotCanonical));
        let text = String::from_utf8(bytes).unwrap();
        let big = text.replace("\"seq\":7", "\"seq\":9007199254740992");
        assert!(matches!(Submission::decode(big.as_bytes()), Err(DecodeError::Number(_))));
        let float = text.replace("\"seq\":7", "\"seq\":7.0");
        assert!(matches!(Submission::decode(float.as_bytes()), Err(DecodeError::Number(_))));
    }
}
