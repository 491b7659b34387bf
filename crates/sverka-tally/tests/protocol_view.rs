//! The replay behind `sverka results` and `sverka publish` reads a protocol entry as a
//! `ProtocolView` of its bytes (no `String` per id, no maps) and parses anything else typed, as
//! before. The two ways must fold to the same tally, entry by entry: the same `Applied`, the same
//! warnings, ignore reasons, corrections and totals, and the same snapshot bytes. Pinned here on a
//! simulated night with its planted defects, on entries mutated by hand (escapes, duplicate keys,
//! unknown ids, overflow, preferences, supersedes, observers, other kinds), and on random edits.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sverka_model::protocol_view::ProtocolView;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{Annulment, Body, Payload, Submission, FORMAT_VERSION};
use sverka_model::Election;
use sverka_tally::replay::Replay;
use sverka_tally::tabulate::{Applied, Tally};

/// The 2021 example rescaled to 200 stations, and its simulated night's entries.
fn night() -> (Arc<Election>, Vec<Vec<u8>>) {
    let text = include_str!("../../../examples/kyrgyzstan-2021/election.toml");
    let config = Config { seed: 11, stations: Some(200), ..Config::default() };
    let night = Night::new("election.toml", text, config).expect("the 2021 example simulates");
    let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
    let entries = night.submission_lines();
    (Arc::new(election), entries)
}

fn typed(bytes: &[u8]) -> Option<Submission> {
    serde_json::from_slice(bytes).ok()
}

/// A view is only given for bytes the typed parse reads, and holds what it reads.
fn check_view_agrees(bytes: &[u8]) {
    let Some(view) = ProtocolView::parse(bytes) else { return };
    let text = String::from_utf8_lossy(bytes);
    let submission =
        typed(bytes).unwrap_or_else(|| panic!("a view of bytes serde refuses: {text}"));
    assert_eq!(view.differs_from(&submission.payload), None, "{text}");
}

/// One tally fed the typed parse of every entry, one fed views where there are views: they must
/// answer alike entry by entry and add up alike.
struct Pair {
    election: Arc<Election>,
    typed: Tally,
    viewed: Tally,
    /// Entries the viewed tally read as views.
    views: usize,
}

impl Pair {
    fn new(election: &Arc<Election>) -> Pair {
        let tally = Tally::new(election);
        Pair { election: Arc::clone(election), typed: tally.clone(), viewed: tally, views: 0 }
    }

    fn apply(&mut self, index: u64, bytes: &[u8]) -> Option<Applied> {
        check_view_agrees(bytes);
        let submission = typed(bytes);
        let a = submission.as_ref().map(|s| self.typed.apply(index, s));
        let b = match ProtocolView::parse(bytes) {
            Some(view) => {
                self.views += 1;
                Some(self.viewed.apply_view(index, &view))
            }
            None => submission.as_ref().map(|s| self.viewed.apply(index, s)),
        };
        assert_eq!(a, b, "entry {index}: {}", String::from_utf8_lossy(bytes));
        a
    }

    fn check(&self) {
        let a = self.typed.results(&self.election);
        let b = self.viewed.results(&self.election);
        assert_eq!(a, b);
        assert_eq!(self.typed.save_state(), self.viewed.save_state());
    }
}

