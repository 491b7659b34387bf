//! Many Ed25519 signatures at once, with exactly the verdicts of `verify_strict` (RFC 8032 §5.1.7
//! with ed25519-dalek's extra refusals) on each: [`strict_failures`] names the ones that fail.
//!
//! ed25519-dalek's `verify_batch` checks one random linear combination of the signatures'
//! equations (z₁·(R₁ + h₁A₁ − s₁B) + … = 0, without the cofactor). It accepts things
//! `verify_strict` refuses, so a signature goes into a batch only if none of these holds (else it
//! is checked alone with `verify_strict`, whose verdict stands):
//!
//! - its S is not below the group order ℓ (not canonical): `verify_strict` refuses it;
//! - its R does not decompress, or its 32 bytes are not the canonical encoding of the point they
//!   decompress to (`verify_strict` compares the recomputed R's canonical bytes with them; the
//!   batch only uses the point);
//! - R or the public key A is of small order (`verify_strict` refuses both);
//! - R or A has a torsion component (a small-order point added to a point of the prime-order
//!   subgroup): then the equation's defect may be a torsion point alone, which the batch's random
//!   128-bit multipliers cancel with probability ½ to ⅛ (a signer can grind the message until
//!   they do), while `verify_strict` compares R exactly and refuses it.
//!
//! For the rest, every term lies in the prime-order subgroup and the batch fails unless each
//! signature's equation holds (but with probability about 2⁻¹²⁸), which is `verify_strict`'s
//! verdict. A chunk whose batch fails is checked signature by signature to name the failing ones.
//!
//! The torsion check (a multiplication by ℓ of each R, and of each distinct A once) costs about as
//! much as the verification the batch saves: on the 2-core machine (load 8-10, 8,192 signatures
//! of 700 bytes, 4 per key) this takes about 1.7 times the CPU of `verify_strict` one by one,
//! while `verify_batch` alone (not exact) takes about half. So `sverka verify` and admission keep
//! `verify_strict`; this stays exact rather than fast until a cheaper prime-order-subgroup test
//! (e.g. Pornin's point halving, ePrint 2022/1164) replaces the multiplication by ℓ.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};

/// One signature to check: `signature` on `message` under `key`.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    pub key: &'a VerifyingKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// How many signatures one batch equation covers.
pub const CHUNK: usize = 64;

