//! `Payload`'s hand-written decoder against the derived one it replaced: a test-only copy of the
//! old shape (the payload's members and `#[serde(flatten)] body: Body`, which serde decodes by
//! buffering every member first) is the oracle. On valid payloads of every kind, and on edits of
//! them (members dropped, doubled, renamed, retyped, added, reordered), both must give the same
//! payload or both refuse, read from bytes and from a `serde_json::Value`.
//!
//! The one deliberate difference: serde's buffer let a body take two forms no reader writes, a
//! tag (`type`, an audit's `step`) given as the variant's index (`"type":0` for `protocol`) and a
//! unit variant given as a one-member object whose value is `{}` (`"source":{"machine":{}}`).
//! The new decoder refuses both, as every other decoder of sverka does; `Submission::decode`
//! refused them before as well (they are not canonical), so no entry's fate changes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use sverka_model::audit::{
    AuditDecision, AuditDefinition, AuditDraw, AuditKind, AuditManifest, AuditRisk, AuditSeed,
    AuditStep, HandCount, HandCountCorrection, ReportedView,
};
use sverka_model::election::KeyRecord;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{
    Annulment, DecodeError, ElectionDefinition, KeyRegistration, KeyRevocation, Supersedes,
};
use sverka_model::{Body, CorrectionReason, Payload, Protocol, Role, Source, Submission};

/// The payload as it was decoded until the hand-written decoder: derived, with the body flattened.
#[derive(Deserialize)]
struct OldPayload {
    v: u32,
    election: String,
    signer: String,
    seq: u64,
    #[serde(default)]
    time: Option<String>,
    #[serde(flatten)]
    body: Body,
}

impl From<OldPayload> for Payload {
    fn from(old: OldPayload) -> Payload {
        let OldPayload { v, election, signer, seq, time, body } = old;
        Payload { v, election, signer, seq, time, body }
    }
}

fn old_from_text(text: &str) -> Result<Payload, String> {
    serde_json::from_str::<OldPayload>(text).map(Payload::from).map_err(|e| e.to_string())
}

fn new_from_text(text: &str) -> Result<Payload, String> {
    serde_json::from_str::<Payload>(text).map_err(|e| e.to_string())
}

fn old_from_value(value: Value) -> Result<Payload, String> {
    serde_json::from_value::<OldPayload>(value).map(Payload::from).map_err(|e| e.to_string())
}

fn new_from_value(value: Value) -> Result<Payload, String> {
    serde_json::from_value::<Payload>(value).map_err(|e| e.to_string())
}

/// `text` with the forms only the old decoder took rewritten as every writer writes them: a
/// `type` or `step` given as an index becomes the variant's name, and a unit variant given as
/// `{"name":{}}` (in `source`, `kind`, `reported`, `decision`, a supersedes' `reason`, a key's
/// `role`) becomes `"name"`.
fn without_buffering_forms(text: &str) -> Option<String> {
    const KINDS: [&str; 6] =
        ["protocol", "annulment", "key_registration", "key_revocation", "election", "audit"];
    const STEPS: [&str; 7] =
        ["define", "manifest", "seed", "draw", "hand_count", "hand_count_correction", "risk"];
    fn unit_form(value: &mut Value) {
        if let Value::Object(map) = value {
            if map.len() == 1 && map.values().all(|v| v.as_object().is_some_and(|o| o.is_empty())) {
                *value = Value::String(map.keys().next().unwrap().clone());
            }
        }
    }
    // Members as written, duplicates kept: a `serde_json::Map` would merge them.
    let members: Vec<(String, Value)> = members_of(text)?;
    let mut rewritten = Vec::new();
    for (name, mut value) in members {
        let (tags, inner): (&[&str], &str) = match name.as_str() {
            "type" => (&KINDS, ""),
            "step" => (&STEPS, ""),
            "supersedes" => (&[], "reason"),
            "key" => (&[], "role"),
            _ => (&[], ""),
        };
        if let Some(variant) = value.as_u64().and_then(|i| tags.get(i as usize)) {
            value = Value::String((*variant).into());
        }
        if ["source", "kind", "reported", "decision"].contains(&name.as_str()) {
            unit_form(&mut value);
        }
        // A struct may be written as an object or as an array of its fields in order; the
        // variant is the second field of both `Supersedes` and `KeyRecord`.
        match &mut value {
            Value::Object(map) => map.get_mut(inner).into_iter().for_each(unit_form),
            Value::Array(items) if !inner.is_empty() => {
                items.get_mut(1).into_iter().for_each(unit_form)
            }
            _ => {}
        }
        rewritten.push((name, value));
    }
    Some(render(&rewritten))
}

