//! The sample deployment files in `deploy/` are accepted by the programs that will read them:
//! `systemd-analyze verify` for the unit (with `ExecStart` pointed at the binary under test) and
//! `nginx -t` for the site (inside a minimal `http` block, with a throwaway certificate from
//! `openssl`). Debian packages: systemd, nginx, openssl (.ci/run installs them). Where a program
//! is missing the test says it skipped; under `SVERKA_REQUIRE_SHARED=1` (CI) it fails instead.

mod fault_common;

use std::path::Path;
use std::process::Command;

use fault_common::required;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Whether `program` runs; if not, skip (or fail under CI).
fn available(program: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok()
        || Command::new(program).arg("-v").output().is_ok();
    if !found {
        assert!(!required(), "{program} is not installed (apt-get install it; .ci/run does)");
        eprintln!("skipped: {program} is not installed");
    }
    found
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed: {text}");
    text
}

#[test]
fn the_systemd_unit_verifies() {
    if !available("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(Path::new(ROOT).join("deploy/sverka.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/sverka serve "));
    let unit = unit.replace("/usr/local/bin/sverka", env!("CARGO_BIN_EXE_sverka"));
    let path = dir.path().join("sverka.service");
    std::fs::write(&path, unit).unwrap();
    let text = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert!(!text.contains("sverka.service:"), "systemd-analyze complains: {text}");
}

#[test]
fn the_nginx_site_passes_nginx_t() {
    if !available("nginx") || !available("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let site = std::fs::read_to_string(Path::new(ROOT).join("deploy/sverka.conf")).unwrap();
    let site = site
        .replace("/etc/ssl/certs/results.example.org.pem", cert.to_str().unwrap())
        .replace("/etc/ssl/private/results.example.org.key", key.to_str().unwrap())
        .replace("/var/cache/nginx/sverka", dir.path().join("cache").to_str().unwrap());
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  include {d}/site.conf;\n}}\n"
    );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    let text = run(Command::new("nginx").arg("-t").arg("-c").arg(&conf).arg("-p").arg(dir.path()));
    assert!(text.contains("test is successful"), "{text}");
}
