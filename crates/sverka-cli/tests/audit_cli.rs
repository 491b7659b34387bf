//! `sverka audit` as a CEC audit board would run it on a simulated 2021 night: define the audit
//! of the national list race at risk limit 5%, commit the manifest, then the seed, draw, count
//! the sampled stations by hand, and repeat until the outcome is confirmed or the audit escalates
//! to a full hand count; every step is an entry of the log, the publication still verifies, and
//! the order of the steps is enforced (a seed before the manifest, a hand count of a station
//! outside the sample are refused). Hand counts that contradict the reported results make the
//! audit escalate instead of confirming.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap()
}

fn sverka(args: &[&str], cwd: &Path) -> Output {
    let output = run(args, cwd);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

const ADMIN: &str = "night/keys/admin-1.key";

fn step(cwd: &Path, args: &[&str]) -> Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--admin", ADMIN]);
    run(&all, cwd)
}

fn status(cwd: &Path, audit: &str) -> Value {
    let out = sverka(&["audit", "status", "data", "--audit", audit, "--format", "json"], cwd);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The official count of every station for contest `list`, as the night's submissions give it:
/// the last hand-count (manual) protocol of each station (corrections come later in the file).
fn official_counts(cwd: &Path) -> BTreeMap<String, (BTreeMap<String, u64>, u64)> {
    let text = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let p = &v["payload"];
        if p["type"] == "protocol" && p["source"] == "manual" && p["contest"] == "list" {
            let votes: BTreeMap<String, u64> = p["votes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                .collect();
            let invalid = p["lines"]["invalid"].as_u64().unwrap();
            out.insert(p["station"].as_str().unwrap().to_string(), (votes, invalid));
        }
    }
    out
}

fn votes_arg(votes: &BTreeMap<String, u64>) -> String {
    votes.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(",")
}

fn stations(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// Runs rounds until the audit leaves `counting`/`escalate`; `hand` gives each station's count.
fn run_audit(
    cwd: &Path,
    audit: &str,
    hand: impl Fn(&str) -> (BTreeMap<String, u64>, u64),
) -> Value {
    for _ in 0..20 {
        let now = status(cwd, audit);
        match now["stage"].as_str().unwrap() {
            "needs_draw" | "escalate" => {
                let out = step(cwd, &["draw", "data", "--audit", audit]);
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
            "counting" => {
                for station in stations(&now["to_count"]) {
                    let (votes, invalid) = hand(&station);
                    let out = step(
                        cwd,
                        &[
                            "record",
                            "data",
                            "--audit",
                            audit,
                            "--station",
                            &station,
                            "--votes",
                            &votes_arg(&votes),
                            "--invalid",
                            &invalid.to_string(),
                        ],
                    );
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
            }
            _ => return now,
        }
    }
    panic!("the audit did not end in 20 steps");
}

/// `GET path` of `sverka serve data` as text.
fn page(cwd: &Path, paths: &[&str]) -> Vec<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .args(["serve", "data", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !agent.get(format!("{base}/healthz")).call().is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "sverka serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let texts = paths
        .iter()
        .map(|path| {
            let response = agent.get(format!("{base}{path}")).call().unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.into_body().read_to_string().unwrap()
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    texts
}

fn entries_of_type(cwd: &Path, public: &str) -> usize {
    // every entry is in the published tiles; count audit steps through `sverka verify`'s summary
    let out = sverka(&["verify", public], cwd);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find(|l| l.contains("audit steps"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.trim_matches(',').parse().ok()))
        .unwrap_or(0)
}

#[test]
fn an_audit_of_the_2021_night_runs_end_to_end_and_contradicting_hand_counts_escalate() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let election =
        format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
    sverka(
        &[
            "simulate",
            "--election",
            &election,
            "--seed",
            "1",
            "--stations",
            "150",
            "--out",
            "night",
        ],
        cwd,
    );
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "night/submissions.jsonl"], cwd);
    let official = official_counts(cwd);

    // define; the seed cannot come before the manifest (E705)
    let out = step(
        cwd,
        &["define", "data", "--audit", "rla-1", "--contest", "list", "--risk-limit", "0.05"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(status(cwd, "rla-1")["stage"], "needs_manifest");
    let early = step(cwd, &["seed", "data", "--audit", "rla-1", "--seed", "20211128"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("E705"), "{early:?}");

    // manifest: every station with an official count of the list race
    let out = step(cwd, &["manifest", "data", "--audit", "rla-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let now = status(cwd, "rla-1");
    assert_eq!(now["stage"], "needs_seed");
    assert_eq!(now["manifest"]["stations"], official.len() as u64);
    let ballots_sum: u64 =
        official.values().map(|(votes, invalid)| votes.values().sum::<u64>() + invalid).sum();
    assert!(now["manifest"]["ballots"].as_u64().unwrap() >= ballots_sum);

    // the seed (dice), then the first round
    let out = step(cwd, &["seed", "data", "--audit", "rla-1", "--seed", "20211128"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = step(cwd, &["draw", "data", "--audit", "rla-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let now = status(cwd, "rla-1");
    assert_eq!(now["stage"], "counting");
    let sampled = stations(&now["to_count"]);
    assert!(!sampled.is_empty());
    // a station outside the sample is not counted for the audit (E710)
    let outside = official.keys().find(|s| !sampled.contains(s)).expect("a station not drawn");
    let (votes, invalid) = &official[outside];
    let refused = step(
        cwd,
        &[
            "record",
            "data",
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
    let out = step(
        cwd,
        &["define", "data", "--audit", "rla-2", "--contest", "list", "--risk-limit", "0.05"],
    );
    assert!(out.status.success());
    assert!(step(cwd, &["manifest", "data", "--audit", "rla-2"]).status.success());
    assert!(step(cwd, &["seed", "data", "--audit", "rla-2", "--seed", "77"]).status.success());
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
    assert_eq!(entries_of_type(cwd, "public"), expected);

    // the audit page shows both audits, what they concluded, in English and Russian
    let pages = page(cwd, &["/audit?lang=en", "/audit?lang=ru"]);
    let (en, ru) = (&pages[0], &pages[1]);
    assert!(en.contains("id=\"audit-rla-1\"") && en.contains("id=\"audit-rla-2\""), "{en}");
    let rla_2 = &en[en.find("audit-rla-2").unwrap()..];
    assert!(rla_2.contains("full hand count"), "{rla_2}");
    let rla_1 = &en[en.find("audit-rla-1").unwrap()..en.find("audit-rla-2").unwrap()];
    let wanted = if end["stage"] == "confirmed" { "is confirmed" } else { "full hand count" };
    assert!(rla_1.contains(wanted), "{rla_1}");
    assert!(ru.contains("Аудит с ограничением риска"), "{ru}");
}
