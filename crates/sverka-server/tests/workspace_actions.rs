//! The commission workspace's actions in a real browser (issue 13), headless Chromium over the
//! DevTools protocol (the harness is `common/workspace.rs`, shared with `workspace_browser.rs`):
//!
//! - review queues: station 1001's hand count was keyed with two parties' votes swapped, so the
//!   machine and the hand count differ; from that queue item two operators key the correction
//!   (a typed reason, double entry), and the item leaves the queue; the station's page shows the
//!   old version beside the new. Station 1002's item asks the CEC for a recount, station 1003's
//!   page for an annulment; a CEC admin acts on both from the CEC's queue: a recount protocol
//!   and an annulment, each signed with the CEC admin key and in the log. An admin releases an
//!   operator's stale claim.
//! - the scan: an operator attaches the protocol's photo, it is shown beside the form for both
//!   entries, a file that is no image or PDF is refused, and the accepted protocol names the scan
//!   by its SHA-256, published as a blob; an operator releases a protocol they claimed; the
//!   projector page, open in a second browser, shows the new accepted protocol by itself; the
//!   role in the header is in the page's language.
//!
//! Screenshots go to `target/screenshots/workspace-*.png`. Without Chromium the tests say they
//! skipped; under `SVERKA_REQUIRE_SHARED=1` (CI) they fail.

#[path = "common/chromium.rs"]
mod chromium;
mod common;
#[path = "common/workspace.rs"]
mod harness;

use std::path::PathBuf;

use chromium::Tab;
use harness::{night_key, protocol, state_of};
use serde_json::{json, Value};
use sverka_model::submission::{Payload, FORMAT_VERSION};
use sverka_model::{Body, Protocol, Source};
use sverka_server::auth::{AccountRole, Auth, CEC_SCOPE};

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn night() -> sverka_model::simulate::Night {
    let config = sverka_model::simulate::Config { seed: 3, ..Default::default() };
    sverka_model::simulate::Night::new("election.toml", common::TINY, config).unwrap()
}

/// A signed submission of `fields` (as [`protocol`] gives them) for station × `list`.
fn signed(
    night: &sverka_model::simulate::Night,
    signer: &str,
    seq: u64,
    station: &str,
    source: Source,
    fields: &[(&str, u64)],
) -> Vec<u8> {
    let pick = |prefix: &str| {
        fields.iter().filter_map(|(f, v)| Some((f.strip_prefix(prefix)?.to_string(), *v))).collect()
    };
    let body = Body::Protocol(Protocol {
        station: station.into(),
        contest: "list".into(),
        source,
        lines: pick("l."),
        votes: pick("v."),
        preferences: Default::default(),
        supersedes: None,
        scan_sha256: None,
    });
    let payload = Payload {
        v: FORMAT_VERSION,
        election: night.summary().election,
        signer: signer.into(),
        seq,
        time: None,
        body,
    };
    payload.sign(&night_key(night, signer)).to_bytes()
}

/// The rows of the review page's section `id` (their `data-station`).
fn queue(tab: &mut Tab, id: &str) -> Value {
    tab.eval(&format!(
        "Array.prototype.map.call(document.querySelectorAll('#{id} tr[data-station]'), function (r) {{ return r.dataset.station; }})"
    ))
}

