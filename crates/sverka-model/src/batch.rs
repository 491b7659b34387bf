//! The body of `POST /api/v1/submissions/batch` (docs/formats.md §3.3): a JSON array of signed
//! submissions or JSON lines, one submission per line. Splitting keeps each item's exact bytes,
//! so every item is then decoded (canonical bytes only) as if it had been sent alone.

use serde_json::value::RawValue;

/// Why a batch body could not be split into submissions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The body starts with `[` but is not one JSON array.
    #[error("not a JSON array: {0}")]
    NotAnArray(String),
    /// The body holds no submission at all (empty, blank lines, or `[]`).
    #[error("the batch holds no submissions: send a JSON array of submissions or one per line")]
    Empty,
}

/// Splits a batch body into the exact bytes of its items: the elements of a JSON array (without
/// the whitespace around them), or the lines of JSON lines (without `\r\n`, blank lines skipped).
/// Items are not decoded here; a line that is not JSON is an item that will be refused alone.
pub fn split(bytes: &[u8]) -> Result<Vec<&[u8]>, BatchError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<&[u8]> = if first == Some(&b'[') {
        // Borrowed from `bytes`: each element is a slice of the body itself.
        let raw: Vec<&RawValue> = serde_json::from_slice(bytes)
            .map_err(|error| BatchError::NotAnArray(error.to_string()))?;
        raw.into_iter().map(|item| item.get().as_bytes()).collect()
    } else {
        bytes
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .collect()
    };
    if items.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_lines_split_into_exact_items() {
        let array = br#"[{"a":1}, {"b":[2,3]}]"#;
        assert_eq!(split(array).unwrap(), vec![&b"{\"a\":1}"[..], b"{\"b\":[2,3]}"]);
        let lines = b"{\"a\":1}\r\n\n{\"b\":2}\n";
        assert_eq!(split(lines).unwrap(), vec![&b"{\"a\":1}"[..], b"{\"b\":2}"]);
        assert!(matches!(split(b"[1,"), Err(BatchError::NotAnArray(_))));
    }

    #[test]
    fn a_batch_without_items_is_refused() {
        for body in [&b""[..], b"\n\r\n  \n", b"[]", b" [ ] "] {
            assert_eq!(split(body), Err(BatchError::Empty), "{:?}", String::from_utf8_lossy(body));
        }
    }
}
