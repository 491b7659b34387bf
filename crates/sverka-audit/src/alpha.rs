//! The ALPHA supermartingale test (Stark 2023, "ALPHA: Audit that Learns from Previously Hand-Audited
//! Ballots", Annals of Applied Statistics 17(1)) of the null "the mean of a population of values in
//! `[0, u]` is at most `t`", and the Kaplan–Markov test.
//!
//! Without replacement from `N` items (ALPHA §2.2, eq. for `μ_j`): after `j − 1` draws with sum `S_j`,
//! the null mean of what remains is `m_j = (N t − S_j)/(N − j + 1)`; with replacement `m_j = t`. The
//! martingale is `T_n = Π_{j≤n} (X_j η_j/m_j + (u − X_j)(u − η_j)/(u − m_j)) / u` (ALPHA eq. (4) with the
//! bounded-`u` generalisation of §2.3), and the sequentially valid p-value is `min(1, 1 / max_j T_j)`.
//!
//! The estimator `η_j` of the alternative mean is either fixed (`η_j` from a fixed alternative `η`,
//! adjusted for the draws so far) or the truncated shrinkage estimator of ALPHA §2.5.2:
//! `η_j = min(u(1−ε) − e_j, max(((d η₀ + S_j)/(d + j − 1) + u f/σ_j)/(1 + f/σ_j), m_j(1+ε) + e_j))`,
//! `e_j = c/√(d + j − 1)`, σ_j the running standard deviation floored at `minsd`.
//!
//! Numerical conventions (which terms are ignored, when the null is certainly false) follow SHANGRLA's
//! `NonnegMean.alpha_mart` and `NonnegMean.shrink_trunc`, so results agree with it to rounding; the
//! agreement vectors are in `tests/data/`.

/// Machine epsilon as numpy's `np.finfo(float).eps`.
const EPS: f64 = f64::EPSILON;

/// How the alternative mean `η_j` is chosen before each draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Estimator {
    /// A fixed alternative population mean `η` in `(t, u]`.
    Fixed { eta: f64 },
    /// The truncated shrinkage estimator (ALPHA §2.5.2).
    ShrinkTrunc {
        /// Initial guess `η₀` of the population mean.
        eta: f64,
        /// Weight of `η₀` relative to one observation.
        d: f64,
        /// Weight of `u` scaled by `1/σ_j` (0 = no pull towards `u`).
        f: f64,
        /// Truncation scale `c`; `None` = SHANGRLA's default `(η₀ − t)/2 − ε`.
        c: Option<f64>,
        /// Floor on the running standard deviation.
        minsd: f64,
    },
}

impl Estimator {
    /// `ShrinkTrunc` with SHANGRLA's defaults `d = 100`, `f = 0`, default `c`, `minsd = 1e-6`.
    pub fn shrink_trunc(eta: f64) -> Self {
        Estimator::ShrinkTrunc { eta, d: 100.0, f: 0.0, c: None, minsd: 1e-6 }
    }
}

/// Why a test cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestError {
    #[error("upper bound u must be positive and finite, got {0}")]
    BadUpperBound(f64),
    #[error("null mean t must be in (0, u), got {0}")]
    BadNullMean(f64),
    #[error("sample of {sample} is larger than the population of {population}")]
    SampleTooLarge { sample: usize, population: u64 },
    #[error("the shrinkage estimator needs at least two observations")]
    TooFewForShrinkage,
    #[error("observation {0} is outside [0, u]")]
    OutOfRange(f64),
    #[error("empty sample")]
    Empty,
}

/// An ALPHA test configuration (SHANGRLA `NonnegMean` with `test=alpha_mart`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlphaTest {
    u: f64,
    population: Option<u64>,
    t: f64,
    estimator: Estimator,
}

/// A p-value and its history, one entry per draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PValues {
    /// `min(1, 1/max_j T_j)`.
    pub p_value: f64,
    /// `min(1, 1/T_j)` for each `j`.
    pub history: Vec<f64>,
}

impl AlphaTest {
    /// A test of `mean ≤ t` for values in `[0, u]`; `population = None` means sampling with replacement.
    pub fn new(
        u: f64,
        population: Option<u64>,
        t: f64,
        estimator: Estimator,
    ) -> Result<Self, TestError> {
        if !(u > 0.0 && u.is_finite()) {
            return Err(TestError::BadUpperBound(u));
        }
        if !(t > 0.0 && t < u) {
            return Err(TestError::BadNullMean(t));
        }
        Ok(Self { u, population, t, estimator })
    }

    /// The upper bound `u`.
    pub fn upper_bound(&self) -> f64 {
        self.u
    }

    /// The population size, `None` for sampling with replacement.
    pub fn population(&self) -> Option<u64> {
        self.population
    }

    /// Null means `m_j` for a hypothesised mean `mean`, before each draw.
    fn null_means(&self, mean: f64, x: &[f64]) -> Vec<f64> {
        let Some(n_pop) = self.population else {
            return vec![mean; x.len()];
        };
        let big_n = n_pop as f64;
        let mut s = 0.0;
        let mut out = Vec::with_capacity(x.len());
        for (i, xi) in x.iter().enumerate() {
            let j = (i + 1) as f64;
            out.push((big_n * mean - s) / (big_n - j + 1.0));
            s += xi;
        }
        out
    }

    /// The sequence `η_j`.
    pub fn etas(&self, x: &[f64]) -> Result<Vec<f64>, TestError> {
        match self.estimator {
            Estimator::Fixed { eta } => Ok(self.null_means(eta, x)),
            Estimator::ShrinkTrunc { eta, d, f, c, minsd } => {
                self.shrink_trunc(x, eta, d, f, c, minsd)
            }
        }
    }

