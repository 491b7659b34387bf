//! Issue 7's last "done when": a risk-limiting audit at 5% of the simulated 2021 night, with its
//! planted discrepancies, run as a commission would. The preliminary (machine) results are
//! audited: the manifest is committed once the scanners have reported and before the hand-count
//! protocols arrive; then the seed, the draw, and the hand counts of the sample, recorded in one
//! call from a CSV file (`sverka audit record --batch`). The hand counts are the simulation's
//! truth (its `manual` protocols: `defects.json` says the hand count is right), so a planted
//! machine/manual mismatch at a sampled station shows as a hand count differing from the machine
//! count. The audit ends confirmed or escalates (to a full hand count when the sample already
//! spans the manifest); the decision is stated in the log, `sverka verify` recomputes every step,
//! and the `/audit` page shows every step with its entry, the differences found and the decision.
//!
//! The night is the issue's: `sverka simulate`'s default, 2,494 stations, seed 1 (the same run in
//! release, timed, is in BENCHMARKS.md, "The 5% audit of the simulated 2021 night").
//!
//! A wrong CSV is refused whole, every wrong line named with its number, and nothing is recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

mod common;
use common::{audit, audit_status, hand_counts, pages, run, simulate, sverka, try_audit, Count};

/// `sverka audit STEP data --audit prelim … --admin KEY`; its stdout.
fn step(cwd: &Path, args: &[&str]) -> String {
    let mut all = vec![args[0], "--audit", "prelim"];
    all.extend_from_slice(&args[1..]);
    audit(cwd, "data", &all)
}

/// The log entry a step's output names: "… entry N of the log".
fn entry_of(out: &str) -> u64 {
    let after = &out[out.rfind("entry ").unwrap_or_else(|| panic!("no entry in {out:?}")) + 6..];
    after.split_whitespace().next().unwrap().parse().unwrap()
}

fn status(cwd: &Path) -> Value {
    audit_status(cwd, "data", "prelim")
}

/// `(station, line, machine value, hand value)` of every planted machine/manual mismatch of the
/// list race on a vote or the invalid line (what a hand count can see), from `defects.json`.
fn planted(cwd: &Path) -> BTreeSet<(String, String, u64, u64)> {
    let defects: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("night/defects.json")).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for d in defects["defects"].as_array().unwrap() {
        if d["kind"] != "machine_manual_mismatch" || d["contest"] != "list" {
            continue;
        }
        for diff in d["details"]["differences"].as_array().unwrap() {
            let field = diff["field"].as_str().unwrap();
            let line = match field.strip_prefix("votes.") {
                Some(option) => option,
                None if field == "lines.invalid" => "invalid",
                None => continue,
            };
            out.insert((
                d["station"].as_str().unwrap().to_string(),
                line.to_string(),
                diff["machine"].as_u64().unwrap(),
                diff["manual"].as_u64().unwrap(),
            ));
        }
    }
    out
}

/// Fills the tally sheet (`sverka audit sheet`) with `counts`.
fn filled(sheet: &str, counts: &BTreeMap<String, Count>) -> String {
    let mut lines = sheet.lines().skip(1);
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = header.join(",") + "\n";
    for line in lines {
        let station = line.split(',').next().unwrap();
        let (votes, invalid) = &counts[station];
        let row: Vec<String> = header
            .iter()
            .map(|column| match *column {
                "station" => station.to_string(),
                "invalid" => invalid.to_string(),
                option => votes[option].to_string(),
            })
            .collect();
        out += &(row.join(",") + "\n");
    }
    out
}

/// A wrong CSV: every wrong line is named, and nothing is recorded.
fn wrong_batch_is_refused_whole(cwd: &Path, sheet: &str, sampled: &[String]) {
    let header = sheet.lines().nth(1).unwrap();
    let n_options = header.split(',').count() - 2;
    let good = |station: &str| format!("{station}{}", ",1".repeat(n_options + 1));
    let not_drawn = "no-such-station";
    let text = [
        header.to_string(),                                    // line 1
        good(&sampled[0]),                                     // line 2: fine
        good(not_drawn),                                       // line 3: not in the sample
        good(&sampled[0]),                                     // line 4: twice
        format!("{}{},x", sampled[1], ",1".repeat(n_options)), // line 5: not a number
        format!("{},1", sampled[1]),                           // line 6: too few fields
    ]
    .join("\n");
    std::fs::write(cwd.join("wrong.csv"), text).unwrap();
    let out = try_audit(cwd, "data", &["record", "--audit", "prelim", "--batch", "wrong.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("wrong.csv:3: station \"{not_drawn}\" is not in the sample")));
    assert!(stderr.contains(&format!("wrong.csv:4: station \"{}\" is also on line 2", sampled[0])));
    assert!(stderr.contains("wrong.csv:5: column \"invalid\": \"x\" is not a whole number"));
    assert!(
        stderr.contains(&format!("wrong.csv:6: 2 fields, but the header has {}", n_options + 2))
    );
    assert!(stderr.contains("4 wrong line(s) in wrong.csv; nothing was recorded"), "{stderr}");
    assert!(!stderr.contains("wrong.csv:2:"), "line 2 is right: {stderr}");
    assert_eq!(status(cwd)["hand_counts"], serde_json::json!({}), "nothing recorded");

    std::fs::write(cwd.join("bad-header.csv"), "station,votes,invalid\n").unwrap();
    let out =
        run(&["audit", "record", "data", "--audit", "prelim", "--batch", "bad-header.csv"], cwd);
    assert_eq!(out.status.code(), Some(2), "--admin is required");
    let out = try_audit(cwd, "data", &["record", "--audit", "prelim", "--batch", "bad-header.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad-header.csv:1: column \"votes\" is not station, invalid or a vote option of contest \"list\""), "{stderr}");
    assert!(
        stderr.contains("bad-header.csv:1: the header has no column \"against_all\""),
        "{stderr}"
    );
}