/// The indexes (ascending) of the `items` whose signature `verify_strict` refuses, computed with
/// batch equations of up to [`CHUNK`] signatures spread over `threads` threads (1: this one).
pub fn strict_failures(items: &[Signed<'_>], threads: usize) -> Vec<usize> {
    if items.is_empty() {
        return Vec::new();
    }
    // Each distinct public key is classified once.
    let mut keys: HashMap<[u8; 32], bool> = HashMap::new();
    for item in items {
        keys.entry(item.key.to_bytes()).or_insert_with(|| batchable_point(item.key));
    }
    let threads = threads.clamp(1, items.len().div_ceil(CHUNK).max(1));
    if threads == 1 {
        return check_range(items, 0, &keys);
    }
    // Contiguous shares of whole chunks, one per thread.
    let per = items.len().div_ceil(CHUNK).div_ceil(threads) * CHUNK;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .enumerate()
            .map(|(k, share)| {
                let keys = &keys;
                scope.spawn(move || check_range(share, k * per, keys))
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a signature check panicked")).collect()
    })
}

/// [`strict_failures`] of `items`, whose first is `items[offset]` of the caller's.
fn check_range(items: &[Signed<'_>], offset: usize, keys: &HashMap<[u8; 32], bool>) -> Vec<usize> {
    let mut failures = Vec::new();
    let mut batch: Vec<usize> = Vec::with_capacity(CHUNK);
    let alone = |k: usize| !strict(&items[k]);
    for (k, item) in items.iter().enumerate() {
        if keys.get(item.key.as_bytes()).copied().unwrap_or(false) && batchable_signature(item) {
            batch.push(k);
            if batch.len() == CHUNK {
                failures.extend(check_batch(items, &batch));
                batch.clear();
            }
        } else if alone(k) {
            failures.push(k);
        }
    }
    failures.extend(check_batch(items, &batch));
    failures.sort_unstable();
    failures.into_iter().map(|k| k + offset).collect()
}

/// The members of `batch` (indexes into `items`) that fail: none if the batch equation holds,
/// else each checked alone.
fn check_batch(items: &[Signed<'_>], batch: &[usize]) -> Vec<usize> {
    if batch.is_empty() {
        return Vec::new();
    }
    let messages: Vec<&[u8]> = batch.iter().map(|&k| items[k].message).collect();
    let signatures: Vec<Signature> = batch.iter().map(|&k| *items[k].signature).collect();
    let keys: Vec<VerifyingKey> = batch.iter().map(|&k| *items[k].key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return Vec::new();
    }
    batch.iter().copied().filter(|&k| !strict(&items[k])).collect()
}

fn strict(item: &Signed<'_>) -> bool {
    item.key.verify_strict(item.message, item.signature).is_ok()
}

/// A public key the batch equation treats as `verify_strict` does: not of small order, no
/// torsion component.
fn batchable_point(key: &VerifyingKey) -> bool {
    let point = key.to_edwards();
    !point.is_small_order() && point.is_torsion_free()
}

/// A signature whose S and R the batch equation treats as `verify_strict` does (see the module's
/// documentation): S canonical, R canonically encoded, neither of small order nor with a
/// torsion component.
fn batchable_signature(item: &Signed<'_>) -> bool {
    if !scalar_is_canonical(item.signature.s_bytes()) {
        return false;
    }
    // A VerifyingKey is a decompressed point with the bytes it came from.
    let Ok(r) = VerifyingKey::from_bytes(item.signature.r_bytes()) else {
        return false;
    };
    let point = r.to_edwards();
    point.compress().to_bytes() == *item.signature.r_bytes() && batchable_point(&r)
}

/// The group order ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian.
const ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the little-endian `s` is below ℓ.
fn scalar_is_canonical(s: &[u8; 32]) -> bool {
    for k in (0..32).rev() {
        if s[k] != ORDER[k] {
            return s[k] < ORDER[k];
        }
    }
    false
}

#[cfg(test)]
mod tests {
    //! Every expected verdict is `verify_strict`'s, asked signature by signature.
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::scalar::Scalar;
    use ed25519_dalek::{Signer, SigningKey};
    use rand::{Rng, SeedableRng};
    use sha2::{Digest, Sha512};

    struct Owned {
        key: VerifyingKey,
        message: Vec<u8>,
        signature: Signature,
    }

    fn borrow(owned: &[Owned]) -> Vec<Signed<'_>> {
        owned
            .iter()
            .map(|o| Signed { key: &o.key, message: &o.message, signature: &o.signature })
            .collect()
    }

    /// What `verify_strict` refuses, one by one.
    fn expected(owned: &[Owned]) -> Vec<usize> {
        (0..owned.len())
            .filter(|&k| {
                owned[k].key.verify_strict(&owned[k].message, &owned[k].signature).is_err()
            })
            .collect()
    }

    fn signing_key(seed: u64) -> SigningKey {
        crate::keys::generate_private_key(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }

    fn good(seed: u64, message: &[u8]) -> Owned {
        let key = signing_key(seed);
        Owned { key: key.verifying_key(), message: message.to_vec(), signature: key.sign(message) }
    }

    fn h(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
        let mut hash = Sha512::new();
        hash.update(r);
        hash.update(a);
        hash.update(message);
        let mut wide = [0u8; 64];
        wide.copy_from_slice(&hash.finalize());
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    /// A signature made with the secret scalar `a` and nonce point `r_point` (which may carry a
    /// torsion component `torsion` the nonce scalar `r` does not account for): S = r + h·a.
    fn crafted(
        a: Scalar,
        key: EdwardsPoint,
        r: Scalar,
        torsion: EdwardsPoint,
        message: &[u8],
    ) -> Owned {
        let key = VerifyingKey::from(key);
        let big_r = (r * B + torsion).compress().to_bytes();
        let s = r + h(&big_r, key.as_bytes(), message) * a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&big_r);
        bytes[32..].copy_from_slice(s.as_bytes());
        Owned { key, message: message.to_vec(), signature: Signature::from_bytes(&bytes) }
    }

    fn check_all(owned: &[Owned]) -> Vec<usize> {
        let items = borrow(owned);
        let one = strict_failures(&items, 1);
        assert_eq!(one, strict_failures(&items, 2), "the same verdicts on two threads");
        assert_eq!(one, strict_failures(&items, 5), "the same verdicts on five threads");
        one
    }

    #[test]
    fn an_empty_input_has_no_failures() {
        assert_eq!(strict_failures(&[], 2), Vec::<usize>::new());
    }

    #[test]
    fn a_wrong_signature_in_the_middle_of_a_chunk_is_named() {
        let mut owned: Vec<Owned> =
            (0..200).map(|k| good(k, format!("entry {k}").as_bytes())).collect();
        owned[37].message = b"entry 37, rewritten".to_vec();
        owned[150].signature = owned[151].signature;
        let expected = expected(&owned);
        assert_eq!(expected, vec![37, 150]);
        assert_eq!(check_all(&owned), expected);
    }

    #[test]
    fn a_torsion_component_in_r_that_the_batch_equation_misses_is_refused() {
        // R = r·B + T (T of order 2); S = r + h·a. The equation's defect is T alone; the batch's
        // random multiplier z cancels it when z is even. The message is varied until it does,
        // as a cheating signer would.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let a = Scalar::from_bytes_mod_order(rng.gen());
        let key = a * B;
        let mut found = None;
        for attempt in 0..200u32 {
            let r = Scalar::from_bytes_mod_order(rng.gen());
            let sig = crafted(a, key, r, EIGHT_TORSION[4], format!("try {attempt}").as_bytes());
            let one = [sig.message.as_slice()];
            if ed25519_dalek::verify_batch(&one, &[sig.signature], &[sig.key]).is_ok() {
                found = Some(sig);
                break;
            }
        }
        let sig = found.expect("a batch of one accepts about every second such signature");
        assert!(sig.key.verify_strict(&sig.message, &sig.signature).is_err());
        let mut owned: Vec<Owned> = (0..10).map(|k| good(100 + k, b"honest")).collect();
        owned.insert(5, sig);
        assert_eq!(expected(&owned), vec![5]);
        assert_eq!(check_all(&owned), vec![5]);
    }

    #[test]
    fn a_key_with_a_torsion_component_gets_verify_strict_verdicts() {
        // A = a·B + T (T of order 8). Honest-looking signatures under it (R = r·B, S = r + h·a)
        // have the defect −h·T, which verify_strict refuses unless 8 divides h: some pass, most
        // fail.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let a = Scalar::from_bytes_mod_order(rng.gen());
        let key = a * B + EIGHT_TORSION[1];
        let mut owned = Vec::new();
        for k in 0..40u32 {
            let r = Scalar::from_bytes_mod_order(rng.gen());
            owned.push(crafted(a, key, r, EdwardsPoint::default(), format!("m{k}").as_bytes()));
        }
        let expected = expected(&owned);
        assert!(!expected.is_empty() && expected.len() < owned.len(), "{expected:?}");
        assert_eq!(check_all(&owned), expected);
    }

    #[test]
    fn small_order_r_and_small_order_keys_are_refused() {
        // A small-order key (the identity) with R small order and S = 0: the equation holds for
        // every message, so a batch accepts it; verify_strict does not.
        let identity = VerifyingKey::from(EdwardsPoint::default());
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&EdwardsPoint::default().compress().to_bytes());
        let weak = Owned {
            key: identity,
            message: b"anything".to_vec(),
            signature: Signature::from_bytes(&bytes),
        };
        let one = [weak.message.as_slice()];
        assert!(ed25519_dalek::verify_batch(&one, &[weak.signature], &[weak.key]).is_ok());
        // A real key, R of small order: S·B = R + h·A needs h·A's discrete log; S = 0 and R of
        // order 2 fail in both, as a check that they are named.
        let mut small_r = good(3, b"small R");
        let mut sig = small_r.signature.to_bytes();
        sig[..32].copy_from_slice(&EIGHT_TORSION[4].compress().to_bytes());
        small_r.signature = Signature::from_bytes(&sig);
        let mut owned: Vec<Owned> = (0..70).map(|k| good(200 + k, b"fine")).collect();
        owned.insert(3, weak);
        owned.insert(66, small_r);
        assert_eq!(expected(&owned), vec![3, 66]);
        assert_eq!(check_all(&owned), vec![3, 66]);
    }

    #[test]
    fn non_canonical_s_and_r_encodings_are_refused() {
        // S + ℓ: the same scalar mod ℓ, not canonical.
        let mut big_s = good(11, b"S + l");
        let mut bytes = big_s.signature.to_bytes();
        let mut carry = 0u16;
        for k in 0..32 {
            let sum = u16::from(bytes[32 + k]) + u16::from(ORDER[k]) + carry;
            bytes[32 + k] = sum as u8;
            carry = sum >> 8;
        }
        big_s.signature = Signature::from_bytes(&bytes);
        assert!(ed25519_dalek::verify_batch(
            &[big_s.message.as_slice()],
            &[big_s.signature],
            &[big_s.key]
        )
        .is_err());
        // R with its sign bit set on a point whose x is 0 (the identity's other encoding), and
        // R = y + p (y = 1, which decompresses to the identity too).
        let mut negative_zero = good(12, b"-0");
        let mut bytes = negative_zero.signature.to_bytes();
        bytes[..32].copy_from_slice(&EdwardsPoint::default().compress().to_bytes());
        bytes[31] |= 0x80;
        negative_zero.signature = Signature::from_bytes(&bytes);
        let mut y_plus_p = good(13, b"y+p");
        let mut bytes = y_plus_p.signature.to_bytes();
        let mut p_plus_1 = [0xffu8; 32];
        p_plus_1[0] = 0xee;
        p_plus_1[31] = 0x7f;
        bytes[..32].copy_from_slice(&p_plus_1);
        y_plus_p.signature = Signature::from_bytes(&bytes);
        let mut owned: Vec<Owned> = (0..130).map(|k| good(300 + k, b"fine")).collect();
        owned.insert(0, big_s);
        owned.insert(64, negative_zero);
        owned.insert(129, y_plus_p);
        assert_eq!(expected(&owned), vec![0, 64, 129]);
        assert_eq!(check_all(&owned), vec![0, 64, 129]);
    }

    #[test]
    fn random_mixes_of_valid_and_invalid_signatures() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        let keys: Vec<SigningKey> = (0..12).map(signing_key).collect();
        for round in 0..6 {
            let n = rng.gen_range(0..300);
            let mut owned = Vec::new();
            for k in 0..n {
                let key = &keys[rng.gen_range(0..keys.len())];
                let message = format!("round {round} entry {k}").into_bytes();
                let mut item =
                    Owned { key: key.verifying_key(), signature: key.sign(&message), message };
                match rng.gen_range(0..20) {
                    0 => item.message.push(b'!'),
                    1 => item.key = keys[rng.gen_range(0..keys.len())].verifying_key(),
                    2 => {
                        let mut bytes = item.signature.to_bytes();
                        bytes[rng.gen_range(0..64)] ^= 1 << rng.gen_range(0..8);
                        item.signature = Signature::from_bytes(&bytes);
                    }
                    _ => {}
                }
                owned.push(item);
            }
            assert_eq!(check_all(&owned), expected(&owned), "round {round}");
        }
    }
}
