//! The JSON API under `/api/v1/`: submissions (one, or a batch), receipts with inclusion proofs,
//! the quarantine, the latest results, the event stream and the OpenAPI document.
//!
//! Submissions go to the store's sequencer on the blocking pool, through [`crate::live::submit`],
//! which hands what the store decoded to the live results. A request first takes a permit
//! from the admission gate (`Config::max_pending_submissions`); with none left it is answered
//! `503` + `Retry-After` at once, so a crowd of scanners meets a bounded queue, never an unbounded
//! pile of waiting threads. The permit travels with the blocking call, so a request that times out
//! still holds it until the store has answered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sverka_store::{Receipt, Rejection, SubmitError};
use sverka_tlog::Hash;

use sverka_model::validate;

use crate::limits::{claimed_signer, signature_verified};
use crate::problem::{codes, Finding, Messages, Problem};
use crate::AppState;

/// The OpenAPI 3.1 document, written by hand and checked against the router by a test.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// A receipt as sent to the submitter: the same index and leaf hash for the first and every
/// repeated submission of the same entry (`new` is said by the status code, 201 or 200); the
/// warnings of the accepted submission come with the 201 only (the store reports them once).
#[derive(Serialize)]
struct ReceiptBody<'a> {
    index: u64,
    leaf_hash: String,
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    warnings: &'a [Finding],
}

fn findings(problems: &[sverka_store::Problem]) -> Vec<Finding> {
    problems
        .iter()
        .map(|p| Finding {
            code: p.code.clone(),
            field: p.line.clone(),
            message: p.message.clone(),
            messages: messages(p),
        })
        .collect()
}

/// The finding's message in the three languages, from its rule's templates and its values.
fn messages(problem: &sverka_store::Problem) -> Option<Messages> {
    let message = |lang| {
        let params = problem.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        validate::message_of(&problem.code, problem.line.as_deref(), params, lang)
    };
    Some(Messages { ky: message("ky")?, ru: message("ru")?, en: message("en")? })
}

fn receipt_json(receipt: &Receipt) -> serde_json::Value {
    let warnings = findings(&receipt.warnings);
    serde_json::to_value(ReceiptBody {
        index: receipt.index,
        leaf_hash: lower_hex(receipt.leaf_hash.as_bytes()),
        warnings: &warnings,
    })
    .expect("receipt serializes")
}

/// `bytes` as lower-case hex, as `Hash::to_hex` writes it, without a string per byte (a batch
/// answers hundreds of receipts).
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    hex
}

/// The HTTP status of a rejection, from its first code: malformed bytes (`E0xx`) 400; a key that
/// is unknown, revoked, does not verify or may not sign this (`E102`–`E104`, `E106`–`E109`) 403; a
/// replayed sequence number (`E105`) 409; anything else about the content 422.
fn rejection_status(code: &str) -> StatusCode {
    match code {
        c if c.starts_with("E0") => StatusCode::BAD_REQUEST,
        "E102" | "E103" | "E104" | "E106" | "E107" | "E108" | "E109" => StatusCode::FORBIDDEN,
        "E105" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The problem answering a rejected submission: its first code, every finding.
pub fn rejection_problem(rejection: &Rejection) -> Problem {
    let code = rejection.problems.first().map_or("E003", |p| p.code.as_str());
    let mut problem = Problem::new(
        rejection_status(code),
        code,
        "submission rejected",
        format!("{rejection}; the submission was quarantined and nothing was appended"),
    );
    problem.findings = findings(&rejection.problems);
    problem
}

fn store_unavailable(error: &sverka_store::StoreError, retry_after: u32) -> Problem {
    eprintln!("sverka-server: store error: {error}");
    if crate::ops::disk_full(error) {
        return Problem::insufficient_storage(retry_after.max(5));
    }
    let mut problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::OVERLOADED,
        "store unavailable",
        "the log could not take the submission now; nothing was acknowledged; resubmit the same bytes",
    );
    problem.retry_after = Some(retry_after);
    problem
}

/// One submission's answer: status and JSON body (a receipt or a problem).
fn answer(
    result: Result<Receipt, SubmitError>,
    retry_after: u32,
) -> (StatusCode, serde_json::Value, Option<Problem>) {
    match result {
        Ok(receipt) => {
            let status = if receipt.new { StatusCode::CREATED } else { StatusCode::OK };
            (status, receipt_json(&receipt), None)
        }
        Err(SubmitError::Rejected(rejection)) => {
            let problem = rejection_problem(&rejection);
            (problem.status, problem.to_json(), Some(problem))
        }
        Err(SubmitError::Store(error)) => {
            let problem = store_unavailable(&error, retry_after);
            (problem.status, problem.to_json(), Some(problem))
        }
    }
}

/// Reads a body up to `limit` bytes; past it, `H001`.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Problem::body_too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| Problem::body_too_large(limit))
}

