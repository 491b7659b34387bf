//! The results site (issue 6): server-rendered HTML with inline SVG, in Kyrgyz, Russian and
//! English, complete without JavaScript.
//!
//! - [`national`], [`region`], [`district`], [`station`], [`find`]: the handlers;
//! - `changes`: "what changed" between two checkpoints ([`changes`], [`changes_atom`],
//!   [`changes_json`]);
//! - `pages`: the national, region and district pages; `station`: the station page;
//! - `html`: escaping and the page shell; `charts`: SVG; `i18n`: languages and numbers.
//!
//! Every page is rendered from one [`crate::live::Published`] (so it names the checkpoint its
//! numbers came from), once per checkpoint, language and view, and then served from memory with an
//! `ETag`. Pages are public and short-lived in caches ([`html::LIVE_CACHE`]: fresh for a second,
//! then stale while revalidated), so a CDN in front absorbs a crowd while the night moves on.
//! Pages readers asked for under one checkpoint, station pages included, are rendered for the next
//! before it is published ([`warm`]), so a reader is answered from memory.

pub mod audit;
mod changes;
pub mod charts;
pub mod forensics;
pub mod html;
pub mod i18n;
mod pages;
pub mod reconcile;
mod station;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sverka_tally::tabulate::View;

use crate::api::etag_matches;
use crate::live::{etag_of, CachedPage, Published};
use crate::problem::Problem;
use crate::AppState;
use i18n::Lang;

pub use changes::{atom as changes_atom, json as changes_json, page as changes};

/// Query parameters every page takes.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    view: Option<String>,
    q: Option<String>,
}

/// What a page is rendered for.
pub(crate) struct Ctx<'a> {
    pub lang: Lang,
    pub view: View,
    pub state: &'a AppState,
    pub published: &'a Published,
}

fn view_of(query: &PageQuery) -> View {
    match query.view.as_deref() {
        Some("official") => View::Official,
        _ => View::Preliminary,
    }
}

fn lang_of(query: &PageQuery, headers: &HeaderMap) -> Lang {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(query.lang.as_deref(), accept)
}

fn html_response(headers: &HeaderMap, page: CachedPage, status: StatusCode) -> Response {
    let etag = HeaderValue::from_str(&page.etag).expect("etags are ASCII");
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static(html::LIVE_CACHE)),
        (header::VARY, HeaderValue::from_static("Accept-Language")),
    ];
    if status == StatusCode::OK && etag_matches(headers, &page.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type =
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))];
    (status, common, content_type, page.html).into_response()
}

/// What a page computes from the log at one checkpoint, kept until the next checkpoint: the audit
/// and forensics pages replay the log, too slow to do for every request. Each server has its own
/// (in [`AppState`]), so two servers in one process never serve each other's numbers.
pub(crate) struct PerCheckpoint<T> {
    /// What is computed, for the server's log: "audits", "forensics".
    what: &'static str,
    latest: Mutex<Option<(u64, Arc<T>)>>,
}

impl<T: Send + Sync + 'static> PerCheckpoint<T> {
    pub(crate) fn new(what: &'static str) -> Self {
        PerCheckpoint { what, latest: Mutex::new(None) }
    }

    /// The value at checkpoint `size`: from memory if it was computed at that size, else
    /// `compute(state, size)` on the blocking pool. The blocking task keeps what it computed
    /// itself, so a request that times out while it runs still leaves the value for the next one.
    async fn at(
        state: &AppState,
        slot: fn(&AppState) -> &PerCheckpoint<T>,
        size: u64,
        compute: fn(&AppState, u64) -> Result<T, String>,
    ) -> Result<Arc<T>, Problem> {
        let this = slot(state);
        if let Some((at, value)) = &*this.latest.lock().unwrap_or_else(|p| p.into_inner()) {
            if *at == size {
                return Ok(value.clone());
            }
        }
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let this = slot(&state);
            let value = Arc::new(compute(&state, size).map_err(|e| {
                eprintln!("{} at checkpoint {size}: {e}", this.what);
                Problem::internal()
            })?);
            *this.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some((size, value.clone()));
            Ok(value)
        })
        .await
        .map_err(|_| Problem::internal())?
    }
}

/// A page of what [`PerCheckpoint`] computed at the published checkpoint: `render(state, size,
/// value, lang)`, served with the checkpoint's `ETag`.
async fn per_checkpoint_page<T: Send + Sync + 'static>(
    state: &AppState,
    query: &PageQuery,
    headers: &HeaderMap,
    slot: fn(&AppState) -> &PerCheckpoint<T>,
    compute: fn(&AppState, u64) -> Result<T, String>,
    render: fn(&AppState, u64, &T, Lang) -> String,
) -> Response {
    let lang = lang_of(query, headers);
    let size = state.published().checkpoint.as_ref().map_or(0, |c| c.size);
    let value = match PerCheckpoint::at(state, slot, size, compute).await {
        Ok(value) => value,
        Err(problem) => return problem.into_response(),
    };
    let html = render(state, size, &value, lang);
    let etag = etag_of(size, html.as_bytes());
    html_response(headers, CachedPage { html: html.into(), etag }, StatusCode::OK)
}

/// The cache key of the page at `path` (national, region or district) in `lang` and `view`.
fn page_key(path: &str, lang: Lang, view: View) -> String {
    format!("{path}|{}|{}", lang.code(), view.as_str())
}

