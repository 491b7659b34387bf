//! The few statistical functions forensics needs, written out so that every number can be traced:
//! the log-gamma function, the regularized incomplete gamma functions (chi-square and normal tails),
//! robust location and scale (median, MAD), weighted correlation, Fisher's combination of p-values,
//! and a seeded binomial draw for the smoothing null models.
//!
//! References: Press et al., *Numerical Recipes* 3rd ed. (2007), §6.1 (Lanczos log-gamma) and §6.2
//! (series and continued fraction of the incomplete gamma function); Iglewicz & Hoaglin, *How to
//! Detect and Handle Outliers* (1993) for the MAD-based "modified z-score"; Fisher (1932) §21.1 for
//! combining independent p-values.

use rand::Rng;

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_p_series(a, x)
    } else {
        gamma_q_continued_fraction(a, x)
    }
}

/// P(a, x) by its series (converges quickly for x < a + 1).
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut n = a;
    for _ in 0..10_000 {
        n += 1.0;
        term *= x / n;
        sum += term;
        if term.abs() < sum.abs() * 1e-16 {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

/// Q(a, x) by its continued fraction, modified Lentz (for x ≥ a + 1).
fn gamma_q_continued_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// P(X ≥ x) for X ~ χ² with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// P(Z ≥ z) for a standard normal Z (via Q(½, z²/2), exact to double precision).
pub fn normal_sf(z: f64) -> f64 {
    let tail = 0.5 * gamma_q(0.5, z * z / 2.0);
    if z >= 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// Fisher's combination of independent p-values: P(χ²₂ₖ ≥ −2 Σ ln pᵢ). `1` for no p-values.
/// Each p-value is floored at 1e-300 so that a certainty does not become an infinity.
pub fn fisher_combine(p_values: &[f64]) -> f64 {
    if p_values.is_empty() {
        return 1.0;
    }
    let statistic: f64 = p_values.iter().map(|p| -2.0 * p.max(1e-300).ln()).sum();
    chi_square_sf(statistic, 2.0 * p_values.len() as f64)
}

/// The median of `values` (the mean of the two middle values for an even count); `None` if empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 })
}

/// A robust centre and scale: the median and 1.4826 × the median absolute deviation (a consistent
/// estimate of σ for normal data), the scale never below `min_scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Robust {
    pub median: f64,
    pub scale: f64,
}

impl Robust {
    /// `None` when `values` is empty.
    pub fn of(values: &[f64], min_scale: f64) -> Option<Robust> {
        let median = median(values)?;
        let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        let mad = median_of_nonempty(&deviations);
        Some(Robust { median, scale: (1.4826 * mad).max(min_scale) })
    }

    /// (value − median) / scale.
    pub fn z(&self, value: f64) -> f64 {
        (value - self.median) / self.scale
    }
}

fn median_of_nonempty(values: &[f64]) -> f64 {
    median(values).unwrap_or(0.0)
}

/// The weighted Pearson correlation of `x` and `y` and the weighted least-squares slope of `y` on
/// `x`; `None` when either has no spread or the weights sum to zero.
pub fn weighted_correlation(x: &[f64], y: &[f64], w: &[f64]) -> Option<(f64, f64)> {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / total;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for ((a, b), weight) in x.iter().zip(y).zip(w) {
        sxx += weight * (a - mx) * (a - mx);
        syy += weight * (b - my) * (b - my);
        sxy += weight * (a - mx) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt(), sxy / sxx))
}

/// One draw from Binomial(n, p): exact inversion when the mean of the smaller tail is below 30,
/// otherwise the normal approximation rounded to the nearest count and clamped to [0, n] (at that
/// size its error is far below the one-voter grain the round-number and digit tests look at).
pub fn binomial<R: Rng>(rng: &mut R, n: u64, p: f64) -> u64 {
    let p = p.clamp(0.0, 1.0);
    if n == 0 || p == 0.0 {
        return 0;
    }
    if p == 1.0 {
        return n;
    }
    let (q, flipped) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
    let mean = n as f64 * q;
    let draw = if mean < 30.0 {
        binomial_inversion(rng, n, q)
    } else {
        let sd = (mean * (1.0 - q)).sqrt();
        (mean + sd * standard_normal(rng)).round().clamp(0.0, n as f64) as u64
    };
    if flipped {
        n - draw
    } else {
        draw
    }
}

/// Inversion of the binomial CDF by sequential search (expected cost: the mean).
fn binomial_inversion<R: Rng>(rng: &mut R, n: u64, p: f64) -> u64 {
    let u: f64 = rng.gen();
    let ratio = p / (1.0 - p);
    let mut probability = (n as f64 * (1.0 - p).ln()).exp();
    let mut cumulative = probability;
    let mut k = 0u64;
    while u > cumulative && k < n {
        probability *= ratio * (n - k) as f64 / (k + 1) as f64;
        k += 1;
        cumulative += probability;
        if probability < 1e-300 && cumulative < u {
            break;
        }
    }
    k
}

/// One standard normal draw (Box–Muller, one of the pair).
pub fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_tail_matches_tables() {
        // Critical values from any χ² table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
        assert!((chi_square_sf(16.919, 9.0) - 0.05).abs() < 1e-4);
        assert!((chi_square_sf(21.666, 9.0) - 0.01).abs() < 1e-4);
        assert!((chi_square_sf(3.841, 1.0) - 0.05).abs() < 1e-4);
        assert!((chi_square_sf(2.0, 2.0) - (-1.0f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn normal_tail_matches_tables() {
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-7);
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-12);
        assert!((normal_sf(-1.644_854) - 0.95).abs() < 1e-7);
        assert!((normal_sf(3.5) - 2.326_290_790e-4).abs() < 1e-12);
    }

    #[test]
    fn ln_gamma_of_integers_is_ln_factorial() {
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn robust_scale_ignores_one_outlier() {
        let robust = Robust::of(&[1.0, 2.0, 3.0, 4.0, 1000.0], 0.0).unwrap();
        assert_eq!(robust.median, 3.0);
        assert!((robust.scale - 1.4826).abs() < 1e-12);
    }
}
