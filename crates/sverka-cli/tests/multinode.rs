//! Three `sverka serve` nodes on one PostgreSQL database (issue 9): the simulated 2021 night (300
//! stations) is sent by four client threads to the three nodes at random, as a load balancer
//! without sticky sessions would, while the sequencer is killed with SIGKILL twice and restarted.
//! Then: every submission that got a receipt is in the log exactly once, at the index of its
//! receipt, and every receipt can be fetched from a node other than the one that gave it; every
//! checkpoint any node served during the run is consistent with the final one (so each with every
//! later one); `sverka publish` + `sverka verify` pass; and the published results equal those of a
//! single-node SQLite run of the same accepted submissions.
//!
//! The PostgreSQL server comes from `SVERKA_TEST_POSTGRES` (`.ci/run` starts a throwaway cluster);
//! without it the test says it was skipped, and fails under CI or `SVERKA_REQUIRE_SHARED=1`.

mod fault_common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_common::{agent, json, publish_and_verify, required, sverka};
use rand::{Rng, SeedableRng};
use sverka_tlog::{Checkpoint, Ed25519Verifier, Hash, Tile, VerifierSet};

const ELECTION_2021: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kyrgyzstan-2021/election.toml");
const NODES: usize = 3;
const CLIENTS: usize = 4;

/// The PostgreSQL server of `SVERKA_TEST_POSTGRES`, or `None` (skipped) outside CI.
fn postgres_server() -> Option<String> {
    match std::env::var("SVERKA_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(
                !required() && !ci,
                "SVERKA_TEST_POSTGRES is not set: the multi-node test needs a PostgreSQL server (.ci/run starts one)"
            );
            eprintln!("skipped: the multi-node test (SVERKA_TEST_POSTGRES is not set)");
            None
        }
    }
}

/// `url` naming database `name` instead of its own (URL or key=value form).
fn with_database_name(url: &str, name: &str) -> String {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return format!("{url} dbname={name}");
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").unwrap() + 3;
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// A new, empty database on `server`; its URL.
fn fresh_database(server: &str, what: &str) -> String {
    let name = format!("sverka_{what}_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let mut client = postgres::Client::connect(server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to SVERKA_TEST_POSTGRES ({server}): {e}"));
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    with_database_name(server, &name)
}

