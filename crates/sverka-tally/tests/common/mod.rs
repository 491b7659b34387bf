//! The night log the replay tests fold (`replay_split.rs`, `replay_pieces.rs`,
//! `replay_decoded.rs`): entry 0, the election definition signed by the log key, and a simulated
//! night of the 2021 Kyrgyz example after it; annulments signed by the same key are put in by the
//! tests that need them.

use ed25519_dalek::SigningKey;
use sverka_model::simulate::{Config, Night};
use sverka_model::submission::{Annulment, ElectionDefinition, FORMAT_VERSION};
use sverka_model::{Body, Election, Payload, Submission};

/// A simulated night as a log: see the module documentation.
pub struct NightLog {
    /// Entry 0: the definition, signed by the log key.
    pub entry0: Submission,
    /// The election definition's bytes (the TOML the night was simulated under).
    pub definition: Vec<u8>,
    pub election: Election,
    /// The night's submissions, one line's bytes each, in the order `sverka simulate` writes them.
    pub entries: Vec<Vec<u8>>,
}

/// The key that signs entry 0 and the annulments.
fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn payload(election: &str, signer: &str, body: Body) -> Payload {
    Payload {
        v: FORMAT_VERSION,
        election: election.into(),
        signer: signer.into(),
        seq: 1,
        time: None,
        body,
    }
}

/// The night of `stations` stations simulated with `seed`, as a log.
pub fn night_log(seed: u64, stations: u64) -> NightLog {
    let text = include_str!("../../../../examples/kyrgyzstan-2021/election.toml");
    let config = Config { seed, stations: Some(stations), ..Config::default() };
    let night = Night::new("election.toml", text, config).expect("the 2021 example simulates");
    let definition = night.election_toml().into_bytes();
    let election =
        Election::from_toml("election.toml", std::str::from_utf8(&definition).unwrap()).unwrap();
    let entry0 = payload(&election.id, "log", Body::Election(ElectionDefinition::of(&definition)))
        .sign(&key());
    NightLog { entry0, definition, election, entries: night.submission_lines() }
}

impl NightLog {
    /// The CEC's annulment of `station` (of one contest, or of all), signed by the log key.
    #[allow(dead_code)] // replay_decoded.rs puts none in
    pub fn annulment(&self, station: &str, contest: Option<&str>, reason: &str) -> Submission {
        let body = Body::Annulment(Annulment {
            station: station.into(),
            contest: contest.map(Into::into),
            reason: reason.into(),
        });
        payload(&self.election.id, "cec", body).sign(&key())
    }
}
