//! `sverka simulate`: a deterministic synthetic election night (DESIGN.md, "The round trip").
//!
//! Given an election definition, a [`Config`] (seed, scale, defect rates) and optionally a
//! [`Profile`] of national targets, [`Night::new`] plans the whole night — geography, keys, the vote
//! model, every planted defect and the order of every submission — and then hands out the files'
//! contents; it does no I/O itself:
//!
//! | file | from |
//! |---|---|
//! | `election.toml` | [`Night::election_toml`]: the input definition with every generated public key appended as `[[keys]]` (and its stations replaced when rescaled) |
//! | `keys/<key-id>.key` | [`Night::key_files`]: base64 of the 32-byte Ed25519 seed of each operator, observer and admin key |
//! | `keys/machines.keys` | [`Night::key_files`]: one line `<key-id> <base64 seed>` per scanner (a million stations must not mean a million files) |
//! | `submissions.jsonl` | [`Night::write_submissions`]: one canonical signed submission per line, streamed |
//! | `defects.json` | [`Night::defects_json`]: every defect planted on purpose, with the line that carries it |
//!
//! The night, in file order: scanners' (`machine`) protocols in a reporting curve from poll close
//! (a share of boxes never report), then the district commissions' keyed hand counts (`manual`),
//! then party observers' copies (`observer`). Each station reports its party-list protocol and, in
//! the country, its single-member district protocol. The `time` of every submission is
//! non-decreasing down the file, and each signer's `seq` strictly increases.
//!
//! Planted defects (`defects.json`): boxes that never report; machine protocols that differ from the
//! hand count (a misread or unreadable ballots); observer copies that differ from the hand count;
//! hand counts keyed with a broken control relation (each followed later by the corrected protocol
//! from the same operator). Every other protocol satisfies every control relation of its form.
//!
//! Determinism: every number is a pure function of the seed and what it is about (station, contest,
//! key id), computed with IEEE-exact arithmetic; threads only change speed, never bytes. Keys are
//! `SigningKey::from_bytes(SHA-256("sverka/simulate/key/v1\n" ‖ seed ‖ key id))`: anyone with the seed
//! can re-derive them, which is the point of a simulation and why these keys must never sign a real
//! election.

mod emit;
mod geography;
mod model;
mod plan;
mod profile;
mod rng;
mod signing;

use std::fmt;

use serde::Serialize;

use crate::election::{DefinitionErrors, Election};
use crate::names::Source;

pub use geography::MAX_STATIONS;
pub use profile::Profile;

/// How to simulate a night.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The seed: the same seed and inputs give byte-identical files.
    pub seed: u64,
    /// Rescale the geography to this many stations (`None`: the election's own stations).
    pub stations: Option<u64>,
    /// Share of scanners that never report (about 10% in 2021).
    pub machine_failure_share: f64,
    /// Share of stations where a party observer submits a copy of the protocols.
    pub observer_share: f64,
    /// Share of reporting scanners whose protocol differs from the hand count in one race.
    pub machine_manual_discrepancy_share: f64,
    /// How many observer copies differ from the hand count.
    pub observer_discrepancy_count: u64,
    /// How many hand-count protocols are keyed with a broken control relation (and corrected later).
    pub broken_relation_count: u64,
    /// Operator keys per district commission.
    pub operators_per_district: u32,
    /// Party observer keys (named after the parties with the largest targets).
    pub observer_keys: u32,
    /// CEC admin keys.
    pub admin_keys: u32,
    /// National targets; `None`: plausible defaults.
    pub profile: Option<Profile>,
    /// The local time polls close, in minutes after midnight of the election date.
    pub polls_close_minutes: u32,
    /// The local UTC offset written in submission times, in minutes (Kyrgyzstan: +06:00).
    pub utc_offset_minutes: i32,
    /// Signing threads; 0 means one per available core.
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            stations: None,
            machine_failure_share: 0.10,
            observer_share: 0.20,
            machine_manual_discrepancy_share: 0.02,
            observer_discrepancy_count: 5,
            broken_relation_count: 8,
            operators_per_district: 2,
            observer_keys: 4,
            admin_keys: 2,
            profile: None,
            polls_close_minutes: 20 * 60,
            utc_offset_minutes: 6 * 60,
            threads: 0,
        }
    }
}

