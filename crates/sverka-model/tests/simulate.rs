//! `sverka_model::simulate` as its users see it: the files it produces, checked with the model's own
//! decoder, keys and control relations (never with the simulator's internals).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sverka_model::election::{ContestKind, Election};
use sverka_model::keys::{decode_private_key, decode_public_key};
use sverka_model::simulate::{Config, Night, Profile};
use sverka_model::{Body, Protocol, Role, Source, Submission};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

fn tiny(config: Config) -> Night {
    Night::new("tiny/election.toml", &read("tiny/election.toml"), config)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A night's files, parsed back.
struct Output {
    election: Election,
    lines: Vec<Submission>,
    defects: Value,
    private_keys: BTreeMap<String, String>,
}

fn output(night: &Night) -> Output {
    let election =
        Election::from_toml("out/election.toml", &night.election_toml()).unwrap_or_else(|e| {
            panic!("{e}");
        });
    let bytes = night.submissions();
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| Submission::decode(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1)))
        .collect();
    let defects = serde_json::from_str(&night.defects_json()).unwrap();
    let mut private_keys = BTreeMap::new();
    for file in night.key_files() {
        if file.path == "keys/machines.keys" {
            for line in file.contents.lines() {
                let (id, key) = line.split_once(' ').unwrap();
                private_keys.insert(id.to_string(), key.to_string());
            }
        } else {
            let id = file.path.strip_prefix("keys/").unwrap().strip_suffix(".key").unwrap();
            private_keys.insert(id.to_string(), file.contents.trim().to_string());
        }
    }
    Output { election, lines, defects, private_keys }
}

fn protocol(s: &Submission) -> &Protocol {
    match &s.payload.body {
        Body::Protocol(p) => p,
        other => panic!("not a protocol: {other:?}"),
    }
}

/// The defects of one kind, by 1-based line (or all of them for kinds that have no line).
fn defects_of<'a>(out: &'a Output, kind: &str) -> Vec<&'a Value> {
    out.defects["defects"].as_array().unwrap().iter().filter(|d| d["kind"] == kind).collect()
}

fn defect_lines(out: &Output, kind: &str) -> BTreeSet<u64> {
    defects_of(out, kind).iter().map(|d| d["line"].as_u64().unwrap()).collect()
}

/// The accepted hand count of each (station, contest): the manual protocols that are not planted
/// as broken (a broken one is followed by its correction).
fn manual_protocols(out: &Output) -> BTreeMap<(String, String), &Protocol> {
    let broken = defect_lines(out, "control_relation_broken");
    let mut manual = BTreeMap::new();
    for (i, s) in out.lines.iter().enumerate() {
        let p = protocol(s);
        if p.source == Source::Manual && !broken.contains(&(i as u64 + 1)) {
            let previous = manual.insert((p.station.clone(), p.contest.clone()), p);
            assert!(
                previous.is_none(),
                "two accepted manual protocols for {} {}",
                p.station,
                p.contest
            );
        }
    }
    manual
}

fn relations_failing(election: &Election, p: &Protocol) -> Vec<String> {
    let contest = election.contest(&p.contest).unwrap();
    let form = election.form_of(contest);
    let sum: u64 = p.votes.values().sum();
    form.relations.iter().filter(|r| !r.check(&p.lines, sum).0).map(|r| r.text.clone()).collect()
}

