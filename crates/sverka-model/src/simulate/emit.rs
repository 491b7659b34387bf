//! Generating and signing the submissions: each planned [`Event`] becomes one line of
//! `submissions.jsonl`, chunk by chunk on several threads, handed to the caller in file order.
//!
//! The payload is written straight into its RFC 8785 canonical form (members in UTF-16 order, which
//! for sverka's ASCII ids is byte order; integers only) instead of going through `serde_json::Value`:
//! at a million stations the signing, not the formatting, must be the cost. The tests decode every
//! line with [`crate::Submission::decode`], which refuses anything but the canonical bytes, and compare
//! against [`crate::Payload::sign`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::submission::{FORMAT_VERSION, SIGNATURE_CONTEXT};

use super::model::{Numbers, SimKind};
use super::plan::{apply, machine_key_id, Event, EventRole, Plan, MACHINE_KEY, NO_DEFECT};
use super::{Progress, Stage};

/// Submissions per chunk handed to a thread.
const CHUNK: usize = 1024;

/// The signing threads to use: `configured`, or one per available core when 0.
pub(crate) fn thread_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Runs `work(0..n_chunks)` on `threads` threads and hands each result to `consume` in index order
/// on the calling thread. Stops early (and returns the error) when `consume` fails.
pub(crate) fn ordered_parallel<T: Send, E>(
    n_chunks: usize,
    threads: usize,
    work: &(dyn Fn(usize) -> T + Sync),
    consume: &mut dyn FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    if threads <= 1 || n_chunks <= 1 {
        for i in 0..n_chunks {
            consume(i, work(i))?;
        }
        return Ok(());
    }
    // At most this many chunks computed ahead of the one being consumed (bounds memory).
    let window = 4 * threads;
    let next = AtomicUsize::new(0);
    let consumed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, T)>(window);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, consumed, stop) = (&next, &consumed, &stop);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_chunks {
                    break;
                }
                while i >= consumed.load(Ordering::Acquire) + window
                    && !stop.load(Ordering::Relaxed)
                {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                if stop.load(Ordering::Relaxed) || tx.send((i, work(i))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (i, item) in rx.iter() {
            pending.insert(i, item);
            while let Some(item) = pending.remove(&wanted) {
                if let Err(e) = consume(wanted, item) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                wanted += 1;
                consumed.store(wanted, Ordering::Release);
            }
        }
        Ok(())
    })
}

pub(crate) fn write_submissions<E>(
    plan: &Plan,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), E> {
    let encoder = Encoder::new(plan);
    let total = plan.events.len();
    let work = |chunk: usize| -> Vec<u8> {
        let events = &plan.events[chunk * CHUNK..((chunk + 1) * CHUNK).min(total)];
        encoder.lines(events)
    };
    let mut done = 0u64;
    ordered_parallel(total.div_ceil(CHUNK), plan.threads, &work, &mut |_, lines: Vec<u8>| {
        sink(&lines)?;
        done = (done + CHUNK as u64).min(total as u64);
        progress(Progress { stage: Stage::Submissions, done, total: total as u64 });
        Ok(())
    })
}

/// A JSON object member name, ready to write: `"id":`.
fn member(id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(id.len() + 3);
    json_string(id, &mut out);
    out.push(b':');
    out
}

/// Writes a JSON string as RFC 8785 (ECMAScript `JSON.stringify`) escapes it.
fn json_string(text: &str, out: &mut Vec<u8>) {
    crate::canonical::write_string(text, out);
}

fn number(n: u64, out: &mut Vec<u8>) {
    crate::canonical::write_u64(n, out);
}

/// Indices into a list of values, in the canonical (UTF-16 code unit) order of their ids, each with
/// its member name.
type Members = Vec<(usize, Vec<u8>)>;

/// [`Members`] of a list of ids.
fn sorted_members<'a>(ids: impl Iterator<Item = &'a str>) -> Members {
    let mut members: Vec<(usize, &str)> = ids.enumerate().collect();
    members.sort_by(|a, b| a.1.encode_utf16().cmp(b.1.encode_utf16()));
    members.into_iter().map(|(i, id)| (i, member(id))).collect()
}

/// What never changes between submissions, precomputed.
struct Encoder<'a> {
    plan: &'a Plan,
    election: Vec<u8>,
    /// Per form: its lines in canonical order.
    lines: Vec<Members>,
    /// The plan's named keys (`Plan::keys`), taken apart for signing.
    named_keys: Vec<super::signing::SigningParts>,
    /// Per contest: its `"contest":"id"` member, its options in canonical order, and for party lists
    /// the parties in canonical order with their candidates in canonical order.
    contests: Vec<ContestEncoding>,
}

struct ContestEncoding {
    id: Vec<u8>,
    options: Members,
    /// The parties' preference maps: the party, its member name, its candidates.
    parties: Vec<(usize, Vec<u8>, Members)>,
}

