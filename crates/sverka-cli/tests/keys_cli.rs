//! `sverka keys` with the real binary: a CEC admin key made by `keys new` and pasted into
//! `election.toml`; a scanner key made by `keys new`, registered by `keys register` (through
//! `sverka import`) and then able to submit; revoked by `keys revoke --post` against `sverka serve`,
//! after which its next submission is refused with `E103`. Private key files are mode 0600, never
//! overwritten, and a group-readable one is refused.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sverka_model::{Body, Payload, Protocol, Source};

const TINY: &str = include_str!("../../../examples/tiny/election.toml");

fn sverka(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sverka"));
    for arg in args {
        command.arg(arg);
    }
    command.output().expect("run sverka")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "sverka failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The `[[keys]]` table `keys new` prints for election.toml.
fn keys_table(stdout: &str) -> String {
    let start = stdout.find("[[keys]]").expect("a [[keys]] table");
    stdout[start..].to_string()
}

fn printed(stdout: &str, label: &str) -> String {
    let line = stdout.lines().find(|l| l.starts_with(label)).expect(label);
    line[label.len()..].trim().to_string()
}

/// A machine protocol of station 1001 of the tiny election that passes every control relation.
fn protocol(key_file: &Path, signer: &str, seq: u64) -> Vec<u8> {
    let key = sverka_model::keys::decode_private_key(&std::fs::read_to_string(key_file).unwrap())
        .expect("the key file holds a key");
    let options = [("sun", 300u64), ("river", 100), ("mountain", 50), ("against_all", 10)];
    let valid: u64 = options.iter().map(|(_, n)| n).sum();
    let issued = valid + 5;
    let lines = [
        ("registered", 1200),
        ("ballots_received", 1200),
        ("issued_early", 0),
        ("issued_in_room", issued),
        ("issued_outside", 0),
        ("cancelled", 1200 - issued),
        ("in_portable_boxes", 0),
        ("in_stationary_boxes", issued),
        ("invalid", 5),
        ("valid", valid),
        ("lost", 0),
        ("unaccounted", 0),
    ];
    let payload = Payload {
        v: sverka_model::submission::FORMAT_VERSION,
        election: "tiny".into(),
        signer: signer.into(),
        seq,
        time: None,
        body: Body::Protocol(Protocol {
            station: "1001".into(),
            contest: "list".into(),
            source: Source::Machine,
            lines: lines.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            votes: options.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            preferences: BTreeMap::new(),
            supersedes: None,
            scan_sha256: None,
        }),
    };
    payload.sign(&key).to_bytes()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `sverka serve DIR` on a free loopback port, once it answers.
fn serve(data: &Path) -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .arg("serve")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sverka serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if agent().get(format!("{base}/healthz")).call().is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("sverka serve did not come up");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_key_made_and_registered_by_the_cli_submits_until_it_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let admin_key = dir.path().join("cec-1.key");
    let admin_out = ok(sverka(&[&"keys", &"new", &"--role", &"admin", &"--out", &admin_key]));
    #[cfg(unix)]
    assert_eq!(mode(&admin_key), 0o600, "a private key is readable by its owner only");
    let public = printed(&admin_out, "public key:");
    let vkey = printed(&admin_out, "verifier key:");
    let verifier = sverka_tlog::note::Ed25519Verifier::from_vkey(&vkey).expect("a C2SP vkey");
    assert_eq!(sverka_model::keys::encode_public_key(verifier.public_key()), public);
    assert!(vkey.starts_with("cec-1+"), "named after the file: {vkey}");

    let again = sverka(&[&"keys", &"new", &"--role", &"admin", &"--out", &admin_key]);
    assert!(!again.status.success(), "an existing key file is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let table = keys_table(&admin_out);
    assert!(table.contains("role = \"admin\"") && table.contains(&public), "{table}");
    let election = dir.path().join("election.toml");
    std::fs::write(&election, format!("{TINY}\n{table}")).unwrap();
    let data = dir.path().join("data");
    ok(sverka(&[&"init", &data, &"--election", &election]));

    let box_key = dir.path().join("box-1001.key");
    let box_out = ok(sverka(&[
        &"keys",
        &"new",
        &"--role",
        &"machine",
        &"--station",
        &"1001",
        &"--out",
        &box_key,
    ]));
    assert!(keys_table(&box_out).contains("station = \"1001\""));
    let unregistered = dir.path().join("early.jsonl");
    std::fs::write(&unregistered, [protocol(&box_key, "box-1001", 1), b"\n".to_vec()].concat())
        .unwrap();
    let imported = ok(sverka(&[&"import", &data, &unregistered]));
    assert!(imported.contains("E102: 1"), "not registered yet: {imported}");

    let registration = dir.path().join("register.jsonl");
    ok(sverka(&[
        &"keys",
        &"register",
        &"--admin",
        &admin_key,
        &"--election",
        &"tiny",
        &"--seq",
        &"1",
        &"--id",
        &"box-1001",
        &"--role",
        &"machine",
        &"--station",
        &"1001",
        &"--key",
        &box_key,
        &"--out",
        &registration,
    ]));
    let imported = ok(sverka(&[&"import", &data, &registration]));
    assert!(imported.contains("accepted, new:         1"), "{imported}");
    let imported = ok(sverka(&[&"import", &data, &unregistered]));
    assert!(imported.contains("accepted, new:         1"), "registered now: {imported}");

    let (mut server, base) = serve(&data);
    // A group-readable admin key is refused before anything is signed or sent.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&admin_key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let refused = sverka(&[
            &"keys",
            &"revoke",
            &"--admin",
            &admin_key,
            &"--election",
            &"tiny",
            &"--seq",
            &"2",
            &"--key-id",
            &"box-1001",
            &"--reason",
            &"scanner stolen",
            &"--post",
            &base,
        ]);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("readable by group or others") && stderr.contains("chmod 600"));
        std::fs::set_permissions(&admin_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let revoked = ok(sverka(&[
        &"keys",
        &"revoke",
        &"--admin",
        &admin_key,
        &"--election",
        &"tiny",
        &"--seq",
        &"2",
        &"--key-id",
        &"box-1001",
        &"--reason",
        &"scanner stolen",
        &"--post",
        &base,
    ]));
    assert!(revoked.starts_with("201 "), "{revoked}");

    let response = agent()
        .post(format!("{base}/api/v1/submissions"))
        .send(&protocol(&box_key, "box-1001", 2)[..])
        .unwrap();
    let status = response.status().as_u16();
    let problem: serde_json::Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!((status, problem["code"].as_str()), (403, Some("E103")), "{problem}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn key_bindings_are_checked_before_a_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.key");
    let output = sverka(&[&"keys", &"new", &"--role", &"machine", &"--out", &out]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs --station"));
    let output =
        sverka(&[&"keys", &"new", &"--role", &"observer", &"--district", &"d1", &"--out", &out]);
    assert!(!output.status.success());
    assert!(!out.exists(), "nothing written for a refused key");
}

#[test]
fn version_names_the_ed25519_backend() {
    let long = ok(sverka(&[&"--version"]));
    let expected = format!(
        "sverka {} (Ed25519: {})\n",
        env!("CARGO_PKG_VERSION"),
        sverka_model::keys::backend()
    );
    assert_eq!(long, expected);
    assert_eq!(ok(sverka(&[&"-V"])), format!("sverka {}\n", env!("CARGO_PKG_VERSION")));
}
