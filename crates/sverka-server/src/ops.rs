//! Operations: what an operator watches and how the process behaves at its edges.
//!
//! - [`Ops`]: counters, gauges and latency histograms, written out at `GET /metrics` in the
//!   Prometheus text exposition format (version 0.0.4, written by hand: no registry crate);
//! - [`observe`]: the middleware every request passes: it gives the request an id (the caller's
//!   `X-Request-Id` when it is a short token, else a new one), logs one `tracing` event per request
//!   (method, route, status, duration, id; never a body, so never a key or a signature) and counts
//!   it by route, method, status and problem code;
//! - `GET /readyz`: ready once the store is open and the live results cover every entry the log
//!   held when the server started; not ready again once shutdown has begun, so a load balancer
//!   stops sending before the process stops answering;
//! - [`SHUTDOWN_GRACE`]: how long a shutdown waits for requests in flight.
//!
//! Metric names (all prefixed `sverka_`) are documented in docs/operations.md; a test reads them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sverka_store::{Receipt, SubmitError};
use tracing::Instrument as _;

use crate::AppState;

/// How long a shutdown waits for requests in flight (a stalled client included) before the
/// server stops anyway. Submissions already handed to the sequencer are committed and answered
/// to the store either way; a receipt is never sent for an entry that is not durable.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Upper bounds (seconds) of the HTTP latency histogram buckets.
const BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The header carrying a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The problem code of a response, attached by `Problem::into_response` so [`observe`] can count
/// rejections and errors by code without reading bodies.
#[derive(Clone, Debug)]
pub struct ProblemCode(pub String);

