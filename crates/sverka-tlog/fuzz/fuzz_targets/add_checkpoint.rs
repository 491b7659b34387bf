//! Fuzzes a witness's handling of tlog-witness `add-checkpoint` request bodies (what
//! `sverka witness serve` reads from anyone who POSTs): `AddCheckpoint::parse` never panics and
//! whatever parses prints back identically; `Witness::decide` never panics, on the body as sent
//! and, so the fuzzer reaches the size, root and proof checks behind the signature, on the body
//! with its checkpoint text signed by the log key the witness trusts. Whatever the witness accepts
//! is consistent with what it cosigned before: same size means same root, and the size never
//! goes down.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sverka_tlog::note::Ed25519Signer;
use sverka_tlog::witness::{AddCheckpoint, LogState, Witness, WitnessState};
use sverka_tlog::{leaf_hash, Checkpoint, Cosigner, MemoryTree};

const ORIGIN: &str = "cec.example/log";
/// The size of the tree the witness cosigned last.
const KNOWN: u64 = 5;

struct Fixture {
    log: Ed25519Signer,
    witness: Witness,
    state: WitnessState,
    known: LogState,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let log = Ed25519Signer::from_seed(ORIGIN, &[3; 32]).expect("log key");
        let cosigner = Cosigner::from_seed("witness.example", &[4; 32]).expect("witness key");
        let witness = Witness::new(cosigner, vec![log.verifier()]).expect("witness");
        let leaves: Vec<_> = (0..KNOWN as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let known = LogState { size: KNOWN, root: MemoryTree::from_leaf_hashes(&leaves).root() };
        let mut state = WitnessState::new();
        state.set(ORIGIN, known);
        Fixture { log, witness, state, known }
    })
}

fn check(fixture: &Fixture, request: &AddCheckpoint) {
    if let Ok(accepted) = fixture.witness.decide(request, &fixture.state) {
        let new = accepted.new_state;
        assert!(new.size >= fixture.known.size, "a witness never goes back");
        if new.size == fixture.known.size {
            assert_eq!(new.root, fixture.known.root, "one root per size");
        }
        let _ = fixture.witness.cosign(&accepted, 1_700_000_000);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = AddCheckpoint::parse(data) else { return };
    assert_eq!(request.to_bytes(), data, "an accepted body prints back identically");
    let fixture = fixture();
    check(fixture, &request);
    let Ok(text) = std::str::from_utf8(request.checkpoint()) else { return };
    let Ok(checkpoint) = Checkpoint::parse(text) else { return };
    let Ok(note) = checkpoint.sign(&fixture.log) else { return };
    let signed =
        AddCheckpoint::new(request.old_size(), request.proof().to_vec(), note.to_bytes()).unwrap();
    check(fixture, &signed);
});
