//! Planning a night before anything is signed: the keys, which boxes fail, which stations observers
//! cover, every planted defect, and the order of every submission with its signer, `seq` and time.
//!
//! The plan is small per submission (one [`Event`] of 24 bytes), so a million stations fit in memory;
//! the submissions themselves are generated and signed later, chunk by chunk, in `emit.rs`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::election::{ContestKind, Election};
use crate::form::{CmpOp, Relation, Term};
use crate::keys::{
    encode_private_key, encode_private_seed, encode_public_key, encode_public_key_bytes,
};
use crate::names::{is_valid_id, Role, Source};

use super::emit::{ordered_parallel, thread_count};
use super::geography::{self, SimStation};
use super::model::{LineKind, Model, Numbers, SimForm};
use super::rng::{Rng, Streams};
use super::signing::SigningParts;
use super::{Config, Defect, DefectKind, KeyFile, Progress, SimulateError, Stage, Summary};

/// `Event::key` of a scanner's submission: the station's own machine key.
pub(crate) const MACHINE_KEY: u32 = u32::MAX;
/// `Event::defect` of a submission that carries no defect.
pub(crate) const NO_DEFECT: u32 = u32::MAX;

/// Seconds after poll close at which each phase of the night starts (and the previous one has ended),
/// so that submission times never go backwards down the file.
const MANUAL_START: u32 = 4 * 3600;
const OBSERVER_START: u32 = 20 * 3600;

/// What an event's submission is with respect to its defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EventRole {
    Normal,
    /// Carries the defect's edits.
    Defective,
    /// The corrected resubmission after a broken one.
    Correction,
}

/// One submission of the night.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// Seconds after poll close.
    pub time: u32,
    pub station: u32,
    /// [`MACHINE_KEY`] or an index into [`Plan::keys`].
    pub key: u32,
    pub seq: u32,
    /// [`NO_DEFECT`] or an index into [`Plan::planned`].
    pub defect: u32,
    /// Position in `Model::contests`.
    pub contest: u16,
    pub source: Source,
    pub role: EventRole,
}

/// A generated key other than a scanner's.
pub(crate) struct NamedKey {
    pub id: String,
    pub role: Role,
    pub district: Option<String>,
    pub signing: SigningKey,
}

/// A number of a protocol a defect changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Line(usize),
    Vote(usize),
}

/// A defect planted in one submission.
pub(crate) struct Planned {
    kind: DefectKind,
    station: u32,
    contest: u16,
    source: Source,
    /// The values the defective protocol carries instead of the true ones.
    pub edits: Vec<(Field, u64)>,
    details: serde_json::Value,
    line: Option<(u64, String, u64)>,
    corrected_by: Option<(u64, String, u64)>,
}

/// Formats submission times: poll close on the election date, plus seconds, in local time.
pub(crate) struct Clock {
    /// Days since 1970-01-01 of the election date.
    day: i64,
    close_seconds: u32,
    offset: String,
}

