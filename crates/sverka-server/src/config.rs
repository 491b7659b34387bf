//! The server's limits and timings, in one place, each with the default `sverka serve` uses.

use std::time::Duration;

use crate::limits::RateLimit;

/// Limits and timings of one server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest body of `POST /api/v1/submissions` (a submission is at most 64 KiB; answered `H001`).
    pub max_body_bytes: usize,
    /// Largest body of `POST /api/v1/submissions/batch` (answered `H001`).
    pub max_batch_bytes: usize,
    /// Most submissions in one batch (answered `H004`).
    pub max_batch_items: usize,
    /// Longest a request may take, body included (answered `H002`); the event stream is exempt.
    pub request_timeout: Duration,
    /// Submission requests that may wait for the store at once; past that the server answers
    /// `503` with `Retry-After` (`H003`) instead of queueing without bound.
    pub max_pending_submissions: usize,
    /// The `Retry-After` seconds sent with `H003`.
    pub retry_after_secs: u32,
    /// Requests to the submission endpoints per sender IP address ([`crate::limits`]; answered
    /// `429` + `Retry-After`, `H009`); `None` turns the limit off.
    pub rate_per_ip: Option<RateLimit>,
    /// Submissions per signing key, counted once the signature verified ([`crate::limits`];
    /// answered `429` + `Retry-After`, `H010`); `None` turns the limit off.
    pub rate_per_key: Option<RateLimit>,
    /// How often the sequencer is asked to sign a checkpoint while new entries wait, and so how
    /// stale the results may be.
    pub checkpoint_interval: Duration,
    /// Snapshots kept in memory for `/snapshot/<N>.json` besides those the store publishes.
    pub snapshots_in_memory: usize,
    /// Witnesses asked to cosign each new checkpoint ([`crate::witnessing`]); none by default,
    /// and then `/checkpoint` is the log's signed checkpoint alone.
    pub witnesses: Vec<crate::witnessing::WitnessEndpoint>,
    /// Cosignatures a checkpoint needs to count as witnessed (capped at the number of witnesses).
    pub witness_quorum: usize,
    /// Whether a checkpoint below the quorum is published marked "unwitnessed" (the default) or
    /// held back.
    pub witness_mode: crate::witnessing::WitnessMode,
    /// How long one witness may take to answer one request.
    pub witness_timeout: Duration,
    /// Header timeout, header size and count, open connections, TLS handshake
    /// ([`crate::hardening`]).
    pub connection: crate::hardening::ConnectionLimits,
    /// Serve HTTPS with this certificate and key (`sverka serve --tls-cert --tls-key`); plain
    /// HTTP when `None`.
    pub tls: Option<crate::tls::Tls>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body_bytes: 64 * 1024,
            max_batch_bytes: 32 * 1024 * 1024,
            max_batch_items: 10_000,
            request_timeout: Duration::from_secs(30),
            max_pending_submissions: 1024,
            retry_after_secs: 1,
            // Generous: many scanners share a mobile operator's gateway address.
            rate_per_ip: Some(RateLimit { per_second: 1000.0, burst: 5000 }),
            // A district operator keys every protocol of the district in a burst.
            rate_per_key: Some(RateLimit { per_second: 200.0, burst: 5000 }),
            checkpoint_interval: Duration::from_millis(1000),
            snapshots_in_memory: 64,
            witnesses: Vec::new(),
            witness_quorum: 0,
            witness_mode: crate::witnessing::WitnessMode::PublishAndMark,
            witness_timeout: Duration::from_secs(10),
            connection: Default::default(),
            tls: None,
        }
    }
}
