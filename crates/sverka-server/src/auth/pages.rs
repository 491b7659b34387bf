//! The sign-in and sign-out pages, and what every workspace handler calls first: [`require`]
//! (the session from the cookie, or a redirect to `/login`; a 403 page when the role may not),
//! and [`check_form`] (the session's CSRF token and a same-origin `Origin`, on every POST).
//!
//! The sign-in form is itself protected against login CSRF by a double-submit token: a random
//! value in a short-lived `SameSite=Strict` cookie that the form must repeat.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{Auth, LoginError, Session, SESSION_COOKIE};
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::workspace::text::{t, T};
use crate::workspace::view;
use crate::AppState;

const LOGIN_COOKIE: &str = "sverka_login";

impl AppState {
    /// The data directory's accounts database (`workspace.sqlite`), opened on first use.
    pub fn auth(&self) -> Result<&Arc<Auth>, super::AuthError> {
        if let Some(auth) = self.inner.auth.get() {
            return Ok(auth);
        }
        let opened = Arc::new(Auth::open(self.store().dir())?);
        // Served over TLS (`sverka serve --tls-cert`): session cookies are `Secure`.
        if self.config().tls.is_some() {
            opened.set_secure_cookies(true);
        }
        let _ = self.inner.auth.set(opened);
        Ok(self.inner.auth.get().expect("set just now"))
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    })
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` when asked for or when a
/// proxy says the request came over HTTPS.
fn set_cookie(auth: &Auth, headers: &HeaderMap, name: &str, value: &str, max_age: i64) -> String {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let secure = if auth.secure_cookies() || forwarded_https { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The language of a workspace page: `?lang=`, else `Accept-Language`, else Kyrgyz.
pub fn lang(query: &HashMap<String, String>, headers: &HeaderMap) -> Lang {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(query.get("lang").map(String::as_str), accept)
}

/// An internal error as a page (the detail goes to stderr, not to the browser).
pub fn internal(error: impl std::fmt::Display) -> Response {
    eprintln!("workspace: {error}");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server's log").into_response()
}

/// The signed-in session, or the response to send instead: a redirect to the sign-in page
/// (coming back to `here`), or a 403 page when `allowed` refuses the role.
pub fn require(
    state: &AppState,
    headers: &HeaderMap,
    here: &str,
    lang: Lang,
    allowed: impl FnOnce(&Session) -> bool,
) -> Result<Session, Response> {
    let auth = state.auth().map_err(internal)?;
    let session = match cookie(headers, SESSION_COOKIE) {
        Some(token) => auth.session(&token).map_err(internal)?,
        None => None,
    };
    let Some(session) = session else {
        let to = format!("/login?lang={}&next={}", lang.code(), percent(here));
        return Err(Redirect::to(&to).into_response());
    };
    if !allowed(&session) {
        auth.audit(&session.account, "forbidden", here, "");
        return Err(forbidden(&session, lang));
    }
    Ok(session)
}

/// The 403 page.
pub fn forbidden(session: &Session, lang: Lang) -> Response {
    let body = format!("<section><p>{}</p></section>", esc(t(lang, T::Forbidden)));
    let html = view::page(lang, Some(session), t(lang, T::Forbidden), "/workspace", &body);
    view::respond(StatusCode::FORBIDDEN, html)
}

/// Checks a POST: the form's `csrf` field is the session's token, and an `Origin` header, when
/// the browser sends one, is this server's own. `Err` is the 403 page to send.
pub fn check_form(
    session: &Session,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    lang: Lang,
) -> Result<(), Response> {
    let token_ok = form.get("csrf").is_some_and(|sent| session.csrf_ok(sent));
    if token_ok && same_origin(headers) {
        return Ok(());
    }
    let body = format!("<section><p>{}</p></section>", esc(t(lang, T::BadCsrf)));
    let html = view::page(lang, Some(session), t(lang, T::BadCsrf), "/workspace", &body);
    Err(view::respond(StatusCode::FORBIDDEN, html))
}

/// Whether the `Origin` header (if any) names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}

/// Percent-encodes a path for a query parameter.
pub fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only local paths are followed after signing in (no open redirect).
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.clone()
        }
        _ => "/workspace".to_string(),
    }
}

fn login_page(lang: Lang, next: &str, token: &str, error: Option<String>) -> String {
    let mut body = String::new();
    let _ = write!(body, "<section class=\"login\">");
    if let Some(error) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(&error));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login?lang={code}\">\
         <input type=\"hidden\" name=\"login_token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <p><label for=\"name\">{account}</label><br>\
         <input id=\"name\" name=\"name\" autocomplete=\"username\" autofocus required></p>\
         <p><label for=\"password\">{password}</label><br>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\
         <p><button type=\"submit\">{signin}</button></p></form></section>",
        code = lang.code(),
        token = esc(token),
        next = esc(next),
        account = esc(t(lang, T::Account)),
        password = esc(t(lang, T::Password)),
        signin = esc(t(lang, T::SignIn)),
    );
    view::page(lang, None, t(lang, T::SignIn), "/login", &body)
}

/// `GET /login`: the sign-in form.
pub async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let token = super::random_token();
    let html = login_page(lang, &safe_next(query.get("next")), &token, None);
    let mut response = view::respond(StatusCode::OK, html);
    let cookie = set_cookie(auth, &headers, LOGIN_COOKIE, &token, 1800);
    response
        .headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII cookie"));
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    login_token: String,
}

/// `POST /login`: checks the name and password (Argon2id, on the blocking pool), starts a
/// session, and goes on to `next`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang(&query, &headers);
    let auth = match state.auth() {
        Ok(auth) => auth.clone(),
        Err(e) => return internal(e),
    };
    let next = safe_next(form.next.as_ref());
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !super::constant_time_eq(expected.as_bytes(), form.login_token.as_bytes())
        || !same_origin(&headers)
    {
        let token = super::random_token();
        let html = login_page(lang, &next, &token, Some(t(lang, T::BadCsrf).to_string()));
        let mut response = view::respond(StatusCode::FORBIDDEN, html);
        let cookie = set_cookie(&auth, &headers, LOGIN_COOKIE, &token, 1800);
        response
            .headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII cookie"));
        return response;
    }
    let from = peer.ip().to_string();
    let name = form.name.trim().to_string();
    let checker = auth.clone();
    let result =
        tokio::task::spawn_blocking(move || checker.login(&name, &form.password, &from)).await;
    let result = match result {
        Ok(result) => result,
        Err(e) => return internal(e),
    };
    match result {
        Ok(token) => {
            let mut response = Redirect::to(&next).into_response();
            let session = set_cookie(&auth, &headers, SESSION_COOKIE, &token, super::SESSION_SECS);
            let clear = set_cookie(&auth, &headers, LOGIN_COOKIE, "", 0);
            for value in [session, clear] {
                response.headers_mut().append(
                    header::SET_COOKIE,
                    HeaderValue::from_str(&value).expect("ASCII cookie"),
                );
            }
            response
        }
        Err(error) => {
            let message = match error {
                LoginError::Wrong => t(lang, T::WrongLogin).to_string(),
                LoginError::Locked { until } => {
                    let minutes = (until - super::now()).max(60) / 60;
                    format!("{} {minutes} min.", t(lang, T::Locked))
                }
            };
            let html = login_page(lang, &next, &form.login_token, Some(message));
            view::respond(StatusCode::UNAUTHORIZED, html)
        }
    }
}

/// `POST /logout`: ends the session (CSRF-checked), back to the sign-in page.
pub async fn logout(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let session = match require(&state, &headers, "/workspace", lang, |_| true) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = check_form(&session, &headers, &form, lang) {
        return response;
    }
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = auth.logout(&token) {
            return internal(e);
        }
    }
    let mut response = Redirect::to(&format!("/login?lang={}", lang.code())).into_response();
    let clear = set_cookie(auth, &headers, SESSION_COOKIE, "", 0);
    response
        .headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&clear).expect("ASCII cookie"));
    response
}
