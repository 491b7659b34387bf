//! What the fault tests share: a simulated night on the tiny election, `sverka serve` as a child
//! process that is killed when dropped, an HTTP agent, and `sverka publish` + `sverka verify`.

#![allow(dead_code)] // each test file uses its own part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sverka_model::simulate::{Config as SimConfig, Night};

pub const TINY: &str = include_str!("../../../../examples/tiny/election.toml");

pub fn sverka() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sverka"))
}

/// A simulated night on the tiny election and its submissions, one signed line each.
pub fn night(seed: u64, stations: u64) -> (Night, Vec<Vec<u8>>) {
    let config = SimConfig {
        seed,
        stations: Some(stations),
        observer_discrepancy_count: 1,
        broken_relation_count: 1,
        ..SimConfig::default()
    };
    let night = Night::new("election.toml", TINY, config).expect("simulated night");
    let lines = night.submission_lines();
    (night, lines)
}

/// `sverka init`'s work: a data directory whose log holds the night's election.
pub fn init(data: &Path, night: &Night) {
    drop(sverka_store::Store::init(data, &night.election_toml(), "election.toml").expect("init"));
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

pub fn json(response: ureq::http::Response<ureq::Body>) -> serde_json::Value {
    serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap()
}

/// `sverka serve DIR` on a free loopback port; killed (SIGKILL) when dropped unless stopped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
    /// Where the server's stderr (its log) goes.
    pub log: PathBuf,
}

impl Server {
    /// Starts the server and waits until `/readyz` answers 200.
    pub fn start(data: &Path, log: &Path) -> Server {
        let port = free_port();
        let child = sverka()
            .arg("serve")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-per-ip", "off"])
            .args(["--rate-per-key", "off"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("sverka serve starts");
        let mut server =
            Server { child, base: format!("http://127.0.0.1:{port}"), port, log: log.into() };
        let deadline = Instant::now() + Duration::from_secs(60);
        let agent = agent(Duration::from_secs(5));
        while Instant::now() < deadline {
            let ready = agent.get(format!("{}/readyz", server.base)).call();
            if ready.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("sverka serve exited with {status}: {}", server.log_text());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        server.kill();
        panic!("sverka serve was not ready within 60 s: {}", server.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status (at most `limit`).
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("sverka serve did not stop within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sverka publish DATA --out OUT` then `sverka verify OUT`; the output of a failing step.
pub fn publish_and_verify(data: &Path, out: &Path) -> Result<(), String> {
    let step = |output: Output, what: &str| {
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    step(
        sverka().arg("publish").arg(data).arg("--out").arg(out).output().unwrap(),
        "sverka publish",
    )?;
    step(sverka().arg("verify").arg(out).output().unwrap(), "sverka verify")
}

/// Whether tests that need something from the machine must fail rather than skip (CI).
pub fn required() -> bool {
    std::env::var_os("SVERKA_REQUIRE_SHARED").is_some_and(|v| v == "1")
}

/// A metric's value in a Prometheus text exposition (`name{labels}` exactly as written).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}
