//! Exact rationals: [`Fraction`], a share in [0, 1) read from a decimal exactly as written
//! (thresholds, the women rule), and [`Ratio`], a non-negative rational used to report
//! quotas, quotients and margins without rounding.
//!
//! No floating point: "0.05" is 5/100 = 1/20, never the binary double nearest to 0.05.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The most decimal places a written share may have (after trailing zeros are dropped), so that
/// its denominator is at most 10^18 and `votes × denominator` fits in `u128` with room to spare.
pub const MAX_DECIMAL_PLACES: u32 = 18;

/// A share `num / den` with `0 <= num < den`, in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fraction {
    num: u64,
    den: u64,
}

/// Why a share was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FractionError {
    /// Not a decimal number (JSON number syntax: `0.05`, `5e-2`).
    #[error("{0:?} is not a decimal number (write it like 0.05)")]
    Malformed(String),
    /// A leading minus sign.
    #[error("{0} is negative; a share must be from 0 up to (not including) 1")]
    Negative(String),
    /// One or more.
    #[error("{0} is not below 1; a share must be from 0 up to (not including) 1")]
    NotBelowOne(String),
    /// More than [`MAX_DECIMAL_PLACES`] decimal places.
    #[error("{0} has more than {MAX_DECIMAL_PLACES} decimal places")]
    TooManyDecimals(String),
    /// `num / den` with `den == 0` or `num >= den`.
    #[error("{num}/{den} is not a share from 0 up to (not including) 1")]
    OutOfRange {
        /// Numerator given.
        num: u64,
        /// Denominator given.
        den: u64,
    },
}

impl Fraction {
    /// Zero: every party with a vote passes a zero threshold.
    pub const ZERO: Fraction = Fraction { num: 0, den: 1 };

    /// 3/10, the Kyrgyz women rule's share.
    pub const THREE_TENTHS: Fraction = Fraction { num: 3, den: 10 };

    /// `num / den`, reduced; requires `den > 0` and `num < den`.
    pub fn new(num: u64, den: u64) -> Result<Self, FractionError> {
        if den == 0 || num >= den {
            return Err(FractionError::OutOfRange { num, den });
        }
        let g = gcd_u64(num, den);
        Ok(Self { num: num / g, den: den / g })
    }

    /// Reads a decimal exactly as written, in JSON number syntax: `0.05`, `0.050`, `5e-2`, `0`.
    ///
    /// Rejects signs, values of 1 or more, more than [`MAX_DECIMAL_PLACES`] significant decimal
    /// places, and anything else (spaces, `.5`, `5.`, `0x1`, `NaN`).
    pub fn parse_decimal(text: &str) -> Result<Self, FractionError> {
        let malformed = || FractionError::Malformed(text.to_owned());
        if let Some(unsigned) = text.strip_prefix('-') {
            if parse_json_number(unsigned).is_none() {
                return Err(malformed());
            }
            return Err(FractionError::Negative(text.to_owned()));
        }
        let parts = parse_json_number(text).ok_or_else(malformed)?;
        let digits: String = parts.int_digits.chars().chain(parts.frac_digits.chars()).collect();
        let digits = digits.trim_start_matches('0');
        let trimmed = digits.trim_end_matches('0');
        if trimmed.is_empty() {
            return Ok(Self::ZERO);
        }
        // value = trimmed × 10^scale
        let dropped_zeros = (digits.len() - trimmed.len()) as i64;
        let exponent = match parts.exponent {
            Some(e) => e,
            None if parts.exponent_too_large_positive => {
                return Err(FractionError::NotBelowOne(text.to_owned()))
            }
            None => return Err(FractionError::TooManyDecimals(text.to_owned())),
        };
        let scale = exponent - parts.frac_digits.len() as i64 + dropped_zeros;
        if scale >= 0 {
            return Err(FractionError::NotBelowOne(text.to_owned()));
        }
        let places = -scale;
        if places > i64::from(MAX_DECIMAL_PLACES) {
            return Err(FractionError::TooManyDecimals(text.to_owned()));
        }
        if trimmed.len() as i64 > places {
            return Err(FractionError::NotBelowOne(text.to_owned()));
        }
        let num: u64 = trimmed.parse().map_err(|_| malformed())?;
        Self::new(num, 10u64.pow(places as u32))
    }

    /// Numerator (lowest terms).
    pub fn numerator(self) -> u64 {
        self.num
    }