/// The members of a JSON object text in order, duplicates kept.
fn members_of(text: &str) -> Option<Vec<(String, Value)>> {
    struct Members(Vec<(String, Value)>);
    impl<'de> Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Members;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Members, A::Error> {
                    let mut members = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        members.push(entry);
                    }
                    Ok(Members(members))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Members>(text).ok().map(|m| m.0)
}

fn render(members: &[(String, Value)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{}", Value::String(name.clone()), value))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Both decoders on `text`, from bytes and from a value: the same payload, or both refuse (or
/// the old one alone took a form listed in the file's doc, and the new one takes the text with
/// that form written plainly, to the same payload).
fn assert_same(text: &str) {
    let old = old_from_text(text);
    let new = new_from_text(text);
    match (&old, &new) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
        (Err(_), Err(_)) => {}
        (Ok(a), Err(e)) => {
            let plain = without_buffering_forms(text).expect("an object");
            assert_ne!(plain, text, "only the old decoder took {text}; the new said {e}");
            assert_eq!(new_from_text(&plain).as_ref(), Ok(a), "{text} written plainly: {plain}");
        }
        (Err(e), Ok(_)) => panic!("only the new decoder took {text}; the old said {e}"),
    }
    let Ok(value) = serde_json::from_str::<Value>(text) else { return };
    let old = old_from_value(value.clone());
    let new = new_from_value(value);
    match (&old, &new) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text} as a value"),
        (Err(_), Err(_)) => {}
        (Ok(a), Err(e)) => {
            let plain = without_buffering_forms(text).expect("an object");
            assert_ne!(plain, text, "only the old decoder took {text} as a value; new: {e}");
            let plain = serde_json::from_str::<Value>(&plain).unwrap();
            assert_eq!(new_from_value(plain).as_ref(), Ok(a), "{text} as a value, plainly");
        }
        (Err(e), Ok(_)) => panic!("only the new decoder took {text} as a value; the old: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Valid payloads of every kind

/// Short texts, some of them names of members, kinds and variants, so edits collide with them.
fn text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1001",
        "a",
        "",
        "machine",
        "protocol",
        "audit",
        "step",
        "votes",
        "x\"y\\",
        "ж ü 😀",
    ])
    .prop_map(String::from)
}

fn counts() -> impl Strategy<Value = BTreeMap<String, u64>> {
    prop::collection::btree_map(text(), 0u64..1_000_000, 0..4)
}

fn source() -> impl Strategy<Value = Source> {
    prop::sample::select(Source::ALL.to_vec())
}

fn protocol() -> impl Strategy<Value = Body> {
    let reason = prop::sample::select(vec![
        CorrectionReason::KeyingError,
        CorrectionReason::Recount,
        CorrectionReason::CourtOrder,
        CorrectionReason::LateProtocol,
        CorrectionReason::CommissionDecision,
    ]);
    let supersedes = prop::option::of((0u64..1000, reason))
        .prop_map(|s| s.map(|(index, reason)| Supersedes { index, reason }));
    (
        (text(), text(), source(), counts(), counts()),
        (prop::collection::btree_map(text(), counts(), 0..3), supersedes, prop::option::of(text())),
    )
        .prop_map(
            |((station, contest, source, lines, votes), (preferences, supersedes, scan))| {
                Body::Protocol(Protocol {
                    station,
                    contest,
                    source,
                    lines,
                    votes,
                    preferences,
                    supersedes,
                    scan_sha256: scan,
                })
            },
        )
}

