//! Ed25519 keys as sverka writes them: public keys as standard base64 of the 32 raw bytes (in
//! `election.toml` and key entries), private keys as files holding base64 of the 32-byte seed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

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
    encode_public_key_bytes(key.as_bytes())
}

/// [`encode_public_key`] of a key's 32 bytes.
pub fn encode_public_key_bytes(bytes: &[u8; 32]) -> String {
    STANDARD.encode(bytes)
}

/// A private key file's content: base64 of the 32-byte seed, one line.
pub fn encode_private_key(key: &SigningKey) -> String {
    encode_private_seed(&key.to_bytes())
}

/// [`encode_private_key`] of a key's 32-byte seed.
pub fn encode_private_seed(seed: &[u8; 32]) -> String {
    STANDARD.encode(seed)
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

/// Verifies a 64-byte signature with exactly ed25519-dalek's `verify_strict` verdict (RFC 8032
/// §5.1.7 cofactorless, S canonical, neither the key nor R of small order), at the cost of one
/// point decompression fewer: R's bytes are compared with the recomputed R' = S·B − k·A
/// (k = SHA-512(R ‖ A ‖ M) mod ℓ) instead of being decompressed first. Why the verdicts agree:
/// R' compresses to a canonical encoding of a point, so R' = R byte for byte implies that R's
/// bytes decompress, to R' itself; then R is of small order exactly when R' is, which is checked
/// on R'. When R's bytes do not decompress, or are a non-canonical encoding, they never equal R'
/// and both refuse. The key is the point its bytes decompressed to, hashed as those bytes, as in
/// `verify_strict`. Tests compare the two on crafted and random inputs (`tests` below).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    recompute_r(key, message, signature).is_some_and(|recomputed| {
        recomputed.compress().as_bytes()[..] == signature[..32] && !recomputed.is_small_order()
    })
}

/// The R' = S·B − k·A that [`verify`] and [`verify_each`] compare with R's bytes; `None` when the
/// signature is refused before it: S not canonical, or the key of small order.
fn recompute_r(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Option<curve25519_dalek::EdwardsPoint> {
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use sha2::{Digest, Sha512};
    let (r, s) = signature.split_at(32);
    let s: [u8; 32] = s.try_into().expect("64 = 32 + 32");
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    let a = key.to_edwards();
    if a.is_small_order() {
        return None;
    }
    let hash = Sha512::new().chain_update(r).chain_update(key.as_bytes()).chain_update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    Some(EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s))
}

/// [`verify`] of each of `items` (key, message, signature): the same verdicts, one per item in
/// order, for less: the recomputed R' of all of them are compressed together with one field
/// inversion (Montgomery's trick, `EdwardsPoint::compress_batch_alloc`) instead of one each, and
/// compression is a deterministic function of the point, so each R' gets the very bytes
/// [`verify`] compares. Nothing is accepted or refused as a group: a wrong signature among them
/// is named and changes no other verdict.
pub fn verify_each(items: &[(&VerifyingKey, &[u8], &[u8; 64])]) -> Vec<bool> {
    // For each item, the position of its R' among `points`, or none when refused before it.
    let mut at: Vec<Option<usize>> = Vec::with_capacity(items.len());
    let mut points = Vec::with_capacity(items.len());
    for (key, message, signature) in items {
        at.push(recompute_r(key, message, signature).map(|point| {
            points.push(point);
            points.len() - 1
        }));
    }
    let compressed = curve25519_dalek::EdwardsPoint::compress_batch_alloc(&points);
    items
        .iter()
        .zip(at)
        .map(|((_, _, signature), at)| {
            at.is_some_and(|k| {
                compressed[k].as_bytes()[..] == signature[..32] && !points[k].is_small_order()
            })
        })
        .collect()
}

/// Which of curve25519-dalek's backends does the Ed25519 arithmetic in this process: the
/// `curve25519_dalek_backend` the build chose (`.cargo/config.toml` asks for "avx512"; a `RUSTFLAGS`
/// in the environment replaces that, and with no choice the library takes "simd" on x86-64), then
/// what this processor offers, as curve25519-dalek decides at run time (AVX-512 IFMA, else AVX2,
/// else its portable code). Checking signatures on AVX-512 IFMA costs about 60 % of AVX2
/// (BENCHMARKS.md), so a measurement names the backend it ran on.
pub fn backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        const CHOSEN: bool = cfg!(any(
            curve25519_dalek_backend = "avx512",
            curve25519_dalek_backend = "simd",
            curve25519_dalek_backend = "serial",
            curve25519_dalek_backend = "fiat",
            curve25519_dalek_backend = "unstable_avx512",
        ));
        const AVX512: bool = cfg!(curve25519_dalek_backend = "avx512")
            || (!CHOSEN && cfg!(all(target_feature = "avx512ifma", target_feature = "avx512vl")));
        const SIMD: bool = AVX512 || cfg!(curve25519_dalek_backend = "simd") || !CHOSEN;
        if AVX512
            && std::arch::is_x86_feature_detected!("avx512ifma")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return "AVX-512 IFMA";
        }
        if SIMD && std::arch::is_x86_feature_detected!("avx2") {
            return "AVX2";
        }
    }
    if cfg!(curve25519_dalek_backend = "fiat") {
        "fiat (portable)"
    } else {
        "portable"
    }
}

