//! The `sverka allocate` JSON contract (DESIGN.md, "Interfaces"): one object in, one out.
//!
//! ```text
//! in:  {"seats": 54, "method": "hare" | "droop" | "dhondt" | "sainte-lague",
//!       "threshold": 0.05,           optional share (number or string), default 0
//!       "threshold_base": 1281622,   optional; default: the sum of "votes"
//!       "votes": {"party-id": 222005, ...},
//!       "seed": "text",              optional extension: the public seed for lots, default ""
//!       "regional_threshold": 0.005, optional extension, together with "regions":
//!       "regions": {"region-id": {"base": 100000, "votes": {"party-id": 1234, ...}}, ...},
//!       "margins": true}             optional extension: add "margins" to the output
//! out: {"qualified": [...], "seats": {...every party...}, "ties": [...]}   (keys sorted)
//! ```
//!
//! Parsing is strict: unknown or repeated fields and repeated parties are errors; counts are
//! non-negative whole numbers written as such (`1.0`, `1e3`, `"5"` are refused) up to 2^53 − 1;
//! the threshold is read from its text exactly as written (through [`RawValue`], never through
//! a double). A tie entry is `{"context", "places", "tickets": [{"id", "ticket"}], "tied",
//! "winners"}` with tickets in drawn order (see [`super::lot`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::allocate::{allocate, Allocation, AllocationConfig, AllocationError, SeatMargin};
use super::fraction::Fraction;
use super::lot::{LotSeed, TieBreak};
use super::threshold::{Region, RegionalThreshold};
use super::types::{PartyId, PartyVotes, RegionId, SeatCount, MAX_VOTES};

/// Why `allocate_json` refused its input. Messages are lowercase and name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    /// Not JSON, not an object, an unknown, missing or repeated field.
    #[error("invalid input: {0}")]
    Json(String),
    /// A field with an unacceptable value.
    #[error("{message}")]
    Invalid {
        /// The field (`seats`, `method`, `threshold`, `threshold_base`, `votes`, `seed`,
        /// `regional_threshold`, `regions`, `margins`).
        field: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// Well-formed but inconsistent (for example a base below the votes).
    #[error(transparent)]
    Allocation(#[from] AllocationError),
}

impl AllocateError {
    /// A stable code for the rule broken: `allocate.json`, `allocate.<field>`, or
    /// `allocate.inconsistent`.
    pub fn code(&self) -> String {
        match self {
            AllocateError::Json(_) => "allocate.json".to_owned(),
            AllocateError::Invalid { field, .. } => format!("allocate.{field}"),
            AllocateError::Allocation(_) => "allocate.inconsistent".to_owned(),
        }
    }

    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AllocateError::Invalid { field, message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    seats: &'a RawValue,
    #[serde(borrow)]
    method: &'a RawValue,
    #[serde(default, borrow, deserialize_with = "present")]
    threshold: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    threshold_base: Option<&'a RawValue>,
    #[serde(borrow)]
    votes: &'a RawValue,
    #[serde(default, borrow, deserialize_with = "present")]
    seed: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    regional_threshold: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    regions: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    margins: Option<&'a RawValue>,
}

/// An optional field that is present, even as `null` (which serde would turn into `None`):
/// `null` is then refused by the field's own parser, with its own message.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionRequest<'a> {
    #[serde(borrow)]
    base: &'a RawValue,
    #[serde(borrow)]
    votes: &'a RawValue,
}

/// The entries of a JSON object in order, refusing repeated keys.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("{key:?} is listed twice")));
                    }
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Runs the `sverka allocate` contract: `input` is the request object, the result the response
/// object (compact JSON, keys sorted, no trailing newline).
pub fn allocate_json(input: &str) -> Result<String, AllocateError> {
    let request: Request<'_> =
        serde_json::from_str(input).map_err(|e| AllocateError::Json(e.to_string()))?;
    let votes = parse_votes("votes", "votes", request.votes)?;
    let mut config =
        AllocationConfig::new(parse_method(request.method)?, parse_seats(request.seats)?);
    if let Some(raw) = request.threshold {
        config.threshold = parse_share("threshold", raw)?;
    }
    if let Some(raw) = request.threshold_base {
        config.threshold_base = Some(parse_count("threshold_base", "threshold_base", raw)?);
    }
    if let Some(raw) = request.seed {
        let text = parse_string("seed", raw)?;
        config.seed =
            LotSeed::new(&text).map_err(|e| AllocateError::invalid("seed", e.to_string()))?;
    }
    config.regional = parse_regional(request.regional_threshold, request.regions)?;
    let with_margins = match request.margins {
        None => false,
        Some(raw) => serde_json::from_str::<bool>(raw.get()).map_err(|_| {
            AllocateError::invalid(
                "margins",
                format!("margins must be true or false, got {}", raw.get()),
            )
        })?,
    };
    let allocation = allocate(&votes, &config)?;
    Ok(render(&allocation, with_margins))
}

