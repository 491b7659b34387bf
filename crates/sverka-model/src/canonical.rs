//! RFC 8785 JSON Canonicalization Scheme (JCS) for the value shapes sverka signs and logs.
//!
//! sverka's formats use only objects, arrays, strings, booleans, null and integers, so the number
//! serialisation of RFC 8785 §3.2.2.3 reduces to plain decimal integers; any non-integer number is
//! refused rather than canonicalised. Object members are sorted by their names as UTF-16 code units
//! (§3.2.3), strings are escaped as ECMAScript's `JSON.stringify` does (§3.2.2.2).

use serde::Serialize;
use serde_json::Value;

/// Why a value has no canonical form in sverka's subset of RFC 8785.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// A number that is not an integer (sverka's formats carry no fractions on the wire).
    #[error("number {0} is not an integer")]
    NotAnInteger(String),
    /// An integer outside ±(2^53 − 1), which I-JSON (RFC 7493 §2.2) says cannot be exchanged exactly.
    #[error("integer {0} is outside the exactly representable range ±(2^53-1)")]
    OutOfRange(String),
    /// The value could not be turned into JSON at all.
    #[error("cannot serialise: {0}")]
    Serialise(String),
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The canonical bytes of any serialisable value.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value =
        serde_json::to_value(value).map_err(|e| CanonicalError::Serialise(e.to_string()))?;
    value_to_vec(&value)
}

/// The canonical bytes of a JSON value.
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of a JSON value to `out` (for writers that build a large document
/// piece by piece instead of as one value tree).
pub fn extend_with_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    write_value(value, out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_integer(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_integer(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::OutOfRange(n.to_string()));
        }
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::OutOfRange(n.to_string()));
        }
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        return Err(CanonicalError::NotAnInteger(n.to_string()));
    }
    Ok(())
}

/// ECMAScript `JSON.stringify` string escaping (ECMA-262 `QuoteJSONString`), as RFC 8785 §3.2.2.2 requires.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0C}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_members_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "A": {"z": 0, "y": -3}});
        assert_eq!(value_to_vec(&v).unwrap(), br#"{"A":{"y":-3,"z":0},"a":[true,null,"x"],"b":1}"#);
    }

    #[test]
    fn escapes_like_json_stringify() {
        let v = json!("q\"b\\\u{1}\n\u{7f}é/");
        assert_eq!(value_to_vec(&v).unwrap(), "\"q\\\"b\\\\\\u0001\\n\u{7f}é/\"".as_bytes());
    }

    #[test]
    fn sorts_by_utf16_code_units_not_bytes() {
        // U+FF61 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16 (RFC 8785 §3.2.3).
        let v = json!({"\u{1F600}": 1, "\u{FF61}": 2});
        let out = String::from_utf8(value_to_vec(&v).unwrap()).unwrap();
        assert_eq!(out, "{\"\u{1F600}\":1,\"\u{FF61}\":2}");
    }

    #[test]
    fn refuses_fractions_and_unsafe_integers() {
        assert!(matches!(value_to_vec(&json!(1.5)), Err(CanonicalError::NotAnInteger(_))));
        assert!(matches!(value_to_vec(&json!(1u64 << 53)), Err(CanonicalError::OutOfRange(_))));
        assert_eq!(value_to_vec(&json!(9007199254740991u64)).unwrap(), b"9007199254740991");
    }
}
