//! A protocol's life after it is accepted, as the people of a district commission and the CEC go
//! through the workspace's forms (plain HTTP, signed in, every form with its CSRF token):
//!
//! - the second entry of a correction is claimed like a protocol's: the person who takes it keys
//!   it; a third operator of the district can neither open nor send it meanwhile;
//! - after the CEC's recount replaces the protocol, the district's progress table names the
//!   recount's log entry (not the hand count it superseded), and a district correction is refused
//!   up front: only the CEC changes a recounted protocol.

#[path = "common/chromium.rs"]
mod chromium;
mod common;
#[path = "common/workspace.rs"]
mod harness;

use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use sverka_model::{Body, Source};
use sverka_server::auth::{AccountRole, Auth, CEC_SCOPE};

/// A signed-in person: their session cookie and the CSRF token the pages embed.
struct Person {
    cookie: String,
    csrf: String,
}

/// The value the answer sets for cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().find_map(|value| {
        let first = value.to_str().ok()?.split(';').next()?;
        let (key, value) = first.split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_string())
    })
}

/// The value of attribute `attribute` in the first element after `marker`.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let rest = &rest[..rest.find('>')?];
    let start = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    Some(rest[start..start + rest[start..].find('"')?].to_string())
}

struct Workspace {
    client: reqwest::Client,
    base: String,
}

impl Workspace {
    async fn sign_in(&self, name: &str) -> Person {
        let page = self.client.get(format!("{}/login", self.base)).send().await.unwrap();
        let token = set_cookie(&page, "sverka_login").expect("the login form's cookie");
        let password = harness::PASSWORD;
        let signed_in = self
            .client
            .post(format!("{}/login", self.base))
            .header(COOKIE, format!("sverka_login={token}"))
            .header(ORIGIN, &self.base)
            .form(&[("name", name), ("password", password), ("login_token", &token)])
            .send()
            .await
            .unwrap();
        assert!(signed_in.status().is_redirection(), "{name} signs in: {}", signed_in.status());
        let session = set_cookie(&signed_in, "sverka_session").expect("a session cookie");
        let cookie = format!("sverka_session={session}");
        let (_, html) = self
            .get(&Person { cookie: cookie.clone(), csrf: String::new() }, "/workspace/district/d1")
            .await;
        let csrf = attribute_after(&html, "name=\"csrf\"", "value").expect("the session's token");
        Person { cookie, csrf }
    }

