//! sverka-server: the HTTP face of sverka. It takes signed submissions (`POST /api/v1/submissions`,
//! and a batch form), hands them to the store's sequencer and answers with durable receipts or RFC
//! 9457 problems; it serves the static publication live (checkpoint, tiles, log key, snapshots,
//! blobs); it keeps a live tally folded from the log and serves the latest snapshot and the results
//! site (server-rendered HTML and SVG in Kyrgyz, Russian and English, no JavaScript needed) from
//! memory, recomputed once per checkpoint; and it announces new checkpoints as Server-Sent Events.
//!
//! What it deliberately does not do: SQL or any storage of its own (it calls `sverka-store`), and
//! any arithmetic that decides a published number (that is `sverka-tally`; the site only formats
//! what the tally computed from the log).
//!
//! # Code map
//!
//! - [`run`]: serves a router on a listener until a shutdown future completes (tests bind port 0).
//! - [`AppState`]: what every handler shares: the store, the election, the limits, the admission
//!   gate and the latest [`live::Published`] results.
//! - [`routes`]: the router, built from a route table that the OpenAPI test compares with
//!   `openapi.json` (checked in beside this file, written by hand).
//! - [`api`]: submissions, receipts, quarantine, results, events, the OpenAPI document.
//! - [`publication`]: `/checkpoint`, `/tile/…`, `/log.vkey`, `/snapshot/<N>.json`, `/blob/<sha256>`.
//! - [`live`]: the background task that folds new entries into the tally after each checkpoint and
//!   publishes the snapshot, its ETag and the pages' inputs.
//! - [`read_api`]: `/api/v1/results/{region,district,station}/{id}`, cut from the snapshot.
//! - [`site`]: the results pages.
//! - [`auth`]: operator accounts, sessions, CSRF, roles and the audit log (`workspace.sqlite`);
//!   [`workspace`]: the commission's protocol entry, double entry, review and projector pages.
//! - [`reconcile_api`]: `GET /api/v1/reconciliation`, sources compared per station (issue 7).
//! - [`problem`]: problem+json and the HTTP-layer codes; [`config`]: limits and timings.
//! - [`hardening`]: the connection loop (header timeout and size limits, connection cap) and the
//!   security headers; [`tls`]: optional HTTPS (rustls).
//! - [`ops`]: `/metrics` (Prometheus), `/readyz`, request ids and the per-request log event.
//!
//! **Architecture Invariant:** every number the API or the site shows comes from one
//! [`live::Published`], which was computed by `sverka-tally` from exactly the entries its
//! checkpoint covers and names that checkpoint.

// `Problem` (a few strings) is the error of request paths that end in an HTTP answer anyway;
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::sync::Arc;

use sverka_model::Election;
use sverka_store::Store;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};

pub mod api;
pub mod auth;
pub mod config;
pub mod hardening;
pub mod limits;
pub mod live;
pub mod ops;
pub mod problem;
pub mod publication;
pub mod read_api;
pub mod reconcile_api;
pub mod routes;
pub mod site;
pub mod tls;
pub mod witness;
pub mod witnessing;
pub mod workspace;

pub use config::Config;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// The log: sequencer, tiles, quarantine. Its calls block, so handlers call it on the blocking pool.
    store: Store,
    /// The election the log is for (its first entry), for pages and validation messages.
    election: Arc<Election>,
    config: Config,
    /// Bounds the submission requests waiting for the sequencer; when none is left the server
    /// answers 503 instead of queueing without bound.
    admission: Arc<Semaphore>,
    /// Per-IP and per-key token buckets of the submission endpoints.
    limits: limits::Limits,
    /// The latest published results; replaced as a whole after each checkpoint.
    published: watch::Sender<Arc<live::Published>>,
    /// Woken after each accepted submission, so the live task looks for a new checkpoint soon.
    new_entries: Notify,
    /// Recent snapshots for `/snapshot/<N>.json`, by checkpoint size.
    snapshots: live::SnapshotCache,
    /// Submissions decoded by the API and appended, waiting for the live fold.
    handover: live::Handover,
    /// Turns true when the server is shutting down, so event streams end and shutdown completes.
    shutting_down: watch::Sender<bool>,
    /// The operator accounts and the commission workspace (`DIR/workspace.sqlite`), opened on
    /// first use by [`AppState::auth`].
    auth: std::sync::OnceLock<Arc<auth::Auth>>,
    /// Metrics and readiness (`/metrics`, `/readyz`).
    ops: ops::Ops,
    /// The audit and forensics pages' numbers at the latest checkpoint they were asked for.
    audits: site::PerCheckpoint<site::audit::Audits>,
    forensics: site::PerCheckpoint<site::forensics::Forensics>,
}

