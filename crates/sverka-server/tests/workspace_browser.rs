//! The commission workspace in a real browser (issue 13): headless Chromium (Debian package
//! `chromium`, installed by `.ci/run`) driven over the DevTools protocol, typing with the
//! keyboard as an operator does.
//!
//! - Two operators of district d1 key station 1001's protocol; the second makes one typo; a third
//!   operator sees the difference field by field, keeps the right value; the protocol is
//!   accepted, signed with the district's key, and appears on the published station page.
//! - A protocol that breaks a control relation is sent back with its rule (E401) and stays
//!   unsent; the live check shows the same rule while typing.
//! - An operator of district d2 cannot open d1's forms (403).
//!
//! Screenshots go to `target/screenshots/workspace-*.png`. Without Chromium the test says it
//! skipped; under `SVERKA_REQUIRE_SHARED=1` (CI) it fails.

#[path = "common/chromium.rs"]
mod chromium;
mod common;
#[path = "common/workspace.rs"]
mod harness;

use std::path::PathBuf;
use std::time::Duration;

use chromium::Tab;
use harness::{good_protocol, state_of};
use serde_json::json;
use sverka_server::auth::{AccountRole, Auth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_entry_resolution_control_relations_and_district_boundaries_in_chromium() {
    let Some(binary) = chromium::chromium_or_skip("workspace browser test") else { return };
    let night = sverka_model::simulate::Night::new(
        "election.toml",
        common::TINY,
        sverka_model::simulate::Config { seed: 3, ..Default::default() },
    )
    .unwrap();
    let server = common::start(&night.election_toml(), common::test_config()).await;
    let base = server.base.clone();
    let auth = Auth::open(server.store.dir()).unwrap();
    let key_file = night
        .key_files()
        .into_iter()
        .find(|k| k.path.ends_with("operator-d1-1.key"))
        .expect("the simulation registers operator keys for d1");
    let key = sverka_model::keys::decode_private_key(&key_file.contents).unwrap();
    auth.set_signing_key("d1", "operator-d1-1", &key, "test").unwrap();
    let d1 = AccountRole::Operator { district: "d1".into() };
    for name in ["aida", "bakyt", "cholpon"] {
        auth.add_account(name, harness::PASSWORD, &d1, "test").unwrap();
    }
    auth.add_account(
        "dinara",
        harness::PASSWORD,
        &AccountRole::Operator { district: "d2".into() },
        "test",
    )
    .unwrap();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let result = tokio::task::spawn_blocking(move || {
        let mut tab = Tab::open(&binary);
        let entry = format!("{base}/workspace/entry/1001/list?lang=en");

        // Not signed in: the workspace sends you to the sign-in page.
        tab.go(&format!("{base}/workspace/district/d1?lang=en"));
        assert!(tab.text("location.pathname") == "/login", "{}", tab.text("location.href"));
        tab.screenshot(&shots.join("workspace-login-en.png"));

        // First entry by aida, all by keyboard.
        tab.login(&base, "aida");
        assert_eq!(state_of(&mut tab, "1001"), "not_started");
        tab.go(&entry);
        tab.click_and_wait("#claim button");
        tab.key_protocol(&good_protocol());
        assert_eq!(tab.text("location.pathname"), "/workspace/district/d1");
        assert_eq!(state_of(&mut tab, "1001"), "second_entry");
        tab.screenshot(&shots.join("workspace-progress-en.png"));
        // The same person cannot make the second entry.
        tab.go(&entry);
        assert!(tab.text("document.body.innerText").contains("another person"));
        tab.logout();

        // Second entry by bakyt, with one typo: 1,201 voters on the register (a value every
        // control relation accepts, so only the double entry can catch it).
        tab.login(&base, "bakyt");
        tab.go(&entry);
        tab.click_and_wait("#claim button");
        let mut typo = good_protocol();
        typo[0].1 = 1201;
        tab.key_protocol(&typo);
        assert_eq!(state_of(&mut tab, "1001"), "differences");
        tab.logout();

        // A third operator resolves the difference field by field.
        tab.login(&base, "cholpon");
        tab.go(&format!("{base}/workspace/resolve/1001/list?lang=en"));
        let differing = tab.eval(
            "Array.prototype.map.call(document.querySelectorAll('tr.differs'), function (r) { return r.dataset.field; })",
        );
        assert_eq!(differing, json!(["l.registered"]), "exactly the typo is shown as a difference");
        let row = tab.text("document.querySelector('tr.differs').innerText");
        assert!(row.contains("1200") && row.contains("1201"), "both values shown: {row}");
        tab.screenshot(&shots.join("workspace-resolve-en.png"));
        tab.eval("document.querySelector('input[name=\"keep.l.registered\"][value=\"first\"]').click()");
        tab.click_and_wait("#apply");
        assert_eq!(state_of(&mut tab, "1001"), "accepted");
        let index: u64 = tab
            .text("document.querySelector('tr[data-station=\"1001\"][data-contest=\"list\"] td.n a').textContent")
            .parse()
            .expect("the accepted protocol names its log entry");
        tab.screenshot(&shots.join("workspace-accepted-en.png"));

        // Published: the station page (computed from the log) shows the hand count's entry with
        // the resolved register line.
        let mut published = false;
        for _ in 0..100 {
            tab.go(&format!("{base}/station/1001?lang=en"));
            let page = tab.text("document.body.innerText");
            if page.contains(&format!("#{index}")) {
                assert!(page.contains("1,200"), "the kept value is published");
                assert!(!page.contains("1,201"), "the typo is not");
                published = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(published, "entry {index} appears on the published station page");
        tab.screenshot(&shots.join("workspace-published-en.png"));

        // A protocol that breaks a control relation cannot be sent: valid ballots (615) are
        // not the sum of the votes (616).
        tab.go(&format!("{base}/workspace/entry/1002/list?lang=ru"));
        tab.click_and_wait("#claim button");
        let mut broken = good_protocol();
        broken[0].1 = 900;
        broken[12].1 = 301;
        tab.key_protocol(&broken);
        tab.wait_for("document.getElementById('errors')");
        let errors = tab.text("document.getElementById('errors').innerText");
        assert!(errors.contains("E401") && errors.contains("valid = sum(options)"), "{errors}");
        let live = tab.text("document.getElementById('live').innerText");
        assert!(live.contains("E401"), "the live check names the broken relation too: {live}");
        assert_eq!(tab.text("document.documentElement.lang"), "ru");
        tab.screenshot(&shots.join("workspace-relation-error-ru.png"));
        tab.go(&format!("{base}/workspace/district/d1?lang=ky"));
        assert_eq!(state_of(&mut tab, "1002"), "first_entry", "nothing was sent");
        tab.screenshot(&shots.join("workspace-progress-ky.png"));
        tab.go(&format!("{base}/workspace/projector/d1?lang=ky"));
        assert_eq!(tab.text("document.querySelector('dd[data-count=\"accepted\"]').textContent"), "1");
        tab.screenshot(&shots.join("workspace-projector-ky.png"));
        tab.logout();

        // An operator of d2 cannot open d1's forms or progress.
        tab.login(&base, "dinara");
        for path in ["/workspace/entry/1001/list", "/workspace/district/d1", "/workspace/resolve/1001/list"] {
            let status = tab.eval(&format!("fetch('{path}?lang=en').then(function (r) {{ return r.status; }})"));
            assert_eq!(status, json!(403), "{path}");
        }
        tab.go(&entry);
        assert!(tab.text("document.body.innerText").contains("closed to your role or district"));
        tab.screenshot(&shots.join("workspace-forbidden-en.png"));
        index
    })
    .await;
    let index = match result {
        Ok(index) => index,
        Err(panic) => std::panic::resume_unwind(panic.into_panic()),
    };

    // The log holds the hand count signed with d1's key, and the audit log names the people.
    let bytes = server.store.entry(index).unwrap().expect("the accepted entry is in the log");
    let submission = sverka_model::Submission::decode(&bytes).unwrap();
    assert_eq!(submission.payload.signer, "operator-d1-1");
    let records = auth.audit_log(200).unwrap();
    let accepted =
        records.iter().find(|r| r.action == "protocol.accept").expect("an accept record");
    assert_eq!(accepted.account, "cholpon");
    assert!(accepted.detail.contains("first entry by aida, second by bakyt, resolved by cholpon"));
    assert!(records.iter().any(|r| r.action == "forbidden" && r.account == "dinara"));
    server.stop().await;
}
