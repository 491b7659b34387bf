//! `sverka audit` as a CEC audit board would run it on a simulated 2021 night: define the audit
//! of the national list race at risk limit 5%, commit the manifest, then the seed, draw, count
//! the sampled stations by hand, and repeat until the outcome is confirmed or the audit escalates
//! to a full hand count; every step is an entry of the log, the publication still verifies, and
//! the order of the steps is enforced (a seed before the manifest, a hand count of a station
//! outside the sample are refused). Hand counts that contradict the reported results make the
//! audit escalate instead of confirming.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

mod common;
use common::{
    audit, audit_status, hand_counts, imported_night, pages, sverka, try_audit, votes_arg, Count,
};

fn status(cwd: &Path, audit: &str) -> Value {
    audit_status(cwd, "data", audit)
}

fn stations(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// Runs rounds until the audit leaves `counting`/`escalate`; `hand` gives each station's count.
fn run_audit(cwd: &Path, id: &str, hand: impl Fn(&str) -> Count) -> Value {
    for _ in 0..20 {
        let now = status(cwd, id);
        match now["stage"].as_str().unwrap() {
            "needs_draw" | "escalate" => {
                audit(cwd, "data", &["draw", "--audit", id]);
            }
            "counting" => {
                for station in stations(&now["to_count"]) {
                    let (votes, invalid) = hand(&station);
                    audit(
                        cwd,
                        "data",
                        &[
                            "record",
                            "--audit",
                            id,
                            "--station",
                            &station,
                            "--votes",
                            &votes_arg(&votes),
                            "--invalid",
                            &invalid.to_string(),
                        ],
                    );
                }
            }
            _ => return now,
        }
    }
    panic!("the audit did not end in 20 steps");
}

/// The number of audit steps `sverka verify` of the publication `public` found in the log.
fn audit_steps_verified(cwd: &Path, public: &str) -> usize {
    let text = sverka(&["verify", public], cwd);
    text.lines()
        .find(|l| l.contains("audit steps"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.trim_matches(',').parse().ok()))
        .unwrap_or(0)
}

#[test]
fn an_audit_of_the_2021_night_runs_end_to_end_and_contradicting_hand_counts_escalate() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    imported_night(cwd, 1, Some(150));
    let official = hand_counts(cwd);

    // define; the seed cannot come before the manifest (E705)
    audit(
        cwd,
        "data",
        &["define", "--audit", "rla-1", "--contest", "list", "--risk-limit", "0.05"],
    );
    assert_eq!(status(cwd, "rla-1")["stage"], "needs_manifest");
    let early = try_audit(cwd, "data", &["seed", "--audit", "rla-1", "--seed", "20211128"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("E705"), "{early:?}");

    // manifest: every station with an official count of the list race
    audit(cwd, "data", &["manifest", "--audit", "rla-1"]);
    let now = status(cwd, "rla-1");
    assert_eq!(now["stage"], "needs_seed");
    assert_eq!(now["manifest"]["stations"], official.len() as u64);
    let ballots_sum: u64 =
        official.values().map(|(votes, invalid)| votes.values().sum::<u64>() + invalid).sum();
    assert!(now["manifest"]["ballots"].as_u64().unwrap() >= ballots_sum);

    // the seed (dice), then the first round
    audit(cwd, "data", &["seed", "--audit", "rla-1", "--seed", "20211128"]);
    audit(cwd, "data", &["draw", "--audit", "rla-1"]);
    let now = status(cwd, "rla-1");
    assert_eq!(now["stage"], "counting");
    let sampled = stations(&now["to_count"]);
    assert!(!sampled.is_empty());
    // a station outside the sample is not counted for the audit (E710)
    let outside = official.keys().find(|s| !sampled.contains(s)).expect("a station not drawn");
    let (votes, invalid) = &official[outside];
    let refused = try_audit(
        cwd,
        "data",
        &[
            "record",
            "--audit",
            "rla-1",
            "--station",
            outside,
            "--votes",
            &votes_arg(votes),
            "--invalid",
            &invalid.to_string(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("E710"), "{refused:?}");

    // hand counts equal to the official protocols: the audit ends confirmed or in a full count
    let end = run_audit(cwd, "rla-1", |station| official[station].clone());
    let stage = end["stage"].as_str().unwrap();
    assert!(stage == "confirmed" || stage == "full_hand_count", "{end}");
    let assertions = end["assertions"].as_array().unwrap();
    assert!(assertions.len() > 10, "threshold and seat assertions of 21 lists");
    if stage == "confirmed" {
        for a in assertions {
            assert!(a["risk"].as_f64().unwrap() <= 0.05, "{a}");
        }
    }

    // hand counts that move a fifth of the largest list's ballots to invalid: never confirmed
    audit(
        cwd,
        "data",
        &["define", "--audit", "rla-2", "--contest", "list", "--risk-limit", "0.05"],
    );
    audit(cwd, "data", &["manifest", "--audit", "rla-2"]);
    audit(cwd, "data", &["seed", "--audit", "rla-2", "--seed", "77"]);
    let largest = {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for (votes, _) in official.values() {
            for (k, n) in votes {
                *totals.entry(k.clone()).or_default() += n;
            }
        }
        totals.into_iter().filter(|(k, _)| k != "against_all").max_by_key(|(_, n)| *n).unwrap().0
    };
    let contradicted = run_audit(cwd, "rla-2", |station| {
        let (mut votes, mut invalid) = official[station].clone();
        let moved = votes[&largest] / 5;
        *votes.get_mut(&largest).unwrap() -= moved;
        invalid += moved;
        (votes, invalid)
    });
    let stage = contradicted["stage"].as_str().unwrap();
    assert_eq!(stage, "full_hand_count", "{contradicted}");
    let open = contradicted["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["claim"].as_str().unwrap().starts_with(&largest) && !a["confirmed"].as_bool().unwrap()
        })
        .count();
    assert!(open > 0, "the largest list's assertions stay open: {contradicted}");
    for round in contradicted["rounds"].as_array().unwrap() {
        assert!(round["largest_risk"].as_f64().unwrap() > 0.05, "{round}");
    }

    // every step is in the log, and the publication verifies
    sverka(&["publish", "data", "--out", "public"], cwd);
    let rounds_1 = end["rounds"].as_array().unwrap().len();
    let counted_1 = end["hand_counts"].as_object().unwrap().len();
    let rounds_2 = contradicted["rounds"].as_array().unwrap().len();
    let counted_2 = contradicted["hand_counts"].as_object().unwrap().len();
    let expected = 2 * 3 + rounds_1 + counted_1 + rounds_2 + counted_2;
    assert_eq!(audit_steps_verified(cwd, "public"), expected);

    // the audit page shows both audits, what they concluded, in English and Russian
    let pages = pages(cwd, &["/audit?lang=en", "/audit?lang=ru"]);
    let (en, ru) = (&pages[0], &pages[1]);
    assert!(en.contains("id=\"audit-rla-1\"") && en.contains("id=\"audit-rla-2\""), "{en}");
    let rla_2 = &en[en.find("audit-rla-2").unwrap()..];
    assert!(rla_2.contains("full hand count"), "{rla_2}");
    let rla_1 = &en[en.find("audit-rla-1").unwrap()..en.find("audit-rla-2").unwrap()];
    let wanted = if end["stage"] == "confirmed" { "is confirmed" } else { "full hand count" };
    assert!(rla_1.contains(wanted), "{rla_1}");
    assert!(ru.contains("Аудит с ограничением риска"), "{ru}");
}
