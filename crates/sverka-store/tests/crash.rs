//! Crash consistency (STYLE.md rule 15): a failure or a process abort at every write step of a
//! batch, and during publication. After a reopen the log verifies (the root from the tiles is the
//! signed root, every earlier checkpoint is consistent with it), every submission that got a
//! receipt is there at its index, and no size was ever signed with two roots, counting every note
//! the log key signed, even those a crash kept from being recorded.
//!
//! Aborts run in a child process: this test binary re-runs itself with `SVERKA_CRASH_CHILD` set,
//! and the child ends with `std::process::abort()` at the fault point (no destructors, no
//! rollback), as a power cut would.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use sverka_store::{
    Config, FaultAction, FaultPlan, FaultPoint, PublishOptions, Receipt, Store, SubmitError,
};

const CHILD_ENV: &str = "SVERKA_CRASH_CHILD";
const BATCHES: u64 = 4;
const PER_BATCH: u64 = 100;

/// The submissions of batch `n`: distinct, in sequence order across batches.
fn batch(n: u64) -> Vec<Vec<u8>> {
    (1..=PER_BATCH).map(|i| observer_protocol(0, n * PER_BATCH + i)).collect()
}

/// Submits every batch in order (retrying a batch that failed for a store reason, as a client
/// would), publishing after each when asked; returns what was acknowledged.
fn run_night(store: &Store, publish_to: Option<&Path>, on_ack: &mut dyn FnMut(&Receipt, &[u8])) {
    for n in 0..BATCHES {
        let bytes = batch(n);
        for _attempt in 0..3 {
            let answers = store.submit_batch(bytes.clone());
            let mut all_ok = true;
            for (bytes, answer) in bytes.iter().zip(answers) {
                match answer {
                    Ok(receipt) => on_ack(&receipt, bytes),
                    Err(SubmitError::Store(_)) => all_ok = false,
                    Err(SubmitError::Rejected(r)) => panic!("valid submission rejected: {r}"),
                }
            }
            if all_ok {
                break;
            }
        }
        if let Some(out) = publish_to {
            let _ = store.publish(out, &PublishOptions::default());
        }
    }
}

/// After the crash: reopen, send the whole night again (everything must be taken, as new or as a
/// repeat), then check the log and every note ever signed.
fn check_after_crash(
    dir: &Path,
    acknowledged: &[(Receipt, Vec<u8>)],
    notes: &SignedNotes,
    publish_to: Option<&Path>,
) {
    let config = Config { on_checkpoint_signed: Some(notes.hook()), ..Config::default() };
    let store = Store::open_with(dir, config).expect("reopen after the crash");
    // Open signs what a crash left committed but unsigned before it returns: a reader never sees a
    // checkpoint that a background signature is about to overtake.
    assert_eq!(store.checkpoint().unwrap().size, store.tree_size().unwrap());
    assert_log_sound(&store, acknowledged);
    let mut resent = Vec::new();
    run_night(&store, None, &mut |receipt, bytes| resent.push((receipt.clone(), bytes.to_vec())));
    assert_eq!(resent.len() as u64, BATCHES * PER_BATCH, "every submission is taken on resend");
    for (receipt, bytes) in acknowledged {
        let again = resent.iter().find(|(_, b)| b == bytes).expect("resent");
        assert_eq!((again.0.index, again.0.new), (receipt.index, false), "receipts are stable");
    }
    assert_eq!(store.tree_size().unwrap(), 1 + BATCHES * PER_BATCH);
    store.checkpoint_now().unwrap();
    assert_log_sound(&store, &resent);
    assert_one_root_per_size(&notes.all(), store.verifier_key());
    if let Some(out) = publish_to {
        let report = store.publish(out, &PublishOptions::default()).expect("publish after crash");
        assert_eq!(report.size, 1 + BATCHES * PER_BATCH);
        let note = std::fs::read_to_string(out.join("checkpoint")).unwrap();
        assert_eq!(open_checkpoint(&note, store.verifier_key()).0, report.size);
    }
}

#[test]
fn a_failure_at_any_write_step_loses_nothing_acknowledged() {
    for point in FaultPoint::ALL {
        for occurrence in [2, 3] {
            let temp = tempfile::tempdir().unwrap();
            let dir = temp.path().join("data");
            let out = temp.path().join("public");
            let notes = SignedNotes::default();
            let config = Config {
                faults: FaultPlan::at(point, occurrence, FaultAction::Fail),
                on_checkpoint_signed: Some(notes.hook()),
                ..Config::default()
            };
            let store = init(&dir, config);
            let mut acknowledged = Vec::new();
            let publish = (point == FaultPoint::DuringPublish).then_some(out.as_path());
            run_night(&store, publish, &mut |receipt, bytes| {
                acknowledged.push((receipt.clone(), bytes.to_vec()))
            });
            drop(store);
            check_after_crash(&dir, &acknowledged, &notes, publish);
        }
    }
}