fn small_config(seed: u64) -> Config {
    Config {
        seed,
        // Tiny has 6 stations: make every kind of defect likely to appear.
        machine_failure_share: 0.2,
        observer_share: 0.5,
        machine_manual_discrepancy_share: 0.3,
        observer_discrepancy_count: 1,
        broken_relation_count: 2,
        threads: 2,
        ..Config::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let files = |night: &Night| {
        let keys: Vec<(String, String)> =
            night.key_files().into_iter().map(|f| (f.path, f.contents)).collect();
        (night.election_toml(), keys, night.submissions(), night.defects_json())
    };
    let a = files(&tiny(small_config(7)));
    let b = files(&tiny(Config { threads: 1, ..small_config(7) }));
    assert!(a == b, "same seed, different threads: the files differ");
    let c = files(&tiny(small_config(8)));
    assert_ne!(a.0, c.0, "election.toml (keys) should differ between seeds");
    assert_ne!(a.1, c.1);
    assert_ne!(a.2, c.2);
}

#[test]
fn every_line_is_canonical_signed_and_by_the_right_key() {
    let night = tiny(small_config(1));
    let out = output(&night);
    assert_eq!(out.lines.len() as u64, night.submission_count());
    let keys: BTreeMap<&str, _> = out.election.keys.iter().map(|k| (k.id.as_str(), k)).collect();
    let mut last_seq: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_time = String::new();
    let mut last_phase = 0;
    for (i, s) in out.lines.iter().enumerate() {
        let p = protocol(s);
        assert_eq!(s.payload.election, "tiny");
        let record = keys.get(s.payload.signer.as_str()).expect("signer registered");
        let public = decode_public_key(&record.public_key).unwrap();
        assert!(s.verify(&public), "line {}: signature does not verify", i + 1);
        // The key file holds the private half: signing the payload again gives the same bytes.
        let private = decode_private_key(&out.private_keys[&record.id]).unwrap();
        assert_eq!(s.payload.clone().sign(&private).to_bytes(), s.to_bytes());
        let station = out.election.station(&p.station).unwrap();
        match p.source {
            Source::Machine => {
                assert_eq!(record.role, Role::Machine);
                assert_eq!(record.station.as_deref(), Some(station.id.as_str()));
            }
            Source::Manual => {
                assert_eq!(record.role, Role::Operator);
                assert_eq!(record.district.as_deref(), Some(station.district.as_str()));
            }
            Source::Observer => assert_eq!(record.role, Role::Observer),
            Source::Recount => panic!("the simulator sends no recounts"),
        }
        assert!(out.election.contest(&p.contest).unwrap().covers(station));
        // Per-signer seq strictly increases; time never goes back; machine, then manual, then observer.
        let seq = last_seq.entry(s.payload.signer.clone()).or_insert(0);
        assert!(s.payload.seq > *seq, "line {}: seq does not increase", i + 1);
        *seq = s.payload.seq;
        let time = s.payload.time.clone().unwrap();
        assert!(time >= last_time, "line {}: time goes back", i + 1);
        last_time = time;
        let phase = match p.source {
            Source::Machine => 0,
            Source::Manual => 1,
            _ => 2,
        };
        assert!(phase >= last_phase, "line {}: {:?} after a later phase", i + 1, p.source);
        last_phase = phase;
    }
    // Every registered key of the simulation has its private half, and vice versa.
    let registered: BTreeSet<&str> = keys.keys().copied().collect();
    let private: BTreeSet<&str> = out.private_keys.keys().map(String::as_str).collect();
    assert_eq!(registered, private);
    let admins = out.election.keys.iter().filter(|k| k.role == Role::Admin).count();
    assert_eq!(admins, 2);
    let machines = out.election.keys.iter().filter(|k| k.role == Role::Machine).count();
    assert_eq!(machines, out.election.stations.len());
}

#[test]
fn every_station_reports_by_hand_and_failed_boxes_never() {
    let night = tiny(small_config(3));
    let out = output(&night);
    let manual = manual_protocols(&out);
    let never: BTreeSet<(String, String)> = defects_of(&out, "machine_never_reported")
        .iter()
        .map(|d| (d["station"].as_str().unwrap().into(), d["contest"].as_str().unwrap().into()))
        .collect();
    assert!(!never.is_empty(), "some boxes should fail at a 20% failure share");
    let machine: BTreeSet<(String, String)> = out
        .lines
        .iter()
        .map(protocol)
        .filter(|p| p.source == Source::Machine)
        .map(|p| (p.station.clone(), p.contest.clone()))
        .collect();
    for station in &out.election.stations {
        for contest in out.election.contests.iter().filter(|c| c.covers(station)) {
            let key = (station.id.clone(), contest.id.clone());
            assert!(manual.contains_key(&key), "no hand count for {key:?}");
            assert!(machine.contains(&key) != never.contains(&key), "{key:?}");
        }
    }
}

#[test]
fn control_relations_hold_except_where_planted() {
    for seed in 1..=4 {
        let out = output(&tiny(small_config(seed)));
        let broken = defect_lines(&out, "control_relation_broken");
        assert_eq!(broken.len(), 2, "seed {seed}");
        for (i, s) in out.lines.iter().enumerate() {
            let line = i as u64 + 1;
            let failing = relations_failing(&out.election, protocol(s));
            if broken.contains(&line) {
                assert!(!failing.is_empty(), "seed {seed} line {line}: planted break holds");
            } else {
                assert!(failing.is_empty(), "seed {seed} line {line}: {failing:?} fails");
            }
        }
        for d in defects_of(&out, "control_relation_broken") {
            let line = d["line"].as_u64().unwrap() as usize;
            let p = protocol(&out.lines[line - 1]);
            assert_eq!(p.source, Source::Manual);
            assert!(relations_failing(&out.election, p)
                .contains(&d["details"]["relation"].as_str().unwrap().to_string()));
            // The corrected protocol follows later from the same operator.
            let fixed = d["details"]["corrected_by"]["line"].as_u64().unwrap() as usize;
            assert!(fixed > line);
            let q = protocol(&out.lines[fixed - 1]);
            assert_eq!((&q.station, &q.contest, q.source), (&p.station, &p.contest, p.source));
            assert_eq!(out.lines[fixed - 1].payload.signer, out.lines[line - 1].payload.signer);
        }
    }
}

#[test]
fn mismatches_are_exactly_the_listed_ones() {
    for seed in 1..=4 {
        let out = output(&tiny(small_config(seed)));
        let manual = manual_protocols(&out);
        let differs = |p: &Protocol| {
            let m = manual[&(p.station.clone(), p.contest.clone())];
            m.lines != p.lines || m.votes != p.votes
        };
        for (source, kind) in
            [(Source::Machine, "machine_manual_mismatch"), (Source::Observer, "observer_mismatch")]
        {
            let listed = defect_lines(&out, kind);
            let found: BTreeSet<u64> = out
                .lines
                .iter()
                .enumerate()
                .filter(|(_, s)| protocol(s).source == source && differs(protocol(s)))
                .map(|(i, _)| i as u64 + 1)
                .collect();
            assert_eq!(found, listed, "seed {seed}: {kind}");
            for d in defects_of(&out, kind) {
                let p = protocol(&out.lines[d["line"].as_u64().unwrap() as usize - 1]);
                assert_eq!(d["station"], p.station.as_str());
                assert_eq!(d["contest"], p.contest.as_str());
                assert_eq!(d["source"], p.source.as_str());
                // The listed differences are the real ones.
                for diff in d["details"]["differences"].as_array().unwrap() {
                    let field = diff["field"].as_str().unwrap();
                    let (map, name) = field.split_once('.').unwrap();
                    let m = manual[&(p.station.clone(), p.contest.clone())];
                    let (mine, theirs) = match map {
                        "votes" => (p.votes[name], m.votes[name]),
                        _ => (p.lines[name], m.lines[name]),
                    };
                    assert_eq!(diff[source.as_str()], mine);
                    assert_eq!(diff["manual"], theirs);
                }
            }
        }
    }
}

#[test]
fn preferences_belong_to_the_party_and_stay_within_its_votes() {
    let out = output(&tiny(small_config(5)));
    let list = out.election.contest("list").unwrap();
    let ContestKind::PartyList(parties) = &list.kind else { panic!() };
    let mut seen = 0;
    for p in out.lines.iter().map(protocol).filter(|p| p.contest == "list") {
        if p.source == Source::Machine {
            assert!(p.preferences.is_empty(), "scanners report no preference votes");
        }
        for (party, votes) in &p.preferences {
            let candidates: BTreeSet<&str> = parties
                .parties
                .iter()
                .find(|x| &x.id == party)
                .unwrap()
                .candidates
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            assert!(votes.keys().all(|c| candidates.contains(c.as_str())));
            assert!(votes.values().sum::<u64>() <= p.votes[party]);
            seen += 1;
        }
    }
    assert!(seen > 0, "hand counts carry preference votes");
}

#[test]
fn rescaled_tiny_is_a_valid_election() {
    let night = tiny(Config { stations: Some(60), ..small_config(2) });
    let out = output(&night);
    assert_eq!(out.election.stations.len(), 60);
    assert_eq!(out.election.districts.len(), 2);
    assert_eq!(out.election.stations.iter().filter(|s| s.abroad).count(), 20);
    for s in &out.election.stations {
        assert!((100..=4000).contains(&s.registered), "{} has {}", s.id, s.registered);
    }
    assert_eq!(night.summary().stations, 60);
    let manual = manual_protocols(&out);
    // 40 stations in the country vote in both races, 20 abroad in the list race only.
    assert_eq!(manual.len(), 40 * 2 + 20);
    let zero = Config { stations: Some(0), ..small_config(2) };
    assert!(Night::new("tiny", &read("tiny/election.toml"), zero).is_err());
}

#[test]
fn profiles_are_checked_against_the_election() {
    let config = |text: &str| Config {
        profile: Some(Profile::from_toml("p", text).unwrap()),
        ..small_config(1)
    };
    let text = read("tiny/election.toml");
    assert!(Night::new("tiny", &text, config("[parties]\nsun = 0.5\n")).is_ok());
    let err = Night::new("tiny", &text, config("[parties]\nmoon = 0.5\n")).unwrap_err();
    assert!(err.to_string().contains("moon"), "{err}");
}

/// What ingestion will do with the night (`validate.rs`, `registry.rs`): every line passes the
/// signer checks in file order; the planted broken relations, and nothing else, are rejected with
/// `E401`; the hand counts of the planted machine/manual mismatches, and no others, warn `W104`.
#[test]
fn the_validator_rejects_exactly_the_planted_breaks_and_warns_on_the_mismatches() {
    use sverka_model::registry::KeyRegistry;
    use sverka_model::validate::{validate_submission, ProtocolContext};

    for seed in 1..=3 {
        let out = output(&tiny(small_config(seed)));
        let broken = defect_lines(&out, "control_relation_broken");
        let mismatched: BTreeSet<(String, String)> = defects_of(&out, "machine_manual_mismatch")
            .iter()
            .map(|d| (d["station"].as_str().unwrap().into(), d["contest"].as_str().unwrap().into()))
            .collect();
        let mut registry = KeyRegistry::from_election(&out.election);
        let mut accepted: BTreeMap<(String, String, Source), Protocol> = BTreeMap::new();
        let (mut rejected, mut warned) = (BTreeSet::new(), BTreeSet::new());
        for (i, s) in out.lines.iter().enumerate() {
            let line = i as u64 + 1;
            registry.check(s).unwrap_or_else(|f| panic!("seed {seed} line {line}: {f}"));
            let p = protocol(s);
            let other = match p.source {
                Source::Machine => Some(Source::Manual),
                Source::Manual => Some(Source::Machine),
                _ => None,
            };
            let other =
                other.and_then(|o| accepted.get(&(p.station.clone(), p.contest.clone(), o)));
            let context = ProtocolContext { superseded: None, other_source: other };
            let findings = validate_submission(&out.election, &s.payload, &context);
            let errors: Vec<&str> =
                findings.iter().filter(|f| f.is_error()).map(|f| f.rule().code).collect();
            if !errors.is_empty() {
                assert!(errors.iter().all(|c| *c == "E401"), "seed {seed} line {line}: {errors:?}");
                rejected.insert(line);
                continue;
            }
            if p.source == Source::Manual && findings.iter().any(|f| f.rule().code == "W104") {
                warned.insert((p.station.clone(), p.contest.clone()));
            }
            registry.apply(s);
            accepted.insert((p.station.clone(), p.contest.clone(), p.source), p.clone());
        }
        assert_eq!(rejected, broken, "seed {seed}");
        assert_eq!(warned, mismatched, "seed {seed}");
    }
}