impl AppState {
    /// State for a store that is open (its sequencer running).
    pub fn new(store: Store, config: Config) -> AppState {
        let election = store.election().clone();
        let (published, _) = watch::channel(Arc::new(live::Published::empty(&election)));
        // Not ready until the live results cover what the log holds now (0 if it cannot say).
        let size_at_start = store.tree_size().unwrap_or(0);
        AppState {
            inner: Arc::new(Inner {
                admission: Arc::new(Semaphore::new(config.max_pending_submissions.max(1))),
                limits: limits::Limits::new(config.rate_per_ip, config.rate_per_key),
                store,
                election,
                config,
                published,
                new_entries: Notify::new(),
                snapshots: Default::default(),
                handover: Default::default(),
                shutting_down: watch::channel(false).0,
                auth: std::sync::OnceLock::new(),
                ops: ops::Ops::new(size_at_start),
                audits: site::PerCheckpoint::new("audits"),
                forensics: site::PerCheckpoint::new("forensics"),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn election(&self) -> &Arc<Election> {
        &self.inner.election
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The results currently published.
    pub fn published(&self) -> Arc<live::Published> {
        self.inner.published.borrow().clone()
    }

    /// A receiver that sees every newly published result.
    pub fn subscribe(&self) -> watch::Receiver<Arc<live::Published>> {
        self.inner.published.subscribe()
    }

    pub(crate) fn admission(&self) -> &Arc<Semaphore> {
        &self.inner.admission
    }

    pub(crate) fn limits(&self) -> &limits::Limits {
        &self.inner.limits
    }

    pub(crate) fn publish(&self, published: Arc<live::Published>) {
        self.inner.published.send_replace(published);
        self.inner.ops.published_now();
    }

    /// Metrics and readiness.
    pub fn ops(&self) -> &ops::Ops {
        &self.inner.ops
    }

    pub(crate) fn audits(&self) -> &site::PerCheckpoint<site::audit::Audits> {
        &self.inner.audits
    }

    pub(crate) fn forensics(&self) -> &site::PerCheckpoint<site::forensics::Forensics> {
        &self.inner.forensics
    }

    pub(crate) fn handover(&self) -> &live::Handover {
        &self.inner.handover
    }

    pub(crate) fn notify_new_entries(&self) {
        self.inner.new_entries.notify_one();
    }

    pub(crate) async fn new_entries(&self) {
        self.inner.new_entries.notified().await;
    }

    /// A receiver whose value turns true when the server shuts down.
    pub(crate) fn shutting_down(&self) -> watch::Receiver<bool> {
        self.inner.shutting_down.subscribe()
    }
}

/// Serves the API and the site on `listener` until `shutdown` completes, then stops accepting,
/// ends the event streams, lets requests in flight finish (for at most [`ops::SHUTDOWN_GRACE`]),
/// and returns. The live task folding the log runs alongside and stops with it.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = live::refresh(&state, live::Follower::new()).await;
    let live = tokio::spawn(live::follow(state.clone(), follower));
    let router = routes::router(state.clone());
    let signal = state.inner.shutting_down.clone();
    let mut stopped = state.shutting_down();
    tokio::spawn(async move {
        shutdown.await;
        signal.send_replace(true);
    });
    let (limits, tls) = (state.config().connection.clone(), state.config().tls.clone());
    let mut grace = state.shutting_down();
    let serving = hardening::serve(listener, router, limits, tls, async move {
        let _ = stopped.wait_for(|stop| *stop).await;
        tracing::info!("shutting down: no new connections; finishing the requests in flight");
    });
    // A stalled client must not hold the process forever: past the grace, stop anyway.
    let result = tokio::select! {
        result = std::future::IntoFuture::into_future(serving) => result,
        () = async move {
            let _ = grace.wait_for(|stop| *stop).await;
            tokio::time::sleep(ops::SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?ops::SHUTDOWN_GRACE, "requests still open after the grace; stopping");
            Ok(())
        }
    };
    state.inner.shutting_down.send_replace(true);
    let _ = live.await;
    result
}
