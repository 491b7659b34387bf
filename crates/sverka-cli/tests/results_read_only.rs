//! `sverka results`, `reconcile` and `forensics` only read: they open the store read-only
//! (`Store::open_read_only`), so they work on a data directory nobody may write to and never
//! sign a checkpoint or write a row. The log they read is the one under the latest signed
//! checkpoint.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{run, simulate, sverka};
use sverka_store::{CheckpointPolicy, Config, Store};

/// Every file under `dir` (relative path) with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// Makes every file and directory under `dir` read-only (or writable again).
fn set_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mut pending = vec![dir.to_path_buf()];
    let mut all = Vec::new();
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            all.push(path);
        }
    }
    all.push(dir.to_path_buf());
    // Directories last when locking, first when unlocking: a locked directory's entries
    // cannot be changed.
    if !read_only {
        all.reverse();
    }
    for path in all {
        let mode = match (path.is_dir(), read_only) {
            (true, true) => 0o555,
            (true, false) => 0o755,
            (false, true) => 0o444,
            (false, false) => 0o644,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn results_read_a_read_only_store_under_its_signed_checkpoint_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    simulate(cwd, 5, Some(300));
    sverka(&["init", "data", "--election", "night/election.toml"], cwd);
    // Every submission but the last imported and signed; the last committed with no checkpoint
    // signed over it (as a crash between the commit and the signature leaves it).
    let night = std::fs::read_to_string(cwd.join("night/submissions.jsonl")).unwrap();
    let lines: Vec<&str> = night.lines().filter(|l| !l.is_empty()).collect();
    let (last, first) = lines.split_last().unwrap();
    std::fs::write(cwd.join("first.jsonl"), first.join("\n") + "\n").unwrap();
    sverka(&["import", "data", "first.jsonl"], cwd);
    sverka(&["publish", "data", "--out", "public"], cwd);
    let signed = {
        let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
        let store = Store::open_with(&cwd.join("data"), config).unwrap();
        let signed = store.checkpoint().unwrap();
        let receipt = store.submit(last.as_bytes().to_vec()).expect("the last line is accepted");
        assert_eq!(receipt.index, signed.size, "the last line is the next entry");
        signed
    };
    let published = std::fs::read(cwd.join(format!("public/snapshot/{}.json", signed.size)))
        .expect("publish wrote the snapshot of the signed checkpoint");

    set_read_only(&cwd.join("data"), true);
    let before = files(&cwd.join("data"));
    let json = run(&["results", "data"], cwd);
    let reconcile = run(&["reconcile", "data"], cwd);
    let after = files(&cwd.join("data"));
    set_read_only(&cwd.join("data"), false);

    assert!(json.status.success(), "results: {}", String::from_utf8_lossy(&json.stderr));
    assert_eq!(
        json.stdout.strip_suffix(b"\n").unwrap(),
        published.as_slice(),
        "results are the published snapshot of the signed checkpoint"
    );
    assert!(
        reconcile.status.success(),
        "reconcile: {}",
        String::from_utf8_lossy(&reconcile.stderr)
    );
    // Nothing the store had changed; SQLite's reader may leave its (empty) write-ahead log and
    // shared-memory index beside the database where it may create them.
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "{} changed", path.display());
    }
    for (path, bytes) in &after {
        let name = path.to_string_lossy();
        match name.as_ref() {
            "sverka.db-shm" => {}
            "sverka.db-wal" => assert!(bytes.is_empty(), "a reader wrote to the write-ahead log"),
            _ => assert!(before.contains_key(path), "{name} was created"),
        }
    }
    // Read-only, no checkpoint was signed over the unsigned entry.
    let store = Store::open_read_only(&cwd.join("data")).unwrap();
    assert_eq!(store.checkpoint().unwrap().size, signed.size);
    assert_eq!(store.checkpoint_history().unwrap().last().unwrap().size, signed.size);
    let refused = store.submit(last.as_bytes().to_vec()).unwrap_err().to_string();
    assert!(refused.contains("read-only"), "{refused}");
    let refused = store.checkpoint_now().unwrap_err().to_string();
    assert!(refused.contains("read-only"), "{refused}");
}