/// The process id of the node named in the lease row (`host:pid:tag`, see `sverka_store::nodes`).
fn lease_holder(client: &mut postgres::Client) -> Option<u32> {
    let row = client.query_one("SELECT holder FROM sequencer WHERE id = 1", &[]).ok()?;
    let holder: String = row.get(0);
    holder.rsplit(':').nth(1)?.parse().ok()
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// One `sverka serve` node: its own copy of the data directory (key and `database` file), a fixed
/// port (a restarted node comes back where the clients send), killed when dropped.
struct Node {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    starts: usize,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log(&self, start: usize) -> PathBuf {
        self.dir.with_extension(format!("serve-{start}.log"))
    }

    /// Starts `sverka serve` and waits until `/readyz` answers 200.
    fn start(&mut self) {
        self.starts += 1;
        let log = self.log(self.starts);
        let child = sverka()
            .arg("serve")
            .arg(&self.dir)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--rate-per-ip", "off", "--rate-per-key", "off"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("sverka serve starts");
        self.child = Some(child);
        let ready = agent(Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            let answer = ready.get(format!("{}/readyz", self.base())).call();
            if answer.is_ok_and(|r| r.status() == 200) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("sverka serve exited with {status}: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("sverka serve was not ready within 90 s: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log(self.starts)).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running node");
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("node on port {} did not stop within 30 s of SIGTERM", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A receipt a client got: which line, from which node, where the entry is.
#[derive(Clone, Debug)]
struct Ack {
    line: usize,
    node: usize,
    leaf_hash: String,
    index: u64,
}

/// What the clients learned: receipts, and lines the nodes refused (4xx other than 408/429) with
/// the status.
#[derive(Default)]
struct Outcomes {
    acks: Vec<Ack>,
    refused: BTreeMap<usize, u16>,
}

/// Whether an answer is final for the client (a receipt or a refusal), not "try again".
fn is_final(status: u16) -> bool {
    (200..500).contains(&status) && status != 408 && status != 429
}

/// A client thread: sends its `lines` (by number) one by one, or in batches of 5 when `batch`,
/// each request to a node picked at random; a request that fails or answers "try again" goes
/// again to a node picked at random, until every line has a final answer.
fn client(
    seed: u64,
    bases: Arc<Vec<String>>,
    lines: Arc<Vec<Vec<u8>>>,
    mine: Vec<usize>,
    batch: bool,
    outcomes: Arc<Mutex<Outcomes>>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let agent = agent(Duration::from_secs(60));
    let chunk = if batch { 5 } else { 1 };
    let deadline = Instant::now() + Duration::from_secs(600);
    for group in mine.chunks(chunk) {
        let mut todo: Vec<usize> = group.to_vec();
        while !todo.is_empty() {
            assert!(Instant::now() < deadline, "lines {todo:?} got no final answer in 10 min");
            let node = rng.gen_range(0..bases.len());
            let answers = if batch {
                post_batch(&agent, &bases[node], &lines, &todo)
            } else {
                post_one(&agent, &bases[node], &lines[todo[0]]).map(|a| vec![a])
            };
            let Some(answers) = answers else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let mut again = Vec::new();
            let mut outcomes = outcomes.lock().unwrap();
            for (&line, (status, receipt)) in todo.iter().zip(answers) {
                match (status, receipt) {
                    (200 | 201, Some(receipt)) => outcomes.acks.push(Ack {
                        line,
                        node,
                        leaf_hash: receipt["leaf_hash"].as_str().expect("leaf_hash").into(),
                        index: receipt["index"].as_u64().expect("index"),
                    }),
                    (status, _) if is_final(status) => {
                        outcomes.refused.insert(line, status);
                    }
                    _ => again.push(line),
                }
            }
            todo = again;
        }
    }
}

/// `POST /api/v1/submissions`: the status and, if 200/201, the receipt; `None` if the request
/// failed on the way.
fn post_one(
    agent: &ureq::Agent,
    base: &str,
    line: &[u8],
) -> Option<(u16, Option<serde_json::Value>)> {
    let response = agent.post(format!("{base}/api/v1/submissions")).send(line).ok()?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().ok()?;
    let receipt = matches!(status, 200 | 201).then(|| serde_json::from_str(&text).unwrap());
    Some((status, receipt))
}

/// `POST /api/v1/submissions/batch`: each item's status and receipt; `None` if the request failed
/// or was not answered item by item.
fn post_batch(
    agent: &ureq::Agent,
    base: &str,
    lines: &[Vec<u8>],
    todo: &[usize],
) -> Option<Vec<(u16, Option<serde_json::Value>)>> {
    let body = todo.iter().map(|&i| lines[i].as_slice()).collect::<Vec<_>>().join(&b'\n');
    let response = agent.post(format!("{base}/api/v1/submissions/batch")).send(&body[..]).ok()?;
    if response.status() != 200 {
        return None;
    }
    let answer: serde_json::Value =
        serde_json::from_str(&response.into_body().read_to_string().ok()?).ok()?;
    let results = answer["results"].as_array()?;
    assert_eq!(results.len(), todo.len(), "one result per submission of the batch");
    Some(
        results
            .iter()
            .map(|item| {
                let status = item["status"].as_u64().expect("status") as u16;
                (status, matches!(status, 200 | 201).then(|| item["receipt"].clone()))
            })
            .collect(),
    )
}

/// Polls `/checkpoint` on every node until `stop`; every distinct note served.
fn watch_checkpoints(bases: Arc<Vec<String>>, stop: Arc<AtomicBool>) -> BTreeSet<Vec<u8>> {
    let agent = agent(Duration::from_secs(2));
    let mut seen = BTreeSet::new();
    while !stop.load(Ordering::SeqCst) {
        for base in bases.iter() {
            let Ok(response) = agent.get(format!("{base}/checkpoint")).call() else { continue };
            if response.status() == 200 {
                if let Ok(body) = response.into_body().read_to_vec() {
                    seen.insert(body);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

/// Waits until the lease row names a running node other than `not`; returns its index.
fn wait_for_sequencer(
    client: &mut postgres::Client,
    nodes: &[Node],
    not: Option<usize>,
) -> (usize, Duration) {
    let started = Instant::now();
    loop {
        let holder = lease_holder(client);
        let found = nodes
            .iter()
            .position(|node| node.pid().is_some() && node.pid() == holder)
            .filter(|&i| Some(i) != not);
        if let Some(index) = found {
            return (index, started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no node took the lease in 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_tile(out: &Path) -> impl Fn(&Tile) -> Result<Vec<u8>, String> + '_ {
    move |tile: &Tile| std::fs::read(out.join(tile.path())).map_err(|e| format!("{tile}: {e}"))
}

/// The snapshot without its checkpoint (the two logs have different keys, so different roots).
fn results_only(snapshot: &[u8]) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_slice(snapshot).expect("snapshot JSON");
    let checkpoint = value.as_object_mut().unwrap().remove("checkpoint").expect("checkpoint");
    assert!(checkpoint["size"].is_u64(), "{checkpoint}");
    value
}

#[test]
fn three_nodes_on_postgresql_survive_two_sigkills_of_the_sequencer_and_lose_nothing() {
    let Some(server) = postgres_server() else { return };
    let url = fresh_database(&server, "multinode");
    let temp = tempfile::tempdir().unwrap();
    let cwd = temp.path();
    let at = |name: &str| cwd.join(name);

    // The night, a data directory moved into PostgreSQL, and a copy of it for each node.
    let simulate = ["simulate", "--election", ELECTION_2021, "--seed", "2021", "--stations", "300"];
    run(sverka().args(simulate).args(["--out", "night"]).current_dir(cwd), "sverka simulate");
    let init = ["init", "data", "--election", "night/election.toml"];
    run(sverka().args(init).current_dir(cwd), "sverka init");
    run(sverka().args(["migrate", "data", "--database", &url]).current_dir(cwd), "sverka migrate");
    let text = std::fs::read(at("night/submissions.jsonl")).unwrap();
    let lines: Vec<Vec<u8>> =
        text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|i| {
            let dir = at(&format!("node-{i}"));
            std::fs::create_dir_all(dir.join("keys")).unwrap();
            for file in ["database", "keys/log.key"] {
                std::fs::copy(at("data").join(file), dir.join(file)).unwrap();
            }
            Node { dir, port: fault_common::free_port(), child: None, starts: 0 }
        })
        .collect();
    for node in &mut nodes {
        node.start();
    }
    let mut lease = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let (mut sequencer, _) = wait_for_sequencer(&mut lease, &nodes, None);

    // Clients spread the night over the three nodes at random; the checkpoints are watched. A
    // signer's submissions come from one client, in order (its sequence numbers must rise, E105),
    // as from one scanner or one operator's terminal.
    let client_of = clients_by_signer(&lines);
    let bases: Arc<Vec<String>> = Arc::new(nodes.iter().map(Node::base).collect());
    let shared_lines = Arc::new(lines.clone());
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (bases, stop) = (bases.clone(), stop.clone());
        std::thread::spawn(move || watch_checkpoints(bases, stop))
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mine: Vec<usize> = (0..lines.len()).filter(|&i| client_of[i] == c).collect();
            let (bases, lines, outcomes) = (bases.clone(), shared_lines.clone(), outcomes.clone());
            std::thread::spawn(move || {
                client(c as u64, bases, lines, mine, c == CLIENTS - 1, outcomes)
            })
        })
        .collect();

    // SIGKILL the sequencer at a quarter and at half of the receipts; restart it once another
    // node has taken the lease.
    for share in [4, 2] {
        let target = lines.len() / share;
        let deadline = Instant::now() + Duration::from_secs(600);
        while outcomes.lock().unwrap().acks.len() < target {
            assert!(Instant::now() < deadline, "fewer than {target} receipts in 10 min");
            std::thread::sleep(Duration::from_millis(5));
        }
        let before = outcomes.lock().unwrap().acks.len();
        nodes[sequencer].kill();
        let (next, took) = wait_for_sequencer(&mut lease, &nodes, Some(sequencer));
        eprintln!(
            "killed node {sequencer} (sequencer) at {before} receipts; node {next} took the lease after {took:?}"
        );
        assert!(before < lines.len(), "the kill came during the run");
        nodes[sequencer].start();
        sequencer = next;
    }
    for client in clients {
        client.join().expect("client thread");
    }
    stop.store(true, Ordering::SeqCst);
    let seen = watcher.join().expect("checkpoint watcher");
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());

    // Every receipt is served by a node other than the one that gave it.
    let reader = agent(Duration::from_secs(30));
    for ack in &outcomes.acks {
        let other = (ack.node + 1 + ack.line % (NODES - 1)) % NODES;
        let url = format!("{}/api/v1/receipts/{}", bases[other], ack.leaf_hash);
        let response = reader.get(url).call().unwrap();
        assert_eq!(response.status(), 200, "node {other} knows the receipt of line {}", ack.line);
        assert_eq!(json(response)["index"].as_u64(), Some(ack.index), "line {}", ack.line);
    }
    for node in &mut nodes {
        let status = node.terminate();
        assert!(status.success(), "SIGTERM ended node on port {} with {status}", node.port);
    }
    if let Err(failure) = publish_and_verify(&at("data"), &at("public")) {
        panic!("{failure}");
    }
    check_log(&at("data"), &lines, &outcomes);
    check_refusals(&at("night/defects.json"), &outcomes);
    check_checkpoints(&at("public"), &seen);
    check_results_equal_single_node(cwd, &at("public"));
}

/// The client thread of each line: signers dealt out in order of first appearance.
fn clients_by_signer(lines: &[Vec<u8>]) -> Vec<usize> {
    let mut signers: HashMap<String, usize> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
            let signer = value["payload"]["signer"].as_str().expect("payload.signer").to_string();
            let next = signers.len() % CLIENTS;
            *signers.entry(signer).or_insert(next)
        })
        .collect()
}

/// The nodes refused exactly the protocols the simulation planted with a broken control relation
/// (`defects.json`, lines numbered from 1), each with 422.
fn check_refusals(defects: &Path, outcomes: &Outcomes) {
    let defects: serde_json::Value =
        serde_json::from_slice(&std::fs::read(defects).unwrap()).unwrap();
    let planted: BTreeSet<usize> = defects["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "control_relation_broken")
        .map(|d| d["line"].as_u64().unwrap() as usize - 1)
        .collect();
    assert!(!planted.is_empty(), "the night has broken control relations");
    assert_eq!(outcomes.refused.keys().copied().collect::<BTreeSet<_>>(), planted);
    assert!(outcomes.refused.values().all(|&status| status == 422), "{:?}", outcomes.refused);
}

/// Every receipt names its line's entry at its index; no entry is in the log twice; refused lines
/// are not in it; the log is the election and the acknowledged lines, nothing else.
fn check_log(data: &Path, lines: &[Vec<u8>], outcomes: &Outcomes) {
    let config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    let store = sverka_store::Store::open_with(data, config).expect("open the PostgreSQL log");
    let size = store.tree_size().unwrap();
    let entries = store.entries(0..size).unwrap();
    let mut at_index: HashMap<String, u64> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let leaf = sverka_tlog::leaf_hash(entry).to_hex();
        let earlier = at_index.insert(leaf.clone(), index as u64);
        assert_eq!(earlier, None, "entry {index} ({leaf}) is also in the log at {earlier:?}");
    }
    let mut acknowledged = BTreeSet::new();
    for ack in &outcomes.acks {
        assert_eq!(ack.leaf_hash, sverka_tlog::leaf_hash(&lines[ack.line]).to_hex());
        assert_eq!(at_index.get(&ack.leaf_hash), Some(&ack.index), "line {}", ack.line);
        acknowledged.insert(ack.line);
    }
    for &line in outcomes.refused.keys() {
        let leaf = sverka_tlog::leaf_hash(&lines[line]).to_hex();
        assert!(!at_index.contains_key(&leaf), "line {line} was refused but is in the log");
    }
    assert_eq!(
        acknowledged.len() + outcomes.refused.len(),
        lines.len(),
        "every line got a final answer"
    );
    assert_eq!(size as usize, acknowledged.len() + 1, "the log: the election and each receipt");
    eprintln!(
        "{} lines: {} acknowledged ({} receipts), {} refused; log size {size}",
        lines.len(),
        acknowledged.len(),
        outcomes.acks.len(),
        outcomes.refused.len()
    );
    let lines_in_log_order: Vec<u8> = entries[1..].join(&b'\n');
    std::fs::write(data.with_file_name("log-order.jsonl"), lines_in_log_order).unwrap();
}

/// Every checkpoint served during the run is signed by the log key and consistent with the
/// published one: all are views of one tree, so each is consistent with every later one.
fn check_checkpoints(public: &Path, seen: &BTreeSet<Vec<u8>>) {
    let vkey = std::fs::read_to_string(public.join("log.vkey")).unwrap();
    let verifier = Ed25519Verifier::from_vkey(vkey.trim()).expect("log.vkey");
    let known = VerifierSet::with(vec![Box::new(verifier)]).unwrap();
    let note = std::fs::read(public.join("checkpoint")).unwrap();
    let (last, _) = Checkpoint::open(&note, &known).expect("published checkpoint");
    let mut sizes = BTreeMap::new();
    for note in seen {
        let (checkpoint, _) = Checkpoint::open(note, &known).expect("a served checkpoint");
        let (size, root) = (checkpoint.size(), checkpoint.root());
        assert!(size <= last.size(), "checkpoint {size} is beyond the published {}", last.size());
        let proof =
            sverka_tlog::consistency_proof_from_tiles(&read_tile(public), size, last.size())
                .expect("proof from the published tiles");
        sverka_tlog::verify_consistency(size, last.size(), &proof, &root, &last.root())
            .unwrap_or_else(|e| panic!("checkpoint {size} is not consistent with the last: {e}"));
        let before: Option<Hash> = sizes.insert(size, root);
        assert!(before.is_none_or(|r| r == root), "two roots for size {size}");
    }
    assert!(sizes.len() >= 3, "the nodes served only {} checkpoints", sizes.len());
    eprintln!("{} checkpoints served, sizes {:?}", sizes.len(), sizes.keys().collect::<Vec<_>>());
}

/// A single node on SQLite, given the accepted submissions in the same order, publishes the same
/// results.
fn check_results_equal_single_node(cwd: &Path, public: &Path) {
    let init = ["init", "single", "--election", "night/election.toml"];
    run(sverka().args(init).current_dir(cwd), "sverka init");
    run(sverka().args(["import", "single", "log-order.jsonl"]).current_dir(cwd), "sverka import");
    let single = run(sverka().args(["results", "single"]).current_dir(cwd), "sverka results");
    let checkpoint = std::fs::read_to_string(public.join("checkpoint")).unwrap();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let published = std::fs::read(public.join(format!("snapshot/{size}.json"))).unwrap();
    let (published, single) = (results_only(&published), results_only(single.as_bytes()));
    assert_eq!(published["entries"], single["entries"]);
    assert!(published == single, "the published results differ from the single node's");
}

/// `sverka init DIR --database URL` puts the new log into PostgreSQL: DIR holds the key and the
/// URL, no SQLite file; the log takes a night and its publication verifies; a second init into
/// the same database is refused and leaves nothing behind.
#[test]
fn init_with_a_database_puts_the_log_in_postgresql() {
    let Some(server) = postgres_server() else { return };
    let url = fresh_database(&server, "init");
    let temp = tempfile::tempdir().unwrap();
    let cwd = temp.path();
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tiny/election.toml");
    let simulate = ["simulate", "--election", tiny, "--seed", "9", "--out", "night"];
    run(sverka().args(simulate).current_dir(cwd), "sverka simulate");
    let init = ["init", "data", "--election", "night/election.toml", "--database", &url];
    let printed = run(sverka().args(init).current_dir(cwd), "sverka init --database");
    let database = printed.lines().find(|l| l.trim_start().starts_with("database:")).unwrap();
    assert!(database.contains("postgres") && database.contains("sverka_init_"), "{printed}");
    assert!(!cwd.join("data/sverka.db").exists(), "no SQLite log beside the PostgreSQL one");
    assert_eq!(std::fs::read_to_string(cwd.join("data/database")).unwrap().trim(), url);

    let import = run(
        sverka().args(["import", "data", "night/submissions.jsonl"]).current_dir(cwd),
        "sverka import",
    );
    let new: u64 = import
        .lines()
        .find_map(|l| l.trim().strip_prefix("accepted, new:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{import}"));
    assert!(new > 0, "{import}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: i64 = client.query_one("SELECT COUNT(*) FROM entries", &[]).unwrap().get(0);
    assert_eq!(rows as u64, new + 1, "the election and the night are in PostgreSQL");
    if let Err(failure) = publish_and_verify(&cwd.join("data"), &cwd.join("public")) {
        panic!("{failure}");
    }

    let again = ["init", "other", "--election", "night/election.toml", "--database", &url];
    let refused = sverka().args(again).current_dir(cwd).output().unwrap();
    assert!(!refused.status.success(), "a second log in the same database");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("already holds a sverka log"), "{stderr}");
    assert!(!cwd.join("other").exists(), "the refused init left {}", cwd.join("other").display());
    let bad = ["init", "x", "--election", "night/election.toml", "--database", "mysql://db/x"];
    let bad = sverka().args(bad).current_dir(cwd).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a PostgreSQL URL"));
}
