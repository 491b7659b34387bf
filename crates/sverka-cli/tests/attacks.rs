//! The attack catalogue of issue 8: each test applies one attack to a copy of a real publication
//! (the tiny election simulated, ingested and published twice, the first time before the last
//! submissions arrived) and asserts that `sverka verify` exits 1 naming the evidence: which file,
//! which entry, what differs. The honest publication, and an honestly witnessed one, verify.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sverka_model::names::Source;
use sverka_model::submission::{sha256_hex, Body, Submission};
use sverka_tlog::tile::new_entry_bundles;
use sverka_tlog::{
    append_leaves, encode_bundle, leaf_hash, parse_bundle, Checkpoint, Cosigner, Ed25519Signer,
    MemoryTiles, Note,
};

fn sverka(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(cwd).output().unwrap()
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `sverka verify` with `args` in `dir`, asserts exit 1, and returns what it printed.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["verify", "public"];
    all.extend_from_slice(args);
    let output = sverka(&all, dir);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "verify must exit 1 on an attack; stderr: {stderr}");
    assert!(stderr.starts_with("FAILED: "), "{stderr}");
    stderr
}

/// The scanned paper protocol the first machine protocol names.
const SCAN: &[u8] = b"%PDF-1.4 the signed paper protocol of the first reporting station";

/// The fixture: `night/`, `data/`, `public/` (the log at its full size) and `old/` (the
/// publication as it stood before the last 6 submissions), built once per test run.
struct Fixture {
    root: PathBuf,
    /// Size of the first publication and of the full one.
    old_size: u64,
    size: u64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("attacks-{}", std::process::id()));
        remove_stale_fixtures(root.parent().unwrap());
        std::fs::create_dir_all(&root).unwrap();
        let election = format!("{}/../../examples/tiny/election.toml", env!("CARGO_MANIFEST_DIR"));
        ok(sverka(&["simulate", "--election", &election, "--seed", "7", "--out", "night"], &root));
        let lines = with_scan(&root.join("night"));
        let (first, last) = lines.split_at(lines.len() - 6);
        std::fs::write(root.join("part1.jsonl"), first.join("\n") + "\n").unwrap();
        std::fs::write(root.join("part2.jsonl"), last.join("\n") + "\n").unwrap();
        ok(sverka(&["init", "data", "--election", "night/election.toml"], &root));
        ok(sverka(&["import", "data", "part1.jsonl"], &root));
        let store = sverka_store::Store::open(&root.join("data")).unwrap();
        assert_eq!(store.put_blob(SCAN).unwrap(), sha256_hex(SCAN));
        drop(store);
        ok(sverka(&["publish", "data", "--out", "public"], &root));
        copy_dir(&root.join("public"), &root.join("old"));
        ok(sverka(&["import", "data", "part2.jsonl"], &root));
        ok(sverka(&["publish", "data", "--out", "public"], &root));
        let old_size = checkpoint_of(&root.join("old")).size();
        let size = checkpoint_of(&root.join("public")).size();
        assert!(old_size < size);
        Fixture { root, old_size, size }
    })
}

