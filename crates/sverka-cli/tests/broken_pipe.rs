//! `sverka ... | head`: when the reader of standard output goes away before the command has
//! written everything, the command ends quietly with status 141 (128 + SIGPIPE, what a shell shows
//! for `yes | head`) instead of panicking with "failed printing to stdout: Broken pipe". The same
//! holds for the commands that write their answer with `write_all` rather than `println!`
//! (`results`, `reconcile`, `forensics`).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

mod common;

/// A pipe's capacity on Linux: an answer longer than this is still being written when the reader
/// closes after its first bytes.
const PIPE_BUFFER: usize = 64 * 1024;

/// `sverka allocate` of a contest with 5,000 parties: its answer names every party, far more than a
/// pipe holds, so it is still writing when the reader closes.
fn many_parties() -> String {
    let votes: Vec<String> = (0..5000).map(|i| format!("\"party-{i:05}\":{}", 1000 + i)).collect();
    format!("{{\"seats\":100,\"method\":\"dhondt\",\"votes\":{{{}}}}}", votes.join(","))
}

/// `sverka ARGS` in `cwd` with stdin, stdout and stderr piped.
fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sverka"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `sverka allocate` started on [`many_parties`], its input written.
fn allocate_many_parties() -> Child {
    let mut child = spawn(&["allocate"], Path::new("."));
    child.stdin.take().unwrap().write_all(many_parties().as_bytes()).unwrap();
    child
}

/// Like `head -c 100`: reads the start of the child's answer, then closes the pipe; the start and
/// how the child ended.
fn read_100_bytes_then_close(mut child: Child) -> ([u8; 100], Output) {
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 100];
    stdout.read_exact(&mut start).unwrap();
    drop(stdout);
    (start, child.wait_with_output().unwrap())
}

/// The command ended as `cat | head` would: status 141, nothing said about a panic or the pipe.
fn assert_ended_quietly_with_141(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{what}: {stderr}");
    assert!(!stderr.contains("error"), "{what}: {stderr}");
    assert_eq!(out.status.code(), Some(141), "{what}: {stderr}");
}

#[test]
fn a_reader_that_closes_early_ends_the_command_quietly_with_141() {
    let (start, out) = read_100_bytes_then_close(allocate_many_parties());

    assert!(start.starts_with(b"{"), "the answer began: {}", String::from_utf8_lossy(&start));
    assert_ended_quietly_with_141("allocate", &out);
}

#[test]
fn a_reader_that_reads_everything_still_gets_the_whole_answer_and_status_0() {
    let child = allocate_many_parties();
    let out = child.wait_with_output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(answer["seats"].as_object().unwrap().len(), 5000);
}

/// `sverka results`, `reconcile` and `forensics` read the whole log before they write: a reader
/// that is gone by then (`sverka results data | true`) makes the first write fail.
#[test]
fn results_reconcile_and_forensics_also_end_with_141_when_the_reader_has_gone() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    common::imported_night(cwd, 2, Some(150));
    let commands: [&[&str]; 4] = [
        &["results", "data"],
        &["results", "data", "--format", "csv", "--table", "stations"],
        &["reconcile", "data"],
        &["forensics", "data", "--simulations", "20"],
    ];
    for args in commands {
        let what = args.join(" ");
        let whole = spawn(args, cwd).wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&whole.stderr);
        assert_eq!(whole.status.code(), Some(0), "{what}, read in full: {stderr}");
        assert!(whole.stdout.len() > 1000, "{what}: {} bytes", whole.stdout.len());

        let mut child = spawn(args, cwd);
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_ended_quietly_with_141(&what, &out);
    }
    // an answer longer than a pipe holds, read in part like `head -c 100`
    let args = ["results", "data"];
    let whole = spawn(&args, cwd).wait_with_output().unwrap();
    assert!(whole.stdout.len() > PIPE_BUFFER, "{} bytes", whole.stdout.len());
    let (start, out) = read_100_bytes_then_close(spawn(&args, cwd));
    assert_eq!(start[..], whole.stdout[..100], "the answer began as in full");
    assert_ended_quietly_with_141("results data | head -c 100", &out);
}