#[test]
fn a_five_percent_audit_of_the_simulated_night_confirms_or_escalates_with_every_step_shown() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    simulate(cwd, 1, None);
    // the night's file: the scanners' protocols first, then the hand counts and observers' copies
    let text = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let n_machine = lines.iter().take_while(|l| l.contains("\"source\":\"machine\"")).count();
    assert!(n_machine > 0);
    assert!(lines[n_machine..].iter().all(|l| !l.contains("\"source\":\"machine\"")));
    std::fs::write(cwd.join("machine.jsonl"), lines[..n_machine].join("\n") + "\n").unwrap();
    std::fs::write(cwd.join("rest.jsonl"), lines[n_machine..].join("\n") + "\n").unwrap();

    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "machine.jsonl"], cwd);
    let mut entries: Vec<(&str, u64)> = Vec::new();
    let define = step(cwd, &["define", "--contest", "list", "--reported", "preliminary"]);
    entries.push(("define", entry_of(&define)));
    let manifest = step(cwd, &["manifest"]);
    entries.push(("manifest", entry_of(&manifest)));
    sverka(&["import", "data", "rest.jsonl"], cwd);
    entries.push(("seed", entry_of(&step(cwd, &["seed", "--seed", "20211128"]))));

    let truth = hand_counts(cwd);
    let now = status(cwd);
    assert_eq!(now["risk_limit"], "0.05");
    assert_eq!(now["stage"], "needs_draw");
    // the preliminary view at the manifest: every station whose scanner reported
    let machine_stations: BTreeSet<String> = lines[..n_machine]
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["payload"].clone())
        .filter(|p| p["contest"] == "list")
        .map(|p| p["station"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(now["manifest"]["stations"], machine_stations.len() as u64);

    // what the audit will cost, before the first draw: round 1's draws, and fewer ballots for a
    // card-level audit than the manifest holds
    let estimate = sverka(&["audit", "estimate", "data", "--audit", "prelim"], cwd);
    let Some(round_1) = now["next_sample_size"].as_u64() else { panic!("{now}") };
    assert!(estimate.contains(&format!("round 1 is {round_1} draws")), "{estimate}");
    let ballots = now["manifest"]["ballots"].as_u64().unwrap();
    let card_line = estimate.lines().find(|l| l.starts_with("card level")).unwrap();
    let card: u64 =
        card_line.split("): ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(card > 0 && card < ballots, "{estimate}");

    let mut first_batch = true;
    let mut hand_count_entries: Vec<(u64, u64)> = Vec::new();
    let end = loop {
        let now = status(cwd);
        match now["stage"].as_str().unwrap() {
            "needs_draw" | "escalate" => {
                entries.push(("draw", entry_of(&step(cwd, &["draw"]))));
            }
            "counting" => {
                let sheet = sverka(&["audit", "sheet", "data", "--audit", "prelim"], cwd);
                // the tally sheet: its version, the header (station, the options in ballot
                // order with against_all last, invalid), a row per station to count
                let mut sheet_lines = sheet.lines();
                assert_eq!(sheet_lines.next(), Some("# sverka-hand-counts/v1"));
                let header: Vec<&str> = sheet_lines.next().unwrap().split(',').collect();
                assert_eq!(header[0], "station");
                assert_eq!(header[header.len() - 2..], ["against_all", "invalid"]);
                let options: BTreeSet<&str> = header[1..header.len() - 1].iter().copied().collect();
                let (votes, _) = truth.values().next().unwrap();
                assert_eq!(options, votes.keys().map(String::as_str).collect());
                let sampled: Vec<String> =
                    sheet_lines.map(|l| l.split(',').next().unwrap().into()).collect();
                let to_count: Vec<String> = now["to_count"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(sampled, to_count, "the sheet has a row per station to count");
                if first_batch {
                    wrong_batch_is_refused_whole(cwd, &sheet, &sampled);
                    first_batch = false;
                }
                std::fs::write(cwd.join("counts.csv"), filled(&sheet, &truth)).unwrap();
                let out = step(cwd, &["record", "--batch", "counts.csv"]);
                let wanted = format!("{} of {} recorded, entries ", sampled.len(), sampled.len());
                assert!(out.contains(&wanted), "{out}");
                let range = &out[out.find("entries ").unwrap() + 8..];
                let numbers: Vec<u64> = range
                    .split(" to ")
                    .map(|n| n.split_whitespace().next().unwrap().parse().unwrap())
                    .collect();
                assert_eq!(numbers[1] - numbers[0] + 1, sampled.len() as u64, "one entry each");
                hand_count_entries.push((numbers[0], numbers[1]));
                let counted = status(cwd);
                assert_eq!(counted["hand_counts"].as_object().unwrap().len(), {
                    let mut all: BTreeSet<&str> = BTreeSet::new();
                    for d in counted["draws"].as_array().unwrap() {
                        all.insert(d["station"].as_str().unwrap());
                    }
                    all.len()
                });
                let stated = step(cwd, &["risk"]);
                entries.push(("risk", entry_of(&stated)));
            }
            _ => break now,
        }
    };

    // the decision: confirmed, or a full hand count once the sample spans the manifest
    let stage = end["stage"].as_str().unwrap().to_string();
    assert!(stage == "confirmed" || stage == "full_hand_count", "{end}");
    let statements = end["statements"].as_array().unwrap();
    assert_eq!(statements.last().unwrap()["decision"], stage, "the decision is stated in the log");
    if stage == "confirmed" {
        for a in end["assertions"].as_array().unwrap() {
            assert!(a["risk"].as_f64().unwrap() <= 0.05, "{a}");
        }
    } else {
        let worst =
            end["assertions"].as_array().unwrap().iter().map(|a| a["risk"].as_f64().unwrap());
        assert!(worst.fold(0.0, f64::max) > 0.05);
        let drawn = end["rounds"].as_array().unwrap().last().unwrap()["sample_size"].as_u64();
        assert!(drawn.unwrap() >= end["manifest"]["stations"].as_u64().unwrap());
    }

    // the hand counts that differ from the machine counts are exactly the planted mismatches at
    // the sampled stations, with the machine's and the hand count's numbers
    let counted: BTreeSet<String> =
        end["hand_counts"].as_object().unwrap().keys().cloned().collect();
    let expected: BTreeSet<(String, String, u64, u64)> =
        planted(cwd).into_iter().filter(|(station, ..)| counted.contains(station)).collect();
    let mut found = BTreeSet::new();
    for d in end["differences"].as_array().unwrap() {
        for line in d["lines"].as_array().unwrap() {
            found.insert((
                d["station"].as_str().unwrap().to_string(),
                line["line"].as_str().unwrap().to_string(),
                line["reported"].as_u64().unwrap(),
                line["hand"].as_u64().unwrap(),
            ));
        }
    }
    assert!(!expected.is_empty(), "the sample holds planted mismatches");
    assert_eq!(found, expected);

    // every step is in the published log and `sverka verify` recomputes them
    sverka(&["publish", "data", "--out", "public"], cwd);
    let verified = sverka(&["verify", "public"], cwd);
    let n_hand: u64 = hand_count_entries.iter().map(|(a, b)| b - a + 1).sum();
    let n_risk = entries.iter().filter(|(k, _)| *k == "risk").count();
    let summary = format!("1 audit(s) recomputed (prelim {stage})");
    assert!(verified.contains(&summary), "{verified}");
    assert!(
        verified.contains(&format!("{n_hand} hand counts, {n_risk} stated risk(s)")),
        "{verified}"
    );

    // the audit page shows every step with its entry, the differences found, and the decision
    let texts = pages(cwd, &["/audit?lang=en", "/audit?lang=ru"]);
    let (en, ru) = (&texts[0], &texts[1]);
    let section = &en[en.find("id=\"audit-prelim\"").expect("the audit's section")..];
    for (kind, entry) in &entries {
        let row = format!("<tr class=\"step-{kind}\"><td class=\"num\">{entry}</td>");
        assert!(section.contains(&row), "{kind} at entry {entry}: {section}");
    }
    for (first, last) in &hand_count_entries {
        let row = format!("<tr class=\"step-hand_count\"><td class=\"num\">{first}–{last}</td>");
        assert!(section.contains(&row), "hand counts {first}–{last}: {section}");
    }
    for (station, line, machine, hand) in &expected {
        let row = format!(
            "<td>{station}</td><td class=\"num\">{}</td><td>{line}</td><td class=\"num\">{machine}</td><td class=\"num\">{hand}</td>",
            end["hand_counts"][station]
        );
        assert!(section.contains(&row), "{row}: {section}");
    }
    let decision = if stage == "confirmed" {
        "the reported outcome is confirmed"
    } else {
        "escalate to a full hand count of every station"
    };
    assert!(section.contains(&format!("stage-{stage}")) && section.contains(decision), "{section}");
    assert!(ru.contains("Шаги в журнале") && ru.contains("Ручные подсчёты, отличающиеся"), "{ru}");
}
