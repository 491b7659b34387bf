//! The bad-input catalogue (issue 4, "Bad input"): submissions that must be refused, each sent
//! through the real HTTP API on loopback, each answered with its own code and status, and each
//! leaving the log, the published results and the store as they were, apart from exactly one new
//! quarantine record holding the bytes sent (none for the server's own `H…` refusals, which never
//! reach validation).
//!
//! One row per case, one loop; a failing case is named. The election is the tiny example with
//! keys of known seeds registered here; before the cases run, three entries are accepted (a
//! machine protocol of station 1001 at index 1, the revocation of scanner `box-1003`, a machine
//! protocol of station 1002 with `seq` 5), which the correction, revocation and replay cases
//! refer to. After the catalogue, the scanners' next real submissions are still accepted: no
//! refusal moved a sequence number or changed a key. Warnings are the other half: "against all"
//! leading and a correction lowering a total are accepted with `W102` and `W103`.

mod common;

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sverka_model::election::KeyRecord;
use sverka_model::submission::{
    Annulment, ElectionDefinition, KeyRegistration, KeyRevocation, Supersedes,
};
use sverka_model::{Body, CorrectionReason, Payload, Protocol, Role, Source};

const SEED_BOX_1001: u8 = 1;
const SEED_BOX_1002: u8 = 2;
const SEED_BOX_1003: u8 = 3;
const SEED_OP_D1: u8 = 4;
const SEED_OP_D2: u8 = 5;
const SEED_OBSERVER: u8 = 6;
const SEED_ADMIN: u8 = 7;
const SEED_STRANGER: u8 = 8;
const SEED_NEW: u8 = 9;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(seed: u8) -> String {
    sverka_model::keys::encode_public_key(&key(seed).verifying_key())
}

/// The tiny example with one key of every role (and two scanners more) registered.
fn election_toml() -> String {
    let mut text = common::TINY.to_string();
    let keys: [(&str, u8, &str, &str); 7] = [
        ("box-1001", SEED_BOX_1001, "machine", "station = \"1001\""),
        ("box-1002", SEED_BOX_1002, "machine", "station = \"1002\""),
        ("box-1003", SEED_BOX_1003, "machine", "station = \"1003\""),
        ("op-d1", SEED_OP_D1, "operator", "district = \"d1\""),
        ("op-d2", SEED_OP_D2, "operator", "district = \"d2\""),
        ("obs-1", SEED_OBSERVER, "observer", ""),
        ("cec-1", SEED_ADMIN, "admin", ""),
    ];
    for (id, seed, role, binding) in keys {
        let public = public(seed);
        text.push_str(&format!(
            "\n[[keys]]\nid = \"{id}\"\nrole = \"{role}\"\npublic_key = \"{public}\"\n{binding}\n"
        ));
    }
    text
}

fn registered(station: &str) -> u64 {
    match station {
        "1001" => 1200,
        "1002" => 900,
        "1003" => 1500,
        "9001" => 2500,
        _ => 1000,
    }
}

/// A protocol that passes every check: 465 ballots issued and in the boxes, 460 valid.
fn protocol(station: &str, contest: &str, source: Source) -> Protocol {
    let options: [&str; 3] =
        if contest == "list" { ["sun", "river", "mountain"] } else { ["d1-a", "d1-b", "d1-c"] };
    let votes = [(options[0], 300), (options[1], 100), (options[2], 50), ("against_all", 10)];
    let lines = [
        ("registered", registered(station)),
        ("ballots_received", 1000),
        ("issued_early", 5),
        ("issued_in_room", 440),
        ("issued_outside", 20),
        ("cancelled", 535),
        ("in_portable_boxes", 20),
        ("in_stationary_boxes", 445),
        ("invalid", 5),
        ("valid", 460),
        ("lost", 0),
        ("unaccounted", 0),
    ];
    Protocol {
        station: station.into(),
        contest: contest.into(),
        source,
        lines: lines.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        votes: votes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        preferences: BTreeMap::new(),
        supersedes: None,
        scan_sha256: None,
    }
}

