//! Rejected submissions leave exactly one trace, their quarantine row with the reason's codes:
//! the log, its tiles, its checkpoint and the admission state are unchanged.

mod common;

use common::*;
use sverka_model::election::KeyRecord;
use sverka_model::{Body, Role, Source};
use sverka_store::{Config, QuarantineFilter, SubmitError};

fn rejected_codes(result: Result<sverka_store::Receipt, SubmitError>) -> Vec<String> {
    match result {
        Err(SubmitError::Rejected(rejection)) => {
            rejection.codes().into_iter().map(String::from).collect()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn each_kind_of_bad_submission_is_quarantined_with_its_code_and_nothing_else_changes(
    backend: &Backend,
) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let accepted = store.submit(observer_protocol(0, 10)).unwrap();
    let size = store.tree_size().unwrap();
    let checkpoint = store.checkpoint_now().unwrap();
    let tile_before = store.read_tile("tile/0/000.p/2").unwrap();

    let machine = key(MACHINE_1001.1);
    let good = signed(MACHINE_1001.0, &machine, 1, protocol_body("1001", Source::Machine, 7));
    let mut bad_signature = good.clone();
    let at = bad_signature.len() - 10;
    bad_signature[at] = if bad_signature[at] == b'A' { b'B' } else { b'A' };
    let mut foreign = sverka_model::Submission::decode(&good).unwrap().payload;
    foreign.election = "another".into();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"not json".to_vec(), "E002"),
        ("not canonical", format!(" {}", String::from_utf8_lossy(&good)).into_bytes(), "E004"),
        ("bad signature", bad_signature, "E104"),
        ("another election", foreign.sign(&machine).to_bytes(), "E101"),
        (
            "unknown key",
            signed("ghost", &key(77), 1, protocol_body("1001", Source::Machine, 7)),
            "E102",
        ),
        ("log key", signed("log", &key(77), 2, protocol_body("1001", Source::Machine, 7)), "E102"),
        (
            "machine of another station",
            signed(MACHINE_1001.0, &machine, 2, protocol_body("1002", Source::Machine, 7)),
            "E106",
        ),
        (
            "observer claiming manual",
            signed("obs-0", &observer(0).1, 11, protocol_body("1001", Source::Manual, 7)),
            "E107",
        ),
        ("replayed sequence", observer_protocol(0, 9), "E105"),
        (
            "unknown station",
            signed(OPERATOR_D1.0, &key(OPERATOR_D1.1), 1, protocol_body("7777", Source::Manual, 7)),
            "E201",
        ),
        (
            "registration by an observer",
            signed(
                "obs-1",
                &observer(1).1,
                1,
                sverka_model::Body::KeyRegistration(sverka_model::submission::KeyRegistration {
                    key: KeyRecord {
                        id: "new".into(),
                        role: Role::Admin,
                        public_key: public(&key(50)),
                        station: None,
                        district: None,
                    },
                }),
            ),
            "E109",
        ),
        ("revoking an unknown key", key_revocation(1, "nobody"), "E111"),
    ];
    for (what, bytes, code) in &cases {
        assert_eq!(rejected_codes(store.submit_from(bytes.clone(), what)), [*code], "{what}");
    }
    assert_eq!(store.tree_size().unwrap(), size, "no entry was added");
    assert_eq!(store.checkpoint_now().unwrap(), checkpoint, "no checkpoint was signed");
    assert_eq!(store.read_tile("tile/0/000.p/2").unwrap(), tile_before);
    assert_eq!(store.read_tile("tile/0/000.p/3").unwrap(), None);
    let records = store.quarantine(&QuarantineFilter::default()).unwrap();
    assert_eq!(records.len(), cases.len());
    for (record, (what, bytes, code)) in records.iter().zip(&cases) {
        assert_eq!(&record.sender, what);
        assert_eq!(&record.bytes, bytes);
        assert_eq!(record.problems[0].code, *code);
        assert!(!record.problems[0].message.is_empty());
    }
    let only = QuarantineFilter { code: Some("E106".into()), ..QuarantineFilter::default() };
    assert_eq!(store.quarantine(&only).unwrap().len(), 1);
    // The rejected ones did not advance anyone's sequence number: the good one still goes in.
    let receipt = store.submit(good).unwrap();
    assert_eq!((receipt.index, receipt.new), (accepted.index + 1, true));
}

fn a_revoked_key_is_refused_and_a_registered_key_is_accepted(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = backend.init(&dir, Config::default());
    let record = KeyRecord {
        id: "m-1003".into(),
        role: Role::Machine,
        public_key: public(&key(60)),
        station: Some("1003".into()),
        district: None,
    };
    store.submit(key_registration(1, record)).unwrap();
    let from_new = signed("m-1003", &key(60), 1, protocol_body("1003", Source::Machine, 5));
    assert!(store.submit(from_new).unwrap().new);
    store.submit(key_revocation(2, "m-1003")).unwrap();
    let after = signed("m-1003", &key(60), 2, protocol_body("1003", Source::Machine, 6));
    assert_eq!(rejected_codes(store.submit(after.clone())), ["E103"]);
    drop(store);
    // The registry is refolded from the log on open.
    let store = sverka_store::Store::open(&dir).unwrap();
    assert_eq!(rejected_codes(store.submit(after)), ["E103"]);
    assert_eq!(store.tree_size().unwrap(), 4);
}

fn protocol_rules_come_from_the_model_errors_reject_and_warnings_ride_along(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let Body::Protocol(mut broken) = protocol_body("1001", Source::Machine, 100) else {
        unreachable!()
    };
    *broken.lines.get_mut("valid").unwrap() += 1;
    let machine = key(MACHINE_1001.1);
    let codes =
        rejected_codes(store.submit(signed(MACHINE_1001.0, &machine, 1, Body::Protocol(broken))));
    assert!(codes.iter().all(|c| c.starts_with("E4")), "a control relation fails: {codes:?}");
    // The machine count, then a hand count that differs by one vote: accepted with W104, which
    // needs the other source's protocol from the log.
    let machine_count =
        signed(MACHINE_1001.0, &machine, 2, protocol_body("1001", Source::Machine, 100));
    assert!(store.submit(machine_count).unwrap().warnings.is_empty());
    let hand =
        signed(OPERATOR_D1.0, &key(OPERATOR_D1.1), 1, protocol_body("1001", Source::Manual, 101));
    let receipt = store.submit(hand).unwrap();
    assert!(receipt.new);
    let codes: Vec<&str> = receipt.warnings.iter().map(|w| w.code.as_str()).collect();
    assert!(codes.contains(&"W104"), "{codes:?}");
}

both_backends!(
    each_kind_of_bad_submission_is_quarantined_with_its_code_and_nothing_else_changes,
    a_revoked_key_is_refused_and_a_registered_key_is_accepted,
    protocol_rules_come_from_the_model_errors_reject_and_warnings_ride_along,
);