/// Removes the fixtures of earlier test runs whose process is gone (a static is never dropped).
fn remove_stale_fixtures(tmp: &Path) {
    let Ok(listing) = std::fs::read_dir(tmp) else { return };
    for entry in listing.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("attacks-") else { continue };
        let mine = pid == std::process::id().to_string();
        if mine || !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Gives the first machine protocol of the night a scan, re-signed by its scanner's key.
fn with_scan(night: &Path) -> Vec<String> {
    let keys = std::fs::read_to_string(night.join("keys/machines.keys")).unwrap();
    let text = std::fs::read_to_string(night.join("submissions.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in lines.iter_mut() {
        let mut submission = Submission::decode(line.as_bytes()).unwrap();
        let Body::Protocol(protocol) = &mut submission.payload.body else { continue };
        if protocol.source != Source::Machine {
            continue;
        }
        protocol.scan_sha256 = Some(sha256_hex(SCAN));
        let signer = submission.payload.signer.clone();
        let seed = keys
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{signer} ")))
            .expect("the scanner's key");
        let key = sverka_model::keys::decode_private_key(seed.trim()).expect("a base64 seed");
        *line = String::from_utf8(submission.payload.sign(&key).to_bytes()).unwrap();
        return lines;
    }
    panic!("no machine protocol in the night");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh copy of the full publication as `public/` in a temp dir, for one attack.
fn attacked() -> tempfile::TempDir {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.root.join("public"), &dir.path().join("public"));
    dir
}

fn checkpoint_of(public: &Path) -> Checkpoint {
    let note = Note::parse(&std::fs::read(public.join("checkpoint")).unwrap()).unwrap();
    Checkpoint::parse(note.text()).unwrap()
}

/// The path of the bundle holding every entry of a publication of `size` (the tiny log fits one).
fn bundle_path(size: u64) -> String {
    let bundles = new_entry_bundles(0, size);
    assert_eq!(bundles.len(), 1, "the tiny election's log fits one bundle");
    bundles[0].path()
}

/// Rewrites the entries of the only bundle.
fn edit_entries(public: &Path, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> String {
    let path = bundle_path(checkpoint_of(public).size());
    let bytes = std::fs::read(public.join(&path)).unwrap();
    let mut entries: Vec<Vec<u8>> =
        parse_bundle(&bytes).unwrap().into_iter().map(<[u8]>::to_vec).collect();
    edit(&mut entries);
    std::fs::write(public.join(&path), encode_bundle(&entries).unwrap()).unwrap();
    path
}

fn snapshot_path(size: u64) -> String {
    format!("snapshot/{size}.json")
}

#[test]
fn the_honest_publication_verifies_and_a_second_run_checks_it_only_grew() {
    let dir = attacked();
    let out = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(out.starts_with("log sverka.example/tiny"), "{out}");
    assert!(out.contains("signature by the log key: ok"), "{out}");
    assert!(out.contains(&format!("snapshot/{}.json", fixture().size)), "{out}");
    assert!(out.contains(&format!("snapshot/{}.json", fixture().old_size)), "{out}");
    assert!(out.contains("1 scan(s) named by protocols, 0 not published"), "{out}");
    assert!(out.contains("signed by a key registered for it"), "{out}");
    let again = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(again.contains("consistent with the checkpoint of size"), "{again}");
}

#[test]
fn an_entry_rewritten_is_named_by_its_tile_and_index() {
    let dir = attacked();
    let public = dir.path().join("public");
    let bundle = edit_entries(&public, |entries| {
        // One more vote for the first option of entry 5: a digit of its JSON changed.
        let entry = &mut entries[5];
        let digit = entry.iter().position(|b| b.is_ascii_digit() && *b != b'9').unwrap();
        entry[digit] += 1;
    });
    let err = refused(dir.path(), &[]);
    assert!(err.contains("tile/0/000"), "{err}");
    assert!(err.contains(&format!("entry 5, in {bundle}")), "{err}");
}

#[test]
fn an_entry_dropped_is_named_by_its_bundle() {
    let dir = attacked();
    let bundle = edit_entries(&dir.path().join("public"), |entries| {
        entries.remove(9);
    });
    let err = refused(dir.path(), &[]);
    let size = fixture().size;
    assert!(
        err.contains(&format!("{bundle}: holds {} entries, expected {size}", size - 1)),
        "{err}"
    );
}

#[test]
fn two_entries_swapped_are_named_at_the_first_moved_entry() {
    let dir = attacked();
    let bundle = edit_entries(&dir.path().join("public"), |entries| entries.swap(3, 4));
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&format!("entry 3, in {bundle}")), "{err}");
}

#[test]
fn a_published_number_edited_is_named_by_its_snapshot_and_field() {
    let dir = attacked();
    let path = dir.path().join("public").join(snapshot_path(fixture().size));
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = "\"valid\":";
    let at = text.find(marker).expect("a valid total") + marker.len();
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    let bumped: u64 = text[at..end].parse::<u64>().unwrap() + 1;
    std::fs::write(&path, format!("{}{bumped}{}", &text[..at], &text[end..])).unwrap();
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&snapshot_path(fixture().size)), "{err}");
    assert!(err.contains("differs from the results recomputed from the log"), "{err}");
    assert!(err.contains("/valid: published"), "{err}");
}