fn signed(seed: u8, signer: &str, seq: u64, body: Body) -> Vec<u8> {
    let payload = Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: signer.into(),
        seq,
        time: None,
        body,
    };
    payload.sign(&key(seed)).to_bytes()
}

/// A machine protocol of station 1001 by its scanner, edited before signing.
fn machine_1001(seq: u64, edit: impl FnOnce(&mut Protocol)) -> Vec<u8> {
    let mut p = protocol("1001", "list", Source::Machine);
    edit(&mut p);
    signed(SEED_BOX_1001, "box-1001", seq, Body::Protocol(p))
}

/// The seq every case uses: above everything accepted, so only the case's defect is wrong.
const SEQ: u64 = 100;

fn good() -> String {
    String::from_utf8(machine_1001(SEQ, |_| {})).unwrap()
}

/// `good()` with one piece of text replaced (the signature then no longer matters: every such
/// case is refused before it is checked).
fn edited(from: &str, to: &str) -> Vec<u8> {
    let text = good();
    assert!(text.contains(from), "{from} not in the submission");
    text.replacen(from, to, 1).into_bytes()
}

/// `good()` as a JSON value, edited, written canonically (so the edit is the only defect).
fn with_json(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_str(&good()).unwrap();
    edit(&mut value);
    sverka_model::canonical::value_to_vec(&value).unwrap()
}

fn admin(body: Body) -> Vec<u8> {
    signed(SEED_ADMIN, "cec-1", SEQ, body)
}

fn registration(id: &str, role: Role, station: Option<&str>, public_key: String) -> Body {
    Body::KeyRegistration(KeyRegistration {
        key: KeyRecord {
            id: id.into(),
            role,
            public_key,
            station: station.map(Into::into),
            district: None,
        },
    })
}

fn correction(index: u64, reason: CorrectionReason) -> Option<Supersedes> {
    Some(Supersedes { index, reason })
}

struct Case {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
    code: &'static str,
}

fn case(name: &'static str, body: Vec<u8>, code: &'static str) -> Case {
    Case { name, path: "/api/v1/submissions", body, code }
}

