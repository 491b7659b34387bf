//! No private key is ever printed, logged, served or published (THREATS.md, "Keys"). A real
//! night with every kind of key: the log key, the simulated night's scanner, operator, observer
//! and CEC keys, a scanner key made and registered with `sverka keys`, a district's workspace
//! signing key, and a witness key, with `sverka serve` cosigned by `sverka witness serve`. Every
//! command's stdout and stderr, the server's and the witness's logs at debug level, every HTTP
//! answer (the site crawled link by link, the API, the workspace signed in) and every published
//! file are searched for each private key: its raw 32 bytes, hex, base64 (standard and URL-safe,
//! at every alignment inside a longer base64 text) and the C2SP `PRIVATE+KEY+…` string.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use sverka_tlog::Ed25519Signer;

const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tiny/election.toml");
const PASSWORD: &str = "correct horse battery staple";

/// Everything the test saw, labelled by where it came from.
#[derive(Default)]
struct Seen(Vec<(String, Vec<u8>)>);

impl Seen {
    fn add(&mut self, label: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((label.into(), bytes.into()));
    }

    /// Runs `sverka args`, keeps its stdout and stderr, and returns the output (after checking
    /// it succeeded).
    fn sverka(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sverka"));
        command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = command.spawn().expect("sverka runs");
        if let Some(text) = stdin {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        let what = format!("sverka {}", args.join(" "));
        assert!(output.status.success(), "{what}: {}", String::from_utf8_lossy(&output.stderr));
        self.add(format!("{what} (stdout)"), output.stdout.clone());
        self.add(format!("{what} (stderr)"), output.stderr.clone());
        output
    }

    /// GETs `url` (with `cookie`), keeps the body and the headers; returns status and body.
    fn get(&mut self, url: &str, cookie: &str) -> (u16, String) {
        let mut request = agent().get(url);
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        let response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let headers = format!("{:?}", response.headers());
        let body = response.into_body().with_config().limit(64 << 20).read_to_vec().unwrap();
        self.add(format!("GET {url} (headers)"), headers);
        self.add(format!("GET {url}"), body.clone());
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Every file under `dir`.
    fn files(&mut self, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                self.files(&path);
            } else {
                self.add(path.display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped, its stdout and stderr in files.
struct Running {
    child: Child,
    logs: [PathBuf; 2],
}

impl Running {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Running {
        let logs = [dir.join(format!("{name}.stdout")), dir.join(format!("{name}.stderr"))];
        let child = Command::new(env!("CARGO_BIN_EXE_sverka"))
            .args(args)
            .env("SVERKA_LOG", "debug")
            .stdout(File::create(&logs[0]).unwrap())
            .stderr(File::create(&logs[1]).unwrap())
            .spawn()
            .expect("sverka starts");
        Running { child, logs }
    }

    /// Stops the process and keeps what it wrote.
    fn stop(mut self, seen: &mut Seen) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for log in &self.logs {
            seen.add(log.display().to_string(), std::fs::read(log).unwrap());
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private key's 32-byte seed from a key file: `PRIVATE+KEY+name+id+base64(type || seed)` or
/// the base64 of the seed.
fn seed_of(text: &str) -> [u8; 32] {
    let text = text.trim();
    let encoded = match text.strip_prefix("PRIVATE+KEY+") {
        Some(rest) => rest.splitn(3, '+').nth(2).unwrap(),
        None => text,
    };
    let bytes = STANDARD.decode(encoded).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    bytes[bytes.len() - 32..].try_into().unwrap()
}

/// The forms a key could leak in: raw, hex, and base64 at each of the three alignments a
/// 32-byte run can have inside a longer base64 text (the characters that depend on the key alone).
fn forms(seed: &[u8; 32]) -> Vec<Vec<u8>> {
    let mut forms = vec![seed.to_vec()];
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.clone().into_bytes());
    forms.push(hex.to_uppercase().into_bytes());
    for prefix in 0..3 {
        let mut bytes = vec![0u8; prefix];
        bytes.extend_from_slice(seed);
        for engine in [STANDARD, URL_SAFE] {
            let text = engine.encode(&bytes);
            // Skip the characters that also hold prefix bits, and the last, partial group.
            let start = (prefix * 4).div_ceil(3) + 1;
            forms.push(text.as_bytes()[start..text.len() - 4].to_vec());
        }
    }
    forms
}

/// Where any of `needles` (each at least 8 bytes) occurs in `haystack`: the needle's index.
fn find_any(haystack: &[u8], needles: &[Vec<u8>]) -> Option<usize> {
    let mut by_head: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
    for (i, needle) in needles.iter().enumerate() {
        by_head.entry(needle[..8].try_into().unwrap()).or_default().push(i);
    }
    for (at, window) in haystack.windows(8).enumerate() {
        let Some(candidates) = by_head.get(<&[u8; 8]>::try_from(window).unwrap()) else {
            continue;
        };
        let rest = &haystack[at..];
        if let Some(&i) = candidates.iter().find(|&&i| rest.starts_with(&needles[i])) {
            return Some(i);
        }
    }
    None
}

/// Every `href="/…"` of a page, without its fragment.
fn links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|link| link.starts_with('/') && !link.starts_with("//"))
        .map(|link| link.split('#').next().unwrap().replace("&amp;", "&"))
        .collect()
}

/// The value of `name="NAME" value="…"` in a form.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = page.split(&marker).nth(1).unwrap_or_else(|| panic!("no {name} in {page}"));
    rest.split('"').next().unwrap().to_string()
}

/// `name=value` of the cookies an answer sets.
fn cookies(response: &ureq::http::Response<ureq::Body>) -> String {
    let values = response.headers().get_all("set-cookie").iter();
    let pairs = values.filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string));
    pairs.collect::<Vec<_>>().join("; ")
}

#[test]
fn no_private_key_appears_in_any_output_answer_log_or_published_file() {
    let dir = tempfile::tempdir().unwrap();
    let (night, data, public) =
        (dir.path().join("night"), dir.path().join("data"), dir.path().join("public"));
    let mut seen = Seen::default();
    seen.sverka(&["simulate", "--election", TINY, "--seed", "5", "--out", p(&night)], None);
    seen.sverka(&["init", p(&data), "--election", p(&night.join("election.toml"))], None);
    let log_skey = std::fs::read_to_string(data.join("keys/log.key")).unwrap();
    let log_vkey = Ed25519Signer::from_skey(log_skey.trim()).unwrap().verifier().to_vkey();

    // A scanner key made and registered by the CLI, and a district's workspace signing key.
    let scanner = dir.path().join("scanner-1001-b.key");
    let args = ["keys", "new", "--role", "machine", "--station", "1001", "--out", p(&scanner)];
    let public_key = String::from_utf8(seen.sverka(&args, None).stdout).unwrap();
    assert!(!public_key.trim().is_empty(), "keys new prints the public key");
    let registration = dir.path().join("register.jsonl");
    let admin = night.join("keys/admin-1.key");
    seen.sverka(
        &["keys", "register", "--admin", p(&admin), "--election", "tiny", "--seq", "100000"]
            .into_iter()
            .chain(["--role", "machine", "--station", "1001", "--id", "scanner-1001-b"])
            .chain(["--key", p(&scanner), "--out", p(&registration)])
            .collect::<Vec<_>>(),
        None,
    );
    let operator = night.join("keys/operator-d1-1.key");
    let args = ["accounts", "signing-key", p(&data), "--district", "d1", "--key-id"];
    seen.sverka(&[&args[..], &["operator-d1-1", "--key", p(&operator)]].concat(), None);
    let password = format!("{PASSWORD}\n");
    let args = ["accounts", "add", p(&data), "clerk", "--role", "operator", "--district", "d1"];
    seen.sverka(&args, Some(&password));

    // A witness, and the server cosigned by it.
    let witness_key = dir.path().join("witness.key");
    let args = ["witness", "keygen", "--out", p(&witness_key), "--name", "witness.example"];
    let witness_vkey = String::from_utf8(seen.sverka(&args, None).stdout).unwrap();
    let witness_port = free_port();
    let witness_listen = format!("127.0.0.1:{witness_port}");
    let state = dir.path().join("witness.state");
    let witness = Running::start(
        dir.path(),
        "witness",
        &["witness", "serve", "--key", p(&witness_key), "--state", p(&state)]
            .into_iter()
            .chain(["--listen", &witness_listen, "--log", &log_vkey])
            .collect::<Vec<_>>(),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let witness_flag = format!("http://{witness_listen}={}", witness_vkey.trim());
    let listen = format!("127.0.0.1:{port}");
    let args = ["serve", p(&data), "--listen", &listen, "--witness", &witness_flag];
    let server = Running::start(dir.path(), "serve", &args);
    wait_until("sverka serve", || agent().get(format!("{base}/healthz")).call().is_ok());

    // The night and the new key's registration over HTTP.
    let mut body = std::fs::read(night.join("submissions.jsonl")).unwrap();
    body.extend(std::fs::read(&registration).unwrap());
    let answer = agent().post(format!("{base}/api/v1/submissions/batch")).send(&body[..]).unwrap();
    assert_eq!(answer.status(), 200);
    let results = answer.into_body().read_to_string().unwrap();
    seen.add("POST /api/v1/submissions/batch", results);
    wait_until("a witnessed checkpoint", || {
        let response = agent().get(format!("{base}/checkpoint")).call().unwrap();
        response.headers().get("sverka-witnessed").is_some_and(|v| v == "yes")
    });

    // Every page reachable from the national pages, and the API.
    let mut queue: VecDeque<String> = ["/", "/?lang=en", "/?lang=ru", "/reconciliation"]
        .into_iter()
        .chain(["/api/v1/results", "/api/v1/quarantine", "/api/v1/reconciliation"])
        .chain(["/checkpoint", "/log.vkey", "/metrics", "/readyz", "/changes.json"])
        .chain(["/changes.atom", "/api/v1/openapi.json", "/login", "/workspace"])
        .map(String::from)
        .collect();
    let mut visited = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if visited.len() >= 400 || !visited.insert(path.clone()) {
            continue;
        }
        let (_, page) = seen.get(&format!("{base}{path}"), "");
        queue.extend(links(&page).into_iter().filter(|link| !visited.contains(link)));
    }
    assert!(visited.len() > 30, "the crawl reached {} pages", visited.len());

    // The workspace, signed in as the district's operator.
    let form = agent().get(format!("{base}/login")).call().unwrap();
    let login_cookie = cookies(&form);
    let token = hidden(&form.into_body().read_to_string().unwrap(), "login_token");
    let login = agent()
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .send(format!("name=clerk&password={}&login_token={token}", PASSWORD.replace(' ', "+")))
        .unwrap();
    assert_eq!(login.status(), 303, "the clerk signs in");
    let session = cookies(&login);
    seen.get(&format!("{base}/workspace"), &session);
    let (status, district) = seen.get(&format!("{base}/workspace/district/d1"), &session);
    assert_eq!(status, 200, "the clerk opens its district: {district}");
    for link in links(&district).into_iter().filter(|l| l.starts_with("/workspace")).take(40) {
        seen.get(&format!("{base}{link}"), &session);
    }

    server.stop(&mut seen);
    witness.stop(&mut seen);
    seen.sverka(&["publish", p(&data), "--out", p(&public)], None);
    seen.sverka(&["verify", p(&public)], None);
    let receipt = dir.path().join("receipt.proof");
    let args = ["receipt", "get", p(&public), "--index", "3", "--out", p(&receipt)];
    seen.sverka(&args, None);
    seen.sverka(&["receipt", "check", p(&receipt), "--key", &log_vkey], None);
    seen.files(&public);
    seen.add("receipt.proof", std::fs::read(&receipt).unwrap());
    seen.add("witness.state", std::fs::read(&state).unwrap());

    // Every private key that took part.
    let mut keys: Vec<(String, String)> = vec![
        ("the log key".into(), log_skey),
        ("the witness key".into(), std::fs::read_to_string(&witness_key).unwrap()),
        ("the registered scanner key".into(), std::fs::read_to_string(&scanner).unwrap()),
    ];
    for entry in std::fs::read_dir(night.join("keys")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "keys") {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (id, key) = line.split_once(' ').unwrap();
                keys.push((id.to_string(), key.to_string()));
            }
        } else {
            keys.push((path.display().to_string(), text));
        }
    }
    assert!(keys.len() >= 10, "{} keys", keys.len());
    let total: usize = seen.0.iter().map(|(_, bytes)| bytes.len()).sum();
    assert!(total > 256 << 10, "only {total} bytes were captured");
    let mut needles = Vec::new();
    let mut owners = Vec::new();
    for (name, text) in &keys {
        let mut forms = forms(&seed_of(text));
        if text.trim().starts_with("PRIVATE+KEY+") {
            forms.push(text.trim().as_bytes().to_vec());
        }
        // The search finds each key in its own key file (base64 there), so it can find a leak.
        assert!(find_any(text.as_bytes(), &forms).is_some(), "{name}: its own file");
        owners.extend(std::iter::repeat_n(name.as_str(), forms.len()));
        needles.extend(forms);
    }
    for (label, bytes) in &seen.0 {
        if let Some(i) = find_any(bytes, &needles) {
            let form = String::from_utf8_lossy(&needles[i]);
            panic!("{}'s private key ({form}) appears in {label}", owners[i]);
        }
    }
}