impl Clock {
    fn new(date: &str, config: &Config) -> Result<Clock, SimulateError> {
        let bad = || SimulateError::Date(date.to_string());
        let parts: Vec<&str> = date.split('-').collect();
        let [y, m, d] = parts.as_slice() else { return Err(bad()) };
        let (y, m, d): (i64, u32, u32) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        if y.to_string().len() != 4 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        let minutes = config.utc_offset_minutes;
        let sign = if minutes < 0 { '-' } else { '+' };
        Ok(Clock {
            day: days_from_civil(y, m, d),
            close_seconds: config.polls_close_minutes * 60,
            offset: format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60),
        })
    }

    /// RFC 3339 local time `seconds` after poll close, e.g. `2021-11-28T20:14:03+06:00`.
    pub(crate) fn format(&self, seconds: u32, out: &mut Vec<u8>) {
        let local = u64::from(self.close_seconds) + u64::from(seconds);
        let (y, m, d) = civil_from_days(self.day + (local / 86_400) as i64);
        let s = local % 86_400;
        let mut text = String::with_capacity(25);
        let _ = write!(
            text,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{}",
            s / 3600,
            s / 60 % 60,
            s % 60,
            self.offset
        );
        out.extend_from_slice(text.as_bytes());
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level
/// date algorithms").
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Everything decided about a night.
pub(crate) struct Plan {
    pub config: Config,
    /// The input definition, or the input without its stations when rescaled.
    text: String,
    pub election: Election,
    pub stations: Vec<SimStation>,
    rescaled: bool,
    pub model: Model,
    /// One per station, in station order.
    pub machine_keys: Vec<SigningParts>,
    /// Admins, observers, operators (by district, then number).
    pub keys: Vec<NamedKey>,
    pub events: Vec<Event>,
    pub planned: Vec<Planned>,
    pub defects: Vec<Defect>,
    pub clock: Clock,
    pub threads: usize,
}

impl Plan {
    pub(crate) fn new(
        text: &str,
        election: Election,
        config: Config,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Plan, SimulateError> {
        let streams = Streams::new(config.seed);
        let clock = Clock::new(&election.date, &config)?;
        let (stations, rescaled) = geography::stations(&election, config.stations, &streams)?;
        let text = if rescaled { geography::strip_stations(text)? } else { text.to_string() };
        let profile = config.profile.clone().unwrap_or_default();
        let model = Model::new(&election, &stations, &profile, &streams)?;
        check_forms(&model, &stations)?;
        let threads = thread_count(config.threads);
        let keys = named_keys(&election, &config, &profile)?;
        check_key_ids(&election, &stations, &keys)?;
        let machine_keys = machine_keys(&config, &stations, threads, progress);
        let mut plan = Plan {
            config,
            text,
            election,
            stations,
            rescaled,
            model,
            machine_keys,
            keys,
            events: Vec::new(),
            planned: Vec::new(),
            defects: Vec::new(),
            clock,
            threads,
        };
        plan.plan_night(&streams);
        Ok(plan)
    }

    fn plan_night(&mut self, streams: &Streams) {
        let n = self.stations.len();
        let mut select = streams.stream("select", 0);
        let failed =
            select.sample(n, (self.config.machine_failure_share * n as f64).round() as usize);
        let mut machine_ok = vec![true; n];
        failed.iter().for_each(|&s| machine_ok[s as usize] = false);
        let covered = select.sample(n, (self.config.observer_share * n as f64).round() as usize);
        let n_observers = self.keys.iter().filter(|k| k.role == Role::Observer).count() as u64;
        let first_observer = self.keys.iter().position(|k| k.role == Role::Observer).unwrap_or(0);
        let mut observer = vec![u32::MAX; n];
        for &s in &covered {
            observer[s as usize] = first_observer as u32 + select.below(n_observers.max(1)) as u32;
        }
        let reporting = n - failed.len();
        self.plan_defects(streams, &machine_ok, &observer, reporting);
        self.plan_events(streams, &machine_ok, &observer);
        self.finish_defects(&machine_ok);
    }

    /// Chooses the stations of every defect from one shuffled order, so no station carries two.
    fn plan_defects(
        &mut self,
        streams: &Streams,
        machine_ok: &[bool],
        observer: &[u32],
        reporting: usize,
    ) {
        let n = self.stations.len();
        let order = streams.stream("defect-order", 0).sample(n, n);
        let mut rng = streams.stream("defects", 0);
        let mut order = order.into_iter();
        let mut broken = 0u64;
        let wanted_mismatches =
            (self.config.machine_manual_discrepancy_share * reporting as f64).round() as u64;
        let (mut mismatches, mut observed) = (0u64, 0u64);
        for s in order.by_ref() {
            if broken >= self.config.broken_relation_count {
                break;
            }
            if self.plan_broken(s, broken, &mut rng) {
                broken += 1;
            }
        }
        for s in order.by_ref() {
            if mismatches >= wanted_mismatches {
                break;
            }
            if machine_ok[s as usize] && self.plan_mismatch(s, Source::Machine, &mut rng) {
                mismatches += 1;
            }
        }
        for s in order {
            if observed >= self.config.observer_discrepancy_count {
                break;
            }
            if observer[s as usize] != u32::MAX && self.plan_mismatch(s, Source::Observer, &mut rng)
            {
                observed += 1;
            }
        }
    }

    /// A hand count keyed with the `nth` broken relation (cycling through the races and relations).
    fn plan_broken(&mut self, s: u32, nth: u64, rng: &mut Rng) -> bool {
        let station = &self.stations[s as usize];
        let contests = self.model.contests_of(station);
        if contests.is_empty() {
            return false;
        }
        let contest = contests[(nth % contests.len() as u64) as usize];
        let form = &self.model.forms[self.model.contests[contest as usize].form];
        if form.relations.is_empty() {
            return false;
        }
        let relation = &form.relations[(nth % form.relations.len() as u64) as usize];
        let numbers = self.model.numbers(s, station, contest, true);
        let Some(edits) = break_relation(form, relation, &numbers, rng) else { return false };
        let broken = apply(&numbers, &edits);
        let (_, left, right) = relation.check(&form.lines_map(&broken), broken.votes.iter().sum());
        let differences = self.differences(contest, &edits, &numbers, ("written", "correct"));
        let details = json!({
            "relation": relation.text,
            "left": left as i64,
            "right": right as i64,
            "differences": differences,
        });
        self.push_planned(
            DefectKind::ControlRelationBroken,
            s,
            contest,
            Source::Manual,
            edits,
            details,
        );
        true
    }

    /// A machine protocol (or observer copy) that differs from the hand count in one race.
    fn plan_mismatch(&mut self, s: u32, source: Source, rng: &mut Rng) -> bool {
        let station = &self.stations[s as usize];
        let contests = self.model.contests_of(station);
        if contests.is_empty() {
            return false;
        }
        let contest = contests[rng.below(contests.len() as u64) as usize];
        let with_preferences = source == Source::Observer;
        let numbers = self.model.numbers(s, station, contest, with_preferences);
        let form = &self.model.forms[self.model.contests[contest as usize].form];
        let move_votes = numbers.votes.len() >= 2 && rng.chance(0.5);
        let Some(edits) = shift_votes(form, &numbers, move_votes, rng) else { return false };
        let (kind, labels, cause) = match (source, move_votes) {
            (Source::Machine, true) => {
                (DefectKind::MachineManualMismatch, ("machine", "manual"), "misread")
            }
            (Source::Machine, false) => {
                (DefectKind::MachineManualMismatch, ("machine", "manual"), "unreadable")
            }
            (_, true) => (DefectKind::ObserverMismatch, ("observer", "manual"), "votes_moved"),
            (_, false) => {
                (DefectKind::ObserverMismatch, ("observer", "manual"), "valid_written_invalid")
            }
        };
        let differences = self.differences(contest, &edits, &numbers, labels);
        let details = json!({ "cause": cause, "differences": differences });
        self.push_planned(kind, s, contest, source, edits, details);
        true
    }

    fn push_planned(
        &mut self,
        kind: DefectKind,
        station: u32,
        contest: u16,
        source: Source,
        edits: Vec<(Field, u64)>,
        details: serde_json::Value,
    ) {
        self.planned.push(Planned {
            kind,
            station,
            contest,
            source,
            edits,
            details,
            line: None,
            corrected_by: None,
        });
    }

    /// `[{"field": "votes.x", <defective>: n, <true>: n}]` for a defect's edits.
    fn differences(
        &self,
        contest: u16,
        edits: &[(Field, u64)],
        truth: &Numbers,
        (defective, correct): (&str, &str),
    ) -> serde_json::Value {
        let sim = &self.model.contests[contest as usize];
        let form = &self.model.forms[sim.form];
        edits
            .iter()
            .map(|(field, value)| {
                let (name, was) = match *field {
                    Field::Line(i) => (format!("lines.{}", form.line_ids[i]), truth.lines[i]),
                    Field::Vote(i) => (format!("votes.{}", sim.options[i]), truth.votes[i]),
                };
                let mut entry = serde_json::Map::new();
                entry.insert("field".into(), name.into());
                entry.insert(defective.into(), (*value).into());
                entry.insert(correct.into(), was.into());
                serde_json::Value::Object(entry)
            })
            .collect()
    }

    /// Every submission in file order, with its time, signer and `seq`.
    fn plan_events(&mut self, streams: &Streams, machine_ok: &[bool], observer: &[u32]) {
        let defect_at: BTreeMap<(u32, u16, Source), u32> = self
            .planned
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.station, p.contest, p.source), i as u32))
            .collect();
        let operators = self.operator_keys();
        let per_district = self.config.operators_per_district as usize;
        let mut district_position = vec![0usize; self.election.districts.len()];
        let (mut machine, mut manual, mut observed) = (Vec::new(), Vec::new(), Vec::new());
        for (s, station) in self.stations.iter().enumerate() {
            let s32 = s as u32;
            let contests = self.model.contests_of(station);
            let event = |time, key, contest, source, defect: Option<&u32>, role| Event {
                time,
                station: s32,
                key,
                seq: 0,
                defect: defect.copied().unwrap_or(NO_DEFECT),
                contest,
                source,
                role,
            };
            let defect = |contest, source| defect_at.get(&(s32, contest, source));
            let role = |d: Option<&u32>| {
                if d.is_some() {
                    EventRole::Defective
                } else {
                    EventRole::Normal
                }
            };
            if machine_ok[s] {
                // Scanners report in a curve: half within about 40 minutes, nearly all within 4 hours.
                let mut rng = streams.stream("machine-time", s as u64);
                let u = rng.uniform();
                let mut time = 300 + (f64::from(MANUAL_START - 900) * u * u * u) as u32;
                for &c in &contests {
                    let d = defect(c, Source::Machine);
                    machine.push(event(time, MACHINE_KEY, c, Source::Machine, d, role(d)));
                    time += 5 + rng.below(55) as u32;
                }
            }
            let district = station.district as usize;
            let key = operators[district] + (district_position[district] % per_district) as u32;
            district_position[district] += 1;
            let mut rng = streams.stream("manual-time", s as u64);
            let u = rng.uniform();
            let mut time = MANUAL_START + (f64::from(13 * 3600) * u * u.sqrt()) as u32;
            for &c in &contests {
                let d = defect(c, Source::Manual);
                manual.push(event(time, key, c, Source::Manual, d, role(d)));
                if d.is_some() {
                    let fixed = time + 300 + rng.below(3300) as u32;
                    manual.push(event(fixed, key, c, Source::Manual, d, EventRole::Correction));
                }
                time += 60 + rng.below(840) as u32;
            }
            if observer[s] != u32::MAX {
                let mut rng = streams.stream("observer-time", s as u64);
                let mut time = OBSERVER_START + rng.below(24 * 3600) as u32;
                for &c in &contests {
                    let d = defect(c, Source::Observer);
                    observed.push(event(time, observer[s], c, Source::Observer, d, role(d)));
                    time += 5 + rng.below(55) as u32;
                }
            }
        }
        for phase in [&mut machine, &mut manual, &mut observed] {
            phase.sort_unstable_by_key(|e| (e.time, e.station, e.contest, e.role));
        }
        let mut events = machine;
        events.append(&mut manual);
        events.append(&mut observed);
        let mut machine_seq = vec![0u32; self.stations.len()];
        let mut key_seq = vec![0u32; self.keys.len()];
        for e in events.iter_mut() {
            let counter = if e.key == MACHINE_KEY {
                &mut machine_seq[e.station as usize]
            } else {
                &mut key_seq[e.key as usize]
            };
            *counter += 1;
            e.seq = *counter;
        }
        self.events = events;
    }

    /// Per district, the index in `keys` of its first operator.
    fn operator_keys(&self) -> Vec<u32> {
        let first: BTreeMap<&str, u32> = self
            .keys
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, k)| k.district.as_deref().map(|d| (d, i as u32)))
            .collect();
        self.election.districts.iter().map(|d| first[d.id.as_str()]).collect()
    }

    /// Fills in where each defect landed and lists them in file order.
    fn finish_defects(&mut self, machine_ok: &[bool]) {
        for (i, e) in self.events.iter().enumerate() {
            if e.defect == NO_DEFECT {
                continue;
            }
            let at = Some((i as u64 + 1, self.signer_id(e), u64::from(e.seq)));
            let planned = &mut self.planned[e.defect as usize];
            match e.role {
                EventRole::Defective => planned.line = at,
                EventRole::Correction => planned.corrected_by = at,
                EventRole::Normal => {}
            }
        }
        let mut listed: Vec<(u64, u32, u16, Defect)> = Vec::new();
        for p in &self.planned {
            let mut details = p.details.clone();
            if let Some((line, signer, seq)) = &p.corrected_by {
                details["corrected_by"] = json!({ "line": line, "signer": signer, "seq": seq });
            }
            let (line, signer, seq) = match &p.line {
                Some((l, s, q)) => (Some(*l), Some(s.clone()), Some(*q)),
                None => (None, None, None),
            };
            listed.push((
                line.unwrap_or(u64::MAX),
                p.station,
                p.contest,
                self.defect(p.kind, p.station, p.contest, p.source, line, signer, seq, details),
            ));
        }
        for (s, ok) in machine_ok.iter().enumerate() {
            if *ok {
                continue;
            }
            for c in self.model.contests_of(&self.stations[s]) {
                let defect = self.defect(
                    DefectKind::MachineNeverReported,
                    s as u32,
                    c,
                    Source::Machine,
                    None,
                    None,
                    None,
                    json!({}),
                );
                listed.push((u64::MAX, s as u32, c, defect));
            }
        }
        listed.sort_by_key(|(line, s, c, d)| (*line, *s, *c, d.kind));
        self.defects = listed.into_iter().map(|(_, _, _, d)| d).collect();
    }

    #[allow(clippy::too_many_arguments)]
    fn defect(
        &self,
        kind: DefectKind,
        station: u32,
        contest: u16,
        source: Source,
        line: Option<u64>,
        signer: Option<String>,
        seq: Option<u64>,
        details: serde_json::Value,
    ) -> Defect {
        Defect {
            kind,
            station: self.stations[station as usize].id.clone(),
            contest: self.model.contests[contest as usize].id.clone(),
            source,
            line,
            signer,
            seq,
            details,
        }
    }

    /// The key id that signs an event.
    pub(crate) fn signer_id(&self, e: &Event) -> String {
        if e.key == MACHINE_KEY {
            machine_key_id(&self.stations[e.station as usize].id)
        } else {
            self.keys[e.key as usize].id.clone()
        }
    }

    pub(crate) fn summary(&self) -> Summary {
        let count = |source| self.events.iter().filter(|e| e.source == source).count() as u64;
        let defects = DefectKind::ALL
            .iter()
            .map(|k| (*k, self.defects.iter().filter(|d| d.kind == *k).count() as u64))
            .collect();
        Summary {
            election: self.election.id.clone(),
            seed: self.config.seed,
            stations: self.stations.len() as u64,
            registered: self.stations.iter().map(|s| s.registered).sum(),
            submissions: self.events.len() as u64,
            machine: count(Source::Machine),
            manual: count(Source::Manual),
            observer: count(Source::Observer),
            keys: (self.machine_keys.len() + self.keys.len()) as u64,
            defects,
        }
    }

    pub(crate) fn election_toml(&self) -> String {
        let mut out = String::with_capacity(
            self.text.len() + self.stations.len() * if self.rescaled { 240 } else { 150 },
        );
        out.push_str(&self.text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        let seed = self.config.seed;
        if self.rescaled {
            let _ = write!(
                out,
                "\n# Stations rescaled by `sverka simulate --seed {seed} --stations {}`: every station of the\n# input split into parts of plausible size, same regions and districts (synthetic).\n\n",
                self.stations.len()
            );
            for s in &self.stations {
                geography::write_station(&mut out, &self.election, s);
            }
        }
        let _ = write!(
            out,
            "\n# Keys generated by `sverka simulate --seed {seed}`; their private halves are in keys/.\n# Anyone with the seed can derive them: never use them for a real election.\n\n"
        );
        let role = |r: Role| match r {
            Role::Machine => "machine",
            Role::Operator => "operator",
            Role::Observer => "observer",
            Role::Admin => "admin",
        };
        for k in &self.keys {
            let _ = write!(
                out,
                "[[keys]]\nid = \"{}\"\nrole = \"{}\"\npublic_key = \"{}\"\n",
                k.id,
                role(k.role),
                encode_public_key(&k.signing.verifying_key())
            );
            if let Some(d) = &k.district {
                let _ = writeln!(out, "district = {}", geography::toml_string(d));
            }
            out.push('\n');
        }
        for (s, key) in self.stations.iter().zip(&self.machine_keys) {
            let _ = write!(
                out,
                "[[keys]]\nid = \"{}\"\nrole = \"machine\"\npublic_key = \"{}\"\nstation = {}\n\n",
                machine_key_id(&s.id),
                encode_public_key_bytes(key.public_bytes()),
                geography::toml_string(&s.id)
            );
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    pub(crate) fn key_files(&self) -> Vec<KeyFile> {
        let mut files: Vec<KeyFile> = self
            .keys
            .iter()
            .map(|k| KeyFile {
                path: format!("keys/{}.key", k.id),
                contents: format!("{}\n", encode_private_key(&k.signing)),
            })
            .collect();
        let mut machines = String::with_capacity(self.stations.len() * 70);
        for (s, key) in self.stations.iter().zip(&self.machine_keys) {
            let _ =
                writeln!(machines, "{} {}", machine_key_id(&s.id), encode_private_seed(key.seed()));
        }
        files.push(KeyFile { path: "keys/machines.keys".into(), contents: machines });
        files
    }

    pub(crate) fn defects_json(&self) -> String {
        /// The document, fields in the order a reader wants them.
        #[derive(serde::Serialize)]
        struct DefectsFile<'a> {
            election: &'a str,
            seed: u64,
            stations: usize,
            submissions: usize,
            counts: BTreeMap<&'static str, u64>,
            defects: &'a [Defect],
        }
        let counts = DefectKind::ALL
            .iter()
            .map(|k| (k.as_str(), self.defects.iter().filter(|d| d.kind == *k).count() as u64))
            .collect();
        let document = DefectsFile {
            election: &self.election.id,
            seed: self.config.seed,
            stations: self.stations.len(),
            submissions: self.events.len(),
            counts,
            defects: &self.defects,
        };
        let mut text = serde_json::to_string_pretty(&document).expect("plain JSON values");
        text.push('\n');
        text
    }
}

pub(crate) fn machine_key_id(station: &str) -> String {
    format!("machine-{station}")
}

/// A key's 32-byte seed: SHA-256 of a domain string, the simulation seed and the key id.
fn key_seed(seed: u64, id: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"sverka/simulate/key/v1\n");
    hash.update(seed.to_le_bytes());
    hash.update(id.as_bytes());
    hash.finalize().into()
}