/// Every `{"num","den","bp"}` share under `value`, recomputed over `den × 3 / 4`.
fn shrink_denominators(value: &mut serde_json::Value, changed: &mut usize) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let share = map.len() == 3 && ["num", "den", "bp"].iter().all(|k| map.contains_key(*k));
            if share {
                if let (Some(num), Some(den)) = (map["num"].as_u64(), map["den"].as_u64()) {
                    let den = (den * 3 / 4).max(1);
                    map.insert("den".into(), den.into());
                    map.insert("bp".into(), ((20_000 * num + den) / (2 * den)).into());
                    *changed += 1;
                }
                return;
            }
            map.values_mut().for_each(|v| shrink_denominators(v, changed));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shrink_denominators(v, changed)),
        _ => {}
    }
}

#[test]
fn a_snapshot_computed_with_the_2021_formula_is_named_by_its_first_wrong_share() {
    // The 2021 "display" program: shares over the votes of the reporting stations only, a
    // denominator about a quarter short, so the shares sum to more than 100%. The file is
    // otherwise well-formed canonical JSON, each share internally consistent.
    let dir = attacked();
    let path = dir.path().join("public").join(snapshot_path(fixture().size));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut changed = 0;
    shrink_denominators(&mut value, &mut changed);
    assert!(changed > 0, "the snapshot has shares");
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&snapshot_path(fixture().size)), "{err}");
    assert!(err.contains("/den: published") || err.contains("/bp: published"), "{err}");
}

#[test]
fn a_protocol_scan_swapped_is_named_by_its_blob_and_entry() {
    let dir = attacked();
    let blob = format!("blob/{}", sha256_hex(SCAN));
    std::fs::write(dir.path().join("public").join(&blob), b"%PDF-1.4 another paper").unwrap();
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&format!("{blob}: its content hashes to")), "{err}");
    assert!(err.contains("the scan entry"), "{err}");
}

#[test]
fn a_forged_checkpoint_signature_is_refused() {
    let dir = attacked();
    let path = dir.path().join("public/checkpoint");
    let mut note = Note::parse(&std::fs::read(&path).unwrap()).unwrap();
    let checkpoint = Checkpoint::parse(note.text()).unwrap();
    // The text claims one entry more; the signature line is the log's, over the old text.
    let forged =
        Checkpoint::new(checkpoint.origin(), checkpoint.size() + 1, checkpoint.root()).unwrap();
    let signature = note.signatures()[0].clone();
    note = Note::new(&forged.to_text()).unwrap();
    note.add_signature(signature).unwrap();
    std::fs::write(&path, note.to_bytes()).unwrap();
    let err = refused(dir.path(), &[]);
    assert!(err.contains("checkpoint: "), "{err}");
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_rollback_to_an_older_publication_is_caught_with_the_state() {
    let dir = attacked();
    ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    std::fs::remove_dir_all(dir.path().join("public")).unwrap();
    copy_dir(&fixture().root.join("old"), &dir.path().join("public"));
    let err = refused(dir.path(), &["--state", "observer.json"]);
    let (old, new) = (fixture().old_size, fixture().size);
    assert!(
        err.contains(&format!(
            "size {old} is smaller than the size {new} seen before: the log was rolled back"
        )),
        "{err}"
    );
}

#[test]
fn a_truncated_tile_is_named_with_its_length() {
    let dir = attacked();
    let tile = format!("tile/0/000.p/{}", fixture().size);
    let path = dir.path().join("public").join(&tile);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&path, bytes).unwrap();
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&format!("{tile}: is {} bytes", fixture().size * 32 - 20)), "{err}");
}

