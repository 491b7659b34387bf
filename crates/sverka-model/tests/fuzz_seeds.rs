//! Feeds the fuzz seeds of `fuzz/seeds/{submission,election_toml,canonical_check,protocol_view}/`
//! through the checks of the cargo-fuzz targets on stable Rust, so every `cargo test` runs them:
//! `seed-ok-…` files are accepted, `seed-err-…` files refused, with the same invariants the targets
//! assert (the
//! two submission decoders agree and accepted bytes are canonical; every election.toml error is
//! located inside the file; the one-pass canonical check agrees with encoding and comparing; a
//! protocol read in place holds what the typed parse of the same bytes holds). A
//! crash the fuzzer finds is added here as `seed-err-…` with its fix.

use serde_json::Value;
use sverka_model::validate::decode_submission;
use sverka_model::{canonical, Election, Submission};

#[path = "../../sverka-tlog/tests/seed_corpus/mod.rs"]
mod seed_corpus;
use seed_corpus::check_seeds;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn submission_seeds() {
    check_seeds(CRATE, "submission", |seed| {
        let (name, data) = (&seed.name, &seed.data);
        let plain = Submission::decode(data);
        let named = decode_submission(data);
        assert_eq!(plain.is_ok(), named.is_ok(), "{name}: the decoders disagree");
        if let (Ok(plain), Ok(named)) = (&plain, &named) {
            assert_eq!(plain, named, "{name}");
            assert_eq!(&named.to_bytes(), data, "{name}: accepted bytes are canonical");
        }
        if let Err(finding) = &named {
            assert!(finding.is_error(), "{name}");
            assert!(finding.rule().code.starts_with("E0"), "{name}: {}", finding.rule().code);
        }
        named.is_ok()
    });
}

#[test]
fn election_toml_seeds() {
    check_seeds(CRATE, "election_toml", |seed| {
        let name = &seed.name;
        let text = std::str::from_utf8(&seed.data).expect("seeds are UTF-8");
        let parsed = Election::from_toml("election.toml", text);
        if let Err(errors) = &parsed {
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(!errors.0.is_empty(), "{name}");
            for error in &errors.0 {
                assert!(error.line >= 1 && error.line <= lines.len(), "{name}: {error}");
                let width = lines[error.line - 1].chars().count();
                assert!(error.column >= 1 && error.column <= width + 1, "{name}: {error}");
            }
        }
        parsed.is_ok()
    });
}

/// `canonical_check`: the one-pass check ([`canonical::is_encoding_of`]) against the oracle it
/// replaced (encode what the bytes parse to, compare), on both parses the target tries. A seed is
/// accepted when the bytes are the canonical encoding of the submission they parse to; the
/// `seed-…-value-…` seeds, which are no submission, when they are that of the JSON value.
#[test]
fn canonical_check_seeds() {
    fn encodes_to<T: serde::Serialize>(value: &T, bytes: &[u8]) -> bool {
        canonical::to_vec(value).ok().as_deref() == Some(bytes)
    }
    let promised = check_seeds(CRATE, "canonical_check", |seed| {
        let (name, data) = (&seed.name, seed.data.as_slice());
        let (mut as_value, mut as_submission) = (false, false);
        if let Ok(value) = serde_json::from_slice::<Value>(data) {
            as_value = encodes_to(&value, data);
            assert_eq!(canonical::is_encoding_of(&value, data), as_value, "{name}: value tree");
        }
        if let Ok(submission) = serde_json::from_slice::<Submission>(data) {
            as_submission = encodes_to(&submission, data);
            let one_pass = canonical::is_encoding_of(&submission, data);
            assert_eq!(one_pass, as_submission, "{name}: submission");
        }
        if name.contains("-value") {
            as_value
        } else {
            as_submission
        }
    });
    assert!(promised >= 18, "the canonical_check seeds are there: {promised}");
}

/// `protocol_view`: whenever [`ProtocolView::parse`] gives a view, the typed parse of the same
/// bytes (what the replay falls back to) gives a protocol with the same values, counts in the
/// same order; whenever [`SignedView::parse`] gives one, `Submission::decode_signed` accepts the
/// bytes with the same values, message and signature. A seed is accepted when it gives a view.
#[test]
fn protocol_view_seeds() {
    use sverka_model::protocol_view::{ProtocolView, SignedView};
    check_seeds(CRATE, "protocol_view", |seed| {
        let (name, data) = (&seed.name, seed.data.as_slice());
        let signed = SignedView::parse(data);
        if let Some(signed) = signed {
            let decoded = Submission::decode_signed(data).expect("a signed view's bytes decode");
            assert_eq!(signed.differs_from(&decoded), None, "{name}");
            assert_eq!(ProtocolView::parse(data), Some(signed.protocol), "{name}");
        }
        // A protocol decode_signed accepts (the seeds' ids are ASCII) is read in place by
        // `verify` (the night's protocols; the correction seed's members are out of order).
        let accepted = Submission::decode_signed(data).is_ok();
        let protocol = ProtocolView::parse(data).is_some();
        assert_eq!(signed.is_some(), accepted && protocol, "{name}: a signed view");
        let Some(view) = ProtocolView::parse(data) else { return false };
        let typed: Submission = serde_json::from_slice(data).expect("a view's bytes parse typed");
        assert_eq!(view.differs_from(&typed.payload), None, "{name}");
        true
    });
}
