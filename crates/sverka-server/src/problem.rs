//! RFC 9457 problem details (`application/problem+json`): how every error leaves this server.
//!
//! Each problem carries a stable `code`: a validation rule code from `sverka-model` (`E…`, with
//! the findings and their messages in Kyrgyz, Russian and English) or one of the HTTP-layer codes
//! below (`H…`). Internal details are never returned; they are logged.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// HTTP-layer problem codes: stable, documented in the OpenAPI file, one per limit.
pub mod codes {
    /// The request body is larger than the configured limit.
    pub const BODY_TOO_LARGE: &str = "H001";
    /// The request took longer than the configured request timeout.
    pub const TIMEOUT: &str = "H002";
    /// The server's submission queue is full; retry after the `Retry-After` seconds.
    pub const OVERLOADED: &str = "H003";
    /// A batch holds more items than the configured limit.
    pub const BATCH_TOO_LARGE: &str = "H004";
    /// A batch body is neither a JSON array of submissions nor JSON lines.
    pub const BAD_BATCH: &str = "H005";
    /// No such resource.
    pub const NOT_FOUND: &str = "H006";
    /// The server failed; the details are in its log, and nothing was acknowledged.
    pub const INTERNAL: &str = "H007";
    /// A path or query parameter is malformed.
    pub const BAD_PARAMETER: &str = "H008";
    /// Too many submission requests from this IP address; retry after `Retry-After` seconds.
    pub const RATE_LIMITED_IP: &str = "H009";
    /// Too many submissions signed by this key; retry after `Retry-After` seconds.
    pub const RATE_LIMITED_KEY: &str = "H010";
    /// The disk holding the log is full; nothing was appended; retry after `Retry-After` seconds.
    pub const INSUFFICIENT_STORAGE: &str = "H011";
    /// A request body (a form) could not be read as the route expects it.
    pub const BAD_BODY: &str = "H012";
    /// The request body's `Content-Type` is not one the route takes.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "H013";
    /// The route exists but not for this method (`Allow` lists the methods it has).
    pub const METHOD_NOT_ALLOWED: &str = "H014";

    /// Every code above, in order (docs/formats.md §3.5 and openapi.json list each; a test checks).
    pub const ALL: &[&str] = &[
        BODY_TOO_LARGE,
        TIMEOUT,
        OVERLOADED,
        BATCH_TOO_LARGE,
        BAD_BATCH,
        NOT_FOUND,
        INTERNAL,
        BAD_PARAMETER,
        RATE_LIMITED_IP,
        RATE_LIMITED_KEY,
        INSUFFICIENT_STORAGE,
        BAD_BODY,
        UNSUPPORTED_MEDIA_TYPE,
        METHOD_NOT_ALLOWED,
    ];
}

/// One finding of validation, as returned to the sender.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable rule code: `E…` errors, `W…` warnings.
    pub code: String,
    /// The field or protocol line the finding is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words a clerk understands (English).
    pub message: String,
    /// The message in Kyrgyz, Russian and English, where the rule provides them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Messages>,
}

/// A message in the three languages of the site.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct Messages {
    pub ky: String,
    pub ru: String,
    pub en: String,
}

