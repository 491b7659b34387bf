//! The round trip of DESIGN.md with the real binary: init → import → publish → an independent
//! check of the publication (checkpoint signature with `log.vkey`, every entry bundle against its
//! level-0 tile, the root from the tiles) → import more → publish → the second checkpoint is
//! consistent with the first, and every file of the first publication is unchanged.
//!
//! The submissions are built here, signed with keys this test registers in a copy of the tiny
//! example (a stand-in for `sverka simulate`, which builds the same kind of file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ed25519_dalek::SigningKey;
use sverka_model::{Body, Payload, Protocol, Source};
use sverka_tlog::note::{Ed25519Verifier, VerifierSet};
use sverka_tlog::tile::{Tile, TILE_WIDTH};
use sverka_tlog::{Checkpoint, Hash};

fn sverka(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sverka"));
    for arg in args {
        command.arg(arg);
    }
    command.output().expect("run sverka")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn election_toml() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny/election.toml");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (id, seed, station) in [("m-1001", 1, "1001"), ("m-1002", 2, "1002")] {
        let public = sverka_model::keys::encode_public_key(&key(seed).verifying_key());
        text.push_str(&format!(
            "\n[[keys]]\nid = \"{id}\"\nrole = \"machine\"\npublic_key = \"{public}\"\nstation = \"{station}\"\n"
        ));
    }
    text
}

/// A machine protocol line of the submissions file: a protocol that passes every control
/// relation of the tiny example's form.
fn protocol_line(signer: &str, seed: u8, station: &str, seq: u64) -> String {
    let options = [("sun", seq % 300), ("river", 10), ("mountain", 5), ("against_all", 1)];
    let valid: u64 = options.iter().map(|(_, n)| n).sum();
    let issued = valid + 2;
    let registered = if station == "1001" { 1200 } else { 900 };
    let lines = [
        ("registered", registered),
        ("ballots_received", 400),
        ("issued_early", 0),
        ("issued_in_room", issued),
        ("issued_outside", 0),
        ("cancelled", 400 - issued),
        ("in_portable_boxes", 0),
        ("in_stationary_boxes", issued),
        ("invalid", 2),
        ("valid", valid),
        ("lost", 0),
        ("unaccounted", 0),
    ];
    let payload = Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: signer.into(),
        seq,
        time: None,
        body: Body::Protocol(Protocol {
            station: station.into(),
            contest: "list".into(),
            source: Source::Machine,
            lines: lines.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            votes: options.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        }),
    };
    String::from_utf8(payload.sign(&key(seed)).to_bytes()).unwrap()
}

/// Reads a publication's tiles from files, for sverka-tlog's tile-based verifier.
fn read_tile(out: &Path) -> impl Fn(&Tile) -> Result<Vec<u8>, String> + '_ {
    move |tile: &Tile| std::fs::read(out.join(tile.path())).map_err(|e| format!("{tile}: {e}"))
}

/// Checks a publication with sverka-tlog alone; returns its size and root.
fn verify_publication(out: &Path) -> (u64, Hash) {
    let vkey = std::fs::read_to_string(out.join("log.vkey")).unwrap();
    let verifier = Ed25519Verifier::from_vkey(vkey.trim()).expect("log.vkey");
    let known = VerifierSet::with(vec![Box::new(verifier)]).unwrap();
    let note = std::fs::read(out.join("checkpoint")).unwrap();
    let (checkpoint, _) = Checkpoint::open(&note, &known).expect("checkpoint signed by log.vkey");
    let (size, root) = (checkpoint.size(), checkpoint.root());
    let reader = read_tile(out);
    assert_eq!(
        sverka_tlog::root_from_tiles(&reader, size).unwrap(),
        root,
        "tiles hash to the root"
    );
    let mut first = 0u64;
    while first < size {
        let width = (size - first).min(u64::from(TILE_WIDTH)) as u16;
        let tile = Tile::new(0, first / 256, width).unwrap();
        let bundle = std::fs::read(out.join(tile.entry_bundle().unwrap().path())).unwrap();
        let entries = sverka_tlog::parse_bundle(&bundle).unwrap();
        let hashes = std::fs::read(out.join(tile.path())).unwrap();
        assert_eq!(entries.len(), usize::from(width));
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(sverka_tlog::leaf_hash(entry).0, hashes[i * 32..(i + 1) * 32]);
        }
        first += u64::from(width);
    }
    (size, root)
}

fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files
}

#[test]
fn init_import_publish_verify_then_grow_consistently() {
    let temp = tempfile::tempdir().unwrap();
    let election = temp.path().join("election.toml");
    std::fs::write(&election, election_toml()).unwrap();
    let data = temp.path().join("data");
    let public = temp.path().join("public");

    let init = sverka(&[&"init", &data, &"--election", &election]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    assert!(stdout(&init).contains("sverka.example/tiny+"), "prints the verifier key");
    let again = sverka(&[&"init", &data, &"--election", &election]);
    assert_eq!(again.status.code(), Some(2), "init refuses an existing directory");

    // 300 protocols, one repeated line, one with a bad signature, one garbage line.
    let mut lines: Vec<String> =
        (1..=300).map(|seq| protocol_line("m-1001", 1, "1001", seq)).collect();
    lines.push(lines[5].clone());
    lines.push(protocol_line("m-1002", 9, "1002", 1));
    lines.push("{not json".into());
    let file = temp.path().join("submissions.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let import = sverka(&[&"import", &data, &file]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let summary = stdout(&import);
    assert!(summary.contains("accepted, new:         300"), "{summary}");
    assert!(summary.contains("already in the log:    1"), "{summary}");
    assert!(summary.contains("E104: 1") && summary.contains("E002: 1"), "{summary}");
    assert!(summary.contains("quarantine"), "{summary}");

    let publish = sverka(&[&"publish", &data, &"--out", &public]);
    assert!(publish.status.success(), "{}", String::from_utf8_lossy(&publish.stderr));
    let (first_size, first_root) = verify_publication(&public);
    assert_eq!(first_size, 301);
    let first_files = all_files(&public);

    let more: Vec<String> = (1..=200).map(|seq| protocol_line("m-1002", 2, "1002", seq)).collect();
    let file2 = temp.path().join("more.jsonl");
    std::fs::write(&file2, more.join("\n")).unwrap();
    assert!(sverka(&[&"import", &data, &file2]).status.success());
    assert!(sverka(&[&"publish", &data, &"--out", &public]).status.success());
    let (size, root) = verify_publication(&public);
    assert_eq!(size, 501);
    let proof = sverka_tlog::consistency_proof_from_tiles(&read_tile(&public), first_size, size)
        .expect("proof from the published tiles");
    sverka_tlog::verify_consistency(first_size, size, &proof, &first_root, &root)
        .expect("the second checkpoint is consistent with the first");
    for (path, bytes) in first_files {
        if !path.ends_with("checkpoint") {
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{} changed", path.display());
        }
    }
}
