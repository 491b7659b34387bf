//! Ed25519 keys and signatures for the simulated night, many at once and in **variable time**.
//!
//! The simulation's keys are not secrets: anyone with the seed derives them (see the module
//! documentation of `simulate`), and `sverka simulate` writes every one of them into its output.
//! So the fixed-base multiplications behind a public key (`a·B`) and a signature's nonce point
//! (`r·B`) are done here with a plain table lookup per byte of the scalar, whose timing depends on
//! the scalar: about 2.3 times faster than curve25519-dalek's constant-time tables, which scan
//! every entry of a window to hide which one they take (BENCHMARKS.md, "Simulation"). The bytes
//! are the same: tests compare every key and signature with ed25519-dalek's. A key that must stay
//! secret is never handled here; `keys::sign` (ed25519-dalek) signs for `sverka keys` and the
//! server.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::traits::Identity;
use curve25519_dalek::{EdwardsPoint, Scalar};
use sha2::{Digest, Sha512};

/// `TABLE[i][j] = (j + 1)·256^i·B`: the multiples 1 to 128 of the base point at each of the 32
/// byte positions of a scalar (4,096 points, 640 KiB).
static TABLE: std::sync::LazyLock<Vec<[EdwardsPoint; 128]>> = std::sync::LazyLock::new(|| {
    let mut rows = Vec::with_capacity(32);
    let mut base = ED25519_BASEPOINT_POINT;
    for _ in 0..32 {
        let mut row = [EdwardsPoint::identity(); 128];
        let mut multiple = base;
        for slot in row.iter_mut() {
            *slot = multiple;
            multiple += base;
        }
        rows.push(row);
        // 256·base = 2·(128·base), and 128·base is the row's last entry.
        base = row[127] + row[127];
    }
    rows
});

/// `scalar·B`, in variable time: the scalar's bytes as signed digits in [-128, 128) (each byte
/// plus the carry from the one below, less 256 when it is 128 or more, carrying one up), and one
/// point addition or subtraction per nonzero digit.
fn mul_base_vartime(scalar: &Scalar) -> EdwardsPoint {
    let table = &*TABLE;
    let mut point = EdwardsPoint::identity();
    let mut carry = 0i16;
    for (row, &byte) in table.iter().zip(scalar.as_bytes()) {
        let mut digit = i16::from(byte) + carry;
        carry = 0;
        if digit >= 128 {
            digit -= 256;
            carry = 1;
        }
        match digit {
            0 => {}
            d if d > 0 => point += row[d as usize - 1],
            d => point -= row[(-d) as usize - 1],
        }
    }
    // A reduced scalar is below 2^253, so its top byte is at most 0x1f and never carries out.
    debug_assert_eq!(carry, 0, "a scalar reduced mod ℓ");
    point
}

/// A private key taken apart for signing many messages at once (RFC 8032 §5.1.5): its seed, the
/// secret scalar and nonce prefix SHA-512 of the seed gives, and its public key's bytes. Made by
/// [`expand_each`], used by [`sign_each`].
pub(crate) struct SigningParts {
    seed: [u8; 32],
    scalar: Scalar,
    prefix: [u8; 32],
    public: [u8; 32],
}

impl SigningParts {
    /// The 32-byte seed, as a private key file holds it (`keys::encode_private_key`).
    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key's 32 bytes.
    pub(crate) fn public_bytes(&self) -> &[u8; 32] {
        &self.public
    }
}

/// The [`SigningParts`] of each seed, in order: what `SigningKey::from_bytes` computes, with one
/// field inversion for all the public keys (Montgomery's trick) instead of one each.
pub(crate) fn expand_each(seeds: &[[u8; 32]]) -> Vec<SigningParts> {
    let mut parts = Vec::with_capacity(seeds.len());
    let mut points = Vec::with_capacity(seeds.len());
    for seed in seeds {
        let hash: [u8; 64] = Sha512::digest(seed).into();
        let lower: [u8; 32] = hash[..32].try_into().expect("64 = 32 + 32");
        let scalar = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(lower));
        let prefix: [u8; 32] = hash[32..].try_into().expect("64 = 32 + 32");
        points.push(mul_base_vartime(&scalar));
        parts.push(SigningParts { seed: *seed, scalar, prefix, public: [0; 32] });
    }
    for (part, public) in parts.iter_mut().zip(EdwardsPoint::compress_batch_alloc(&points)) {
        part.public = public.to_bytes();
    }
    parts
}