/// A problem details object.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Seconds the client should wait before retrying (also sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem with `code`, a short `title` (the same for every occurrence of the code) and a
    /// `detail` about this occurrence.
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("urn:sverka:problem:{code}"),
            title: title.to_string(),
            status,
            detail: detail.into(),
            code: code.to_string(),
            findings: Vec::new(),
            retry_after: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "not found", what)
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "internal error",
            "the server failed; nothing was acknowledged; retry later",
        )
    }

    pub fn overloaded(retry_after: u32) -> Problem {
        let mut problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::OVERLOADED,
            "server busy",
            "the submission queue is full; nothing was appended; retry after the Retry-After delay",
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    /// `429` for a sender IP address over its rate limit.
    pub fn rate_limited_ip(retry_after: u32) -> Problem {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED_IP,
            "too many requests from this address",
            format!(
                "this IP address sent more submission requests than its rate limit allows; \
                 nothing was read or appended; retry in {retry_after} s"
            ),
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    /// `429` for a signing key over its rate limit.
    pub fn rate_limited_key(signer: &str, retry_after: u32) -> Problem {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED_KEY,
            "too many submissions from this key",
            format!(
                "key {signer} signed more submissions than its rate limit allows; nothing was \
                 appended; send the same bytes again in {retry_after} s"
            ),
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    /// `507` while the disk holding the log is full.
    pub fn insufficient_storage(retry_after: u32) -> Problem {
        let mut problem = Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            codes::INSUFFICIENT_STORAGE,
            "no space left for the log",
            "the server's disk is full: nothing was appended or acknowledged; resubmit the same \
             bytes after the Retry-After delay (the operator is told in the server's log)",
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    pub fn body_too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BODY_TOO_LARGE,
            "request body too large",
            format!("the body exceeds the limit of {limit} bytes; nothing was appended"),
        )
    }

    pub fn timeout(seconds: u64) -> Problem {
        let mut problem = Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::TIMEOUT,
            "request timed out",
            format!(
                "the request did not complete within {seconds} s; a submission may still land: \
                 resubmit the same bytes to get its receipt"
            ),
        );
        problem.retry_after = Some(1);
        problem
    }

    pub fn bad_parameter(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, codes::BAD_PARAMETER, "malformed parameter", detail)
    }

    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("problem serializes")
    }
}

/// How axum's messages about a body begin (`axum::extract::rejection`); any other 400 or 422
/// from an extractor is about the path or the query.
const BODY_REJECTIONS: &[&str] = &[
    "Failed to deserialize form body",
    "Failed to deserialize the JSON body",
    "Failed to parse the request body",
    "Failed to buffer the request body",
    "Invalid `boundary` for `multipart/form-data` request",
    "Error parsing `multipart/form-data` request",
];

/// The longest part of an extractor's message kept in a problem's `detail`.
const MAX_REJECTION_DETAIL: usize = 300;

/// Middleware: axum's own rejections (a malformed path or query parameter, an unreadable form,
/// a wrong `Content-Type`, a body over an extractor's limit, a method the route does not have)
/// and any other plain-text `404` leave as problem+json with their own `H…` code instead of
/// axum's `text/plain` or empty body.
/// Answers that are already problems, pages and every other status pass through untouched.
pub async fn rejections_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<crate::ops::ProblemCode>().is_some() {
        return response;
    }
    let status = response.status();
    let plain = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.as_bytes().starts_with(b"text/plain"),
    };
    let rejection = matches!(status.as_u16(), 400 | 404 | 405 | 413 | 415 | 422);
    if !plain || !rejection {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut answer = rejection_problem(status, &String::from_utf8_lossy(&text)).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// The problem for one of axum's rejections: its status and message (`text`) decide the code.
fn rejection_problem(status: StatusCode, text: &str) -> Problem {
    let mut said: String = text.trim().chars().take(MAX_REJECTION_DETAIL).collect();
    if said.is_empty() {
        said = status.canonical_reason().unwrap_or("rejected").to_lowercase();
    }
    match status.as_u16() {
        404 => Problem::not_found(said),
        405 => Problem::new(
            status,
            codes::METHOD_NOT_ALLOWED,
            "method not allowed",
            "this route does not take this method; the Allow header lists the ones it takes",
        ),
        413 => Problem::new(
            status,
            codes::BODY_TOO_LARGE,
            "request body too large",
            format!("{said}; nothing was read or changed"),
        ),
        415 => Problem::new(
            status,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
            format!("{said}; nothing was read or changed"),
        ),
        _ if BODY_REJECTIONS.iter().any(|prefix| said.starts_with(prefix)) => Problem::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_BODY,
            "malformed request body",
            format!("{said}; nothing was changed"),
        ),
        _ => Problem::bad_parameter(said),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).expect("problem serializes");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(crate::ops::ProblemCode(self.code));
        response
    }
}
