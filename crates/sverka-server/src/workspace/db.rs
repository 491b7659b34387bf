//! The workspace's tables in `workspace.sqlite` (beside the accounts, [`crate::auth`]): one row
//! per protocol (station × contest) that entry has started on, with its explicit state and the
//! two entries as keyed.
//!
//! States (after abacus's data-entry state machine):
//!
//! ```text
//! not_started ─claim→ first_entry ─finish→ second_entry ─claim by another, finish→ equal? ─yes→ accepted
//!                                                                                       └no→ differences
//! differences ─third person keeps one value per field→ accepted      (or discards both → not_started)
//! accepted / corrected ─correction with a typed reason→ corrected
//! any state ─the CEC's recount (an admin acting on the district's request)→ recounted
//! ```
//!
//! `not_started` is the absence of a row (unless a scan is attached). Only `accepted` and
//! `corrected` protocols are in the log; every other state is the workspace's alone.
//!
//! A correction is keyed twice like a protocol ([`Correction`]): the first person chooses the
//! typed reason and keys the numbers, a second person keys the numbers again from the paper; equal
//! numbers are signed as a correction, different ones go to a third person. The second person
//! first claims the second entry (`second_by`), as with a protocol, so no one else keys it
//! meanwhile. A `recounted` protocol takes no district correction: only the CEC changes it. The
//! protocol stays
//! `accepted`/`corrected` (it is in the log) while its correction is keyed.
//!
//! Beside the protocols: `scans` (the protocol photos and PDFs operators attached, by SHA-256,
//! copied into the store's blobs when the protocol is signed) and `requests` (annulment and
//! recount requests to the CEC, [`Request`]).
//!
//! Schema history (`PRAGMA user_version`): 1 protocols; 2 adds `protocols.scan_sha256`,
//! `protocols.correction`, `scans` and `requests` ([`migrate_from_1`]).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS protocols (
  station TEXT NOT NULL,
  contest TEXT NOT NULL,
  state TEXT NOT NULL,
  first_by TEXT,
  first_entry TEXT,
  second_by TEXT,
  second_entry TEXT,
  resolved_by TEXT,
  entry_index INTEGER,
  message TEXT,
  pending_warnings TEXT,
  updated_at TEXT NOT NULL,
  scan_sha256 TEXT,
  correction TEXT,
  PRIMARY KEY (station, contest)
);
CREATE TABLE IF NOT EXISTS scans (
  sha256 TEXT PRIMARY KEY,
  content_type TEXT NOT NULL,
  bytes BLOB NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  station TEXT NOT NULL,
  contest TEXT NOT NULL,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT,
  decided_at TEXT,
  decision TEXT,
  entry_index INTEGER
);
";

/// Brings a version-1 `protocols` table to version 2 (run before [`SCHEMA`]).
pub const MIGRATE_FROM_1: &str = "
ALTER TABLE protocols ADD COLUMN scan_sha256 TEXT;
ALTER TABLE protocols ADD COLUMN correction TEXT;
";

/// Runs [`MIGRATE_FROM_1`].
pub fn migrate_from_1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(MIGRATE_FROM_1)
}

/// A protocol's state in the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    NotStarted,
    /// The first entry is being keyed (claimed by `first_by`).
    FirstEntry,
    /// The first entry is finished; the second is awaited or being keyed (by `second_by`).
    SecondEntry,
    /// The two entries differ; a third person resolves them.
    Differences,
    /// The entries agreed (or were resolved) and the protocol is a signed entry of the log.
    Accepted,
    /// A correction superseded the accepted entry.
    Corrected,
    /// The CEC's recount replaced the protocol in the log (`entry_index` names the recount).
    Recounted,
}

impl State {
    pub const ALL: [State; 7] = [
        State::NotStarted,
        State::FirstEntry,
        State::SecondEntry,
        State::Differences,
        State::Accepted,
        State::Corrected,
        State::Recounted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::NotStarted => "not_started",
            State::FirstEntry => "first_entry",
            State::SecondEntry => "second_entry",
            State::Differences => "differences",
            State::Accepted => "accepted",
            State::Corrected => "corrected",
            State::Recounted => "recounted",
        }
    }

    fn parse(text: &str) -> State {
        State::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(State::NotStarted)
    }

    /// Whether the protocol is in the log.
    pub fn is_done(self) -> bool {
        matches!(self, State::Accepted | State::Corrected | State::Recounted)
    }
}