    /// Denominator (lowest terms).
    pub fn denominator(self) -> u64 {
        self.den
    }

    /// Whether the share is zero.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// Whether `part >= self × whole`, exactly: `part × den >= num × whole`.
    pub fn reached_by(self, part: u128, whole: u128) -> bool {
        part * u128::from(self.den) >= u128::from(self.num) * whole
    }

    /// The fewest votes reaching this share of `whole`: `ceil(num × whole / den)`.
    pub fn min_part(self, whole: u128) -> u128 {
        (u128::from(self.num) * whole).div_ceil(u128::from(self.den))
    }

    /// `self × n` rounded down.
    pub fn of_floor(self, n: u128) -> u128 {
        u128::from(self.num) * n / u128::from(self.den)
    }

    /// `self × n` rounded up.
    pub fn of_ceil(self, n: u128) -> u128 {
        self.min_part(n)
    }
}

impl fmt::Display for Fraction {
    /// The exact decimal when the denominator has no prime factors but 2 and 5 (every share
    /// parsed from a decimal), otherwise `num/den`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match terminating_places(self.den) {
            Some(0) => write!(f, "0"),
            Some(places) => {
                let scaled = u128::from(self.num) * 10u128.pow(places) / u128::from(self.den);
                write!(f, "0.{scaled:0width$}", width = places as usize)
            }
            None => write!(f, "{}/{}", self.num, self.den),
        }
    }
}

impl FromStr for Fraction {
    type Err = FractionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_decimal(s)
    }
}

/// The number of decimal places of `1/den` if it terminates.
fn terminating_places(den: u64) -> Option<u32> {
    let (mut d, mut twos, mut fives) = (den, 0u32, 0u32);
    while d % 2 == 0 {
        d /= 2;
        twos += 1;
    }
    while d % 5 == 0 {
        d /= 5;
        fives += 1;
    }
    (d == 1).then_some(twos.max(fives))
}

struct NumberParts<'a> {
    int_digits: &'a str,
    frac_digits: &'a str,
    /// `None` when the exponent has too many digits to matter (see the flag below).
    exponent: Option<i64>,
    exponent_too_large_positive: bool,
}

/// Splits unsigned JSON number text (RFC 8259 §6 without the minus): `int [frac] [exp]`.
fn parse_json_number(text: &str) -> Option<NumberParts<'_>> {
    let bytes = text.as_bytes();
    let digits_from =
        |start: usize| start + bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_end = digits_from(0);
    let int_digits = &text[..int_end];
    if int_digits.is_empty() || (int_digits.len() > 1 && int_digits.starts_with('0')) {
        return None;
    }
    let mut pos = int_end;
    let mut frac_digits = "";
    if bytes.get(pos) == Some(&b'.') {
        let end = digits_from(pos + 1);
        frac_digits = &text[pos + 1..end];
        if frac_digits.is_empty() {
            return None;
        }
        pos = end;
    }
    let mut exponent = Some(0i64);
    let mut exponent_too_large_positive = false;
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let negative = match bytes.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let end = digits_from(pos);
        let exp_digits = &text[pos..end];
        if exp_digits.is_empty() {
            return None;
        }
        pos = end;
        let magnitude = exp_digits.trim_start_matches('0');
        exponent = if magnitude.len() > 9 {
            exponent_too_large_positive = !negative;
            None
        } else {
            let m: i64 = if magnitude.is_empty() { 0 } else { magnitude.parse().ok()? };
            Some(if negative { -m } else { m })
        };
    }
    (pos == text.len()).then_some(NumberParts {
        int_digits,
        frac_digits,
        exponent,
        exponent_too_large_positive,
    })
}

fn gcd_u64(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A non-negative rational `num / den` (`den > 0`), in lowest terms: quotas, quotients,
/// remainders and remainder gaps, reported exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u128,
    den: u128,
}

impl Ratio {
    /// `num / den`, reduced.
    ///
    /// # Panics
    /// If `den == 0` (an internal invariant: every caller divides by a positive count).
    pub fn new(num: u128, den: u128) -> Self {
        assert!(den > 0, "ratio with zero denominator");
        let g = gcd_u128(num, den);
        Self { num: num / g, den: den / g }
    }

    /// A whole number.
    pub fn from_integer(n: u128) -> Self {
        Self { num: n, den: 1 }
    }

    /// Numerator (lowest terms).
    pub fn numerator(self) -> u128 {
        self.num
    }

    /// Denominator (lowest terms).
    pub fn denominator(self) -> u128 {
        self.den
    }

