//! `sverka reconcile` as the commission's reconciliation group would run it: on the simulated 2021
//! night it lists exactly the planted discrepancies (and the machines that never reported as one
//! side missing), and on hand-built nights of the tiny election it answers "could it change an
//! outcome" yes where a station's discrepancy exceeds a threshold margin and no where it cannot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sverka_model::keys::decode_private_key;
use sverka_model::{Body, Payload, Protocol, Source};

fn sverka(args: &[&str], cwd: &Path) -> Output {
    let output =
        Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn example(name: &str) -> String {
    format!("{}/../../examples/{name}/election.toml", env!("CARGO_MANIFEST_DIR"))
}

/// `(station, contest, a, b, field, a value, b value)` of every line beyond tolerance.
type Line = (String, String, String, String, String, u64, u64);

fn label(source: &Value) -> String {
    match source["signer"].as_str() {
        Some(signer) => format!("{}:{signer}", source["source"].as_str().unwrap()),
        None => source["source"].as_str().unwrap().to_string(),
    }
}

/// The order the format lists the two sides of a pair in: machine, manual, observer, recount,
/// then by key id.
fn order(label: &str) -> (usize, String) {
    let source = label.split(':').next().unwrap();
    let rank = ["machine", "manual", "observer", "recount"].iter().position(|s| *s == source);
    (rank.unwrap(), label.to_string())
}

#[test]
fn the_2021_night_lists_exactly_the_planted_discrepancies() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let election = example("kyrgyzstan-2021");
    sverka(&["simulate", "--election", &election, "--seed", "1", "--out", "night"], cwd);
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "night/submissions.jsonl"], cwd);

    let json = sverka(&["reconcile", "data"], cwd).stdout;
    let report: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["format"], "sverka-reconciliation/v1");
    assert_eq!(report["tolerance"], 0, "the election's machine_manual_tolerance");

    let mut found: BTreeSet<Line> = BTreeSet::new();
    let mut missing: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sources: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for contest in report["contests"].as_array().unwrap() {
        let id = contest["id"].as_str().unwrap().to_string();
        for station in contest["stations"].as_array().unwrap() {
            let name = station["station"].as_str().unwrap().to_string();
            let key = (name.clone(), id.clone());
            sources.insert(
                key.clone(),
                station["sources"].as_array().unwrap().iter().map(label).collect(),
            );
            for pair in station["pairs"].as_array().unwrap() {
                if pair["class"] == "missing" {
                    missing.insert(key.clone());
                }
                for line in pair["lines"].as_array().unwrap() {
                    assert_eq!(
                        line["class"], "discrepancy",
                        "tolerance 0 leaves nothing in between"
                    );
                    found.insert((
                        name.clone(),
                        id.clone(),
                        pair["a"].as_str().unwrap().into(),
                        pair["b"].as_str().unwrap().into(),
                        line["field"].as_str().unwrap().into(),
                        line["a"].as_u64().unwrap(),
                        line["b"].as_u64().unwrap(),
                    ));
                }
            }
        }
    }

    // What defects.json says was planted: the defective copy differs from the hand count on the
    // listed fields, and so from every other copy at that station (they all carry the truth).
    let defects: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("night/defects.json")).unwrap()).unwrap();
    let mut planted: BTreeSet<Line> = BTreeSet::new();
    let mut never_reported: BTreeSet<(String, String)> = BTreeSet::new();
    let mut n_mismatches = 0;
    for defect in defects["defects"].as_array().unwrap() {
        let key = (
            defect["station"].as_str().unwrap().to_string(),
            defect["contest"].as_str().unwrap().to_string(),
        );
        let (wrong, kind) = match defect["kind"].as_str().unwrap() {
            "machine_never_reported" => {
                never_reported.insert(key);
                continue;
            }
            "machine_manual_mismatch" => ("machine".to_string(), "machine"),
            "observer_mismatch" => {
                (format!("observer:{}", defect["signer"].as_str().unwrap()), "observer")
            }
            _ => continue,
        };
        n_mismatches += 1;
        let present = sources.get(&key).unwrap_or_else(|| panic!("planted {key:?} not listed"));
        assert!(present.contains(&"manual".to_string()) && present.contains(&wrong));
        for other in present.iter().filter(|o| **o != wrong) {
            for difference in defect["details"]["differences"].as_array().unwrap() {
                let field = difference["field"].as_str().unwrap().to_string();
                let (bad, good) =
                    (difference[kind].as_u64().unwrap(), difference["manual"].as_u64().unwrap());
                let (a, b, va, vb) = if order(&wrong) < order(other) {
                    (wrong.clone(), other.clone(), bad, good)
                } else {
                    (other.clone(), wrong.clone(), good, bad)
                };
                planted.insert((key.0.clone(), key.1.clone(), a, b, field, va, vb));
            }
        }
    }
    assert!(n_mismatches >= 40, "the 2021 profile plants dozens of mismatches, got {n_mismatches}");
    assert_eq!(found, planted, "every planted discrepancy, and nothing else");
    assert_eq!(missing, never_reported, "machines that never reported are one side missing");

    // CSV: one row per discrepant line, one per missing pair.
    let csv =
        String::from_utf8(sverka(&["reconcile", "data", "--format", "csv"], cwd).stdout).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "contest,rank,station,district,region,impact_bp,a,a_entry,b,b_entry,class,field,a_value,b_value,difference"
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.iter().filter(|r| r.contains(",discrepancy,")).count(), planted.len());
    assert_eq!(rows.iter().filter(|r| r.contains(",missing,")).count(), never_reported.len());

    // One district: only its stations and its totals.
    let d05 = sverka(&["reconcile", "data", "--district", "d05"], cwd).stdout;
    let d05: Value = serde_json::from_slice(&d05).unwrap();
    assert_eq!(d05["district"], "d05");
    for contest in d05["contests"].as_array().unwrap() {
        assert!(contest["stations"].as_array().unwrap().iter().all(|s| s["district"] == "d05"));
        let totals = contest["totals"].as_array().unwrap();
        assert!(totals.iter().all(|t| t["level"] == "district" && t["id"] == "d05"));
    }
}

