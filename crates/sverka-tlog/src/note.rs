//! C2SP signed-note v1.0.0: the note format (§"Format"), signature lines and key IDs
//! (§"Signatures"), Ed25519 signatures (§"Ed25519 signatures", type 0x01), verifier keys
//! (`<name>+<hex key ID>+<base64(type ‖ public key)>`), the `PRIVATE+KEY+…` signer key format of Go's
//! `golang.org/x/mod/sumdb/note`, and verification against a set of known keys.
//!
//! Parsing is strict and bounded: at most [`MAX_NOTE_SIZE`] bytes and [`MAX_SIGNATURES`] signatures,
//! valid UTF-8, no control characters but newline, canonical base64.

use std::collections::HashSet;
use std::fmt;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The largest note accepted, in bytes.
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// The most signature lines accepted in one note (the spec requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Signature type of Ed25519 note signatures (signed-note §"Signature types").
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Why a note, a signature line or a key was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum NoteError {
    /// More than [`MAX_NOTE_SIZE`] bytes.
    #[error("note is larger than {MAX_NOTE_SIZE} bytes")]
    TooLarge,
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// Not UTF-8, or contains a control character other than newline.
    #[error("note is not valid utf-8 text without control characters")]
    BadText,
    /// The text does not end in a newline, or there is no blank line before the signatures.
    #[error("note has no text ending in a newline followed by a blank line and signatures")]
    BadLayout,
    /// A signature line is malformed.
    #[error("malformed signature line {line}: {reason}")]
    BadSignatureLine { line: usize, reason: &'static str },
    /// A key name is empty or contains a space or `+`.
    #[error("key name {0:?} is empty or contains a space or plus")]
    BadKeyName(String),
    /// A signature from a known key did not verify (signed-note: reject the whole note).
    #[error("signature by known key {name}+{key_id:08x} does not verify")]
    BadSignature { name: String, key_id: u32 },
    /// No signature from a known key (signed-note: the note must be rejected).
    #[error("note has no signature from a known key")]
    NoKnownSignature,
}

/// Why a verifier or signer key string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum KeyError {
    /// The string does not have the expected `+`-separated parts.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The key is of a signature type this verifier does not handle.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    /// The key ID in the string is not the one computed from the name and key.
    #[error("key id {claimed:08x} does not match the key (expected {computed:08x})")]
    WrongKeyId { claimed: u32, computed: u32 },
    /// Two verifiers share a name and key ID.
    #[error("duplicate key {name}+{key_id:08x}")]
    Duplicate { name: String, key_id: u32 },
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+` (signed-note §"Format").
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName(name.chars().take(80).collect()))
    }
}

/// `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]` as a big-endian u32 (signed-note §"Signatures").
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', sig_type]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// One signature line: `— <name> base64(key ID ‖ signature)`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by key `(name, key_id)`; `signature` is what follows the key ID.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<NoteSignature, NoteError> {
        check_key_name(name)?;
        if signature.is_empty() {
            return Err(NoteError::BadSignatureLine { line: 0, reason: "empty signature" });
        }
        Ok(NoteSignature { name: name.to_owned(), key_id, signature })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!("— {} {}\n", self.name, BASE64_STANDARD.encode(bytes))
    }

    /// Parses one line without its newline; `line` is its number among the signatures, for errors.
    pub fn parse_line(text: &str, line: usize) -> Result<NoteSignature, NoteError> {
        let bad = |reason| NoteError::BadSignatureLine { line, reason };
        let rest = text
            .strip_prefix("— ")
            .ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, encoded) =
            rest.split_once(' ').ok_or_else(|| bad("no space between name and signature"))?;
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        let bytes = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| bad("signature is not canonical base64"))?;
        if bytes.len() < 5 {
            return Err(bad("signature is shorter than a key id and one byte"));
        }
        let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Ok(NoteSignature { name: name.to_owned(), key_id, signature: bytes[4..].to_vec() })
    }
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSignature({}+{:08x})", self.name, self.key_id)
    }
}

/// A note: its text (ending in a newline) and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the character rules of signed-note §"Format" on text already known to be UTF-8.
fn check_characters(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::BadText);
    }
    Ok(())
}

impl Note {
    /// An unsigned note with this text, which must be non-empty, end in a newline, and contain no
    /// control characters other than newline.
    pub fn new(text: &str) -> Result<Note, NoteError> {
        if text.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge);
        }
        check_characters(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::BadLayout);
        }
        Ok(Note { text: text.to_owned(), signatures: Vec::new() })
    }

    /// Parses a signed note (signed-note §"Format"): the text ends at the last blank line, every
    /// line after it is a signature line, and at least one signature is present.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge);
        }
        let message = std::str::from_utf8(bytes).map_err(|_| NoteError::BadText)?;
        check_characters(message)?;
        let split = message.rfind("\n\n").ok_or(NoteError::BadLayout)?;
        let text = &message[..=split];
        let signature_block = &message[split + 2..];
        let Some(signature_block) = signature_block.strip_suffix('\n') else {
            return Err(NoteError::BadLayout);
        };
        let mut signatures = Vec::new();
        for (line, text) in signature_block.split('\n').enumerate() {
            if line == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(text, line)?);
        }
        Ok(Note { text: text.to_owned(), signatures })
    }

    /// The text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in the order they appear.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line, replacing any existing one by the same key (name and key ID).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        self.signatures
            .retain(|s| (s.name.as_str(), s.key_id) != (signature.name.as_str(), signature.key_id));
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Signs the text with `signer` and adds the signature line.
    pub fn sign(&mut self, signer: &dyn NoteSigner) -> Result<(), NoteError> {
        let signature =
            NoteSignature::new(signer.name(), signer.key_id(), signer.sign(self.text.as_bytes()))?;
        self.add_signature(signature)
    }

    /// The signed note: text, blank line, one line per signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out.into_bytes()
    }

    /// Verifies the note against known keys (signed-note §"Signatures"): signatures by unknown keys
    /// (name and key ID not both matching a known key) are ignored; every signature by a known key
    /// must verify or the note is rejected; at least one must be present. Returns the verified
    /// signatures, one per key.
    pub fn verify(&self, known: &VerifierSet) -> Result<Vec<&NoteSignature>, NoteError> {
        let mut verified = Vec::new();
        let mut seen = HashSet::new();
        for signature in &self.signatures {
            let Some(verifier) = known.get(&signature.name, signature.key_id) else {
                continue;
            };
            if !verifier.verify(self.text.as_bytes(), &signature.signature) {
                return Err(NoteError::BadSignature {
                    name: signature.name.clone(),
                    key_id: signature.key_id,
                });
            }
            if seen.insert((signature.name.as_str(), signature.key_id)) {
                verified.push(signature);
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }

    /// Parses and verifies in one step.
    pub fn open(bytes: &[u8], known: &VerifierSet) -> Result<Note, NoteError> {
        let note = Note::parse(bytes)?;
        note.verify(known)?;
        Ok(note)
    }
}

/// A key that can check note signatures: identified by name and key ID.
pub trait NoteVerifier: Send + Sync {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// Whether `signature` (the bytes after the key ID) is valid for the note text `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// A key that can sign notes.
pub trait NoteSigner {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// The signature of the note text `text` (without the key ID).
    fn sign(&self, text: &[u8]) -> Vec<u8>;
}

