//! `SignedView`, `sverka verify`'s read of a protocol entry in place, against the typed path it
//! stands in for (`Submission::decode_signed`, then `KeyRegistry::check_candidate`): on signed
//! protocols of every shape (sources, signers, stations, contests, corrections, preference votes,
//! scans, ids whose byte order and UTF-16 order differ, counts at the edge of the safe range
//! and, by edit, past it)
//! and on edits of their bytes (members dropped, doubled, reordered, nulled, emptied, spaced,
//! numbers and strings altered, single bytes changed), whenever the view is given,
//! `decode_signed` accepts the same bytes with the same values and signed message, and the
//! registry gives the view the very verdict (the same `Finding`, or none) it gives the typed
//! candidate, whoever checked the signature; made again from where its parts lie
//! (`SignedView::at`, how `verify`'s main thread gets it from a worker), it is the same view. A
//! protocol in its canonical form of ASCII ids is always given a view (the path `sverka verify`
//! takes for nearly every entry).

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sverka_model::protocol_view::SignedView;
use sverka_model::registry::{Candidate, KeyRegistry};
use sverka_model::submission::{Decoded, KeyRevocation, Supersedes};
use sverka_model::{keys, Body, CorrectionReason, Election, Payload, Protocol, Source, Submission};

const TINY: &str = include_str!("data/tiny.toml");

/// Signers: (id, seed) of the election's keys, and one id it does not have.
const SIGNERS: &[(&str, u8)] =
    &[("box-1001", 1), ("op-d1", 2), ("cec", 3), ("obs-1", 4), ("op-d2", 6), ("ghost", 9)];

