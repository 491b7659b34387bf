//! The witness service over real HTTP on loopback: every answer C2SP tlog-witness gives
//! `add-checkpoint` (200, 400, 403, 404, 409 with `text/x.tlog.size`, 422), the state on disk
//! before a cosignature leaves, and a restarted witness that still refuses what conflicts with
//! what it cosigned. (The SIGKILL of a real `sverka witness serve` process is in
//! `sverka-cli/tests/witness_cli.rs`.)

use std::path::Path;

use sverka_server::witness::WitnessService;
use sverka_tlog::merkle::{consistency_proof, MemoryTree};
use sverka_tlog::witness::{AddCheckpoint, Witness};
use sverka_tlog::{leaf_hash, Checkpoint, Cosigner, Ed25519Signer, Hash, Note, NoteSignature};

const ORIGIN: &str = "cec.example/kg-2021";

/// A log of 64 entries whose checkpoints the tests sign at any size.
struct Log {
    key: Ed25519Signer,
    tree: MemoryTree,
}

impl Log {
    fn new() -> Log {
        let leaves: Vec<Hash> = (0..64u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        Log {
            key: Ed25519Signer::from_seed(ORIGIN, &[11; 32]).unwrap(),
            tree: MemoryTree::from_leaf_hashes(&leaves),
        }
    }

    fn note(&self, size: u64) -> Vec<u8> {
        self.note_with_root(size, self.tree.root_at(size).unwrap())
    }

    fn note_with_root(&self, size: u64, root: Hash) -> Vec<u8> {
        Checkpoint::new(ORIGIN, size, root).unwrap().sign(&self.key).unwrap().to_bytes()
    }

    fn body(&self, old: u64, size: u64) -> Vec<u8> {
        let mut tree = self.tree.clone();
        let proof =
            if old == 0 { vec![] } else { consistency_proof(&mut tree, old, size).unwrap() };
        AddCheckpoint::new(old, proof, self.note(size)).unwrap().to_bytes()
    }
}

fn witness_key() -> Cosigner {
    Cosigner::from_seed("witness.observers.example", &[12; 32]).unwrap()
}

/// A witness serving on 127.0.0.1 (port 0) with its state in `state`.
struct Running {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(log: &Log, state: &Path) -> Running {
    let witness = Witness::new(witness_key(), vec![log.key.verifier()]).unwrap();
    let service = WitnessService::open(witness, state).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/add-checkpoint", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(sverka_server::witness::run(listener, service, async move {
        let _ = stopped.await;
    }));
    Running { url, stop: Some(stop), handle }
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// Status, content type and body of one `add-checkpoint`.
async fn post(url: &str, body: Vec<u8>) -> (u16, String, String) {
    let response = reqwest::Client::new().post(url).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The cosignature in a 200 body, checked with the witness's public key on the checkpoint text.
fn cosigned_timestamp(body: &str, note: &[u8]) -> u64 {
    let text = Note::parse(note).unwrap().text().to_owned();
    let line = NoteSignature::parse_line(body.strip_suffix('\n').unwrap(), 0).unwrap();
    witness_key().verifier().verify(&text, &line).expect("the cosignature verifies")
}

#[tokio::test]
async fn every_answer_of_add_checkpoint_has_the_spec_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let witness = start(&log, &dir.path().join("state")).await;
    let url = &witness.url;

    // 200: the first checkpoint (old 0, no proof), then a consistent extension.
    let (status, _, body) = post(url, log.body(0, 10)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("— witness.observers.example "));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    assert!(cosigned_timestamp(&body, &log.note(10)).abs_diff(now.as_secs()) < 600);
    let (status, _, body) = post(url, log.body(10, 23)).await;
    assert_eq!(status, 200, "{body}");
    cosigned_timestamp(&body, &log.note(23));

    // 409: the client's old size is not the witness's; the body tells the witness's size.
    let (status, content_type, body) = post(url, log.body(10, 30)).await;
    assert_eq!((status, content_type.as_str(), body.as_str()), (409, "text/x.tlog.size", "23\n"));

    // 422: the proof does not connect 23 to 30.
    let mut tree = log.tree.clone();
    let mut proof = consistency_proof(&mut tree, 23, 30).unwrap();
    proof[0] = leaf_hash(b"forged");
    let bad_proof = AddCheckpoint::new(23, proof, log.note(30)).unwrap().to_bytes();
    assert_eq!(post(url, bad_proof).await.0, 422);

    // 403: a checkpoint signed by another key under the log's name.
    let impostor = Ed25519Signer::from_seed(ORIGIN, &[13; 32]).unwrap();
    let forged = Checkpoint::new(ORIGIN, 30, log.tree.root_at(30).unwrap()).unwrap();
    let forged = forged.sign(&impostor).unwrap().to_bytes();
    let mut tree = log.tree.clone();
    let proof = consistency_proof(&mut tree, 23, 30).unwrap();
    let (status, _, _) = post(url, AddCheckpoint::new(23, proof, forged).unwrap().to_bytes()).await;
    assert_eq!(status, 403);

    // 404: a log the witness does not follow.
    let stranger = Ed25519Signer::from_seed("other.example/log", &[14; 32]).unwrap();
    let note = Checkpoint::new("other.example/log", 3, log.tree.root_at(3).unwrap()).unwrap();
    let note = note.sign(&stranger).unwrap().to_bytes();
    assert_eq!(post(url, AddCheckpoint::new(0, vec![], note).unwrap().to_bytes()).await.0, 404);

    // 400: an old size above the checkpoint's size, and a body that is no request at all.
    let above = AddCheckpoint::new(23, vec![], log.note(20)).unwrap().to_bytes();
    assert_eq!(post(url, above).await.0, 400);
    assert_eq!(post(url, b"hello\n".to_vec()).await.0, 400);

    // None of the refusals moved the witness: it still extends from 23.
    assert_eq!(post(url, log.body(23, 30)).await.0, 200);
    witness.stop().await;
}

