//! Witnessed publication end to end, with real processes over real HTTP: a (scaled-down) 2021
//! night served by `sverka serve` with two `sverka witness serve` processes; the checkpoint
//! carries both cosignatures live, after more entries (a consistency proof from the witnesses'
//! last size), in `sverka publish`'s output, and `sverka verify` with a quorum of both accepts it.
//! Then the attacks a witness must refuse — a fork (a second root for a size it cosigned), a
//! rollback to an older checkpoint, a forged log signature — before and after the witness is
//! killed with SIGKILL and restarted on its state file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sverka_tlog::witness::AddCheckpoint;
use sverka_tlog::{leaf_hash, Checkpoint, CosignatureVerifier, Ed25519Signer, Note};

const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tiny/election.toml");
const ELECTION: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kyrgyzstan-2021/election.toml");

fn sverka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).output().expect("sverka runs")
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// A child process killed (SIGKILL) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// One witness process and what a client needs of it.
struct WitnessProcess {
    key_file: PathBuf,
    state: PathBuf,
    vkey: String,
    url: String,
    process: Option<Running>,
}

impl WitnessProcess {
    fn new(dir: &Path, name: &str) -> WitnessProcess {
        let key_file = dir.join(format!("{name}.key"));
        let vkey =
            ok(sverka(&["witness", "keygen", "--out", key_file.to_str().unwrap(), "--name", name]));
        WitnessProcess {
            key_file,
            state: dir.join(format!("{name}.state")),
            vkey: vkey.trim().to_owned(),
            url: String::new(),
            process: None,
        }
    }

    fn start(&mut self, log_vkey: &str) {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sverka"))
            .args(["witness", "serve", "--key"])
            .arg(&self.key_file)
            .arg("--state")
            .arg(&self.state)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--log", log_vkey])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sverka witness serve starts");
        self.process = Some(Running(child));
        self.url = format!("http://127.0.0.1:{port}");
        let url = format!("{}/add-checkpoint", self.url);
        wait_until("the witness to answer", 30, || {
            agent().post(&url).send("not a request").is_ok_and(|r| r.status() == 400)
        });
    }

    fn sigkill(&mut self) {
        let mut running = self.process.take().expect("running");
        running.0.kill().expect("SIGKILL");
        running.0.wait().unwrap();
    }

    /// Status and body of an `add-checkpoint` request.
    fn add(&self, old: u64, note: &[u8]) -> (u16, String) {
        let body = AddCheckpoint::new(old, vec![], note.to_vec()).unwrap().to_bytes();
        let response =
            agent().post(format!("{}/add-checkpoint", self.url)).send(&body[..]).unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap())
    }
}

fn serve(data: &Path, witnesses: &[&WitnessProcess]) -> (Running, String) {
    let specs: Vec<String> = witnesses.iter().map(|w| format!("{}={}", w.url, w.vkey)).collect();
    serve_with(data, &specs, &[])
}

fn serve_with(data: &Path, witnesses: &[String], flags: &[&str]) -> (Running, String) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sverka"));
    command.arg("serve").arg(data).args(["--listen", &format!("127.0.0.1:{port}")]).args(flags);
    for witness in witnesses {
        command.args(["--witness", witness]);
    }
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("serve starts");
    let running = Running(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_until("sverka serve to answer", 60, || {
        agent().get(format!("{base}/healthz")).call().is_ok_and(|r| r.status() == 200)
    });
    (running, base)
}

/// `/checkpoint` once it is marked witnessed and at least `min_size`: the note and its size.
/// Until a checkpoint reaches the quorum a server told to wait answers 503 (retry later).
fn witnessed_checkpoint(base: &str, min_size: u64) -> (String, u64) {
    let mut found = None;
    wait_until("a witnessed checkpoint", 60, || {
        let Ok(response) = agent().get(format!("{base}/checkpoint")).call() else { return false };
        if response.status() == 503 {
            return false;
        }
        assert_eq!(response.status(), 200, "/checkpoint answers the note or 503");
        let witnessed = response.headers().get("sverka-witnessed").is_some_and(|v| v == "yes");
        let note = response.into_body().read_to_string().unwrap();
        let size = Checkpoint::parse(Note::parse(note.as_bytes()).unwrap().text()).unwrap().size();
        if witnessed && size >= min_size {
            found = Some((note, size));
        }
        found.is_some()
    });
    found.unwrap()
}

/// Checks that `note` carries a valid cosignature by each witness and returns how many did.
fn cosigned_by(note: &str, witnesses: &[&WitnessProcess]) -> usize {
    let note = Note::parse(note.as_bytes()).unwrap();
    witnesses
        .iter()
        .filter(|w| {
            let key = CosignatureVerifier::from_vkey(&w.vkey).unwrap();
            key.verify_in_note(&note).expect("a cosignature that is there verifies").is_some()
        })
        .count()
}