    /// Rounded down.
    pub fn floor(self) -> u128 {
        self.num / self.den
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        // Cross-multiplication; callers keep numerators and denominators below 2^64.
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

impl fmt::Display for Ratio {
    /// `n` when whole, `n/d` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(u64, u64), FractionError> {
        Fraction::parse_decimal(s).map(|f| (f.numerator(), f.denominator()))
    }

    #[test]
    fn parses_exactly_as_written() {
        assert_eq!(parse("0.05"), Ok((1, 20)));
        assert_eq!(parse("0.050"), Ok((1, 20)));
        assert_eq!(parse("5e-2"), Ok((1, 20)));
        assert_eq!(parse("50E-3"), Ok((1, 20)));
        assert_eq!(parse("0.005"), Ok((1, 200)));
        assert_eq!(parse("0.3"), Ok((3, 10)));
        assert_eq!(parse("0.1"), Ok((1, 10)));
        assert_eq!(parse("0"), Ok((0, 1)));
        assert_eq!(parse("0.0"), Ok((0, 1)));
        assert_eq!(parse("0e5"), Ok((0, 1)));
        assert_eq!(parse("0e99999999999999"), Ok((0, 1)));
        assert_eq!(parse("0.999999999999999999"), Ok((999_999_999_999_999_999, 10u64.pow(18))));
        assert_eq!(parse("0.0500000000000000000000"), Ok((1, 20)));
    }

    #[test]
    fn rejects_what_is_not_a_share() {
        assert!(matches!(parse("-0.05"), Err(FractionError::Negative(_))));
        assert!(matches!(parse("1"), Err(FractionError::NotBelowOne(_))));
        assert!(matches!(parse("1.0"), Err(FractionError::NotBelowOne(_))));
        assert!(matches!(parse("0.1e1"), Err(FractionError::NotBelowOne(_))));
        assert!(matches!(parse("12e-1"), Err(FractionError::NotBelowOne(_))));
        assert!(matches!(parse("1e99999999999"), Err(FractionError::NotBelowOne(_))));
        assert!(matches!(parse("0.0000000000000000001"), Err(FractionError::TooManyDecimals(_))));
        assert!(matches!(parse("1e-19"), Err(FractionError::TooManyDecimals(_))));
        assert!(matches!(parse("1e-99999999999"), Err(FractionError::TooManyDecimals(_))));
        for bad in [
            "", " 0.05", "0.05 ", ".05", "5.", "0x1", "NaN", "00.5", "0,05", "+0.05", "1/20", "-",
            "0.05e", "-x",
        ] {
            assert!(matches!(parse(bad), Err(FractionError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_are_specific() {
        assert_eq!(
            parse("1.5").unwrap_err().to_string(),
            "1.5 is not below 1; a share must be from 0 up to (not including) 1"
        );
        assert_eq!(
            parse("0,05").unwrap_err().to_string(),
            "\"0,05\" is not a decimal number (write it like 0.05)"
        );
    }

    #[test]
    fn displays_as_decimal() {
        assert_eq!(Fraction::parse_decimal("0.05").unwrap().to_string(), "0.05");
        assert_eq!(Fraction::parse_decimal("0.005").unwrap().to_string(), "0.005");
        assert_eq!(Fraction::ZERO.to_string(), "0");
        assert_eq!(Fraction::new(1, 3).unwrap().to_string(), "1/3");
        assert_eq!(Fraction::new(3, 8).unwrap().to_string(), "0.375");
    }

    #[test]
    fn threshold_comparison_is_exact_and_equality_passes() {
        let five_percent = Fraction::parse_decimal("0.05").unwrap();
        assert!(five_percent.reached_by(50, 1000));
        assert!(!five_percent.reached_by(49, 1000));
        assert_eq!(five_percent.min_part(1000), 50);
        assert_eq!(five_percent.min_part(1001), 51);
        // 0.1 is not a binary fraction: 0.1 × 30 is exactly 3 here.
        assert!(Fraction::parse_decimal("0.1").unwrap().reached_by(3, 30));
    }

    #[test]
    fn ratio_orders_by_value() {
        assert!(Ratio::new(1, 3) < Ratio::new(1, 2));
        assert_eq!(Ratio::new(2, 4), Ratio::new(1, 2));
        assert_eq!(Ratio::new(6, 3).to_string(), "2");
        assert_eq!(Ratio::new(7, 2).floor(), 3);
    }
}
