//! Several nodes on one PostgreSQL database: who is the sequencer, and how the others hand it
//! their submissions.
//!
//! **The lease.** Every node runs a sequencer thread, but only the one holding the session-level
//! advisory lock [`SEQUENCER_LOCK`] on its write connection sequences. Taking the lock, a node
//! increments `sequencer.token` (the fencing token) and keeps the value; every write transaction
//! of the sequencer then locks the `sequencer` row `FOR SHARE` and checks the token is still its
//! own ([`fence`]), so a node that lost its lease (its session ended, another took the lock and
//! bumped the token) can no longer write a single row. The lock is released by PostgreSQL the
//! moment the holder's session ends: a SIGKILLed node's socket closes and its backend exits, and
//! the next node polling the lock ([`LEASE_POLL`]) takes over, recovers from the database and
//! signs the tree it finds. Checkpoint signing stays behind the compare-and-swap record in the
//! database, with the root recomputed from the stored tiles inside the signing transaction, so
//! whichever node signs, a size gets one root.
//!
//! **Forwarding.** A node that is not the sequencer takes a submission by inserting its bytes into
//! `pending` and waiting ([`Forwarder::forward`]) until the sequencer has decided it: the sequencer
//! drains `pending` into its batches and writes each decision into `pending_outcomes` in the same
//! transaction as the entry, so an outcome exists only once its entry is committed. The waiting
//! node polls for it (from 2 ms, doubling up to 50 ms), answers its client, and deletes the
//! outcome. If the sequencer dies first, the rows stay and the next sequencer decides them; a
//! waiter that gives up answers "try again" (resubmitting the same bytes is always safe).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sverka_tlog::Hash;

use crate::admission::{Problem, Rejection};
use crate::error::{StoreError, SubmitError};
use crate::sequencer::Prepared;
use crate::sql::{Conn, Database, Param};
use crate::store::Receipt;

/// The advisory lock key of the sequencer lease (per database).
pub(crate) const SEQUENCER_LOCK: i64 = 0x7376_6572_6b61_0002;
/// How often a node that is not the sequencer tries to take the lease.
pub(crate) const LEASE_POLL: Duration = Duration::from_millis(200);
/// How often the sequencer looks for pending submissions of other nodes when it has no local work.
pub(crate) const PENDING_POLL: Duration = Duration::from_millis(10);
/// How long a forwarding node waits for the sequencer's decision before answering "try again".
pub(crate) const FORWARD_WAIT: Duration = Duration::from_secs(30);

/// Tries to take the lease on `conn`: the advisory lock, then a new fencing token. `holder` names
/// this node (in the `sequencer` row, for operators). Returns the token if taken.
pub(crate) fn try_lead(conn: &Conn, holder: &str) -> Result<Option<i64>, StoreError> {
    let taken =
        conn.query_one("SELECT pg_try_advisory_lock(?1)", &[SEQUENCER_LOCK.into()])?.int(0)? == 1;
    if !taken {
        return Ok(None);
    }
    let tx = conn.begin()?;
    let token = tx
        .query_one(
            "UPDATE sequencer SET token = token + 1, holder = ?1, since = ?2 WHERE id = 1
             RETURNING token",
            &[holder.into(), crate::time::now_rfc3339().as_str().into()],
        )?
        .int(0)?;
    tx.commit()?;
    Ok(Some(token))
}

/// Gives the lease up (if the session is still there to give it up).
pub(crate) fn step_down(conn: &Conn) {
    if !conn.is_closed() {
        let _ = conn.batch("SELECT pg_advisory_unlock_all()");
    }
}

/// Inside a write transaction: fails unless `token` is still the lease's fencing token, and
/// keeps it so until the transaction ends (the row is locked `FOR SHARE`).
pub(crate) fn fence(tx: &Conn, token: i64) -> Result<(), StoreError> {
    let current =
        tx.query_one("SELECT token FROM sequencer WHERE id = 1 FOR SHARE", &[])?.int(0)?;
    if current != token {
        return Err(StoreError::NotSequencer);
    }
    Ok(())
}

/// Up to `limit` pending submissions of other nodes, oldest first: `(id, bytes, sender)`.
pub(crate) fn pending(
    conn: &Conn,
    limit: usize,
) -> Result<Vec<(i64, Vec<u8>, String)>, StoreError> {
    let rows = conn.query(
        "SELECT id, bytes, sender FROM pending ORDER BY id LIMIT ?1",
        &[(limit as i64).into()],
    )?;
    rows.into_iter().map(|mut row| Ok((row.int(0)?, row.blob(1)?, row.text(2)?))).collect()
}