/// The status each code is answered with, as docs/formats.md §3.5 and the OpenAPI document say.
fn status_of(code: &str) -> StatusCode {
    match code {
        "H001" | "H004" => StatusCode::PAYLOAD_TOO_LARGE,
        "H005" => StatusCode::BAD_REQUEST,
        "H009" | "H010" => StatusCode::TOO_MANY_REQUESTS,
        c if c.starts_with("E0") => StatusCode::BAD_REQUEST,
        "E102" | "E103" | "E104" | "E106" | "E107" | "E108" | "E109" => StatusCode::FORBIDDEN,
        "E105" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn cases() -> Vec<Case> {
    let stranger = signed(
        SEED_STRANGER,
        "stranger",
        SEQ,
        Body::Protocol(protocol("1001", "list", Source::Machine)),
    );
    let tampered = good().replacen("\"sun\":300", "\"sun\":301", 1).into_bytes();
    let other_key = signed(
        SEED_BOX_1002,
        "box-1001",
        SEQ,
        Body::Protocol(protocol("1001", "list", Source::Machine)),
    );
    let by = |seed, signer: &str, station: &str, contest: &str, source| {
        signed(seed, signer, SEQ, Body::Protocol(protocol(station, contest, source)))
    };
    let mut oversized = good().into_bytes();
    oversized.resize(65_536, b' ');
    let batch_of_51 = vec![good(); 51].join("\n").into_bytes();
    vec![
        // E0xx: the bytes.
        case("empty body", Vec::new(), "E002"),
        case("not JSON at all", b"protocol 1001: sun 300".to_vec(), "E002"),
        case("malformed JSON", b"{\"payload\": nope".to_vec(), "E002"),
        case("truncated in the middle", good().as_bytes()[..200].to_vec(), "E002"),
        case("trailing garbage", format!("{}x", good()).into_bytes(), "E002"),
        case("two submissions in one body", format!("{0}{0}", good()).into_bytes(), "E002"),
        case("bytes that are not UTF-8", vec![b'{', 0xff, 0xfe, b'}'], "E002"),
        case("a final newline", format!("{}\n", good()).into_bytes(), "E004"),
        case("a leading space", format!(" {}", good()).into_bytes(), "E004"),
        case("a space after a colon", edited("\"seq\":100", "\"seq\": 100"), "E004"),
        case(
            "members out of order",
            {
                let value: Value = serde_json::from_str(&good()).unwrap();
                format!("{{\"signature\":{},\"payload\":{}}}", value["signature"], value["payload"])
                    .into_bytes()
            },
            "E004",
        ),
        case("an escaped character that needs none", edited("\"1001\"", "\"\\u0031001\""), "E004"),
        case("a member twice", edited("\"seq\":100", "\"seq\":100,\"seq\":100"), "E004"),
        case("a JSON array", b"[]".to_vec(), "E003"),
        case("JSON null", b"null".to_vec(), "E003"),
        case(
            "no signature",
            with_json(|v| {
                v.as_object_mut().unwrap().remove("signature");
            }),
            "E003",
        ),
        case(
            "no payload",
            with_json(|v| {
                v.as_object_mut().unwrap().remove("payload");
            }),
            "E003",
        ),
        case(
            "no seq",
            with_json(|v| {
                v["payload"].as_object_mut().unwrap().remove("seq");
            }),
            "E003",
        ),
        case(
            "no lines",
            with_json(|v| {
                v["payload"].as_object_mut().unwrap().remove("lines");
            }),
            "E003",
        ),
        case(
            "no type",
            with_json(|v| {
                v["payload"].as_object_mut().unwrap().remove("type");
            }),
            "E003",
        ),
        case("seq as a string", with_json(|v| v["payload"]["seq"] = json!("100")), "E003"),
        case(
            "a count as a string",
            with_json(|v| v["payload"]["lines"]["valid"] = json!("460")),
            "E003",
        ),
        case(
            "a station id as a number",
            with_json(|v| v["payload"]["station"] = json!(1001)),
            "E003",
        ),
        case("lines as an array", with_json(|v| v["payload"]["lines"] = json!([1, 2])), "E003"),
        case("an unknown envelope member", with_json(|v| v["note"] = json!("hi")), "E003"),
        case("an unknown payload member", with_json(|v| v["payload"]["extra"] = json!(1)), "E003"),
        case("an unknown type", with_json(|v| v["payload"]["type"] = json!("vote")), "E003"),
        case("an unknown source", with_json(|v| v["payload"]["source"] = json!("scanner")), "E003"),
        case(
            "a correction without a typed reason",
            with_json(|v| v["payload"]["supersedes"] = json!({"index": 1, "reason": "oops"})),
            "E003",
        ),
        case(
            "a correction with no reason at all",
            with_json(|v| v["payload"]["supersedes"] = json!({"index": 1})),
            "E003",
        ),
        case("a negative count", edited("\"valid\":460", "\"valid\":-460"), "E007"),
        case("a negative seq", edited("\"seq\":100", "\"seq\":-1"), "E007"),
        case("a fraction", edited("\"valid\":460", "\"valid\":460.5"), "E008"),
        case(
            "a whole number with a decimal point",
            edited("\"valid\":460", "\"valid\":460.0"),
            "E008",
        ),
        case("an exponent", edited("\"valid\":460", "\"valid\":4.6e2"), "E008"),
        case(
            "2^53, one past the largest count",
            edited("\"valid\":460", "\"valid\":9007199254740992"),
            "E009",
        ),
        case("past 2^64", edited("\"valid\":460", "\"valid\":18446744073709551616"), "E009"),
        case("format version 2", edited("\"v\":1", "\"v\":2"), "E005"),
        case(
            "a signature that is not base64",
            with_json(|v| v["signature"] = json!("not base64!")),
            "E006",
        ),
        case(
            "a signature of 63 bytes",
            with_json(|v| v["signature"] = json!("A".repeat(84))),
            "E006",
        ),
        case("a body over the 65,535-byte entry limit", oversized, "E001"),
        // E1xx: the signer.
        case("another election", with_json(|v| v["payload"]["election"] = json!("other")), "E101"),
        case("an unregistered key", stranger, "E102"),
        case(
            "a revoked key",
            by(SEED_BOX_1003, "box-1003", "1003", "list", Source::Machine),
            "E103",
        ),
        case("a count changed after signing", tampered, "E104"),
        case("signed with another key than the one named", other_key, "E104"),
        case(
            "a replayed sequence number",
            signed(
                SEED_BOX_1002,
                "box-1002",
                5,
                Body::Protocol(protocol("1002", "smd-d1", Source::Machine)),
            ),
            "E105",
        ),
        case(
            "an old sequence number",
            signed(
                SEED_BOX_1002,
                "box-1002",
                3,
                Body::Protocol(protocol("1002", "smd-d1", Source::Machine)),
            ),
            "E105",
        ),
        case(
            "a scanner signing for another station",
            by(SEED_BOX_1002, "box-1002", "1001", "list", Source::Machine),
            "E106",
        ),
        case(
            "an operator claiming a machine count",
            by(SEED_OP_D1, "op-d1", "1001", "list", Source::Machine),
            "E106",
        ),
        case(
            "an operator outside its district",
            by(SEED_OP_D2, "op-d2", "1001", "list", Source::Manual),
            "E107",
        ),
        case(
            "a scanner claiming a hand count",
            by(SEED_BOX_1001, "box-1001", "1001", "list", Source::Manual),
            "E107",
        ),
        case(
            "an observer claiming a hand count",
            by(SEED_OBSERVER, "obs-1", "1001", "list", Source::Manual),
            "E107",
        ),
        case(
            "a scanner claiming an observer copy",
            by(SEED_BOX_1001, "box-1001", "1001", "list", Source::Observer),
            "E108",
        ),
        case(
            "an operator entering a recount",
            by(SEED_OP_D1, "op-d1", "1001", "list", Source::Recount),
            "E109",
        ),
        case(
            "an observer annulling a station",
            signed(
                SEED_OBSERVER,
                "obs-1",
                SEQ,
                Body::Annulment(Annulment {
                    station: "1001".into(),
                    contest: None,
                    reason: "fraud".into(),
                }),
            ),
            "E109",
        ),
        case(
            "a scanner registering a key",
            signed(
                SEED_BOX_1001,
                "box-1001",
                SEQ,
                registration("new-box", Role::Machine, Some("1004"), public(SEED_NEW)),
            ),
            "E109",
        ),
        case(
            "a key id registered again",
            admin(registration("box-1001", Role::Machine, Some("1001"), public(SEED_NEW))),
            "E110",
        ),
        case(
            "a key under the log's own name",
            admin(registration("log", Role::Admin, None, public(SEED_NEW))),
            "E110",
        ),
        case(
            "revoking a key that does not exist",
            admin(Body::KeyRevocation(KeyRevocation {
                key_id: "nobody".into(),
                reason: "lost".into(),
            })),
            "E111",
        ),
        case(
            "revoking a key twice",
            admin(Body::KeyRevocation(KeyRevocation {
                key_id: "box-1003".into(),
                reason: "again".into(),
            })),
            "E111",
        ),
        case(
            "a public key that is not one",
            admin(registration("new-box", Role::Machine, Some("1004"), "AAAA".into())),
            "E112",
        ),
        case(
            "a machine key without a station",
            admin(registration("new-box", Role::Machine, None, public(SEED_NEW))),
            "E113",
        ),
        case(
            "an observer key bound to a station",
            admin(registration("new-obs", Role::Observer, Some("1001"), public(SEED_NEW))),
            "E113",
        ),
        case(
            "a public key registered twice",
            admin(registration("new-box", Role::Machine, Some("1004"), public(SEED_BOX_1001))),
            "E114",
        ),
        // E2xx: what it is about.
        case(
            "a scanner naming an unknown station",
            machine_1001(SEQ, |p| p.station = "7777".into()),
            "E106",
        ),
        case(
            "an unknown station (admin recount)",
            admin(Body::Protocol(protocol("7777", "list", Source::Recount))),
            "E201",
        ),
        case("an unknown contest", machine_1001(SEQ, |p| p.contest = "senate".into()), "E202"),
        case(
            "a station outside the contest's district",
            admin(Body::Protocol(protocol("9001", "smd-d1", Source::Recount))),
            "E203",
        ),
        // E3xx: the shape.
        case(
            "a missing line",
            machine_1001(SEQ, |p| {
                p.lines.remove("lost");
            }),
            "E301",
        ),
        case(
            "a line the form does not have",
            machine_1001(SEQ, |p| {
                p.lines.insert("spoiled".into(), 0);
            }),
            "E302",
        ),
        case(
            "a missing vote option",
            machine_1001(SEQ, |p| {
                p.votes.remove("mountain");
            }),
            "E303",
        ),
        case(
            "votes for a party not on the ballot",
            machine_1001(SEQ, |p| {
                p.votes.insert("moon".into(), 0);
            }),
            "E304",
        ),
        case(
            "preference votes for a party not on the ballot",
            machine_1001(SEQ, |p| {
                p.preferences.insert("moon".into(), BTreeMap::from([("moon-1".into(), 1)]));
            }),
            "E305",
        ),
        case(
            "preference votes for a candidate not on the list",
            machine_1001(SEQ, |p| {
                p.preferences.insert("sun".into(), BTreeMap::from([("river-1".into(), 1)]));
            }),
            "E306",
        ),
        case(
            "more preference votes than list votes",
            machine_1001(SEQ, |p| {
                p.preferences.insert(
                    "sun".into(),
                    BTreeMap::from([("sun-1".into(), 200), ("sun-2".into(), 101)]),
                );
            }),
            "E307",
        ),
        // E4xx: the arithmetic of the 2021 form, one control relation at a time.
        case(
            "ballots received do not add up",
            machine_1001(SEQ, |p| {
                p.lines.insert("cancelled".into(), 534);
            }),
            "E401",
        ),
        case(
            "ballots in the boxes are not valid plus invalid",
            machine_1001(SEQ, |p| {
                p.lines.insert("invalid".into(), 6);
            }),
            "E401",
        ),
        case(
            "more ballots in the boxes than issued",
            machine_1001(SEQ, |p| {
                p.lines.insert("issued_in_room".into(), 430);
                p.lines.insert("cancelled".into(), 545);
            }),
            "E401",
        ),
        case(
            "valid ballots are not the sum of the votes",
            machine_1001(SEQ, |p| {
                p.votes.insert("sun".into(), 299);
            }),
            "E401",
        ),
        case(
            "more ballots issued than voters registered",
            machine_1001(SEQ, |p| {
                p.lines.insert("ballots_received".into(), 2000);
                p.lines.insert("issued_in_room".into(), 1200);
                p.lines.insert("cancelled".into(), 775);
            }),
            "E402",
        ),
        case(
            "a registered line far from the register",
            machine_1001(SEQ, |p| {
                p.lines.insert("registered".into(), 1300);
            }),
            "E403",
        ),
        // E5xx: scans and corrections.
        case(
            "a scan hash that is not SHA-256",
            machine_1001(SEQ, |p| p.scan_sha256 = Some("abc".into())),
            "E501",
        ),
        case(
            "a correction naming a missing entry",
            machine_1001(SEQ, |p| p.supersedes = correction(999, CorrectionReason::KeyingError)),
            "E502",
        ),
        case(
            "a correction naming the election entry",
            machine_1001(SEQ, |p| p.supersedes = correction(0, CorrectionReason::KeyingError)),
            "E502",
        ),
        case(
            "a correction of another station's protocol",
            signed(
                SEED_BOX_1002,
                "box-1002",
                SEQ,
                Body::Protocol(Protocol {
                    supersedes: correction(1, CorrectionReason::KeyingError),
                    ..protocol("1002", "list", Source::Machine)
                }),
            ),
            "E503",
        ),
        case(
            "a hand count replacing a machine count",
            signed(
                SEED_OP_D1,
                "op-d1",
                SEQ,
                Body::Protocol(Protocol {
                    supersedes: correction(1, CorrectionReason::KeyingError),
                    ..protocol("1001", "list", Source::Manual)
                }),
            ),
            "E504",
        ),
        case(
            "a court order claimed by a scanner",
            machine_1001(SEQ, |p| p.supersedes = correction(1, CorrectionReason::CourtOrder)),
            "E505",
        ),
        // E6xx: annulments, key entries, the election entry.
        case(
            "an annulment without a reason",
            admin(Body::Annulment(Annulment {
                station: "1001".into(),
                contest: None,
                reason: " ".into(),
            })),
            "E601",
        ),
        case(
            "a revocation without a reason",
            admin(Body::KeyRevocation(KeyRevocation {
                key_id: "box-1002".into(),
                reason: "".into(),
            })),
            "E602",
        ),
        case(
            "an election entry with a broken hash",
            admin(Body::Election(ElectionDefinition { definition_sha256: "not-a-hash".into() })),
            "E603",
        ),
        case(
            "a second election entry",
            admin(Body::Election(ElectionDefinition::of(b"id = \"tiny\"\n"))),
            "E603",
        ),
        // The server's own limits: refused before validation, so not quarantined.
        case("a body over the server's limit", vec![b'{'; 70 * 1024], "H001"),
        Case {
            name: "a malformed batch",
            path: "/api/v1/submissions/batch",
            body: b"[1,".to_vec(),
            code: "H005",
        },
        Case {
            name: "a batch over the item limit",
            path: "/api/v1/submissions/batch",
            body: batch_of_51,
            code: "H004",
        },
    ]
}

/// What must not change: log size, the published results, the quarantine.
struct Observed {
    size: u64,
    results: Vec<u8>,
    quarantined: u64,
}

async fn observe(server: &common::TestServer, client: &reqwest::Client) -> Observed {
    let results = client.get(server.url("/api/v1/results")).send().await.unwrap();
    Observed {
        size: server.store.tree_size().unwrap(),
        results: results.bytes().await.unwrap().to_vec(),
        quarantined: server.store.quarantine_count().unwrap(),
    }
}

/// Sends one case; returns what is wrong with the answer, if anything.
async fn run_case(
    server: &common::TestServer,
    client: &reqwest::Client,
    case: &Case,
) -> Result<(), String> {
    let before = observe(server, client).await;
    let response = client.post(server.url(case.path)).body(case.body.clone()).send().await;
    let response = response.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let problem: Value = response.json().await.map_err(|e| format!("not JSON: {e}"))?;
    let code = problem["code"].as_str().unwrap_or("(none)");
    if (status, code) != (status_of(case.code), case.code) {
        return Err(format!(
            "answered {status} {code}, expected {} {}: {problem}",
            status_of(case.code),
            case.code
        ));
    }
    let after = observe(server, client).await;
    if after.size != before.size {
        return Err(format!("the log grew from {} to {}", before.size, after.size));
    }
    if after.results != before.results {
        return Err("the published results changed".into());
    }
    let quarantined = u64::from(case.code.starts_with('E'));
    if after.quarantined != before.quarantined + quarantined {
        return Err(format!(
            "quarantine went from {} to {}, expected {quarantined} new",
            before.quarantined, after.quarantined
        ));
    }
    if quarantined == 1 {
        let filter = sverka_store::QuarantineFilter { code: None, after_id: None, limit: None };
        let records = server.store.quarantine(&filter).unwrap();
        let record = records.last().unwrap();
        if record.bytes != case.body
            || record.problems.first().map(|p| p.code.as_str()) != Some(case.code)
        {
            return Err(format!(
                "the quarantine record does not hold these bytes with {}",
                case.code
            ));
        }
    }
    Ok(())
}

async fn accept(server: &common::TestServer, client: &reqwest::Client, bytes: Vec<u8>) -> Value {
    let response = client.post(server.url("/api/v1/submissions")).body(bytes).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_submission_is_refused_with_its_code_and_leaves_only_a_quarantine_record() {
    let config = sverka_server::Config { max_batch_items: 50, ..common::test_config() };
    let server = common::start(&election_toml(), config).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let first = accept(&server, &client, machine_1001(1, |_| {})).await;
    assert_eq!(first["index"], 1);
    let revocation = KeyRevocation { key_id: "box-1003".into(), reason: "stolen".into() };
    accept(&server, &client, signed(SEED_ADMIN, "cec-1", 1, Body::KeyRevocation(revocation))).await;
    let by_1002 = Body::Protocol(protocol("1002", "list", Source::Machine));
    accept(&server, &client, signed(SEED_BOX_1002, "box-1002", 5, by_1002)).await;
    server.results_at_least(&client, 4).await;

    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run_case(&server, &client, case).await {
            failures.push(format!("{} ({}): {why}", case.name, case.code));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing refused moved a sequence number or a key: the scanners' next ones are accepted.
    let mut leading = protocol("1002", "smd-d1", Source::Machine);
    leading.votes = [("d1-a", 10), ("d1-b", 20), ("d1-c", 30), ("against_all", 400)]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let receipt =
        accept(&server, &client, signed(SEED_BOX_1002, "box-1002", 6, Body::Protocol(leading)))
            .await;
    assert_eq!(receipt["warnings"][0]["code"], "W102", "{receipt}");
    let lowered = machine_1001(2, |p| {
        p.supersedes = correction(1, CorrectionReason::KeyingError);
        p.votes.insert("sun".into(), 290);
        p.votes.insert("against_all".into(), 20);
    });
    let receipt = accept(&server, &client, lowered).await;
    let warnings = receipt["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["code"] == "W103" && w["field"] == "sun"),
        "a correction lowering sun's votes is accepted with W103: {receipt}"
    );
    assert_eq!(server.store.tree_size().unwrap(), 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_refuse_without_quarantining() {
    let slow = |burst| Some(sverka_server::limits::RateLimit::new(0.001, burst).unwrap());
    let config = sverka_server::Config {
        rate_per_key: slow(1),
        rate_per_ip: slow(3),
        ..common::test_config()
    };
    let server = common::start(&election_toml(), config).await;
    let client = reqwest::Client::new();
    accept(&server, &client, machine_1001(1, |_| {})).await;
    // Each case compares the published results before and after its request: an accepted entry
    // must be published first, or its later publication looks like the refused request's doing.
    server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    let cases = [
        case("the key's second submission within its limit", machine_1001(2, |_| {}), "H010"),
        case(
            "another key, still within the address's limit",
            signed(
                SEED_BOX_1002,
                "box-1002",
                1,
                Body::Protocol(protocol("1002", "list", Source::Machine)),
            ),
            "",
        ),
        case("the address's fourth request", machine_1001(3, |_| {}), "H009"),
    ];
    for case in &cases {
        if case.code.is_empty() {
            accept(&server, &client, case.body.clone()).await;
            server.results_at_least(&client, server.store.tree_size().unwrap()).await;
            continue;
        }
        if let Err(why) = run_case(&server, &client, case).await {
            panic!("{}: {why}", case.name);
        }
    }
    server.stop().await;
}
