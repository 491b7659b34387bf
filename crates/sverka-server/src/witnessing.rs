//! Witnessed publication: after each new checkpoint, `sverka serve` asks every configured witness
//! to cosign it (C2SP tlog-witness `add-checkpoint`, with a consistency proof from the size that
//! witness last cosigned), keeps the cosignatures that verify under the witness's key, records the
//! checkpoint with them appended (`sverka_store::cosigned`), and serves it at `/checkpoint`.
//!
//! - A witness's size is learnt from its answers: the first request of a run says `old 0`, and a
//!   `409` with `text/x.tlog.size` tells the size to prove from, once per attempt (at most
//!   [`MAX_ATTEMPTS`]).
//! - [`WitnessMode::PublishAndMark`] (the default): `/checkpoint` is always the newest signed
//!   checkpoint, with whatever cosignatures it got; below the quorum it is "unwitnessed"
//!   (the header `Sverka-Witnessed: no`).
//! - [`WitnessMode::WaitForQuorum`]: `/checkpoint` is the newest checkpoint that reached the
//!   quorum (`503` until one has); witnesses are asked again every few seconds until it does.
//!
//! Cosignatures are ordinary signed-note signature lines after the log's own, so any signed-note
//! verifier ignores those it does not know and `sverka verify` checks them against its policy.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sverka_store::{Cosigned, CosignedCheckpoint, SignedCheckpoint};
use sverka_tlog::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};
use sverka_tlog::{CosignatureVerifier, Note, NoteSignature};

use crate::problem::Problem;
use crate::AppState;

/// Requests to one witness for one checkpoint (the first may learn the witness's size by a 409).
pub const MAX_ATTEMPTS: usize = 3;

/// Whether the site may show a checkpoint that has not reached the witness quorum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WitnessMode {
    /// Publish every checkpoint at once and mark it unwitnessed until the quorum cosigned it.
    #[default]
    PublishAndMark,
    /// `/checkpoint` shows only checkpoints that reached the quorum.
    WaitForQuorum,
}

/// One witness: where it takes `add-checkpoint` and the key its cosignatures must verify under.
#[derive(Clone, Debug)]
pub struct WitnessEndpoint {
    /// The submission prefix; requests go to `<url>/add-checkpoint`.
    pub url: String,
    /// Its cosigning key (C2SP tlog-cosignature, Ed25519 type 0x04).
    pub key: CosignatureVerifier,
}

impl WitnessEndpoint {
    /// Parses `URL=VKEY` (the witness's `http://` submission prefix, `=`, its verifier key as
    /// `sverka witness keygen` prints it). The split is at the `=` after which a valid key follows,
    /// so neither a URL nor a key name with `=` in it is ambiguous.
    pub fn parse(spec: &str) -> Result<WitnessEndpoint, String> {
        let mut key_error = None;
        for (at, _) in spec.match_indices('=') {
            let (url, vkey) = (&spec[..at], &spec[at + 1..]);
            match CosignatureVerifier::from_vkey(vkey) {
                Ok(key) if url.starts_with("http://") => {
                    return Ok(WitnessEndpoint { url: url.trim_end_matches('/').to_owned(), key });
                }
                Ok(_) if url.starts_with("https://") => {
                    return Err(format!(
                        "{url:?}: this build speaks plain http:// to witnesses; reach an https \
                         witness through a local TLS proxy"
                    ));
                }
                Ok(_) => return Err(format!("{url:?} is not an http:// URL")),
                Err(e) => key_error = Some(e),
            }
        }
        Err(match key_error {
            Some(e) => format!("expected URL=VKEY, and no part after an `=` is a witness key: {e}"),
            None => "expected URL=VKEY (the witness's URL, `=`, its verifier key)".into(),
        })
    }
}

/// Why one witness did not cosign.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Refused { url: String, status: u16, body: String },
    #[error("{url} has cosigned size {witness_size}, beyond this checkpoint's {size}")]
    Ahead { url: String, witness_size: u64, size: u64 },
    #[error("{url} answered with no cosignature that verifies under {key}")]
    NoValidCosignature { url: String, key: String },
    #[error("the consistency proof from {old_size} could not be made: {message}")]
    Proof { old_size: u64, message: String },
}