fn parse_method(raw: &RawValue) -> Result<super::Method, AllocateError> {
    let name = parse_string("method", raw)?;
    name.parse().map_err(|e: super::MethodError| AllocateError::invalid("method", e.to_string()))
}

fn parse_string(field: &'static str, raw: &RawValue) -> Result<String, AllocateError> {
    serde_json::from_str::<String>(raw.get()).map_err(|_| {
        AllocateError::invalid(field, format!("{field} must be a string, got {}", raw.get()))
    })
}

fn parse_seats(raw: &RawValue) -> Result<SeatCount, AllocateError> {
    let text = raw.get();
    let too_many = || {
        AllocateError::invalid(
            "seats",
            format!("seats must be a whole number from 1 to 65535, got {text}"),
        )
    };
    if !is_whole_number(text) {
        return Err(too_many());
    }
    let n: u64 = text.parse().map_err(|_| too_many())?;
    SeatCount::new(n).map_err(|e| AllocateError::invalid("seats", e.to_string()))
}

/// `0` or a digit string without leading zeros (JSON's integer form, no sign, no fraction).
fn is_whole_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// A vote count or base: a non-negative whole number up to [`MAX_VOTES`].
fn parse_count(field: &'static str, what: &str, raw: &RawValue) -> Result<u64, AllocateError> {
    let text = raw.get();
    if !is_whole_number(text) {
        let why = if text.starts_with('-') {
            "must not be negative"
        } else {
            "must be a non-negative whole number"
        };
        return Err(AllocateError::invalid(field, format!("{what} {why}, got {text}")));
    }
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_VOTES => Ok(n),
        _ => Err(AllocateError::invalid(
            field,
            format!("{what} exceeds the maximum of {MAX_VOTES}, got {text}"),
        )),
    }
}

fn parse_share(field: &'static str, raw: &RawValue) -> Result<Fraction, AllocateError> {
    let text = raw.get();
    let written = if text.starts_with('"') {
        parse_string(field, raw)?
    } else if text.starts_with('-') || text.starts_with(|c: char| c.is_ascii_digit()) {
        text.to_owned()
    } else {
        return Err(AllocateError::invalid(
            field,
            format!("{field} must be a number or a string, got {text}"),
        ));
    };
    Fraction::parse_decimal(&written)
        .map_err(|e| AllocateError::invalid(field, format!("{field}: {e}")))
}

fn parse_entries<'a>(
    field: &'static str,
    what: &str,
    raw: &'a RawValue,
) -> Result<Entries<'a>, AllocateError> {
    serde_json::from_str::<Entries<'a>>(raw.get()).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        AllocateError::invalid(
            field,
            format!("{what} must be an object without repeated keys: {message}"),
        )
    })
}

fn parse_votes(
    field: &'static str,
    what: &str,
    raw: &RawValue,
) -> Result<PartyVotes, AllocateError> {
    let entries = parse_entries(field, what, raw)?;
    let mut parsed = Vec::with_capacity(entries.0.len());
    for (key, value) in &entries.0 {
        let party =
            PartyId::new(key).map_err(|e| AllocateError::invalid(field, format!("{what}: {e}")))?;
        let n_votes = parse_count(field, &format!("{what}: votes for {key:?}"), value)?;
        parsed.push((party, n_votes));
    }
    PartyVotes::new(parsed).map_err(|e| AllocateError::invalid(field, format!("{what}: {e}")))
}

