//! The signed submission: its bytes pinned, its strict decoding, its validation against the
//! election, and who may sign what.
//!
//! The expected bytes below were typed by hand from docs/formats.md (sorted keys, no spaces,
//! integers, raw UTF-8); the public keys and signatures beside them were computed independently
//! with Python's `cryptography` (OpenSSL) by `data/pin_submissions.py` from the same seeds.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use sverka_model::audit::{
    AuditDecision, AuditDefinition, AuditDraw, AuditKind, AuditManifest, AuditRisk, AuditSeed,
    AuditStep, HandCount, HandCountCorrection, ReportedView,
};
use sverka_model::election::{Election, KeyRecord};
use sverka_model::keys;
use sverka_model::names::{CorrectionReason, Role, Source};
use sverka_model::registry::KeyRegistry;
use sverka_model::submission::{
    Annulment, Body, ElectionDefinition, KeyRegistration, KeyRevocation, Payload, Protocol,
    Submission, Supersedes,
};
use sverka_model::validate::{
    decode_submission, placeholders, validate_protocol, validate_submission, Finding,
    ProtocolContext, Severity, RULES,
};

const TINY: &str = include_str!("data/tiny.toml");

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The key of seed `[n; 32]`.
fn seed(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// Public keys of seeds 1, 2, 3, 4, 6 and 5, from `data/pin_submissions.py`.
const PUB_BOX_1001: &str = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";
const PUB_OP_D1: &str = "gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q=";
const PUB_CEC: &str = "7UkoxijRwsbq6QM4kFmVYSlZJzpcY/k2NsFGFKyHN9E=";
const PUB_OBS_1: &str = "ypOsFwUYcHHWe4PH/w7+gQjo7EUwV113JoeTM9vavnw=";
const PUB_OP_D2: &str = "iodf/x6zhFFXes1a/uQFRWVo3XyJ4JCGOgVXvHr0nxc=";
const PUB_SEED_5: &str = "bnoc3Smwt4/ROvTFWY/v9O8qlxZuPKby5Pv8zYBQW/E=";

/// The tiny election with a scanner for station 1001, operators for d1 and d2, an observer and
/// a CEC admin.
fn election() -> Election {
    let keys = format!(
        "\n[[keys]]\nid = \"box-1001\"\nrole = \"machine\"\npublic_key = \"{PUB_BOX_1001}\"\nstation = \"1001\"\n\
         \n[[keys]]\nid = \"op-d1\"\nrole = \"operator\"\npublic_key = \"{PUB_OP_D1}\"\ndistrict = \"d1\"\n\
         \n[[keys]]\nid = \"op-d2\"\nrole = \"operator\"\npublic_key = \"{PUB_OP_D2}\"\ndistrict = \"d2\"\n\
         \n[[keys]]\nid = \"obs-1\"\nrole = \"observer\"\npublic_key = \"{PUB_OBS_1}\"\n\
         \n[[keys]]\nid = \"cec\"\nrole = \"admin\"\npublic_key = \"{PUB_CEC}\"\n"
    );
    Election::from_toml("election.toml", &format!("{TINY}{keys}")).unwrap()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A consistent protocol of station 1001 for the district race: 730 took part of 1200.
fn machine_protocol() -> Protocol {
    Protocol {
        station: "1001".into(),
        contest: "smd-d1".into(),
        source: Source::Machine,
        lines: counts(&[
            ("registered", 1200),
            ("ballots_received", 1200),
            ("issued_early", 10),
            ("issued_in_room", 700),
            ("issued_outside", 20),
            ("cancelled", 470),
            ("in_portable_boxes", 20),
            ("in_stationary_boxes", 708),
            ("invalid", 8),
            ("valid", 720),
            ("lost", 0),
            ("unaccounted", 0),
        ]),
        votes: counts(&[("d1-a", 300), ("d1-b", 250), ("d1-c", 130), ("against_all", 40)]),
        preferences: BTreeMap::new(),
        supersedes: None,
        scan_sha256: None,
    }
}

/// A consistent hand count of station 1002 for the list race: 600 took part of 900.
fn manual_protocol() -> Protocol {
    Protocol {
        station: "1002".into(),
        contest: "list".into(),
        source: Source::Manual,
        lines: counts(&[
            ("registered", 900),
            ("ballots_received", 900),
            ("issued_early", 0),
            ("issued_in_room", 600),
            ("issued_outside", 0),
            ("cancelled", 300),
            ("in_portable_boxes", 0),
            ("in_stationary_boxes", 600),
            ("invalid", 10),
            ("valid", 590),
            ("lost", 0),
            ("unaccounted", 0),
        ]),
        votes: counts(&[("sun", 300), ("river", 200), ("mountain", 60), ("against_all", 30)]),
        preferences: BTreeMap::from([
            ("sun".to_string(), counts(&[("sun-1", 150), ("sun-2", 120)])),
            ("river".to_string(), counts(&[("river-2", 80), ("river-5", 20)])),
        ]),
        supersedes: None,
        scan_sha256: None,
    }
}

fn payload(signer: &str, seq: u64, body: Body) -> Payload {
    Payload { v: 1, election: "tiny".into(), signer: signer.into(), seq, time: None, body }
}

// ---------------------------------------------------------------------------------------------
// Pinned bytes

#[test]
fn keys_from_fixed_seeds_match_an_independent_implementation() {
    for (n, expected) in [
        (1, PUB_BOX_1001),
        (2, PUB_OP_D1),
        (3, PUB_CEC),
        (4, PUB_OBS_1),
        (5, PUB_SEED_5),
        (6, PUB_OP_D2),
    ] {
        assert_eq!(keys::encode_public_key(&seed(n).verifying_key()), expected, "seed {n}");
    }
}

/// The four pinned submissions: (name, submission built from typed fields, seed, expected bytes).
fn pinned() -> Vec<(&'static str, Submission, u8, String)> {
    let machine = payload("box-1001", 1, Body::Protocol(machine_protocol()));
    let machine_bytes = concat!(
        r#"{"payload":{"contest":"smd-d1","election":"tiny","lines":{"ballots_received":1200,"#,
        r#""cancelled":470,"in_portable_boxes":20,"in_stationary_boxes":708,"invalid":8,"#,
        r#""issued_early":10,"issued_in_room":700,"issued_outside":20,"lost":0,"registered":1200,"#,
        r#""unaccounted":0,"valid":720},"seq":1,"signer":"box-1001","source":"machine","#,
        r#""station":"1001","type":"protocol","v":1,"votes":{"against_all":40,"d1-a":300,"#,
        r#""d1-b":250,"d1-c":130}},"signature":"T/V8gKQHSS0N6UhhO83PU3yo8yfJ7+jFExk/iOuzTR/nnFEF"#,
        r#"KAyLK10OV25xkNduATsO4D9eEvbhngXEu1uRCQ=="}"#
    );

    let mut correction_protocol = manual_protocol();
    correction_protocol.supersedes =
        Some(Supersedes { index: 12, reason: CorrectionReason::KeyingError });
    correction_protocol.scan_sha256 =
        Some("dce51d6195631e205d8b68f62fb935dead098402386ba3980e4ae500786eb3f2".into());
    let mut correction = payload("op-d1", 7, Body::Protocol(correction_protocol));
    correction.time = Some("2026-03-01T21:04:05+06:00".into());
    let correction_bytes = concat!(
        r#"{"payload":{"contest":"list","election":"tiny","lines":{"ballots_received":900,"#,
        r#""cancelled":300,"in_portable_boxes":0,"in_stationary_boxes":600,"invalid":10,"#,
        r#""issued_early":0,"issued_in_room":600,"issued_outside":0,"lost":0,"registered":900,"#,
        r#""unaccounted":0,"valid":590},"preferences":{"river":{"river-2":80,"river-5":20},"#,
        r#""sun":{"sun-1":150,"sun-2":120}},"#,
        r#""scan_sha256":"dce51d6195631e205d8b68f62fb935dead098402386ba3980e4ae500786eb3f2","#,
        r#""seq":7,"signer":"op-d1","source":"manual","station":"1002","#,
        r#""supersedes":{"index":12,"reason":"keying_error"},"time":"2026-03-01T21:04:05+06:00","#,
        r#""type":"protocol","v":1,"votes":{"against_all":30,"mountain":60,"river":200,"sun":300}},"#,
        r#""signature":"fsWOqh2wGTY3IMEU3gbCMIUb6yjrdD2WeMDEAN/ILajCw0/fjVW81rNRRVbbhNx3URneq1"#,
        r#"95eYGENLCkAF7kAA=="}"#
    );

    let annulment = payload(
        "cec",
        1,
        Body::Annulment(Annulment {
            station: "9002".into(),
            contest: None,
            reason: "Решение ЦИК № 12 от 2 марта: \"акт\"\nприложен".into(),
        }),
    );
    // Non-ASCII stays raw UTF-8; the quote and the newline are escaped (RFC 8785 §3.2.2.2).
    let annulment_bytes = concat!(
        r#"{"payload":{"election":"tiny","reason":"Решение ЦИК № 12 от 2 марта: \"акт\"\nприложен","#,
        r#""seq":1,"signer":"cec","station":"9002","type":"annulment","v":1},"#,
        r#""signature":"RaGdKNOoEZmgLcEDY/0i4VYurE8yq27DQByX8+caf7838sKwdgCOro6zPanx6f5o1JC7C/mMbG"#,
        r#"m8m6boZaxOBw=="}"#
    );

    let registration = payload(
        "cec",
        2,
        Body::KeyRegistration(KeyRegistration {
            key: KeyRecord {
                id: "op-d1-spare".into(),
                role: Role::Operator,
                public_key: PUB_SEED_5.into(),
                station: None,
                district: Some("d1".into()),
            },
        }),
    );
    let registration_bytes = concat!(
        r#"{"payload":{"election":"tiny","key":{"district":"d1","id":"op-d1-spare","#,
        r#""public_key":"bnoc3Smwt4/ROvTFWY/v9O8qlxZuPKby5Pv8zYBQW/E=","role":"operator"},"#,
        r#""seq":2,"signer":"cec","type":"key_registration","v":1},"#,
        r#""signature":"fbmiB2sFJHzM1O1KeSn/0hG7zlSYurX94HrcYeszJ59LFuz2/vzfuG5yYgbhCwS8MnngsoKYz"#,
        r#"Yr1hsDbS3UsAg=="}"#
    );

    vec![
        ("machine protocol", machine.sign(&seed(1)), 1, machine_bytes.to_string()),
        ("correction", correction.sign(&seed(2)), 2, correction_bytes.to_string()),
        ("annulment", annulment.sign(&seed(3)), 3, annulment_bytes.to_string()),
        ("key registration", registration.sign(&seed(3)), 3, registration_bytes.to_string()),
    ]
}

#[test]
fn submissions_have_exactly_the_pinned_bytes() {
    for (name, submission, _, expected) in pinned() {
        assert_eq!(String::from_utf8(submission.to_bytes()).unwrap(), expected, "{name}");
    }
}

#[test]
fn pinned_bytes_decode_to_the_same_submission_and_re_encode_identically() {
    for (name, submission, _, expected) in pinned() {
        let decoded = Submission::decode(expected.as_bytes()).unwrap();
        assert_eq!(decoded, submission, "{name}");
        assert_eq!(decoded.to_bytes(), expected.as_bytes(), "{name}");
        assert_eq!(decode_submission(expected.as_bytes()).unwrap(), submission, "{name}");
    }
}

#[test]
fn the_signature_covers_the_context_and_the_payload() {
    for (name, submission, n, _) in pinned() {
        let key = seed(n).verifying_key();
        assert!(submission.verify(&key), "{name}");
        // Another key.
        assert!(!submission.verify(&seed(n + 10).verifying_key()), "{name}");
        // Any change to the payload.
        let mut changed = submission.clone();
        changed.payload.seq += 1;
        assert!(!changed.verify(&key), "{name}");
        // The same payload signed without the domain-separation context.
        let bare = keys::sign(&seed(n), &submission.payload.canonical_bytes());
        let mut no_context = submission.clone();
        no_context.signature = base64_encode(&bare);
        assert!(!no_context.verify(&key), "{name}");
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Strict decoding

/// The pinned machine protocol with one text replacement, which must apply exactly once.
fn machine_bytes_with(from: &str, to: &str) -> Vec<u8> {
    let (_, _, _, text) = pinned().remove(0);
    assert_eq!(text.matches(from).count(), 1, "{from:?}");
    text.replacen(from, to, 1).into_bytes()
}

/// Bad bytes and the code each must get.
fn decode_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let (_, _, _, good) = pinned().remove(0);
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_str::<serde_json::Value>(&good).unwrap())
            .unwrap();
    let mut too_large = good.clone().into_bytes();
    too_large.resize(65_536, b' ');
    vec![
        ("too large", too_large, "E001"),
        ("trailing garbage", format!("{good}x").into_bytes(), "E002"),
        ("two documents", format!("{good}{good}").into_bytes(), "E002"),
        ("truncated", good.as_bytes()[..good.len() - 1].to_vec(), "E002"),
        ("not JSON at all", b"station=1001".to_vec(), "E002"),
        ("leading zero", machine_bytes_with(r#""lost":0"#, r#""lost":00"#), "E002"),
        ("unknown field", machine_bytes_with(r#""seq":1,"#, r#""seq":1,"shift":2,"#), "E003"),
        ("missing field", machine_bytes_with(r#""seq":1,"#, ""), "E003"),
        ("wrong type", machine_bytes_with(r#""seq":1"#, r#""seq":"1""#), "E003"),
        ("unknown source", machine_bytes_with(r#""machine""#, r#""scanner""#), "E003"),
        (
            "unknown type",
            machine_bytes_with(r#""type":"protocol""#, r#""type":"protokol""#),
            "E003",
        ),
        ("whitespace", pretty, "E004"),
        ("a trailing newline", format!("{good}\n").into_bytes(), "E004"),
        (
            "unsorted keys",
            machine_bytes_with(r#""seq":1,"signer":"box-1001""#, r#""signer":"box-1001","seq":1"#),
            "E004",
        ),
        ("duplicate key", machine_bytes_with(r#""lost":0,"#, r#""lost":0,"lost":0,"#), "E004"),
        (
            "escaped where raw is canonical",
            machine_bytes_with(r#""1001""#, r#""\u0031001""#),
            "E004",
        ),
        ("minus zero", machine_bytes_with(r#""lost":0"#, r#""lost":-0"#), "E008"),
        ("unsupported version", machine_bytes_with(r#""v":1"#, r#""v":2"#), "E005"),
        (
            "signature not base64",
            machine_bytes_with(r#""signature":"T/V8"#, r#""signature":"*/V8"#),
            "E006",
        ),
        ("signature too short", machine_bytes_with(r#"CQ=="}"#, r#""}"#), "E006"),
        ("negative count", machine_bytes_with(r#""lost":0"#, r#""lost":-1"#), "E007"),
        ("a float", machine_bytes_with(r#""invalid":8"#, r#""invalid":8.0"#), "E008"),
        ("an exponent", machine_bytes_with(r#""invalid":8"#, r#""invalid":8e0"#), "E008"),
        ("above 2^53-1", machine_bytes_with(r#""lost":0"#, r#""lost":9007199254740992"#), "E009"),
        ("above 2^64", machine_bytes_with(r#""lost":0"#, r#""lost":18446744073709551616"#), "E009"),
    ]
}

#[test]
fn bad_bytes_are_refused_with_their_own_code() {
    for (name, bytes, code) in decode_cases() {
        let finding = decode_submission(&bytes).expect_err(name);
        assert_eq!(finding.code, code, "{name}: {finding}");
        assert_eq!(finding.severity, Severity::Error);
    }
}

#[test]
fn a_negative_count_names_its_line() {
    let finding =
        decode_submission(&machine_bytes_with(r#""lost":0"#, r#""lost":-1"#)).unwrap_err();
    assert_eq!(finding.line.as_deref(), Some("lost"));
    assert_eq!(finding.message("en"), "payload.lines.lost is -1: a count cannot be negative");
    assert_eq!(
        finding.message("ru"),
        "payload.lines.lost равно -1: число не может быть отрицательным"
    );
}

// ---------------------------------------------------------------------------------------------
// Protocol validation

struct Case {
    name: &'static str,
    findings: Vec<Finding>,
    expected: Vec<&'static str>,
}

fn case(name: &'static str, findings: Vec<Finding>, expected: &[&'static str]) -> Case {
    Case { name, findings, expected: expected.to_vec() }
}

fn check(e: &Election, p: &Protocol) -> Vec<Finding> {
    validate_protocol(e, p, &ProtocolContext::default())
}

/// `manual_protocol()` changed by `edit`, validated without context.
fn manual_with(e: &Election, edit: impl FnOnce(&mut Protocol)) -> Vec<Finding> {
    let mut p = manual_protocol();
    edit(&mut p);
    check(e, &p)
}

fn set(map: &mut BTreeMap<String, u64>, pairs: &[(&str, u64)]) {
    for (k, v) in pairs {
        map.insert(k.to_string(), *v);
    }
}

fn protocol_cases(e: &Election) -> Vec<Case> {
    let machine_1002 = {
        let mut p = manual_protocol();
        p.source = Source::Machine;
        set(&mut p.votes, &[("sun", 299), ("river", 201)]);
        p
    };
    let corrected = |reason, source, old: Protocol| {
        let mut p = manual_protocol();
        p.source = source;
        p.supersedes = Some(Supersedes { index: 12, reason });
        (p, old)
    };
    let with_context = |(p, old): (Protocol, Protocol)| {
        validate_protocol(e, &p, &ProtocolContext { superseded: Some(&old), ..Default::default() })
    };
    let higher_old = {
        let mut old = manual_protocol();
        set(&mut old.votes, &[("sun", 310), ("river", 190)]);
        old
    };
    vec![
        case("consistent manual protocol", check(e, &manual_protocol()), &[]),
        case("consistent machine protocol", check(e, &machine_protocol()), &[]),
        case("unknown station", manual_with(e, |p| p.station = "1009".into()), &["E201"]),
        case("unknown contest", manual_with(e, |p| p.contest = "senate".into()), &["E202"]),
        case(
            "abroad station in a district race",
            {
                let mut p = machine_protocol();
                p.station = "9001".into();
                set(&mut p.lines, &[("registered", 2500)]);
                check(e, &p)
            },
            &["E203"],
        ),
        case(
            "missing line",
            manual_with(e, |p| {
                p.lines.remove("lost");
            }),
            &["E301"],
        ),
        case("unknown line", manual_with(e, |p| set(&mut p.lines, &[("spoiled", 0)])), &["E302"]),
        case(
            "missing option",
            manual_with(e, |p| {
                p.votes.remove("mountain");
            }),
            &["E303"],
        ),
        case("unknown option", manual_with(e, |p| set(&mut p.votes, &[("lake", 0)])), &["E304"]),
        case(
            "preferences of an unknown party",
            manual_with(e, |p| drop(p.preferences.insert("lake".into(), counts(&[("x", 1)])))),
            &["E305"],
        ),
        case(
            "preferences in a single-member race",
            {
                let mut p = machine_protocol();
                p.preferences.insert("d1-a".into(), counts(&[("d1-a", 1)]));
                check(e, &p)
            },
            &["E305"],
        ),
        case(
            "preference for a candidate of another list",
            manual_with(e, |p| set(p.preferences.get_mut("sun").unwrap(), &[("river-1", 1)])),
            &["E306"],
        ),
        case(
            "preferences above the list's votes",
            manual_with(e, |p| set(p.preferences.get_mut("sun").unwrap(), &[("sun-1", 250)])),
            &["E307"],
        ),
        case(
            "a count above 2^53-1 breaks its relation too",
            manual_with(e, |p| set(&mut p.lines, &[("lost", 1 << 53)])),
            &["E009", "E401"],
        ),
        case(
            "relation 1 broken: ballots received",
            manual_with(e, |p| set(&mut p.lines, &[("cancelled", 299)])),
            &["E401"],
        ),
        case(
            "relation 2 broken: ballots in boxes",
            manual_with(e, |p| set(&mut p.lines, &[("invalid", 11)])),
            &["E401"],
        ),
        case(
            "relation 3 broken: more in boxes than issued",
            manual_with(e, |p| set(&mut p.lines, &[("in_stationary_boxes", 601), ("invalid", 11)])),
            &["E401"],
        ),
        case(
            "relation 4 broken: valid against the votes",
            manual_with(e, |p| set(&mut p.votes, &[("sun", 301)])),
            &["E401"],
        ),
        case(
            "ballots issued above the register plus the margin",
            manual_with(e, |p| {
                set(
                    &mut p.lines,
                    &[
                        ("issued_in_room", 911),
                        ("ballots_received", 1211),
                        ("in_stationary_boxes", 911),
                        ("valid", 901),
                    ],
                );
                set(&mut p.votes, &[("sun", 611)]);
            }),
            &["E402", "W101"],
        ),
        case(
            "registered line off the register by more than the margin",
            manual_with(e, |p| set(&mut p.lines, &[("registered", 911)])),
            &["E403"],
        ),
        case(
            "registered line off the register within the margin",
            manual_with(e, |p| set(&mut p.lines, &[("registered", 910)])),
            &[],
        ),
        case(
            "scan hash in upper case",
            manual_with(e, |p| {
                p.scan_sha256 =
                    Some("DCE51D6195631E205D8B68F62FB935DEAD098402386BA3980E4AE500786EB3F2".into())
            }),
            &["E501"],
        ),
        case(
            "scan hash too short",
            manual_with(e, |p| p.scan_sha256 = Some("dce51d".into())),
            &["E501"],
        ),
        case(
            "correction naming no protocol of the log",
            manual_with(e, |p| {
                p.supersedes = Some(Supersedes { index: 99, reason: CorrectionReason::KeyingError })
            }),
            &["E502"],
        ),
        case(
            "correction of another station's protocol",
            with_context(corrected(CorrectionReason::KeyingError, Source::Manual, {
                let mut old = manual_protocol();
                old.station = "1001".into();
                old
            })),
            &["E503"],
        ),
        case(
            "hand count replacing a machine count",
            with_context(corrected(CorrectionReason::KeyingError, Source::Manual, {
                let mut old = manual_protocol();
                old.source = Source::Machine;
                old
            })),
            &["E504"],
        ),
        case(
            "recount reason on a hand count",
            with_context(corrected(CorrectionReason::Recount, Source::Manual, manual_protocol())),
            &["E505"],
        ),
        case(
            "recount replacing a hand count",
            with_context(corrected(CorrectionReason::Recount, Source::Recount, manual_protocol())),
            &[],
        ),
        case(
            "turnout above 95%",
            manual_with(e, |p| {
                set(
                    &mut p.lines,
                    &[
                        ("issued_in_room", 860),
                        ("cancelled", 40),
                        ("in_stationary_boxes", 860),
                        ("valid", 850),
                    ],
                );
                set(&mut p.votes, &[("sun", 560)]);
            }),
            &["W101"],
        ),
        case(
            "against all leading",
            manual_with(e, |p| {
                p.preferences.clear();
                set(
                    &mut p.votes,
                    &[("against_all", 301), ("sun", 100), ("river", 99), ("mountain", 90)],
                );
            }),
            &["W102"],
        ),
        case(
            "correction lowering a party's votes",
            with_context(corrected(CorrectionReason::KeyingError, Source::Manual, higher_old)),
            &["W103"],
        ),
        case(
            "hand count differing from the machine count",
            validate_protocol(
                e,
                &manual_protocol(),
                &ProtocolContext { other_source: Some(&machine_1002), ..Default::default() },
            ),
            &["W104", "W104"],
        ),
    ]
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

#[test]
fn protocol_catalogue() {
    let e = election();
    for case in protocol_cases(&e) {
        assert_eq!(codes(&case.findings), case.expected, "{}: {:?}", case.name, case.findings);
    }
}

#[test]
fn a_failed_relation_shows_the_relation_and_both_sides() {
    let e = election();
    let findings = manual_with(&e, |p| set(&mut p.lines, &[("cancelled", 299)]));
    assert_eq!(findings[0].line.as_deref(), Some("ballots_received"));
    assert_eq!(
        findings[0].message("en"),
        "the control relation ballots_received = issued_early + issued_in_room + issued_outside \
         + cancelled + lost - unaccounted does not hold: the left side is 900, the right side 899"
    );
    assert_eq!(
        findings[0].message("ru"),
        "контрольное соотношение ballots_received = issued_early + issued_in_room + \
         issued_outside + cancelled + lost - unaccounted не выполняется: левая часть 900, правая 899"
    );
}

#[test]
fn machine_manual_difference_names_the_line_and_both_counts() {
    let e = election();
    let mut machine = manual_protocol();
    machine.source = Source::Machine;
    set(&mut machine.votes, &[("sun", 299), ("river", 201)]);
    let findings = validate_protocol(
        &e,
        &manual_protocol(),
        &ProtocolContext { other_source: Some(&machine), ..Default::default() },
    );
    let river = &findings[0];
    assert_eq!(river.line.as_deref(), Some("river"));
    assert_eq!(
        river.message("en"),
        "river: the hand count says 200, the machine count 201; the difference 1 is above the \
         tolerance 0"
    );
    assert_eq!(
        river.message("ru"),
        "river: по подсчёту «ручной» 200, по подсчёту «машинный» 201; разница 1 больше \
         допустимой 0"
    );
}

#[test]
fn turnout_warning_shows_percentages() {
    let e = election();
    let findings = manual_with(&e, |p| {
        set(
            &mut p.lines,
            &[
                ("issued_in_room", 860),
                ("cancelled", 40),
                ("in_stationary_boxes", 860),
                ("valid", 850),
            ],
        );
        set(&mut p.votes, &[("sun", 560)]);
    });
    assert_eq!(findings[0].message("en"), "turnout is 95.55%, above 95.00%: check the count");
    assert_eq!(findings[0].message("ky"), "катышуу 95.55% — 95.00% дан жогору: эсепти текшериңиз");
}

fn submission_cases(e: &Election) -> Vec<Case> {
    let validate =
        |body: Body| validate_submission(e, &payload("cec", 1, body), &ProtocolContext::default());
    let other_election = {
        let mut p = payload("op-d1", 1, Body::Protocol(manual_protocol()));
        p.election = "other".into();
        validate_submission(e, &p, &ProtocolContext::default())
    };
    let key = |role, station: Option<&str>, district: Option<&str>, public_key: &str| {
        Body::KeyRegistration(KeyRegistration {
            key: KeyRecord {
                id: "new-key".into(),
                role,
                public_key: public_key.into(),
                station: station.map(Into::into),
                district: district.map(Into::into),
            },
        })
    };
    let annul = |station: &str, contest: Option<&str>, reason: &str| {
        Body::Annulment(Annulment {
            station: station.into(),
            contest: contest.map(Into::into),
            reason: reason.into(),
        })
    };
    let revoke = |reason: &str| {
        Body::KeyRevocation(KeyRevocation { key_id: "op-d1".into(), reason: reason.into() })
    };
    vec![
        case("protocol of another election", other_election, &["E101"]),
        case("annulment", validate(annul("9002", None, "CEC decision 12")), &[]),
        case(
            "annulment of an unknown station",
            validate(annul("9009", None, "decision")),
            &["E201"],
        ),
        case(
            "annulment of an unknown contest",
            validate(annul("9002", Some("senate"), "decision")),
            &["E202"],
        ),
        case(
            "annulment of a contest the station does not vote in",
            validate(annul("9002", Some("smd-d1"), "decision")),
            &["E203"],
        ),
        case("annulment without a reason", validate(annul("9002", None, "  ")), &["E601"]),
        case("revocation", validate(revoke("lost laptop")), &[]),
        case("revocation without a reason", validate(revoke("")), &["E602"]),
        case(
            "registration of a machine key",
            validate(key(Role::Machine, Some("1002"), None, PUB_SEED_5)),
            &[],
        ),
        case(
            "registration with a bad public key",
            validate(key(Role::Observer, None, None, "AAAA")),
            &["E112"],
        ),
        case(
            "registration of a machine key for a district",
            validate(key(Role::Machine, None, Some("d1"), PUB_SEED_5)),
            &["E113"],
        ),
        case(
            "registration of an operator key for an unknown district",
            validate(key(Role::Operator, None, Some("d9"), PUB_SEED_5)),
            &["E113"],
        ),
        case(
            "the election entry with a broken definition",
            validate(Body::Election(ElectionDefinition { definition_sha256: "not-a-hash".into() })),
            &["E603"],
        ),
        case(
            "a second election entry (entry 0 is written by init, never submitted)",
            validate(Body::Election(ElectionDefinition::of(TINY.as_bytes()))),
            &["E603"],
        ),
    ]
}

#[test]
fn submission_catalogue() {
    let e = election();
    for case in submission_cases(&e) {
        assert_eq!(codes(&case.findings), case.expected, "{}: {:?}", case.name, case.findings);
    }
}

// ---------------------------------------------------------------------------------------------
// Keys, roles and replay

fn signed(n: u8, signer: &str, seq: u64, body: Body) -> Submission {
    payload(signer, seq, body).sign(&seed(n))
}

fn protocol_of(source: Source, station: &str) -> Body {
    let mut p = manual_protocol();
    p.source = source;
    p.station = station.into();
    Body::Protocol(p)
}

fn refusal(registry: &KeyRegistry, submission: &Submission) -> Vec<Finding> {
    registry.check(submission).err().into_iter().collect()
}

fn registry_cases(e: &Election) -> Vec<Case> {
    let fresh = KeyRegistry::from_election(e);
    let mut after = KeyRegistry::from_election(e);
    after.apply(&signed(2, "op-d1", 5, protocol_of(Source::Manual, "1002")));
    after.apply(&signed(
        3,
        "cec",
        1,
        Body::KeyRevocation(KeyRevocation { key_id: "obs-1".into(), reason: "leaked".into() }),
    ));
    let other_election = {
        let mut p = payload("op-d1", 1, protocol_of(Source::Manual, "1002"));
        p.election = "other".into();
        p.sign(&seed(2))
    };
    let tampered = {
        let mut s = signed(2, "op-d1", 1, protocol_of(Source::Manual, "1002"));
        if let Body::Protocol(p) = &mut s.payload.body {
            set(&mut p.votes, &[("sun", 3000)]);
        }
        s
    };
    let register = |id: &str, public_key: &str| {
        Body::KeyRegistration(KeyRegistration {
            key: KeyRecord {
                id: id.into(),
                role: Role::Observer,
                public_key: public_key.into(),
                station: None,
                district: None,
            },
        })
    };
    let revoke = |id: &str| {
        Body::KeyRevocation(KeyRevocation { key_id: id.into(), reason: "retired".into() })
    };
    let annul = Body::Annulment(Annulment {
        station: "9002".into(),
        contest: None,
        reason: "decision".into(),
    });
    vec![
        case(
            "scanner signs its own station",
            refusal(&fresh, &signed(1, "box-1001", 1, protocol_of(Source::Machine, "1001"))),
            &[],
        ),
        case(
            "operator signs a station of its district",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Manual, "1002"))),
            &[],
        ),
        case(
            "observer signs any station",
            refusal(&fresh, &signed(4, "obs-1", 1, protocol_of(Source::Observer, "9001"))),
            &[],
        ),
        case(
            "admin signs a recount",
            refusal(&fresh, &signed(3, "cec", 1, protocol_of(Source::Recount, "1002"))),
            &[],
        ),
        case("admin signs an annulment", refusal(&fresh, &signed(3, "cec", 1, annul.clone())), &[]),
        case("wrong election", refusal(&fresh, &other_election), &["E101"]),
        case(
            "unknown key",
            refusal(&fresh, &signed(9, "ghost", 1, protocol_of(Source::Observer, "1001"))),
            &["E102"],
        ),
        case(
            "revoked key",
            refusal(&after, &signed(4, "obs-1", 1, protocol_of(Source::Observer, "1001"))),
            &["E103"],
        ),
        case(
            "signed by another key than the one named",
            refusal(&fresh, &signed(1, "op-d1", 1, protocol_of(Source::Manual, "1002"))),
            &["E104"],
        ),
        case("changed after signing", refusal(&fresh, &tampered), &["E104"]),
        case(
            "replayed sequence number",
            refusal(&after, &signed(2, "op-d1", 5, protocol_of(Source::Manual, "1002"))),
            &["E105"],
        ),
        case(
            "older sequence number",
            refusal(&after, &signed(2, "op-d1", 4, protocol_of(Source::Manual, "1002"))),
            &["E105"],
        ),
        case(
            "next sequence number",
            refusal(&after, &signed(2, "op-d1", 6, protocol_of(Source::Manual, "1002"))),
            &[],
        ),
        case(
            "scanner signing another station",
            refusal(&fresh, &signed(1, "box-1001", 1, protocol_of(Source::Machine, "1002"))),
            &["E106"],
        ),
        case(
            "operator claiming a machine count",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Machine, "1002"))),
            &["E106"],
        ),
        case(
            "operator outside its district",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Manual, "9001"))),
            &["E107"],
        ),
        case(
            "observer claiming manual",
            refusal(&fresh, &signed(4, "obs-1", 1, protocol_of(Source::Manual, "1002"))),
            &["E107"],
        ),
        case(
            "scanner claiming manual",
            refusal(&fresh, &signed(1, "box-1001", 1, protocol_of(Source::Manual, "1001"))),
            &["E107"],
        ),
        case(
            "operator signing an observer copy",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Observer, "1002"))),
            &["E108"],
        ),
        case(
            "operator signing a recount",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Recount, "1002"))),
            &["E109"],
        ),
        case(
            "operator annulling a station",
            refusal(&fresh, &signed(2, "op-d1", 1, annul)),
            &["E109"],
        ),
        case(
            "observer registering a key",
            refusal(&fresh, &signed(4, "obs-1", 1, register("obs-2", PUB_SEED_5))),
            &["E109"],
        ),
        case(
            "scanner revoking a key",
            refusal(&fresh, &signed(1, "box-1001", 1, revoke("obs-1"))),
            &["E109"],
        ),
        case(
            "registering a key id in use",
            refusal(&fresh, &signed(3, "cec", 1, register("obs-1", PUB_SEED_5))),
            &["E110"],
        ),
        case(
            "revoking an unknown key",
            refusal(&fresh, &signed(3, "cec", 1, revoke("ghost"))),
            &["E111"],
        ),
        case(
            "revoking a revoked key",
            refusal(&after, &signed(3, "cec", 2, revoke("obs-1"))),
            &["E111"],
        ),
        case(
            "registering a bad public key",
            refusal(&fresh, &signed(3, "cec", 1, register("obs-2", "AAAA"))),
            &["E112"],
        ),
        case(
            "registering a public key in use",
            refusal(&fresh, &signed(3, "cec", 1, register("obs-2", PUB_BOX_1001))),
            &["E114"],
        ),
        case(
            "hand count of an unknown station",
            refusal(&fresh, &signed(2, "op-d1", 1, protocol_of(Source::Manual, "1009"))),
            &["E201"],
        ),
    ]
}

#[test]
fn registry_catalogue() {
    let e = election();
    for case in registry_cases(&e) {
        assert_eq!(codes(&case.findings), case.expected, "{}: {:?}", case.name, case.findings);
    }
}

#[test]
fn a_registered_key_signs_and_a_revoked_one_stops() {
    let e = election();
    let mut registry = KeyRegistry::from_election(&e);
    let registration = signed(
        3,
        "cec",
        1,
        Body::KeyRegistration(KeyRegistration {
            key: KeyRecord {
                id: "op-d1-spare".into(),
                role: Role::Operator,
                public_key: PUB_SEED_5.into(),
                station: None,
                district: Some("d1".into()),
            },
        }),
    );
    let by_spare = signed(5, "op-d1-spare", 1, protocol_of(Source::Manual, "1003"));
    assert_eq!(registry.check(&by_spare).unwrap_err().code, "E102");
    registry.check(&registration).unwrap();
    registry.apply(&registration);
    assert_eq!(registry.last_seq("cec"), Some(1));
    registry.check(&by_spare).unwrap();
    registry.apply(&by_spare);

    let revocation = signed(
        3,
        "cec",
        2,
        Body::KeyRevocation(KeyRevocation { key_id: "op-d1-spare".into(), reason: "lost".into() }),
    );
    registry.check(&revocation).unwrap();
    registry.apply(&revocation);
    assert!(registry.is_revoked("op-d1-spare"));
    let later = signed(5, "op-d1-spare", 2, protocol_of(Source::Manual, "1003"));
    assert_eq!(registry.check(&later).unwrap_err().code, "E103");
    // The id stays taken.
    assert_eq!(registry.check(&registration).unwrap_err().code, "E105");
    let again = signed(3, "cec", 3, registration.payload.body.clone());
    assert_eq!(registry.check(&again).unwrap_err().code, "E110");
}

// ---------------------------------------------------------------------------------------------
// Audit steps (E7xx): what needs only the election, then the order folded by the registry

fn audit(step: AuditStep) -> Body {
    Body::Audit(step)
}

fn define(id: &str, risk_limit: &str, contest: &str) -> AuditStep {
    AuditStep::Define(AuditDefinition {
        audit: id.into(),
        contest: contest.into(),
        risk_limit: risk_limit.into(),
        kind: AuditKind::BatchComparison,
        reported: ReportedView::Official,
    })
}

fn audit_manifest(id: &str) -> AuditStep {
    AuditStep::Manifest(AuditManifest {
        audit: id.into(),
        as_of: 10,
        stations: 5,
        ballots: 3000,
        manifest_sha256: "ab".repeat(32),
    })
}

fn audit_seed(id: &str, digits: &str) -> AuditStep {
    AuditStep::Seed(AuditSeed { audit: id.into(), seed: digits.into() })
}

fn audit_draw(round: u64, sample_size: u64, draws: &[&str]) -> AuditStep {
    AuditStep::Draw(AuditDraw {
        audit: "rla".into(),
        round,
        sample_size,
        draws: draws.iter().map(|s| s.to_string()).collect(),
    })
}

fn hand_count(station: &str, votes: &[(&str, u64)]) -> AuditStep {
    AuditStep::HandCount(HandCount {
        audit: "rla".into(),
        station: station.into(),
        votes: counts(votes),
        invalid: 3,
    })
}

fn correction(station: &str, votes: &[(&str, u64)], reason: &str) -> AuditStep {
    AuditStep::HandCountCorrection(HandCountCorrection {
        audit: "rla".into(),
        station: station.into(),
        votes: counts(votes),
        invalid: 4,
        reason: reason.into(),
    })
}

fn risk(round: u64, risks: &[&str]) -> AuditStep {
    AuditStep::Risk(AuditRisk {
        audit: "rla".into(),
        round,
        risks: risks.iter().map(|r| r.to_string()).collect(),
        decision: AuditDecision::Escalate,
    })
}

fn audit_cases(e: &Election) -> Vec<Case> {
    let statically = |step: AuditStep| {
        validate_submission(e, &payload("cec", 1, audit(step)), &ProtocolContext::default())
    };
    let mut registry = KeyRegistry::from_election(e);
    let mut seq = 0;
    let mut apply = |registry: &mut KeyRegistry, step: AuditStep| {
        seq += 1;
        let submission = signed(3, "cec", seq, audit(step));
        registry.check(&submission).unwrap();
        registry.apply(&submission);
    };
    let fresh = registry.clone();
    apply(&mut registry, define("rla", "0.05", "list"));
    let defined = registry.clone();
    apply(&mut registry, audit_manifest("rla"));
    apply(&mut registry, audit_seed("rla", "20211128"));
    let seeded = registry.clone();
    apply(&mut registry, audit_draw(1, 2, &["1001", "1003"]));
    apply(
        &mut registry,
        hand_count("1001", &[("sun", 1), ("river", 2), ("mountain", 3), ("against_all", 0)]),
    );
    let counted = registry.clone();
    let votes = [("sun", 1), ("river", 2), ("mountain", 3), ("against_all", 0)];
    apply(&mut registry, hand_count("1003", &votes));
    let all_counted = registry.clone();
    let next = |step: AuditStep| signed(3, "cec", 100, audit(step));
    vec![
        case(
            "an audit id that is not an id",
            statically(define("RLA 1", "0.05", "list")),
            &["E712"],
        ),
        case("a risk limit of 1", statically(define("rla", "1", "list")), &["E703"]),
        case(
            "a risk limit written as a float",
            statically(define("rla", "5e-2", "list")),
            &["E703"],
        ),
        case(
            "an audit of an unknown contest",
            statically(define("rla", "0.05", "senate")),
            &["E202"],
        ),
        case(
            "a manifest hash that is not hex",
            statically(AuditStep::Manifest(AuditManifest {
                audit: "rla".into(),
                as_of: 1,
                stations: 1,
                ballots: 1,
                manifest_sha256: "xyz".into(),
            })),
            &["E501"],
        ),
        case("a seed with letters", statically(audit_seed("rla", "12ab")), &["E707"]),
        case("a draw of an unknown station", statically(audit_draw(1, 1, &["1009"])), &["E201"]),
        case(
            "an audit step signed by an operator",
            refusal(&fresh, &signed(2, "op-d1", 1, audit(define("rla", "0.05", "list")))),
            &["E109"],
        ),
        case(
            "a manifest of an audit never defined",
            refusal(&fresh, &next(audit_manifest("rla"))),
            &["E701"],
        ),
        case(
            "an audit defined twice",
            refusal(&defined, &next(define("rla", "0.05", "list"))),
            &["E702"],
        ),
        case(
            "the seed before the manifest",
            refusal(&defined, &next(audit_seed("rla", "1"))),
            &["E705"],
        ),
        case("a second manifest", refusal(&seeded, &next(audit_manifest("rla"))), &["E704"]),
        case(
            "a draw before the seed",
            refusal(&defined, &next(audit_draw(1, 1, &["1001"]))),
            &["E706"],
        ),
        case(
            "round 3 after round 1",
            refusal(&counted, &next(audit_draw(3, 3, &["1002"]))),
            &["E708"],
        ),
        case(
            "a sample size that does not add up",
            refusal(&counted, &next(audit_draw(2, 5, &["1002"]))),
            &["E709"],
        ),
        case(
            "a hand count of a station not drawn",
            refusal(&counted, &next(hand_count("1002", &votes))),
            &["E710"],
        ),
        case(
            "a second hand count of a station",
            refusal(&counted, &next(hand_count("1001", &votes))),
            &["E711"],
        ),
        case(
            "a hand count without a party",
            refusal(&counted, &next(hand_count("1003", &votes[1..]))),
            &["E303"],
        ),
        case(
            "a hand count with an unknown option",
            refusal(
                &counted,
                &next(hand_count(
                    "1003",
                    &[("sun", 1), ("river", 2), ("mountain", 3), ("against_all", 0), ("moon", 1)],
                )),
            ),
            &["E304"],
        ),
        case(
            "a correction of a station never counted",
            refusal(&counted, &next(correction("1003", &votes, "second box found"))),
            &["E713"],
        ),
        case(
            "a correction without a reason",
            statically(correction("1001", &votes, "  ")),
            &["E714"],
        ),
        case(
            "a correction without a party",
            refusal(&counted, &next(correction("1001", &votes[1..], "second box found"))),
            &["E303"],
        ),
        case(
            "the risk stated before every sampled station is counted",
            refusal(&counted, &next(risk(1, &["0.5"]))),
            &["E715"],
        ),
        case(
            "the risk stated for a round not drawn",
            refusal(&all_counted, &next(risk(2, &["0.5"]))),
            &["E716"],
        ),
        case("a risk written as a float", statically(risk(1, &["0.05", "5e-2"])), &["E717"]),
        case("a risk above 1", statically(risk(1, &["1.5"])), &["E717"]),
        case(
            "a correction and the risk once all are counted are accepted",
            {
                let mut findings =
                    refusal(&counted, &next(correction("1001", &votes, "second box found")));
                findings
                    .extend(refusal(&all_counted, &next(risk(1, &["0.5", "1", "0.031250000000"]))));
                findings.extend(statically(risk(1, &["0", "1.0", "0.000000000001"])));
                findings
            },
            &[],
        ),
        case(
            "the next round and a sampled station's count are accepted",
            {
                let mut findings = refusal(&counted, &next(audit_draw(2, 3, &["1002"])));
                findings.extend(refusal(&counted, &next(hand_count("1003", &votes))));
                findings
            },
            &[],
        ),
    ]
}

#[test]
fn audit_catalogue() {
    let e = election();
    for case in audit_cases(&e) {
        assert_eq!(codes(&case.findings), case.expected, "{}: {:?}", case.name, case.findings);
    }
}

// ---------------------------------------------------------------------------------------------
// The catalogue as a whole

#[test]
fn every_rule_is_exercised_by_a_case() {
    let e = election();
    let mut seen: BTreeSet<&str> = decode_cases().iter().map(|c| c.2).collect();
    for case in protocol_cases(&e)
        .iter()
        .chain(&submission_cases(&e))
        .chain(&registry_cases(&e))
        .chain(&audit_cases(&e))
    {
        seen.extend(case.expected.iter().copied());
    }
    let all: BTreeSet<&str> = RULES.iter().map(|r| r.code).collect();
    assert_eq!(seen, all);
}

#[test]
fn every_finding_fills_its_message_in_all_three_languages() {
    let e = election();
    let mut findings: Vec<Finding> =
        decode_cases().iter().map(|(_, bytes, _)| decode_submission(bytes).unwrap_err()).collect();
    for case in protocol_cases(&e)
        .into_iter()
        .chain(submission_cases(&e))
        .chain(registry_cases(&e))
        .chain(audit_cases(&e))
    {
        findings.extend(case.findings);
    }
    for finding in &findings {
        for name in placeholders(finding.rule().en) {
            assert!(finding.params.contains_key(name), "{}: no {name}", finding.code);
        }
        for lang in ["en", "ru", "ky"] {
            let message = finding.message(lang);
            assert!(!message.is_empty());
            for name in placeholders(finding.rule().en) {
                assert!(!message.contains(&format!("{{{name}}}")), "{lang}: {message}");
            }
        }
    }
}

/// docs/formats.md carries the rule catalogue between two markers, exactly as [`rules_table`]
/// renders it. `SVERKA_BLESS=1 cargo test -p sverka-model --test submissions` rewrites it.
#[test]
fn the_format_document_lists_every_rule() {
    let path = format!("{}/../../docs/formats.md", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).expect("docs/formats.md");
    let (begin, end) = ("<!-- rules:begin -->\n", "<!-- rules:end -->");
    let start = doc.find(begin).expect("rules:begin marker") + begin.len();
    let stop = doc.find(end).expect("rules:end marker");
    let table = rules_table();
    if std::env::var_os("SVERKA_BLESS").is_some() && doc[start..stop] != table {
        let blessed = format!("{}{table}{}", &doc[..start], &doc[stop..]);
        std::fs::write(&path, blessed).unwrap();
        return;
    }
    assert_eq!(doc[start..stop], table, "run with SVERKA_BLESS=1 to regenerate");
}

fn rules_table() -> String {
    let mut out =
        String::from("| code | kind | English | Русский | Кыргызча |\n|---|---|---|---|---|\n");
    for rule in RULES {
        let kind = match rule.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let cell = |s: &str| s.replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {kind} | {} | {} | {} |\n",
            rule.code,
            cell(rule.en),
            cell(rule.ru),
            cell(rule.ky)
        ));
    }
    out
}