/// The witnesses of one server, and the size each is believed to have cosigned.
pub struct Witnessing {
    http: reqwest::Client,
    endpoints: Vec<WitnessEndpoint>,
    known_sizes: Vec<u64>,
}

impl Witnessing {
    /// Asks these witnesses, each within `timeout`.
    pub fn new(endpoints: Vec<WitnessEndpoint>, timeout: Duration) -> Witnessing {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let known_sizes = vec![0; endpoints.len()];
        Witnessing { http, endpoints, known_sizes }
    }

    /// Asks every witness to cosign `checkpoint`, at once; returns the note with the valid
    /// cosignatures appended and how many there are. Failures are reported on stderr.
    pub async fn cosign(
        &mut self,
        state: &AppState,
        checkpoint: &SignedCheckpoint,
    ) -> (String, usize) {
        let asks = self
            .endpoints
            .iter()
            .zip(self.known_sizes.iter_mut())
            .map(|(endpoint, known)| ask(&self.http, state, endpoint, checkpoint, known));
        let answers = futures_util::future::join_all(asks).await;
        let mut note = match Note::parse(checkpoint.note.as_bytes()) {
            Ok(note) => note,
            Err(e) => {
                eprintln!("sverka-server: the log's checkpoint is not a note: {e}");
                return (checkpoint.note.clone(), 0);
            }
        };
        let mut count = 0;
        for answer in answers {
            match answer {
                Ok(line) => {
                    if note.add_signature(line).is_ok() {
                        count += 1;
                    }
                }
                Err(e) => {
                    eprintln!("sverka-server: witness did not cosign size {}: {e}", checkpoint.size)
                }
            }
        }
        (String::from_utf8_lossy(&note.to_bytes()).into_owned(), count)
    }
}

/// One witness, one checkpoint: `add-checkpoint` from the size it is believed to have, again from
/// the size a 409 reports.
async fn ask(
    http: &reqwest::Client,
    state: &AppState,
    endpoint: &WitnessEndpoint,
    checkpoint: &SignedCheckpoint,
    known: &mut u64,
) -> Result<NoteSignature, AskError> {
    let url = format!("{}/add-checkpoint", endpoint.url);
    let mut last = None;
    for _ in 0..MAX_ATTEMPTS {
        let old_size = *known;
        if old_size > checkpoint.size {
            return Err(AskError::Ahead { url, witness_size: old_size, size: checkpoint.size });
        }
        let proof = consistency_proof(state, old_size, checkpoint.size).await?;
        let request = AddCheckpoint::new(old_size, proof, checkpoint.note.clone().into_bytes())
            .map_err(|e| AskError::Proof { old_size, message: e.to_string() })?;
        let response = http
            .post(&url)
            .body(request.to_bytes())
            .send()
            .await
            .map_err(|source| AskError::Http { url: url.clone(), source })?;
        let status = response.status().as_u16();
        let is_size = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(SIZE_CONTENT_TYPE.as_bytes()));
        let body =
            response.text().await.map_err(|source| AskError::Http { url: url.clone(), source })?;
        match status {
            200 => {
                *known = checkpoint.size;
                return cosignature_in(&body, endpoint, checkpoint).ok_or_else(|| {
                    AskError::NoValidCosignature { url, key: endpoint.key.to_vkey() }
                });
            }
            409 if is_size => {
                let reported = body.trim_end_matches('\n').parse::<u64>().ok();
                match reported {
                    // The same size again: the witness cosigned another root for it (a fork).
                    Some(size) if size != old_size => *known = size,
                    _ => return Err(AskError::Refused { url, status, body }),
                }
            }
            _ => {
                return Err(AskError::Refused {
                    url,
                    status,
                    body: body.chars().take(300).collect(),
                })
            }
        }
        last = Some(status);
    }
    Err(AskError::Refused {
        url,
        status: last.unwrap_or(409),
        body: format!("still a conflict after {MAX_ATTEMPTS} attempts"),
    })
}

