//! `sverka verify --state FILE` resumes: after a first verify the state file
//! (`sverka-verify-state/v4`, docs/formats.md §11) and its tally base file hold what is needed to
//! continue, so verifying the grown publication checks the consistency proof, the new entries and
//! the new snapshot only, recomputing only the stations the new entries name, and rewrites only
//! the state file, its tally delta grown by the new entries. Its verdict and the state it leaves
//! are those of a full verify of the grown publication; an old entry rewritten (and the log
//! re-signed) is caught by the consistency proof; an untouched station edited in the new snapshot
//! is caught by its hash; a tampered base or delta, a stale delta and a state of another log are
//! refused; the format is pinned field by field.
//!
//! The fixture: 300 stations of the 2021 election simulated (about 1,250 entries, five entry
//! bundles), published once without its last 300 submissions and once with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};
use sverka_model::Election;
use sverka_tlog::tile::{new_entry_bundles, partial_tiles};
use sverka_tlog::{
    append_leaves, encode_bundle, leaf_hash, parse_bundle, Checkpoint, Ed25519Signer, MemoryTiles,
    Note,
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

/// `sverka verify` must exit 1; what it printed on stderr.
fn refused(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.starts_with("FAILED: "), "{stderr}");
    stderr
}

struct Fixture {
    root: PathBuf,
    old_size: u64,
    size: u64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("verify-resume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let election =
            format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
        ok(sverka(
            &[
                "simulate",
                "--election",
                &election,
                "--seed",
                "3",
                "--stations",
                "300",
                "--out",
                "night",
            ],
            &root,
        ));
        let text = std::fs::read_to_string(root.join("night/submissions.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (first, last) = lines.split_at(lines.len() - 300);
        std::fs::write(root.join("part1.jsonl"), first.join("\n") + "\n").unwrap();
        std::fs::write(root.join("part2.jsonl"), last.join("\n") + "\n").unwrap();
        ok(sverka(&["init", "data", "--election", "night/election.toml"], &root));
        ok(sverka(&["import", "data", "part1.jsonl"], &root));
        ok(sverka(&["publish", "data", "--out", "public"], &root));
        copy_dir(&root.join("public"), &root.join("old"));
        ok(sverka(&["import", "data", "part2.jsonl"], &root));
        ok(sverka(&["publish", "data", "--out", "public"], &root));
        let old_size = checkpoint_of(&root.join("old")).size();
        let size = checkpoint_of(&root.join("public")).size();
        assert!(!old_size.is_multiple_of(256), "the old size ends inside a bundle ({old_size})");
        assert!(new_entry_bundles(0, size).len() >= 4, "several bundles ({size} entries)");
        assert!(size - old_size > 256, "the new entries span a whole bundle");
        Fixture { root, old_size, size }
    })
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

fn checkpoint_of(public: &Path) -> Checkpoint {
    let note = Note::parse(&std::fs::read(public.join("checkpoint")).unwrap()).unwrap();
    Checkpoint::parse(note.text()).unwrap()
}

/// A temp dir with `old/` and `public/` copied from the fixture, and `observer.json` the state a
/// verify of `old/` left.
fn observed() -> tempfile::TempDir {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.root.join("old"), &dir.path().join("old"));
    copy_dir(&fixture.root.join("public"), &dir.path().join("public"));
    ok(sverka(&["verify", "old", "--state", "observer.json"], dir.path()));
    dir
}

/// A `sverka-verify-state/v4` file cut into its parts (docs/formats.md §11): the JSON of its
/// second line, the tally delta section and the snapshot pieces section; and the tally base file
/// it names.
struct StateFile {
    json: serde_json::Value,
    delta: Vec<u8>,
    pieces: Vec<u8>,
    base: Vec<u8>,
}

fn state_file(path: &Path) -> StateFile {
    let bytes = std::fs::read(path).unwrap();
    let rest = bytes.strip_prefix(b"sverka-verify-state/v4\n".as_slice()).expect("the first line");
    let line = rest.iter().position(|&b| b == b'\n').unwrap();
    let json = serde_json::from_slice(&rest[..line]).unwrap();
    let mut sections = &rest[line + 1..];
    let mut take = || {
        let len = u64::from_le_bytes(sections[..8].try_into().unwrap()) as usize;
        let body = sections[8..8 + len].to_vec();
        sections = &sections[8 + len..];
        body
    };
    let (delta, pieces) = (take(), take());
    assert!(sections.is_empty(), "nothing after the two sections");
    let json: serde_json::Value = json;
    let base =
        std::fs::read(path.with_file_name(json["resume"]["tally"]["base"].as_str().unwrap()))
            .unwrap();
    StateFile { json, delta, pieces, base }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The published entries `from..to` of `public/`, as the tally delta holds them: each its length
/// (`u32`, little-endian) and its bytes.
fn delta_of(public: &Path, from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for bundle in new_entry_bundles(from, to) {
        let bytes = std::fs::read(public.join(bundle.path())).unwrap();
        for (k, entry) in parse_bundle(&bytes).unwrap().into_iter().enumerate() {
            if bundle.first_entry() + k as u64 >= from {
                out.extend_from_slice(&(entry.len() as u32).to_le_bytes());
                out.extend_from_slice(entry);
            }
        }
    }
    out
}

fn state(path: &Path) -> serde_json::Value {
    state_file(path).json
}

#[test]
fn a_resumed_verify_checks_only_what_is_new_and_ends_where_a_full_verify_ends() {
    let (old, size) = (fixture().old_size, fixture().size);
    let dir = observed();
    let resumed = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(
        resumed.contains(&format!("consistent with the checkpoint of size {old}")),
        "{resumed}"
    );
    assert!(
        resumed.contains(&format!("resumed from --state: entries {old} to {}", size - 1)),
        "{resumed}"
    );
    assert!(
        resumed.contains(&format!(
            "1 snapshot(s) recomputed from the entries and byte-identical: snapshot/{size}.json"
        )),
        "only the new snapshot is recomputed: {resumed}"
    );
    // A full verify of the same publication from scratch, with a fresh state file.
    let full = ok(sverka(&["verify", "public", "--state", "fresh.json"], dir.path()));
    assert!(!full.contains("resumed"), "{full}");
    let counts = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("signed by a key registered for it"))
            .map(str::to_string)
            .collect()
    };
    assert!(!counts(&full).is_empty());
    assert_eq!(counts(&resumed), counts(&full), "the same entries counted, kind by kind");
    // The resumed state is the full verify's but for where its tally is: the base the first run
    // wrote (its file untouched since) and the new entries as the delta, where the full verify
    // has a base of every entry and an empty delta; and for its election cache's name (after
    // the state file's), the cache itself being the same.
    let resumed_state = state_file(&dir.path().join("observer.json"));
    let full_state = state_file(&dir.path().join("fresh.json"));
    let without_tally = |mut json: serde_json::Value| {
        json["resume"].as_object_mut().unwrap().remove("tally");
        json["resume"].as_object_mut().unwrap().remove("election");
        json
    };
    assert_eq!(without_tally(resumed_state.json.clone()), without_tally(full_state.json.clone()));
    let cache_sha256 = |json: &serde_json::Value| json["resume"]["election"]["sha256"].clone();
    assert_eq!(cache_sha256(&resumed_state.json), cache_sha256(&full_state.json));
    assert!(cache_sha256(&full_state.json).is_string());
    assert_eq!(resumed_state.pieces, full_state.pieces, "the same snapshot pieces");
    let tally = &resumed_state.json["resume"]["tally"];
    assert_eq!(tally["base_size"], old);
    assert_eq!(tally["delta_entries"], size - old);
    assert_eq!(resumed_state.delta, delta_of(&dir.path().join("public"), old, size));
    assert_eq!(tally["delta_sha256"], sha256_hex(&resumed_state.delta));
    assert_eq!(tally["base_sha256"], sha256_hex(&resumed_state.base), "the first run's base");
    assert_eq!(full_state.json["resume"]["tally"]["base_size"], size);
    assert!(full_state.delta.is_empty());
    // Nothing new: a third run checks the consistency (equal sizes) and nothing else, resuming
    // from the base and the delta, and leaves the state as it was.
    let before = std::fs::read(dir.path().join("observer.json")).unwrap();
    let again = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(again.contains(&format!("consistent with the checkpoint of size {size}")), "{again}");
    assert!(again.contains("0 snapshot(s) recomputed"), "{again}");
    let nothing_new = format!("resumed from --state: no new entries, all {size} were checked");
    assert!(again.contains(&nothing_new), "{again}");
    assert_eq!(std::fs::read(dir.path().join("observer.json")).unwrap(), before);
}