fn sender_of(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "http".to_string(), |addr| format!("http {}", addr.ip()))
}

/// The key a submission claims, if its per-key bucket has a token for it; `Ok(None)` when the
/// limit is off or the bytes name no signer (decoding will refuse them).
fn take_key_token(state: &AppState, bytes: &[u8]) -> Result<Option<String>, Problem> {
    if !state.limits().per_key_enabled() {
        return Ok(None);
    }
    let Some(signer) = claimed_signer(bytes) else { return Ok(None) };
    match state.limits().take_key(&signer) {
        Ok(()) => Ok(Some(signer)),
        Err(wait) => Err(Problem::rate_limited_key(&signer, wait)),
    }
}

/// Gives the key's token back unless the store's answer shows the signature verified (see
/// [`crate::limits`]: a forged claim must not use up someone else's allowance).
fn settle_key_token(state: &AppState, signer: Option<&str>, result: &Result<Receipt, SubmitError>) {
    let Some(signer) = signer else { return };
    let verified = match result {
        Ok(_) => true,
        Err(SubmitError::Rejected(rejection)) => {
            signature_verified(rejection.problems.first().map(|p| p.code.as_str()))
        }
        Err(SubmitError::Store(_)) => false,
    };
    if !verified {
        state.limits().refund_key(signer);
    }
}

/// `POST /api/v1/submissions`.
pub async fn submit(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    if let Err(wait) = state.limits().take_ip(peer.map(|addr| addr.ip())) {
        return Problem::rate_limited_ip(wait).into_response();
    }
    let bytes = match read_body(&headers, body, state.config().max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(problem) => return problem.into_response(),
    };
    let signer = match take_key_token(&state, &bytes) {
        Ok(signer) => signer,
        Err(problem) => return problem.into_response(),
    };
    let retry_after = state.config().retry_after_secs;
    let Ok(permit) = state.admission().clone().try_acquire_owned() else {
        if let Some(signer) = &signer {
            state.limits().refund_key(signer);
        }
        return Problem::overloaded(retry_after).into_response();
    };
    let task_state = state.clone();
    let sender = sender_of(peer);
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let incoming = sverka_store::Incoming { bytes: bytes.to_vec(), sender };
        crate::live::submit(&task_state, vec![incoming]).pop().expect("one answer")
    })
    .await;
    let Ok(result) = result else { return Problem::internal().into_response() };
    state.ops().submission(&result);
    settle_key_token(&state, signer.as_deref(), &result);
    if result.as_ref().is_ok_and(|receipt| receipt.new) {
        state.notify_new_entries();
    }
    match answer(result, retry_after) {
        (_, _, Some(problem)) => problem.into_response(),
        (status, body, None) => (status, axum::Json(body)).into_response(),
    }
}

/// Splits a batch body into submissions (`sverka_model::batch::split`), or answers `H005`.
fn split_batch(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Problem> {
    let items = sverka_model::batch::split(bytes).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_BATCH,
            "malformed batch",
            error.to_string(),
        )
    })?;
    Ok(items.into_iter().map(<[u8]>::to_vec).collect())
}

