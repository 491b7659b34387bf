//! The commission workspace's browser tests' harness (shared by `workspace_browser.rs` and
//! `workspace_actions.rs`, which also include `chromium.rs`): signing in and out, keying a
//! protocol from the keyboard, the accounts' password, the tiny election's protocols as an
//! operator keys them, and the simulated night's private keys.

#![allow(dead_code)]

use crate::chromium::Tab;

/// What a person does in the workspace, on top of the generic tab.
impl Tab {
    pub fn login(&mut self, base: &str, name: &str) {
        self.go(&format!("{base}/login?lang=en"));
        self.eval(&format!(
            "document.getElementById('name').value='{name}';document.getElementById('password').value='{PASSWORD}';"
        ));
        self.click_and_wait("form button[type=submit]");
        let who = self.text("(document.querySelector('[data-account]')||{}).textContent||''");
        assert_eq!(who, name, "signed in as {name}");
    }

    pub fn logout(&mut self) {
        self.click_and_wait(".who form button");
        self.wait_for("document.getElementById('password')");
    }

    /// Keys a whole protocol from the first field to the last with the keyboard: each value
    /// typed, then Enter (the last Enter sends the form).
    pub fn key_protocol(&mut self, values: &[(&str, u64)]) {
        self.wait_for("document.getElementById('entry')");
        let first = values[0].0;
        self.eval(&format!("document.getElementById('{first}').focus()"));
        self.eval("window.__old = true");
        for (field, value) in values {
            let focused = self.text("document.activeElement.id");
            assert_eq!(&focused, field, "Enter moved the focus to the next field");
            self.type_and_enter(&value.to_string());
        }
        self.wait_for("window.__old === undefined");
    }
}

pub const PASSWORD: &str = "night shift 2026";

/// Station 1001's protocol (1,200 voters on the register), in paper order; every control
/// relation of the tiny election's form holds.
pub fn good_protocol() -> Vec<(&'static str, u64)> {
    vec![
        ("l.registered", 1200),
        ("l.ballots_received", 1000),
        ("l.issued_early", 10),
        ("l.issued_in_room", 600),
        ("l.issued_outside", 20),
        ("l.cancelled", 370),
        ("l.in_portable_boxes", 20),
        ("l.in_stationary_boxes", 605),
        ("l.invalid", 10),
        ("l.valid", 615),
        ("l.lost", 0),
        ("l.unaccounted", 0),
        ("v.sun", 300),
        ("v.river", 200),
        ("v.mountain", 100),
        ("v.against_all", 15),
    ]
}

/// A protocol of the tiny election's form in paper order, every control relation holding:
/// `registered` voters, the votes of sun, river, mountain and against all; 10 invalid, 20 in
/// the portable boxes, 5 ballots issued more than found in the boxes (as in [`good_protocol`]);
/// nine tenths of the register received.
pub fn protocol(registered: u64, votes: [u64; 4]) -> Vec<(&'static str, u64)> {
    let valid: u64 = votes.iter().sum();
    let in_boxes = valid + 10;
    let issued = in_boxes + 5;
    let received = registered * 9 / 10;
    vec![
        ("l.registered", registered),
        ("l.ballots_received", received),
        ("l.issued_early", 10),
        ("l.issued_in_room", issued - 30),
        ("l.issued_outside", 20),
        ("l.cancelled", received - issued),
        ("l.in_portable_boxes", 20),
        ("l.in_stationary_boxes", in_boxes - 20),
        ("l.invalid", 10),
        ("l.valid", valid),
        ("l.lost", 0),
        ("l.unaccounted", 0),
        ("v.sun", votes[0]),
        ("v.river", votes[1]),
        ("v.mountain", votes[2]),
        ("v.against_all", votes[3]),
    ]
}

/// The private key `id` of a simulated night (`machine-<station>` from `keys/machines.keys`).
pub fn night_key(night: &sverka_model::simulate::Night, id: &str) -> ed25519_dalek::SigningKey {
    for file in night.key_files() {
        if file.path == format!("keys/{id}.key") {
            return sverka_model::keys::decode_private_key(&file.contents).expect("a key file");
        }
        if file.path == "keys/machines.keys" {
            for line in file.contents.lines() {
                if let Some((key_id, seed)) = line.split_once(' ') {
                    if key_id == id {
                        return sverka_model::keys::decode_private_key(seed).expect("a seed");
                    }
                }
            }
        }
    }
    panic!("the simulated night has no key {id}");
}

pub fn state_of(tab: &mut Tab, station: &str) -> String {
    tab.text(&format!(
        "(document.querySelector('tr[data-station=\"{station}\"][data-contest=\"list\"]')||{{dataset:{{}}}}).dataset.state||''"
    ))
}