#[test]
fn the_2021_night_is_witnessed_by_two_witnesses_who_refuse_forks_rollbacks_and_forgeries() {
    let dir = tempfile::tempdir().unwrap();
    let (night, data, public) =
        (dir.path().join("night"), dir.path().join("data"), dir.path().join("public"));
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    ok(sverka(&[
        "simulate",
        "--election",
        ELECTION,
        "--seed",
        "1",
        "--stations",
        "150",
        "--out",
        &p(&night),
    ]));
    ok(sverka(&["init", &p(&data), "--election", &p(&night.join("election.toml"))]));
    let log_key = std::fs::read_to_string(data.join("keys/log.key")).unwrap();
    let log = Ed25519Signer::from_skey(log_key.trim()).unwrap();
    let log_vkey = log.verifier().to_vkey();

    let mut party = WitnessProcess::new(dir.path(), "witness.party.example");
    let mut ngo = WitnessProcess::new(dir.path(), "witness.ngo.example");
    party.start(&log_vkey);
    ngo.start(&log_vkey);

    // The first half of the night imported, then served: its checkpoint is cosigned by both.
    let submissions = std::fs::read_to_string(night.join("submissions.jsonl")).unwrap();
    let lines: Vec<&str> = submissions.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    std::fs::write(dir.path().join("first.jsonl"), first.join("\n") + "\n").unwrap();
    ok(sverka(&["import", &p(&data), &p(&dir.path().join("first.jsonl"))]));
    let (server, base) = serve(&data, &[&party, &ngo]);
    let (first_note, first_size) = witnessed_checkpoint(&base, 1);
    assert_eq!(cosigned_by(&first_note, &[&party, &ngo]), 2, "{first_note}");

    // The rest of the night live over HTTP: the next checkpoint is cosigned from the first size.
    let mut last_index = 0;
    for line in second {
        let response = agent().post(format!("{base}/api/v1/submissions")).send(*line).unwrap();
        if matches!(response.status().as_u16(), 200 | 201) {
            let receipt: serde_json::Value =
                serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
            last_index = last_index.max(receipt["index"].as_u64().unwrap());
        }
    }
    assert!(last_index >= first_size, "the second half added entries");
    let (final_note, final_size) = witnessed_checkpoint(&base, last_index + 1);
    assert_eq!(final_size, last_index + 1);
    assert_eq!(cosigned_by(&final_note, &[&party, &ngo]), 2, "{final_note}");
    let badge = get_text(&format!("{base}/witnessed.svg?size={final_size}&lang=en"));
    assert!(badge.contains("data-witnessed=\"yes\"") && badge.contains("2 of 2"), "{badge}");
    let page = get_text(&format!("{base}/?lang=ru"));
    assert!(
        page.contains(&format!("/witnessed.svg?size={final_size}&amp;lang=ru")),
        "the page embeds the mark"
    );
    drop(server);

    // The static publication carries the same witnessed checkpoint, and an observer requiring
    // both witnesses accepts it.
    ok(sverka(&["publish", &p(&data), "--out", &p(&public)]));
    assert_eq!(std::fs::read_to_string(public.join("checkpoint")).unwrap(), final_note);
    let verify = sverka(&[
        "verify",
        &p(&public),
        "--witness",
        &party.vkey,
        "--witness",
        &ngo.vkey,
        "--quorum",
        "2",
    ]);
    assert!(verify.status.success(), "verify: {}", String::from_utf8_lossy(&verify.stderr));

    // Attacks, with the log's own key where the attack needs it.
    let origin = log.verifier().to_vkey().split('+').next().unwrap().to_owned();
    let fork = Checkpoint::new(&origin, final_size, leaf_hash(b"another history")).unwrap();
    let fork = fork.sign(&log).unwrap().to_bytes();
    let first_bytes = first_note.as_bytes();
    let impostor = Ed25519Signer::from_seed(&origin, &[42; 32]).unwrap();
    let real = Checkpoint::parse(Note::parse(final_note.as_bytes()).unwrap().text()).unwrap();
    let forged = Checkpoint::new(&origin, final_size + 5, real.root()).unwrap();
    let forged = forged.sign(&impostor).unwrap().to_bytes();
    let size_line = format!("{final_size}\n");
    let attacks = |witness: &WitnessProcess| {
        assert_eq!(witness.add(final_size, &fork), (409, size_line.clone()), "fork");
        assert_eq!(witness.add(final_size, first_bytes).0, 400, "rollback from the witness's size");
        assert_eq!(witness.add(first_size, first_bytes), (409, size_line.clone()), "rollback");
        assert_eq!(witness.add(0, first_bytes), (409, size_line.clone()), "rollback as new");
        assert_eq!(witness.add(final_size, &forged).0, 403, "forged log signature");
    };
    attacks(&party);
    attacks(&ngo);

    // SIGKILL and restart: the witness remembers what it cosigned.
    party.sigkill();
    party.start(&log_vkey);
    attacks(&party);
    assert_eq!(party.add(final_size, final_note.as_bytes()).0, 200, "the real checkpoint again");

    // A fresh server knows no witness's size: it learns it from the 409 and is cosigned again.
    std::fs::remove_dir_all(data.join("cosigned")).unwrap();
    let (_server, base) = serve(&data, &[&party, &ngo]);
    let (again, size) = witnessed_checkpoint(&base, final_size);
    assert_eq!(size, final_size);
    assert_eq!(cosigned_by(&again, &[&party, &ngo]), 2, "{again}");
}

