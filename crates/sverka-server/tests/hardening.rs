//! What an outsider meets at the socket (THREATS.md, "outsider"): security headers on every answer
//! (a Content-Security-Policy that lets only the page's own script run), slow and oversized request
//! heads cut off, input reflected in errors escaped, and HTTPS with a certificate made here.

mod common;

use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use common::{start, test_config, TINY};

/// Sends `request` on a new connection and returns everything the server sends back until it
/// closes the connection (or 20 s pass, which fails the test).
async fn raw(base: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

async fn read_to_close<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer));
    match read.await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => {
            panic!("the server kept the connection open: {}", String::from_utf8_lossy(&answer))
        }
    }
}

/// The status code of a raw HTTP/1.1 answer.
fn status(answer: &str) -> u16 {
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn every_answer_carries_a_policy_that_lets_only_the_pages_own_script_run() {
    let server = start(TINY, test_config()).await;
    let client = reqwest::Client::new();
    for path in ["/", "/station/1001", "/api/v1/results", "/no/such/route", "/checkpoint"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        let policy = header(&response, "content-security-policy").to_string();
        assert!(policy.starts_with("default-src 'none';"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert!(!policy.contains("script-src 'unsafe-inline'"), "{path}: {policy}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(&response, "strict-transport-security"), "", "{path}: plain HTTP");
        if path == "/" {
            let page = response.text().await.unwrap();
            let script = page
                .split("<script>")
                .nth(1)
                .and_then(|rest| rest.split("</script>").next())
                .expect("the national page has its live-update script");
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
            assert!(policy.contains(&format!("script-src 'sha256-{digest}'")), "{policy}");
            assert_eq!(page.matches("<script").count(), 1, "one script, the one allowed");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn input_reflected_in_an_error_is_escaped() {
    let server = start(TINY, test_config()).await;
    let client = reqwest::Client::new();
    let attack = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [format!("/station/{attack}"), format!("/find?q={attack}")] {
        let response = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: {page}");
        assert!(!page.contains("<script>alert"), "{path}");
    }
    let response =
        client.get(server.url(&format!("/api/v1/results/station/{attack}"))).send().await.unwrap();
    assert_eq!(header(&response, "content-type"), "application/problem+json", "not HTML");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_or_not_at_all_is_cut_off() {
    let mut config = test_config();
    config.connection.header_read_timeout = Duration::from_secs(1);
    let server = start(TINY, config).await;
    let address = server.base.trim_start_matches("http://").to_string();

    // Slowloris: a request line, then one header byte every 200 ms, never the blank line.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let mut cut_off = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
        {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "a head sent byte by byte for 20 s was still being read");

    // A connection that sends nothing is closed too.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    let answer = read_to_close(&mut idle).await;
    assert!(answer.is_empty() || status(&answer) == 408, "{answer}");

    // And a well-behaved client is still served.
    let answer =
        raw(&server.base, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status(&answer), 200, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_with_431() {
    let server = start(TINY, test_config()).await;
    let limit = test_config().connection.max_header_bytes;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(limit * 2)
    );
    let answer = raw(&server.base, big.as_bytes()).await;
    assert_eq!(status(&answer), 431, "{answer}");

    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..=test_config().connection.max_headers {
        many.push_str(&format!("X-H{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw(&server.base, many.as_bytes()).await;
    assert_eq!(status(&answer), 431, "{answer}");
    server.stop().await;
}

fn self_signed(name: &str) -> (String, String, rustls::pki_types::CertificateDer<'static>) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    (cert.pem(), key_pair.serialize_pem(), cert.der().clone())
}

#[tokio::test]
async fn over_tls_the_site_is_served_with_hsts_and_plain_http_gets_no_page() {
    let (cert_pem, key_pem, cert_der) = self_signed("localhost");
    let tls = sverka_server::tls::Tls::from_pem(
        cert_pem.as_bytes(),
        "cert.pem".as_ref(),
        key_pem.as_bytes(),
        "key.pem".as_ref(),
    )
    .expect("a self-signed certificate and its key");
    let mut config = test_config();
    config.tls = Some(tls);
    let server = start(TINY, config).await;
    let address = server.base.trim_start_matches("http://").to_string();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = TcpStream::connect(&address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.expect("TLS handshake");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(status(&answer), 200, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("strict-transport-security: max-age="), "{answer}");
    assert!(answer.contains("<!doctype html>"), "the national page over TLS");

    // Over TLS the workspace's cookies are `Secure`: a browser never sends them in clear.
    let tcp = TcpStream::connect(&address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.expect("TLS handshake");
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let login = read_to_close(&mut stream).await;
    assert_eq!(status(&login), 200, "{login}");
    let cookie = login
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("the login page sets its form cookie: {login}"));
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let plain = raw(&server.base, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(!plain.contains("<!doctype html>"), "plain HTTP on the TLS port: {plain}");
    server.stop().await;
}

#[test]
fn a_key_that_does_not_fit_the_certificate_is_named_without_printing_it() {
    let (cert_pem, _, _) = self_signed("localhost");
    let (_, other_key_pem, _) = self_signed("localhost");
    let error = sverka_server::tls::Tls::from_pem(
        cert_pem.as_bytes(),
        "cert.pem".as_ref(),
        other_key_pem.as_bytes(),
        "key.pem".as_ref(),
    )
    .expect_err("another certificate's key");
    let message = error.to_string();
    assert!(message.contains("key.pem") && message.contains("cert.pem"), "{message}");
    let key_body: String = other_key_pem.lines().nth(1).unwrap().chars().take(20).collect();
    assert!(!message.contains(&key_body), "the key is never printed: {message}");

    // The key given as the certificate: no certificate found, and the key not echoed.
    let error = sverka_server::tls::Tls::from_pem(
        other_key_pem.as_bytes(),
        "cert.pem".as_ref(),
        other_key_pem.as_bytes(),
        "key.pem".as_ref(),
    )
    .expect_err("a key is not a certificate");
    let message = error.to_string();
    assert!(message.contains("cert.pem") && message.contains("CERTIFICATE"), "{message}");
    assert!(!message.contains(&key_body), "{message}");
}

/// axum's own rejections leave as problem+json with their own code, like every other error
/// (docs/formats.md §3.5): a client gets one error format whatever went wrong.
#[tokio::test]
async fn requests_the_routes_cannot_read_get_problems_with_their_own_codes() {
    let server = start(TINY, test_config()).await;
    let client = reqwest::Client::new();
    let cases = [
        (client.get(server.url("/district/1?view=a&view=b")), 400, "H008"),
        (client.get(server.url("/changes.json?to=banana")), 400, "H008"),
        (client.get(server.url("/witnessed.svg?size=99999999999999999999999")), 400, "H008"),
        (client.post(server.url("/login")), 415, "H013"),
        (
            client
                .post(server.url("/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=a&name=b"),
            400,
            "H012",
        ),
        (client.delete(server.url("/login")), 405, "H014"),
        (client.put(server.url("/api/v1/submissions")), 405, "H014"),
        (client.post(server.url("/api/v1/submissions/batch")), 400, "H005"),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        let what = format!("{} {}", response.status(), response.url());
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(header(&response, "content-type"), "application/problem+json", "{what}");
        if status == 405 {
            assert!(!header(&response, "allow").is_empty(), "{what}: the Allow header");
        }
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{what}: {problem}");
        assert_eq!(problem["status"], status, "{what}: {problem}");
        assert!(!problem["detail"].as_str().unwrap_or("").is_empty(), "{what}: {problem}");
    }
    server.stop().await;
}
