//! The `audit` entry (docs/formats.md §1.3 and §7): its canonical bytes, written by hand from the
//! document, pinned for each step, and a strict decoder (unknown members and unknown steps are
//! refused, like every other entry type).

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use sverka_model::audit::{
    AuditDecision, AuditDefinition, AuditDraw, AuditKind, AuditManifest, AuditRisk, AuditSeed,
    AuditStep, HandCount, HandCountCorrection, ReportedView,
};
use sverka_model::submission::{DecodeError, FORMAT_VERSION};
use sverka_model::{Body, Payload, Submission};

fn payload(seq: u64, step: AuditStep) -> Payload {
    Payload {
        v: FORMAT_VERSION,
        election: "tiny".into(),
        signer: "cec".into(),
        seq,
        time: None,
        body: Body::Audit(step),
    }
}

fn steps() -> Vec<(AuditStep, &'static str)> {
    let votes: BTreeMap<String, u64> =
        [("sun", 1), ("river", 2), ("mountain", 3), ("against_all", 0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    vec![
        (
            AuditStep::Define(AuditDefinition {
                audit: "rla-1".into(),
                contest: "list".into(),
                risk_limit: "0.05".into(),
                kind: AuditKind::BatchComparison,
                reported: ReportedView::Official,
            }),
            r#"{"audit":"rla-1","contest":"list","election":"tiny","kind":"batch_comparison","reported":"official","risk_limit":"0.05","seq":1,"signer":"cec","step":"define","type":"audit","v":1}"#,
        ),
        (
            AuditStep::Manifest(AuditManifest {
                audit: "rla-1".into(),
                as_of: 40,
                stations: 5,
                ballots: 3650,
                manifest_sha256: "0f".repeat(32),
            }),
            r#"{"as_of":40,"audit":"rla-1","ballots":3650,"election":"tiny","manifest_sha256":"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f","seq":2,"signer":"cec","stations":5,"step":"manifest","type":"audit","v":1}"#,
        ),
        (
            AuditStep::Seed(AuditSeed { audit: "rla-1".into(), seed: "20211128".into() }),
            r#"{"audit":"rla-1","election":"tiny","seed":"20211128","seq":3,"signer":"cec","step":"seed","type":"audit","v":1}"#,
        ),
        (
            AuditStep::Draw(AuditDraw {
                audit: "rla-1".into(),
                round: 1,
                sample_size: 3,
                draws: vec!["1001".into(), "1003".into(), "1001".into()],
            }),
            r#"{"audit":"rla-1","draws":["1001","1003","1001"],"election":"tiny","round":1,"sample_size":3,"seq":4,"signer":"cec","step":"draw","type":"audit","v":1}"#,
        ),
        (
            AuditStep::HandCount(HandCount {
                audit: "rla-1".into(),
                station: "1001".into(),
                votes: votes.clone(),
                invalid: 3,
            }),
            r#"{"audit":"rla-1","election":"tiny","invalid":3,"seq":5,"signer":"cec","station":"1001","step":"hand_count","type":"audit","v":1,"votes":{"against_all":0,"mountain":3,"river":2,"sun":1}}"#,
        ),
        (
            AuditStep::HandCountCorrection(HandCountCorrection {
                audit: "rla-1".into(),
                station: "1001".into(),
                votes,
                invalid: 2,
                reason: "a second box found".into(),
            }),
            r#"{"audit":"rla-1","election":"tiny","invalid":2,"reason":"a second box found","seq":6,"signer":"cec","station":"1001","step":"hand_count_correction","type":"audit","v":1,"votes":{"against_all":0,"mountain":3,"river":2,"sun":1}}"#,
        ),
        (
            AuditStep::Risk(AuditRisk {
                audit: "rla-1".into(),
                round: 1,
                risks: vec!["0.031250000000".into(), "1".into()],
                decision: AuditDecision::Escalate,
            }),
            r#"{"audit":"rla-1","decision":"escalate","election":"tiny","risks":["0.031250000000","1"],"round":1,"seq":7,"signer":"cec","step":"risk","type":"audit","v":1}"#,
        ),
    ]
}

#[test]
fn every_step_has_exactly_the_documented_bytes_and_decodes_back() {
    let key = SigningKey::from_bytes(&[3; 32]);
    for (seq, (step, expected)) in (1..).zip(steps()) {
        let payload = payload(seq, step);
        assert_eq!(String::from_utf8(payload.canonical_bytes()).unwrap(), expected);
        let submission = payload.clone().sign(&key);
        let decoded = Submission::decode(&submission.to_bytes()).unwrap();
        assert_eq!(decoded.payload, payload);
        assert!(decoded.verify(&key.verifying_key()));
    }
}

#[test]
fn unknown_members_and_steps_are_refused() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let (step, _) = steps().remove(2);
    let bytes = payload(3, step).sign(&key).to_bytes();
    let text = String::from_utf8(bytes).unwrap();
    let extra = text.replace(r#""seed":"20211128","#, r#""seed":"20211128","secret":"x","#);
    assert!(matches!(Submission::decode(extra.as_bytes()), Err(DecodeError::Schema(_))));
    let unknown = text.replace(r#""step":"seed""#, r#""step":"shuffle""#);
    assert!(matches!(Submission::decode(unknown.as_bytes()), Err(DecodeError::Schema(_))));
}
