//! Small value types shared by the election definition and the submissions: names in the three
//! languages of the site, identifiers, sources and reasons.

use serde::{Deserialize, Serialize};

/// A name in Kyrgyz, Russian and English, the three languages of the results site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub ky: String,
    pub ru: String,
    pub en: String,
}

impl Names {
    /// The name in `lang` (`ky`, `ru` or `en`); English for anything else.
    pub fn get(&self, lang: &str) -> &str {
        match lang {
            "ky" => &self.ky,
            "ru" => &self.ru,
            _ => &self.en,
        }
    }
}

/// Who produced a protocol (DESIGN.md "Words").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An automatic ballot-reading box ("АСУ").
    Machine,
    /// The precinct commission's hand count, keyed by its district commission.
    Manual,
    /// A copy held by a party or observer; never the official result.
    Observer,
    /// An official recount or a court decision, entered by the CEC.
    Recount,
}

impl Source {
    pub const ALL: [Source; 4] =
        [Source::Machine, Source::Manual, Source::Observer, Source::Recount];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Machine => "machine",
            Source::Manual => "manual",
            Source::Observer => "observer",
            Source::Recount => "recount",
        }
    }
}

/// Why an entry supersedes an earlier one (issue 4, "Corrections and annulments").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionReason {
    KeyingError,
    Recount,
    CourtOrder,
    LateProtocol,
    CommissionDecision,
}

/// What a key may sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A ballot-scanning box of one station: signs that station's `machine` protocols.
    Machine,
    /// A district commission operator: signs `manual` protocols of the district's stations.
    Operator,
    /// A party's or observer's key: signs `observer` copies for any station.
    Observer,
    /// A CEC administrator: signs recounts, annulments, key registrations and revocations.
    Admin,
}

/// Whether `id` is a well-formed identifier: 1 to 64 of `a-z 0-9 - _ .`, starting with a letter or digit.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}