/// The known keys a note is verified against, at most one per (name, key ID).
#[derive(Default)]
pub struct VerifierSet {
    verifiers: Vec<Box<dyn NoteVerifier>>,
}

impl fmt::Debug for VerifierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.verifiers.iter().map(|v| format!("{}+{:08x}", v.name(), v.key_id())))
            .finish()
    }
}

impl VerifierSet {
    /// No keys.
    pub fn new() -> VerifierSet {
        VerifierSet::default()
    }

    /// Adds a key; a second key with the same name and key ID is an error.
    pub fn add(&mut self, verifier: Box<dyn NoteVerifier>) -> Result<(), KeyError> {
        if self.get(verifier.name(), verifier.key_id()).is_some() {
            return Err(KeyError::Duplicate {
                name: verifier.name().to_owned(),
                key_id: verifier.key_id(),
            });
        }
        self.verifiers.push(verifier);
        Ok(())
    }

    /// A set holding these keys.
    pub fn with(verifiers: Vec<Box<dyn NoteVerifier>>) -> Result<VerifierSet, KeyError> {
        let mut set = VerifierSet::new();
        for verifier in verifiers {
            set.add(verifier)?;
        }
        Ok(set)
    }

    /// The key with this name and key ID.
    pub fn get(&self, name: &str, key_id: u32) -> Option<&dyn NoteVerifier> {
        self.verifiers.iter().find(|v| v.name() == name && v.key_id() == key_id).map(|v| v.as_ref())
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.verifiers.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }
}