/// A tiny night written by hand, signed with the simulated keys: hand counts at 1001, 1002 and
/// 9001 (sun/river/mountain 600/300/40, 500/300/30, 130/70/30: mountain has 100 of 2000 voters who
/// took part, exactly the 5 % threshold) and the machine at 1002 with `machine_1002` votes.
fn tiny_night(machine_1002: (u64, u64, u64)) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    sverka(&["simulate", "--election", &example("tiny"), "--seed", "3", "--out", "night"], cwd);
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    let key = |id: &str| {
        let text = std::fs::read_to_string(cwd.join(format!("night/keys/{id}.key")))
            .or_else(|_| {
                let all = std::fs::read_to_string(cwd.join("night/keys/machines.keys"))?;
                let line = all.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap();
                Ok::<String, std::io::Error>(line.split_whitespace().nth(1).unwrap().to_string())
            })
            .unwrap();
        decode_private_key(text.trim()).unwrap()
    };
    let protocol =
        |station: &str, source, signer: &str, seq, (sun, river, mountain): (u64, u64, u64)| {
            let valid = sun + river + mountain;
            let registered = match station {
                "1001" => 1200,
                "1002" => 900,
                _ => 2500,
            };
            let lines: BTreeMap<String, u64> = [
                ("registered", registered),
                ("ballots_received", valid + 10),
                ("issued_early", 0),
                ("issued_in_room", valid),
                ("issued_outside", 0),
                ("cancelled", 10),
                ("in_portable_boxes", 0),
                ("in_stationary_boxes", valid),
                ("invalid", 0),
                ("valid", valid),
                ("lost", 0),
                ("unaccounted", 0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let votes =
                [("sun", sun), ("river", river), ("mountain", mountain), ("against_all", 0)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
            let payload = Payload {
                v: 1,
                election: "tiny".into(),
                signer: signer.into(),
                seq,
                time: None,
                body: Body::Protocol(Protocol {
                    station: station.into(),
                    contest: "list".into(),
                    source,
                    lines,
                    votes,
                    preferences: BTreeMap::new(),
                    supersedes: None,
                    scan_sha256: None,
                }),
            };
            String::from_utf8(payload.sign(&key(signer)).to_bytes()).unwrap()
        };
    let lines = [
        protocol("1001", Source::Manual, "operator-d1-1", 1, (600, 300, 40)),
        protocol("1002", Source::Manual, "operator-d1-1", 2, (500, 300, 30)),
        protocol("9001", Source::Manual, "operator-d2-1", 1, (130, 70, 30)),
        protocol("1002", Source::Machine, "machine-1002", 1, machine_1002),
    ];
    std::fs::write(cwd.join("mine.jsonl"), lines.join("\n") + "\n").unwrap();
    let import = sverka(&["import", "data", "mine.jsonl"], cwd);
    let report = String::from_utf8_lossy(&import.stdout);
    assert!(!report.contains("E4"), "every hand-built protocol is accepted: {report}");
    let json = sverka(&["reconcile", "data"], cwd).stdout;
    (dir, serde_json::from_slice(&json).unwrap())
}

#[test]
fn a_discrepancy_beyond_the_threshold_margin_could_change_the_outcome() {
    // The machine has one mountain vote as sun: with it mountain has 99 of 2000 < 5 %.
    let (_dir, report) = tiny_night((501, 300, 29));
    assert_eq!(report["answer"], "yes");
    let list = &report["contests"][0];
    assert_eq!(list["id"], "list");
    assert_eq!(list["answer"], "yes");
    assert_eq!(
        list["thresholds"],
        serde_json::json!([{"party": "mountain", "qualified_now": true}])
    );
    assert_eq!(list["recount"], serde_json::json!(["1002"]));
    assert_eq!(list["recount_minimal"], true);
    let top = &list["stations"][0];
    assert_eq!((top["station"].as_str(), top["rank"].as_u64()), (Some("1002"), Some(1)));
    assert_eq!(top["impact_on"], "threshold:mountain");
}

#[test]
fn a_discrepancy_that_cannot_move_a_threshold_or_seat_is_no() {
    // The machine has one sun vote as mountain: the hand count is already mountain's worst case,
    // and one vote moves no Hare seat (quotas 6.15, 3.35, 0.50 for seats 6, 3, 1).
    let (_dir, report) = tiny_night((499, 300, 31));
    let list = &report["contests"][0];
    assert_eq!(list["answer"], "no");
    assert_eq!(list["stations_in_doubt"], 1, "the discrepancy is real and listed");
    assert_eq!(list["stations"][0]["class"], "discrepancy");
    assert_eq!(list["recount"], serde_json::json!([]));
    assert_eq!(report["answer"], "no");
}

#[test]
fn the_format_keeps_its_members() {
    let (_dir, report) = tiny_night((501, 300, 29));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<String>>();
    assert_eq!(
        keys(&report),
        ["answer", "checkpoint", "contests", "district", "election", "format", "tolerance", "view"]
    );
    let list = &report["contests"][0];
    assert_eq!(
        keys(list),
        [
            "answer",
            "id",
            "note",
            "recount",
            "recount_minimal",
            "seats",
            "stations",
            "stations_in_doubt",
            "thresholds",
            "totals",
            "winner"
        ]
    );
    let station = &list["stations"][0];
    assert_eq!(
        keys(station),
        [
            "class",
            "counted",
            "district",
            "impact",
            "impact_bp",
            "impact_on",
            "pairs",
            "rank",
            "region",
            "settled",
            "sources",
            "spread",
            "station"
        ]
    );
    assert_eq!(
        keys(&station["pairs"][0]),
        ["a", "a_entry", "b", "b_entry", "class", "lines", "matched"]
    );
    assert_eq!(keys(&station["pairs"][0]["lines"][0]), ["a", "b", "class", "difference", "field"]);
    assert_eq!(
        keys(&list["totals"][0]),
        [
            "discrepancy",
            "level",
            "lines_discrepant",
            "match",
            "missing",
            "pairs_discrepant",
            "settled",
            "stations",
            "unreported",
            "within_tolerance"
        ]
    );
    // Impact of 1002: slack 20·100 − 2000 = 0, push 20·1: 20 / 1 = 20, i.e. 200000 bp.
    assert_eq!(station["impact"], "20");
    assert_eq!(station["impact_bp"], 200_000);
}

#[test]
fn a_publication_gives_the_same_reconciliation_as_the_data_directory() {
    let (dir, report) = tiny_night((501, 300, 29));
    let cwd = dir.path();
    sverka(&["publish", "data", "--out", "public"], cwd);
    let published = sverka(&["reconcile", "public"], cwd).stdout;
    let published: Value = serde_json::from_slice(&published).unwrap();
    assert_eq!(published, report);
    // A publication whose entries do not match its tiles is refused, not reconciled.
    let checkpoint = std::fs::read_to_string(cwd.join("public/checkpoint")).unwrap();
    std::fs::write(cwd.join("public/checkpoint"), checkpoint.replacen("tiny", "tinx", 1)).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .args(["reconcile", "public"])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(!refused.status.success());
}
