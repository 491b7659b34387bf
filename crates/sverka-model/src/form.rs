//! The protocol form as data: its named lines and the control relations between them
//! (e.g. `ballots_in_boxes = valid + invalid`, `valid = sum(options)`), parsed from the election
//! definition and evaluated exactly on a protocol's numbers.
//!
//! The relation language is deliberately tiny: a linear expression, one of `=`, `>=`, `<=`, another
//! linear expression. Terms are line ids, non-negative integer constants, and `sum(options)` (the sum
//! of the protocol's vote lines, "against all" included).

use std::collections::BTreeMap;

use serde::Serialize;

/// A comparison in a control relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
}

/// One term of a linear expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Term {
    /// The value of a form line.
    Line(String),
    /// The sum of every vote line of the protocol.
    SumOptions,
    /// A constant.
    Const(u64),
}

/// `Σ sign·term`, evaluated in i128 so no protocol can overflow it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinearExpr {
    pub terms: Vec<(i8, Term)>,
}

/// A parsed control relation `lhs op rhs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// The relation as written in the definition; shown to clerks.
    pub text: String,
    pub lhs: LinearExpr,
    pub op: CmpOp,
    pub rhs: LinearExpr,
}

/// Why a relation or expression does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExprError {
    #[error("expected exactly one of '=', '>=' or '<=' in {0:?}")]
    NoComparison(String),
    #[error("empty expression in {0:?}")]
    Empty(String),
    #[error("unexpected {token:?} in {text:?}")]
    Unexpected { token: String, text: String },
}

impl LinearExpr {
    /// Parses `a + b - 3 + sum(options)`.
    pub fn parse(text: &str) -> Result<LinearExpr, ExprError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(ExprError::Empty(text.to_string()));
        }
        let mut terms = Vec::new();
        let mut sign: i8 = 1;
        let mut token = String::new();
        let flush = |token: &mut String, sign: i8, terms: &mut Vec<(i8, Term)>| {
            if token.is_empty() {
                return Err(ExprError::Unexpected { token: "+/-".into(), text: text.to_string() });
            }
            let term = if token == "sum(options)" {
                Term::SumOptions
            } else if token.bytes().all(|b| b.is_ascii_digit()) {
                let value = token.parse().map_err(|_| ExprError::Unexpected {
                    token: token.clone(),
                    text: text.to_string(),
                })?;
                Term::Const(value)
            } else if crate::names::is_valid_id(token) {
                Term::Line(token.clone())
            } else {
                return Err(ExprError::Unexpected { token: token.clone(), text: text.to_string() });
            };
            terms.push((sign, term));
            token.clear();
            Ok(())
        };
        for ch in compact.chars() {
            match ch {
                '+' | '-' => {
                    flush(&mut token, sign, &mut terms)?;
                    sign = if ch == '+' { 1 } else { -1 };
                }
                c => token.push(c),
            }
        }
        flush(&mut token, sign, &mut terms)?;
        Ok(LinearExpr { terms })
    }

    /// The line ids this expression reads.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().filter_map(|(_, t)| match t {
            Term::Line(id) => Some(id.as_str()),
            _ => None,
        })
    }

    /// The exact value on a protocol; a missing line counts as 0 (schema checks catch missing lines).
    pub fn eval(&self, lines: &BTreeMap<String, u64>, sum_options: u64) -> i128 {
        self.terms
            .iter()
            .map(|(sign, term)| {
                let value = match term {
                    Term::Line(id) => lines.get(id).copied().unwrap_or(0),
                    Term::SumOptions => sum_options,
                    Term::Const(c) => *c,
                };
                i128::from(*sign) * i128::from(value)
            })
            .sum()
    }
}

impl Relation {
    /// Parses `lhs op rhs`.
    pub fn parse(text: &str) -> Result<Relation, ExprError> {
        let ops = [(">=", CmpOp::Ge), ("<=", CmpOp::Le), ("=", CmpOp::Eq)];
        let found: Vec<_> =
            ops.iter().filter_map(|(sym, op)| text.find(sym).map(|at| (at, *sym, *op))).collect();
        // `>=` also contains `=`: keep the first operator that is not part of a longer one.
        let (at, sym, op) = match found.as_slice() {
            [] => return Err(ExprError::NoComparison(text.to_string())),
            [one] => *one,
            [two_char, _eq] if two_char.0 == _eq.0 - 1 => *two_char,
            _ => return Err(ExprError::NoComparison(text.to_string())),
        };
        let rest = &text[at + sym.len()..];
        if rest.contains('=') || rest.contains('<') || rest.contains('>') {
            return Err(ExprError::NoComparison(text.to_string()));
        }
        Ok(Relation {
            text: text.trim().to_string(),
            lhs: LinearExpr::parse(&text[..at])?,
            op,
            rhs: LinearExpr::parse(rest)?,
        })
    }

    /// Whether the relation holds on these numbers, with both sides' values.
    pub fn check(&self, lines: &BTreeMap<String, u64>, sum_options: u64) -> (bool, i128, i128) {
        let left = self.lhs.eval(lines, sum_options);
        let right = self.rhs.eval(lines, sum_options);
        let holds = match self.op {
            CmpOp::Eq => left == right,
            CmpOp::Ge => left >= right,
            CmpOp::Le => left <= right,
        };
        (holds, left, right)
    }

    /// The line ids this relation reads.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lhs.lines().chain(self.rhs.lines())
    }

    /// Whether the relation reads `sum(options)`, i.e. checks the votes against the lines.
    pub fn uses_sum_options(&self) -> bool {
        self.lhs.terms.iter().chain(&self.rhs.terms).any(|(_, t)| *t == Term::SumOptions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn parses_and_checks_the_russian_style_relations() {
        let r =
            Relation::parse("ballots_received = issued + cancelled + lost - unaccounted").unwrap();
        let n = nums(&[
            ("ballots_received", 100),
            ("issued", 60),
            ("cancelled", 39),
            ("lost", 2),
            ("unaccounted", 1),
        ]);
        assert_eq!(r.check(&n, 0), (true, 100, 100));
        let r = Relation::parse("registered >= issued").unwrap();
        assert_eq!(r.op, CmpOp::Ge);
        assert!(!r.check(&nums(&[("registered", 5), ("issued", 6)]), 0).0);
        let r = Relation::parse("valid = sum(options)").unwrap();
        assert_eq!(r.check(&nums(&[("valid", 7)]), 7), (true, 7, 7));
    }

    #[test]
    fn rejects_malformed_relations() {
        assert!(matches!(Relation::parse("a + b"), Err(ExprError::NoComparison(_))));
        assert!(matches!(Relation::parse("a = b = c"), Err(ExprError::NoComparison(_))));
        assert!(matches!(Relation::parse("a = "), Err(ExprError::Empty(_))));
        assert!(matches!(Relation::parse("a = b + + c"), Err(ExprError::Unexpected { .. })));
        assert!(matches!(Relation::parse("a = B*2"), Err(ExprError::Unexpected { .. })));
    }
}