/// Signs each message with its key, in order: byte for byte the signature `keys::sign` gives
/// (Ed25519 is deterministic, RFC 8032 §5.1.6), with one field inversion for all the nonce
/// points R instead of one each.
pub(crate) fn sign_each(items: &[(&SigningParts, &[u8])]) -> Vec<[u8; 64]> {
    let nonces: Vec<Scalar> = items
        .iter()
        .map(|(key, message)| {
            let hash = Sha512::new().chain_update(key.prefix).chain_update(message).finalize();
            Scalar::from_bytes_mod_order_wide(&hash.into())
        })
        .collect();
    let points: Vec<EdwardsPoint> = nonces.iter().map(mul_base_vartime).collect();
    let compressed = EdwardsPoint::compress_batch_alloc(&points);
    items
        .iter()
        .zip(nonces)
        .zip(compressed)
        .map(|(((key, message), nonce), r)| {
            let hash = Sha512::new()
                .chain_update(r.as_bytes())
                .chain_update(key.public)
                .chain_update(message)
                .finalize();
            let k = Scalar::from_bytes_mod_order_wide(&hash.into());
            let s = k * key.scalar + nonce;
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(r.as_bytes());
            signature[32..].copy_from_slice(s.as_bytes());
            signature
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{sign, verify};
    use ed25519_dalek::SigningKey;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_table_multiplies_every_scalar_as_the_constant_time_code_does() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut scalars: Vec<Scalar> = (0..2_000)
            .map(|_| Scalar::from_bytes_mod_order_wide(&std::array::from_fn(|_| rng.gen())))
            .collect();
        // Digits at their edges: 0, 127, 128 (-128 and a carry), 255 (-1 and a carry) in every
        // byte, and the largest scalar, ℓ - 1.
        for byte in [0u8, 1, 127, 128, 129, 255] {
            scalars.push(Scalar::from_bytes_mod_order([byte; 32]));
        }
        scalars.extend([Scalar::ZERO, Scalar::ONE, -Scalar::ONE]);
        for scalar in &scalars {
            assert_eq!(mul_base_vartime(scalar), EdwardsPoint::mul_base(scalar), "{scalar:?}");
        }
    }

    #[test]
    fn sign_each_gives_ed25519_dalek_s_signatures_and_keys() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let seeds: Vec<[u8; 32]> = (0..300).map(|_| rng.gen()).collect();
        let parts = expand_each(&seeds);
        let messages: Vec<Vec<u8>> =
            (0..300usize).map(|n| (0..n * 7 % 2000).map(|i| (i * n) as u8).collect()).collect();
        for (part, seed) in parts.iter().zip(&seeds) {
            let key = SigningKey::from_bytes(seed);
            assert_eq!(part.public_bytes(), key.verifying_key().as_bytes());
            assert_eq!(part.seed(), &key.to_bytes());
        }
        // Keys used more than once, messages of every length from empty.
        let items: Vec<(&SigningParts, &[u8])> =
            messages.iter().enumerate().map(|(n, m)| (&parts[n * n % 300], m.as_slice())).collect();
        let signatures = sign_each(&items);
        assert_eq!(signatures.len(), items.len());
        for ((part, message), signature) in items.iter().zip(&signatures) {
            let key = SigningKey::from_bytes(part.seed());
            assert_eq!(signature, &sign(&key, message), "{message:?}");
            assert!(verify(&key.verifying_key(), message, signature));
        }
        assert_eq!(sign_each(&items[7..8]), signatures[7..8]);
        assert!(sign_each(&[]).is_empty() && expand_each(&[]).is_empty());
    }
}