#[test]
fn a_wrong_width_tile_is_named_with_its_length() {
    let dir = attacked();
    let tile = format!("tile/0/000.p/{}", fixture().size);
    let path = dir.path().join("public").join(&tile);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0; 32]);
    std::fs::write(&path, bytes).unwrap();
    let err = refused(dir.path(), &[]);
    assert!(
        err.contains(&format!(
            "{tile}: is {} bytes, expected {}",
            (fixture().size + 1) * 32,
            fixture().size * 32
        )),
        "{err}"
    );
    assert!(err.contains("wrong-width"), "{err}");
}

#[test]
fn a_stale_checkpoint_served_with_newer_files_is_named() {
    let dir = attacked();
    std::fs::copy(fixture().root.join("old/checkpoint"), dir.path().join("public/checkpoint"))
        .unwrap();
    let err = refused(dir.path(), &[]);
    let (old, new) = (fixture().old_size, fixture().size);
    assert!(
        err.contains(&format!(
            "{}: results for {new} entries, but the checkpoint signs only {old}",
            snapshot_path(new)
        )),
        "{err}"
    );
    assert!(err.contains("stale checkpoint"), "{err}");
}

#[test]
fn the_election_definition_altered_after_results_began_is_named() {
    let dir = attacked();
    let blobs = dir.path().join("public/blob");
    let definition = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("[rules]")))
        .expect("the election definition blob");
    let text = std::fs::read_to_string(&definition).unwrap();
    // Change the rules: a lower threshold.
    let altered =
        text.replacen("threshold", "threshold_changed_after_the_fact = true\nthreshold", 1);
    assert_ne!(altered, text);
    std::fs::write(&definition, altered).unwrap();
    let name = definition.file_name().unwrap().to_string_lossy().into_owned();
    let err = refused(dir.path(), &[]);
    assert!(err.contains(&format!("blob/{name}")), "{err}");
    assert!(err.contains("election definition"), "{err}");
}

