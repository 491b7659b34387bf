//! `sverka ... | head`: when the reader of standard output goes away before the command has
//! written everything, the command ends quietly with status 141 (128 + SIGPIPE, what a shell shows
//! for `yes | head`) instead of panicking with "failed printing to stdout: Broken pipe".

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

/// `sverka allocate` of a contest with 5,000 parties: its answer names every party, far more than a
/// pipe holds (64 KiB on Linux), so it is still writing when the reader closes.
fn many_parties() -> String {
    let votes: Vec<String> = (0..5000).map(|i| format!("\"party-{i:05}\":{}", 1000 + i)).collect();
    format!("{{\"seats\":100,\"method\":\"dhondt\",\"votes\":{{{}}}}}", votes.join(","))
}

/// `sverka allocate` started on [`many_parties`], its input written, stdout and stderr piped.
fn allocate_many_parties() -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .arg("allocate")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(many_parties().as_bytes()).unwrap();
    child
}

#[test]
fn a_reader_that_closes_early_ends_the_command_quietly_with_141() {
    let mut child = allocate_many_parties();
    // like `head -c 100`: read the start of the answer, then close the pipe
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 100];
    stdout.read_exact(&mut start).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert!(start.starts_with(b"{"), "the answer began: {}", String::from_utf8_lossy(&start));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

#[test]
fn a_reader_that_reads_everything_still_gets_the_whole_answer_and_status_0() {
    let child = allocate_many_parties();
    let out = child.wait_with_output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(answer["seats"].as_object().unwrap().len(), 5000);
}
