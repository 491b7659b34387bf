//! Deterministic randomness for the simulator: independent ChaCha streams per purpose and index, and
//! the few distributions it needs, built only from IEEE-exact float operations (`+ - * /` and `sqrt`)
//! so that the same seed gives the same bytes on every platform (no `ln`, `exp` or `powf`, whose
//! results may differ between C libraries).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// The root of every random stream of one simulation.
#[derive(Clone, Debug)]
pub(crate) struct Streams {
    seed: u64,
}

impl Streams {
    pub(crate) fn new(seed: u64) -> Streams {
        Streams { seed }
    }

    /// A stream for one purpose (e.g. `"turnout"`) and one index (e.g. a station), independent of
    /// every other purpose and index. ChaCha's 64-bit stream number carries the index.
    pub(crate) fn stream(&self, purpose: &str, index: u64) -> Rng {
        let key = self.key(purpose);
        let mut inner = ChaCha8Rng::from_seed(key);
        inner.set_stream(index);
        Rng { inner }
    }

    /// The 32-byte key of a purpose: SHA-256 of a domain string, the seed and the purpose.
    pub(crate) fn key(&self, purpose: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"sverka/simulate/v1\n");
        hash.update(self.seed.to_le_bytes());
        hash.update(purpose.as_bytes());
        hash.finalize().into()
    }
}

/// One random stream.
pub(crate) struct Rng {
    inner: ChaCha8Rng,
}

impl Rng {
    /// Uniform in [0, 1), 53 bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Four coarse uniforms in [0, 1) (16 bits each) from one draw, for jitter where resolution
    /// does not matter and speed does.
    pub(crate) fn coarse4(&mut self) -> [f64; 4] {
        let bits = self.inner.next_u64();
        std::array::from_fn(|i| ((bits >> (16 * i)) & 0xffff) as f64 * (1.0 / 65_536.0))
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.inner.next_u64() % n
    }

    /// Whether an event of probability `p` happens.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Approximately standard normal (Irwin–Hall sum of four uniforms, rescaled to variance 1;
    /// bounded by ±3.46, which is what a simulator of vote shares wants).
    pub(crate) fn normalish(&mut self) -> f64 {
        let sum = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        (sum - 2.0) * 3f64.sqrt()
    }

    /// A multiplicative factor `1 + sigma·Z`, never below `floor`.
    pub(crate) fn factor(&mut self, sigma: f64, floor: f64) -> f64 {
        (1.0 + sigma * self.normalish()).max(floor)
    }

    /// `k` distinct indices of `0..n`, in random order (partial Fisher–Yates).
    pub(crate) fn sample(&mut self, n: usize, k: usize) -> Vec<u32> {
        let mut all: Vec<u32> = (0..n as u32).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

/// Largest-remainder rounding: non-negative integers proportional to `weights` that sum to exactly
/// `total` (all to the first weight when every weight is zero). Ties go to the lower index.
pub(crate) fn apportion(total: u64, weights: &[f64], out: &mut Vec<u64>) {
    out.clear();
    if weights.is_empty() {
        return;
    }
    let sum: f64 = weights.iter().sum();
    if sum.is_nan() || sum <= 0.0 {
        out.resize(weights.len(), 0);
        out[0] = total;
        return;
    }
    let mut given = 0u64;
    let mut remainders: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let quota = total as f64 * (w / sum);
        let floor = (quota as u64).min(total - given);
        given += floor;
        out.push(floor);
        remainders.push((quota - floor as f64, i));
    }
    let mut left = total - given;
    // The `left` largest remainders (ties to the lower index) get one more each: a selection, not
    // a sort, since this runs for every party and candidate list of every protocol.
    let by_remainder = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    while left > 0 {
        let k = (left as usize).min(remainders.len());
        if k < remainders.len() {
            remainders.select_nth_unstable_by(k - 1, by_remainder);
        }
        for (_, i) in &remainders[..k] {
            out[*i] += 1;
        }
        left -= k as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_exactly() {
        let mut out = Vec::new();
        for total in [0u64, 1, 7, 1000, 123_457] {
            apportion(total, &[0.1732, 0.1361, 0.11, 0.0001, 0.0], &mut out);
            assert_eq!(out.iter().sum::<u64>(), total);
            assert_eq!(out[4], 0);
        }
        apportion(5, &[0.0, 0.0], &mut out);
        assert_eq!(out, [5, 0]);
        // Largest remainders first, ties to the lower index.
        apportion(10, &[1.0, 1.0, 1.0], &mut out);
        assert_eq!(out, [4, 3, 3]);
        apportion(3, &[0.2, 0.35, 0.45], &mut out);
        assert_eq!(out, [1, 1, 1]);
        apportion(4, &[0.2, 0.35, 0.45], &mut out);
        assert_eq!(out, [1, 1, 2]);
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let s = Streams::new(1);
        let a: Vec<u64> = (0..4).map(|_| s.stream("x", 3).below(1 << 40)).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(s.stream("x", 3).below(1 << 40), s.stream("x", 4).below(1 << 40));
        assert_ne!(s.stream("x", 3).below(1 << 40), s.stream("y", 3).below(1 << 40));
        assert_ne!(s.stream("x", 3).below(1 << 40), Streams::new(2).stream("x", 3).below(1 << 40));
    }

    #[test]
    fn sample_is_distinct() {
        let mut r = Streams::new(9).stream("s", 0);
        let mut v = r.sample(100, 40);
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 40);
    }
}
