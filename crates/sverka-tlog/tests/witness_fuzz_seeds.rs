//! Feeds the `add_checkpoint` fuzz seeds (`fuzz/seeds/add_checkpoint/`) through the fuzz target's
//! checks on stable Rust: `seed-ok-…` bodies parse and print back identically, `seed-err-…` bodies
//! are refused; and a witness that cosigned size 5 cosigns the consistent extensions among the
//! seeds (once their checkpoint is signed by the log key it trusts) and refuses the rest.

use sverka_tlog::note::Ed25519Signer;
use sverka_tlog::witness::{AddCheckpoint, LogState, Refusal, Witness, WitnessState};
use sverka_tlog::{leaf_hash, Checkpoint, Cosigner, MemoryTree};

mod seed_corpus;
use seed_corpus::check_seeds;

const ORIGIN: &str = "cec.example/log";

/// The witness of the fuzz target: it trusts the log key of seed 3 and cosigned size 5.
fn witness() -> (Ed25519Signer, Witness, WitnessState) {
    let log = Ed25519Signer::from_seed(ORIGIN, &[3; 32]).unwrap();
    let cosigner = Cosigner::from_seed("witness.example", &[4; 32]).unwrap();
    let witness = Witness::new(cosigner, vec![log.verifier()]).unwrap();
    let leaves: Vec<_> = (0..5u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut state = WitnessState::new();
    state.set(ORIGIN, LogState { size: 5, root: MemoryTree::from_leaf_hashes(&leaves).root() });
    (log, witness, state)
}

/// The request with its checkpoint text signed by `log`.
fn signed(log: &Ed25519Signer, request: &AddCheckpoint) -> AddCheckpoint {
    let text = std::str::from_utf8(request.checkpoint()).unwrap();
    let note = Checkpoint::parse(text).unwrap().sign(log).unwrap();
    AddCheckpoint::new(request.old_size(), request.proof().to_vec(), note.to_bytes()).unwrap()
}

#[test]
fn add_checkpoint_seeds_parse_as_named_and_the_witness_cosigns_only_consistent_extensions() {
    let (log, witness, state) = witness();
    check_seeds(env!("CARGO_MANIFEST_DIR"), "add_checkpoint", |seed| {
        let (name, data) = (&seed.name, &seed.data);
        let parsed = AddCheckpoint::parse(data);
        if seed.promise() == Some(false) {
            return parsed.is_ok();
        }
        // every other body parses, libFuzzer's too
        let request = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&request.to_bytes(), data, "{name} prints back identically");
        if seed.promise().is_none() {
            return true;
        }
        let unsigned = witness.decide(&request, &state);
        assert!(unsigned.is_err(), "{name}: an unsigned checkpoint is never cosigned");
        let decision = witness.decide(&signed(&log, &request), &state);
        match name.as_str() {
            "seed-ok-5-to-8-unsigned" | "seed-ok-5-to-13-unsigned" | "seed-ok-5-to-5-unsigned" => {
                let accepted = decision.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(accepted.new_state.size >= 5, "{name}");
            }
            "seed-ok-stale-old-size" => {
                assert!(matches!(decision, Err(Refusal::StaleOldSize { .. })), "{name}")
            }
            "seed-ok-conflicting-root" => {
                assert!(matches!(decision, Err(Refusal::ConflictingRoot { .. })), "{name}")
            }
            other => panic!("{other}: no expectation written for this seed"),
        }
        true
    });
}