/// Splits `<name>+<8 hex>+<base64>` and checks the name, hex and base64; returns the parts.
pub(crate) fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_base64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::Malformed("expected name+keyid+key"));
    };
    if !is_valid_key_name(name) {
        return Err(KeyError::Malformed("invalid key name"));
    }
    let id_ok = id_hex.len() == 8 && id_hex.bytes().all(|b| b.is_ascii_hexdigit());
    let key_id = u32::from_str_radix(id_hex, 16)
        .ok()
        .filter(|_| id_ok)
        .ok_or(KeyError::Malformed("key id is not 8 hex digits"))?;
    let key = BASE64_STANDARD
        .decode(key_base64)
        .map_err(|_| KeyError::Malformed("key is not canonical base64"))?;
    Ok((name, key_id, key))
}

/// Checks the type byte and length of `type ‖ 32-byte key` and returns the 32 bytes.
pub(crate) fn typed_key(bytes: &[u8], sig_type: u8) -> Result<[u8; 32], KeyError> {
    let (&found_type, key) = bytes.split_first().ok_or(KeyError::Malformed("empty key"))?;
    if found_type != sig_type {
        return Err(KeyError::UnsupportedType(found_type));
    }
    key.try_into().map_err(|_| KeyError::Malformed("key is not 32 bytes"))
}

