//! How fast a witness cosigns: the pure decision (`Witness::decide` + cosign: parse, Ed25519
//! verify of the log's signature, consistency proof, Ed25519 cosignature) and the whole
//! `POST /add-checkpoint` round trip over loopback HTTP with the state file written and fsynced
//! before each answer. Run by hand: `cargo bench -p sverka-server --bench witness`.

use std::time::{Duration, Instant};

use sverka_server::witness::WitnessService;
use sverka_tlog::merkle::{consistency_proof, MemoryTree};
use sverka_tlog::witness::{AddCheckpoint, LogState, Witness, WitnessState};
use sverka_tlog::{leaf_hash, Checkpoint, Cosigner, Ed25519Signer, Hash};

const ORIGIN: &str = "cec.example/bench";
/// Checkpoints per run; each extends the previous one by `STEP` entries.
const ROUNDS: u64 = 400;
const STEP: u64 = 2_500;

fn setup() -> (Ed25519Signer, Witness, MemoryTree) {
    let log = Ed25519Signer::from_seed(ORIGIN, &[1; 32]).unwrap();
    let witness =
        Witness::new(Cosigner::from_seed("w", &[2; 32]).unwrap(), vec![log.verifier()]).unwrap();
    let leaves: Vec<Hash> = (0..ROUNDS * STEP).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    (log, witness, MemoryTree::from_leaf_hashes(&leaves))
}

fn requests(log: &Ed25519Signer, tree: &MemoryTree) -> Vec<Vec<u8>> {
    let mut tree = tree.clone();
    (1..=ROUNDS)
        .map(|round| {
            let (old, size) = ((round - 1) * STEP, round * STEP);
            let proof =
                if old == 0 { vec![] } else { consistency_proof(&mut tree, old, size).unwrap() };
            let note = Checkpoint::new(ORIGIN, size, tree.root_at(size).unwrap()).unwrap();
            let note = note.sign(log).unwrap().to_bytes();
            AddCheckpoint::new(old, proof, note).unwrap().to_bytes()
        })
        .collect()
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let total: Duration = samples.iter().sum();
    println!(
        "{what}: fastest {:?}, median {:?}, {:.0} per second over {} requests",
        samples[0],
        median,
        samples.len() as f64 / total.as_secs_f64(),
        samples.len()
    );
}

fn main() {
    let (log, witness, tree) = setup();
    let bodies = requests(&log, &tree);

    let mut state = WitnessState::new();
    let mut samples = Vec::new();
    for body in &bodies {
        let start = Instant::now();
        let request = AddCheckpoint::parse(body).unwrap();
        let accepted = witness.decide(&request, &state).unwrap();
        let _line = witness.cosign(&accepted, 1_700_000_000).unwrap();
        samples.push(start.elapsed());
        state
            .set(ORIGIN, LogState { size: accepted.new_state.size, root: accepted.new_state.root });
    }
    report("decide + cosign (pure)", samples);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_, witness, _) = setup();
        let service = WitnessService::open(witness, &dir.path().join("state")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/add-checkpoint", listener.local_addr().unwrap());
        tokio::spawn(sverka_server::witness::run(listener, service, std::future::pending()));
        let client = reqwest::Client::new();
        let mut samples = Vec::new();
        for body in bodies {
            let start = Instant::now();
            let response = client.post(&url).body(body).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap();
            samples.push(start.elapsed());
        }
        report("POST /add-checkpoint over loopback, state fsynced", samples);
    });
}