/// Text edits, each made to every entry it applies to (`from` present), the result appended to
/// the log as a new entry.
const EDITS: &[(&str, &str)] = &[
    // unknown ids, in order (read as views) and out of order (typed)
    (r#""lines":{""#, r#""lines":{"aaa":5,""#),
    (r#""votes":{""#, r#""votes":{"aaa":5,""#),
    (r#""lines":{""#, r#""lines":{"zzz":5,""#),
    (r#""lines":{""#, r#""lines":{"":5,""#),
    (r#""lines":{""#, r#""lines":{"":5,"":6,""#),
    (r#""ata-jurt":{""#, r#""ata-jurt":{"":5,"":6,""#),
    (r#""preferences":{""#, r#""preferences":{"":{},"":{},""#),
    (r#""valid":"#, r#""valie":3,"valid":"#),
    (r#""votes":{"against_all""#, r#""votes":{"zzz":1,"against_all""#),
    (r#""lines":{""#, r#""lines":{},"x":{""#),
    (r#""lines":{"#, r#""lines":{},"old_lines":{"#),
    // values
    (r#""lost":0"#, r#""lost":4294967295"#),
    (r#""lost":0"#, r#""lost":4294967296"#),
    (r#""lost":0"#, r#""lost":18446744073709551615"#),
    (r#""lost":0"#, r#""lost":18446744073709551616"#),
    (r#""lost":0"#, r#""lost":0.0"#),
    (r#""lost":0"#, r#""lost":-0"#),
    (r#""lost":0"#, r#""lost":00"#),
    (r#""lost":0"#, r#""lost":1e2"#),
    (r#""lost":0"#, r#""lost": 0"#),
    (r#""lost":0"#, r#""lost":"0""#),
    (r#""lost":0"#, r#""lost":null"#),
    (r#""against_all":"#, r#""against_all":99999999999,"x":"#),
    (r#""valid":"#, r#""valid":0,"zz":"#),
    (r#""invalid":"#, r#""invalid":4000000000,"j":"#),
    // escapes, duplicates, order, whitespace
    (r#""lost":"#, r#""\u006cost":"#),
    (r#""lost":0"#, r#""lost":0,"lost":7"#),
    (r#""lost":0"#, r#""lost":7,"lost":0"#),
    (r#""station":""#, r#""station":"\u0031"#),
    (r#""station":""#, r#""station":"\/"#),
    (r#""contest":"list""#, r#""contest":"li\u0073t""#),
    (r#""source":"machine""#, r#""source":"m\u0061chine""#),
    (r#""lost":"#, r#""lösт":"#),
    (r#""seq":"#, r#""seq":1,"seq":"#),
    (r#""type":"protocol""#, r#""type":"protocol","type":"protocol""#),
    (r#"{"payload":"#, r#"{ "payload":"#),
    (r#","signature":"#, r#", "signature":"#),
    (r#""}"#, "\"} "),
    (r#""}"#, "\"}\n"),
    (r#""}"#, r#""}}"#),
    (r#""v":1"#, r#""v":2"#),
    (r#""v":1"#, r#""v":4294967296"#),
    (r#""v":1"#, r#""v":1,"reason":"r""#),
    (r#""v":1"#, r#""v":1,"key_id":"k""#),
    (r#""time":"#, r#""scan_sha256":"ab","time":"#),
    (r#""time":"#, r#""scan_sha256":null,"time":"#),
    (r#""time":"2"#, r#""time":null,"x":"2"#),
    (r#","time":"#, r#","tim":"#),
    // who, where, what
    (r#""election":"kg-2021""#, r#""election":"kg-2020""#),
    (r#""station":""#, r#""station":"x"#),
    (r#""contest":"list""#, r#""contest":"nope""#),
    (r#""contest":"smd-"#, r#""contest":"smd-0"#),
    (r#""contest":"smd-"#, r#""contest":"smd-1"#),
    (r#""contest":"list""#, r#""contest":"smd-05""#),
    (r#""contest":"list""#, r#""contest":null"#),
    (r#""contest":"list","#, ""),
    (r#""source":"machine""#, r#""source":"observer""#),
    (r#""source":"machine""#, r#""source":"recount""#),
    (r#""source":"machine""#, r#""source":"manual""#),
    (r#""source":"manual""#, r#""source":"observer""#),
    (r#""source":"observer""#, r#""source":"manual""#),
    (r#""source":"machine""#, r#""source":"scanner""#),
    (r#""signer":""#, r#""signer":"x"#),
    (r#""type":"protocol""#, r#""type":"annulment""#),
    (r#""type":"protocol""#, r#""type":"Protocol""#),
    // corrections
    (r#""time":"#, r#""supersedes":{"index":3,"reason":"keying_error"},"time":"#),
    (r#""time":"#, r#""supersedes":{"index":5,"reason":"recount"},"time":"#),
    (r#""time":"#, r#""supersedes":{"index":99999,"reason":"court_order"},"time":"#),
    (r#""time":"#, r#""supersedes":{"reason":"late_protocol","index":7},"time":"#),
    (r#""time":"#, r#""supersedes":{"index":7,"reason":"typo"},"time":"#),
    (r#""time":"#, r#""supersedes":{"index":7,"reason":"recount","x":1},"time":"#),
    (r#""time":"#, r#""supersedes":null,"time":"#),
    (r#""time":"#, r#""supersedes":{"index":-1,"reason":"recount"},"time":"#),
    // preferences
    (r#""seq":"#, r#""preferences":{},"seq":"#),
    (r#""seq":"#, r#""preferences":{"aaa":{"c":1}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"ata-jurt":{"zzz":4}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"ata-jurt":{"aaa":0}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"b":{},"a":{}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"a":{},"a":{}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"a":{"y":1,"x":1}},"seq":"#),
    (r#""seq":"#, r#""preferences":{"a":[]},"seq":"#),
    (r#""preferences":{""#, r#""preferences":{"aaa":{"c":1},""#),
    (r#""preferences":{""#, r#""preferences":{"zzz":{"c":1},""#),
    (r#""ata-jurt":{""#, r#""ata-jurt":{"0":4294967296,""#),
    (r#""ata-jurt":{""#, r#""ata-jurt":{"0":0,""#),
    (r#""ata-jurt":{""#, r#""ata-jurt":{"0":1,""#),
    (r#""ata-jurt":{""#, r#""ata-jurt":{"zzzz":1,""#),
    (r#""ata-jurt-1":"#, r#""ata-jurt-1":4294967296,"ata-jurt-10":"#),
    (r#""ata-jurt-1":"#, r#""ata-jurt-1":0,"ata-jurt-10":"#),
    (r#""ata-jurt-1":"#, r#""ata-jurt-1":1,"ata-jurt-1":"#),
    (r#""ata-jurt-1":"#, r#""ata-jurt-\u0031":"#),
    (r#"},"aruuzat":{"#, r#","zzzz":2},"aruuzat":{"#),
    (r#"},"aruuzat":{"#, r#","zzzz":4294967296},"aruuzat":{"#),
    (r#"},"aruuzat":{"#, r#","zzzz":0,"zzzz":1},"aruuzat":{"#),
    (r#"},"aruuzat":{"#, r#"},"aruuzas":{"x":1},"aruuzat":{"#),
    (r#"},"aruuzat":{"#, r#"},"aruuzat":{"x":1},"aruuzat":{"#),
    (r#"},"ata-meken":{"#, r#"},"ata-jurt":{},"ata-meken":{"#),
    (r#""seq":"#, r#""preferences":null,"seq":"#),
];

fn edited(entries: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (from, to) in EDITS {
        let mut used = 0;
        for entry in entries.iter().step_by(7) {
            let text = std::str::from_utf8(entry).unwrap();
            if text.contains(from) {
                out.push(text.replacen(from, to, 1).into_bytes());
                used += 1;
                if used == 3 {
                    break;
                }
            }
        }
        assert!(used > 0, "the edit {from:?} applies to no entry");
    }
    out
}

/// Annulments and key entries: parsed typed on both sides.
fn others(election: &Election) -> Vec<Vec<u8>> {
    let key = SigningKey::from_bytes(&[3; 32]);
    let annul = |seq: u64, station: &str, contest: Option<&str>| {
        Payload {
            v: FORMAT_VERSION,
            election: election.id.clone(),
            signer: "admin-1".into(),
            seq,
            time: None,
            body: Body::Annulment(Annulment {
                station: station.into(),
                contest: contest.map(Into::into),
                reason: "CEC decision No. 1 — \"quoted\"".into(),
            }),
        }
        .sign(&key)
        .to_bytes()
    };
    let first = &election.stations[0].id;
    let second = &election.stations[1].id;
    vec![
        annul(1, first, None),
        annul(2, second, Some("list")),
        annul(3, second, Some("nope")),
        annul(4, "nowhere", None),
        annul(5, first, Some("smd-07")),
    ]
}

#[test]
fn a_simulated_night_folds_alike_read_as_views_or_typed() {
    let (election, entries) = night();
    let mut pair = Pair::new(&election);
    let mut protocols = 0;
    for (i, entry) in entries.iter().enumerate() {
        let applied = pair.apply(i as u64 + 1, entry);
        protocols += usize::from(applied == Some(Applied::Protocol));
    }
    // Every protocol of the night is read in place.
    assert_eq!(pair.views, protocols);
    assert!(protocols > 400, "{protocols}");
    pair.check();
    let results = pair.viewed.results(&election);
    assert!(!results.corrections.is_empty(), "the night's corrected protocols are folded in");
}

#[test]
fn edited_entries_fold_alike_read_as_views_or_typed() {
    let (election, entries) = night();
    let mut pair = Pair::new(&election);
    let mut index = 0u64;
    let log: Vec<Vec<u8>> = entries
        .iter()
        .take(300)
        .cloned()
        .chain(edited(&entries))
        .chain(others(&election))
        .chain(entries.iter().skip(300).cloned())
        .collect();
    let mut ignored = 0;
    let mut refused = 0;
    for entry in &log {
        index += 1;
        match pair.apply(index, entry) {
            Some(Applied::Ignored(_)) => ignored += 1,
            None => refused += 1,
            _ => {}
        }
    }
    // Applying an index again is a no-op, read either way.
    assert_eq!(pair.apply(1, &entries[0]), Some(Applied::Duplicate));
    assert!(ignored > 10 && refused > 10, "{ignored} ignored, {refused} refused");
    pair.check();
    let results = pair.viewed.results(&election);
    let codes: std::collections::BTreeSet<&str> = results.warnings.iter().map(|w| w.code).collect();
    for code in [
        "tally.unknown_line",
        "tally.unknown_option",
        "tally.unknown_candidate",
        "tally.supersedes_later",
    ] {
        assert!(codes.contains(code), "no {code} warning: {codes:?}");
    }
    let reasons: std::collections::BTreeSet<&str> =
        results.ignored.iter().map(|i| i.reason.code()).collect();
    for code in [
        "tally.wrong_election",
        "tally.unknown_station",
        "tally.unknown_contest",
        "tally.not_in_contest",
        "tally.count_too_large",
    ] {
        assert!(reasons.contains(code), "no {code}: {reasons:?}");
    }
}

/// `Replay::apply_view` gives the snapshots `Replay::apply_decoded` gives.
#[test]
fn a_replay_of_views_writes_the_same_snapshot() {
    let (election, entries) = night();
    let mut typed_replay = Replay::from_election(Arc::clone(&election));
    let mut viewed = Replay::from_election(Arc::clone(&election));
    let log: Vec<Vec<u8>> = edited(&entries).into_iter().chain(entries).collect();
    let mut index = 1;
    for entry in &log {
        let Some(submission) = typed(entry) else { continue };
        if matches!(submission.payload.body, Body::Election(_)) {
            continue;
        }
        typed_replay.apply_decoded(index, &submission).unwrap();
        match ProtocolView::parse(entry) {
            Some(view) => viewed.apply_view(index, &view).unwrap(),
            None => viewed.apply_decoded(index, &submission).unwrap(),
        }
        index += 1;
    }
    assert!(viewed.apply_view(index + 1, &ProtocolView::parse(&log[0]).unwrap()).is_err());
    assert_eq!(viewed.size(), index);
    let root = [5; 32];
    assert!(typed_replay.snapshot(root).unwrap() == viewed.snapshot(root).unwrap());
}

/// A random edit of an entry: insert, delete or replace a few bytes.
fn edit(entry: &[u8], at: usize, op: u8, piece: &str) -> Vec<u8> {
    let at = at % (entry.len() + 1);
    let mut out = entry[..at].to_vec();
    match op % 3 {
        0 => {
            out.extend_from_slice(piece.as_bytes());
            out.extend_from_slice(&entry[at..]);
        }
        1 => out.extend_from_slice(&entry[(at + piece.len().max(1)).min(entry.len())..]),
        _ => {
            out.extend_from_slice(piece.as_bytes());
            out.extend_from_slice(&entry[(at + piece.len()).min(entry.len())..]);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn randomly_edited_entries_fold_alike(
        which in 0usize..1000,
        at in 0usize..2000,
        op in 0u8..3,
        piece in "[\"{}:,\\\\ 0-9a-z.\\-éЖ]{0,4}",
        second in proptest::option::of((0usize..2000, 0u8..3, "[\"{},:0-9a-z]{0,3}")),
    ) {
        let (election, entries) = NIGHT.with(Clone::clone);
        let entry = &entries[which % entries.len()];
        let mut bytes = edit(entry, at, op, &piece);
        if let Some((at, op, piece)) = second {
            bytes = edit(&bytes, at, op, &piece);
        }
        let mut pair = Pair::new(&election);
        pair.apply(7, &bytes);
        pair.apply(8, entry);
        pair.check();
    }
}

thread_local! {
    static NIGHT: (Arc<Election>, Vec<Vec<u8>>) = night();
}

/// `sverka results` and `sverka publish` fold the whole log in with the units' sums deferred and
/// add them up once at the end (`Tally::defer_sums`, `settle_sums`): the same results, saved state
/// and snapshot as sums kept up to date entry by entry, also when settled part way and deferred
/// again, with corrections, annulments and refused entries among the entries.
#[test]
fn sums_added_up_at_the_end_are_the_sums_kept_up_to_date() {
    let (election, entries) = night();
    let log: Vec<Vec<u8>> = others(&election)
        .into_iter()
        .chain(entries.iter().take(500).cloned())
        .chain(edited(&entries))
        .chain(entries.iter().skip(500).cloned())
        .collect();
    let mut kept = Replay::from_election(Arc::clone(&election));
    let mut deferred = Replay::from_election(Arc::clone(&election));
    deferred.defer_sums();
    let mut index = 1;
    for entry in &log {
        let Some(submission) = typed(entry) else { continue };
        kept.apply_decoded(index, &submission).unwrap();
        match ProtocolView::parse(entry) {
            Some(view) => deferred.apply_view(index, &view).unwrap(),
            None => deferred.apply_decoded(index, &submission).unwrap(),
        }
        index += 1;
        if index == 700 {
            deferred.settle_sums();
            let root = [1; 32];
            assert!(kept.snapshot(root).unwrap() == deferred.snapshot(root).unwrap());
            deferred.defer_sums();
        }
    }
    assert!(index > 1000);
    deferred.settle_sums();
    deferred.settle_sums();
    assert_eq!(kept.tally().results(&election), deferred.tally().results(&election));
    assert_eq!(kept.save_state(), deferred.save_state());
    let root = [2; 32];
    assert!(kept.snapshot(root).unwrap() == deferred.snapshot(root).unwrap());
    let results = deferred.tally().results(&election);
    assert!(results.annulments.len() >= 2 && !results.corrections.is_empty());
}

#[test]
#[should_panic(expected = "deferred")]
fn results_are_refused_while_the_sums_are_deferred() {
    let (election, entries) = night();
    let mut replay = Replay::from_election(Arc::clone(&election));
    replay.defer_sums();
    replay.apply(1, &entries[0]).unwrap();
    let _ = replay.snapshot([0; 32]);
}
