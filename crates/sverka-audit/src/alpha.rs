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

    /// The estimator of the alternative mean.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }

    /// The population size, `None` for sampling with replacement.
    pub fn population(&self) -> Option<u64> {
        self.population
    }

    /// The sequence `η_j`.
    pub fn etas(&self, x: &[f64]) -> Result<Vec<f64>, TestError> {
        self.check_shrinkage(x)?;
        let mut stream = Stream::new(self);
        Ok(x.iter().map(|xi| stream.step(*xi).1).collect())
    }

    fn check_shrinkage(&self, x: &[f64]) -> Result<(), TestError> {
        match self.estimator {
            Estimator::ShrinkTrunc { .. } if x.len() < 2 => Err(TestError::TooFewForShrinkage),
            _ => Ok(()),
        }
    }

    /// The running product term for one draw, with SHANGRLA's per-term conventions applied.
    fn term(&self, prod: f64, m: f64) -> f64 {
        let atol = 2.0 * EPS;
        let mut t = prod;
        if m > self.u {
            t = 0.0; // the null mean is out of reach: no evidence from this term
        }
        if isclose(0.0, m, atol, 1e-5) || isclose(self.u, m, atol, 1e-6) {
            t = 1.0;
        }
        if isclose(0.0, t, atol, 1e-5) {
            t = 1.0; // martingale vanished
        }
        if m < 0.0 {
            t = f64::INFINITY; // the null is certainly false
        }
        t
    }

    /// The ALPHA p-value of the draws `x` in the order drawn.
    pub fn p_values(&self, x: &[f64]) -> Result<PValues, TestError> {
        self.check(x)?;
        self.check_shrinkage(x)?;
        let u = self.u;
        let mut stream = Stream::new(self);
        let mut prod = 1.0;
        let mut terms = Vec::with_capacity(x.len());
        for xi in x {
            let (m, eta) = stream.step(*xi);
            prod *= (xi * eta / m + (u - xi) * (u - eta) / (u - m)) / u;
            terms.push(self.term(prod, m));
        }
        if self.exceeds_null_total(stream.sum) {
            *terms.last_mut().expect("non-empty") = f64::INFINITY;
        }
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, nan_max);
        Ok(PValues {
            p_value: (1.0 / max).min(1.0),
            history: terms.iter().map(|v| (1.0 / v).min(1.0)).collect(),
        })
    }

    /// The first draw (1-based) whose p-value `min(1, 1/T_j)` is at most `alpha`, stopping there:
    /// the same answer as scanning [`AlphaTest::p_values`]' history, without computing the rest.
    pub fn first_crossing(&self, x: &[f64], alpha: f64) -> Result<Option<usize>, TestError> {
        self.check(x)?;
        self.check_shrinkage(x)?;
        Ok(self.first_crossing_of(x.len(), |i| x[i], alpha))
    }

    /// [`AlphaTest::first_crossing`] over `len` values made one at a time by `value(i)` (each in
    /// `[0, u]`, at least two for the shrinkage estimator, at most the population), never stored:
    /// a sample-size search over a whole population of 1.5M ballots streams its assumed values
    /// through one pass instead of building them first.
    pub(crate) fn first_crossing_of(
        &self,
        len: usize,
        value: impl Fn(usize) -> f64,
        alpha: f64,
    ) -> Option<usize> {
        let u = self.u;
        let mut stream = Stream::new(self);
        let mut prod = 1.0;
        for i in 0..len {
            let xi = value(i);
            let (m, eta) = stream.step(xi);
            prod *= (xi * eta / m + (u - xi) * (u - eta) / (u - m)) / u;
            let mut t = self.term(prod, m);
            if i + 1 == len && self.exceeds_null_total(stream.sum) {
                t = f64::INFINITY;
            }
            if (1.0 / t).min(1.0) <= alpha {
                return Some(i + 1);
            }
        }
        None
    }

    /// Without replacement: the sample total alone already exceeds `N t`.
    fn exceeds_null_total(&self, total: f64) -> bool {
        self.population.is_some_and(|n| total > n as f64 * self.t)
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

/// The per-draw state of a test: the null mean `m_j` and the estimate `η_j` before draw `j`, computed
/// as the draws arrive. The shrinkage estimator's `σ_j` is the running (population) standard deviation
/// of the first `j − 1` draws by Welford's method, with `σ_1 = σ_2 = 1` and floored at `minsd`
/// (SHANGRLA `welford_mean_var` as used by `shrink_trunc`).
struct Stream<'a> {
    test: &'a AlphaTest,
    /// Draws so far, `j − 1`.
    seen: usize,
    /// `S_j`, the sum of the draws so far.
    sum: f64,
    mean: f64,
    m2: f64,
    /// The truncation scale `c` after SHANGRLA's consistency reset.
    c: f64,
    /// Whether `η_j` uses `σ_j` (shrinkage with `f > 0`); otherwise the running variance is not
    /// kept (with `f = 0` the `σ_j` terms are exactly `+ 0` and `/ 1`).
    needs_sd: bool,
}

impl<'a> Stream<'a> {
    fn new(test: &'a AlphaTest) -> Self {
        let c = match test.estimator {
            Estimator::ShrinkTrunc { eta, c, .. } => {
                let c = c.unwrap_or((eta - test.t) / 2.0 - EPS);
                if test.u - c < test.t + c {
                    (test.u - c) / 2.0
                } else {
                    c
                }
            }
            Estimator::Fixed { .. } => 0.0,
        };
        let needs_sd = matches!(test.estimator, Estimator::ShrinkTrunc { f, .. } if f != 0.0);
        Self { test, seen: 0, sum: 0.0, mean: 0.0, m2: 0.0, c, needs_sd }
    }

    /// `(N·mean − S_j)/(N − j + 1)`, or `mean` with replacement.
    fn adjusted(&self, mean: f64) -> f64 {
        match self.test.population {
            Some(n) => {
                let (big_n, j) = (n as f64, (self.seen + 1) as f64);
                (big_n * mean - self.sum) / (big_n - j + 1.0)
            }
            None => mean,
        }
    }

    /// `(m_j, η_j)` for the next draw, then takes the draw `xi` into the state.
    fn step(&mut self, xi: f64) -> (f64, f64) {
        let (u, t) = (self.test.u, self.test.t);
        let m = self.adjusted(t);
        let eta = match self.test.estimator {
            Estimator::Fixed { eta } => self.adjusted(eta),
            Estimator::ShrinkTrunc { eta, d, f, minsd, .. } => {
                let j = (self.seen + 1) as f64;
                let shrunk = (d * eta + self.sum) / (d + j - 1.0);
                let weighted = if self.needs_sd {
                    let sd = if self.seen < 2 {
                        1.0
                    } else {
                        (self.m2 / self.seen as f64).sqrt().max(minsd)
                    };
                    (shrunk + u * f / sd) / (1.0 + f / sd)
                } else {
                    shrunk
                };
                let tol = self.c / (d + j - 1.0).sqrt();
                (u * (1.0 - EPS) - tol).min(weighted.max(m * (1.0 + EPS) + tol))
            }
        };
        if !self.needs_sd {
            // no running variance needed
        } else if self.seen == 0 {
            self.mean = xi;
        } else {
            let new_mean = self.mean + (xi - self.mean) / (self.seen + 1) as f64;
            self.m2 += (xi - self.mean) * (xi - new_mean);
            self.mean = new_mean;
        }
        self.seen += 1;
        self.sum += xi;
        (m, eta)
    }
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
