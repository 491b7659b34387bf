//! A reader who polls a page sees the new checkpoint's numbers on it as soon as the new results are
//! published: the pages readers asked for are rendered ahead for each new checkpoint (so that a
//! crowd of pollers is answered from memory), and what they get must be that checkpoint's page,
//! never the one before.

mod common;

use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::Value;

/// The checkpoint size a page names (`<body data-checkpoint="N">`).
fn page_checkpoint(html: &str) -> u64 {
    let start = html.find("data-checkpoint=\"").expect("data-checkpoint") + 17;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].parse().unwrap()
}

/// Sends `lines` as one batch; returns how many were accepted.
async fn send(server: &common::TestServer, client: &reqwest::Client, lines: &[Vec<u8>]) -> u64 {
    common::submit_batch(server, client, lines).await.iter().flatten().count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_polled_before_a_checkpoint_show_the_next_one_after_it() {
    let night = common::night(5, None);
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let region = &election.regions[0].id;
    let district = &election.districts[0].id;
    let html_pages = ["/".to_string(), "/?lang=ru".into(), format!("/region/{region}?lang=en")];
    let api_pages = [
        format!("/api/v1/results/region/{region}"),
        format!("/api/v1/results/district/{district}"),
    ];

    let half = night.lines.len() / 2;
    let first = 1 + send(&server, &client, &night.lines[..half]).await;
    server.results_at_least(&client, first).await;
    let mut etags = Vec::new();
    for path in html_pages.iter().chain(&api_pages) {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        etags.push(response.headers()[ETAG].to_str().unwrap().to_string());
    }

    let second = first + send(&server, &client, &night.lines[half..]).await;
    assert!(second > first);
    let snapshot = server.results_at_least(&client, second).await;
    let size = common::checkpoint_size(&snapshot).unwrap();
    for (path, etag) in html_pages.iter().chain(&api_pages).zip(&etags) {
        let response =
            client.get(server.url(path)).header(IF_NONE_MATCH, etag).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path} changed with the checkpoint");
        assert_ne!(response.headers()[ETAG].to_str().unwrap(), etag, "{path}");
        let body = response.text().await.unwrap();
        if path.starts_with("/api/") {
            let document: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(document["checkpoint"], snapshot["checkpoint"], "{path}");
            // The unit's numbers are those of the published snapshot at that checkpoint.
            let (level, id) =
                if path.contains("/region/") { ("region", region) } else { ("district", district) };
            for contest in document["contests"].as_array().unwrap() {
                for view in ["official", "preliminary"] {
                    let expected =
                        common::unit_in_snapshot(&snapshot, &contest["id"], view, level, id);
                    assert_eq!(&contest[view], expected, "{path} {view}");
                }
            }
        } else {
            assert_eq!(page_checkpoint(&body), size, "{path}");
        }
    }
    server.stop().await;
}
