//! Shared by the tabulation tests: the tiny example election and builders for the submissions
//! a log would hold. Signatures do not matter to the tally; every submission is signed with one
//! fixed test key.

#![allow(dead_code)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use sverka_model::election::Election;
use sverka_model::names::CorrectionReason;
use sverka_model::submission::{Annulment, Supersedes};
use sverka_model::{Body, Payload, Protocol, Source, Submission};

/// `examples/tiny/election.toml`: 6 stations (4 in district d1 / region north, 2 abroad), a
/// 10-seat Hare list race (5 % of took part, 0.5 % in north, women 30 %) and district d1's race.
pub fn tiny() -> Election {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tiny/election.toml");
    let text = std::fs::read_to_string(path).expect("examples/tiny/election.toml");
    Election::from_toml("tiny/election.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A protocol with consistent lines: `took_part` ballots issued in the room, `invalid` invalid,
/// valid = the sum of `votes`.
#[derive(Clone, Debug)]
pub struct P {
    pub station: &'static str,
    pub contest: &'static str,
    pub source: Source,
    pub signer: &'static str,
    pub took_part: u64,
    pub invalid: u64,
    pub votes: Vec<(&'static str, u64)>,
    pub preferences: Vec<(&'static str, &'static str, u64)>,
    pub supersedes: Option<u64>,
}

pub fn list(
    station: &'static str,
    source: Source,
    took_part: u64,
    invalid: u64,
    votes: &[(&'static str, u64)],
) -> P {
    P {
        station,
        contest: "list",
        source,
        signer: "k",
        took_part,
        invalid,
        votes: votes.to_vec(),
        preferences: Vec::new(),
        supersedes: None,
    }
}

pub fn district(
    station: &'static str,
    source: Source,
    took_part: u64,
    invalid: u64,
    votes: &[(&'static str, u64)],
) -> P {
    P { contest: "smd-d1", ..list(station, source, took_part, invalid, votes) }
}

impl P {
    pub fn supersedes(mut self, index: u64) -> P {
        self.supersedes = Some(index);
        self
    }

    pub fn signer(mut self, signer: &'static str) -> P {
        self.signer = signer;
        self
    }

    pub fn preferences(mut self, prefs: &[(&'static str, &'static str, u64)]) -> P {
        self.preferences = prefs.to_vec();
        self
    }

    pub fn sign(&self, election: &Election, seq: u64) -> Submission {
        let valid: u64 = self.votes.iter().map(|(_, v)| v).sum();
        let registered = election.station(self.station).map_or(0, |s| s.registered);
        let lines: BTreeMap<String, u64> = [
            ("registered", registered),
            ("ballots_received", self.took_part + 10),
            ("issued_early", 0),
            ("issued_in_room", self.took_part),
            ("issued_outside", 0),
            ("cancelled", 10),
            ("in_portable_boxes", 0),
            ("in_stationary_boxes", valid + self.invalid),
            ("invalid", self.invalid),
            ("valid", valid),
            ("lost", 0),
            ("unaccounted", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut preferences: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (party, candidate, v) in &self.preferences {
            preferences.entry(party.to_string()).or_default().insert(candidate.to_string(), *v);
        }
        let protocol = Protocol {
            station: self.station.to_string(),
            contest: self.contest.to_string(),
            source: self.source,
            lines,
            votes: self.votes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            preferences,
            supersedes: self
                .supersedes
                .map(|index| Supersedes { index, reason: CorrectionReason::KeyingError }),
            scan_sha256: None,
        };
        payload(election, self.signer, seq, Body::Protocol(protocol)).sign(&key())
    }
}

pub fn annul(election: &Election, station: &str, contest: Option<&str>) -> Submission {
    let body = Body::Annulment(Annulment {
        station: station.to_string(),
        contest: contest.map(str::to_string),
        reason: "CEC decision No. 1".to_string(),
    });
    payload(election, "cec", 1, body).sign(&key())
}

fn payload(election: &Election, signer: &str, seq: u64, body: Body) -> Payload {
    Payload {
        v: 1,
        election: election.id.clone(),
        signer: signer.to_string(),
        seq,
        time: None,
        body,
    }
}

/// Signs each protocol; entry `i` of the result has log index `i + 1` (index 0 is the election).
pub fn log(election: &Election, protocols: &[P]) -> Vec<(u64, Submission)> {
    protocols.iter().enumerate().map(|(i, p)| (i as u64 + 1, p.sign(election, i as u64))).collect()
}
