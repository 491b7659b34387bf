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
//! ```
//!
//! `not_started` is the absence of a row. Only `accepted` and `corrected` protocols are in the
//! log; every other state is the workspace's alone.

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
  PRIMARY KEY (station, contest)
);
";

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
}

impl State {
    pub const ALL: [State; 6] = [
        State::NotStarted,
        State::FirstEntry,
        State::SecondEntry,
        State::Differences,
        State::Accepted,
        State::Corrected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::NotStarted => "not_started",
            State::FirstEntry => "first_entry",
            State::SecondEntry => "second_entry",
            State::Differences => "differences",
            State::Accepted => "accepted",
            State::Corrected => "corrected",
        }
    }

    fn parse(text: &str) -> State {
        State::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(State::NotStarted)
    }

    /// Whether the protocol is in the log.
    pub fn is_done(self) -> bool {
        matches!(self, State::Accepted | State::Corrected)
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
    })
}

const COLUMNS: &str = "station, contest, state, first_by, first_entry, second_by, second_entry, \
                       resolved_by, entry_index, message, pending_warnings, updated_at";

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

/// Writes a row (a `not_started` row is deleted).
pub fn put(conn: &Connection, row: &Row) -> rusqlite::Result<()> {
    if row.state == State::NotStarted {
        conn.execute(
            "DELETE FROM protocols WHERE station = ?1 AND contest = ?2",
            params![row.station, row.contest],
        )?;
        return Ok(());
    }
    conn.execute(
        "INSERT INTO protocols (station, contest, state, first_by, first_entry, second_by,
           second_entry, resolved_by, entry_index, message, pending_warnings, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         ON CONFLICT (station, contest) DO UPDATE SET state = ?3, first_by = ?4,
           first_entry = ?5, second_by = ?6, second_entry = ?7, resolved_by = ?8,
           entry_index = ?9, message = ?10, pending_warnings = ?11, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
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
        ],
    )?;
    Ok(())
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
    }
}