fn seed(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// The tiny election with a scanner for station 1001, operators for d1 and d2, an observer and
/// a CEC admin.
fn election() -> Election {
    let public = |n| keys::encode_public_key(&seed(n).verifying_key());
    let keys = format!(
        "\n[[keys]]\nid = \"box-1001\"\nrole = \"machine\"\npublic_key = \"{}\"\nstation = \"1001\"\n\
         \n[[keys]]\nid = \"op-d1\"\nrole = \"operator\"\npublic_key = \"{}\"\ndistrict = \"d1\"\n\
         \n[[keys]]\nid = \"op-d2\"\nrole = \"operator\"\npublic_key = \"{}\"\ndistrict = \"d2\"\n\
         \n[[keys]]\nid = \"obs-1\"\nrole = \"observer\"\npublic_key = \"{}\"\n\
         \n[[keys]]\nid = \"cec\"\nrole = \"admin\"\npublic_key = \"{}\"\n",
        public(1),
        public(2),
        public(6),
        public(4),
        public(3)
    );
    Election::from_toml("election.toml", &format!("{TINY}{keys}")).unwrap()
}

/// The registry after some entries: `op-d1` has signed seq 5, `op-d2` is revoked.
fn registry(election: &Election) -> KeyRegistry {
    let mut registry = KeyRegistry::from_election(election);
    registry.note_seq("op-d1", 5);
    let revocation = Payload {
        v: 1,
        election: "tiny".into(),
        signer: "cec".into(),
        seq: 1,
        time: None,
        body: Body::KeyRevocation(KeyRevocation { key_id: "op-d2".into(), reason: "lost".into() }),
    }
    .sign(&seed(3));
    registry.check(&revocation).expect("a revocation the registry takes");
    registry.apply(&revocation);
    registry
}

/// Ids for counts: ASCII, Cyrillic, and the two whose byte order and UTF-16 order differ.
const IDS: &[&str] = &[
    "registered",
    "valid",
    "invalid",
    "sun",
    "river",
    "against_all",
    "d1-a",
    "a",
    "é",
    "\u{FF00}",
    "\u{10000}",
];

fn counts() -> impl Strategy<Value = BTreeMap<String, u64>> {
    // Signed payloads hold only integers in the safe range (larger ones come from the edits).
    let value = prop_oneof![0u64..2000, Just((1 << 53) - 1)];
    prop::collection::btree_map(prop::sample::select(IDS).prop_map(String::from), value, 0..5)
}

fn protocol() -> impl Strategy<Value = Protocol> {
    let source = prop::sample::select(Source::ALL.to_vec());
    let supersedes = prop::option::of((0u64..10, Just(CorrectionReason::KeyingError)))
        .prop_map(|s| s.map(|(index, reason)| Supersedes { index, reason }));
    (
        prop::sample::select(vec!["1001", "1002", "9001", "nope"]),
        prop::sample::select(vec!["list", "smd-d1", "other"]),
        source,
        counts(),
        counts(),
        prop::collection::btree_map(
            prop::sample::select(vec!["sun".to_string(), "river".to_string()]),
            counts(),
            0..3,
        ),
        supersedes,
        prop::option::of(Just("ab".repeat(32))),
    )
        .prop_map(|(station, contest, source, lines, votes, preferences, supersedes, scan)| {
            Protocol {
                station: station.into(),
                contest: contest.into(),
                source,
                lines,
                votes,
                preferences,
                supersedes,
                scan_sha256: scan,
            }
        })
}

/// A protocol entry: signer, the key it is signed with, seq, election, time.
fn entry() -> impl Strategy<Value = (Submission, bool)> {
    (
        protocol(),
        prop::sample::select(SIGNERS),
        any::<bool>(),
        0u64..8,
        prop::sample::select(vec!["tiny", "other"]),
        prop::option::of(Just("2026-03-01T20:00:00Z".to_string())),
    )
        .prop_map(|(protocol, (signer, own), right_key, seq, election, time)| {
            let key = if right_key { own } else { 5 };
            let payload = Payload {
                v: 1,
                election: election.into(),
                signer: signer.into(),
                seq,
                time,
                body: Body::Protocol(protocol),
            };
            let ascii = payload_is_ascii(&payload);
            (payload.sign(&seed(key)), ascii)
        })
}

/// Whether every id is ASCII (such a protocol's canonical bytes must be given a view).
fn payload_is_ascii(payload: &Payload) -> bool {
    let Body::Protocol(protocol) = &payload.body else { return false };
    let fine = |counts: &BTreeMap<String, u64>| counts.keys().all(|id| id.is_ascii());
    fine(&protocol.lines) && fine(&protocol.votes) && protocol.preferences.values().all(fine)
}

/// Edits of an entry's text: each a (from, to) replaced once, where it occurs.
const EDITS: &[(&str, &str)] = &[
    (r#""contest":"#, r#""contest":"list","contest":"#),
    (r#","election":"tiny""#, ""),
    (r#""election":"tiny","#, ""),
    (r#""seq":"#, r#""seq": "#),
    (r#""seq":"#, r#""seq":0"#),
    (r#""seq":"#, r#""seq":-"#),
    (r#""v":1"#, r#""v":2"#),
    (r#""v":1"#, r#""v":1.0"#),
    (r#""v":1"#, r#""v":01"#),
    (r#""type":"protocol","#, ""),
    (r#","v":1"#, ""),
    (r#""type":"protocol","v":1"#, r#""v":1,"type":"protocol""#),
    (r#""contest":"list","election":"tiny""#, r#""election":"tiny","contest":"list""#),
    (r#""lines":{"#, r#""lines":{"a":1,"#),
    (r#""lines":{"#, r#""lines":{"zz":1,"#),
    (r#""lines":{"#, r#""lines":{"\u0061":1,"#),
    (r#""seq":"#, r#""preferences":{},"seq":"#),
    (r#""seq":"#, r#""scan_sha256":null,"seq":"#),
    (r#""station":"#, r#""supersedes":null,"station":"#),
    (r#""type":"#, r#""time":null,"type":"#),
    (r#""type":"#, r#""time":"2026","type":"#),
    (r#""votes":{"#, r#""votes":{"against_all":9007199254740992,"#),
    (r#""votes":{"#, r#""votes":{"":0,"#),
    (r#""source":"machine""#, r#""source":"manual""#),
    (r#""source":"observer""#, r#""source":"Observer""#),
    (r#""signature":""#, r#""signature":"A"#),
    (r#""signature":""#, r#""signature": ""#),
    (r#"=="}"#, r#"="}"#),
    (r#"=="}"#, r#""}"#),
    (r#"{"payload""#, r#"{"extra":1,"payload""#),
    (r#""}"#, r#"","x":1}"#),
    (r#""reason":"keying_error""#, r#""reason":"recount""#),
    (r#""index":"#, r#""index":1"#),
];

/// An edit of the entry's bytes: one of [`EDITS`], or a byte at some place replaced by another.
fn edited(bytes: &[u8], edit: usize, at: usize, byte: u8) -> Option<Vec<u8>> {
    if edit < EDITS.len() {
        let text = std::str::from_utf8(bytes).ok()?;
        let (from, to) = EDITS[edit];
        return text.contains(from).then(|| text.replacen(from, to, 1).into_bytes());
    }
    let mut bytes = bytes.to_vec();
    let at = at % bytes.len();
    (bytes[at] != byte).then(|| {
        bytes[at] = byte;
        bytes
    })
}

/// The registry's verdict on the typed path (the candidate as a worker would have made it,
/// checked under `key`, or left unchecked) and on the view's, with the same signature verdict.
fn verdicts(
    registry: &KeyRegistry,
    decoded: Decoded,
    view: &SignedView<'_>,
    key_seed: Option<u8>,
) -> (Result<(), String>, Result<(), String>) {
    let key = key_seed.map(|n| seed(n).verifying_key());
    let verdict = key
        .map(|key| (key.to_bytes(), keys::verify(&key, &view.signing_message(), &view.signature)));
    let candidate = Candidate::from_decoded(decoded, key.as_ref());
    let typed = registry.check_candidate(&candidate).map_err(|f| format!("{f:?}"));
    let viewed = registry.check_signed_view(view, verdict).map_err(|f| format!("{f:?}"));
    (typed, viewed)
}

/// Where a view is given, `decode_signed` agrees and so does the registry, under the signer's
/// key, another key, or none.
fn check_agreement(registry: &KeyRegistry, bytes: &[u8]) -> Result<bool, TestCaseError> {
    let Some(view) = SignedView::parse(bytes) else { return Ok(false) };
    let decoded = Submission::decode_signed(bytes);
    prop_assert!(decoded.is_ok(), "a view of bytes decode_signed refuses: {:?}", decoded.err());
    let decoded = decoded.unwrap();
    prop_assert_eq!(view.differs_from(&decoded), None);
    // Made again from where its parts lie (verify's main thread), it is the same view.
    prop_assert_eq!(SignedView::at(bytes, &view.spans(bytes)), Some(view));
    prop_assert_eq!(SignedView::at(&bytes[1..], &view.spans(bytes)), None);
    let own = SIGNERS.iter().find(|(id, _)| *id == view.protocol.signer).map(|(_, n)| *n);
    for key_seed in [own, Some(5), None] {
        let (typed, viewed) = verdicts(registry, decoded.clone(), &view, key_seed);
        prop_assert_eq!(typed, viewed, "key of seed {:?}", key_seed);
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_view_is_given_only_where_decode_signed_and_the_registry_agree(
        (submission, ascii) in entry(),
        edit in 0..EDITS.len() + 8,
        at in any::<usize>(),
        byte in prop::sample::select(b"\"\\ ,:{}01nA\x7f\x01".to_vec()),
    ) {
        let election = election();
        let registry = registry(&election);
        let bytes = submission.to_bytes();
        let viewed = check_agreement(&registry, &bytes)?;
        // Every canonical protocol of ASCII ids and safe counts takes the view's path.
        prop_assert_eq!(viewed || !ascii, true, "no view of {}", String::from_utf8_lossy(&bytes));
        if let Some(bytes) = edited(&bytes, edit, at, byte) {
            check_agreement(&registry, &bytes)?;
        }
    }
}

/// The edits the property test makes, on one entry: which give no view. Pins that the view is
/// as strict as the canonical form on each (a non-canonical entry that got a view would fail
/// the property test above only when `decode_signed` refused it).
#[test]
fn every_departure_from_the_canonical_form_gives_no_view() {
    let protocol = Protocol {
        station: "1001".into(),
        contest: "list".into(),
        source: Source::Machine,
        lines: BTreeMap::from([("registered".into(), 1200), ("valid".into(), 700)]),
        votes: BTreeMap::from([("against_all".into(), 5), ("sun".into(), 695)]),
        preferences: BTreeMap::from([("sun".into(), BTreeMap::from([("sun-1".into(), 3)]))]),
        supersedes: Some(Supersedes { index: 4, reason: CorrectionReason::KeyingError }),
        scan_sha256: Some("ab".repeat(32)),
    };
    let payload = Payload {
        v: 1,
        election: "tiny".into(),
        signer: "box-1001".into(),
        seq: 3,
        time: Some("2026-03-01T20:00:00Z".into()),
        body: Body::Protocol(protocol),
    };
    let submission = payload.sign(&seed(1));
    let bytes = submission.to_bytes();
    let view = SignedView::parse(&bytes).expect("the canonical bytes give a view");
    assert_eq!(view.protocol.scan_sha256, Some("ab".repeat(32).as_str()));
    assert_eq!(view.differs_from(&Submission::decode_signed(&bytes).unwrap()), None);
    let mut refused = 0;
    for (k, (from, to)) in EDITS.iter().enumerate() {
        let Some(edited) = edited(&bytes, k, 0, 0) else { continue };
        let typed = Submission::decode_signed(&edited);
        match SignedView::parse(&edited) {
            Some(view) => {
                let decoded = typed.unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
                assert_eq!(view.differs_from(&decoded), None, "{from} -> {to}");
            }
            None => {
                refused += 1;
                // The plain read takes some of these (it does not ask for the canonical form);
                // decode_signed refuses every one that is not canonical.
                if let Ok(decoded) = typed {
                    assert_eq!(decoded.submission().to_bytes(), edited, "{from} -> {to}");
                }
            }
        }
    }
    assert!(refused >= 20, "{refused} edits refused");
}

/// Ids whose byte order and UTF-16 order differ: the canonical form orders them by UTF-16, the
/// view's readers need byte order, so the view is not given and the typed path decides.
#[test]
fn ids_out_of_utf16_order_are_left_to_the_typed_path() {
    let protocol = Protocol {
        station: "1001".into(),
        contest: "list".into(),
        source: Source::Observer,
        lines: BTreeMap::new(),
        votes: BTreeMap::from([("\u{FF00}".into(), 1), ("\u{10000}".into(), 2)]),
        preferences: BTreeMap::new(),
        supersedes: None,
        scan_sha256: None,
    };
    let payload = Payload {
        v: 1,
        election: "tiny".into(),
        signer: "obs-1".into(),
        seq: 1,
        time: None,
        body: Body::Protocol(protocol),
    };
    let bytes = payload.sign(&seed(4)).to_bytes();
    // Canonical (UTF-16 order: U+10000 first), so decode_signed takes it; the view does not.
    assert!(Submission::decode_signed(&bytes).is_ok());
    assert_eq!(SignedView::parse(&bytes), None);
    // In byte order it is not canonical: decode_signed refuses it, and the view gives none.
    let text = String::from_utf8(bytes).unwrap();
    let swapped =
        text.replacen("\"\u{10000}\":2,\"\u{FF00}\":1", "\"\u{FF00}\":1,\"\u{10000}\":2", 1);
    assert_ne!(swapped, text);
    assert!(Submission::decode_signed(swapped.as_bytes()).is_err());
    assert_eq!(SignedView::parse(swapped.as_bytes()), None);
}