/// One route's latency histogram.
#[derive(Default)]
struct Histogram {
    /// Requests at or under each bound of [`BUCKETS`] (not cumulative here; summed when written).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// What submissions came to, counted where the store answered them (single and batch alike).
#[derive(Default)]
struct Submissions {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: AtomicU64,
    unavailable: AtomicU64,
}

/// The process's counters and the readiness facts; one per [`AppState`].
pub struct Ops {
    /// Wall-clock start, for `sverka_start_time_seconds`.
    started: SystemTime,
    /// Entries in the log when the server started: the live results must cover them to be ready.
    size_at_start: u64,
    /// When the results now published were published (`None` before the first).
    published_at: Mutex<Option<Instant>>,
    /// Latency by (route, method).
    latency: Mutex<BTreeMap<(String, &'static str), Histogram>>,
    /// Responses by (route, method, status).
    responses: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    /// Problem responses by code.
    problems: Mutex<BTreeMap<String, u64>>,
    /// Rejected submissions by their first code (batch items included).
    rejections: Mutex<BTreeMap<String, u64>>,
    submissions: Submissions,
    in_flight: AtomicU64,
    next_request: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ops {
    /// Counters for a server whose log held `size_at_start` entries when it started.
    pub fn new(size_at_start: u64) -> Ops {
        Ops {
            started: SystemTime::now(),
            size_at_start,
            published_at: Mutex::new(None),
            latency: Mutex::default(),
            responses: Mutex::default(),
            problems: Mutex::default(),
            rejections: Mutex::default(),
            submissions: Submissions::default(),
            in_flight: AtomicU64::new(0),
            next_request: AtomicU64::new(0),
        }
    }

    /// Notes that new results were published now.
    pub(crate) fn published_now(&self) {
        *lock(&self.published_at) = Some(Instant::now());
    }

    /// Counts what the store answered to one submission.
    pub fn submission(&self, result: &Result<Receipt, SubmitError>) {
        let counter = match result {
            Ok(receipt) if receipt.new => &self.submissions.accepted,
            Ok(_) => &self.submissions.duplicate,
            Err(SubmitError::Rejected(rejection)) => {
                let code = rejection.problems.first().map_or("E003", |p| p.code.as_str());
                *lock(&self.rejections).entry(code.to_string()).or_default() += 1;
                &self.submissions.rejected
            }
            Err(SubmitError::Store(_)) => &self.submissions.unavailable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, route: String, method: &'static str, status: u16, seconds: f64) {
        lock(&self.latency).entry((route.clone(), method)).or_default().observe(seconds);
        *lock(&self.responses).entry((route, method, status)).or_default() += 1;
    }

    /// A new request id: the process start (seconds, hex) and a counter, unique per process run.
    fn new_request_id(&self) -> String {
        let start = self.started.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("{start:x}-{n}")
    }
}

/// The caller's request id when it is a short token of letters, digits, `-`, `_`, `.`, `:`
/// (what a proxy such as nginx's `$request_id` sends); anything else is replaced.
fn caller_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID)?.to_str().ok()?;
    let token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    (!value.is_empty() && value.len() <= 64 && value.chars().all(token)).then(|| value.to_string())
}

fn method_name(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Middleware around every route: request id, one log event, counters and latency by route.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ops = state.ops();
    let started = Instant::now();
    let id = caller_request_id(&request).unwrap_or_else(|| ops.new_request_id());
    // Unrouted paths share one label, so a scan of random URLs cannot grow the metrics.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = method_name(request.method());
    let span = tracing::info_span!("request", id = %id, method, route = %route);
    ops.in_flight.fetch_add(1, Ordering::Relaxed);
    let mut response = next.run(request).instrument(span.clone()).await;
    ops.in_flight.fetch_sub(1, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let code = response.extensions().get::<ProblemCode>().map(|c| c.0.clone());
    if let Some(code) = &code {
        *lock(&ops.problems).entry(code.clone()).or_default() += 1;
    }
    ops.record(route, method, status, elapsed.as_secs_f64());
    let micros = elapsed.as_micros() as u64;
    let code = code.as_deref().unwrap_or("");
    span.in_scope(|| match status {
        500.. => tracing::error!(target: "sverka::http", status, micros, code, "answered"),
        _ => tracing::info!(target: "sverka::http", status, micros, code, "answered"),
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Whether the server should be sent traffic, and if not, why.
fn readiness(state: &AppState) -> Result<(), String> {
    if *state.shutting_down().borrow() {
        return Err("shutting down".into());
    }
    let published = state.published().size();
    let needed = state.ops().size_at_start;
    if published < needed {
        return Err(format!(
            "the live results cover {published} of the {needed} entries the log held at start"
        ));
    }
    Ok(())
}

/// `GET /readyz`: `200 ready` or `503` with the reason.
pub async fn ready(State(state): State<AppState>) -> Response {
    let text = |status, body: String| {
        (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], body)
            .into_response()
    };
    match readiness(&state) {
        Ok(()) => text(StatusCode::OK, "ready\n".into()),
        Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")),
    }
}

/// `GET /metrics`: the Prometheus text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store().clone();
    let tree_size = tokio::task::spawn_blocking(move || store.tree_size()).await;
    let tree_size = match tree_size {
        Ok(Ok(size)) => Some(size),
        _ => None,
    };
    let body = exposition(&state, tree_size);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// A label value escaped as the exposition format wants (`\`, `"`, newline).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes `# HELP` and `# TYPE` of one metric.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The text of `/metrics`: `tree_size` is the log's size, if the store could say.
fn exposition(state: &AppState, tree_size: Option<u64>) -> String {
    let ops = state.ops();
    let mut out = String::with_capacity(8192);
    head(&mut out, "sverka_up", "gauge", "1 while the server answers.");
    out.push_str("sverka_up 1\n");
    head(&mut out, "sverka_start_time_seconds", "gauge", "When the server started (Unix time).");
    let start = ops.started.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let _ = writeln!(out, "sverka_start_time_seconds {start}");
    head(&mut out, "sverka_ready", "gauge", "1 when /readyz answers 200.");
    let _ = writeln!(out, "sverka_ready {}", u8::from(readiness(state).is_ok()));
    write_ingest(&mut out, state, tree_size);
    write_http(&mut out, ops);
    out
}

fn write_ingest(out: &mut String, state: &AppState, tree_size: Option<u64>) {
    let ops = state.ops();
    head(
        out,
        "sverka_submissions_total",
        "counter",
        "Submissions answered by the store, by outcome (accepted: appended; duplicate: already in \
         the log; rejected: quarantined; unavailable: the store could not take it).",
    );
    let s = &ops.submissions;
    for (outcome, counter) in [
        ("accepted", &s.accepted),
        ("duplicate", &s.duplicate),
        ("rejected", &s.rejected),
        ("unavailable", &s.unavailable),
    ] {
        let value = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "sverka_submissions_total{{outcome=\"{outcome}\"}} {value}");
    }
    head(
        out,
        "sverka_submission_rejections_total",
        "counter",
        "Rejected submissions by their first validation code.",
    );
    for (code, n) in lock(&ops.rejections).iter() {
        let _ = writeln!(out, "sverka_submission_rejections_total{{code=\"{}\"}} {n}", label(code));
    }
    let capacity = state.config().max_pending_submissions.max(1);
    let waiting = capacity.saturating_sub(state.admission().available_permits());
    head(
        out,
        "sverka_submission_queue_depth",
        "gauge",
        "Submission requests waiting for or in the sequencer.",
    );
    let _ = writeln!(out, "sverka_submission_queue_depth {waiting}");
    head(
        out,
        "sverka_submission_queue_capacity",
        "gauge",
        "Submission requests that may wait at once; past it the answer is 503 H003.",
    );
    let _ = writeln!(out, "sverka_submission_queue_capacity {capacity}");
    let published = state.published();
    head(out, "sverka_published_size", "gauge", "Entries covered by the published results.");
    let _ = writeln!(out, "sverka_published_size {}", published.size());
    if let Some(size) = tree_size {
        head(out, "sverka_log_size", "gauge", "Entries in the log (committed).");
        let _ = writeln!(out, "sverka_log_size {size}");
        head(
            out,
            "sverka_unpublished_entries",
            "gauge",
            "Entries committed but not yet covered by the published results.",
        );
        let _ =
            writeln!(out, "sverka_unpublished_entries {}", size.saturating_sub(published.size()));
    }
    if let Some(at) = *lock(&ops.published_at) {
        head(
            out,
            "sverka_checkpoint_age_seconds",
            "gauge",
            "Seconds since the published checkpoint and its results were published.",
        );
        let _ = writeln!(out, "sverka_checkpoint_age_seconds {:.3}", at.elapsed().as_secs_f64());
    }
}

fn write_http(out: &mut String, ops: &Ops) {
    head(out, "sverka_http_requests_in_flight", "gauge", "Requests being answered now.");
    let _ =
        writeln!(out, "sverka_http_requests_in_flight {}", ops.in_flight.load(Ordering::Relaxed));
    head(out, "sverka_http_responses_total", "counter", "Responses by route, method and status.");
    for ((route, method, status), n) in lock(&ops.responses).iter() {
        let route = label(route);
        let _ = writeln!(
            out,
            "sverka_http_responses_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
        );
    }
    head(
        out,
        "sverka_http_problems_total",
        "counter",
        "problem+json answers by code (H… HTTP layer, E… validation).",
    );
    for (code, n) in lock(&ops.problems).iter() {
        let _ = writeln!(out, "sverka_http_problems_total{{code=\"{}\"}} {n}", label(code));
    }
    head(
        out,
        "sverka_http_request_duration_seconds",
        "histogram",
        "Time to the response's head, by route and method.",
    );
    for ((route, method), histogram) in lock(&ops.latency).iter() {
        let labels = format!("route=\"{}\",method=\"{method}\"", label(route));
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(histogram.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "sverka_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let (count, sum) = (histogram.count, histogram.sum_seconds);
        let _ = writeln!(
            out,
            "sverka_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
             sverka_http_request_duration_seconds_sum{{{labels}}} {sum:.6}\n\
             sverka_http_request_duration_seconds_count{{{labels}}} {count}"
        );
    }
}

/// Whether a store error means the disk (or the database's file system) is full: SQLite's
/// `SQLITE_FULL` or the operating system's `ENOSPC`, as the store reports them.
pub fn disk_full(error: &sverka_store::StoreError) -> bool {
    let text = error.to_string();
    text.contains("database or disk is full") || text.contains("No space left on device")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_when_written_and_count_every_observation() {
        let mut histogram = Histogram::default();
        for seconds in [0.0005, 0.003, 0.003, 45.0] {
            histogram.observe(seconds);
        }
        assert_eq!(histogram.count, 4);
        assert_eq!(histogram.buckets[0], 1, "0.5 ms is under the 1 ms bound");
        assert_eq!(histogram.buckets[2], 2, "3 ms is under the 5 ms bound, not the 2.5 ms one");
        assert_eq!(histogram.buckets.iter().sum::<u64>(), 3, "45 s is only in +Inf");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