/// The cache key of station `id`'s page in `lang`.
fn station_key(id: &str, lang: Lang) -> String {
    format!("/station/{id}|{}", lang.code())
}

/// Renders into `published`'s cache the national, region, district and station pages among `keys`
/// (cache keys of the result published before it), before it is published
/// (`live::refresh_blocking`, on the blocking pool).
pub(crate) fn warm(state: &AppState, published: &Published, keys: &[String]) {
    for key in keys {
        if let Some((id, lang)) =
            key.strip_prefix("/station/").and_then(|rest| rest.split_once('|'))
        {
            let Some(lang) = Lang::from_code(lang) else { continue };
            // Station pages read their entries from the log asynchronously; this runs on a
            // blocking-pool thread, where waiting for them is allowed.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { continue };
            if station_key(id, lang) == *key && state.election().station(id).is_some() {
                if let Some(html) = runtime.block_on(station::render(state, published, lang, id)) {
                    published.store_page(key.clone(), html);
                }
            }
            continue;
        }
        let mut parts = key.split('|');
        let (Some(path), Some(lang), Some(view), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(lang) = Lang::from_code(lang) else { continue };
        let Some(view) = View::ALL.into_iter().find(|v| v.as_str() == view) else { continue };
        if page_key(path, lang, view) != *key {
            continue;
        }
        let ctx = Ctx { lang, view, state, published };
        let html = match path {
            "/" => Some(pages::national(&ctx)),
            _ => match (path.strip_prefix("/region/"), path.strip_prefix("/district/")) {
                (Some(id), _) if state.election().region(id).is_some() => pages::region(&ctx, id),
                (_, Some(id)) if state.election().district(id).is_some() => {
                    pages::district(&ctx, id)
                }
                _ => None,
            },
        };
        if let Some(html) = html {
            published.store_page(key.clone(), html);
        }
    }
}

/// Serves the page `key` from the cache or renders it with `render` (None: not found).
async fn serve_page<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    key: String,
    render: F,
) -> Response
where
    F: FnOnce(std::sync::Arc<Published>) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let published = state.published();
    if let Some(page) = published.page(&key) {
        return html_response(headers, page, StatusCode::OK);
    }
    match render(published.clone()).await {
        Some(html) => html_response(headers, published.store_page(key, html), StatusCode::OK),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn not_found_page(state: &AppState, lang: Lang, what: &str) -> Response {
    let election = state.election();
    let shell = html::Shell {
        lang,
        title: lang.t(i18n::Msg::NotFound),
        election: election.name.get(lang.code()),
        path: "/",
        crumbs: &[],
        checkpoint_size: state.published().size(),
    };
    let body = format!(
        "<section><p>{}</p><p><a href=\"/?lang={}\">{}</a></p></section>",
        html::esc(what),
        lang.code(),
        html::esc(lang.t(i18n::Msg::Country))
    );
    let html = html::page(&shell, &body);
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=5"),
        ],
        html,
    )
        .into_response()
}

/// `GET /`: the national page.
pub async fn national(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, view) = (lang_of(&query, &headers), view_of(&query));
    let key = page_key("/", lang, view);
    let task_state = state.clone();
    serve_page(&state, &headers, key, |published| async move {
        let ctx = Ctx { lang, view, state: &task_state, published: &published };
        Some(pages::national(&ctx))
    })
    .await
}

/// `GET /region/{id}`.
pub async fn region(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, view) = (lang_of(&query, &headers), view_of(&query));
    if state.election().region(&id).is_none() {
        return not_found_page(&state, lang, &format!("{}: {id}", lang.t(i18n::Msg::Region)));
    }
    let key = page_key(&format!("/region/{id}"), lang, view);
    let task_state = state.clone();
    serve_page(&state, &headers, key, |published| async move {
        let ctx = Ctx { lang, view, state: &task_state, published: &published };
        pages::region(&ctx, &id)
    })
    .await
}

/// `GET /district/{id}`.
pub async fn district(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, view) = (lang_of(&query, &headers), view_of(&query));
    if state.election().district(&id).is_none() {
        return not_found_page(&state, lang, &format!("{}: {id}", lang.t(i18n::Msg::District)));
    }
    let key = page_key(&format!("/district/{id}"), lang, view);
    let task_state = state.clone();
    serve_page(&state, &headers, key, |published| async move {
        let ctx = Ctx { lang, view, state: &task_state, published: &published };
        pages::district(&ctx, &id)
    })
    .await
}

/// `GET /station/{id}`.
pub async fn station(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&query, &headers);
    if state.election().station(&id).is_none() {
        return not_found_page(&state, lang, &format!("{}: {id}", lang.t(i18n::Msg::Station)));
    }
    let key = station_key(&id, lang);
    let task_state = state.clone();
    serve_page(&state, &headers, key, |published| async move {
        station::render(&task_state, &published, lang, &id).await
    })
    .await
}

/// `GET /find?q=…`: to the station with that number.
pub async fn find(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&query, &headers);
    let wanted = query.q.as_deref().unwrap_or("").trim();
    match state.election().station(wanted) {
        Some(station) => {
            Redirect::to(&html::link(&format!("/station/{}", station.id), lang)).into_response()
        }
        None => not_found_page(&state, lang, &format!("{}: {wanted}", lang.t(i18n::Msg::Station))),
    }
}
