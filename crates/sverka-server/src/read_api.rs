//! The per-level read API (issue 6): `GET /api/v1/results/region/{id}`, `/district/{id}` and
//! `/station/{id}`, each the published snapshot cut down to one unit, naming its checkpoint.
//!
//! Every answer is a slice of `sverka_tally::snapshot::snapshot_value` of the published results,
//! so its members mean exactly what they mean in `sverka-snapshot/v1`. The value is made of the
//! results cut down to the stations asked for (every level kept): the nation's snapshot with all
//! its stations is megabytes of JSON values, and building and dropping it once a checkpoint took
//! a tenth of the server's CPU under load (BENCHMARKS.md). Each answer is computed once per
//! checkpoint (ahead of it by `live.rs` for the answers asked for under the previous one, see
//! [`warm`]; otherwise on first request, on the blocking pool, from the full snapshot value
//! computed once for all such requests) and then served from memory with a
//! strong `ETag` (`304` to `If-None-Match`) and [`LIVE_CACHE`](crate::site::html::LIVE_CACHE).
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

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sverka_tally::snapshot::{snapshot_value, Checkpoint};
use sverka_tally::tabulate::{ContestResults, Results};

use crate::api::etag_matches;
use crate::live::{CachedPage, Published};
use crate::problem::Problem;
use crate::AppState;

/// The format of a region or district answer.
pub const LEVEL_FORMAT: &str = "sverka-level/v1";
/// The format of a station answer.
pub const STATION_FORMAT: &str = "sverka-station/v1";

/// `GET /api/v1/results`: the latest snapshot (`sverka-snapshot/v1`), its bytes written on the
/// first request for a checkpoint (`live::snapshot_of`) and then served from memory, with the same
/// `ETag` and `Cache-Control` rules as the per-level answers.
pub async fn results(state: &AppState, headers: &HeaderMap) -> Response {
    let published = state.published();
    match crate::live::snapshot_of(state, &published).await {
        Ok((html, etag)) => respond(headers, CachedPage { html, etag }),
        Err(problem) => problem.into_response(),
    }
}

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
            // Not rendered ahead: cut from the full snapshot value, computed once per checkpoint
            // however many readers miss at once (building a value per miss, each with every
            // level and outcome, let a crowd of first readers swamp the blocking pool).
            let built =
                tokio::task::spawn_blocking(move || build(task.full_snapshot()?, kind, &id)).await;
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
    let wanted: Vec<(&str, &str, &String)> = keys
        .iter()
        .filter_map(|key| {
            let (kind, id) = key.strip_prefix("api|")?.split_once('|')?;
            let known = matches!(kind, "region" | "district" | "station");
            (known && key_of(kind, id) == *key).then_some((kind, id, key))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let stations: BTreeSet<&str> =
        wanted.iter().filter(|(kind, ..)| *kind == "station").map(|(_, id, _)| *id).collect();
    let Some(value) = value_of(published, &stations) else { return };
    for (kind, id, key) in wanted {
        if let Some(bytes) = build(&value, kind, id) {
            published.store_page(key.clone(), bytes);
        }
    }
}

fn respond(headers: &HeaderMap, page: CachedPage) -> Response {
    let etag = HeaderValue::from_str(&page.etag).expect("etags are ASCII");
    let cache = HeaderValue::from_static(crate::site::html::LIVE_CACHE);
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

/// The results of `published` as a `sverka-snapshot/v1` value with every level and, of the
/// stations, only those in `stations`: the members the answers are cut from, equal to those of the
/// full snapshot (a contest's levels and outcome do not depend on its stations, nor a station's
/// member on the others), without the megabytes of the stations nobody asked for.
fn value_of(published: &Published, stations: &BTreeSet<&str>) -> Option<Value> {
    let checkpoint = published.checkpoint.as_ref()?;
    let results = published.results.as_ref()?;
    let at = Checkpoint { size: checkpoint.size, root: *checkpoint.root.as_bytes() };
    Some(snapshot_value(&trimmed(results, stations), &at))
}

/// `results` with only the stations in `stations`, and without the log-wide lists (corrections,
/// annulments, ignored entries, warnings) that no answer of this API carries.
fn trimmed(results: &Results, stations: &BTreeSet<&str>) -> Results {
    let contests = results
        .contests
        .iter()
        .map(|c| ContestResults {
            contest: c.contest.clone(),
            options: c.options.clone(),
            lines: c.lines.clone(),
            candidates: c.candidates.clone(),
            progress: c.progress.clone(),
            official: c.official.clone(),
            preliminary: c.preliminary.clone(),
            stations: c
                .stations
                .iter()
                .filter(|s| stations.contains(s.station.as_str()))
                .cloned()
                .collect(),
        })
        .collect();
    Results {
        election: results.election.clone(),
        entries: results.entries,
        protocols: results.protocols,
        annulments_applied: results.annulments_applied,
        other_entries: results.other_entries,
        disputed: Vec::new(),
        contests,
        corrections: Vec::new(),
        annulments: Vec::new(),
        ignored: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The canonical JSON of one unit, cut from `snapshot` (the full snapshot value, or one of
/// [`value_of`] that has the unit's station if it is one).
fn build(snapshot: &Value, kind: &str, id: &str) -> Option<String> {
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
