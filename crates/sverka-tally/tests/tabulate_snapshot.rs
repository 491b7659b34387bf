//! The `sverka-snapshot/v1` format, pinned: a three-entry log of the tiny election whose numbers
//! are worked out by hand below, checked field by field and then byte for byte against
//! `tabulate_fixture/snapshot-v1.json` (regenerate only on a deliberate format change, with
//! `SVERKA_BLESS=1`, and bump the format version).

mod tabulate_fixture;

use serde_json::Value;
use sverka_model::Source::{Machine, Manual};
use sverka_tally::snapshot::{snapshot_json, Checkpoint, FORMAT};
use sverka_tally::tabulate::Tally;
use tabulate_fixture::*;

const GOLDEN: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tabulate_fixture/snapshot-v1.json");

/// 1: 1001 manual — sun 300, river 200, mountain 50, against 30; invalid 20; took part 600.
/// 2: 9001 machine — sun 500, river 100, mountain 10, against 40; invalid 50; took part 700.
/// 3: 1001 manual correcting 1 — river 210 (valid 590).
fn snapshot() -> Vec<u8> {
    let election = tiny();
    let night = [
        list(
            "1001",
            Manual,
            600,
            20,
            &[("sun", 300), ("river", 200), ("mountain", 50), ("against_all", 30)],
        ),
        list(
            "9001",
            Machine,
            700,
            50,
            &[("sun", 500), ("river", 100), ("mountain", 10), ("against_all", 40)],
        ),
        list(
            "1001",
            Manual,
            600,
            20,
            &[("sun", 300), ("river", 210), ("mountain", 50), ("against_all", 30)],
        )
        .supersedes(1),
    ];
    let mut tally = Tally::new(&election);
    for (index, submission) in log(&election, &night) {
        tally.apply(index, &submission);
    }
    let checkpoint = Checkpoint { size: 4, root: [0xab; 32] };
    snapshot_json(&tally.results(&election), &checkpoint).unwrap()
}

fn list_view<'a>(snapshot: &'a Value, view: &str) -> &'a Value {
    &snapshot["contests"][0][view]
}

#[test]
fn snapshot_numbers_by_hand() {
    let s: Value = serde_json::from_slice(&snapshot()).unwrap();
    assert_eq!(s["format"], FORMAT);
    assert_eq!(s["checkpoint"]["size"], 4);
    assert_eq!(s["checkpoint"]["root"], "ab".repeat(32));
    assert_eq!(s["entries"]["applied"], 3);

    // Official: 1001's corrected hand count only. Took part 600 of 1200 registered: 5000 bp.
    let official = list_view(&s, "official");
    let nation = &official["levels"][0];
    assert_eq!(nation["level"], "nation");
    assert_eq!(
        nation["votes"],
        serde_json::json!({"sun": 300, "river": 210, "mountain": 50, "against_all": 30})
    );
    assert_eq!(nation["took_part"], 600);
    assert_eq!(nation["valid"], 590);
    assert_eq!(nation["turnout"], serde_json::json!({"num": 600, "den": 1200, "bp": 5000}));
    // 5 % of 600 = 30: all pass. Hare on 560 votes, quota 56: sun 5 r 20, river 3 r 42,
    // mountain 0 r 50; the last two seats to mountain (50) and river (42): 5 / 4 / 1.
    let outcome = &official["outcome"];
    assert_eq!(outcome["status"], "allocated");
    assert_eq!(outcome["quota"], "56");
    let seats: Vec<(String, u64)> = outcome["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["party"].as_str().unwrap().to_string(), p["seats"].as_u64().unwrap()))
        .collect();
    assert_eq!(seats, [("sun".into(), 5), ("river".into(), 4), ("mountain".into(), 1)]);
    // Mountain: 50/600 = 8.333…% → 833 bp.
    assert_eq!(
        outcome["parties"][2]["share"],
        serde_json::json!({"num": 50, "den": 600, "bp": 833})
    );

    // Preliminary adds 9001's machine count: sun 800, river 310, mountain 60; took part 1300.
    // 5 % of 1300 = 65: mountain (60) fails. Quota 1110/10 = 111: sun 7 r 23, river 2 r 88;
    // the last seat to river: 7 / 3 / 0.
    let preliminary = list_view(&s, "preliminary");
    assert_eq!(preliminary["levels"][0]["took_part"], 1300);
    let parties = preliminary["outcome"]["parties"].as_array().unwrap();
    assert_eq!(parties.iter().map(|p| p["seats"].as_u64().unwrap()).collect::<Vec<_>>(), [7, 3, 0]);
    assert_eq!(parties[2]["passes_national"], false);
    assert_eq!(parties[2]["flip_fixed_base"], 5);

    // The correction and the station's history.
    assert_eq!(s["corrections"][0]["kind"], "explicit");
    assert_eq!(s["corrections"][0]["reason"], "keying_error");
    assert_eq!(
        (s["corrections"][0]["replaced"].as_u64(), s["corrections"][0]["by"].as_u64()),
        (Some(1), Some(3))
    );
    let station = &s["contests"][0]["stations"][0];
    assert_eq!(station["id"], "1001");
    assert_eq!(station["history"][0]["entries"], serde_json::json!([1, 3]));
    assert_eq!(station["official"]["index"], 3);

    // No floats anywhere: every number is an integer.
    fn integers_only(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.is_u64() || n.is_i64(),
            Value::Array(a) => a.iter().all(integers_only),
            Value::Object(o) => o.values().all(integers_only),
            _ => true,
        }
    }
    assert!(integers_only(&s));
}

#[test]
fn snapshot_bytes_are_pinned() {
    let bytes = snapshot();
    assert_eq!(bytes, snapshot(), "deterministic");
    if std::env::var("SVERKA_BLESS").as_deref() == Ok("1") {
        std::fs::write(GOLDEN, &bytes).unwrap();
    }
    let golden = std::fs::read(GOLDEN).expect("tests/tabulate_fixture/snapshot-v1.json");
    assert!(
        bytes == golden,
        "the sverka-snapshot/v1 bytes changed; a format change needs a new version\nnow: {}",
        String::from_utf8_lossy(&bytes)
    );
}
