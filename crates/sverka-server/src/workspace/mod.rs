//! The commission workspace (issue 13): server-rendered pages for signed-in operators, in
//! Kyrgyz, Russian and English, usable from the keyboard alone.
//!
//! - [`entry`]: protocol entry laid out like the paper form, double entry by two operators,
//!   resolution of differences by a third person, corrections with a typed reason;
//! - [`pages`]: the district's progress table, the projector view, the review queues (each item
//!   with the action that settles it), the audit log;
//! - [`requests`]: annulment and recount requests to the CEC, and the CEC admin's signed answer;
//! - [`scan`]: the protocol's photo or PDF, uploaded and shown beside the entry form;
//! - [`station`]: a station's protocols, actions and every version in the log;
//! - `text`: the strings; `view`: the page shell; `db`: protocol states and entries.
//!
//! **Signing.** The server holds one operator key per district (`sverka accounts signing-key`,
//! a 0600 file under `DIR/workspace-keys/`); an operator key registered for that district in
//! `election.toml` or by a key entry in the log. Only agreeing double entries (or a third
//! person's resolution, or a correction) are signed with it and submitted through the store,
//! so the log names the district's key and the workspace's audit log names the people.
//!
//! Every handler starts with [`crate::auth::pages::require`], which names the roles allowed;
//! every POST also passes [`crate::auth::pages::check_form`] (CSRF token and origin). The pages of
//! one protocol get both, with the protocol looked up, from the extractors of `access`
//! (`ProtocolPage<A>`, `Posted<A>`).

pub mod access;
pub mod db;
pub mod entry;
pub mod pages;
pub mod requests;
pub mod scan;
pub mod station;
pub mod text;
pub mod view;

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::pages::{lang, require};
use crate::site::html::esc;
use crate::AppState;
use text::{t, T};

/// `GET /workspace`: the districts the signed-in person may open (an operator goes straight
/// to their own).
pub async fn index(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let session = match require(&state, &headers, "/workspace", lang, |_| true) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Some(district) = session.role.district() {
        return Redirect::to(&format!("/workspace/district/{district}?lang={}", lang.code()))
            .into_response();
    }
    let election = state.election();
    let mut body = String::new();
    let _ = write!(body, "<section><h2>{}</h2><ul>", esc(t(lang, T::Districts)));
    for district in &election.districts {
        let _ = write!(
            body,
            "<li><a href=\"/workspace/district/{id}?lang={code}\">{name}</a></li>",
            id = esc(&district.id),
            code = lang.code(),
            name = esc(district.name.get(lang.code())),
        );
    }
    let _ = write!(
        body,
        "<nav class=\"ws\"><a href=\"/workspace/review?lang={code}#requests\">{}</a>",
        esc(t(lang, T::Review)),
        code = lang.code()
    );
    if session.role.may_audit() {
        let _ = write!(
            body,
            "<a href=\"/workspace/audit?lang={}\">{}</a>",
            lang.code(),
            esc(t(lang, T::AuditLog))
        );
    }
    body.push_str("</nav>");
    let html = view::page(lang, Some(&session), t(lang, T::Workspace), "/workspace", &body);
    view::respond(StatusCode::OK, html)
}
