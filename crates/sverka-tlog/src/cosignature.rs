//! C2SP tlog-cosignature (Ed25519, signature type 0x04, `cosignature/v1`): a witness's signature
//! line on a checkpoint, whose signature is `u64_be(timestamp) ‖ Ed25519(message)` over
//! `cosignature/v1\ntime <timestamp>\n<checkpoint note text>` (§"Format", §"Ed25519 signed message").
//!
//! The ML-DSA-44 cosignature type of the same document is not implemented.

use std::fmt;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::checkpoint::Checkpoint;
use crate::note::{
    is_valid_key_name, key_id, split_key, typed_key, KeyError, Note, NoteError, NoteSignature,
    NoteVerifier, SIG_TYPE_COSIGNATURE_V1,
};

/// The largest timestamp a cosignature may carry (tlog-cosignature: at most 2^63 − 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a cosignature was not made or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CosignatureError {
    /// The timestamp is above 2^63 − 1.
    #[error("cosignature timestamp {0} is above 2^63 - 1")]
    TimestampTooLarge(u64),
    /// The signature line is by another key.
    #[error("signature is by {name}+{key_id:08x}, not this cosigner")]
    WrongKey { name: String, key_id: u32 },
    /// The signature is not 8 + 64 bytes.
    #[error("cosignature is {0} bytes, expected 72")]
    BadLength(usize),
    /// The Ed25519 signature does not verify.
    #[error("cosignature by {name}+{key_id:08x} does not verify")]
    BadSignature { name: String, key_id: u32 },
    /// The key name is invalid.
    #[error("invalid cosigner name")]
    Note(#[from] NoteError),
}

/// The message an Ed25519 cosigner signs (tlog-cosignature §"Ed25519 signed message").
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// A witness's Ed25519 cosigning key. Its `Debug` output hides the secret.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Cosigner {
    /// The cosigner for `key` under `name`; its key ID uses signature type 0x04.
    pub fn new(name: &str, key: SigningKey) -> Result<Cosigner, CosignatureError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::BadKeyName(name.chars().take(80).collect()).into());
        }
        Ok(Cosigner {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// The cosigner for the Ed25519 key with this 32-byte seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Cosigner, CosignatureError> {
        Cosigner::new(name, SigningKey::from_bytes(seed))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 ‖ seed)>` (the signed-note signer key
    /// format with the cosignature type byte).
    pub fn from_skey(skey: &str) -> Result<Cosigner, KeyError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed("signer key does not start with PRIVATE+KEY+"))?;
        let (name, claimed, bytes) = split_key(rest)?;
        let seed = typed_key(&bytes, SIG_TYPE_COSIGNATURE_V1)?;
        let key = SigningKey::from_bytes(&seed);
        let computed = key_id(name, SIG_TYPE_COSIGNATURE_V1, key.verifying_key().as_bytes());
        if claimed != computed {
            return Err(KeyError::WrongKeyId { claimed, computed });
        }
        Ok(Cosigner { name: name.to_owned(), key_id: computed, key })
    }

    /// The signer key string; it holds the secret seed.
    pub fn to_skey(&self) -> String {
        let mut bytes = vec![SIG_TYPE_COSIGNATURE_V1];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, BASE64_STANDARD.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line for `checkpoint` at POSIX time `timestamp`.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        self.cosign_text(&checkpoint.to_text(), timestamp)
    }

    /// The cosignature line for checkpoint note text `checkpoint_text` at time `timestamp`.
    pub fn cosign_text(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge(timestamp));
        }
        let signature = self.key.sign(&cosigned_message(checkpoint_text, timestamp));
        let mut bytes = Vec::with_capacity(72);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(NoteSignature::new(&self.name, self.key_id, bytes)?)
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}+{:08x})", self.name, self.key_id)
    }
}

/// A witness's public cosigning key.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// The verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignatureVerifier, CosignatureError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::BadKeyName(name.chars().take(80).collect()).into());
        }
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`.
    pub fn from_vkey(vkey: &str) -> Result<CosignatureVerifier, KeyError> {
        let (name, claimed, bytes) = split_key(vkey)?;
        let key_bytes = typed_key(&bytes, SIG_TYPE_COSIGNATURE_V1)?;
        let computed = key_id(name, SIG_TYPE_COSIGNATURE_V1, &key_bytes);
        if claimed != computed {
            return Err(KeyError::WrongKeyId { claimed, computed });
        }
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| KeyError::Malformed("not an ed25519 public key"))?;
        Ok(CosignatureVerifier { name: name.to_owned(), key_id: computed, key })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        let mut bytes = vec![SIG_TYPE_COSIGNATURE_V1];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64_STANDARD.encode(bytes))
    }

    /// Verifies a cosignature line on checkpoint note text and returns its timestamp.
    pub fn verify(
        &self,
        checkpoint_text: &str,
        signature: &NoteSignature,
    ) -> Result<u64, CosignatureError> {
        if signature.name() != self.name || signature.key_id() != self.key_id {
            return Err(CosignatureError::WrongKey {
                name: signature.name().to_owned(),
                key_id: signature.key_id(),
            });
        }
        let bytes = signature.signature();
        let (Some((timestamp, sig)), 72) = (bytes.split_first_chunk::<8>(), bytes.len()) else {
            return Err(CosignatureError::BadLength(bytes.len()));
        };
        let timestamp = u64::from_be_bytes(*timestamp);
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge(timestamp));
        }
        let bad =
            || CosignatureError::BadSignature { name: self.name.clone(), key_id: self.key_id };
        let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad())?;
        self.key
            .verify_strict(&cosigned_message(checkpoint_text, timestamp), &sig)
            .map_err(|_| bad())?;
        Ok(timestamp)
    }

    /// Finds this witness's cosignature in a checkpoint note and verifies it: `Ok(None)` if the
    /// note has none, an error if it has one that does not verify.
    pub fn verify_in_note(&self, note: &Note) -> Result<Option<u64>, CosignatureError> {
        note.signatures()
            .iter()
            .find(|s| s.name() == self.name && s.key_id() == self.key_id)
            .map(|s| self.verify(note.text(), s))
            .transpose()
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({})", self.to_vkey())
    }
}

