//! Cross-site request forgery against the commission workspace (THREATS.md, "outsider"): a page on
//! another site cannot sign an operator in, and cannot make a signed-in operator's browser change
//! anything, because every state-changing form needs the session's token and a same-origin
//! `Origin`. What the test does is what a forged form would do: the right cookies (a browser sends
//! them), without the token the page embeds, or from another origin.

mod common;

use common::{start, test_config, TINY};
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use sverka_server::auth::{AccountRole, Auth};

const PASSWORD: &str = "correct-horse-battery-staple";

/// The value the answer sets for cookie `name`, if it sets one.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().find_map(|value| {
        let first = value.to_str().ok()?.split(';').next()?;
        let (key, value) = first.split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_string())
    })
}

/// The hidden `csrf` field of a workspace page.
fn csrf_field(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form with the session's token")
        + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn forms_without_the_session_token_or_from_another_origin_change_nothing() {
    let server = start(TINY, test_config()).await;
    let base = server.base.clone();
    Auth::open(server.store.dir())
        .unwrap()
        .add_account("aida", PASSWORD, &AccountRole::Admin, "test")
        .unwrap();
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |path: &str, cookie: String, origin: Option<&str>, body: String| {
        let mut request = client
            .post(format!("{base}{path}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(COOKIE, cookie)
            .body(body);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };

    // Signing in: the login form's token must come back with its cookie, from this origin.
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let token = set_cookie(&page, "sverka_login").expect("the login form's cookie");
    let form = format!("name=aida&password={PASSWORD}&login_token={token}");
    let cookie = format!("sverka_login={token}");
    let forged = post("/login", cookie.clone(), Some("http://evil.example"), form.clone());
    let forged = forged.await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a login posted from another site");
    assert_eq!(set_cookie(&forged, "sverka_session"), None);
    let without = post("/login", cookie.clone(), None, format!("name=aida&password={PASSWORD}"));
    let without = without.await.unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN, "a login without the form's token");
    assert_eq!(set_cookie(&without, "sverka_session"), None);
    let signed_in = post("/login", cookie, Some(&base), form).await.unwrap();
    assert!(signed_in.status().is_redirection(), "{}", signed_in.status());
    let session = set_cookie(&signed_in, "sverka_session").expect("a session cookie");
    let session_cookie = format!("sverka_session={session}");

    let workspace = || client.get(format!("{base}/workspace")).header(COOKIE, &session_cookie);
    let page = workspace().send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_field(&page.text().await.unwrap());

    // Signing out is a state change: refused without the token and from another origin, and the
    // session still works afterwards.
    let no_token = post("/logout", session_cookie.clone(), Some(&base), String::new());
    assert_eq!(no_token.await.unwrap().status(), StatusCode::FORBIDDEN);
    let wrong = post("/logout", session_cookie.clone(), Some(&base), "csrf=0000".into());
    assert_eq!(wrong.await.unwrap().status(), StatusCode::FORBIDDEN);
    let body = format!("csrf={csrf}");
    let foreign =
        post("/logout", session_cookie.clone(), Some("http://evil.example"), body.clone());
    assert_eq!(foreign.await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(workspace().send().await.unwrap().status(), StatusCode::OK, "still signed in");

    // With both, it is done.
    let out = post("/logout", session_cookie.clone(), Some(&base), body).await.unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    let after = workspace().send().await.unwrap();
    assert_ne!(after.status(), StatusCode::OK, "the session ended");
    server.stop().await;
}