#[cfg(test)]
mod tests {
    //! [`verify`] against ed25519-dalek's `verify_strict`, asked input by input.
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use ed25519_dalek::Signature;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use sha2::{Digest, Sha512};

    /// Both verdicts on one input, which must agree; the verdict.
    fn same(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        let strict = key.verify_strict(message, &Signature::from_bytes(signature)).is_ok();
        assert_eq!(verify(key, message, signature), strict, "{key:?} {message:?} {signature:?}");
        strict
    }

    fn signing_key(seed: u64) -> SigningKey {
        generate_private_key(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }

    fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
        let hash = Sha512::new().chain_update(r).chain_update(a).chain_update(message);
        Scalar::from_bytes_mod_order_wide(&hash.finalize().into())
    }

    /// S = r + k·a for R = r·B + `torsion` under the key `key_point` (whose secret scalar is
    /// `a` up to a torsion component of its own).
    fn crafted(
        a: Scalar,
        key_point: EdwardsPoint,
        torsion: EdwardsPoint,
        m: &[u8],
    ) -> (VerifyingKey, [u8; 64]) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(m.len() as u32) + 99);
        let r = Scalar::from_bytes_mod_order(rng.gen());
        let key = VerifyingKey::from(key_point);
        let big_r = (r * B + torsion).compress().to_bytes();
        let s = r + challenge(&big_r, key.as_bytes(), m) * a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&big_r);
        bytes[32..].copy_from_slice(s.as_bytes());
        (key, bytes)
    }

    #[test]
    fn honest_signatures_verify_and_every_flipped_bit_is_refused_by_both() {
        for seed in 0..4 {
            let key = signing_key(seed);
            let message = format!("protocol {seed}: 1234 ballots").into_bytes();
            let signature = sign(&key, &message);
            assert!(same(&key.verifying_key(), &message, &signature));
            for bit in 0..512 {
                let mut bad = signature;
                bad[bit / 8] ^= 1 << (bit % 8);
                same(&key.verifying_key(), &message, &bad);
            }
            let mut other = message.clone();
            other[0] ^= 1;
            assert!(!same(&key.verifying_key(), &other, &signature));
            assert!(!same(&signing_key(seed + 10).verifying_key(), &message, &signature));
        }
    }

    #[test]
    fn a_non_canonical_s_is_refused_by_both() {
        let key = signing_key(1);
        let signature = sign(&key, b"S + l");
        // ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian.
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut bytes = signature;
        let mut carry = 0u16;
        for k in 0..32 {
            let sum = u16::from(bytes[32 + k]) + u16::from(order[k]) + carry;
            bytes[32 + k] = sum as u8;
            carry = sum >> 8;
        }
        assert!(!same(&key.verifying_key(), b"S + l", &bytes));
    }

    #[test]
    fn small_order_keys_and_small_order_r_are_refused_by_both() {
        // The identity as the key, R small order, S = 0: the equation holds for any message.
        let identity = VerifyingKey::from(EdwardsPoint::default());
        for torsion in EIGHT_TORSION {
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(&torsion.compress().to_bytes());
            assert!(!same(&identity, b"anything", &bytes));
            let honest = signing_key(5);
            same(&honest.verifying_key(), b"anything", &bytes);
        }
        // Every small-order key, with a signature crafted to satisfy the equation.
        for torsion in EIGHT_TORSION {
            let (key, signature) = crafted(Scalar::ZERO, torsion, EdwardsPoint::default(), b"weak");
            assert!(!same(&key, b"weak", &signature));
        }
        // R = the identity's non-canonical encodings: sign bit on x = 0, and y = 1 + p.
        let key = signing_key(6);
        let mut negative_zero = sign(&key, b"-0");
        negative_zero[..32].copy_from_slice(&EdwardsPoint::default().compress().to_bytes());
        negative_zero[31] |= 0x80;
        assert!(!same(&key.verifying_key(), b"-0", &negative_zero));
        let mut y_plus_p = sign(&key, b"1 + p");
        let mut p_plus_1 = [0xffu8; 32];
        p_plus_1[0] = 0xee;
        p_plus_1[31] = 0x7f;
        y_plus_p[..32].copy_from_slice(&p_plus_1);
        assert!(!same(&key.verifying_key(), b"1 + p", &y_plus_p));
    }

    #[test]
    fn torsion_components_in_r_or_the_key_get_the_same_verdicts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let a = Scalar::from_bytes_mod_order(rng.gen());
        let (mut passed, mut failed) = (0, 0);
        for (k, torsion) in EIGHT_TORSION.iter().enumerate() {
            for m in 0..16u8 {
                let message = vec![m; k + usize::from(m)];
                // R with a torsion component under an honest key.
                let (key, signature) = crafted(a, a * B, *torsion, &message);
                same(&key, &message, &signature);
                // A key with a torsion component: the defect −k·T vanishes when 8 divides k.
                let (key, signature) =
                    crafted(a, a * B + torsion, EdwardsPoint::default(), &message);
                if same(&key, &message, &signature) {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
        }
        assert!(passed > 0 && failed > 0, "both verdicts occur: {passed} passed, {failed} failed");
    }

    #[test]
    fn verify_each_gives_each_item_the_verdict_verify_gives_it() {
        // A corpus mixing honest signatures with every kind of refusal above.
        let mut owned: Vec<(VerifyingKey, Vec<u8>, [u8; 64])> = Vec::new();
        for seed in 0..40u64 {
            let key = signing_key(seed % 7);
            let message = format!("entry {seed}").into_bytes();
            let mut signature = sign(&key, &message);
            match seed % 5 {
                1 => signature[(seed as usize * 13) % 64] ^= 1 << (seed % 8),
                3 => signature[63] |= 0xf0,
                _ => {}
            }
            owned.push((key.verifying_key(), message, signature));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let a = Scalar::from_bytes_mod_order(rng.gen());
        for (k, torsion) in EIGHT_TORSION.iter().enumerate() {
            let message = vec![7u8; k];
            let (key, signature) = crafted(a, a * B + torsion, EdwardsPoint::default(), &message);
            owned.push((key, message.clone(), signature));
            let (key, signature) = crafted(a, a * B, *torsion, &message);
            owned.push((key, message.clone(), signature));
            let (key, signature) =
                crafted(Scalar::ZERO, *torsion, EdwardsPoint::default(), &message);
            owned.push((key, message, signature));
        }
        let items: Vec<(&VerifyingKey, &[u8], &[u8; 64])> =
            owned.iter().map(|(k, m, s)| (k, m.as_slice(), s)).collect();
        let each: Vec<bool> = items.iter().map(|(k, m, s)| same(k, m, s)).collect();
        assert!(each.iter().any(|v| *v) && each.iter().any(|v| !*v));
        assert_eq!(verify_each(&items), each);
        // Any sub-list: no verdict depends on its neighbours.
        assert_eq!(verify_each(&items[5..6]), each[5..6]);
        assert_eq!(verify_each(&items[11..37]), each[11..37]);
        assert_eq!(verify_each(&[]), Vec::<bool>::new());
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_build_that_asks_for_avx512_runs_on_the_best_backend_the_processor_has() {
        // .cargo/config.toml asks for "avx512" (a RUSTFLAGS in the environment replaces it).
        if cfg!(curve25519_dalek_backend = "avx512") {
            let has = |feature| match feature {
                "ifma" => {
                    std::arch::is_x86_feature_detected!("avx512ifma")
                        && std::arch::is_x86_feature_detected!("avx512vl")
                }
                _ => std::arch::is_x86_feature_detected!("avx2"),
            };
            let expected = match (has("ifma"), has("avx2")) {
                (true, _) => "AVX-512 IFMA",
                (false, true) => "AVX2",
                (false, false) => "portable",
            };
            assert_eq!(backend(), expected);
        }
    }

    proptest! {
        #[test]
        fn random_signatures_and_keys_get_the_same_verdicts(
            seed in any::<u64>(),
            garbage in proptest::collection::vec(any::<u8>(), 64),
            flips in proptest::collection::vec((0usize..64, any::<u8>()), 0..4),
        ) {
            let key = signing_key(seed % 8);
            let message = seed.to_le_bytes();
            let mut signature = sign(&key, &message);
            for (at, xor) in flips {
                signature[at] ^= xor;
            }
            same(&key.verifying_key(), &message, &signature);
            let garbage: [u8; 64] = garbage.try_into().expect("64 bytes");
            same(&key.verifying_key(), &message, &garbage);
            if let Ok(random_key) = VerifyingKey::from_bytes(garbage[..32].try_into().expect("32")) {
                same(&random_key, &message, &signature);
            }
        }
    }
}