    fn shrink_trunc(
        &self,
        x: &[f64],
        eta: f64,
        d: f64,
        f: f64,
        c: Option<f64>,
        minsd: f64,
    ) -> Result<Vec<f64>, TestError> {
        if x.len() < 2 {
            return Err(TestError::TooFewForShrinkage);
        }
        let (u, t) = (self.u, self.t);
        let mut c = c.unwrap_or((eta - t) / 2.0 - EPS);
        if u - c < t + c {
            c = (u - c) / 2.0;
        }
        let m = self.null_means(t, x);
        let sd = lagged_sd(x, minsd);
        let mut s = 0.0;
        let mut out = Vec::with_capacity(x.len());
        for (i, xi) in x.iter().enumerate() {
            let j = (i + 1) as f64;
            let weighted = ((d * eta + s) / (d + j - 1.0) + u * f / sd[i]) / (1.0 + f / sd[i]);
            let tol = c / (d + j - 1.0).sqrt();
            out.push((u * (1.0 - EPS) - tol).min(weighted.max(m[i] * (1.0 + EPS) + tol)));
            s += xi;
        }
        Ok(out)
    }

    /// The ALPHA p-value of the draws `x` in the order drawn.
    pub fn p_values(&self, x: &[f64]) -> Result<PValues, TestError> {
        self.check(x)?;
        let (u, t) = (self.u, self.t);
        let m = self.null_means(t, x);
        let eta = self.etas(x)?;
        let mut terms = Vec::with_capacity(x.len());
        let mut prod = 1.0;
        for i in 0..x.len() {
            prod *= (x[i] * eta[i] / m[i] + (u - x[i]) * (u - eta[i]) / (u - m[i])) / u;
            terms.push(prod);
        }
        Ok(self.finish(terms, &m, x))
    }

    fn check(&self, x: &[f64]) -> Result<(), TestError> {
        if x.is_empty() {
            return Err(TestError::Empty);
        }
        if let Some(n) = self.population {
            if x.len() as u64 > n {
                return Err(TestError::SampleTooLarge { sample: x.len(), population: n });
            }
        }
        match x.iter().find(|v| !(**v >= 0.0 && **v <= self.u)) {
            Some(v) => Err(TestError::OutOfRange(*v)),
            None => Ok(()),
        }
    }

    /// Applies SHANGRLA's conventions to the running products and turns them into p-values.
    fn finish(&self, mut terms: Vec<f64>, m: &[f64], x: &[f64]) -> PValues {
        let atol = 2.0 * EPS;
        for i in 0..terms.len() {
            if m[i] > self.u {
                terms[i] = 0.0; // the null mean is out of reach: no evidence from this term
            }
            if isclose(0.0, m[i], atol, 1e-5) || isclose(self.u, m[i], atol, 1e-6) {
                terms[i] = 1.0;
            }
            if isclose(0.0, terms[i], atol, 1e-5) {
                terms[i] = 1.0; // martingale vanished
            }
            if m[i] < 0.0 {
                terms[i] = f64::INFINITY; // the null is certainly false
            }
        }
        if let Some(n) = self.population {
            let total: f64 = x.iter().sum();
            if total > n as f64 * self.t {
                *terms.last_mut().expect("non-empty") = f64::INFINITY;
            }
        }
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, nan_max);
        PValues {
            p_value: (1.0 / max).min(1.0),
            history: terms.iter().map(|v| (1.0 / v).min(1.0)).collect(),
        }
    }
}

/// numpy's `isclose(a, b)`: `|a − b| ≤ atol + rtol·|b|`, never for infinities or NaN (unless equal).
fn isclose(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= atol + rtol * b.abs()
}

/// numpy's `max` propagates NaN.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Running standard deviations by Welford's method, lagged one draw: `σ_1 = σ_2 = 1`, then the
/// (population) standard deviation of the first `j − 1` draws floored at `minsd` (SHANGRLA
/// `welford_mean_var` as used by `shrink_trunc`).
fn lagged_sd(x: &[f64], minsd: f64) -> Vec<f64> {
    let mut sd = Vec::with_capacity(x.len());
    sd.push(1.0);
    let (mut mean, mut m2) = (x[0], 0.0);
    for (i, xi) in x.iter().enumerate().skip(1) {
        // variance of the first i draws is m2 / i
        sd.push((m2 / i as f64).sqrt().max(minsd));
        let new_mean = mean + (xi - mean) / (i + 1) as f64;
        m2 += (xi - mean) * (xi - new_mean);
        mean = new_mean;
    }
    sd.truncate(x.len());
    sd[1] = 1.0;
    sd
}

/// The Kaplan–Markov p-value `min(1, min_j Π_{i≤j} (t + g)/(X_i + g))` for draws with replacement
/// (Stark 2009, "Risk-limiting postelection audits: conservative P-values from common probability
/// inequalities", §4; the MACRO/PPEB batch p-value of Arlo is this test on `1 − taint`); SHANGRLA
/// `NonnegMean.kaplan_markov` with `random_order = True`.
pub fn kaplan_markov(x: &[f64], t: f64, g: f64) -> Result<PValues, TestError> {
    if x.is_empty() {
        return Err(TestError::Empty);
    }
    if let Some(v) = x.iter().find(|v| v.is_nan() || **v < 0.0) {
        return Err(TestError::OutOfRange(*v));
    }
    let mut prod = 1.0;
    let history: Vec<f64> = x
        .iter()
        .map(|xi| {
            prod *= (t + g) / (xi + g);
            prod
        })
        .collect();
    let min = history.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(PValues { p_value: min.min(1.0), history: history.iter().map(|v| v.min(1.0)).collect() })
}
