//! What the `sverka` command tests share: running the binary in a working directory, a simulated
//! night of the 2021 election there (`night/`: the election, its keys, `submissions.jsonl`), the
//! hand counts it holds, audit steps signed by the CEC admin key, and pages of `sverka serve`.

#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The CEC admin key of a simulated night, relative to the working directory.
pub const ADMIN: &str = "night/keys/admin-1.key";

/// `sverka ARGS` run in `cwd`, whatever its status.
pub fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap()
}

/// `sverka ARGS` run in `cwd`, which must succeed; its standard output.
pub fn sverka(args: &[&str], cwd: &Path) -> String {
    let output = run(args, cwd);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `sverka simulate` of the 2021 election with `seed` (rescaled to `stations` when given) into
/// `cwd/night/`.
pub fn simulate(cwd: &Path, seed: u64, stations: Option<u64>) {
    let election =
        format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
    let seed = seed.to_string();
    let mut args = vec!["simulate", "--election", &election, "--seed", &seed, "--out", "night"];
    let stations = stations.map(|n| n.to_string());
    if let Some(stations) = &stations {
        args.extend(["--stations", stations.as_str()]);
    }
    sverka(&args, cwd);
}

/// [`simulate`], then `cwd/data/` initialised with the night's election and every submission of
/// the night imported.
pub fn imported_night(cwd: &Path, seed: u64, stations: Option<u64>) {
    simulate(cwd, seed, stations);
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    sverka(&["import", "data", "night/submissions.jsonl"], cwd);
}

/// One station's count of a contest: the votes of each option, and the invalid ballots.
pub type Count = (BTreeMap<String, u64>, u64);

/// The hand count (the last `manual` protocol) of every station for the list race, from the
/// night's file. The simulator keys hand counts right: a broken one is followed by its correction
/// further down the file, which replaces it here.
pub fn hand_counts(cwd: &Path) -> BTreeMap<String, Count> {
    let text = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let p = &v["payload"];
        if p["type"] == "protocol" && p["source"] == "manual" && p["contest"] == "list" {
            let votes = p["votes"]
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

/// `votes` as `sverka audit record --votes` takes them: `option=n,option=n,…`.
pub fn votes_arg(votes: &BTreeMap<String, u64>) -> String {
    votes.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(",")
}

/// `sverka audit STEP DIR REST… --admin ADMIN` for `args` = `[STEP, REST…]`, whatever its status.
pub fn try_audit(cwd: &Path, dir: &str, args: &[&str]) -> Output {
    let mut all = vec!["audit", args[0], dir];
    all.extend_from_slice(&args[1..]);
    all.extend_from_slice(&["--admin", ADMIN]);
    run(&all, cwd)
}

/// [`try_audit`], which must succeed; its standard output.
pub fn audit(cwd: &Path, dir: &str, args: &[&str]) -> String {
    let output = try_audit(cwd, dir, args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `sverka audit status DIR --audit AUDIT --format json`.
pub fn audit_status(cwd: &Path, dir: &str, audit: &str) -> Value {
    let out = sverka(&["audit", "status", dir, "--audit", audit, "--format", "json"], cwd);
    serde_json::from_str(&out).unwrap()
}

/// `GET paths` of `sverka serve data` run in `cwd`, as text; each must answer 200.
pub fn pages(cwd: &Path, paths: &[&str]) -> Vec<String> {
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
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
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