#[test]
fn an_entry_forged_by_the_log_key_holder_is_named_by_the_rules_it_breaks() {
    // The commission itself, holding the log key, appends a protocol it signed with a key the
    // log never registered, rebuilds every tile and signs a new checkpoint: the log is intact,
    // the entry is not.
    let dir = attacked();
    let public = dir.path().join("public");
    let size = checkpoint_of(&public).size();
    let bundle = std::fs::read(public.join(bundle_path(size))).unwrap();
    let mut entries: Vec<Vec<u8>> =
        parse_bundle(&bundle).unwrap().into_iter().map(<[u8]>::to_vec).collect();
    let mut forged = entries
        .iter()
        .map(|e| Submission::decode(e).unwrap())
        .find(|s| matches!(&s.payload.body, Body::Protocol(p) if p.source == Source::Manual))
        .unwrap();
    forged.payload.seq += 1000;
    let forged = forged.payload.sign(&ed25519_dalek::SigningKey::from_bytes(&[42; 32]));
    entries.push(forged.to_bytes());
    std::fs::remove_dir_all(public.join("tile")).unwrap();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    let built = append_leaves(&MemoryTiles::new(), 0, &leaves).unwrap();
    for (tile, bytes) in built.tiles() {
        let path = public.join(tile.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let bundle = public.join(bundle_path(size + 1));
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::write(bundle, encode_bundle(&entries).unwrap()).unwrap();
    let skey = std::fs::read_to_string(fixture().root.join("data/keys/log.key")).unwrap();
    let signer = Ed25519Signer::from_skey(skey.trim()).unwrap();
    let checkpoint =
        Checkpoint::new(checkpoint_of(&public).origin(), size + 1, built.root()).unwrap();
    std::fs::write(public.join("checkpoint"), checkpoint.sign(&signer).unwrap().to_bytes())
        .unwrap();
    let err = refused(dir.path(), &[]);
    assert!(
        err.contains(&format!(
            "entry {size}: the log holds a submission its own rules refuse: E104"
        )),
        "{err}"
    );
}

/// The publication's checkpoint cosigned by `witnesses`.
fn cosign(public: &Path, witnesses: &[&Cosigner]) {
    let path = public.join("checkpoint");
    let mut note = Note::parse(&std::fs::read(&path).unwrap()).unwrap();
    let checkpoint = Checkpoint::parse(note.text()).unwrap();
    for witness in witnesses {
        note.add_signature(witness.cosign(&checkpoint, 1_764_000_000).unwrap()).unwrap();
    }
    std::fs::write(path, note.to_bytes()).unwrap();
}

#[test]
fn a_checkpoint_without_its_witness_quorum_is_refused_naming_the_missing_witness() {
    let party = Cosigner::from_seed("witness.party.example", &[1; 32]).unwrap();
    let ngo = Cosigner::from_seed("witness.ngo.example", &[2; 32]).unwrap();
    let (party_vkey, ngo_vkey) = (party.verifier().to_vkey(), ngo.verifier().to_vkey());
    let dir = attacked();
    cosign(&dir.path().join("public"), &[&party]);
    let flags = ["--witness", &party_vkey, "--witness", &ngo_vkey, "--quorum", "2"];
    let err = refused(dir.path(), &flags);
    assert!(err.contains("witness quorum"), "{err}");
    assert!(
        err.contains("cosigned by witness.party.example; missing: witness.ngo.example"),
        "{err}"
    );
    // One of the two is what the observer asked for: it verifies.
    let one = ["--witness", &party_vkey, "--witness", &ngo_vkey, "--quorum", "1"];
    let mut args = vec!["verify", "public"];
    args.extend_from_slice(&one);
    let out = ok(sverka(&args, dir.path()));
    assert!(out.contains("witness.party.example: cosigned"), "{out}");
    assert!(out.contains("witness.ngo.example: no cosignature"), "{out}");
    // A policy file: the party and the NGO both; with both cosignatures it verifies.
    let policy = format!(
        "witness party {party_vkey}\nwitness ngo {ngo_vkey}\ngroup both all party ngo\nquorum both\n"
    );
    std::fs::write(dir.path().join("policy"), policy).unwrap();
    let err = refused(dir.path(), &["--policy", "policy"]);
    assert!(err.contains("missing: ngo"), "{err}");
    cosign(&dir.path().join("public"), &[&ngo]);
    let out = ok(sverka(&["verify", "public", "--policy", "policy"], dir.path()));
    assert!(out.contains("witness quorum \"both\": met"), "{out}");
}

#[test]
fn a_cosignature_over_another_checkpoint_is_bad_and_does_not_count() {
    let party = Cosigner::from_seed("witness.party.example", &[1; 32]).unwrap();
    let dir = attacked();
    let public = dir.path().join("public");
    // The witness cosigned the older checkpoint; the line is pasted under the newer one.
    let old = checkpoint_of(&fixture().root.join("old"));
    let line = party.cosign(&old, 1_764_000_000).unwrap();
    let path = public.join("checkpoint");
    let mut note = Note::parse(&std::fs::read(&path).unwrap()).unwrap();
    note.add_signature(line).unwrap();
    std::fs::write(&path, note.to_bytes()).unwrap();
    let err = refused(dir.path(), &["--witness", &party.verifier().to_vkey()]);
    assert!(err.contains("bad cosignature from witness.party.example"), "{err}");
}

#[test]
fn a_policy_that_does_not_parse_is_a_usage_error_naming_its_line() {
    let dir = attacked();
    std::fs::write(dir.path().join("policy"), "quorum nobody\n").unwrap();
    let output = sverka(&["verify", "public", "--policy", "policy"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 1: \"nobody\" is not defined"), "{stderr}");
}

#[test]
fn a_log_key_swapped_for_another_is_refused_against_the_pinned_key() {
    let dir = attacked();
    ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    let other = Ed25519Signer::from_seed("sverka.example/tiny", &[7; 32]).unwrap();
    std::fs::write(dir.path().join("public/log.vkey"), other.verifier().to_vkey()).unwrap();
    let err = refused(dir.path(), &["--state", "observer.json"]);
    assert!(err.contains("log.vkey: the log key changed"), "{err}");
}
