//! The reconciliation over HTTP as an observer or a journalist meets it: `GET
//! /api/v1/reconciliation` gives the same bytes as `sverka reconcile` for the checkpoint it names,
//! `?district=` narrows the list, and the pages per nation and district show the answer and the
//! ranked stations in Kyrgyz, Russian and English.

mod common;

use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::Value;
use sverka_tally::reconcile::export::reconciliation_json;
use sverka_tally::reconcile::{reconcile, Config};
use sverka_tally::snapshot::Checkpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_pages_show_the_reconciliation_of_the_published_checkpoint() {
    let night = common::night(5, Some(60));
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let batch: Value = client
        .post(server.url("/api/v1/submissions/batch"))
        .body(night.lines.join(&b'\n'))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted =
        batch["results"].as_array().unwrap().iter().filter(|r| r["status"] == 201).count() as u64;
    let snapshot = server.results_at_least(&client, 1 + accepted).await;
    let size = common::checkpoint_size(&snapshot).unwrap();

    let response = client.get(server.url("/api/v1/reconciliation")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[ETAG].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap();
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(report["format"], "sverka-reconciliation/v1");
    assert_eq!(report["checkpoint"]["size"], size);

    // The same bytes as `sverka reconcile` computes from the log up to that checkpoint.
    let replay = sverka_store::snapshot::replay_to(&server.store, size).unwrap();
    let reconciliation =
        reconcile(replay.election(), replay.tally(), &Config::for_election(replay.election()));
    let root = snapshot["checkpoint"]["root"].as_str().unwrap();
    let root: Vec<u8> =
        (0..32).map(|i| u8::from_str_radix(&root[2 * i..2 * i + 2], 16).unwrap()).collect();
    let at = Checkpoint { size, root: root.try_into().unwrap() };
    assert_eq!(bytes.as_ref(), reconciliation_json(&reconciliation, Some(&at), None).unwrap());

    // The night plants an observer copy that differs from the hand count: it is listed.
    let list = &report["contests"][0];
    let discrepant: Vec<&Value> = list["stations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["class"] == "discrepancy")
        .collect();
    assert!(
        !discrepant.is_empty()
            || report["contests"][1]["stations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["class"] == "discrepancy")
    );

    // Unchanged: 304.
    let again = client
        .get(server.url("/api/v1/reconciliation"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // One district: its stations only.
    let first = list["stations"][0]["district"].as_str().unwrap().to_string();
    let district: Value = client
        .get(server.url(&format!("/api/v1/reconciliation?district={first}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(district["district"], first.as_str());
    for contest in district["contests"].as_array().unwrap() {
        assert!(contest["stations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["district"] == first.as_str()));
    }
    let unknown =
        client.get(server.url("/api/v1/reconciliation?district=nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let problem: Value = unknown.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("nowhere"), "{problem}");

    // The pages: the question, the answer and the ranked stations, in three languages.
    let question = [
        ("ky", "Айырмачылыктар жыйынтыкты өзгөртө алабы?"),
        ("ru", "Могут ли расхождения изменить итог?"),
        ("en", "Could the discrepancies change the outcome?"),
    ];
    for (lang, text) in question {
        let page =
            client.get(server.url(&format!("/reconciliation?lang={lang}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains(text), "{lang}");
        assert!(html.contains(&format!("data-answer=\"{}\"", list["answer"].as_str().unwrap())));
        for s in &discrepant {
            assert!(html.contains(&format!("data-station=\"{}\"", s["station"].as_str().unwrap())));
        }
    }
    let page = client.get(server.url(&format!("/reconciliation/{first}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for s in list["stations"].as_array().unwrap().iter().filter(|s| s["district"] == first.as_str())
    {
        assert!(html.contains(&format!("data-station=\"{}\"", s["station"].as_str().unwrap())));
    }
    let district_page = client.get(server.url(&format!("/district/{first}"))).send().await.unwrap();
    let district_page = district_page.text().await.unwrap();
    assert!(district_page.contains(&format!("href=\"/reconciliation/{first}?lang=")), "linked");
    let missing = client.get(server.url("/reconciliation/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