/// The consistency proof from `old_size` to `size`, from the store's tiles.
async fn consistency_proof(
    state: &AppState,
    old_size: u64,
    size: u64,
) -> Result<Vec<sverka_tlog::Hash>, AskError> {
    if old_size == 0 || old_size == size {
        return Ok(Vec::new());
    }
    let store = state.store().clone();
    let proof = tokio::task::spawn_blocking(move || store.consistency_proof(old_size, size)).await;
    match proof {
        Ok(Ok(proof)) => Ok(proof),
        Ok(Err(e)) => Err(AskError::Proof { old_size, message: e.to_string() }),
        Err(e) => Err(AskError::Proof { old_size, message: e.to_string() }),
    }
}

/// The witness's cosignature line in a 200 body, if one verifies on this checkpoint under its key
/// (tlog-witness: lines by unknown keys are ignored).
fn cosignature_in(
    body: &str,
    endpoint: &WitnessEndpoint,
    checkpoint: &SignedCheckpoint,
) -> Option<NoteSignature> {
    let note = Note::parse(checkpoint.note.as_bytes()).ok()?;
    body.split_terminator('\n')
        .filter_map(|line| NoteSignature::parse_line(line, 0).ok())
        .find(|line| endpoint.key.verify(note.text(), line).is_ok())
}

/// The witnessing task of `sverka serve`: every newly published checkpoint is sent to the
/// witnesses and recorded with its cosignatures. In wait mode a checkpoint below quorum is tried
/// again every few seconds. Ends when the server shuts down.
pub async fn follow(state: AppState) {
    let config = state.config().clone();
    if config.witnesses.is_empty() {
        return;
    }
    let quorum = config.witness_quorum.min(config.witnesses.len());
    let mut witnessing = Witnessing::new(config.witnesses.clone(), config.witness_timeout);
    let mut published = state.subscribe();
    let mut shutdown = state.shutting_down();
    let mut done: Option<(u64, bool)> = None;
    loop {
        let current = state.published().checkpoint.clone();
        if let Some(checkpoint) = current {
            let retry = done.is_some_and(|(size, reached)| size == checkpoint.size && !reached)
                && config.witness_mode == WitnessMode::WaitForQuorum;
            if done.map(|(size, _)| size) != Some(checkpoint.size) || retry {
                let (note, count) = witnessing.cosign(&state, &checkpoint).await;
                let reached = count >= quorum;
                let store = state.store().clone();
                let saved =
                    tokio::task::spawn_blocking(move || store.put_cosigned(&note, reached)).await;
                match saved {
                    Ok(Ok(())) => done = Some((checkpoint.size, reached)),
                    Ok(Err(e)) => eprintln!("sverka-server: witnessed checkpoint not saved: {e}"),
                    Err(e) => eprintln!("sverka-server: witnessing task failed: {e}"),
                }
            }
        }
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(3)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// `GET /checkpoint` when witnesses are configured (otherwise the log's checkpoint as it is): see
/// the module documentation for what each mode serves. The header `Sverka-Witnessed` says
/// whether the served checkpoint reached the quorum (`yes`) or not (`no`).
pub async fn checkpoint(state: State<AppState>) -> Response {
    if state.config().witnesses.is_empty() {
        return crate::publication::checkpoint(state).await;
    }
    let store = state.store().clone();
    let mode = state.config().witness_mode;
    let read = tokio::task::spawn_blocking(move || -> Result<_, sverka_store::StoreError> {
        Ok((
            store.checkpoint()?,
            store.cosigned(Cosigned::Latest)?,
            store.cosigned(Cosigned::Quorum)?,
        ))
    })
    .await;
    let Ok(Ok((signed, latest, quorum))) = read else {
        return Problem::internal().into_response();
    };
    let same = |c: &Option<CosignedCheckpoint>| {
        c.as_ref().is_some_and(|c| c.size == signed.size && c.root == signed.root)
    };
    let (note, witnessed) = match mode {
        WitnessMode::PublishAndMark if same(&quorum) => (quorum.map(|c| c.note), true),
        WitnessMode::PublishAndMark if same(&latest) => (latest.map(|c| c.note), false),
        WitnessMode::PublishAndMark => (Some(signed.note), false),
        WitnessMode::WaitForQuorum => (quorum.map(|c| c.note), true),
    };
    let Some(note) = note else {
        let mut problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::problem::codes::INTERNAL,
            "not witnessed yet",
            "no checkpoint has reached the witness quorum yet; retry",
        );
        problem.retry_after = Some(3);
        return problem.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("sverka-witnessed"),
                HeaderValue::from_static(if witnessed { "yes" } else { "no" }),
            ),
        ],
        note,
    )
        .into_response()
}

