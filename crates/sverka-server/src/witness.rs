//! The witness service of `sverka witness serve`: C2SP tlog-witness `POST /add-checkpoint` over
//! HTTP (its own small axum app, not the results site), around the pure decision of
//! `sverka_tlog::witness`.
//!
//! **Durability:** the state file (the last cosigned size and root of every log, in
//! `sverka-witness-state/v1` text) is replaced atomically — temporary file, fsync, rename, fsync
//! of the directory — *before* the cosignature is sent, and requests are decided one at a time
//! under one lock, so check and update are atomic (tlog-witness §"add-checkpoint"). A witness
//! killed at any moment restarts from a state at least as new as anything it ever cosigned, so it
//! still refuses a second root for a size it cosigned and any rollback.
//!
//! Refused requests that carry a valid log signature (a fork, a bad proof) are evidence against
//! the log: they are appended to `<state>.evidence` before the answer.

use std::fs;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sverka_tlog::witness::{AddCheckpoint, Refusal, Witness, WitnessState, SIZE_CONTENT_TYPE};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// Largest `add-checkpoint` body: a note of at most 1 MiB plus 64 short lines.
const MAX_BODY_BYTES: usize = (1 << 20) + 8 * 1024;

/// Why the witness's state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Format { path: PathBuf, source: sverka_tlog::witness::StateError },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateFileError + '_ {
    move |source| StateFileError::Io { path: path.to_path_buf(), source }
}

/// Reads the state file; a missing file is the empty state (a new witness).
pub fn read_state(path: &Path) -> Result<WitnessState, StateFileError> {
    match fs::read_to_string(path) {
        Ok(text) => WitnessState::parse(&text)
            .map_err(|source| StateFileError::Format { path: path.to_path_buf(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WitnessState::new()),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Replaces the state file atomically and durably: temporary file, fsync, rename, fsync of the
/// directory.
pub fn write_state(path: &Path, state: &WitnessState) -> Result<(), StateFileError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = fs::File::create(&temporary).map_err(io_error(&temporary))?;
    file.write_all(state.to_text().as_bytes()).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, path).map_err(io_error(path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))
}

/// Appends a refused but log-signed request to the evidence file, synced.
fn keep_evidence(path: &Path, refusal: &Refusal, body: &[u8]) -> Result<(), StateFileError> {
    let mut file =
        fs::OpenOptions::new().create(true).append(true).open(path).map_err(io_error(path))?;
    let mut record = format!("# refused: {refusal}\n").into_bytes();
    record.extend_from_slice(body);
    record.extend_from_slice(b"\n");
    file.write_all(&record).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// A running witness: its keys, and its state behind the lock that makes each request's check
/// and update one step.
#[derive(Clone)]
pub struct WitnessService {
    inner: Arc<Inner>,
}

struct Inner {
    witness: Witness,
    /// Where the state lives on disk; rewritten before each 200.
    state_path: PathBuf,
    /// Where refused, log-signed requests are kept.
    evidence_path: PathBuf,
    /// The state as last written to disk.
    state: Mutex<WitnessState>,
}

impl WitnessService {
    /// A witness with the state in `state_path` (read now; created empty on first cosignature).
    pub fn open(witness: Witness, state_path: &Path) -> Result<WitnessService, StateFileError> {
        let state = read_state(state_path)?;
        let mut evidence = state_path.as_os_str().to_owned();
        evidence.push(".evidence");
        Ok(WitnessService {
            inner: Arc::new(Inner {
                witness,
                state_path: state_path.to_path_buf(),
                evidence_path: PathBuf::from(evidence),
                state: Mutex::new(state),
            }),
        })
    }

    /// The state as last written.
    pub async fn state(&self) -> WitnessState {
        self.inner.state.lock().await.clone()
    }

    /// Decides one request body: `Ok` with the cosignature lines, or the refusal. The state is on
    /// disk before `Ok` is returned.
    pub async fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddError> {
        let request = AddCheckpoint::parse(body).map_err(|e| AddError::Refused(e.into()))?;
        let mut state = self.inner.state.lock().await;
        let accepted = match self.inner.witness.decide(&request, &state) {
            Ok(accepted) => accepted,
            Err(refusal) => {
                if refusal.is_evidence() {
                    let (path, body, r) =
                        (self.inner.evidence_path.clone(), body.to_vec(), refusal.clone());
                    blocking(move || keep_evidence(&path, &r, &body)).await?;
                }
                return Err(AddError::Refused(refusal));
            }
        };
        let mut next = state.clone();
        next.set(accepted.checkpoint.origin(), accepted.new_state);
        let (path, to_write) = (self.inner.state_path.clone(), next.clone());
        blocking(move || write_state(&path, &to_write)).await?;
        *state = next;
        drop(state);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.inner.witness.cosign(&accepted, now).map_err(|e| AddError::Internal(e.to_string()))
    }
}

async fn blocking(
    f: impl FnOnce() -> Result<(), StateFileError> + Send + 'static,
) -> Result<(), AddError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AddError::Internal(e.to_string())),
        Err(e) => Err(AddError::Internal(e.to_string())),
    }
}

/// Why `add-checkpoint` did not cosign.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Refused(Refusal),
    /// The state could not be written: nothing was cosigned.
    #[error("witness state not written, nothing cosigned: {0}")]
    Internal(String),
}

impl IntoResponse for AddError {
    fn into_response(self) -> Response {
        let text = |status: StatusCode, body: String| {
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
        };
        match self {
            AddError::Refused(refusal) => {
                let status =
                    StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                match refusal.witness_size() {
                    Some(size) => {
                        (status, [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)], format!("{size}\n"))
                            .into_response()
                    }
                    None => text(status, format!("{refusal}\n")),
                }
            }
            AddError::Internal(message) => {
                eprintln!("sverka witness: {message}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the witness could not record its state\n".into(),
                )
            }
        }
    }
}

async fn add_checkpoint(State(service): State<WitnessService>, body: Bytes) -> Response {
    match service.add_checkpoint(&body).await {
        Ok(lines) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines)
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// The witness's routes: `POST /add-checkpoint` only.
pub fn router(service: WitnessService) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

/// Serves the witness on `listener` until `shutdown` completes (tests bind port 0).
pub async fn run(
    listener: TcpListener,
    service: WitnessService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service)).with_graceful_shutdown(shutdown).await
}