/// Reloads `url` until `condition` holds (the published results follow each checkpoint).
fn reload_until(tab: &mut Tab, url: &str, condition: &str) {
    for _ in 0..100 {
        tab.go(url);
        if tab.eval(&format!("!!({condition})")) == Value::Bool(true) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{condition} never held at {url}: {}", tab.text("document.body.innerText"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_queue_items_are_settled_by_their_actions_in_chromium() {
    let Some(binary) = chromium::chromium_or_skip("workspace actions test") else { return };
    let night = night();
    let server = common::start(&night.election_toml(), common::test_config()).await;
    let base = server.base.clone();
    let auth = Auth::open(server.store.dir()).unwrap();
    auth.set_signing_key("d1", "operator-d1-1", &night_key(&night, "operator-d1-1"), "test")
        .unwrap();
    auth.set_signing_key(CEC_SCOPE, "admin-1", &night_key(&night, "admin-1"), "test").unwrap();
    let d1 = AccountRole::Operator { district: "d1".into() };
    for name in ["aida", "bakyt"] {
        auth.add_account(name, harness::PASSWORD, &d1, "test").unwrap();
    }
    auth.add_account("erkin", harness::PASSWORD, &AccountRole::Admin, "test").unwrap();

    // The night so far: scanners at 1001 and 1002; hand counts keyed elsewhere, 1001's with the
    // votes of sun and river swapped, 1002's 10 votes off; and 1003's hand count.
    let client = reqwest::Client::new();
    let right_1001 = protocol(1200, [300, 200, 100, 15]);
    let swapped_1001 = protocol(1200, [200, 300, 100, 15]);
    let machine_1002 = protocol(900, [250, 150, 80, 10]);
    let manual_1002 = protocol(900, [240, 160, 80, 10]);
    let lines = [
        signed(&night, "machine-1001", 1, "1001", Source::Machine, &right_1001),
        signed(&night, "machine-1002", 1, "1002", Source::Machine, &machine_1002),
        signed(&night, "operator-d1-1", 1, "1001", Source::Manual, &swapped_1001),
        signed(&night, "operator-d1-1", 2, "1002", Source::Manual, &manual_1002),
        signed(
            &night,
            "operator-d1-1",
            3,
            "1003",
            Source::Manual,
            &protocol(1500, [400, 300, 200, 20]),
        ),
    ];
    let mut swapped_index = 0;
    for (n, line) in lines.iter().enumerate() {
        let response =
            client.post(server.url("/api/v1/submissions")).body(line.clone()).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let receipt: Value = response.json().await.unwrap();
        if n == 2 {
            swapped_index = receipt["index"].as_u64().unwrap();
        }
    }
    server.results_at_least(&client, 6).await;
    let shots = shots();

    let result = tokio::task::spawn_blocking(move || {
        let mut tab = Tab::open(&binary);
        let review = format!("{base}/workspace/review?lang=en");

        // The queue: machine and hand count differ at 1001 and 1002.
        tab.login(&base, "aida");
        reload_until(&mut tab, &review, "document.querySelector('#machine tr[data-station=\"1002\"]')");
        assert_eq!(queue(&mut tab, "machine"), json!(["1001", "1002"]));
        tab.screenshot(&shots.join("workspace-review-en.png"));

        // 1001: its item's action is a correction; aida chooses the reason and keys it.
        tab.click_and_wait("#machine tr[data-station=\"1001\"] a[data-act=\"correct\"]");
        assert_eq!(tab.text("location.pathname"), "/workspace/correct/1001/list");
        assert_eq!(tab.text("document.getElementById('v.sun').value"), "200", "the old numbers");
        tab.fill(&[
            ("reason", "keying_error".into()),
            ("note", "the votes of sun and river were keyed swapped; paper protocol checked".into()),
            ("v.sun", "300".into()),
            ("v.river", "200".into()),
        ]);
        tab.screenshot(&shots.join("workspace-correction-en.png"));
        tab.click_and_wait("#finish");
        assert_eq!(tab.text("location.pathname"), "/workspace/district/d1");
        let badge = "document.querySelector('tr[data-station=\"1001\"] [data-correction]').dataset.correction";
        assert_eq!(tab.text(badge), "second_entry", "the correction waits for its second entry");
        // Not by the same person twice.
        tab.go(&format!("{base}/workspace/correct/1001/list?lang=en"));
        assert!(tab.text("document.body.innerText").contains("another person"));

        // 1002: its item asks the CEC for a recount.
        tab.go(&review);
        tab.click_and_wait("#machine tr[data-station=\"1002\"] a[data-act=\"recount\"]");
        tab.fill(&[("reason", "scanner 250/150, hand count 240/160 for sun/river; the commission disputes its count".into())]);
        tab.click_and_wait("#request button");
        assert_eq!(
            tab.text("document.querySelector('#requests tr[data-kind=\"recount\"]').dataset.state"),
            "open"
        );
        // 1003: from the station's page, an annulment.
        tab.go(&format!("{base}/workspace/station/1003?lang=en"));
        tab.click_and_wait("a[data-act=\"annulment\"]");
        tab.fill(&[("reason", "ballot stuffing recorded on video by observers at 19:40".into())]);
        tab.click_and_wait("#request button");
        // A claim left behind: aida takes 1004's first entry and goes home.
        tab.go(&format!("{base}/workspace/entry/1004/list?lang=en"));
        tab.click_and_wait("#claim button");
        tab.logout();

        // bakyt takes the correction's second entry and keys it again from the paper, without
        // seeing aida's numbers.
        tab.login(&base, "bakyt");
        tab.go(&format!("{base}/workspace/district/d1?lang=en"));
        tab.click_and_wait("tr[data-station=\"1001\"] a[href^=\"/workspace/correct/\"]");
        // The second entry is claimed first, like a protocol's, so no one else keys it meanwhile.
        tab.click_and_wait("#claim button");
        assert_eq!(tab.text("document.querySelector('[data-reason]').dataset.reason"), "keying_error");
        assert_eq!(tab.text("document.getElementById('v.sun').value"), "200", "not aida's numbers");
        tab.fill(&[("v.sun", "300".into()), ("v.river", "200".into())]);
        tab.click_and_wait("#finish");
        assert_eq!(state_of(&mut tab, "1001"), "corrected");

        // The item is settled: 1001 leaves the queue once the correction is published.
        reload_until(&mut tab, &review, "!document.querySelector('#machine tr[data-station=\"1001\"]')");
        assert_eq!(queue(&mut tab, "machine"), json!(["1002"]));
        // The station's page: the old version stays visible beside the correction.
        tab.go(&format!("{base}/workspace/station/1001?lang=en"));
        let versions = tab.eval(
            "Array.prototype.map.call(document.querySelectorAll('table.versions th[data-index]'), function (h) { return [h.dataset.index, h.dataset.current, h.innerText]; })",
        );
        let versions = versions.as_array().unwrap().clone();
        assert_eq!(versions.len(), 3, "machine, the hand count and its correction: {versions:?}");
        let old = versions.iter().find(|v| v[0] == json!(swapped_index.to_string())).unwrap();
        assert_eq!(old[1], json!("false"), "the keyed-swapped hand count is superseded");
        let sun = tab.eval(
            "Array.prototype.map.call(document.querySelectorAll('table.versions tr[data-field=\"v.sun\"] td'), function (c) { return c.textContent; })",
        );
        assert_eq!(sun, json!(["300", "200", "300"]), "machine, old hand count, correction");
        tab.screenshot(&shots.join("workspace-station-history-en.png"));
        tab.logout();

        // The CEC admin: the requests are in the CEC's queue.
        tab.login(&base, "erkin");
        tab.go(&review);
        tab.click_and_wait("#requests tr[data-kind=\"recount\"] a.act");
        assert_eq!(tab.text("document.getElementById('v.sun').value"), "240", "the numbers it replaces");
        tab.fill(&[
            ("reason", "recount".into()),
            ("note", "CEC decision No. 7 of 29 November: recount by the district commission".into()),
            ("v.sun", "250".into()),
            ("v.river", "150".into()),
        ]);
        tab.screenshot(&shots.join("workspace-cec-recount-en.png"));
        tab.click_and_wait("#finish");
        assert_eq!(tab.text("location.pathname"), "/workspace/review");
        let recount_row = tab.text("document.querySelector('#requests tr[data-kind=\"recount\"]').innerText");
        assert!(recount_row.contains("done"), "{recount_row}");
        tab.click_and_wait("#requests tr[data-kind=\"annulment\"] a.act");
        tab.fill(&[("decision", "CEC decision No. 8 of 29 November 2026".into())]);
        tab.click_and_wait("#sign");
        assert_eq!(
            tab.text("document.querySelector('#requests tr[data-kind=\"annulment\"]').dataset.state"),
            "done"
        );
        tab.screenshot(&shots.join("workspace-requests-done-en.png"));
        // 1002's item is settled by the recount.
        reload_until(&mut tab, &review, "!document.querySelector('#machine tr[data-station=\"1002\"]')");

        // aida's stale claim on 1004: the admin releases it.
        tab.go(&format!("{base}/workspace/district/d1?lang=en"));
        assert_eq!(state_of(&mut tab, "1004"), "first_entry");
        tab.click_and_wait("tr[data-station=\"1004\"] form.release button");
        assert_eq!(state_of(&mut tab, "1004"), "not_started");
    })
    .await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }

    // The log holds the recount and the annulment, signed with the CEC admin key.
    let size = server.store.tree_size().unwrap();
    let mut kinds = Vec::new();
    for index in 0..size {
        let bytes = server.store.entry(index).unwrap().unwrap();
        let submission = sverka_model::Submission::decode(&bytes).unwrap();
        match &submission.payload.body {
            Body::Protocol(p) if p.source == Source::Recount => {
                assert_eq!(p.station, "1002");
                assert_eq!(p.votes["sun"], 250);
                kinds.push(("recount", submission.payload.signer.clone()));
            }
            Body::Annulment(a) => {
                assert_eq!((a.station.as_str(), a.contest.as_deref()), ("1003", Some("list")));
                assert!(a.reason.contains("No. 8"));
                kinds.push(("annulment", submission.payload.signer.clone()));
            }
            Body::Protocol(p) if p.supersedes.is_some() && p.source == Source::Manual => {
                assert_eq!((p.votes["sun"], p.votes["river"]), (300, 200));
                kinds.push(("correction", submission.payload.signer.clone()));
            }
            _ => {}
        }
    }
    assert_eq!(
        kinds,
        vec![
            ("correction", "operator-d1-1".to_string()),
            ("recount", "admin-1".to_string()),
            ("annulment", "admin-1".to_string())
        ]
    );
    let records = auth.audit_log(300).unwrap();
    let corrected = records.iter().find(|r| r.action == "protocol.correct").unwrap();
    assert!(
        corrected.detail.contains("correction keyed by aida and bakyt"),
        "{}",
        corrected.detail
    );
    assert!(records.iter().any(|r| r.action == "entry.release" && r.account == "erkin"));
    server.stop().await;
}