impl<'a> Encoder<'a> {
    fn new(plan: &'a Plan) -> Encoder<'a> {
        let mut election = Vec::new();
        json_string(&plan.election.id, &mut election);
        let lines = plan
            .model
            .forms
            .iter()
            .map(|f| sorted_members(f.line_ids.iter().map(String::as_str)))
            .collect();
        let contests = plan
            .model
            .contests
            .iter()
            .map(|c| {
                let mut id = Vec::new();
                json_string(&c.id, &mut id);
                let parties = match &c.kind {
                    SimKind::PartyList { parties, .. } => {
                        sorted_members(parties.iter().map(|p| c.options[p.option].as_str()))
                            .into_iter()
                            .map(|(i, name)| {
                                let candidates =
                                    parties[i].candidate_ids.iter().map(String::as_str);
                                (i, name, sorted_members(candidates))
                            })
                            .collect()
                    }
                    SimKind::SingleMember { .. } => Vec::new(),
                };
                ContestEncoding {
                    id,
                    options: sorted_members(c.options.iter().map(String::as_str)),
                    parties,
                }
            })
            .collect();
        let seeds: Vec<[u8; 32]> = plan.keys.iter().map(|k| k.signing.to_bytes()).collect();
        let named_keys = super::signing::expand_each(&seeds);
        Encoder { plan, election, named_keys, lines, contests }
    }

    /// The signed submission lines of `events`, in order: every payload written first, then all
    /// of them signed together (`signing::sign_each`: one field inversion for the chunk).
    fn lines(&self, events: &[Event]) -> Vec<u8> {
        let plan = self.plan;
        // The signing messages one after another, each the context then the payload.
        let mut messages = Vec::with_capacity(events.len() * 2600);
        let mut ends = Vec::with_capacity(events.len());
        for event in events {
            let station = &plan.stations[event.station as usize];
            let with_preferences = event.source != crate::Source::Machine;
            let mut numbers =
                plan.model.numbers(event.station, station, event.contest, with_preferences);
            if event.defect != NO_DEFECT && event.role == EventRole::Defective {
                numbers = apply(&numbers, &plan.planned[event.defect as usize].edits);
            }
            messages.extend_from_slice(SIGNATURE_CONTEXT);
            self.payload(event, &numbers, &mut messages);
            ends.push(messages.len());
        }
        let mut start = 0;
        let items: Vec<(&super::signing::SigningParts, &[u8])> = events
            .iter()
            .zip(&ends)
            .map(|(event, &end)| {
                let key = if event.key == MACHINE_KEY {
                    &plan.machine_keys[event.station as usize]
                } else {
                    &self.named_keys[event.key as usize]
                };
                let message = &messages[start..end];
                start = end;
                (key, message)
            })
            .collect();
        let signatures = super::signing::sign_each(&items);
        let mut out = Vec::with_capacity(messages.len() + events.len() * 120);
        for ((_, message), signature) in items.iter().zip(&signatures) {
            out.extend_from_slice(b"{\"payload\":");
            out.extend_from_slice(&message[SIGNATURE_CONTEXT.len()..]);
            out.extend_from_slice(b",\"signature\":\"");
            let mut encoded = [0u8; 88];
            let n =
                STANDARD.encode_slice(signature, &mut encoded).expect("88 bytes hold 64 in base64");
            out.extend_from_slice(&encoded[..n]);
            out.extend_from_slice(b"\"}\n");
        }
        out
    }

    /// The payload's canonical JSON: members in order contest, election, lines, preferences, seq,
    /// signer, source, station, time, type, v, votes.
    fn payload(&self, event: &Event, numbers: &Numbers, out: &mut Vec<u8>) {
        let plan = self.plan;
        let contest = &self.contests[event.contest as usize];
        let form = plan.model.contests[event.contest as usize].form;
        out.extend_from_slice(b"{\"contest\":");
        out.extend_from_slice(&contest.id);
        out.extend_from_slice(b",\"election\":");
        out.extend_from_slice(&self.election);
        out.extend_from_slice(b",\"lines\":");
        object(&self.lines[form], &numbers.lines, out);
        let has_preferences = numbers.preferences.iter().any(|p| p.iter().any(|&n| n > 0));
        if has_preferences {
            out.extend_from_slice(b",\"preferences\":{");
            let mut first = true;
            for (party, name, candidates) in &contest.parties {
                let votes = &numbers.preferences[*party];
                if votes.iter().all(|&n| n == 0) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(name);
                sparse_object(candidates, votes, out);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"seq\":");
        number(u64::from(event.seq), out);
        out.extend_from_slice(b",\"signer\":");
        if event.key == MACHINE_KEY {
            json_string(&machine_key_id(&plan.stations[event.station as usize].id), out);
        } else {
            json_string(&plan.keys[event.key as usize].id, out);
        }
        out.extend_from_slice(b",\"source\":\"");
        out.extend_from_slice(event.source.as_str().as_bytes());
        out.extend_from_slice(b"\",\"station\":");
        json_string(&plan.stations[event.station as usize].id, out);
        out.extend_from_slice(b",\"time\":\"");
        plan.clock.format(event.time, out);
        out.extend_from_slice(b"\",\"type\":\"protocol\",\"v\":");
        number(u64::from(FORMAT_VERSION), out);
        out.extend_from_slice(b",\"votes\":");
        object(&contest.options, &numbers.votes, out);
        out.push(b'}');
    }
}

/// `{"a":1,"b":2}` with every member.
fn object(members: &Members, values: &[u64], out: &mut Vec<u8>) {
    out.push(b'{');
    for (k, (i, name)) in members.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name);
        number(values[*i], out);
    }
    out.push(b'}');
}

/// `{"a":1}` with the non-zero members only (a candidate nobody marked is simply absent).
fn sparse_object(members: &Members, values: &[u64], out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (i, name) in members {
        if values[*i] == 0 {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(name);
        number(values[*i], out);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_are_canonical() {
        let mut out = Vec::new();
        for n in [0u64, 7, 10, 1234567890123] {
            number(n, &mut out);
            out.push(b' ');
        }
        assert_eq!(out, b"0 7 10 1234567890123 ");
        let mut out = Vec::new();
        json_string("a\"\\\n\u{1}é", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"\\\\\\n\\u0001é\"");
    }
}