/// Whether checkpoint `size` reached the witness quorum, and how many witnesses cosigned it (as
/// recorded in `DIR/cosigned/`, every line verified under a configured key).
fn witnessed_status(
    state: &AppState,
    size: u64,
) -> Result<(bool, usize), sverka_store::StoreError> {
    let store = state.store();
    let keys = &state.config().witnesses;
    let count_in = |c: &CosignedCheckpoint| {
        let Ok(note) = Note::parse(c.note.as_bytes()) else { return 0 };
        keys.iter().filter(|w| matches!(w.key.verify_in_note(&note), Ok(Some(_)))).count()
    };
    let quorum = store.cosigned(Cosigned::Quorum)?;
    if let Some(q) = quorum.filter(|q| q.size == size) {
        return Ok((true, count_in(&q)));
    }
    let latest = store.cosigned(Cosigned::Latest)?;
    Ok((false, latest.filter(|l| l.size == size).map_or(0, |l| count_in(&l))))
}

/// The badge's words: witnessed or not, in Kyrgyz, Russian or English.
fn badge_text(lang: &str, witnessed: bool, count: usize, of: usize) -> String {
    match (lang, witnessed) {
        ("ky", true) => format!("Күбөлөр ырастады: {count} / {of}"),
        ("ky", false) => format!("Күбөлөр ырастай элек: {count} / {of}"),
        ("ru", true) => format!("Заверено наблюдателями: {count} из {of}"),
        ("ru", false) => format!("Не заверено наблюдателями: {count} из {of}"),
        (_, true) => format!("Witnessed: {count} of {of} witnesses cosigned"),
        (_, false) => format!("Unwitnessed: {count} of {of} witnesses cosigned"),
    }
}

/// Query of the badge: the checkpoint size a page was computed from, and the page's language.
#[derive(serde::Deserialize)]
pub struct BadgeQuery {
    size: u64,
    lang: Option<String>,
}

/// `GET /witnessed.svg?size=N&lang=ky|ru|en`: whether checkpoint N reached the witness quorum
/// ("witnessed") or not ("unwitnessed"), as a small SVG the results pages embed. It is served
/// `no-cache`, so a page rendered before the cosignatures arrived shows the current state.
pub async fn badge(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<BadgeQuery>,
) -> Response {
    let of = state.config().witnesses.len();
    let task_state = state.clone();
    let size = query.size;
    let status = tokio::task::spawn_blocking(move || witnessed_status(&task_state, size)).await;
    let Ok(Ok((witnessed, count))) = status else {
        return Problem::internal().into_response();
    };
    let text = badge_text(query.lang.as_deref().unwrap_or("en"), witnessed, count, of);
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
    let (fill, width) =
        (if witnessed { "#1a7f37" } else { "#b35900" }, 12 + 8 * text.chars().count());
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"22\" role=\"img\" \
         aria-label=\"{escaped}\" data-witnessed=\"{}\"><rect width=\"100%\" height=\"100%\" rx=\"4\" \
         fill=\"{fill}\"/><text x=\"6\" y=\"15\" fill=\"#fff\" font-family=\"sans-serif\" \
         font-size=\"13\">{escaped}</text></svg>",
        if witnessed { "yes" } else { "no" }
    );
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        svg,
    )
        .into_response()
}

/// The results pages' mark of whether their checkpoint is witnessed: the badge above, for
/// checkpoint `size`, with a text alternative in the page's language (`ky`, `ru` or `en`).
pub(crate) fn badge_html(size: u64, lang: &str) -> String {
    let alt = match lang {
        "ky" => "Күбөлөрдүн колтамгалары",
        "ru" => "Подписи наблюдателей-свидетелей",
        _ => "Witness cosignatures",
    };
    format!(
        "<section class=\"witnesses\"><p><a href=\"/checkpoint\"><img src=\"/witnessed.svg?size={size}&amp;lang={lang}\" \
         alt=\"{alt}\"></a></p></section>"
    )
}