#[test]
fn a_tampered_state_a_stale_delta_and_a_state_of_another_log_are_refused() {
    let (old, size) = (fixture().old_size, fixture().size);
    let dir = observed();
    ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    let path = dir.path().join("observer.json");
    let good = std::fs::read(&path).unwrap();
    let file = state_file(&path);
    let base_name = file.json["resume"]["tally"]["base"].as_str().unwrap().to_string();
    assert!(base_name.starts_with("observer.json.tally-"), "{base_name}");
    let base_path = dir.path().join(&base_name);
    // A byte of the tally base changed.
    let mut base = file.base.clone();
    let last = base.len() - 1;
    base[last] ^= 1;
    std::fs::write(&base_path, &base).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains(&format!("its tally base {base_name} hashes to")), "{err}");
    assert!(err.contains("not to the"), "{err}");
    std::fs::write(&base_path, &file.base).unwrap();
    // A byte of an entry in the delta changed.
    let json_line = good.iter().skip(b"sverka-verify-state/v4\n".len()).position(|&b| b == b'\n');
    let delta_at = b"sverka-verify-state/v4\n".len() + json_line.unwrap() + 1 + 8;
    let mut tampered = good.clone();
    tampered[delta_at + 20] ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains("its tally delta does not hash"), "{err}");
    // A stale delta: the state names fewer entries in its delta than its size needs.
    let json_text = std::str::from_utf8(&good[23..delta_at - 9]).unwrap();
    let stale = json_text.replace(
        &format!("\"delta_entries\":{}", size - old),
        &format!("\"delta_entries\":{}", size - old - 1),
    );
    assert_ne!(stale, json_text);
    let mut stale_file = b"sverka-verify-state/v4\n".to_vec();
    stale_file.extend_from_slice(stale.as_bytes());
    stale_file.extend_from_slice(&good[delta_at - 9..]);
    std::fs::write(&path, &stale_file).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains("a stale delta"), "{err}");
    // The base of another state file (the full verify's of the same log).
    std::fs::write(&path, &good).unwrap();
    ok(sverka(&["verify", "public", "--state", "other.json"], dir.path()));
    let other = state_file(&dir.path().join("other.json"));
    std::fs::write(&base_path, &other.base).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains("its tally base") && err.contains("hashes to"), "{err}");
    std::fs::write(&base_path, &file.base).unwrap();
    // A state of another log: another log key, or another origin.
    for (member, value) in [("vkey", "other+01234567+AAAA"), ("origin", "another.example/log")] {
        let mut json = file.json.clone();
        json[member] = value.into();
        let mut bytes = format!("sverka-verify-state/v4\n{json}\n").into_bytes();
        bytes.extend_from_slice(&good[delta_at - 8..]);
        std::fs::write(&path, bytes).unwrap();
        let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
        assert!(err.contains(value), "{member}: {err}");
    }
    // The untouched state still resumes.
    std::fs::write(&path, &good).unwrap();
    let out = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(out.contains(&format!("consistent with the checkpoint of size {size}")), "{out}");
}

