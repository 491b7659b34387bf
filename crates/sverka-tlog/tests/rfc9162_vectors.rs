//! The RFC 6962 / RFC 9162 inclusion and consistency proof vectors of transparency-dev/merkle
//! (commit 417fb0c3, in `shared/vectors/merkle/testdata`), run through [`verify_inclusion`] and
//! [`verify_consistency`]. Each vector says whether verification must fail (`wantErr`).
//!
//! One vector ("sizes are equal (one) and proof is empty") expects success for placeholder hashes
//! that are not 32 bytes; a hash that is not 32 bytes cannot even be a [`Hash`], so this strict
//! verifier rejects it, and the test checks that it is the only such disagreement.

mod support;

use std::path::{Path, PathBuf};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde_json::Value;
use sverka_tlog::merkle::{verify_consistency, verify_inclusion};
use sverka_tlog::Hash;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable vector directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// A hash field: `None` when it is not base64 of exactly 32 bytes.
fn hash(value: &Value) -> Option<Hash> {
    let bytes = BASE64_STANDARD.decode(value.as_str()?).ok()?;
    Hash::from_slice(&bytes)
}

/// The proof field (`null` is an empty proof); `None` when any element is not a hash.
fn proof(value: &Value) -> Option<Vec<Hash>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

/// Outcome of one vector: (verified, hashes were well-formed).
fn check(kind: &str, v: &Value) -> (bool, bool) {
    let u = |key: &str| v[key].as_u64().expect("numeric field");
    if kind == "inclusion" {
        let (Some(leaf), Some(root), Some(proof)) =
            (hash(&v["leafHash"]), hash(&v["root"]), proof(&v["proof"]))
        else {
            return (false, false);
        };
        (verify_inclusion(&leaf, u("leafIdx"), u("treeSize"), &proof, &root).is_ok(), true)
    } else {
        let (Some(root1), Some(root2), Some(proof)) =
            (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"]))
        else {
            return (false, false);
        };
        (verify_consistency(u("size1"), u("size2"), &proof, &root1, &root2).is_ok(), true)
    }
}

#[test]
fn transparency_dev_merkle_proof_vectors() {
    let Some(testdata) = support::shared_path("vectors/merkle/testdata") else {
        return;
    };
    let mut ran = 0;
    let mut placeholder_disagreements = Vec::new();
    for kind in ["inclusion", "consistency"] {
        let mut files = Vec::new();
        json_files(&testdata.join(kind), &mut files);
        files.sort();
        assert!(!files.is_empty(), "no {kind} vectors in {}", testdata.display());
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable vector");
            let vector: Value = serde_json::from_str(&text).expect("vector is JSON");
            let want_ok = !vector["wantErr"].as_bool().expect("wantErr");
            let (verified, well_formed) = check(kind, &vector);
            ran += 1;
            if verified != want_ok && !well_formed {
                placeholder_disagreements.push(vector["desc"].as_str().unwrap_or("").to_owned());
                continue;
            }
            assert_eq!(verified, want_ok, "{}: {}", file.display(), vector["desc"]);
        }
    }
    assert_eq!(ran, 196, "expected all 196 vectors of the published set");
    assert_eq!(placeholder_disagreements, ["sizes are equal (one) and proof is empty"]);
}