impl Config {
    fn check(&self) -> Result<(), SimulateError> {
        let share = |what: &str, x: f64| {
            if (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(SimulateError::Config(format!("{what} {x} is outside [0, 1]")))
            }
        };
        share("machine_failure_share", self.machine_failure_share)?;
        share("observer_share", self.observer_share)?;
        share("machine_manual_discrepancy_share", self.machine_manual_discrepancy_share)?;
        if self.operators_per_district == 0 {
            return Err(SimulateError::Config("operators_per_district must be at least 1".into()));
        }
        if self.observer_keys == 0 && self.observer_share > 0.0 {
            return Err(SimulateError::Config(
                "observer copies need at least one observer key".into(),
            ));
        }
        if self.polls_close_minutes >= 24 * 60 || self.utc_offset_minutes.abs() >= 24 * 60 {
            return Err(SimulateError::Config(
                "poll closing time or UTC offset out of range".into(),
            ));
        }
        Ok(())
    }
}

/// Why a night cannot be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Definition(#[from] DefinitionErrors),
    #[error("simulation profile: {0}")]
    Profile(String),
    #[error("{0}")]
    Config(String),
    #[error("form {form:?}: {message}")]
    UnsupportedForm { form: String, message: String },
    #[error("cannot rescale the stations: {0}")]
    Rescale(String),
    #[error("generated key id {0:?} would not be a valid id (station or district id too long?)")]
    KeyId(String),
    #[error(
        "the election already registers a key {0:?}; the simulator would generate the same id"
    )]
    KeyCollision(String),
    #[error("the simulator would generate key id {0:?} twice (two stations or districts with ids that differ only in a generated suffix?)")]
    DuplicateKeyId(String),
    #[error("election date {0:?} is not YYYY-MM-DD")]
    Date(String),
}

/// What kind of defect was planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// The station's scanner never reported: no `machine` protocol for this race.
    MachineNeverReported,
    /// The `machine` protocol differs from the `manual` one (the hand count is right).
    MachineManualMismatch,
    /// The `observer` copy differs from the `manual` protocol.
    ObserverMismatch,
    /// A `manual` protocol keyed with a broken control relation; the corrected one follows later.
    ControlRelationBroken,
}

impl DefectKind {
    pub const ALL: [DefectKind; 4] = [
        DefectKind::MachineNeverReported,
        DefectKind::MachineManualMismatch,
        DefectKind::ObserverMismatch,
        DefectKind::ControlRelationBroken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DefectKind::MachineNeverReported => "machine_never_reported",
            DefectKind::MachineManualMismatch => "machine_manual_mismatch",
            DefectKind::ObserverMismatch => "observer_mismatch",
            DefectKind::ControlRelationBroken => "control_relation_broken",
        }
    }
}

/// One planted defect, as `defects.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Defect {
    pub kind: DefectKind,
    pub station: String,
    pub contest: String,
    /// The source of the protocol that carries the defect (or that is missing).
    pub source: Source,
    /// The 1-based line of `submissions.jsonl` that carries it; absent when nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// What differs and why; the shape depends on `kind` (see `defects_json`).
    pub details: serde_json::Value,
}

/// A file under `keys/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFile {
    /// Relative to the output directory, e.g. `keys/admin-1.key`.
    pub path: String,
    pub contents: String,
}

/// How far a long step has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    pub done: u64,
    pub total: u64,
}

/// The long steps of a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Deriving the scanners' keys.
    Keys,
    /// Generating and signing submissions.
    Submissions,
}

