//! The per-level read API (issue 6): `GET /api/v1/results/region/{id}`, `/district/{id}` and
//! `/station/{id}`, each the published snapshot cut down to one unit, naming its checkpoint.
//!
//! Every answer is a slice of `sverka_tally::snapshot::snapshot_value` of the published results
//! (with their stations), so its members mean exactly what they mean in `sverka-snapshot/v1`. Each
//! is computed once per checkpoint, on first request, and then served from memory with an `ETag`.
//!
//! ```text
//! sverka-level/v1:   {"format", "checkpoint": {"size", "root"}, "election", "level": "region" | "district",
//!                     "id", "contests": [{"id", "kind", "options", "official": LEVEL, "preliminary": LEVEL}]}
//! sverka-station/v1: {"format", "checkpoint": {"size", "root"}, "election", "station",
//!                     "contests": [{"id", "kind", "options", "lines", "station": STATION}]}
//! ```
//!
//! LEVEL and STATION are those of `sverka-snapshot/v1` (docs/formats.md and `snapshot.rs`); a
//! contest that does not cover the unit is left out.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::etag_matches;
use crate::live::{CachedPage, Published};
use crate::problem::Problem;
use crate::AppState;

/// The format of a region or district answer.
pub const LEVEL_FORMAT: &str = "sverka-level/v1";
/// The format of a station answer.
pub const STATION_FORMAT: &str = "sverka-station/v1";

/// `GET /api/v1/results/region/{id}`.
pub async fn region(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.election().region(&id).is_none() {
        return Problem::not_found(format!("no region {id:?} in this election")).into_response();
    }
    serve(&state, &headers, "region", id).await
}

/// `GET /api/v1/results/district/{id}`.
pub async fn district(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.election().district(&id).is_none() {
        return Problem::not_found(format!("no district {id:?} in this election")).into_response();
    }
    serve(&state, &headers, "district", id).await
}

/// `GET /api/v1/results/station/{id}`.
pub async fn station(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.election().station(&id).is_none() {
        return Problem::not_found(format!("no station {id:?} in this election")).into_response();
    }
    serve(&state, &headers, "station", id).await
}

async fn serve(state: &AppState, headers: &HeaderMap, kind: &'static str, id: String) -> Response {
    let published = state.published();
    if published.checkpoint.is_none() {
        return Problem::not_found("no results are published yet").into_response();
    }
    let key = key_of(kind, &id);
    let page = match published.page(&key) {
        Some(page) => page,
        None => {
            let task = published.clone();
            let built = tokio::task::spawn_blocking(move || build(&task, kind, &id)).await;
            match built {
                Ok(Some(bytes)) => published.store_page(key, bytes),
                _ => return Problem::internal().into_response(),
            }
        }
    };
    respond(headers, page)
}

/// The cache key of the answer for unit `id` of `kind` (`region`, `district` or `station`).
fn key_of(kind: &str, id: &str) -> String {
    format!("api|{kind}|{id}")
}

/// Computes into `published`'s cache the answers among `keys` (cache keys of the result published
/// before it), before it is published (`live::refresh_blocking`).
pub(crate) fn warm(published: &Published, keys: &[String]) {
    for key in keys {
        let Some((kind, id)) = key.strip_prefix("api|").and_then(|rest| rest.split_once('|'))
        else {
            continue;
        };
        if matches!(kind, "region" | "district" | "station") && key_of(kind, id) == *key {
            if let Some(bytes) = build(published, kind, id) {
                published.store_page(key.clone(), bytes);
            }
        }
    }
}

fn respond(headers: &HeaderMap, page: CachedPage) -> Response {
    let etag = HeaderValue::from_str(&page.etag).expect("etags are ASCII");
    let cache = HeaderValue::from_static("public, max-age=2");
    if etag_matches(headers, &page.etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)])
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        page.html,
    )
        .into_response()
}

/// The canonical JSON of one unit, cut from the published snapshot (with stations).
fn build(published: &Published, kind: &str, id: &str) -> Option<String> {
    let snapshot = published.full_snapshot()?;
    let contests: Vec<Value> = snapshot["contests"]
        .as_array()?
        .iter()
        .filter_map(|contest| match kind {
            "station" => {
                let station =
                    contest["stations"].as_array()?.iter().find(|s| s["id"] == id)?.clone();
                Some(json!({"id": contest["id"], "kind": contest["kind"],
                            "options": contest["options"], "lines": contest["lines"],
                            "station": station}))
            }
            _ => {
                let pick = |view: &str| {
                    contest[view]["levels"]
                        .as_array()?
                        .iter()
                        .find(|l| l["level"] == kind && l["id"] == id)
                        .cloned()
                };
                Some(json!({"id": contest["id"], "kind": contest["kind"],
                            "options": contest["options"],
                            "official": pick("official")?, "preliminary": pick("preliminary")?}))
            }
        })
        .collect();
    let mut document = json!({
        "checkpoint": snapshot["checkpoint"],
        "election": snapshot["election"],
        "contests": contests,
    });
    if kind == "station" {
        document["format"] = json!(STATION_FORMAT);
        document["station"] = json!(id);
    } else {
        document["format"] = json!(LEVEL_FORMAT);
        document["level"] = json!(kind);
        document["id"] = json!(id);
    }
    let bytes = sverka_model::canonical::value_to_vec(&document).ok()?;
    String::from_utf8(bytes).ok()
}