fn derive(seed: u64, id: &str) -> SigningKey {
    SigningKey::from_bytes(&key_seed(seed, id))
}

/// Admins, party observers and district operators.
fn named_keys(
    election: &Election,
    config: &Config,
    profile: &super::Profile,
) -> Result<Vec<NamedKey>, SimulateError> {
    let seed = config.seed;
    let named = |id: String, role, district: Option<String>| {
        let signing = derive(seed, &id);
        NamedKey { id, role, district, signing }
    };
    let mut keys: Vec<NamedKey> =
        (1..=config.admin_keys).map(|i| named(format!("admin-{i}"), Role::Admin, None)).collect();
    // Party observers: the parties expected to do best watch the most stations.
    let mut parties: Vec<(f64, u32, &str)> = election
        .contests
        .iter()
        .filter_map(|c| match &c.kind {
            ContestKind::PartyList(list) => Some(list.parties.iter()),
            ContestKind::SingleMember(_) => None,
        })
        .flatten()
        .map(|p| {
            (profile.parties.get(&p.id).copied().unwrap_or(0.0), p.ballot_number, p.id.as_str())
        })
        .collect();
    parties.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut seen = BTreeSet::new();
    parties.retain(|p| seen.insert(p.2));
    for i in 0..config.observer_keys as usize {
        let id = match parties.get(i) {
            Some((_, _, party)) if is_valid_id(&format!("observer-{party}")) => {
                format!("observer-{party}")
            }
            _ => format!("observer-{}", i + 1),
        };
        keys.push(named(id, Role::Observer, None));
    }
    for d in &election.districts {
        for i in 1..=config.operators_per_district {
            keys.push(named(format!("operator-{}-{i}", d.id), Role::Operator, Some(d.id.clone())));
        }
    }
    Ok(keys)
}