/// The sequencer's decision on a pending submission, as stored in `pending_outcomes.outcome`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Receipt { index: u64, leaf_hash: String, new: bool, warnings: Vec<Problem> },
    Rejected { problems: Vec<Problem> },
}

/// Records the decision on pending submission `id` and removes it from the queue (in the
/// sequencer's batch transaction).
pub(crate) fn decide(
    tx: &Conn,
    id: i64,
    outcome: &Result<Receipt, Rejection>,
    decided_at: &str,
) -> Result<(), StoreError> {
    let outcome = match outcome {
        Ok(receipt) => Outcome::Receipt {
            index: receipt.index,
            leaf_hash: receipt.leaf_hash.to_hex(),
            new: receipt.new,
            warnings: receipt.warnings.clone(),
        },
        Err(rejection) => Outcome::Rejected { problems: rejection.problems.clone() },
    };
    let json = serde_json::to_string(&outcome).expect("outcomes serialise");
    tx.execute(
        "INSERT INTO pending_outcomes (id, outcome, decided_at) VALUES (?1, ?2, ?3)",
        &[id.into(), json.as_str().into(), decided_at.into()],
    )?;
    tx.execute("DELETE FROM pending WHERE id = ?1", &[id.into()])?;
    Ok(())
}

fn parse_outcome(json: &str) -> Result<Result<Receipt, SubmitError>, StoreError> {
    let outcome: Outcome = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("a pending outcome is not JSON: {e}")))?;
    Ok(match outcome {
        Outcome::Receipt { index, leaf_hash, new, warnings } => {
            let leaf_hash = Hash::from_hex(&leaf_hash)
                .ok_or_else(|| StoreError::Corrupt("a pending outcome's leaf hash".into()))?;
            Ok(Receipt { index, leaf_hash, new, warnings })
        }
        Outcome::Rejected { problems } => Err(SubmitError::Rejected(Rejection { problems })),
    })
}

/// Hands submissions to whichever node is the sequencer, through `pending`.
pub(crate) struct Forwarder {
    database: Database,
    /// Idle connections.
    pool: Mutex<Vec<Conn>>,
}

impl Forwarder {
    pub(crate) fn new(database: Database) -> Forwarder {
        Forwarder { database, pool: Mutex::default() }
    }

    /// Queues `items` for the sequencer and waits for its decisions; one answer per item.
    pub(crate) fn forward(&self, items: Vec<Prepared>) -> Vec<Result<Receipt, SubmitError>> {
        let count = items.len();
        match self.try_forward(items) {
            Ok(answers) => answers,
            Err(error) => {
                let message = error.to_string();
                (0..count)
                    .map(|_| Err(SubmitError::Store(StoreError::Batch(message.clone()))))
                    .collect()
            }
        }
    }

    fn try_forward(
        &self,
        items: Vec<Prepared>,
    ) -> Result<Vec<Result<Receipt, SubmitError>>, StoreError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled.filter(|conn| !conn.is_closed()) {
            Some(conn) => conn,
            None => Conn::open(&self.database)?,
        };
        let created_at = crate::time::now_rfc3339();
        let tx = conn.begin()?;
        let mut ids = Vec::with_capacity(items.len());
        for item in &items {
            let id = tx
                .query_one(
                    "INSERT INTO pending (leaf_hash, bytes, sender, created_at) VALUES (?1, ?2, ?3, ?4)
                     RETURNING id",
                    &[
                        Param::Blob(&item.leaf_hash.0[..]),
                        item.bytes.as_slice().into(),
                        item.sender.as_str().into(),
                        created_at.as_str().into(),
                    ],
                )?
                .int(0)?;
            ids.push(id);
        }
        tx.commit()?;
        drop(items);
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut decided: HashMap<i64, String> = HashMap::with_capacity(ids.len());
        let deadline = Instant::now() + FORWARD_WAIT;
        let mut pause = Duration::from_millis(2);
        while decided.len() < ids.len() {
            let rows = conn.query(
                "SELECT id, outcome FROM pending_outcomes
                 WHERE id = ANY (string_to_array(?1, ',')::bigint[])",
                &[list.as_str().into()],
            )?;
            for mut row in rows {
                decided.insert(row.int(0)?, row.text(1)?);
            }
            if decided.len() == ids.len() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Stopped(format!(
                    "no sequencer decided the submission within {} s; it stays queued, and sending the same bytes again returns its receipt",
                    FORWARD_WAIT.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        conn.execute(
            "DELETE FROM pending_outcomes WHERE id = ANY (string_to_array(?1, ',')::bigint[])",
            &[list.as_str().into()],
        )?;
        let answers =
            ids.iter().map(|id| parse_outcome(&decided[id])).collect::<Result<Vec<_>, _>>()?;
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(conn);
        }
        Ok(answers)
    }
}