fn key_record() -> impl Strategy<Value = KeyRecord> {
    let role =
        prop::sample::select(vec![Role::Machine, Role::Operator, Role::Observer, Role::Admin]);
    (text(), role, text(), prop::option::of(text()), prop::option::of(text())).prop_map(
        |(id, role, public_key, station, district)| KeyRecord {
            id,
            role,
            public_key,
            station,
            district,
        },
    )
}

fn audit_step() -> impl Strategy<Value = AuditStep> {
    let reported = prop::sample::select(vec![ReportedView::Official, ReportedView::Preliminary]);
    let decision = prop::sample::select(vec![
        AuditDecision::Confirmed,
        AuditDecision::Escalate,
        AuditDecision::FullHandCount,
    ]);
    prop_oneof![
        (text(), text(), text(), reported).prop_map(|(audit, contest, risk_limit, reported)| {
            AuditStep::Define(AuditDefinition {
                audit,
                contest,
                risk_limit,
                kind: AuditKind::BatchComparison,
                reported,
            })
        }),
        (text(), 0u64..9, 0u64..9, 0u64..9, text()).prop_map(
            |(audit, as_of, stations, ballots, manifest_sha256)| {
                AuditStep::Manifest(AuditManifest {
                    audit,
                    as_of,
                    stations,
                    ballots,
                    manifest_sha256,
                })
            }
        ),
        (text(), text()).prop_map(|(audit, seed)| AuditStep::Seed(AuditSeed { audit, seed })),
        (text(), 0u64..9, 0u64..9, prop::collection::vec(text(), 0..3)).prop_map(
            |(audit, round, sample_size, draws)| {
                AuditStep::Draw(AuditDraw { audit, round, sample_size, draws })
            }
        ),
        (text(), text(), counts(), 0u64..9).prop_map(|(audit, station, votes, invalid)| {
            AuditStep::HandCount(HandCount { audit, station, votes, invalid })
        }),
        (text(), text(), counts(), 0u64..9, text()).prop_map(
            |(audit, station, votes, invalid, reason)| {
                AuditStep::HandCountCorrection(HandCountCorrection {
                    audit,
                    station,
                    votes,
                    invalid,
                    reason,
                })
            }
        ),
        (text(), 0u64..9, prop::collection::vec(text(), 0..3), decision).prop_map(
            |(audit, round, risks, decision)| {
                AuditStep::Risk(AuditRisk { audit, round, risks, decision })
            }
        ),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        protocol(),
        (text(), prop::option::of(text()), text()).prop_map(|(station, contest, reason)| {
            Body::Annulment(Annulment { station, contest, reason })
        }),
        key_record().prop_map(|key| Body::KeyRegistration(KeyRegistration { key })),
        (text(), text())
            .prop_map(|(key_id, reason)| Body::KeyRevocation(KeyRevocation { key_id, reason })),
        text()
            .prop_map(|definition_sha256| Body::Election(ElectionDefinition { definition_sha256 })),
        audit_step().prop_map(Body::Audit),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    (0u32..3, text(), text(), 0u64..1_000, prop::option::of(text()), body()).prop_map(
        |(v, election, signer, seq, time, body)| Payload { v, election, signer, seq, time, body },
    )
}

// ---------------------------------------------------------------------------------------------
// Edits

/// Names an edit may give a member: every member of every kind, and some nobody has.
const NAMES: &[&str] = &[
    "v",
    "election",
    "signer",
    "seq",
    "time",
    "type",
    "station",
    "contest",
    "source",
    "lines",
    "votes",
    "preferences",
    "supersedes",
    "scan_sha256",
    "reason",
    "key",
    "key_id",
    "definition_sha256",
    "step",
    "audit",
    "risk_limit",
    "kind",
    "reported",
    "as_of",
    "stations",
    "ballots",
    "manifest_sha256",
    "seed",
    "round",
    "sample_size",
    "draws",
    "invalid",
    "risks",
    "decision",
    "shift",
    "Type",
    "",
];

/// Values an edit may put in a member's place: every JSON type, tags as indexes, variants as
/// strings and as one-member objects.
fn values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(1),
        json!(5),
        json!(6),
        json!(-1),
        json!(1.5),
        json!(18446744073709551615u64),
        json!(""),
        json!("1001"),
        json!("protocol"),
        json!("annulment"),
        json!("audit"),
        json!("hand_count"),
        json!("machine"),
        json!("recount"),
        json!("admin"),
        json!("official"),
        json!("batch_comparison"),
        json!("confirmed"),
        json!({"machine": null}),
        json!({"machine": {}}),
        json!({"recount": {}}),
        json!({"confirmed": {}}),
        json!({"machine": 1}),
        json!([]),
        json!(["a", "b"]),
        json!([1, "recount"]),
        json!({}),
        json!({"a": 1}),
        json!({"a": {"b": 2}}),
        json!({"index": 3, "reason": "recount"}),
        json!({"index": 3, "reason": {"recount": {}}}),
        json!({"id": "k", "role": "admin", "public_key": "x"}),
        json!({"id": "k", "role": {"machine": {}}, "public_key": "x", "station": null}),
    ]
}

