//! The normative seeded sampler: cryptorandom's SHA-256 PRNG (Ottoboni and Stark, `cryptorandom` 0.4 on
//! PyPI, module `cryptorandom.cryptorandom`, class `SHA256`), the generator SHANGRLA uses.
//!
//! Definition (reproduced bit for bit, vectors in `tests/data/`):
//! - the `k`-th output (k = 0, 1, …) is `SHA-256(str(seed) ‖ "," ‖ 0x00 × k)`: the hash object is fed
//!   `"<seed>,"` once and one zero byte after each output;
//! - `random()` is that digest read as a big-endian 256-bit integer, rounded to the nearest `f64`
//!   (ties to even, as Python's `int * float` does) and multiplied by `2^-256`;
//! - `getrandbits(k)` keeps a cache of unused bits, filled by prepending whole digests above the bits
//!   left, and harvests the `k` least significant bits;
//! - `randint(a, b)` is `a + randbelow(b − a)` by rejection on `bit_length(n − 1)` bits;
//! - `sample_by_index(n, k)` (the default of `cryptorandom.sample.random_sample`) draws 1-based indexes,
//!   with replacement as `k` calls of `randint(1, n + 1)`, without replacement by the swap-with-last
//!   Fisher–Yates variant.
//!
//! SHANGRLA's consistent sampling gives each item in manifest order the sample number `int(digest)` of
//! one output and audits items in increasing sample number ([`Sha256Prng::sample_numbers`]).

use sha2::{Digest, Sha256};

/// cryptorandom's `SHA256` generator.
#[derive(Clone)]
pub struct Sha256Prng {
    hasher: Sha256,
    counter: u64,
    /// Unused random bits, least significant limb first.
    bits: Vec<u64>,
    bits_remaining: u32,
    bits_initialised: bool,
}

impl std::fmt::Debug for Sha256Prng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sha256Prng").field("counter", &self.counter).finish()
    }
}

impl Sha256Prng {
    /// Seeds with the text of the seed exactly as Python's `str(seed)` writes it (an integer seed in
    /// decimal, e.g. the dice rolls `"12345678901234567890"`).
    pub fn new(seed: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(seed.as_bytes());
        hasher.update(b",");
        Self { hasher, counter: 0, bits: Vec::new(), bits_remaining: 0, bits_initialised: false }
    }

    /// How many outputs have been drawn.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The next digest (`nextRandom`).
    pub fn next_hash(&mut self) -> [u8; 32] {
        let out: [u8; 32] = self.hasher.clone().finalize().into();
        self.hasher.update([0u8]);
        self.counter += 1;
        out
    }

    /// A float in [0, 1] (`random()`).
    pub fn random(&mut self) -> f64 {
        u256_to_f64(&self.next_hash()) * 2f64.powi(-256)
    }

    /// `a + (digest mod (b − a))` (`randint_trunc`), for `b > a`.
    pub fn randint_trunc(&mut self, a: u64, b: u64) -> u64 {
        a + u256_mod(&self.next_hash(), b - a)
    }