/// The body of a `GET` that must answer 200.
fn get_text(url: &str) -> String {
    let response = agent().get(url).call().unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.into_body().read_to_string().unwrap()
}

/// `GET /checkpoint`: status, the `Sverka-Witnessed` header, the body.
fn get_checkpoint(base: &str) -> (u16, String, String) {
    let response = agent().get(format!("{base}/checkpoint")).call().unwrap();
    let status = response.status().as_u16();
    let witnessed = response
        .headers()
        .get("sverka-witnessed")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, witnessed, response.into_body().read_to_string().unwrap())
}

#[test]
fn below_the_quorum_a_checkpoint_is_published_marked_unwitnessed_or_held_back_when_told_to_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (night, data) = (dir.path().join("night"), dir.path().join("data"));
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    ok(sverka(&["simulate", "--election", TINY, "--seed", "2", "--out", &p(&night)]));
    ok(sverka(&["init", &p(&data), "--election", &p(&night.join("election.toml"))]));
    ok(sverka(&["import", &p(&data), &p(&night.join("submissions.jsonl"))]));
    let log_key = std::fs::read_to_string(data.join("keys/log.key")).unwrap();
    let log_vkey = Ed25519Signer::from_skey(log_key.trim()).unwrap().verifier().to_vkey();
    let mut up = WitnessProcess::new(dir.path(), "witness.up.example");
    // --log also takes a file holding the key, as a publication's log.vkey does.
    let vkey_file = dir.path().join("log.vkey");
    std::fs::write(&vkey_file, format!("{log_vkey}\n")).unwrap();
    up.start(&p(&vkey_file));
    // keygen never overwrites a key.
    let key_before = std::fs::read(&up.key_file).unwrap();
    let again = sverka(&["witness", "keygen", "--out", &p(&up.key_file)]);
    assert!(!again.status.success(), "keygen over an existing key file must fail");
    assert_eq!(std::fs::read(&up.key_file).unwrap(), key_before);
    // A witness nobody answers for: its port is free.
    let down = WitnessProcess::new(dir.path(), "witness.down.example");
    let witnesses = [
        format!("{}={}", up.url, up.vkey),
        format!("http://127.0.0.1:{}={}", free_port(), down.vkey),
    ];

    // Default: publish and mark. One of two cosignatures: served, marked unwitnessed.
    let (server, base) = serve_with(&data, &witnesses, &[]);
    wait_until("the reachable witness's cosignature", 60, || {
        let (status, _, note) = get_checkpoint(&base);
        status == 200 && cosigned_by(&note, &[&up]) == 1
    });
    let (status, witnessed, note) = get_checkpoint(&base);
    assert_eq!((status, witnessed.as_str()), (200, "no"));
    assert_eq!(cosigned_by(&note, &[&up, &down]), 1);
    let size = Checkpoint::parse(Note::parse(note.as_bytes()).unwrap().text()).unwrap().size();
    let badge = get_text(&format!("{base}/witnessed.svg?size={size}&lang=en"));
    assert!(
        badge.contains("data-witnessed=\"no\"") && badge.contains("Unwitnessed: 1 of 2"),
        "{badge}"
    );
    drop(server);

    // Told to wait: no checkpoint ever reached the quorum of 2, so none is served.
    let (server, base) = serve_with(&data, &witnesses, &["--witness-wait"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(get_checkpoint(&base).0, 503, "nothing reached the quorum");
    drop(server);

    // With a quorum of 1 the same checkpoint is witnessed and served.
    let (_server, base) =
        serve_with(&data, &witnesses, &["--witness-wait", "--witness-quorum", "1"]);
    let (note, _) = witnessed_checkpoint(&base, 1);
    assert_eq!(cosigned_by(&note, &[&up]), 1);

    // A quorum larger than the witnesses is a usage error.
    let bad = sverka(&["serve", &p(&data), "--witness", &witnesses[0], "--witness-quorum", "2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--witness-quorum 2"));
}