/// One keyed entry: the numbers as typed (after parsing) and the explanations of its warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub lines: BTreeMap<String, u64>,
    pub votes: BTreeMap<String, u64>,
    /// Warning code → the operator's explanation.
    #[serde(default)]
    pub explanations: BTreeMap<String, String>,
}

impl Entry {
    /// The fields (`l.<line>`, `v.<option>`) whose numbers differ between two entries, with both
    /// values, in form order of the keys given.
    pub fn differences(&self, other: &Entry) -> Vec<(String, Option<u64>, Option<u64>)> {
        let mut out = Vec::new();
        let pairs = [("l.", &self.lines, &other.lines), ("v.", &self.votes, &other.votes)];
        for (prefix, mine, theirs) in pairs {
            let keys: std::collections::BTreeSet<&String> =
                mine.keys().chain(theirs.keys()).collect();
            for key in keys {
                let (a, b) = (mine.get(key).copied(), theirs.get(key).copied());
                if a != b {
                    out.push((format!("{prefix}{key}"), a, b));
                }
            }
        }
        out
    }

    /// Whether the numbers (not the explanations) are the same.
    pub fn same_numbers(&self, other: &Entry) -> bool {
        self.lines == other.lines && self.votes == other.votes
    }
}

/// A protocol's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub station: String,
    pub contest: String,
    pub state: State,
    pub first_by: Option<String>,
    pub first: Option<Entry>,
    pub second_by: Option<String>,
    pub second: Option<Entry>,
    pub resolved_by: Option<String>,
    /// The log index of the accepted (or latest correcting) entry.
    pub entry_index: Option<u64>,
    /// The log's last refusal, shown until the next attempt.
    pub message: Option<String>,
    /// Warnings the log raised on the accepted entry (code, message in English) that no one
    /// has explained yet: the review queue's "warnings awaiting an explanation".
    pub pending_warnings: Vec<(String, String)>,
    pub updated_at: String,
    /// The attached scan (a row of `scans`), signed into the protocol as `scan_sha256`.
    pub scan_sha256: Option<String>,
    /// A correction being keyed twice.
    pub correction: Option<Correction>,
}

/// A correction of an accepted protocol, keyed by two people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The log entry it supersedes.
    pub supersedes: u64,
    /// The typed reason (`keying_error`, `late_protocol`, `commission_decision`).
    pub reason: String,
    /// The first person's words on why.
    pub note: String,
    pub first_by: String,
    pub first: Entry,
    pub second_by: Option<String>,
    pub second: Option<Entry>,
}

impl Correction {
    /// Whether the second entry is in and differs from the first (a third person resolves it).
    pub fn differs(&self) -> bool {
        self.second.as_ref().is_some_and(|second| !second.same_numbers(&self.first))
    }
}

impl Row {
    pub fn new(station: &str, contest: &str) -> Row {
        Row {
            station: station.to_string(),
            contest: contest.to_string(),
            state: State::NotStarted,
            first_by: None,
            first: None,
            second_by: None,
            second: None,
            resolved_by: None,
            entry_index: None,
            message: None,
            pending_warnings: Vec::new(),
            updated_at: String::new(),
            scan_sha256: None,
            correction: None,
        }
    }

    /// Whether someone holds a step of this protocol (a first or second entry being keyed).
    pub fn claimed_by(&self) -> Option<&str> {
        match self.state {
            State::FirstEntry => self.first_by.as_deref(),
            State::SecondEntry => self.second_by.as_deref(),
            _ => None,
        }
    }
}

fn entry_json(entry: &Option<Entry>) -> Option<String> {
    entry.as_ref().map(|e| serde_json::to_string(e).expect("entries serialise"))
}

fn parse_entry(text: Option<String>) -> Option<Entry> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn row_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        station: row.get(0)?,
        contest: row.get(1)?,
        state: State::parse(&row.get::<_, String>(2)?),
        first_by: row.get(3)?,
        first: parse_entry(row.get(4)?),
        second_by: row.get(5)?,
        second: parse_entry(row.get(6)?),
        resolved_by: row.get(7)?,
        entry_index: row.get::<_, Option<i64>>(8)?.map(|i| i as u64),
        message: row.get(9)?,
        pending_warnings: row
            .get::<_, Option<String>>(10)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        updated_at: row.get(11)?,
        scan_sha256: row.get(12)?,
        correction: row.get::<_, Option<String>>(13)?.and_then(|t| serde_json::from_str(&t).ok()),
    })
}

const COLUMNS: &str = "station, contest, state, first_by, first_entry, second_by, second_entry, \
                       resolved_by, entry_index, message, pending_warnings, updated_at, scan_sha256, correction";

