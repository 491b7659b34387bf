//! Fuzzes the decoding of a signed submission (every `POST /api/v1/submissions` body and every line
//! of `sverka import`): arbitrary bytes never panic; the two decoders (`Submission::decode`, and
//! `validate::decode_submission` that names the problem) agree; whatever is accepted is exactly
//! its canonical encoding, its signing message is the payload's; and validating it against the
//! tiny example election, and verifying its signature, never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sverka_model::validate::{decode_submission, validate_submission, ProtocolContext};
use sverka_model::{Election, Submission};

fn election() -> &'static Election {
    static ELECTION: OnceLock<Election> = OnceLock::new();
    ELECTION.get_or_init(|| {
        let text = include_str!("../../../../examples/tiny/election.toml");
        Election::from_toml("tiny/election.toml", text).expect("the tiny example is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let plain = Submission::decode_signed(data);
    let named = decode_submission(data);
    match (&plain, &named) {
        (Ok(decoded), Ok(submission)) => {
            assert_eq!(decoded.submission(), submission);
            assert_eq!(submission.to_bytes(), data, "accepted bytes are canonical");
            assert_eq!(decoded.signing_message(), &submission.payload.signing_message()[..]);
            let _ =
                validate_submission(election(), &submission.payload, &ProtocolContext::default());
            let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
            let _ = submission.verify(&key);
        }
        (Err(_), Err(finding)) => assert!(finding.is_error(), "a refusal is an error finding"),
        _ => panic!("the decoders disagree: {:?} vs {:?}", plain.is_ok(), named.is_ok()),
    }
});