    async fn get(&self, person: &Person, path: &str) -> (StatusCode, String) {
        let url = format!("{}{path}?lang=en", self.base);
        let response = self.client.get(url).header(COOKIE, &person.cookie).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Posts `fields` (and the person's CSRF token) as the page's form would.
    async fn post(&self, person: &Person, path: &str, fields: &[(&str, String)]) -> StatusCode {
        let mut form: Vec<(&str, String)> = vec![("csrf", person.csrf.clone())];
        form.extend(fields.iter().cloned());
        let url = format!("{}{path}?lang=en", self.base);
        let response = self
            .client
            .post(url)
            .header(COOKIE, &person.cookie)
            .header(ORIGIN, &self.base)
            .form(&form)
            .send()
            .await
            .unwrap();
        response.status()
    }

    /// Station 1001's row of the district's progress table: its state and the log entry it names.
    async fn row_1001(&self, person: &Person) -> (String, Option<String>, String) {
        let (status, html) = self.get(person, "/workspace/district/d1").await;
        assert_eq!(status, StatusCode::OK);
        let marker = "<tr data-station=\"1001\" data-contest=\"list\"";
        let state = attribute_after(&html, marker, "data-state").expect("1001's row");
        let index = attribute_after(&html, marker, "data-index");
        let row = &html[html.find(marker).unwrap()..];
        (state, index, row[..row.find("</tr>").unwrap()].to_string())
    }
}

/// The fields of a protocol form.
fn fields(protocol: &[(&'static str, u64)]) -> Vec<(&'static str, String)> {
    protocol.iter().map(|(field, value)| (*field, value.to_string())).collect()
}

/// The log entry at `index`, as a protocol with its source.
fn protocol_at(store: &sverka_store::Store, index: u64) -> sverka_model::Protocol {
    let bytes = store.entry(index).unwrap().expect("the entry exists");
    match sverka_model::Submission::decode(&bytes).unwrap().payload.body {
        Body::Protocol(protocol) => protocol,
        other => panic!("entry {index} is no protocol: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_second_entry_is_claimed_and_a_recount_moves_the_row_to_the_cec_entry() {
    let night = sverka_model::simulate::Night::new(
        "election.toml",
        common::TINY,
        sverka_model::simulate::Config { seed: 3, ..Default::default() },
    )
    .unwrap();
    let server = common::start(&night.election_toml(), common::test_config()).await;
    let auth = Auth::open(server.store.dir()).unwrap();
    let d1_key = harness::night_key(&night, "operator-d1-1");
    auth.set_signing_key("d1", "operator-d1-1", &d1_key, "test").unwrap();
    auth.set_signing_key(CEC_SCOPE, "admin-1", &harness::night_key(&night, "admin-1"), "test")
        .unwrap();
    let d1 = AccountRole::Operator { district: "d1".into() };
    for name in ["aida", "bakyt", "chyngyz"] {
        auth.add_account(name, harness::PASSWORD, &d1, "test").unwrap();
    }
    auth.add_account("erkin", harness::PASSWORD, &AccountRole::Admin, "test").unwrap();
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let ws = Workspace { client: client.clone(), base: server.base.clone() };
    let (aida, bakyt, chyngyz) =
        (ws.sign_in("aida").await, ws.sign_in("bakyt").await, ws.sign_in("chyngyz").await);
    let erkin = ws.sign_in("erkin").await;

    // 1001 keyed twice and accepted.
    let entry = "/workspace/entry/1001/list";
    let keyed = fields(&harness::good_protocol());
    for person in [&aida, &bakyt] {
        assert!(ws.post(person, &format!("{entry}/claim"), &[]).await.is_redirection());
        assert!(ws.post(person, entry, &keyed).await.is_redirection());
    }
    let (state, accepted, _) = ws.row_1001(&aida).await;
    assert_eq!(state, "accepted");
    let accepted: u64 = accepted.expect("the accepted entry's index").parse().unwrap();
    assert_eq!(protocol_at(&server.store, accepted).source, Source::Manual);
    server.results_at_least(&client, accepted + 1).await;

    // aida keys a correction (sun and river swapped back and forth: the relations still hold).
    let correct = "/workspace/correct/1001/list";
    let mut corrected = harness::good_protocol();
    for (field, value) in corrected.iter_mut() {
        match *field {
            "v.sun" => *value = 200,
            "v.river" => *value = 300,
            _ => {}
        }
    }
    let mut first = fields(&corrected);
    first.push(("reason", "keying_error".into()));
    first.push(("note", "sun and river swapped on the paper's second page".into()));
    assert!(ws.post(&aida, correct, &first).await.is_redirection());

    // bakyt is offered to take the second entry, and takes it.
    let (status, page) = ws.get(&bakyt, correct).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"claim\"") && !page.contains("id=\"entry\""), "{page}");
    assert!(ws.post(&bakyt, &format!("{correct}/claim"), &[]).await.is_redirection());
    let (status, page) = ws.get(&bakyt, correct).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"entry\""), "bakyt keys it now: {page}");

    // chyngyz cannot key it meanwhile, nor take it.
    let (status, _) = ws.get(&chyngyz, correct).await;
    assert_eq!(status, StatusCode::CONFLICT, "the second entry is bakyt's");
    assert_eq!(ws.post(&chyngyz, correct, &fields(&corrected)).await, StatusCode::CONFLICT);
    let _ = ws.post(&chyngyz, &format!("{correct}/claim"), &[]).await;
    let (_, _, row) = ws.row_1001(&aida).await;
    assert!(row.contains("data-correction=\"second_entry\""), "still awaiting bakyt: {row}");

    // bakyt keys the same numbers: the correction is signed and the row names it.
    assert!(ws.post(&bakyt, correct, &fields(&corrected)).await.is_redirection());
    let (state, index, _) = ws.row_1001(&aida).await;
    assert_eq!(state, "corrected");
    let correction: u64 = index.expect("the correction's index").parse().unwrap();
    let in_log = protocol_at(&server.store, correction);
    assert_eq!(in_log.supersedes.map(|s| s.index), Some(accepted));
    assert_eq!(in_log.votes["sun"], 200);
    server.results_at_least(&client, correction + 1).await;

    // The district asks the CEC for a recount; the CEC admin carries it out.
    let request = "/workspace/request/recount/1001/list";
    let why = ("reason", "observers dispute the count of the invalid ballots".to_string());
    assert!(ws.post(&aida, request, &[why]).await.is_redirection());
    let (_, review) = ws.get(&erkin, "/workspace/review").await;
    let at = review.find("href=\"/workspace/cec/").expect("the request in the CEC's queue") + 6;
    let cec = review[at..at + review[at..].find('?').unwrap()].to_string();
    let mut recount = fields(&harness::good_protocol());
    recount.push(("action", "recount".into()));
    recount.push(("reason", "recount".into()));
    recount.push(("note", "CEC decision No. 9: recount by the district commission".into()));
    assert!(ws.post(&erkin, &cec, &recount).await.is_redirection());

    // The row names the recount, the entry the log now holds for 1001.
    let size = server.store.tree_size().unwrap();
    let last = protocol_at(&server.store, size - 1);
    assert_eq!((last.source, last.station.as_str()), (Source::Recount, "1001"));
    assert_eq!(last.supersedes.map(|s| s.index), Some(correction));
    let (state, index, _) = ws.row_1001(&aida).await;
    assert_eq!(state, "recounted");
    assert_eq!(index, Some((size - 1).to_string()), "the row names the CEC's recount");

    // A district correction now is refused before anyone keys it, and nothing is kept.
    server.results_at_least(&client, size).await;
    let (status, page) = ws.get(&aida, correct).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("recount"), "the refusal says the CEC recounted it: {page}");
    assert_eq!(ws.post(&aida, correct, &first).await, StatusCode::CONFLICT);
    let (_, _, row) = ws.row_1001(&aida).await;
    assert!(!row.contains("data-correction"), "no correction is being keyed: {row}");
    assert_eq!(server.store.tree_size().unwrap(), size, "nothing more in the log");
    server.stop().await;
}