fn parse_regional(
    share: Option<&RawValue>,
    regions: Option<&RawValue>,
) -> Result<Option<RegionalThreshold>, AllocateError> {
    let (share, regions) = match (share, regions) {
        (None, None) => return Ok(None),
        (Some(share), Some(regions)) => (share, regions),
        _ => {
            return Err(AllocateError::invalid(
                "regions",
                "regional_threshold and regions must be given together",
            ))
        }
    };
    let share = parse_share("regional_threshold", share)?;
    let mut parsed = Vec::new();
    for (key, value) in parse_entries("regions", "regions", regions)?.0 {
        let id = RegionId::new(&key)
            .map_err(|e| AllocateError::invalid("regions", format!("regions: {e}")))?;
        let request: RegionRequest<'_> = serde_json::from_str(value.get()).map_err(|e| {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            AllocateError::invalid("regions", format!("region {key:?}: {message}"))
        })?;
        let what = format!("region {key:?}");
        let base = parse_count("regions", &format!("{what}: base"), request.base)?;
        let votes = parse_votes("regions", &what, request.votes)?;
        parsed.push(
            Region::new(id, base, votes)
                .map_err(|e| AllocateError::invalid("regions", e.to_string()))?,
        );
    }
    Ok(Some(RegionalThreshold { share, regions: parsed }))
}

#[derive(Serialize)]
struct Response<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    margins: Option<MarginsJson<'a>>,
    qualified: Vec<&'a str>,
    seats: BTreeMap<&'a str, u32>,
    ties: Vec<TieJson<'a>>,
}

#[derive(Serialize)]
struct TieJson<'a> {
    context: &'a str,
    places: u32,
    tickets: Vec<TicketJson<'a>>,
    tied: Vec<&'a str>,
    winners: Vec<&'a str>,
}

#[derive(Serialize)]
struct TicketJson<'a> {
    id: &'a str,
    ticket: String,
}

#[derive(Serialize)]
struct MarginsJson<'a> {
    last_seat: Option<SeatMarginJson<'a>>,
    threshold: BTreeMap<&'a str, ThresholdMarginJson>,
}

#[derive(Serialize)]
struct SeatMarginJson<'a> {
    gap: Option<String>,
    last: &'a str,
    last_can_lose: Option<u64>,
    last_value: String,
    runner_up: &'a str,
    runner_up_needs: u128,
    runner_up_value: String,
}

#[derive(Serialize)]
struct ThresholdMarginJson {
    flip_base_moves: i128,
    flip_fixed_base: i128,
    min_votes: u128,
    passes: bool,
}

fn render(allocation: &Allocation, with_margins: bool) -> String {
    let response = Response {
        margins: with_margins.then(|| margins_json(allocation)),
        qualified: allocation.qualified().into_iter().map(PartyId::as_str).collect(),
        seats: allocation.seats().iter().map(|(p, s)| (p.as_str(), *s)).collect(),
        ties: allocation.ties().iter().map(tie_json).collect(),
    };
    serde_json::to_string(&response).expect("plain structs of strings and integers serialize")
}

fn tie_json(tie: &TieBreak) -> TieJson<'_> {
    TieJson {
        context: tie.context(),
        places: tie.places(),
        tickets: tie
            .tickets()
            .iter()
            .map(|t| TicketJson { id: t.id(), ticket: t.ticket_hex() })
            .collect(),
        tied: tie.tied(),
        winners: tie.winners(),
    }
}

fn margins_json(allocation: &Allocation) -> MarginsJson<'_> {
    let threshold = allocation
        .threshold_margins()
        .iter()
        .map(|m| {
            let json = ThresholdMarginJson {
                flip_base_moves: m.flip_base_moves(),
                flip_fixed_base: m.flip_fixed_base(),
                min_votes: m.min_votes_fixed_base(),
                passes: m.passes_national(),
            };
            (m.party().as_str(), json)
        })
        .collect();
    let last_seat = allocation.seat_margin().map(|m| match m {
        SeatMargin::Divisor {
            last,
            last_quotient,
            runner_up,
            runner_up_quotient,
            runner_up_needs,
            last_can_lose,
        } => SeatMarginJson {
            gap: None,
            last: last.as_str(),
            last_can_lose: Some(*last_can_lose),
            last_value: last_quotient.to_string(),
            runner_up: runner_up.as_str(),
            runner_up_needs: u128::from(*runner_up_needs),
            runner_up_value: runner_up_quotient.to_string(),
        },
        SeatMargin::Remainder {
            last,
            last_remainder,
            runner_up,
            runner_up_remainder,
            gap,
            runner_up_needs_quota_fixed,
        } => SeatMarginJson {
            gap: Some(gap.to_string()),
            last: last.as_str(),
            last_can_lose: None,
            last_value: last_remainder.to_string(),
            runner_up: runner_up.as_str(),
            runner_up_needs: *runner_up_needs_quota_fixed,
            runner_up_value: runner_up_remainder.to_string(),
        },
    });
    MarginsJson { last_seat, threshold }
}