/// Counts for the summary a user sees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub election: String,
    pub seed: u64,
    pub stations: u64,
    pub registered: u64,
    pub submissions: u64,
    pub machine: u64,
    pub manual: u64,
    pub observer: u64,
    pub keys: u64,
    /// Defects per kind, in [`DefectKind::ALL`] order.
    pub defects: Vec<(DefectKind, u64)>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let defects: u64 = self.defects.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{} stations ({} registered voters) of election {:?}, seed {}: {} submissions ({} machine, {} manual, {} observer) signed by {} keys; {} planted defects (",
            self.stations,
            self.registered,
            self.election,
            self.seed,
            self.submissions,
            self.machine,
            self.manual,
            self.observer,
            self.keys,
            defects
        )?;
        for (i, (kind, n)) in self.defects.iter().enumerate() {
            write!(f, "{}{} {}", if i > 0 { ", " } else { "" }, n, kind.as_str())?;
        }
        write!(f, ")")
    }
}

/// A planned night: everything decided, nothing signed yet.
pub struct Night {
    plan: plan::Plan,
}

impl fmt::Debug for Night {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Night").field("summary", &self.summary()).finish_non_exhaustive()
    }
}

impl Night {
    /// Plans a night for the definition `text` (named `file` in errors).
    pub fn new(file: &str, text: &str, config: Config) -> Result<Night, SimulateError> {
        Night::with_progress(file, text, config, &mut |_| {})
    }

    /// [`Night::new`], reporting progress of the key derivation (the long part at scale).
    pub fn with_progress(
        file: &str,
        text: &str,
        config: Config,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Night, SimulateError> {
        config.check()?;
        let election = Election::from_toml(file, text)?;
        Ok(Night { plan: plan::Plan::new(text, election, config, progress)? })
    }

    /// The counts a user sees.
    pub fn summary(&self) -> Summary {
        self.plan.summary()
    }

    /// Every planted defect, in the order of `defects.json`.
    pub fn defects(&self) -> &[Defect] {
        &self.plan.defects
    }

    /// The number of lines [`Night::write_submissions`] writes.
    pub fn submission_count(&self) -> u64 {
        self.plan.events.len() as u64
    }

    /// The output `election.toml`.
    pub fn election_toml(&self) -> String {
        self.plan.election_toml()
    }

    /// The private key files.
    pub fn key_files(&self) -> Vec<KeyFile> {
        self.plan.key_files()
    }

    /// `defects.json`: `{"election", "seed", "stations", "submissions", "counts": {kind: n},
    /// "defects": [...]}`. Each defect has `kind`, `station`, `contest`, `source`, and when a
    /// submission carries it `line` (1-based in `submissions.jsonl`), `signer` and `seq`; `details`:
    ///
    /// - `machine_never_reported`: `{}`;
    /// - `machine_manual_mismatch`: `{"cause": "misread"|"unreadable", "differences": [{"field":
    ///   "votes.<option>"|"lines.<line>", "machine": n, "manual": n}]}`;
    /// - `observer_mismatch`: `{"cause": "votes_moved"|"valid_written_invalid", "differences":
    ///   [{"field", "observer", "manual"}]}`;
    /// - `control_relation_broken`: `{"relation": "<as written in the form>", "left": n, "right": n,
    ///   "differences": [{"field", "written", "correct"}], "corrected_by": {"line", "signer", "seq"}}`.
    pub fn defects_json(&self) -> String {
        self.plan.defects_json()
    }

    /// Generates, signs and hands `sink` every line of `submissions.jsonl` (whole lines, in file
    /// order, in chunks), reporting progress; stops at the first error `sink` returns.
    pub fn write_submissions<E>(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), E> {
        emit::write_submissions(&self.plan, sink, progress)
    }

    /// All of `submissions.jsonl` in memory (for tests and small elections).
    pub fn submissions(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let result: Result<(), std::convert::Infallible> = self.write_submissions(
            &mut |chunk| {
                out.extend_from_slice(chunk);
                Ok(())
            },
            &mut |_| {},
        );
        match result {
            Ok(()) => out,
            Err(never) => match never {},
        }
    }

    /// Every line of `submissions.jsonl` (without its newline), in file order (for tests and
    /// small elections).
    pub fn submission_lines(&self) -> Vec<Vec<u8>> {
        self.submissions()
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }
}