/// A "photo" of station 1004's paper protocol, 420 × 594 px: Chromium's screenshot of a page
/// drawn like the form.
fn scan_png(tab: &mut Tab) -> Vec<u8> {
    let rows: String = protocol(400, [120, 80, 40, 5])
        .iter()
        .enumerate()
        .map(|(n, (field, value))| {
            format!("<tr><td>{}</td><td>{field}</td><td>{value}</td></tr>", n + 1)
        })
        .collect();
    let page = format!(
        "<body style='margin:0;padding:18px;background:#f4f1e8;font:15px serif'><h3>PROTOCOL · station 1004 · party lists</h3>\
         <table style='width:100%;border-collapse:collapse' border=1>{rows}</table><p>Chair: ________ Secretary: ________</p></body>"
    );
    let url =
        format!("data:text/html;charset=utf-8,{}", page.replace('#', "%23").replace(' ', "%20"));
    tab.call("Page.navigate", json!({ "url": url }));
    tab.wait_for("document.querySelector('table')");
    let clip = json!({ "x": 0, "y": 0, "width": 420, "height": 594, "scale": 1 });
    let shot = tab.call("Page.captureScreenshot", json!({ "format": "png", "clip": clip }));
    base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["data"].as_str().unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_shown_beside_the_form_and_the_projector_follows_by_itself_in_chromium() {
    let Some(binary) = chromium::chromium_or_skip("workspace scan test") else { return };
    let night = night();
    let server = common::start(&night.election_toml(), common::test_config()).await;
    let base = server.base.clone();
    let auth = Auth::open(server.store.dir()).unwrap();
    auth.set_signing_key("d1", "operator-d1-1", &night_key(&night, "operator-d1-1"), "test")
        .unwrap();
    let d1 = AccountRole::Operator { district: "d1".into() };
    for name in ["aida", "bakyt"] {
        auth.add_account(name, harness::PASSWORD, &d1, "test").unwrap();
    }
    auth.add_account("projector", harness::PASSWORD, &AccountRole::ReadOnly, "test").unwrap();
    let files = tempfile::tempdir().unwrap();
    let files_dir = files.path().to_path_buf();
    let shots = shots();

    let result = tokio::task::spawn_blocking(move || {
        // The commission room's screen: a read-only account on the projector page, in Russian.
        let mut room = Tab::open(&binary);
        room.login(&base, "projector");
        room.go(&format!("{base}/workspace/projector/d1?lang=ru"));
        assert_eq!(room.text("document.querySelector('dd[data-count=\"accepted\"]').textContent"), "0");
        let role = room.text("document.querySelector('.who span').innerText");
        assert!(role.contains("только чтение"), "the role in Russian: {role}");

        let mut tab = Tab::open(&binary);
        let png = scan_png(&mut tab);
        let scan = files_dir.join("protocol-1004.png");
        std::fs::write(&scan, &png).unwrap();
        let not_a_scan = files_dir.join("protocol.png");
        std::fs::write(&not_a_scan, b"<html><script>alert(1)</script></html>").unwrap();
        let sha256 = sverka_model::submission::sha256_hex(&png);

        // aida claims 1002 by mistake and releases it.
        tab.login(&base, "aida");
        tab.go(&format!("{base}/workspace/entry/1002/list?lang=en"));
        tab.click_and_wait("#claim button");
        tab.click_and_wait("#release button");
        assert_eq!(state_of(&mut tab, "1002"), "not_started");

        // 1004: the photo is attached and shown beside the form.
        let entry = format!("{base}/workspace/entry/1004/list?lang=en");
        tab.go(&entry);
        tab.click_and_wait("#claim button");
        tab.choose_file("#scan-file", &not_a_scan);
        tab.click_and_wait("#upload button");
        assert!(
            tab.text("document.body.innerText").contains("not a JPEG, PNG or PDF"),
            "{}",
            tab.text("document.body.innerText")
        );
        tab.go(&entry);
        assert!(tab.eval("!document.querySelector('aside.scan img')") == Value::Bool(true));
        tab.choose_file("#scan-file", &scan);
        tab.click_and_wait("#upload button");
        tab.wait_for("document.querySelector('aside.scan img') && document.querySelector('aside.scan img').complete");
        assert_eq!(tab.text("document.querySelector('aside.scan img').dataset.sha256"), sha256);
        assert_eq!(tab.eval("document.querySelector('aside.scan img').naturalWidth"), json!(420));
        let beside = tab.eval(
            "(function(){var f=document.getElementById('entry').getBoundingClientRect();var a=document.querySelector('aside.scan').getBoundingClientRect();return a.left >= f.right && a.top < f.bottom;})()",
        );
        assert_eq!(beside, Value::Bool(true), "the scan is beside the form, not under it");
        tab.screenshot(&shots.join("workspace-scan-en.png"));
        let fields = protocol(400, [120, 80, 40, 5]);
        tab.key_protocol(&fields);
        assert_eq!(state_of(&mut tab, "1004"), "second_entry");
        tab.logout();

        // bakyt sees the same scan beside the second entry.
        tab.login(&base, "bakyt");
        tab.go(&entry);
        tab.click_and_wait("#claim button");
        assert_eq!(tab.text("document.querySelector('aside.scan img').dataset.sha256"), sha256);
        tab.key_protocol(&fields);
        assert_eq!(state_of(&mut tab, "1004"), "accepted");

        // The projector, untouched, shows it by itself.
        room.wait_for("document.querySelector('dd[data-count=\"accepted\"]').textContent === '1'");
        room.screenshot(&shots.join("workspace-projector-ru.png"));
        sha256
    })
    .await;
    let sha256 = match result {
        Ok(sha256) => sha256,
        Err(panic) => std::panic::resume_unwind(panic.into_panic()),
    };

    // The signed hand count names the scan, and the scan is published as a blob.
    let index = auth
        .audit_log(100)
        .unwrap()
        .iter()
        .find(|r| r.action == "protocol.accept")
        .map(|r| r.detail.clone())
        .expect("accepted");
    assert!(index.contains(&sha256), "{index}");
    let size = server.store.tree_size().unwrap();
    let last =
        sverka_model::Submission::decode(&server.store.entry(size - 1).unwrap().unwrap()).unwrap();
    let Body::Protocol(accepted) = last.payload.body else {
        panic!("the last entry is the protocol")
    };
    assert_eq!(accepted.scan_sha256.as_deref(), Some(sha256.as_str()));
    let blob = reqwest::get(server.url(&format!("/blob/{sha256}"))).await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(sverka_model::submission::sha256_hex(&blob.bytes().await.unwrap()), sha256);
    server.stop().await;
}