/// An Ed25519 note verifier key (signature type 0x01).
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// The verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Ed25519Verifier, NoteError> {
        check_key_name(name)?;
        Ok(Ed25519Verifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`, checking the key ID.
    pub fn from_vkey(vkey: &str) -> Result<Ed25519Verifier, KeyError> {
        let (name, claimed, bytes) = split_key(vkey)?;
        let key_bytes = typed_key(&bytes, SIG_TYPE_ED25519)?;
        let computed = key_id(name, SIG_TYPE_ED25519, &key_bytes);
        if claimed != computed {
            return Err(KeyError::WrongKeyId { claimed, computed });
        }
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| KeyError::Malformed("not an ed25519 public key"))?;
        Ok(Ed25519Verifier { name: name.to_owned(), key_id: computed, key })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        let mut bytes = vec![SIG_TYPE_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64_STANDARD.encode(bytes))
    }

    /// The public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Verifier({})", self.to_vkey())
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(text, &signature).is_ok()
    }
}

/// An Ed25519 note signing key (signature type 0x01). Its `Debug` output hides the secret.
#[derive(Clone)]
pub struct Ed25519Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// The signer for `key` under `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<Ed25519Signer, NoteError> {
        check_key_name(name)?;
        Ok(Ed25519Signer {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// The signer for the Ed25519 key with this 32-byte seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Ed25519Signer, NoteError> {
        Ed25519Signer::new(name, SigningKey::from_bytes(seed))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>`, checking the key ID
    /// against the public key derived from the seed.
    pub fn from_skey(skey: &str) -> Result<Ed25519Signer, KeyError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed("signer key does not start with PRIVATE+KEY+"))?;
        let (name, claimed, bytes) = split_key(rest)?;
        let seed = typed_key(&bytes, SIG_TYPE_ED25519)?;
        let key = SigningKey::from_bytes(&seed);
        let computed = key_id(name, SIG_TYPE_ED25519, key.verifying_key().as_bytes());
        if claimed != computed {
            return Err(KeyError::WrongKeyId { claimed, computed });
        }
        Ok(Ed25519Signer { name: name.to_owned(), key_id: computed, key })
    }

    /// The signer key string; it holds the secret seed.
    pub fn to_skey(&self) -> String {
        let mut bytes = vec![SIG_TYPE_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, BASE64_STANDARD.encode(bytes))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signer({}+{:08x})", self.name, self.key_id)
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, text: &[u8]) -> Vec<u8> {
        self.key.sign(text).to_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note of Go's golang.org/x/mod/sumdb/note documentation, which the C2SP
    // signed-note format is taken from (also in the signed_note crate's docs).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_peter_neumann_example_verifies_and_re_signs_identically() {
        let verifier = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(verifier.key_id(), 0xc74f_20a3);
        assert_eq!(verifier.to_vkey(), PETER_VKEY);
        let known = VerifierSet::with(vec![Box::new(verifier)]).unwrap();
        let note = Note::open(PETER_NOTE.as_bytes(), &known).unwrap();
        assert!(note.text().starts_with("If you think"));

        let signer = Ed25519Signer::from_skey(PETER_SKEY).unwrap();
        assert_eq!(signer.to_skey(), PETER_SKEY);
        let mut fresh = Note::new(note.text()).unwrap();
        fresh.sign(&signer).unwrap();
        assert_eq!(String::from_utf8(fresh.to_bytes()).unwrap(), PETER_NOTE);
    }

    #[test]
    fn unknown_keys_are_ignored_but_bad_known_signatures_reject() {
        let known =
            VerifierSet::with(vec![Box::new(Ed25519Verifier::from_vkey(PETER_VKEY).unwrap())])
                .unwrap();
        let mut note = Note::parse(PETER_NOTE.as_bytes()).unwrap();
        let stranger = NoteSignature::new("someone.example", 0x1234_5678, vec![1; 64]).unwrap();
        note.add_signature(stranger).unwrap();
        assert_eq!(note.verify(&known).unwrap().len(), 1);

        let same_name_other_id =
            NoteSignature::new("PeterNeumann", 0x1111_1111, vec![1; 64]).unwrap();
        note.add_signature(same_name_other_id).unwrap();
        assert_eq!(note.verify(&known).unwrap().len(), 1);

        let forged = NoteSignature::new("PeterNeumann", 0xc74f_20a3, vec![0; 64]).unwrap();
        note.add_signature(forged).unwrap();
        assert!(matches!(note.verify(&known), Err(NoteError::BadSignature { .. })));

        let only_stranger =
            Note::parse("hello\n\n— someone.example AAAAAAE=\n".as_bytes()).unwrap();
        assert_eq!(only_stranger.verify(&known), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let cases: [&[u8]; 10] = [
            b"no signatures\n",
            b"text\n\n",
            b"text\n\n\xe2\x80\x94 name AAAAAAE=",
            b"text\n\n- name AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 name AAAAAA==\n",
            b"text\n\n\xe2\x80\x94 na+me AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 name AAAAAAE\n",
            b"te\rxt\n\n\xe2\x80\x94 name AAAAAAE=\n",
            b"\xff\n\n\xe2\x80\x94 name AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 name AAAAAAE=\n\n",
        ];
        for case in cases {
            assert!(Note::parse(case).is_err(), "{:?} accepted", String::from_utf8_lossy(case));
        }
        let mut many = b"text\n\n".to_vec();
        for _ in 0..=MAX_SIGNATURES {
            many.extend_from_slice("— name AAAAAAE=\n".as_bytes());
        }
        assert_eq!(Note::parse(&many), Err(NoteError::TooManySignatures));
        let huge = vec![b'a'; MAX_NOTE_SIZE + 1];
        assert_eq!(Note::parse(&huge), Err(NoteError::TooLarge));
    }

    #[test]
    fn keys_with_wrong_ids_or_types_are_rejected() {
        let wrong_id = PETER_VKEY.replace("c74f20a3", "c74f20a4");
        assert!(matches!(Ed25519Verifier::from_vkey(&wrong_id), Err(KeyError::WrongKeyId { .. })));
        assert!(Ed25519Verifier::from_vkey("PeterNeumann+c74f20a3").is_err());
        assert!(Ed25519Verifier::from_vkey(
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_ok());
        assert!(Ed25519Signer::from_skey(PETER_VKEY).is_err());
        let set = VerifierSet::with(vec![
            Box::new(Ed25519Verifier::from_vkey(PETER_VKEY).unwrap()),
            Box::new(Ed25519Verifier::from_vkey(PETER_VKEY).unwrap()),
        ]);
        assert!(matches!(set, Err(KeyError::Duplicate { .. })));
    }
}
