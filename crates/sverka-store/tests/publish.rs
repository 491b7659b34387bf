//! The static publication, checked by an independent reading: the checkpoint with the
//! `signed_note` crate and `log.vkey`, the tiles with the `tlog_tiles` crate (a port of Go's
//! sumdb/tlog), every entry bundle against its level-0 tile. Publishing again after more entries
//! only adds files and replaces the checkpoint; full tiles stay byte-identical; a changed file is
//! refused as history rewriting.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use signed_note::{Note, StandardVerifier, VerifierList};
use sverka_store::{Config, PublishOptions, SignedCheckpoint, Store, StoreError};
use tlog_tiles::{Hash as TlogHash, HashReader, TileHashReader};

/// Reads tiles from a publication directory for `tlog_tiles`, at C2SP paths (no height element).
struct Files(PathBuf);

fn c2sp_path(level: &str, n: u64, width: u32) -> String {
    let mut digits = format!("{:03}", n % 1000);
    let mut rest = n / 1000;
    while rest > 0 {
        digits = format!("x{:03}/{digits}", rest % 1000);
        rest /= 1000;
    }
    let partial = if width == 256 { String::new() } else { format!(".p/{width}") };
    format!("tile/{level}/{digits}{partial}")
}

impl tlog_tiles::TileReader for Files {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let path = c2sp_path(&t.level().to_string(), t.level_index(), t.width());
                std::fs::read(self.0.join(path)).map_err(|_| tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

/// Verifies a publication independently; returns its size and root.
fn verify_publication(out: &Path) -> (u64, TlogHash) {
    let vkey = std::fs::read_to_string(out.join("log.vkey")).unwrap();
    let verifier = StandardVerifier::new(vkey.trim()).expect("log.vkey is a verifier key");
    let note = Note::from_bytes(&std::fs::read(out.join("checkpoint")).unwrap()).unwrap();
    note.verify(&VerifierList::new(vec![Box::new(verifier)])).expect("checkpoint signature");
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    let (size, root) = (checkpoint.size(), *checkpoint.hash());
    let files = Files(out.to_path_buf());
    let reader = TileHashReader::new(size, root, &files);
    // tree_hash through a TileHashReader authenticates every tile it reads against the root.
    assert_eq!(tlog_tiles::tree_hash(size, &reader).unwrap(), root);
    // Every entry, from its bundle, hashes to its leaf in the level-0 tiles, and its inclusion
    // proof checks.
    let mut index = 0u64;
    while index < size {
        let n = index / 256;
        let width = (size - n * 256).min(256) as u32;
        let bundle = std::fs::read(out.join(c2sp_path("entries", n, width))).unwrap();
        let tile = std::fs::read(out.join(c2sp_path("0", n, width))).unwrap();
        let mut rest = bundle.as_slice();
        for i in 0..width as usize {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            let entry = &rest[2..2 + len];
            rest = &rest[2 + len..];
            assert_eq!(tlog_tiles::record_hash(entry).0, tile[i * 32..(i + 1) * 32]);
        }
        assert!(rest.is_empty(), "bundle {n} has trailing bytes");
        let proof = tlog_tiles::prove_record(size, index, &reader).unwrap();
        let leaf = reader.read_hashes(&[tlog_tiles::stored_hash_index(0, index)]).unwrap()[0];
        tlog_tiles::check_record(&proof, size, root, index, leaf).unwrap();
        index += u64::from(width);
    }
    (size, root)
}

fn files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                into.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut map = BTreeMap::new();
    walk(out, out, &mut map);
    map
}

fn submit_observer(store: &Store, n: u8, seqs: std::ops::Range<u64>) {
    let bytes = seqs.map(|seq| observer_protocol(n, seq)).collect();
    for answer in store.submit_batch(bytes) {
        answer.unwrap();
    }
}

fn a_publication_verifies_independently_and_grows_only_by_adding_files(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let out = temp.path().join("public");
    submit_observer(&store, 0, 1..700);
    let first = store.checkpoint_now().unwrap();
    let report = store.publish(&out, &PublishOptions::default()).unwrap();
    assert_eq!(report.size, 700);
    assert!(report.checkpoint_replaced);
    let (size, root) = verify_publication(&out);
    assert_eq!((size, root.0), (700, first.root.0));
    let before = files(&out);
    assert!(before.contains_key("tile/0/001") && before.contains_key("tile/0/002.p/188"));
    assert!(before.contains_key("tile/entries/002.p/188") && before.contains_key("tile/1/000.p/2"));

    // Publishing the same checkpoint again changes nothing.
    let again = store.publish(&out, &PublishOptions::default()).unwrap();
    assert_eq!((again.written, again.checkpoint_replaced), (0, false));

    submit_observer(&store, 1, 1..400);
    let second = store.checkpoint_now().unwrap();
    let report = store.publish(&out, &PublishOptions::default()).unwrap();
    assert!(report.written > 0 && report.checkpoint_replaced);
    let after = files(&out);
    for (path, bytes) in &before {
        if path != "checkpoint" {
            assert_eq!(after.get(path), Some(bytes), "{path} changed or vanished");
        }
    }
    assert_ne!(after["checkpoint"], before["checkpoint"]);
    let (size, root) = verify_publication(&out);
    assert_eq!((size, root.0), (1099, second.root.0));
    // The second checkpoint is consistent with the first, by tlog_tiles over the published tiles.
    let files_reader = Files(out.clone());
    let reader = TileHashReader::new(size, root, &files_reader);
    let proof = tlog_tiles::prove_tree(size, first.size, &reader).unwrap();
    tlog_tiles::check_tree(&proof, size, root, first.size, TlogHash(first.root.0)).unwrap();
}

fn a_changed_published_tile_is_refused_as_history_rewriting(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let out = temp.path().join("public");
    submit_observer(&store, 0, 1..300);
    store.checkpoint_now().unwrap();
    store.publish(&out, &PublishOptions::default()).unwrap();
    let checkpoint_before = std::fs::read(out.join("checkpoint")).unwrap();
    let tile = std::fs::read(out.join("tile/0/000")).unwrap();
    std::fs::write(out.join("tile/0/000"), [0u8; 8192]).unwrap();
    submit_observer(&store, 0, 300..310);
    store.checkpoint_now().unwrap();
    let result = store.publish(&out, &PublishOptions::default());
    assert!(matches!(result, Err(StoreError::PublishedConflict { .. })), "{result:?}");
    assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), checkpoint_before);
    // The same for a tile of the second half, which a second thread writes (at 310 entries:
    // 0/000 and 0/001.p/54 on the first, 1/000.p/1, the same as at 299, on the second).
    std::fs::write(out.join("tile/0/000"), tile).unwrap();
    std::fs::write(out.join("tile/1/000.p/1"), [0u8; 32]).unwrap();
    let result = store.publish(&out, &PublishOptions::default());
    match result {
        Err(StoreError::PublishedConflict { path }) => assert!(path.ends_with("tile/1/000.p/1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), checkpoint_before);
}

fn snapshots_and_blobs_are_published_beside_the_log(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store = backend.init(&temp.path().join("data"), Config::default());
    let out = temp.path().join("public");
    let digest = store.put_blob(b"scan of protocol 1001").unwrap();
    let snapshot = |_: &Store, checkpoint: &SignedCheckpoint| -> Result<Vec<u8>, String> {
        Ok(format!("{{\"size\":{},\"root\":\"{}\"}}", checkpoint.size, checkpoint.root)
            .into_bytes())
    };
    let options = PublishOptions { snapshot: Some(&snapshot) };
    store.publish(&out, &options).unwrap();
    assert_eq!(
        std::fs::read(out.join(format!("blob/{digest}"))).unwrap(),
        b"scan of protocol 1001"
    );
    let text = std::fs::read_to_string(out.join("snapshot/1.json")).unwrap();
    assert!(text.starts_with("{\"size\":1,"));
    let tile = store.read_tile("tile/0/000.p/1").unwrap().unwrap();
    assert_eq!(std::fs::read(out.join("tile/0/000.p/1")).unwrap(), tile);
}

both_backends!(
    a_publication_verifies_independently_and_grows_only_by_adding_files,
    a_changed_published_tile_is_refused_as_history_rewriting,
    snapshots_and_blobs_are_published_beside_the_log,
);