/// The JSON line of a state file replaced by `json` (its sections kept).
fn with_json(path: &Path, json: &serde_json::Value) {
    let bytes = std::fs::read(path).unwrap();
    let first = b"sverka-verify-state/v4\n".len();
    let end = first + bytes[first..].iter().position(|&b| b == b'\n').unwrap();
    let mut out = bytes[..first].to_vec();
    out.extend_from_slice(json.to_string().as_bytes());
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_changed_missing_or_foreign_election_cache_is_not_used_and_is_written_anew() {
    let size = fixture().size;
    let dir = observed();
    let path = dir.path().join("observer.json");
    let good_state = std::fs::read(&path).unwrap();
    let json = state(&path);
    let name = json["resume"]["election"]["cache"].as_str().unwrap().to_string();
    let cache_path = dir.path().join(&name);
    let good_cache = std::fs::read(&cache_path).unwrap();
    let note = format!("its election cache {name:?}");
    // The cache as it was written: used, and named again by the new state.
    let out = sverka(&["verify", "public", "--state", "observer.json"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(!stderr.contains("election cache"), "{stderr}");
    let resumed = std::fs::read(&path).unwrap();
    assert_eq!(state(&path)["resume"]["election"], json["resume"]["election"]);
    // A byte changed, the file removed, or a well-formed cache of another definition (the
    // state edited to pin it): each time the definition is read again, the verdict is the
    // same, and the new state names the cache a full read gives (the same bytes again).
    let tiny = std::fs::read_to_string(format!(
        "{}/../../examples/tiny/election.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let foreign = Election::from_toml("tiny.toml", &tiny).unwrap().to_cache(&[7; 32]);
    let foreign_sha256 = sha256_hex(&foreign);
    let foreign_name = format!("observer.json.election-{}", &foreign_sha256[..16]);
    let mut changed = good_cache.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    // Cut in half, and pinned by the state (so its hash matches): refused as malformed.
    let cut = &good_cache[..middle];
    let cut_sha256 = sha256_hex(cut);
    let cut_name = format!("observer.json.election-{}", &cut_sha256[..16]);
    for (case, why) in [
        ("changed", "hashes to"),
        ("missing", "cannot be read"),
        ("foreign", "another definition"),
        ("cut", "is refused: the cache is cut short or malformed"),
    ] {
        std::fs::write(&path, &good_state).unwrap();
        let mut shown = note.clone();
        match case {
            "changed" => std::fs::write(&cache_path, &changed).unwrap(),
            "missing" => std::fs::remove_file(&cache_path).unwrap(),
            "cut" => {
                std::fs::write(dir.path().join(&cut_name), cut).unwrap();
                let mut json = json.clone();
                json["resume"]["election"] =
                    serde_json::json!({"cache": cut_name, "sha256": cut_sha256});
                with_json(&path, &json);
                shown = format!("its election cache {cut_name:?}");
            }
            _ => {
                std::fs::write(dir.path().join(&foreign_name), &foreign).unwrap();
                let mut json = json.clone();
                json["resume"]["election"] =
                    serde_json::json!({"cache": foreign_name, "sha256": foreign_sha256});
                with_json(&path, &json);
                shown = format!("its election cache {foreign_name:?}");
            }
        }
        let out = sverka(&["verify", "public", "--state", "observer.json"], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = ok(out);
        assert!(stdout.contains("resumed from --state"), "{case}: {stdout}");
        assert!(stdout.contains(&format!("snapshot/{size}.json")), "{case}: {stdout}");
        assert!(stderr.contains(&shown) && stderr.contains(why), "{case}: {stderr}");
        assert!(stderr.contains("not used, the definition is read again"), "{case}: {stderr}");
        assert_eq!(std::fs::read(&path).unwrap(), resumed, "{case}: the state a good cache gives");
        assert_eq!(std::fs::read(&cache_path).unwrap(), good_cache, "{case}: the cache again");
        assert!(!dir.path().join(&foreign_name).exists(), "{case}: the cache no longer named");
        assert!(!dir.path().join(&cut_name).exists(), "{case}: the cache no longer named");
    }
    // A state from before the cache (no `election` member) resumes and gets one.
    std::fs::write(&path, &good_state).unwrap();
    std::fs::remove_file(&cache_path).unwrap();
    let mut json = json.clone();
    json["resume"].as_object_mut().unwrap().remove("election");
    with_json(&path, &json);
    let out = sverka(&["verify", "public", "--state", "observer.json"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(!stderr.contains("election cache"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), resumed);
    assert_eq!(std::fs::read(&cache_path).unwrap(), good_cache);
}

/// A resume reads the election from its cache, but still checks that the definition entry 0
/// commits to is published under its hash: changed or removed, it is refused (before anything
/// is said about the cache), whether the cache is good or not.
#[test]
fn a_definition_changed_or_removed_is_refused_on_a_resume_whatever_the_cache() {
    let dir = observed();
    let path = dir.path().join("observer.json");
    let good_state = std::fs::read(&path).unwrap();
    let json = state(&path);
    let definition = json["resume"]["definition"].as_str().unwrap().to_string();
    let blob = dir.path().join("public/blob").join(&definition);
    let good_blob = std::fs::read(&blob).unwrap();
    let cache_path = dir.path().join(json["resume"]["election"]["cache"].as_str().unwrap());
    let good_cache = std::fs::read(&cache_path).unwrap();
    let mut changed = good_blob.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    for (case, cache_too) in
        [("changed", false), ("removed", false), ("changed", true), ("removed", true)]
    {
        std::fs::write(&path, &good_state).unwrap();
        match case {
            "changed" => std::fs::write(&blob, &changed).unwrap(),
            _ => std::fs::remove_file(&blob).unwrap(),
        }
        if cache_too {
            let mut cache = good_cache.clone();
            cache[good_cache.len() / 2] ^= 0x20;
            std::fs::write(&cache_path, &cache).unwrap();
        }
        let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
        let expected = match case {
            "changed" => format!("blob/{definition}: its content hashes to"),
            _ => format!("blob/{definition}"),
        };
        assert!(err.contains(&expected), "{case}, cache changed {cache_too}: {err}");
        if case == "removed" {
            assert!(err.contains("missing"), "{case}: {err}");
        }
        assert!(!err.contains("election cache"), "{case}, cache changed {cache_too}: {err}");
        assert_eq!(std::fs::read(&path).unwrap(), good_state, "{case}: the state is kept");
        std::fs::write(&blob, &good_blob).unwrap();
        std::fs::write(&cache_path, &good_cache).unwrap();
    }
    let stdout = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(stdout.contains("resumed from --state"), "{stdout}");
}

/// Rewrites entry `index` of `public/` (one byte of its signature), rebuilds every bundle and
/// tile, and signs a new checkpoint with the log key: a log that rewrote its history.
fn rewrite_history(dir: &Path, index: usize) {
    let public = dir.join("public");
    let size = checkpoint_of(&public).size();
    let mut entries: Vec<Vec<u8>> = Vec::new();
    for bundle in new_entry_bundles(0, size) {
        let bytes = std::fs::read(public.join(bundle.path())).unwrap();
        entries.extend(parse_bundle(&bytes).unwrap().into_iter().map(<[u8]>::to_vec));
    }
    let at = entries[index].len() - 10;
    entries[index][at] = if entries[index][at] == b'A' { b'B' } else { b'A' };
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    let built = append_leaves(&MemoryTiles::new(), 0, &leaves).unwrap();
    for (tile, bytes) in built.tiles() {
        std::fs::write(public.join(tile.path()), bytes).unwrap();
    }
    for bundle in new_entry_bundles(0, size) {
        let start = bundle.first_entry() as usize;
        let slice = &entries[start..start + usize::from(bundle.width())];
        std::fs::write(public.join(bundle.path()), encode_bundle(slice).unwrap()).unwrap();
    }
    let skey = std::fs::read_to_string(fixture().root.join("data/keys/log.key")).unwrap();
    let signer = Ed25519Signer::from_skey(skey.trim()).unwrap();
    let checkpoint = Checkpoint::new(checkpoint_of(&public).origin(), size, built.root()).unwrap();
    std::fs::write(public.join("checkpoint"), checkpoint.sign(&signer).unwrap().to_bytes())
        .unwrap();
}

#[test]
fn an_old_entry_rewritten_and_re_signed_is_caught_by_the_consistency_proof() {
    let old = fixture().old_size;
    for index in [5, old as usize - 1] {
        let dir = observed();
        rewrite_history(dir.path(), index);
        let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
        assert!(
            err.contains(&format!("is not consistent with the checkpoint of size {old}")),
            "entry {index}: {err}"
        );
        assert!(err.contains("history was rewritten"), "entry {index}: {err}");
        // The state still names the checkpoint verified last: the rewrite is caught again.
        assert_eq!(state(&dir.path().join("observer.json"))["size"], old);
    }
}

#[test]
fn an_old_entry_of_the_bundle_where_the_resume_starts_is_checked_against_the_state() {
    // Only the bundle file is changed (the checkpoint and tiles are the honest ones): the entries
    // of the first bundle read that precede the resume point must be the ones verified before.
    let old = fixture().old_size;
    let dir = observed();
    let public = dir.path().join("public");
    let size = checkpoint_of(&public).size();
    let bundle = new_entry_bundles(old, size)[0];
    assert!(bundle.first_entry() < old);
    let bytes = std::fs::read(public.join(bundle.path())).unwrap();
    let mut entries: Vec<Vec<u8>> =
        parse_bundle(&bytes).unwrap().into_iter().map(<[u8]>::to_vec).collect();
    let k = (old - 1 - bundle.first_entry()) as usize;
    entries[k][3] ^= 1;
    std::fs::write(public.join(bundle.path()), encode_bundle(&entries).unwrap()).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains(&format!("hash {k} does not match")), "{err}");
    assert!(err.contains(&format!("entry {}", old - 1)), "{err}");
}

#[test]
fn the_state_file_format_is_pinned() {
    let old = fixture().old_size;
    let dir = observed();
    let file = state_file(&dir.path().join("observer.json"));
    let value = file.json.clone();
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["format", "origin", "resume", "root", "size", "vkey"]);
    assert_eq!(value["format"], "sverka-verify-state/v4");
    assert_eq!(value["size"], old);
    let checkpoint = checkpoint_of(&dir.path().join("old"));
    assert_eq!(value["root"], checkpoint.root().to_hex());
    assert_eq!(value["origin"], checkpoint.origin());
    let log_vkey = std::fs::read_to_string(dir.path().join("old/log.vkey")).unwrap();
    assert_eq!(value["vkey"], log_vkey.trim());
    let resume = value["resume"].as_object().unwrap();
    let keys: Vec<&str> = resume.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "blobs",
            "counts",
            "definition",
            "edge",
            "election",
            "key_entries",
            "last_seq",
            "scans",
            "snapshots",
            "tally"
        ]
    );
    // The right edge: the partial tiles of the tree at `size`, each the published tile's bytes.
    let edge = resume["edge"].as_object().unwrap();
    let expected: Vec<String> = partial_tiles(old).iter().map(|t| t.path()).collect();
    assert_eq!(edge.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = expected.clone();
        sorted.sort();
        sorted
    });
    for path in &expected {
        let published = std::fs::read(dir.path().join("old").join(path)).unwrap();
        assert_eq!(BASE64.decode(edge[path].as_str().unwrap()).unwrap(), published, "{path}");
    }
    // The definition is entry 0's blob; the snapshots checked are the publication's.
    let definition = resume["definition"].as_str().unwrap();
    assert!(dir.path().join("old/blob").join(definition).is_file());
    assert!(resume["blobs"].as_array().unwrap().iter().any(|b| b == definition));
    assert_eq!(resume["snapshots"], serde_json::json!([old]));
    let protocols = resume["counts"]["protocols"].as_u64().unwrap();
    assert_eq!(resume["counts"]["election definitions"], 1);
    assert!(protocols > 0 && protocols < old);
    // Every signer has the sequence number of its last entry.
    assert!(resume["last_seq"].as_object().unwrap().values().all(|s| s.as_u64() > Some(0)));
    // The tally: a base file beside the state, named after it and its SHA-256, holding the
    // tally's versioned bytes after every entry, and an empty delta.
    let tally = resume["tally"].as_object().unwrap();
    let keys: Vec<&str> = tally.keys().map(String::as_str).collect();
    assert_eq!(keys, ["base", "base_sha256", "base_size", "delta_entries", "delta_sha256"]);
    let base_sha256 = sha256_hex(&file.base);
    assert_eq!(tally["base_sha256"], base_sha256);
    assert_eq!(tally["base"], format!("observer.json.tally-{}", &base_sha256[..16]));
    assert_eq!(tally["base_size"], old);
    assert!(file.base.starts_with(b"sverka-tally-state/v2\n"));
    assert_eq!(tally["delta_entries"], 0);
    assert!(file.delta.is_empty());
    assert_eq!(tally["delta_sha256"], sha256_hex(b""));
    // The election cache: a file beside the state, named after it and its SHA-256, holding the
    // definition's election (`sverka-election-cache/v1` and the definition's SHA-256 first).
    let election = resume["election"].as_object().unwrap();
    let keys: Vec<&str> = election.keys().map(String::as_str).collect();
    assert_eq!(keys, ["cache", "sha256"]);
    let cache = std::fs::read(dir.path().join(election["cache"].as_str().unwrap())).unwrap();
    let cache_sha256 = sha256_hex(&cache);
    assert_eq!(election["sha256"], cache_sha256);
    assert_eq!(election["cache"], format!("observer.json.election-{}", &cache_sha256[..16]));
    let definition_bytes = std::fs::read(dir.path().join("old/blob").join(definition)).unwrap();
    let definition_sha256: [u8; 32] = Sha256::digest(&definition_bytes).into();
    let header = b"sverka-election-cache/v1\n";
    assert_eq!(&cache[..header.len()], header);
    assert_eq!(&cache[header.len()..header.len() + 32], definition_sha256);
    let text = std::str::from_utf8(&definition_bytes).unwrap();
    let parsed = Election::from_toml("election.toml", text).unwrap();
    assert!(Election::from_cache(&cache, &definition_sha256).unwrap() == parsed);

    // The snapshot pieces: the size, the number of contests, and per contest the number of its
    // stations and per station of the published snapshot its length and SHA-256(0x00 || bytes),
    // in the order of the contest's `stations` list.
    let pieces = &file.pieces;
    let snapshot = std::fs::read(dir.path().join(format!("old/snapshot/{old}.json"))).unwrap();
    let snapshot: serde_json::Value = serde_json::from_slice(&snapshot).unwrap();
    let contests = snapshot["contests"].as_array().unwrap();
    assert_eq!(u64::from_le_bytes(pieces[..8].try_into().unwrap()), old);
    let n_contests = u64::from_le_bytes(pieces[8..16].try_into().unwrap()) as usize;
    assert_eq!(n_contests, contests.len());
    let listed: usize = contests.iter().map(|c| c["stations"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(pieces.len(), 16 + 8 * n_contests + 36 * listed);
    let n = u64::from_le_bytes(pieces[16..24].try_into().unwrap()) as usize;
    let stations = contests[0]["stations"].as_array().unwrap();
    assert_eq!(n, stations.len());
    for (k, station) in [0, n - 1].into_iter().map(|k| (k, &stations[k])) {
        let bytes = canonical(station);
        let at = 24 + 36 * k;
        assert_eq!(
            u32::from_le_bytes(pieces[at..at + 4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let hash = Sha256::new().chain_update([0u8]).chain_update(&bytes).finalize();
        assert_eq!(&pieces[at + 4..at + 36], hash.as_slice(), "station {k}");
    }

    // Another version is refused, naming both; a state of v3 (the whole tally inside the file,
    // `sverka-tally-state/v2`) or v2 (`sverka-tally-state/v1`), a JSON state of v1 or from
    // before the format (only the checkpoint is read from them) still works: every entry is
    // checked again, and the file is rewritten as v4.
    let mut other = std::fs::read(dir.path().join("observer.json")).unwrap();
    other[b"sverka-verify-state/v".len()] = b'5';
    std::fs::write(dir.path().join("v5.state"), other).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "v5.state"], dir.path()));
    assert!(
        err.contains("sverka-verify-state/v5") && err.contains("sverka-verify-state/v4"),
        "{err}"
    );
    for (version, tally_format) in
        [("v3", "sverka-tally-state/v2"), ("v2", "sverka-tally-state/v1")]
    {
        let mut earlier = value.clone();
        earlier["format"] = format!("sverka-verify-state/{version}").into();
        earlier["resume"].as_object_mut().unwrap().remove("tally");
        let mut bytes = format!("sverka-verify-state/{version}\n{earlier}\n").into_bytes();
        for section in [format!("{tally_format}\n").into_bytes(), Vec::new()] {
            bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
            bytes.extend_from_slice(&section);
        }
        let name = format!("{version}.state");
        std::fs::write(dir.path().join(&name), bytes).unwrap();
        let out = ok(sverka(&["verify", "public", "--state", &name], dir.path()));
        assert!(out.contains(&format!("consistent with the checkpoint of size {old}")), "{out}");
        assert!(!out.contains("resumed"), "{version}: {out}");
        assert_eq!(state(&dir.path().join(&name))["format"], "sverka-verify-state/v4");
    }
    for format in [None, Some("sverka-verify-state/v1")] {
        let mut legacy = serde_json::json!({
            "vkey": value["vkey"], "origin": value["origin"], "size": value["size"], "root": value["root"],
        });
        if let Some(format) = format {
            legacy["format"] = format.into();
            legacy["resume"] = serde_json::json!({"tally": "c3Zlcmth"});
        }
        std::fs::write(dir.path().join("legacy.json"), legacy.to_string()).unwrap();
        let out = ok(sverka(&["verify", "public", "--state", "legacy.json"], dir.path()));
        assert!(out.contains(&format!("consistent with the checkpoint of size {old}")), "{out}");
        assert!(!out.contains("resumed"), "{format:?}: {out}");
        assert_eq!(state(&dir.path().join("legacy.json"))["format"], "sverka-verify-state/v4");
    }
}

/// RFC 8785 bytes of a snapshot member as serde_json writes it: the published snapshot's
/// members are sorted, compact and integer-only, which `to_vec` of a parsed value reproduces.
fn canonical(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[test]
fn an_untouched_station_edited_in_the_new_snapshot_is_caught() {
    // The resumed verify does not recompute stations no new entry names: it checks their bytes
    // in the new snapshot against the hashes kept from the old one. Edit one such station's
    // number in the new snapshot (same length) and the verify must fail naming it.
    let size = fixture().size;
    let dir = observed();
    let path = dir.path().join(format!("public/snapshot/{size}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let part2 = std::fs::read_to_string(fixture().root.join("part2.jsonl")).unwrap();
    let untouched = value["contests"][0]["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .find(|id| !part2.contains(&format!("\"{id}\"")))
        .expect("a station no new entry names");
    let at = text.find(&format!("\"id\":\"{untouched}\"")).unwrap();
    let registered = at + text[at..].find("\"registered\":").unwrap() + "\"registered\":".len();
    let mut bytes = text.into_bytes();
    bytes[registered] = if bytes[registered] == b'1' { b'2' } else { b'1' };
    std::fs::write(&path, bytes).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains(&format!("snapshot/{size}.json: differs")), "{err}");
    assert!(err.contains("/registered"), "{err}");
}

/// The new snapshot's bytes, and the place of the stations no new entry names in contest 0's
/// list that follow one another (their objects' first and last bytes).
fn untouched_neighbours(path: &Path) -> (Vec<u8>, Vec<(usize, usize)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let part2 = std::fs::read_to_string(fixture().root.join("part2.jsonl")).unwrap();
    let stations = value["contests"][0]["stations"].as_array().unwrap();
    let mut places = Vec::new();
    let mut from = 0;
    for station in stations {
        let bytes = canonical(station);
        let at = from + text[from..].find(std::str::from_utf8(&bytes).unwrap()).unwrap();
        from = at + bytes.len();
        let id = station["id"].as_str().unwrap();
        places.push((!part2.contains(&format!("\"{id}\"")), at, from - 1));
    }
    let pair = places
        .windows(2)
        .find(|w| w[0].0 && w[1].0)
        .map(|w| vec![(w[0].1, w[0].2), (w[1].1, w[1].2)])
        .expect("two untouched stations in a row");
    (text.into_bytes(), pair)
}

#[test]
fn untouched_stations_swapped_or_run_together_in_the_new_snapshot_are_caught() {
    // The untouched stations are looked for in the new snapshot ahead of its comparison, each
    // where its object starts, and skipped there if it has its pinned length and hash. Two such
    // stations in another order, or the comma between them changed, must still fail the verify.
    let size = fixture().size;
    let swapped = |bytes: &mut Vec<u8>, pair: &[(usize, usize)]| {
        let (a, b) = (pair[0], pair[1]);
        let mut both = bytes[b.0..=b.1].to_vec();
        both.extend_from_slice(&bytes[a.1 + 1..b.0]);
        both.extend_from_slice(&bytes[a.0..=a.1]);
        bytes.splice(a.0..=b.1, both);
    };
    type Edit = dyn Fn(&mut Vec<u8>, &[(usize, usize)]);
    let cases: [(&str, &Edit); 3] = [
        ("swapped", &swapped),
        ("comma changed", &|bytes, pair| bytes[pair[0].1 + 1] = b' '),
        ("comma removed", &|bytes, pair| {
            bytes.remove(pair[0].1 + 1);
        }),
    ];
    for (what, edit) in cases {
        let dir = observed();
        let path = dir.path().join(format!("public/snapshot/{size}.json"));
        let (mut bytes, pair) = untouched_neighbours(&path);
        edit(&mut bytes, &pair);
        std::fs::write(&path, bytes).unwrap();
        let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
        assert!(err.contains(&format!("snapshot/{size}.json: differs")), "{what}: {err}");
    }
}

/// When the entries since the tally base outgrow 2 MiB (and an eighth of the base), a resumed
/// run writes a new base of every entry instead of growing the delta: the state names it with an
/// empty delta, the base it read is removed, the new base is byte for byte the one a full verify
/// of the same publication writes, and a further run resumes from it.
#[test]
fn a_delta_past_two_mebibytes_makes_a_new_base() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let election =
        format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
    ok(sverka(
        &[
            "simulate",
            "--election",
            &election,
            "--seed",
            "5",
            "--stations",
            "700",
            "--out",
            "night",
        ],
        root,
    ));
    let text = std::fs::read_to_string(root.join("night/submissions.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, last) = lines.split_at(1000);
    std::fs::write(root.join("part1.jsonl"), first.join("\n") + "\n").unwrap();
    std::fs::write(root.join("part2.jsonl"), last.join("\n") + "\n").unwrap();
    ok(sverka(&["init", "data", "--election", "night/election.toml"], root));
    ok(sverka(&["import", "data", "part1.jsonl"], root));
    ok(sverka(&["publish", "data", "--out", "public"], root));
    ok(sverka(&["verify", "public", "--state", "observer.json"], root));
    let old = checkpoint_of(&root.join("public")).size();
    let first_base =
        state(&root.join("observer.json"))["resume"]["tally"]["base"].as_str().unwrap().to_string();
    ok(sverka(&["import", "data", "part2.jsonl"], root));
    ok(sverka(&["publish", "data", "--out", "public"], root));
    let size = checkpoint_of(&root.join("public")).size();
    let delta = delta_of(&root.join("public"), old, size);
    assert!(delta.len() > 2 << 20, "the new entries are {} bytes, not past 2 MiB", delta.len());

    let resumed = ok(sverka(&["verify", "public", "--state", "observer.json"], root));
    assert!(
        resumed.contains(&format!("resumed from --state: entries {old} to {}", size - 1)),
        "{resumed}"
    );
    let rebased = state_file(&root.join("observer.json"));
    let tally = &rebased.json["resume"]["tally"];
    assert_eq!(tally["base_size"], size, "a new base of every entry");
    assert_eq!(tally["delta_entries"], 0);
    assert!(rebased.delta.is_empty());
    assert_eq!(tally["delta_sha256"], sha256_hex(b""));
    assert_eq!(tally["base_sha256"], sha256_hex(&rebased.base));
    assert_ne!(tally["base"], first_base.as_str());
    assert!(!root.join(&first_base).exists(), "the base it read is removed");

    let full = ok(sverka(&["verify", "public", "--state", "fresh.json"], root));
    assert!(!full.contains("resumed"), "{full}");
    let fresh = state_file(&root.join("fresh.json"));
    assert_eq!(rebased.base, fresh.base, "the full verify's base, byte for byte");
    assert_eq!(rebased.pieces, fresh.pieces);

    let again = ok(sverka(&["verify", "public", "--state", "observer.json"], root));
    let nothing_new = format!("resumed from --state: no new entries, all {size} were checked");
    assert!(again.contains(&nothing_new), "{again}");
}

/// A state's bytes with its snapshot pieces section emptied (none kept).
fn without_pieces(state: &[u8]) -> Vec<u8> {
    let first = b"sverka-verify-state/v4\n".len();
    let line = first + state[first..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let delta_len = u64::from_le_bytes(state[line..line + 8].try_into().unwrap()) as usize;
    let mut out = state[..line + 8 + delta_len].to_vec();
    out.extend_from_slice(&0u64.to_le_bytes());
    out
}

/// A resume reads again only the records of its tally base that the new entries' stations need,
/// but every record is still checked and the whole base hashed: a byte changed in the records of
/// a station no new entry names is refused as a changed base, and the record made malformed (the
/// state's hash changed to match, so that the base is trusted) is refused as malformed, as
/// before.
#[test]
fn a_record_of_the_base_the_resume_does_not_keep_is_still_checked() {
    let dir = observed();
    let path = dir.path().join("observer.json");
    let file = state_file(&path);
    let base_name = file.json["resume"]["tally"]["base"].as_str().unwrap().to_string();
    let base_path = dir.path().join(&base_name);
    // The first station with slots (a protocol before the old checkpoint) no new entry names.
    let election = std::fs::read_to_string(fixture().root.join("night/election.toml")).unwrap();
    let election = Election::from_toml("election.toml", &election).unwrap();
    let part2 = std::fs::read_to_string(fixture().root.join("part2.jsonl")).unwrap();
    let ahead = sverka_tally::tabulate::state::NewTally::new(&election);
    let scan =
        sverka_tally::tabulate::state::scan_state(&mut file.base.as_slice(), file.base.len())
            .unwrap()
            .unwrap();
    let at = (0..election.stations.len())
        .filter(|&s| !part2.contains(&format!("\"{}\"", election.stations[s].id)))
        .map(|s| scan.record_start(ahead.station_records(s).start))
        .find(|&at| (1..128).contains(&file.base[at]))
        .expect("an untouched station with a protocol");
    // Its first slot's source (a byte after the number of slots), changed.
    let mut base = file.base.clone();
    base[at + 1] = 9;
    std::fs::write(&base_path, &base).unwrap();
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains(&format!("its tally base {base_name} hashes to")), "{err}");
    // The same base, trusted: the state names its hash.
    let sha256 = sha256_hex(&base);
    let trusted = format!("observer.json.tally-{}", &sha256[..16]);
    std::fs::write(dir.path().join(&trusted), &base).unwrap();
    let mut json = file.json.clone();
    json["resume"]["tally"]["base"] = trusted.into();
    json["resume"]["tally"]["base_sha256"] = sha256.into();
    with_json(&path, &json);
    let err = refused(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert!(err.contains("its tally base: tally state: source 9"), "{err}");
}

/// A resume that must read its whole tally base (no snapshot pieces kept: every station is
/// recomputed) prints what a resume with them prints and leaves the same state, pieces included.
#[test]
fn a_resume_without_pieces_reads_the_whole_base_and_ends_as_one_with_them() {
    let dir = observed();
    let path = dir.path().join("observer.json");
    let before = std::fs::read(&path).unwrap();
    let with = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    let after = std::fs::read(&path).unwrap();
    std::fs::write(&path, without_pieces(&before)).unwrap();
    assert!(state_file(&path).pieces.is_empty());
    let without = ok(sverka(&["verify", "public", "--state", "observer.json"], dir.path()));
    assert_eq!(without, with);
    assert_eq!(std::fs::read(&path).unwrap(), after, "the same state, its pieces included");
}