/// A full disk fails the batch and then the reload after it: the sequencer must not stop for
/// good (as it did when a reload failed once), but refuse with the store's reason until the
/// reload succeeds, then take the same bytes again.
#[test]
fn a_reload_that_fails_after_an_error_is_retried_until_the_store_recovers() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let notes = SignedNotes::default();
    let faults = FaultPlan::at(FaultPoint::AfterInsert, 2, FaultAction::Fail)
        .and(FaultPoint::Reload, 1, FaultAction::Fail)
        .and(FaultPoint::Reload, 2, FaultAction::Fail);
    let config = Config { faults, on_checkpoint_signed: Some(notes.hook()), ..Config::default() };
    let store = init(&dir, config);
    let mut acknowledged = Vec::new();
    let mut refusals = Vec::new();
    for n in 0..BATCHES {
        let bytes = batch(n);
        let mut taken = false;
        for _attempt in 0..5 {
            let answers = store.submit_batch(bytes.clone());
            let before = acknowledged.len();
            for (bytes, answer) in bytes.iter().zip(answers) {
                match answer {
                    Ok(receipt) => acknowledged.push((receipt, bytes.clone())),
                    Err(SubmitError::Store(error)) => refusals.push(error.to_string()),
                    Err(SubmitError::Rejected(r)) => panic!("valid submission rejected: {r}"),
                }
            }
            if acknowledged.len() - before == bytes.len() {
                taken = true;
                break;
            }
        }
        assert!(taken, "batch {n} was never taken; refusals: {refusals:?}");
    }
    // The failed batch, then the batch refused while the reload still failed.
    assert_eq!(refusals.len() as u64, 2 * PER_BATCH, "{refusals:?}");
    assert!(refusals.iter().all(|r| !r.contains("not running")), "stopped for good: {refusals:?}");
    assert!(refusals[PER_BATCH as usize..].iter().all(|r| r.contains("recovery failed")));
    drop(store);
    check_after_crash(&dir, &acknowledged, &notes, None);
}

fn point_name(point: FaultPoint) -> String {
    format!("{point:?}")
}

/// The child: runs the night with an abort planted, logging every receipt and signed note to files
/// (synced) before anything else can happen.
fn child(spec: &str) {
    let (point, root) = spec.split_once('|').unwrap();
    let point = *FaultPoint::ALL.iter().find(|p| point_name(**p) == point).unwrap();
    let root = Path::new(root);
    let notes_path = root.join("notes.jsonl");
    let config = Config {
        faults: FaultPlan::at(point, 2, FaultAction::Abort),
        on_checkpoint_signed: Some(std::sync::Arc::new(move |note: &str| {
            let mut file =
                std::fs::OpenOptions::new().create(true).append(true).open(&notes_path).unwrap();
            let record = format!("{}\n", serde_json::to_string(note).unwrap());
            file.write_all(record.as_bytes()).unwrap();
            file.sync_all().unwrap();
        })),
        ..Config::default()
    };
    let store = init(&root.join("data"), config);
    let mut acks = std::fs::File::create(root.join("acks.txt")).unwrap();
    let out = root.join("public");
    let publish = (point == FaultPoint::DuringPublish).then_some(out.as_path());
    run_night(&store, publish, &mut |receipt, bytes| {
        let record = format!("{} {}\n", receipt.index, STANDARD.encode(bytes));
        acks.write_all(record.as_bytes()).unwrap();
        acks.sync_all().unwrap();
    });
    // Reaching here means the fault never fired; the parent treats a clean exit as a failure.
}

#[test]
fn an_abort_at_any_write_step_loses_nothing_acknowledged() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    for point in FaultPoint::ALL {
        let temp = tempfile::tempdir().unwrap();
        let spec = format!("{}|{}", point_name(point), temp.path().display());
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "an_abort_at_any_write_step_loses_nothing_acknowledged"])
            .args(["--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child was not aborted at {point:?}");
        let notes = SignedNotes::default();
        let text = std::fs::read_to_string(temp.path().join("notes.jsonl")).unwrap_or_default();
        for line in text.split_inclusive('\n').filter_map(|l| l.strip_suffix('\n')) {
            notes.0.lock().unwrap().push(serde_json::from_str(line).unwrap());
        }
        assert!(!notes.all().is_empty(), "checkpoint 1 was signed before the crash");
        let acks = std::fs::read_to_string(temp.path().join("acks.txt")).unwrap_or_default();
        // The abort can land while the child is writing its last record: only complete lines count
        // (a torn record is the test's own bookkeeping, written before the receipt is used).
        let acknowledged: Vec<(Receipt, Vec<u8>)> = acks
            .split_inclusive('\n')
            .filter_map(|line| line.strip_suffix('\n'))
            .map(|line| {
                let (index, bytes) = line.split_once(' ').unwrap();
                let bytes = STANDARD.decode(bytes).unwrap();
                let receipt = Receipt {
                    index: index.parse().unwrap(),
                    leaf_hash: sverka_tlog::leaf_hash(&bytes),
                    new: true,
                    warnings: Vec::new(),
                };
                (receipt, bytes)
            })
            .collect();
        let out = temp.path().join("public");
        let publish = (point == FaultPoint::DuringPublish).then_some(out.as_path());
        check_after_crash(&temp.path().join("data"), &acknowledged, &notes, publish);
    }
}

#[test]
fn a_missing_partial_tile_is_rebuilt_on_open() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = init(&dir, Config::default());
    let mut acknowledged = Vec::new();
    run_night(&store, None, &mut |receipt, bytes| {
        acknowledged.push((receipt.clone(), bytes.to_vec()))
    });
    let before = store.checkpoint_now().unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
    assert!(conn.execute("DELETE FROM partial_tiles", []).unwrap() > 0);
    drop(conn);
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.checkpoint().unwrap(), before);
    assert_log_sound(&store, &acknowledged);
}

#[test]
fn stored_history_cannot_be_updated_in_place() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let store = init(&dir, Config::default());
    run_night(&store, None, &mut |_, _| {});
    drop(store);
    let conn = rusqlite::Connection::open(dir.join("sverka.db")).unwrap();
    for statement in [
        "UPDATE entries SET bytes = x'00' WHERE idx = 1",
        "DELETE FROM entries WHERE idx = 400",
        "UPDATE tiles SET data = x'00'",
        "DELETE FROM signed_checkpoints",
    ] {
        let error = conn.execute(statement, []).unwrap_err().to_string();
        assert!(
            error.contains("append-only")
                || error.contains("immutable")
                || error.contains("history"),
            "{statement}: {error}"
        );
    }
}