    /// `k ≤ 64` random bits (`getrandbits`).
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(k <= 64, "getrandbits supports at most 64 bits");
        if !self.bits_initialised {
            let h = self.next_hash();
            self.bits = limbs_le(&h);
            self.bits_remaining = 256;
            self.bits_initialised = true;
        }
        while k > self.bits_remaining {
            let h = self.next_hash();
            self.prepend(&limbs_le(&h));
        }
        let value = if k == 0 {
            0
        } else {
            self.bits.first().copied().unwrap_or(0) & (u64::MAX >> (64 - k))
        };
        shift_right(&mut self.bits, k);
        self.bits_remaining -= k;
        value
    }

    /// Puts a new digest above the `bits_remaining` cached bits.
    fn prepend(&mut self, hash: &[u64]) {
        let shift = self.bits_remaining;
        let need = ((shift + 256).div_ceil(64)) as usize;
        self.bits.resize(need.max(self.bits.len()), 0);
        let (limb, bit) = ((shift / 64) as usize, shift % 64);
        for (i, h) in hash.iter().enumerate() {
            self.bits[limb + i] |= h << bit;
            if bit > 0 && limb + i + 1 < self.bits.len() {
                self.bits[limb + i + 1] |= h >> (64 - bit);
            }
        }
        self.bits_remaining += 256;
    }

    /// Uniform in `0..n` by rejection (`randbelow_from_randbits`), `n ≥ 1`.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        let k = 64 - (n - 1).leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// Uniform in `a..b` (`randint`), `b > a`.
    pub fn randint(&mut self, a: u64, b: u64) -> u64 {
        a + self.randbelow(b - a)
    }

    /// `k` 1-based indexes from `1..=n` (`cryptorandom.sample.sample_by_index`).
    pub fn sample_by_index(&mut self, n: u64, k: u64, replace: bool) -> Vec<u64> {
        if replace {
            return (0..k).map(|_| self.randint(1, n + 1)).collect();
        }
        assert!(k <= n, "sample size greater than population size");
        let mut pop: Vec<u64> = (1..=n).collect();
        let mut out = Vec::with_capacity(k as usize);
        for i in 0..k {
            let w = self.randint(1, n - i + 1);
            out.push(pop[(w - 1) as usize]);
            let last = pop.pop().expect("non-empty");
            if w < n - i {
                pop[(w - 1) as usize] = last;
            }
        }
        out
    }

    /// SHANGRLA's consistent-sampling numbers (`CVR.assign_sample_nums`): one digest per item, in
    /// manifest order; comparing the big-endian bytes compares the integers.
    pub fn sample_numbers(&mut self, count: usize) -> Vec<[u8; 32]> {
        (0..count).map(|_| self.next_hash()).collect()
    }
}

/// PPS draws of stations with replacement: a ballot index uniform over the manifest
/// (`sample_by_index(N, k, replace = true)`), then the station that holds it (stations in manifest
/// order, `sizes[p]` ballots each). Returns station indexes (0-based) in draw order.
pub fn pps_station_draws(prng: &mut Sha256Prng, sizes: &[u64], k: u64) -> Vec<usize> {
    let mut cumulative = Vec::with_capacity(sizes.len());
    let mut total = 0u64;
    for s in sizes {
        total += s;
        cumulative.push(total);
    }
    prng.sample_by_index(total, k, true)
        .into_iter()
        .map(|ballot| cumulative.partition_point(|&c| c < ballot))
        .collect()
}

fn limbs_le(hash: &[u8; 32]) -> Vec<u64> {
    (0..4)
        .map(|i| {
            u64::from_be_bytes(hash[32 - 8 * (i + 1)..32 - 8 * i].try_into().expect("8 bytes"))
        })
        .collect()
}

fn shift_right(limbs: &mut Vec<u64>, k: u32) {
    if k == 0 {
        return;
    }
    let (whole, bit) = ((k / 64) as usize, k % 64);
    if whole > 0 {
        limbs.drain(..whole.min(limbs.len()));
    }
    if bit > 0 {
        for i in 0..limbs.len() {
            let hi = limbs.get(i + 1).copied().unwrap_or(0);
            limbs[i] = (limbs[i] >> bit) | (hi << (64 - bit));
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
}

/// A 256-bit big-endian integer rounded to the nearest `f64`, ties to even.
fn u256_to_f64(hash: &[u8; 32]) -> f64 {
    let limbs = limbs_le(hash);
    let Some(top) = (0..4).rev().find(|&i| limbs[i] != 0) else {
        return 0.0;
    };
    let lz = limbs[top].leading_zeros();
    let high_bit = top as u32 * 64 + (63 - lz); // position of the leading one
    if high_bit < 64 {
        return limbs[0] as f64;
    }
    // take the 64 bits below and including the leading one, OR the rest into a sticky bit
    let shift = high_bit - 63;
    let mut window = get_bits(&limbs, shift);
    let sticky = (0..shift).any(|b| limbs[(b / 64) as usize] >> (b % 64) & 1 == 1);
    if sticky {
        window |= 1;
    }
    (window as f64) * 2f64.powi(shift as i32)
}

/// 64 bits starting at bit `shift`.
fn get_bits(limbs: &[u64], shift: u32) -> u64 {
    let (limb, bit) = ((shift / 64) as usize, shift % 64);
    let lo = limbs[limb] >> bit;
    let hi = if bit > 0 { limbs.get(limb + 1).copied().unwrap_or(0) << (64 - bit) } else { 0 };
    lo | hi
}

fn u256_mod(hash: &[u8; 32], m: u64) -> u64 {
    hash.iter().fold(0u128, |acc, b| ((acc << 8) | u128::from(*b)) % u128::from(m)) as u64
}
