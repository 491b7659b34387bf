//! What stands between the network and the handlers (issue 12, THREATS.md "outsider"):
//!
//! - [`serve`]: the connection loop (in place of `axum::serve`, which sets no HTTP/1 timer and
//!   so no header timeout): HTTP/1.1 only, a deadline for a request's headers (a client that
//!   sends them byte by byte, "slowloris", or opens a connection and sends nothing, is cut off;
//!   the deadline also closes a keep-alive connection left idle), a cap on the bytes and the
//!   number of a request's header lines (answered `431`), a cap on open connections (past it the
//!   listener waits instead of taking more), a deadline for the TLS handshake, optional TLS
//!   ([`crate::tls`]), and the peer address handed to the handlers as `ConnectInfo`.
//! - [`security_headers`]: every response carries a strict Content-Security-Policy (no script
//!   runs but the site's own inline one, pinned by its hash; nothing loads from elsewhere; no
//!   framing), `nosniff`, no referrer, and HSTS when served over TLS.
//!
//! Body sizes and the whole-request timeout are the handlers' and [`crate::routes`]' (`H001`,
//! `H002`); rate limits are [`crate::limits`]'.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt as _;

use crate::tls::Tls;

/// The connection-level limits, part of [`crate::Config`].
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers (from the first byte it may send,
    /// and again after each response on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and header lines); past it the answer is `431`.
    /// At least 8 KiB (hyper's smallest read buffer).
    pub max_header_bytes: usize,
    /// Most header lines in one request; past it the answer is `431`.
    pub max_headers: usize,
    /// Connections open at once; past it new ones wait in the listener's backlog.
    pub max_connections: usize,
    /// Longest a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_connections: 10_000,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given), with the security headers, until
/// `shutdown` completes; then takes no new connection, asks every open one to close after its
/// request in flight, and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let over_tls = OverTls(tls.is_some());
    let router = router.layer(axum::middleware::from_fn_with_state(over_tls, security_headers));
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stop_tx.send_replace(true);
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Every connection task holds a receiver; when all are dropped, `closed()` completes.
    let (open_tx, open_rx) = watch::channel(());
    let limits = Arc::new(limits);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, limits, tls, stop, open) =
            (router.clone(), limits.clone(), tls.clone(), stop.clone(), open_rx.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(TokioIo::new(stream), peer, router, &limits, stop).await,
                Some(tls) => {
                    let handshake = tls.acceptor().accept(stream);
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.tls_handshake_timeout, handshake).await
                    {
                        connection(TokioIo::new(stream), peer, router, &limits, stop).await;
                    }
                }
            }
            drop((slot, open));
        });
    }
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// Completes once `stop` is true (the guard `wait_for` returns is not `Send`; this drops it).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// One HTTP/1.1 connection, until the client closes it, a limit ends it, or the server stops.
async fn connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    router: Router,
    limits: &ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = stopped(&mut stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _: Result<(), hyper::Error> = connection.await;
}

/// Whether the response goes out over TLS (then it carries HSTS).
#[derive(Clone, Copy, Debug)]
pub struct OverTls(pub bool);

/// Adds the security headers to every response (a header a handler set itself is kept).
pub async fn security_headers(
    State(OverTls(over_tls)): State<OverTls>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
    ];
    for (name, value) in fixed {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| content_security_policy().clone());
    if over_tls {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// The site's Content-Security-Policy: nothing by default; the one inline script of
/// [`crate::site::html`] allowed by its SHA-256 (CSP Level 3 §"hash-source"), so no injected or
/// foreign script runs; inline styles allowed (each page carries its stylesheet and the party
/// colour swatches are `style` attributes; a style cannot run script, and every text on a page
/// is escaped anyway); images, event streams and forms only from this origin; no `<base>`, no
/// plugins, and no framing by other sites.
pub fn content_security_policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let script = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(crate::site::html::LIVE_SCRIPT.as_bytes()));
        let policy = format!(
            "default-src 'none'; script-src 'sha256-{script}'; style-src 'unsafe-inline'; \
             img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'"
        );
        HeaderValue::from_str(&policy).expect("the policy is ASCII")
    })
}