/// `POST /api/v1/submissions/batch`: per-item results, in order, each what the single endpoint
/// would have answered.
pub async fn submit_batch(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = state.config();
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    if let Err(wait) = state.limits().take_ip(peer.map(|addr| addr.ip())) {
        return Problem::rate_limited_ip(wait).into_response();
    }
    let bytes = match read_body(&headers, body, config.max_batch_bytes).await {
        Ok(bytes) => bytes,
        Err(problem) => return problem.into_response(),
    };
    let items = match split_batch(&bytes) {
        Ok(items) => items,
        Err(problem) => return problem.into_response(),
    };
    if items.len() > config.max_batch_items {
        let detail = format!(
            "{} submissions; the limit is {} per batch",
            items.len(),
            config.max_batch_items
        );
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BATCH_TOO_LARGE,
            "batch too large",
            detail,
        )
        .into_response();
    }
    // Items over their key's limit are answered here; the rest go to the store, in order.
    let mut limited: Vec<Option<Problem>> = Vec::with_capacity(items.len());
    let mut signers: Vec<Option<String>> = Vec::new();
    let mut admitted = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match take_key_token(&state, &item) {
            Ok(signer) => {
                limited.push(None);
                signers.push(signer);
                admitted.push((i, item));
            }
            Err(problem) => limited.push(Some(problem)),
        }
    }
    let retry_after = config.retry_after_secs;
    let Ok(permit) = state.admission().clone().try_acquire_owned() else {
        for signer in signers.iter().flatten() {
            state.limits().refund_key(signer);
        }
        return Problem::overloaded(retry_after).into_response();
    };
    let task_state = state.clone();
    let sender = sender_of(peer);
    let results = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let incoming = admitted
            .into_iter()
            .map(|(i, bytes)| sverka_store::Incoming {
                bytes,
                sender: format!("{sender} batch item {i}"),
            })
            .collect();
        crate::live::submit(&task_state, incoming)
    })
    .await;
    let Ok(results) = results else { return Problem::internal().into_response() };
    for (signer, result) in signers.iter().zip(&results) {
        settle_key_token(&state, signer.as_deref(), result);
    }
    results.iter().for_each(|result| state.ops().submission(result));
    if results.iter().any(|r| r.as_ref().is_ok_and(|receipt| receipt.new)) {
        state.notify_new_entries();
    }
    let mut stored = results.into_iter();
    let results: Vec<serde_json::Value> = limited
        .into_iter()
        .map(|limited| {
            let (status, body, problem) = match limited {
                Some(problem) => (problem.status, problem.to_json(), Some(())),
                None => {
                    let result = stored.next().expect("one store answer per admitted item");
                    let (status, body, problem) = answer(result, retry_after);
                    (status, body, problem.map(|_| ()))
                }
            };
            match problem {
                None => json!({ "status": status.as_u16(), "receipt": body }),
                Some(()) => json!({ "status": status.as_u16(), "problem": body }),
            }
        })
        .collect();
    axum::Json(json!({ "results": results })).into_response()
}

/// `GET /api/v1/receipts/{leaf_hash}`.
pub async fn receipt(State(state): State<AppState>, Path(leaf_hash): Path<String>) -> Response {
    let Some(hash) = Hash::from_hex(&leaf_hash).filter(|_| leaf_hash.len() == 64) else {
        return Problem::bad_parameter("leaf_hash is not 64 lower-case hex digits").into_response();
    };
    let store = state.store().clone();
    let found = tokio::task::spawn_blocking(move || store.receipt(&hash)).await;
    match found {
        Ok(Ok(Some(receipt))) => {
            let mut body =
                json!({ "index": receipt.index, "leaf_hash": receipt.leaf_hash.to_hex() });
            if let Some(checkpoint) = &receipt.checkpoint {
                body["checkpoint"] = json!({
                    "size": checkpoint.size,
                    "root": checkpoint.root.to_hex(),
                    "note": checkpoint.note,
                });
                body["inclusion_proof"] = receipt.proof.iter().map(Hash::to_hex).collect();
            }
            axum::Json(body).into_response()
        }
        Ok(Ok(None)) => Problem::not_found("no entry has this leaf hash").into_response(),
        Ok(Err(error)) => {
            store_unavailable(&error, state.config().retry_after_secs).into_response()
        }
        Err(_) => Problem::internal().into_response(),
    }
}

