//! A scanner that sends the same signed protocol 100 times (a flaky link, a retry loop gone
//! wrong, several at once) adds it to the log once (issue 10, fault tests): the first answer is
//! `201`, every other `200` with the same index and leaf hash, the log grows by one entry and the
//! station's published votes are counted once.

mod fault_common;

use std::time::Duration;

use fault_common::{agent, init, json, metric, night, Server};

fn metrics(base: &str) -> String {
    agent(Duration::from_secs(10))
        .get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap()
}

#[test]
fn the_same_protocol_sent_100_times_is_added_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (night, lines) = night(3, 20);
    init(&data, &night);
    let server = Server::start(&data, &dir.path().join("serve.log"));
    let protocol = lines[0].clone();
    let parsed: serde_json::Value = serde_json::from_slice(&protocol).unwrap();
    let before = metric(&metrics(&server.base), "sverka_log_size").expect("sverka_log_size");

    // 40 one after another, 50 from 10 threads at once, and a batch of 10 copies.
    let url = format!("{}/api/v1/submissions", server.base);
    let mut answers: Vec<(u16, serde_json::Value)> = (0..40)
        .map(|_| {
            let response = agent(Duration::from_secs(20)).post(&url).send(&protocol[..]).unwrap();
            (response.status().as_u16(), json(response))
        })
        .collect();
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let (url, protocol) = (url.clone(), protocol.clone());
            std::thread::spawn(move || {
                let agent = agent(Duration::from_secs(20));
                (0..5)
                    .map(|_| {
                        let response = agent.post(&url).send(&protocol[..]).unwrap();
                        (response.status().as_u16(), json(response))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        answers.extend(thread.join().unwrap());
    }
    let batch = vec![protocol.clone(); 10].join(&b'\n');
    let response = agent(Duration::from_secs(20))
        .post(format!("{}/api/v1/submissions/batch", server.base))
        .send(&batch[..])
        .unwrap();
    assert_eq!(response.status(), 200);
    for item in json(response)["results"].as_array().unwrap() {
        answers.push((item["status"].as_u64().unwrap() as u16, item["receipt"].clone()));
    }

    assert_eq!(answers.len(), 100);
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let repeated = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!((created, repeated), (1, 99), "one 201, then 200 for every repeat");
    let index = answers[0].1["index"].as_u64().expect("a receipt");
    let leaf = answers[0].1["leaf_hash"].as_str().expect("a receipt").to_string();
    for (_, receipt) in &answers {
        assert_eq!(receipt["index"].as_u64(), Some(index));
        assert_eq!(receipt["leaf_hash"].as_str(), Some(leaf.as_str()));
    }

    let text = metrics(&server.base);
    assert_eq!(metric(&text, "sverka_log_size"), Some(before + 1.0), "the log grew by one entry");
    assert_eq!(metric(&text, "sverka_submissions_total{outcome=\"accepted\"}"), Some(1.0));
    assert_eq!(metric(&text, "sverka_submissions_total{outcome=\"duplicate\"}"), Some(99.0));

    // The published station result holds the protocol once, with its own votes.
    let payload = &parsed["payload"];
    let (station, contest) =
        (payload["station"].as_str().unwrap(), payload["contest"].as_str().unwrap());
    let agent = agent(Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let published = loop {
        let url = format!("{}/api/v1/results/station/{station}", server.base);
        let result = json(agent.get(url).call().unwrap());
        if result["checkpoint"]["size"].as_u64() > Some(index) {
            break result;
        }
        assert!(std::time::Instant::now() < deadline, "the entry was not published within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    let contest = published["contests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == contest)
        .expect("the protocol's contest");
    let history = &contest["station"]["history"];
    assert_eq!(
        history[0]["entries"],
        serde_json::json!([index]),
        "one entry for the station: {history}"
    );
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(contest["station"]["preliminary"]["votes"], payload["votes"]);
}
