//! `GET /api/v1/reconciliation[?district=ID]`: the reconciliation of the latest published
//! checkpoint as `sverka-reconciliation/v1` JSON, the same bytes `sverka reconcile DIR` prints for
//! that checkpoint (with `--district ID` when asked for one district).
//!
//! The reconciliation needs every source's protocol at every station, which the published results
//! do not keep, so it is computed by replaying the log up to the published checkpoint with the same
//! replay function (`sverka_store::snapshot::replay_to`) the first time it is asked for that
//! checkpoint, and then served from memory (one checkpoint kept, keyed by its size and root).

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sverka_tally::reconcile::export::reconciliation_json;
use sverka_tally::reconcile::{reconcile, Config, Reconciliation};
use sverka_tally::snapshot::Checkpoint;

use crate::api::etag_matches;
use crate::live::etag_of;
use crate::problem::Problem;
use crate::AppState;

/// The reconciliation of one checkpoint.
pub struct Reconciled {
    pub checkpoint: Checkpoint,
    pub reconciliation: Reconciliation,
}

/// The last computed reconciliation, keyed by checkpoint (size and root).
static CACHE: Mutex<Option<Arc<Reconciled>>> = Mutex::new(None);

fn cached(checkpoint: &Checkpoint) -> Option<Arc<Reconciled>> {
    let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.as_ref().filter(|r| &r.checkpoint == checkpoint).cloned()
}

/// The reconciliation of the published checkpoint (`None` before the first one).
pub async fn current(state: &AppState) -> Result<Option<Arc<Reconciled>>, Problem> {
    let published = state.published();
    let Some(signed) = published.checkpoint.clone() else { return Ok(None) };
    let checkpoint = Checkpoint { size: signed.size, root: *signed.root.as_bytes() };
    if let Some(hit) = cached(&checkpoint) {
        return Ok(Some(hit));
    }
    let task_state = state.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let replay = sverka_store::snapshot::replay_to(task_state.store(), checkpoint.size)?;
        let config = Config::for_election(replay.election());
        let reconciliation = reconcile(replay.election(), replay.tally(), &config);
        Ok::<_, sverka_store::snapshot::SnapshotError>(Reconciled { checkpoint, reconciliation })
    })
    .await
    .map_err(|_| Problem::internal())?
    .map_err(|e| {
        eprintln!("reconciliation at checkpoint {}: {e}", checkpoint.size);
        Problem::internal()
    })?;
    let computed = Arc::new(computed);
    *CACHE.lock().unwrap_or_else(|p| p.into_inner()) = Some(computed.clone());
    Ok(Some(computed))
}

/// Query parameters of [`reconciliation`].
#[derive(Deserialize, Default)]
pub struct ReconciliationQuery {
    district: Option<String>,
}

/// `GET /api/v1/reconciliation`.
pub async fn reconciliation(
    State(state): State<AppState>,
    Query(query): Query<ReconciliationQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(district) = &query.district {
        if state.election().district(district).is_none() {
            let detail = format!("district: {district:?} is not a district of this election");
            return Problem::not_found(detail).into_response();
        }
    }
    let reconciled = match current(&state).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Problem::not_found("the log has no signed checkpoint yet").into_response()
        }
        Err(problem) => return problem.into_response(),
    };
    let bytes = match reconciliation_json(
        &reconciled.reconciliation,
        Some(&reconciled.checkpoint),
        query.district.as_deref(),
    ) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("reconciliation JSON: {e}");
            return Problem::internal().into_response();
        }
    };
    let etag = etag_of(reconciled.checkpoint.size, &bytes);
    let etag_value = HeaderValue::from_str(&etag).expect("etags are ASCII");
    let cache = HeaderValue::from_static(crate::site::html::LIVE_CACHE);
    if etag_matches(&headers, &etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}
