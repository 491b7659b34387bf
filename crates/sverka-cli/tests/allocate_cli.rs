//! `sverka allocate` as a user runs it: JSON on standard input, JSON on standard output.

use std::io::Write;
use std::process::{Command, Stdio};

fn allocate(input: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .arg("allocate")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The CEC's final result of 15 December 2021: 15/12/9/7/6/5 (../shared/data/kyrgyzstan-2021.md).
#[test]
fn the_2021_final_gives_the_published_seats() {
    let input = r#"{"seats":54,"method":"hare","threshold":0.05,"threshold_base":1281622,
        "votes":{"ata-jurt":222005,"ishenim":174470,"yntymak":141009,"alliance":106955,
                 "butun":90223,"yiman-nuru":79025,"el-umutu":55000,"ata-meken":44000}}"#;
    let (code, out, err) = allocate(input);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seats = &v["seats"];
    assert_eq!(seats["ata-jurt"], 15);
    assert_eq!(seats["ishenim"], 12);
    assert_eq!(seats["yntymak"], 9);
    assert_eq!(seats["alliance"], 7);
    assert_eq!(seats["butun"], 6);
    assert_eq!(seats["yiman-nuru"], 5);
    assert_eq!(seats["el-umutu"], 0, "below 5% of 1,281,622 = 64,081.1");
    assert_eq!(v["qualified"].as_array().unwrap().len(), 6);
    assert_eq!(v["ties"], serde_json::json!([]));
}

#[test]
fn bad_input_is_a_clear_error_with_exit_1() {
    let (code, out, err) = allocate(r#"{"seats":54,"method":"plurality","votes":{}}"#);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("method"), "{err}");
}