/// Query of `GET /api/v1/quarantine`.
#[derive(Deserialize)]
pub struct QuarantineQuery {
    code: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/v1/quarantine`: rejected submissions, oldest first, paged with `after`.
pub async fn quarantine(
    State(state): State<AppState>,
    query: Result<Query<QuarantineQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return Problem::bad_parameter("expected code=E…, after=<id>, limit=1..1000")
            .into_response();
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Problem::bad_parameter("limit must be 1 to 1000").into_response();
    }
    let filter = sverka_store::QuarantineFilter {
        code: query.code,
        after_id: query.after,
        limit: Some(limit),
    };
    let store = state.store().clone();
    let records = tokio::task::spawn_blocking(move || store.quarantine(&filter)).await;
    let records = match records {
        Ok(Ok(records)) => records,
        Ok(Err(error)) => {
            return store_unavailable(&error, state.config().retry_after_secs).into_response()
        }
        Err(_) => return Problem::internal().into_response(),
    };
    let body: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            let mut item = json!({
                "id": record.id,
                "received_at": record.received_at,
                "sender": record.sender,
                "codes": record.problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
                "problems": findings(&record.problems),
            });
            match std::str::from_utf8(&record.bytes) {
                Ok(text) => item["text"] = json!(text),
                Err(_) => item["base64"] = json!(STANDARD.encode(&record.bytes)),
            }
            item
        })
        .collect();
    no_store(axum::Json(body).into_response())
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether `If-None-Match` names `etag` (or `*`).
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|value| {
        value.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag)
        })
    })
}

/// `GET /api/v1/results`: the latest snapshot (`crate::read_api::results`).
pub async fn results(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::read_api::results(&state, &headers).await
}

/// `GET /api/v1/events`: a `checkpoint` event now and after every newly published result.
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let published = state.subscribe();
    let shutdown = state.shutting_down();
    let stream = stream::unfold(
        (published, shutdown, true),
        |(mut published, mut shutdown, first)| async move {
            if !first {
                tokio::select! {
                    changed = published.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
            }
            if *shutdown.borrow() {
                return None;
            }
            let current = published.borrow_and_update().clone();
            let data = json!({ "size": current.size(), "root": current.root_hex() }).to_string();
            let event = Event::default().event("checkpoint").data(data);
            Some((Ok(event), (published, shutdown, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        OPENAPI_JSON,
    )
        .into_response()
}

/// `GET /healthz`.
pub async fn health() -> &'static str {
    "ok\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_hashes_are_the_lower_hex_of_hash_to_hex() {
        let hash = sverka_tlog::leaf_hash(b"receipt");
        assert_eq!(lower_hex(hash.as_bytes()), hash.to_hex());
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn a_malformed_or_empty_batch_is_h005() {
        assert_eq!(split_batch(b"[1,").unwrap_err().code, codes::BAD_BATCH);
        assert_eq!(split_batch(b"").unwrap_err().code, codes::BAD_BATCH);
        assert_eq!(split_batch(b"{\"a\":1}\n").unwrap(), vec![b"{\"a\":1}".to_vec()]);
    }

    #[test]
    fn rejection_codes_map_to_statuses() {
        assert_eq!(rejection_status("E002"), StatusCode::BAD_REQUEST);
        assert_eq!(rejection_status("E104"), StatusCode::FORBIDDEN);
        assert_eq!(rejection_status("E105"), StatusCode::CONFLICT);
        assert_eq!(rejection_status("E401"), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