/// A cosignature verifier can sit in a [`crate::note::VerifierSet`] beside log keys: a note's text is
/// the checkpoint text it cosigns.
impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        let Ok(line) = NoteSignature::new(&self.name, self.key_id, signature.to_vec()) else {
            return false;
        };
        CosignatureVerifier::verify(self, text, &line).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn cosignatures_verify_and_carry_their_timestamp() {
        let witness = Cosigner::from_seed("witness.example/w1", &[7; 32]).unwrap();
        let checkpoint = Checkpoint::new("log.example", 5, leaf_hash(b"x")).unwrap();
        let line = witness.cosign(&checkpoint, 1_679_315_147).unwrap();
        assert_eq!(line.signature().len(), 72);
        assert_eq!(&line.signature()[..8], &1_679_315_147u64.to_be_bytes());
        let verifier = CosignatureVerifier::from_vkey(&witness.verifier().to_vkey()).unwrap();
        assert_eq!(verifier.verify(&checkpoint.to_text(), &line), Ok(1_679_315_147));

        let other = Checkpoint::new("log.example", 6, leaf_hash(b"x")).unwrap();
        assert!(matches!(
            verifier.verify(&other.to_text(), &line),
            Err(CosignatureError::BadSignature { .. })
        ));
        assert_eq!(
            witness.cosign(&checkpoint, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampTooLarge(MAX_TIMESTAMP + 1))
        );
        let round_trip = Cosigner::from_skey(&witness.to_skey()).unwrap();
        assert_eq!(round_trip.key_id(), witness.key_id());
    }

    #[test]
    fn the_signed_message_is_the_spec_example_byte_for_byte() {
        // tlog-cosignature §"Ed25519 signed message" example, written out independently.
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let expected = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
                        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(cosigned_message(body, 1_679_315_147), expected.as_bytes());
        // The signature line's bytes are the timestamp then a plain Ed25519 signature of that.
        let witness = Cosigner::from_seed("witness.example.com/w1", &[9; 32]).unwrap();
        let line = witness.cosign_text(body, 1_679_315_147).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&line.signature()[8..]).unwrap();
        let public = SigningKey::from_bytes(&[9; 32]).verifying_key();
        assert!(public.verify_strict(expected.as_bytes(), &signature).is_ok());
    }

    #[test]
    fn the_key_id_uses_type_0x04() {
        let witness = Cosigner::from_seed("w", &[1; 32]).unwrap();
        let public = witness.verifier().key;
        assert_eq!(witness.key_id(), key_id("w", 0x04, public.as_bytes()));
        assert_ne!(witness.key_id(), key_id("w", 0x01, public.as_bytes()));
        assert!(witness.verifier().to_vkey().starts_with(&format!("w+{:08x}+B", witness.key_id())));
    }
}