/// The row of one protocol (a fresh `not_started` row when there is none).
pub fn get(conn: &Connection, station: &str, contest: &str) -> rusqlite::Result<Row> {
    let found = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM protocols WHERE station = ?1 AND contest = ?2"),
            params![station, contest],
            row_of,
        )
        .optional()?;
    Ok(found.unwrap_or_else(|| Row::new(station, contest)))
}

/// Every row, keyed by (station, contest).
pub fn all(conn: &Connection) -> rusqlite::Result<BTreeMap<(String, String), Row>> {
    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM protocols"))?;
    let rows = statement.query_map([], row_of)?;
    let mut out = BTreeMap::new();
    for row in rows {
        let row = row?;
        out.insert((row.station.clone(), row.contest.clone()), row);
    }
    Ok(out)
}

/// Writes a row (a `not_started` row with neither a scan nor a correction is deleted).
pub fn put(conn: &Connection, row: &Row) -> rusqlite::Result<()> {
    if row.state == State::NotStarted && row.scan_sha256.is_none() && row.correction.is_none() {
        conn.execute(
            "DELETE FROM protocols WHERE station = ?1 AND contest = ?2",
            params![row.station, row.contest],
        )?;
        return Ok(());
    }
    conn.execute(
        "INSERT INTO protocols (station, contest, state, first_by, first_entry, second_by,
           second_entry, resolved_by, entry_index, message, pending_warnings, updated_at,
           scan_sha256, correction)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?12, ?13)
         ON CONFLICT (station, contest) DO UPDATE SET state = ?3, first_by = ?4,
           first_entry = ?5, second_by = ?6, second_entry = ?7, resolved_by = ?8,
           entry_index = ?9, message = ?10, pending_warnings = ?11,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), scan_sha256 = ?12, correction = ?13",
        params![
            row.station,
            row.contest,
            row.state.as_str(),
            row.first_by,
            entry_json(&row.first),
            row.second_by,
            entry_json(&row.second),
            row.resolved_by,
            row.entry_index.map(|i| i as i64),
            row.message,
            (!row.pending_warnings.is_empty())
                .then(|| serde_json::to_string(&row.pending_warnings).expect("strings serialise")),
            row.scan_sha256,
            row.correction
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("corrections serialise")),
        ],
    )?;
    Ok(())
}

/// A scan held by the workspace: its content type (sniffed at upload) and bytes.
pub fn scan(conn: &Connection, sha256: &str) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    conn.query_row("SELECT content_type, bytes FROM scans WHERE sha256 = ?1", [sha256], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
    .optional()
}

/// Keeps a scan (the same bytes twice are one row).
pub fn put_scan(
    conn: &Connection,
    sha256: &str,
    content_type: &str,
    bytes: &[u8],
    by: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO scans (sha256, content_type, bytes, uploaded_by, uploaded_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         ON CONFLICT (sha256) DO NOTHING",
        params![sha256, content_type, bytes, by],
    )?;
    Ok(())
}

/// What a district asks the CEC for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Annul the station's results (an `annulment` entry signed by a CEC admin key).
    Annulment,
    /// Recount it (a `recount` protocol signed by a CEC admin key, superseding the current one).
    Recount,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Annulment => "annulment",
            RequestKind::Recount => "recount",
        }
    }

    pub fn parse(text: &str) -> Option<RequestKind> {
        match text {
            "annulment" => Some(RequestKind::Annulment),
            "recount" => Some(RequestKind::Recount),
            _ => None,
        }
    }
}

/// One request to the CEC and what became of it (`open`, `done` with the log entry, or
/// `declined` with the CEC's words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub kind: RequestKind,
    pub station: String,
    pub contest: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: String,
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision: Option<String>,
    pub entry_index: Option<u64>,
}

const REQUEST_COLUMNS: &str = "id, kind, station, contest, reason, requested_by, requested_at, \
                               state, decided_by, decided_at, decision, entry_index";

fn request_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    Ok(Request {
        id: row.get(0)?,
        kind: RequestKind::parse(&row.get::<_, String>(1)?).unwrap_or(RequestKind::Recount),
        station: row.get(2)?,
        contest: row.get(3)?,
        reason: row.get(4)?,
        requested_by: row.get(5)?,
        requested_at: row.get(6)?,
        state: row.get(7)?,
        decided_by: row.get(8)?,
        decided_at: row.get(9)?,
        decision: row.get(10)?,
        entry_index: row.get::<_, Option<i64>>(11)?.map(|i| i as u64),
    })
}

