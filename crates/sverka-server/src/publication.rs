//! The static publication, served live from the store (DESIGN.md "The log"): the same paths and
//! bytes that `sverka publish` writes, so a verifier can point at either.
//!
//! Caching follows what each file is: the checkpoint changes and is served `no-cache`; a full tile,
//! an entry bundle of 256 entries, a snapshot and a blob are pure functions of their path and are
//! `immutable` for a year; a partial tile's path carries its width, so it never changes either, but
//! it is superseded soon and gets a short lifetime.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sverka_tlog::TilePath;

use crate::api::etag_matches;
use crate::problem::Problem;
use crate::AppState;

/// `Cache-Control` of files that never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of partial tiles.
pub const PARTIAL: &str = "public, max-age=60";

fn bytes_response(
    content_type: &'static str,
    cache: &'static str,
    bytes: impl Into<axum::body::Body>,
) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes.into(),
    )
        .into_response()
}

/// Runs a blocking store read; store failures become 503, a panic 500.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    read: impl FnOnce(&sverka_store::Store) -> Result<T, sverka_store::StoreError> + Send + 'static,
) -> Result<T, Problem> {
    let store = state.store().clone();
    match tokio::task::spawn_blocking(move || read(&store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            eprintln!("sverka-server: store read failed: {error}");
            let mut problem = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::problem::codes::INTERNAL,
                "store unavailable",
                "the log could not be read now; retry",
            );
            problem.retry_after = Some(1);
            Err(problem)
        }
        Err(_) => Err(Problem::internal()),
    }
}

/// `GET /checkpoint`: the latest signed checkpoint, never cached.
pub async fn checkpoint(State(state): State<AppState>) -> Response {
    match blocking(&state, |store| store.checkpoint()).await {
        Ok(checkpoint) => bytes_response("text/plain; charset=utf-8", "no-cache", checkpoint.note),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /log.vkey`.
pub async fn log_vkey(State(state): State<AppState>) -> Response {
    let vkey = format!("{}\n", state.store().verifier_key());
    bytes_response("text/plain; charset=utf-8", "public, max-age=3600", vkey)
}

/// `GET /tile/{*path}`: hash tiles and entry bundles (C2SP tlog-tiles v1).
pub async fn tile(State(state): State<AppState>, Path(rest): Path<String>) -> Response {
    let path = format!("tile/{rest}");
    let full = match sverka_tlog::parse_path(&path) {
        Ok(TilePath::Hash(tile)) => tile.is_full(),
        Ok(TilePath::Entries(bundle)) => bundle.is_full(),
        Err(error) => {
            return Problem::bad_parameter(format!("not a tile path: {error}")).into_response()
        }
    };
    let read = path.clone();
    match blocking(&state, move |store| store.read_tile(&read)).await {
        Ok(Some(bytes)) => bytes_response(
            "application/octet-stream",
            if full { IMMUTABLE } else { PARTIAL },
            bytes,
        ),
        Ok(None) => Problem::not_found(format!("the log has no {path} yet")).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /blob/{sha256}`.
pub async fn blob(State(state): State<AppState>, Path(sha256): Path<String>) -> Response {
    let well_formed = sha256.len() == 64
        && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Problem::bad_parameter("a blob is named by 64 lower-case hex digits")
            .into_response();
    }
    let id = sha256.clone();
    match blocking(&state, move |store| store.blob(&id)).await {
        Ok(Some(bytes)) => bytes_response("application/octet-stream", IMMUTABLE, bytes),
        Ok(None) => Problem::not_found(format!("no blob {sha256}")).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /snapshot/{N}.json`: the results of the first N entries, for every N the log signed.
pub async fn snapshot(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let size = file
        .strip_suffix(".json")
        .filter(|n| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        })
        .and_then(|n| n.parse::<u64>().ok());
    let Some(size) = size else {
        return Problem::bad_parameter("a snapshot is named <N>.json").into_response();
    };
    match crate::live::snapshot_at(&state, size).await {
        Ok(Some((bytes, etag))) => {
            if etag_matches(&headers, &etag) {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            let mut response = bytes_response("application/json", IMMUTABLE, bytes);
            response
                .headers_mut()
                .insert(header::ETAG, HeaderValue::from_str(&etag).expect("ascii"));
            response
        }
        Ok(None) => Problem::not_found(format!("the log signed no checkpoint of size {size}"))
            .into_response(),
        Err(problem) => problem.into_response(),
    }
}
