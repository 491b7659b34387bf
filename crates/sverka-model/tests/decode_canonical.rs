//! `Submission::decode` takes a fast path (one typed parse, one canonical encoding, compared) and
//! falls back to step-by-step decoding to name a problem. These tests keep a plain reference
//! decoder — every canonical check through a `serde_json::Value` — and require the same answer
//! (the submission, or the same refusal) for real submissions of a simulated night and for every
//! kind of small edit of them, so a faster canonical check can replace the fast path safely.

use proptest::prelude::*;
use serde_json::Value;
use sverka_model::canonical;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{DecodeError, FORMAT_VERSION, MAX_SUBMISSION_BYTES};
use sverka_model::{Body, Payload, Submission};

/// Canonical bytes through a `serde_json::Value`.
fn through_value(submission: &Submission) -> Option<Vec<u8>> {
    canonical::value_to_vec(&serde_json::to_value(submission).ok()?).ok()
}

/// The reference: a typed parse compared with its encoding through a value tree, else the
/// step-by-step decoding that names the first problem.
fn reference_decode(bytes: &[u8]) -> Result<Submission, DecodeError> {
    if bytes.len() > MAX_SUBMISSION_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    if let Ok(submission) = serde_json::from_slice::<Submission>(bytes) {
        if submission.payload.v == FORMAT_VERSION
            && through_value(&submission).as_deref() == Some(bytes)
            && submission.signature_bytes().is_ok()
        {
            return Ok(submission);
        }
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
    let canonical =
        canonical::value_to_vec(&value).map_err(|e| DecodeError::Number(e.to_string()))?;
    let submission: Submission =
        serde_json::from_value(value).map_err(|e| DecodeError::Schema(e.to_string()))?;
    if submission.payload.v != FORMAT_VERSION {
        return Err(DecodeError::Version(submission.payload.v));
    }
    if canonical != bytes || through_value(&submission).as_deref() != Some(bytes) {
        return Err(DecodeError::NotCanonical);
    }
    submission.signature_bytes()?;
    Ok(submission)
}

/// Every line of a small simulated night (protocols of each source, corrections, observers)
/// and an annulment whose reason needs escapes.
fn samples() -> Vec<Vec<u8>> {
    let path = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let night = Night::new("tiny/election.toml", &text, Config::default()).unwrap();
    let mut lines: Vec<Vec<u8>> = night.submission_lines();
    let annulment = Payload {
        v: FORMAT_VERSION,
        election: "tiny".into(),
        signer: "cec".into(),
        seq: 3,
        time: None,
        body: Body::Annulment(sverka_model::submission::Annulment {
            station: "1001".into(),
            contest: None,
            reason: "решение \"№ 5\"\t\u{1}\\ \u{1F600}\u{FF61}".into(),
        }),
    };
    lines.push(annulment.sign(&ed25519_dalek::SigningKey::from_bytes(&[9; 32])).to_bytes());
    lines
}

/// Small edits of canonical bytes that canonical form must notice (or, for some, not care about).
fn edits(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut out = vec![
        text.replacen(':', ": ", 1),
        text.replacen(',', " ,", 1),
        text.replacen("\"seq\":", "\"seq\":0", 1),
        text.replacen("\"v\":1", "\"v\":1.0", 1),
        text.replacen("\"v\":1", "\"v\":2", 1),
        text.replacen("\"v\":1", "\"v\":-0", 1),
        text.replacen("\"v\":1", "\"v\":1e0", 1),
        text.replacen("\"seq\":", "\"seq\":9007199254740992", 1),
        text.replacen("{\"payload\":{", "{\"payload\":{\"time\":null,", 1),
        text.replacen("{\"payload\":{", "{\"payload\":{\"preferences\":{},", 1),
        text.replacen("\"votes\":{", "\"votes\":{\"zz\":1,", 1),
        text.replacen("\"votes\":{", "\"votes\":{\"a\":-1,", 1),
        text.replacen("\"election\":\"", "\"election\":\"\\u0074", 1),
        text.replacen("\"election\":", "\"election\":\"x\",\"election\":", 1),
        text.replacen("\\t", "\\u0009", 1),
        text.replacen("\\u0001", "\\u0001\\u00e9", 1),
        text.replacen('/', "\\/", 1),
        text.replacen("\"signature\":\"", "\"signature\":\"A", 1),
        format!("{text} "),
        format!(" {text}"),
    ];
    // Two members of the payload swapped.
    if let (Some(a), Some(b)) = (text.find("\"election\""), text.find("\"signer\"")) {
        let mut swapped = text.clone();
        swapped.replace_range(a..a + 10, "\"signer\"__");
        swapped.replace_range(b..b + 8, "\"election\"");
        out.push(swapped.replacen("\"signer\"__", "\"signer\"", 1));
    }
    out.into_iter().map(String::into_bytes).collect()
}

#[test]
fn real_submissions_and_their_edits_decode_as_before() {
    let samples = samples();
    assert!(samples.len() > 20);
    for bytes in &samples {
        let decoded = Submission::decode(bytes);
        assert!(decoded.is_ok(), "{}", String::from_utf8_lossy(bytes));
        assert_eq!(decoded, reference_decode(bytes));
        for edited in edits(bytes) {
            let decoded = Submission::decode(&edited);
            assert_eq!(decoded, reference_decode(&edited), "{}", String::from_utf8_lossy(&edited));
            if edited != *bytes {
                assert!(decoded.is_err(), "accepted {}", String::from_utf8_lossy(&edited));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any byte of a real submission replaced, removed or doubled.
    #[test]
    fn byte_edits_decode_as_before(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), byte in any::<u8>(), how in 0..3u8) {
        thread_local!(static SAMPLES: Vec<Vec<u8>> = samples());
        let mut bytes = SAMPLES.with(|s| pick.get(s).clone());
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => { bytes.remove(i); }
            _ => bytes.insert(i, bytes[i]),
        }
        prop_assert_eq!(Submission::decode(&bytes), reference_decode(&bytes));
    }
}
