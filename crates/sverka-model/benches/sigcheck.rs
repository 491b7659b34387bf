//! `sigcheck::strict_failures` and `keys::verify` against `verify_strict` one by one (divan), on 1,024 signatures
//! of 700-byte messages, four per key (as a station's scanner signs its protocols); and
//! ed25519-dalek's `verify_batch` in chunks of 64, which is faster but not exact (it accepts
//! signatures `verify_strict` refuses; see the module's documentation), for reference. One thread
//! each; divan reports the time for all 1,024.
//!
//!     cargo bench -p sverka-model --bench sigcheck
//!
//! That uses curve25519-dalek's AVX-512 IFMA backend where the processor has it (the cfg in
//! `.cargo/config.toml`); to compare with its AVX2 backend, force that one:
//!
//!     RUSTFLAGS='--cfg curve25519_dalek_backend="simd"' cargo bench -p sverka-model --bench sigcheck

use divan::{black_box, Bencher};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::SeedableRng;
use sverka_model::sigcheck::{strict_failures, Signed, CHUNK};

fn main() {
    divan::main();
}

struct Corpus {
    keys: Vec<VerifyingKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
}

fn corpus() -> Corpus {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let signers: Vec<SigningKey> =
        (0..256).map(|_| sverka_model::keys::generate_private_key(&mut rng)).collect();
    let messages: Vec<Vec<u8>> = (0..1024u32)
        .map(|k| {
            let mut m = format!("protocol {k} ").into_bytes();
            m.resize(700, b'x');
            m
        })
        .collect();
    let signatures = (0..1024).map(|k| signers[k / 4].sign(&messages[k])).collect();
    let keys = (0..1024).map(|k| signers[k / 4].verifying_key()).collect();
    Corpus { keys, messages, signatures }
}

#[divan::bench]
fn verify_strict_each(bencher: Bencher) {
    let c = corpus();
    bencher.bench_local(|| {
        for k in 0..c.keys.len() {
            assert!(black_box(&c.keys[k]).verify_strict(&c.messages[k], &c.signatures[k]).is_ok());
        }
    });
}

#[divan::bench]
fn keys_verify_each(bencher: Bencher) {
    let c = corpus();
    let signatures: Vec<[u8; 64]> = c.signatures.iter().map(Signature::to_bytes).collect();
    bencher.bench_local(|| {
        for ((key, message), signature) in c.keys.iter().zip(&c.messages).zip(&signatures) {
            assert!(sverka_model::keys::verify(black_box(key), message, signature));
        }
    });
}

/// `keys::verify_each` over all 1,024 at once (as `sverka verify`'s workers check a job).
#[divan::bench]
fn keys_verify_each_together(bencher: Bencher) {
    let c = corpus();
    let signatures: Vec<[u8; 64]> = c.signatures.iter().map(Signature::to_bytes).collect();
    let items: Vec<(&VerifyingKey, &[u8], &[u8; 64])> =
        (0..c.keys.len()).map(|k| (&c.keys[k], c.messages[k].as_slice(), &signatures[k])).collect();
    bencher.bench_local(|| {
        assert!(sverka_model::keys::verify_each(black_box(&items)).iter().all(|v| *v));
    });
}

#[divan::bench]
fn sigcheck_strict_failures(bencher: Bencher) {
    let c = corpus();
    let items: Vec<Signed<'_>> = (0..c.keys.len())
        .map(|k| Signed { key: &c.keys[k], message: &c.messages[k], signature: &c.signatures[k] })
        .collect();
    bencher.bench_local(|| assert!(strict_failures(black_box(&items), 1).is_empty()));
}

#[divan::bench]
fn verify_batch_not_exact(bencher: Bencher) {
    let c = corpus();
    let messages: Vec<&[u8]> = c.messages.iter().map(Vec::as_slice).collect();
    bencher.bench_local(|| {
        for start in (0..c.keys.len()).step_by(CHUNK) {
            let end = start + CHUNK;
            let verdict = ed25519_dalek::verify_batch(
                black_box(&messages[start..end]),
                &c.signatures[start..end],
                &c.keys[start..end],
            );
            assert!(verdict.is_ok());
        }
    });
}
