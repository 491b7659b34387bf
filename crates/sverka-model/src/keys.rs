//! Ed25519 keys as sverka writes them: public keys as standard base64 of the 32 raw bytes (in
//! `election.toml` and key entries), private keys as files holding base64 of the 32-byte seed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Decodes a base64 public key; `None` unless it is exactly 32 bytes and a valid curve point.
pub fn decode_public_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&decode_public_key_bytes(text)?).ok()
}

/// The 32 bytes of a base64 public key, not yet decompressed to a curve point (the costly part
/// of [`decode_public_key`], and its check that the bytes are a key at all).
pub fn decode_public_key_bytes(text: &str) -> Option<[u8; 32]> {
    // Room for the decoder's estimate of any text that could hold 32 bytes (44 characters).
    let mut bytes = [0u8; 36];
    match STANDARD.decode_slice(text, &mut bytes) {
        Ok(32) => bytes[..32].try_into().ok(),
        _ => None,
    }
}

/// Base64 of a public key's 32 bytes.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// A private key file's content: base64 of the 32-byte seed, one line.
pub fn encode_private_key(key: &SigningKey) -> String {
    STANDARD.encode(key.to_bytes())
}

/// Reads a private key file's content.
pub fn decode_private_key(text: &str) -> Option<SigningKey> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    let seed: [u8; 32] = bytes.try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

/// A new private key: 32 bytes from `rng` as its seed (what ed25519-dalek 2's
/// `SigningKey::generate` did; version 3 takes only `rand_core` 0.10 generators).
pub fn generate_private_key<R: rand::RngCore + rand::CryptoRng + ?Sized>(
    rng: &mut R,
) -> SigningKey {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    // Not left on the stack for whatever uses it next.
    zeroize::Zeroize::zeroize(&mut seed);
    key
}

/// Signs `message` (which already carries its domain-separation prefix).
pub fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// Verifies a 64-byte signature strictly (no malleable signatures, RFC 8032 §5.1.7 with the
/// canonical-S check that ed25519-dalek's `verify_strict` applies).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let signature = Signature::from_bytes(signature);
    key.verify_strict(message, &signature).is_ok() && key.verify(message, &signature).is_ok()
}