fn check_key_ids(
    election: &Election,
    stations: &[SimStation],
    keys: &[NamedKey],
) -> Result<(), SimulateError> {
    // Membership only (never iterated), so a hash set cannot leak an order into the output.
    let existing: HashSet<&str> = election.keys.iter().map(|k| k.id.as_str()).collect();
    let mut generated = HashSet::with_capacity(stations.len() + keys.len());
    let machine_ids = stations.iter().map(|s| machine_key_id(&s.id));
    for id in keys.iter().map(|k| k.id.clone()).chain(machine_ids) {
        if !is_valid_id(&id) {
            return Err(SimulateError::KeyId(id));
        }
        if existing.contains(id.as_str()) {
            return Err(SimulateError::KeyCollision(id));
        }
        if !generated.insert(id.clone()) {
            return Err(SimulateError::DuplicateKeyId(id));
        }
    }
    Ok(())
}

/// One key per scanner, derived in parallel (each derivation is a scalar multiplication).
fn machine_keys(
    config: &Config,
    stations: &[SimStation],
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Vec<SigningParts> {
    const CHUNK: usize = 4096;
    let n = stations.len();
    let mut keys = Vec::with_capacity(n);
    let work = |chunk: usize| -> Vec<SigningParts> {
        let seeds: Vec<[u8; 32]> = stations[chunk * CHUNK..((chunk + 1) * CHUNK).min(n)]
            .iter()
            .map(|s| key_seed(config.seed, &machine_key_id(&s.id)))
            .collect();
        super::signing::expand_each(&seeds)
    };
    let result: Result<(), std::convert::Infallible> =
        ordered_parallel(n.div_ceil(CHUNK), threads, &work, &mut |_, chunk: Vec<SigningParts>| {
            keys.extend(chunk);
            progress(Progress { stage: Stage::Keys, done: keys.len() as u64, total: n as u64 });
            Ok(())
        });
    match result {
        Ok(()) => keys,
        Err(never) => match never {},
    }
}

/// Every form must be one the simulator fills, and its protocols must satisfy the form's relations:
/// checked on the first stations before anything is planned on top.
fn check_forms(model: &Model, stations: &[SimStation]) -> Result<(), SimulateError> {
    for (s, station) in stations.iter().enumerate().take(20) {
        for c in model.contests_of(station) {
            let numbers = model.numbers(s as u32, station, c, true);
            let form = &model.forms[model.contests[c as usize].form];
            if let Some(relation) = form.failing(&numbers).first() {
                return Err(SimulateError::UnsupportedForm {
                    form: model.contests[c as usize].id.clone(),
                    message: format!("the simulator cannot satisfy relation {:?}", relation.text),
                });
            }
            let lines = form.lines_map(&numbers);
            let issued: u64 = form
                .kinds
                .iter()
                .zip(&numbers.lines)
                .filter(|(k, _)| {
                    matches!(
                        k,
                        LineKind::IssuedEarly | LineKind::IssuedInRoom | LineKind::IssuedOutside
                    )
                })
                .map(|(_, n)| n)
                .sum();
            if form.took_part.eval(&lines, 0) != i128::from(issued) {
                return Err(SimulateError::UnsupportedForm {
                    form: model.contests[c as usize].id.clone(),
                    message: "took_part must be the sum of the issued lines".into(),
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn apply(numbers: &Numbers, edits: &[(Field, u64)]) -> Numbers {
    let mut out = numbers.clone();
    for (field, value) in edits {
        match *field {
            Field::Line(i) => out.lines[i] = *value,
            Field::Vote(i) => out.votes[i] = *value,
        }
    }
    out
}

/// Edits one number of a relation so that it fails: the smallest push past its bound plus 1 to 5.
fn break_relation(
    form: &SimForm,
    relation: &Relation,
    numbers: &Numbers,
    rng: &mut Rng,
) -> Option<Vec<(Field, u64)>> {
    let sum: u64 = numbers.votes.iter().sum();
    let (_, left, right) = relation.check(&form.lines_map(numbers), sum);
    let diff = left - right;
    let bump = 1 + i128::from(rng.below(5));
    // The change of (left - right) that makes the relation fail.
    let needed = match relation.op {
        CmpOp::Eq if rng.chance(0.5) => bump,
        CmpOp::Eq => -bump,
        CmpOp::Ge => -diff - bump,
        CmpOp::Le => -diff + bump,
    };
    let mut terms: Vec<(i128, Field)> = Vec::new();
    for (side, expr) in [(1i128, &relation.lhs), (-1, &relation.rhs)] {
        for (sign, term) in &expr.terms {
            let coefficient = side * i128::from(*sign);
            match term {
                Term::Line(id) => {
                    if let Some(i) = form.line_ids.iter().position(|l| l == id) {
                        terms.push((coefficient, Field::Line(i)));
                    }
                }
                Term::SumOptions if !numbers.votes.is_empty() => {
                    let option = rng.below(numbers.votes.len() as u64) as usize;
                    terms.push((coefficient, Field::Vote(option)));
                }
                _ => {}
            }
        }
    }
    let start = if terms.is_empty() { 0 } else { rng.below(terms.len() as u64) as usize };
    for k in 0..terms.len() {
        let (coefficient, field) = terms[(start + k) % terms.len()];
        let old = match field {
            Field::Line(i) => numbers.lines[i],
            Field::Vote(i) => numbers.votes[i],
        };
        let new = i128::from(old) + needed * coefficient;
        let Ok(new) = u64::try_from(new) else { continue };
        let edits = vec![(field, new)];
        let broken = apply(numbers, &edits);
        let still = relation.check(&form.lines_map(&broken), broken.votes.iter().sum()).0;
        if !still {
            return Some(edits);
        }
    }
    None
}

/// A relation-preserving difference: `move_votes` moves a few votes from one option to another (a
/// misread); otherwise a few valid votes of one option are counted invalid instead.
fn shift_votes(
    form: &SimForm,
    numbers: &Numbers,
    move_votes: bool,
    rng: &mut Rng,
) -> Option<Vec<(Field, u64)>> {
    let with_votes: Vec<usize> =
        (0..numbers.votes.len()).filter(|&o| numbers.votes[o] > 0).collect();
    if with_votes.is_empty() {
        return None;
    }
    let from = with_votes[rng.below(with_votes.len() as u64) as usize];
    let had = numbers.votes[from];
    let moved = 1 + rng.below((had / 10).max(1));
    if move_votes {
        let mut to = rng.below(numbers.votes.len() as u64 - 1) as usize;
        if to >= from {
            to += 1;
        }
        return Some(vec![
            (Field::Vote(from), had - moved),
            (Field::Vote(to), numbers.votes[to] + moved),
        ]);
    }
    let valid = form.kinds.iter().position(|k| *k == LineKind::Valid)?;
    let invalid = form.kinds.iter().position(|k| *k == LineKind::Invalid)?;
    Some(vec![
        (Field::Vote(from), had - moved),
        (Field::Line(valid), numbers.lines[valid] - moved),
        (Field::Line(invalid), numbers.lines[invalid] + moved),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for (y, m, d) in [(1970, 1, 1), (2021, 11, 28), (2024, 2, 29), (2000, 12, 31)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 2), 1);
        let clock = Clock::new("2021-11-30", &Config::default()).unwrap();
        let mut out = Vec::new();
        clock.format(4 * 3600 + 61, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "2021-12-01T00:01:01+06:00");
    }
}