/// Records a request; returns its id.
pub fn add_request(
    conn: &Connection,
    kind: RequestKind,
    station: &str,
    contest: &str,
    reason: &str,
    by: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO requests (kind, station, contest, reason, requested_by, requested_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ','now'), 'open')",
        params![kind.as_str(), station, contest, reason, by],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every request, newest first.
pub fn requests(conn: &Connection) -> rusqlite::Result<Vec<Request>> {
    let mut statement =
        conn.prepare(&format!("SELECT {REQUEST_COLUMNS} FROM requests ORDER BY id DESC"))?;
    let rows = statement.query_map([], request_of)?;
    rows.collect()
}

/// One request.
pub fn request(conn: &Connection, id: i64) -> rusqlite::Result<Option<Request>> {
    conn.query_row(
        &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
        [id],
        request_of,
    )
    .optional()
}

/// Closes an open request (`done` or `declined`); false when it was not open any more.
pub fn decide_request(
    conn: &Connection,
    id: i64,
    state: &str,
    by: &str,
    decision: &str,
    entry_index: Option<u64>,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE requests SET state = ?2, decided_by = ?3, decision = ?4, entry_index = ?5,
           decided_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND state = 'open'",
        params![id, state, by, decision, entry_index.map(|i| i as i64)],
    )?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_field_with_both_values() {
        let mut a = Entry::default();
        a.lines.insert("valid".into(), 100);
        a.votes.insert("sun".into(), 60);
        let mut b = a.clone();
        b.votes.insert("sun".into(), 56);
        assert_eq!(a.differences(&b), vec![("v.sun".to_string(), Some(60), Some(56))]);
        assert!(!a.same_numbers(&b));
        b.votes.insert("sun".into(), 60);
        b.explanations.insert("W101".into(), "seen".into());
        assert!(a.same_numbers(&b));
    }

    #[test]
    fn a_row_round_trips_and_not_started_is_no_row() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let mut row = Row::new("1001", "list");
        assert_eq!(get(&conn, "1001", "list").unwrap().state, State::NotStarted);
        row.state = State::SecondEntry;
        row.first_by = Some("aida".into());
        row.first = Some(Entry::default());
        put(&conn, &row).unwrap();
        let back = get(&conn, "1001", "list").unwrap();
        assert_eq!((back.state, back.first_by.as_deref()), (State::SecondEntry, Some("aida")));
        row.state = State::NotStarted;
        put(&conn, &row).unwrap();
        assert!(all(&conn).unwrap().is_empty());
        // A scan keeps a not-started row (the scan was attached before anyone claimed it).
        row.scan_sha256 = Some("ab".repeat(32));
        put(&conn, &row).unwrap();
        assert_eq!(get(&conn, "1001", "list").unwrap().scan_sha256, row.scan_sha256);
    }

    #[test]
    fn a_version_1_file_gains_the_new_columns_and_keeps_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE protocols (station TEXT NOT NULL, contest TEXT NOT NULL, state TEXT NOT NULL,
               first_by TEXT, first_entry TEXT, second_by TEXT, second_entry TEXT, resolved_by TEXT,
               entry_index INTEGER, message TEXT, pending_warnings TEXT, updated_at TEXT NOT NULL,
               PRIMARY KEY (station, contest));
             INSERT INTO protocols (station, contest, state, first_by, updated_at)
               VALUES ('1001', 'list', 'first_entry', 'aida', 'then');",
        )
        .unwrap();
        migrate_from_1(&conn).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let row = get(&conn, "1001", "list").unwrap();
        assert_eq!((row.state, row.first_by.as_deref()), (State::FirstEntry, Some("aida")));
        assert_eq!((row.scan_sha256, row.correction), (None, None));
    }

    #[test]
    fn a_request_is_decided_once() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let id = add_request(
            &conn,
            RequestKind::Recount,
            "1002",
            "list",
            "machine 412, hand 402",
            "aida",
        )
        .unwrap();
        assert_eq!(request(&conn, id).unwrap().unwrap().state, "open");
        assert!(decide_request(&conn, id, "done", "erkin", "recounted", Some(9)).unwrap());
        assert!(!decide_request(&conn, id, "declined", "erkin", "no", None).unwrap());
        let back = request(&conn, id).unwrap().unwrap();
        assert_eq!((back.state.as_str(), back.entry_index), ("done", Some(9)));
        assert_eq!(requests(&conn).unwrap().len(), 1);
    }
}