/// One edit of a payload's members, by index into them (taken modulo their number).
#[derive(Clone, Debug)]
enum Edit {
    Drop(usize),
    Double(usize),
    DoubleWith(usize, usize),
    Rename(usize, usize),
    Retype(usize, usize),
    /// Replaces a value one level down (a member of an object member, an item of an array).
    RetypeInner(usize, usize, usize),
    Add(usize, usize),
    MoveToFront(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let n = values().len();
    prop_oneof![
        any::<usize>().prop_map(Edit::Drop),
        any::<usize>().prop_map(Edit::Double),
        (any::<usize>(), 0..n).prop_map(|(i, v)| Edit::DoubleWith(i, v)),
        (any::<usize>(), 0..NAMES.len()).prop_map(|(i, k)| Edit::Rename(i, k)),
        (any::<usize>(), 0..n).prop_map(|(i, v)| Edit::Retype(i, v)),
        (any::<usize>(), any::<usize>(), 0..n).prop_map(|(i, j, v)| Edit::RetypeInner(i, j, v)),
        (0..NAMES.len(), 0..n).prop_map(|(k, v)| Edit::Add(k, v)),
        any::<usize>().prop_map(Edit::MoveToFront),
    ]
}

fn apply(members: &mut Vec<(String, Value)>, edit: &Edit) {
    let values = values();
    if members.is_empty() {
        return;
    }
    let at = |i: usize| i % members.len();
    match *edit {
        Edit::Drop(i) => {
            members.remove(at(i));
        }
        Edit::Double(i) => {
            let i = at(i);
            members.insert(i + 1, members[i].clone());
        }
        Edit::DoubleWith(i, v) => {
            let i = at(i);
            members.insert(i + 1, (members[i].0.clone(), values[v].clone()));
        }
        Edit::Rename(i, k) => {
            let i = at(i);
            members[i].0 = NAMES[k].into();
        }
        Edit::Retype(i, v) => {
            let i = at(i);
            members[i].1 = values[v].clone();
        }
        Edit::RetypeInner(i, j, v) => {
            let i = at(i);
            match &mut members[i].1 {
                Value::Object(map) if !map.is_empty() => {
                    let key = map.keys().nth(j % map.len()).unwrap().clone();
                    map.insert(key, values[v].clone());
                }
                Value::Array(items) if !items.is_empty() => {
                    let len = items.len();
                    items[j % len] = values[v].clone();
                }
                _ => {}
            }
        }
        Edit::Add(k, v) => {
            let i = members.len() / 2;
            members.insert(i, (NAMES[k].into(), values[v].clone()));
        }
        Edit::MoveToFront(i) => {
            let member = members.remove(at(i));
            members.insert(0, member);
        }
    }
}

/// Every single edit of `members`: each member dropped, doubled (with itself and with every
/// value), renamed to every name, given every value (and so every value one level down), moved to
/// the front; and every name added with every value.
fn single_edits(members: &[(String, Value)]) -> Vec<Vec<(String, Value)>> {
    let n_values = values().len();
    let mut edits = Vec::new();
    for (i, (_, value)) in members.iter().enumerate() {
        edits.extend([Edit::Drop(i), Edit::Double(i), Edit::MoveToFront(i)]);
        edits.extend((0..NAMES.len()).map(|k| Edit::Rename(i, k)));
        for v in 0..n_values {
            edits.extend([Edit::DoubleWith(i, v), Edit::Retype(i, v)]);
            let inner = match value {
                Value::Object(map) => map.len(),
                Value::Array(items) => items.len(),
                _ => 0,
            };
            edits.extend((0..inner).map(|j| Edit::RetypeInner(i, j, v)));
        }
    }
    for k in 0..NAMES.len() {
        edits.extend((0..n_values).map(|v| Edit::Add(k, v)));
    }
    edits
        .iter()
        .map(|edit| {
            let mut edited = members.to_vec();
            apply(&mut edited, edit);
            edited
        })
        .collect()
}

/// The payload's members as the canonical encoding orders them.
fn members(payload: &Payload) -> Vec<(String, Value)> {
    let text = String::from_utf8(payload.canonical_bytes()).unwrap();
    members_of(&text).unwrap()
}

proptest! {
    // About 3,000 edits of each payload (a protocol with a member of the wrong type, dropped
    // here by a mistake made on purpose, was found in every run).
    #![proptest_config(ProptestConfig::with_cases(80))]

    #[test]
    fn every_single_edit_gets_the_same_answer(payload in payload()) {
        for edited in single_edits(&members(&payload)) {
            assert_same(&render(&edited));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn valid_payloads_decode_to_themselves(payload in payload()) {
        let text = String::from_utf8(payload.canonical_bytes()).unwrap();
        prop_assert_eq!(new_from_text(&text), Ok(payload.clone()));
        assert_same(&text);
    }

    #[test]
    fn edited_payloads_get_the_same_answer(
        payload in payload(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut members = members(&payload);
        for edit in &edits {
            apply(&mut members, edit);
        }
        assert_same(&render(&members));
    }
}

/// Every line of a simulated night of the tiny example, as the log holds them, and each with
/// every member dropped, doubled, and moved to the front in turn.
#[test]
fn a_simulated_night_decodes_as_before() {
    let path = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let night = Night::new("tiny/election.toml", &text, Config::default()).unwrap();
    let submissions = night.submissions();
    let lines: Vec<&[u8]> = submissions.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert!(lines.len() > 10, "a night of {} lines", lines.len());
    for line in lines {
        let submission = Submission::decode(line).unwrap();
        let payload = String::from_utf8(submission.payload.canonical_bytes()).unwrap();
        assert_eq!(new_from_text(&payload), Ok(submission.payload.clone()));
        assert_same(&payload);
        let members = members(&submission.payload);
        for i in 0..members.len() {
            for edit in [Edit::Drop(i), Edit::Double(i), Edit::MoveToFront(i)] {
                let mut edited = members.clone();
                apply(&mut edited, &edit);
                assert_same(&render(&edited));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What a refusal says

/// A valid protocol payload's members.
fn protocol_members() -> Vec<(String, Value)> {
    members(&Payload {
        v: 1,
        election: "tiny".into(),
        signer: "box-1001".into(),
        seq: 1,
        time: None,
        body: Body::Protocol(Protocol {
            station: "1001".into(),
            contest: "parliament".into(),
            source: Source::Machine,
            lines: BTreeMap::from([("voters".into(), 10)]),
            votes: BTreeMap::from([("a".into(), 7)]),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        }),
    })
}

/// The new decoder's refusal of `members`, which the old one refused too.
fn refusal(members: &[(String, Value)]) -> String {
    let text = render(members);
    assert!(old_from_text(&text).is_err(), "the old decoder took {text}");
    new_from_text(&text).expect_err(&text)
}

#[test]
fn refusals_name_the_member_and_what_was_expected() {
    let mut extra = protocol_members();
    extra.push(("shift".into(), json!(2)));
    let message = refusal(&extra);
    assert!(message.contains("unknown field `shift`, expected one of `station`"), "{message}");

    let mut missing = protocol_members();
    missing.retain(|(name, _)| name != "lines");
    let message = refusal(&missing);
    assert!(message.contains("missing field `lines`"), "{message}");

    let mut missing_type = protocol_members();
    missing_type.retain(|(name, _)| name != "type");
    let message = refusal(&missing_type);
    assert!(message.contains("missing field `type`"), "{message}");

    let mut missing_seq = protocol_members();
    missing_seq.retain(|(name, _)| name != "seq");
    let message = refusal(&missing_seq);
    assert!(message.contains("missing field `seq`"), "{message}");

    let mut doubled = protocol_members();
    doubled.push(("votes".into(), json!({"b": 1})));
    let message = refusal(&doubled);
    assert!(message.contains("duplicate field `votes`"), "{message}");

    let mut unknown_kind = protocol_members();
    unknown_kind.iter_mut().find(|(name, _)| name == "type").unwrap().1 = json!("protokol");
    let message = refusal(&unknown_kind);
    assert!(
        message.contains("unknown variant `protokol`, expected one of `protocol`"),
        "{message}"
    );

    let mut wrong_type = protocol_members();
    wrong_type.iter_mut().find(|(name, _)| name == "seq").unwrap().1 = json!("1");
    let message = refusal(&wrong_type);
    assert!(message.contains("invalid type: string \"1\", expected u64"), "{message}");

    // A member of another kind is unknown to this one, as the derived decoder of the kind said.
    let mut foreign = protocol_members();
    foreign.push(("reason".into(), json!("x")));
    let message = refusal(&foreign);
    assert!(message.contains("unknown field `reason`, expected one of `station`"), "{message}");
}

#[test]
fn an_audit_step_is_refused_by_its_own_decoder() {
    let audit = |extra: Option<(&str, Value)>| {
        let mut members = members(&Payload {
            v: 1,
            election: "tiny".into(),
            signer: "cec".into(),
            seq: 4,
            time: None,
            body: Body::Audit(AuditStep::Seed(AuditSeed { audit: "a1".into(), seed: "7".into() })),
        });
        members.extend(extra.map(|(name, value)| (name.to_string(), value)));
        members
    };
    assert!(new_from_text(&render(&audit(None))).is_ok());
    let message = refusal(&audit(Some(("round", json!(1)))));
    assert!(message.contains("unknown field `round`, expected `audit` or `seed`"), "{message}");
    let message = refusal(&audit(Some(("station", json!("1001")))));
    assert!(message.contains("unknown field `station`"), "{message}");
    let message = refusal(&audit(Some(("seed", json!("8")))));
    assert!(message.contains("duplicate field `seed`"), "{message}");
}

/// The forms only serde's buffer took, refused now, with their plain forms taken.
#[test]
fn index_tags_and_empty_object_variants_are_refused() {
    let plain = protocol_members();
    let text = render(&plain);
    let payload = new_from_text(&text).unwrap();
    let signed = payload.sign(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    for (name, value) in [("type", json!(0)), ("source", json!({"machine": {}}))] {
        let mut edited = plain.clone();
        edited.iter_mut().find(|(n, _)| n == name).unwrap().1 = value;
        let edited = render(&edited);
        assert_eq!(old_from_text(&edited), new_from_text(&text), "{edited}");
        let message = new_from_text(&edited).expect_err(&edited);
        assert!(message.contains("invalid type"), "{message}");
        // In a submission: refused before as not canonical, now as not the schema.
        let submission = format!(r#"{{"payload":{edited},"signature":"{}"}}"#, signed.signature);
        let refusal = Submission::decode(submission.as_bytes());
        assert!(matches!(refusal, Err(DecodeError::Schema(_))), "{refusal:?}");
    }
}
