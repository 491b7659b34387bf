//! The results site as a reader meets it: every page in Kyrgyz, Russian and English, the numbers
//! on the pages equal to the API's, ETags, the drill-down links, station pages with the sources
//! side by side, and the national page's weight.

mod common;

use reqwest::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use reqwest::StatusCode;
use serde_json::Value;

/// The value of `attribute="…"` on the element that also carries `marker`.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_end = at + html[at..].find('>')?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_end];
    let start = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_string())
}

async fn get_page(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_three_languages_with_the_apis_numbers() {
    let night = common::night(3, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let body = night.lines.join(&b'\n');
    let results: Value = client
        .post(server.url("/api/v1/submissions/batch"))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted =
        results["results"].as_array().unwrap().iter().filter(|r| r["status"] == 201).count() as u64;
    let snapshot = server.results_at_least(&client, 1 + accepted).await;
    let size = common::checkpoint_size(&snapshot).unwrap();

    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let list = &snapshot["contests"][0];
    assert_eq!(list["id"], "list");
    assert_eq!(snapshot["format"], "sverka-snapshot/v1");
    for view in ["preliminary", "official"] {
        let api = &list[view]["levels"][0];
        assert_eq!(api["level"], "nation");
        for lang in ["ky", "ru", "en"] {
            let html = get_page(&client, &server.url(&format!("/?lang={lang}&view={view}"))).await;
            assert!(
                html.starts_with("<!doctype html>\n<html lang=\"")
                    && html.contains(&format!("<html lang=\"{lang}\""))
            );
            assert!(html.contains(election.name.get(lang)), "{lang}: the election's name");
            let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next());
            assert_eq!(title, Some(election.name.get(lang)), "{lang}: the title names it once");
            assert_eq!(
                attribute_after(&html, "data-checkpoint-size", "data-checkpoint-size"),
                Some(size.to_string())
            );
            assert_eq!(
                attribute_after(&html, "data-took-part", "data-took-part").unwrap(),
                api["took_part"].to_string(),
                "{lang} {view}"
            );
            assert_eq!(
                attribute_after(&html, "data-valid", "data-valid").unwrap(),
                api["valid"].to_string()
            );
            for (option, votes) in api["votes"].as_object().unwrap() {
                let marker = format!("data-option=\"{option}\"");
                assert_eq!(
                    attribute_after(&html, &marker, "data-votes").unwrap(),
                    votes.to_string(),
                    "{lang} {view} {option}"
                );
            }
            assert!(html.contains("<svg class=\"share\""), "share bars");
            assert!(
                !html.contains("<script src")
                    && !html.contains("http://")
                    && !html.contains("https://"),
                "nothing external"
            );
        }
    }

    for lang in ["ky", "ru", "en"] {
        for region in &election.regions {
            let html =
                get_page(&client, &server.url(&format!("/region/{}?lang={lang}", region.id))).await;
            assert!(html.contains(region.name.get(lang)));
        }
        for district in &election.districts {
            let html =
                get_page(&client, &server.url(&format!("/district/{}?lang={lang}", district.id)))
                    .await;
            assert!(html.contains(district.name.get(lang)));
            for station in election.stations.iter().filter(|s| s.district == district.id) {
                assert!(
                    html.contains(&format!("href=\"/station/{}?lang={lang}\"", station.id)),
                    "drill-down link"
                );
            }
        }
        for station in &election.stations {
            let html =
                get_page(&client, &server.url(&format!("/station/{}?lang={lang}", station.id)))
                    .await;
            assert!(html.contains(&station.name));
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_follows_accept_language_and_pages_revalidate_with_etags() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let russian = client
        .get(server.url("/"))
        .header(ACCEPT_LANGUAGE, "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(russian.headers()["vary"], "Accept-Language");
    assert_eq!(russian.headers()[CACHE_CONTROL], "public, max-age=1, stale-while-revalidate=5");
    let etag = russian.headers()[ETAG].to_str().unwrap().to_string();
    assert!(russian.text().await.unwrap().contains("<html lang=\"ru\""));
    let english = client
        .get(server.url("/?lang=en"))
        .header(ACCEPT_LANGUAGE, "ru")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<html lang=\"en\""), "?lang= wins over the header");
    let kyrgyz = client.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(kyrgyz.contains("<html lang=\"ky\""), "Kyrgyz by default");
    let again = client
        .get(server.url("/"))
        .header(ACCEPT_LANGUAGE, "ru")
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let redirect_client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let found = redirect_client.get(server.url("/find?q=1003&lang=en")).send().await.unwrap();
    assert_eq!(found.status(), StatusCode::SEE_OTHER);
    assert_eq!(found.headers()[LOCATION], "/station/1003?lang=en");
    let missing = client.get(server.url("/find?q=nowhere&lang=en")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("nowhere"));
    let escaped = client
        .get(server.url("/find?q=%3Cscript%3E&lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        escaped.contains("&lt;script&gt;") && !escaped.contains("<script>alert"),
        "search text is escaped"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_page_shows_sources_side_by_side_and_highlights_differences() {
    let night = common::night(1, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    // A machine protocol and a hand count of one station (a hand count the validator accepts: the
    // simulated night also plants hand counts that break a control relation).
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let accepted = |line: &[u8]| {
        let submission = sverka_model::Submission::decode(line).unwrap();
        let sverka_model::Body::Protocol(protocol) = &submission.payload.body else {
            return false;
        };
        let findings = sverka_model::validate::validate_protocol(
            &election,
            protocol,
            &sverka_model::validate::ProtocolContext::default(),
        );
        !sverka_model::validate::has_errors(&findings)
    };
    let source_of = |line: &[u8], source: &str| {
        String::from_utf8_lossy(line).contains(&format!("\"source\":\"{source}\""))
    };
    let (machine, manual) = night
        .lines
        .iter()
        .filter(|l| source_of(l, "machine"))
        .find_map(|machine| {
            let text = String::from_utf8_lossy(machine).to_string();
            let field = |name: &str| {
                text.split(&format!("\"{name}\":\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            };
            let (station, contest) = (field("station"), field("contest"));
            let manual = night.lines.iter().find(|l| {
                let t = String::from_utf8_lossy(l);
                source_of(l, "manual")
                    && t.contains(&format!("\"station\":\"{station}\""))
                    && t.contains(&format!("\"contest\":\"{contest}\""))
            })?;
            accepted(manual).then_some((machine, manual))
        })
        .unwrap();
    let text = String::from_utf8_lossy(machine).to_string();
    let station =
        text.split("\"station\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    for line in [machine, manual] {
        let status = client
            .post(server.url("/api/v1/submissions"))
            .body(line.clone())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::CREATED);
    }
    server.results_at_least(&client, 3).await;
    let html = get_page(&client, &server.url(&format!("/station/{station}?lang=en"))).await;
    assert!(
        html.contains("Ballot scanner") && html.contains("Hand count"),
        "both sources as columns"
    );
    assert!(html.contains("/api/v1/receipts/"), "history links to inclusion proofs");
    let numbers = |line: &[u8]| {
        let payload = serde_json::from_slice::<Value>(line).unwrap()["payload"].clone();
        (payload["lines"].clone(), payload["votes"].clone())
    };
    let differ = numbers(machine) != numbers(manual);
    assert_eq!(
        html.contains("class=\"n diff\""),
        differ,
        "differences highlighted exactly when they exist"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_national_page_of_a_night_with_every_station_counted_is_under_100_kb() {
    // 120 stations: the store holds the definition (with every key) in one 64 KiB log entry, which
    // the 2021 definition (21 full party lists) does not fit yet.
    let night = common::night(4, Some(120));
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    for chunk in night.lines.chunks(2000) {
        let response = client
            .post(server.url("/api/v1/submissions/batch"))
            .body(chunk.join(&b'\n'))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let size = server.store.tree_size().unwrap();
    server.results_at_least(&client, size).await;
    for lang in ["ky", "ru", "en"] {
        let html = get_page(&client, &server.url(&format!("/?lang={lang}"))).await;
        assert!(html.len() <= 100 * 1024, "{lang}: {} bytes", html.len());
        assert!(html.contains("<svg class=\"hemicycle\""), "seats drawn once stations are counted");
    }
    server.stop().await;
}

/// The nation-wide votes of the list race in one view of a snapshot.
fn nation_votes(snapshot: &Value, view: &str) -> serde_json::Map<String, Value> {
    snapshot["contests"][0][view]["levels"][0]["votes"].as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_changed_lists_arrivals_annulments_and_every_decrease_with_its_reason() {
    let night = common::night(5, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let (first, second) = night.lines.split_at(night.lines.len() / 2);
    common::submit_batch(&server, &client, first).await;
    let a = server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    let receipts = common::submit_batch(&server, &client, second).await;
    let b = server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    let (size_a, size_b) =
        (common::checkpoint_size(&a).unwrap(), common::checkpoint_size(&b).unwrap());

    // A → B: every protocol accepted in between is listed once, as an arrival or a correction.
    let json: Value = client
        .get(server.url(&format!("/changes.json?from={size_a}&to={size_b}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["format"], "sverka-changes/v1");
    assert_eq!(json["from"]["size"], size_a);
    assert_eq!(json["from"]["root"], a["checkpoint"]["root"]);
    assert_eq!(json["to"]["root"], b["checkpoint"]["root"]);
    let mut listed: Vec<u64> = ["arrivals", "corrections"]
        .iter()
        .flat_map(|list| {
            json[list].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap())
        })
        .collect();
    listed.sort_unstable();
    let mut accepted: Vec<u64> = second
        .iter()
        .zip(&receipts)
        .filter(|(line, _)| String::from_utf8_lossy(line).contains("\"type\":\"protocol\""))
        .filter_map(|(_, index)| *index)
        .collect();
    accepted.sort_unstable();
    assert!(!accepted.is_empty());
    assert_eq!(listed, accepted);
    let machine_stations: std::collections::BTreeSet<&str> = json["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"] == "machine")
        .map(|a| a["station"].as_str().unwrap())
        .collect();
    let page =
        get_page(&client, &server.url(&format!("/changes?from={size_a}&to={size_b}&lang=en")))
            .await;
    if !machine_stations.is_empty() {
        assert_eq!(
            attribute_after(&page, "data-source=\"machine\"", "data-stations"),
            Some(machine_stations.len().to_string())
        );
    }
    for station in &machine_stations {
        assert!(page.contains(&format!("href=\"/station/{station}?lang=en\"")), "{station}");
    }

    // B → C: the CEC annuls one counted station; every total it was part of goes down.
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    // A station counted since A: the first accepted list-race protocol of the first batch.
    let station = first
        .iter()
        .map(|line| sverka_model::Submission::decode(line).unwrap())
        .find_map(|s| match s.payload.body {
            sverka_model::Body::Protocol(p) if p.contest == "list" => Some(p.station),
            _ => None,
        })
        .unwrap();
    let reason = "CEC decision No. 42: the ballot box seal was broken";
    let (admin, annulment) = common::annulment_by_admin(5, &election.id, &station, reason);
    let response = client
        .post(server.url("/api/v1/submissions"))
        .body(annulment.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    let c = server.results_at_least(&client, size_b + 1).await;
    let size_c = common::checkpoint_size(&c).unwrap();
    let latest: Value =
        client.get(server.url("/changes.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (latest["from"]["size"].as_u64(), latest["to"]["size"].as_u64()),
        (Some(size_b), Some(size_c)),
        "default: the previous checkpoint to the latest"
    );
    assert_eq!(latest["annulments"][0]["reason"], reason);
    assert_eq!(latest["annulments"][0]["signer"], admin.as_str());
    assert_eq!(latest["annulments"][0]["station"], station.as_str());
    let decreases = latest["decreases"].as_array().unwrap();
    for view in ["preliminary", "official"] {
        let (before, after) = (nation_votes(&b, view), nation_votes(&c, view));
        for (option, was) in &before {
            let now = &after[option];
            let listed = decreases.iter().find(|d| {
                d["view"] == view
                    && d["level"] == "nation"
                    && d["total"] == "votes"
                    && d["option"] == option.as_str()
            });
            if now.as_u64() < was.as_u64() {
                let listed =
                    listed.unwrap_or_else(|| panic!("{view} {option}: {was} → {now} not listed"));
                assert_eq!((&listed["before"], &listed["after"]), (was, now));
                let culprit = &listed["stations"][0];
                assert_eq!(culprit["station"], station.as_str());
                assert_eq!(culprit["causes"][0]["kind"], "annulment");
                assert_eq!(culprit["causes"][0]["reason"], reason);
            } else {
                assert!(listed.is_none(), "{view} {option} did not go down");
            }
        }
    }
    assert!(!decreases.is_empty(), "annulling a counted station lowers totals");
    for lang in ["ky", "ru", "en"] {
        let page = get_page(&client, &server.url(&format!("/changes?lang={lang}"))).await;
        assert!(page.contains(&format!("<html lang=\"{lang}\"")));
        assert!(page.contains(&html_escaped(reason)), "{lang}: the reason is shown");
        assert_eq!(
            attribute_after(&page, "data-decreases", "data-decreases"),
            Some(decreases.len().to_string())
        );
        assert_eq!(page.matches("class=\"decrease\"").count(), decreases.len());
        let atom =
            client.get(server.url(&format!("/changes.atom?lang={lang}"))).send().await.unwrap();
        assert_eq!(atom.headers()[CONTENT_TYPE], "application/atom+xml; charset=utf-8");
        let atom = atom.text().await.unwrap();
        assert!(
            atom.starts_with("<?xml")
                && atom.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\"")
        );
        assert_eq!(
            atom.matches("<entry>").count(),
            1 + decreases.len(),
            "the annulment and each decrease"
        );
        assert!(atom.contains(&html_escaped(reason)));
    }
    let english = get_page(&client, &server.url("/changes?lang=en")).await;
    assert!(english.contains("Totals that went down"));

    // Wrong ranges are refused with what is wrong.
    let backwards = client
        .get(server.url(&format!("/changes.json?from={size_c}&to={size_b}")))
        .send()
        .await
        .unwrap();
    assert_eq!(backwards.status(), StatusCode::BAD_REQUEST);
    assert!(backwards.text().await.unwrap().contains("after"));
    let missing =
        client.get(server.url(&format!("/changes.json?to={}", size_c + 100))).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let garbage = client.get(server.url("/changes?from=yesterday")).send().await.unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert!(garbage.text().await.unwrap().contains("yesterday"));
    server.stop().await;
}

fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_level_read_api_matches_the_snapshot_and_names_its_checkpoint() {
    let night = common::night(6, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let receipts = common::submit_batch(&server, &client, &night.lines).await;
    let snapshot = server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let units = election
        .regions
        .iter()
        .map(|r| ("region", r.id.clone()))
        .chain(election.districts.iter().map(|d| ("district", d.id.clone())));
    for (kind, id) in units {
        let url = server.url(&format!("/api/v1/results/{kind}/{id}"));
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let etag = response.headers()[ETAG].to_str().unwrap().to_string();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["format"], "sverka-level/v1");
        assert_eq!(body["checkpoint"], snapshot["checkpoint"], "names the published checkpoint");
        assert_eq!((body["level"].as_str(), body["id"].as_str()), (Some(kind), Some(id.as_str())));
        for contest in body["contests"].as_array().unwrap() {
            let whole = snapshot["contests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == contest["id"])
                .unwrap();
            for view in ["official", "preliminary"] {
                let level = whole[view]["levels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["level"] == kind && l["id"] == id.as_str())
                    .unwrap();
                assert_eq!(&contest[view], level, "{kind} {id} {view}");
            }
        }
        assert!(!body["contests"].as_array().unwrap().is_empty(), "the list race covers {id}");
        let again = client.get(&url).header(IF_NONE_MATCH, &etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    // A station lists, per source, the entries the log accepted for it.
    let (line, index) = night
        .lines
        .iter()
        .zip(&receipts)
        .find_map(|(line, index)| Some((line, (*index)?)))
        .unwrap();
    let submission = sverka_model::Submission::decode(line).unwrap();
    let sverka_model::Body::Protocol(protocol) = &submission.payload.body else {
        panic!("the first accepted line is a protocol")
    };
    let body: Value = client
        .get(server.url(&format!("/api/v1/results/station/{}", protocol.station)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["format"], "sverka-station/v1");
    assert_eq!(body["checkpoint"], snapshot["checkpoint"]);
    let contest = body["contests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == protocol.contest.as_str())
        .unwrap();
    assert_eq!(contest["station"]["id"], protocol.station.as_str());
    assert!(
        contest.to_string().contains(&index.to_string()),
        "entry {index} is in the station's history: {contest}"
    );
    let missing = client.get(server.url("/api/v1/results/station/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()[CONTENT_TYPE], "application/problem+json");
    assert!(missing.text().await.unwrap().contains("nowhere"));
    server.stop().await;
}

/// The colour of the swatch in the party row of `option` on a results page.
fn swatch_color(html: &str, option: &str) -> Option<String> {
    let row = html.find(&format!("<li data-option=\"{option}\""))?;
    let style = row + html[row..].find("style=\"background:")? + "style=\"background:".len();
    Some(html[style..style + html[style..].find('"')?].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_shows_in_the_colour_its_election_gives_it() {
    let toml =
        common::TINY.replacen("ballot_number = 1\n", "ballot_number = 1\ncolor = \"#E5A100\"\n", 1);
    assert_ne!(toml, common::TINY, "the tiny election has a party with ballot number 1");
    let night = common::night_of(&toml, 5, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/api/v1/submissions/batch"))
        .body(night.lines.join(&b'\n'))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.results_at_least(&client, 2).await;
    let html = get_page(&client, &server.url("/?lang=en")).await;
    assert_eq!(swatch_color(&html, "sun").as_deref(), Some("#e5a100"));
    let river = swatch_color(&html, "river").expect("river has a row");
    assert!(river.starts_with('#') && river != "#e5a100", "river keeps a palette colour: {river}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forensics_page_shows_the_fingerprint_and_says_flags_are_not_proof() {
    let night = common::night(11, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/api/v1/submissions/batch"))
        .body(night.lines.join(&b'\n'))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    for (lang, not_proof) in [
        ("en", "never proof of fraud"),
        ("ru", "а не доказательство фальсификаций"),
        ("ky", "бурмалоонун далили эмес"),
    ] {
        let html = get_page(&client, &server.url(&format!("/forensics?lang={lang}"))).await;
        assert!(html.contains(&format!("<html lang=\"{lang}\"")), "{lang}");
        assert!(html.contains(not_proof), "{lang}: the page says flags are not proof");
        assert!(
            html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox="),
            "{lang}: the fingerprint is drawn"
        );
    }
    server.stop().await;
}

/// Posts `lines` one at a time until `server`'s log holds `size` entries.
async fn post_until(
    client: &reqwest::Client,
    server: &common::TestServer,
    lines: &[Vec<u8>],
    size: u64,
) {
    for line in lines {
        if server.store.tree_size().unwrap() >= size {
            break;
        }
        let response =
            client.post(server.url("/api/v1/submissions")).body(line.clone()).send().await.unwrap();
        assert!(response.status().is_success() || response.status().is_client_error());
    }
    assert_eq!(server.store.tree_size().unwrap(), size, "the night has enough valid lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_in_one_process_never_serve_each_others_forensics() {
    // Two nights of one election, both logs at the same size: a page computed once per
    // checkpoint must be computed for each server's own log.
    let (one, two) = (common::night(11, None), common::night(12, None));
    let first = common::start(&one.election_toml, common::test_config()).await;
    let second = common::start(&two.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let size = 1 + one.lines.len().min(two.lines.len()) as u64 / 2;
    post_until(&client, &first, &one.lines, size).await;
    post_until(&client, &second, &two.lines, size).await;
    first.results_at_least(&client, size).await;
    second.results_at_least(&client, size).await;
    let page = |server: &common::TestServer| server.url("/forensics?lang=en");
    let second_alone = get_page(&client, &page(&second)).await;
    let first_page = get_page(&client, &page(&first)).await;
    let second_again = get_page(&client, &page(&second)).await;
    let svg = |html: &str| html.split("<svg").nth(1).map(str::to_string);
    assert!(svg(&first_page).is_some(), "the fingerprint is drawn");
    assert_ne!(svg(&first_page), svg(&second_alone), "each log has its own fingerprint");
    assert_eq!(second_again, second_alone, "the second server still shows its own");
    first.stop().await;
    second.stop().await;
}
