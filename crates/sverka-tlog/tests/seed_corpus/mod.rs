//! The loop every `*_fuzz_seeds.rs` test runs: each committed seed of a cargo-fuzz target
//! (`<crate>/fuzz/seeds/<target>/`) through the target's checks on stable Rust, so every
//! `cargo test` runs them (docs/fuzzing.md). A hand-written seed's name promises its verdict:
//! `seed-ok-…` must be accepted, `seed-err-…` refused; any other file (an input libFuzzer added
//! locally) only has to pass the checks.
//!
//! Shared by the seed tests of sverka-tlog, sverka-model and sverka-tally: the latter two include
//! this file with `#[path]`, so it uses nothing but `std`.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::PathBuf;

/// One file of a target's seed directory.
pub struct Seed {
    /// The file name, which states the promised verdict (`seed-ok-…`, `seed-err-…`).
    pub name: String,
    pub data: Vec<u8>,
}

impl Seed {
    /// `Some(true)` for a `seed-ok-…` file, `Some(false)` for a `seed-err-…` file, `None` for any
    /// other.
    pub fn promise(&self) -> Option<bool> {
        if self.name.starts_with("seed-ok-") {
            Some(true)
        } else if self.name.starts_with("seed-err-") {
            Some(false)
        } else {
            None
        }
    }
}

/// Every file of `crate_dir/fuzz/seeds/target/`, sorted by name. The directory must hold at
/// least one `seed-ok-…` and one `seed-err-…` file.
pub fn seeds(crate_dir: &str, target: &str) -> Vec<Seed> {
    let dir: PathBuf = [crate_dir, "fuzz", "seeds", target].iter().collect();
    let mut files: Vec<Seed> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Seed { name, data }
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(files.iter().any(|s| s.promise() == Some(true)), "{target}: no seed-ok- seed");
    assert!(files.iter().any(|s| s.promise() == Some(false)), "{target}: no seed-err- seed");
    files
}

/// Runs `check` on every seed of `target` (see [`seeds`]); `check` asserts the target's
/// invariants and says whether the seed was accepted, which must be what its name promises.
/// Returns how many hand-written (`seed-ok-`/`seed-err-`) seeds were checked.
pub fn check_seeds(crate_dir: &str, target: &str, mut check: impl FnMut(&Seed) -> bool) -> usize {
    let mut promised = 0;
    for seed in seeds(crate_dir, target) {
        let accepted = check(&seed);
        match seed.promise() {
            Some(true) => assert!(accepted, "{} was refused", seed.name),
            Some(false) => assert!(!accepted, "{} was accepted", seed.name),
            None => continue,
        }
        promised += 1;
    }
    promised
}
