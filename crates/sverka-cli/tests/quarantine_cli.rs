//! `sverka quarantine` with the real binary: what `sverka import` refused is listed with its
//! sender, codes and a message in the clerk's language, can be filtered by code, and shown in
//! full with the exact bytes that were sent.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use ed25519_dalek::SigningKey;
use sverka_model::{Body, Payload, Protocol, Source};

const TINY: &str = include_str!("../../../examples/tiny/election.toml");

fn sverka(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sverka"));
    for arg in args {
        command.arg(arg);
    }
    command.output().expect("run sverka")
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A well-formed, canonical submission signed by a key the election never registered.
fn unregistered_line() -> String {
    let payload = Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: "stranger".into(),
        seq: 1,
        time: None,
        body: Body::Protocol(Protocol {
            station: "1001".into(),
            contest: "list".into(),
            source: Source::Machine,
            lines: BTreeMap::from([("valid".to_string(), 1)]),
            votes: BTreeMap::new(),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        }),
    };
    String::from_utf8(payload.sign(&SigningKey::from_bytes(&[7; 32])).to_bytes()).unwrap()
}

#[test]
fn rejected_lines_are_listed_filtered_and_shown_with_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let election = dir.path().join("election.toml");
    std::fs::write(&election, TINY).unwrap();
    let data = dir.path().join("data");
    ok(sverka(&[&"init", &data, &"--election", &election]));
    let stranger = unregistered_line();
    let spaced = stranger.replacen(':', ": ", 1);
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, format!("{{\"payload\": nope\n{spaced}\n{stranger}\n")).unwrap();
    ok(sverka(&[&"import", &data, &file]));

    let table = ok(sverka(&[&"quarantine", &data]));
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("import ")).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, (line, code)) in rows.iter().zip([(1, "E002"), (2, "E004"), (3, "E102")]) {
        assert!(row.contains(&format!("bad.jsonl:{line}")), "sender names the line: {row}");
        assert!(row.contains(code), "{row}");
    }
    assert!(rows[2].contains("key stranger is not registered for this election"), "{table}");

    let json = ok(sverka(&[
        &"quarantine",
        &data,
        &"--code",
        &"E102",
        &"--format",
        &"json",
        &"--lang",
        &"ru",
    ]));
    let records: serde_json::Value = serde_json::from_str(&json).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1, "only the E102 record: {json}");
    assert_eq!(records[0]["codes"], serde_json::json!(["E102"]));
    assert_eq!(
        records[0]["problems"][0]["message"],
        "ключ stranger не зарегистрирован на этих выборах"
    );
    assert_eq!(records[0]["text"], stranger.as_str());

    let id = records[0]["id"].as_u64().unwrap();
    let shown = ok(sverka(&[&"quarantine", &data, &"--show", &id.to_string(), &"--lang", &"ky"]));
    assert!(shown.contains("E102: stranger ачкычы бул шайлоодо катталган эмес"), "{shown}");
    assert!(shown.lines().any(|line| line == stranger), "the exact bytes sent: {shown}");

    let missing = sverka(&[&"quarantine", &data, &"--show", &"999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no quarantined submission 999"));
}