#[tokio::test]
async fn a_fork_is_refused_and_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = Log::new();
    let witness = start(&log, &state).await;
    assert_eq!(post(&witness.url, log.body(0, 16)).await.0, 200);

    let fork = log.note_with_root(16, leaf_hash(b"another history of 16 entries"));
    let request = AddCheckpoint::new(16, vec![], fork).unwrap().to_bytes();
    let (status, content_type, body) = post(&witness.url, request).await;
    assert_eq!((status, content_type.as_str(), body.as_str()), (409, "text/x.tlog.size", "16\n"));
    let evidence = std::fs::read_to_string(dir.path().join("state.evidence")).unwrap();
    assert!(evidence.contains("size 16 was cosigned with root"), "{evidence}");
    assert!(evidence.contains(&leaf_hash(b"another history of 16 entries").to_base64()));
    witness.stop().await;
}

#[tokio::test]
async fn the_state_is_on_disk_before_the_answer_and_a_restart_remembers_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("witness.state");
    let log = Log::new();
    let witness = start(&log, &state).await;
    assert_eq!(post(&witness.url, log.body(0, 40)).await.0, 200);
    // Read while the witness still runs: the 200 came after the write.
    let expected = format!(
        "sverka-witness-state/v1\n40 {} {ORIGIN}\n",
        log.tree.root_at(40).unwrap().to_base64()
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), expected);
    witness.stop().await;

    let witness = start(&log, &state).await;
    let fork = log.note_with_root(40, leaf_hash(b"rewritten"));
    let fork = AddCheckpoint::new(40, vec![], fork).unwrap().to_bytes();
    assert_eq!(post(&witness.url, fork).await.0, 409, "a second root for 40 after a restart");
    let (status, _, body) = post(&witness.url, log.body(0, 20)).await;
    assert_eq!((status, body.as_str()), (409, "40\n"), "a rollback to 20 after a restart");
    assert_eq!(post(&witness.url, log.body(40, 64)).await.0, 200);
    witness.stop().await;
}

#[tokio::test]
async fn racing_requests_for_two_roots_of_one_size_get_one_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let witness = start(&log, &dir.path().join("state")).await;
    assert_eq!(post(&witness.url, log.body(0, 8)).await.0, 200);
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let root =
            if i % 2 == 0 { log.tree.root_at(32).unwrap() } else { leaf_hash(&i.to_be_bytes()) };
        let mut tree = log.tree.clone();
        let proof = consistency_proof(&mut tree, 8, 32).unwrap();
        let body = AddCheckpoint::new(8, proof, log.note_with_root(32, root)).unwrap().to_bytes();
        let url = witness.url.clone();
        tasks.push(tokio::spawn(async move { (root, post(&url, body).await.0) }));
    }
    let mut cosigned_roots = std::collections::BTreeSet::new();
    for task in tasks {
        let (root, status) = task.await.unwrap();
        if status == 200 {
            cosigned_roots.insert(root.to_base64());
        }
    }
    assert_eq!(
        cosigned_roots.into_iter().collect::<Vec<_>>(),
        vec![log.tree.root_at(32).unwrap().to_base64()],
        "only the root the proof supports is cosigned, whatever the order"
    );
    witness.stop().await;
}

#[test]
fn witness_flags_are_url_then_key_and_say_what_is_wrong() {
    let vkey = witness_key().verifier().to_vkey();
    let endpoint = sverka_server::witnessing::WitnessEndpoint::parse(&format!(
        "http://127.0.0.1:9000/w/=name=x/={vkey}"
    ))
    .unwrap();
    assert_eq!(endpoint.url, "http://127.0.0.1:9000/w/=name=x");
    assert_eq!(endpoint.key.to_vkey(), vkey);
    let https =
        sverka_server::witnessing::WitnessEndpoint::parse(&format!("https://w.example={vkey}"));
    assert!(https.unwrap_err().contains("plain http://"));
    let no_key = sverka_server::witnessing::WitnessEndpoint::parse("http://w.example");
    assert!(no_key.unwrap_err().contains("URL=VKEY"));
}
