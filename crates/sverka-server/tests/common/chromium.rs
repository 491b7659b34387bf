//! Headless Chromium (Debian package `chromium`, installed by `.ci/run`) for the server's browser
//! tests, shared by `browser.rs` (the results site) and, through `workspace.rs`, by
//! `workspace_browser.rs` and `workspace_actions.rs`: finding the binary (a skip, or a failure
//! under `SVERKA_REQUIRE_SHARED=1` in CI, when it is missing) and one tab driven over the DevTools
//! protocol (navigate, evaluate, click, type, screenshot).

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

/// The Chromium binary; `None` (the test says it skipped) when it is not installed, a failure
/// under `SVERKA_REQUIRE_SHARED=1` (CI).
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        if std::env::var("SVERKA_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
            panic!("chromium is not installed (SVERKA_REQUIRE_SHARED=1: .ci/run installs it)");
        }
        eprintln!("{test} skipped: chromium is not installed");
    }
    found
}

pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
        let path = String::from_utf8(found.stdout).ok()?.trim().to_string();
        (found.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// One Chromium tab over the DevTools protocol.
pub struct Tab {
    child: std::process::Child,
    socket: tungstenite::WebSocket<std::net::TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Tab {
    pub fn open(binary: &Path) -> Tab {
        use std::io::{BufRead, BufReader, Read, Write};
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            .args(["--window-size=1280,1400", "--hide-scrollbars", "--lang=en-US"])
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            // Its own process group: the `chromium` wrapper forks the browser, and Drop must end
            // them all (a survivor would hold the test's output pipe open).
            .process_group(0)
            .spawn()
            .expect("chromium starts");
        // Chromium names its DevTools endpoint on stderr: "DevTools listening on ws://HOST:PORT/…".
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let endpoint = loop {
            let line = lines.next().expect("chromium names its DevTools endpoint").unwrap();
            if let Some(at) = line.find("ws://") {
                break line[at + 5..].split('/').next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        // The page target's WebSocket address, from the endpoint's /json/list.
        let mut http = std::net::TcpStream::connect(&endpoint).unwrap();
        write!(http, "GET /json/list HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(http);
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if header.trim().is_empty() {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let targets: Value = serde_json::from_slice(&body).unwrap();
        let page = targets.as_array().unwrap().iter().find(|t| t["type"] == "page").unwrap();
        let url = page["webSocketDebuggerUrl"].as_str().unwrap().to_string();
        let stream = std::net::TcpStream::connect(&endpoint).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (socket, _) = tungstenite::client(url.as_str(), stream).expect("DevTools WebSocket");
        Tab { child, socket, next_id: 0, _profile: profile }
    }

    /// Sends a command and returns its result, skipping the events that come between.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params });
        self.socket.send(tungstenite::Message::text(message.to_string())).unwrap();
        loop {
            let reply = self.socket.read().expect("a DevTools reply");
            let Ok(text) = reply.to_text() else { continue };
            let reply: Value = serde_json::from_str(text).unwrap();
            if reply["id"] == id {
                return reply["result"].clone();
            }
        }
    }

    pub fn eval(&mut self, expression: &str) -> Value {
        let params =
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        self.call("Runtime.evaluate", params)["result"]["value"].clone()
    }

    pub fn text(&mut self, expression: &str) -> String {
        self.eval(expression).as_str().unwrap_or_default().to_string()
    }

    /// Waits (at most 30 s) until the document is loaded and `condition` (JS) is true.
    pub fn wait_for(&mut self, condition: &str) {
        let probe = format!("document.readyState === 'complete' && !!({condition})");
        for _ in 0..300 {
            if self.eval(&probe) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let url = self.text("location.href");
        let body = self.text("document.body ? document.body.innerText : ''");
        panic!("{condition} never held at {url}: {body}");
    }

    pub fn go(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        std::thread::sleep(Duration::from_millis(100));
        self.wait_for("document.body");
    }

    /// Clicks the element `selector` and waits for the next page to finish loading.
    pub fn click_and_wait(&mut self, selector: &str) {
        self.eval("window.__old = true");
        let clicked = self.eval(&format!(
            "(function(){{var e=document.querySelector('{selector}');if(!e)return false;e.click();return true;}})()"
        ));
        assert_eq!(clicked, Value::Bool(true), "no {selector} at {}", self.text("location.href"));
        self.wait_for("window.__old === undefined");
    }

    /// Types `text` into the focused field, as keystrokes, then presses Enter.
    pub fn type_and_enter(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text }));
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                        "text": if kind == "keyDown" { "\r" } else { "" } }),
            );
        }
    }

    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Chooses `path` in the file input `selector` (as a person picking a file would).
    pub fn choose_file(&mut self, selector: &str, path: &Path) {
        let root = self.call("DOM.getDocument", json!({}))["root"]["nodeId"].clone();
        let node = self.call("DOM.querySelector", json!({ "nodeId": root, "selector": selector }));
        let node = node["nodeId"].clone();
        assert_ne!(node, json!(0), "no {selector}");
        let files = json!({ "files": [path.display().to_string()], "nodeId": node });
        self.call("DOM.setFileInputFiles", files);
    }

    /// Sets form fields by id (`[(id, value)]`), as if typed.
    pub fn fill(&mut self, values: &[(&str, String)]) {
        for (id, value) in values {
            let set = format!(
                "(function(){{var e=document.getElementById({});if(!e)return false;e.value={};e.dispatchEvent(new Event('input'));return true;}})()",
                json!(id),
                json!(value)
            );
            assert_eq!(
                self.eval(&set),
                Value::Bool(true),
                "no field {id} at {}",
                self.text("location.href")
            );
        }
    }

    /// The tab's path and query (`/region/7?lang=en`).
    pub fn location(&mut self) -> String {
        self.text("location.pathname + location.search")
    }

    /// Waits (polling, at most 30 s) until the tab shows a loaded page at another location than
    /// `from`; returns it.
    pub fn wait_for_location_change(&mut self, from: &str) -> String {
        for _ in 0..300 {
            let now = self.location();
            let ready = self.eval("document.readyState");
            if now != from && now.starts_with('/') && ready == "complete" {
                return now;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the page did not leave {from}");
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}
