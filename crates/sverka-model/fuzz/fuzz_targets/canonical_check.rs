//! Fuzzes the one-pass canonical check (`canonical::is_encoding_of`, which `Submission::decode`
//! uses) against the check it replaced, kept here as the oracle: encode what the bytes parse to
//! and compare (`canonical::to_vec`). Both must give the same answer for every input that parses,
//! as a JSON value tree and as a signed submission (where serde accepts forms it writes
//! differently: an explicit `null` for a skipped field, an empty skipped map, a struct as an
//! array, an enum as an object, a variant tag as a number, duplicate members).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sverka_model::{canonical, Submission};

/// The oracle: the bytes are exactly the canonical encoding of the value.
fn encodes_to<T: serde::Serialize>(value: &T, bytes: &[u8]) -> bool {
    canonical::to_vec(value).ok().as_deref() == Some(bytes)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let expected = encodes_to(&value, data);
        assert_eq!(canonical::is_encoding_of(&value, data), expected, "value tree");
    }
    if let Ok(submission) = serde_json::from_slice::<Submission>(data) {
        let expected = encodes_to(&submission, data);
        assert_eq!(canonical::is_encoding_of(&submission, data), expected, "submission");
    }
});
